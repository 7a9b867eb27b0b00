"""Sorting and statistics: sort/argsort, topk, kthvalue, median, mode (values and indices),
unique, bincount, histc, the scans cumprod, cummax/cummin and logcumsumexp, and nansum,
nanmean, aminmax, std_mean/var_mean; each Function above its wrapper.

Ordering is PyTorch's: NaN counts as the largest value (last in an ascending sort, first in a
descending one), and ties keep their order (minicnn's sort is always stable).
"""
import collections
import math

import numpy as np

from minicnn._checks import check_dim, check_int
from minicnn._tensor import Function, Tensor, as_tensor_arg, float_tensor_arg
from minicnn.ops._common import expand_reduced
from minicnn.ops.reduction import _axis, amax, amin, mean, std, var

__all__ = [
    "SortFn", "sort", "argsort", "TopkFn", "topk", "KthvalueFn", "kthvalue", "MedianFn",
    "MedianDimFn", "median", "ModeFn", "mode", "unique", "BincountFn", "bincount", "histc",
    "CumprodFn", "cumprod", "CummaxFn", "cummax", "CumminFn", "cummin", "LogcumsumexpFn",
    "logcumsumexp", "NansumFn", "nansum", "NanmeanFn", "nanmean", "aminmax", "std_mean",
    "var_mean",
]

# The named tuples PyTorch returns (torch.return_types.sort, ...)
SortResult = collections.namedtuple("sort", ["values", "indices"])
TopkResult = collections.namedtuple("topk", ["values", "indices"])
KthvalueResult = collections.namedtuple("kthvalue", ["values", "indices"])
MedianResult = collections.namedtuple("median", ["values", "indices"])
ModeResult = collections.namedtuple("mode", ["values", "indices"])
CummaxResult = collections.namedtuple("cummax", ["values", "indices"])
CumminResult = collections.namedtuple("cummin", ["values", "indices"])
AminmaxResult = collections.namedtuple("aminmax", ["min", "max"])


def _constant(array):
    return Tensor._make(np.asarray(array), None)


def _of_0d(input, op, *args, **kwargs):
    """``op`` on a 0-d tensor, PyTorch's way: on its one value as a 1-element dim 0, each field
    of the result made 0-d again."""
    out = op(input.reshape(1), *args, dim=0, **kwargs)
    return type(out)(*(t.reshape(()) for t in out))


def _order(a, axis, descending=False):
    """The indices that sort ``a`` along ``axis``, stably, NaN last (first if descending)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    # sorting the reversed array ascending, then reversing that order, puts the largest first
    # and keeps tied elements in their original order
    n = a.shape[axis]
    return n - 1 - np.flip(np.argsort(np.flip(a, axis), axis=axis, kind="stable"), axis)


def _nonempty(input, dim, op):
    if input.shape[dim] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {dim} to have non-zero size.")


class _PickFn(Function):
    """The values of ``a`` at ``indices`` along ``dim``: the forward of the ops that select
    elements (sort, topk, kthvalue, median, mode, cummax, cummin), each a subclass named after
    its op (the name its ``grad_fn`` shows)."""

    @staticmethod
    def forward(ctx, a, indices, dim, keepdim=True):
        ctx.a_shape, ctx.indices, ctx.dim, ctx.keepdim = a.shape, indices, dim, keepdim
        out = np.take_along_axis(a, indices, axis=dim)
        return out if keepdim else np.squeeze(out, dim)

    @staticmethod
    def backward(ctx, grad_out):
        # out_j = a[indices_j], so d out_j / d a_i = 1 where indices_j = i: each element gets
        # the gradients of the outputs that picked it (summed: cummax picks one many times)
        g = grad_out if ctx.keepdim else np.expand_dims(grad_out, ctx.dim)
        grad = np.zeros(ctx.a_shape, grad_out.dtype)
        where = list(np.ix_(*[range(n) for n in ctx.indices.shape]))
        where[ctx.dim] = ctx.indices
        np.add.at(grad, tuple(where), g)
        return grad


class SortFn(_PickFn):
    """sort's values: ``_PickFn`` with the sorting order as the indices."""


