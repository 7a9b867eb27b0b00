"""Reductions: sum, mean, max/min (with indices), amax/amin, var/std, prod, norm, cumsum,
logsumexp; each Function above its wrapper."""
import collections
import math
import numbers

import numpy as np

from minicnn._checks import check_dim, check_dims
from minicnn._tensor import Function, Tensor, float_tensor_arg
from minicnn.ops._common import _float_input, expand_reduced
from minicnn.ops.arithmetic import maximum, minimum
from minicnn.ops.pointwise import _sign

_builtin_max = max  # this module's max() shadows it


__all__ = [
    "SumFn", "sum", "MeanFn", "mean", "MaxFn", "amax", "amin", "MaxDimFn", "max", "min",
    "VarFn", "var", "StdFn", "std", "ProdFn", "prod", "NormFn", "norm", "CumsumFn", "cumsum",
    "LogsumexpFn", "logsumexp",
]


def _axis(dim, ndim):
    """``dim`` checked (``check_dims``) and made NumPy's ``axis``: None (every dimension) also
    for an empty tuple and for a 0-d tensor, whose dim 0 or -1 is its one value (PyTorch reduces
    over all of it in both cases)."""
    axis = check_dims(dim, ndim)
    return None if ndim == 0 or axis == () else axis


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
    return SumFn.apply(input, axis=_axis(dim, input.ndim), keepdims=bool(keepdim))


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
    """Mean over ``dim`` (an int, a tuple of ints, or None for all). Float tensors only, as
    PyTorch's (``x.float().mean()`` for an integer or bool tensor)."""
    input = float_tensor_arg(input, "input")
    return MeanFn.apply(input, axis=_axis(dim, input.ndim), keepdims=bool(keepdim))


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
    return MaxFn.apply(input, axis=_axis(dim, input.ndim), keepdims=bool(keepdim))


def amin(input, dim=None, keepdim=False):
    """Minimum over ``dim``: ``-amax(-input)`` (gradient split evenly among ties)."""
    return -amax(-input, dim, keepdim)


class MaxDimFn(Function):
    @staticmethod
    def forward(ctx, a, indices, dim, keepdim):
        # indices: the argmax along dim, kept as a size-1 axis (see _max_or_min); dim None: a
        # 0-d tensor, its own max and min along dim 0 or -1
        ctx.a_shape, ctx.dim, ctx.keepdim, ctx.indices = a.shape, dim, keepdim, indices
        if dim is None:
            return a.copy()
        out = np.take_along_axis(a, indices, axis=dim)
        return out if keepdim else out.squeeze(dim)

    @staticmethod
    def backward(ctx, grad_out):
        # d(max_j a_j)/da_i = 1 for i the returned index, 0 elsewhere (ties: only that one)
        if ctx.dim is None:
            return grad_out, None
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
    if input.ndim == 0:  # its one value, at index 0: a new tensor, recorded (as PyTorch)
        indices = np.zeros((), np.int64)
        values = MaxDimFn.apply(input, indices, dim=None, keepdim=bool(keepdim))
        return (MaxResult if largest else MinResult)(values, Tensor._make(indices, None))
    if 0 in input.shape:
        raise IndexError(f"{name}(): cannot reduce over dimension {dim} of a tensor of shape "
                         f"{input.shape}, which has no elements")
    source = input if largest else -input
    # argmax returns the first maximum, and the first NaN if there is one (a NaN is the max)
    indices = np.expand_dims(np.argmax(source._data, axis=dim), dim).astype(np.int64)
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


def _accumulator(a):
    """The dtype a product or running sum of ``a`` accumulates in: int64 for integers and
    bools (as PyTorch: an int32 prod is int64), else ``a``'s own."""
    return np.dtype(np.int64) if a.dtype.kind in "biu" else a.dtype


def _count(shape, axis):
    """How many elements a reduction over ``axis`` (None, an int or a tuple) combines."""
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


