"""Every op behind a Tensor operator or method, and the activations: Function + wrapper + gradient.

Where an op lives (the rule, also in docs/index.md): ops that act on values alone - arithmetic,
elementwise math, activations, reductions, shape and indexing - are here, each ``XxxFn`` Function
(forward, and backward with its formula as a comment) right above its lowercase wrapper. Ops
with geometry, learnable weights, randomness or targets (conv, pooling, linear, dropout, losses)
are in ``minicnn/nn/functional.py``. ``minicnn.nn.functional`` re-exports the activations.

Adding an elementwise op (GELU is the worked example below) touches three source files: its
Function and wrapper here, one re-export line in ``nn/functional.py``, its Module in
``nn/layers.py``.

>>> import minicnn
>>> x = minicnn.tensor([-1.0, 2.0], requires_grad=True)
>>> minicnn.ops.relu(x * 3).sum().backward()
>>> x.grad
array([0., 3.], dtype=float32)
"""
import collections
import numbers

import numpy as np

from minicnn._checks import check_dim, check_dims, check_real
from minicnn._tensor import Function, Tensor, float_tensor_arg
from minicnn.kernels.blas import numpy_blas

__all__ = [
    "add", "sub", "mul", "div", "pow", "matmul", "neg", "exp", "log", "sqrt", "abs",
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
    "sum", "mean", "max", "min", "amax", "amin", "maximum", "minimum", "reshape", "permute", "transpose", "flatten", "unsqueeze",
    "squeeze", "getitem",
]

_builtin_max = max  # ops.max below shadows it in this module


# ---------------------------------------------------------------------------------------------
# Helpers shared by the ops
# ---------------------------------------------------------------------------------------------

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


def _clean_index(index):
    """Replace Tensors and lists inside an index by ndarrays."""
    def clean(i):
        if isinstance(i, Tensor):
            return i.data
        if isinstance(i, list):
            return np.asarray(i)
        return i
    return tuple(clean(i) for i in index) if isinstance(index, tuple) else clean(index)


