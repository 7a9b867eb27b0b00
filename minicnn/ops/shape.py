"""Shape and indexing (reshape, permute, flatten, squeeze, expand, repeat, flip, getitem):
each Function above its wrapper."""
import numpy as np

from minicnn._checks import check_dim, check_int
from minicnn._tensor import Function, Tensor
from minicnn.ops._common import unbroadcast

__all__ = [
    "ReshapeFn", "reshape", "PermuteFn", "permute", "transpose", "flatten", "unsqueeze", "squeeze",
    "GetItemFn", "getitem", "clean_index", "ExpandFn", "expand", "repeat", "FlipFn", "flip",
]


class ReshapeFn(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.a_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad_out):
        # reshape moves values without changing them: reshape the gradient back
        return grad_out.reshape(ctx.a_shape)


def reshape(input, *shape):
    """The same values in a new shape (one entry may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(check_int(s, "shape", -1) for s in shape)
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or input.numel() % known)) or \
            (-1 not in shape and known != input.numel()):
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of size "
                           f"{input.numel()} (shape {tuple(input.shape)})")
    return ReshapeFn.apply(input, shape=shape)


class PermuteFn(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad_out):
        # the inverse permutation puts each gradient back on its input dimension
        return grad_out.transpose(np.argsort(ctx.dims))


def permute(input, *dims):
    """Reorder the dimensions: output dimension i is input dimension ``dims[i]``."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    dims = tuple(check_dim(d, input.ndim, "dims") for d in dims)
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f"dims must be a permutation of range({input.ndim}), got {dims}")
    return PermuteFn.apply(input, dims=dims)


def transpose(input, dim0, dim1):
    """Swap dimensions ``dim0`` and ``dim1``."""
    dim0, dim1 = check_dim(dim0, input.ndim, "dim0"), check_dim(dim1, input.ndim, "dim1")
    dims = list(range(input.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return PermuteFn.apply(input, dims=tuple(dims))


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` into one (as ``torch.flatten``)."""
    if input.ndim == 0:
        return reshape(input, 1)
    start = check_dim(start_dim, input.ndim, "start_dim")
    end = check_dim(end_dim, input.ndim, "end_dim")
    if start > end:
        raise ValueError(f"start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    merged = int(np.prod(input.shape[start:end + 1]))  # not -1: ambiguous for empty tensors
    return reshape(input, input.shape[:start] + (merged,) + input.shape[end + 1:])


def unsqueeze(input, dim):
    """Insert a dimension of size 1 at ``dim``."""
    dim = check_dim(dim, input.ndim + 1, "dim")
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


def squeeze(input, dim=None):
    """Remove dimensions of size 1 (only ``dim`` if given and of size 1)."""
    if dim is None:
        return reshape(input, tuple(s for s in input.shape if s != 1))
    dim = check_dim(dim, input.ndim, "dim")
    if input.shape[dim] != 1:
        return input
    return reshape(input, input.shape[:dim] + input.shape[dim + 1:])


class GetItemFn(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.a_shape, ctx.a_dtype, ctx.index = a.shape, a.dtype, index
        return a[index]

    @staticmethod
    def backward(ctx, grad_out):
        # d a[index] / da = 1 at the selected positions; add.at sums repeated integer indices
        grad = np.zeros(ctx.a_shape, dtype=grad_out.dtype)
        np.add.at(grad, ctx.index, grad_out)
        return grad


def clean_index(index):
    """An index with its Tensors and lists replaced by ndarrays (NumPy indexing semantics)."""
    def clean(i):
        if isinstance(i, Tensor):
            return i.data
        if isinstance(i, list):
            return np.asarray(i)
        return i
    return tuple(clean(i) for i in index) if isinstance(index, tuple) else clean(index)


def getitem(input, index):
    """``input[index]``: ints, slices, None, Ellipsis, integer or boolean arrays/Tensors."""
    return GetItemFn.apply(input, index=clean_index(index))


class ExpandFn(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.a_shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad_out):
        # a broadcast copies values: their gradients add up (the backward of broadcasting)
        return unbroadcast(grad_out, ctx.a_shape)


def expand(input, *sizes):
    """``input`` broadcast to ``sizes`` (-1 keeps a dimension), without copying."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                         f"number of dimensions ({input.ndim})")
    shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s
                  for i, s in enumerate(sizes))
    try:
        np.broadcast_shapes(tuple(input.shape), shape)
    except ValueError:
        raise ValueError(f"expand: shape {tuple(input.shape)} cannot be expanded to "
                         f"{tuple(sizes)} (only dimensions of size 1 can grow)") from None
    return ExpandFn.apply(input, shape=shape)


def repeat(input, *repeats):
    """``input`` tiled ``repeats[i]`` times along each dimension (as ``torch.Tensor.repeat``)."""
    if len(repeats) == 1 and isinstance(repeats[0], (tuple, list)):
        repeats = tuple(repeats[0])
    if len(repeats) < input.ndim:
        raise ValueError(f"repeat: the number of repeats ({len(repeats)}) can not be smaller "
                         f"than the number of dimensions ({input.ndim})")
    x = reshape(input, (1,) * (len(repeats) - input.ndim) + tuple(input.shape))
    # Tiling = broadcasting along a new axis before each dimension, then merging the two.
    expanded = []
    for r, s in zip(repeats, x.shape):
        expanded += [r, s]
    inserted = reshape(x, tuple(v for s in x.shape for v in (1, s)))
    return reshape(expand(inserted, *expanded),
                   tuple(r * s for r, s in zip(repeats, x.shape)))


class FlipFn(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return np.flip(a, dims).copy()

    @staticmethod
    def backward(ctx, grad_out):
        # flipping is its own inverse
        return np.flip(grad_out, ctx.dims)


def flip(input, dims):
    """``input`` with the order of elements reversed along ``dims`` (an int or a tuple)."""
    dims = (dims,) if not isinstance(dims, (tuple, list)) else tuple(dims)
    return FlipFn.apply(input, dims=tuple(check_dim(d, input.ndim, "dims") for d in dims))
