"""Special and integer elementwise functions: log1p/expm1/log2/log10, the hyperbolic and inverse
trigonometric functions, erf/erfc/erfinv, lgamma/digamma, logit, atan2, hypot, xlogy, lerp,
addcmul/addcdiv, fmod/remainder/floor_divide, nan_to_num, clamp_min/clamp_max, isposinf/isneginf
and the bitwise ops; each Function above its wrapper.

As PyTorch's: an integer or bool tensor given to a float function computes in the default
dtype (float32 unless ``set_default_dtype`` changed it), and a value outside a function's
domain gives NaN (or +-inf at a pole), without NumPy's warning.
"""
import math

import numpy as np

from minicnn import dtypes
from minicnn._checks import check_real
from minicnn._tensor import Function, Tensor, as_tensor_arg, float_tensor_arg
from minicnn.ops._common import (_cast, _float_input, _operands, check_broadcast,
                                 unbroadcast)

__all__ = [
    "Log1pFn", "log1p", "Expm1Fn", "expm1", "Log2Fn", "log2", "Log10Fn", "log10",
    "SinhFn", "sinh", "CoshFn", "cosh", "AsinhFn", "asinh", "arcsinh", "AcoshFn", "acosh",
    "arccosh", "AtanhFn", "atanh", "arctanh", "AsinFn", "asin", "arcsin", "AcosFn", "acos",
    "arccos", "AtanFn", "atan", "arctan", "ErfFn", "erf", "ErfcFn", "erfc", "ErfinvFn",
    "erfinv", "LgammaFn", "lgamma", "DigammaFn", "digamma", "LogitFn", "logit",
    "Atan2Fn", "atan2", "arctan2", "HypotFn", "hypot", "XlogyFn", "xlogy", "LerpFn", "lerp",
    "AddcmulFn", "addcmul", "AddcdivFn", "addcdiv", "FmodFn", "fmod", "RemainderFn",
    "remainder", "FloorDivideFn", "floor_divide", "NanToNumFn", "nan_to_num", "ClampMinFn",
    "clamp_min", "ClampMaxFn", "clamp_max", "isposinf", "isneginf", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not",
]

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI, _SQRT_PI_OVER_TWO = 2 / math.sqrt(math.pi), math.sqrt(math.pi) / 2


def _scipy_special():
    import scipy.special  # a dependency; imported when a function that needs it first runs
    return scipy.special


