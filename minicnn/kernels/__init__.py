"""The backend seam: validate arguments, cast arrays, allocate outputs, dispatch to a kernel.

Kernels take NumPy arrays (NCHW, float32 or float64) and return NumPy arrays; they never see a
``Tensor``. Two backends implement every kernel with the same names and signatures:

* ``"fast"`` - the OpenMP-parallel Cython kernels in ``_conv.pyx`` and ``_pool.pyx``;
* ``"reference"`` - the readable NumPy twins in ``reference.py``.

The compiled kernels run with bounds checks off, so *everything* is checked here first: a bad
argument raises ``TypeError``/``ValueError`` naming it, before any kernel runs.

Which file does what:

* ``__init__.py`` (this file) - the kernels' entry points: validate, allocate, then call
  the fast kernel or its reference twin; and the names re-exported below.
* ``geometry.py`` - argument checks and sizes (``ConvGeometry``, ``PoolGeometry``, the
  output-size rule), pure Python; the argument rules themselves are ``minicnn._checks``'.
* ``runtime.py`` - loading the compiled modules (and libgomp's spin count), ``openmp_enabled``,
  ``compile_flags``, the backend switch and the thread count with its ``MIN_WORK_PER_THREAD``.
* ``reference.py`` - the readable twins; ``blas.py`` - holding a BLAS at one thread;
  ``buffers.py`` - reusing big output arrays across steps (``empty_cache()`` drops them).
* ``_conv.pyx``, ``_pool.pyx``, ``_elementwise.pyx`` (ReLU, bias), ``_norm.pyx`` (batch
  norm's statistics, affine map and backward) - the compiled kernels,
  sharing ``_common.pxd``; the conv kernels' lowering copies are in ``_lowering.pxi``
  (included), their GEMMs and planning ``cdef inline`` in ``_gemm.pxd`` and ``_plan.pxd``,
  and their C intrinsics in ``src/``;
  ``_openmp.pyx`` - what they were built with.

Only the fast kernels need the compiled modules: in a tree where they were never built this
package still imports, and a fast call raises an ImportError saying how to build.

>>> import numpy as np, minicnn.kernels as K
>>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
>>> K.conv2d_forward(x, w).shape
(1, 1, 2, 2)
>>> with K.backend("reference"):
...     float(K.conv2d_forward(x, w, padding=1)[0, 0, 0, 0])
4.0
"""
import functools
import inspect

import numpy as np

from minicnn._checks import FLOAT_DTYPES, INT_MAX, check_bool
from minicnn.kernels import buffers, reference
from minicnn.kernels.buffers import empty_cache
from minicnn.kernels.geometry import (ConvArgs, ConvGeometry, PoolGeometry, array4, grad_out4,
                                      shape4)
from minicnn.kernels.runtime import (BACKENDS, MIN_WORK_PER_THREAD, OPENMP_SPINCOUNT, _conv,
                                     _elementwise, _norm, _openmp, _pool, backend, compile_flags, get_backend,
                                     get_num_threads, openmp_enabled, set_num_threads,
                                     threads_for, use)

__all__ = [
    "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "relu_forward", "relu_backward", "bias_add", "batch_norm_stats", "channel_affine",
    "batch_norm_backward", "empty_cache",
    "use", "backend", "get_backend", "BACKENDS",
    "set_num_threads", "get_num_threads", "openmp_enabled", "compile_flags",
]
# Also public, not star-exported: OPENMP_SPINCOUNT, MIN_WORK_PER_THREAD (the thread rule; assign
# a new table here to change it), ConvArgs, ConvGeometry, PoolGeometry, FLOAT_DTYPES, INT_MAX,
# reference.


def _names_memory_errors(kernel):
    """Decorator: a MemoryError (an allocation of the output or a workspace failed) is re-raised
    with the kernel's arguments, so the message says which sizes asked for so much memory."""
    signature = inspect.signature(kernel)

    @functools.wraps(kernel)
    def wrapper(*args, **kwargs):
        try:
            return kernel(*args, **kwargs)
        except MemoryError as exc:
            bound = signature.bind(*args, **kwargs)
            described = ", ".join(
                f"{name}=array{value.shape}:{value.dtype}" if isinstance(value, np.ndarray)
                else f"{name}={value!r}" for name, value in bound.arguments.items())
            raise MemoryError(f"{kernel.__name__}({described}): {exc}") from None
    return wrapper


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------

