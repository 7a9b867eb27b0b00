"""Indexing with PyTorch's rules: x[index] (shapes, views, values, gradients), index_put and
x[i] = v / x[i] += v, and the ops that index along a dimension or through a flat view
(index_select/add/copy/fill, scatter, scatter_add, scatter_reduce, take_along_dim, take, put,
masked_select, masked_scatter). Hand-derived expectations and float64 gradchecks; opt-in:
the same against PyTorch on random shapes and indices."""
import warnings

import numpy as np
import pytest

import minicnn
from minicnn import gradcheck

T = minicnn.tensor
I = lambda *v: minicnn.tensor(list(v), dtype=minicnn.int64)  # noqa: E731  an int64 index
A = np.arange(60.0).reshape(5, 3, 4)
IDX = [0, 1]
MASK53 = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=bool)  # 6 set
MASK34 = np.arange(12).reshape(3, 4) % 3 == 0                                           # 4 set
MASK4 = np.array([True, False, False, True])
X34 = np.arange(12.0).reshape(3, 4)


def _x(requires_grad=False):
    return T(A, dtype=minicnn.float64, requires_grad=requires_grad)


# PyTorch's rule, by hand: ints select first (the dimension goes), None / True add a dimension,
# then the arrays index the dimensions they sit on, broadcast together; their dimensions stay
# in place if the arrays are adjacent, else go first. The oracle applies the same steps in
# NumPy with the ints already applied, where NumPy's and PyTorch's rules agree.
# name -> (index, oracle on the ndarray A, PyTorch's shape, a view?)
SHAPE_TABLE = {
    "int": (1, lambda a: a[1], (3, 4), True),
    "two ints": ((1, 2), lambda a: a[1, 2], (4,), True),
    "three ints (0-d)": ((1, 2, 3), lambda a: a[1, 2, 3, ...], (), True),
    "slice, int": ((slice(None), 1), lambda a: a[:, 1], (5, 4), True),
    "ellipsis, int": ((Ellipsis, 1), lambda a: a[:, :, 1], (5, 3), True),
    "None": (None, lambda a: a[None], (1, 5, 3, 4), True),
    "slice, None, int": ((slice(None), None, 1), lambda a: a[:, None, 1], (5, 1, 4), True),
    "ellipsis, None": ((Ellipsis, None), lambda a: a[..., None], (5, 3, 4, 1), True),
    "stepped slice": (slice(1, 4, 2), lambda a: a[1:4:2], (2, 3, 4), True),
    "0-d int tensor": (T(1), lambda a: a[1], (3, 4), True),
    "tuple ()": ((), lambda a: a, (5, 3, 4), True),
    "tensor": (T(IDX), lambda a: a[IDX], (2, 3, 4), False),
    "list": (IDX, lambda a: a[IDX], (2, 3, 4), False),
    "negative tensor": (T([-1, 0]), lambda a: a[[4, 0]], (2, 3, 4), False),
    # an int is not an array here: idx's dimension stays where idx is (NumPy: (2, 3))
    "int, slice, tensor": ((0, slice(None), T(IDX)), lambda a: a[0][:, IDX], (3, 2), False),
    "int, slice, 2-d tensor": ((0, slice(None), T([[0, 1, 2], [3, 3, 0]])),
                               lambda a: a[0][:, [[0, 1, 2], [3, 3, 0]]], (3, 2, 3), False),
    "None, int, slice, tensor": ((None, 0, slice(None), T(IDX)),
                                 lambda a: a[None][:, 0][:, :, IDX], (1, 3, 2), False),
    "slice, int, tensor": ((slice(None), 0, T(IDX)), lambda a: a[:, 0][:, IDX], (5, 2), False),
    "tensor, slice, int": ((T(IDX), slice(None), 0), lambda a: a[:, :, 0][IDX], (2, 3), False),
    "slice, 0-d tensor, tensor": ((slice(None), T(1), T(IDX)), lambda a: a[:, 1][:, IDX],
                                  (5, 2), False),
    "tensor, int, tensor": ((T(IDX), 0, T(IDX)), lambda a: a[:, 0][IDX, IDX], (2,), False),
    # an Ellipsis of no dimensions does not part the arrays (NumPy: (2, 5))
    "slice, tensor, ellipsis, tensor": ((slice(None), T(IDX), Ellipsis, T([3, 2])),
                                        lambda a: a[:, IDX, [3, 2]], (5, 2), False),
    "tensor, None, tensor": ((T(IDX), None, T(IDX)), lambda a: a[IDX, None, IDX], (2, 1, 4),
                             False),
    "2-d tensor, slice, tensor": ((T([[0], [4]]), slice(None), T([1, 2])),
                                  lambda a: a[[[0], [4]], :, [1, 2]], (2, 2, 3), False),
    "True": (True, lambda a: a[None], (1, 5, 3, 4), False),
    "False": (False, lambda a: a[None][:0], (0, 5, 3, 4), False),
    "0-d bool tensor": (T(True), lambda a: a[None], (1, 5, 3, 4), False),
    "slice, True, tensor": ((slice(None), True, T(IDX)), lambda a: a[:, IDX], (5, 2, 4), False),
    "tensor, True": ((T(IDX), True), lambda a: a[IDX], (2, 3, 4), False),
    "2-d mask": (T(MASK53), lambda a: a[MASK53], (6, 4), False),
    "2-d mask, int": ((T(MASK53), 0), lambda a: a[:, :, 0][MASK53], (6,), False),
    "int, 2-d mask": ((0, T(MASK34)), lambda a: a[0][MASK34], (4,), False),
    "slice, slice, mask": ((slice(None), slice(None), T(MASK4)), lambda a: a[:, :, MASK4],
                           (5, 3, 2), False),
    "tensor, slice, mask": ((T(IDX), slice(None), T(MASK4)), lambda a: a[IDX, :, [0, 3]],
                            (2, 3), False),
    "3-d mask": (T(A > 40), lambda a: a[a > 40], (19,), False),
    "bool list": ([True, False, True, False, True], lambda a: a[[0, 2, 4]], (3, 3, 4), False),
    "empty list": ([], lambda a: a[:0], (0, 3, 4), False),
    "tuple of tensors": ((T(IDX), T([2, 0])), lambda a: a[IDX, [2, 0]], (2, 4), False),
}


