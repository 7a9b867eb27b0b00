"""Activations (relu, leaky_relu, sigmoid, tanh, gelu, softmax, log_softmax): Function + wrapper."""
import numpy as np

from minicnn._checks import check_dim, check_real
from minicnn import kernels as K
from minicnn._tensor import Function, float_tensor_arg
from minicnn.ops._common import _float_input


__all__ = [
    "ReluFn", "relu", "LeakyReluFn", "leaky_relu", "SigmoidFn", "sigmoid", "TanhFn", "tanh",
    "GeluFn", "gelu", "SoftmaxFn", "softmax", "LogSoftmaxFn", "log_softmax", "EluFn", "elu",
    "selu", "SiluFn", "silu", "SoftplusFn", "softplus", "HardtanhFn", "hardtanh", "relu6",
]


class ReluFn(Function):
    @staticmethod
    def forward(ctx, a):
        # The kernels' ReLU: parallel, into a reused buffer (kernels/_elementwise.pyx; its twin
        # is np.maximum(a, 0)). Other float dtypes take the twin. NaN propagates, as torch.
        kernels = K if a.dtype in K.FLOAT_DTYPES else K.reference
        y, mask = kernels.relu_forward(a)
        # A view of the mask: the kernels may keep the array itself for reuse, and the view,
        # which dies with the graph, is what keeps it busy until then.
        ctx.save_for_backward(mask.view())
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # d relu(a)/da = 1 where a > 0, else 0
        mask, = ctx.saved_tensors
        kernels = K if grad_out.dtype in K.FLOAT_DTYPES else K.reference
        return kernels.relu_backward(grad_out, mask)


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
    return SigmoidFn.apply(_float_input(input))


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
    return TanhFn.apply(_float_input(input))


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
    return GeluFn.apply(float_tensor_arg(input, "input"), check_approximate(approximate))


def check_approximate(approximate):
    """GELU's ``approximate`` argument: ``"none"`` or ``"tanh"``, else ValueError."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


def _log_softmax(x, axis):
    if x.size == 0:  # (N, 0) has no maximum to shift by, and nothing to normalise
        return x.copy()
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
# ELU, SELU, SiLU, Softplus, Hardtanh, ReLU6 (``inplace=True`` is accepted as in PyTorch and
# computes out of place: the result is the same, and the graph needs x)
# ---------------------------------------------------------------------------------------------

def _stable_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))  # never overflows, unlike 1 / (1 + exp(-x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class EluFn(Function):
    @staticmethod
    def forward(ctx, x, alpha, scale):
        neg = scale * alpha * np.expm1(np.minimum(x, 0))
        ctx.save_for_backward(x)
        ctx.neg, ctx.alpha, ctx.scale = neg, alpha, scale
        return np.where(x > 0, scale * x, neg).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # y = scale*x (x > 0), scale*alpha*(e^x - 1) (x <= 0): dy/dx = scale, or y + scale*alpha
        x, = ctx.saved_tensors
        return grad_out * np.where(x > 0, ctx.scale, ctx.neg + ctx.scale * ctx.alpha), None, None


def elu(input, alpha=1.0, inplace=False):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``, as ``torch.nn.functional.elu``.

    Parameters
    ----------
    input : Tensor, any shape
    alpha : float
    inplace : bool
        Accepted for PyTorch compatibility; the result is a new tensor.

    Returns
    -------
    Tensor, same shape
    """
    input = float_tensor_arg(input, "input")
    return EluFn.apply(input, check_real(alpha, "alpha"), 1.0)


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with SELU's fixed alpha ≈ 1.6733 and scale ≈ 1.0507, as
    ``torch.nn.functional.selu``; any shape -> same shape."""
    input = float_tensor_arg(input, "input")
    return EluFn.apply(input, _SELU_ALPHA, _SELU_SCALE)


class SiluFn(Function):
    @staticmethod
    def forward(ctx, x):
        s = _stable_sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_out):
        # y = x * s(x): dy/dx = s + x * s * (1 - s)
        x, s = ctx.saved_tensors
        return grad_out * (s * (1 + x * (1 - s)))


def silu(input, inplace=False):
    """``x * sigmoid(x)`` (swish), as ``torch.nn.functional.silu``; any shape -> same shape."""
    return SiluFn.apply(float_tensor_arg(input, "input"))


class SoftplusFn(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        bx = beta * x
        linear = bx > threshold
        ctx.save_for_backward(bx, linear)
        # log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|): no overflow for large bx
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
        return np.where(linear, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # y = log(1 + e^(beta x)) / beta: dy/dx = sigmoid(beta x) (1 where linear)
        bx, linear = ctx.saved_tensors
        return grad_out * np.where(linear, 1, _stable_sigmoid(bx)), None, None


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``, as
    ``torch.nn.functional.softplus``; any shape -> same shape."""
    input = float_tensor_arg(input, "input")
    return SoftplusFn.apply(input, check_real(beta, "beta"), check_real(threshold, "threshold"))


class HardtanhFn(Function):
    @staticmethod
    def forward(ctx, x, min_val, max_val):
        ctx.save_for_backward((x > min_val) & (x < max_val))
        return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # clip(x, lo, hi): dy/dx = 1 strictly inside (lo, hi), else 0
        inside, = ctx.saved_tensors
        return grad_out * inside, None, None


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``clip(x, min_val, max_val)``, as ``torch.nn.functional.hardtanh``; any shape."""
    input = float_tensor_arg(input, "input")
    min_val, max_val = check_real(min_val, "min_val"), check_real(max_val, "max_val")
    if max_val < min_val:
        raise ValueError(f"max_val ({max_val}) must be >= min_val ({min_val})")
    return HardtanhFn.apply(input, min_val, max_val)


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)``, as ``torch.nn.functional.relu6``; any shape."""
    return hardtanh(input, 0.0, 6.0)
