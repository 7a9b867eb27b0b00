"""The one owner of argument rules: ints, bools, reals, int tuples, dims and dtypes.

Every public function in minicnn validates its arguments with these helpers, so the same mistake
raises the same exception type with the same wording wherever it is made:

* a value of the wrong *type* (``stride=1.5``, ``dtype=np.int32`` for a layer) -> ``TypeError``;
* a value of the right type but out of range (``stride=0``, ``stride=(1, 2, 3)``) -> ``ValueError``;
* a dimension index out of range (``dim=2`` for a 2-D tensor) -> ``IndexError``, as PyTorch.

Each message names the argument and says what was expected. This module imports only NumPy (and,
inside ``check_bias``, the Tensor class), so every layer of the package (kernels included) can
use it. The names are public to the package, not to users: minicnn's modules import them from
here, never through ``minicnn.nn.functional``.
"""
import functools
import math
import numbers
import operator
import warnings

import numpy as np

from minicnn import dtypes

__all__ = ["INT_MAX", "FLOAT_DTYPES", "check_int", "check_bool", "check_real", "check_nonnegative",
           "check_unit", "check_betas", "ntuple", "pair", "check_output_padding", "check_dim",
           "check_dims", "float_dtype", "factory_dtype", "check_bias", "check_reduction",
           "legacy_reduction"]