def sort(input, dim=-1, descending=False, *, stable=False):
    """The values along ``dim`` in ascending (or descending) order and their indices, a named
    tuple ``(values, indices)``; NaN sorts as the largest value. The sort is always stable
    (``stable=True`` is PyTorch's promise of it). The gradient goes back to each element."""
    input = as_tensor_arg(input, "input")
    if input.ndim == 0:
        return _of_0d(input, sort, descending=descending)
    dim = check_dim(dim, input.ndim)
    indices = _order(input._data, dim, bool(descending))
    return SortResult(SortFn.apply(input, indices=indices, dim=dim), _constant(indices))


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (int64; see ``sort``)."""
    return sort(input, dim, descending, stable=stable).indices


class TopkFn(_PickFn):
    """topk's values: ``_PickFn`` with the first k of the sorting order as the indices."""


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices,
    a named tuple ``(values, indices)``, largest (smallest) first; NaN counts as the largest.
    They come sorted with ``sorted=False`` too (PyTorch leaves the order open there)."""
    input = as_tensor_arg(input, "input")
    k = check_int(k, "k")
    size = input.shape[check_dim(dim, input.ndim)] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    if input.ndim == 0:
        out = topk(input.reshape(1), k, 0, largest)  # k is 0 or 1
        return out if k == 0 else TopkResult(*(t.reshape(()) for t in out))
    dim = check_dim(dim, input.ndim)
    indices = np.take(_order(input._data, dim, bool(largest)), np.arange(k), axis=dim)
    return TopkResult(TopkFn.apply(input, indices=indices, dim=dim), _constant(indices))


class KthvalueFn(_PickFn):
    """kthvalue's values: ``_PickFn`` with the k-th of the sorting order as the index."""


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest value along ``dim`` (k counts from 1) and its index, a named tuple
    ``(values, indices)``; NaN counts as the largest. The gradient goes to that element."""
    input = as_tensor_arg(input, "input")
    k = check_int(k, "k")
    if input.ndim == 0:
        return _of_0d(input, kthvalue, k)
    dim = check_dim(dim, input.ndim)
    _nonempty(input, dim, "kthvalue")
    if not 1 <= k <= input.shape[dim]:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    indices = np.take(_order(input._data, dim), [k - 1], axis=dim)
    values = KthvalueFn.apply(input, indices=indices, dim=dim, keepdim=bool(keepdim))
    return KthvalueResult(values, _constant(indices if keepdim else np.squeeze(indices, dim)))


class MedianFn(Function):
    @staticmethod
    def forward(ctx, a):
        flat = a.reshape(-1)
        nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
        if flat.size == 0 or nan.any():
            value = np.array(np.nan, a.dtype)
        else:
            half = (flat.size - 1) // 2  # the lower of the two middle values, as PyTorch
            value = np.partition(flat, half)[half]
        ctx.mask = (a == value) | (nan & np.isnan(value))
        return np.asarray(value, a.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # d median / d a_i = 1/k for each of the k elements equal to the median (the NaNs if it
        # is NaN), 0 elsewhere: split evenly among ties, as PyTorch's median()
        return grad_out * ctx.mask / np.maximum(ctx.mask.sum(), 1)


class MedianDimFn(_PickFn):
    """median(dim)'s values: ``_PickFn`` with the middle of the sorting order as the index."""