def _trusted(geometry, **shapes):
    """The ``geometry=`` an op built for this call, after a shape comparison: the compiled
    kernels index by the arrays' shapes and the geometry's ints, so the two must agree."""
    if not isinstance(geometry, ConvGeometry):
        raise TypeError(f"geometry must be a ConvGeometry, got {type(geometry).__name__}")
    for name, shape in shapes.items():
        if shape != getattr(geometry, name):
            raise ValueError(f"{name} {shape} does not match the geometry's "
                             f"{getattr(geometry, name)}")
    return geometry


@_names_memory_errors
def conv2d_forward(x, w, stride=1, padding=0, dilation=1, groups=1, *, geometry=None):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` without bias.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    w : ndarray, shape (O, C/G, KH, KW), same dtype as ``x``
    stride, padding, dilation : int or (int, int)
    groups : int, divides C and O
    geometry : ConvGeometry, optional
        This call's sizes, already validated (the ops build one per call and pass it to all
        three kernels); it replaces stride, padding, dilation and groups, which are then
        ignored, and must match the arrays' shapes.

    Returns
    -------
    y : ndarray, shape (N, O, OH, OW), with OH = floor((H + 2PH - DH(KH-1) - 1)/SH) + 1
    """
    x = array4(x, "x")
    w = array4(w, "w", x.dtype, "x")
    if geometry is None:
        geo = ConvGeometry(x.shape, w.shape, stride, padding, dilation, groups)
    else:
        geo = _trusted(geometry, x_shape=x.shape, w_shape=w.shape)
    if get_backend() == "reference":
        return reference.conv2d_forward(x, w, **geo.args())
    y = buffers.empty(geo.y_shape, x.dtype)
    if y.size:
        _conv.conv2d_forward(x, w, y, *geo.ints(), threads_for("conv", geo.work()))
    return y


@_names_memory_errors
def conv2d_backward_input(grad_out, w, x_shape, stride=1, padding=0, dilation=1, groups=1, *,
                          geometry=None):
    """Gradient of ``conv2d_forward`` with respect to ``x`` (a transposed convolution).

    Parameters
    ----------
    grad_out : ndarray, shape (N, O, OH, OW)
    w : ndarray, shape (O, C/G, KH, KW), same dtype
    x_shape : (N, C, H, W) of the forward input
    geometry : ConvGeometry, optional
        As in ``conv2d_forward``; ``x_shape`` must then be the geometry's.

    Returns
    -------
    grad_x : ndarray, shape x_shape
    """
    grad_out = array4(grad_out, "grad_out")
    w = array4(w, "w", grad_out.dtype, "grad_out")
    if geometry is None:
        geo = ConvGeometry(shape4(x_shape, "x_shape"), w.shape, stride, padding, dilation,
                           groups)
    else:
        geo = _trusted(geometry, x_shape=tuple(x_shape), w_shape=w.shape)
    grad_out = grad_out4(grad_out, geo.y_shape, w.dtype, "w")
    if get_backend() == "reference":
        return reference.conv2d_backward_input(grad_out, w, geo.x_shape, **geo.args())
    grad_x = buffers.empty(geo.x_shape, w.dtype)
    if grad_x.size:
        _conv.conv2d_backward_input(grad_out, w, grad_x, *geo.ints(),
                                    threads_for("conv", geo.work()))
    return grad_x


@_names_memory_errors
def conv2d_backward_weight(x, grad_out, w_shape, stride=1, padding=0, dilation=1, groups=1, *,
                           geometry=None):
    """Gradient of ``conv2d_forward`` with respect to ``w``, summed over the batch.

    The batch sum is deterministic: bit-identical for any thread count.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    grad_out : ndarray, shape (N, O, OH, OW), same dtype
    w_shape : (O, C/G, KH, KW)
    geometry : ConvGeometry, optional
        As in ``conv2d_forward``; ``w_shape`` must then be the geometry's.

    Returns
    -------
    grad_w : ndarray, shape w_shape
    """
    x = array4(x, "x")
    if geometry is None:
        geo = ConvGeometry(x.shape, shape4(w_shape, "w_shape"), stride, padding, dilation,
                           groups)
    else:
        geo = _trusted(geometry, x_shape=x.shape, w_shape=tuple(w_shape))
    grad_out = grad_out4(grad_out, geo.y_shape, x.dtype, "x")
    if get_backend() == "reference":
        return reference.conv2d_backward_weight(x, grad_out, geo.w_shape, **geo.args())
    grad_w = np.zeros(geo.w_shape, dtype=x.dtype)
    if geo.N:
        _conv.conv2d_backward_weight(x, grad_out, grad_w, *geo.ints(),
                                     threads_for("conv", geo.work()))
    return grad_w


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

@_names_memory_errors
def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Max pooling; padding acts as -inf. Ties go to the first maximum in row-major window
    order, and a NaN in the window wins (it propagates), as in PyTorch.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    kernel_size, stride, padding : int or (int, int); stride defaults to kernel_size

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW)
    indices : ndarray of int64, shape (N, C, OH, OW): flat index ``h * W + w`` of each maximum
        in its (unpadded) input plane, as ``torch.nn.functional.max_pool2d(return_indices=True)``
    """
    x = array4(x, "x")
    geo = PoolGeometry(x.shape, kernel_size, stride, padding)
    if get_backend() == "reference":
        return reference.max_pool2d_forward(x, **geo.args())
    y = buffers.empty(geo.y_shape, x.dtype)
    indices = buffers.empty(geo.y_shape, np.int64)
    if y.size:
        _pool.max_pool2d_forward(x, y, indices, *geo.ints(), threads_for("pool", geo.work()))
    return y, indices


@_names_memory_errors
def max_pool2d_backward(grad_out, indices, x_shape):
    """Gradient of max pooling: each ``grad_out`` element is added to the input position that
    won its window (windows may overlap, so a position can receive several).

    Parameters
    ----------
    grad_out : ndarray, shape (N, C, OH, OW)
    indices : ndarray of int64, same shape, values in [0, H*W), from ``max_pool2d_forward``
    x_shape : (N, C, H, W)

    Returns
    -------
    grad_x : ndarray, shape x_shape
    """
    grad_out = array4(grad_out, "grad_out")
    N, C, H, W = shape4(x_shape, "x_shape")
    if not isinstance(indices, np.ndarray) or indices.dtype.kind not in "iu":
        raise TypeError("indices must be an integer numpy.ndarray (as returned by "
                        "max_pool2d_forward)")
    if indices.shape != grad_out.shape:
        raise ValueError(f"indices must have the shape of grad_out {grad_out.shape}, "
                         f"got {indices.shape}")
    if grad_out.shape[:2] != (N, C):
        raise ValueError(f"grad_out has (N, C) = {grad_out.shape[:2]} but x_shape has {(N, C)}")
    if indices.size and (indices.min() < 0 or indices.max() >= H * W):
        # The kernel scatters through these indices without bounds checks.
        raise ValueError(f"indices must lie in [0, H*W) = [0, {H * W}) for x_shape {x_shape}")
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    if get_backend() == "reference":
        return reference.max_pool2d_backward(grad_out, indices, (N, C, H, W))
    if not grad_out.size:
        return np.zeros((N, C, H, W), dtype=grad_out.dtype)
    grad_x = buffers.empty((N, C, H, W), grad_out.dtype)  # the kernel zeroes it, plane by plane
    _pool.max_pool2d_backward(grad_out, indices, grad_x,
                              threads_for("pool", grad_out.size + grad_x.size))
    return grad_x


@_names_memory_errors
def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Average pooling. With ``count_include_pad`` (the default, as PyTorch) padded zeros count
    in the divisor, which is then always KH*KW.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size, stride, padding : int or (int, int); stride defaults to kernel_size
    count_include_pad : bool

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW)
    """
    x = array4(x, "x")
    geo = PoolGeometry(x.shape, kernel_size, stride, padding)
    include = check_bool(count_include_pad, "count_include_pad")
    if get_backend() == "reference":
        return reference.avg_pool2d_forward(x, **geo.args(), count_include_pad=include)
    y = buffers.empty(geo.y_shape, x.dtype)
    if y.size:
        _pool.avg_pool2d_forward(x, y, *geo.ints(), include, threads_for("pool", geo.work()))
    return y


@_names_memory_errors
def avg_pool2d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0,
                        count_include_pad=True):
    """Gradient of average pooling: each ``grad_out`` element is spread evenly (divided by the
    same divisor as in forward) over its window.

    Parameters
    ----------
    grad_out : ndarray, shape (N, C, OH, OW)
    x_shape : (N, C, H, W)
    kernel_size, stride, padding, count_include_pad : as in ``avg_pool2d_forward``

    Returns
    -------
    grad_x : ndarray, shape x_shape
    """
    grad_out = array4(grad_out, "grad_out")
    geo = PoolGeometry(shape4(x_shape, "x_shape"), kernel_size, stride, padding)
    grad_out = grad_out4(grad_out, geo.y_shape, grad_out.dtype, "grad_out")
    include = check_bool(count_include_pad, "count_include_pad")
    if get_backend() == "reference":
        return reference.avg_pool2d_backward(grad_out, geo.x_shape, **geo.args(),
                                             count_include_pad=include)
    if not grad_out.size:
        return np.zeros(geo.x_shape, dtype=grad_out.dtype)
    grad_x = buffers.empty(geo.x_shape, grad_out.dtype)  # the kernel zeroes it, plane by plane
    _pool.avg_pool2d_backward(grad_out, grad_x, *geo.ints(), include,
                              threads_for("pool", geo.work()))
    return grad_x


# ---------------------------------------------------------------------------------------------
# Element-wise: ReLU and the conv bias
# ---------------------------------------------------------------------------------------------

def _float_array(a, name, dtype=None, like=None):
    """``a`` as a C-contiguous float32/float64 ndarray (of ``dtype`` if given)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but {like} has {dtype}")
    # Not np.ascontiguousarray alone: it turns a 0-d array into shape (1,).
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


@_names_memory_errors
def relu_forward(x):
    """``max(x, 0)`` elementwise, NaN propagating (as ``torch.relu``), and the mask ``x > 0``.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64

    Returns
    -------
    y : ndarray, x's shape and dtype
    mask : ndarray of bool, x's shape: where x > 0 (what ``relu_backward`` takes)
    """
    x = _float_array(x, "x")
    if get_backend() == "reference":
        return reference.relu_forward(x)
    y = buffers.empty(x.shape, x.dtype)
    mask = buffers.empty(x.shape, np.bool_)
    if y.size:
        _elementwise.relu_forward(x.reshape(-1), y.reshape(-1), mask.reshape(-1).view(np.uint8),
                                  threads_for("elementwise", x.size))
    return y, mask


@_names_memory_errors
def relu_backward(grad_out, mask):
    """Gradient of ``relu_forward``: ``grad_out * mask``, mask = (x > 0) from the forward.

    Parameters
    ----------
    grad_out : ndarray, any shape, float32 or float64
    mask : ndarray of bool, grad_out's shape

    Returns
    -------
    grad_x : ndarray, grad_out's shape and dtype
    """
    grad_out = _float_array(grad_out, "grad_out")
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise TypeError(f"mask must be a bool numpy.ndarray (as relu_forward returns), got "
                        f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if grad_out.shape != mask.shape:
        raise ValueError(f"grad_out must have mask's shape {mask.shape}, got {grad_out.shape}")
    if get_backend() == "reference":
        return reference.relu_backward(grad_out, mask)
    mask = mask if mask.flags.c_contiguous else np.ascontiguousarray(mask)
    grad_x = buffers.empty(mask.shape, grad_out.dtype)
    if mask.size:
        _elementwise.relu_backward(grad_out.reshape(-1), mask.reshape(-1).view(np.uint8),
                                   grad_x.reshape(-1), threads_for("elementwise", mask.size))
    return grad_x


@_names_memory_errors
def bias_add(y, b):
    """``y + b`` with ``b`` broadcast over channels: ``y[n, o, ...] + b[o]`` (the conv bias).

    The fast backend adds in place when ``y`` is a writable C-contiguous array (the conv
    output it is made for) and returns it; the reference twin returns a new array.

    Parameters
    ----------
    y : ndarray, shape (N, O, ...), float32 or float64
    b : ndarray, shape (O,), same dtype

    Returns
    -------
    ndarray, y's shape
    """
    y = _float_array(y, "y")
    b = _float_array(b, "b", y.dtype, "y")
    if y.ndim < 2 or b.shape != (y.shape[1],):
        raise ValueError(f"b must have shape (O,) = ({y.shape[1] if y.ndim > 1 else '?'},) "
                         f"for y of shape {y.shape}, got {b.shape}")
    if get_backend() == "reference":
        return reference.bias_add(y, b)
    if not y.flags.writeable:
        y = y.copy()
    if y.size:
        _elementwise.bias_add(y.reshape(y.shape[0], y.shape[1], -1), b,
                              threads_for("elementwise", y.size))
    return y


# ---------------------------------------------------------------------------------------------
# Batch normalisation
# ---------------------------------------------------------------------------------------------

def _channels3(a, name, dtype=None, like=None):
    """``a`` (N, C, *) as a C-contiguous float array and its (N, C, S) view."""
    a = _float_array(a, name, dtype, like)
    if a.ndim < 2:
        raise ValueError(f"{name} must have shape (N, C, *), got {a.shape}")
    return a, a.reshape(a.shape[0], a.shape[1], int(np.prod(a.shape[2:], dtype=np.int64)))


def _channel_vector(v, name, C, dtype):
    """A per-channel vector (C,) as a contiguous array of ``dtype``."""
    if not isinstance(v, np.ndarray) or v.shape != (C,) or v.dtype.kind != "f":
        raise ValueError(f"{name} must be a float numpy.ndarray of shape ({C},), got "
                         f"{getattr(v, 'shape', type(v).__name__)}")
    return np.ascontiguousarray(v, dtype=dtype)


@_names_memory_errors
def batch_norm_stats(x):
    """Per-channel mean and biased variance of ``x`` (N, C, *), as float64 arrays (C,).

    Each channel's sums run on one thread in a fixed order (in float64), so the result does not
    depend on the thread count.
    """
    x, x3 = _channels3(x, "x")
    if get_backend() == "reference":
        return reference.batch_norm_stats(x)
    C = x.shape[1]
    mean, var = np.empty(C), np.empty(C)
    if x3.shape[0] * x3.shape[2] == 0:
        mean.fill(np.nan)
        var.fill(np.nan)
    elif C:
        _norm.batch_norm_stats(x3, mean, var, threads_for("elementwise", x.size))
    return mean, var


@_names_memory_errors
def channel_affine(x, alpha, beta):
    """``x[:, c] * alpha[c] + beta[c]`` for x (N, C, *): batch norm's normalise-and-scale.

    ``alpha`` and ``beta`` are (C,) vectors, cast to x's dtype. Returns a new array.
    """
    x, x3 = _channels3(x, "x")
    alpha = _channel_vector(alpha, "alpha", x.shape[1], x.dtype)
    beta = _channel_vector(beta, "beta", x.shape[1], x.dtype)
    if get_backend() == "reference":
        return reference.channel_affine(x, alpha, beta)
    y = np.empty_like(x)
    if y.size:
        _norm.channel_affine(x3, alpha, beta, y.reshape(x3.shape),
                             threads_for("elementwise", x.size))
    return y


@_names_memory_errors
def batch_norm_backward(grad_out, x, mean, rstd, weight=None, training=True):
    """Gradients of batch norm's ``y = (x - mean) * rstd * weight + bias`` (per channel).

    Parameters
    ----------
    grad_out, x : ndarray (N, C, *), same dtype
    mean, rstd : float64 ndarray (C,): the statistics the forward normalised with (the batch's
        when ``training``, the running ones otherwise), rstd = 1 / sqrt(var + eps)
    weight : ndarray (C,) or None (1)
    training : bool: the statistics came from x (so they carry gradient to it)

    Returns
    -------
    grad_x : x's shape and dtype; grad_weight, grad_bias : (C,), x's dtype
    """
    x, x3 = _channels3(x, "x")
    grad_out, g3 = _channels3(grad_out, "grad_out", x.dtype, "x")
    if grad_out.shape != x.shape:
        raise ValueError(f"grad_out must have x's shape {x.shape}, got {grad_out.shape}")
    C = x.shape[1]
    mean = _channel_vector(mean, "mean", C, np.float64)
    rstd = _channel_vector(rstd, "rstd", C, np.float64)
    if weight is not None:
        weight = _channel_vector(weight, "weight", C, np.float64)
    training = check_bool(training, "training")
    if get_backend() == "reference" or not x.size:
        return reference.batch_norm_backward(grad_out, x, mean, rstd, weight, training)
    threads = threads_for("elementwise", x.size)
    sum_dy, sum_dy_xmu = np.empty(C), np.empty(C)
    _norm.batch_norm_backward_reduce(g3, x3, mean, sum_dy, sum_dy_xmu, threads)
    k = rstd if weight is None else weight * rstd
    M = x3.shape[0] * x3.shape[2]
    grad_x = np.empty_like(x)
    if training:
        a, b = sum_dy / M, rstd * rstd * sum_dy_xmu / M
    else:
        a = b = np.zeros(C)
    coef = [v.astype(x.dtype) for v in (mean, k, a, b)]
    _norm.batch_norm_backward_apply(g3, x3, *coef, grad_x.reshape(x3.shape), threads)
    return grad_x, (sum_dy_xmu * rstd).astype(x.dtype), sum_dy.astype(x.dtype)
