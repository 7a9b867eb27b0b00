"""What the ops share: undoing broadcasting in backward, reduction arguments, binary operands,
the float input of a float function."""
import numbers

import numpy as np

from minicnn import dtypes
from minicnn._tensor import Tensor, as_tensor_arg

__all__ = ["unbroadcast", "expand_reduced", "binary", "check_broadcast"]


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


def _float_input(input, name="input"):
    """``input`` as a float tensor, for a function with float results (exp, log1p, sigmoid,
    ...): an integer or bool tensor becomes the default dtype, float32 unless changed, as
    PyTorch's (``torch.exp(torch.tensor([1, 2]))`` is float32)."""
    t = as_tensor_arg(input, name)
    if t.dtype.kind == "f":
        return t
    return Tensor._make(t._data.astype(dtypes.default_numpy_float()), None)


def _operands(a, b, fn=None):
    """``(a, b)`` as two Tensors of one dtype for a binary op; ``b`` None if it is of a type we
    do not handle.

    ``a`` is a Tensor. The dtype is PyTorch's ``result_type(a, b)`` (``minicnn.result_type``):
    a Python float or a 0-d tensor does not turn float32 into float64, and an integer tensor
    with a float number computes in float32. True division of integers gives float32.
    """
    kind = b
    if not isinstance(b, Tensor):
        if isinstance(b, (list, tuple, np.ndarray)):
            # an array constant counts as a number of its category (x * np.ones(3) stays
            # float32): minicnn's reading, as PyTorch's ops take no NumPy arrays
            b = np.asarray(b)
            kind = {"b": True, "i": 1, "u": 1, "f": 1.0}.get(b.dtype.kind)
            if kind is None:
                return a, None
        elif not isinstance(b, (numbers.Number, np.generic)):
            return a, None
    target = np.dtype(dtypes.result_type(a, kind))
    if getattr(fn, "true_divide", False) and target.kind in "biu":
        target = dtypes.default_numpy_float()  # int / int is a float tensor, of the default dtype
    return _cast(a, target), _cast(b, target)


def _cast(value, dtype):
    """A Tensor ``value`` in ``dtype`` (differentiable between floats); a number as a constant."""
    if not isinstance(value, Tensor):
        return Tensor._make(np.asarray(value, dtype=dtype), None)
    if value._data.dtype == dtype:
        return value
    if value.requires_grad and dtype.kind == "f":
        return value.to(dtype)
    # nothing to differentiate (an integer tensor never requires grad): a plain conversion
    return Tensor._make(value._data.astype(dtype), None)


def binary(fn, a, b, reflected=False):
    """Apply the binary Function ``fn`` to Tensor ``a`` and ``b`` (``b`` op ``a`` if reflected);
    NotImplemented for an operand type Tensor does not handle (Python then tries the other)."""
    a, b = _operands(a, b, fn)
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
