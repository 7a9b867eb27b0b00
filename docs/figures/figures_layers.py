"""Figures of single layers: multi-channel convolution, pooling forward, the weight gradient and
the activation functions with their derivatives (from minicnn's kernels and autograd)."""
import numpy as np

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F

from _draw import _box, _grid, _plt, _save, _signed


def _correlate(x, w):
    """'valid' cross-correlation of two 2-D arrays, written out (the construction drawn)."""
    kh, kw = w.shape
    return np.array([[np.sum(x[i:i + kh, j:j + kw] * w) for j in range(x.shape[1] - kw + 1)]
                     for i in range(x.shape[0] - kh + 1)])


def multichannel_conv(out_dir):
    """One output channel of a 3-channel input: a (C_in, K, K) kernel, one 2-D correlation per
    input channel, summed (plus the bias)."""
    plt = _plt()
    rng = np.random.default_rng(7)
    C, H, KH, O = 3, 5, 3, 2
    x = rng.integers(0, 4, (1, C, H, H)).astype(np.float64)
    w = rng.integers(-1, 2, (O, C, KH, KH)).astype(np.float64)
    b = np.array([1.0, -2.0])
    y = K.conv2d_forward(x, w) + b[:, None, None]
    o = 0
    parts = [_correlate(x[0, c], w[o, c]) for c in range(C)]
    np.testing.assert_array_equal(sum(parts) + b[o], y[0, o])
    m_w = np.abs(w).max()
    m_p = max(np.abs(p).max() for p in parts)
    m_y = np.abs(y[0, o]).max()
    fig, axes = plt.subplots(C, 4, figsize=(9.5, 7.2),
                             gridspec_kw={"width_ratios": [5, 3, 3, 3.9]})
    for c in range(C):
        _grid(axes[c, 0], x[0, c], f"x[0, {c}] (input channel {c})", vmin=0, vmax=6)
        _box(axes[c, 0], 0, 0, KH, KH, "tab:green")
        _grid(axes[c, 1], w[o, c], f"w[{o}, {c}]", cmap="RdBu_r", vmin=-m_w, vmax=m_w)
        _grid(axes[c, 2], parts[c], f"x[0, {c}] correlated\nwith w[{o}, {c}]", cmap="RdBu_r",
              vmin=-m_p, vmax=m_p, colorbar=True)
        axes[c, 3].axis("off")
    _grid(axes[1, 3], y[0, o], f"y[0, {o}] = sum of the {C}\n+ bias b[{o}] = {b[o]:g}",
          cmap="RdBu_r", vmin=-m_y, vmax=m_y, colorbar=True)
    axes[1, 3].axis("on"), axes[1, 3].set_xticks([]), axes[1, 3].set_yticks([])
    fig.suptitle(f"Output channel {o} of a conv with C_in = {C}: its kernel w[{o}] is "
                 f"{C}x{KH}x{KH}, one {KH}x{KH} slice per input channel.\nThe other "
                 f"{O - 1} output channel(s) have kernels of their own: w has shape "
                 f"{w.shape} = (C_out, C_in, K, K)", y=1.0)
    fig.tight_layout()
    return _save(fig, out_dir, "multichannel_conv")


def pooling_forward(out_dir):
    """Max and average pooling, 2x2 stride 2, on the same 4x4 input."""
    plt = _plt()
    x = np.array([[1, 3, 2, 0],                       # the example on the convolution page
                  [4, 2, 1, 5],
                  [0, 1, 3, 3],
                  [2, 6, 1, 0]], dtype=np.float64)
    ymax, _ = K.max_pool2d_forward(x[None, None], 2, 2)
    yavg = K.avg_pool2d_forward(x[None, None], 2, 2)
    windows = x.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3)       # (oh, ow, kh, kw)
    np.testing.assert_array_equal(ymax[0, 0], windows.max(axis=(2, 3)))
    np.testing.assert_array_equal(yavg[0, 0], windows.mean(axis=(2, 3)))
    fig, axes = plt.subplots(1, 3, figsize=(8.5, 3.0), gridspec_kw={"width_ratios": [4, 2, 2]})
    colours = ["tab:red", "tab:blue", "tab:green", "tab:orange"]
    _grid(axes[0], x, "x (4x4), windows 2x2 stride 2", vmin=0, vmax=8)
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        _box(axes[0], 2 * i, 2 * j, 2, 2, colours[k], lw=2)
        _box(axes[1], i, j, 1, 1, colours[k], lw=2)
        _box(axes[2], i, j, 1, 1, colours[k], lw=2)
    _grid(axes[1], ymax[0, 0], "max_pool2d(x, 2)\nthe largest of each window", vmin=0, vmax=8)
    _grid(axes[2], yavg[0, 0], "avg_pool2d(x, 2)\nthe mean of each window", vmin=0, vmax=8,
          fmt="{:.3g}")
    return _save(fig, out_dir, "pooling_forward")


