"""``python -m minicnn bench``: time the conv kernels and a LeNet step against NumPy and PyTorch.

What is measured, all float32, all in one process so every framework sees the same machine state:

* the six conv layers of docs/performance.md, forward (``conv2d_forward``) and forward+backward
  (``conv2d_forward`` + ``conv2d_backward_input`` + ``conv2d_backward_weight``), at each thread
  count, for minicnn, a NumPy im2col+matmul baseline and PyTorch (when ``import torch`` works);
* the practical float32 peak: a 2048x2048 ``scipy.linalg.blas.sgemm`` at each thread count;
* a LeNet training step (forward, backward, SGD step) for minicnn and PyTorch.

Every figure is the median over ``--repeats`` timed calls (at least ``--min-time`` seconds in
all), after ``--warmup`` untimed calls. GFLOP/s use FLOPs = 2*N*O*OH*OW*C*KH*KW for forward and 3x
that for forward+backward. A speed ratio "minicnn/X" is X's time divided by minicnn's time, so
above 1 means minicnn is faster.

``--per-kernel`` adds ``conv2d_backward_input`` and ``conv2d_backward_weight`` timed alone.

Allocator state: glibc returns big blocks to the kernel on ``free`` and faults fresh pages in on
the next ``malloc``, which for small layers costs more than the arithmetic. A training loop is a
long-running process that reuses its memory, so the benchmark raises ``M_MMAP_THRESHOLD`` (and
``M_TRIM_THRESHOLD``) with ``mallopt`` once, for all frameworks alike (``--no-mallopt`` to see the
difference; every figure records its page faults per call).

Noise: on a shared machine another process can take a core mid-measurement. Every figure records
how much of its cores other processes used (``disturbance``, from /proc/stat); a disturbed
figure is measured again (``--retries``) and one still disturbed is marked ``*`` in the tables.
"""
import contextlib
import ctypes
import datetime
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import minicnn
from minicnn import kernels

__all__ = ["Layer", "LAYERS", "conv_flops", "numpy_conv2d_forward", "numpy_conv2d_backward",
           "sgemm_peak", "raise_mmap_threshold", "time_calls", "bench_layer", "bench_lenet",
           "summarize", "geomean", "add_arguments", "main", "run"]

SCHEMA = "minicnn-bench/1"

Layer = namedtuple("Layer", "name N C H W O K S P")
Layer.__doc__ = """One benchmarked conv layer: x (N, C, H, W), w (O, C, K, K), stride S, padding P."""

# DESIGN.md's six layers: the two LeNet convs, three CIFAR-style convs, and a strided one.
LAYERS = [
    Layer("mnist_conv1", 64, 1, 28, 28, 16, 5, 1, 2),
    Layer("mnist_conv2", 64, 16, 14, 14, 32, 5, 1, 2),
    Layer("cifar_conv1", 64, 3, 32, 32, 32, 3, 1, 1),
    Layer("cifar_conv2", 64, 32, 16, 16, 64, 3, 1, 1),
    Layer("cifar_conv3", 64, 64, 8, 8, 128, 3, 1, 1),
    Layer("strided", 32, 16, 32, 32, 32, 3, 2, 1),
]
LAYER_NAMES = [layer.name for layer in LAYERS]

# A layer is "large" when its GEMM contraction C*KH*KW is deep enough (>= 256) for a GEMM-based
# kernel to approach sgemm peak; the few-channel layers are bound by memory traffic instead.
LARGE_CONTRACTION = 256

# The bars of issues 3 and 5 (targets; the summary says whether this run met them).
BAR_VS_TORCH = 0.5        # forward+backward geomean speed >= 0.5x PyTorch
BAR_VS_NUMPY = 2.0        # forward+backward geomean speed >= 2x the NumPy baseline
BAR_PEAK_FRACTION = 0.5   # every large layer's forward >= 50% of sgemm peak
BAR_LENET_SLOWDOWN = 2.0  # LeNet step time <= 2x PyTorch's

LENET_BATCH = 64
SGEMM_SIZE = 2048


# ---------------------------------------------------------------------------------------------
# Sizes and FLOPs
# ---------------------------------------------------------------------------------------------

