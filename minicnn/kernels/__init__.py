"""The backend seam: validate arguments, cast arrays, allocate outputs, dispatch to a kernel.

Kernels take NumPy arrays (NCHW, float32 or float64) and return NumPy arrays; they never see a
``Tensor``. Two backends implement every kernel with the same names and signatures:

* ``"fast"`` - the OpenMP-parallel Cython kernels in ``_conv.pyx`` and ``_pool.pyx``;
* ``"reference"`` - the readable NumPy twins in ``reference.py``.

The compiled kernels run with bounds checks off, so *everything* is checked here first: a bad
argument raises ``TypeError``/``ValueError`` naming it, before any kernel runs.

>>> import numpy as np, minicnn.kernels as K
>>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
>>> K.conv2d_forward(x, w).shape
(1, 1, 2, 2)
>>> with K.backend("reference"):
...     float(K.conv2d_forward(x, w, padding=1)[0, 0, 0, 0])
4.0
"""
import contextlib
import functools
import inspect
import math
import numbers
import operator
import os
import threading

import numpy as np

from minicnn.kernels import reference

# GNU OpenMP's idle threads spin 300,000 times before they sleep. minicnn runs short parallel
# regions back to back, and on a machine where another process keeps a core busy those spinning
# threads steal the time slices the working ones need: a digits epoch on 2 threads took 16x
# longer next to one busy-loop process with the default, and 1.3x longer with 3,000 spins
# (which cost 6% on an idle machine). libgomp reads the variable once, when it loads with the
# kernels just below; it is set only for that moment, so child processes and later libraries
# see your environment unchanged, and a choice of yours (GOMP_SPINCOUNT or OMP_WAIT_POLICY) is
# kept. (If another library loaded libgomp before minicnn, its setting stands.) docs/building.md.
OPENMP_SPINCOUNT = None   # what minicnn set for libgomp, or None if it left the default/yours
_set_spincount = "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
if _set_spincount:
    os.environ["GOMP_SPINCOUNT"] = OPENMP_SPINCOUNT = "3000"
try:
    from minicnn.kernels import _conv, _openmp, _pool
except ImportError as exc:  # pragma: no cover - only when the package was not built
    raise ImportError(
        "minicnn's compiled kernels are not built in this tree. From the repository root run "
        "`pip install -e .` (builds them in place), or `pip install .` to install the package; "
        "see docs/building.md."
    ) from exc
finally:
    if _set_spincount:
        del os.environ["GOMP_SPINCOUNT"]

__all__ = [
    "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "use", "backend", "get_backend", "BACKENDS",
    "set_num_threads", "get_num_threads", "openmp_enabled", "compile_flags",
]

BACKENDS = ("fast", "reference")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# The compiled kernels take geometry arguments and thread counts as C ints and hand sizes to
# 32-bit BLAS: anything larger is refused here, by name, instead of overflowing in a conversion.
INT_MAX = 2 ** 31 - 1
_MAX_ELEMENTS = np.iinfo(np.intp).max // 8  # float64 elements whose byte count fits in intp

# ---------------------------------------------------------------------------------------------
# Run-time configuration: backend and thread count.
# ---------------------------------------------------------------------------------------------

_state = threading.local()
_default_backend = "fast"


def get_backend():
    """Name of the backend the kernels dispatch to in this thread: ``"fast"`` or ``"reference"``."""
    return getattr(_state, "backend", _default_backend)