def median(input, dim=None, keepdim=False):
    """As ``torch.median``: without ``dim`` the lower median of all the values (a 0-d tensor; NaN
    if there is a NaN or no value; the gradient is split among the values equal to it); with
    ``dim`` a named tuple ``(values, indices)`` of the lower medians along it (a NaN and the
    index of the slice's first NaN where it has one; the gradient goes to that element)."""
    input = as_tensor_arg(input, "input")
    if dim is None:
        if input.numel() == 0 and input.dtype.kind != "f":
            raise RuntimeError("median() of an empty integer tensor has no value")
        return MedianFn.apply(input)
    if input.ndim == 0:
        return _of_0d(input, median)
    dim = check_dim(dim, input.ndim)
    _nonempty(input, dim, "median")
    a = input._data
    indices = np.take(_order(a, dim), [(a.shape[dim] - 1) // 2], axis=dim)
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        first_nan = np.argmax(nan, axis=dim, keepdims=True)
        indices = np.where(nan.any(axis=dim, keepdims=True), first_nan, indices)
    values = MedianDimFn.apply(input, indices=indices, dim=dim, keepdim=bool(keepdim))
    return MedianResult(values, _constant(indices if keepdim else np.squeeze(indices, dim)))


class ModeFn(_PickFn):
    """mode's values: ``_PickFn`` with the index of a most frequent value."""


def _mode_indices(a, dim):
    """Per slice along ``dim`` (kept as size 1): the index of the last occurrence of the
    smallest of the most frequent values; each NaN counts as a value of its own."""
    order = _order(a, dim)
    s = np.moveaxis(np.take_along_axis(a, order, axis=dim), dim, -1)
    order = np.moveaxis(order, dim, -1)
    pos = np.arange(s.shape[-1])
    differs = s[..., 1:] != s[..., :-1]  # run boundaries in the sorted values (NaN != NaN)
    edge = np.ones(s.shape[:-1] + (1,), bool)
    starts = np.concatenate([edge, differs], axis=-1)
    ends = np.concatenate([differs, edge], axis=-1)
    start = np.maximum.accumulate(np.where(starts, pos, 0), axis=-1)
    length = np.where(ends, pos - start + 1, 0)  # each run's length, at its last element
    best = np.argmax(length, axis=-1)[..., None]  # the first longest run: the smallest value
    return np.moveaxis(np.take_along_axis(order, best, axis=-1), -1, dim)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest one among equally frequent values)
    and the index of its last occurrence, a named tuple ``(values, indices)``."""
    input = as_tensor_arg(input, "input")
    if input.ndim == 0:
        return _of_0d(input, mode)
    dim = check_dim(dim, input.ndim)
    _nonempty(input, dim, "mode")
    indices = _mode_indices(input._data, dim)
    values = ModeFn.apply(input, indices=indices, dim=dim, keepdim=bool(keepdim))
    return ModeResult(values, _constant(indices if keepdim else np.squeeze(indices, dim)))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input`` in ascending order (1-d; with ``dim``, the distinct
    slices along it), and if asked the index of each element's value among them
    (``return_inverse``, int64, ``input``'s shape, or 1-d along ``dim``) and how often each
    occurs (``return_counts``). A tensor alone, else a tuple. Each NaN counts as distinct, as in
    PyTorch; the result is sorted with ``sorted=False`` too. No gradient."""
    a = as_tensor_arg(input, "input")._data
    if dim is None:
        flat = a.reshape(-1)
        order = np.argsort(flat, kind="stable")
        s = flat[order]
        starts = np.ones(s.shape, bool)
        starts[1:] = s[1:] != s[:-1]
        values = s[starts]
        inverse = np.empty(flat.shape, np.int64)
        inverse[order] = np.cumsum(starts) - 1
        inverse = inverse.reshape(a.shape)
        counts = np.diff(np.append(np.flatnonzero(starts), flat.size))
    else:
        dim = check_dim(dim, a.ndim)
        if a.shape[dim] == 0:
            values, inverse, counts = a.copy(), np.zeros(0, np.int64), np.zeros(0, np.int64)
        else:
            values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True,
                                                axis=dim, equal_nan=False)
            inverse = inverse.reshape(-1)
    out = [_constant(values)]
    out += [_constant(inverse.astype(np.int64))] if return_inverse else []
    out += [_constant(counts.astype(np.int64))] if return_counts else []
    return out[0] if len(out) == 1 else tuple(out)


class BincountFn(Function):
    @staticmethod
    def forward(ctx, weights, x, minlength):
        out = np.bincount(x, weights, minlength)
        return out.astype(np.float32 if weights.dtype == np.float32 else np.float64)

    @staticmethod
    def backward(ctx, grad_out):
        # recorded, as PyTorch records it, but without a derivative: backward through it fails
        raise RuntimeError("the derivative for bincount is not implemented (as in PyTorch)")


