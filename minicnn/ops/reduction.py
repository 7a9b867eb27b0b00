"""Reductions: sum, mean, max/min (with indices), amax/amin, var/std, prod, norm, cumsum,
logsumexp; each Function above its wrapper."""
import collections

import numpy as np

from minicnn._checks import check_dim, check_dims
from minicnn._tensor import Function, Tensor
from minicnn.ops._common import expand_reduced
from minicnn.ops.arithmetic import maximum, minimum

_builtin_max = max  # this module's max() shadows it


__all__ = [
    "SumFn", "sum", "MeanFn", "mean", "MaxFn", "amax", "amin", "MaxDimFn", "max", "min",
    "VarFn", "var", "std", "ProdFn", "prod", "NormFn", "norm", "CumsumFn", "cumsum",
    "LogsumexpFn", "logsumexp",
]


class SumFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_out):
        # d(sum a)/da_i = 1: every summed element gets the output's gradient
        return expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims)


def sum(input, dim=None, keepdim=False):
    """Sum over ``dim`` (an int, a tuple of ints, or None for all)."""
    return SumFn.apply(input, axis=check_dims(dim, input.ndim), keepdims=bool(keepdim))


class MeanFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        out = a.mean(axis=axis, keepdims=keepdims)
        ctx.count = _builtin_max(a.size // _builtin_max(np.size(out), 1), 1) if a.size else 1
        return out.astype(a.dtype, copy=False) if a.dtype.kind == "f" else out

    @staticmethod
    def backward(ctx, grad_out):
        # d(mean a)/da_i = 1/n
        return expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims) / ctx.count


