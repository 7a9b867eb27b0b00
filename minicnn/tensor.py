"""Tensor, Function and the reverse-mode autograd engine (iterative topological order), no_grad."""
import functools
import numbers
import threading

import numpy as np

from minicnn.kernels import FLOAT_DTYPES
from minicnn.kernels.blas import numpy_blas

__all__ = ["Tensor", "tensor", "Function", "Context", "no_grad", "enable_grad", "is_grad_enabled"]


# ---------------------------------------------------------------------------------------------
# Grad mode. Thread-local, so a no_grad block in one thread (say, an evaluation loop) does not
# switch recording off for a training loop running in another.
# ---------------------------------------------------------------------------------------------

_grad_mode = threading.local()


def is_grad_enabled():
    """True if operations on tensors that require grad are being recorded (in this thread)."""
    return getattr(_grad_mode, "enabled", True)


class _set_grad_mode:
    """Base of ``no_grad``/``enable_grad``: a context manager that is also a decorator."""

    mode = True

    def __enter__(self):
        # A stack of previous states (not one slot), so the same object can be nested or reused.
        self.__dict__.setdefault("_previous", []).append(is_grad_enabled())
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self._previous.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_set_grad_mode):
    """Context manager and decorator: inside it nothing is recorded for backward.

    Results of operations have ``requires_grad=False`` and no graph, and no buffers are kept
    for a backward pass, which saves memory and time in evaluation loops.

    Examples
    --------
    >>> import minicnn
    >>> x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    >>> with minicnn.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @minicnn.no_grad()
    ... def evaluate(x):
    ...     return x * 2
    >>> evaluate(x).requires_grad
    False
    """

    mode = False


class enable_grad(_set_grad_mode):
    """Context manager and decorator: turn recording back on inside a ``no_grad`` block."""

    mode = True


# ---------------------------------------------------------------------------------------------
# Function: one subclass per differentiable operation.
# ---------------------------------------------------------------------------------------------

class Context:
    """What a ``Function`` remembers between its forward and its backward.

    ``forward`` stores arrays with ``ctx.save_for_backward(a, b)`` (read back as
    ``ctx.saved_tensors``) or as plain attributes (``ctx.mask = mask``). ``ctx.needs_input_grad``
    holds one bool per positional input of ``forward``: backward may skip (return ``None`` for)
    the gradients nobody asked for. After a backward pass without ``retain_graph=True`` the
    engine clears everything saved here, so activations are freed.
    """

    def __init__(self, fn, needs_input_grad):
        self._fn = fn
        self._parents = None
        self._freed = False
        self.needs_input_grad = needs_input_grad
        self._saved = ()

    def save_for_backward(self, *arrays):
        """Keep ``arrays`` (ndarrays, or anything else) for backward, as ``ctx.saved_tensors``."""
        self._saved = arrays

    @property
    def saved_tensors(self):
        """The arrays given to ``save_for_backward`` (a tuple)."""
        if self._freed:
            raise RuntimeError(f"the saved buffers of {self!r} were freed by a backward pass; "
                               f"pass retain_graph=True to backward to keep them")
        return self._saved

    def _free(self):
        # Drop every saved buffer and the links to the inputs; keep only what error messages need.
        fn = self._fn
        self.__dict__.clear()
        self._fn, self._parents, self._freed = fn, None, True

    def name(self):
        """The name of the Function class that made this node (e.g. ``"Conv2d"``)."""
        return self._fn.__name__

    def __repr__(self):
        return f"<{self.name()}Backward>"


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
    >>> class Cube(minicnn.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad_out):
    ...         x, = ctx.saved_tensors
    ...         return grad_out * 3 * x ** 2          # d(x^3)/dx = 3x^2
    >>> x = minicnn.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
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
        arrays = [t.data if isinstance(t, Tensor) else t for t in inputs]
        out = cls.forward(ctx, *arrays, **options)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)  # NumPy reductions return scalars; keep their dtype
        if not record or out.dtype.kind != "f":  # integer results (casts) carry no gradient
            return Tensor._make(out, None)  # ctx, and everything it saved, dies here
        ctx._parents = inputs
        return Tensor._make(out, ctx)


