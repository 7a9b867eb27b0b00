"""Function and Tensor: the op base class and the n-dimensional array that records ops on it.

``Function.apply`` runs an op's forward on arrays and records a ``Context`` (``autograd.py``)
when an input requires grad. ``Tensor`` holds an ndarray and its gradient; its operators and
methods (``a + b``, ``x.sum()``, ``x.reshape(...)``) call the ops in ``minicnn/ops/``, where each
op's forward and backward sit side by side.

The package's one import cycle is here: ``minicnn.ops`` subclasses ``Function`` and wraps its
results in ``Tensor``, and Tensor's methods call ``ops``. This module imports ``ops`` at its end,
after both classes exist, and the methods look the ops up when called, so either can be
imported first.
"""
import numpy as np

from minicnn import _format, dtypes
from minicnn._inplace import InplaceOps
from minicnn._checks import FLOAT_DTYPES, check_dim, check_int
from minicnn.autograd import Context, _root_grad, is_grad_enabled, no_grad, run_backward

__all__ = ["Function", "Tensor"]


class Function:
    """Base class of every differentiable operation: subclass it, then call ``MyOp.apply``.

    ``forward(ctx, *inputs, **options)`` receives ndarrays where the caller passed Tensors (other
    positional arguments, e.g. ``None`` for a missing bias, pass through unchanged) and returns
    one ndarray. ``backward(ctx, grad_out)`` receives the gradient of the loss with respect to
    that output (an ndarray of its shape) and returns one gradient per positional input (a
    tuple, or a single array if there is one input); ``None`` where there is none or
    ``ctx.needs_input_grad`` says it is not needed. Keyword options are not differentiable.
    Backward must not modify ``grad_out`` in place (it may be shared or read-only).

    Examples
    --------
    >>> import numpy as np, minicnn
    >>> class CubeFn(minicnn.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad_out):
    ...         x, = ctx.saved_tensors
    ...         return grad_out * 3 * x ** 2          # d(x^3)/dx = 3x^2
    >>> x = minicnn.tensor([2.0], requires_grad=True)
    >>> CubeFn.apply(x).sum().backward()
    >>> x.grad
    array([12.], dtype=float32)
    """

    @staticmethod
    def forward(ctx, *inputs, **options):
        """Compute the output from ndarrays; save what backward needs on ``ctx``.

        ``inputs`` arrive as ndarrays (Tensors unwrapped), ``options`` as given to ``apply``.
        Return one ndarray.
        """
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_out):
        """Given ``grad_out`` (the output's shape), return one gradient per input.

        Each gradient is an ndarray of its input's shape, or None where
        ``ctx.needs_input_grad[i]`` is False (nobody asked for it).
        """
        raise NotImplementedError

    # False: forward and backward work on ndarrays (minicnn's own ops). True for
    # minicnn.autograd.Function, PyTorch's kind: they receive and return Tensors.
    tensor_io = False

    @classmethod
    def apply(cls, *inputs, **options):
        """Run ``forward`` on the inputs' arrays and, if any input requires grad (and grad mode
        is on), record the operation so that ``backward`` can reach the inputs.

        Returns
        -------
        Tensor
            The output; ``requires_grad`` is True iff the operation was recorded.
        """
        needs = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        record = any(needs) and is_grad_enabled()
        ctx = Context(cls, needs if record else (False,) * len(inputs))
        if cls.tensor_io:  # minicnn.autograd.Function: forward sees Tensors, records nothing
            arrays = [Tensor._make(t.data, None, t._version_box) if isinstance(t, Tensor)
                      else t for t in inputs]
            with no_grad():
                out = cls.forward(ctx, *arrays, **options)
            out = out.data if isinstance(out, Tensor) else out
        else:
            arrays = [t.data if isinstance(t, Tensor) else t for t in inputs]
            out = cls.forward(ctx, *arrays, **options)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)  # NumPy reductions return scalars; keep their dtype
        if not record or out.dtype.kind != "f":  # integer results (casts) carry no gradient
            return Tensor._make(out, None)  # ctx, and everything it saved, dies here
        ctx._parents = inputs
        result = Tensor._make(out, ctx)
        if ctx._saved:
            # Remember the version of every input (and the output) whose array backward will
            # read, so that an in-place change made after this point is caught, not used.
            saved = [id(a.data if isinstance(a, Tensor) else a) for a in ctx._saved]
            ctx._saved_versions = tuple(
                (t._version_box, t._version_box[0], what)
                for t, what in [(t, f"input {i}") for i, t in enumerate(inputs)
                                if isinstance(t, Tensor)] + [(result, "its output")]
                if id(t.data) in saved)
        return result


