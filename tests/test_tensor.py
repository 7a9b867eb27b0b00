"""Tests of the Tensor class and the autograd engine: every op gradchecked, engine semantics."""
import gc
import threading
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import minicnn
from minicnn import Function, Tensor, gradcheck, no_grad

SETTINGS = settings(max_examples=15, deadline=None)


def t64(rng, *shape, low=None, high=None, requires_grad=True):
    """A float64 leaf of random values (uniform in [low, high) if given, else normal)."""
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return minicnn.tensor(data, dtype=np.float64, requires_grad=requires_grad)


def away_from_zero(rng, shape, margin=0.1):
    """Values with |v| >= margin, so kinks at 0 (relu, abs) stay out of finite differences."""
    return np.where(rng.random(shape) < 0.5, -1, 1) * rng.uniform(margin, 2, shape)


# ---------------------------------------------------------------------------------------------
# Creation and attributes
# ---------------------------------------------------------------------------------------------

def test_tensor_default_dtypes():
    assert minicnn.tensor([1.0, 2.0]).dtype == np.float32
    assert minicnn.tensor(3.5).dtype == np.float32
    assert minicnn.tensor(np.zeros(3)).dtype == np.float64          # an array keeps its dtype
    assert minicnn.tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert minicnn.tensor(np.float64(2.0)).dtype == np.float64      # as PyTorch
    assert minicnn.tensor(np.zeros(3), dtype=np.float64).dtype == np.float64
    assert minicnn.tensor([0, 2, 1]).dtype == np.int64              # labels stay integer
    assert minicnn.tensor([1, 2], dtype=np.float32).dtype == np.float32
    # The low-level constructor keeps an ndarray's float dtype (no copy).
    a = np.zeros(3)
    assert Tensor(a).numpy() is a
    assert Tensor(np.zeros(2, np.float32)).dtype == np.float32


def test_tensor_copies_and_tensor_shares():
    a = np.ones(3, np.float32)
    t = minicnn.tensor(a)
    t.data[0] = 5
    assert a[0] == 1
    u = Tensor(t)
    assert u.numpy() is t.numpy() and u.data_ptr() == t.data_ptr()


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError, match="float"):
        minicnn.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad"):
        minicnn.tensor([1.0], requires_grad="yes")
    t = minicnn.tensor([1.0])
    t.requires_grad = True
    assert t.requires_grad and t.is_leaf


def test_attributes_and_repr():
    t = minicnn.tensor(np.arange(6).reshape(2, 3), dtype=np.float32, requires_grad=True)
    assert t.shape == (2, 3) and t.size() == (2, 3) and t.size(1) == 3
    assert t.ndim == 2 and t.dim() == 2 and t.numel() == 6 and len(t) == 2
    assert t.dtype == np.float32 and t.grad is None and t.grad_fn is None
    # As PyTorch: numpy() is refused on a tensor that requires grad; detach() first (shared)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        t.numpy()
    assert t.detach().numpy() is t.data.numpy()
    assert np.shares_memory(t.detach().numpy(), t.data.numpy())
    assert t.data.data_ptr() == t.data_ptr() and not t.data.requires_grad
    assert repr(t).startswith("tensor([[0., 1., 2.],") and "requires_grad=True" in repr(t)
    y = t * 2
    assert "grad_fn=<MulBackward0>" in repr(y) and not y.is_leaf
    assert "dtype=minicnn.float64" in repr(minicnn.tensor([1.0], dtype=np.float64))
    assert minicnn.tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    with pytest.raises(TypeError, match="0-d"):
        len(minicnn.tensor(1.0))


def test_numpy_interop():
    t = minicnn.tensor([[1.0, 2.0]], requires_grad=True)
    # the same memory, read-only (a write through it would go unseen by autograd)
    assert np.shares_memory(np.asarray(t), t.detach().numpy())
    assert not np.asarray(t).flags.writeable
    np.testing.assert_array_equal(np.asarray(t, dtype=np.float64), [[1.0, 2.0]])
    out = np.ones(2, np.float32) + t          # the Tensor's reflected operator runs
    assert isinstance(out, Tensor) and out.requires_grad
    out = np.float32(2.0) * t
    assert isinstance(out, Tensor) and out.dtype == np.float32


def test_detach_shares_data_and_cuts_graph():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    z = x.detach()
    assert np.shares_memory(z.data, x.data)


