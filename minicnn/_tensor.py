"""Function and Tensor: the op base class and the n-dimensional array that records ops on it.

``Function.apply`` runs an op's forward on arrays and records a ``Context`` (``autograd/``)
when an input requires grad. ``Tensor`` holds an ndarray and its gradient; its operators and
methods (``a + b``, ``x.sum()``, ``x.reshape(...)``) call the ops in ``minicnn/ops/``, where each
op's forward and backward sit side by side.

The package's one import cycle is here: ``minicnn.ops`` subclasses ``Function`` and wraps its
results in ``Tensor``, and Tensor's methods call ``ops``. This module imports ``ops`` at its end,
after both classes exist, and the methods look the ops up when called, so either can be
imported first.
"""
import functools
import weakref

import numpy as np

from minicnn import _format, dtypes
from minicnn._inplace import InplaceOps
from minicnn.rng import numpy_generator
from minicnn._checks import FLOAT_DTYPES, check_dim, check_int, numpy_names
from minicnn.autograd import (AccumulateGrad, Context, _HookHandle, _root_grad, is_grad_enabled,
                              no_grad, refuse_create_graph, run_backward)

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
    tensor([12.])
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

    # True for ops whose output may be a view of their first input (reshape, permute, basic
    # indexing, ...): forward must then be a pure function of that array, which is replayed on
    # the base's array to find where the view sits (see ``Tensor._as_view_of``).
    is_view = False

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
            arrays = [Tensor._make(t._data, None, t._version_box) if isinstance(t, Tensor)
                      else t for t in inputs]
            with no_grad():
                out = cls.forward(ctx, *arrays, **options)
            out = out._data if isinstance(out, Tensor) else out
        else:
            arrays = [t._data if isinstance(t, Tensor) else t for t in inputs]
            out = cls.forward(ctx, *arrays, **options)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)  # NumPy reductions return scalars; keep their dtype
        if not record or out.dtype.kind != "f":  # integer results (casts) carry no gradient
            result = Tensor._make(out, None)  # ctx, and everything it saved, dies here
        else:
            ctx._next = tuple(t._grad_node() if need else None for t, need in zip(inputs, needs))
            ctx._input_meta = tuple((t._data.shape, t._data.dtype) if isinstance(t, Tensor)
                                    else None for t in inputs)
            ctx._output_meta = (out.shape, out.dtype)
            result = Tensor._make(out, ctx)
            if ctx._saved:
                # Remember the version of every input (and the output) whose array backward
                # will read, so that an in-place change made after this point is caught.
                saved = [id(a._data if isinstance(a, Tensor) else a) for a in ctx._saved]
                ctx._saved_versions = tuple(
                    (t._version_box, t._version_box[0], what)
                    for t, what in [(t, f"input {i}") for i, t in enumerate(inputs)
                                    if isinstance(t, Tensor)] + [(result, "its output")]
                    if id(t._data) in saved)
        if cls.is_view and isinstance(inputs[0], Tensor) and out.size \
                and np.may_share_memory(out, arrays[0]):
            result._as_view_of(inputs[0], functools.partial(_replay_view, cls, options))
        return result


def _replay_view(fn, options, array):
    """The view op ``fn`` applied to ``array`` again (how a view is found inside its base)."""
    return fn.forward(Context(fn, ()), array, **options)


def _view_positions(view_fn, shape):
    """For each element of a view, its position in its base (flattened, in C order): the view
    op replayed on the base's positions ``0, 1, 2, ...``."""
    return view_fn(np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape))


class AsStridedFn(Function):
    """The node of a view whose base changed in place after it was made: the view is then
    "these elements of the base as it is now", whatever ops made it."""

    @staticmethod
    def backward(ctx, grad_out):
        # each element of the view is one element of the base: send its gradient there
        # (add.at: an expanded view reads one base element many times)
        grad = np.zeros(int(np.prod(ctx.base_shape)), dtype=grad_out.dtype)
        np.add.at(grad, _view_positions(ctx.view_fn, ctx.base_shape), grad_out)
        return grad.reshape(ctx.base_shape)


class CopySlicesFn(Function):
    """The node of a base after an in-place op on one of its views (PyTorch's ``CopySlices``):
    the new base is the old base with the view's elements replaced by ``f(old view)``.
    Inputs: the old base, and the result of ``f``."""

    @staticmethod
    def backward(ctx, grad_out):
        # the replaced elements no longer depend on the old base: their gradient goes to the
        # values written there; every other element passes its gradient to the old base
        where = _view_positions(ctx.view_fn, ctx.base_shape)
        grad_values = np.ascontiguousarray(grad_out).reshape(-1)[where]
        grad_base = np.array(grad_out, order="C", copy=True)
        grad_base.reshape(-1)[where] = 0
        return grad_base, grad_values


