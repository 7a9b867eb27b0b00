"""minicnn/ops/special.py: log1p ... erfinv, lgamma/digamma, logit, atan2, hypot, xlogy, lerp,
addcmul/addcdiv, fmod/remainder/floor_divide, nan_to_num, clamp_min/max, isposinf/isneginf and
the bitwise ops. Values against NumPy/SciPy, float64 gradchecks, PyTorch's edge cases (domains,
poles, NaN, signed zeros, integer division by zero, dtypes), the Tensor methods and their
in-place forms; then an opt-in comparison with PyTorch itself over random shapes."""
import math
import warnings

import numpy as np
import pytest
import scipy.special as sp

import minicnn
from minicnn import ops
from minicnn.gradcheck import gradcheck

nan, inf = math.nan, math.inf

# name -> (NumPy/SciPy oracle, (low, high): inputs where the function is smooth)
UNARY = {
    "log1p": (np.log1p, (-0.9, 3)), "expm1": (np.expm1, (-3, 3)),
    "log2": (np.log2, (0.1, 5)), "log10": (np.log10, (0.1, 5)),
    "sinh": (np.sinh, (-3, 3)), "cosh": (np.cosh, (-3, 3)),
    "asinh": (np.arcsinh, (-3, 3)), "acosh": (np.arccosh, (1.1, 5)),
    "atanh": (np.arctanh, (-0.9, 0.9)), "asin": (np.arcsin, (-0.9, 0.9)),
    "acos": (np.arccos, (-0.9, 0.9)), "atan": (np.arctan, (-3, 3)),
    "erf": (sp.erf, (-2, 2)), "erfc": (sp.erfc, (-2, 2)), "erfinv": (sp.erfinv, (-0.9, 0.9)),
    "lgamma": (sp.gammaln, (0.1, 5)), "digamma": (sp.psi, (0.1, 5)),
    "logit": (sp.logit, (0.05, 0.95)),
}


def _leaf(values, dtype=np.float64):
    return minicnn.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def _value_and_grad(fn, values, dtype=np.float64):
    """``fn(x)`` and x's gradient of ``fn(x).sum()``, with warnings as errors: PyTorch's edge
    values come out silently."""
    x = _leaf(values, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(x)
        y.backward(minicnn.ones_like(y))
    return y.detach().numpy(), x.grad.numpy()


def _same(actual, expected, rtol=1e-12):
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float64), rtol=rtol,
                               atol=0, equal_nan=True)


# --- one-argument functions: values, gradients, dtypes, methods ---------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_vs_numpy_scipy(name, dtype, rng):
    oracle, (low, high) = UNARY[name]
    a = rng.uniform(low, high, (3, 4)).astype(dtype)
    y = getattr(ops, name)(minicnn.tensor(a))
    assert y.dtype == dtype and y.shape == (3, 4)
    np.testing.assert_allclose(y.numpy(), oracle(a.astype(np.float64)),
                               rtol=2e-6 if dtype == np.float32 else 1e-12, atol=1e-7)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_gradcheck(name, rng):
    low, high = UNARY[name][1]
    x = _leaf(rng.uniform(low, high, (2, 3)))
    assert gradcheck(getattr(ops, name), (x,))


def test_lgamma_and_digamma_gradcheck_between_the_poles(rng):
    x = _leaf(rng.uniform(-2.9, -2.1, 4))
    assert gradcheck(ops.lgamma, (x,)) and gradcheck(ops.digamma, (x,))
    np.testing.assert_allclose(ops.lgamma(x).detach().numpy(), sp.gammaln(x.detach().numpy()))


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_unary_op_of_integers_is_float32(name, dtype):
    x = minicnn.tensor(np.array([0, 1, 1], dtype=dtype))
    y = getattr(ops, name)(x)
    assert y.dtype == minicnn.float32 and not y.requires_grad
    with np.errstate(all="ignore"):
        expected = UNARY[name][0](np.array([0, 1, 1], np.float32))
    _same(y.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_method_and_inplace_form(name, rng):
    low, high = UNARY[name][1]
    a = rng.uniform(low, high, 5)
    x = minicnn.tensor(a)
    expected = getattr(ops, name)(x).numpy()
    np.testing.assert_array_equal(getattr(x, name)().numpy(), expected)
    y = minicnn.tensor(a)
    assert getattr(y, name + "_")() is y
    np.testing.assert_array_equal(y.numpy(), expected)
    # through autograd: the in-place form on a non-leaf has the out-of-place gradient
    leaf = _leaf(a)
    z = leaf * 1
    getattr(z, name + "_")()
    z.sum().backward()
    other = _leaf(a)
    getattr(ops, name)(other).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), other.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(minicnn.tensor([1, 2]), name + "_")()  # a float result into an int tensor


