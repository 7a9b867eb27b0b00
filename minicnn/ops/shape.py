"""Shape and indexing (reshape, permute, flatten, squeeze, expand, repeat, flip, getitem):
each Function above its wrapper."""
import numbers
import operator
import warnings

import numpy as np

from minicnn._checks import check_dim, check_int
from minicnn._tensor import Function, Tensor
from minicnn.ops._common import unbroadcast

__all__ = [
    "ReshapeFn", "reshape", "view", "ContiguousFn", "PermuteFn", "permute", "transpose",
    "t", "flatten", "unsqueeze", "squeeze", "narrow", "select", "DiagonalFn", "diagonal",
    "AsStridedFn", "as_strided", "movedim", "swapaxes", "meshgrid", "GetItemFn", "getitem",
    "clean_index", "ExpandFn", "expand", "repeat", "repeat_interleave", "FlipFn", "flip",
]


class ReshapeFn(Function):
    is_view = True  # NumPy's reshape is a view when the strides allow it, as PyTorch's

    @staticmethod
    def forward(ctx, a, shape):
        ctx.a_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad_out):
        # reshape moves values without changing them: reshape the gradient back
        return grad_out.reshape(ctx.a_shape)


def _named(out, name):
    """``out`` with its grad_fn named ``name``, as PyTorch names the op's (for ops that share
    one Function here)."""
    if out._ctx is not None:
        out._ctx.grad_fn_name = name
    return out


def reshape(input, *shape):
    """The same values in a new shape (one entry may be -1)."""
    return _reshape(input, shape, None)


def _reshape(input, shape, name):
    """``reshape``, its grad_fn named ``name`` (PyTorch's View or UnsafeView by default)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(check_int(s, "shape", -1) for s in shape)
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or input.numel() % known)) or \
            (-1 not in shape and known != input.numel()):
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of size "
                           f"{input.numel()} (shape {tuple(input.shape)})")
    out = ReshapeFn.apply(input, shape=shape)
    return _named(out, name or ("View" if out._base is not None else "UnsafeView"))


def view(input, *shape):
    """``input``'s memory seen with a new shape (as ``torch.Tensor.view``): raises when the
    strides do not allow it without a copy (``reshape`` copies then)."""
    out = reshape(input, *shape)
    if out._base is None and out.numel() > 0:
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride "
                           f"(shape {tuple(input.shape)}, stride {input.stride()}): at least "
                           f"one dimension spans across two contiguous subspaces. Use "
                           f".reshape(...) instead.")
    return out


class ContiguousFn(Function):
    grad_fn_name = "Clone"  # as PyTorch names contiguous()'s copy
    @staticmethod
    def forward(ctx, a):
        return np.ascontiguousarray(a)

    @staticmethod
    def backward(ctx, grad_out):
        # a copy in another memory order: the gradient passes through
        return grad_out


class PermuteFn(Function):
    is_view = True

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
    return _named(PermuteFn.apply(input, dims=dims), "Permute")


def transpose(input, dim0, dim1):
    """Swap dimensions ``dim0`` and ``dim1``."""
    dim0, dim1 = check_dim(dim0, input.ndim, "dim0"), check_dim(dim1, input.ndim, "dim1")
    dims = list(range(input.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return _named(PermuteFn.apply(input, dims=tuple(dims)), "Transpose")


def t(input):
    """The transpose of a matrix (a 0-d or 1-D tensor as it is), as ``torch.t``: a view."""
    return input.t()


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
    return _reshape(input, input.shape[:dim] + (1,) + input.shape[dim:], "Unsqueeze")


def squeeze(input, dim=None):
    """Remove dimensions of size 1 (only ``dim`` if given and of size 1)."""
    if dim is None:
        return _reshape(input, tuple(s for s in input.shape if s != 1), "Squeeze")
    dim = check_dim(dim, input.ndim, "dim")
    if input.shape[dim] != 1:  # a view of the same shape, as PyTorch's
        return _reshape(input, input.shape, "Squeeze")
    return _reshape(input, input.shape[:dim] + input.shape[dim + 1:], "Squeeze")


def movedim(input, source, destination):
    """Move dimension(s) ``source`` to position(s) ``destination``, the rest keeping their
    order (a view, as ``torch.movedim``)."""
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source and destination must have the same number of "
                         f"dimensions, got {len(src)} and {len(dst)}")
    src = [check_dim(d, input.ndim, "source") for d in src]
    dst = [check_dim(d, input.ndim, "destination") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("movedim: repeated dimension in source or destination")
    rest = iter(d for d in range(input.ndim) if d not in src)
    placed = dict(zip(dst, src))
    return PermuteFn.apply(input, dims=tuple(placed[i] if i in placed else next(rest)
                                             for i in range(input.ndim)))


def swapaxes(input, axis0, axis1):
    """``transpose(input, axis0, axis1)`` (NumPy's name, as ``torch.swapaxes``)."""
    return transpose(input, axis0, axis1)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors, as ``torch.meshgrid``: output i holds tensor i's
    values along its own dimension, repeated along the others (expanded views, so the
    gradient sums over the repeats). ``indexing="xy"`` swaps the first two dimensions."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f'meshgrid: indexing must be "ij" or "xy", got {indexing!r}')
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor) or t.ndim > 1:
            raise ValueError(f"meshgrid expects 0-D or 1-D tensors, got tensors[{i}] of shape "
                             f"{tuple(getattr(t, 'shape', ()))}")
    flat = [reshape(t, -1) for t in tensors]
    if indexing == "xy" and len(flat) >= 2:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t.shape[0] for t in flat)
    grids = []
    for i, t in enumerate(flat):
        ones = [1] * len(flat)
        ones[i] = shape[i]
        grids.append(expand(reshape(t, ones), *shape))
    if indexing == "xy" and len(grids) >= 2:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def narrow(input, dim, start, length):
    """The ``length`` elements from ``start`` along ``dim``: a view, as ``torch.narrow``."""
    dim = check_dim(dim, input.ndim, "dim")
    size = input.shape[dim]
    start = check_int(start, "start", -size)
    start = start + size if start < 0 else start
    length = check_int(length, "length", 0)
    if start > size or start + length > size:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({size})")
    return getitem(input, (slice(None),) * dim + (slice(start, start + length),))