def test_comparisons_and_argmax_have_no_grad():
    x = minicnn.tensor([[1.0, 5.0, 3.0], [7.0, 0.0, 2.0]], requires_grad=True)
    gt = x > 2.5
    assert gt.dtype == bool and not gt.requires_grad
    np.testing.assert_array_equal(gt.data, x.detach().numpy() > 2.5)
    np.testing.assert_array_equal((x == x).data, np.ones((2, 3), bool))
    am = x.argmax(1)
    assert am.dtype == np.int64 and not am.requires_grad
    np.testing.assert_array_equal(am.data, [1, 0])
    assert x.argmax().item() == 3
    np.testing.assert_array_equal(x.argmin(dim=1, keepdim=True).data, [[0], [1]])
    assert {x: 1}[x] == 1  # hashable by identity despite elementwise ==


# ---------------------------------------------------------------------------------------------
# Every op, gradchecked in float64
# ---------------------------------------------------------------------------------------------

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("op", sorted(BINARY))
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_binary_ops_broadcast_gradcheck(op, shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    # Positive operands keep div and pow (a^b log a) well defined and smooth.
    a, b = t64(rng, *a_shape, low=0.5, high=2), t64(rng, *b_shape, low=0.5, high=2)
    out = BINARY[op](a, b)
    assert out.shape == shapes.result_shape
    assert gradcheck(BINARY[op], (a, b))


def test_broadcast_gradients_are_summed_back():
    a = minicnn.tensor(np.ones((3, 1)), requires_grad=True)
    b = minicnn.tensor(np.arange(4.0), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad, np.full((3, 1), 6.0))   # sum of b
    np.testing.assert_allclose(b.grad, np.full(4, 3.0))        # sum of a over 3 rows


SCALAR_OPS = {
    "x+2": lambda x: x + 2, "2+x": lambda x: 2 + x, "x-2": lambda x: x - 2,
    "2-x": lambda x: 2 - x, "x*3": lambda x: x * 3, "3*x": lambda x: 3 * x,
    "x/3": lambda x: x / 3, "3/x": lambda x: 3 / x, "x**3": lambda x: x ** 3,
    "x**0.5": lambda x: x ** 0.5, "2**x": lambda x: 2 ** x, "-x": lambda x: -x,
    "array+x": lambda x: np.full(x.shape, 2.0) + x, "x*array": lambda x: x * np.full(x.shape, 3),
    "exp": lambda x: x.exp(), "log": lambda x: x.log(), "sqrt": lambda x: x.sqrt(),
    "abs": lambda x: x.abs(), "relu": lambda x: x.relu(), "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(), "pow()": lambda x: x.pow(2),
}
POSITIVE_ONLY = {"3/x", "x**0.5", "log", "sqrt"}


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
@SETTINGS
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2**32 - 1))
def test_unary_ops_gradcheck(name, shape, seed):
    rng = np.random.default_rng(seed)
    data = (rng.uniform(0.3, 2, shape) if name in POSITIVE_ONLY
            else away_from_zero(rng, shape))  # relu/abs have a kink at 0
    x = minicnn.tensor(data, dtype=np.float64, requires_grad=True)
    assert SCALAR_OPS[name](x).shape == x.shape
    assert gradcheck(SCALAR_OPS[name], (x,))


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_float32_stays_float32(name):
    rng = np.random.default_rng(0)
    x = minicnn.tensor(rng.uniform(0.3, 2, (2, 3)), dtype=np.float32, requires_grad=True)
    y = SCALAR_OPS[name](x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_values_match_numpy(name):
    rng = np.random.default_rng(1)
    data = rng.uniform(0.3, 2, (3, 2))
    x = minicnn.tensor(data, dtype=np.float64)
    numpy_version = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
                     "relu": lambda a: np.maximum(a, 0), "tanh": np.tanh,
                     "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "pow()": np.square}
    expected = numpy_version.get(name, SCALAR_OPS[name])(data)
    np.testing.assert_allclose(SCALAR_OPS[name](x).data, expected, rtol=1e-12)


MATMUL_SHAPES = [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((5,), (2, 5, 3))]


@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES)
def test_matmul_gradcheck(a_shape, b_shape):
    rng = np.random.default_rng(2)
    a, b = t64(rng, *a_shape), t64(rng, *b_shape)
    out = a @ b
    np.testing.assert_allclose(out.data, a.detach().numpy() @ b.detach().numpy())
    assert gradcheck(lambda a, b: a @ b, (a, b))
    assert gradcheck(lambda a: a.matmul(b.detach().numpy()), (a,))  # a constant ndarray operand
    assert gradcheck(lambda a: a.matmul(b.data), (a,))  # a constant tensor (no grad) operand


