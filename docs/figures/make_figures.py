"""Draw the documentation's figures from minicnn's own kernels and autograd (matplotlib, Agg).

    python docs/figures/make_figures.py               # rewrites docs/figures/*.png
    python docs/figures/make_figures.py --out-dir /tmp/figs --only im2col maxpool_routing

Every number a figure shows comes from `minicnn.kernels` or a minicnn model, and the script asserts
that it matches the construction the picture explains (im2col times the weights is the conv
output, the zero-stuffed full convolution is `conv2d_backward_input`, ...), so a figure cannot
drift from the code. Output is deterministic: fixed seeds, one thread, no timestamps in the PNGs.
Signed images use a diverging colour map centred on zero, with a colour bar.

This file draws the geometry, autograd and photo figures and runs them all; figures_layers.py
(single layers) and figures_training.py (training runs, schedules, augmentation, a model's
shapes) hold the rest, _draw.py the shared drawing helpers.
"""
import argparse
from pathlib import Path

import numpy as np

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F

from _draw import _box, _grid, _plt, _save, _signed
from figures_layers import activations, grad_w, multichannel_conv, pooling_forward
from figures_training import (augmented_digits, lr_schedules, network_shapes, overfitting,
                              training_figures)

HERE = Path(__file__).resolve().parent


# --- Geometry --------------------------------------------------------------------------------

def sliding_window(out_dir):
    """The window of output pixels (0, 0) and (0, 1) for three geometries, on the padded input."""
    plt = _plt()
    cases = [("stride 1, padding 0", 1, 0, 1), ("stride 2, padding 1", 2, 1, 1),
             ("dilation 2, padding 0", 1, 0, 2)]
    H, KH = 7, 3
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    for ax, (title, S, P, D) in zip(axes, cases):
        y = K.conv2d_forward(np.zeros((1, 1, H, H)), np.zeros((1, 1, KH, KH)),
                             stride=S, padding=P, dilation=D)
        OH = y.shape[2]
        padded = np.zeros((H + 2 * P, H + 2 * P))
        padded[P:P + H, P:P + H] = 1
        ax.imshow(padded, cmap="Greys", vmin=-0.6, vmax=3.0)
        ax.set_xticks(np.arange(-0.5, H + 2 * P, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, H + 2 * P, 1), minor=True)
        ax.grid(which="minor", color="white", lw=1)
        ax.set_xticks([]), ax.set_yticks([])
        for ow, color in ((0, "tab:red"), (1, "tab:blue")):
            for kh in range(KH):
                for kw in range(KH):
                    r, c = kh * D, ow * S + kw * D        # rows oh*SH + kh*DH, cols ow*SW + kw*DW
                    ax.add_patch(plt.Circle((c, r), 0.28, color=color, alpha=0.8))
        ax.set_title(f"{title}\nH = {H}, K = {KH} -> OH = {OH}")
    fig.suptitle("Taps read by output pixels (0,0) in red and (0,1) in blue; "
                 "padding in white", y=0.02)
    return _save(fig, out_dir, "sliding_window")


def im2col(out_dir):
    """One 4x4 input, a 3x3 kernel: the 9x4 column matrix, and W @ cols = conv2d_forward."""
    plt = _plt()
    x = np.arange(1, 17, dtype=np.float64).reshape(4, 4)
    w = np.array([[1, 0, 2], [0, 1, 0], [-1, 0, 0]], dtype=np.float64)
    cols = np.stack([x[i:i + 3, j:j + 3].ravel() for i in range(2) for j in range(2)], axis=1)
    y = (w.ravel() @ cols).reshape(2, 2)
    np.testing.assert_array_equal(y, K.conv2d_forward(x[None, None], w[None, None])[0, 0])
    fig, axes = plt.subplots(1, 4, figsize=(10, 3.4),
                             gridspec_kw={"width_ratios": [4, 9, 4, 2.2]})
    _grid(axes[0], x, "x (4x4)")
    for (i, j), color in zip([(0, 0), (0, 1), (1, 0), (1, 1)],
                             ["tab:red", "tab:blue", "tab:green", "tab:orange"]):
        _box(axes[0], i, j, 3, 3, color, lw=1.6)
    _grid(axes[1], w.ravel()[None, :], "w.reshape(1, 9)  (row: taps kh, kw)", cmap="RdBu_r",
          vmin=-2, vmax=2)
    _grid(axes[2], cols, "cols (9 x OH*OW)\none column per window")
    for k, color in enumerate(["tab:red", "tab:blue", "tab:green", "tab:orange"]):
        _box(axes[2], 0, k, 9, 1, color, lw=1.6)
    _grid(axes[3], y, "y = w @ cols\n(reshaped 2x2)")
    return _save(fig, out_dir, "im2col")


