"""``minicnn.linalg``, PyTorch's ``torch.linalg``: the vector and matrix norms (written here, on
the ops' NormFn and SvdvalsFn), and the ops of ``minicnn/ops/linalg.py`` under its names.

>>> import minicnn
>>> A = minicnn.tensor([[3.0, 0.0], [0.0, -4.0]])
>>> minicnn.linalg.vector_norm(A), minicnn.linalg.matrix_norm(A, 2), minicnn.linalg.norm(A, 1)
(tensor(5.), tensor(4.), tensor(4.))
"""
import math
import numbers

import numpy as np

from minicnn import dtypes, ops
from minicnn._checks import check_dim
from minicnn.dtypes import torch_type_name
from minicnn._tensor import Tensor
from minicnn.ops.arithmetic import matmul
from minicnn.ops.contraction import LETTERS, check_tensor, contract_labels
from minicnn.ops.linalg import det, inverse as inv, svdvals

__all__ = ["norm", "vector_norm", "matrix_norm", "svdvals", "cross", "vecdot", "multi_dot",
           "matmul", "diagonal", "det", "inv"]


def _float_input(op, x, dtype):
    """``x`` checked to hold floats, converted to ``dtype`` (PyTorch's ``dtype=``: no
    narrowing, float64 -> float32 refused)."""
    if check_tensor(x, op, "input").dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_type_name(x.dtype)}")
    if dtype is None:
        return x
    target = np.dtype(dtypes.as_dtype(dtype).numpy_dtype)
    if target.kind != "f" or target.itemsize < x.dtype.itemsize:
        raise RuntimeError(f"{op}: the dtype of the input ({torch_type_name(x.dtype)}) should be "
                           f"convertible without narrowing to the specified dtype "
                           f"({torch_type_name(target)})")
    return x.to(target)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm ``(sum |x|^ord)^(1/ord)`` over ``dim`` (an int, a tuple, or None
    and ``()`` for every element): any real ``ord``, inf (max |x|), -inf (min |x|), 0 (the
    number of nonzeros). The gradient is PyTorch's (see ``minicnn.norm``)."""
    x = _float_input("linalg.vector_norm", x, dtype)
    if isinstance(ord, Tensor):
        ord = ord.item()
    if isinstance(ord, (bool, np.bool_)) or not isinstance(ord, numbers.Real):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not "
                        f"{type(ord).__name__}")
    if x.numel() == 0 and (ord < 0 or ord == math.inf):
        dims = range(x.ndim) if dim is None or dim == () else \
            [dim] if isinstance(dim, numbers.Integral) else dim
        for d in (check_dim(d, x.ndim) for d in dims):
            if x.shape[d] == 0:
                # max, min and 1/sum have no value on nothing
                raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on the "
                                   f"dimension {d} because this dimension is empty and the "
                                   f"operation does not have an identity")
    return ops.norm(x, ord, dim, keepdim)


