"""Joining, splitting and selecting: cat, stack, split, chunk, where, gather, masked_fill, and
the out-of-place form of ``x[index] = value``; each Function above its wrapper."""
import numpy as np

from minicnn._checks import check_dim, check_int
from minicnn._tensor import Function, Tensor, as_tensor_arg
from minicnn.ops._common import unbroadcast
from minicnn.ops.shape import clean_index

__all__ = ["CatFn", "cat", "concat", "concatenate", "stack", "split", "chunk", "unbind",
           "WhereFn", "where", "GatherFn", "gather", "masked_fill", "IndexPutFn", "index_put"]


def _tensors(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name} expects a list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{name} expects a non-empty list of tensors")
    tensors = [as_tensor_arg(t, f"tensors[{i}]") for i, t in enumerate(tensors)]
    dtype = np.result_type(*[t.data for t in tensors])
    return [t if t.data.dtype == dtype else t.to(dtype) for t in tensors]


class CatFn(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis, ctx.sizes = axis, [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad_out):
        # each input gets back its own slice of the gradient along the joined axis
        ends = np.cumsum(ctx.sizes)[:-1]
        return tuple(np.split(grad_out, ends, axis=ctx.axis))


def cat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing dimension ``dim``; all other sizes must match."""
    dim = dim if axis is None else axis
    tensors = _tensors(tensors, "cat")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    dim = check_dim(dim, ndim)
    for i, t in enumerate(tensors):
        if t.ndim != ndim or t.shape[:dim] + t.shape[dim + 1:] != \
                tensors[0].shape[:dim] + tensors[0].shape[dim + 1:]:
            raise ValueError(f"cat: sizes of tensors must match except in dimension {dim}; "
                             f"tensor 0 has shape {tuple(tensors[0].shape)}, tensor {i} "
                             f"{tuple(t.shape)}")
    return CatFn.apply(*tensors, axis=dim)


concat = concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    """Join same-shaped tensors along a new dimension ``dim``."""
    dim = dim if axis is None else axis
    tensors = _tensors(tensors, "stack")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack expects each tensor to be equal size, but got "
                             f"{tuple(tensors[0].shape)} at entry 0 and {tuple(t.shape)} at "
                             f"entry {i}")
    dim = check_dim(dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the sizes in a
    list that sums to the dimension's size. A tuple of tensors (each a differentiable slice)."""
    dim = check_dim(dim, tensor.ndim)
    size = tensor.shape[dim]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [check_int(s, "split_sizes", 0) for s in split_size_or_sections]
        if sum(sizes) != size:
            raise ValueError(f"split: sizes {sizes} must sum to the size of dimension {dim} "
                             f"({size})")
    else:
        step = check_int(split_size_or_sections, "split_size", 1)
        sizes = [min(step, size - start) for start in range(0, size, step)] or [0]
    pieces, start = [], 0
    for s in sizes:
        index = (slice(None),) * dim + (slice(start, start + s),)
        pieces.append(tensor[index])
        start += s
    return tuple(pieces)


def chunk(input, chunks, dim=0):
    """``chunks`` pieces along ``dim`` of size ceil(n / chunks) (fewer if they run out)."""
    chunks = check_int(chunks, "chunks", 1)
    size = input.shape[check_dim(dim, input.ndim)]
    return split(input, max(-(-size // chunks), 1), dim)


def unbind(input, dim=0):
    """The slices along ``dim``, each without that dimension."""
    dim = check_dim(dim, input.ndim)
    return tuple(t.squeeze(dim) for t in split(input, 1, dim))


class WhereFn(Function):
    @staticmethod
    def forward(ctx, a, b, condition):
        ctx.condition, ctx.a_shape, ctx.b_shape = condition, a.shape, b.shape
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad_out):
        # out = a where condition else b: each side gets the gradient where it was chosen
        zero = np.zeros((), grad_out.dtype)
        return (unbroadcast(np.where(ctx.condition, grad_out, zero), ctx.a_shape)
                if ctx.needs_input_grad[0] else None,
                unbroadcast(np.where(ctx.condition, zero, grad_out), ctx.b_shape)
                if ctx.needs_input_grad[1] else None, None)


def _operand(value, like):
    if isinstance(value, Tensor):
        return value
    return Tensor._make(np.asarray(value, dtype=like.data.dtype if like is not None else None),
                        None)


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (broadcasting; either may be a
    number). With only ``condition``: the indices where it holds, as ``nonzero(as_tuple=True)``."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(np.int64), None) for i in np.nonzero(cond))
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    a, b = _operand(input, like), _operand(other, like)
    if a.data.dtype != b.data.dtype:
        dtype = np.result_type(a.data, b.data)
        a, b = a.to(dtype), b.to(dtype)
    return WhereFn.apply(a, b, cond)


class GatherFn(Function):
    @staticmethod
    def forward(ctx, a, index, axis):
        ctx.a_shape, ctx.index, ctx.axis = a.shape, index, axis
        return np.take_along_axis(a, index, axis=axis)

    @staticmethod
    def backward(ctx, grad_out):
        # out[i][j] = a[i][index[i][j]] (along axis): each gradient goes back to the element it
        # came from, summed where an index repeats
        grad = np.zeros(ctx.a_shape, grad_out.dtype)
        idx = list(np.indices(ctx.index.shape, sparse=True))
        idx[ctx.axis] = ctx.index
        np.add.at(grad, tuple(idx), grad_out)
        return grad, None


def gather(input, dim, index):
    """Values of ``input`` picked along ``dim`` by ``index`` (an int64 tensor of the same
    number of dimensions): ``out[i][j] = input[i][index[i][j]]`` for dim 1."""
    dim = check_dim(dim, input.ndim)
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != input.ndim:
        raise ValueError(f"gather: index must have as many dimensions as input ({input.ndim}),"
                         f" got {idx.ndim}")
    if idx.size and (idx.min() < 0 or idx.max() >= input.shape[dim]):
        raise IndexError(f"gather: index out of range for dimension {dim} of size "
                         f"{input.shape[dim]}")
    for d in range(input.ndim):
        if d != dim and idx.shape[d] > input.shape[d]:
            raise ValueError(f"gather: index size {idx.shape[d]} exceeds the input's size "
                             f"{input.shape[d]} in dimension {d}")
    trimmed = input[tuple(slice(0, s) if d != dim else slice(None)
                          for d, s in enumerate(idx.shape))]
    return GatherFn.apply(trimmed, idx.astype(np.intp), axis=dim)


def masked_fill(input, mask, value):
    """``value`` where ``mask`` (a bool tensor broadcastable to input) holds, else input."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    value = value.item() if isinstance(value, Tensor) else value
    fill = Tensor._make(np.asarray(value, dtype=input.data.dtype), None)
    return WhereFn.apply(fill, input, np.broadcast_to(m, input.shape))


class IndexPutFn(Function):
    @staticmethod
    def forward(ctx, a, value, index):
        ctx.index, ctx.value_shape = index, value.shape
        out = a.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # out = a with out[index] replaced by value: a gets the gradient everywhere else,
        # value gets the gradient at the indexed places (summed over broadcasting)
        grad_a = grad_out.copy()
        grad_a[ctx.index] = 0
        grad_value = unbroadcast(np.asarray(grad_out[ctx.index]), ctx.value_shape) \
            if ctx.needs_input_grad[1] else None
        return grad_a, grad_value, None


def index_put(input, index, value):
    """``input`` with ``input[index] = value`` applied, out of place (what ``x[index] = v``
    records)."""
    index = clean_index(index)
    value = value if isinstance(value, Tensor) else \
        Tensor._make(np.asarray(value, dtype=input.data.dtype), None)
    if value.data.dtype != input.data.dtype:
        value = value.to(input.data.dtype)
    return IndexPutFn.apply(input, value, index)