def _default_dtype(array, keep_float64):
    """The dtype a Tensor gets when none is asked for: the default dtype (float32 unless
    ``set_default_dtype`` changed it) for floats (a float32/float64 ndarray handed to ``Tensor``
    keeps its dtype if ``keep_float64``), int64 for integers, bool for bools."""
    kind = array.dtype.kind
    if kind == "f":
        if keep_float64 and array.dtype in (np.float32, np.float64):
            return array.dtype
        return dtypes.default_numpy_float()
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
        friendlier factory: it copies, and keeps every dtype minicnn supports.
    requires_grad : bool
        Whether ``backward`` should compute ``.grad`` for this (leaf) tensor. Only floating
        point tensors can require grad.
    dtype : minicnn or NumPy dtype, optional
        Force this dtype (e.g. ``minicnn.float64`` for gradient checking).

    Attributes
    ----------
    data : Tensor
        The same values as a tensor cut from the graph (``requires_grad=False``), sharing this
        tensor's memory: ``p.data.mul_(0.5)`` changes ``p``. The values themselves live in a
        NumPy array, ``t.numpy()`` (the kernels, optimizers and ``Function.forward`` work on it).
    grad : Tensor or None
        For a leaf that requires grad: the accumulated gradient (same shape and dtype).
        ``backward`` *adds* to it; reset it between steps (``optimizer.zero_grad()`` or
        ``w.grad.zero_()``). Non-leaf tensors keep one only after ``retain_grad()``.
    grad_fn : Context or None
        The node of the graph that produced this tensor (None for a leaf).

    A tensor made by a view op (``view``, ``reshape`` when it can, ``transpose``, ``x[1:3]``,
    ``expand``, ``detach``, ...) shares its base's memory and its version counter; an in-place
    change through either is seen by both, and by autograd (see ``docs/tensors.md``).
    """

    __module__ = "minicnn"  # type(x) prints <class 'minicnn.Tensor'>, as PyTorch's torch.Tensor

    # Make NumPy hand `array + tensor`, `array @ tensor`, ... to our reflected operators
    # instead of trying to broadcast a Tensor object elementwise.
    __array_ufunc__ = None

    # Set on views only (see _as_view_of): the tensor whose memory this one shows, and how.
    _base = None

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            array = data._data if dtype is None else data._data.astype(np.dtype(dtype),
                                                                      copy=False)
        else:
            array = np.asarray(data)
            target = (_default_dtype(array, keep_float64=isinstance(data, np.ndarray))
                      if dtype is None else np.dtype(dtype))
            array = array.astype(target, copy=False)
        self._data = array
        self._grad = None
        self._ctx = None
        self._version_box = [0]
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, array, ctx, version_box=None):
        """Wrap an op's output array without any dtype conversion."""
        t = Tensor.__new__(Tensor)
        t._data, t._grad, t._ctx = array, None, ctx
        t._version_box = [0] if version_box is None else version_box
        t._requires_grad = ctx is not None
        return t

    # --- views: shared memory, one version counter, history through the base ----------------

    def _as_view_of(self, source, view_fn):
        """Make this tensor a view of ``source``: same version counter, and ``_base`` /
        ``_view_fn`` to find its elements inside the base (the first non-view tensor)."""
        multi = source.__dict__.get("_multi_output")
        if multi is not None:  # a view of one of split's views is refused in-place alike
            self._multi_output = multi
        if source._base is not None:
            outer = source._view_fn
            view_fn = _compose(outer, view_fn)
            source = source._base
        self._base, self._view_fn = source, view_fn
        self._version_box = source._version_box
        self._view_version = source._version_box[0]

    def _refresh_view(self):
        """Called when the base changed in place since this view's node was made: the view is
        now "these elements of the base as it is now" (a new AsStrided node on the base's
        current node), as PyTorch regenerates a view's grad_fn."""
        base = self._base
        self._view_version = self._version_box[0]
        if base._requires_grad:
            node = Context(AsStridedFn, (True,))
            node._next = (base._grad_node(),)
            node._input_meta = ((base._data.shape, base._data.dtype),)
            node.view_fn, node.base_shape = self._view_fn, base._data.shape
            node._output_meta = (self._data.shape, self._data.dtype)
            self._ctx, self._requires_grad = node, True

    def _grad_node(self):
        """The node a gradient for this tensor goes to: its op's Context, its AccumulateGrad
        if it is a leaf that requires grad, or None."""
        if self._base is not None and self._view_version != self._version_box[0]:
            self._refresh_view()
        if self._ctx is not None:
            return self._ctx
        if not self._requires_grad:
            return None
        # The leaf keeps its AccumulateGrad only weakly (the graph holds it, and it holds the
        # leaf), so a leaf and its graph form no reference cycle: refcounting frees them.
        ref = self.__dict__.get("_accumulator")
        node = ref() if ref is not None else None
        if node is None:
            node = AccumulateGrad(self)
            self._accumulator = weakref.ref(node)
        return node

    # --- attributes --------------------------------------------------------------------------

    @property
    def data(self):
        """The values as a tensor cut from the graph, sharing this tensor's memory and version
        counter (``p.data.add_(...)`` changes ``p``; autograd sees that it changed)."""
        return Tensor._make(self._data, None, self._version_box)

    @data.setter
    def data(self, value):
        # p.data = other: p now shows other's values (memory shared, as in PyTorch)
        array = value._data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        if array.shape != self._data.shape or array.dtype != self._data.dtype:
            raise ValueError(f"data must have this tensor's shape {tuple(self._data.shape)} "
                             f"and dtype {self._data.dtype}, got shape {tuple(array.shape)} "
                             f"and dtype {array.dtype}")
        self._data = array
        self._version_box[0] += 1

    @property
    def grad(self):
        """The accumulated gradient, a Tensor (None until a backward reaches this leaf)."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if isinstance(value, np.ndarray):  # minicnn also takes an array here
                value = Tensor._make(value, None)
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None, got "
                                f"{type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"assigned grad has shape {tuple(value._data.shape)}, this "
                                   f"tensor has shape {tuple(self._data.shape)}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"assigned grad has dtype {value._data.dtype}, this tensor "
                                   f"has dtype {self._data.dtype}")
        self._grad = value

    @property
    def requires_grad(self):
        if self._base is not None and self._view_version != self._version_box[0]:
            self._refresh_view()
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"requires_grad must be a bool, got {type(value).__name__}")
        if value and self._data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"only float32/float64 tensors can require gradients, this one is "
                            f"{self._data.dtype}")
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
        """The node that produced this tensor, or None for a leaf."""
        if self._base is not None and self._view_version != self._version_box[0]:
            self._refresh_view()
        return self._ctx

    @property
    def is_leaf(self):
        """True for tensors created by the user (not by a recorded operation)."""
        return self.grad_fn is None

    @property
    def _version(self):
        """How many times this tensor's values were changed in place (as PyTorch's); shared by
        a base and all its views."""
        return self._version_box[0]

    @property
    def is_view(self):
        """True for a view of another tensor's memory (its base is ``t._base``)."""
        return self._base is not None

    def _is_view(self):
        """PyTorch's name for ``is_view``."""
        return self._base is not None

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward (as PyTorch)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that doesn't require grad")
        if self.grad_fn is not None:
            self._ctx._retained = weakref.ref(self)  # weak: the tensor holds its node
            self._retains_grad = True

    @property
    def retains_grad(self):
        """True after ``retain_grad()`` on a non-leaf tensor."""
        return self.__dict__.get("_retains_grad", False)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; if it returns a
        tensor, that replaces the gradient. Returns a handle whose ``remove()`` undoes it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        if self.grad_fn is None:  # a leaf: kept on the tensor, which its AccumulateGrad reads
            hooks = self.__dict__.setdefault("_leaf_hooks", [])
            hooks.append(hook)
            return _HookHandle(hooks, hook)
        return self._ctx.register_hook(hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after backward has added this leaf's gradient into ``.grad``
        (as PyTorch: the hook reads ``tensor.grad``; what it returns is ignored). Returns a handle
        whose ``remove()`` undoes it. DistributedDataParallel uses it to learn when a parameter's
        gradient is ready."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        hooks = self.__dict__.setdefault("_post_accumulate_hooks", [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    # --- memory: strides, storage, contiguity ---------------------------------------------------

    def stride(self, dim=None):
        """Steps in elements between neighbours along each dimension (a tuple), or along
        ``dim``. A view shows its base's memory with other strides."""
        strides = tuple(st // self._data.itemsize for st in self._data.strides)
        return strides if dim is None else strides[check_dim(dim, self.ndim)]

    def _storage_array(self):
        array = self._data
        while isinstance(array.base, np.ndarray):
            array = array.base
        return array

    def storage_offset(self):
        """Where this tensor's first element sits in its storage, in elements."""
        return (_address(self._data) - _address(self._storage_array())) // self._data.itemsize

    def untyped_storage(self):
        """The memory this tensor shows (shared by a base and its views): ``data_ptr()`` and
        ``nbytes()``, enough to tell whether two tensors share memory."""
        return _Storage(self._storage_array())

    def data_ptr(self):
        """The address of this tensor's first element."""
        return _address(self._data)

    def is_contiguous(self, memory_format=None):
        """True if the elements lie in memory in row-major order with no gaps."""
        return self._data.flags.c_contiguous

    def contiguous(self, memory_format=None):
        """This tensor if it is contiguous; otherwise a contiguous copy (differentiable)."""
        return self if self._data.flags.c_contiguous else ops.ContiguousFn.apply(self)

    @property
    def shape(self):
        """The shape, a ``minicnn.Size`` (a tuple of ints)."""
        return dtypes.Size(self._data.shape)

    @property
    def dtype(self):
        """The element type, ``minicnn.float32`` etc. (equal to the NumPy dtype as well)."""
        return dtypes._BY_NUMPY.get(self._data.dtype, self._data.dtype)

    @property
    def device(self):
        """Always ``device('cpu')``: minicnn computes on the CPU."""
        return dtypes.device("cpu")

    @property
    def is_cpu(self):
        """True: every minicnn tensor lives on the CPU."""
        return True

    @property
    def is_cuda(self):
        """False (as the other device checks below): minicnn has no GPU."""
        return False

    @property
    def is_xpu(self):
        """False: no Intel GPU."""
        return False

    @property
    def is_mps(self):
        """False: no Apple GPU."""
        return False

    @property
    def is_meta(self):
        """False: minicnn has no meta (shape-only) tensors; every tensor holds its values."""
        return False

    @property
    def ndim(self):
        """Number of dimensions."""
        return self._data.ndim

    def dim(self):
        """Number of dimensions (as ``torch.Tensor.dim``)."""
        return self._data.ndim

    def size(self, dim=None):
        """The shape (a ``minicnn.Size``), or the size of dimension ``dim``."""
        if dim is None:
            return self.shape
        return self._data.shape[check_dim(dim, self.ndim)]

    def numel(self):
        """Number of elements."""
        return self._data.size

    def element_size(self):
        """Bytes per element."""
        return self._data.itemsize

    def is_floating_point(self):
        """True for float16/32/64 tensors."""
        return self._data.dtype.kind == "f"

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"only one-element tensors can be converted to Python scalars, "
                             f"this one has shape {tuple(self.shape)}")
        return self._data.item()

    def tolist(self):
        """The values as (nested) Python lists of numbers; a number for a 0-d tensor."""
        return self._data.tolist()

    def numpy(self, *, force=False):
        """The underlying ndarray (shared, not copied: writing to it changes this tensor).

        As in PyTorch, refused for a tensor that requires grad (the array carries no graph,
        and a write through it would go unseen by autograd): use ``t.detach().numpy()``, or
        ``numpy(force=True)``, which is the same.
        """
        if force:
            return self._data
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        # np.asarray(tensor), plotting libraries and np.testing see the values (no graph). For
        # a tensor that requires grad the array is read-only: a write would go unseen.
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        array = self._data if dtype is None else self._data.astype(dtype, copy=False)
        if array is self._data and self._requires_grad:
            array = array.view()
            array.flags.writeable = False
        return array

    def detach(self):
        """A new leaf tensor sharing this one's memory (and version counter), cut from the
        graph: ``requires_grad=False``."""
        return Tensor._make(self._data, None, self._version_box)

    def __reduce_ex__(self, protocol):
        # Pickled (DataLoader workers, multiprocessing) as a plain tensor: the values, and for
        # a leaf its requires_grad and .grad. A graph, or a view's link to its base, does not
        # travel: NumPy pickles just this tensor's elements.
        extra = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        leaf = self.grad_fn is None
        return (_rebuild, (type(self), self._data, leaf and self._requires_grad,
                           self._grad if leaf else None, extra))

    def __deepcopy__(self, memo):
        # As PyTorch: only leaves can be deep-copied (a copy of a graph node means nothing).
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment; use .detach() or "
                               ".clone() first")
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update({k: v for k, v in self.__dict__.items()
                             if k not in ("_data", "_grad", "_ctx", "_version_box", "_base",
                                          "_view_fn", "_view_version", "_accumulator",
                                          "_retains_grad")})
        new._data, new._ctx, new._version_box = self._data.copy(), None, [0]
        new._grad = None if self._grad is None else self._grad.clone()
        new._requires_grad = self._requires_grad
        return new

    def detach_(self):
        """Cut this tensor from the graph in place; it becomes a leaf."""
        self._ctx, self._requires_grad = None, False
        return self

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of a tensor with {self._data.size} values is "
                               f"ambiguous; use .any() or .all()")
        return bool(self._data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.ndim != 0 or self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self._data)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
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
        target = self._data.dtype if dtype is None else np.dtype(dtypes.as_dtype(dtype))
        if target == self._data.dtype:
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
            return f"minicnn.{dtypes.torch_type_name(self._data.dtype)}Tensor"
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
        target = self._data.dtype if dtype is None else np.dtype(dtypes.as_dtype(dtype))
        source = data._data if isinstance(data, Tensor) else data
        return Tensor(np.array(source, dtype=target, copy=True), requires_grad=requires_grad,
                      dtype=target)

    def _new(self, fill, size, dtype, device, requires_grad):
        dtypes.as_device(device)
        shape = _size_args(size)
        target = self._data.dtype if dtype is None else np.dtype(dtypes.as_dtype(dtype))
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
        refuse_create_graph(create_graph)
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

    def add(self, other, *, alpha=1):
        """``self + alpha * other`` (see ``minicnn.add``)."""
        return ops.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        """``self - alpha * other``."""
        return ops.sub(self, other, alpha=alpha)

    def mul(self, other):
        """``self * other``."""
        return ops.mul(self, other)

    def div(self, other):
        """``self / other``."""
        return ops.div(self, other)

    subtract, multiply, divide = sub, mul, div

    def pow(self, exponent):
        """``self ** exponent``."""
        return ops.pow(self, exponent)

    def matmul(self, other):
        """``self @ other``."""
        return ops.matmul(self, other)

    def dot(self, other):
        """The inner product with ``other`` (both 1-D)."""
        return ops.dot(self, other)

    def mm(self, mat2):
        """The matrix product with ``mat2`` (both 2-D)."""
        return ops.mm(self, mat2)

    def neg(self):
        """``-self``."""
        return ops.neg(self)

    negative = neg

    def maximum(self, other):
        """The elementwise maximum with ``other``."""
        return ops.maximum(self, other)

    def minimum(self, other):
        """The elementwise minimum with ``other``."""
        return ops.minimum(self, other)

    # --- linear algebra -------------------------------------------------------------------------

    def bmm(self, mat2):
        """The batched matrix product with ``mat2`` (both 3-D)."""
        return ops.bmm(self, mat2)

    def mv(self, vec):
        """The product of this matrix with the vector ``vec``."""
        return ops.mv(self, vec)

    def vdot(self, other):
        """The dot product with ``other`` (both 1-D)."""
        return ops.vdot(self, other)

    def inner(self, other):
        """Sum of products over the last dimension of both (see ``minicnn.inner``)."""
        return ops.inner(self, other)

    def outer(self, vec2):
        """The outer product with ``vec2`` (both 1-D)."""
        return ops.outer(self, vec2)

    def ger(self, vec2):
        """``outer`` (PyTorch's old name)."""
        return ops.outer(self, vec2)

    def kron(self, other):
        """The Kronecker product with ``other``."""
        return ops.kron(self, other)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """``beta * self + alpha * (mat1 @ mat2)``."""
        return ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        """``beta * self + alpha * (mat @ vec)``."""
        return ops.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """``beta * self + alpha * bmm(batch1, batch2)``."""
        return ops.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """``beta * self + alpha * (the sum of the products batch1[b] @ batch2[b])``."""
        return ops.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        """``beta * self + alpha * outer(vec1, vec2)``."""
        return ops.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def tril(self, diagonal=0):
        """The lower triangle of the last two dimensions, the rest zero."""
        return ops.tril(self, diagonal)

    def triu(self, diagonal=0):
        """The upper triangle of the last two dimensions, the rest zero."""
        return ops.triu(self, diagonal)

    def diag(self, diagonal=0):
        """1-D: the matrix with these values on a diagonal; 2-D: that diagonal (a copy)."""
        return ops.diag(self, diagonal)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        """Matrices with the last dimension on their diagonal (see ``minicnn.diag_embed``)."""
        return ops.diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset=0):
        """The matrix with the flattened values on a diagonal."""
        return ops.diagflat(self, offset)

    def det(self):
        """The determinant of the square matrices in the last two dimensions."""
        return ops.det(self)

    def inverse(self):
        """The inverses of the square matrices in the last two dimensions."""
        return ops.inverse(self)

    def trace(self):
        """The sum of the diagonal of this matrix."""
        return ops.trace(self)

    def cross(self, other, dim=None):
        """The cross product with ``other`` along ``dim`` (the first of size 3 if None)."""
        return ops.cross(self, other, dim)

    def dist(self, other, p=2):
        """The p-norm of ``self - other``."""
        return ops.dist(self, other, p)

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        """``addmm`` in place."""
        return self._inplace(lambda old: ops.addmm(old, mat1, mat2, beta=beta, alpha=alpha),
                             "addmm_")

    def addmv_(self, mat, vec, *, beta=1, alpha=1):
        """``addmv`` in place."""
        return self._inplace(lambda old: ops.addmv(old, mat, vec, beta=beta, alpha=alpha),
                             "addmv_")

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        """``baddbmm`` in place."""
        return self._inplace(lambda old: ops.baddbmm(old, batch1, batch2, beta=beta,
                                                     alpha=alpha), "baddbmm_")

    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        """``addbmm`` in place."""
        return self._inplace(lambda old: ops.addbmm(old, batch1, batch2, beta=beta,
                                                    alpha=alpha), "addbmm_")

    def addr_(self, vec1, vec2, *, beta=1, alpha=1):
        """``addr`` in place."""
        return self._inplace(lambda old: ops.addr(old, vec1, vec2, beta=beta, alpha=alpha),
                             "addr_")

    def tril_(self, diagonal=0):
        """``tril`` in place."""
        return self._inplace(lambda old: ops.tril(old, diagonal), "tril_")

    def triu_(self, diagonal=0):
        """``triu`` in place."""
        return self._inplace(lambda old: ops.triu(old, diagonal), "triu_")

    # --- elementwise functions ------------------------------------------------------------------

    def exp(self):
        """e**x elementwise."""
        return ops.exp(self)

    def log(self):
        """Natural logarithm elementwise."""
        return ops.log(self)

    def sqrt(self):
        """Square root elementwise."""
        return ops.sqrt(self)

    def abs(self):
        """Absolute value elementwise."""
        return ops.abs(self)

    def sin(self):
        """Sine elementwise."""
        return ops.sin(self)

    def cos(self):
        """Cosine elementwise."""
        return ops.cos(self)

    def tan(self):
        """Tangent elementwise."""
        return ops.tan(self)

    def rsqrt(self):
        """1 / sqrt(x) elementwise."""
        return ops.rsqrt(self)

    def sign(self):
        """-1, 0 or 1 elementwise."""
        return ops.sign(self)

    def square(self):
        """``self * self``."""
        return ops.square(self)

    def clamp(self, min=None, max=None):
        """Each value limited to [min, max]."""
        return ops.clamp(self, min, max)

    clip = clamp

    def clone(self):
        """A copy with its own memory (differentiable)."""
        return ops.clone(self)

    def floor(self):
        """Largest integer <= x, elementwise."""
        return ops.floor(self)

    def ceil(self):
        """Smallest integer >= x, elementwise."""
        return ops.ceil(self)

    def trunc(self):
        """The integer part, rounding towards zero, elementwise."""
        return ops.trunc(self)

    fix = trunc

    def frac(self):
        """The fractional part, ``self - trunc(self)``, elementwise."""
        return ops.frac(self)

    def round(self, decimals=0):
        """Round half to even, elementwise."""
        return ops.round(self, decimals)

    def relu(self):
        """max(x, 0) elementwise."""
        return ops.relu(self)

    def sigmoid(self):
        """1 / (1 + exp(-x)) elementwise."""
        return ops.sigmoid(self)

    def tanh(self):
        """Hyperbolic tangent elementwise."""
        return ops.tanh(self)

    @numpy_names
    def softmax(self, dim):
        """Softmax along ``dim``."""
        return ops.softmax(self, dim)

    @numpy_names
    def log_softmax(self, dim):
        """log(softmax) along ``dim``."""
        return ops.log_softmax(self, dim)

    # --- in place: elementwise functions and random fills ----------------------------------------

    def exp_(self):
        """``exp`` in place."""
        return self._inplace(ops.exp, "exp_")

    def log_(self):
        """``log`` in place."""
        return self._inplace(ops.log, "log_")

    def sqrt_(self):
        """``sqrt`` in place."""
        return self._inplace(ops.sqrt, "sqrt_")

    def rsqrt_(self):
        """``rsqrt`` in place."""
        return self._inplace(ops.rsqrt, "rsqrt_")

    def tan_(self):
        """``tan`` in place."""
        return self._inplace(ops.tan, "tan_")

    def abs_(self):
        """``abs`` in place."""
        return self._inplace(ops.abs, "abs_")

    def neg_(self):
        """``neg`` in place."""
        return self._inplace(ops.neg, "neg_")

    def relu_(self):
        """``relu`` in place."""
        return self._inplace(ops.relu, "relu_")

    def sigmoid_(self):
        """``sigmoid`` in place."""
        return self._inplace(ops.sigmoid, "sigmoid_")

    def tanh_(self):
        """``tanh`` in place."""
        return self._inplace(ops.tanh, "tanh_")

    def floor_(self):
        """``floor`` in place."""
        return self._inplace(ops.floor, "floor_")

    def round_(self, decimals=0):
        """``round`` in place."""
        return self._inplace(lambda old: ops.round(old, decimals), "round_")

    def masked_fill_(self, mask, value):
        """``masked_fill`` in place."""
        return self._inplace(lambda old: ops.masked_fill(old, mask, value), "masked_fill_")

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with draws from N(mean, std²) in place (minicnn's generator)."""
        return self._inplace(lambda old: _drawn(old, "normal", generator, mean, std), "normal_")

    def uniform_(self, from_=0.0, to=1.0, *, generator=None):
        """Fill with draws from U(from_, to) in place."""
        return self._inplace(lambda old: _drawn(old, "uniform", generator, from_, to),
                             "uniform_")

    def random_(self, from_=0, to=None, *, generator=None):
        """Fill with random integers in [from_, to) in place (``random_(to)``: [0, to))."""
        low, high = (0, from_) if to is None and from_ else (from_, to)
        if high is None:  # PyTorch: [0, 2**mantissa] for floats, the dtype's range for ints
            high = 2 ** 24 if self._data.dtype == np.float32 else (
                2 ** 53 if self._data.dtype.kind == "f" else np.iinfo(self._data.dtype).max)
        return self._inplace(lambda old: _drawn(old, "integers", generator, low, high),
                             "random_")

    def exponential_(self, lambd=1.0, *, generator=None):
        """Fill with draws from Exp(lambd) in place."""
        return self._inplace(lambda old: _drawn(old, "exponential", generator, 1.0 / lambd),
                             "exponential_")

    def geometric_(self, p, *, generator=None):
        """Fill with draws from Geometric(p) (trials to the first success) in place."""
        return self._inplace(lambda old: _drawn(old, "geometric", generator, p), "geometric_")

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        """Fill with exp(N(mean, std²)) draws in place."""
        return self._inplace(lambda old: _drawn(old, "lognormal", generator, mean, std),
                             "log_normal_")

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        """Fill with Cauchy(median, sigma) draws in place."""
        return self._inplace(lambda old: _drawn(old, "cauchy", generator, median, sigma),
                             "cauchy_")

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 1 (probability ``p``, a number or a tensor) or 0, in place."""
        probs = p._data if isinstance(p, Tensor) else p
        return self._inplace(lambda old: _drawn(old, "bernoulli", generator, probs),
                             "bernoulli_")

    def bernoulli(self, p=None, *, generator=None):
        """1 with probability ``self`` (or ``p``), else 0 (see ``minicnn.bernoulli``)."""
        return ops.bernoulli(self, p, generator=generator)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """Category indices drawn with this tensor's weights (see ``minicnn.multinomial``)."""
        return ops.multinomial(self, num_samples, replacement, generator=generator)

    # --- special functions ------------------------------------------------------------------

    def log1p(self):
        """``log(1 + self)`` elementwise, accurate for small values."""
        return ops.log1p(self)

    def log1p_(self):
        """``log1p`` in place."""
        return self._inplace(ops.log1p, "log1p_")

    def expm1(self):
        """``exp(self) - 1`` elementwise, accurate for small values."""
        return ops.expm1(self)

    def expm1_(self):
        """``expm1`` in place."""
        return self._inplace(ops.expm1, "expm1_")

    def log2(self):
        """Base-2 logarithm elementwise."""
        return ops.log2(self)

    def log2_(self):
        """``log2`` in place."""
        return self._inplace(ops.log2, "log2_")

    def log10(self):
        """Base-10 logarithm elementwise."""
        return ops.log10(self)

    def log10_(self):
        """``log10`` in place."""
        return self._inplace(ops.log10, "log10_")

    def sinh(self):
        """Hyperbolic sine elementwise."""
        return ops.sinh(self)

    def sinh_(self):
        """``sinh`` in place."""
        return self._inplace(ops.sinh, "sinh_")

    def cosh(self):
        """Hyperbolic cosine elementwise."""
        return ops.cosh(self)

    def cosh_(self):
        """``cosh`` in place."""
        return self._inplace(ops.cosh, "cosh_")

    def asinh(self):
        """Inverse hyperbolic sine elementwise."""
        return ops.asinh(self)

    def asinh_(self):
        """``asinh`` in place."""
        return self._inplace(ops.asinh, "asinh_")

    def acosh(self):
        """Inverse hyperbolic cosine elementwise."""
        return ops.acosh(self)

    def acosh_(self):
        """``acosh`` in place."""
        return self._inplace(ops.acosh, "acosh_")

    def atanh(self):
        """Inverse hyperbolic tangent elementwise."""
        return ops.atanh(self)

    def atanh_(self):
        """``atanh`` in place."""
        return self._inplace(ops.atanh, "atanh_")

    def asin(self):
        """Arcsine elementwise."""
        return ops.asin(self)

    def asin_(self):
        """``asin`` in place."""
        return self._inplace(ops.asin, "asin_")

    def acos(self):
        """Arccosine elementwise."""
        return ops.acos(self)

    def acos_(self):
        """``acos`` in place."""
        return self._inplace(ops.acos, "acos_")

    def atan(self):
        """Arctangent elementwise."""
        return ops.atan(self)

    def atan_(self):
        """``atan`` in place."""
        return self._inplace(ops.atan, "atan_")

    arcsinh, arccosh, arctanh, arcsin, arccos, arctan = asinh, acosh, atanh, asin, acos, atan
    arcsinh_, arccosh_, arctanh_, arcsin_, arccos_, arctan_ = (asinh_, acosh_, atanh_, asin_,
                                                               acos_, atan_)

    def erf(self):
        """The error function elementwise."""
        return ops.erf(self)

    def erf_(self):
        """``erf`` in place."""
        return self._inplace(ops.erf, "erf_")

    def erfc(self):
        """``1 - erf(self)`` elementwise."""
        return ops.erfc(self)

    def erfc_(self):
        """``erfc`` in place."""
        return self._inplace(ops.erfc, "erfc_")

    def erfinv(self):
        """The inverse error function elementwise."""
        return ops.erfinv(self)

    def erfinv_(self):
        """``erfinv`` in place."""
        return self._inplace(ops.erfinv, "erfinv_")

    def lgamma(self):
        """``log(|Gamma(self)|)`` elementwise."""
        return ops.lgamma(self)

    def lgamma_(self):
        """``lgamma`` in place."""
        return self._inplace(ops.lgamma, "lgamma_")

    def digamma(self):
        """``Gamma'(self) / Gamma(self)`` elementwise."""
        return ops.digamma(self)

    def digamma_(self):
        """``digamma`` in place."""
        return self._inplace(ops.digamma, "digamma_")

    def logit(self, eps=None):
        """``log(p / (1 - p))`` elementwise (see ``minicnn.logit``)."""
        return ops.logit(self, eps)

    def logit_(self, eps=None):
        """``logit`` in place."""
        return self._inplace(lambda old: ops.logit(old, eps), "logit_")

    def atan2(self, other):
        """The angle of the point ``(other, self)`` elementwise."""
        return ops.atan2(self, other)

    def atan2_(self, other):
        """``atan2`` in place."""
        return self._inplace(lambda old: ops.atan2(old, other), "atan2_")

    arctan2, arctan2_ = atan2, atan2_

    def hypot(self, other):
        """``sqrt(self^2 + other^2)`` elementwise."""
        return ops.hypot(self, other)

    def hypot_(self, other):
        """``hypot`` in place."""
        return self._inplace(lambda old: ops.hypot(old, other), "hypot_")

    def xlogy(self, other):
        """``self * log(other)``, 0 where self is 0 (see ``minicnn.xlogy``)."""
        return ops.xlogy(self, other)

    def xlogy_(self, other):
        """``xlogy`` in place."""
        return self._inplace(lambda old: ops.xlogy(old, other), "xlogy_")

    def lerp(self, end, weight):
        """``self + weight * (end - self)``."""
        return ops.lerp(self, end, weight)

    def lerp_(self, end, weight):
        """``lerp`` in place."""
        return self._inplace(lambda old: ops.lerp(old, end, weight), "lerp_")

    def addcmul(self, tensor1, tensor2, *, value=1):
        """``self + value * tensor1 * tensor2``."""
        return ops.addcmul(self, tensor1, tensor2, value=value)

    def addcmul_(self, tensor1, tensor2, *, value=1):
        """``addcmul`` in place."""
        return self._inplace(lambda old: ops.addcmul(old, tensor1, tensor2, value=value),
                             "addcmul_")

    def addcdiv(self, tensor1, tensor2, *, value=1):
        """``self + value * tensor1 / tensor2``."""
        return ops.addcdiv(self, tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        """``addcdiv`` in place."""
        return self._inplace(lambda old: ops.addcdiv(old, tensor1, tensor2, value=value),
                             "addcdiv_")

    def fmod(self, other):
        """The remainder of ``self / other`` with the sign of self (C's fmod)."""
        return ops.fmod(self, other)

    def fmod_(self, other):
        """``fmod`` in place."""
        return self._inplace(lambda old: ops.fmod(old, other), "fmod_")

    def remainder(self, other):
        """The remainder of ``self / other`` with the sign of other (Python's %)."""
        return ops.remainder(self, other)

    def remainder_(self, other):
        """``remainder`` in place."""
        return self._inplace(lambda old: ops.remainder(old, other), "remainder_")

    def floor_divide(self, other):
        """``floor(self / other)`` elementwise."""
        return ops.floor_divide(self, other)

    def floor_divide_(self, other):
        """``floor_divide`` in place."""
        return self._inplace(lambda old: ops.floor_divide(old, other), "floor_divide_")

    def __mod__(self, other):
        return ops.remainder(self, other)

    def __rmod__(self, other):
        return ops.remainder(other, self)

    def __floordiv__(self, other):
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return ops.floor_divide(other, self)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """NaN, +inf and -inf replaced by finite values (see ``minicnn.nan_to_num``)."""
        return ops.nan_to_num(self, nan, posinf, neginf)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        """``nan_to_num`` in place."""
        return self._inplace(lambda old: ops.nan_to_num(old, nan, posinf, neginf),
                             "nan_to_num_")

    def isposinf(self):
        """True where +inf."""
        return ops.isposinf(self)

    def isneginf(self):
        """True where -inf."""
        return ops.isneginf(self)

    def clamp_min(self, min):
        """``max(self, min)`` elementwise (a number or a tensor)."""
        return ops.clamp_min(self, min)

    def clamp_min_(self, min):
        """``clamp_min`` in place."""
        return self._inplace(lambda old: ops.clamp_min(old, min), "clamp_min_")

    def clamp_max(self, max):
        """``min(self, max)`` elementwise (a number or a tensor)."""
        return ops.clamp_max(self, max)

    def clamp_max_(self, max):
        """``clamp_max`` in place."""
        return self._inplace(lambda old: ops.clamp_max(old, max), "clamp_max_")

    def bitwise_and(self, other):
        """``self & other`` bit by bit (integer and bool tensors)."""
        return ops.bitwise_and(self, other)

    def bitwise_and_(self, other):
        """``bitwise_and`` in place."""
        return self._inplace(lambda old: ops.bitwise_and(old, other), "bitwise_and_")

    def bitwise_or(self, other):
        """``self | other`` bit by bit."""
        return ops.bitwise_or(self, other)

    def bitwise_or_(self, other):
        """``bitwise_or`` in place."""
        return self._inplace(lambda old: ops.bitwise_or(old, other), "bitwise_or_")

    def bitwise_xor(self, other):
        """``self ^ other`` bit by bit."""
        return ops.bitwise_xor(self, other)

    def bitwise_xor_(self, other):
        """``bitwise_xor`` in place."""
        return self._inplace(lambda old: ops.bitwise_xor(old, other), "bitwise_xor_")

    def bitwise_not(self):
        """``~self`` bit by bit."""
        return ops.bitwise_not(self)

    def bitwise_not_(self):
        """``bitwise_not`` in place."""
        return self._inplace(ops.bitwise_not, "bitwise_not_")

    # --- sorting and statistics ---------------------------------------------------------------

    @numpy_names
    def sort(self, dim=-1, descending=False, *, stable=False):
        """``(values, indices)`` sorted along ``dim`` (see ``minicnn.sort``)."""
        return ops.sort(self, dim, descending, stable=stable)

    @numpy_names
    def argsort(self, dim=-1, descending=False, stable=False):
        """The indices that sort ``self`` along ``dim``."""
        return ops.argsort(self, dim, descending, stable)

    @numpy_names
    def topk(self, k, dim=-1, largest=True, sorted=True):
        """``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``."""
        return ops.topk(self, k, dim, largest, sorted)

    @numpy_names
    def kthvalue(self, k, dim=-1, keepdim=False):
        """``(values, indices)`` of the ``k``-th smallest along ``dim``."""
        return ops.kthvalue(self, k, dim, keepdim)

    @numpy_names
    def median(self, dim=None, keepdim=False):
        """The lower median, or ``(values, indices)`` along ``dim`` (see ``minicnn.median``)."""
        return ops.median(self, dim, keepdim)

    @numpy_names
    def mode(self, dim=-1, keepdim=False):
        """``(values, indices)`` of the most frequent value along ``dim``."""
        return ops.mode(self, dim, keepdim)

    @numpy_names
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values (see ``minicnn.unique``)."""
        return ops.unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        """How often each non-negative integer occurs (see ``minicnn.bincount``)."""
        return ops.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):
        """A histogram of the values (see ``minicnn.histc``)."""
        return ops.histc(self, bins, min, max)

    @numpy_names
    def cumprod(self, dim, *, dtype=None):
        """Running products along ``dim``."""
        return ops.cumprod(self, dim, dtype=dtype)

    @numpy_names
    def cumprod_(self, dim, *, dtype=None):
        """``cumprod`` in place."""
        return self._inplace(lambda old: ops.cumprod(old, dim, dtype=dtype), "cumprod_")

    @numpy_names
    def cummax(self, dim):
        """``(values, indices)`` of the running maximum along ``dim``."""
        return ops.cummax(self, dim)

    @numpy_names
    def cummin(self, dim):
        """``(values, indices)`` of the running minimum along ``dim``."""
        return ops.cummin(self, dim)

    @numpy_names
    def logcumsumexp(self, dim):
        """``log(cumsum(exp(self)))`` along ``dim``, without overflow."""
        return ops.logcumsumexp(self, dim)

    @numpy_names
    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        """The sum over ``dim`` with NaN counted as 0."""
        return ops.nansum(self, dim, keepdim, dtype=dtype)

    @numpy_names
    def nanmean(self, dim=None, keepdim=False, *, dtype=None):
        """The mean over ``dim`` of the values that are not NaN."""
        return ops.nanmean(self, dim, keepdim, dtype=dtype)

    @numpy_names
    def aminmax(self, *, dim=None, keepdim=False):
        """``(min, max)`` over ``dim`` (see ``minicnn.aminmax``)."""
        return ops.aminmax(self, dim=dim, keepdim=keepdim)

    # --- reductions and scans ---------------------------------------------------------------

    @numpy_names
    def amax(self, dim=None, keepdim=False):
        """Maximum over ``dim`` (an int, a tuple, or None for all)."""
        return ops.amax(self, dim, keepdim)

    @numpy_names
    def amin(self, dim=None, keepdim=False):
        """Minimum over ``dim``."""
        return ops.amin(self, dim, keepdim)

    @numpy_names
    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Variance over ``dim`` (see ``minicnn.var``)."""
        return ops.var(self, dim, unbiased, keepdim, correction=correction)

    @numpy_names
    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Standard deviation over ``dim``."""
        return ops.std(self, dim, unbiased, keepdim, correction=correction)

    @numpy_names
    def prod(self, dim=None, keepdim=False):
        """Product over ``dim``."""
        return ops.prod(self, dim, keepdim)

    @numpy_names
    def norm(self, p="fro", dim=None, keepdim=False):
        """The p-norm over ``dim``."""
        return ops.norm(self, p, dim, keepdim)

    @numpy_names
    def cumsum(self, dim):
        """Running sums along ``dim``."""
        return ops.cumsum(self, dim)

    @numpy_names
    def logsumexp(self, dim, keepdim=False):
        """``log(sum(exp(self)))`` over ``dim``, without overflow."""
        return ops.logsumexp(self, dim, keepdim)

    @numpy_names
    def argmax(self, dim=None, keepdim=False):
        """Indices of the maxima along ``dim`` (int64)."""
        return ops.argmax(self, dim, keepdim)

    @numpy_names
    def argmin(self, dim=None, keepdim=False):
        """Indices of the minima along ``dim`` (int64)."""
        return ops.argmin(self, dim, keepdim)

    @numpy_names
    def all(self, dim=None, keepdim=False):
        """True if every element (along ``dim``) is nonzero."""
        return ops.all(self, dim, keepdim)

    @numpy_names
    def any(self, dim=None, keepdim=False):
        """True if some element (along ``dim``) is nonzero."""
        return ops.any(self, dim, keepdim)

    @numpy_names
    def count_nonzero(self, dim=None):
        """How many elements (along ``dim``) are nonzero."""
        return ops.count_nonzero(self, dim)

    def nonzero(self, *, as_tuple=False):
        """Indices of the nonzero elements."""
        return ops.nonzero(self, as_tuple=as_tuple)

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

    # & | ^ ~ are bitwise, as PyTorch's: logical on bool tensors, bit by bit on integers, refused
    # on floats
    def __invert__(self):
        return ops.bitwise_not(self)

    def __and__(self, other):
        return ops.bitwise_and(self, other)

    def __rand__(self, other):
        return ops.bitwise_and(other, self)

    def __or__(self, other):
        return ops.bitwise_or(self, other)

    def __ror__(self, other):
        return ops.bitwise_or(other, self)

    def __xor__(self, other):
        return ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return ops.bitwise_xor(other, self)

    def eq(self, other):
        """``self == other`` elementwise."""
        return ops.eq(self, other)

    def ne(self, other):
        """``self != other`` elementwise."""
        return ops.ne(self, other)

    def lt(self, other):
        """``self < other`` elementwise."""
        return ops.lt(self, other)

    def le(self, other):
        """``self <= other`` elementwise."""
        return ops.le(self, other)

    def gt(self, other):
        """``self > other`` elementwise."""
        return ops.gt(self, other)

    def ge(self, other):
        """``self >= other`` elementwise."""
        return ops.ge(self, other)

    greater, less = gt, lt

    def equal(self, other):
        """True if same shape and values (a Python bool)."""
        return ops.equal(self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True if ``isclose`` holds everywhere."""
        return ops.allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """``|self - other| <= atol + rtol * |other|`` elementwise."""
        return ops.isclose(self, other, rtol, atol, equal_nan)

    def isnan(self):
        """True where NaN."""
        return ops.isnan(self)

    def isinf(self):
        """True where +-infinity."""
        return ops.isinf(self)

    def isfinite(self):
        """True where neither NaN nor infinite."""
        return ops.isfinite(self)

    def logical_not(self):
        """Elementwise not."""
        return ops.logical_not(self)

    def logical_and(self, other):
        """Elementwise and."""
        return ops.logical_and(self, other)

    def logical_or(self, other):
        """Elementwise or."""
        return ops.logical_or(self, other)

    def logical_xor(self, other):
        """Elementwise exclusive or."""
        return ops.logical_xor(self, other)

    # --- reductions (NumPy's axis=/keepdims= accepted too, through numpy_names) --------------

    @numpy_names
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        """Sum over ``dim`` (an int, a tuple of ints, or None for all)."""
        out = ops.sum(self, dim, keepdim)
        return out if dtype is None else out.to(dtype)

    @numpy_names
    def mean(self, dim=None, keepdim=False):
        """Mean over ``dim`` (an int, a tuple of ints, or None for all)."""
        return ops.mean(self, dim, keepdim)

    @numpy_names
    def max(self, dim=None, keepdim=False):
        """As ``torch.Tensor.max``: the largest value, ``(values, indices)`` along ``dim``, or
        the elementwise maximum with a tensor (see ``minicnn.ops.max``)."""
        return ops.max(self, dim, keepdim)

    @numpy_names
    def min(self, dim=None, keepdim=False):
        """As ``torch.Tensor.min`` (see ``max``)."""
        return ops.min(self, dim, keepdim)

    # --- shape --------------------------------------------------------------------------------

    def reshape(self, *shape):
        """The same values in a new shape (one entry may be -1): a view when the memory
        allows it, else a copy (as PyTorch's)."""
        return ops.reshape(self, *shape)

    def view(self, *shape):
        """The same memory seen with a new shape (one entry may be -1). Raises when the strides
        do not allow it (after a ``transpose``, say): use ``reshape`` or ``contiguous()``."""
        return ops.view(self, *shape)

    def view_as(self, other):
        """``view(other.shape)``."""
        return ops.view(self, other.shape)

    def expand_as(self, other):
        """Broadcast to ``other``'s shape."""
        return ops.expand(self, *other.shape)

    def reshape_as(self, other):
        """Reshaped to ``other``'s shape."""
        return ops.reshape(self, other.shape)

    def permute(self, *dims):
        """Reorder the dimensions (a view)."""
        return ops.permute(self, *dims)

    def transpose(self, dim0, dim1):
        """Swap two dimensions (a view)."""
        return ops.transpose(self, dim0, dim1)

    def swapaxes(self, axis0, axis1):
        """``transpose`` (NumPy's name)."""
        return ops.transpose(self, axis0, axis1)

    def movedim(self, source, destination):
        """Move dimensions to new positions (a view)."""
        return ops.movedim(self, source, destination)

    def t(self):
        """The transpose of a 2-D tensor (a 0-d or 1-D tensor as it is); a view."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D (use transpose(dim0, dim1) or mT)")
        out = ops.reshape(self, self.shape) if self.ndim < 2 else ops.transpose(self, 0, 1)
        if out._ctx is not None:
            out._ctx.grad_fn_name = "T"  # as PyTorch names t()'s
        return out

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dimensions ``start_dim..end_dim`` into one."""
        return ops.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at ``dim`` (a view)."""
        return ops.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        """Remove dimensions of size 1 (a view)."""
        return ops.squeeze(self, dim)

    def expand(self, *sizes):
        """Broadcast to ``sizes`` without copying (a read-only view)."""
        return ops.expand(self, *sizes)

    def repeat(self, *repeats):
        """Tiled ``repeats[i]`` times along each dimension (a copy)."""
        return ops.repeat(self, *repeats)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each entry along ``dim`` repeated ``repeats`` times in place (see
        ``minicnn.repeat_interleave``)."""
        return ops.repeat_interleave(self, repeats, dim, output_size=output_size)

    def flip(self, dims):
        """Elements reversed along ``dims`` (a copy)."""
        return ops.flip(self, dims)

    def narrow(self, dim, start, length):
        """``length`` elements from ``start`` along ``dim`` (a view)."""
        return ops.narrow(self, dim, start, length)

    def select(self, dim, index):
        """The slice at ``index`` along ``dim`` (a view)."""
        return ops.select(self, dim, index)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The diagonal of the (``dim1``, ``dim2``) planes (a view)."""
        return ops.diagonal(self, offset, dim1, dim2)

    def as_strided(self, size, stride, storage_offset=None):
        """A read-only view of the storage with these sizes and strides."""
        return ops.as_strided(self, size, stride, storage_offset)

    def split(self, split_size, dim=0):
        """Pieces along ``dim`` (views)."""
        return ops.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        """``chunks`` pieces along ``dim`` (views)."""
        return ops.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        """The slices along ``dim`` (views)."""
        return ops.unbind(self, dim)

    def gather(self, dim, index):
        """Values picked along ``dim`` by ``index``."""
        return ops.gather(self, dim, index)

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` holds."""
        return ops.masked_fill(self, mask, value)

    def where(self, condition, other):
        """``where(condition, self, other)``."""
        return ops.where(condition, self, other)

    @property
    def T(self):
        """All dimensions reversed (the matrix transpose for 2-D)."""
        return ops.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        """The last two dimensions swapped."""
        return ops.transpose(self, -2, -1)

    # --- indexing and scatter ------------------------------------------------------------------

    def index_select(self, dim, index):
        """The entries ``index`` along ``dim`` (see ``minicnn.ops.index_select``)."""
        return ops.index_select(self, dim, index)

    def index_add(self, dim, index, source, *, alpha=1):
        """``alpha * source`` added at ``index`` along ``dim`` (see ``ops.index_add``)."""
        return ops.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        """``index_add`` in place."""
        return self._inplace(lambda old: ops.index_add(old, dim, index, source, alpha=alpha),
                             "index_add_")

    def index_copy(self, dim, index, source):
        """``source`` written at ``index`` along ``dim`` (see ``ops.index_copy``)."""
        return ops.index_copy(self, dim, index, source)

    def index_copy_(self, dim, index, source):
        """``index_copy`` in place."""
        return self._inplace(lambda old: ops.index_copy(old, dim, index, source), "index_copy_")

    def index_fill(self, dim, index, value):
        """``value`` at ``index`` along ``dim`` (see ``ops.index_fill``)."""
        return ops.index_fill(self, dim, index, value)

    def index_fill_(self, dim, index, value):
        """``index_fill`` in place."""
        return self._inplace(lambda old: ops.index_fill(old, dim, index, value), "index_fill_")

    def index_put(self, indices, values, accumulate=False):
        """``self[indices] = values`` out of place (see ``ops.index_put``)."""
        return ops.index_put(self, indices, values, accumulate)

    def index_put_(self, indices, values, accumulate=False):
        """``index_put`` in place."""
        return self._inplace(lambda old: ops.index_put(old, indices, values, accumulate),
                             "index_put_")

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """``src`` (or ``value``) written at ``index`` along ``dim`` (see ``ops.scatter``)."""
        return ops.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        """``scatter`` in place."""
        return self._inplace(lambda old: ops.scatter(old, dim, index, src, value,
                                                     reduce=reduce), "scatter_")

    def scatter_add(self, dim, index, src):
        """``src`` added at ``index`` along ``dim`` (see ``ops.scatter_add``)."""
        return ops.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim, index, src):
        """``scatter_add`` in place."""
        return self._inplace(lambda old: ops.scatter_add(old, dim, index, src), "scatter_add_")

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        """``src`` combined by ``reduce`` at ``index`` along ``dim`` (see
        ``ops.scatter_reduce``)."""
        return ops.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        """``scatter_reduce`` in place."""
        return self._inplace(lambda old: ops.scatter_reduce(old, dim, index, src, reduce,
                                                            include_self=include_self),
                             "scatter_reduce_")

    def take_along_dim(self, indices, dim=None):
        """Values picked along ``dim`` by ``indices`` (see ``ops.take_along_dim``)."""
        return ops.take_along_dim(self, indices, dim)

    def take(self, index):
        """Values at ``index``, this tensor seen as 1-d (see ``ops.take``)."""
        return ops.take(self, index)

    def put(self, index, source, accumulate=False):
        """``source`` written at ``index``, seen as 1-d (see ``ops.put``)."""
        return ops.put(self, index, source, accumulate)

    def put_(self, index, source, accumulate=False):
        """``put`` in place."""
        return self._inplace(lambda old: ops.put(old, index, source, accumulate), "put_")

    def masked_select(self, mask):
        """The values where ``mask`` holds, 1-d (see ``ops.masked_select``)."""
        return ops.masked_select(self, mask)

    def masked_scatter(self, mask, source):
        """``source``'s values where ``mask`` holds (see ``ops.masked_scatter``)."""
        return ops.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask, source):
        """``masked_scatter`` in place."""
        return self._inplace(lambda old: ops.masked_scatter(old, mask, source),
                             "masked_scatter_")

    def __getitem__(self, index):
        """Indexing with ints, slices, None, Ellipsis, bools, integer or boolean Tensors, as
        PyTorch (see ``minicnn.ops.getitem``): basic indexing gives a view."""
        return ops.getitem(self, index)


