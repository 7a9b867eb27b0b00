"""Reductions: sum, mean, max/min (with indices along a dim), amax/amin; Function above wrapper."""
import collections

import numpy as np

from minicnn._checks import check_dim, check_dims
from minicnn._tensor import Function, Tensor
from minicnn.ops._common import expand_reduced
from minicnn.ops.arithmetic import maximum, minimum

_builtin_max = max  # this module's max() shadows it


__all__ = [
    "SumFn", "sum", "MeanFn", "mean", "MaxFn", "amax", "amin", "MaxDimFn", "max", "min",
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
