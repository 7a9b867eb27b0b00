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

from minicnn._checks import FLOAT_DTYPES
from minicnn.autograd import Context, is_grad_enabled, run_backward

__all__ = ["Function", "Tensor", "tensor"]


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
        run_backward(self, grad, retain_graph)

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

    def matmul(self, other):
        """Matrix product, as ``self @ other``."""
        return self @ other

    def pow(self, exponent):
        """``self ** exponent``."""
        return ops.pow(self, exponent)

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
        return ops.exp(self)

    def log(self):
        """Elementwise natural logarithm."""
        return ops.log(self)

    def sqrt(self):
        """Elementwise square root."""
        return ops.sqrt(self)

    def abs(self):
        """Elementwise absolute value (gradient 0 at 0)."""
        return ops.abs(self)

    def relu(self):
        """Elementwise max(x, 0) (gradient 0 at 0, as PyTorch)."""
        return ops.relu(self)

    def sigmoid(self):
        """Elementwise 1 / (1 + e**-x)."""
        return ops.sigmoid(self)

    def tanh(self):
        """Elementwise hyperbolic tangent."""
        return ops.tanh(self)

    def softmax(self, dim):
        """Softmax along ``dim`` (see ``minicnn.ops.softmax``)."""
        return ops.softmax(self, dim)

    def log_softmax(self, dim):
        """Log-softmax along ``dim`` (see ``minicnn.ops.log_softmax``)."""
        return ops.log_softmax(self, dim)

    # --- dtype conversion ---------------------------------------------------------------------

    def to(self, dtype):
        """This tensor converted to ``dtype`` (differentiable between float dtypes)."""
        dtype = np.dtype(dtype)
        return self if dtype == self.data.dtype else ops.CastFn.apply(self, dtype=dtype)

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
        return ops.sum(self, *ops.reduce_args(dim, keepdim, axis, keepdims))

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

    def amax(self, dim=None, keepdim=False):
        """Maximum over ``dim`` (int, tuple or None), values only; ties share the gradient."""
        return ops.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        """Minimum over ``dim`` (int, tuple or None), values only; ties share the gradient."""
        return ops.amin(self, dim, keepdim)

    # --- shape --------------------------------------------------------------------------------

    def reshape(self, *shape):
        """The same values in a new shape (one entry may be -1)."""
        return ops.reshape(self, *shape)

    def view(self, *shape):
        """As ``reshape`` (minicnn does not distinguish views from copies)."""
        return ops.reshape(self, *shape)

    def permute(self, *dims):
        """Reorder the dimensions: output dimension i is input dimension ``dims[i]``."""
        return ops.permute(self, *dims)

    def transpose(self, dim0, dim1):
        """Swap dimensions ``dim0`` and ``dim1``."""
        return ops.transpose(self, dim0, dim1)

    @property
    def T(self):
        """All dimensions reversed (the matrix transpose for 2-D)."""
        return ops.permute(self, *reversed(range(self.ndim)))

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dimensions ``start_dim..end_dim`` into one (as ``torch.flatten``)."""
        return ops.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at ``dim``."""
        return ops.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        """Remove dimensions of size 1 (only ``dim`` if given and of size 1)."""
        return ops.squeeze(self, dim)

    def __getitem__(self, index):
        """Indexing with ints, slices, None, Ellipsis, integer or boolean arrays/Tensors."""
        return ops.getitem(self, index)


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