def grad_x(out_dir):
    """grad_x of a stride-2 conv: zero-stuff grad_out, pad by K-1, correlate with the flipped w."""
    plt = _plt()
    rng = np.random.default_rng(3)
    H, KH, S = 5, 3, 2
    w = rng.integers(-2, 3, (KH, KH)).astype(np.float64)
    g = np.array([[1.0, -2.0], [3.0, 1.0]])                   # grad_out, OH = (5 - 3)//2 + 1 = 2
    stuffed = np.zeros((S * (g.shape[0] - 1) + 1,) * 2)
    stuffed[::S, ::S] = g
    full = np.pad(stuffed, KH - 1)
    flipped = w[::-1, ::-1]
    OH = full.shape[0] - KH + 1
    ours = np.array([[np.sum(full[i:i + KH, j:j + KH] * flipped) for j in range(OH)]
                     for i in range(OH)])
    minis = K.conv2d_backward_input(g[None, None], w[None, None], (1, 1, H, H), stride=S)[0, 0]
    np.testing.assert_array_equal(ours, minis)
    fig, axes = plt.subplots(1, 5, figsize=(13, 3.2),
                             gridspec_kw={"width_ratios": [2, 3, 7, 3, 5]})
    _signed(axes[0], g, "grad_out (2x2)", numbers=True, colorbar=False, fmt="{:g}")
    _signed(axes[1], w, "w", numbers=True, colorbar=False, fmt="{:g}")
    _signed(axes[2], full, "zero-stuffed by the stride,\npadded by K-1", numbers=True,
            colorbar=False, fmt="{:g}")
    _box(axes[2], 0, 0, KH, KH, "tab:green")
    _signed(axes[3], flipped, "w flipped (w[::-1, ::-1])", numbers=True, colorbar=False,
            fmt="{:g}")
    _signed(axes[4], minis, "grad_x = conv2d_backward_input", numbers=True, colorbar=True,
            fmt="{:g}")
    return _save(fig, out_dir, "grad_x")


def maxpool_routing(out_dir):
    """Max pool 3x3 stride 2 (overlapping windows) with ties: who gets each window's gradient."""
    plt = _plt()
    x = np.array([[1, 2, 0, 1, 4],
                  [3, 3, 1, 2, 0],                   # a tie for the top-left window's max
                  [0, 1, 2, 5, 1],                   # 5 wins two overlapping windows
                  [2, 1, 0, 4, 2],
                  [1, 0, 2, 4, 3]], dtype=np.float64)
    y, idx = K.max_pool2d_forward(x[None, None], 3, 2)
    grad = K.max_pool2d_backward(np.ones_like(y), idx, x[None, None].shape)[0, 0]
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.4))
    _grid(axes[0], x, "x, windows 3x3 stride 2")
    colors = ["tab:red", "tab:blue", "tab:green", "tab:orange"]
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        _box(axes[0], 2 * i, 2 * j, 3, 3, colors[k], lw=1.5, ls=["-", "--", ":", "-."][k])
        r, c = divmod(int(idx[0, 0, i, j]), x.shape[1])
        axes[0].add_patch(plt.Circle((c, r), 0.38, fill=False, ec=colors[k], lw=2))
    np.testing.assert_array_equal(y[0, 0], [[3, 5], [2, 5]])
    assert grad[1, 0] == 1 and grad[1, 1] == 0 and grad[2, 3] == 2 and grad.sum() == 4
    _grid(axes[1], y[0, 0], "y = max per window", vmin=0, vmax=5)
    _grid(axes[2], grad, "grad_x for grad_out = 1: first max\nwins a tie; overlaps add up",
          vmin=0, vmax=3)
    return _save(fig, out_dir, "maxpool_routing")


