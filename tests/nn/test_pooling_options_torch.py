"""Opt-in: max_pool2d/max_pool1d with dilation and ceil_mode, avg_pool2d with divisor_override,
avg_pool1d with ceil_mode, adaptive max pooling with indices give PyTorch's values, indices,
output sizes, gradients and errors on random geometries (skipped when torch is not
importable)."""
import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F

torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
TF = torch.nn.functional


def _both(fn_m, fn_t, x, g):
    """Value and gradient of fn on x (with output gradient g) in both libraries."""
    xm, xt = minicnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ym, yt = fn_m(xm), fn_t(xt)
    ym, yt = (ym[0], yt[0]) if isinstance(ym, tuple) else (ym, yt)
    assert tuple(ym.shape) == tuple(yt.shape)
    ym.backward(g(ym.shape))
    yt.backward(torch.tensor(g(tuple(yt.shape))))
    np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_rare_pooling_arguments_match_pytorch(seed):
    rng = np.random.default_rng(seed)
    g = lambda shape: np.random.default_rng(1).standard_normal(shape)  # noqa: E731
    for _ in range(15):
        H, W = rng.integers(3, 9, 2)
        KH, KW = (int(v) for v in rng.integers(1, 4, 2))
        k, st = (KH, KW), tuple(int(v) for v in rng.integers(1, 4, 2))
        p = (int(rng.integers(0, KH // 2 + 1)), int(rng.integers(0, KW // 2 + 1)))
        d = tuple(int(v) for v in rng.integers(1, 4, 2))
        ceil, div = bool(rng.integers(2)), int(rng.integers(1, 6))
        x = rng.permutation(2 * 2 * H * W).reshape(2, 2, H, W) / 10.0
        try:
            _, it = TF.max_pool2d(torch.tensor(x), k, st, p, d, ceil, True)
        except RuntimeError:
            with pytest.raises(ValueError):
                F.max_pool2d(minicnn.tensor(x), k, st, p, d, ceil)
            continue
        _, im = F.max_pool2d(minicnn.tensor(x), k, st, p, d, ceil, True)
        np.testing.assert_array_equal(im.numpy(), it.numpy())
        _both(lambda t: F.max_pool2d(t, k, st, p, d, ceil),
              lambda t: TF.max_pool2d(t, k, st, p, d, ceil), x, g)
        _both(lambda t: F.avg_pool2d(t, k, st, p, ceil, True, div),
              lambda t: TF.avg_pool2d(t, k, st, p, ceil, True, div), x, g)
        x1 = x.reshape(2, 2 * H, W)
        _both(lambda t: F.max_pool1d(t, KW, st[1], p[1], d[1], ceil, True),
              lambda t: TF.max_pool1d(t, KW, st[1], p[1], d[1], ceil, True), x1, g)
        for cip in (True, False):
            _both(lambda t: F.avg_pool1d(t, KW, st[1], p[1], ceil, cip),
                  lambda t: TF.avg_pool1d(t, KW, st[1], p[1], ceil, cip), x1, g)


def test_adaptive_max_pool2d_indices_match_pytorch():
    rng = np.random.default_rng(0)
    g = lambda shape: np.random.default_rng(1).standard_normal(shape)  # noqa: E731
    for _ in range(20):
        H, W = (int(v) for v in rng.integers(1, 9, 2))
        out = tuple(int(v) for v in rng.integers(1, 6, 2))
        x = rng.permutation(2 * 3 * H * W).reshape(2, 3, H, W) / 7.0
        _, im = F.adaptive_max_pool2d(minicnn.tensor(x), out, True)
        _, it = TF.adaptive_max_pool2d(torch.tensor(x), out, True)
        np.testing.assert_array_equal(im.numpy(), it.numpy())
        _both(lambda t: F.adaptive_max_pool2d(t, out), lambda t: TF.adaptive_max_pool2d(t, out),
              x, g)
        _both(lambda t: F.adaptive_max_pool1d(t, out[1], True),
              lambda t: TF.adaptive_max_pool1d(t, out[1], True), x.reshape(2, 3 * H, W), g)