def test_arc_aliases():
    x = minicnn.tensor([0.25, 0.5])
    for alias, name in [("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"),
                        ("arcsinh", "asinh"), ("arctanh", "atanh"), ("arctan2", "atan2")]:
        assert getattr(minicnn, alias) is getattr(minicnn, name)
        assert getattr(minicnn.Tensor, alias) is getattr(minicnn.Tensor, name)
        assert getattr(minicnn.Tensor, alias + "_") is getattr(minicnn.Tensor, name + "_")
    np.testing.assert_array_equal(minicnn.tensor([2.0]).arccosh().numpy(),
                                  np.arccosh(np.float32([2.0])))
    assert x.arcsin().allclose(x.asin())


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_of_empty_and_0d_tensors(name):
    empty = getattr(ops, name)(minicnn.zeros(0, 3))
    assert empty.shape == (0, 3) and empty.dtype == minicnn.float32
    x = _leaf(0.5)
    y = getattr(ops, name)(x if name != "acosh" else x + 1)
    assert y.shape == () and y.requires_grad
    y.backward()
    assert x.grad.shape == ()


# Edge values, PyTorch's outputs and gradients (checked against torch 2.13 by the comparison at
# the end of this file): domain edges, poles, infinities, signed zeros.
EDGES = {
    "acosh": ([-2, 0.5, 1, 2, inf], [nan, nan, 0, np.arccosh(2), inf],
              [1 / math.sqrt(3), nan, inf, 1 / math.sqrt(3), 0]),
    "asin": ([-1, 0.5, 1, 2], [-math.pi / 2, math.pi / 6, math.pi / 2, nan],
             [inf, 2 / math.sqrt(3), inf, nan]),
    "acos": ([-1, 1, 2], [math.pi, 0, nan], [-inf, -inf, nan]),
    "atanh": ([-1, 0.5, 1, 2], [-inf, np.arctanh(0.5), inf, nan], [inf, 4 / 3, inf, -1 / 3]),
    "erfinv": ([-1, 0, 1, 2], [-inf, 0, inf, nan], [inf, math.sqrt(math.pi) / 2, inf, nan]),
    "log1p": ([-2, -1, 0, inf], [nan, -inf, 0, inf], [-1, inf, 1, 0]),
    "log2": ([-1, 0, 8], [nan, -inf, 3], [-1 / math.log(2), inf, 1 / (8 * math.log(2))]),
    "expm1": ([-inf, 0, 1000], [-1, 0, inf], [0, 1, inf]),
    "logit": ([-0.5, 0, 0.5, 1, 1.5], [nan, -inf, 0, inf, nan], [nan, inf, 4, inf, nan]),
    "lgamma": ([0, -1, -2.5, inf, -inf], [inf, inf, sp.gammaln(-2.5), inf, inf],
               [-inf, nan, sp.psi(-2.5), inf, nan]),
    "digamma": ([0, -0.0, -1, inf, -inf], [-inf, inf, nan, inf, nan],
                [inf, inf, inf, 0, nan]),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_unary_op_at_its_edges_as_pytorch(name):
    values, expected, grads = EDGES[name]
    y, g = _value_and_grad(getattr(ops, name), values)
    _same(y, expected)
    _same(g, grads)


def test_logit_with_eps_clamps_and_zeroes_the_gradient_outside():
    x = [-0.5, 0.0, 0.05, 0.1, 0.3, 0.9, 1.0, 1.5]
    y, g = _value_and_grad(lambda t: ops.logit(t, eps=0.1), x)
    _same(y, sp.logit(np.clip(x, 0.1, 0.9)))
    # at the bounds themselves the gradient is 1 / (p (1 - p)), as PyTorch's
    _same(g, [0, 0, 0, 1 / 0.09, 1 / 0.21, 1 / 0.09, 0, 0], rtol=1e-12)
    assert minicnn.tensor([0.5]).logit(0.1).item() == 0.0
    with pytest.raises(TypeError):
        ops.logit(minicnn.tensor([0.5]), eps="0.1")


# --- functions of two or three tensors -----------------------------------------------------------

BINARY = {  # name -> (oracle, a range, b range): smooth there (a / b away from integers)
    "atan2": (np.arctan2, (-2, 2), (-2, 2)),
    "hypot": (np.hypot, (-2, 2), (-2, 2)),
    "xlogy": (lambda a, b: a * np.log(b), (-2, 2), (0.5, 3)),
    "fmod": (np.fmod, (2.1, 2.9), (1.0, 1.01)),
    "remainder": (np.remainder, (-2.9, -2.1), (1.0, 1.01)),
    "clamp_min": (np.maximum, (0, 1), (2, 3)),
    "clamp_max": (np.minimum, (0, 1), (2, 3)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_vs_numpy_with_broadcasting(name, dtype, rng):
    oracle, ra, rb = BINARY[name]
    a, b = rng.uniform(*ra, (3, 1, 4)).astype(dtype), rng.uniform(*rb, (2, 4)).astype(dtype)
    y = getattr(ops, name)(minicnn.tensor(a), minicnn.tensor(b))
    assert y.dtype == dtype and y.shape == (3, 2, 4)
    np.testing.assert_allclose(y.numpy(), oracle(a.astype(np.float64), b.astype(np.float64)),
                               rtol=2e-6 if dtype == np.float32 else 1e-12, atol=1e-7)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_gradcheck_both_inputs(name, rng):
    _, ra, rb = BINARY[name]
    a, b = _leaf(rng.uniform(*ra, (3, 1, 4))), _leaf(rng.uniform(*rb, (2, 4)))
    if name.startswith("clamp"):  # half the elements on each side of the bound
        b = _leaf(rng.uniform(0, 1, (2, 4)) + np.where(rng.random((2, 4)) < 0.5, 0.013, -0.011))
    assert gradcheck(getattr(ops, name), (a, b))
    if name == "hypot":  # a tensor only, as PyTorch's
        with pytest.raises(TypeError, match="other must be a Tensor"):
            ops.hypot(a, 1.5)
        return
    assert gradcheck(lambda a: getattr(ops, name)(a, 1.5 if name != "clamp_max" else 0.5), (a,))


@pytest.mark.parametrize("name", sorted(BINARY) + ["floor_divide"])
def test_binary_method_and_inplace_form(name, rng):
    a, b = rng.uniform(2.1, 2.9, (2, 3)), rng.uniform(1.0, 1.5, 3)
    x, other = minicnn.tensor(a), minicnn.tensor(b)
    expected = getattr(ops, name)(x, other).numpy()
    np.testing.assert_array_equal(getattr(x, name)(other).numpy(), expected)
    assert getattr(x, name + "_")(other) is x
    np.testing.assert_array_equal(x.numpy(), expected)
    with pytest.raises(RuntimeError, match="shape"):  # an in-place op cannot broadcast self
        getattr(minicnn.tensor(b), name + "_")(minicnn.tensor(a))


def test_binary_ops_take_a_number_on_either_side_where_pytorch_does():
    x = minicnn.tensor([1.0, 4.0])
    _same(ops.xlogy(2, x).numpy(), 2 * np.log([1.0, 4.0]), rtol=1e-6)
    _same(ops.remainder(7, x).numpy(), [0.0, 3.0])
    _same(ops.floor_divide(7, x).numpy(), [7.0, 1.0])
    _same(ops.fmod(x, 3).numpy(), [1.0, 1.0])
    _same((7 % x).numpy(), [0.0, 3.0])
    _same((x // 3).numpy(), [0.0, 1.0])
    with pytest.raises(TypeError, match="atan2"):
        ops.atan2(1.0, 2.0)


def test_binary_dtypes_follow_pytorch():
    i, f64 = minicnn.tensor([3, 4]), minicnn.tensor([3.0, 4.0], dtype=minicnn.float64)
    assert ops.atan2(i, i).dtype == minicnn.float32  # integers compute in float32
    assert ops.atan2(i, f64).dtype == minicnn.float64
    assert ops.xlogy(i, 3).dtype == minicnn.float32
    assert ops.atan2(minicnn.tensor([1.0]), minicnn.tensor(2.0, dtype=minicnn.float64)).dtype \
        == minicnn.float32  # a 0-d float64 does not promote a float32 tensor
    assert ops.fmod(i, 2).dtype == ops.remainder(i, 2).dtype == minicnn.int64
    assert ops.fmod(i, 2.5).dtype == minicnn.float32
    assert ops.clamp_min(minicnn.tensor([1, 5]), 2.5).dtype == minicnn.float32
    _same(ops.clamp_min(minicnn.tensor([1, 5]), 2.5).numpy(), [2.5, 5.0])
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.hypot(i, i)  # float tensors only, as PyTorch


def test_integer_division_ops_match_python_and_refuse_zero(rng):
    a, b = rng.integers(-20, 20, 50), rng.choice([-7, -3, -1, 1, 2, 5], 50)
    ta, tb = minicnn.tensor(a), minicnn.tensor(b)
    np.testing.assert_array_equal(ops.remainder(ta, tb).numpy(), [p % q for p, q in zip(a, b)])
    np.testing.assert_array_equal(ops.floor_divide(ta, tb).numpy(),
                                  [p // q for p, q in zip(a, b)])
    np.testing.assert_array_equal(ops.fmod(ta, tb).numpy(),
                                  [math.fmod(p, q) for p, q in zip(a, b)])
    for op in (ops.fmod, ops.remainder, ops.floor_divide):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            op(ta, minicnn.tensor(np.where(b == 5, 0, b)))
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            op(ta, 0)


def test_float_division_ops_at_zero_and_signed_zeros():
    a, b = [1.0, -1.0, 0.0, 5.0, -0.0, 0.0], [0.0, 0.0, 0.0, -0.0, 2.0, -2.0]
    ta, tb = minicnn.tensor(a), minicnn.tensor(b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd, rem, fm = ops.floor_divide(ta, tb), ops.remainder(ta, tb), ops.fmod(ta, tb)
    _same(fd.numpy(), [inf, -inf, nan, -inf, -0.0, -0.0])
    _same(rem.numpy()[:4], [nan] * 4)
    _same(fm.numpy()[:4], [nan] * 4)
    # a zero remainder keeps the dividend's sign, as PyTorch (NumPy gives the divisor's)
    assert list(np.signbit(rem.numpy()[4:])) == [True, False]
    assert list(np.signbit(ops.remainder(minicnn.tensor([-3.0, 3.0]),
                                         minicnn.tensor([3.0, -3.0])).numpy())) == [True, False]


def test_floor_divide_is_recorded_but_has_no_derivative():
    x = _leaf([1.5, -2.5])
    y = ops.floor_divide(x, 2.0)
    _same(y.detach().numpy(), [0.0, -2.0])
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="derivative for floor_divide"):
        y.sum().backward()


def test_xlogy_zeros_nans_and_gradients_as_pytorch():
    x, y = [0.0, 0.0, 0.0, 1.0, 2.0, 0.0], [0.0, -1.0, 2.0, 0.0, 3.0, nan]
    a, b = _leaf(x), _leaf(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ops.xlogy(a, b)
        out.sum().backward()
    _same(out.detach().numpy(), [0, 0, 0, -inf, 2 * math.log(3), nan])
    _same(a.grad.numpy(), [0, 0, math.log(2), -inf, math.log(3), nan])
    _same(b.grad.numpy(), [nan, -0.0, 0, inf, 2 / 3, nan])


def test_clamp_min_max_gradients_at_the_bound_and_nan():
    for op, kept, clamped in [(ops.clamp_min, [0, 1, 1, 0], [1, 0, 0, 0]),
                              (ops.clamp_max, [1, 1, 0, 0], [0, 0, 1, 0])]:
        x, m = _leaf([1.0, 2.0, 3.0, nan]), _leaf([2.0, 2.0, 2.0, 2.0])
        y = op(x, m)
        y.sum().backward()
        _same(x.grad.numpy(), kept)
        _same(m.grad.numpy(), clamped)
        assert math.isnan(y[3].item())
    assert math.isnan(ops.clamp_min(minicnn.tensor([1.0]), minicnn.tensor([nan])).item())
    x = _leaf([1.0, 3.0])
    x.clamp_max(2).sum().backward()
    _same(x.grad.numpy(), [1, 0])


def test_lerp_values_gradients_and_pytorch_dtype_rules(rng):
    a, e = rng.normal(size=(3, 4)), rng.normal(size=4)
    for w in (0.3, 0.7, rng.uniform(-0.5, 1.5, (3, 4))):
        y = ops.lerp(minicnn.tensor(a), minicnn.tensor(e), minicnn.tensor(w)
                     if isinstance(w, np.ndarray) else w)
        np.testing.assert_allclose(y.numpy(), a + w * (e - a), rtol=1e-12, atol=1e-15)
    ta, te, tw = _leaf(a), _leaf(e), _leaf(rng.uniform(0, 1, (3, 1)))
    assert gradcheck(ops.lerp, (ta, te, tw))
    assert gradcheck(lambda a, e: ops.lerp(a, e, 0.8), (ta, te))
    # exact at the ends: weight 0 gives input, weight 1 gives end
    big, small = minicnn.tensor([1e8, 3.0]), minicnn.tensor([1e-8, -2.0])
    np.testing.assert_array_equal(ops.lerp(big, small, 1.0).numpy(), small.numpy())
    np.testing.assert_array_equal(ops.lerp(big, small, 0.0).numpy(), big.numpy())
    f32, f64 = minicnn.tensor([1.0]), minicnn.tensor([2.0], dtype=minicnn.float64)
    with pytest.raises(RuntimeError, match="expected dtype float32 for `end`"):
        ops.lerp(f32, f64, 0.5)
    with pytest.raises(RuntimeError, match="`weight`"):
        ops.lerp(f32, f32, f64)
    _same(ops.lerp(f32, f32 * 3, minicnn.tensor(0.5, dtype=minicnn.float64)).numpy(), [2.0])
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.lerp(minicnn.tensor([1]), minicnn.tensor([2]), 0.5)
    with pytest.raises(RuntimeError, match="size of tensor"):
        ops.lerp(minicnn.zeros(3), minicnn.zeros(2), 0.5)


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv_values_and_gradients(name, rng):
    a, t1, t2 = rng.normal(size=(2, 1, 3)), rng.normal(size=(4, 3)), rng.uniform(0.5, 2, 3)
    oracle = a + 0.7 * (t1 * t2 if name == "addcmul" else t1 / t2)
    op = getattr(ops, name)
    y = op(minicnn.tensor(a), minicnn.tensor(t1), minicnn.tensor(t2), value=0.7)
    np.testing.assert_allclose(y.numpy(), oracle, rtol=1e-12)
    assert gradcheck(lambda a, t1, t2: op(a, t1, t2, value=-1.5), (_leaf(a), _leaf(t1), _leaf(t2)))
    x = minicnn.tensor(np.broadcast_to(a, (2, 4, 3)).copy())
    assert getattr(x, name + "_")(minicnn.tensor(t1), minicnn.tensor(t2), value=0.7) is x
    np.testing.assert_allclose(x.numpy(), oracle, rtol=1e-12)


def test_addcmul_addcdiv_dtypes_as_pytorch():
    i = minicnn.tensor([1])
    # the value is converted to the integer type first: 0.5 -> 0
    np.testing.assert_array_equal(ops.addcmul(i, i * 2, i * 3, value=0.5).numpy(), [1])
    np.testing.assert_array_equal(ops.addcmul(i, i * 2, i * 3, value=2).numpy(), [13])
    assert ops.addcmul(minicnn.tensor([1.0]), minicnn.tensor([2.0], dtype=minicnn.float64),
                       minicnn.tensor([3.0])).dtype == minicnn.float64
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        ops.addcdiv(minicnn.tensor([1.0]), i * 2, i * 3)
    y = ops.addcdiv(i, minicnn.tensor([2.0]), i * 3)
    assert y.dtype == minicnn.float32
    _same(y.numpy(), [1 + 2 / 3], rtol=1e-6)


# --- replacing and testing values, bitwise ops ---------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_to_num_defaults_custom_values_and_gradient(dtype):
    big = np.finfo(dtype)
    y, g = _value_and_grad(ops.nan_to_num, [nan, inf, -inf, 1.5], dtype)
    np.testing.assert_array_equal(y, np.array([0, big.max, big.min, 1.5], dtype))
    np.testing.assert_array_equal(g, [0, 0, 0, 1])
    y = minicnn.tensor(np.array([nan, inf, -inf], dtype)).nan_to_num(1.0, 2.0, -3.0)
    np.testing.assert_array_equal(y.numpy(), [1, 2, -3])
    x = minicnn.tensor(np.array([nan, 2.0], dtype))
    assert x.nan_to_num_(nan=-1.0) is x and x.tolist() == [-1.0, 2.0]
    i = minicnn.tensor([1, 2])
    assert ops.nan_to_num(i).dtype == minicnn.int64 and ops.nan_to_num(i).tolist() == [1, 2]


def test_isposinf_isneginf():
    x = minicnn.tensor([inf, -inf, nan, 1.0])
    assert ops.isposinf(x).tolist() == [True, False, False, False]
    assert x.isneginf().tolist() == [False, True, False, False]
    assert ops.isposinf(minicnn.tensor([1, 2])).tolist() == [False, False]
    assert ops.isneginf(minicnn.tensor([1, 2])).dtype == minicnn.bool


@pytest.mark.parametrize("name,sym", [("bitwise_and", "&"), ("bitwise_or", "|"),
                                      ("bitwise_xor", "^")])
def test_bitwise_ops_on_integers_bools_and_numbers(name, sym, rng):
    a, b = rng.integers(-100, 100, 20), rng.integers(-100, 100, 20)
    ufunc = getattr(np, name)
    ta, tb = minicnn.tensor(a), minicnn.tensor(b)
    np.testing.assert_array_equal(getattr(ops, name)(ta, tb).numpy(), ufunc(a, b))
    np.testing.assert_array_equal(eval(f"ta {sym} tb").numpy(), ufunc(a, b))
    np.testing.assert_array_equal(eval(f"ta {sym} 6").numpy(), ufunc(a, 6))
    np.testing.assert_array_equal(eval(f"6 {sym} ta").numpy(), ufunc(6, a))
    p, q = minicnn.tensor([True, True, False]), minicnn.tensor([True, False, False])
    out = getattr(ops, name)(p, q)
    assert out.dtype == minicnn.bool
    np.testing.assert_array_equal(out.numpy(), ufunc([True, True, False], [True, False, False]))
    x = minicnn.tensor(a)
    assert getattr(x, name + "_")(tb) is x
    np.testing.assert_array_equal(x.numpy(), ufunc(a, b))
    x = minicnn.tensor(a)
    exec(f"x {sym}= tb")
    np.testing.assert_array_equal(x.numpy(), ufunc(a, b))
    with pytest.raises(TypeError, match=name):
        getattr(ops, name)(minicnn.tensor([1.0]), minicnn.tensor([3.0]))
    with pytest.raises(TypeError, match=name):
        getattr(ops, name)(ta, 1.5)


def test_bitwise_not_and_invert():
    a = np.array([0, 5, -6])
    np.testing.assert_array_equal(ops.bitwise_not(minicnn.tensor(a)).numpy(), ~a)
    np.testing.assert_array_equal((~minicnn.tensor(a)).numpy(), ~a)
    assert (~minicnn.tensor([True, False])).tolist() == [False, True]
    with pytest.raises(TypeError, match="bitwise_not"):
        ~minicnn.tensor([1.0])
    x = minicnn.tensor([True, False])
    assert x.bitwise_not_() is x and x.tolist() == [False, True]


def test_every_op_has_its_tensor_methods():
    for name in list(UNARY) + list(BINARY) + [
            "floor_divide", "lerp", "addcmul", "addcdiv", "nan_to_num", "bitwise_and",
            "bitwise_or", "bitwise_xor", "bitwise_not"]:
        assert callable(getattr(minicnn.Tensor, name)) and callable(getattr(minicnn, name))
        assert callable(getattr(minicnn.Tensor, name + "_"))
    for name in ("isposinf", "isneginf"):
        assert callable(getattr(minicnn.Tensor, name))


# --- the same against PyTorch (opt-in) ------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")


def _shape(rng):
    return tuple(int(n) for n in rng.integers(1, 4, rng.integers(0, 4)))


def _grads(fn, arrays, lib):
    """``fn(*leaves)`` and the leaves' gradients of ``(fn * g).sum()`` for a fixed ``g``, in
    minicnn or torch (``lib``)."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = fn(*leaves)
        g = np.linspace(-1.5, 2.0, y.numel()).reshape(tuple(y.shape))
        (y * lib.tensor(g, dtype=y.dtype)).sum().backward()
    return (y.detach().numpy(), [None if t.grad is None else t.grad.numpy() for t in leaves],
            str(y.dtype).split(".")[-1])


def _compare(ours, theirs, rtol):
    y, grads, dtype = ours
    ty, tgrads, tdtype = theirs
    assert dtype == tdtype and y.shape == ty.shape
    np.testing.assert_allclose(y, ty, rtol=rtol, atol=rtol, equal_nan=True)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=rtol, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_matches_torch(name, dtype):
    torch = _torch()
    rng = np.random.default_rng(sorted(UNARY).index(name))
    low, high = UNARY[name][1]
    for _ in range(5):
        a = rng.uniform(low, high, _shape(rng)).astype(dtype)
        ours = _grads(getattr(minicnn, name), [a], minicnn)
        theirs = _grads(getattr(torch, name), [a], torch)
        # PyTorch's trigamma (digamma's gradient) is a short series, good to about 1e-9
        _compare(ours, theirs, 2e-5 if dtype == np.float32 else 1e-8 if name == "digamma"
                 else 1e-10)
    for idtype in (np.int64, np.bool_):  # dtypes of integer inputs
        i = np.array([0, 1, 1], idtype)
        assert str(getattr(minicnn, name)(minicnn.tensor(i)).dtype) == \
            str(getattr(torch, name)(torch.tensor(i)).dtype).replace("torch", "minicnn")


EDGE_VALUES = [-inf, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, 1000.0, inf, nan]


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_edge_values_match_torch(name):
    torch = _torch()
    a = np.array(EDGE_VALUES)
    if name == "digamma":  # PyTorch's trigamma at a negative pole is finite (1.3e15 at -1),
        a = a[~np.isin(a, [-1.0, -2.0])]  # SciPy's (and minicnn's) inf: not compared there
    _compare(_grads(getattr(minicnn, name), [a], minicnn),
             _grads(getattr(torch, name), [a], torch), 1e-8 if name == "digamma" else 1e-10)


@pytest.mark.parametrize("name", sorted(BINARY) + ["floor_divide"])
def test_binary_op_matches_torch(name):
    torch = _torch()
    rng = np.random.default_rng(100 + (sorted(BINARY) + ["floor_divide"]).index(name))
    _, ra, rb = BINARY.get(name, (None, (-3, 3), (0.5, 2)))
    for trial in range(6):
        shape = _shape(rng)
        other = shape[rng.integers(0, len(shape) + 1):] if trial % 2 else shape
        a, b = rng.uniform(*ra, shape), rng.uniform(*rb, other)
        if name == "floor_divide":  # no derivative in either: values only
            np.testing.assert_array_equal(minicnn.floor_divide(minicnn.tensor(a),
                                                               minicnn.tensor(b)).numpy(),
                                          torch.floor_divide(torch.tensor(a),
                                                             torch.tensor(b)).numpy())
            continue
        _compare(_grads(getattr(minicnn, name), [a, b], minicnn),
                 _grads(getattr(torch, name), [a, b], torch), 1e-10)
    edges = np.array(EDGE_VALUES)
    a, b = np.repeat(edges, len(edges)), np.tile(edges, len(edges))
    fn = getattr(minicnn, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fn(minicnn.tensor(a), minicnn.tensor(b)).numpy()
    theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)
    assert (np.signbit(ours) == np.signbit(theirs))[~np.isnan(ours)].all()
    if name not in ("hypot",):  # integer operands: PyTorch's result dtype
        i, j = np.array([3, -7, 5]), np.array([2, 3, -4])
        ours = fn(minicnn.tensor(i), minicnn.tensor(j))
        theirs = getattr(torch, name)(torch.tensor(i), torch.tensor(j))
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["lerp", "addcmul", "addcdiv"])
def test_three_input_ops_match_torch(name):
    torch = _torch()
    rng = np.random.default_rng(7)
    for trial in range(6):
        shape = _shape(rng)
        arrays = [rng.normal(size=shape[rng.integers(0, len(shape) + 1):]) for _ in range(3)]
        arrays[0] = rng.normal(size=shape)
        if name == "addcdiv":
            arrays[2] = np.abs(arrays[2]) + 0.5
        kwargs = {} if name == "lerp" else {"value": float(rng.normal())}
        ours = _grads(lambda *t: getattr(minicnn, name)(*t, **kwargs), arrays, minicnn)
        theirs = _grads(lambda *t: getattr(torch, name)(*t, **kwargs), arrays, torch)
        _compare(ours, theirs, 1e-10)
    for w in (0.25, 0.75):  # lerp with a number: both of PyTorch's forms, bit for bit
        a, e = rng.normal(size=50).astype(np.float32), rng.normal(size=50).astype(np.float32)
        np.testing.assert_array_equal(
            minicnn.lerp(minicnn.tensor(a), minicnn.tensor(e), w).numpy(),
            torch.lerp(torch.tensor(a), torch.tensor(e), w).numpy())


def test_other_special_ops_match_torch():
    torch = _torch()
    edges = np.array(EDGE_VALUES)
    for dtype in (np.float32, np.float64):
        a = edges.astype(dtype)
        for fn, kwargs in [("nan_to_num", {}), ("nan_to_num", {"nan": 1.0, "posinf": 2.0}),
                           ("isposinf", {}), ("isneginf", {}), ("logit", {"eps": 0.2})]:
            ours = getattr(minicnn, fn)(minicnn.tensor(a), **kwargs)
            theirs = getattr(torch, fn)(torch.tensor(a), **kwargs)
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x = np.array([-0.5, 0.0, 0.05, 0.2, 0.3, 0.8, 0.9, 1.0, 1.5])
    _compare(_grads(lambda t: minicnn.logit(t, eps=0.2), [x], minicnn),
             _grads(lambda t: torch.logit(t, eps=0.2), [x], torch), 1e-12)
    _compare(_grads(minicnn.nan_to_num, [edges], minicnn),
             _grads(torch.nan_to_num, [edges], torch), 0)
    a, b = np.array([12, 10, -3, 7]), np.array([6, 3, 5, -8])
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        np.testing.assert_array_equal(getattr(minicnn, name)(minicnn.tensor(a), 6).numpy(),
                                      getattr(torch, name)(torch.tensor(a), 6).numpy())
        np.testing.assert_array_equal(
            getattr(minicnn, name)(minicnn.tensor(a), minicnn.tensor(b)).numpy(),
            getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy())
    np.testing.assert_array_equal((~minicnn.tensor(a)).numpy(), (~torch.tensor(a)).numpy())
