"""Classic image filters (Sobel, Gaussian blur, sharpen) applied with F.conv2d to a photo.

    python examples/filters.py --out-dir /tmp/filters          # scikit-learn's bundled photo
    python examples/filters.py --image me.jpg --out-dir /tmp/filters   # your own (Pillow reads it)
    python examples/filters.py --digit 0 --out-dir /tmp/filters  # an 8x8 digit, enlarged

Each result is checked against scipy.signal.correlate2d: F.conv2d, like PyTorch's, computes a
cross-correlation (the kernel is NOT flipped); scipy.signal.convolve2d flips it, which for the
antisymmetric Sobel kernel flips the sign of the edges. With matplotlib installed the script
saves image_filters.png (input, kernels, outputs) into --out-dir.
"""
import argparse
from pathlib import Path

import numpy as np
import scipy.signal

import minicnn
import minicnn.nn.functional as F


def gaussian_kernel(size=5, sigma=1.0):
    r = np.arange(size) - size // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    return g / g.sum()  # sums to 1: blurring keeps the mean brightness


KERNELS = {
    "sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),  # responds to vertical edges
    "sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),  # ... horizontal edges
    "gaussian blur": gaussian_kernel(),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),  # 1 + (minus Laplacian)
}


def read_image(path, fail):
    """Your own picture in grey, values in [0, 1], shrunk to fit 400x400 (aspect kept)."""
    try:
        from PIL import Image
    except ImportError:
        fail("--image needs Pillow to read the file (pip install pillow)")
    try:
        with Image.open(path) as im:               # reads the header only, so a huge file is
            if im.width * im.height > 50_000_000:  # refused before any memory is spent on it
                raise ValueError(f"{im.width}x{im.height} pixels is too large")
            im.thumbnail((400, 400))
            return np.asarray(im.convert("L"), dtype=np.float64) / 255
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one line, no traceback
        fail(f"cannot read --image {path}: {exc}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--image", default=None, help="filter your own picture (PNG, JPEG, ...)")
    source.add_argument("--digit", type=int, default=None, help="filter this 8x8 digit instead")
    parser.add_argument("--upscale", type=int, default=4, help="enlarge the 8x8 digit first")
    parser.add_argument("--out-dir", default=".", help="where to write image_filters.png")
    args = parser.parse_args()
    fail = lambda message: parser.exit(2, f"{parser.prog}: error: {message}\n")  # noqa: E731

    if args.image is not None:
        image = read_image(args.image, fail)
    elif args.digit is None:  # a real photo (bundled, offline), grey, averaged down 2x2: 213x320
        from sklearn.datasets import load_sample_image   # here: slow to import, and not needed
        try:                                               # for your own image
            photo = load_sample_image("china.jpg")  # a JPEG: scikit-learn decodes it with Pillow
        except ImportError:
            fail("reading the bundled photo needs Pillow (pip install pillow); "
                 "or filter a digit with --digit 0")
        rgb = photo[:426] @ np.array([0.299, 0.587, 0.114]) / 255
        image = rgb.reshape(213, 2, 320, 2).mean(axis=(1, 3))
    else:                   # blocky: every digit pixel becomes an upscale x upscale block
        from sklearn.datasets import load_digits
        digits = load_digits().images
        if not 0 <= args.digit < len(digits) or args.upscale < 1:
            fail(f"--digit must be 0..{len(digits) - 1} and --upscale at least 1, "
                 f"got {args.digit} and {args.upscale}")
        digit = digits[args.digit] / 16.0                                # (8, 8) in [0, 1]
        image = np.kron(digit, np.ones((args.upscale, args.upscale)))  # nearest-neighbour zoom
    x = minicnn.tensor(image[None, None], dtype=np.float64)            # (N=1, C=1, H, W)

    outputs = {}
    for name, k in KERNELS.items():
        w = minicnn.tensor(k[None, None], dtype=np.float64)            # (O=1, C=1, KH, KW)
        y = F.conv2d(x, w, padding=k.shape[0] // 2).numpy()[0, 0]     # "same" size output
        expected = scipy.signal.correlate2d(image, k, mode="same")     # zero padding too
        error = np.abs(y - expected).max()
        flipped = np.abs(y - scipy.signal.convolve2d(image, k, mode="same")).max()
        print(f"{name:14s} max |conv2d - correlate2d| = {error:.1e}   "
              f"(vs convolve2d, which flips the kernel: {flipped:.2f})")
        if error > 1e-10:
            raise SystemExit(f"{name}: F.conv2d disagrees with scipy.signal.correlate2d")
        outputs[name] = y
    magnitude = np.hypot(outputs["sobel x"], outputs["sobel y"])
    print(f"edge magnitude: max {magnitude.max():.2f}, mean {magnitude.mean():.2f}")

    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed: no PNG written (pip install matplotlib)")
        return
    fig = Figure(figsize=(3 * (len(KERNELS) + 2), 6), layout="constrained")
    axes = fig.subplots(2, len(KERNELS) + 2)
    axes[0, 0].imshow(image, cmap="gray")
    axes[0, 0].set_title("input")
    axes[0, 1].imshow(magnitude, cmap="magma")
    axes[0, 1].set_title("sobel magnitude")
    for i, name in enumerate(KERNELS, start=2):
        signed = KERNELS[name].sum() == 0    # an edge filter: red up, blue down, white 0
        m = np.abs(outputs[name]).max()
        im = axes[0, i].imshow(outputs[name], cmap="RdBu_r" if signed else "gray",
                               vmin=-m if signed else None, vmax=m if signed else None)
        axes[0, i].set_title(name)
        fig.colorbar(im, ax=axes[0, i], shrink=0.6)
        k = np.abs(KERNELS[name]).max()      # kernel tiles: a colour scale centred on zero
        im = axes[1, i].imshow(KERNELS[name], cmap="RdBu_r", vmin=-k, vmax=k)
        axes[1, i].set_title(f"kernel {KERNELS[name].shape[0]}x{KERNELS[name].shape[1]}")
        fig.colorbar(im, ax=axes[1, i], shrink=0.6)
    for ax in axes.flat:
        ax.set_axis_off()
    out = Path(args.out_dir) / "image_filters.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
