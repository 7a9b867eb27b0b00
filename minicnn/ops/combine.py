"""Joining, splitting and selecting: cat, stack, split, chunk, where, gather, masked_fill, the
out-of-place form of ``x[index] = value`` (index_put), and indexing along a dimension or
through a flat view (index_select/add/copy/fill, scatter, take, put, masked_select/scatter);
each Function above its wrapper."""
import functools

import numpy as np

from minicnn import dtypes

from minicnn._checks import check_bool, check_dim, check_int
from minicnn._tensor import Function, Tensor, as_tensor_arg
from minicnn.ops._common import _cast, unbroadcast
from minicnn.ops.shape import GetItemFn, IndexPlan, clean_index, expand, reshape

__all__ = ["CatFn", "cat", "concat", "concatenate", "stack", "split", "chunk", "unbind",
           "WhereFn", "where", "GatherFn", "gather", "masked_fill", "IndexPutFn", "index_put",
           "index_select", "index_add", "index_copy", "index_fill", "ScatterFn", "scatter",
           "scatter_add", "scatter_reduce", "take_along_dim", "take", "put", "masked_select",
           "masked_scatter"]


def _tensors(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name} expects a list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{name} expects a non-empty list of tensors")
    tensors = [as_tensor_arg(t, f"tensors[{i}]") for i, t in enumerate(tensors)]
    dtype = functools.reduce(dtypes._promote, [t._data.dtype for t in tensors])
    return [t if t._data.dtype == dtype else t.to(dtype) for t in tensors]


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
    return _multi_output_views(pieces, "Split")