def use(name):
    """Select the kernel backend for this thread: ``"fast"`` (Cython/OpenMP) or ``"reference"``."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    _state.backend = name


@contextlib.contextmanager
def backend(name):
    """Context manager: run the kernels inside the ``with`` block on backend ``name``."""
    previous = get_backend()
    use(name)
    try:
        yield
    finally:
        _state.backend = previous


def openmp_enabled():
    """True if the compiled kernels were built with OpenMP (read from the extension itself)."""
    return _openmp.openmp_enabled()


def compile_flags():
    """The compiler/linker flags the kernels were built with."""
    return _openmp.compile_flags()


def _default_num_threads():
    if not openmp_enabled():
        return 1
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))  # respects taskset / cgroup cpusets
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_num_threads = _default_num_threads()


def set_num_threads(n):
    """Set how many OpenMP threads the kernels use (``n >= 1``). Without OpenMP it stays 1.

    Results do not depend on this number: every kernel is bit-identical for any thread count.
    """
    global _num_threads
    n = _as_int(n, "n")
    if not 1 <= n <= INT_MAX:
        raise ValueError(f"n (number of threads) must be >= 1 and <= {INT_MAX}, got {n}")
    _num_threads = n if openmp_enabled() else 1


def get_num_threads():
    """Number of OpenMP threads the kernels use (1 if minicnn was built without OpenMP)."""
    return _num_threads


# Below this much work per thread, an extra OpenMP thread costs more than it saves: waking one
# takes microseconds on an idle machine and up to a scheduler time slice on a busy one, while a
# small layer's whole call takes microseconds. Results are bit-identical for any thread count,
# so this changes speed only. Units: multiply-adds x 2 for conv, window reads for pooling.
MIN_WORK_PER_THREAD = {"conv": 2_000_000, "pool": 65_536}


def _threads_for(kind, work):
    """How many of the ``get_num_threads()`` threads a call with ``work`` units gets."""
    return int(max(1, min(_num_threads, work // max(1, MIN_WORK_PER_THREAD[kind]))))


def _impl():
    return reference if get_backend() == "reference" else None


# ---------------------------------------------------------------------------------------------
# Argument checking. Every public kernel goes through these before touching a compiled loop.
# ---------------------------------------------------------------------------------------------

def _as_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    return operator.index(value)


def _pair(value, name):
    """An int or a pair of ints -> a tuple of two Python ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return (_as_int(value[0], name), _as_int(value[1], name))
    v = _as_int(value, name)
    return (v, v)


def _positive_pair(value, name):
    p = _pair(value, name)
    if min(p) < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    _check_int_max(p, value, name)
    return p


def _nonnegative_pair(value, name):
    p = _pair(value, name)
    if min(p) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    _check_int_max(p, value, name)
    return p


def _check_int_max(ints, value, name):
    if max(ints) > INT_MAX:
        raise ValueError(f"{name} must be <= 2**31 - 1 = {INT_MAX} (the kernels take C ints), "
                         f"got {value!r}")


def _shape4(value, name):
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        raise ValueError(f"{name} must be a 4-tuple (N, C, H, W)-like shape, got {value!r}")
    shape = tuple(_as_int(v, f"{name}[{i}]") for i, v in enumerate(value))
    if min(shape) < 0:
        raise ValueError(f"{name} must not have negative sizes, got {value!r}")
    if math.prod(shape) > _MAX_ELEMENTS:
        # np.empty would raise a bare "array is too big" (or a MemoryError) later on.
        raise ValueError(f"{name} {value!r} describes an array too large to allocate "
                         f"({math.prod(shape)} elements)")
    return shape


def _array4(a, name, dtype=None, other=None):
    """Check ``a`` is a 4-D float32/float64 array (of ``dtype`` if given); return it C-contiguous."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but {other} has {dtype}; "
                        f"cast one of them so they match")
    if a.ndim != 4:
        raise ValueError(f"{name} must be 4-D, got {a.ndim}-D array of shape {a.shape}")
    # Copies non-contiguous, Fortran-ordered and negative-stride views; read-only arrays are fine
    # (the kernels take const memoryviews).
    return np.ascontiguousarray(a)


def _out_size(size, pad, dilation, kernel, stride):
    """PyTorch's output size: floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