def _quiet():
    """NumPy's floating-point warnings off: outside its domain a function is NaN, at a pole
    +-inf, silently, as in PyTorch."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _pair(fn, input, other, name):
    """``input`` and ``other`` (tensors, or a tensor and a number on either side) as two tensors
    of PyTorch's result dtype (the default dtype for integers when ``fn.true_divide``), whose
    shapes broadcast."""
    a = b = None
    if isinstance(input, Tensor):
        a, b = _operands(input, other, fn)
    elif isinstance(other, Tensor):
        b, a = _operands(other, input, fn)
    if a is None or b is None:
        raise TypeError(f"{name}: expected a tensor and a tensor or a number, got "
                        f"{type(input).__name__} and {type(other).__name__}")
    check_broadcast(a.shape, b.shape, fn)
    return a, b


# --- logarithms and exponentials -------------------------------------------------------------

class Log1pFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.log1p(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d log(1 + a)/da = 1 / (1 + a)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out / (1 + a)


def log1p(input):
    """``log(1 + x)`` elementwise, accurate for small x."""
    return Log1pFn.apply(_float_input(input))


class Expm1Fn(Function):
    @staticmethod
    def forward(ctx, a):
        with _quiet():
            out = np.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d(e^a - 1)/da = e^a = out + 1
        out, = ctx.saved_tensors
        return grad_out * (out + 1)


def expm1(input):
    """``exp(x) - 1`` elementwise, accurate for small x."""
    return Expm1Fn.apply(_float_input(input))


class Log2Fn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.log2(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d log2(a)/da = 1 / (a ln 2)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out / (a * _LN2)


def log2(input):
    """Base-2 logarithm elementwise."""
    return Log2Fn.apply(_float_input(input))


class Log10Fn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.log10(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d log10(a)/da = 1 / (a ln 10)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out / (a * _LN10)


def log10(input):
    """Base-10 logarithm elementwise."""
    return Log10Fn.apply(_float_input(input))


# --- hyperbolic and inverse trigonometric functions ------------------------------------------

class SinhFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.sinh(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d sinh(a)/da = cosh(a)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out * np.cosh(a)


def sinh(input):
    """Hyperbolic sine elementwise."""
    return SinhFn.apply(_float_input(input))


class CoshFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.cosh(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d cosh(a)/da = sinh(a)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out * np.sinh(a)


def cosh(input):
    """Hyperbolic cosine elementwise."""
    return CoshFn.apply(_float_input(input))


class AsinhFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arcsinh(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d asinh(a)/da = 1 / sqrt(a^2 + 1)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out / np.sqrt(a * a + 1)


def asinh(input):
    """Inverse hyperbolic sine elementwise."""
    return AsinhFn.apply(_float_input(input))


class AcoshFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arccosh(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d acosh(a)/da = 1 / sqrt(a^2 - 1)  (inf at 1, NaN where |a| < 1, as PyTorch)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out / np.sqrt(a * a - 1)


def acosh(input):
    """Inverse hyperbolic cosine elementwise (NaN below 1)."""
    return AcoshFn.apply(_float_input(input))


class AtanhFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arctanh(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d atanh(a)/da = 1 / (1 - a^2)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out / (1 - a * a)


def atanh(input):
    """Inverse hyperbolic tangent elementwise (+-inf at +-1, NaN beyond)."""
    return AtanhFn.apply(_float_input(input))


class AsinFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arcsin(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d asin(a)/da = 1 / sqrt(1 - a^2)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out / np.sqrt(1 - a * a)


def asin(input):
    """Arcsine elementwise (NaN outside [-1, 1])."""
    return AsinFn.apply(_float_input(input))


class AcosFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arccos(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d acos(a)/da = -1 / sqrt(1 - a^2)
        a, = ctx.saved_tensors
        with _quiet():
            return -grad_out / np.sqrt(1 - a * a)


def acos(input):
    """Arccosine elementwise (NaN outside [-1, 1])."""
    return AcosFn.apply(_float_input(input))


class AtanFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arctan(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d atan(a)/da = 1 / (1 + a^2)
        a, = ctx.saved_tensors
        with _quiet():
            return grad_out / (1 + a * a)


def atan(input):
    """Arctangent elementwise."""
    return AtanFn.apply(_float_input(input))


arcsinh, arccosh, arctanh, arcsin, arccos, arctan = asinh, acosh, atanh, asin, acos, atan


# --- error and gamma functions, logit ----------------------------------------------------------

class ErfFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _scipy_special().erf(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d erf(a)/da = 2 / sqrt(pi) e^(-a^2)
        a, = ctx.saved_tensors
        return grad_out * (_TWO_OVER_SQRT_PI * np.exp(-a * a))


def erf(input):
    """The error function ``2/sqrt(pi) * integral_0^x e^(-t^2) dt`` elementwise."""
    return ErfFn.apply(_float_input(input))


class ErfcFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _scipy_special().erfc(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d(1 - erf(a))/da = -2 / sqrt(pi) e^(-a^2)
        a, = ctx.saved_tensors
        return grad_out * (-_TWO_OVER_SQRT_PI * np.exp(-a * a))


def erfc(input):
    """``1 - erf(x)`` elementwise, accurate where erf is close to 1."""
    return ErfcFn.apply(_float_input(input))


class ErfinvFn(Function):
    @staticmethod
    def forward(ctx, a):
        out = _scipy_special().erfinv(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d erfinv(a)/da = 1 / erf'(erfinv a) = sqrt(pi)/2 e^(out^2)
        out, = ctx.saved_tensors
        with _quiet():
            return grad_out * (_SQRT_PI_OVER_TWO * np.exp(out * out))


def erfinv(input):
    """The inverse of ``erf`` elementwise (+-inf at +-1, NaN beyond)."""
    return ErfinvFn.apply(_float_input(input))


class LgammaFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        # log |Gamma(a)|; +inf at the poles 0, -1, -2, ... and at -inf (SciPy says -inf there)
        return np.where(a == -np.inf, np.inf, _scipy_special().gammaln(a)).astype(a.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # d log|Gamma(a)|/da = digamma(a)
        a, = ctx.saved_tensors
        return grad_out * _scipy_special().psi(a)


def lgamma(input):
    """``log(|Gamma(x)|)`` elementwise."""
    return LgammaFn.apply(_float_input(input))


class DigammaFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        # Gamma'/Gamma: -inf at +0 and +inf at -0 (as PyTorch), NaN at the negative integers
        return _scipy_special().psi(a)

    @staticmethod
    def backward(ctx, grad_out):
        # d digamma(a)/da = trigamma(a) = polygamma(1, a)  (NaN at -inf, as PyTorch)
        a, = ctx.saved_tensors
        slope = np.where(a == -np.inf, np.nan, _scipy_special().polygamma(1, a))
        return grad_out * slope.astype(a.dtype)


def digamma(input):
    """The logarithmic derivative of the gamma function, ``Gamma'(x) / Gamma(x)``."""
    return DigammaFn.apply(_float_input(input))