def chunk(input, chunks, dim=0):
    """``chunks`` pieces along ``dim`` of size ceil(n / chunks) (fewer if they run out)."""
    chunks = check_int(chunks, "chunks", 1)
    size = input.shape[check_dim(dim, input.ndim)]
    return split(input, max(-(-size // chunks), 1), dim)


def unbind(input, dim=0):
    """The slices along ``dim``, each without that dimension."""
    dim = check_dim(dim, input.ndim)
    return _multi_output_views([t.squeeze(dim) for t in split(input, 1, dim)], "Unbind")


def _multi_output_views(views, name):
    """Mark views made together by one op (split, chunk, unbind): PyTorch refuses an in-place
    change to one of them while grad is recorded (it could not rewrite their shared history)."""
    for i, view in enumerate(views):
        view._multi_output = (name, i)
    return tuple(views)


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
    return Tensor._make(np.asarray(value, dtype=like._data.dtype if like is not None else None),
                        None)


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (broadcasting; either may be a
    number). With only ``condition``: the indices where it holds, as ``nonzero(as_tuple=True)``."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(np.int64), None) for i in np.nonzero(cond))
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    dtype = np.dtype(dtypes.result_type(*[v if isinstance(v, Tensor) else
                                          v if isinstance(v, (int, float)) else np.asarray(v)
                                          for v in (input, other)]))
    a, b = _cast(_operand(input, None), dtype), _cast(_operand(other, None), dtype)
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
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
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
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    value = value.item() if isinstance(value, Tensor) else value
    fill = Tensor._make(np.asarray(value, dtype=input._data.dtype), None)
    return WhereFn.apply(fill, input, np.broadcast_to(m, input.shape))


class IndexPutFn(Function):
    @staticmethod
    def forward(ctx, a, value, index, accumulate):
        ctx.index, ctx.value_shape, ctx.accumulate = index, value.shape, accumulate
        out = a.copy()
        index.write(out, value, accumulate)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # out = a with out[index] replaced by value (value added there, if accumulate): a gets
        # the gradient everywhere else (everywhere, if accumulate); value gets the gradient at
        # the indexed places, gathered (each repeated place too, as PyTorch), summed over
        # broadcasting
        grad_a = grad_out if ctx.accumulate or not ctx.needs_input_grad[0] else grad_out.copy()
        if grad_a is not grad_out:
            ctx.index.write(grad_a, 0)
        grad_value = unbroadcast(np.asarray(ctx.index.take(grad_out)), ctx.value_shape) \
            if ctx.needs_input_grad[1] else None
        return grad_a if ctx.needs_input_grad[0] else None, grad_value


def index_put(input, indices, values, accumulate=False):
    """``input`` with ``input[indices] = values`` applied, out of place (what ``x[i] = v``
    records); with ``accumulate``, ``input[indices] += values`` where repeated places add up.

    Parameters
    ----------
    input : Tensor
    indices : tuple of Tensors (as ``torch.index_put``), or anything ``input[...]`` takes
    values : Tensor or number
        Broadcastable to the shape of ``input[indices]``; cast to input's dtype.
    accumulate : bool
        Without it, a place indexed more than once keeps one of its values (its gradient
        still reaches each of them, as in PyTorch).
    """
    accumulate = check_bool(accumulate, "accumulate")
    if isinstance(indices, list) and all(isinstance(i, Tensor) for i in indices):
        indices = tuple(indices)  # torch.index_put's list of index tensors
    return _index_put(input, clean_index(indices, input.shape), values, accumulate)


def _index_put(input, plan, values, accumulate):
    """``index_put`` with a checked ``IndexPlan``."""
    values = values if isinstance(values, Tensor) else \
        Tensor._make(np.asarray(values, dtype=input._data.dtype), None)
    if values._data.dtype != input._data.dtype:
        values = values.to(input._data.dtype)
    shape = plan.take(np.broadcast_to(np.zeros((), np.int8), input.shape)).shape
    lead = values.ndim - len(shape)
    if lead > 0 and all(n == 1 for n in values.shape[:lead]):  # dropped, as PyTorch's x[i] = v
        values = values.reshape(values.shape[lead:])
    if values.ndim > len(shape) or any(v not in (1, s) for v, s in
                                       zip(values.shape[::-1], shape[::-1])):
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot "
                           f"be broadcast to indexing result of shape {list(shape)}")
    return IndexPutFn.apply(input, values, index=plan, accumulate=accumulate)


# --- index_select, index_add/copy/fill, scatter, take, put, masked_select/scatter -------------
# The ops that index along one dimension or through a flat view are getitem or index_put with
# an IndexPlan made here (GetItemFn/IndexPutFn carry their gradients); the scatter family has
# its own Function. Index arguments are int64 (or int32) tensors, checked to be in range.

def _index_arg(index, name, op):
    """An index argument (an int64 or int32 Tensor or ndarray) as an int64 ndarray."""
    if not isinstance(index, (Tensor, np.ndarray)):
        raise TypeError(f"{op}(): {name} must be an int64 Tensor, got {type(index).__name__}")
    idx = index._data if isinstance(index, Tensor) else index
    if idx.dtype not in (np.int64, np.int32):
        raise TypeError(f"{op}(): {name} must be an int64 tensor, got dtype {idx.dtype}")
    return idx.astype(np.int64, copy=False)


def _in_range(idx, size, op, dim=None, negative=False):
    """``idx`` checked to lie in [0, size) ([-size, size) if ``negative``: then wrapped)."""
    low = -size if negative else 0
    if idx.size and (idx.min() < low or idx.max() >= size):
        bad = idx.min() if idx.min() < low else idx.max()
        where = f"dimension {dim} with size {size}" if dim is not None else \
            f"a tensor of {size} elements"
        raise IndexError(f"{op}(): index {bad} is out of bounds for {where}")
    return idx % size if negative and idx.size else idx


def _dim_index(input, dim, index, op, negative=False):
    """``(dim, index)`` of the index_* ops: a dimension of input, and a 0-d or 1-d index
    into it, checked and flattened."""
    if input.ndim == 0:
        raise ValueError(f"{op}(): input must have at least one dimension")
    dim = check_dim(dim, input.ndim)
    idx = _index_arg(index, "index", op)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): index must be a vector (0-d or 1-d), got shape "
                         f"{tuple(idx.shape)}")
    return dim, _in_range(idx.reshape(-1), input.shape[dim], op, dim, negative)


