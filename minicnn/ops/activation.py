"""Activations (relu, leaky_relu, sigmoid, tanh, gelu, softmax, log_softmax): Function + wrapper."""
import numpy as np

from minicnn._checks import check_dim, check_real
from minicnn import kernels as K
from minicnn._tensor import Function, float_tensor_arg


__all__ = [
    "ReluFn", "relu", "LeakyReluFn", "leaky_relu", "SigmoidFn", "sigmoid", "TanhFn", "tanh",
    "GeluFn", "gelu", "SoftmaxFn", "softmax", "LogSoftmaxFn", "log_softmax",
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
    return GeluFn.apply(float_tensor_arg(input, "input"), check_approximate(approximate))


def check_approximate(approximate):
    """GELU's ``approximate`` argument: ``"none"`` or ``"tanh"``, else ValueError."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


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
