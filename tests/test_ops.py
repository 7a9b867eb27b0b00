"""ops.py: each op against a NumPy oracle and a float64 gradcheck (opt-in: against PyTorch)."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn import ops


def _gelu_oracle(x, approximate):
    """GELU written from its definition, one element at a time with math.erf / math.tanh."""
    if approximate == "tanh":
        f = lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
    else:
        f = lambda v: v * 0.5 * (1 + math.erf(v / math.sqrt(2)))
    return np.vectorize(f)(x)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_vs_numpy_oracle(rng, approximate, dtype):
    x = rng.standard_normal((64, 5)).astype(dtype) * 3
    y = F.gelu(minicnn.tensor(x, dtype=dtype), approximate=approximate)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y.data, _gelu_oracle(x.astype(np.float64), approximate),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck(rng, approximate):
    x = minicnn.tensor(rng.standard_normal((4, 6)) * 2, dtype=np.float64, requires_grad=True)
    assert minicnn.gradcheck(lambda x: ops.gelu(x, approximate), (x,))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(minicnn.tensor([1.0]), approximate="erf")


def test_gelu_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    x = rng.standard_normal((8, 7))
    for approximate in ("none", "tanh"):
        t = torch.tensor(x, requires_grad=True)
        torch.nn.functional.gelu(t, approximate=approximate).sum().backward()
        m = minicnn.tensor(x, dtype=np.float64, requires_grad=True)
        F.gelu(m, approximate=approximate).sum().backward()
        np.testing.assert_allclose(m.grad, t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_gelu_module_matches_the_function(rng):
    import minicnn.nn as nn
    x = minicnn.tensor(rng.standard_normal((3, 4)))
    for approximate in ("none", "tanh"):
        layer = nn.GELU(approximate)
        np.testing.assert_array_equal(layer(x).data, F.gelu(x, approximate).data)
        assert repr(layer) == f"GELU(approximate={approximate!r})"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")