def _source_arg(source, input, op, name="source", shape=None):
    """A tensor argument of input's dtype (and of ``shape`` if given)."""
    source = as_tensor_arg(source, name)
    if source._data.dtype != input._data.dtype:
        raise TypeError(f"{op}(): {name} must have input's dtype {input._data.dtype}, got "
                        f"{source._data.dtype}")
    if shape is not None and tuple(source.shape) != tuple(shape):
        raise ValueError(f"{op}(): {name} must have shape {tuple(shape)} (input's, with the "
                         f"indexed dimension as long as index), got {tuple(source.shape)}")
    return source


def _mask_arg(mask, op):
    """A bool Tensor or ndarray, as an ndarray."""
    m = mask._data if isinstance(mask, Tensor) else mask
    if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
        what = f"dtype {m.dtype}" if isinstance(m, np.ndarray) else type(m).__name__
        raise TypeError(f"{op}(): mask must be a bool tensor, got {what}")
    return m


def _broadcast(input, other_shape, op, name):
    """The broadcast shape of input and ``other_shape``, and input expanded to it."""
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other_shape))
    except ValueError:
        raise ValueError(f"{op}(): input of shape {tuple(input.shape)} and {name} of shape "
                         f"{tuple(other_shape)} are not broadcastable") from None
    return shape, input if tuple(input.shape) == shape else expand(input, *shape)


def index_select(input, dim, index):
    """The entries ``index`` (0-d or 1-d) of ``input`` along ``dim``, in that order (repeats
    allowed): ``input[:, index]`` for dim 1."""
    dim, idx = _dim_index(input, dim, index, "index_select")
    return GetItemFn.apply(input, index=IndexPlan.along(dim, idx))


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source[:, j]`` added to ``input[:, index[j]]`` (dim 1); repeated
    indices add up. ``source`` has input's shape, with ``len(index)`` along ``dim``."""
    dim, idx = _dim_index(input, dim, index, "index_add")
    source = _source_arg(source, input, "index_add", shape=input.shape[:dim] + (idx.size,)
                         + input.shape[dim + 1:])
    source = source if alpha == 1 else source * alpha
    return IndexPutFn.apply(input, source, index=IndexPlan.along(dim, idx), accumulate=True)


def index_copy(input, dim, index, source):
    """``input`` with ``input[:, index[j]] = source[:, j]`` (dim 1); of a repeated index one
    write stays. ``source`` has input's shape, with ``len(index)`` along ``dim``."""
    dim, idx = _dim_index(input, dim, index, "index_copy")
    source = _source_arg(source, input, "index_copy", shape=input.shape[:dim] + (idx.size,)
                         + input.shape[dim + 1:])
    return IndexPutFn.apply(input, source, index=IndexPlan.along(dim, idx), accumulate=False)


def index_fill(input, dim, index, value):
    """``input`` with the entries ``index`` along ``dim`` set to ``value`` (a number, or a 0-d
    tensor, which then gets the sum of their gradients)."""
    dim, idx = _dim_index(input, dim, index, "index_fill", negative=True)
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"index_fill(): value must be a number or a 0-d tensor, got shape "
                             f"{tuple(value.shape)}")
        fill = value if value._data.dtype == input._data.dtype else value.to(input._data.dtype)
    else:
        fill = Tensor._make(np.asarray(value, dtype=input._data.dtype), None)
    mask = np.zeros(input.shape, dtype=bool)
    IndexPlan.along(dim, idx).write(mask, True)
    return WhereFn.apply(fill, input, mask)


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _scatter_positions(index, dim):
    """Where each element of ``index`` sends its value: ``index`` itself along ``dim``, its
    own position along every other dimension (``out[i][index[i][j]]`` for dim 1)."""
    positions = list(np.indices(index.shape, sparse=True))
    positions[dim] = index
    return tuple(positions)