# ---------------------------------------------------------------------------------------------
# Tensor
# ---------------------------------------------------------------------------------------------

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


class Tensor:
    """An n-dimensional array that records the operations applied to it, for backward.

    Parameters
    ----------
    data : array_like or Tensor
        The values. An ndarray of float32, float64 or int64 is used as it is (no copy); other
        floats become float32, other integers int64 (class labels), bools stay bool. A Tensor
        passes its array through (same dtype, shared memory). ``minicnn.tensor`` is the
        friendlier factory: it copies, and makes float64 data float32 unless asked.
    requires_grad : bool
        Whether ``backward`` should compute ``.grad`` for this (leaf) tensor. Only floating
        point tensors can require grad.
    dtype : numpy dtype, optional
        Force this dtype (e.g. ``np.float64`` for gradient checking, ``np.int64`` for labels).

    Attributes
    ----------
    data : ndarray
        The values. Optimizers update it in place.
    grad : ndarray or None
        For a leaf that requires grad: the accumulated gradient (same shape and dtype as
        ``data``). ``backward`` *adds* to it; reset it between steps (``optimizer.zero_grad()``).
        Non-leaf tensors do not keep a gradient.
    grad_fn : Context or None
        The recorded operation that produced this tensor (None for a leaf).
    """

    # Make NumPy hand `array + tensor`, `array @ tensor`, ... to our reflected operators
    # instead of trying to broadcast a Tensor object elementwise.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            array = data.data if dtype is None else data.data.astype(dtype, copy=False)
        else:
            array = np.asarray(data)
            target = (_default_dtype(array, keep_float64=isinstance(data, np.ndarray))
                      if dtype is None else np.dtype(dtype))
            array = array.astype(target, copy=False)
        self.data = array
        self.grad = None
        self._ctx = None
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, array, ctx):
        """Wrap an op's output array without any dtype conversion."""
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t._ctx = array, None, ctx
        t._requires_grad = ctx is not None
        return t

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

    @property
    def grad_fn(self):
        """The recorded operation that produced this tensor, or None for a leaf."""
        return self._ctx

    @property
    def is_leaf(self):
        """True for tensors created by the user (not by a recorded operation)."""
        return self._ctx is None

    @property
    def shape(self):
        """The shape, a tuple of ints."""
        return self.data.shape

    @property
    def dtype(self):
        """The NumPy dtype of ``data``."""
        return self.data.dtype

    @property
    def ndim(self):
        """Number of dimensions."""
        return self.data.ndim

    def dim(self):
        """Number of dimensions (as ``torch.Tensor.dim``)."""
        return self.data.ndim

    def size(self, dim=None):
        """The shape (a tuple), or the size of dimension ``dim``."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        """Number of elements."""
        return self.data.size

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"only one-element tensors can be converted to Python scalars, "
                             f"this one has shape {self.shape}")
        return self.data.item()

    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        # np.asarray(tensor), plotting libraries and np.testing see the values (no graph).
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def detach(self):
        """A new leaf tensor sharing this one's data, cut from the graph (no grad)."""
        return Tensor._make(self.data, None)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    # Elementwise ``==`` (below) makes tensors unhashable by default; hash by identity as
    # PyTorch does, so tensors can be dict keys and set members.
    __hash__ = object.__hash__

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype != np.float32:
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # --- backward ----------------------------------------------------------------------------

    def backward(self, grad=None, retain_graph=False):
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Gradients are *added* to the leaves' ``.grad`` (call ``zero_grad()`` between steps).
        Each recorded operation is visited once, in reverse topological order, however many
        times its output was reused; the traversal is iterative, so graphs of any depth work.

        Parameters
        ----------
        grad : array_like or Tensor, optional
            d(something)/d(self), of this tensor's shape. May be omitted only for a tensor with
            one element (it is then 1).
        retain_graph : bool
            Keep the graph (and its saved buffers) for another backward. By default they are
            freed, and a second backward through the same graph raises ``RuntimeError``.
        """
        if not self.requires_grad:
            raise RuntimeError("this tensor does not require grad and has no grad_fn: nothing "
                               "it depends on requires grad (or it was computed under no_grad)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; "
                                   f"this tensor has shape {self.shape}: pass grad= of that "
                                   f"shape, or reduce it first (e.g. .sum())")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
            if grad.shape != self.shape:
                raise ValueError(f"grad must have this tensor's shape {self.shape}, "
                                 f"got {grad.shape}")
            grad = grad.astype(self.data.dtype, copy=False)
        _run_backward(self, grad, retain_graph)

    # --- arithmetic --------------------------------------------------------------------------

    def _operands(self, other):
        """``(self, other)`` for a binary operator, ``other`` (a number or array) made a constant
        Tensor; ``(self, NotImplemented)`` for a type we do not handle.

        Constants take this tensor's dtype (a Python float must not turn float32 into float64);
        an integer tensor with a float constant computes in float32, PyTorch's default dtype
        (so both sides become float32: NumPy would promote int64 with float32 to float64).
        Two Tensors of different dtypes promote as NumPy (and PyTorch) do.
        """
        if isinstance(other, Tensor):
            return self, other
        if not isinstance(other, (numbers.Number, np.ndarray, np.generic, list, tuple)):
            return self, NotImplemented
        other = np.asarray(other)
        if self.data.dtype.kind == "f" or other.dtype.kind not in "f":
            return self, Tensor._make(other.astype(self.data.dtype, copy=False), None)
        # An integer/bool tensor never requires grad, so casting it loses no graph.
        return (Tensor._make(self.data.astype(np.float32), None),
                Tensor._make(other.astype(np.float32), None))

    def __add__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else Add.apply(a, other)

    def __radd__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else Add.apply(other, a)

    def __sub__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else Sub.apply(a, other)

    def __rsub__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else Sub.apply(other, a)

    def __mul__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else Mul.apply(a, other)

    def __rmul__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else Mul.apply(other, a)

    def __truediv__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else Div.apply(a, other)

    def __rtruediv__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else Div.apply(other, a)

    def __pow__(self, exponent):
        if isinstance(exponent, numbers.Number) and not isinstance(exponent, bool):
            if self.data.dtype.kind != "f" and not isinstance(exponent, numbers.Integral):
                # int tensor ** float: float32, PyTorch's default dtype (NumPy gives float64)
                return PowScalar.apply(Tensor._make(self.data.astype(np.float32), None),
                                       exponent=exponent)
            return PowScalar.apply(self, exponent=exponent)
        a, other = self._operands(exponent)
        return NotImplemented if other is NotImplemented else Pow.apply(a, other)

    def __rpow__(self, base):
        a, other = self._operands(base)
        return NotImplemented if other is NotImplemented else Pow.apply(other, a)

    def __matmul__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else MatMul.apply(a, other)

    def __rmatmul__(self, other):
        a, other = self._operands(other)
        return NotImplemented if other is NotImplemented else MatMul.apply(other, a)

    def __neg__(self):
        return Neg.apply(self)

    def __pos__(self):
        return self

    def matmul(self, other):
        """Matrix product, as ``self @ other``."""
        return self @ other

    def pow(self, exponent):
        """``self ** exponent``."""
        return self ** exponent

    # --- comparisons (no gradient: the results are boolean tensors) ---------------------------

    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._make(np.asarray(op(self.data, other)), None)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def argmax(self, dim=None, keepdim=False):
        """Indices (int64, no grad) of the maxima along ``dim`` (of the flattened tensor if
        None)."""
        out = np.argmax(self.data, axis=dim, keepdims=keepdim)
        return Tensor._make(np.asarray(out, dtype=np.int64), None)

    def argmin(self, dim=None, keepdim=False):
        """Indices (int64, no grad) of the minima along ``dim``."""
        out = np.argmin(self.data, axis=dim, keepdims=keepdim)
        return Tensor._make(np.asarray(out, dtype=np.int64), None)

    # --- elementwise math ---------------------------------------------------------------------

    def exp(self):
        """Elementwise e**x."""
        return Exp.apply(self)

    def log(self):
        """Elementwise natural logarithm."""
        return Log.apply(self)

    def sqrt(self):
        """Elementwise square root."""
        return Sqrt.apply(self)

    def abs(self):
        """Elementwise absolute value (gradient 0 at 0)."""
        return Abs.apply(self)

    def relu(self):
        """Elementwise max(x, 0) (gradient 0 at 0, as PyTorch)."""
        return Relu.apply(self)

    def sigmoid(self):
        """Elementwise 1 / (1 + e**-x)."""
        return Sigmoid.apply(self)

    def tanh(self):
        """Elementwise hyperbolic tangent."""
        return Tanh.apply(self)

    def softmax(self, dim):
        """Softmax along ``dim`` (see ``minicnn.nn.functional.softmax``)."""
        from minicnn.nn import functional as F  # nn imports tensor, so import it only here
        return F.softmax(self, dim)

    def log_softmax(self, dim):
        """Log-softmax along ``dim`` (see ``minicnn.nn.functional.log_softmax``)."""
        from minicnn.nn import functional as F
        return F.log_softmax(self, dim)

    # --- dtype conversion ---------------------------------------------------------------------

    def to(self, dtype):
        """This tensor converted to ``dtype`` (differentiable between float dtypes)."""
        dtype = np.dtype(dtype)
        return self if dtype == self.data.dtype else Cast.apply(self, dtype=dtype)

    def float(self):
        """Converted to float32."""
        return self.to(np.float32)

    def double(self):
        """Converted to float64."""
        return self.to(np.float64)

    def long(self):
        """Converted to int64 (no gradient)."""
        return self.to(np.int64)

    # --- reductions ---------------------------------------------------------------------------

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Sum over ``dim`` (an int, a tuple of ints, or None for all). ``axis``/``keepdims``
        are accepted as NumPy-style aliases of ``dim``/``keepdim``."""
        dim, keepdim = _reduce_args(dim, keepdim, axis, keepdims, self.ndim)
        return Sum.apply(self, axis=dim, keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Mean over ``dim`` (an int, a tuple of ints, or None for all)."""
        dim, keepdim = _reduce_args(dim, keepdim, axis, keepdims, self.ndim)
        return Mean.apply(self, axis=dim, keepdims=keepdim)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Maximum over ``dim``. Returns the values only (not PyTorch's (values, indices)
        pair: use ``argmax`` for those). The gradient is split evenly among tied maxima."""
        dim, keepdim = _reduce_args(dim, keepdim, axis, keepdims, self.ndim)
        return Max.apply(self, axis=dim, keepdims=keepdim)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Minimum over ``dim`` (values only; gradient split evenly among ties)."""
        return -((-self).max(dim, keepdim, axis=axis, keepdims=keepdims))

    # --- shape --------------------------------------------------------------------------------

    def reshape(self, *shape):
        """The same values in a new shape (one entry may be -1)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=shape)

    def view(self, *shape):
        """As ``reshape`` (minicnn does not distinguish views from copies)."""
        return self.reshape(*shape)

    def permute(self, *dims):
        """Reorder the dimensions: output dimension i is input dimension ``dims[i]``."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        dims = tuple(_dim(d, self.ndim, "dims") for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(f"dims must be a permutation of range({self.ndim}), got {dims}")
        return Permute.apply(self, dims=dims)

    def transpose(self, dim0, dim1):
        """Swap dimensions ``dim0`` and ``dim1``."""
        dim0, dim1 = _dim(dim0, self.ndim, "dim0"), _dim(dim1, self.ndim, "dim1")
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return Permute.apply(self, dims=tuple(dims))

    @property
    def T(self):
        """All dimensions reversed (the matrix transpose for 2-D)."""
        return Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dimensions ``start_dim..end_dim`` into one (as ``torch.flatten``)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _dim(start_dim, self.ndim, "start_dim"), _dim(end_dim, self.ndim, "end_dim")
        if start > end:
            raise ValueError(f"start_dim ({start_dim}) must not come after end_dim ({end_dim})")
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        if 0 in self.shape:  # -1 is ambiguous for empty tensors
            shape = self.shape[:start] + (int(np.prod(self.shape[start:end + 1])),) + \
                self.shape[end + 1:]
        return self.reshape(shape)

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at ``dim``."""
        dim = _dim(dim, self.ndim + 1, "dim")
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        """Remove dimensions of size 1 (only ``dim`` if given and of size 1)."""
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = _dim(dim, self.ndim, "dim")
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def __getitem__(self, index):
        """Indexing with ints, slices, None, Ellipsis, integer or boolean arrays/Tensors."""
        return GetItem.apply(self, index=_clean_index(index))