def transposed_conv(out_dir):
    """conv_transpose2d with stride 2: each input pixel stamps a scaled kernel; overlaps add."""
    plt = _plt()
    g = np.array([[1.0, 2.0], [-1.0, 1.0]])
    w = np.array([[1.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 1.0]])
    S, KH = 2, 3
    H = (g.shape[0] - 1) * S + KH                              # 5: no padding, no output_padding
    stamps = []
    for i in range(2):
        for j in range(2):
            s = np.zeros((H, H))
            s[i * S:i * S + KH, j * S:j * S + KH] = g[i, j] * w
            stamps.append(s)
    total = sum(stamps)
    up = F.conv_transpose2d(minicnn.tensor(g[None, None], dtype=np.float64),
                            minicnn.tensor(w[None, None], dtype=np.float64), stride=S)
    np.testing.assert_array_equal(total, up.numpy()[0, 0])
    m = np.abs(total).max()
    fig, axes = plt.subplots(1, 7, figsize=(15, 2.8),
                             gridspec_kw={"width_ratios": [2, 3, 5, 5, 5, 5, 5]})
    _signed(axes[0], g, "input (2x2)", numbers=True, colorbar=False, fmt="{:g}")
    _signed(axes[1], w, "kernel", numbers=True, colorbar=False, fmt="{:g}")
    for k, s in enumerate(stamps):
        i, j = divmod(k, 2)
        _grid(axes[2 + k], s, f"{g[i, j]:g} x kernel at ({i * S},{j * S})", cmap="RdBu_r",
              vmin=-m, vmax=m, fmt="{:g}")
    _grid(axes[6], total, "sum = conv_transpose2d", cmap="RdBu_r", vmin=-m, vmax=m, fmt="{:g}")
    return _save(fig, out_dir, "transposed_conv")


# --- Autograd ---------------------------------------------------------------------------------