def _scatter_count(shape, positions, include_self):
    """How many values meet at each place (at least 1: the divisor of a mean)."""
    count = np.zeros(shape, dtype=np.int64)
    np.add.at(count, positions, 1)
    count += include_self
    return np.maximum(count, 1)


def _scatter_arrays(a, positions, src, reduce, include_self):
    """``a`` with ``src`` scattered to ``positions``: written (``reduce`` None) or combined by
    ``reduce`` with the values already there (``a``'s own only if ``include_self``)."""
    out = a.copy()
    if reduce is None:
        out[positions] = src
        return out
    if not include_self:  # start from the reduction's identity where something lands
        low, high = (-np.inf, np.inf) if a.dtype.kind == "f" else \
            (np.iinfo(a.dtype).min, np.iinfo(a.dtype).max)
        out[positions] = {"sum": 0, "mean": 0, "prod": 1, "amax": low, "amin": high}[reduce]
    ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
             "amin": np.minimum}[reduce]
    ufunc.at(out, positions, src)
    if reduce == "mean":
        count = _scatter_count(a.shape, positions, include_self).astype(a.dtype)
        out = out // count if a.dtype.kind in "iu" else out / count  # PyTorch floors ints
    return out


class ScatterFn(Function):
    @staticmethod
    def forward(ctx, a, src, dim, index, reduce, include_self):
        # only the corner of src that index covers takes part (src may be larger)
        ctx.covered = tuple(slice(0, n) for n in index.shape)
        ctx.positions = _scatter_positions(index, dim)
        ctx.src_shape, ctx.reduce, ctx.include_self = src.shape, reduce, include_self
        out = _scatter_arrays(a, ctx.positions, src[ctx.covered], reduce, include_self)
        if reduce in ("prod", "amax", "amin"):
            ctx.save_for_backward(a, src, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        positions, reduce = ctx.positions, ctx.reduce
        if reduce == "mean":
            # out = (sum of the values meeting there) / count: each gets grad / count
            count = _scatter_count(grad_out.shape, positions, ctx.include_self)
            grad_out = grad_out / count.astype(grad_out.dtype)
        if reduce in (None, "sum", "mean"):
            # a written value reaches out at its place; a place written over forgets a's value
            grad_a, grad_src = grad_out, grad_out[positions]
        else:
            a, src, out = ctx.saved_tensors
            src = src[ctx.covered]
            if reduce == "prod":
                grad_a, grad_src = _prod_grads(grad_out, a, positions, src, out,
                                               ctx.include_self)
            else:
                # amax/amin: the gradient is shared evenly by the values equal to the result
                a_is = a == out
                if not ctx.include_self:
                    a_is[positions] = False
                src_is = src == out[positions]
                ties = a_is.astype(grad_out.dtype)
                np.add.at(ties, positions, src_is)
                share = grad_out / np.maximum(ties, 1)
                grad_a, grad_src = a_is * share, src_is * share[positions]
        if reduce is None or not ctx.include_self:
            grad_a = grad_a.copy() if grad_a is grad_out else grad_a
            grad_a[positions] = 0
        full_src = np.zeros(ctx.src_shape, dtype=grad_out.dtype)
        full_src[ctx.covered] = grad_src
        return grad_a, full_src


def _prod_grads(grad, a, positions, src, out, include_self):
    """The gradients of scatter_reduce "prod" to a and src (PyTorch's formula): ``out / x``
    for each factor x, computed without dividing by a zero factor (the product of the others
    instead, where x is the only zero at its place)."""
    nonzero_a = np.where(a == 0, 1, a)
    grad_a = grad * _scatter_arrays(nonzero_a, positions, src, "prod", include_self) / nonzero_a
    src_zero = src == 0
    zeros_there = np.zeros(a.shape, dtype=np.int64)
    np.add.at(zeros_there, positions, src_zero)
    single = src_zero & (zeros_there[positions] == 1)
    others = _scatter_arrays(a, positions, np.where(single, 1, src), "prod", include_self)
    grad_src = np.where(single, (grad * others)[positions],
                        (grad * out)[positions] / np.where(src_zero, 1, src))
    return grad_a, grad_src


def _scatter(input, dim, index, src, reduce, include_self, op):
    """The scatter ops' checks, then ScatterFn (``src`` a tensor, or a number)."""
    idx = _index_arg(index, "index", op)
    if not isinstance(src, (Tensor, np.ndarray)):
        src = Tensor._make(np.full(idx.shape, src, dtype=input._data.dtype), None)
    src = _source_arg(src, input, op, "src")
    if input.ndim == 0:  # as a 1-element vector
        return _scatter(input.reshape(1), check_dim(dim, 0), idx.reshape(-1),
                        src.reshape(-1), reduce, include_self, op).reshape(())
    dim = check_dim(dim, input.ndim)
    if idx.size == 0:
        return input.clone()
    if input.ndim == 1:  # a 0-d index or src counts as one of 1 element, as in PyTorch
        idx, src = (t.reshape(-1) if t.ndim == 0 else t for t in (idx, src))
    if idx.ndim != input.ndim or src.ndim != input.ndim:
        raise ValueError(f"{op}(): index and src must have as many dimensions as input "
                         f"({input.ndim}), got {idx.ndim} and {src.ndim}")
    if any(n > s for d, (n, s) in enumerate(zip(idx.shape, input.shape)) if d != dim) or \
            any(n > s for n, s in zip(idx.shape, src.shape)):
        raise ValueError(f"{op}(): index {tuple(idx.shape)} must be no larger than input "
                         f"{tuple(input.shape)} apart from dimension {dim}, and no larger than "
                         f"src {tuple(src.shape)}")
    idx = _in_range(idx, input.shape[dim], op, dim)
    return ScatterFn.apply(input, src, dim=dim, index=idx, reduce=reduce,
                           include_self=include_self)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """``input`` with ``src[i][j]`` written to ``out[i][index[i][j]]`` (dim 1; likewise for
    any dim), or the number ``value`` everywhere index points. Of a place written more than
    once one write stays. ``reduce="add"`` / ``"multiply"`` combines with what is there
    instead. index has input's number of dimensions, and is no larger than src, nor than input
    apart from ``dim``."""
    if (src is None) == (value is None):
        raise TypeError("scatter(): pass either src (a tensor) or value (a number)")
    if reduce not in (None, "add", "multiply"):
        raise ValueError(f"scatter(): reduce must be 'add' or 'multiply', got {reduce!r}")
    reduce = {None: None, "add": "sum", "multiply": "prod"}[reduce]
    return _scatter(input, dim, index, value if src is None else src, reduce, True, "scatter")


def scatter_add(input, dim, index, src):
    """``input`` with ``src[i][j]`` added to ``out[i][index[i][j]]`` (dim 1); repeated places
    add up (``scatter_reduce(..., "sum")``)."""
    if not isinstance(src, (Tensor, np.ndarray)):
        raise TypeError(f"scatter_add(): src must be a Tensor, got {type(src).__name__}")
    return _scatter(input, dim, index, src, "sum", True, "scatter_add")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with the values ``src[i][j]`` sent to ``out[i][index[i][j]]`` (dim 1) combined
    at each place by ``reduce``: "sum", "prod", "mean", "amax" or "amin" (with input's own
    value there only if ``include_self``; places nothing is sent to keep input's value)."""
    if reduce not in _REDUCTIONS:
        raise ValueError(f"scatter_reduce(): reduce must be one of {_REDUCTIONS}, got "
                         f"{reduce!r}")
    if not isinstance(src, (Tensor, np.ndarray)):
        raise TypeError(f"scatter_reduce(): src must be a Tensor, got {type(src).__name__}")
    return _scatter(input, dim, index, src, reduce, check_bool(include_self, "include_self"),
                    "scatter_reduce")


def take_along_dim(input, indices, dim=None):
    """``input``'s values picked along ``dim`` by ``indices`` (as ``gather``, with input and
    indices broadcast against each other apart from ``dim``; negative indices count from the
    end). Without ``dim``: both flattened, a 1-d result."""
    op = "take_along_dim"
    idx = _index_arg(indices, "indices", op)
    if dim is None:
        idx = _in_range(idx.reshape(-1), input.numel(), op, negative=True)
        return GetItemFn.apply(reshape(input, -1), index=IndexPlan.along(0, idx))
    dim = check_dim(dim, input.ndim)
    if idx.ndim != input.ndim or input.ndim == 0:
        raise ValueError(f"{op}(): input and indices must have the same number of dimensions "
                         f"(at least 1), got {input.ndim} and {idx.ndim}")
    rest = lambda shape: tuple(shape[:dim]) + (1,) + tuple(shape[dim + 1:])  # noqa: E731
    try:
        shape = np.broadcast_shapes(rest(input.shape), rest(idx.shape))
    except ValueError:
        raise ValueError(f"{op}(): input {tuple(input.shape)} and indices {tuple(idx.shape)} do "
                         f"not broadcast apart from dimension {dim}") from None
    with_size = lambda n: shape[:dim] + (n,) + shape[dim + 1:]  # noqa: E731
    x = input if tuple(input.shape) == with_size(input.shape[dim]) else \
        expand(input, *with_size(input.shape[dim]))
    idx = _in_range(idx, input.shape[dim], op, dim, negative=True)
    return GatherFn.apply(x, np.broadcast_to(idx, with_size(idx.shape[dim])), axis=dim)


def take(input, index):
    """``input``'s values, input seen as 1-d, at ``index`` (any shape: the result's; negative
    indices count from the end)."""
    idx = _in_range(_index_arg(index, "index", "take"), input.numel(), "take", negative=True)
    return GetItemFn.apply(reshape(input, -1), index=IndexPlan((), (idx,)))


def put(input, index, source, accumulate=False):
    """``input`` with ``source``'s values written (or added: ``accumulate``) at ``index``,
    input seen as 1-d (index and source: the same number of elements; negative indices count
    from the end)."""
    idx = _index_arg(index, "index", "put")
    source = _source_arg(source, input, "put")
    if idx.size != source.numel():
        raise ValueError(f"put(): index and source must have the same number of elements, got "
                         f"{idx.size} and {source.numel()}")
    idx = _in_range(idx.reshape(-1), input.numel(), "put", negative=True)
    flat = IndexPutFn.apply(reshape(input, -1), reshape(source, -1),
                            index=IndexPlan.along(0, idx),
                            accumulate=check_bool(accumulate, "accumulate"))
    return reshape(flat, input.shape)


def masked_select(input, mask):
    """The values of ``input`` where ``mask`` (a bool tensor; the two broadcast) holds, as a
    1-d tensor in row-major order."""
    m = _mask_arg(mask, "masked_select")
    shape, x = _broadcast(input, m.shape, "masked_select", "mask")
    return GetItemFn.apply(x, index=IndexPlan((), (np.broadcast_to(m, shape),)))


def masked_scatter(input, mask, source):
    """``input`` (broadcast with ``mask``) with the places where ``mask`` holds filled, in
    row-major order, by ``source``'s first values (source has at least that many)."""
    m = _mask_arg(mask, "masked_scatter")
    source = _source_arg(source, input, "masked_scatter")
    shape, x = _broadcast(input, m.shape, "masked_scatter", "mask")
    m = np.broadcast_to(m, shape)
    count = int(m.sum())
    if source.numel() < count:
        raise ValueError(f"masked_scatter(): source has {source.numel()} elements, fewer than "
                         f"the {count} places where mask holds")
    values = GetItemFn.apply(reshape(source, -1), index=IndexPlan((slice(0, count),)))
    return IndexPutFn.apply(x, values, index=IndexPlan((), (m,)), accumulate=False)