def reduce_args(dim, keepdim, axis=None, keepdims=None):
    """PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims`` -> ``(dim, keepdim)``."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def _operands(a, b):
    """``(a, b)`` as two Tensors for a binary op; ``b`` None if it is of a type we do not handle.

    ``a`` is a Tensor. Constants take its dtype (a Python float must not turn float32 into
    float64); an integer tensor with a float constant computes in float32, PyTorch's default
    dtype (so both sides become float32: NumPy would promote int64 with float32 to float64).
    Two Tensors of different dtypes promote as NumPy (and PyTorch) do.
    """
    if isinstance(b, Tensor):
        return a, b
    if not isinstance(b, (numbers.Number, np.ndarray, np.generic, list, tuple)):
        return a, None
    b = np.asarray(b)
    if a.data.dtype.kind == "f" or b.dtype.kind not in "f":
        return a, Tensor._make(b.astype(a.data.dtype, copy=False), None)
    # An integer/bool tensor never requires grad, so casting it loses no graph.
    return (Tensor._make(a.data.astype(np.float32), None),
            Tensor._make(b.astype(np.float32), None))


def binary(fn, a, b, reflected=False):
    """Apply the binary Function ``fn`` to Tensor ``a`` and ``b`` (``b`` op ``a`` if reflected);
    NotImplemented for an operand type Tensor does not handle (Python then tries the other)."""
    a, b = _operands(a, b)
    if b is None:
        return NotImplemented
    return fn.apply(b, a) if reflected else fn.apply(a, b)


# ---------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------

class AddFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad_out):
        # d(a+b)/da = 1, d(a+b)/db = 1 (summed over broadcast dimensions)
        return (unbroadcast(grad_out, ctx.a_shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(grad_out, ctx.b_shape) if ctx.needs_input_grad[1] else None)


def add(input, other):
    """``input + other`` (broadcasting, as NumPy)."""
    return binary(AddFn, input, other)


class SubFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, grad_out):
        # d(a-b)/da = 1, d(a-b)/db = -1
        return (unbroadcast(grad_out, ctx.a_shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(-grad_out, ctx.b_shape) if ctx.needs_input_grad[1] else None)


def sub(input, other):
    """``input - other``."""
    return binary(SubFn, input, other)


class MulFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_out):
        # d(ab)/da = b, d(ab)/db = a
        a, b = ctx.saved_tensors
        return (unbroadcast(grad_out * b, a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(grad_out * a, b.shape) if ctx.needs_input_grad[1] else None)


def mul(input, other):
    """``input * other``."""
    return binary(MulFn, input, other)


class DivFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad_out):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        a, b = ctx.saved_tensors
        grad_a = unbroadcast(grad_out / b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = (unbroadcast(-grad_out * a / (b * b), b.shape)
                  if ctx.needs_input_grad[1] else None)
        return grad_a, grad_b


def div(input, other):
    """``input / other``."""
    return binary(DivFn, input, other)


class PowScalarFn(Function):
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


class PowFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d(a^b)/da = b * a^(b-1), d(a^b)/db = a^b * log(a)  (needs a > 0)
        a, b, out = ctx.saved_tensors
        grad_a = (unbroadcast(grad_out * b * a ** (b - 1), a.shape)
                  if ctx.needs_input_grad[0] else None)
        grad_b = (unbroadcast(grad_out * out * np.log(a), b.shape)
                  if ctx.needs_input_grad[1] else None)
        return grad_a, grad_b


def pow(input, exponent):
    """``input ** exponent``, for a number or a Tensor exponent."""
    if isinstance(exponent, numbers.Number) and not isinstance(exponent, bool):
        if input.data.dtype.kind != "f" and not isinstance(exponent, numbers.Integral):
            # int tensor ** float: float32, PyTorch's default dtype (NumPy gives float64)
            input = Tensor._make(input.data.astype(np.float32), None)
        return PowScalarFn.apply(input, exponent=exponent)
    return binary(PowFn, input, exponent)


class MatMulFn(Function):
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
                grad_a = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
            if ctx.needs_input_grad[1]:
                grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape)
        return grad_a, grad_b


def matmul(input, other):
    """Matrix product ``input @ other`` (batched over leading dimensions, as NumPy)."""
    return binary(MatMulFn, input, other)


class NegFn(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad_out):
        # d(-a)/da = -1
        return -grad_out


def neg(input):
    """``-input``."""
    return NegFn.apply(input)


# ---------------------------------------------------------------------------------------------
# Elementwise math
# ---------------------------------------------------------------------------------------------

class ExpFn(Function):
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


def exp(input):
    """e**x elementwise."""
    return ExpFn.apply(input)


class LogFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d(log a)/da = 1/a
        a, = ctx.saved_tensors
        return grad_out / a


def log(input):
    """Natural logarithm elementwise."""
    return LogFn.apply(input)


class SqrtFn(Function):
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


def sqrt(input):
    """Square root elementwise."""
    return SqrtFn.apply(input)


class AbsFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d|a|/da = sign(a)  (0 at 0)
        a, = ctx.saved_tensors
        return grad_out * np.sign(a)


def abs(input):
    """Absolute value elementwise (gradient 0 at 0)."""
    return AbsFn.apply(input)


class CastFn(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.a_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # d cast(a)/da = 1, in a's dtype
        return grad_out.astype(ctx.a_dtype)


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------

class ReluFn(Function):
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


def relu(input):
    """max(input, 0) elementwise; the gradient at 0 is 0. Any shape in, same shape out."""
    return ReluFn.apply(float_tensor_arg(input, "input"))


class LeakyReluFn(Function):
    @staticmethod
    def forward(ctx, x, negative_slope):
        mask = x > 0
        ctx.mask, ctx.negative_slope = mask, negative_slope
        return np.where(mask, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, grad_out):
        # d/dx = 1 where x > 0, negative_slope elsewhere
        slope = np.where(ctx.mask, 1, ctx.negative_slope).astype(grad_out.dtype)
        return grad_out * slope, None


def leaky_relu(input, negative_slope=0.01):
    """x where x > 0, else ``negative_slope * x``. Any shape in, same shape out."""
    negative_slope = check_real(negative_slope, "negative_slope")
    return LeakyReluFn.apply(float_tensor_arg(input, "input"), negative_slope)


class SigmoidFn(Function):
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


def sigmoid(input):
    """1 / (1 + exp(-input)) elementwise, computed without overflow. Same shape out."""
    return SigmoidFn.apply(float_tensor_arg(input, "input"))


class TanhFn(Function):
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


def tanh(input):
    """Hyperbolic tangent elementwise. Same shape out."""
    return TanhFn.apply(float_tensor_arg(input, "input"))


class GeluFn(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            return (0.5 * x * (1 + t)).astype(x.dtype, copy=False)
        return (x * _normal_cdf(x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        x, = ctx.saved_tensors
        if ctx.approximate == "tanh":
            # d/dx 0.5 x (1 + tanh u) = 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx,
            # u = sqrt(2/pi) (x + 0.044715 x^3)
            t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x ** 2)
            slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        else:
            # d/dx x Phi(x) = Phi(x) + x phi(x), phi the standard normal density
            slope = _normal_cdf(x) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
        return (grad_out * slope).astype(grad_out.dtype, copy=False), None


_SQRT_2_OVER_PI = np.sqrt(2 / np.pi)


def _normal_cdf(x):
    from scipy.special import erf  # scipy is a dependency; imported when GELU first runs
    return 0.5 * (1 + erf(x / np.sqrt(2)))


def gelu(input, approximate="none"):
    """GELU(x) = x * Phi(x), Phi the standard normal CDF (as ``torch.nn.functional.gelu``).

    ``approximate="tanh"`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Same shape out.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return GeluFn.apply(float_tensor_arg(input, "input"), approximate)


def _log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)  # largest logit becomes 0: exp cannot overflow
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class SoftmaxFn(Function):
    @staticmethod
    def forward(ctx, x, dim):
        y = np.exp(_log_softmax(x, dim))
        ctx.y, ctx.dim = y, dim
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # dy_i/dx_j = y_i (delta_ij - y_j):  grad_x = y * (g - sum(g * y))
        y = ctx.y
        return y * (grad_out - (grad_out * y).sum(axis=ctx.dim, keepdims=True)), None


def softmax(input, dim):
    """exp(x) / sum(exp(x)) along ``dim``, computed stably. Same shape out."""
    input = float_tensor_arg(input, "input")
    return SoftmaxFn.apply(input, check_dim(dim, input.ndim))


class LogSoftmaxFn(Function):
    @staticmethod
    def forward(ctx, x, dim):
        out = _log_softmax(x, dim)
        ctx.out, ctx.dim = out, dim
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d log_softmax_i/dx_j = delta_ij - softmax_j:  grad_x = g - softmax * sum(g)
        return grad_out - np.exp(ctx.out) * grad_out.sum(axis=ctx.dim, keepdims=True), None


def log_softmax(input, dim):
    """log(softmax(input)) along ``dim``, computed stably (no log of 0). Same shape out."""
    input = float_tensor_arg(input, "input")
    return LogSoftmaxFn.apply(input, check_dim(dim, input.ndim))


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------

class SumFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_out):
        # d(sum a)/da_i = 1: every summed element gets the output's gradient
        return expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims)


def sum(input, dim=None, keepdim=False):
    """Sum over ``dim`` (an int, a tuple of ints, or None for all)."""
    return SumFn.apply(input, axis=check_dims(dim, input.ndim), keepdims=bool(keepdim))


class MeanFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.a_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        out = a.mean(axis=axis, keepdims=keepdims)
        ctx.count = _builtin_max(a.size // _builtin_max(np.size(out), 1), 1) if a.size else 1
        return out.astype(a.dtype, copy=False) if a.dtype.kind == "f" else out

    @staticmethod
    def backward(ctx, grad_out):
        # d(mean a)/da_i = 1/n
        return expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims) / ctx.count


def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (an int, a tuple of ints, or None for all)."""
    return MeanFn.apply(input, axis=check_dims(dim, input.ndim), keepdims=bool(keepdim))


class MaxFn(Function):
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
        g = expand_reduced(grad_out, ctx.a_shape, ctx.axis, ctx.keepdims)
        ties = ctx.mask.sum(axis=ctx.axis, keepdims=True)
        return g * ctx.mask / ties.astype(grad_out.dtype)


def amax(input, dim=None, keepdim=False):
    """Maximum over ``dim`` (an int, a tuple of ints, or None for all), values only.

    The gradient is split evenly among tied maxima, as ``torch.amax``.
    """
    return MaxFn.apply(input, axis=check_dims(dim, input.ndim), keepdims=bool(keepdim))


def amin(input, dim=None, keepdim=False):
    """Minimum over ``dim``: ``-amax(-input)`` (gradient split evenly among ties)."""
    return -amax(-input, dim, keepdim)


class MaxDimFn(Function):
    @staticmethod
    def forward(ctx, a, indices, dim, keepdim):
        # indices: the argmax along dim, kept as a size-1 axis (see _max_or_min)
        ctx.a_shape, ctx.dim, ctx.keepdim, ctx.indices = a.shape, dim, keepdim, indices
        out = np.take_along_axis(a, indices, axis=dim)
        return out if keepdim else out.squeeze(dim)

    @staticmethod
    def backward(ctx, grad_out):
        # d(max_j a_j)/da_i = 1 for i the returned index, 0 elsewhere (ties: only that one)
        g = grad_out if ctx.keepdim else np.expand_dims(grad_out, ctx.dim)
        grad = np.zeros(ctx.a_shape, dtype=grad_out.dtype)
        np.put_along_axis(grad, ctx.indices, g, axis=ctx.dim)
        return grad, None


MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


def _max_or_min(input, dim, keepdim, other, largest):
    name = "max" if largest else "min"
    if isinstance(dim, Tensor) and other is None:  # max(input, other): torch.max's overload
        dim, other = None, dim
    if other is not None:
        return maximum(input, other) if largest else minimum(input, other)
    if dim is None:
        return amax(input) if largest else amin(input)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}(dim=...) takes one dimension, got {dim!r}; use "
                        f"a{name}(dim=...) to reduce over several")
    dim = check_dim(dim, input.ndim)
    if input.ndim == 0:
        return (MaxResult if largest else MinResult)(input, Tensor._make(np.array(0), None))
    if 0 in input.shape:
        raise IndexError(f"{name}(): cannot reduce over dimension {dim} of a tensor of shape "
                         f"{input.shape}, which has no elements")
    source = input if largest else -input
    # argmax returns the first maximum, and the first NaN if there is one (a NaN is the max)
    indices = np.expand_dims(np.argmax(source.data, axis=dim), dim).astype(np.int64)
    values = MaxDimFn.apply(source, indices, dim=dim, keepdim=bool(keepdim))
    result = MaxResult if largest else MinResult
    return result(values if largest else -values,
                  Tensor._make(indices if keepdim else indices.squeeze(dim), None))


def max(input, dim=None, keepdim=False, *, other=None):
    """As ``torch.max``: ``max(input)`` the largest value (a 0-d tensor; the gradient is split
    among ties); ``max(input, dim, keepdim=False)`` a named tuple ``(values, indices)`` along
    ``dim`` (the first maximum's index; its gradient goes to that element only);
    ``max(input, other)`` the elementwise maximum."""
    return _max_or_min(input, dim, keepdim, other, largest=True)


def min(input, dim=None, keepdim=False, *, other=None):
    """As ``torch.min``: the smallest value, ``(values, indices)`` along ``dim``, or the
    elementwise minimum with ``other`` (see ``max``)."""
    return _max_or_min(input, dim, keepdim, other, largest=False)


class MaximumFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad_out):
        # d max(a, b)/da = 1 where a > b, 1/2 where a == b (as PyTorch), 0 elsewhere
        a, b = ctx.saved_tensors
        share = np.where(a == b, 0.5, (a > b) | np.isnan(a)).astype(grad_out.dtype)
        return (unbroadcast(grad_out * share, a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(grad_out * (1 - share), b.shape) if ctx.needs_input_grad[1] else None)


def maximum(input, other):
    """The elementwise maximum of two tensors (broadcasting); NaN propagates."""
    return binary(MaximumFn, input, other)


def minimum(input, other):
    """The elementwise minimum: ``-maximum(-input, -other)``."""
    return -binary(MaximumFn, -input, -other if isinstance(other, Tensor) else
                   -np.asarray(other))


# ---------------------------------------------------------------------------------------------
# Shape and indexing
# ---------------------------------------------------------------------------------------------

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


def getitem(input, index):
    """``input[index]``: ints, slices, None, Ellipsis, integer or boolean arrays/Tensors."""
    def clean(i):
        if isinstance(i, Tensor):
            return i.data
        if isinstance(i, list):
            return np.asarray(i)
        return i
    index = tuple(clean(i) for i in index) if isinstance(index, tuple) else clean(index)
    return GetItemFn.apply(input, index=index)