def out_size(size, kernel, stride, padding, dilation=1):
    """PyTorch's output size: floor((H + 2P - D(K-1) - 1) / S) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_flops(layer):
    """Forward FLOPs of ``layer``: 2*N*O*OH*OW*C*KH*KW (a multiply and an add per MAC).

    Forward+backward counts 3x this: grad_x and grad_w are each one more contraction of the same
    size.
    """
    OH = out_size(layer.H, layer.K, layer.S, layer.P)
    OW = out_size(layer.W, layer.K, layer.S, layer.P)
    return 2 * layer.N * layer.O * OH * OW * layer.C * layer.K * layer.K


# ---------------------------------------------------------------------------------------------
# The NumPy baseline: im2col + one matmul, the way a careful NumPy user writes a conv layer.
# ---------------------------------------------------------------------------------------------

def _pairs(stride, padding, dilation):
    def pair(v):
        return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    return pair(stride), pair(padding), pair(dilation)


def numpy_conv2d_forward(x, w, stride=1, padding=0, dilation=1):
    """Convolution forward as im2col + one matmul (groups=1), in plain NumPy.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (O, C, KH, KW), same dtype
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, O, OH, OW), C-contiguous
    cols : ndarray, shape (C*KH*KW, N*OH*OW)
        The im2col matrix, kept for :func:`numpy_conv2d_backward` (as a NumPy layer keeps it
        between forward and backward, so backward does not redo the lowering).
    """
    (SH, SW), (PH, PW), (DH, DW) = _pairs(stride, padding, dilation)
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    OH, OW = out_size(H, KH, SH, PH, DH), out_size(W, KW, SW, PW, DW)
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW))) if (PH or PW) else x
    # A zero-copy view of every window: (N, C, OH, OW, KH, KW) after striding/dilating.
    win = sliding_window_view(xp, (DH * (KH - 1) + 1, DW * (KW - 1) + 1), axis=(2, 3))
    win = win[:, :, ::SH, ::SW, ::DH, ::DW]
    # The one copy: rows (c, kh, kw), columns (n, oh, ow); the inner axis ow stays unit-stride
    # in the source for stride 1, so the copy streams.
    cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, N * OH * OW)
    y = w.reshape(O, C * KH * KW) @ cols                        # (O, N*OH*OW), one BLAS call
    y = np.ascontiguousarray(y.reshape(O, N, OH, OW).transpose(1, 0, 2, 3))
    return y, cols


def numpy_conv2d_backward(grad_out, w, cols, x_shape, stride=1, padding=0, dilation=1):
    """Convolution backward from the forward's columns: two matmuls and a per-tap col2im.

    Parameters
    ----------
    grad_out : ndarray, shape (N, O, OH, OW)
    w : ndarray, shape (O, C, KH, KW)
    cols : ndarray, shape (C*KH*KW, N*OH*OW), from :func:`numpy_conv2d_forward`
    x_shape : (N, C, H, W)
    stride, padding, dilation : int or (int, int), as in forward

    Returns
    -------
    grad_x : ndarray, shape (N, C, H, W)
    grad_w : ndarray, shape (O, C, KH, KW)
    """
    (SH, SW), (PH, PW), (DH, DW) = _pairs(stride, padding, dilation)
    N, C, H, W = x_shape
    O, _, KH, KW = w.shape
    OH, OW = grad_out.shape[2:]
    go = grad_out.transpose(1, 0, 2, 3).reshape(O, N * OH * OW)   # (O, N*OH*OW), a copy
    grad_w = (go @ cols.T).reshape(w.shape)                       # grad_w = grad_out . cols^T
    dcols = w.reshape(O, C * KH * KW).T @ go                      # dcols = w^T . grad_out
    dcols = dcols.reshape(C, KH, KW, N, OH, OW)
    # col2im: KH*KW vectorised scatter-adds, each tap's windows are disjoint so `+=` is exact.
    # Accumulate in (C, N, ...) order so no tap needs a transposed read.
    gxp = np.zeros((C, N, H + 2 * PH, W + 2 * PW), dtype=grad_out.dtype)
    for kh in range(KH):
        for kw in range(KW):
            h0, w0 = kh * DH, kw * DW
            gxp[:, :, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW] += dcols[:, kh, kw]
    grad_x = np.ascontiguousarray(gxp[:, :, PH:PH + H, PW:PW + W].transpose(1, 0, 2, 3))
    return grad_x, grad_w


# ---------------------------------------------------------------------------------------------
# Process and machine set-up
# ---------------------------------------------------------------------------------------------

def raise_mmap_threshold(nbytes=32 * 1024 * 1024):
    """Make glibc keep freed blocks up to ``nbytes`` in the heap instead of unmapping them.

    Without this, every fresh output array larger than the (dynamic) mmap threshold is a new
    ``mmap`` whose pages fault in on first write - a cost a long-running training process does not
    pay. Applies to the whole process, so to every framework in it.

    Returns
    -------
    dict
        ``{"applied": bool, "mmap_threshold": int or None, "trim_threshold": int or None,
        "detail": str}``.
    """
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # from <malloc.h>
    result = {"applied": False, "mmap_threshold": None, "trim_threshold": None, "detail": ""}
    if not sys.platform.startswith("linux"):
        result["detail"] = f"not glibc ({sys.platform}); allocator left as is"
        return result
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError) as exc:
        result["detail"] = f"mallopt unavailable: {exc}"
        return result
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # glibc caps M_MMAP_THRESHOLD (32 MiB on 64-bit); halve until it is accepted.
    size = nbytes
    while size >= 1024 * 1024 and not mallopt(M_MMAP_THRESHOLD, size):
        size //= 2
    if size < 1024 * 1024:
        result["detail"] = "mallopt(M_MMAP_THRESHOLD) refused every size"
        return result
    # Also keep freed memory at the top of the heap, or glibc trims it and pages fault again.
    trim = 1 << 30
    result.update(applied=True, mmap_threshold=size,
                  trim_threshold=trim if mallopt(M_TRIM_THRESHOLD, trim) else None,
                  detail="glibc mallopt")
    return result


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in ("sse2", "avx", "fma", "avx2", "avx512f") if f in flags]
    except OSError:
        pass
    return []


def _loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):  # pragma: no cover - not on Unix
        return None


def available_cores():
    """Cores this process may run on (respects taskset and cgroup cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS so threadpoolctl lists it)
    return [{k: lib.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                      "architecture", "filepath")}
            for lib in threadpool_info() if lib.get("user_api") in ("blas", "openmp")]


def machine_info(torch):
    """CPU, cores, library versions and build facts, for the JSON report."""
    import scipy

    info = {
        "cpu_model": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cpu_count": os.cpu_count(),
        "available_cores": available_cores(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "minicnn": minicnn.__version__,
        "minicnn_openmp": kernels.openmp_enabled(),
        "minicnn_compile_flags": kernels.compile_flags(),
        "torch": getattr(torch, "__version__", None),
        "blas": _blas_info(),
        "loadavg_start": _loadavg(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                                           "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                if k in os.environ},
    }
    if torch is not None:
        info["torch_mkldnn"] = bool(torch.backends.mkldnn.is_available())
    return info


def _import_torch():
    """torch, or (None, why not)."""
    try:
        import torch
    except Exception as exc:  # ImportError, or a broken install raising something else
        return None, f"import torch failed: {type(exc).__name__}: {exc}"
    return torch, ""


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

def time_calls(fn, repeats, min_time, warmup):
    """Call ``fn()`` ``warmup`` times untimed, then time calls until there are at least
    ``repeats`` of them and they took at least ``min_time`` seconds in all.

    The garbage collector is paused while timing so a collection does not land in one sample.

    Returns
    -------
    list of float
        Seconds per timed call.
    """
    for _ in range(warmup):
        fn()
    times = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        total = 0.0
        while len(times) < repeats or total < min_time:
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            times.append(dt)
            total += dt
    finally:
        if enabled:
            gc.enable()
    return times


def _cpu_busy_seconds():
    """CPU seconds spent busy (anything but idle/iowait) so far on the cores this process may
    use, by every process together, from /proc/stat; None where that is not available."""
    try:
        cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        total = 0
        with open("/proc/stat") as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] in cpus:
                    # user nice system idle iowait irq softirq steal ...
                    v = [int(x) for x in fields[1:9]]
                    total += v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError):
        return None


