"""Elementwise math (exp, log, sqrt, rsqrt, abs, sin, cos, tan, sign, floor/ceil/round/trunc/frac, clamp,
...) and dtype casts; each Function above its wrapper."""
import numpy as np

from minicnn._checks import check_int
from minicnn._tensor import Function, Tensor, as_tensor_arg, float_tensor_arg
from minicnn.ops._common import _float_input

__all__ = [
    "ExpFn", "exp", "LogFn", "log", "SqrtFn", "sqrt", "RsqrtFn", "rsqrt", "AbsFn", "abs",
    "CastFn", "SinFn", "sin", "CosFn", "cos", "TanFn", "tan", "SignFn", "sign", "square", "ClampFn", "clamp", "clip",
    "CloneFn", "clone", "FloorFn", "floor", "CeilFn", "ceil", "RoundFn", "round", "TruncFn",
    "trunc", "fix", "FracFn", "frac",
]


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
    return ExpFn.apply(_float_input(input))


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
    return LogFn.apply(_float_input(input))


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
    return SqrtFn.apply(_float_input(input))


class RsqrtFn(Function):
    @staticmethod
    def forward(ctx, a):
        with np.errstate(divide="ignore", invalid="ignore"):   # 0 -> inf, < 0 -> nan
            out = 1 / np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d(a^-1/2)/da = -a^-3/2 / 2 = -out^3 / 2
        out, = ctx.saved_tensors
        return grad_out * (-0.5 * out * out * out)


def rsqrt(input):
    """1 / sqrt(x) elementwise (inf at 0, NaN below, as PyTorch's)."""
    return RsqrtFn.apply(_float_input(input))


class AbsFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d|a|/da = sign(a)  (0 at 0, and at NaN as PyTorch's sgn)
        a, = ctx.saved_tensors
        return grad_out * _sign(a)


def abs(input):
    """Absolute value elementwise (gradient 0 at 0 and at NaN, as PyTorch)."""
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


class SinFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d sin(a)/da = cos(a)
        a, = ctx.saved_tensors
        return grad_out * np.cos(a)


def sin(input):
    """Sine elementwise."""
    return SinFn.apply(_float_input(input))


class CosFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d cos(a)/da = -sin(a)
        a, = ctx.saved_tensors
        return -grad_out * np.sin(a)


def cos(input):
    """Cosine elementwise."""
    return CosFn.apply(_float_input(input))


class TanFn(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tan(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d tan(a)/da = 1 + tan(a)^2
        out, = ctx.saved_tensors
        return grad_out * (1 + out * out)


def tan(input):
    """Tangent elementwise."""
    return TanFn.apply(_float_input(input))


def _sign(a):
    """PyTorch's sign on an array: ``(0 < a) - (a < 0)``, so 0 for NaN and +0 for -0.0 (NumPy's
    ``np.sign`` keeps NaN); ``AbsFn`` and the norms' backward use it too."""
    if a.dtype == bool:
        return a.copy()
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


class _StepFn(Function):
    """A piecewise-constant op (sign, floor, ceil, round, trunc). As in PyTorch it is recorded -
    its output requires grad when its input does - and its gradient is 0 (at the jumps too)."""

    @staticmethod
    def backward(ctx, grad_out):
        # d step(a)/da = 0 (even where grad_out is inf or NaN: PyTorch returns zeros)
        return np.zeros_like(grad_out)


def _integer_copy(a, fn):
    """``fn(a)`` for floats; an integer or bool array is its own floor/ceil/round/trunc (NumPy's
    would turn it into float64, PyTorch keeps the dtype)."""
    return fn(a) if a.dtype.kind == "f" else a.copy()


class SignFn(_StepFn):
    @staticmethod
    def forward(ctx, a):
        return _sign(a)


def sign(input):
    """-1, 0 or 1 elementwise (0 for NaN, as PyTorch); the gradient is 0."""
    return SignFn.apply(as_tensor_arg(input, "input"))


class FloorFn(_StepFn):
    @staticmethod
    def forward(ctx, a):
        return _integer_copy(a, np.floor)


def floor(input):
    """Largest integer <= x, elementwise (gradient 0)."""
    return FloorFn.apply(as_tensor_arg(input, "input"))


class CeilFn(_StepFn):
    @staticmethod
    def forward(ctx, a):
        return _integer_copy(a, np.ceil)


def ceil(input):
    """Smallest integer >= x, elementwise (gradient 0)."""
    return CeilFn.apply(as_tensor_arg(input, "input"))


class RoundFn(_StepFn):
    @staticmethod
    def forward(ctx, a, decimals):
        # np.round scales by 10**decimals (divides by 10**-decimals when negative), rounds half
        # to even and scales back, in a's dtype: PyTorch's round(decimals=...) does the same.
        return _integer_copy(a, lambda a: np.round(a, decimals))


def round(input, decimals=0):
    """Round half to even, elementwise, as PyTorch (gradient 0); ``decimals`` digits after the
    point (negative: to tens, hundreds, ...)."""
    input = as_tensor_arg(input, "input")
    decimals = check_int(decimals, "decimals")
    if decimals and input.dtype.kind != "f":
        raise TypeError(f"round(decimals={decimals}) needs a float32 or float64 tensor, got "
                        f"dtype {input.dtype}")
    return RoundFn.apply(input, decimals=decimals)


class TruncFn(_StepFn):
    @staticmethod
    def forward(ctx, a):
        return _integer_copy(a, np.trunc)


def trunc(input):
    """The integer part, rounding toward zero, elementwise (gradient 0)."""
    return TruncFn.apply(as_tensor_arg(input, "input"))


fix = trunc  # PyTorch's alias


class FracFn(Function):
    @staticmethod
    def forward(ctx, a):
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, as PyTorch
            return a - np.trunc(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d(a - trunc a)/da = 1 - 0 = 1
        return grad_out


def frac(input):
    """The fractional part ``x - trunc(x)``, with the sign of x (gradient 1). Float tensors
    only, as PyTorch."""
    return FracFn.apply(float_tensor_arg(input, "input"))


def square(input):
    """``input * input``."""
    input = as_tensor_arg(input, "input")
    return input * input


class ClampFn(Function):
    @staticmethod
    def forward(ctx, a, low, high):
        out = np.clip(a, low, high)
        # Where a is inside [low, high] (bounds included, as PyTorch) the value passes through.
        inside = np.ones(a.shape, bool)
        if low is not None:
            inside &= a >= low
        if high is not None:
            inside &= a <= high
        ctx.inside = inside
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # d clamp(a)/da = 1 where low <= a <= high, else 0 (the output is a constant there)
        return grad_out * ctx.inside, None, None


def clamp(input, min=None, max=None):
    """Each value limited to [min, max] (either may be None); the gradient is 1 inside the
    range (bounds included) and 0 outside."""
    input = as_tensor_arg(input, "input")
    if min is None and max is None:
        raise ValueError("clamp needs min or max (or both)")
    low = min.item() if isinstance(min, Tensor) else min
    high = max.item() if isinstance(max, Tensor) else max
    if isinstance(low, (float, np.floating)) or isinstance(high, (float, np.floating)):
        input = _float_input(input)  # an integer tensor clamped to 2.5 is float32, as PyTorch
    return ClampFn.apply(input, low, high)


clip = clamp


class CloneFn(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad_out):
        # a copy passes the gradient through unchanged
        return grad_out


def clone(input):
    """A copy with its own memory (differentiable: the gradient flows back to ``input``)."""
    return CloneFn.apply(as_tensor_arg(input, "input"))