@pytest.mark.parametrize("name", list(SHAPE_TABLE))
def test_getitem_shape_view_and_values_as_pytorch(name):
    index, oracle, shape, view = SHAPE_TABLE[name]
    x = _x()
    out = x[index]
    assert tuple(out.shape) == shape
    np.testing.assert_array_equal(out.numpy(), oracle(A))
    assert (out._base is not None) == view
    if view and out.numel():  # a view shares the memory: a write through it shows in x
        out.numpy()[(0,) * out.ndim] = -1.0
        assert (x.numpy() == -1.0).sum() == 1
    elif out.numel():
        out.numpy()[...] = -1.0
        assert not (x.numpy() == -1.0).any()


@pytest.mark.parametrize("name", [n for n in SHAPE_TABLE if SHAPE_TABLE[n][2] != (0, 5, 3, 4)
                                  and n != "empty list"])
def test_getitem_gradcheck(name):
    index = SHAPE_TABLE[name][0]
    x = T(np.random.default_rng(0).standard_normal((5, 3, 4)), dtype=minicnn.float64,
          requires_grad=True)
    assert gradcheck(lambda x: x[index] * 1.0, (x,))


def test_getitem_repeated_indices_add_their_gradients():
    x = T([1.0, 2.0, 3.0], dtype=minicnn.float64, requires_grad=True)
    x[I(0, 0, 2, 0)].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    x.grad = None
    y = _x(requires_grad=True)
    y[0, :, T([3, 3])].sum().backward()  # the int selects, the tensor repeats
    expected = np.zeros((5, 3, 4))
    expected[0, :, 3] = 2.0
    np.testing.assert_array_equal(y.grad.numpy(), expected)
    x = T(np.arange(5.0), dtype=minicnn.float64, requires_grad=True)
    assert gradcheck(lambda x: x[I(1, 1, 4, 1)] * T([1.0, 2.0, 3.0, 4.0],
                                                    dtype=minicnn.float64), (x,))


def test_getitem_legacy_list_of_slices_is_a_tuple_and_warns():
    x = _x()
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        out = x[[slice(None), 0]]
    np.testing.assert_array_equal(out.numpy(), A[:, 0])
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        assert tuple(x[[[0, 1]]].shape) == (2, 3, 4)  # as x[[0, 1],], not a 2-d index
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tuple(x[[0, 1]].shape) == (2, 3, 4)  # a plain list of ints: no warning


def test_getitem_pytorch_quirks():
    x = _x()
    np.testing.assert_array_equal(x[[0.7, 2.2]].numpy(), A[[0, 2]])  # floats in a list: truncated
    np.testing.assert_array_equal(x[..., 0, ...].numpy(), A[:, :, 0])  # two Ellipses, as PyTorch
    np.testing.assert_array_equal(x[T(np.array([1, 0, 1, 0, 0], np.uint8))].numpy(),
                                  A[[0, 2]])  # uint8: a mask
    np.testing.assert_array_equal(x[T([0, 2], dtype=minicnn.int32)].numpy(), A[[0, 2]])
    s = T(3.0)
    assert tuple(s[None].shape) == (1,) and tuple(s[True].shape) == (1,)
    assert tuple(s[...].shape) == ()
    np.testing.assert_array_equal(x[::-1].numpy(), A[::-1])  # minicnn keeps NumPy's reversal


@pytest.mark.parametrize("index, error, message", [
    (5, IndexError, "index 5 is out of bounds for dimension 0 with size 5"),
    ((0, 3), IndexError, "index 3 is out of bounds for dimension 1 with size 3"),
    (T([5]), IndexError, "index 5 is out of bounds for dimension 0 with size 5"),
    ((slice(None), T([-4])), IndexError, "index -4 is out of bounds for dimension 1"),
    (T([0.0]), IndexError, "must be long, int, byte or bool"),
    (T(np.array([0], np.int16)), IndexError, "must be long, int, byte or bool"),
    ((0, 0, 0, 0), IndexError, "too many indices for tensor of dimension 3"),
    ((T(MASK53), 0, 0), IndexError, "too many indices"),
    (0.5, IndexError, "only integers, slices"),
    ("a", IndexError, "only integers, slices"),
    ((T([0, 1]), T([0, 1, 2])), IndexError, r"broadcast together with shapes \[2\], \[3\]"),
    ((False, T([0, 1])), IndexError, "broadcast together"),
    (T(np.ones(4, bool)), IndexError, r"shape of the mask \[4\] at index 0"),
    (slice(0, 3, 0), ValueError, "step cannot be zero"),
])
def test_getitem_errors(index, error, message):
    with pytest.raises(error, match=message):
        _x()[index]


def test_getitem_of_0d_tensor_with_an_int_says_so():
    with pytest.raises(IndexError, match="0-dim"):
        T(1.0)[0]


# --- index_put, x[i] = v, x[i] += v -----------------------------------------------------------