def _minor_faults():
    """Minor page faults of this process so far (fresh pages touched), or None off Unix."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _timed_block(fn, repeats, min_time, warmup, threads, max_disturbance=1.0, retries=0):
    """:func:`time_calls`, measured again while other processes took this block's cores.

    Two figures describe the block:

    * ``cpu_share``: this process's CPU seconds over (wall seconds x threads). Frameworks whose
      threads spin while they wait read about 1; one that leaves a core idle (NumPy's serial
      copies) reads less on its own, so this alone does not say whether someone else was there.
    * ``disturbance``: the fraction of the block's ``threads`` cores that *other* processes
      used (their CPU seconds on our cores, from /proc/stat, beyond the cores we leave free).
      Measured here: 0.00-0.02 on a quiet machine; a core taken by another job reads 0.5 on 2
      threads, and then a median can be 10x off, because every parallel region waits for the
      descheduled thread.

    A block with ``disturbance > max_disturbance`` is measured again, up to ``retries`` more
    times after a pause (0.5 s times the attempt number), and the least disturbed block is
    kept. Both figures are None for blocks under 0.1 s (CPU clocks advance in scheduler ticks).
    ``page_faults_per_call`` counts the fresh pages each call touched (the allocator's cost,
    see :func:`raise_mmap_threshold`).

    Returns
    -------
    times : list of float
        Seconds per timed call of the kept block.
    info : dict
        ``{"cpu_share", "disturbance", "attempts", "page_faults_per_call"}`` of the kept
        block.
    """
    free = max(0, available_cores() - threads)   # cores others may use without hurting us
    best = None
    for attempt in range(1, retries + 2):
        faults0 = _minor_faults()
        busy0, cpu0, wall0 = _cpu_busy_seconds(), time.process_time(), time.perf_counter()
        times = time_calls(fn, repeats, min_time, warmup)
        busy1, cpu1, wall1 = _cpu_busy_seconds(), time.process_time(), time.perf_counter()
        faults1 = _minor_faults()
        wall, cpu = wall1 - wall0, cpu1 - cpu0
        share = disturbance = None
        if wall >= 0.1:
            share = cpu / (wall * threads)
            if busy0 is not None and busy1 is not None:
                others = max(0.0, (busy1 - busy0 - cpu) / wall)   # cores, by other processes
                disturbance = min(1.0, max(0.0, others - free) / threads)
        faults = (None if faults0 is None or faults1 is None
                  else (faults1 - faults0) / (len(times) + warmup))
        info = {"cpu_share": share, "disturbance": disturbance, "attempts": attempt,
                "page_faults_per_call": faults}
        if best is None or (disturbance is not None and best[1]["disturbance"] is not None
                            and disturbance < best[1]["disturbance"]):
            best = (times, info)
        if disturbance is None or disturbance <= max_disturbance:
            break
        if attempt <= retries:
            time.sleep(0.5 * attempt)  # let a short burst of other work pass first
    best[1]["attempts"] = attempt
    return best


def _summary(times, flops=None):
    med = statistics.median(times)
    out = {"ms": med * 1e3, "min_ms": min(times) * 1e3,
           "times_ms": [round(t * 1e3, 5) for t in times]}
    if flops is not None:
        out["gflops"] = flops / med / 1e9
    return out


def _blas_limits(threads):
    """A context manager limiting NumPy's and scipy's BLAS pools to ``threads`` (or a no-op)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def sgemm_peak(threads, repeats=5, min_time=0.2, warmup=2, size=SGEMM_SIZE,
               max_disturbance=1.0, retries=0):
    """Practical float32 peak: a ``size``-square ``scipy.linalg.blas.sgemm`` on ``threads``.

    The operands are Fortran-ordered and C is written in place, so the call is pure BLAS (no
    copies, no allocation). ``max_disturbance`` and ``retries`` as in :func:`_timed_block`.

    Returns
    -------
    dict
        ``{"ms", "min_ms", "gflops", "times_ms", "size", "cpu_share", "disturbance",
        "attempts", "page_faults_per_call"}``.
    """
    from scipy.linalg.blas import sgemm

    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((size, size), dtype=np.float32))
    b = np.asfortranarray(rng.standard_normal((size, size), dtype=np.float32))
    c = np.zeros((size, size), dtype=np.float32, order="F")

    def call():
        sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=1)

    with _blas_limits(threads):
        times, info = _timed_block(call, repeats, min_time, warmup, threads,
                                   max_disturbance, retries)
    if not np.isfinite(c[0, 0]):  # the result is used: a broken BLAS would show here
        raise RuntimeError("sgemm produced a non-finite result")
    out = _summary(times, 2.0 * size ** 3)
    out.update(info, size=size)
    return out


# ---------------------------------------------------------------------------------------------
# The conv layers
# ---------------------------------------------------------------------------------------------

def _layer_inputs(layer, seed=0):
    """x, w and grad_out (float32, C-contiguous) shared by every framework for ``layer``."""
    rng = np.random.default_rng(seed)
    OH = out_size(layer.H, layer.K, layer.S, layer.P)
    OW = out_size(layer.W, layer.K, layer.S, layer.P)
    x = rng.standard_normal((layer.N, layer.C, layer.H, layer.W), dtype=np.float32)
    w = rng.standard_normal((layer.O, layer.C, layer.K, layer.K), dtype=np.float32)
    w *= np.float32(1.0 / math.sqrt(layer.C * layer.K * layer.K))
    g = rng.standard_normal((layer.N, layer.O, OH, OW), dtype=np.float32)
    return x, w, g


# FLOPs of each timed pass, in units of the forward's.
PASS_FLOPS = {"forward": 1, "forward_backward": 3, "backward_input": 1, "backward_weight": 1}


def _minicnn_calls(layer, x, w, g):
    s, p = layer.S, layer.P

    def forward():
        return kernels.conv2d_forward(x, w, stride=s, padding=p)

    def backward_input():
        return kernels.conv2d_backward_input(g, w, x.shape, stride=s, padding=p)

    def backward_weight():
        return kernels.conv2d_backward_weight(x, g, w.shape, stride=s, padding=p)

    def forward_backward():
        return forward(), backward_input(), backward_weight()

    return {"forward": forward, "forward_backward": forward_backward,
            "backward_input": backward_input, "backward_weight": backward_weight}


