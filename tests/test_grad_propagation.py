"""requires_grad propagation as PyTorch's: piecewise-constant ops (sign, floor, ceil, round,
trunc, frac) stay in the graph with gradient 0 (frac: 1); comparisons, argmax and friends never
require grad; reductions over a 0-d tensor accept dim 0 and -1, forward and backward."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn import ops
from minicnn.gradcheck import gradcheck

nan, inf = math.nan, math.inf

# Values away from every integer and half-integer: each step op is locally constant there, so
# central differences see its true gradient (0, or 1 for frac).
SMOOTH = [-2.3, -1.2, -0.7, -0.1, 0.2, 0.9, 1.3, 2.6, 3.1]

# Hand-derived outputs on X (ties rounded half to even, as PyTorch).
X = [-2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 1.2, -1.7]
STEP_OPS = {
    "sign": (ops.sign, [-1, -1, -1, 0, 0, 1, 1, 1, 1, -1]),
    "floor": (ops.floor, [-3, -2, -1, -0.0, 0, 0, 1, 2, 1, -2]),
    "ceil": (ops.ceil, [-2, -1, -0.0, -0.0, 0, 1, 2, 3, 2, -1]),
    "round": (ops.round, [-2, -2, -0.0, -0.0, 0, 0, 2, 2, 1, -2]),
    "round_decimals": (lambda x: ops.round(x, decimals=1),
                       [-2.5, -1.5, -0.5, -0.0, 0, 0.5, 1.5, 2.5, 1.2, -1.7]),
    "trunc": (ops.trunc, [-2, -1, -0.0, -0.0, 0, 0, 1, 2, 1, -1]),
    "fix": (ops.fix, [-2, -1, -0.0, -0.0, 0, 0, 1, 2, 1, -1]),
}


def _leaf(values, dtype=np.float64):
    return minicnn.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(STEP_OPS))
def test_step_op_stays_in_the_graph_with_gradient_zero(name, dtype):
    op, expected = STEP_OPS[name]
    x = _leaf(X, dtype)
    y = op(x)
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf
    assert y.dtype == dtype
    np.testing.assert_allclose(y.detach().numpy(), np.asarray(expected, dtype), rtol=1e-6)
    y.backward(minicnn.tensor(np.linspace(-3, 3, len(X)).astype(dtype)))
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(len(X), dtype))
    assert x.grad.dtype == dtype


@pytest.mark.parametrize("name", sorted(STEP_OPS))
def test_step_op_gradient_is_zero_even_for_a_non_finite_upstream_gradient(name):
    # PyTorch's backward of a step is zeros_like(grad): no 0 * inf = NaN
    x = _leaf([0.3, 1.7, -2.2])
    STEP_OPS[name][0](x).backward(minicnn.tensor([inf, nan, -inf], dtype=np.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("name", sorted(STEP_OPS) + ["frac"])
def test_step_op_gradcheck(name):
    op = ops.frac if name == "frac" else STEP_OPS[name][0]
    assert gradcheck(op, (_leaf(SMOOTH),))


@pytest.mark.parametrize("name", sorted(STEP_OPS) + ["frac"])
def test_step_op_without_grad_records_nothing(name):
    op = ops.frac if name == "frac" else STEP_OPS[name][0]
    assert not op(minicnn.tensor(SMOOTH)).requires_grad
    with minicnn.no_grad():
        y = op(_leaf(SMOOTH))
    assert not y.requires_grad and y.grad_fn is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_frac_is_x_minus_trunc_with_gradient_one(dtype):
    # frac(x) = x - trunc(x), the sign of x kept; d frac / dx = 1
    x = _leaf([-2.5, -1.25, -0.0, 0.75, 3.5, inf, -inf, nan], dtype)
    y = ops.frac(x)
    assert y.requires_grad and y.dtype == dtype
    np.testing.assert_array_equal(y.detach().numpy(),
                                  np.array([-0.5, -0.25, 0, 0.75, 0.5, nan, nan, nan], dtype))
    g = np.arange(1, 9).astype(dtype)
    y.backward(minicnn.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), g)


def test_sign_of_nan_and_negative_zero_as_pytorch():
    # PyTorch's sign is (0 < x) - (x < 0): 0 for NaN, +0 for -0.0 (NumPy's keeps NaN)
    y = ops.sign(_leaf([nan, -0.0, inf, -inf]))
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 0.0, 1.0, -1.0])
    assert not np.signbit(y.detach().numpy()[:2]).any()


def test_floor_ceil_round_of_nan_and_inf_pass_through():
    x = _leaf([nan, inf, -inf])
    for op in (ops.floor, ops.ceil, ops.round, ops.trunc):
        y = op(x)
        np.testing.assert_array_equal(y.detach().numpy(), [nan, inf, -inf])
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
        x.grad = None


def test_round_decimals_half_to_even():
    # scaled by 10**decimals, rounded half to even, scaled back (PyTorch's formula)
    x = minicnn.tensor([1.2345, 2.5, -0.125, 1234.5, 1250.0, -15.0], dtype=np.float64)
    np.testing.assert_array_equal(ops.round(x, decimals=2).numpy(),
                                  [1.23, 2.5, -0.12, 1234.5, 1250.0, -15.0])
    np.testing.assert_array_equal(ops.round(x, decimals=-2).numpy(),
                                  [0.0, 0.0, -0.0, 1200.0, 1200.0, -0.0])


def test_step_ops_keep_an_integer_dtype_and_frac_refuses_it():
    # PyTorch: floor/ceil/round/trunc/sign of int64 are int64 (NumPy's floor would be float64)
    x = minicnn.tensor([3, -2, 0])
    for op in (ops.sign, ops.floor, ops.ceil, ops.round, ops.trunc):
        y = op(x)
        assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(ops.sign(x).numpy(), [1, -1, 0])
    np.testing.assert_array_equal(ops.floor(x).numpy(), [3, -2, 0])
    with pytest.raises(TypeError, match="float"):
        ops.frac(x)
    with pytest.raises(TypeError, match="float"):
        ops.round(x, decimals=1)


def test_step_ops_as_tensor_methods_and_top_level_functions():
    x = _leaf([0.3, -1.6])
    for name in ("sign", "floor", "ceil", "round"):
        y = getattr(x, name)()
        assert y.requires_grad
        np.testing.assert_array_equal(y.detach().numpy(), getattr(ops, name)(x).detach().numpy())
    for name in ("trunc", "fix", "frac", "sign", "floor", "ceil", "round"):
        assert getattr(minicnn, name) is getattr(ops, name)


def test_step_ops_compose_with_a_differentiable_path():
    # y = x * floor(x) + frac(x): dy/dx = floor(x) + x * 0 + 1
    x = _leaf([0.3, 1.7, -2.2])
    (x * ops.floor(x) + ops.frac(x)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0, -2.0])


def test_in_place_floor_and_round_on_a_non_leaf_are_recorded():
    x = _leaf([0.3, 1.7, -2.2])
    y = x * 2
    y.floor_()
    z = x * 3
    z.round_()
    assert y.requires_grad and z.requires_grad
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 3.0, -5.0])
    (y + z + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_abs_gradient_at_zero_and_nan_is_zero():
    x = _leaf([-2.0, -0.0, 0.0, nan, 3.0])
    ops.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 0.0, 0.0, 1.0])


# --- results that never require grad ----------------------------------------------------------

NO_GRAD = {
    "eq": lambda x: ops.eq(x, 0.5), "ne": lambda x: ops.ne(x, 0.5), "lt": lambda x: x < 0.5,
    "le": lambda x: x <= 0.5, "gt": lambda x: x > 0.5, "ge": lambda x: x >= 0.5,
    "eq_op": lambda x: x == x, "isclose": lambda x: ops.isclose(x, x),
    "isnan": ops.isnan, "isinf": ops.isinf, "isfinite": ops.isfinite,
    "logical_not": ops.logical_not, "logical_and": lambda x: ops.logical_and(x, x),
    "logical_or": lambda x: ops.logical_or(x, x), "logical_xor": lambda x: ops.logical_xor(x, x),
    "argmax": ops.argmax, "argmin": ops.argmin, "argmax_dim": lambda x: ops.argmax(x, 1),
    "argmin_dim_keepdim": lambda x: ops.argmin(x, 0, keepdim=True),
    "all": ops.all, "any_dim": lambda x: ops.any(x, 1), "count_nonzero": ops.count_nonzero,
    "nonzero": ops.nonzero, "max_indices": lambda x: ops.max(x, 1).indices,
    "min_indices": lambda x: ops.min(x, 0).indices,
}


@pytest.mark.parametrize("name", sorted(NO_GRAD))
def test_comparisons_and_indices_never_require_grad(name):
    x = _leaf([[0.5, -1.0, 2.0], [3.0, 0.0, 0.5]])
    y = NO_GRAD[name](x)
    assert y.dtype in (np.bool_, np.int64)
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_equal_and_allclose_are_python_bools():
    x = _leaf([1.0, 2.0])
    assert ops.equal(x, x) is True and ops.allclose(x, x) is True


# --- the other ops of these files propagate requires_grad -------------------------------------

PROPAGATING = {
    "exp": ops.exp, "log": lambda x: ops.log(x.abs() + 1), "sqrt": lambda x: ops.sqrt(x.abs()),
    "abs": ops.abs, "sin": ops.sin, "cos": ops.cos, "square": ops.square,
    "clamp": lambda x: ops.clamp(x, -1, 1), "clone": ops.clone,
    "relu": ops.relu, "leaky_relu": ops.leaky_relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh,
    "gelu": ops.gelu, "elu": ops.elu, "selu": ops.selu, "silu": ops.silu,
    "softplus": ops.softplus, "hardtanh": ops.hardtanh, "relu6": ops.relu6,
    "softmax": lambda x: ops.softmax(x, 1), "log_softmax": lambda x: ops.log_softmax(x, 1),
    "sum": ops.sum, "mean": ops.mean, "amax": ops.amax, "amin": ops.amin,
    "max": ops.max, "max_dim": lambda x: ops.max(x, 1).values,
    "min_dim": lambda x: ops.min(x, 0)[0],
    "var": ops.var, "std": ops.std, "prod": ops.prod, "norm": ops.norm,
    "norm_p0": lambda x: ops.norm(x, 0), "norm_inf": lambda x: ops.norm(x, inf),
    "cumsum": lambda x: ops.cumsum(x, 1), "logsumexp": lambda x: ops.logsumexp(x, 1),
    "cross_entropy": lambda x: F.cross_entropy(x, minicnn.tensor([2, 0])),
    "nll_loss": lambda x: F.nll_loss(x, minicnn.tensor([2, 0])),
    "mse_loss": lambda x: F.mse_loss(x, minicnn.zeros(2, 3, dtype=np.float64)),
}


@pytest.mark.parametrize("name", sorted(PROPAGATING))
def test_differentiable_ops_propagate_requires_grad(name):
    x = _leaf([[0.3, -1.2, 2.0], [1.1, 0.4, -0.6]])
    y = PROPAGATING[name](x)
    assert y.requires_grad and y.grad_fn is not None and y.dtype == np.float64
    assert not PROPAGATING[name](x.detach()).requires_grad


# --- reductions over a 0-d tensor with dim 0 or -1 --------------------------------------------

# op, value and gradient at x = -2.5 (every reduction of one value is that value, or its
# function): hand-derived.
ZERO_D = {
    "sum": (lambda x, d, k: ops.sum(x, d, k), -2.5, 1.0),
    "mean": (lambda x, d, k: ops.mean(x, d, k), -2.5, 1.0),
    "amax": (lambda x, d, k: ops.amax(x, d, k), -2.5, 1.0),
    "amin": (lambda x, d, k: ops.amin(x, d, k), -2.5, 1.0),
    "amax_tuple": (lambda x, d, k: ops.amax(x, (d,), k), -2.5, 1.0),
    "max_dim": (lambda x, d, k: ops.max(x, d, k).values, -2.5, 1.0),
    "min_dim": (lambda x, d, k: ops.min(x, d, k).values, -2.5, 1.0),
    "prod": (lambda x, d, k: ops.prod(x, d, k), -2.5, 1.0),
    "logsumexp": (lambda x, d, k: ops.logsumexp(x, d, k), -2.5, 1.0),
    "var_c0": (lambda x, d, k: ops.var(x, d, keepdim=k, correction=0), 0.0, 0.0),
    "std_c0": (lambda x, d, k: ops.std(x, d, keepdim=k, correction=0), 0.0, 0.0),
    # n = 1 = correction: 0/0 = NaN, and PyTorch's gradient NaN (x equals its mean)
    "var": (lambda x, d, k: ops.var(x, d, keepdim=k), nan, nan),
    "std": (lambda x, d, k: ops.std(x, d, keepdim=k), nan, nan),
    "norm": (lambda x, d, k: ops.norm(x, dim=d, keepdim=k), 2.5, -1.0),
    "norm_p1": (lambda x, d, k: ops.norm(x, 1, d, k), 2.5, -1.0),
    "norm_p3": (lambda x, d, k: ops.norm(x, 3, d, k), 2.5, -1.0),
    "norm_p_half": (lambda x, d, k: ops.norm(x, 0.5, d, k), 2.5, -1.0),
    "norm_inf": (lambda x, d, k: ops.norm(x, inf, d, k), 2.5, -1.0),
    "norm_neg_inf": (lambda x, d, k: ops.norm(x, -inf, d, k), 2.5, -1.0),
    "softmax": (lambda x, d, k: ops.softmax(x, d), 1.0, 0.0),
    "log_softmax": (lambda x, d, k: ops.log_softmax(x, d), 0.0, 0.0),
    "cumsum": (lambda x, d, k: ops.cumsum(x, d), -2.5, 1.0),
}


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("name", sorted(ZERO_D))
def test_reduction_of_a_0d_tensor_along_dim_0_or_minus_1(name, dim, keepdim):
    op, value, grad = ZERO_D[name]
    x = _leaf(-2.5)
    y = op(x, dim, keepdim)
    assert y.shape == () and y.requires_grad and y.grad_fn is not None
    np.testing.assert_allclose(y.detach().numpy(), value, rtol=1e-12, equal_nan=True)
    y.backward()
    assert x.grad.shape == ()
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", sorted(n for n in ZERO_D if n not in ("var", "std")))
def test_reduction_of_a_0d_tensor_gradcheck(name):
    # norm's and std's kinks are away from -2.5 (and from 0 for var/std with correction 0,
    # whose value is 0 whatever x is)
    op = ZERO_D[name][0]
    for dim in (0, -1):
        assert gradcheck(lambda x: op(x, dim, False), (_leaf(-2.5),))


def test_max_min_of_a_0d_tensor_return_index_0():
    x = _leaf(4.0)
    for fn in (ops.max, ops.min):
        for keepdim in (False, True):
            values, indices = fn(x, -1, keepdim)
            assert indices.shape == () and indices.dtype == np.int64 and indices.item() == 0
            assert values.shape == () and values.item() == 4.0 and values.grad_fn is not None


def test_indices_and_logic_of_a_0d_tensor_along_dim_0():
    x = minicnn.tensor(3.0)
    for fn in (ops.argmax, ops.argmin):
        for dim in (0, -1):
            for keepdim in (False, True):
                y = fn(x, dim, keepdim)
                assert y.shape == () and y.dtype == np.int64 and y.item() == 0
    assert ops.all(x, 0).item() is True and ops.any(x, -1).item() is True
    assert ops.count_nonzero(x, 0).item() == 1


@pytest.mark.parametrize("fn", [lambda x: ops.sum(x, 1), lambda x: ops.mean(x, -2),
                                lambda x: ops.cumsum(x, 1), lambda x: ops.max(x, 1),
                                lambda x: ops.prod(x, 1), lambda x: ops.logsumexp(x, 1)])
def test_a_0d_tensor_has_no_dim_1(fn):
    with pytest.raises(IndexError, match="out of range"):
        fn(_leaf(1.0))


@pytest.mark.parametrize("name,expected", [("sum", 15.0), ("mean", 2.5), ("amax", 5.0),
                                           ("amin", 0.0), ("var", 3.5),
                                           ("std", math.sqrt(3.5)),
                                           ("norm", math.sqrt(55))])
def test_an_empty_dim_tuple_reduces_over_everything(name, expected):
    # PyTorch reads dim=() as "every dimension" (NumPy's axis=() reduces none)
    x = _leaf(np.arange(6.0).reshape(2, 3))
    if name == "norm":
        y = ops.norm(x, dim=())
    else:
        y = getattr(ops, name)(x, ())
    assert y.shape == ()
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda t: ops.norm(t, dim=()) if name == "norm" else getattr(ops, name)(t, ()),
                     (_leaf(np.arange(6.0).reshape(2, 3) + [[0, 0.1, 0.3], [0.2, 0.5, 0.4]]),))


def test_0d_reductions_match_torch():
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    ops_torch = {
        "sum": lambda t, d, k: torch.sum(t, d, k), "mean": lambda t, d, k: torch.mean(t, d, k),
        "amax": lambda t, d, k: torch.amax(t, d, k), "amin": lambda t, d, k: torch.amin(t, d, k),
        "amax_tuple": lambda t, d, k: torch.amax(t, (d,), k),
        "max_dim": lambda t, d, k: torch.max(t, d, k).values,
        "min_dim": lambda t, d, k: torch.min(t, d, k).values,
        "prod": lambda t, d, k: torch.prod(t, d, k),
        "logsumexp": lambda t, d, k: torch.logsumexp(t, d, k),
        "var_c0": lambda t, d, k: torch.var(t, d, keepdim=k, correction=0),
        "std_c0": lambda t, d, k: torch.std(t, d, keepdim=k, correction=0),
        "var": lambda t, d, k: torch.var(t, d, keepdim=k),
        "std": lambda t, d, k: torch.std(t, d, keepdim=k),
        "norm": lambda t, d, k: torch.norm(t, dim=d, keepdim=k),
        "norm_p1": lambda t, d, k: torch.norm(t, 1, d, k),
        "norm_p3": lambda t, d, k: torch.norm(t, 3, d, k),
        "norm_p_half": lambda t, d, k: torch.norm(t, 0.5, d, k),
        "norm_inf": lambda t, d, k: torch.norm(t, inf, d, k),
        "norm_neg_inf": lambda t, d, k: torch.norm(t, -inf, d, k),
        "softmax": lambda t, d, k: torch.softmax(t, d),
        "log_softmax": lambda t, d, k: torch.log_softmax(t, d),
        "cumsum": lambda t, d, k: torch.cumsum(t, d),
    }
    import warnings
    for name, (op, _, _) in ZERO_D.items():
        for dim in (0, -1):
            for keepdim in (False, True):
                x = _leaf(-2.5)
                t = torch.tensor(-2.5, dtype=torch.float64, requires_grad=True)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    y, u = op(x, dim, keepdim), ops_torch[name](t, dim, keepdim)
                    y.backward()
                    u.backward()
                assert y.shape == tuple(u.shape), name
                np.testing.assert_allclose(y.detach().numpy(), u.detach().numpy(),
                                           rtol=1e-12, equal_nan=True, err_msg=name)
                np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12,
                                           equal_nan=True, err_msg=name)


def test_step_ops_match_torch(rng):
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    values = np.concatenate([rng.standard_normal(200) * 10, np.arange(-5, 5.5, 0.5),
                             [nan, inf, -inf, -0.0, 0.0, 1e30, -1e-30, 12345678.5]])
    for dtype, tdtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        x = values.astype(dtype)
        for name in ("sign", "floor", "ceil", "round", "trunc", "frac"):
            ours = getattr(ops, name)(minicnn.tensor(x)).numpy()
            theirs = getattr(torch, name)(torch.tensor(x, dtype=tdtype)).numpy()
            np.testing.assert_array_equal(ours, theirs, err_msg=name)
        for decimals in (-2, -1, 1, 2, 3):
            np.testing.assert_array_equal(
                ops.round(minicnn.tensor(x), decimals=decimals).numpy(),
                torch.round(torch.tensor(x, dtype=tdtype), decimals=decimals).numpy(),
                err_msg=f"round(decimals={decimals}), {dtype.__name__}")