def test_setitem_uses_pytorch_placement():
    x = _x()
    x[0, :, T(IDX)] = T(np.arange(6.0).reshape(3, 2))  # the value has PyTorch's (3, 2) shape
    expected = A.copy()
    expected[0][:, IDX] = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(x.numpy(), expected)


def test_setitem_repeated_index_keeps_one_write_and_iadd_adds_once():
    x = T([0.0, 0.0, 0.0])
    x[I(0, 0, 2)] = T([1.0, 2.0, 5.0])
    assert x.numpy()[0] in (1.0, 2.0) and x.numpy()[2] == 5.0
    y = T([0.0, 0.0, 0.0])
    y[I(0, 0, 2)] += 1.0  # PyTorch: tensor([1., 0., 1.]) - a read, an add, one write per place
    np.testing.assert_array_equal(y.numpy(), [1.0, 0.0, 1.0])
    z = T([0.0, 0.0, 0.0])
    z.index_put_((I(0, 0, 2),), T(1.0), accumulate=True)  # accumulate: repeated places add up
    np.testing.assert_array_equal(z.numpy(), [2.0, 0.0, 1.0])


def test_index_put_values_and_errors():
    x = T(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(
        x.index_put((I(0, 0), I(1, 1)), T([5.0, 7.0]), accumulate=True).numpy()[0],
        [0.0, 13.0, 2.0, 3.0])
    out = x.index_put((T(x.numpy() > 5),), T(-1.0))
    np.testing.assert_array_equal(out.numpy(), np.where(x.numpy() > 5, -1.0, x.numpy()))
    np.testing.assert_array_equal(x.index_put([I(2)], T(9.0)).numpy()[2], [9.0] * 4)
    assert x.numpy()[2, 0] == 8.0  # out of place
    with pytest.raises(RuntimeError, match=r"value tensor of shape \[2\] cannot be broadcast "
                                           r"to indexing result of shape \[1, 4\]"):
        x.index_put((I(0),), T([5.0, 6.0]))
    with pytest.raises(TypeError, match="accumulate"):
        x.index_put((I(0),), T(1.0), accumulate=1)


def test_index_put_gradients():
    rng = np.random.default_rng(1)
    x = T(rng.standard_normal((4, 3)), dtype=minicnn.float64, requires_grad=True)
    v = T(rng.standard_normal((2, 3)), dtype=minicnn.float64, requires_grad=True)
    w = T(rng.standard_normal(3), dtype=minicnn.float64, requires_grad=True)
    assert gradcheck(lambda x, v: minicnn.ops.index_put(x, (I(3, 1),), v), (x, v))
    assert gradcheck(lambda x, v: minicnn.ops.index_put(x, (I(1, 1),), v, True), (x, v))
    assert gradcheck(lambda x, w: minicnn.ops.index_put(x, (I(0, 2),), w), (x, w))  # broadcast
    assert gradcheck(lambda x, v: minicnn.ops.index_put(x, (slice(1, 3),), v), (x, v))
    # accumulate=False, a repeated place: x's gradient is 0 there; each value gets the
    # gradient of the place it was written to (PyTorch's formula: gathered)
    g = rng.standard_normal((4, 3))
    minicnn.ops.index_put(x, (I(1, 1),), v).backward(T(g, dtype=minicnn.float64))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(np.arange(4)[:, None] == 1, 0, g))
    np.testing.assert_array_equal(v.grad.numpy(), g[[1, 1]])


def test_setitem_and_iadd_gradients_flow_to_base_and_value():
    base = T(np.arange(6.0), dtype=minicnn.float64, requires_grad=True)
    v = T([10.0, 20.0], dtype=minicnn.float64, requires_grad=True)
    x = base * 1.0
    x[I(4, 1)] = v
    (x * T(np.arange(6.0) + 1, dtype=minicnn.float64)).sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), [1.0, 0.0, 3.0, 4.0, 0.0, 6.0])
    np.testing.assert_array_equal(v.grad.numpy(), [5.0, 2.0])
    base.grad = v.grad = None
    x = base * 1.0
    x[I(2, 2)] += v  # a read, an add, one write: x[2] = base[2] + v[0] or base[2] + v[1]
    assert x.detach().numpy()[2] in (22.0, 12.0)
    x.sum().backward()
    # PyTorch's gradient (checked against torch 2.13): the written values are gathered, so
    # base[2] is counted once per read and each v gets the gradient of place 2
    np.testing.assert_array_equal(base.grad.numpy(), [1.0, 1.0, 2.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 1.0])


# --- index_select, index_add, index_copy, index_fill --------------------------------------------

def _m(shape=(3, 4), seed=2):
    return T(np.random.default_rng(seed).standard_normal(shape), dtype=minicnn.float64,
             requires_grad=True)


def test_index_select_values_gradients_errors():
    x = T(X34, dtype=minicnn.float32)
    np.testing.assert_array_equal(x.index_select(1, I(3, 0, 3)).numpy(),
                                  np.arange(12.0).reshape(3, 4)[:, [3, 0, 3]])
    assert tuple(x.index_select(0, T(1)).shape) == (1, 4)  # a 0-d index keeps the dimension
    assert gradcheck(lambda m: m.index_select(1, I(3, 0, 3)), (_m(),))
    with pytest.raises(IndexError, match="index -1 is out of bounds for dimension 0 with size 3"):
        x.index_select(0, I(-1))
    with pytest.raises(IndexError, match="index 4 is out of bounds"):
        x.index_select(1, I(4))
    with pytest.raises(IndexError, match="vector"):
        x.index_select(0, T([[0, 1]]))
    with pytest.raises(TypeError, match="index must be an int64 tensor, got dtype float32"):
        x.index_select(0, T([0.0]))
    with pytest.raises(TypeError, match="index must be an int64 Tensor, got list"):
        x.index_select(0, [0])
    with pytest.raises(IndexError, match="dim"):
        x.index_select(2, I(0))