def test_matmul_with_ndarray_on_the_left():
    rng = np.random.default_rng(3)
    m = rng.standard_normal((2, 3))
    x = t64(rng, 3, 4)
    out = m @ x
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, m @ x.data)
    assert gradcheck(lambda x: m @ x, (x,))


REDUCTIONS = {
    "sum": lambda x, d, k: x.sum(d, k), "mean": lambda x, d, k: x.mean(d, k),
    "amax": lambda x, d, k: x.amax(d, k), "amin": lambda x, d, k: x.amin(d, k),
    "sum(axis=)": lambda x, d, k: x.sum(axis=d, keepdims=k),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_gradcheck(name, dim, keepdim):
    rng = np.random.default_rng(4)
    # A shuffled arange: no ties, so max/min are differentiable.
    x = minicnn.tensor(rng.permutation(24).reshape(2, 3, 4) / 7.0, dtype=np.float64,
                       requires_grad=True)
    out = REDUCTIONS[name](x, dim, keepdim)
    numpy_name = name.split("(")[0]
    numpy_name = {"amax": "max", "amin": "min"}.get(numpy_name, numpy_name)
    expected = getattr(np, numpy_name)(x.detach().numpy(), axis=dim, keepdims=keepdim)
    np.testing.assert_allclose(out.data, expected)
    assert gradcheck(lambda x: REDUCTIONS[name](x, dim, keepdim), (x,))


def test_max_splits_gradient_evenly_among_ties():
    x = minicnn.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0, 0.5, 0.5, 0])
    y = minicnn.tensor([[4.0, 4.0, 4.0], [1.0, 2.0, 0.0]], requires_grad=True)
    y.amax(dim=1).sum().backward()
    np.testing.assert_allclose(y.grad, [[1 / 3] * 3, [0, 1, 0]])


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_return_values_and_indices(op, keepdim, rng):
    # PyTorch: max/min(dim) return a named tuple (values, indices); `_, predicted = out.max(1)`
    # must give the indices even for a batch of 2 (unpacking the values would silently "work").
    data = rng.standard_normal((2, 5))
    x = minicnn.tensor(data, dtype=np.float64, requires_grad=True)
    for result in (getattr(x, op)(1, keepdim), getattr(minicnn.ops, op)(x, 1, keepdim)):
        values, indices = result
        assert result.values is values and result.indices is indices
        expected = getattr(np, "arg" + op)(data, axis=1)
        assert indices.dtype == np.int64 and not indices.requires_grad
        np.testing.assert_array_equal(indices.data.reshape(-1), expected)
        assert values.shape == ((2, 1) if keepdim else (2,)) == indices.shape
        np.testing.assert_array_equal(values.data.reshape(-1), getattr(np, op)(data, axis=1))
    assert gradcheck(lambda x: getattr(x, op)(1, keepdim).values, (x,))


def test_max_dim_sends_a_tie_gradient_to_the_returned_index():
    # As PyTorch: max(dim)'s gradient goes to the element whose index it returns (the first)
    y = minicnn.tensor([[4.0, 4.0, 4.0], [1.0, 2.0, 2.0]], requires_grad=True)
    values, indices = y.max(dim=1)
    np.testing.assert_array_equal(indices.data, [0, 1])
    values.sum().backward()
    np.testing.assert_array_equal(y.grad, [[1, 0, 0], [0, 1, 0]])


def test_max_with_a_tensor_is_the_elementwise_maximum():
    a = minicnn.tensor([1.0, 5.0, 3.0], dtype=np.float64, requires_grad=True)
    b = minicnn.tensor([2.0, 4.0, 3.0], dtype=np.float64, requires_grad=True)
    out = a.max(b)
    np.testing.assert_array_equal(out.data, [2.0, 5.0, 3.0])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [0, 1, 0.5])  # a tie shares the gradient, as PyTorch
    np.testing.assert_array_equal(b.grad, [1, 0, 0.5])
    np.testing.assert_array_equal(minicnn.ops.minimum(a, b).data, [1.0, 4.0, 3.0])
    with pytest.raises(TypeError, match="amax"):
        a.max(dim=(0,))


def test_reduction_dim_errors():
    x = minicnn.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="dim"):
        x.sum(2)
    with pytest.raises(TypeError, match="dim"):
        x.mean(1.5)