def _numpy_calls(layer, x, w, g):
    s, p = layer.S, layer.P

    def forward():
        return numpy_conv2d_forward(x, w, s, p)[0]

    def forward_backward():
        y, cols = numpy_conv2d_forward(x, w, s, p)
        gx, gw = numpy_conv2d_backward(g, w, cols, x.shape, s, p)
        return y, gx, gw

    # No separate backward kernels: the NumPy layer's backward reuses forward's columns.
    return {"forward": forward, "forward_backward": forward_backward}


def _torch_calls(torch, layer, x, w, g):
    # The very same arrays, shared with NumPy (from_numpy does not copy).
    xt, wt, gt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(g)
    s, p = [layer.S] * 2, [layer.P] * 2
    conv = torch.nn.functional.conv2d
    conv_backward = torch.ops.aten.convolution_backward

    def backward(mask):
        # The backward op autograd calls for conv2d; the mask picks (grad_x, grad_w, grad_b).
        return conv_backward(gt, xt, wt, None, s, p, [1, 1], False, [0, 0], 1, mask)

    def forward():
        with torch.no_grad():
            return conv(xt, wt, None, s, p)

    def backward_input():
        with torch.no_grad():
            return backward([True, False, False])[0]

    def backward_weight():
        with torch.no_grad():
            return backward([False, True, False])[1]

    def forward_backward():
        # The same three results minicnn computes, grad_x and grad_w in one backward call.
        with torch.no_grad():
            y = conv(xt, wt, None, s, p)
            gx, gw, _ = backward([True, True, False])
        return y, gx, gw

    return {"forward": forward, "forward_backward": forward_backward,
            "backward_input": backward_input, "backward_weight": backward_weight}


def _rel_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _check_outputs(results, reference_key):
    """Max relative difference of every framework's (y, grad_x, grad_w) to ``reference_key``'s."""
    ref = results.get(reference_key)
    diffs = {}
    if ref is None:
        return diffs
    for key, outs in results.items():
        if key == reference_key or outs is None:
            continue
        diffs[key] = max(_rel_diff(np.asarray(o), r) for o, r in zip(outs, ref))
    return diffs


def bench_layer(layer, threads, opts, torch, note):
    """Time one layer at one thread count for every framework, forward and forward+backward.

    Parameters
    ----------
    layer : Layer
    threads : int
    opts : argparse.Namespace
        The parsed ``bench`` options (repeats, min_time, warmup, retries, max_disturbance,
        no_numpy, per_kernel).
    torch : module or None
    note : callable
        Called with a message for the report's notes (a skipped framework, a mismatch).

    Returns
    -------
    records : list of dict
        One per pass and framework: ``layer``, ``threads``, ``pass``, ``framework``, ``ms``
        (median), ``min_ms``, ``gflops``, ``times_ms``, ``cpu_share``, ``disturbance``,
        ``attempts``, ``page_faults_per_call``.
    check : dict
        Largest relative difference of each framework's (y, grad_x, grad_w) to minicnn's.
    """
    x, w, g = _layer_inputs(layer)
    flops = conv_flops(layer)
    frameworks = {"minicnn": _minicnn_calls(layer, x, w, g)}
    if not opts.no_numpy:
        frameworks["numpy"] = _numpy_calls(layer, x, w, g)
    if torch is not None:
        frameworks["torch"] = _torch_calls(torch, layer, x, w, g)

    passes = ["forward", "forward_backward"]
    if getattr(opts, "per_kernel", False):
        passes += ["backward_input", "backward_weight"]
    records, outputs = [], {}
    for framework, calls in frameworks.items():
        try:
            # Same inputs, outputs compared below: no framework can skip work unnoticed.
            outputs[framework] = [np.asarray(o) for o in calls["forward_backward"]()]
        except NotImplementedError as exc:
            note(f"{framework} {layer.name}: {exc} - skipped")
            continue
        for pass_ in passes:
            if pass_ not in calls:
                continue
            fn, pass_flops = calls[pass_], PASS_FLOPS[pass_] * flops
            with _framework_threads(framework, threads, torch):
                times, info = _timed_block(fn, opts.repeats, opts.min_time, opts.warmup,
                                           threads, opts.max_disturbance, opts.retries)
            rec = {"layer": layer.name, "threads": threads, "pass": pass_,
                   "framework": framework}
            rec.update(_summary(times, pass_flops), **info)
            records.append(rec)
    check = _check_outputs(outputs, "minicnn" if "minicnn" in outputs else "numpy")
    for framework, diff in check.items():
        if diff > 1e-3:
            note(f"WARNING {layer.name}: {framework} differs from minicnn by {diff:.2e} (relative)")
    return records, check


@contextlib.contextmanager
def _framework_threads(framework, threads, torch, blas_threads=None):
    """Run one framework's block of timed calls on ``threads`` threads, then restore.

    minicnn: its kernels' OpenMP count (``blas_threads`` also caps NumPy's and scipy's BLAS, as
    the ``train`` command does); numpy: its BLAS pool; torch: its intra-op pool.
    """
    with contextlib.ExitStack() as stack:
        if framework.startswith("minicnn"):
            saved = kernels.get_num_threads()
            kernels.set_num_threads(threads)
            stack.callback(kernels.set_num_threads, saved)
            if blas_threads is not None:
                stack.enter_context(_blas_limits(blas_threads))
        elif framework == "numpy":
            stack.enter_context(_blas_limits(threads))
        elif framework == "torch":
            saved = torch.get_num_threads()
            torch.set_num_threads(threads)
            stack.callback(torch.set_num_threads, saved)
        yield


# ---------------------------------------------------------------------------------------------
# LeNet training step
# ---------------------------------------------------------------------------------------------

def _lenet_data(batch, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, size=batch).astype(np.int64)
    return x, y