def test_index_add_values_gradients_errors():
    x = T(X34, dtype=minicnn.float32)
    out = x.index_add(1, I(0, 0, 2), minicnn.ones(3, 3), alpha=2)
    expected = np.arange(12.0).reshape(3, 4)
    expected[:, 0] += 4.0
    expected[:, 2] += 2.0
    np.testing.assert_array_equal(out.numpy(), expected)
    assert gradcheck(lambda m, s: m.index_add(1, I(0, 0, 2), s, alpha=-1.5),
                     (_m(), _m((3, 3), 3)))
    with pytest.raises(ValueError, match=r"source must have shape \(1, 4\)"):
        x.index_add(0, I(0), minicnn.ones(1, 3))
    with pytest.raises(TypeError, match="source must have input's dtype float32, got float64"):
        x.index_add(0, I(0), minicnn.ones(1, 4, dtype=minicnn.float64))
    with pytest.raises(IndexError, match="index 3 is out of bounds"):
        x.index_add(0, I(3), minicnn.ones(1, 4))


def test_index_copy_values_gradients():
    x = T(X34, dtype=minicnn.float32)
    out = x.index_copy(0, I(2, 0), T(-np.arange(8.0).reshape(2, 4), dtype=minicnn.float32))
    np.testing.assert_array_equal(out.numpy(), [[-4, -5, -6, -7], [4, 5, 6, 7],
                                                [0, -1, -2, -3]])
    assert gradcheck(lambda m, s: m.index_copy(0, I(2, 0), s), (_m(), _m((2, 4), 4)))
    with pytest.raises(IndexError, match="index -1"):
        x.index_copy(0, I(-1), minicnn.ones(1, 4))


def test_index_fill_values_gradients():
    x = T(X34, dtype=minicnn.float32)
    np.testing.assert_array_equal(x.index_fill(1, I(0, -2), -1.0).numpy()[0], [-1, 1, -1, 3])
    assert gradcheck(lambda m: m.index_fill(1, I(0, 0, 3), 2.5), (_m(),))
    v = T(2.0, dtype=minicnn.float64, requires_grad=True)
    assert gradcheck(lambda m, v: m.index_fill(0, I(1, 1), v), (_m(), v))
    m = _m()
    m.index_fill(0, I(1, 1), v).sum().backward()
    assert v.grad.item() == 4.0  # the 4 places of row 1, counted once though repeated
    with pytest.raises(ValueError, match="0-d tensor"):
        x.index_fill(1, I(0), T([5.0]))
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1"):
        x.index_fill(1, I(4), 0.0)


# --- scatter, scatter_add, scatter_reduce -------------------------------------------------------

SRC = np.full((2, 4), 10.0) + np.arange(8.0).reshape(2, 4)  # [[10..13], [14..17]]
IDX13 = [[0, 2, 0]]  # row 0 only: places 0, 2, 0 of dim 1 get src[0][0], src[0][1], src[0][2]


def test_scatter_values():
    x = T(X34)
    i = T(IDX13)
    out = x.scatter(1, i, T(SRC))
    assert out.numpy()[0, 0] in (10.0, 12.0)  # written twice: one write stays
    np.testing.assert_array_equal(out.numpy()[0, 1:], [1.0, 11.0, 3.0])
    np.testing.assert_array_equal(out.numpy()[1:], X34[1:])
    np.testing.assert_array_equal(x.scatter(1, i, -1.0).numpy()[0], [-1.0, 1.0, -1.0, 3.0])
    np.testing.assert_array_equal(x.scatter(1, i, value=7).numpy()[0], [7.0, 1.0, 7.0, 3.0])
    np.testing.assert_array_equal(x.scatter(1, i, T(SRC), reduce="add").numpy()[0],
                                  [22.0, 1.0, 13.0, 3.0])
    np.testing.assert_array_equal(x.scatter(1, i, T(SRC), reduce="multiply").numpy()[0],
                                  [0.0, 1.0, 22.0, 3.0])
    np.testing.assert_array_equal(x.scatter_add(1, i, T(SRC)).numpy()[0], [22.0, 1.0, 13.0, 3.0])
    np.testing.assert_array_equal(T(1.0).scatter(0, T(0), T(5.0)).numpy(), 5.0)
    np.testing.assert_array_equal(x.scatter(1, T(np.zeros(0, np.int64)), T(SRC)).numpy(), X34)


# at row 0: place 0 gets 10 and 12, place 2 gets 11; x[0] = [0, 1, 2, 3]
SCATTER_REDUCE = {
    ("sum", True): [22.0, 1.0, 13.0, 3.0], ("sum", False): [22.0, 1.0, 11.0, 3.0],
    ("prod", True): [0.0, 1.0, 22.0, 3.0], ("prod", False): [120.0, 1.0, 11.0, 3.0],
    ("mean", True): [22.0 / 3, 1.0, 6.5, 3.0], ("mean", False): [11.0, 1.0, 11.0, 3.0],
    ("amax", True): [12.0, 1.0, 11.0, 3.0], ("amax", False): [12.0, 1.0, 11.0, 3.0],
    ("amin", True): [0.0, 1.0, 2.0, 3.0], ("amin", False): [10.0, 1.0, 11.0, 3.0],
}