def autograd_graph(out_dir):
    """The recorded graph of loss = cross_entropy(relu(conv2d(x, w) + b).flatten() @ v, t)."""
    plt = _plt()
    minicnn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = minicnn.tensor(rng.standard_normal((2, 1, 4, 4)))
    w = minicnn.tensor(rng.standard_normal((2, 1, 3, 3)), requires_grad=True)
    v = minicnn.tensor(rng.standard_normal((8, 3)), requires_grad=True)
    t = minicnn.tensor(np.array([0, 2]))
    h = F.relu(F.conv2d(x, w, padding=0))
    loss = F.cross_entropy(h.reshape(2, -1) @ v, t)
    names = {id(w): "w (leaf)", id(v): "v (leaf)"}
    # Walk the graph from the loss, as backward() does: each node (an op's grad_fn) lists the
    # nodes that made its inputs in next_functions; a leaf that requires grad is reached through
    # its AccumulateGrad node, an input that needs no gradient through None.
    nodes, edges, depth = {}, [], {}
    stack = [(loss.grad_fn, 0)]
    while stack:
        node, d = stack.pop()
        key = id(node)
        depth[key] = max(depth.get(key, 0), d)
        if key in nodes:
            continue
        if node.name() == "AccumulateGrad":
            label, shape = names[id(node.variable)], tuple(node.variable.shape)
        else:
            label, shape = f"{node.name()}Backward", tuple(node._output_meta[0])
        nodes[key] = f"{label}\n{shape}"
        for i, (parent, _) in enumerate(node.next_functions):
            if parent is not None:
                edges.append((id(parent), key))
                stack.append((parent, d + 1))
            elif node._input_meta[i] is not None:
                # A tensor input without a gradient (x); constants such as the labels have no
                # input record and are left out.
                in_shape = tuple(node._input_meta[i][0])
                in_key = (key, i)
                nodes[in_key] = f"{'x (input)' if in_shape == tuple(x.shape) else 'no grad'}\n" \
                                f"{in_shape}"
                depth[in_key] = d + 1
                edges.append((in_key, key))
    loss.backward()
    assert w.grad.shape == w.shape and v.grad.shape == v.shape and x.grad is None
    levels = {}
    for key in nodes:
        levels.setdefault(depth[key], []).append(key)
    pos = {}
    for d, keys in levels.items():
        for k, key in enumerate(sorted(keys, key=lambda q: nodes[q])):
            pos[key] = (k - (len(keys) - 1) / 2, -d)
    fig, ax = plt.subplots(figsize=(7, 6))
    for a, b in edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate("", xy=(x1, y1 - 0.22), xytext=(x0, y0 + 0.22),
                    arrowprops=dict(arrowstyle="->", color="0.4"))
    for key, (px, py) in pos.items():
        leaf = nodes[key].startswith(("w ", "v "))
        ax.text(px, py, nodes[key], ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", fc="#fde7c8" if leaf else "#dbe9f6", ec="0.5"))
    ax.set_xlim(-2, 2), ax.set_ylim(-max(levels) - 0.6, 0.6)
    ax.axis("off")
    ax.set_title("Forward builds the graph (arrows: data flow); backward walks it from the loss "
                 "down,\nin reverse topological order, and fills .grad of the leaves w and v")
    return _save(fig, out_dir, "autograd_graph")


def photo_filters(out_dir):
    """Sobel x/y, blur and sharpen by F.conv2d on a real photo (scikit-learn's bundled image)."""
    plt = _plt()
    from sklearn.datasets import load_sample_image
    rgb = load_sample_image("china.jpg").astype(np.float64) / 255.0     # (427, 640, 3)
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    gray = gray[:424, :640].reshape(106, 4, 160, 4).mean(axis=(1, 3))   # 4x4 average: 106x160
    kernels = {
        "Sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
        "Sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
        "Gaussian blur": np.outer([1, 2, 1], [1, 2, 1]) / 16.0,
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    }
    bank = np.stack(list(kernels.values()))[:, None]                   # (O=4, C=1, 3, 3)
    out = F.conv2d(minicnn.tensor(gray[None, None], dtype=np.float64),
                   minicnn.tensor(bank, dtype=np.float64), padding=0).numpy()[0]
    # padding=0 ('valid'): every output pixel sees 3x3 real pixels, so no frame of zero padding
    # (which would show as a bright Sobel edge and a dark blurred rim around the picture).
    assert out.shape == (4, 104, 158)
    fig, axes = plt.subplots(1, 5, figsize=(15, 2.4))
    axes[0].imshow(gray, cmap="gray"), axes[0].set_title("input (grey, 106x160)")
    for ax, (name, k), y in zip(axes[1:], kernels.items(), out):
        if k.sum() == 0:                                   # an edge filter: signed output
            # zero-centred, clipped at the 99th percentile of |y| so that weaker edges show
            m = float(np.percentile(np.abs(y), 99))
            _grid(ax, y, name + " (signed, 104x158)", cmap="RdBu_r", vmin=-m, vmax=m,
                  numbers=False, colorbar=True)
        else:
            im = ax.imshow(y, cmap="gray", vmin=0, vmax=1)
            ax.set_title(name + " (104x158)")
            plt.colorbar(im, ax=ax, fraction=0.035, pad=0.02)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    return _save(fig, out_dir, "photo_filters", dpi=75)   # photo content: keep the PNG small


def views_strides(out_dir):
    """One storage of 12 numbers read by x (3, 4), x.t() and x[1, 1:], each with its strides."""
    plt = _plt()
    x = minicnn.arange(12.0).reshape(3, 4)
    views = [("x", x), ("x.t()", x.t()), ("x[1, 1:]", x[1, 1:])]
    for _, v in views:  # the picture's claim: one storage, different strides and offsets
        assert v.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    storage = x.numpy().reshape(-1)
    fig, axes = plt.subplots(len(views) + 1, 1, figsize=(7.5, 5.2),
                             gridspec_kw={"height_ratios": [0.8, 1.6, 2.0, 0.8]})
    _grid(axes[0], storage[None, :], "the storage: 12 numbers in a row", cmap="Blues",
          vmin=-4, vmax=14, fmt="{:.0f}")
    colors = {"x": "tab:blue", "x.t()": "tab:orange", "x[1, 1:]": "tab:green"}
    for ax, (name, v) in zip(axes[1:], views):
        values = v.numpy()
        values = values[None, :] if values.ndim == 1 else values
        # every element's position in the storage: offset + sum(index * stride)
        positions = np.zeros(values.shape, dtype=int)
        for index in np.ndindex(*v.shape):
            positions[index if v.ndim == 2 else (0,) + index] = v.storage_offset() + sum(
                i * s for i, s in zip(index, v.stride()))
        assert np.array_equal(storage[positions], values)
        _grid(ax, values, f"{name}: shape {tuple(v.shape)}, stride {v.stride()}, "
              f"offset {v.storage_offset()}", cmap="Blues", vmin=-4, vmax=14, fmt="{:.0f}")
        for spine in ax.spines.values():
            spine.set_edgecolor(colors[name])
    fig.tight_layout()
    return _save(fig, out_dir, "views_strides")


FIGURES = {
    "views_strides": views_strides, "sliding_window": sliding_window, "im2col": im2col, "grad_x": grad_x,
    "maxpool_routing": maxpool_routing, "transposed_conv": transposed_conv,
    "autograd_graph": autograd_graph, "photo_filters": photo_filters,
    "training": training_figures,   # training_curves, learned_filters, feature_maps
    "multichannel_conv": multichannel_conv, "pooling_forward": pooling_forward, "grad_w": grad_w,
    "activations": activations, "network_shapes": network_shapes, "lr_schedules": lr_schedules,
    "overfitting": overfitting, "augmented_digits": augmented_digits,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=str(HERE))
    parser.add_argument("--only", nargs="*", choices=sorted(FIGURES), default=None)
    args = parser.parse_args(argv)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    minicnn.set_num_threads(1)
    written = []
    for name in args.only or FIGURES:
        result = FIGURES[name](args.out_dir)
        written += result if isinstance(result, list) else [result]
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