def _lenet_init(seed=2):
    """One set of initial LeNet parameters (PyTorch's default init ranges), for both frameworks."""
    rng = np.random.default_rng(seed)
    shapes = [(16, 1, 5, 5), (16,), (32, 16, 5, 5), (32,), (10, 1568), (10,)]
    fan_in = [25, 25, 400, 400, 1568, 1568]
    return [rng.uniform(-1, 1, size=s).astype(np.float32) / np.float32(math.sqrt(f))
            for s, f in zip(shapes, fan_in)]


def _param_array(p):
    """The ndarray behind a minicnn Parameter (``.data`` or ``.numpy()``)."""
    data = getattr(p, "data", None)
    return data if isinstance(data, np.ndarray) else np.asarray(p.numpy())


def _minicnn_lenet_step(batch, params):
    """A closure running one minicnn LeNet training step, or raise if minicnn cannot yet."""
    import minicnn.nn as nn
    import minicnn.nn.functional as F
    import minicnn.optim as optim

    model = nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 10))
    mine = list(model.parameters())
    if [tuple(_param_array(p).shape) for p in mine] != [a.shape for a in params]:
        raise RuntimeError("minicnn LeNet parameters do not have the expected shapes")
    for p, a in zip(mine, params):
        _param_array(p)[...] = a
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xn, yn = _lenet_data(batch)
    x, y = minicnn.tensor(xn), minicnn.tensor(yn)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _torch_lenet_step(torch, batch, params):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 10))
    with torch.no_grad():
        for p, a in zip(model.parameters(), params):
            p.copy_(torch.from_numpy(a))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xn, yn = _lenet_data(batch)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _loss_value(loss):
    item = getattr(loss, "item", None)
    return float(item() if callable(item) else np.asarray(loss))


def bench_lenet(threads_list, opts, torch, note):
    """Time a LeNet training step (forward, backward, SGD step) for minicnn and PyTorch.

    minicnn is timed twice: ``"minicnn"`` with every BLAS held at one thread around the whole
    step (the figure the bar uses), and ``"minicnn_default_blas"`` with NumPy's BLAS left at its
    default, as the ``train`` command and a training script of the user's own run it. Since minicnn's
    ``Linear`` and ``@`` hold NumPy's BLAS at one thread themselves (``kernels/blas.py``), the
    two should agree; the second row is the evidence that no second thread pool fights the
    kernels' OpenMP threads (before that, it ran up to 5.6x slower on 2 threads).

    Returns a dict ``{"status", "reason", "batch", "records"}``; ``status`` is ``"skipped"``
    (with the reason) while minicnn's nn/optim cannot run the step yet.
    """
    batch = opts.batch or LENET_BATCH
    params = _lenet_init()
    result = {"status": "ok", "reason": "", "batch": batch, "records": [], "first_loss": {}}
    steps = {}
    try:
        steps["minicnn"] = _minicnn_lenet_step(batch, params)
        result["first_loss"]["minicnn"] = _loss_value(steps["minicnn"]())
    except Exception as exc:  # ImportError, AttributeError, NotImplementedError, ...
        reason = f"minicnn cannot run the LeNet step yet ({type(exc).__name__}: {exc})"
        note(f"LeNet: {reason} - section skipped")
        return {"status": "skipped", "reason": reason, "batch": batch, "records": []}
    # The same model again with NumPy's BLAS left at its default (all cores), as in a user's own
    # script: Linear's matmul must still not start a second thread pool next to OpenMP's.
    steps["minicnn_default_blas"] = steps["minicnn"]
    if torch is not None:
        steps["torch"] = _torch_lenet_step(torch, batch, params)
        result["first_loss"]["torch"] = _loss_value(steps["torch"]())
    for threads in threads_list:
        for framework, step in steps.items():
            # "minicnn": every BLAS held at 1 thread for the whole step, one thread pool (the
            # kernels' OpenMP); the default row relies on Linear and @ holding NumPy's BLAS.
            blas = 1 if framework == "minicnn" else None
            with _framework_threads(framework, threads, torch, blas_threads=blas):
                times, info = _timed_block(step, opts.repeats, opts.min_time, opts.warmup,
                                           threads, opts.max_disturbance, opts.retries)
            rec = {"threads": threads, "framework": framework}
            rec.update(_summary(times), **info)
            rec["images_per_s"] = batch / (rec["ms"] / 1e3)
            result["records"].append(rec)
    return result


# ---------------------------------------------------------------------------------------------
# Summary: ratios, geomeans, bars
# ---------------------------------------------------------------------------------------------

def geomean(values):
    """Geometric mean of positive numbers (None for an empty list)."""
    values = [v for v in values if v is not None]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _index(records):
    return {(r["layer"], r["threads"], r["pass"], r["framework"]): r for r in records}


def _ratio(idx, layer, threads, pass_, other):
    """minicnn speed / ``other``'s speed (``other``'s time over minicnn's), or None."""
    mine, theirs = idx.get((layer, threads, pass_, "minicnn")), idx.get((layer, threads, pass_,
                                                                        other))
    if mine is None or theirs is None:
        return None
    return theirs["ms"] / mine["ms"]


