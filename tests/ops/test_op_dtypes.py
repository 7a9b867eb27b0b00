"""The result dtypes of the older pointwise and reduction ops on integer and bool tensors, as
PyTorch's: float functions (exp, log, sqrt, sin, cos, sigmoid, tanh, logsumexp) give float32,
clamp to a float bound gives float32, prod and cumsum accumulate in int64, and mean, var, std
and norm refuse integers; then the same against PyTorch itself (opt-in)."""
import numpy as np
import pytest

import minicnn

FLOAT_FUNCTIONS = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "tanh": np.tanh,
    "logsumexp": lambda a: np.log(np.exp(a).sum(0)),
}
INTEGER_DTYPES = [np.int64, np.int32, np.uint8, np.bool_]


def _call(lib, name, x):
    return getattr(lib, name)(x, 0) if name == "logsumexp" else getattr(lib, name)(x)


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
@pytest.mark.parametrize("name", sorted(FLOAT_FUNCTIONS))
def test_float_function_of_integers_is_float32(name, dtype):
    a = np.array([1, 2, 1], dtype)
    y = _call(minicnn, name, minicnn.tensor(a))
    assert y.dtype == minicnn.float32
    np.testing.assert_allclose(y.numpy(), FLOAT_FUNCTIONS[name](a.astype(np.float64)),
                               rtol=1e-6)
    x = minicnn.tensor([1.0, 2.0], dtype=minicnn.float64)
    assert _call(minicnn, name, x).dtype == minicnn.float64  # floats keep their dtype


def test_clamp_to_a_float_bound_is_float32():
    y = minicnn.clamp(minicnn.tensor([1, 5]), 2.5)
    assert y.dtype == minicnn.float32 and y.tolist() == [2.5, 5.0]
    assert minicnn.clamp(minicnn.tensor([1, 5]), 2, 4).dtype == minicnn.int64
    assert minicnn.tensor([1, 5]).clamp(max=minicnn.tensor(2.5)).tolist() == [1.0, 2.5]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_prod_and_cumsum_of_integers_accumulate_in_int64(dtype):
    a = np.array([3, 1, 2], dtype)
    x = minicnn.tensor(a)
    for y, expected in [(x.prod(), np.prod(a.astype(np.int64))),
                        (x.cumsum(0), np.cumsum(a.astype(np.int64)))]:
        assert y.dtype == minicnn.int64
        np.testing.assert_array_equal(y.numpy(), expected)
    big = minicnn.tensor(np.full(3, 2000, np.int32))
    assert big.prod().item() == 8 * 10 ** 9  # no int32 overflow


@pytest.mark.parametrize("name", ["mean", "var", "std", "norm"])
def test_mean_var_std_norm_refuse_integers(name):
    with pytest.raises(TypeError, match="float32 or float64"):
        getattr(minicnn, name)(minicnn.tensor([1, 2, 4]))
    with pytest.raises(TypeError, match="float32 or float64"):
        getattr(minicnn.tensor([True, False]), name)()
    assert getattr(minicnn.tensor([1, 2, 4]).float(), name)().dtype == minicnn.float32


def test_dtypes_match_torch():
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    for dtype in INTEGER_DTYPES:
        a = np.array([1, 2, 1], dtype)
        for name in sorted(FLOAT_FUNCTIONS):
            ours, theirs = _call(minicnn, name, minicnn.tensor(a)), _call(torch, name,
                                                                          torch.tensor(a))
            assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
        for name in ("prod", "cumsum"):
            args = (0,) if name == "cumsum" else ()
            ours = getattr(minicnn.tensor(a), name)(*args)
            theirs = getattr(torch.tensor(a), name)(*args)
            assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        for name in ("mean", "var", "std", "norm"):
            with pytest.raises(RuntimeError):
                getattr(torch.tensor(a), name)()
    assert str(torch.clamp(torch.tensor([1, 5]), 2.5).dtype) == "torch.float32"