def tensor(data, requires_grad=False, dtype=None):
    """Create a leaf Tensor.

    Parameters
    ----------
    data : array_like or Tensor
        Numbers, (nested) lists or an ndarray, of any shape.
    requires_grad : bool
        Record operations on it so that ``backward`` fills its ``.grad``.
    dtype : numpy dtype, optional
        By default float data (Python floats, float64 arrays too) becomes float32, integer
        data int64 (class labels, indices) and bools stay bool. Pass ``np.float64`` for double
        precision (it is then kept through every op, e.g. for ``gradcheck``).

    Returns
    -------
    Tensor
        Of the same shape as ``data``, on a new array (never shared with ``data``).

    Examples
    --------
    >>> import numpy as np, minicnn
    >>> minicnn.tensor([[1.0, 2.0]]).dtype, minicnn.tensor(np.zeros(2)).dtype
    (dtype('float32'), dtype('float32'))
    >>> minicnn.tensor([0, 2, 1]).dtype, minicnn.tensor([1.0], dtype=np.float64).dtype
    (dtype('int64'), dtype('float64'))
    """
    source = data.data if isinstance(data, Tensor) else np.asarray(data)
    if dtype is None:
        dtype = source.dtype if isinstance(data, Tensor) else _default_dtype(source, False)
    return Tensor(np.array(source, dtype=dtype, copy=True), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------

def _dim(dim, ndim, name):
    """A dimension index in [-ndim, ndim) -> [0, ndim), else IndexError naming the argument."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise IndexError(f"{name}={dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected [{-ndim}, {ndim - 1}])")
    return int(dim) % ndim


def _topological_order(root):
    """Tensors reachable from ``root`` through recorded ops, each after all its consumers.

    Iterative depth-first post-order (an explicit stack, no recursion), then reversed: Python's
    recursion limit would otherwise cap the depth of a graph at ~1000 ops.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        t, children_done = stack.pop()
        if children_done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        ctx = t._ctx
        if ctx is None:
            continue
        if ctx._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {ctx!r}, whose "
                f"saved buffers were freed by the first backward). Pass retain_graph=True to "
                f"the first backward if you need to backward twice.")
        for p in ctx._parents:
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in visited:
                stack.append((p, False))
    order.reverse()
    return order