def summarize(records, layers, threads_list, peaks, lenet):
    """Per-layer ratios, their geomeans per thread count and pass, and the bars."""
    idx = _index(records)
    ratios, geomeans, bars = [], [], []
    for threads in threads_list:
        for pass_ in ("forward", "forward_backward"):
            per = {"numpy": [], "torch": []}
            for layer in layers:
                row = {"layer": layer.name, "threads": threads, "pass": pass_}
                for other in per:
                    row[f"vs_{other}"] = _ratio(idx, layer.name, threads, pass_, other)
                    per[other].append(row[f"vs_{other}"])
                mine = idx.get((layer.name, threads, pass_, "minicnn"))
                peak = peaks.get(threads)
                row["peak_fraction"] = (mine["gflops"] / peak["gflops"]
                                        if mine and peak and pass_ == "forward" else None)
                ratios.append(row)
            geomeans.append({"threads": threads, "pass": pass_,
                             "vs_numpy": geomean(per["numpy"]), "vs_torch": geomean(per["torch"])})

    def gm(threads, pass_, key):
        for g in geomeans:
            if g["threads"] == threads and g["pass"] == pass_:
                return g[key]
        return None

    large = [lay.name for lay in layers if lay.C * lay.K * lay.K >= LARGE_CONTRACTION]
    for threads in threads_list:
        value = gm(threads, "forward_backward", "vs_torch")
        bars.append(_bar(f"fwd+bwd vs PyTorch, geomean, {threads} thr", value, ">=",
                         BAR_VS_TORCH, "x"))
        value = gm(threads, "forward_backward", "vs_numpy")
        bars.append(_bar(f"fwd+bwd vs NumPy, geomean, {threads} thr", value, ">=",
                         BAR_VS_NUMPY, "x"))
        fracs = [r["peak_fraction"] for r in ratios if r["threads"] == threads
                 and r["pass"] == "forward" and r["layer"] in large]
        fracs = [f for f in fracs if f is not None]
        bars.append(_bar(f"large-layer fwd / sgemm peak, worst layer, {threads} thr",
                         min(fracs) if fracs else None, ">=", BAR_PEAK_FRACTION, "%"))
        lenet_ms = {r["framework"]: r["ms"] for r in lenet.get("records", [])
                    if r["threads"] == threads}
        value = (lenet_ms["minicnn"] / lenet_ms["torch"]
                 if "minicnn" in lenet_ms and "torch" in lenet_ms else None)
        bars.append(_bar(f"LeNet step time vs PyTorch, {threads} thr", value, "<=",
                         BAR_LENET_SLOWDOWN, "x"))
    # Thread scaling: time at 1 thread over time at each larger count, geomean over layers.
    scaling = []
    if 1 in threads_list:
        for threads in [t for t in threads_list if t > 1]:
            for framework in ("minicnn", "numpy", "torch"):
                for pass_ in ("forward", "forward_backward"):
                    speedups = []
                    for layer in layers:
                        one = idx.get((layer.name, 1, pass_, framework))
                        many = idx.get((layer.name, threads, pass_, framework))
                        if one and many:
                            speedups.append(one["ms"] / many["ms"])
                    if speedups:
                        scaling.append({"framework": framework, "pass": pass_,
                                        "threads": threads, "speedup": geomean(speedups)})
    return {"ratios": ratios, "geomeans": geomeans, "bars": bars, "large_layers": large,
            "scaling": scaling}


def _bar(name, value, op, target, unit):
    if value is None:
        met = None
    else:
        met = value >= target if op == ">=" else value <= target
    return {"name": name, "value": value, "op": op, "target": target, "unit": unit, "met": met}


# ---------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------

def _fmt(v, spec, width):
    return f"{'-':>{width}}" if v is None else f"{v:{width}{spec}}"


def _ms(rec, width, limit):
    """A record's median ms, with '*' when it was timed while other processes held cores."""
    if rec is None:
        return f"{'-':>{width}} "
    noisy = rec.get("disturbance") is not None and rec["disturbance"] > limit
    return f"{rec['ms']:{width}.3f}{'*' if noisy else ' '}"


def _print_layer_table(records, summary, layers, threads, pass_, peaks, out, limit=0.0):
    idx = _index(records)
    title = "forward" if pass_ == "forward" else "forward + backward (grad_x and grad_w)"
    peak = peaks.get(threads)
    peak_txt = f", sgemm peak {peak['gflops']:.0f} GFLOP/s" if peak else ""
    print(f"\n{threads} thread{'s' if threads > 1 else ''}: {title}{peak_txt}", file=out)
    head = (f"{'layer':<12} {'GFLOP':>6} | {'minicnn ms':>10} {'GF/s':>6} {'%pk':>4} | "
            f"{'numpy ms':>8} {'GF/s':>6} | {'torch ms':>8} {'GF/s':>6} | "
            f"{'mc/np':>6} {'mc/torch':>8}")
    print(head, file=out)
    print("-" * len(head), file=out)
    rows = {(r["layer"], r["pass"]): r for r in summary["ratios"] if r["threads"] == threads}
    for layer in layers:
        flops = conv_flops(layer) * (1 if pass_ == "forward" else 3)
        recs = [idx.get((layer.name, threads, pass_, fw)) for fw in ("minicnn", "numpy", "torch")]
        gf = [r["gflops"] if r else None for r in recs]
        row = rows.get((layer.name, pass_), {})
        frac = row.get("peak_fraction")
        print(f"{layer.name:<12} {flops / 1e9:6.3f} | {_ms(recs[0], 10, limit)}"
              f"{_fmt(gf[0], '.1f', 6)} {_fmt(None if frac is None else 100 * frac, '.0f', 4)}"
              f" | {_ms(recs[1], 8, limit)}{_fmt(gf[1], '.1f', 6)} | "
              f"{_ms(recs[2], 8, limit)}{_fmt(gf[2], '.1f', 6)} | "
              f"{_fmt(row.get('vs_numpy'), '.2f', 6)} {_fmt(row.get('vs_torch'), '.2f', 8)}",
              file=out)
    for g in summary["geomeans"]:
        if g["threads"] == threads and g["pass"] == pass_:
            pad = len(head) - 6 - 1 - 8
            print(f"{'geomean':<{pad}}{_fmt(g['vs_numpy'], '.2f', 6)} "
                  f"{_fmt(g['vs_torch'], '.2f', 8)}", file=out)


def _print_kernel_table(records, layers, threads, out, limit=0.0):
    """ms of each kernel on its own (only with --per-kernel)."""
    idx = _index(records)
    kernels_ = ("forward", "backward_input", "backward_weight")
    if not any((lay.name, threads, "backward_input", fw) in idx for lay in layers
               for fw in ("minicnn", "torch")):
        return
    print(f"\n{threads} thread{'s' if threads > 1 else ''}: each kernel on its own, ms "
          f"(and minicnn/torch speed ratio)", file=out)
    head = f"{'layer':<12} | " + " | ".join(f"{k:^24}" for k in kernels_)
    print(head, file=out)
    print(f"{'':<12} | " + " | ".join(f"{'minicnn':>7} {'torch':>7} {'ratio':>8}"
                                      for _ in kernels_), file=out)
    print("-" * len(head), file=out)
    for layer in layers:
        cells = []
        for k in kernels_:
            mine, theirs = idx.get((layer.name, threads, k, "minicnn")), idx.get(
                (layer.name, threads, k, "torch"))
            ratio = theirs["ms"] / mine["ms"] if mine and theirs else None
            cells.append(f"{_ms(mine, 7, limit)}{_ms(theirs, 7, limit)}{_fmt(ratio, '.2f', 7)}")
        print(f"{layer.name:<12} | " + " | ".join(cells), file=out)


