"""Weight initialisers with PyTorch's names, formulas and defaults (``torch.nn.init``).

Every function fills its argument **in place** and returns it. The argument is a ``Tensor``
(its ``.data`` is filled, e.g. a ``Parameter``) or a plain ``numpy.ndarray``; values are drawn
in float64 from minicnn's one generator (``minicnn.rng.get_rng()``) and cast to the
array's dtype, so ``minicnn.manual_seed`` makes initial weights reproducible.

``fan_in``/``fan_out`` follow PyTorch: for a weight of shape ``(A, B, *K)`` the receptive
field is ``prod(K)``, ``fan_in = B * prod(K)`` and ``fan_out = A * prod(K)``. For ``Conv2d``'s
``(O, C/G, KH, KW)`` that is ``fan_in = C/G*KH*KW``; for ``Linear``'s ``(out, in)`` it is
``in``; for ``ConvTranspose2d``'s ``(C, O/G, KH, KW)`` it is ``O/G*KH*KW``.
"""
import math
import numbers

import numpy as np

from minicnn.rng import get_rng

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "trunc_normal_", "orthogonal_",
]


def _array(tensor):
    """The ndarray to fill: ``tensor._data`` for a Tensor, the array itself for an ndarray."""
    data = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "_data", None)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"tensor must be a minicnn Tensor or a numpy.ndarray, "
                        f"got {type(tensor).__name__}")
    if not np.issubdtype(data.dtype, np.floating):
        raise TypeError(f"tensor must have a floating dtype to be initialised, got {data.dtype}")
    return data


def _fill(tensor, values):
    data = _array(tensor)
    data[...] = values  # in place, cast to the array's dtype: Parameters keep their identity
    if hasattr(tensor, "_version_box"):
        tensor._version_box[0] += 1  # a graph that saved the old values must not use them now
    return tensor


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (as ``torch.nn.init.calculate_gain``).

    Parameters
    ----------
    nonlinearity : str
        One of ``'linear'``, ``'conv1d'``, ``'conv2d'``, ``'conv3d'``, ``'conv_transpose1d'``,
        ``'conv_transpose2d'``, ``'conv_transpose3d'``, ``'sigmoid'`` (gain 1), ``'tanh'``
        (5/3), ``'relu'`` (√2), ``'leaky_relu'`` (√(2 / (1 + slope²))), ``'selu'`` (3/4).
    param : float, optional
        The negative slope for ``'leaky_relu'`` (default 0.01).

    Returns
    -------
    float
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else _number(param, "param (negative slope)")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"nonlinearity must be one of {linear + ('tanh', 'relu', 'leaky_relu', 'selu')}"
                     f", got {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight of shape ``(A, B, *K)``: ``(B*prod(K), A*prod(K))``.

    Parameters
    ----------
    tensor : Tensor or ndarray, at least 2-D

    Returns
    -------
    tuple of int
    """
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError("fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions (shape {shape})")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0):
    """Fill ``tensor`` with draws from U(a, b).

    Parameters
    ----------
    tensor : Tensor or ndarray, any shape
    a, b : float
        Lower and upper bounds, ``a <= b``.

    Returns
    -------
    tensor, filled in place
    """
    a, b = _number(a, "a"), _number(b, "b")
    if a > b:
        raise ValueError(f"uniform_ needs a <= b, got a={a}, b={b}")
    return _fill(tensor, get_rng().uniform(a, b, size=_array(tensor).shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill ``tensor`` with draws from N(mean, std²).

    Parameters
    ----------
    tensor : Tensor or ndarray, any shape
    mean : float
    std : float, >= 0

    Returns
    -------
    tensor, filled in place
    """
    mean, std = _number(mean, "mean"), _number(std, "std")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return _fill(tensor, get_rng().normal(mean, std, size=_array(tensor).shape))


def constant_(tensor, val):
    """Fill ``tensor`` with the value ``val``; returns it (shape unchanged)."""
    return _fill(tensor, _number(val, "val"))


def zeros_(tensor):
    """Fill ``tensor`` with zeros; returns it (shape unchanged)."""
    return _fill(tensor, 0.0)


