"""Opt-in: F.interpolate's 'bicubic', 'nearest-exact' and 'area' modes give PyTorch's values and
gradients on random sizes and scale factors (skipped when torch is not importable)."""
import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F

torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")


@pytest.mark.parametrize("mode", ["bicubic", "nearest-exact", "area"])
def test_interpolate_modes_match_pytorch(mode):
    rng = np.random.default_rng(0)
    for trial in range(25):
        nd = 4 if mode == "bicubic" else int(rng.integers(3, 5))
        x = rng.standard_normal((2, 2) + tuple(int(v) for v in rng.integers(2, 8, nd - 2)))
        if trial % 2:
            kw = dict(size=tuple(int(v) for v in rng.integers(1, 12, nd - 2)))
        else:
            kw = dict(scale_factor=float(rng.choice([0.5, 0.75, 1.5, 2.0, 3.0])),
                      recompute_scale_factor=bool(rng.integers(2)))
        if mode == "bicubic":
            kw["align_corners"] = bool(rng.integers(2))
        xm, xt = minicnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ym = F.interpolate(xm, mode=mode, **kw)
        yt = torch.nn.functional.interpolate(xt, mode=mode, **kw)
        assert tuple(ym.shape) == tuple(yt.shape), kw
        np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=str(kw))
        g = rng.standard_normal(tuple(yt.shape))
        ym.backward(minicnn.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=str(kw))