def _run_backward(root, grad, retain_graph):
    order = _topological_order(root)
    grads = {id(root): grad}
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:  # every path to t returned None: it does not affect the output
            continue
        ctx = t._ctx
        if ctx is None:  # a leaf: accumulate (+=, across backward calls too)
            if t.grad is None:
                # A private copy: `g` may alias an array the user or another op still holds.
                t.grad = np.array(g, dtype=t.data.dtype, copy=True)
            else:
                t.grad += g
            continue
        input_grads = ctx._fn.backward(ctx, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(ctx._parents):
            raise RuntimeError(f"{ctx._fn.__name__}.backward returned {len(input_grads)} "
                               f"gradients, expected one per forward input "
                               f"({len(ctx._parents)})")
        for i, (p, pg) in enumerate(zip(ctx._parents, input_grads)):
            if pg is None or not isinstance(p, Tensor) or not p.requires_grad:
                continue
            pg = np.asarray(pg)
            if pg.shape != p.shape:
                raise RuntimeError(f"{ctx._fn.__name__}.backward returned a gradient of shape "
                                   f"{pg.shape} for input {i}, whose shape is {p.shape}")
            if pg.dtype != p.data.dtype:
                pg = pg.astype(p.data.dtype)
            previous = grads.get(id(p))
            # Out of place: the previous gradient may be an array a backward is still holding.
            grads[id(p)] = pg if previous is None else previous + pg
        if not retain_graph:
            ctx._free()


# ---------------------------------------------------------------------------------------------
# Helpers shared by the ops
# ---------------------------------------------------------------------------------------------

def _unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: undo NumPy broadcasting, whose backward is a sum."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    kept = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    return grad.sum(axis=kept, keepdims=True) if kept else grad


def _reduce_args(dim, keepdim, axis, keepdims, ndim):
    if axis is not None:
        if dim is not None:
            raise TypeError("pass dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if dim is not None:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, numbers.Integral):
                raise TypeError(f"dim must be an int or a tuple of ints, got {dim!r}")
            if not -max(ndim, 1) <= d < max(ndim, 1):
                raise ValueError(f"dim {d} is out of range for a {ndim}-D tensor")
        dim = tuple(d % max(ndim, 1) for d in dims) if isinstance(dim, (tuple, list)) \
            else dim % max(ndim, 1)
    return dim, bool(keepdim)


def _expand_reduced(grad, shape, axis, keepdims):
    """Broadcast the gradient of a reduction back over the reduced axes."""
    if not keepdims and axis is not None:
        grad = np.expand_dims(grad, axis)
    elif not keepdims:
        grad = np.reshape(grad, (1,) * len(shape))
    return np.broadcast_to(grad, shape)


def _clean_index(index):
    """Replace Tensors and lists inside an index by ndarrays."""
    def clean(i):
        if isinstance(i, Tensor):
            return i.data
        if isinstance(i, list):
            return np.asarray(i)
        return i
    return tuple(clean(i) for i in index) if isinstance(index, tuple) else clean(index)


# ---------------------------------------------------------------------------------------------
# Ops. Each: forward, backward with its formula, both on ndarrays.
# ---------------------------------------------------------------------------------------------

class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad_out):
        # d(a+b)/da = 1, d(a+b)/db = 1 (summed over broadcast dimensions)
        return (_unbroadcast(grad_out, ctx.a_shape) if ctx.needs_input_grad[0] else None,
                _unbroadcast(grad_out, ctx.b_shape) if ctx.needs_input_grad[1] else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, grad_out):
        # d(a-b)/da = 1, d(a-b)/db = -1
        return (_unbroadcast(grad_out, ctx.a_shape) if ctx.needs_input_grad[0] else None,
                _unbroadcast(-grad_out, ctx.b_shape) if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_out):
        # d(ab)/da = b, d(ab)/db = a
        a, b = ctx.saved_tensors
        return (_unbroadcast(grad_out * b, a.shape) if ctx.needs_input_grad[0] else None,
                _unbroadcast(grad_out * a, b.shape) if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad_out):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        a, b = ctx.saved_tensors
        grad_a = _unbroadcast(grad_out / b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = (_unbroadcast(-grad_out * a / (b * b), b.shape)
                  if ctx.needs_input_grad[1] else None)
        return grad_a, grad_b


class PowScalar(Function):
    @staticmethod
    def forward(ctx, a, exponent):
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return a ** exponent

    @staticmethod
    def backward(ctx, grad_out):
        # d(a^e)/da = e * a^(e-1); a^0 is constant, so 0 (not 0 * 0^-1 = NaN at a = 0), as PyTorch
        a, = ctx.saved_tensors
        if ctx.exponent == 0:
            return np.zeros_like(grad_out)
        return grad_out * ctx.exponent * a ** (ctx.exponent - 1)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d(a^b)/da = b * a^(b-1), d(a^b)/db = a^b * log(a)  (needs a > 0)
        a, b, out = ctx.saved_tensors
        grad_a = (_unbroadcast(grad_out * b * a ** (b - 1), a.shape)
                  if ctx.needs_input_grad[0] else None)
        grad_b = (_unbroadcast(grad_out * out * np.log(a), b.shape)
                  if ctx.needs_input_grad[1] else None)
        return grad_a, grad_b


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs tensors of at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        ctx.save_for_backward(a, b)
        with numpy_blas:  # one thread pool: NumPy's BLAS must not fight the OpenMP kernels
            return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad_out):
        # d(AB)/dA = G B^T, d(AB)/dB = A^T G  (batched over leading dims, then unbroadcast)
        a, b = ctx.saved_tensors
        # Treat vectors as matrices (a row for `a`, a column for `b`), as matmul itself does.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad_out
        if a.ndim == 1 and b.ndim == 1:  # a dot product: grad_out is 0-d
            g = g.reshape(1, 1)
        elif a.ndim == 1:
            g = g[..., None, :]
        elif b.ndim == 1:
            g = g[..., None]
        grad_a = grad_b = None
        with numpy_blas:
            if ctx.needs_input_grad[0]:
                grad_a = _unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
            if ctx.needs_input_grad[1]:
                grad_b = _unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape)
        return grad_a, grad_b


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad_out):
        # d(-a)/da = -1
        return -grad_out


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d(e^a)/da = e^a
        out, = ctx.saved_tensors
        return grad_out * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d(log a)/da = 1/a
        a, = ctx.saved_tensors
        return grad_out / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d(sqrt a)/da = 1 / (2 sqrt a)
        out, = ctx.saved_tensors
        return grad_out / (2 * out)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d|a|/da = sign(a)  (0 at 0)
        a, = ctx.saved_tensors
        return grad_out * np.sign(a)


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a > 0)
        # np.maximum: an order of magnitude faster than np.where here, and NaN propagates (as torch)
        return np.maximum(a, a.dtype.type(0))

    @staticmethod
    def backward(ctx, grad_out):
        # d relu(a)/da = 1 where a > 0, else 0
        mask, = ctx.saved_tensors
        return grad_out * mask


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        # Stable for large |a|: exp only ever sees -|a| <= 0, so it cannot overflow.
        e = np.exp(-np.abs(a))
        out = np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d sigmoid(a)/da = s (1 - s)
        out, = ctx.saved_tensors
        return grad_out * out * (1 - out)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d tanh(a)/da = 1 - tanh(a)^2
        out, = ctx.saved_tensors
        return grad_out * (1 - out * out)


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.a_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # d cast(a)/da = 1, in a's dtype
        return grad_out.astype(ctx.a_dtype)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_out):
        # d(sum a)/da_i = 1: every summed element gets the output's gradient
        return _expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        out = a.mean(axis=axis, keepdims=keepdims)
        ctx.count = max(a.size // max(np.size(out), 1), 1) if a.size else 1
        return out.astype(a.dtype, copy=False) if a.dtype.kind == "f" else out

    @staticmethod
    def backward(ctx, grad_out):
        # d(mean a)/da_i = 1/n
        return _expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims) / ctx.count


class Max(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        out = a.max(axis=axis, keepdims=True)
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        # A NaN is the max (NumPy propagates it), so the NaN elements take the gradient, as in
        # PyTorch; `a == out` alone would be all False there and the backward 0/0.
        ctx.mask = (a == out) | (np.isnan(a) & np.isnan(out))
        return out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))

    @staticmethod
    def backward(ctx, grad_out):
        # d(max a)/da_i = 1/k for each of the k elements equal to the max, 0 elsewhere
        # (PyTorch's full-reduction max splits ties evenly too; this keeps the gradient a
        # valid subgradient, and makes it symmetric in tied inputs).
        g = _expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims)
        ties = ctx.mask.sum(axis=ctx.axis, keepdims=True)
        return g * ctx.mask / ties.astype(grad_out.dtype)


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.a_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad_out):
        # reshape moves values without changing them: reshape the gradient back
        return grad_out.reshape(ctx.a_shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad_out):
        # the inverse permutation puts each gradient back on its input dimension
        return grad_out.transpose(np.argsort(ctx.dims))


class GetItem(Function):
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
