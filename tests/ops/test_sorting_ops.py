"""minicnn/ops/sorting.py: sort/argsort, topk, kthvalue, median, mode, unique, bincount, histc,
cumprod, cummax/cummin, logcumsumexp, nansum, nanmean, aminmax, std_mean/var_mean. Values and
indices against NumPy, float64 gradchecks (inputs free of ties), PyTorch's rules for NaN (the
largest value), ties, empty and 0-d tensors, dtypes and errors, the Tensor methods; then an
opt-in comparison with PyTorch itself over random shapes and dims."""
import math
import warnings

import numpy as np
import pytest

import minicnn
from minicnn import ops
from minicnn.gradcheck import gradcheck

nan, inf = math.nan, math.inf


def _leaf(values, dtype=np.float64):
    return minicnn.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def _distinct(rng, shape):
    """Values without ties (a shuffled arange, scaled), so that sorting is smooth around them."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - n * 0.1).reshape(shape)


def _same(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, np.float64),
                               np.asarray(expected, np.float64), rtol=1e-12, equal_nan=True)


# --- sort, argsort, topk, kthvalue ---------------------------------------------------------------

@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_vs_numpy_and_gradcheck(dim, descending, rng):
    a = _distinct(rng, (3, 4, 5))
    values, indices = ops.sort(minicnn.tensor(a), dim, descending)
    order = np.argsort(-a if descending else a, axis=dim)
    np.testing.assert_array_equal(indices.numpy(), order)
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(a, order, axis=dim))
    assert indices.dtype == minicnn.int64 and not indices.requires_grad
    assert gradcheck(lambda x: ops.sort(x, dim, descending).values, (_leaf(a),))
    assert ops.argsort(minicnn.tensor(a), dim, descending).tolist() == indices.tolist()


def test_sort_is_stable_and_puts_nan_where_pytorch_does():
    x = minicnn.tensor([3.0, nan, 1.0, 3.0, -inf, nan, 2.0])
    values, indices = ops.sort(x)
    _same(values.numpy(), [-inf, 1, 2, 3, 3, nan, nan])
    assert indices.tolist() == [4, 2, 6, 0, 3, 1, 5]
    values, indices = x.sort(descending=True, stable=True)
    _same(values.numpy(), [nan, nan, 3, 3, 2, 1, -inf])
    assert indices.tolist() == [1, 5, 0, 3, 6, 2, 4]  # ties keep their order, descending too
    assert ops.argsort(minicnn.tensor([2, 1, 2, 1]), descending=True).tolist() == [0, 2, 1, 3]
    assert ops.sort(minicnn.tensor([True, False, True])).indices.tolist() == [1, 0, 2]


def test_sort_result_is_a_named_tuple_and_routes_the_gradient():
    x = _leaf([3.0, 1.0, 2.0])
    result = ops.sort(x)
    assert type(result).__name__ == "sort" and result._fields == ("values", "indices")
    assert result.values.grad_fn.name() == "Sort"
    result.values.backward(minicnn.tensor([10.0, 20.0, 30.0], dtype=minicnn.float64))
    _same(x.grad.numpy(), [30, 10, 20])  # each element gets the gradient of its sorted place


def test_sort_and_friends_of_empty_and_0d_tensors():
    values, indices = ops.sort(minicnn.zeros(0, 2), 0)
    assert values.shape == indices.shape == (0, 2)
    x = _leaf(3.0)
    for result in (ops.sort(x), ops.topk(x, 1), ops.kthvalue(x, 1), ops.median(x, 0),
                   ops.mode(x), ops.cummax(x, 0), ops.cummin(x, -1)):
        assert result.values.shape == result.indices.shape == ()
        assert result.values.item() == 3.0 and result.indices.item() == 0
        result.values.backward()
    _same(x.grad.numpy(), 7.0)
    assert ops.topk(minicnn.zeros(2, 0), 0).values.shape == (2, 0)
    assert ops.cumprod(_leaf(3.0), 0).item() == 3.0


@pytest.mark.parametrize("largest", [True, False])
def test_topk_vs_numpy_and_gradcheck(largest, rng):
    a = _distinct(rng, (4, 6))
    values, indices = ops.topk(minicnn.tensor(a), 3, dim=1, largest=largest)
    order = np.argsort(-a if largest else a, axis=1)[:, :3]
    np.testing.assert_array_equal(indices.numpy(), order)
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(a, order, 1))
    assert gradcheck(lambda x: ops.topk(x, 2, 0, largest).values, (_leaf(a),))
    assert minicnn.tensor(a).topk(3, 1, largest, sorted=False).indices.tolist() == \
        indices.tolist()
    t = ops.topk(minicnn.tensor([3.0, nan, 1.0, nan, 2.0]), 3, largest=largest)
    _same(t.values.numpy(), [nan, nan, 3] if largest else [1, 2, 3])  # NaN is the largest
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        ops.topk(minicnn.tensor(a), 7)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        ops.topk(minicnn.tensor(a), -1)


def test_kthvalue_vs_numpy_gradcheck_and_errors(rng):
    a = _distinct(rng, (3, 5))
    for k in (1, 3, 5):
        values, indices = ops.kthvalue(minicnn.tensor(a), k, 1, keepdim=True)
        assert values.shape == (3, 1)
        np.testing.assert_array_equal(values.numpy()[:, 0], np.sort(a, 1)[:, k - 1])
        np.testing.assert_array_equal(indices.numpy()[:, 0], np.argsort(a, 1)[:, k - 1])
    assert gradcheck(lambda x: ops.kthvalue(x, 2, 0).values, (_leaf(a),))
    result = ops.kthvalue(minicnn.tensor([3.0, nan, 1.0, 3.0, nan]), 5)
    assert math.isnan(result.values.item()) and result.indices.item() == 4
    with pytest.raises(RuntimeError, match="kthvalue\\(\\): selected number k out of range"):
        ops.kthvalue(minicnn.tensor(a), 6)
    with pytest.raises(RuntimeError, match="out of range"):
        ops.kthvalue(minicnn.tensor(a), 0)
    with pytest.raises(IndexError, match="kthvalue\\(\\): Expected reduction dim 0"):
        ops.kthvalue(minicnn.zeros(0), 1)


# --- median and mode -----------------------------------------------------------------------------

def test_median_without_dim_is_the_lower_median_with_ties_sharing_the_gradient():
    assert ops.median(minicnn.tensor([1.0, 2.0, 3.0, 4.0])).item() == 2.0
    assert ops.median(minicnn.tensor([3, 1, 2, 4])).item() == 2
    x = _leaf([1.0, 2.0, 2.0, 2.0, 3.0])
    m = ops.median(x)
    assert m.shape == () and m.item() == 2.0
    m.backward()
    _same(x.grad.numpy(), [0, 1 / 3, 1 / 3, 1 / 3, 0])
    assert math.isnan(ops.median(minicnn.tensor([1.0, nan, 2.0])).item())
    assert math.isnan(ops.median(minicnn.zeros(0)).item())
    x = _leaf([1.0, nan, nan])
    ops.median(x).backward()
    _same(x.grad.numpy(), [0, 0.5, 0.5])
    with pytest.raises(RuntimeError, match="empty integer"):
        ops.median(minicnn.tensor(np.zeros(0, np.int64)))


def test_median_along_a_dim(rng):
    a = _distinct(rng, (4, 6))
    values, indices = ops.median(minicnn.tensor(a), 1)
    order = np.argsort(a, 1)[:, 2]  # the lower of the two middle values of 6
    np.testing.assert_array_equal(indices.numpy(), order)
    np.testing.assert_array_equal(values.numpy(), a[np.arange(4), order])
    assert gradcheck(lambda x: ops.median(x, 0, keepdim=True).values, (_leaf(a),))
    values, indices = minicnn.tensor([[1.0, nan, 3.0, nan], [3.0, 1.0, 2.0, 0.0]]).median(1)
    _same(values.numpy(), [nan, 1.0])
    assert indices.tolist() == [1, 1]  # a slice with NaN: its first NaN
    with pytest.raises(IndexError, match="median\\(\\): Expected reduction dim 0"):
        ops.median(minicnn.zeros(0, 3), 0)


def test_mode_smallest_of_the_most_frequent_last_index(rng):
    result = ops.mode(minicnn.tensor([3.0, 1.0, 1.0, 3.0, 2.0]))
    assert (result.values.item(), result.indices.item()) == (1.0, 2)
    result = ops.mode(minicnn.tensor([2, 2, 1, 1, 1, 2]))
    assert (result.values.item(), result.indices.item()) == (1, 4)
    result = ops.mode(minicnn.tensor([[1, 2, 2], [3, 3, 1]]), 0)
    assert result.values.tolist() == [1, 2, 1] and result.indices.tolist() == [0, 0, 1]
    a = rng.integers(0, 4, (5, 7))
    values, indices = ops.mode(minicnn.tensor(a), 1, keepdim=True)
    for row, v, i in zip(a, values.numpy()[:, 0], indices.numpy()[:, 0]):
        counts = np.bincount(row, minlength=4)
        assert v == np.argmax(counts) and i == np.flatnonzero(row == v)[-1]
    x = _leaf([3.0, 1.0, 1.0, 3.0, 2.0, 3.0])
    ops.mode(x).values.backward()
    _same(x.grad.numpy(), [0, 0, 0, 0, 0, 1])
    with pytest.raises(IndexError, match="mode\\(\\): Expected reduction dim 0"):
        ops.mode(minicnn.zeros(0))


# --- unique, bincount, histc ---------------------------------------------------------------------

def test_unique_inverse_counts_and_nan():
    x = minicnn.tensor([3.0, nan, 1.0, nan, 3.0])
    values, inverse, counts = ops.unique(x, return_inverse=True, return_counts=True)
    _same(values.numpy(), [1, 3, nan, nan])  # each NaN is distinct, as in PyTorch
    assert inverse.tolist() == [1, 2, 0, 3, 1] and counts.tolist() == [1, 2, 1, 1]
    assert isinstance(ops.unique(x), minicnn.Tensor)
    u, c = ops.unique(minicnn.tensor([[2, 1], [1, 2]]), return_counts=True)
    assert u.tolist() == [1, 2] and c.tolist() == [2, 2]
    u, inv = minicnn.tensor([[2, 1], [1, 2]]).unique(return_inverse=True)
    assert inv.tolist() == [[1, 0], [0, 1]]  # the input's shape
    u, inv = ops.unique(minicnn.tensor(5.0), return_inverse=True)
    assert u.tolist() == [5.0] and inv.shape == ()
    u, inv, c = ops.unique(minicnn.zeros(0), return_inverse=True, return_counts=True)
    assert u.shape == inv.shape == c.shape == (0,)
    assert not ops.unique(_leaf([1.0, 1.0])).requires_grad


def test_unique_along_a_dim(rng):
    a = np.array([[1, 2], [0, 1], [1, 2]])
    values, inverse, counts = ops.unique(minicnn.tensor(a), dim=0, return_inverse=True,
                                         return_counts=True)
    assert values.tolist() == [[0, 1], [1, 2]]
    assert inverse.tolist() == [1, 0, 1] and counts.tolist() == [1, 2]
    values, inverse, counts = ops.unique(minicnn.tensor(a.T), dim=1, return_inverse=True,
                                         return_counts=True)
    assert values.tolist() == [[0, 1], [1, 2]] and inverse.tolist() == [1, 0, 1]
    values, counts = ops.unique(minicnn.zeros(2, 0), dim=1, return_counts=True)
    assert values.shape == (2, 0) and counts.shape == (0,)
    b = rng.integers(0, 2, (10, 3))
    u, inv = ops.unique(minicnn.tensor(b), dim=0, return_inverse=True)
    np.testing.assert_array_equal(u.numpy()[inv.numpy()], b)


def test_bincount_counts_weights_and_errors():
    x = minicnn.tensor([1, 3, 1])
    assert ops.bincount(x).tolist() == [0, 2, 0, 1] and ops.bincount(x).dtype == minicnn.int64
    assert x.bincount(minlength=6).tolist() == [0, 2, 0, 1, 0, 0]
    assert ops.bincount(minicnn.tensor(np.zeros(0, np.int64))).shape == (0,)
    w = ops.bincount(x, minicnn.tensor([0.5, 1.0, 2.0]))
    assert w.dtype == minicnn.float32 and w.tolist() == [0, 2.5, 0, 1]
    assert ops.bincount(x, minicnn.tensor([1, 2, 3])).dtype == minicnn.float64
    assert ops.bincount(x, minicnn.tensor([1.0, 2, 3], dtype=minicnn.float64)).dtype == \
        minicnn.float64
    for bad in (minicnn.tensor([-1, 2]), minicnn.tensor([[1]])):
        with pytest.raises(RuntimeError, match="1-d non-negative integral"):
            ops.bincount(bad)
    with pytest.raises(TypeError, match="integer"):
        ops.bincount(minicnn.tensor([1.0]))
    with pytest.raises(RuntimeError, match="same length"):
        ops.bincount(x, minicnn.tensor([1.0]))
    with pytest.raises(ValueError, match="minlength"):
        ops.bincount(x, minlength=-1)
    w = _leaf([0.5, 1.0, 2.0])
    y = ops.bincount(x, w)
    assert y.requires_grad  # recorded, as PyTorch, but without a derivative
    with pytest.raises(RuntimeError, match="derivative for bincount"):
        y.sum().backward()


def test_histc_bins_range_and_errors(rng):
    assert ops.histc(minicnn.tensor([1.0, 2, 1, 4]), bins=4, min=0, max=3).tolist() == \
        [0, 2, 1, 0]  # 4 is outside [0, 3]
    assert ops.histc(minicnn.tensor([1.0, 2, 1, 4]), bins=3).tolist() == [2, 1, 1]
    assert ops.histc(minicnn.tensor([2.0, 2.0]), bins=4).tolist() == [0, 0, 2, 0]
    assert ops.histc(minicnn.tensor([1.0, nan, 2.0]), bins=2, min=0, max=3).tolist() == [1, 1]
    assert ops.histc(minicnn.zeros(0), bins=2).tolist() == [0, 0]
    a = rng.normal(size=1000)
    h = minicnn.tensor(a).histc(bins=7, min=-1, max=1.5)
    np.testing.assert_array_equal(h.numpy(), np.histogram(a, 7, (-1, 1.5))[0])
    assert h.dtype == minicnn.float64 and not ops.histc(_leaf(a)).requires_grad
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.histc(minicnn.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="not finite"):
        ops.histc(minicnn.tensor([1.0, inf]))
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        ops.histc(minicnn.tensor([1.0]), min=2, max=1)
    with pytest.raises(ValueError, match="bins"):
        ops.histc(minicnn.tensor([1.0]), bins=0)


# --- scans ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod_vs_numpy_and_gradcheck(dim, rng):
    a = rng.uniform(0.5, 1.5, (3, 4, 2)) * rng.choice([-1, 1], (3, 4, 2))
    y = ops.cumprod(minicnn.tensor(a), dim)
    np.testing.assert_allclose(y.numpy(), np.cumprod(a, axis=dim), rtol=1e-12)
    assert gradcheck(lambda x: ops.cumprod(x, dim), (_leaf(a),))


def test_cumprod_gradient_with_zeros_as_pytorch(rng):
    x = _leaf([2.0, 0.0, 3.0, 0.0, 4.0])
    ops.cumprod(x, 0).backward(minicnn.tensor([1.0, 2, 3, 4, 5], dtype=minicnn.float64))
    _same(x.grad.numpy(), [1, 22, 0, 0, 0])
    # every slice shape of zeros: none, one (first, middle, last), two; gradcheck is exact
    # here because the products are polynomials in each element
    a = rng.normal(size=(6, 5))
    a[1, 0] = a[2, 2] = a[3, 4] = a[4, 1] = a[4, 3] = a[5, :] = 0.0
    assert gradcheck(lambda x: ops.cumprod(x, 1), (_leaf(a),))
    assert gradcheck(lambda x: ops.cumprod(x, 0), (_leaf(a),))


def test_cumprod_dtypes_and_inplace():
    assert ops.cumprod(minicnn.tensor(np.array([1, 2, 3], np.int32)), 0).dtype == minicnn.int64
    assert ops.cumprod(minicnn.tensor([True, True]), 0).tolist() == [1, 1]
    assert ops.cumprod(minicnn.tensor([1.0, 2.0]), 0, dtype=minicnn.float64).dtype == \
        minicnn.float64
    x = minicnn.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.cumprod_(axis=1) is x and x.tolist() == [[1, 2], [3, 12]]


@pytest.mark.parametrize("largest", [True, False])
def test_cummax_cummin_vs_numpy_ties_nan_and_gradient(largest, rng):
    op = ops.cummax if largest else ops.cummin
    acc = np.maximum.accumulate if largest else np.minimum.accumulate
    a = rng.integers(0, 5, (4, 9)).astype(float)  # many ties
    values, indices = op(minicnn.tensor(a), 1)
    np.testing.assert_array_equal(values.numpy(), acc(a, axis=1))
    for row, idx, best in zip(a, indices.numpy(), acc(a, axis=1)):
        # the last index at which the running extreme was reached (PyTorch's rule)
        assert all(i == max(k for k in range(j + 1) if row[k] == best[j])
                   for j, i in enumerate(idx))
    assert gradcheck(lambda x: op(x, 0).values, (_leaf(_distinct(rng, (5, 3))),))
    sign = 1 if largest else -1
    x = minicnn.tensor([1.0, 3.0, 3.0, 2.0, nan, 5.0, nan, 1.0]) * sign
    values, indices = op(x, 0)
    _same(values.numpy(), np.array([1, 3, 3, 3, nan, nan, nan, nan]) * sign)
    assert indices.tolist() == [0, 1, 2, 2, 4, 4, 6, 6]
    x = _leaf(np.array([1.0, 3.0, 3.0, 2.0, 5.0]) * sign)
    op(x, 0).values.backward(minicnn.tensor([1.0, 2, 3, 4, 5], dtype=minicnn.float64))
    _same(x.grad.numpy(), [1, 2, 7, 0, 5])  # summed where one element is picked many times
    assert type(op(x, 0)).__name__ == ("cummax" if largest else "cummin")
    assert op(minicnn.zeros(0), 0).values.shape == (0,)


def test_logcumsumexp_vs_numpy_gradcheck_and_edges(rng):
    a = rng.normal(size=(3, 5)) * 3
    y = ops.logcumsumexp(minicnn.tensor(a), 1)
    np.testing.assert_allclose(y.numpy(), np.log(np.cumsum(np.exp(a), 1)), rtol=1e-12)
    assert gradcheck(lambda x: ops.logcumsumexp(x, 0), (_leaf(a),))
    assert gradcheck(lambda x: ops.logcumsumexp(x, 1), (_leaf(a + 800),))  # no overflow
    _same(minicnn.tensor([0.0, -inf, 1.0, inf, 2.0], dtype=minicnn.float64).logcumsumexp(0).numpy(),
          [0, 0, np.log(1 + np.e), inf, inf])
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.logcumsumexp(minicnn.tensor([1, 2]), 0)


# --- NaN-skipping reductions and pairs of statistics ---------------------------------------------

def test_nansum_nanmean_values_gradients_and_dtypes(rng):
    a = rng.normal(size=(4, 5))
    a[rng.random((4, 5)) < 0.3] = nan
    a[2] = nan
    for dim in (None, 0, 1, (0, 1)):
        for keepdim in (False, True):
            s = ops.nansum(minicnn.tensor(a), dim, keepdim)
            np.testing.assert_allclose(s.numpy(), np.nansum(a, dim, keepdims=keepdim))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NumPy warns on the all-NaN row, PyTorch not
                expected = np.nanmean(a, dim, keepdims=keepdim)
            np.testing.assert_allclose(ops.nanmean(minicnn.tensor(a), dim, keepdim).numpy(),
                                       expected)
    finite = np.where(np.isnan(a), 0.5, a)
    assert gradcheck(lambda x: ops.nansum(x, 1), (_leaf(finite),))
    assert gradcheck(lambda x: ops.nanmean(x, 0), (_leaf(finite),))
    x = _leaf([1.0, nan, 2.0])
    ops.nansum(x).backward()
    _same(x.grad.numpy(), [1, 0, 1])
    x = _leaf([[1.0, nan, 2.0], [nan, nan, nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops.nanmean(x, 1).sum().backward()
    _same(x.grad.numpy(), [[0.5, 0, 0.5], [nan, nan, nan]])  # 0 * (g / 0), as PyTorch
    assert ops.nansum(minicnn.tensor(np.array([1, 2], np.int32))).dtype == minicnn.int64
    assert ops.nansum(minicnn.tensor([True, True])).item() == 2
    assert ops.nansum(minicnn.tensor([1, 2]), dtype=minicnn.float32).dtype == minicnn.float32
    assert ops.nansum(minicnn.tensor([nan])).item() == 0.0
    assert minicnn.tensor([[nan, 1.0], [2.0, nan]]).nanmean(axis=1).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.nanmean(minicnn.tensor([1, 2]))


def test_aminmax_values_gradient_and_errors():
    result = ops.aminmax(minicnn.tensor([[1.0, 5.0], [3.0, 2.0]]), dim=1, keepdim=True)
    assert result._fields == ("min", "max") and type(result).__name__ == "aminmax"
    assert result.min.tolist() == [[1.0], [2.0]] and result.max.tolist() == [[5.0], [3.0]]
    mn, mx = ops.aminmax(minicnn.tensor([[1.0, 5.0], [nan, 2.0]]))
    assert math.isnan(mn.item()) and math.isnan(mx.item())
    x = _leaf([1.0, 5.0, 5.0])
    mn, mx = x.aminmax()
    (mn + mx).backward()
    _same(x.grad.numpy(), [1, 0.5, 0.5])  # ties share, as amax
    with pytest.raises(RuntimeError, match="cannot compute aminmax over an empty dimension"):
        ops.aminmax(minicnn.zeros(0))
    with pytest.raises(RuntimeError, match="empty dimension"):
        ops.aminmax(minicnn.zeros(3, 0), dim=1)


def test_std_mean_var_mean(rng):
    a = rng.normal(size=(3, 4))
    s, m = ops.std_mean(minicnn.tensor(a), dim=1)
    np.testing.assert_allclose(s.numpy(), a.std(1, ddof=1))
    np.testing.assert_allclose(m.numpy(), a.mean(1))
    v, m = ops.var_mean(minicnn.tensor(a), 1, False)  # unbiased given positionally
    np.testing.assert_allclose(v.numpy(), a.var(1))
    v, m = ops.var_mean(minicnn.tensor(a), dim=0, correction=0, keepdim=True)
    assert v.shape == m.shape == (1, 4)
    assert type(ops.std_mean(minicnn.tensor(a))) is tuple
    assert gradcheck(lambda x: ops.std_mean(x, 0), (_leaf(a),))
    assert gradcheck(lambda x: ops.var_mean(x, dim=1, correction=0), (_leaf(a),))
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.std_mean(minicnn.tensor([1, 2]))


def test_every_op_has_its_tensor_method_and_numpy_axis_name():
    x = minicnn.tensor([[3.0, 1.0], [2.0, 4.0]])
    for name in ("sort", "argsort", "kthvalue", "median", "mode", "cumprod", "cummax",
                 "cummin", "logcumsumexp", "nansum", "nanmean", "unique", "topk"):
        assert callable(getattr(minicnn.Tensor, name)) and callable(getattr(minicnn, name))
    for name in ("bincount", "histc", "aminmax", "cumprod_"):
        assert callable(getattr(minicnn.Tensor, name))
    assert x.sort(axis=0).values.tolist() == [[2, 1], [3, 4]]
    assert minicnn.sort(x, axis=0).indices.tolist() == [[1, 0], [0, 1]]
    assert x.kthvalue(1, axis=0).values.tolist() == [2, 1]
    assert minicnn.cummax(x, axis=1).values.tolist() == [[3, 3], [2, 4]]
    assert x.nansum(axis=0, keepdims=True).shape == (1, 2)


# --- the same against PyTorch (opt-in) ------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")


def _run(fn, a, lib):
    """``fn(leaf)`` in minicnn or torch (``lib``): its outputs, and the leaf's gradient of the
    float outputs against fixed weights."""
    x = lib.tensor(a, requires_grad=a.dtype.kind == "f")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's std of one value warns: n <= correction
        out = fn(x)
    outs = list(out) if isinstance(out, tuple) else [out]
    loss = None
    for k, t in enumerate(outs):
        if t.requires_grad:
            g = np.cos(np.arange(t.numel()) + k).reshape(tuple(t.shape))
            term = (t * lib.tensor(g, dtype=t.dtype)).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    values = [(t.detach().numpy(), str(t.dtype).split(".")[-1]) for t in outs]
    return values, None if x.grad is None else x.grad.numpy()


def _check(fn_ours, fn_torch, a, torch, rtol=1e-12):
    ours, theirs = _run(fn_ours, a, minicnn), _run(fn_torch, a, torch)
    assert len(ours[0]) == len(theirs[0])
    for (v, dt), (tv, tdt) in zip(ours[0], theirs[0]):
        assert dt == tdt and v.shape == tv.shape
        np.testing.assert_allclose(v, tv, rtol=rtol, atol=rtol, equal_nan=True)
    if theirs[1] is None:
        assert ours[1] is None
    else:
        np.testing.assert_allclose(ours[1], theirs[1], rtol=rtol, atol=rtol, equal_nan=True)


def _draws(seed, n=8):
    """(array without ties, dim) pairs of random shapes (0-d to 3-d), float64 and float32."""
    rng = np.random.default_rng(seed)
    for trial in range(n):
        shape = tuple(int(s) for s in rng.integers(1, 5, rng.integers(0, 4)))
        a = _distinct(rng, shape).astype(np.float32 if trial % 2 else np.float64)
        yield a, int(rng.integers(-max(len(shape), 1), max(len(shape), 1))), rng


SELECTING = {  # name -> (ours, theirs) on (x, dim, rng-drawn flags)
    "sort": lambda lib, d, r: (lambda x: lib.sort(x, dim=d, descending=bool(r[0]))),
    "argsort": lambda lib, d, r: (lambda x: lib.argsort(x, dim=d, descending=bool(r[0]))),
    "topk": lambda lib, d, r: (lambda x: lib.topk(x, 1 if x.ndim == 0 else
                                                  min(2, x.shape[d]), d, bool(r[0]))),
    "kthvalue": lambda lib, d, r: (lambda x: lib.kthvalue(x, 1 if x.ndim == 0 else
                                                          x.shape[d], d, bool(r[1]))),
    "median_dim": lambda lib, d, r: (lambda x: lib.median(x, d, bool(r[1]))),
    "median": lambda lib, d, r: (lambda x: lib.median(x)),
    "cummax": lambda lib, d, r: (lambda x: lib.cummax(x, d)),
    "cummin": lambda lib, d, r: (lambda x: lib.cummin(x, d)),
    "cumprod": lambda lib, d, r: (lambda x: lib.cumprod(x * 0.3, d)),
    "logcumsumexp": lambda lib, d, r: (lambda x: lib.logcumsumexp(x, d)),
    "nansum": lambda lib, d, r: (lambda x: lib.nansum(x, d, bool(r[1]))),
    "nanmean": lambda lib, d, r: (lambda x: lib.nanmean(x, d, bool(r[1]))),
    "aminmax": lambda lib, d, r: (lambda x: tuple(lib.aminmax(x, dim=d, keepdim=bool(r[1])))),
    "std_mean": lambda lib, d, r: (lambda x: lib.std_mean(x, d, keepdim=bool(r[1]))),
    "var_mean": lambda lib, d, r: (lambda x: lib.var_mean(x, d, correction=0)),
}


@pytest.mark.parametrize("name", sorted(SELECTING))
def test_sorting_op_matches_torch_on_random_shapes(name):
    torch = _torch()
    for a, dim, rng in _draws(sorted(SELECTING).index(name)):
        flags = rng.integers(0, 2, 2)
        _check(SELECTING[name](minicnn, dim, flags), SELECTING[name](torch, dim, flags), a,
               torch, 2e-6 if a.dtype == np.float32 else 1e-12)


def test_sorting_ops_with_nan_ties_and_integers_match_torch():
    torch = _torch()
    rng = np.random.default_rng(5)
    a = rng.integers(0, 4, (3, 8)).astype(np.float64)
    a[rng.random((3, 8)) < 0.2] = nan
    for fn in (lambda lib, x: lib.sort(x, dim=1, stable=True),
               lambda lib, x: lib.sort(x, dim=0, descending=True, stable=True),
               lambda lib, x: lib.cummax(x, 1), lambda lib, x: lib.cummin(x, 0),
               lambda lib, x: lib.median(x), lambda lib, x: lib.nansum(x, 1),
               lambda lib, x: lib.nanmean(x, 0), lambda lib, x: lib.cumprod(x, 1),
               lambda lib, x: lib.logcumsumexp(x, 1),
               # values only: PyTorch's amax gradient is NaN everywhere when the max is NaN,
               # minicnn's amax (and so aminmax) sends it to the NaNs, as torch.max() does
               lambda lib, x: lib.aminmax(x.detach(), dim=1)):
        _check(lambda x: fn(minicnn, x), lambda x: fn(torch, x), a, torch)
    b = rng.integers(-3, 4, (4, 6))
    for fn in (lambda lib, x: lib.sort(x, dim=1, descending=True, stable=True),
               lambda lib, x: lib.cummax(x, 1), lambda lib, x: lib.cumprod(x, 0),
               lambda lib, x: lib.nansum(x), lambda lib, x: lib.median(x),
               lambda lib, x: lib.unique(x, return_inverse=True, return_counts=True),
               lambda lib, x: lib.unique(x, dim=1, return_inverse=True, return_counts=True),
               lambda lib, x: lib.bincount(x.flatten() + 3, minlength=9),
               lambda lib, x: lib.mode(x, 1).values):
        _check(lambda x: fn(minicnn, x), lambda x: fn(torch, x), b, torch)
    # ties: which of the tied elements PyTorch picks (and so gets the gradient) is left open,
    # the values must agree
    c = rng.integers(0, 3, 12).astype(np.float32)
    for fn in (lambda lib, x: lib.mode(x).values, lambda lib, x: lib.kthvalue(x, 5).values,
               lambda lib, x: lib.median(x, 0).values, lambda lib, x: lib.topk(x, 4).values):
        _check(lambda x: fn(minicnn, x.detach()), lambda x: fn(torch, x.detach()), c, torch)
    d = rng.normal(size=200)
    _check(lambda x: minicnn.histc(x, 9, -1, 1.5), lambda x: torch.histc(x, 9, -1, 1.5), d,
           torch)
    _check(lambda x: minicnn.histc(x, 5), lambda x: torch.histc(x, 5), d, torch)
    w = rng.uniform(size=6).astype(np.float32)
    np.testing.assert_allclose(
        minicnn.bincount(minicnn.tensor([0, 2, 2, 5, 1, 2]), minicnn.tensor(w)).numpy(),
        torch.bincount(torch.tensor([0, 2, 2, 5, 1, 2]), torch.tensor(w)).numpy(), rtol=1e-6)


def test_cumprod_with_zeros_matches_torch():
    torch = _torch()
    rng = np.random.default_rng(9)
    for _ in range(10):
        a = rng.normal(size=(4, 6))
        a[rng.random((4, 6)) < 0.25] = 0.0
        dim = int(rng.integers(0, 2))
        _check(lambda x: minicnn.cumprod(x, dim), lambda x: torch.cumprod(x, dim), a, torch)