SHAPE_OPS = {
    "reshape": lambda x: x.reshape(4, 6), "reshape(tuple)": lambda x: x.reshape((-1, 3)),
    "view": lambda x: x.view(2, 12), "transpose": lambda x: x.transpose(0, 2),
    "permute": lambda x: x.permute(1, 2, 0), "permute(tuple)": lambda x: x.permute((2, 0, 1)),
    "T": lambda x: x.T, "flatten": lambda x: x.flatten(), "flatten(1)": lambda x: x.flatten(1),
    "unsqueeze": lambda x: x.unsqueeze(1), "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "int index": lambda x: x[1], "slice": lambda x: x[:, 1:3, ::2],
    "negative step": lambda x: x[..., ::-1], "None index": lambda x: x[None, 0],
    "int array (repeats)": lambda x: x[[0, 1, 1, 0]], "tensor index": lambda x: x[:, minicnn.tensor([2, 0, 2])],
    "bool mask": lambda x: x[x.data > 0], "mixed": lambda x: x[np.array([1, 0]), :, 3],
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_and_indexing_ops_gradcheck(name):
    rng = np.random.default_rng(5)
    x = t64(rng, 2, 3, 4)
    out = SHAPE_OPS[name](x)
    # Same values as NumPy does it (through the ndarray).
    reference = SHAPE_OPS[name](_NumpyProxy(x.detach().numpy()))
    np.testing.assert_array_equal(out.data, reference)
    assert gradcheck(SHAPE_OPS[name], (x,))


class _NumpyProxy:
    """Runs the SHAPE_OPS lambdas on a plain ndarray, to get NumPy's answer."""

    def __init__(self, a):
        self.a, self.data, self.shape = a, a, a.shape

    def __getitem__(self, index):
        if isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return self.a[index]

    def __getattr__(self, name):
        a = self.a
        return {"reshape": lambda *s: a.reshape(*s), "view": lambda *s: a.reshape(*s),
                "transpose": lambda i, j: np.swapaxes(a, i, j),
                "permute": lambda *d: a.transpose(*d), "T": a.T,
                "flatten": lambda s=0: a.reshape(a.shape[:s] + (-1,)),
                "unsqueeze": lambda d: np.expand_dims(a, d)}[name]


def test_getitem_repeated_indices_accumulate():
    x = minicnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 1, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 1, 0])


def test_cast_between_float_dtypes():
    x = minicnn.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32 and y.requires_grad
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [3, 3])
    assert x.double() is x
    assert not x.long().requires_grad and x.long().dtype == np.int64
    assert gradcheck(lambda x: x.float().double() * 2, (x,), eps=1e-2, atol=1e-3)


def test_float64_kept_end_to_end():
    rng = np.random.default_rng(6)
    x = t64(rng, 3, 4, low=0.5, high=1)
    w = t64(rng, 4, 2)
    y = ((x @ w).relu().sum(1) / 3 + 1.5) ** 2
    y = (y.exp().log().sqrt() - x.mean()).max()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64 and w.grad.dtype == np.float64


def test_mixed_float_dtypes_promote_as_pytorch():
    a = minicnn.tensor([1.0], requires_grad=True)
    b = minicnn.tensor([2.0], dtype=np.float64, requires_grad=True)
    c = a * b
    assert c.dtype == np.float64
    c.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


# ---------------------------------------------------------------------------------------------
# Engine semantics
# ---------------------------------------------------------------------------------------------

def test_reused_tensor_gets_all_contributions():
    x = minicnn.tensor([2.0, -3.0], requires_grad=True)
    y = x * x + x                      # dy/dx = 2x + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.detach().numpy() + 1)


class CountingIdentity(Function):
    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad_out):
        CountingIdentity.calls += 1
        return grad_out


def test_each_node_visited_once_in_a_diamond():
    CountingIdentity.calls = 0
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    h = CountingIdentity.apply(x)
    out = (h * 2 + h * 3 + h).sum()    # h feeds three branches
    out.backward()
    assert CountingIdentity.calls == 1
    np.testing.assert_allclose(x.grad, [6.0, 6.0])


def test_gradients_accumulate_across_backward_calls():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    first = x.grad.clone()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * first)
    x.grad = None                      # what zero_grad does
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, first)


def test_leaf_grad_is_a_private_copy():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([5.0, 7.0], np.float32)
    (x + 0).backward(g)
    x.grad += 1
    np.testing.assert_array_equal(g, [5.0, 7.0])


def test_non_leaf_tensors_keep_no_grad():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    (h * h).sum().backward()
    assert h.grad is None and x.grad is not None