class LogitFn(Function):
    @staticmethod
    def forward(ctx, a, eps):
        ctx.save_for_backward(a)
        ctx.eps = eps
        z = a if eps is None else np.clip(a, eps, 1 - eps).astype(a.dtype, copy=False)
        with _quiet():
            return np.log(z / (1 - z))

    @staticmethod
    def backward(ctx, grad_out):
        # d log(a / (1 - a))/da = 1 / (a (1 - a)). As PyTorch: without eps NaN outside [0, 1];
        # with eps 0 outside [eps, 1 - eps], where the clamp makes the output constant
        a, = ctx.saved_tensors
        with _quiet():
            # at 0 and 1 (-0.0 included) grad_out * inf, with grad_out's sign
            grad = np.where((a == 0) | (a == 1), grad_out * np.inf, grad_out / (a * (1 - a)))
        if ctx.eps is None:
            return np.where((a < 0) | (a > 1), np.nan, grad)
        return np.where((a < ctx.eps) | (a > 1 - ctx.eps), 0, grad)


def logit(input, eps=None):
    """``log(p / (1 - p))`` elementwise, p first clamped to ``[eps, 1 - eps]`` if ``eps`` is
    given (without it, NaN outside [0, 1] and +-inf at 0 and 1)."""
    eps = None if eps is None else check_real(eps, "eps")
    return LogitFn.apply(_float_input(input), eps=eps)


# --- functions of two or three tensors --------------------------------------------------------