def bincount(input, weights=None, minlength=0):
    """How often each value 0, 1, ..., max occurs in the 1-d non-negative integer tensor
    ``input`` (int64), at least ``minlength`` counts; with ``weights`` (``input``'s shape) the
    sums of the weights instead (float32 for float32 weights, else float64)."""
    input = as_tensor_arg(input, "input")
    if input.dtype.kind not in "iu":
        raise TypeError(f"bincount needs an integer tensor, got dtype {input._data.dtype}")
    minlength = check_int(minlength, "minlength", 0)
    x = input._data
    if x.ndim != 1 or (x.size and x.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _constant(np.bincount(x, minlength=minlength).astype(np.int64))
    weights = as_tensor_arg(weights, "weights")
    if weights.shape != input.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    return BincountFn.apply(weights, x, minlength=minlength)


def histc(input, bins=100, min=0, max=0):
    """A histogram of ``input``'s values: ``bins`` equal bins over ``[min, max]`` (the data's
    range if min = max), the last bin closed; values outside, and NaNs, are not counted. The
    counts come in ``input``'s float dtype. No gradient."""
    input = float_tensor_arg(input, "input")
    bins = check_int(bins, "bins", 1)
    a = input._data.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"histc: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError("histc: max must be larger than min")
    edges = np.linspace(lo, hi, bins + 1).astype(a.dtype)  # the edges in the input's dtype
    inside = a[(a >= lo) & (a <= hi)]
    where = np.clip(np.searchsorted(edges, inside, side="right") - 1, 0, bins - 1)
    return _constant(np.bincount(where, minlength=bins).astype(a.dtype))


# --- scans ---------------------------------------------------------------------------------------

class CumprodFn(Function):
    @staticmethod
    def forward(ctx, a, axis):
        # integers and bools multiply in int64, as PyTorch's
        out = a.copy() if a.ndim == 0 else np.cumprod(
            a, axis=axis, dtype=np.int64 if a.dtype.kind in "biu" else a.dtype)
        ctx.save_for_backward(a, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # out_j = prod_{i <= j} a_i, so dL/da_k = sum_{j >= k} g_j prod_{i <= j, i != k} a_i.
        # Before a slice's first zero z that is (sum_{j >= k} g_j out_j) / a_k; at z it is
        # sum_{j >= z} g_j out'_j, out' the running product with a_z taken as 1; after z it is
        # 0 (each product there still holds a_z = 0). PyTorch's cumprod_backward does the same.
        a, out = ctx.saved_tensors
        if a.ndim == 0:
            return grad_out
        a, g, out = (np.moveaxis(x, ctx.axis, -1) for x in (a, grad_out, out))
        pos = np.arange(a.shape[-1])
        zero = a == 0
        first = np.where(zero.any(-1, keepdims=True), np.argmax(zero, -1)[..., None], a.shape[-1])
        before, at = pos < first, pos == first
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            later = np.flip(np.cumsum(np.flip(np.where(before, g * out, 0), -1), -1), -1)
            grad = np.where(before, later / np.where(before, a, 1), 0)
            if at.any():
                rest = np.cumprod(np.where(at, 1, a), -1)
                grad = np.where(at, np.where(pos >= first, g * rest, 0).sum(-1, keepdims=True),
                                grad)
        return np.moveaxis(grad, -1, ctx.axis)


def cumprod(input, dim, *, dtype=None):
    """Running products along ``dim`` (integers and bools give int64); ``dtype`` casts the input
    first. The gradient is exact at zeros, as PyTorch's."""
    input = as_tensor_arg(input, "input")
    if dtype is not None:
        input = input.to(dtype)
    return CumprodFn.apply(input, axis=check_dim(dim, input.ndim))


class CummaxFn(_PickFn):
    """cummax's values: ``_PickFn`` with the index of each running maximum."""


class CumminFn(_PickFn):
    """cummin's values: ``_PickFn`` with the index of each running minimum."""


def _running(input, dim, largest):
    input = as_tensor_arg(input, "input")
    if input.ndim == 0:
        return _of_0d(input, cummax if largest else cummin)
    dim = check_dim(dim, input.ndim)
    a = input._data
    best = (np.maximum if largest else np.minimum).accumulate(a, axis=dim)  # NaN propagates
    # where a_i reaches the running extreme (a tie too, and every NaN) the index moves to i,
    # and it stays until the next such i (PyTorch's rule: ties take the last index)
    new = (a == best) | (np.isnan(a) if a.dtype.kind == "f" else False)
    pos = np.arange(a.shape[dim]).reshape([-1 if d == dim else 1 for d in range(a.ndim)])
    indices = np.maximum.accumulate(np.where(new, pos, 0), axis=dim)
    fn, result = (CummaxFn, CummaxResult) if largest else (CumminFn, CumminResult)
    return result(fn.apply(input, indices=indices, dim=dim), _constant(indices))


def cummax(input, dim):
    """The running maximum along ``dim`` and where it was reached (the last index among ties),
    a named tuple ``(values, indices)``; after a NaN, NaN. The gradient goes to those
    elements."""
    return _running(input, dim, largest=True)


def cummin(input, dim):
    """The running minimum along ``dim`` and its indices (see ``cummax``)."""
    return _running(input, dim, largest=False)


class LogcumsumexpFn(Function):
    @staticmethod
    def forward(ctx, a, axis):
        with np.errstate(invalid="ignore"):  # a NaN propagates, silently as in PyTorch
            out = a.copy() if a.ndim == 0 else np.logaddexp.accumulate(a, axis=axis)
        ctx.save_for_backward(a, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # out_j = log sum_{i <= j} e^(a_i), so dL/da_i = sum_{j >= i} g_j e^(a_i - out_j):
        # summed in log space, the positive and the negative g_j apart (PyTorch's formula,
        # which cannot overflow)
        a, out = ctx.saved_tensors
        if a.ndim == 0:
            return grad_out
        axis, lowest = ctx.axis, np.finfo(grad_out.dtype).min
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_g = np.log(np.abs(grad_out))

            def part(sign):
                logs = np.where(sign * grad_out > 0, log_g, lowest) - out
                later = np.flip(np.logaddexp.accumulate(np.flip(logs, axis), axis=axis), axis)
                return np.exp(later + a)
            return part(1) - part(-1)


def logcumsumexp(input, dim):
    """``log(cumsum(exp(input)))`` along ``dim``, without overflow. Float tensors only."""
    input = float_tensor_arg(input, "input")
    return LogcumsumexpFn.apply(input, axis=check_dim(dim, input.ndim))


# --- reductions that skip NaN, and pairs of statistics ------------------------------------------

class NansumFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        ctx.kept = ~np.isnan(a) if a.dtype.kind == "f" else None
        return np.asarray(np.nansum(a, axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, grad_out):
        # d nansum(a)/da_i = 1 where a_i is not NaN, 0 at the NaNs
        return expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims) * ctx.kept


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum over ``dim`` (an int, a tuple, or None for all) with NaN counted as 0; integers
    and bools sum in int64."""
    input = as_tensor_arg(input, "input")
    if dtype is not None:
        input = input.to(dtype)
    return NansumFn.apply(input, axis=_axis(dim, input.ndim), keepdims=bool(keepdim))


class NanmeanFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        kept = ~np.isnan(a)
        ctx.a_shape, ctx.axis, ctx.keepdims, ctx.kept = a.shape, axis, keepdims, kept
        ctx.count = kept.sum(axis=axis, keepdims=keepdims)
        with np.errstate(invalid="ignore"):  # a slice of only NaN: 0 / 0 = NaN, as PyTorch
            return np.asarray(np.nansum(a, axis=axis, keepdims=keepdims) / ctx.count, a.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # d(nansum(a) / count)/da_i = 1 / count where a_i is not NaN, 0 at the NaNs (NaN in a
        # slice of only NaN, 0 * (g / 0), as PyTorch)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = expand_reduced(grad_out / ctx.count, ctx.a_shape, ctx.axis, ctx.keepdims)
            return g * ctx.kept


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean over ``dim`` of the values that are not NaN (NaN if there are none). Float
    tensors only."""
    input = float_tensor_arg(input, "input")
    if dtype is not None:
        input = input.to(dtype)
    return NanmeanFn.apply(input, axis=_axis(dim, input.ndim), keepdims=bool(keepdim))


def aminmax(input, *, dim=None, keepdim=False):
    """``(amin(input, dim, keepdim), amax(input, dim, keepdim))`` as a named tuple ``(min,
    max)``, over all values if ``dim`` is None (NaN propagates; the gradient is split among
    ties, as amin/amax's)."""
    input = as_tensor_arg(input, "input")
    size = input.numel() if dim is None or input.ndim == 0 else \
        input.shape[check_dim(dim, input.ndim)]
    if size == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    return AminmaxResult(amin(input, dim, keepdim), amax(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std(...), mean(...))`` over ``dim`` with ``std``'s arguments (a tuple, as PyTorch's).
    Float tensors only."""
    input = float_tensor_arg(input, "input")
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var(...), mean(...))`` over ``dim`` with ``var``'s arguments. Float tensors only."""
    input = float_tensor_arg(input, "input")
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))