def select(input, dim, index):
    """The slice at ``index`` along ``dim``, that dimension removed: a view (``x[:, i]``)."""
    dim = check_dim(dim, input.ndim, "dim")
    size = input.shape[dim]
    index = check_int(index, "index", -size)
    if index >= size:
        raise IndexError(f"select: index {index} is out of range for dimension {dim} of size "
                         f"{size}")
    return getitem(input, (slice(None),) * dim + (index,))


class DiagonalFn(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, offset, dim1, dim2):
        ctx.a_shape, ctx.args = a.shape, (offset, dim1, dim2)
        # np.diagonal's view is read-only by default; PyTorch's can be written through
        view = np.diagonal(a, offset, dim1, dim2)
        if a.flags.writeable:
            view.flags.writeable = True
        return view

    @staticmethod
    def backward(ctx, grad_out):
        # each diagonal element is one input element: its gradient goes back there
        grad = np.zeros(ctx.a_shape, dtype=grad_out.dtype)
        DiagonalFn.forward(ctx, grad, *ctx.args)[...] = grad_out
        return grad


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (``dim1``, ``dim2``) planes, as a last dimension: a view."""
    if input.ndim < 2:
        raise ValueError(f"diagonal needs at least 2 dimensions, got shape {tuple(input.shape)}")
    dim1, dim2 = check_dim(dim1, input.ndim, "dim1"), check_dim(dim2, input.ndim, "dim2")
    if dim1 == dim2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {dim1}")
    return DiagonalFn.apply(input, offset=check_int(offset, "offset"), dim1=dim1, dim2=dim2)


class AsStridedFn(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, size, stride, offset, storage):
        ctx.a_shape, ctx.args = a.shape, (size, stride, offset, storage)
        item = storage.itemsize
        return np.lib.stride_tricks.as_strided(storage[offset:], size,
                                               tuple(s * item for s in stride),
                                               writeable=False)

    @staticmethod
    def backward(ctx, grad_out):
        # map storage positions: where each output element and each input element sits
        size, stride, offset, storage = ctx.args
        positions = np.arange(storage.size)
        out_pos = np.lib.stride_tricks.as_strided(positions[offset:], size,
                                                  tuple(s * 8 for s in stride))
        grad_storage = np.zeros(storage.size, dtype=grad_out.dtype)
        np.add.at(grad_storage, out_pos, grad_out)
        return grad_storage[ctx.input_positions]


def as_strided(input, size, stride, storage_offset=None):
    """A read-only view of ``input``'s storage with the given sizes, strides (in elements)
    and offset, as ``torch.as_strided``. Every element it shows must lie inside the storage."""
    size = tuple(check_int(s, "size", 0) for s in size)
    stride = tuple(check_int(s, "stride", 0) for s in stride)
    if len(size) != len(stride):
        raise ValueError(f"as_strided: size {size} and stride {stride} must have the same "
                         f"length")
    offset = input.storage_offset() if storage_offset is None else \
        check_int(storage_offset, "storage_offset", 0)
    storage = input._storage_array().reshape(-1)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset
    if last >= storage.size and all(size):
        raise RuntimeError(f"as_strided: size {size}, stride {stride} and offset {offset} "
                           f"reach element {last}, past the storage's {storage.size}")
    storage = storage.view(input._data.dtype) if storage.dtype != input._data.dtype else storage
    out = AsStridedFn.apply(input, size=size, stride=stride, offset=offset, storage=storage)
    if out.grad_fn is not None:  # where the input's own elements sit in the storage
        item = input._data.itemsize
        out.grad_fn.input_positions = np.lib.stride_tricks.as_strided(
            np.arange(storage.size)[input.storage_offset():], input.shape,
            tuple(st // item * 8 for st in input._data.strides))
    return out


class GetItemFn(Function):
    is_view = True  # basic indexing (ints, slices, None, ...) is a view; advanced copies

    @staticmethod
    def forward(ctx, a, index):
        ctx.a_shape, ctx.a_dtype, ctx.index = a.shape, a.dtype, index
        ctx.grad_fn_name = index.grad_fn_name()
        return index.take(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d a[index] / da = 1 at the selected positions; add.at sums repeated integer indices
        grad = np.zeros(ctx.a_shape, dtype=grad_out.dtype)
        ctx.index.write(grad, grad_out, accumulate=True)
        return grad


def _as_view_index(index):
    """``x[1, 2]`` as ``x[1, 2, ...]``: NumPy then returns a 0-d view, not a copied scalar."""
    parts = index if isinstance(index, tuple) else (index,)
    if all(isinstance(i, (int, np.integer)) for i in parts):
        return parts + (Ellipsis,)
    return index


class IndexPlan:
    """An index checked against a shape and split as PyTorch applies it (see ``clean_index``):
    ``basic`` (ints, slices, None: NumPy basic indexing, a view), then ``advanced`` (a tuple of
    full slices and integer/boolean arrays, applied to that view by NumPy's advanced indexing,
    a copy), or None."""

    __slots__ = ("basic", "advanced")

    def __init__(self, basic, advanced=None):
        self.basic, self.advanced = tuple(basic), advanced

    @classmethod
    def along(cls, dim, index):
        """The plan of ``x[:, ..., :, index]`` with ``index`` (an integer array, checked) on
        dimension ``dim``: what index_select, index_add, index_copy and take use."""
        return cls((), (slice(None),) * dim + (index,))

    def grad_fn_name(self):
        """The name of PyTorch's grad_fn for ``x[index]``: that of its last step (``x[:]``
        and ``x[...]``, which have none here, are a Slice)."""
        if self.advanced is not None:
            return "Index"
        steps = [i for i in self.basic if i is not Ellipsis and i != slice(None)]
        last = steps[-1] if steps else slice(None)
        return "Unsqueeze" if last is None else "Slice" if isinstance(last, slice) else "Select"

    def view(self, array):
        """The basic part: a view of ``array``."""
        return array[_as_view_index(self.basic)]

    def take(self, array):
        """``array[index]``."""
        view = self.view(array)
        return view if self.advanced is None else view[self.advanced]

    def write(self, array, values, accumulate=False):
        """``array[index] = values`` in place (``+=`` with ``accumulate``, where repeated
        positions add up; without it one of the writes to a repeated position stays)."""
        view = self.view(array)
        if self.advanced is None:
            if accumulate:
                view += values
            else:
                view[...] = values
        elif accumulate:
            np.add.at(view, self.advanced, values)
        else:
            view[self.advanced] = values


_INDEX_TYPES = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                "Variables are valid indices (got {})")


def _is_tuple_index(index):
    """PyTorch's (and old NumPy's) rule for ``x[seq]``: a tuple is a tuple of indices; a short
    list holding a tensor, a sequence, a slice, None or Ellipsis is too (deprecated)."""
    if isinstance(index, tuple):
        return True
    if not isinstance(index, list) or len(index) >= 32:
        return False
    if any(isinstance(i, (Tensor, np.ndarray, list, tuple, slice)) or i is None or i is Ellipsis
           for i in index):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated "
                      "(as in PyTorch); use x[tuple(seq)] instead of x[seq]", UserWarning,
                      stacklevel=5)
        return True
    return False


def _index_item(item):
    """One entry of an index as ``(kind, value)``: "int", "slice", "none", "ellipsis", "bool"
    (a Python or 0-d boolean: a new dimension, indexed by [0] or []), "array" (integers) or
    "mask" (a boolean array, one dimension of the input per dimension of the mask)."""
    if item is None:
        return "none", None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, (bool, np.bool_)):
        return "bool", bool(item)
    if isinstance(item, numbers.Integral):
        return "int", operator.index(item)
    if isinstance(item, slice):
        start, stop, step = (None if v is None else operator.index(v)
                             for v in (item.start, item.stop, item.step))
        if step == 0:  # PyTorch also refuses a negative step; minicnn keeps NumPy's reversal
            raise ValueError("slice step cannot be zero")
        return "slice", slice(start, stop, step)
    if isinstance(item, (list, tuple)):
        # PyTorch makes a list an int64 tensor (floats truncated), or a bool one
        array = np.asarray([i._data if isinstance(i, Tensor) else i for i in item])
        if array.dtype.kind not in "biuf":
            raise IndexError(_INDEX_TYPES.format(f"a list of {array.dtype}"))
        item = array if array.dtype == np.bool_ else array.astype(np.int64)
    if isinstance(item, (Tensor, np.ndarray)):
        array = item._data if isinstance(item, Tensor) else item
        if array.dtype in (np.bool_, np.uint8):
            if array.ndim == 0:
                return "bool", bool(array)
            return "mask", array.astype(np.bool_, copy=False)
        if array.dtype not in (np.int64, np.int32):
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors, "
                             f"got dtype {array.dtype}")
        if array.ndim == 0:  # a 0-d integer tensor selects, as an int does
            return "int", int(array)
        return "array", array
    raise IndexError(_INDEX_TYPES.format(type(item).__name__))


def clean_index(index, shape):
    """``index`` (anything ``x[index]`` takes) checked against ``shape``, as an ``IndexPlan``.

    PyTorch's rule, which is NumPy's except for where ints put the indexed dimensions: the
    entries are applied left to right, ints (and 0-d integer tensors) *select* (drop the
    dimension), slices keep it, None adds one, Ellipsis stands for the dimensions no other
    entry names, a bool (or 0-d bool tensor) adds one indexed by ``[0]`` (True) or ``[]``
    (False). Then the integer arrays (lists, tensors) and boolean masks index the dimensions
    they sit on, broadcast together: if they sit next to each other (nothing but other arrays
    between them) the broadcast dimensions replace theirs in place, otherwise they go first.
    So ``x[0, :, idx]`` has shape ``(x.shape[1], len(idx))`` (NumPy: the reverse, as it
    counts the int as an array). Integer indices may be negative (from the end); unlike
    PyTorch, a slice may have a negative step (NumPy's reversed view).
    """
    items = [_index_item(i) for i in (index if _is_tuple_index(index) else (index,))]
    ndim = len(shape)
    specified = sum(1 if kind in ("int", "slice", "array") else value.ndim if kind == "mask"
                    else 0 for kind, value in items)
    if specified > ndim:
        if ndim == 0 and any(kind == "int" for kind, _ in items):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python "
                             "to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    basic, arrays = [], {}  # arrays: position in the basic result -> integer or bool array
    dim = out = 0  # the next dimension of the input, and of the basic result
    for kind, value in items:
        if kind == "ellipsis":  # each Ellipsis stands for the unnamed dims (PyTorch takes two)
            basic += [slice(None)] * (ndim - specified)
            dim, out = dim + ndim - specified, out + ndim - specified
            continue
        if kind in ("none", "bool"):
            basic.append(None)
            if kind == "bool":
                arrays[out] = np.zeros(int(value), dtype=np.int64)
            out += 1
            continue
        width = value.ndim if kind == "mask" else 1
        if dim + width > ndim:
            raise IndexError(f"too many indices for tensor of dimension {ndim}")
        size = shape[dim]
        if kind == "int":
            if not -size <= value < size:
                raise IndexError(f"index {value} is out of bounds for dimension {dim} with "
                                 f"size {size}")
            basic.append(value)
            dim += 1
            continue
        if kind == "array" and value.size and (value.min() < -size or value.max() >= size):
            bad = value.min() if value.min() < -size else value.max()
            raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
        if kind == "mask" and value.shape != tuple(shape[dim:dim + width]):
            raise IndexError(f"The shape of the mask {list(value.shape)} at index {dim} does "
                             f"not match the shape of the indexed tensor {list(shape)} at "
                             f"index {dim}")
        if kind != "slice":
            arrays[out] = value
        basic += [value if kind == "slice" else slice(None)] * (1 if kind == "slice" else width)
        dim, out = dim + width, out + width
    while basic and basic[-1] == slice(None):  # trailing full slices change nothing
        basic.pop()
    return IndexPlan(basic, _advanced(arrays))


def _advanced(arrays):
    """The advanced part of a plan: ``arrays`` (position -> array) as a NumPy index tuple, full
    slices between them; None if there are none."""
    if not arrays:
        return None
    shapes = [(int(a.sum()),) if a.dtype == np.bool_ else a.shape for a in arrays.values()]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together with "
                         "shapes " + ", ".join(str(list(s)) for s in shapes)) from None
    advanced, position = [], 0
    while position <= max(arrays):
        array = arrays.get(position)
        advanced.append(slice(None) if array is None else array)
        position += 1 if array is None or array.dtype != np.bool_ else array.ndim
    return tuple(advanced)


def getitem(input, index):
    """``input[index]`` with PyTorch's rules (see ``clean_index``): ints, slices, None,
    Ellipsis, bools, integer or boolean Tensors/arrays/lists. Basic indexing (no arrays) gives
    a view, advanced indexing a copy."""
    return GetItemFn.apply(input, index=clean_index(index, input.shape))


class ExpandFn(Function):
    is_view = True  # a read-only view: each input element is seen many times

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


def _repeat_counts(repeats, n):
    """``repeats`` (an int, or a 0-d/1-d integer tensor of length 1 or ``n``) as n counts."""
    if isinstance(repeats, Tensor):
        counts = repeats._data
        if counts.dtype.kind not in "iu" or counts.ndim > 1:
            raise TypeError(f"repeat_interleave: repeats must be an int or a 0-d or 1-d integer "
                            f"tensor, got a {counts.ndim}-d {counts.dtype} tensor")
        counts = counts.reshape(-1)
    else:
        counts = np.array([check_int(repeats, "repeats")])
    if n is not None and counts.size not in (1, n):
        raise RuntimeError(f"repeat_interleave: repeats must have 1 or {n} entries (the size of "
                         f"the repeated dimension), got {counts.size}")
    if (counts < 0).any():
        raise RuntimeError(f"repeat_interleave: repeats can not be negative, got "
                         f"{int(counts.min())}")
    return np.broadcast_to(counts, (n,)) if n is not None else counts


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each entry of ``input`` along ``dim`` repeated ``repeats`` times in place (``[a, b]`` ->
    ``[a, a, b, b]``), where ``repeat`` tiles the whole (``[a, b, a, b]``); ``dim=None``
    flattens first. ``repeats`` is an int or one count per entry. With only a tensor of counts,
    ``repeat_interleave(counts)`` gives the indices ``0`` repeated ``counts[0]`` times, ``1``
    ``counts[1]`` times, ... (int64). The gradient sums the copies' gradients."""
    if repeats is None:
        if not isinstance(input, Tensor):
            raise TypeError(f"repeat_interleave: expected a tensor of counts, got "
                            f"{type(input).__name__}")
        counts = _repeat_counts(input, None)
        index = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
        out = Tensor(index)
    else:
        x = reshape(input, (-1,)) if dim is None else input
        dim = 0 if dim is None else check_dim(dim, x.ndim)
        if x.ndim == 0:
            x = reshape(x, (1,))
        index = np.repeat(np.arange(x.shape[dim], dtype=np.int64),
                          _repeat_counts(repeats, x.shape[dim]))
        out = GetItemFn.apply(x, index=IndexPlan.along(dim, index))
    if output_size is not None and check_int(output_size, "output_size") != index.size:
        raise ValueError(f"repeat_interleave: output_size={output_size} but the repeats give "
                         f"{index.size} entries")
    return out


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
