"""Making tensors, as PyTorch's creation functions: tensor, zeros, ones, rand, arange, ...

Each takes PyTorch's arguments (sizes as ``zeros(2, 3)`` or ``zeros((2, 3))``, ``dtype=``,
``device='cpu'``, ``requires_grad=``). Random ones draw from minicnn's one generator
(``minicnn.manual_seed``). Floats are of the default dtype: float32, unless
``minicnn.set_default_dtype(minicnn.float64)`` changed it, as in PyTorch.
"""
import numbers

import numpy as np

from minicnn import dtypes
from minicnn._checks import check_int
from minicnn._tensor import Tensor, _default_dtype, _size_args
from minicnn.rng import numpy_generator

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "rand",
           "randn", "normal", "randint", "randperm",
           "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like", "full_like",
           "empty_like", "rand_like", "randn_like", "randint_like"]


def _make(array, dtype, device, requires_grad):
    """A leaf Tensor on ``array`` converted to ``dtype`` (if given), after the device check."""
    dtypes.as_device(device)
    if dtype is not None:
        array = array.astype(np.dtype(dtypes.as_dtype(dtype)), copy=False)
    return Tensor(array, requires_grad=requires_grad, dtype=array.dtype)


def _float(dtype):
    target = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
    if not target.is_floating_point:
        raise TypeError(f"dtype must be a floating point type here, got {target!r}")
    return target


def _factory_dtype(dtype):
    """The NumPy dtype a factory with no data (zeros, ones, empty, eye) allocates: ``dtype``,
    or else the default dtype."""
    return np.dtype(dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype))


def tensor(data, *, dtype=None, device=None, requires_grad=False):
    """Create a leaf Tensor.

    Parameters
    ----------
    data : array_like or Tensor
        Numbers, (nested) lists or an ndarray, of any shape.
    requires_grad : bool
        Record operations on it so that ``backward`` fills its ``.grad``.
    dtype : minicnn or NumPy dtype, optional
        By default, as PyTorch: Python floats become the default dtype (float32 unless
        ``set_default_dtype`` changed it), Python ints
        int64, bools bool; a NumPy array or a Tensor keeps its dtype (float16/32/64, int8-64,
        uint8, bool; other NumPy integers become int64). Pass ``dtype=`` to convert.
    device : str or minicnn.device, optional
        Only ``'cpu'``.

    Returns
    -------
    Tensor
        Of the same shape as ``data``, on a new array (never shared with ``data``).

    Examples
    --------
    >>> import numpy as np, minicnn
    >>> minicnn.tensor([[1.0, 2.0]]).dtype, minicnn.tensor(np.zeros(2)).dtype
    (minicnn.float32, minicnn.float64)
    >>> minicnn.tensor([0, 2, 1]).dtype, minicnn.tensor([1.0], dtype=np.float64).dtype
    (minicnn.int64, minicnn.float64)
    """
    dtypes.as_device(device)
    source = data._data if isinstance(data, Tensor) else np.asarray(data)
    if dtype is None:
        if isinstance(data, Tensor) or (isinstance(data, (np.ndarray, np.generic))
                                        and source.dtype in dtypes._BY_NUMPY):
            dtype = source.dtype  # every dtype minicnn has is kept, as PyTorch keeps it
        else:
            dtype = _default_dtype(source, keep_float64=isinstance(data, (np.ndarray,
                                                                            np.generic)))
    dtype = np.dtype(dtypes.as_dtype(dtype))
    return Tensor(np.array(source, dtype=dtype, copy=True), requires_grad=requires_grad,
                  dtype=dtype)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor, sharing memory with an ndarray or Tensor of the same dtype."""
    dtypes.as_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or
                                         np.dtype(dtypes.as_dtype(dtype)) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def from_numpy(array):
    """A Tensor sharing ``array``'s memory (changes to one show in the other), dtype kept."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    dtypes.as_dtype(array.dtype)  # a dtype minicnn has a name for, else TypeError
    return Tensor._make(array, None)