@pytest.mark.parametrize("reduce, include_self", list(SCATTER_REDUCE))
def test_scatter_reduce_values(reduce, include_self):
    out = T(X34).scatter_reduce(1, T(IDX13), T(SRC), reduce, include_self=include_self)
    np.testing.assert_allclose(out.numpy()[0], SCATTER_REDUCE[reduce, include_self])
    np.testing.assert_array_equal(out.numpy()[1:], X34[1:])


def test_scatter_reduce_mean_of_ints_floors():
    x = T(X34.astype(np.int64))
    out = x.scatter_reduce(1, T(IDX13), T(SRC.astype(np.int64) + 1), "mean")
    np.testing.assert_array_equal(out.numpy()[0], [8, 1, 7, 3])  # (0+11+13) // 3, (2+12) // 2


SCATTER_INDEX = [[0, 2, 0, 1], [2, 2, 3, 2], [1, 0, 1, 1]]  # repeats in every row
SCATTER_ONCE = [[3, 0, 1, 2], [1, 2, 0, 3], [2, 3, 1, 0]]  # each place once


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_gradcheck(reduce, include_self):
    # distinct values (no ties for amax/amin), src larger than index (its corner is used)
    rng = np.random.default_rng(5)
    x = T(rng.permutation(12).reshape(3, 4) / 4 + 0.5, dtype=minicnn.float64,
          requires_grad=True)
    src = T(rng.permutation(20).reshape(4, 5) / 5 - 1.9, dtype=minicnn.float64,
            requires_grad=True)
    assert gradcheck(lambda x, s: x.scatter_reduce(1, T(SCATTER_INDEX), s, reduce,
                                                   include_self=include_self), (x, src))


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_gradcheck_with_zeros(include_self):
    # a place with one zero factor, a place with two, a zero in x: no division by zero
    x = T([[0.0, 2.0, 3.0, 0.5]], dtype=minicnn.float64, requires_grad=True)
    src = T([[0.0, 1.5, 0.0, 0.0, 3.0, -2.0]], dtype=minicnn.float64, requires_grad=True)
    index = T([[1, 1, 2, 2, 0, 3]])
    assert gradcheck(lambda x, s: x.scatter_reduce(1, index, s, "prod",
                                                   include_self=include_self), (x, src))


def test_scatter_reduce_amax_ties_share_the_gradient():
    x = T([[5.0, 1.0]], dtype=minicnn.float64, requires_grad=True)
    src = T([[5.0, 5.0, 0.0]], dtype=minicnn.float64, requires_grad=True)
    x.scatter_reduce(1, T([[0, 0, 1]]), src, "amax").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3, 1.0]])
    np.testing.assert_allclose(src.grad.numpy(), [[1 / 3, 1 / 3, 0.0]])


@pytest.mark.parametrize("reduce", [None, "add", "multiply"])
def test_scatter_and_scatter_add_gradcheck(reduce):
    rng = np.random.default_rng(6)
    x = T(rng.standard_normal((3, 4)), dtype=minicnn.float64, requires_grad=True)
    src = T(rng.standard_normal((3, 5)), dtype=minicnn.float64, requires_grad=True)
    index = T([[3, 0, 1], [2, 1, 0], [0, 3, 2]])  # no repeats: one write per place
    assert gradcheck(lambda x, s: x.scatter(1, index, s, reduce=reduce), (x, src))
    assert gradcheck(lambda x, s: x.scatter_add(0, T(np.array(SCATTER_INDEX[:2]) % 3), s[:2]),
                     (x, src))
    assert gradcheck(lambda x: x.scatter(1, index, value=2.0), (x,))


def test_scatter_errors():
    x = T(X34)
    with pytest.raises(TypeError, match="index must be an int64 tensor"):
        x.scatter(1, T([[0.0]]), T(SRC))
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x.scatter(1, T([[4]]), T(SRC))
    with pytest.raises(IndexError, match="index -1 is out of bounds"):
        x.scatter_add(1, T([[-1]]), T(SRC))
    with pytest.raises(ValueError, match="as many dimensions as input"):
        x.scatter(1, T([0]), T(SRC))
    with pytest.raises(ValueError, match=r"index \(4, 1\) must be no larger than input"):
        x.scatter(1, T(np.zeros((4, 1), np.int64)), T(SRC))
    with pytest.raises(ValueError, match="no larger than src"):
        x.scatter(1, T(np.zeros((1, 5), np.int64)), T(SRC))
    with pytest.raises(TypeError, match="src must have input's dtype"):
        x.scatter(1, T(IDX13), T(SRC, dtype=minicnn.float32))
    with pytest.raises(ValueError, match="reduce must be one of"):
        x.scatter_reduce(1, T(IDX13), T(SRC), "max")
    with pytest.raises(ValueError, match="reduce must be 'add' or 'multiply'"):
        x.scatter(1, T(IDX13), T(SRC), reduce="sum")
    with pytest.raises(TypeError, match="either src"):
        x.scatter(1, T(IDX13))
    with pytest.raises(TypeError, match="src must be a Tensor"):
        x.scatter_add(1, T(IDX13), 2.0)


# --- take_along_dim, take, put, masked_select, masked_scatter -----------------------------------

