"""What the ops share: undoing broadcasting in backward, reduction arguments, binary operands."""
import numbers

import numpy as np

from minicnn._tensor import Tensor

__all__ = ["unbroadcast", "expand_reduced", "reduce_args", "binary", "check_broadcast"]


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: undo NumPy broadcasting, whose backward is a sum."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    kept = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    return grad.sum(axis=kept, keepdims=True) if kept else grad


def expand_reduced(grad, shape, axis, keepdims):
    """Broadcast the gradient of a reduction back over the reduced axes."""
    if not keepdims and axis is not None:
        grad = np.expand_dims(grad, axis)
    elif not keepdims:
        grad = np.reshape(grad, (1,) * len(shape))
    return np.broadcast_to(grad, shape)


def reduce_args(dim, keepdim, axis=None, keepdims=None):
    """PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims`` -> ``(dim, keepdim)``."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def _operands(a, b):
    """``(a, b)`` as two Tensors for a binary op; ``b`` None if it is of a type we do not handle.

    ``a`` is a Tensor. Constants take its dtype (a Python float must not turn float32 into
    float64); an integer tensor with a float constant computes in float32, PyTorch's default
    dtype (so both sides become float32: NumPy would promote int64 with float32 to float64).
    Two Tensors of different dtypes promote as NumPy (and PyTorch) do.
    """
    if isinstance(b, Tensor):
        return a, b
    if not isinstance(b, (numbers.Number, np.ndarray, np.generic, list, tuple)):
        return a, None
    b = np.asarray(b)
    if a.data.dtype.kind == "f" or b.dtype.kind not in "f":
        return a, Tensor._make(b.astype(a.data.dtype, copy=False), None)
    # An integer/bool tensor never requires grad, so casting it loses no graph.
    return (Tensor._make(a.data.astype(np.float32), None),
            Tensor._make(b.astype(np.float32), None))


def binary(fn, a, b, reflected=False):
    """Apply the binary Function ``fn`` to Tensor ``a`` and ``b`` (``b`` op ``a`` if reflected);
    NotImplemented for an operand type Tensor does not handle (Python then tries the other)."""
    a, b = _operands(a, b)
    if b is None:
        return NotImplemented
    if reflected:
        a, b = b, a
    if getattr(fn, "broadcasts", False):
        check_broadcast(a.shape, b.shape, fn)
    return fn.apply(a, b)


def check_broadcast(shape_a, shape_b, fn):
    """PyTorch's message for shapes that do not broadcast, naming the op and the dimension."""
    for i, (m, n) in enumerate(zip(reversed(shape_a), reversed(shape_b))):
        if m != n and m != 1 and n != 1:
            dim = max(len(shape_a), len(shape_b)) - 1 - i
            name = fn.__name__[:-2] if fn.__name__.endswith("Fn") else fn.__name__
            raise RuntimeError(f"{name.lower()}: the size of tensor a ({m}) must match the size "
                               f"of tensor b ({n}) at non-singleton dimension {dim} (shapes "
                               f"{tuple(shape_a)} and {tuple(shape_b)})")
