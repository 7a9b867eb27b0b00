"""Elementwise math (exp, log, sqrt, abs, sin, cos, sign, clamp, ...) and dtype casts; each
Function above its wrapper."""
import numpy as np

from minicnn._tensor import Function, Tensor, as_tensor_arg

__all__ = [
    "ExpFn", "exp", "LogFn", "log", "SqrtFn", "sqrt", "AbsFn", "abs", "CastFn",
    "SinFn", "sin", "CosFn", "cos", "sign", "square", "ClampFn", "clamp", "clip", "CloneFn",
    "clone", "floor", "ceil", "round",
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
    return SinFn.apply(as_tensor_arg(input, "input"))


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
    return CosFn.apply(as_tensor_arg(input, "input"))


def _constant(input, fn):
    """A piecewise-constant op: its gradient is 0 almost everywhere, so nothing is recorded."""
    input = as_tensor_arg(input, "input")
    return Tensor._make(fn(input.data), None)


def sign(input):
    """-1, 0 or 1 elementwise (its gradient is 0: nothing is recorded)."""
    return _constant(input, np.sign)


def floor(input):
    """Largest integer <= x, elementwise (gradient 0)."""
    return _constant(input, np.floor)


def ceil(input):
    """Smallest integer >= x, elementwise (gradient 0)."""
    return _constant(input, np.ceil)


def round(input, decimals=0):
    """Round half to even, elementwise, as PyTorch (gradient 0)."""
    return _constant(input, lambda a: np.round(a, decimals))


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