def test_backward_with_explicit_grad_and_errors():
    x = minicnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(2))
    y.backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(x.grad, [2.0, 0.0, -2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        minicnn.tensor([1.0]).sum().backward()


def test_retain_graph_and_freed_graph_error():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    # A graph partly freed by an earlier backward is caught too.
    h = x.exp()
    (h * 2).sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (h * 3).sum().backward()


def test_backward_frees_saved_buffers():
    x = minicnn.tensor(np.linspace(-1, 1, 1000), requires_grad=True)
    y = x.relu()                              # saves a mask array of its own
    saved = weakref.ref(y.grad_fn.saved_tensors[0])
    y.sum().backward()
    assert saved() is None
    with pytest.raises(RuntimeError, match="freed"):
        y.grad_fn.saved_tensors
    z = x.relu()
    saved = weakref.ref(z.grad_fn.saved_tensors[0])
    z.sum().backward(retain_graph=True)
    assert saved() is not None


def test_graph_is_freed_by_refcounting_alone():
    # No reference cycles: with the cycle collector off, dropping the last reference to the
    # output (after backward, or without one) frees every intermediate tensor and context.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for do_backward in (True, False):
            x = minicnn.tensor(np.ones((4, 4)), requires_grad=True)
            h = (x * 2).exp()
            out = (h @ h).relu().sum()
            refs = [weakref.ref(h), weakref.ref(h.grad_fn), weakref.ref(out.grad_fn)]
            if do_backward:
                out.backward()
            del h, out
            assert all(r() is None for r in refs), do_backward
            assert x.grad is None or x.grad.shape == (4, 4)
    finally:
        if gc_was_enabled:
            gc.enable()


def test_long_chain_backward_is_iterative():
    x = minicnn.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])
    assert y.item() == 100_001.0


def test_deep_chain_can_be_dropped_without_backward():
    x = minicnn.tensor([1.0], requires_grad=True)
    y = x
    for i in range(100_000):
        y = y * 1.0
        if i == 50_000:
            middle = weakref.ref(y.grad_fn)  # a node in the middle of the graph
    assert middle() is not None  # kept alive by the graph hanging off y
    del y  # deallocating a 100k-deep graph must not overflow the C stack
    assert middle() is None      # ... and it is actually freed, by reference counting alone


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out.sum()


class TooManyGrads(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out, grad_out


def test_engine_checks_what_backward_returns():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="WrongShape.backward returned a gradient of shape"):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="TooManyGrads.backward returned 2 gradients"):
        TooManyGrads.apply(x).sum().backward()


def test_needs_input_grad_and_none_gradients():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, factor, note):
            seen["needs"] = ctx.needs_input_grad
            ctx.factor = factor
            return x * factor

        @staticmethod
        def backward(ctx, grad_out):
            return None, grad_out * 0 + 1, None  # no gradient for x: it is skipped

    x = minicnn.tensor([1.0], requires_grad=True)
    f = minicnn.tensor([3.0], requires_grad=True)
    Scale.apply(x.detach(), f, "a note").sum().backward()
    assert seen["needs"] == (False, True, False)
    assert f.grad is not None and x.grad is None


# ---------------------------------------------------------------------------------------------
# no_grad
# ---------------------------------------------------------------------------------------------

def test_no_grad_context_records_nothing():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not minicnn.is_grad_enabled()
        y = (x * 2).exp()
        with minicnn.enable_grad():
            z = x * 2
    assert minicnn.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    with pytest.raises(RuntimeError):
        y.sum().backward()


def test_no_grad_decorator_and_nesting():
    x = minicnn.tensor([1.0], requires_grad=True)

    @no_grad()
    def f(t):
        return t * 2, minicnn.is_grad_enabled()

    y, enabled = f(x)
    assert not enabled and not y.requires_grad
    assert minicnn.is_grad_enabled()
    guard = no_grad()
    with guard:
        with guard:                       # the same object nested
            pass
        assert not minicnn.is_grad_enabled()
    assert minicnn.is_grad_enabled()


def test_no_grad_restores_state_on_exception():
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError
    assert minicnn.is_grad_enabled()


def test_no_grad_is_thread_local():
    x = minicnn.tensor([1.0], requires_grad=True)
    result = {}
    inside, release = threading.Event(), threading.Event()

    def other_thread():
        inside.wait()
        result["other"] = (x * 2).requires_grad   # main thread is inside no_grad meanwhile
        release.set()

    th = threading.Thread(target=other_thread)
    th.start()
    with no_grad():
        inside.set()
        release.wait(10)
        result["main"] = (x * 2).requires_grad
    th.join()
    assert result == {"other": True, "main": False}


