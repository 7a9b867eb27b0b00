"""Train digits_net briefly, then look inside: its first-layer filters and their feature maps.

    python examples/feature_maps.py --epochs 3 --out-dir /tmp/maps

Writes conv1_filters.png (the 32 learned 3x3 kernels of the first convolution) and
feature_maps.png (one test digit and the 32 maps that layer + ReLU make of it) into --out-dir,
if matplotlib is installed; otherwise prints a summary of the same arrays.
"""
import argparse
from pathlib import Path

import numpy as np

import minicnn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn.datasets import load_digits
from minicnn.utils.data import DataLoader
from minicnn.models import digits_net


def grid(fig, arrays, title):
    """(K, H, W) arrays in a square-ish grid, on one colour scale centred on zero (red +, blue -)."""
    cols = int(np.ceil(np.sqrt(len(arrays))))
    rows = int(np.ceil(len(arrays) / cols))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    m = np.abs(arrays).max()
    for ax, a in zip(axes, arrays):
        im = ax.imshow(a, cmap="RdBu_r", vmin=-m, vmax=m)
    for ax in axes:
        ax.set_axis_off()
    fig.colorbar(im, ax=list(axes), shrink=0.6)
    fig.suptitle(title)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--index", type=int, default=0, help="which test image to show")
    parser.add_argument("--out-dir", default=".")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    minicnn.manual_seed(args.seed)
    train_set, test_set = load_digits()
    if not 0 <= args.index < len(test_set):  # checked before training, not after
        parser.exit(2, f"{parser.prog}: error: --index {args.index} is out of range: the test "
                       f"set has {len(test_set)} images (0..{len(test_set) - 1})\n")
    model = digits_net()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for images, labels in DataLoader(train_set, batch_size=32, shuffle=True):
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
        print(f"epoch {epoch} done")

    conv1, relu1 = model[0], model[1]           # nn.Sequential supports indexing
    filters = conv1.weight.detach().numpy()[:, 0]   # (32, 3, 3): out channel, KH, KW
    image = test_set.arrays[0][args.index:args.index + 1]   # (1, 1, 8, 8)
    model.eval()
    with minicnn.no_grad():
        maps = relu1(conv1(minicnn.tensor(image))).numpy()[0]  # (32, 8, 8)
        predicted = int(model(minicnn.tensor(image)).argmax())
    label = int(test_set.arrays[1][args.index])
    dead = int((maps.reshape(len(maps), -1).max(axis=1) == 0).sum())
    print(f"test image {args.index}: label {label}, predicted {predicted}; "
          f"{dead} of {len(maps)} feature maps are all zero after ReLU")
    print(f"filter weights: min {filters.min():.3f}, max {filters.max():.3f}")

    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed: no PNG written (pip install matplotlib)")
        return
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6, 6), layout="constrained")
    grid(fig, filters, "first-layer filters (3x3)")
    fig.savefig(out / "conv1_filters.png", dpi=80)
    fig = Figure(figsize=(7, 7), layout="constrained")
    grid(fig, np.concatenate([image[0], maps]),
         f"input (label {label}) and its 32 feature maps after conv1 + ReLU")
    fig.savefig(out / "feature_maps.png", dpi=80)
    print(f"wrote {out / 'conv1_filters.png'} and {out / 'feature_maps.png'}")


if __name__ == "__main__":
    main()