class ConvGeometry:
    """Validated sizes of one conv2d call (all plain ints), shared by its three kernels."""

    __slots__ = ("N", "C", "H", "W", "O", "KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW",
                 "G", "OH", "OW")

    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        self.N, self.C, self.H, self.W = x_shape
        self.O, CG, self.KH, self.KW = w_shape
        self.SH, self.SW = _positive_pair(stride, "stride")
        self.PH, self.PW = _nonnegative_pair(padding, "padding")
        self.DH, self.DW = _positive_pair(dilation, "dilation")
        self.G = _as_int(groups, "groups")
        if self.G < 1:
            raise ValueError(f"groups must be >= 1, got {groups}")
        _check_int_max((self.G,), groups, "groups")
        for name, size in (("x channels (C)", self.C), ("x height (H)", self.H),
                           ("x width (W)", self.W), ("w out channels (O)", self.O),
                           ("w in channels per group", CG), ("w height (KH)", self.KH),
                           ("w width (KW)", self.KW)):
            if size < 1:
                raise ValueError(f"{name} must be >= 1, got {size}")
        if self.C % self.G:
            raise ValueError(f"groups={self.G} must divide the input channels C={self.C}")
        if self.O % self.G:
            raise ValueError(f"groups={self.G} must divide the output channels O={self.O}")
        if CG != self.C // self.G:
            raise ValueError(f"w has {CG} input channels per group, expected C/groups = "
                             f"{self.C}/{self.G} = {self.C // self.G} (w shape {tuple(w_shape)})")
        for axis, size, pad, dil, k in (("height", self.H, self.PH, self.DH, self.KH),
                                        ("width", self.W, self.PW, self.DW, self.KW)):
            if dil * (k - 1) + 1 > size + 2 * pad:
                raise ValueError(
                    f"kernel {axis} {k} (dilated to {dil * (k - 1) + 1}) is larger than the "
                    f"padded input {axis} {size} + 2*{pad} = {size + 2 * pad}")
        self.OH = _out_size(self.H, self.PH, self.DH, self.KH, self.SH)
        self.OW = _out_size(self.W, self.PW, self.DW, self.KW, self.SW)
        # The kernels lower one padded sample and one output plane at a time and hand their
        # sizes to 32-bit BLAS; refuse, naming the cause, what they could not index.
        padded = self.C * (self.H + 2 * self.PH) * (self.W + 2 * self.PW)
        if padded > INT_MAX:
            raise ValueError(
                f"one padded input sample C*(H+2*PH)*(W+2*PW) = {self.C}*{self.H + 2 * self.PH}"
                f"*{self.W + 2 * self.PW} = {padded} numbers exceeds 2**31 - 1 (input shape "
                f"{tuple(x_shape)}, padding {padding!r})")
        if self.OH * self.OW > INT_MAX:
            raise ValueError(f"the output plane OH*OW = {self.OH}*{self.OW} exceeds 2**31 - 1 "
                             f"numbers (stride {stride!r}, padding {padding!r})")
        if self.O * self.C // self.G * self.KH * self.KW > INT_MAX:
            raise ValueError(f"w of shape {self.w_shape} has more than 2**31 - 1 numbers")

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self):
        return (self.O, self.C // self.G, self.KH, self.KW)

    @property
    def y_shape(self):
        return (self.N, self.O, self.OH, self.OW)

    def args(self):
        """The keyword arguments of the reference kernels, as plain pairs."""
        return dict(stride=(self.SH, self.SW), padding=(self.PH, self.PW),
                    dilation=(self.DH, self.DW), groups=self.G)

    def threads(self):
        """Threads for one of this conv's kernels: all three cost 2*N*O*OH*OW*(C/G)*KH*KW."""
        flops = 2 * self.N * self.O * self.OH * self.OW * (self.C // self.G) * self.KH * self.KW
        return _threads_for("conv", flops)

    def ints(self):
        """SH, SW, PH, PW, DH, DW, G: the geometry arguments of the compiled kernels."""
        return (self.SH, self.SW, self.PH, self.PW, self.DH, self.DW, self.G)


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


def _check_grad_out(grad_out, expected, dtype, other):
    grad_out = _array4(grad_out, "grad_out", dtype, other)
    if grad_out.shape != tuple(expected):
        raise ValueError(f"grad_out must have shape {tuple(expected)}, got {grad_out.shape}")
    return grad_out


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------

@_names_memory_errors
def conv2d_forward(x, w, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` without bias.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    w : ndarray, shape (O, C/G, KH, KW), same dtype as ``x``
    stride, padding, dilation : int or (int, int)
    groups : int, divides C and O

    Returns
    -------
    y : ndarray, shape (N, O, OH, OW), with OH = floor((H + 2PH - DH(KH-1) - 1)/SH) + 1
    """
    x = _array4(x, "x")
    w = _array4(w, "w", x.dtype, "x")
    geo = ConvGeometry(x.shape, w.shape, stride, padding, dilation, groups)
    if _impl() is not None:
        return reference.conv2d_forward(x, w, **geo.args())
    y = np.empty(geo.y_shape, dtype=x.dtype)
    if y.size:
        _conv.conv2d_forward(x, w, y, *geo.ints(), geo.threads())
    return y


@_names_memory_errors
def conv2d_backward_input(grad_out, w, x_shape, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of ``conv2d_forward`` with respect to ``x`` (a transposed convolution).

    Parameters
    ----------
    grad_out : ndarray, shape (N, O, OH, OW)
    w : ndarray, shape (O, C/G, KH, KW), same dtype
    x_shape : (N, C, H, W) of the forward input

    Returns
    -------
    grad_x : ndarray, shape x_shape
    """
    grad_out = _array4(grad_out, "grad_out")
    w = _array4(w, "w", grad_out.dtype, "grad_out")
    geo = ConvGeometry(_shape4(x_shape, "x_shape"), w.shape, stride, padding, dilation, groups)
    grad_out = _check_grad_out(grad_out, geo.y_shape, w.dtype, "w")
    if _impl() is not None:
        return reference.conv2d_backward_input(grad_out, w, geo.x_shape, **geo.args())
    grad_x = np.empty(geo.x_shape, dtype=w.dtype)
    if grad_x.size:
        _conv.conv2d_backward_input(grad_out, w, grad_x, *geo.ints(), geo.threads())
    return grad_x


@_names_memory_errors
def conv2d_backward_weight(x, grad_out, w_shape, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of ``conv2d_forward`` with respect to ``w``, summed over the batch.

    The batch sum is deterministic: bit-identical for any thread count.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    grad_out : ndarray, shape (N, O, OH, OW), same dtype
    w_shape : (O, C/G, KH, KW)

    Returns
    -------
    grad_w : ndarray, shape w_shape
    """
    x = _array4(x, "x")
    geo = ConvGeometry(x.shape, _shape4(w_shape, "w_shape"), stride, padding, dilation, groups)
    grad_out = _check_grad_out(grad_out, geo.y_shape, x.dtype, "x")
    if _impl() is not None:
        return reference.conv2d_backward_weight(x, grad_out, geo.w_shape, **geo.args())
    grad_w = np.zeros(geo.w_shape, dtype=x.dtype)
    if geo.N:
        _conv.conv2d_backward_weight(x, grad_out, grad_w, *geo.ints(), geo.threads())
    return grad_w


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

class PoolGeometry:
    """Validated sizes of one pooling call (plain ints)."""

    __slots__ = ("N", "C", "H", "W", "KH", "KW", "SH", "SW", "PH", "PW", "OH", "OW")

    def __init__(self, x_shape, kernel_size, stride, padding):
        self.N, self.C, self.H, self.W = x_shape
        self.KH, self.KW = _positive_pair(kernel_size, "kernel_size")
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
            stride = (self.KH, self.KW)
        self.SH, self.SW = _positive_pair(stride, "stride")
        self.PH, self.PW = _nonnegative_pair(padding, "padding")
        if self.PH > self.KH // 2 or self.PW > self.KW // 2:
            raise ValueError(f"padding {padding!r} must be at most half the kernel size "
                             f"({self.KH}, {self.KW}), i.e. <= ({self.KH // 2}, {self.KW // 2})")
        for name, size in (("x channels (C)", self.C), ("x height (H)", self.H),
                           ("x width (W)", self.W)):
            if size < 1:
                raise ValueError(f"{name} must be >= 1, got {size}")
        for axis, size, pad, k in (("height", self.H, self.PH, self.KH),
                                   ("width", self.W, self.PW, self.KW)):
            if k > size + 2 * pad:
                raise ValueError(f"kernel_size {axis} {k} is larger than the padded input "
                                 f"{axis} {size} + 2*{pad} = {size + 2 * pad}")
        self.OH = _out_size(self.H, self.PH, 1, self.KH, self.SH)
        self.OW = _out_size(self.W, self.PW, 1, self.KW, self.SW)

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def y_shape(self):
        return (self.N, self.C, self.OH, self.OW)

    def args(self):
        """The keyword arguments of the reference kernels, as plain pairs."""
        return dict(kernel_size=(self.KH, self.KW), stride=(self.SH, self.SW),
                    padding=(self.PH, self.PW))

    def ints(self):
        """KH, KW, SH, SW, PH, PW: the geometry arguments of the compiled kernels."""
        return (self.KH, self.KW, self.SH, self.SW, self.PH, self.PW)

    def threads(self):
        """Threads for one of this pooling's kernels: N*C*OH*OW windows of KH*KW reads."""
        return _threads_for("pool", self.N * self.C * self.OH * self.OW * self.KH * self.KW)


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
    x = _array4(x, "x")
    geo = PoolGeometry(x.shape, kernel_size, stride, padding)
    if _impl() is not None:
        return reference.max_pool2d_forward(x, **geo.args())
    y = np.empty(geo.y_shape, dtype=x.dtype)
    indices = np.empty(geo.y_shape, dtype=np.int64)
    if y.size:
        _pool.max_pool2d_forward(x, y, indices, *geo.ints(), geo.threads())
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
    grad_out = _array4(grad_out, "grad_out")
    N, C, H, W = _shape4(x_shape, "x_shape")
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
    if _impl() is not None:
        return reference.max_pool2d_backward(grad_out, indices, (N, C, H, W))
    grad_x = np.zeros((N, C, H, W), dtype=grad_out.dtype)
    if grad_out.size:
        _pool.max_pool2d_backward(grad_out, indices, grad_x,
                                  _threads_for("pool", grad_out.size + grad_x.size))
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
    x = _array4(x, "x")
    geo = PoolGeometry(x.shape, kernel_size, stride, padding)
    include = _check_bool(count_include_pad, "count_include_pad")
    if _impl() is not None:
        return reference.avg_pool2d_forward(x, **geo.args(), count_include_pad=include)
    y = np.empty(geo.y_shape, dtype=x.dtype)
    if y.size:
        _pool.avg_pool2d_forward(x, y, *geo.ints(), include, geo.threads())
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
    grad_out = _array4(grad_out, "grad_out")
    geo = PoolGeometry(_shape4(x_shape, "x_shape"), kernel_size, stride, padding)
    grad_out = _check_grad_out(grad_out, geo.y_shape, grad_out.dtype, "grad_out")
    include = _check_bool(count_include_pad, "count_include_pad")
    if _impl() is not None:
        return reference.avg_pool2d_backward(grad_out, geo.x_shape, **geo.args(),
                                             count_include_pad=include)
    grad_x = np.zeros(geo.x_shape, dtype=grad_out.dtype)
    if grad_out.size:
        _pool.avg_pool2d_backward(grad_out, grad_x, *geo.ints(), include, geo.threads())
    return grad_x


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)