# The compiled kernels take sizes and geometry as C ints and hand sizes to 32-bit BLAS.
INT_MAX = 2 ** 31 - 1
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_int(value, name, minimum=None, maximum=None):
    """``value`` as a Python int, or raise.

    Parameters
    ----------
    value : object
        Must be an integer (Python or NumPy), not a bool.
    name : str
        The argument's name, for the message.
    minimum, maximum : int, optional
        Inclusive bounds (ValueError outside them).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_bool(value, name):
    """``value`` as a Python bool (a bool or NumPy bool only), or TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_real(value, name, minimum=None):
    """A real number (not a bool, not NaN) as a Python float, optionally ``>= minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_nonnegative(value, name):
    """A real number ``>= 0`` (an optimizer's lr, eps, weight_decay...); an int stays an int, as
    in PyTorch's parameter groups, anything else becomes a Python float."""
    checked = check_real(value, name, minimum=0)
    return value if type(value) is int else checked


def check_unit(value, name):
    """A real in [0, 1] (RMSprop's alpha, Adadelta's rho) as a Python float."""
    value = check_real(value, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def check_betas(betas, name="betas"):
    """A pair of reals, each in [0, 1), as a tuple of floats (Adam's ``betas``)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    betas = (check_real(betas[0], f"{name}[0]"), check_real(betas[1], f"{name}[1]"))
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{name}[{i}] must be in [0, 1), got {beta}")
    return betas


def ntuple(value, n, name, minimum=None, maximum=INT_MAX):
    """An int, or a tuple/list of ``n`` ints, as a tuple of ``n`` Python ints in range.

    ``conv2d(stride=2)`` and ``conv2d(stride=(2, 2))`` mean the same; a sequence of another
    length is a ValueError (the right type, the wrong number of entries). The upper bound
    defaults to 2**31 - 1, what the compiled kernels can take.
    """
    expected = f"{name} must be an int or a " + ("pair of ints" if n == 2 else f"tuple of {n} ints")
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral)
           for v in values):
        raise TypeError(f"{expected}, got {type(value).__name__} {value!r}")
    if len(values) not in (1, n) or (len(values) == 1 and isinstance(value, (tuple, list))
                                     and n != 1):
        raise ValueError(f"{expected}, got {value!r}")
    return tuple(check_int(v, name, minimum, maximum) for v in values) * (n // len(values))


def pair(value, name, minimum=None, maximum=INT_MAX):
    """``ntuple(value, 2, ...)``: an int or a pair of ints (stride, padding, kernel size...)."""
    return ntuple(value, 2, name, minimum, maximum)


def check_output_padding(output_padding, stride):
    """Raise ValueError unless every ``output_padding`` entry is smaller than its ``stride``.

    ``F.conv_transpose2d`` and ``nn.ConvTranspose2d`` both apply it. PyTorch also accepts
    ``output_padding < dilation``; minicnn does not, because the transposed convolution runs
    as the input-gradient of a conv2d, and a conv2d maps only ``stride`` different input sizes
    to the same output size: the extra rows would not be its adjoint.

    Parameters
    ----------
    output_padding, stride : tuple of int
        One entry per spatial axis (already validated ints).
    """
    if any(op >= s for op, s in zip(output_padding, stride)):
        raise ValueError(f"output_padding {tuple(output_padding)} must be smaller than stride "
                         f"{tuple(stride)} on every axis")


def numpy_names(fn):
    """Let ``fn`` (an op or method with ``dim``/``keepdim``) also take NumPy's names for them,
    ``axis``/``keepdims``, as PyTorch's ops do (``x.argmax(axis=1)``)."""
    @functools.wraps(fn)
    def wrapper(*args, axis=None, keepdims=None, **kwargs):
        if axis is not None:
            if kwargs.get("dim") is not None:
                raise TypeError(f"{fn.__name__}: pass dim or axis, not both")
            kwargs["dim"] = axis
        if keepdims is not None:
            kwargs["keepdim"] = keepdims
        return fn(*args, **kwargs)
    return wrapper


def check_dim(dim, ndim, name="dim"):
    """A dimension index in [-ndim, ndim) as a non-negative int; a 0-d tensor takes -1 and 0.

    TypeError if ``dim`` is not an int, IndexError if it is out of range (as PyTorch).
    """
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__} {dim!r}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{name}={dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected it in [{-size}, {size - 1}])")
    return int(dim) % size


def check_dims(dim, ndim, name="dim"):
    """``None`` (all dimensions), one dimension, or a tuple/list of distinct ones, normalised.

    Returns None, an int, or a tuple of ints (the same kind as given), each in [0, ndim).
    """
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        dims = tuple(check_dim(d, ndim, name) for d in dim)
        if len(set(dims)) != len(dims):
            raise ValueError(f"{name} must not repeat a dimension, got {tuple(dim)!r}")
        return dims
    return check_dim(dim, ndim, name)


def float_dtype(dtype, name="dtype", default=None):
    """``dtype`` as a NumPy float32 or float64 dtype (``default`` if None, or else the default
    dtype, ``minicnn.get_default_dtype()``), else TypeError."""
    if dtype is None:
        return np.dtype(dtypes.default_numpy_float() if default is None else default)
    try:
        dt = np.dtype(getattr(dtype, "numpy_dtype", dtype))
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


def factory_dtype(device, dtype):
    """A layer's ``device=``/``dtype=`` (PyTorch's ``factory_kwargs``): the device must be the
    CPU (RuntimeError naming it otherwise), the dtype float32 or float64 (the default dtype if
    None); returns the NumPy dtype to create the parameters and buffers in."""
    dtypes.as_device(device)
    return float_dtype(dtype)


def check_bias(bias, channels, dtype):
    """A layer's optional ``bias``: None, or a float Tensor of shape ``(channels,)`` in the
    input's ``dtype`` (ValueError for the shape, TypeError for the dtype)."""
    if bias is None:
        return None
    from minicnn._tensor import float_tensor_arg  # the Tensor module imports this one

    bias = float_tensor_arg(bias, "bias")
    if bias.shape != (channels,):
        raise ValueError(f"bias must have shape ({channels},) (one per output channel), "
                         f"got {bias.shape}")
    if bias.dtype != dtype:
        raise TypeError(f"bias has dtype {bias.dtype} but input has {dtype}")
    return bias


def check_reduction(reduction):
    """A loss's ``reduction``: itself if it is 'mean', 'sum' or 'none', else ValueError."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated ``size_average``/``reduce`` pair, mapped onto ``reduction`` (with
    PyTorch's warning when either is given)."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  "reduction='mean', 'sum' or 'none' instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"