def _print_report(report, layers, out):
    threads_list = report["settings"]["threads"]
    peaks = {p["threads"]: p for p in report["sgemm_peak"]}
    m = report["machine"]
    print(f"\nminicnn {m['minicnn']} bench, {report['date']}", file=out)
    print(f"{m['cpu_model']}, {m['available_cores']} cores available; numpy {m['numpy']}, "
          f"scipy {m['scipy']}, torch {m['torch'] or 'not available'}; minicnn backend "
          f"{report['settings']['backend']}, OpenMP {'on' if m['minicnn_openmp'] else 'off'}",
          file=out)
    s = report["settings"]
    load = (m.get("loadavg_start"), m.get("loadavg_end"))
    if all(load):
        print(f"load average (1, 5, 15 min) at start {load[0]}, at end {load[1]}", file=out)
    print(f"float32; median of >= {s['repeats']} calls and >= {s['min_time']} s after "
          f"{s['warmup']} warm-up calls; allocator: "
          f"{'mmap threshold ' + str(report['allocator']['mmap_threshold']) if report['allocator']['applied'] else 'unchanged (' + report['allocator']['detail'] + ')'}",
          file=out)
    print("ratios mc/X = X's time / minicnn's time (above 1: minicnn faster); "
          "%pk = minicnn GFLOP/s / sgemm peak", file=out)
    limit = s["max_disturbance"]
    print(f"* = timed while other processes used more than {limit:.0%} of its cores, even "
          f"after {s['retries']} retries: noisy", file=out)
    for threads in threads_list:
        for pass_ in ("forward", "forward_backward"):
            _print_layer_table(report["records"], report["summary"], layers, threads, pass_,
                               peaks, out, limit)
        _print_kernel_table(report["records"], layers, threads, out, limit)
    lenet = report["lenet"]
    print(f"\nLeNet training step (batch {lenet.get('batch')}, conv-relu-pool x2 + linear, "
          f"cross-entropy, SGD momentum):", file=out)
    if lenet["status"] != "ok":
        print(f"  skipped: {lenet['reason']}", file=out)
    else:
        print(f"  {'threads':>7} {'framework':<20} {'ms':>8} {'images/s':>9}", file=out)
        for r in lenet["records"]:
            print(f"  {r['threads']:>7} {r['framework']:<20} {r['ms']:8.2f} "
                  f"{r['images_per_s']:9.0f}", file=out)
        print("  (minicnn: every BLAS held at 1 thread around the whole step;\n"
              "   minicnn_default_blas: NumPy's BLAS left at its default, as `python -m minicnn\n"
              "   train` and your own script run it;\n"
              "   minicnn's Linear and @ hold it at 1 thread themselves, so the two should match)",
              file=out)
    scaling = report["summary"]["scaling"]
    if scaling:
        print("\nthread scaling (time at 1 thread / time at N, geomean over layers):", file=out)
        for sc in scaling:
            print(f"  {sc['framework']:<8} {sc['pass']:<17} {sc['threads']} thr: "
                  f"{sc['speedup']:.2f}x", file=out)
    print("\nbars (targets of issues 3 and 5):", file=out)
    for bar in report["summary"]["bars"]:
        if bar["value"] is None:
            value = "n/a"
        elif bar["unit"] == "%":
            value = f"{100 * bar['value']:.0f}%"
        else:
            value = f"{bar['value']:.2f}x"
        target = (f"{100 * bar['target']:.0f}%" if bar["unit"] == "%"
                  else f"{bar['target']:g}x")
        verdict = {True: "met", False: "NOT met", None: "not measured"}[bar["met"]]
        print(f"  {bar['name']:<46} {value:>7}  (target {bar['op']} {target}): {verdict}",
              file=out)
    blocks = report["records"] + report["lenet"].get("records", []) + report["sgemm_peak"]
    measured = [r for r in blocks if r.get("disturbance") is not None]
    if measured:
        limit = report["settings"]["max_disturbance"]
        noisy = [r for r in measured if r["disturbance"] > limit]
        retried = [r for r in blocks if r.get("attempts", 1) > 1]
        worst = max(measured, key=lambda r: r["disturbance"])
        what = ", ".join(str(worst[k]) for k in ("layer", "framework", "pass") if k in worst)
        print(f"\nother processes on the timed cores: {len(retried)} figure(s) re-measured; "
              f"{len(noisy)} of {len(measured)} still disturbed (> {limit:.0%} of their cores "
              f"taken; worst {worst['disturbance']:.0%}: {what or 'sgemm'}, "
              f"{worst['threads']} thr)", file=out)
    for line in report["notes"]:
        print(f"note: {line}", file=out)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def _positive_int(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _fraction(text):
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def _thread_list(text):
    import argparse
    values = []
    for part in text.split(","):
        part = part.strip()
        if part in ("all", "max"):
            values.append(available_cores())
            continue
        try:
            values.append(_positive_int(part))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"--threads takes comma-separated positive ints or 'all', got {text!r}") from None
    return sorted(set(values))


def _layer_list(text):
    import argparse
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in LAYER_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"--layers: unknown layer(s) {unknown or text!r}; choose from {', '.join(LAYER_NAMES)}")
    return names


def _non_negative_float(text):
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value}")
    return value