def test_take_along_dim():
    x = T(X34, dtype=minicnn.float32)
    np.testing.assert_array_equal(minicnn.take_along_dim(x, T([0, 5, -1])).numpy(),
                                  [0.0, 5.0, 11.0])
    np.testing.assert_array_equal(x.take_along_dim(T([[0, 2]]), dim=1).numpy(),
                                  X34[:, [0, 2]])  # index broadcast over the rows
    np.testing.assert_array_equal(x[:1].take_along_dim(T([[0], [2], [-1]]), dim=1).numpy(),
                                  [[0.0], [2.0], [3.0]])  # input broadcast over index's rows
    m = _m()
    assert gradcheck(lambda m: m.take_along_dim(T([[0, 0, 3]]), dim=1), (m,))
    assert gradcheck(lambda m: m[:1].take_along_dim(T([[1], [1], [2]]), dim=1), (m,))
    assert gradcheck(lambda m: m.take_along_dim(T([[1, 1], [0, 2]]), dim=None), (m,))
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1"):
        x.take_along_dim(T([[4]]), dim=1)
    with pytest.raises(ValueError, match="same number of dimensions"):
        x.take_along_dim(T([0, 2]), dim=1)
    with pytest.raises(ValueError, match="do not broadcast apart from dimension 1"):
        x.take_along_dim(T(np.zeros((2, 1), np.int64)), dim=1)


def test_take_and_put():
    x = T(X34, dtype=minicnn.float32)
    np.testing.assert_array_equal(x.take(T([[0], [11], [-1]])).numpy(), [[0.0], [11.0], [11.0]])
    assert gradcheck(lambda m: m.take(T([[0, 5], [5, -1]])), (_m(),))
    with pytest.raises(IndexError, match="index 12 is out of bounds for a tensor of 12"):
        x.take(T([12]))
    out = x.put(T([0, 0, -1]), T([1.0, 2.0, 3.0]))
    assert out.numpy()[0, 0] in (1.0, 2.0) and out.numpy()[2, 3] == 3.0
    np.testing.assert_array_equal(x.put(T([0, 0, -1]), T([1.0, 2.0, 3.0]),
                                        accumulate=True).numpy().reshape(-1)[[0, 11]],
                                  [3.0, 14.0])
    assert gradcheck(lambda m, s: m.put(T([5, 0, -1]), s), (_m(), _m((3,), 7)))
    assert gradcheck(lambda m, s: m.put(T([[5], [5]]), s, accumulate=True),
                     (_m(), _m((2,), 8)))
    y = x.clone()
    assert y.put_(T([1]), T([-5.0])) is y and y.numpy()[0, 1] == -5.0
    with pytest.raises(ValueError, match="same number of elements"):
        x.put(T([0, 1]), T([1.0, 2.0, 3.0]))
    with pytest.raises(IndexError, match="index 12 is out of bounds"):
        x.put(T([12]), T([1.0]))