def grad_w(out_dir):
    """grad_w of a stride-1 conv is the input correlated with grad_out: tap (kh, kw) sums
    grad_out times the window of x that starts at (kh, kw)."""
    plt = _plt()
    x = np.array([[1, 2, 0, 1],
                  [0, 1, 3, 1],
                  [2, 0, 1, 2],
                  [1, 1, 0, 3]], dtype=np.float64)
    g = np.array([[1.0, -1.0], [2.0, 0.0]])                  # grad_out of a 3x3 kernel: 2x2
    KH = x.shape[0] - g.shape[0] + 1
    gw = K.conv2d_backward_weight(x[None, None], g[None, None], (1, 1, KH, KH))[0, 0]
    np.testing.assert_array_equal(gw, _correlate(x, g))
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), gridspec_kw={"width_ratios": [4, 2, 3.6]})
    _grid(axes[0], x, "x (4x4)", vmin=0, vmax=6)
    for (kh, kw), colour in (((0, 0), "tab:green"), ((1, 2), "tab:purple")):
        _box(axes[0], kh, kw, 2, 2, colour, lw=2.2)
        _box(axes[2], kh, kw, 1, 1, colour, lw=2.2)
    _signed(axes[1], g, "grad_out (2x2)", numbers=True, colorbar=False, fmt="{:g}")
    _signed(axes[2], gw, "grad_w (3x3) = x correlated\nwith grad_out", numbers=True,
            colorbar=True, fmt="{:g}")
    fig.suptitle("grad_w[kh, kw] = sum over (oh, ow) of grad_out[oh, ow] * x[oh + kh, ow + kw]: "
                 "grad_out slides over x like a kernel\n(green: tap (0, 0), purple: tap (1, 2); "
                 "conv2d_backward_weight gives the same numbers)", y=1.13)
    return _save(fig, out_dir, "grad_w")


def activations(out_dir):
    """ReLU, leaky ReLU, sigmoid, tanh, GELU and SiLU, with f'(x) from minicnn's autograd."""
    plt = _plt()
    z = np.linspace(-4, 4, 401)
    funcs = {"ReLU": F.relu, "leaky ReLU (0.1)": lambda t: F.leaky_relu(t, 0.1),
             "sigmoid": F.sigmoid, "tanh": F.tanh, "GELU": F.gelu, "SiLU": F.silu}
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.3))
    for name, f in funcs.items():
        t = minicnn.tensor(z, dtype=np.float64, requires_grad=True)
        y = f(t)
        y.sum().backward()                                  # grad_out = 1: t.grad is f'(z)
        d = t.grad.numpy()
        numeric = (f(minicnn.tensor(z + 1e-6, dtype=np.float64)).numpy()
                   - f(minicnn.tensor(z - 1e-6, dtype=np.float64)).numpy()) / 2e-6
        smooth = np.abs(z) > 1e-3                           # away from ReLU's kink
        np.testing.assert_allclose(d[smooth], numeric[smooth], atol=1e-5)
        a.plot(z, y.detach().numpy(), label=name)
        b.plot(z, d, label=name)
    a.set(title="f(x)", xlabel="x", ylim=(-1.5, 4))
    b.set(title="f'(x), from backward()", xlabel="x", ylim=(-0.2, 1.2))
    for ax in (a, b):
        ax.axhline(0, color="0.6", lw=0.8), ax.axvline(0, color="0.6", lw=0.8)
        ax.grid(alpha=0.3)
    b.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out_dir, "activations")