class _Storage:
    """What ``untyped_storage()`` returns: the array that owns the memory a tensor shows."""

    def __init__(self, array):
        self._array = array

    def data_ptr(self):
        """The address of the first byte."""
        return _address(self._array)

    def nbytes(self):
        """The size in bytes."""
        return self._array.nbytes

    def size(self):
        return self._array.nbytes


def _rebuild(cls, array, requires_grad, grad, extra):
    """The inverse of ``Tensor.__reduce_ex__``."""
    t = cls.__new__(cls)
    t.__dict__.update(extra)
    t._data, t._grad, t._ctx, t._version_box = array, grad, None, [0]
    t._requires_grad = requires_grad
    return t


def _drawn(like, kind, generator, *args):
    """A tensor like ``like`` of draws from minicnn's generator (or ``generator``):
    ``kind`` names the NumPy Generator method, ``args`` its parameters."""
    rng = numpy_generator(generator)
    if kind == "bernoulli":
        draws = rng.random(like.shape) < args[0]
    elif kind == "cauchy":
        draws = args[0] + args[1] * rng.standard_cauchy(like.shape)
    else:
        draws = getattr(rng, kind)(*args, size=like.shape)
    return Tensor._make(np.asarray(draws).astype(like._data.dtype), None)


def _address(array):
    return array.__array_interface__["data"][0]


def _compose(first, then):
    """``then(first(a))``: a view of a view, found from the base."""
    return lambda array: then(first(array))


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