def _matrix_dims(A, dim):
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        got = " ".join(map(str, dim)) if isinstance(dim, (tuple, list)) else dim
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {got}")
    d0, d1 = (check_dim(d, A.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, "
                           f"{dim[1]})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm of the matrices in dimensions ``dim`` of ``A``:

    * ``"fro"``: ``sqrt(sum A_ij^2)``; ``"nuc"``: the sum of the singular values;
    * ``2`` / ``-2``: the largest / smallest singular value;
    * ``1`` / ``-1``: the largest / smallest column sum of ``|A|``;
    * ``inf`` / ``-inf``: the largest / smallest row sum of ``|A|``.

    The norm of an empty matrix is 0.
    """
    A = _float_input("linalg.matrix_norm", A, dtype)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    d0, d1 = _matrix_dims(A, dim)
    if ord not in ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf) or isinstance(ord, bool):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if ord == "fro" or A.shape[d0] == 0 or A.shape[d1] == 0:  # an empty matrix: all are 0
        return ops.norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(ops.movedim(A, (d0, d1), (-2, -1)))
        out = ops.sum(s, -1) if ord == "nuc" else ops.amax(s, -1) if ord == 2 else \
            ops.amin(s, -1)
    else:
        # 1: the sums run down the columns (over the rows, d0); inf: along the rows (over d1)
        summed, then = (d0, d1) if abs(ord) == 1 else (d1, d0)
        sums = ops.norm(A, 1, summed)
        then -= then > summed  # `summed` is gone
        out = ops.amax(sums, then) if ord > 0 else ops.amin(sums, then)
    for d in sorted((d0, d1)) if keepdim else ():
        out = ops.unsqueeze(out, d)
    return out


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector or a matrix norm, as ``torch.linalg.norm``.

    ``dim`` an int or a 1-tuple: ``vector_norm`` (ord default 2); a 2-tuple: ``matrix_norm``
    (ord default "fro"). With no ``dim``: the 2-norm of every element when ``ord`` is None,
    else ``A`` must be 1-D (a vector norm) or 2-D (a matrix norm).
    """
    if isinstance(dim, numbers.Integral):
        dim = (dim,)
    if dim is not None:
        if len(dim) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dim)}")
        if len(dim) == 1 and not isinstance(ord, str):
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if check_tensor(A, "linalg.norm", "A").ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if A.ndim == 1 and not isinstance(ord, str):
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (default the last), the other dimensions
    broadcast (``minicnn.cross`` defaults to the first dimension of size 3)."""
    return ops.cross(input, other, dim)


def vecdot(x, y, *, dim=-1):
    """``sum(x * y, dim)``, the dot products of the vectors along ``dim`` (broadcast)."""
    for name, t in (("x", x), ("y", y)):
        if check_tensor(t, "linalg.vecdot", name).dtype.kind != "f":
            raise RuntimeError(f"linalg.vecdot: Expected a floating point or complex tensor as "
                               f"input. Got {torch_type_name(t.dtype)}")
    if x.dtype != y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x "
                           f"of type {torch_type_name(x.dtype)} and y of type "
                           f"{torch_type_name(y.dtype)} instead")
    return ops.sum(x * y, dim)


def multi_dot(tensors):
    """``tensors[0] @ tensors[1] @ ...`` multiplied in the cheapest order; the first may be a
    row vector (1-D), the last a column vector (1-D), the others are matrices."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    last = len(tensors) - 1
    for i, t in enumerate(tensors):
        check_tensor(t, "multi_dot", f"tensors[{i}]")
        if i in (0, last) and t.ndim not in (1, 2):
            raise RuntimeError(f"multi_dot(): the {'first' if i == 0 else 'last'} tensor must be "
                               f"1D or 2D but got {t.ndim}D")
        if 0 < i < last and t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have the same dtype but tensor 0 "
                               f"is {torch_type_name(tensors[0].dtype).lower()} and tensor {i} "
                               f"{torch_type_name(t.dtype).lower()}")
    # Matrix i joins letters i and i + 1; a vector at either end keeps only its inner one.
    inputs = [LETTERS[i:i + 2] for i in range(len(tensors))]
    if tensors[0].ndim == 1:
        inputs[0] = inputs[0][1]
    if tensors[-1].ndim == 1:
        inputs[-1] = inputs[-1][0]
    for i in range(len(tensors) - 1):
        a, b = tensors[i], tensors[i + 1]
        if a.shape[-1] != b.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(a.shape)} and {list(b.shape)} cannot be multiplied")
    output = inputs[0][0] * (tensors[0].ndim == 2) + inputs[-1][-1] * (tensors[-1].ndim == 2)
    return contract_labels(tensors, inputs, output)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of the matrices in the last two dimensions (a view): ``A.diagonal`` with
    other defaults."""
    return ops.diagonal(A, offset, dim1, dim2)