def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (an int, a tuple of ints, or None for all)."""
    return MeanFn.apply(input, axis=check_dims(dim, input.ndim), keepdims=bool(keepdim))


class MaxFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        out = a.max(axis=axis, keepdims=True)
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        # A NaN is the max (NumPy propagates it), so the NaN elements take the gradient, as in
        # PyTorch; `a == out` alone would be all False there and the backward 0/0.
        ctx.mask = (a == out) | (np.isnan(a) & np.isnan(out))
        return out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))

    @staticmethod
    def backward(ctx, grad_out):
        # d(max a)/da_i = 1/k for each of the k elements equal to the max, 0 elsewhere
        # (PyTorch's full-reduction max splits ties evenly too; this keeps the gradient a
        # valid subgradient, and makes it symmetric in tied inputs).
        g = expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims)
        ties = ctx.mask.sum(axis=ctx.axis, keepdims=True)
        return g * ctx.mask / ties.astype(grad_out.dtype)


def amax(input, dim=None, keepdim=False):
    """Maximum over ``dim`` (an int, a tuple of ints, or None for all), values only.

    The gradient is split evenly among tied maxima, as ``torch.amax``.
    """
    return MaxFn.apply(input, axis=check_dims(dim, input.ndim), keepdims=bool(keepdim))


def amin(input, dim=None, keepdim=False):
    """Minimum over ``dim``: ``-amax(-input)`` (gradient split evenly among ties)."""
    return -amax(-input, dim, keepdim)


class MaxDimFn(Function):
    @staticmethod
    def forward(ctx, a, indices, dim, keepdim):
        # indices: the argmax along dim, kept as a size-1 axis (see _max_or_min)
        ctx.a_shape, ctx.dim, ctx.keepdim, ctx.indices = a.shape, dim, keepdim, indices
        out = np.take_along_axis(a, indices, axis=dim)
        return out if keepdim else out.squeeze(dim)

    @staticmethod
    def backward(ctx, grad_out):
        # d(max_j a_j)/da_i = 1 for i the returned index, 0 elsewhere (ties: only that one)
        g = grad_out if ctx.keepdim else np.expand_dims(grad_out, ctx.dim)
        grad = np.zeros(ctx.a_shape, dtype=grad_out.dtype)
        np.put_along_axis(grad, ctx.indices, g, axis=ctx.dim)
        return grad, None


MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


def _max_or_min(input, dim, keepdim, other, largest):
    name = "max" if largest else "min"
    if isinstance(dim, Tensor) and other is None:  # max(input, other): torch.max's overload
        dim, other = None, dim
    if other is not None:
        return maximum(input, other) if largest else minimum(input, other)
    if dim is None:
        return amax(input) if largest else amin(input)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}(dim=...) takes one dimension, got {dim!r}; use "
                        f"a{name}(dim=...) to reduce over several")
    dim = check_dim(dim, input.ndim)
    if input.ndim == 0:
        return (MaxResult if largest else MinResult)(input, Tensor._make(np.array(0), None))
    if 0 in input.shape:
        raise IndexError(f"{name}(): cannot reduce over dimension {dim} of a tensor of shape "
                         f"{input.shape}, which has no elements")
    source = input if largest else -input
    # argmax returns the first maximum, and the first NaN if there is one (a NaN is the max)
    indices = np.expand_dims(np.argmax(source.data, axis=dim), dim).astype(np.int64)
    values = MaxDimFn.apply(source, indices, dim=dim, keepdim=bool(keepdim))
    result = MaxResult if largest else MinResult
    return result(values if largest else -values,
                  Tensor._make(indices if keepdim else indices.squeeze(dim), None))


def max(input, dim=None, keepdim=False, *, other=None):
    """As ``torch.max``: ``max(input)`` the largest value (a 0-d tensor; the gradient is split
    among ties); ``max(input, dim, keepdim=False)`` a named tuple ``(values, indices)`` along
    ``dim`` (the first maximum's index; its gradient goes to that element only);
    ``max(input, other)`` the elementwise maximum."""
    return _max_or_min(input, dim, keepdim, other, largest=True)


def min(input, dim=None, keepdim=False, *, other=None):
    """As ``torch.min``: the smallest value, ``(values, indices)`` along ``dim``, or the
    elementwise minimum with ``other`` (see ``max``)."""
    return _max_or_min(input, dim, keepdim, other, largest=False)


def _count(shape, axis):
    """How many elements a reduction over ``axis`` (None, an int or a tuple) combines."""
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


class VarFn(Function):
    @staticmethod
    def forward(ctx, a, axis, correction, keepdims):
        d = a - a.mean(axis=axis, keepdims=True)
        ctx.d, ctx.axis, ctx.keepdims = d, axis, keepdims
        ctx.divisor = _builtin_max(_count(a.shape, axis) - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= correction: NaN, as torch
            return ((d * d).sum(axis=axis, keepdims=keepdims) / ctx.divisor).astype(a.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # var = sum((a - mean)^2) / (n - correction);  d var / d a_i = 2 (a_i - mean) / (n - c)
        # (the mean's own dependence on a_i drops out: the deviations sum to zero)
        g = expand_reduced(grad_out, ctx.d.shape, ctx.axis, ctx.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * (2 * ctx.d / ctx.divisor).astype(grad_out.dtype)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased in (None, True) else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim``: ``sum((x - mean)^2) / (n - correction)``, correction 1 by default
    (Bessel's, as PyTorch; ``unbiased=False`` or ``correction=0`` for the population variance)."""
    return VarFn.apply(input, axis=check_dims(dim, input.ndim),
                       correction=_correction(unbiased, correction), keepdims=bool(keepdim))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: ``sqrt(var(...))`` with the same arguments."""
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


class ProdFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a, ctx.axis, ctx.keepdims = a, axis, keepdims
        return np.asarray(np.prod(a, axis=axis, keepdims=keepdims), dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # d prod(a) / d a_i = the product of all the other elements: the exclusive products
        # from the left times those from the right (no division, so zeros are fine)
        a, axis = ctx.a, ctx.axis
        flat = a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1)
        ones = np.ones(flat.shape[:-1] + (1,), a.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = left * right
        others = others.reshape(a.shape) if axis is None else np.moveaxis(others, -1, axis)
        return expand_reduced(grad_out, a.shape, axis, ctx.keepdims) * others


def prod(input, dim=None, keepdim=False):
    """Product over ``dim`` (one dimension, or all if None)."""
    axis = None if dim is None else check_dim(dim, input.ndim)
    return ProdFn.apply(input, axis=axis, keepdims=bool(keepdim))


class NormFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        out = np.sqrt((a * a).sum(axis=axis, keepdims=True))
        ctx.a, ctx.out, ctx.axis, ctx.keepdims = a, out, axis, keepdims
        return out if keepdims else out.reshape(()) if axis is None else np.squeeze(out, axis)

    @staticmethod
    def backward(ctx, grad_out):
        # d ||a|| / d a_i = a_i / ||a||; 0 where the norm is 0 (as PyTorch's subgradient)
        g = expand_reduced(grad_out, ctx.a.shape, ctx.axis, ctx.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(ctx.out == 0, 0, ctx.a / ctx.out)
        return g * scale.astype(grad_out.dtype)


def norm(input, p="fro", dim=None, keepdim=False):
    """The vector p-norm over ``dim`` (all elements if None): p = 2 or "fro" (the default),
    1, inf, or any other positive number."""
    axis = check_dims(dim, input.ndim)
    if p in ("fro", 2, 2.0):
        return NormFn.apply(input, axis=axis, keepdims=bool(keepdim))
    if p in (float("inf"), "inf"):
        return amax(input.abs(), dim, keepdim)
    if p in (1, 1.0):
        return sum(input.abs(), dim, keepdim)
    if not isinstance(p, (int, float)) or p <= 0:
        raise ValueError(f"norm: p must be 'fro', a positive number or inf, got {p!r}")
    return sum(input.abs() ** p, dim, keepdim) ** (1.0 / p)


class CumsumFn(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        return np.cumsum(a, axis=axis, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # out_j = sum_{i <= j} a_i, so d L / d a_i = sum_{j >= i} g_j: a cumsum from the end
        flipped = np.flip(grad_out, ctx.axis)
        return np.flip(np.cumsum(flipped, axis=ctx.axis), ctx.axis)


def cumsum(input, dim):
    """Running sums along ``dim``."""
    return CumsumFn.apply(input, axis=check_dim(dim, input.ndim))


class LogsumexpFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        m = a.max(axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf (or an inf): no shift, let exp decide
        with np.errstate(divide="ignore"):  # a row of only -inf: log(0) = -inf is the answer
            out = m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))
        ctx.a, ctx.out, ctx.axis, ctx.keepdims = a, out, axis, keepdims
        return out if keepdims else np.squeeze(out, axis)

    @staticmethod
    def backward(ctx, grad_out):
        # d logsumexp(a) / d a_i = exp(a_i) / sum_j exp(a_j) = exp(a_i - logsumexp(a)): softmax
        g = expand_reduced(grad_out, ctx.a.shape, ctx.axis, ctx.keepdims)
        return g * np.exp(ctx.a - ctx.out)


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(input)))`` over ``dim``, computed without overflow (shifted by the max)."""
    return LogsumexpFn.apply(input, axis=check_dims(dim, input.ndim), keepdims=bool(keepdim))