def test_masked_select_and_masked_scatter():
    x = T(X34, dtype=minicnn.float32)
    np.testing.assert_array_equal(x.masked_select(x > 5).numpy(), np.arange(6.0, 12.0))
    np.testing.assert_array_equal(x.masked_select(T([True, False, True, False])).numpy(),
                                  X34[:, [0, 2]].reshape(-1))  # the mask broadcast
    np.testing.assert_array_equal(x[:1].masked_select(T(np.ones((3, 4), bool))).numpy(),
                                  np.tile(X34[0], 3))  # input broadcast
    m = _m()
    mask = T(np.random.default_rng(9).random((3, 4)) > 0.4)
    assert gradcheck(lambda m: m.masked_select(mask), (m,))
    assert gradcheck(lambda m: m[:1].masked_select(mask), (m,))
    out = x.masked_scatter(x > 5, -T(np.arange(10.0), dtype=minicnn.float32))
    np.testing.assert_array_equal(out.numpy().reshape(-1), list(range(6)) + [0, -1, -2, -3, -4,
                                                                             -5])
    assert gradcheck(lambda m, s: m.masked_scatter(mask, s), (m, _m((4, 5), 10)))
    with pytest.raises(ValueError, match="source has 3 elements, fewer than the 6 places"):
        x.masked_scatter(x > 5, T([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        x.masked_select(T(np.ones((3, 4), np.uint8)))


# --- in place ---------------------------------------------------------------------------------

INPLACE = {  # name -> (in-place call on a (3, 4) tensor y and source s of (3, 4), out of place)
    "index_add_": (lambda y, s: y.index_add_(1, I(0, 0), s[:, :2], alpha=2),
                   lambda y, s: y.index_add(1, I(0, 0), s[:, :2], alpha=2)),
    "index_copy_": (lambda y, s: y.index_copy_(0, I(2), s[:1]),
                    lambda y, s: y.index_copy(0, I(2), s[:1])),
    "index_fill_": (lambda y, s: y.index_fill_(1, I(1), s[0, 0]),
                    lambda y, s: y.index_fill(1, I(1), s[0, 0])),
    "index_put_": (lambda y, s: y.index_put_((I(0, 0), I(1, 1)), s[0, :2], accumulate=True),
                   lambda y, s: y.index_put((I(0, 0), I(1, 1)), s[0, :2], accumulate=True)),
    "scatter_": (lambda y, s: y.scatter_(1, T([[1, 0]]), s),
                 lambda y, s: y.scatter(1, T([[1, 0]]), s)),
    "scatter_add_": (lambda y, s: y.scatter_add_(1, T([[1, 1]]), s),
                     lambda y, s: y.scatter_add(1, T([[1, 1]]), s)),
    "scatter_reduce_": (lambda y, s: y.scatter_reduce_(0, T([[1, 1]]), s, "amax",
                                                       include_self=False),
                        lambda y, s: y.scatter_reduce(0, T([[1, 1]]), s, "amax",
                                                      include_self=False)),
    "put_": (lambda y, s: y.put_(T([3, 3]), s[0, :2], accumulate=True),
             lambda y, s: y.put(T([3, 3]), s[0, :2], accumulate=True)),
    "masked_scatter_": (lambda y, s: y.masked_scatter_(T([True, False, False, True]), s),
                        lambda y, s: y.masked_scatter(T([True, False, False, True]), s)),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_ops_match_out_of_place_and_pass_gradients(name):
    inplace, outplace = INPLACE[name]
    rng = np.random.default_rng(11)
    leaf = T(rng.standard_normal((3, 4)), dtype=minicnn.float64, requires_grad=True)
    src = T(rng.standard_normal((3, 4)), dtype=minicnn.float64, requires_grad=True)
    g = T(rng.standard_normal((3, 4)), dtype=minicnn.float64)
    expected = outplace(leaf, src)
    (expected * g).sum().backward()
    grads = leaf.grad.numpy().copy(), src.grad.numpy().copy()
    leaf.grad = src.grad = None
    y = leaf * 1.0
    assert inplace(y, src) is y
    np.testing.assert_array_equal(y.detach().numpy(), expected.detach().numpy())
    (y * g).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), grads[0])
    np.testing.assert_array_equal(src.grad.numpy(), grads[1])


def test_inplace_on_a_leaf_that_requires_grad_is_refused():
    with pytest.raises(RuntimeError, match="leaf"):
        _m().index_fill_(0, I(0), 1.0)


# --- opt-in: against PyTorch ------------------------------------------------------------------

def _random_index(rng, shape, torch):
    """A random index for ``shape``, as ``(ours, torch's)``: ints, slices, None, True, at most
    one Ellipsis, integer tensors and lists (of one shape, so that they broadcast) and 1-d
    masks (as many True as the arrays' last axis, where the size allows). Without an Ellipsis
    it may stop before the last dimension."""
    ndim, ours, theirs, dim, ellipsis = len(shape), [], [], 0, False
    array_shape = tuple(int(n) for n in rng.integers(1, 3, size=rng.integers(1, 3)))
    while dim < ndim and (ellipsis or rng.random() > 0.1):
        kind = rng.choice(["int", "slice", "none", "tensor", "mask", "list", "bool", "ellipsis"],
                          p=[0.2, 0.2, 0.1, 0.2, 0.1, 0.1, 0.05, 0.05])
        size = shape[dim]
        if kind == "ellipsis":
            if ellipsis:
                continue
            ellipsis = True
            ours.append(Ellipsis), theirs.append(Ellipsis)
            dim += int(rng.integers(0, ndim - dim + 1))  # the dimensions it will stand for
        elif kind in ("int", "slice"):
            if kind == "int":
                v = int(rng.integers(-size, size))
            else:
                start, stop = sorted(int(v) for v in rng.integers(-size - 1, size + 2, size=2))
                v = slice(start, stop, int(rng.integers(1, 3)))
            ours.append(v), theirs.append(v)
            dim += 1
        elif kind in ("none", "bool"):
            v = None if kind == "none" else True
            ours.append(v), theirs.append(v)
        elif kind == "tensor":
            v = rng.integers(-size, size, size=array_shape)
            ours.append(T(v)), theirs.append(torch.tensor(v))
            dim += 1
        elif kind == "list":
            v = [int(i) for i in rng.integers(-size, size, size=array_shape[-1])]
            ours.append(v), theirs.append(list(v))
            dim += 1
        else:
            m = np.zeros(size, bool)
            m[rng.choice(size, size=min(size, array_shape[-1]), replace=False)] = True
            ours.append(T(m)), theirs.append(torch.tensor(m))
            dim += 1
    return tuple(ours), tuple(theirs)


def _torch_or_skip():
    return pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")


def test_getitem_and_setitem_match_torch_on_random_indices():
    torch = _torch_or_skip()
    rng = np.random.default_rng(2024)
    checked = numpy_differs = 0
    for _ in range(400):
        shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 5)))
        ours, theirs = _random_index(rng, shape, torch)
        data = rng.standard_normal(shape)
        t = torch.tensor(data, requires_grad=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out_t = t[theirs]
        except (IndexError, RuntimeError, ValueError) as e:
            with pytest.raises(type(e)):
                T(data, dtype=minicnn.float64)[ours]
            continue
        m = T(data, dtype=minicnn.float64, requires_grad=True)
        out_m = m[ours]
        assert tuple(out_m.shape) == tuple(out_t.shape), (shape, theirs)
        numpy_index = tuple(i.numpy() if isinstance(i, torch.Tensor) else i for i in theirs)
        numpy_differs += data[numpy_index].shape != tuple(out_t.shape)
        np.testing.assert_array_equal(out_m.detach().numpy(), out_t.detach().numpy())
        if out_t.numel():
            assert (out_m._base is not None) == (out_t._base is not None), (shape, theirs)
        g = rng.standard_normal(tuple(out_t.shape))
        (out_m * T(g, dtype=minicnn.float64)).sum().backward()
        (out_t * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=0, atol=1e-12)
        # x[index] = v, v of the result's shape: where each value lands (a place written
        # more than once keeps one of its values: compared where written at most once)
        v = rng.standard_normal(tuple(out_t.shape))
        xm, xt = T(data, dtype=minicnn.float64), torch.tensor(data)
        xm[ours] = T(v, dtype=minicnn.float64)
        xt[theirs] = torch.tensor(v)
        counts = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        counts[theirs].sum().backward()
        once = counts.grad.numpy() <= 1
        np.testing.assert_array_equal(xm.numpy()[once], xt.numpy()[once])
        assert np.isin(xm.numpy()[~once], v).all()
        checked += 1
    assert checked > 150 and numpy_differs > 0  # some draws put an int before an array


TORCH_OPS = {  # name -> (ours on (x, src), torch's on (x, src)); x (3, 4), src (3, 4)
    "index_select": (lambda x, s: x.index_select(1, I(3, 0, 3)),
                     lambda x, s, t: x.index_select(1, t.tensor([3, 0, 3]))),
    "index_add": (lambda x, s: x.index_add(1, I(0, 0, 2), s[:, :3], alpha=-2.0),
                  lambda x, s, t: x.index_add(1, t.tensor([0, 0, 2]), s[:, :3], alpha=-2.0)),
    "index_copy": (lambda x, s: x.index_copy(0, I(2, 0), s[:2]),
                   lambda x, s, t: x.index_copy(0, t.tensor([2, 0]), s[:2])),
    "index_fill": (lambda x, s: x.index_fill(1, I(0, 3, 0), s[1, 1]),  # (torch's backward
                   lambda x, s, t: x.index_fill(1, t.tensor([0, 3, 0]), s[1, 1])),  # fails at -1)
    "index_put": (lambda x, s: x.index_put((I(0, 2), I(1, 1)), s[0, :2], accumulate=False),
                  lambda x, s, t: x.index_put((t.tensor([0, 2]), t.tensor([1, 1])), s[0, :2])),
    "index_put_accumulate": (
        lambda x, s: x.index_put((I(0, 0, 2),), s[:3], accumulate=True),
        lambda x, s, t: x.index_put((t.tensor([0, 0, 2]),), s[:3], accumulate=True)),
    "index_put_repeated": (  # one write stays; the gradient reaches each value (gathered)
        lambda x, s: x.index_put((I(1, 1),), s[:2] * 0 + 1.5),
        lambda x, s, t: x.index_put((t.tensor([1, 1]),), s[:2] * 0 + 1.5)),
    # (torch's backward fails for an index smaller than src: here it has src's shape)
    "scatter": (lambda x, s: x.scatter(1, T(SCATTER_ONCE), s),
                lambda x, s, t: x.scatter(1, t.tensor(SCATTER_ONCE), s)),
    "scatter_value": (lambda x, s: x.scatter(0, T([[2, 0, 1]]), -3.0),
                      lambda x, s, t: x.scatter(0, t.tensor([[2, 0, 1]]), -3.0)),
    "scatter_add": (lambda x, s: x.scatter_add(1, T(SCATTER_INDEX), s),
                    lambda x, s, t: x.scatter_add(1, t.tensor(SCATTER_INDEX), s)),
    "take_along_dim": (lambda x, s: x.take_along_dim(T([[0, -1, 0]]), dim=1),
                       lambda x, s, t: t.take_along_dim(x, t.tensor([[0, -1, 0]]), dim=1)),
    "take_along_dim_flat": (lambda x, s: minicnn.take_along_dim(x, T([[0, 5], [11, 5]])),
                            lambda x, s, t: t.take_along_dim(x, t.tensor([[0, 5], [11, 5]]))),
    "take": (lambda x, s: x.take(T([[0, 5], [-1, 5]])),
             lambda x, s, t: x.take(t.tensor([[0, 5], [-1, 5]]))),
    "put": (lambda x, s: x.put(T([1, 7, -2]), s[0, :3]),
            lambda x, s, t: x.put(t.tensor([1, 7, -2]), s[0, :3])),
    "put_accumulate": (lambda x, s: x.put(T([1, 1, -2]), s[0, :3], accumulate=True),
                       lambda x, s, t: x.put(t.tensor([1, 1, -2]), s[0, :3], accumulate=True)),
    "masked_select": (lambda x, s: x.masked_select(T([True, False, True, True])),
                      lambda x, s, t: x.masked_select(t.tensor([True, False, True, True]))),
    "masked_scatter": (lambda x, s: x.masked_scatter(T([[True], [False], [True]]), s),
                       lambda x, s, t: x.masked_scatter(t.tensor([[True], [False], [True]]), s)),
}
for _reduce in ("sum", "prod", "mean", "amax", "amin"):
    for _self in (True, False):
        # PyTorch's backward wants index and src of one shape (it fails otherwise)
        TORCH_OPS[f"scatter_reduce_{_reduce}_{_self}"] = (
            lambda x, s, r=_reduce, i=_self: x.scatter_reduce(1, T(SCATTER_INDEX), s, r,
                                                              include_self=i),
            lambda x, s, t, r=_reduce, i=_self: x.scatter_reduce(
                1, t.tensor(SCATTER_INDEX), s, r, include_self=i))


@pytest.mark.parametrize("name", list(TORCH_OPS))
def test_indexing_op_matches_torch(name):
    torch = _torch_or_skip()
    ours, theirs = TORCH_OPS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    x, s = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    mx, ms = (T(a, dtype=minicnn.float64, requires_grad=True) for a in (x, s))
    tx, ts = (torch.tensor(a, requires_grad=True) for a in (x, s))
    out_m, out_t = ours(mx, ms), theirs(tx, ts, torch)
    assert tuple(out_m.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(tuple(out_t.shape))
    (out_m * T(g, dtype=minicnn.float64)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    for ours_grad, their_grad in ((mx.grad, tx.grad), (ms.grad, ts.grad)):
        if their_grad is None:
            assert ours_grad is None or not ours_grad.numpy().any()
        else:
            np.testing.assert_allclose(ours_grad.numpy(), their_grad.numpy(), rtol=1e-12,
                                       atol=1e-14)