def test_no_grad_saves_no_buffers():
    seen = {}

    class Spy(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            seen["ctx"] = weakref.ref(ctx)
            return x.copy()

        @staticmethod
        def backward(ctx, grad_out):
            return grad_out

    x = minicnn.tensor([1.0], requires_grad=True)
    with no_grad():
        y = Spy.apply(x)
    assert seen["ctx"]() is None and y.grad_fn is None


# ---------------------------------------------------------------------------------------------
# Public names
# ---------------------------------------------------------------------------------------------

def test_public_names():
    for name in ["Tensor", "tensor", "no_grad", "manual_seed", "gradcheck", "set_num_threads",
                 "get_num_threads", "openmp_enabled", "save", "load", "__version__"]:
        assert hasattr(minicnn, name), name
    assert minicnn.__version__ == "0.1.0"
    assert minicnn.manual_seed is minicnn.rng.manual_seed
    with pytest.raises(AttributeError):
        minicnn.not_a_name


@pytest.mark.parametrize("call", [
    lambda t: t.flatten(3), lambda t: t.flatten(0, -4), lambda t: t.transpose(0, 2),
    lambda t: t.permute(0, 5), lambda t: t.unsqueeze(4), lambda t: t.squeeze(-3),
])
def test_dimension_out_of_range_raises_index_error(call):
    t = minicnn.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="out of range"):
        call(t)


def test_pow_zero_has_zero_gradient_even_at_zero():
    # PyTorch: d(x**0)/dx = 0 everywhere; 0 * x**-1 would give NaN (and a warning) at x = 0
    x = minicnn.tensor([0.0, 2.0, -3.0], requires_grad=True)
    with np.errstate(all="raise"):
        (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("reduce, expected", [
    (lambda x: x.max(), [0.0, 1.0, 0.0, 0.0]),
    (lambda x: x.min(), [0.0, 1.0, 0.0, 0.0]),
    (lambda x: x.max(dim=0).values, [0.0, 1.0, 0.0, 0.0]),
])
def test_max_of_input_with_nan_sends_the_gradient_to_the_nan(reduce, expected):
    # NumPy's max propagates NaN; as in PyTorch the NaN element is the max and takes the
    # gradient, instead of 0/0 = NaN everywhere
    x = minicnn.tensor([1.0, np.nan, 3.0, 2.0], requires_grad=True)
    reduce(x).backward()
    np.testing.assert_array_equal(x.grad, expected)


def test_max_splits_gradient_among_several_nans():
    x = minicnn.tensor([[np.nan, 1.0, np.nan], [0.0, 2.0, 1.0]], requires_grad=True)
    x.amax(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("op", [
    lambda t: t + 0.5, lambda t: 0.5 + t, lambda t: t - 0.5, lambda t: 0.5 - t,
    lambda t: t * 0.5, lambda t: 0.5 * t, lambda t: t / 0.5, lambda t: 0.5 / t,
    lambda t: t ** 0.5, lambda t: 0.5 ** t, lambda t: t + np.float64(0.5),
    lambda t: t * np.array([0.5, 1.5]),
])
def test_int_tensor_with_a_float_constant_gives_float32(op):
    # PyTorch: an integer tensor combined with a Python float gives the default dtype, float32
    # (NumPy alone would promote int64 with float32 to float64)
    t = minicnn.tensor(np.array([1, 2], dtype=np.int64))
    out = op(t)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, op(np.array([1.0, 2.0])), rtol=1e-6)


def test_set_printoptions_as_pytorch():
    x = minicnn.tensor([1.23456789, 2.5])
    try:
        minicnn.set_printoptions(precision=2)
        assert repr(x) == "tensor([1.23, 2.50])"
        minicnn.set_printoptions(sci_mode=True)
        assert repr(x) == "tensor([1.23e+00, 2.50e+00])"
        minicnn.set_printoptions(profile="default")
        assert repr(x) == "tensor([1.2346, 2.5000])"
        minicnn.set_printoptions(threshold=5, edgeitems=1)
        assert repr(minicnn.arange(10)) == "tensor([0,  ..., 9])"   # PyTorch's spacing
        minicnn.set_printoptions(profile="full")
        assert "..." not in repr(minicnn.arange(2000))
        with pytest.raises(ValueError, match="profile"):
            minicnn.set_printoptions(profile="long")
    finally:
        minicnn.set_printoptions(profile="default")