def add_arguments(parser):
    """Add the ``bench`` options to an ``argparse`` parser."""
    parser.add_argument("--layers", type=_layer_list, default=list(LAYER_NAMES),
                        help=f"comma-separated subset of: {', '.join(LAYER_NAMES)} (default: all)")
    parser.add_argument("--threads", type=_thread_list, default=None,
                        help="comma-separated thread counts, 'all' = every available core "
                             "(default: 1,all)")
    parser.add_argument("--repeats", type=_positive_int, default=None,
                        help="timed calls per measurement, at least (default 15; 3 with --quick)")
    parser.add_argument("--min-time", type=_non_negative_float, default=None,
                        help="seconds of timed calls per measurement, at least (default 0.3; 0 "
                             "with --quick)")
    parser.add_argument("--warmup", type=_non_negative_int, default=None,
                        help="untimed calls before each measurement (default 3; 1 with --quick)")
    parser.add_argument("--retries", type=_non_negative_int, default=None,
                        help="measure a figure again, up to this many times, while other "
                             "processes used more than --max-disturbance of its cores "
                             "(default 3; 0 with --quick)")
    parser.add_argument("--max-disturbance", type=_fraction, default=0.1,
                        help="fraction of the timed cores other processes may use before a "
                             "figure counts as disturbed (default 0.1)")
    parser.add_argument("--quick", action="store_true",
                        help="a fast smoke run: few repeats, no minimum time")
    parser.add_argument("--batch", type=_positive_int, default=None,
                        help="override every layer's batch size and LeNet's (default: the "
                             "layer's own, 64 or 32)")
    parser.add_argument("--backend", choices=kernels.BACKENDS, default="fast",
                        help="minicnn kernel backend to time (default: fast)")
    parser.add_argument("--per-kernel", action="store_true",
                        help="also time backward_input and backward_weight on their own "
                             "(minicnn and PyTorch)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-numpy", action="store_true", help="leave the NumPy baseline out")
    parser.add_argument("--no-lenet", action="store_true", help="skip the LeNet training step")
    parser.add_argument("--no-mallopt", action="store_true",
                        help="leave glibc's allocator thresholds as they are")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write every figure and the machine info as JSON to PATH")


def _settings(args):
    quick = bool(getattr(args, "quick", False))
    repeats = args.repeats if args.repeats is not None else (3 if quick else 15)
    min_time = args.min_time if args.min_time is not None else (0.0 if quick else 0.3)
    warmup = args.warmup if args.warmup is not None else (1 if quick else 3)
    if args.retries is None:
        args.retries = 0 if quick else 3
    threads = args.threads or sorted({1, available_cores()})
    return repeats, min_time, warmup, threads


def run(args, out=None):
    """Run the benchmark described by the parsed ``args``; return the report dict.

    The report holds ``schema``, ``date``, ``command``, ``machine``, ``settings``,
    ``allocator``, ``sgemm_peak``, ``records`` (one per layer, threads, pass and framework:
    ``ms``, ``gflops``, ``times_ms``), ``checks`` (max relative output difference to minicnn per
    layer), ``lenet``, ``summary`` (``ratios``, ``geomeans``, ``bars``) and ``notes``.
    """
    out = sys.stdout if out is None else out
    repeats, min_time, warmup, threads_list = _settings(args)
    args.repeats, args.min_time, args.warmup = repeats, min_time, warmup
    notes = []

    def note(msg):
        notes.append(msg)
        print(f"  [{msg}]", file=out, flush=True)

    allocator = ({"applied": False, "mmap_threshold": None, "trim_threshold": None,
                  "detail": "--no-mallopt"} if args.no_mallopt else raise_mmap_threshold())
    torch, why = (None, "--no-torch") if args.no_torch else _import_torch()
    if torch is None and not args.no_torch:
        note(f"PyTorch column empty: {why}")
    if kernels.openmp_enabled() is False and max(threads_list) > 1:
        note("minicnn was built without OpenMP: its kernels run on 1 thread whatever --threads")
    layers = [lay for lay in LAYERS if lay.name in args.layers]
    if args.batch:
        layers = [lay._replace(N=args.batch) for lay in layers]

    report = {
        "schema": SCHEMA,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m minicnn bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 1
        and sys.argv[1] == "bench" else " ".join(sys.argv),
        "machine": machine_info(torch),
        "settings": {"layers": [lay.name for lay in layers], "threads": threads_list,
                     "repeats": repeats, "min_time": min_time, "warmup": warmup,
                     "batch": args.batch, "backend": args.backend, "dtype": "float32",
                     "quick": bool(args.quick), "numpy": not args.no_numpy,
                     "per_kernel": bool(args.per_kernel), "retries": args.retries,
                     "max_disturbance": args.max_disturbance,
                     "torch": torch is not None},
        "allocator": allocator,
        "layers": [dict(lay._asdict(), gflop_forward=conv_flops(lay) / 1e9,
                        OH=out_size(lay.H, lay.K, lay.S, lay.P),
                        OW=out_size(lay.W, lay.K, lay.S, lay.P)) for lay in layers],
    }
    print(f"minicnn bench: layers {','.join(report['settings']['layers'])}, threads "
          f"{','.join(map(str, threads_list))}, backend {args.backend}"
          f"{', PyTorch ' + torch.__version__ if torch is not None else ''}", file=out, flush=True)

    peaks = {}
    for threads in threads_list:
        peaks[threads] = dict(sgemm_peak(threads, repeats=max(3, min(repeats, 5)),
                                         min_time=min(min_time, 0.3), warmup=1,
                                         max_disturbance=args.max_disturbance,
                                         retries=args.retries),
                              threads=threads)
        print(f"  sgemm {SGEMM_SIZE}^2 on {threads} thread(s): {peaks[threads]['gflops']:.0f} "
              f"GFLOP/s", file=out, flush=True)
    records, checks = [], []
    with kernels.backend(args.backend):
        for threads in threads_list:
            for layer in layers:
                recs, check = bench_layer(layer, threads, args, torch, note)
                records += recs
                checks.append({"layer": layer.name, "threads": threads,
                               "max_rel_diff_to_minicnn": check})
                print(f"  {layer.name} on {threads} thread(s): done", file=out, flush=True)
        if args.no_lenet:
            lenet = {"status": "skipped", "reason": "--no-lenet", "batch": None, "records": []}
        else:
            lenet = bench_lenet(threads_list, args, torch, note)
    report.update(sgemm_peak=list(peaks.values()), records=records, checks=checks, lenet=lenet)
    # Other processes on the machine are noise the medians cannot fully remove: record them.
    report["machine"]["loadavg_end"] = _loadavg()
    report["summary"] = summarize(records, layers, threads_list, peaks, lenet)
    report["notes"] = notes
    _print_report(report, layers, out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nwrote {args.json}", file=out)
    return report


def main(args):
    """Entry point of ``python -m minicnn bench`` (``args`` from :func:`add_arguments`)."""
    run(args)
    return 0