class VarFn(Function):
    @staticmethod
    def forward(ctx, a, axis, correction, keepdims):
        mean = a.mean(axis=axis, keepdims=True)
        d = a - mean
        ctx.d, ctx.axis, ctx.keepdims = d, axis, keepdims
        ctx.dof = _count(a.shape, axis) - correction  # degrees of freedom, n - correction
        if axis is None and ctx.dof <= 0:
            ctx.at_mean = a == mean
        # n <= correction: the sum over max(n - c, 0) = 0 is inf, or NaN if it is 0 (as torch)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = (d * d).sum(axis=axis, keepdims=keepdims) / _builtin_max(ctx.dof, 0)
        return np.asarray(var).astype(a.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        g = expand_reduced(grad_out, ctx.d.shape, ctx.axis, ctx.keepdims)
        if ctx.axis is None and ctx.dof <= 0:
            # PyTorch's var_backward over all elements when n <= correction: 2 / (n - c) is
            # taken as +inf, times the deviation: NaN where a equals the mean, +inf elsewhere
            return g * np.where(ctx.at_mean, np.nan, np.inf).astype(g.dtype)
        # var = sum((a - mean)^2) / (n - correction);  d var / d a_i = 2 (a_i - mean) / (n - c)
        # (the mean's own dependence on a_i drops out: the deviations sum to zero). Along a
        # dim PyTorch keeps this formula even for n <= c: 2/0 = inf, or a negative factor.
        scale = 2.0 / ctx.dof if ctx.dof else math.inf
        with np.errstate(invalid="ignore", over="ignore"):
            return scale * g * ctx.d


class StdFn(VarFn):
    @staticmethod
    def forward(ctx, a, axis, correction, keepdims):
        out = np.sqrt(VarFn.forward(ctx, a, axis, correction, keepdims))
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # std = sqrt(var): d std = d var / (2 std), then var's backward. Where std is 0 PyTorch
        # takes d var = 0 (masked_fill), not g / 0 = inf, which times the zero deviations would
        # be NaN: a constant input gets gradient 0.
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_var = np.where(ctx.out == 0, 0, grad_out / (2 * ctx.out))
        return VarFn.backward(ctx, grad_var.astype(grad_out.dtype, copy=False))


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased in (None, True) else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim``: ``sum((x - mean)^2) / (n - correction)``, correction 1 by default
    (Bessel's, as PyTorch; ``unbiased=False`` or ``correction=0`` for the population variance).
    Float tensors only."""
    input = float_tensor_arg(input, "input")
    return VarFn.apply(input, axis=_axis(dim, input.ndim),
                       correction=_correction(unbiased, correction), keepdims=bool(keepdim))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: ``sqrt(var(...))`` with the same arguments; its gradient is 0 where
    it is 0 (a constant input), as PyTorch's. Float tensors only."""
    input = float_tensor_arg(input, "input")
    return StdFn.apply(input, axis=_axis(dim, input.ndim),
                       correction=_correction(unbiased, correction), keepdims=bool(keepdim))


class ProdFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a, ctx.axis, ctx.keepdims = a, axis, keepdims
        # integers and bools multiply in int64, as PyTorch's
        return np.asarray(np.prod(a, axis=axis, keepdims=keepdims, dtype=_accumulator(a)))

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
    if input.ndim == 0:  # dim 0 or -1 of a 0-d tensor: its one value
        axis = None
    return ProdFn.apply(input, axis=axis, keepdims=bool(keepdim))


class NormFn(Function):
    @staticmethod
    def forward(ctx, a, p, axis, keepdims):
        size = np.abs(a)
        with np.errstate(divide="ignore", over="ignore"):  # p < 0 and a zero: |0|^p = inf
            if p == 0:  # the number of nonzero elements
                out = (a != 0).sum(axis=axis, keepdims=True).astype(a.dtype)
            elif p == math.inf:
                out = size.max(axis=axis, keepdims=True)
            elif p == -math.inf:
                out = size.min(axis=axis, keepdims=True)
            elif p == 1:
                out = size.sum(axis=axis, keepdims=True)
            elif p == 2:
                out = np.sqrt((a * a).sum(axis=axis, keepdims=True))
            else:
                out = (size ** p).sum(axis=axis, keepdims=True) ** (1 / p)
        ctx.a, ctx.p, ctx.out, ctx.axis, ctx.keepdims = a, p, out, axis, keepdims
        return out if keepdims else out.reshape(()) if axis is None else np.squeeze(out, axis)

    @staticmethod
    def backward(ctx, grad_out):
        # PyTorch's norm_backward, case by case (||a|| = (sum |a_i|^p)^(1/p), sgn(NaN) = 0):
        a, p, out = ctx.a, ctx.p, ctx.out
        if p == 0:
            # a count is piecewise constant: PyTorch returns no gradient at all (.grad stays None)
            return None
        g = expand_reduced(grad_out, a.shape, ctx.axis, ctx.keepdims)
        sgn = _sign(a)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if p == 1:
                # d sum |a| / d a_i = sgn(a_i)
                return sgn * g
            if p == 2:
                # d ||a|| / d a_i = a_i / ||a||; 0 where the norm is 0
                return g * np.where(out == 0, 0, a / out).astype(g.dtype, copy=False)
            if math.isinf(p):
                # max (min) |a|: the gradient split evenly among the elements at the max (min)
                # and the NaNs, with their sign
                size = np.abs(a)
                mask = (size == out) | np.isnan(size)
                return sgn * (g / mask.sum(axis=ctx.axis, keepdims=True)) * mask
            if p < 1:
                # d ||a|| / d a_i = sgn(a_i) |a_i|^(p-1) ||a||^(1-p), taken as 0 where a_i = 0
                # (|0|^(p-1) is inf there): the norm's zero entries get no gradient, not NaN
                scaled = sgn * np.where(a == 0, 0, np.abs(a) ** (p - 1)).astype(a.dtype)
                return scaled * g * out ** (1 - p)
            # p > 1: the same formula as g / ||a||^(p-1), taken as 0 where the norm is 0
            scaled = sgn * np.abs(a) ** (p - 1) if p < 2 else a * np.abs(a) ** (p - 2)
            scale = np.where(out == 0, 0, g / out ** (p - 1)).astype(g.dtype, copy=False)
            return scaled * scale


def norm(input, p="fro", dim=None, keepdim=False):
    """The vector p-norm ``(sum |x|^p)^(1/p)`` over ``dim`` (all elements if None), as
    ``torch.norm`` on vectors: p = 2 or "fro" (the default), any real p, inf (max |x|), -inf
    (min |x|), or 0 (the number of nonzeros, which has no gradient).

    The gradient is PyTorch's: 0 where the norm is 0, 0 at zero entries for p < 1, split evenly
    among tied maxima for inf.
    """
    if p == "fro":
        p = 2
    elif p == "inf":
        p = math.inf
    elif isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) or math.isnan(p):
        raise ValueError(f"norm: p must be 'fro' or a real number (inf and -inf included), got "
                         f"{p!r}")
    input = float_tensor_arg(input, "input")  # float tensors only, as PyTorch's
    return NormFn.apply(input, p=float(p), axis=_axis(dim, input.ndim), keepdims=bool(keepdim))


class CumsumFn(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        if a.ndim == 0:  # along dim 0 or -1 of a 0-d tensor: the value itself, as PyTorch
            return a.copy()
        return np.cumsum(a, axis=axis, dtype=_accumulator(a))  # integers: int64, as PyTorch

    @staticmethod
    def backward(ctx, grad_out):
        # out_j = sum_{i <= j} a_i, so d L / d a_i = sum_{j >= i} g_j: a cumsum from the end
        if grad_out.ndim == 0:
            return grad_out
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
    """``log(sum(exp(input)))`` over ``dim``, computed without overflow (shifted by the max);
    an integer tensor gives float32."""
    return LogsumexpFn.apply(_float_input(input), axis=_axis(dim, input.ndim), keepdims=bool(keepdim))