def _default_dtype(array, keep_float64):
    """The dtype a Tensor gets when none is asked for: float32 for floats (float64 only if
    ``keep_float64``: an ndarray handed to ``Tensor``), int64 for integers, bool for bools."""
    kind = array.dtype.kind
    if kind == "f":
        return array.dtype if keep_float64 and array.dtype == np.float64 else np.dtype(np.float32)
    if kind in "iu":
        return np.dtype(np.int64)
    if kind == "b":
        return np.dtype(bool)
    raise TypeError(f"data must be numeric, got an array of dtype {array.dtype}")


class TensorFunction(Function):
    """``minicnn.autograd.Function``: a custom op written as in PyTorch, on Tensors.

    ``forward(ctx, *inputs)`` receives Tensors (cut from the graph: nothing inside forward is
    recorded) and returns a Tensor; ``backward(ctx, grad_output)`` receives the output's
    gradient as a Tensor and returns one Tensor (or None) per input. ``minicnn.Function`` is
    the same on NumPy arrays.
    """

    tensor_io = True


class Tensor(InplaceOps):
    """An n-dimensional array that records the operations applied to it, for backward.

    Parameters
    ----------
    data : array_like or Tensor
        The values. An ndarray of float32, float64 or int64 is used as it is (no copy); other
        floats become float32, other integers int64 (class labels), bools stay bool. A Tensor
        passes its array through (same dtype, shared memory). ``minicnn.tensor`` is the
        friendlier factory: it copies.
    requires_grad : bool
        Whether ``backward`` should compute ``.grad`` for this (leaf) tensor. Only floating
        point tensors can require grad.
    dtype : minicnn or NumPy dtype, optional
        Force this dtype (e.g. ``minicnn.float64`` for gradient checking).

    Attributes
    ----------
    data : ndarray
        The values, a NumPy array (in PyTorch ``.data`` is a Tensor; here it is the array
        itself, which the kernels and optimizers work on). Optimizers update it in place.
    grad : ndarray or None
        For a leaf that requires grad: the accumulated gradient (same shape and dtype as
        ``data``; a NumPy array, where PyTorch has a Tensor). ``backward`` *adds* to it; reset
        it between steps (``optimizer.zero_grad()``). Non-leaf tensors keep one only after
        ``retain_grad()``.
    grad_fn : Context or None
        The recorded operation that produced this tensor (None for a leaf).
    """

    # Make NumPy hand `array + tensor`, `array @ tensor`, ... to our reflected operators
    # instead of trying to broadcast a Tensor object elementwise.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            array = data.data if dtype is None else data.data.astype(np.dtype(dtype), copy=False)
        else:
            array = np.asarray(data)
            target = (_default_dtype(array, keep_float64=isinstance(data, np.ndarray))
                      if dtype is None else np.dtype(dtype))
            array = array.astype(target, copy=False)
        self.data = array
        self.grad = None
        self._ctx = None
        self._version_box = [0]
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, array, ctx, version_box=None):
        """Wrap an op's output array without any dtype conversion."""
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t._ctx = array, None, ctx
        t._version_box = [0] if version_box is None else version_box
        t._requires_grad = ctx is not None
        return t

    def _wrap_grad(self, array):
        """A gradient array as a Tensor (what hooks and ``autograd.grad`` hand out)."""
        return Tensor._make(array, None)

    # --- attributes --------------------------------------------------------------------------

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"requires_grad must be a bool, got {type(value).__name__}")
        if value and self.data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"only float32/float64 tensors can require gradients, this one is "
                            f"{self.data.dtype}")
        if getattr(self, "_ctx", None) is not None and not value:
            raise RuntimeError("requires_grad can only be changed on leaf tensors; use "
                               ".detach() to get a tensor cut from the graph")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place (default True) and return this tensor."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        """The recorded operation that produced this tensor, or None for a leaf."""
        return self._ctx

    @property
    def is_leaf(self):
        """True for tensors created by the user (not by a recorded operation)."""
        return self._ctx is None

    @property
    def _version(self):
        """How many times this tensor's values were changed in place (as PyTorch's)."""
        return self._version_box[0]

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward (as PyTorch)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that doesn't require grad")
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; if it returns a
        tensor, that replaces the gradient. Returns a handle whose ``remove()`` undoes it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        hooks = self.__dict__.setdefault("_hooks", [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    @property
    def shape(self):
        """The shape, a ``minicnn.Size`` (a tuple of ints)."""
        return dtypes.Size(self.data.shape)

    @property
    def dtype(self):
        """The element type, ``minicnn.float32`` etc. (equal to the NumPy dtype as well)."""
        return dtypes._BY_NUMPY.get(self.data.dtype, self.data.dtype)

    @property
    def device(self):
        """Always ``device('cpu')``: minicnn computes on the CPU."""
        return dtypes.device("cpu")

    is_cuda = False

    @property
    def ndim(self):
        """Number of dimensions."""
        return self.data.ndim

    def dim(self):
        """Number of dimensions (as ``torch.Tensor.dim``)."""
        return self.data.ndim

    def size(self, dim=None):
        """The shape (a ``minicnn.Size``), or the size of dimension ``dim``."""
        if dim is None:
            return self.shape
        return self.data.shape[check_dim(dim, self.ndim)]

    def numel(self):
        """Number of elements."""
        return self.data.size

    def element_size(self):
        """Bytes per element."""
        return self.data.itemsize

    def is_floating_point(self):
        """True for float16/32/64 tensors."""
        return self.data.dtype.kind == "f"

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"only one-element tensors can be converted to Python scalars, "
                             f"this one has shape {tuple(self.shape)}")
        return self.data.item()

    def tolist(self):
        """The values as (nested) Python lists of numbers; a number for a 0-d tensor."""
        return self.data.tolist()

    def numpy(self):
        """The underlying ndarray (shared, not copied). Unlike PyTorch, allowed on a tensor that
        requires grad too: the array carries no graph, so nothing can go wrong through it."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        # np.asarray(tensor), plotting libraries and np.testing see the values (no graph).
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def detach(self):
        """A new leaf tensor sharing this one's data (and version counter), cut from the graph."""
        return Tensor._make(self.data, None, self._version_box)

    def detach_(self):
        """Cut this tensor from the graph in place; it becomes a leaf."""
        self._ctx, self._requires_grad = None, False
        return self

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of a tensor with {self.data.size} values is "
                               f"ambiguous; use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.ndim != 0 or self.data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.data)

    def __format__(self, spec):
        if self.data.ndim == 0:
            return format(self.data.item(), spec)
        return format(repr(self), spec)

    # Elementwise ``==`` (below) makes tensors unhashable by default; hash by identity as
    # PyTorch does, so tensors can be dict keys and set members.
    __hash__ = object.__hash__

    def __repr__(self):
        return _format.tensor_repr(self)

    # --- dtype and device ----------------------------------------------------------------------

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """This tensor converted to ``dtype`` (differentiable between float dtypes) and/or
        moved to ``device`` (only ``'cpu'`` exists): ``t.to(minicnn.float64)``,
        ``t.to('cpu')``, ``t.to('cpu', minicnn.double)``, ``t.to(other_tensor)``."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, (str, dtypes.device)):
                device = arg
            else:
                dtype = arg
        dtypes.as_device(device)
        target = self.data.dtype if dtype is None else np.dtype(dtypes.as_dtype(dtype))
        if target == self.data.dtype:
            return self.clone() if copy else self
        return ops.CastFn.apply(self, dtype=target)

    def cpu(self):
        """This tensor (minicnn tensors always live on the CPU)."""
        return self

    def cuda(self, *args, **kwargs):
        """Refused: minicnn computes on the CPU only."""
        raise RuntimeError("minicnn runs on the CPU only; .cuda() is not available")

    def type(self, dtype=None):
        """With no argument, the type name (``'minicnn.FloatTensor'``); else ``to(dtype)``."""
        if dtype is None:
            names = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
                     "bool": "Bool", "uint8": "Byte", "float16": "Half", "int16": "Short",
                     "int8": "Char"}
            return f"minicnn.{names.get(self.data.dtype.name, self.data.dtype.name)}Tensor"
        return self.to(dtype)

    def type_as(self, other):
        """Converted to ``other``'s dtype."""
        return self.to(other.dtype)

    def float(self):
        """Converted to float32."""
        return self.to(np.float32)

    def double(self):
        """Converted to float64."""
        return self.to(np.float64)

    def half(self):
        """Converted to float16 (storage only: minicnn's ops compute in float32/64)."""
        return self.to(np.float16)

    def long(self):
        """Converted to int64 (no gradient)."""
        return self.to(np.int64)

    def int(self):
        """Converted to int32 (no gradient)."""
        return self.to(np.int32)

    def bool(self):
        """Converted to bool (no gradient)."""
        return self.to(np.bool_)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A new tensor from ``data`` with this tensor's dtype unless ``dtype`` is given."""
        dtypes.as_device(device)
        target = self.data.dtype if dtype is None else np.dtype(dtypes.as_dtype(dtype))
        source = data.data if isinstance(data, Tensor) else data
        return Tensor(np.array(source, dtype=target, copy=True), requires_grad=requires_grad,
                      dtype=target)

    def _new(self, fill, size, dtype, device, requires_grad):
        dtypes.as_device(device)
        shape = _size_args(size)
        target = self.data.dtype if dtype is None else np.dtype(dtypes.as_dtype(dtype))
        array = np.empty(shape, target) if fill is None else np.full(shape, fill, target)
        return Tensor(array, requires_grad=requires_grad, dtype=target)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros of ``size`` with this tensor's dtype (unless given)."""
        return self._new(0, size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """Ones of ``size`` with this tensor's dtype (unless given)."""
        return self._new(1, size, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        """``fill_value`` everywhere, of ``size``, with this tensor's dtype (unless given)."""
        return self._new(fill_value, (size,), dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """An uninitialised tensor of ``size`` with this tensor's dtype (unless given)."""
        return self._new(None, size, dtype, device, requires_grad)

    # --- backward ----------------------------------------------------------------------------

    def backward(self, gradient=None, retain_graph=None, create_graph=False, *, grad=None):
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Gradients are *added* to the leaves' ``.grad`` (call ``zero_grad()`` between steps).
        Each recorded operation is visited once, in reverse topological order, however many
        times its output was reused; the traversal is iterative, so graphs of any depth work.

        Parameters
        ----------
        gradient : array_like or Tensor, optional
            d(something)/d(self), of this tensor's shape. May be omitted only for a tensor with
            one element (it is then 1). ``grad=`` is accepted as an alias.
        retain_graph : bool
            Keep the graph (and its saved buffers) for another backward. By default they are
            freed, and a second backward through the same graph raises ``RuntimeError``.
        """
        if create_graph:
            raise NotImplementedError("create_graph=True (higher-order gradients) is not "
                                      "supported by minicnn")
        if not self.requires_grad:
            raise RuntimeError("this tensor does not require grad and has no grad_fn: nothing "
                               "it depends on requires grad (or it was computed under no_grad)")
        run_backward(self, _root_grad(self, grad if gradient is None else gradient),
                     bool(retain_graph))

    # --- arithmetic --------------------------------------------------------------------------

    def __add__(self, other):
        return ops.binary(ops.AddFn, self, other)

    def __radd__(self, other):
        return ops.binary(ops.AddFn, self, other, reflected=True)

    def __sub__(self, other):
        return ops.binary(ops.SubFn, self, other)

    def __rsub__(self, other):
        return ops.binary(ops.SubFn, self, other, reflected=True)

    def __mul__(self, other):
        return ops.binary(ops.MulFn, self, other)

    def __rmul__(self, other):
        return ops.binary(ops.MulFn, self, other, reflected=True)

    def __truediv__(self, other):
        return ops.binary(ops.DivFn, self, other)

    def __rtruediv__(self, other):
        return ops.binary(ops.DivFn, self, other, reflected=True)

    def __pow__(self, exponent):
        return ops.pow(self, exponent)

    def __rpow__(self, base):
        return ops.binary(ops.PowFn, self, base, reflected=True)

    def __matmul__(self, other):
        return ops.binary(ops.MatMulFn, self, other)

    def __rmatmul__(self, other):
        return ops.binary(ops.MatMulFn, self, other, reflected=True)

    def __neg__(self):
        return ops.NegFn.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    # --- comparisons (no gradient: the results are boolean tensors) ---------------------------

    def __gt__(self, other):
        return ops.gt(self, other)

    def __ge__(self, other):
        return ops.ge(self, other)

    def __lt__(self, other):
        return ops.lt(self, other)

    def __le__(self, other):
        return ops.le(self, other)

    def __eq__(self, other):
        return ops.eq(self, other)

    def __ne__(self, other):
        return ops.ne(self, other)

    def __invert__(self):
        return ops.logical_not(self)

    def __and__(self, other):
        return ops.logical_and(self, other)

    def __or__(self, other):
        return ops.logical_or(self, other)

    # --- reductions with PyTorch's and NumPy's argument names ----------------------------------

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        """Sum over ``dim`` (an int, a tuple of ints, or None for all). ``axis``/``keepdims``
        are accepted as NumPy-style aliases of ``dim``/``keepdim``."""
        out = ops.sum(self, *ops.reduce_args(dim, keepdim, axis, keepdims))
        return out if dtype is None else out.to(dtype)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Mean over ``dim`` (an int, a tuple of ints, or None for all)."""
        return ops.mean(self, *ops.reduce_args(dim, keepdim, axis, keepdims))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """As ``torch.Tensor.max``: the largest value, ``(values, indices)`` along ``dim``, or
        the elementwise maximum with a tensor (see ``minicnn.ops.max``)."""
        return ops.max(self, *ops.reduce_args(dim, keepdim, axis, keepdims))

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """As ``torch.Tensor.min`` (see ``max``)."""
        return ops.min(self, *ops.reduce_args(dim, keepdim, axis, keepdims))

    # --- shape --------------------------------------------------------------------------------

    def reshape(self, *shape):
        """The same values in a new shape (one entry may be -1)."""
        return ops.reshape(self, *shape)

    def view(self, *shape):
        """As ``reshape`` (minicnn does not distinguish views from copies)."""
        return ops.reshape(self, *shape)

    def view_as(self, other):
        """Reshaped to ``other``'s shape."""
        return ops.reshape(self, other.shape)

    def expand_as(self, other):
        """Broadcast to ``other``'s shape."""
        return ops.expand(self, *other.shape)

    def reshape_as(self, other):
        """Reshaped to ``other``'s shape."""
        return ops.reshape(self, other.shape)

    def contiguous(self):
        """This tensor (minicnn's arrays need no separate contiguous copy)."""
        return self

    @property
    def T(self):
        """All dimensions reversed (the matrix transpose for 2-D)."""
        return ops.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        """The last two dimensions swapped."""
        return ops.transpose(self, -2, -1)

    def __getitem__(self, index):
        """Indexing with ints, slices, None, Ellipsis, integer or boolean arrays/Tensors."""
        return ops.getitem(self, index)


class _HookHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off again."""

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _size_args(size):
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` -> ``(2, 3)`` (shape arguments as PyTorch)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(check_int(n, "size", 0) for n in size)


# ---------------------------------------------------------------------------------------------
# Tensor arguments: the checks every op's wrapper makes on its tensor inputs.
# ---------------------------------------------------------------------------------------------

def as_tensor_arg(value, name):
    """A Tensor as is; an ndarray wrapped (dtype kept, no grad); anything else is a TypeError."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":  # Tensor() would refuse it without naming `name`
            raise TypeError(f"{name} must be a float32 or float64 tensor, got an array of "
                            f"dtype {value.dtype}")
        return Tensor(value)
    raise TypeError(f"{name} must be a Tensor (or a numpy.ndarray), got {type(value).__name__}")


def float_tensor_arg(value, name, ndim=None):
    """``as_tensor_arg``, and the tensor must be float32/float64 (of ``ndim`` dims if given)."""
    t = as_tensor_arg(value, name)
    if t.dtype.kind != "f":
        raise TypeError(f"{name} must be a float32 or float64 tensor, got dtype {t.dtype}")
    if ndim is not None and t.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ValueError(f"{name} must be {ndim}-D, got shape {t.shape}")
    return t


from minicnn import ops  # noqa: E402  (the one import cycle, see the module docstring)