class Atan2Fn(Function):
    broadcasts = True   # binary shapes checked by _pair
    true_divide = True  # integers compute in the default dtype, as PyTorch

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b)

    @staticmethod
    def backward(ctx, grad_out):
        # d atan2(a, b)/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)
        a, b = ctx.saved_tensors
        with _quiet():
            scale = grad_out / (a * a + b * b)
        return (unbroadcast(scale * b, a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(-scale * a, b.shape) if ctx.needs_input_grad[1] else None)


def atan2(input, other):
    """The angle of the point ``(other, input)``, in [-pi, pi], elementwise (broadcasting)."""
    return Atan2Fn.apply(*_pair(Atan2Fn, input, other, "atan2"))


arctan2 = atan2


class HypotFn(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        out = np.hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # d sqrt(a^2 + b^2)/da = a / out, d/db = b / out
        a, b, out = ctx.saved_tensors
        with _quiet():
            scale = grad_out / out
        return (unbroadcast(scale * a, a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(scale * b, b.shape) if ctx.needs_input_grad[1] else None)


def hypot(input, other):
    """``sqrt(input^2 + other^2)`` elementwise, without overflow. Float tensors only, as
    PyTorch."""
    input, other = float_tensor_arg(input, "input"), float_tensor_arg(other, "other")
    return HypotFn.apply(*_pair(HypotFn, input, other, "hypot"))


def _xlogy(x, y):
    """``x * log(y)``, 0 where x is 0 unless y is NaN (PyTorch's xlogy on arrays)."""
    with _quiet():
        return np.where((x == 0) & ~np.isnan(y), 0, x * np.log(y)).astype(x.dtype, copy=False)


class XlogyFn(Function):
    broadcasts = True
    true_divide = True  # integers compute in the default dtype

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _xlogy(a, b)

    @staticmethod
    def backward(ctx, grad_out):
        # d(a log b)/da = log b (0 where a = 0 and b <= 0, as PyTorch), d/db = a / b
        a, b = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = np.where((a == 0) & (b <= 0), 0, _xlogy(grad_out, b))
            grad_a = unbroadcast(grad_a.astype(grad_out.dtype, copy=False), a.shape)
        if ctx.needs_input_grad[1]:
            with _quiet():
                grad_b = unbroadcast(grad_out * a / b, b.shape)
        return grad_a, grad_b


def xlogy(input, other):
    """``input * log(other)`` elementwise, 0 where input is 0 (unless other is NaN); either may
    be a number."""
    return XlogyFn.apply(*_pair(XlogyFn, input, other, "xlogy"))


class LerpFn(Function):
    @staticmethod
    def forward(ctx, a, end, weight):
        ctx.save_for_backward(a, end, weight)
        # PyTorch's two forms: exact at weight 0 (the first) and at weight 1 (the second)
        return np.where(np.abs(weight) < 0.5, a + weight * (end - a),
                        end - (end - a) * (1 - weight))

    @staticmethod
    def backward(ctx, grad_out):
        # lerp = a + w (end - a): d/da = 1 - w, d/dend = w, d/dw = end - a
        a, end, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (unbroadcast(grad_out * (1 - w), a.shape) if need[0] else None,
                unbroadcast(grad_out * w, end.shape) if need[1] else None,
                unbroadcast(grad_out * (end - a), w.shape) if need[2] else None)


def lerp(input, end, weight):
    """``input + weight * (end - input)`` (broadcasting); ``weight`` a number or a tensor.
    ``input``, ``end`` and a weight tensor with dimensions must share one float dtype, as in
    PyTorch."""
    input, end = float_tensor_arg(input, "input"), as_tensor_arg(end, "end")
    operands = [("end", end)]
    if isinstance(weight, Tensor):
        if weight.ndim == 0 and weight.dtype.kind == "f":
            weight = weight.to(input.dtype)  # a 0-d weight converts, as a number would
        operands.append(("weight", weight))
    elif isinstance(weight, (bool, np.bool_)) or not isinstance(weight, (int, float, np.number)):
        raise TypeError(f"lerp: weight must be a number or a tensor, got "
                        f"{type(weight).__name__}")
    else:
        weight = float(weight)
    for name, t in operands:
        if t.dtype != input.dtype:
            raise RuntimeError(f"expected dtype {input._data.dtype} for `{name}` but got dtype "
                               f"{t._data.dtype}")
        check_broadcast(input.shape, t.shape, LerpFn)
    if isinstance(weight, Tensor):
        check_broadcast(np.broadcast_shapes(input.shape, end.shape), weight.shape, LerpFn)
    return LerpFn.apply(input, end, weight)


def _three(name, input, tensor1, tensor2):
    """The three tensors of addcmul/addcdiv in their result dtype (PyTorch's promotion), their
    shapes checked to broadcast."""
    ts = [as_tensor_arg(t, n) for t, n in ((input, "input"), (tensor1, "tensor1"),
                                           (tensor2, "tensor2"))]
    dtype = np.dtype(dtypes._result_numpy(*ts))
    fn = AddcmulFn if name == "addcmul" else AddcdivFn
    check_broadcast(ts[1].shape, ts[2].shape, fn)
    check_broadcast(ts[0].shape, np.broadcast_shapes(ts[1].shape, ts[2].shape), fn)
    return [_cast(t, dtype) for t in ts]


def _scalar(value, dtype, name):
    """``value`` as a number of ``dtype``'s kind: PyTorch converts it to the tensors' type, so
    ``value=0.5`` on integer tensors is 0."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}: value must be a number, got {type(value).__name__}")
    return np.dtype(dtype).type(value).item() if dtype.kind in "iub" else float(value)


class AddcmulFn(Function):
    @staticmethod
    def forward(ctx, a, t1, t2, value):
        ctx.save_for_backward(t1, t2)
        ctx.value, ctx.a_shape = value, a.shape
        return a + value * t1 * t2

    @staticmethod
    def backward(ctx, grad_out):
        # d(a + v t1 t2): d/da = 1, d/dt1 = v t2, d/dt2 = v t1
        t1, t2 = ctx.saved_tensors
        v, need = ctx.value, ctx.needs_input_grad
        return (unbroadcast(grad_out, ctx.a_shape) if need[0] else None,
                unbroadcast(grad_out * v * t2, t1.shape) if need[1] else None,
                unbroadcast(grad_out * v * t1, t2.shape) if need[2] else None, None)


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2`` (broadcasting)."""
    a, t1, t2 = _three("addcmul", input, tensor1, tensor2)
    return AddcmulFn.apply(a, t1, t2, _scalar(value, a._data.dtype, "addcmul"))


class AddcdivFn(Function):
    @staticmethod
    def forward(ctx, a, t1, t2, value):
        ctx.save_for_backward(t1, t2)
        ctx.value, ctx.a_shape = value, a.shape
        with _quiet():
            return a + value * t1 / t2

    @staticmethod
    def backward(ctx, grad_out):
        # d(a + v t1 / t2): d/da = 1, d/dt1 = v / t2, d/dt2 = -v t1 / t2^2
        t1, t2 = ctx.saved_tensors
        v, need = ctx.value, ctx.needs_input_grad
        with _quiet():
            return (unbroadcast(grad_out, ctx.a_shape) if need[0] else None,
                    unbroadcast(grad_out * (v / t2), t1.shape) if need[1] else None,
                    unbroadcast(-grad_out * (v * t1 / (t2 * t2)), t2.shape) if need[2] else None,
                    None)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2`` (broadcasting). Two integer tensors are refused, as
    PyTorch refuses them."""
    if all(as_tensor_arg(t, n).dtype.kind != "f"
           for t, n in ((tensor1, "tensor1"), (tensor2, "tensor2"))):
        raise RuntimeError("Integer division with addcdiv is no longer supported: use "
                           "(input + value * minicnn.trunc(tensor1 / tensor2)).to(input.dtype) "
                           "for the old behaviour, or make tensor1 or tensor2 a float tensor")
    a, t1, t2 = _three("addcdiv", input, tensor1, tensor2)
    return AddcdivFn.apply(a, t1, t2, _scalar(value, a._data.dtype, "addcdiv"))


# --- division with rounding ---------------------------------------------------------------------

def _check_divisor(b):
    """An integer division by zero raises, as PyTorch's (NumPy would give 0 and a warning)."""
    if b.dtype.kind in "biu" and not np.all(b._data):
        raise RuntimeError("ZeroDivisionError")


class FmodFn(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with _quiet():
            return np.fmod(a, b)

    @staticmethod
    def backward(ctx, grad_out):
        # fmod(a, b) = a - trunc(a / b) b: d/da = 1, d/db = -trunc(a / b)
        a, b = ctx.saved_tensors
        with _quiet():
            return (unbroadcast(grad_out, a.shape) if ctx.needs_input_grad[0] else None,
                    unbroadcast(-grad_out * np.trunc(a / b), b.shape)
                    if ctx.needs_input_grad[1] else None)


def fmod(input, other):
    """The remainder of ``input / other`` with the sign of ``input`` (C's fmod), elementwise;
    ``other`` a tensor or a number."""
    a, b = _pair(FmodFn, input, other, "fmod")
    _check_divisor(b)
    return FmodFn.apply(a, b)


class RemainderFn(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with _quiet():
            mod = np.fmod(a, b)
            # moved into the divisor's sign; a zero keeps fmod's sign, as PyTorch (NumPy's
            # remainder gives it the divisor's)
            return np.where((mod != 0) & ((mod < 0) != (b < 0)), mod + b, mod)

    @staticmethod
    def backward(ctx, grad_out):
        # remainder(a, b) = a - floor(a / b) b: d/da = 1, d/db = -floor(a / b)
        a, b = ctx.saved_tensors
        with _quiet():
            return (unbroadcast(grad_out, a.shape) if ctx.needs_input_grad[0] else None,
                    unbroadcast(-grad_out * np.floor_divide(a, b), b.shape)
                    if ctx.needs_input_grad[1] else None)


def remainder(input, other):
    """The remainder of ``input / other`` with the sign of ``other`` (Python's %), elementwise;
    either may be a number."""
    a, b = _pair(RemainderFn, input, other, "remainder")
    _check_divisor(b)
    return RemainderFn.apply(a, b)


class FloorDivideFn(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        # NumPy's floor division is PyTorch's algorithm: fmod, then a correction of the quotient
        with _quiet():
            return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx, grad_out):
        # recorded, as PyTorch records it, but without a derivative: backward through it fails
        raise RuntimeError("the derivative for floor_divide is not implemented (as in PyTorch)")


def floor_divide(input, other):
    """``floor(input / other)`` elementwise (rounding toward -inf); either may be a number."""
    a, b = _pair(FloorDivideFn, input, other, "floor_divide")
    _check_divisor(b)
    return FloorDivideFn.apply(a, b)


# --- replacing and bounding values ------------------------------------------------------------

class NanToNumFn(Function):
    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        ctx.finite = np.isfinite(a)
        return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, grad_out):
        # d nan_to_num(a)/da = 1 where a is finite, 0 where a constant replaced it
        return grad_out * ctx.finite


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0, and
    the dtype's largest and lowest finite values)."""
    input = as_tensor_arg(input, "input")
    return NanToNumFn.apply(input, nan=nan, posinf=posinf, neginf=neginf)


class ClampMinFn(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, bound):
        ctx.shapes = a.shape, bound.shape
        ctx.kept, ctx.clamped = a >= bound, a < bound
        return np.maximum(a, bound)  # a NaN in either propagates

    @staticmethod
    def backward(ctx, grad_out):
        # max(a, bound): d/da = 1 where a >= bound (the bound included), d/dbound = 1 where
        # a < bound; where either is NaN neither gets the gradient, as PyTorch
        a_shape, bound_shape = ctx.shapes
        return (unbroadcast(np.where(ctx.kept, grad_out, 0), a_shape)
                if ctx.needs_input_grad[0] else None,
                unbroadcast(np.where(ctx.clamped, grad_out, 0), bound_shape)
                if ctx.needs_input_grad[1] else None)


def clamp_min(input, min):
    """``max(input, min)`` elementwise: ``min`` a number or a tensor (broadcasting)."""
    return ClampMinFn.apply(*_pair(ClampMinFn, input, min, "clamp_min"))


class ClampMaxFn(ClampMinFn):
    @staticmethod
    def forward(ctx, a, bound):
        # backward: ClampMinFn's, with the roles of the two sides of the bound swapped
        ctx.shapes = a.shape, bound.shape
        ctx.kept, ctx.clamped = a <= bound, a > bound
        return np.minimum(a, bound)


def clamp_max(input, max):
    """``min(input, max)`` elementwise: ``max`` a number or a tensor (broadcasting)."""
    return ClampMaxFn.apply(*_pair(ClampMaxFn, input, max, "clamp_max"))


# --- tests and bitwise ops (no gradient) ---------------------------------------------------------

def _infinite(input, sign):
    a = as_tensor_arg(input, "input")._data
    found = a == sign * np.inf if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    return Tensor._make(found, None)


def isposinf(input):
    """True where the value is +inf (never for an integer tensor)."""
    return _infinite(input, 1)


def isneginf(input):
    """True where the value is -inf."""
    return _infinite(input, -1)


def _bitwise(ufunc, input, other, name):
    a, b = _pair(ufunc, input, other, name)
    if a.dtype.kind not in "biu":
        raise TypeError(f"{name} needs integer or bool tensors (and numbers), got dtype "
                        f"{a._data.dtype}")
    return Tensor._make(ufunc(a._data, b._data), None)


def bitwise_and(input, other):
    """``input & other`` bit by bit (logical and for bools); integer and bool tensors only."""
    return _bitwise(np.bitwise_and, input, other, "bitwise_and")


def bitwise_or(input, other):
    """``input | other`` bit by bit."""
    return _bitwise(np.bitwise_or, input, other, "bitwise_or")


def bitwise_xor(input, other):
    """``input ^ other`` bit by bit."""
    return _bitwise(np.bitwise_xor, input, other, "bitwise_xor")


def bitwise_not(input):
    """``~input`` bit by bit (logical not for bools); integer and bool tensors only."""
    a = as_tensor_arg(input, "input")
    if a.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not needs an integer or bool tensor, got dtype "
                        f"{a._data.dtype}")
    return Tensor._make(np.invert(a._data), None)
