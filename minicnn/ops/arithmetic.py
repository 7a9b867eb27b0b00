"""Arithmetic (+ - * / ** @, negation, elementwise maximum): each Function above its wrapper."""
import numbers

import numpy as np

from minicnn import dtypes
from minicnn._tensor import Function, Tensor
from minicnn.kernels.blas import numpy_blas
from minicnn.ops._common import binary, unbroadcast


__all__ = [
    "AddFn", "add", "SubFn", "sub", "MulFn", "mul", "DivFn", "div", "PowScalarFn", "PowFn", "pow",
    "MatMulFn", "matmul", "dot", "mm", "NegFn", "neg", "MaximumFn", "maximum", "minimum",
]


class AddFn(Function):
    broadcasts = True  # elementwise on two tensors: binary() checks their shapes

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad_out):
        # d(a+b)/da = 1, d(a+b)/db = 1 (summed over broadcast dimensions)
        return (unbroadcast(grad_out, ctx.a_shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(grad_out, ctx.b_shape) if ctx.needs_input_grad[1] else None)


def _out(result, out):
    """``out=`` as in PyTorch: write the result into the tensor ``out`` and return it."""
    if out is None:
        return result
    if out._data.shape == result._data.shape and out._data.flags.writeable:
        np.copyto(out._data, result._data, casting="unsafe")  # in place: views of out see it
    else:
        out._data = np.array(result._data, dtype=out._data.dtype, copy=True)  # resized
    out._version_box[0] += 1
    return out


def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` (broadcasting, as NumPy); ``out=`` receives the result."""
    return _out(binary(AddFn, input, other if alpha == 1 else other * alpha), out)


class SubFn(Function):
    broadcasts = True  # elementwise on two tensors: binary() checks their shapes

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, grad_out):
        # d(a-b)/da = 1, d(a-b)/db = -1
        return (unbroadcast(grad_out, ctx.a_shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(-grad_out, ctx.b_shape) if ctx.needs_input_grad[1] else None)


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other``; ``out=`` receives the result."""
    return _out(binary(SubFn, input, other if alpha == 1 else other * alpha), out)


class MulFn(Function):
    broadcasts = True  # elementwise on two tensors: binary() checks their shapes

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


def mul(input, other, *, out=None):
    """``input * other``; ``out=`` receives the result."""
    return _out(binary(MulFn, input, other), out)


class DivFn(Function):
    broadcasts = True  # elementwise on two tensors: binary() checks their shapes
    true_divide = True  # integers divide into floats

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


def div(input, other, *, out=None):
    """``input / other``; ``out=`` receives the result."""
    return _out(binary(DivFn, input, other), out)


class PowScalarFn(Function):
    grad_fn_name = "Pow"  # as PyTorch prints its grad_fn
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
    broadcasts = True  # elementwise on two tensors: binary() checks their shapes

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d(a^b)/da = b * a^(b-1), d(a^b)/db = a^b * log(a). As PyTorch: where b == 0 the
        # output is the constant 1 (grad_a 0, not 0 * 0^-1), and where a == 0 with b >= 0 the
        # output does not move with b (grad_b 0, not 0 * log 0 = NaN).
        a, b, out = ctx.saved_tensors
        grad_a = grad_b = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:
                grad_a = np.where(b == 0, 0, grad_out * b * a ** (b - 1))
                grad_a = unbroadcast(grad_a.astype(grad_out.dtype, copy=False), a.shape)
            if ctx.needs_input_grad[1]:
                grad_b = np.where((a == 0) & (b >= 0), 0, grad_out * out * np.log(a))
                grad_b = unbroadcast(grad_b.astype(grad_out.dtype, copy=False), b.shape)
        return grad_a, grad_b


def pow(input, exponent):
    """``input ** exponent``, for a number or a Tensor exponent."""
    if isinstance(exponent, numbers.Number) and not isinstance(exponent, bool):
        if input._data.dtype.kind != "f" and not isinstance(exponent, numbers.Integral):
            # int tensor ** float: the default dtype, as PyTorch's (NumPy gives float64)
            input = Tensor._make(input._data.astype(dtypes.default_numpy_float()), None)
        return PowScalarFn.apply(input, exponent=exponent)
    return binary(PowFn, input, exponent)


class MatMulFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs tensors of at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            rows = "x".join(map(str, a.shape[-2:] if a.ndim > 1 else (1,) + a.shape))
            cols = "x".join(map(str, b.shape[-2:] if b.ndim > 1 else b.shape + (1,)))
            raise RuntimeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                               f"({rows} and {cols}: the inner sizes {a.shape[-1]} and "
                               f"{b.shape[-2 if b.ndim > 1 else 0]} differ)")
        ctx.save_for_backward(a, b)
        # PyTorch's grad_fn for matrix @ matrix, matrix @ vector, vector @ vector
        ctx.grad_fn_name = {(2, 2): "Mm", (2, 1): "Mv", (1, 1): "Dot"}.get((a.ndim, b.ndim),
                                                                          "MatMul")
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


def matmul(input, other, *, out=None):
    """Matrix product ``input @ other`` (batched over leading dimensions, as NumPy)."""
    return _out(binary(MatMulFn, input, other), out)


def dot(input, other):
    """The inner product of two 1-D tensors of one size (a 0-d tensor), as ``torch.dot``."""
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor) or t.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {name} of shape "
                               f"{tuple(getattr(t, 'shape', ()))}")
    if input.shape != other.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and "
                           f"src [{other.shape[0]}] to have the same number of elements")
    return matmul(input, other)


def mm(input, mat2):
    """The product of two 2-D tensors (a matrix), as ``torch.mm``."""
    for name, t in (("input", input), ("mat2", mat2)):
        if not isinstance(t, Tensor) or t.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix (2-D), got shape "
                               f"{tuple(getattr(t, 'shape', ()))}")
    return matmul(input, mat2)


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


class MaximumFn(Function):
    broadcasts = True  # elementwise on two tensors: binary() checks their shapes

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