def _shape_of(sizes, size):
    """``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))`` -> ``(2, 3)``."""
    if size is not None:
        if sizes:
            raise TypeError("pass the sizes either as arguments or as size=, not both")
        sizes = (size,)
    return _size_args(sizes)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros of shape ``sizes`` (or ``size=``), of the default dtype unless
    ``dtype``."""
    return _make(np.zeros(_shape_of(sizes, size), _factory_dtype(dtype)), None, device,
                 requires_grad)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    """A tensor of ones of shape ``sizes`` (or ``size=``)."""
    return _make(np.ones(_shape_of(sizes, size), _factory_dtype(dtype)), None, device,
                 requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it: a float
    gives the default dtype, an int int64, a bool bool)."""
    shape = _size_args((size,))
    array = np.full(shape, fill_value)
    if dtype is None:
        array = array.astype(_default_dtype(array, False))
    return _make(array, dtype, device, requires_grad)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of shape ``sizes`` (its values are whatever memory held)."""
    return _make(np.empty(_shape_of(sizes, size), _factory_dtype(dtype)), None, device,
                 requires_grad)


def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1), from minicnn's generator (or ``generator``)."""
    target = _float(dtype)
    draws = numpy_generator(generator).random(_shape_of(sizes, size), dtype=np.float64)
    return _make(draws.astype(target.numpy_dtype), None, device, requires_grad)


def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples, from minicnn's generator (or ``generator``)."""
    target = _float(dtype)
    draws = numpy_generator(generator).standard_normal(_shape_of(sizes, size))
    return _make(draws.astype(target.numpy_dtype), None, device, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Samples from N(mean, std²), as ``torch.normal``: numbers ``mean`` and ``std`` with a
    ``size`` (the default dtype unless ``dtype``), or tensors of means and/or standard deviations
    (broadcast together; the result has their shape and float dtype)."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError("normal: size= goes with a number mean and std, not tensors")
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        dtype = tensors[0].dtype if dtype is None else dtype
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    elif size is None:
        raise TypeError("normal() with a number mean and std needs a size")
    else:
        m, s, shape = float(mean), float(std), _size_args((size,))
    if np.any(np.asarray(s) < 0):
        raise ValueError(f"normal expects std >= 0.0, got {std}")
    target = _float(dtype)
    draws = numpy_generator(generator).normal(m, s, shape)
    return _make(np.asarray(draws).astype(target.numpy_dtype), None, device, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Random integers in [low, high) of shape ``size``, as ``torch.randint(low, high, size)``
    or ``torch.randint(high, size)`` (``size`` positional or keyword)."""
    if size is None and high is not None and not isinstance(high, numbers.Integral):
        low, high, size = 0, low, high        # randint(high, (3,))
    elif high is None:
        low, high = 0, low                    # randint(high, size=(3,))
    if size is None or high is None:
        raise TypeError("randint needs high and size: randint(high, size) or "
                        "randint(low, high, size)")
    low, high = check_int(low, "low"), check_int(high, "high")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    array = numpy_generator(generator).integers(low, high, size=_size_args((size,)),
                                                dtype=np.int64)
    return _make(array, dtype, device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64)."""
    array = numpy_generator(generator).permutation(check_int(n, "n", 0)).astype(np.int64)
    return _make(array, dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (excluded) by ``step``: int64 if all three are ints,
    else the default dtype (as PyTorch)."""
    if end is None:
        start, end = 0, start
    array = np.arange(start, end, step)
    if dtype is None:
        array = array.astype(_default_dtype(array, False))
    return _make(array, dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` (both included)."""
    array = np.linspace(start, end, check_int(steps, "steps", 0))
    return _make(array.astype(_float(dtype).numpy_dtype), None, device, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """``steps`` values from ``base**start`` to ``base**end``, evenly spaced in the exponent."""
    array = np.logspace(start, end, check_int(steps, "steps", 0), base=base)
    return _make(array.astype(_float(dtype).numpy_dtype), None, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The n x m identity matrix (m = n by default)."""
    array = np.eye(check_int(n, "n", 0), None if m is None else check_int(m, "m", 0),
                   dtype=_factory_dtype(dtype))
    return _make(array, None, device, requires_grad)


def _like(input, dtype):
    return np.dtype(dtypes.as_dtype(input.dtype if dtype is None else dtype))


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    """Zeros of ``input``'s shape and dtype (unless given)."""
    return _make(np.zeros(input.shape, _like(input, dtype)), None, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    """Ones of ``input``'s shape and dtype (unless given)."""
    return _make(np.ones(input.shape, _like(input, dtype)), None, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` in ``input``'s shape and dtype (unless given)."""
    array = np.full(input.shape, fill_value, _like(input, dtype))
    return _make(array, None, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of ``input``'s shape and dtype (unless given)."""
    return _make(np.empty(input.shape, _like(input, dtype)), None, device, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    """Uniform [0, 1) samples in ``input``'s shape (its dtype must be float, or pass one)."""
    return rand(*input.shape, dtype=_like(input, dtype), device=device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    """Standard normal samples in ``input``'s shape."""
    return randn(*input.shape, dtype=_like(input, dtype), device=device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, requires_grad=False):
    """Random integers in [low, high) in ``input``'s shape."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=_like(input, dtype), device=device,
                   requires_grad=requires_grad)
