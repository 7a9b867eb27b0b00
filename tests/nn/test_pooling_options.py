"""The rarer pooling arguments: max_pool2d's dilation, avg_pool2d's divisor_override, the 1-D
pools' ceil_mode (and max_pool1d's dilation and indices): loop oracles written from PyTorch's
definitions, float64 gradchecks, layer arguments and errors."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F


def _out(n, k, s, p, d, ceil):
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    return out - 1 if ceil and (out - 1) * s >= n + p else out


def _max_pool_loops(x, k, s, p, d, ceil):
    """PyTorch's max_pool2d loop: the real taps of each window, first maximum wins."""
    N, C, H, W = x.shape
    OH, OW = _out(H, k[0], s[0], p[0], d[0], ceil), _out(W, k[1], s[1], p[1], d[1], ceil)
    y, where = np.empty((N, C, OH, OW)), np.empty((N, C, OH, OW), dtype=np.int64)
    for i in range(OH):
        for j in range(OW):
            taps = [(i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1])
                    for a in range(k[0]) for b in range(k[1])]
            taps = [(h, w) for h, w in taps if 0 <= h < H and 0 <= w < W]
            vals = np.stack([x[:, :, h, w] for h, w in taps], -1)
            best = vals.argmax(-1)
            y[:, :, i, j] = np.take_along_axis(vals, best[..., None], -1)[..., 0]
            where[:, :, i, j] = np.array([h * W + w for h, w in taps])[best]
    return y, where


@pytest.mark.parametrize("k,s,p,d,ceil", [((3, 3), (1, 1), (1, 1), (2, 2), False),
                                          ((2, 3), (2, 1), (1, 0), (3, 2), True),
                                          ((3, 2), (2, 2), (0, 1), (1, 2), True)])
def test_max_pool2d_dilation_vs_loops_and_gradcheck(k, s, p, d, ceil):
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 2 * 7 * 8).reshape(2, 2, 7, 8) / 10.0   # no ties
    y, idx = F.max_pool2d(minicnn.tensor(x), k, s, p, d, ceil, return_indices=True)
    want_y, want_idx = _max_pool_loops(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(y.numpy(), want_y)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    xt = minicnn.tensor(x, requires_grad=True)
    assert minicnn.gradcheck(lambda t: F.max_pool2d(t, k, s, p, d, ceil), (xt,))
    layer = nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
    np.testing.assert_array_equal(layer(minicnn.tensor(x)).numpy(), want_y)
    assert "dilation=" in repr(layer) or d == (1, 1)


def test_avg_pool2d_divisor_override_vs_window_sums_and_gradcheck():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 6))
    for ceil in (False, True):
        y = F.avg_pool2d(minicnn.tensor(x), 2, 2, 1, ceil_mode=ceil, count_include_pad=False,
                         divisor_override=3)
        xp = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)))          # zeros never change a sum
        OH, OW = _out(5, 2, 2, 1, 1, ceil), _out(6, 2, 2, 1, 1, ceil)
        want = np.array([[xp[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].sum((2, 3))
                          for j in range(OW)] for i in range(OH)]).transpose(2, 3, 0, 1) / 3
        np.testing.assert_allclose(y.numpy(), want, rtol=1e-12)
    xt = minicnn.tensor(x, requires_grad=True)
    assert minicnn.gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, True, divisor_override=-2),
                             (xt,))
    layer = nn.AvgPool2d(2, divisor_override=1)
    np.testing.assert_allclose(layer(minicnn.tensor(x)).numpy(),
                               4 * F.avg_pool2d(minicnn.tensor(x), 2).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="divisor_override must be not zero"):
        F.avg_pool2d(minicnn.tensor(x), 2, divisor_override=0)
    with pytest.raises(TypeError, match="divisor_override"):
        nn.AvgPool2d(2, divisor_override=1.5)


def test_pool1d_ceil_mode_dilation_and_indices():
    rng = np.random.default_rng(2)
    x = rng.permutation(2 * 3 * 10).reshape(2, 3, 10) / 7.0
    y, idx = F.max_pool1d(minicnn.tensor(x), 3, 2, 1, 2, True, True)
    want_y, want_idx = _max_pool_loops(x[:, :, None], (1, 3), (1, 2), (0, 1), (1, 2), True)
    np.testing.assert_array_equal(y.numpy(), want_y[:, :, 0])
    np.testing.assert_array_equal(idx.numpy(), want_idx[:, :, 0])
    # avg_pool1d, ceil_mode: the last window (start 8, of 3) covers x[8:10] and no padding
    a = F.avg_pool1d(minicnn.tensor(x), 3, 2, 0, ceil_mode=True)
    assert a.shape == (2, 3, 5)
    np.testing.assert_allclose(a.numpy()[..., -1], x[..., 8:].mean(-1), rtol=1e-12)
    np.testing.assert_allclose(a.numpy()[..., 1], x[..., 2:5].mean(-1), rtol=1e-12)
    xt = minicnn.tensor(x, requires_grad=True)
    assert minicnn.gradcheck(lambda t: F.avg_pool1d(t, 3, 2, 1, True, False), (xt,))
    assert minicnn.gradcheck(lambda t: nn.MaxPool1d(3, 2, 1, 2, ceil_mode=True)(t), (xt,))
    out, where = nn.MaxPool1d(2, return_indices=True)(minicnn.tensor(x))
    assert out.shape == where.shape == (2, 3, 5)
    assert nn.AvgPool1d(3, 2, ceil_mode=True)(minicnn.tensor(x)).shape == (2, 3, 5)


def test_pooling_option_errors():
    x = minicnn.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="at most half the kernel size"):
        F.max_pool2d(x, 2, padding=2, dilation=2)
    with pytest.raises(ValueError, match="too small"):
        F.max_pool2d(x, 3, dilation=3)
    with pytest.raises(ValueError, match="dilation"):
        nn.MaxPool2d(2, dilation=0)


def test_adaptive_max_pool2d_indices_vs_loops_and_gradcheck():
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 2 * 5 * 7).reshape(2, 2, 5, 7) / 10.0
    y, idx = F.adaptive_max_pool2d(minicnn.tensor(x), (3, 4), return_indices=True)
    for i in range(3):
        for j in range(4):
            h0, h1 = i * 5 // 3, -(-(i + 1) * 5 // 3)
            w0, w1 = j * 7 // 4, -(-(j + 1) * 7 // 4)
            window = x[:, :, h0:h1, w0:w1]
            np.testing.assert_array_equal(y.numpy()[:, :, i, j], window.max((2, 3)))
            k = window.reshape(2, 2, -1).argmax(-1)
            np.testing.assert_array_equal(idx.numpy()[:, :, i, j],
                                          (h0 + k // (w1 - w0)) * 7 + w0 + k % (w1 - w0))
    xt = minicnn.tensor(x, requires_grad=True)
    assert minicnn.gradcheck(lambda t: F.adaptive_max_pool2d(t, (3, 4)), (xt,))
    out, where = nn.AdaptiveMaxPool2d(2, return_indices=True)(minicnn.tensor(x))
    assert out.shape == where.shape == (2, 2, 2, 2)
    x1 = minicnn.tensor(x.reshape(2, 10, 7), requires_grad=True)
    y1, i1 = nn.AdaptiveMaxPool1d(3, return_indices=True)(x1)
    np.testing.assert_array_equal(y1.detach().numpy(),
                                  np.take_along_axis(x.reshape(2, 10, 7), i1.numpy(), 2))
    assert minicnn.gradcheck(lambda t: F.adaptive_max_pool1d(t, 3), (x1,))
