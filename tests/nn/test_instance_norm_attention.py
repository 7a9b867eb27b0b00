"""InstanceNorm1d/2d and F.instance_norm, F.scaled_dot_product_attention: NumPy oracles, float64
gradcheck, PyTorch's defaults and errors; against PyTorch when torch is importable."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn.gradcheck import gradcheck


def _t(a, grad=True):
    return minicnn.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _instance_norm_oracle(x, w=None, b=None, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return y * (1 if w is None else w.reshape(shape)) + (0 if b is None else b.reshape(shape))


@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (3, 2, 7)])
def test_instance_norm_matches_numpy_and_gradcheck(shape):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape[1]), \
        rng.standard_normal(shape[1])
    out = F.instance_norm(_t(x), weight=_t(w), bias=_t(b))
    np.testing.assert_allclose(out.detach().numpy(), _instance_norm_oracle(x, w, b), rtol=1e-10,
                               atol=1e-10)
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [_t(x), _t(w), _t(b)])


def test_instance_norm_modules_defaults_running_stats_and_unbatched():
    layer = nn.InstanceNorm2d(3)
    assert layer.weight is None and layer.running_mean is None
    assert repr(layer) == ("InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, "
                           "track_running_stats=False)")
    x = np.random.default_rng(1).standard_normal((4, 3, 5, 5)).astype(np.float32) + 3
    np.testing.assert_allclose(layer(minicnn.tensor(x)).numpy(), _instance_norm_oracle(x),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer(minicnn.tensor(x[0])).numpy(),
                               _instance_norm_oracle(x[:1])[0], rtol=1e-4, atol=1e-5)
    tracked = nn.InstanceNorm1d(3, track_running_stats=True, affine=True)
    seq = x.reshape(4, 3, 25)
    tracked(minicnn.tensor(seq))
    per_sample_mean = seq.mean(axis=2).mean(axis=0)
    per_sample_var = seq.var(axis=2, ddof=1).mean(axis=0)
    np.testing.assert_allclose(tracked.running_mean.numpy(), 0.1 * per_sample_mean, rtol=1e-5)
    np.testing.assert_allclose(tracked.running_var.numpy(), 0.9 + 0.1 * per_sample_var,
                               rtol=1e-5)
    tracked.eval()
    out = tracked(minicnn.tensor(seq)).detach().numpy()
    rm, rv = tracked.running_mean.numpy(), tracked.running_var.numpy()
    np.testing.assert_allclose(out, (seq - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expected 3D .unbatched. or 4D"):
        layer(minicnn.ones(3, 5))


def _sdpa_oracle(q, k, v, mask=None, causal=False, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


@pytest.mark.parametrize("case", ["plain", "causal", "bool_mask", "float_mask", "scale"])
def test_scaled_dot_product_attention_matches_numpy_and_gradcheck(case):
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 4, 5)), \
        rng.standard_normal((2, 3, 4, 6))
    kwargs, oracle = {}, {}
    if case == "causal":
        kwargs, oracle = {"is_causal": True}, {"causal": True}
    elif case == "bool_mask":
        mask = rng.random((4, 4)) > 0.3
        mask[:, 0] = True                       # every row attends somewhere
        kwargs, oracle = {"attn_mask": minicnn.tensor(mask)}, {"mask": mask}
    elif case == "float_mask":
        mask = rng.standard_normal((3, 4, 4))
        kwargs, oracle = {"attn_mask": _t(mask, grad=False)}, {"mask": mask}
    elif case == "scale":
        kwargs = oracle = {"scale": 0.3}
    out = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), _sdpa_oracle(q, k, v, **oracle),
                               rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs),
                     [_t(q), _t(k), _t(v)])


def test_scaled_dot_product_attention_gqa_and_errors():
    q, k, v = minicnn.randn(1, 4, 3, 2), minicnn.randn(1, 2, 3, 2), minicnn.randn(1, 2, 3, 2)
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    ref = F.scaled_dot_product_attention(q, k.repeat_interleave(2, dim=1),
                                         v.repeat_interleave(2, dim=1))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=minicnn.ones(3, 3) > 0, is_causal=True)
    with pytest.raises(ValueError, match="do not fit"):
        F.scaled_dot_product_attention(q, minicnn.randn(1, 4, 3, 5), q)


def test_against_pytorch():
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 5))
    for fn in (lambda L, t: L.nn.functional.instance_norm(t),
               lambda L, t: L.nn.functional.scaled_dot_product_attention(t, t, t, is_causal=True),
               lambda L, t: L.nn.functional.scaled_dot_product_attention(
                   t, t, t, attn_mask=L.ones(4, 4, dtype=L.bool).tril())):
        ours, theirs = _t(x), torch.tensor(x, requires_grad=True)
        a, b = fn(minicnn, ours), fn(torch, theirs)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-8, atol=1e-10)
        a.sum().backward()
        b.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-7, atol=1e-9)
    layer_m, layer_t = nn.InstanceNorm2d(3, affine=True, track_running_stats=True), \
        torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double()
    layer_m = layer_m.double()
    layer_m(_t(x, grad=False))
    layer_t(torch.tensor(x))
    np.testing.assert_allclose(layer_m.running_mean.numpy(), layer_t.running_mean.numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(layer_m.running_var.numpy(), layer_t.running_var.numpy(),
                               rtol=1e-10)
