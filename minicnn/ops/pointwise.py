"""Elementwise math (exp, log, sqrt, abs) and dtype casts; each Function above its wrapper."""
import numpy as np

from minicnn._tensor import Function


__all__ = [
    "ExpFn", "exp", "LogFn", "log", "SqrtFn", "sqrt", "AbsFn", "abs", "CastFn",
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
