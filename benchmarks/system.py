"""The machine side of a measurement: glibc's allocator, CPU accounting from /proc/stat,
machine facts, and a timed block that knows whether other processes took its cores."""
import contextlib
import ctypes
import os
import platform
import statistics
import sys
import time

import numpy as np

import minicnn
from minicnn import kernels
from minicnn.cli.bench import time_calls


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


def _cpuinfo_field(name):
    """The value of the first ``name`` line of /proc/cpuinfo, or None."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_flags():
    flags = set((_cpuinfo_field("flags") or "").split())
    return [f for f in ("sse2", "avx", "fma", "avx2", "avx512f") if f in flags]


def loadavg():
    """The 1, 5 and 15 minute load averages, or None off Unix."""
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
        "cpu_model": _cpuinfo_field("model name") or platform.processor() or platform.machine(),
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
        "loadavg_start": loadavg(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                                           "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                if k in os.environ},
    }
    if torch is not None:
        info["torch_mkldnn"] = bool(torch.backends.mkldnn.is_available())
    return info


def cpu_busy_seconds():
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


def minor_faults():
    """Minor page faults of this process so far (fresh pages touched), or None off Unix."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed_block(fn, repeats, min_time, warmup, threads, max_disturbance=1.0, retries=0):
    """:func:`minicnn.cli.bench.time_calls`, measured again while other processes took this
    block's cores.

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
        faults0 = minor_faults()
        busy0, cpu0, wall0 = cpu_busy_seconds(), time.process_time(), time.perf_counter()
        times = time_calls(fn, repeats, min_time, warmup)
        busy1, cpu1, wall1 = cpu_busy_seconds(), time.process_time(), time.perf_counter()
        faults1 = minor_faults()
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


def summary(times, flops=None):
    """Median and minimum ms of ``times`` (seconds), every sample, and GFLOP/s at the median."""
    med = statistics.median(times)
    out = {"ms": med * 1e3, "min_ms": min(times) * 1e3,
           "times_ms": [round(t * 1e3, 5) for t in times]}
    if flops is not None:
        out["gflops"] = flops / med / 1e9
    return out


def blas_limits(threads):
    """A context manager limiting NumPy's and scipy's BLAS pools to ``threads`` (or a no-op)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")