def ones_(tensor):
    """Fill ``tensor`` with ones; returns it (shape unchanged)."""
    return _fill(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0):
    """Glorot/Xavier uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    tensor : Tensor or ndarray, at least 2-D, shape ``(A, B, *K)``
    gain : float

    Returns
    -------
    tensor, filled in place
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = _number(gain, "gain") * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # U(-b, b) has standard deviation b / sqrt(3)
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """Glorot/Xavier normal: N(0, std²) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Parameters
    ----------
    tensor : Tensor or ndarray, at least 2-D, shape ``(A, B, *K)``
    gain : float

    Returns
    -------
    tensor, filled in place
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = _number(gain, "gain") * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He/Kaiming uniform: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``.

    ``gain = calculate_gain(nonlinearity, a)``. ``Conv2d`` and ``Linear`` use ``a = sqrt(5)``,
    which makes ``bound = 1 / sqrt(fan_in)``.

    Parameters
    ----------
    tensor : Tensor or ndarray, at least 2-D, shape ``(A, B, *K)``
    a : float
        Negative slope of the leaky ReLU that follows (only used with ``'leaky_relu'``).
    mode : {'fan_in', 'fan_out'}
        ``'fan_in'`` preserves the variance of activations forward, ``'fan_out'`` of
        gradients backward.
    nonlinearity : str
        See :func:`calculate_gain`.

    Returns
    -------
    tensor, filled in place
    """
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor  # nothing to fill (an empty weight), as PyTorch
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He/Kaiming normal: N(0, std²) with ``std = gain / sqrt(fan)``.

    Parameters
    ----------
    tensor : Tensor or ndarray, at least 2-D, shape ``(A, B, *K)``
    a : float
        Negative slope of the leaky ReLU that follows (only used with ``'leaky_relu'``).
    mode : {'fan_in', 'fan_out'}
    nonlinearity : str
        See :func:`calculate_gain`.

    Returns
    -------
    tensor, filled in place
    """
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill ``tensor`` with N(mean, std²) draws truncated to ``[a, b]`` (absolute bounds, as
    PyTorch), by inverting the normal CDF on a uniform draw between CDF(a) and CDF(b).

    Parameters
    ----------
    tensor : Tensor or ndarray, any shape
    mean, std : float
    a, b : float
        The bounds, ``a <= b``.
    generator : ignored (minicnn's one generator is used; seed it with manual_seed)

    Returns
    -------
    tensor, filled in place
    """
    from scipy.special import erf, erfinv  # scipy is a dependency; imported when needed

    mean, std = _number(mean, "mean"), _number(std, "std")
    a, b = _number(a, "a"), _number(b, "b")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    if a > b:
        raise ValueError(f"trunc_normal_ needs a <= b, got a={a}, b={b}")
    if std == 0:
        return _fill(tensor, min(max(mean, a), b))
    cdf = lambda v: 0.5 * (1 + erf((v - mean) / (std * math.sqrt(2))))  # noqa: E731
    u = get_rng().uniform(cdf(a), cdf(b), size=_array(tensor).shape)
    values = mean + std * math.sqrt(2) * erfinv(2 * u - 1)
    return _fill(tensor, np.clip(values, a, b))


def orthogonal_(tensor, gain=1.0, generator=None):
    """Fill ``tensor`` with a (semi-)orthogonal matrix (Saxe et al.), as PyTorch: the weight is
    viewed as (rows, cols) = (shape[0], prod(shape[1:])); rows are orthonormal if rows <= cols,
    else columns; then scaled by ``gain``.

    Parameters
    ----------
    tensor : Tensor or ndarray, at least 2-D
    gain : float
    generator : ignored (minicnn's one generator is used)

    Returns
    -------
    tensor, filled in place
    """
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported, got shape "
                         f"{shape}")
    gain = _number(gain, "gain")
    rows = shape[0]
    cols = math.prod(shape[1:])
    if rows * cols == 0:
        return tensor
    flat = get_rng().normal(size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique, so q is uniformly distributed
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(shape))


def _reset_weight_and_bias(module):
    """PyTorch's default init of a layer's ``weight`` and optional ``bias`` (Conv*, Linear):
    weight Kaiming-uniform (a=√5), so |w| <= 1/√fan_in, and bias U(-1/√fan_in, 1/√fan_in),
    with fan_in from the weight shape."""
    kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(module.bias, -bound, bound)
