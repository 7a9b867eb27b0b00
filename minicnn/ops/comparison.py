"""Comparisons, logic, argmax/argmin, all/any: results without a gradient (bool or int64)."""
import numpy as np

from minicnn._checks import check_dim
from minicnn._tensor import Tensor

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "equal", "allclose", "isclose", "isnan",
           "isinf", "isfinite", "logical_not", "logical_and", "logical_or", "logical_xor",
           "argmax", "argmin", "all", "any", "count_nonzero", "nonzero"]


def _array(value):
    return value._data if isinstance(value, Tensor) else np.asarray(value)


def _constant(array):
    return Tensor._make(np.asarray(array), None)


def eq(input, other):
    """``input == other`` elementwise (a bool tensor)."""
    return _constant(np.equal(_array(input), _array(other)))


def ne(input, other):
    """``input != other`` elementwise."""
    return _constant(np.not_equal(_array(input), _array(other)))


def lt(input, other):
    """``input < other`` elementwise."""
    return _constant(np.less(_array(input), _array(other)))


def le(input, other):
    """``input <= other`` elementwise."""
    return _constant(np.less_equal(_array(input), _array(other)))


def gt(input, other):
    """``input > other`` elementwise."""
    return _constant(np.greater(_array(input), _array(other)))


def ge(input, other):
    """``input >= other`` elementwise."""
    return _constant(np.greater_equal(_array(input), _array(other)))


def equal(input, other):
    """True if both have the same shape and values (a Python bool, as ``torch.equal``)."""
    a, b = _array(input), _array(other)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise."""
    return _constant(np.isclose(_array(input), _array(other), rtol, atol, equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if ``isclose`` holds everywhere (a Python bool)."""
    return bool(np.allclose(_array(input), _array(other), rtol, atol, equal_nan))


def isnan(input):
    """True where the value is NaN."""
    return _constant(np.isnan(_array(input)))


def isinf(input):
    """True where the value is +-infinity."""
    return _constant(np.isinf(_array(input)))


def isfinite(input):
    """True where the value is neither NaN nor infinite."""
    return _constant(np.isfinite(_array(input)))


def logical_not(input):
    """Elementwise not (``~x`` on a bool tensor)."""
    a = _array(input)
    return _constant(np.invert(a) if a.dtype.kind in "iu" else np.logical_not(a))


def logical_and(input, other):
    """Elementwise and (``x & y``)."""
    return _constant(np.logical_and(_array(input), _array(other)))


def logical_or(input, other):
    """Elementwise or (``x | y``)."""
    return _constant(np.logical_or(_array(input), _array(other)))


def logical_xor(input, other):
    """Elementwise exclusive or."""
    return _constant(np.logical_xor(_array(input), _array(other)))


def _arg(fn, input, dim, keepdim):
    a = _array(input)
    if dim is None:
        out = fn(a.reshape(-1))
        return _constant(np.asarray(out, np.int64).reshape((1,) * a.ndim if keepdim else ()))
    dim = check_dim(dim, a.ndim)
    return _constant(np.asarray(fn(a, axis=dim, keepdims=keepdim) if a.ndim else fn(a),
                                np.int64))


def argmax(input, dim=None, keepdim=False):
    """Indices (int64) of the maxima along ``dim`` (of the flattened tensor if None); the
    first one among ties."""
    return _arg(np.argmax, input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    """Indices (int64) of the minima along ``dim`` (of the flattened tensor if None)."""
    return _arg(np.argmin, input, dim, keepdim)


def all(input, dim=None, keepdim=False):
    """True if every element (along ``dim``) is nonzero."""
    a = _array(input)
    axis = None if dim is None else check_dim(dim, a.ndim)
    return _constant(np.all(a, axis=axis, keepdims=keepdim))


def any(input, dim=None, keepdim=False):
    """True if some element (along ``dim``) is nonzero."""
    a = _array(input)
    axis = None if dim is None else check_dim(dim, a.ndim)
    return _constant(np.any(a, axis=axis, keepdims=keepdim))


def count_nonzero(input, dim=None):
    """How many elements (along ``dim``) are nonzero (int64)."""
    a = _array(input)
    axis = None if dim is None else check_dim(dim, a.ndim)
    return _constant(np.asarray(np.count_nonzero(a, axis=axis), np.int64))


def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or one tensor per
    dimension with ``as_tuple=True``."""
    idx = np.nonzero(_array(input))
    if as_tuple:
        return tuple(_constant(i.astype(np.int64)) for i in idx)
    return _constant(np.stack(idx, axis=-1).astype(np.int64) if idx else
                     np.zeros((0, 0), np.int64))
