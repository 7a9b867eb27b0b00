"""The kernels' run-time state: loading the compiled extensions, the backend, the thread count.

The compiled modules are loaded once, here, at import. In a tree where they were never built the
import still succeeds (the readable twins and the engine need no compiler): ``_conv``, ``_pool``
and ``_openmp`` are then stand-ins whose first use raises an ImportError that says how to build.
"""
import contextlib
import importlib
import os
import sys
import threading

from minicnn._checks import INT_MAX, check_int

__all__ = ["use", "backend", "get_backend", "BACKENDS", "set_num_threads", "get_num_threads",
           "threads_for", "openmp_enabled", "compile_flags", "OPENMP_SPINCOUNT",
           "MIN_WORK_PER_THREAD"]

# ---------------------------------------------------------------------------------------------
# The compiled extensions
# ---------------------------------------------------------------------------------------------

BUILD_HINT = ("From the repository root run `pip install -e .` (builds them in place), or "
              "`pip install .` to install the package; see docs/building.md. The readable "
              "kernels run without them: minicnn.kernels.use(\"reference\").")


class NotBuilt:
    """Stands in for a compiled module that could not be imported: any use of it raises an
    ImportError saying how to build the kernels (chained to the original error)."""

    def __init__(self, name, error):
        self._name, self._error = name, error

    def __getattr__(self, attribute):
        raise ImportError(f"minicnn's compiled kernels are not built in this tree (importing "
                          f"minicnn.kernels.{self._name} failed: {self._error}). "
                          + BUILD_HINT) from self._error

    def __repr__(self):
        return f"<minicnn.kernels.{self._name}: not built>"


def _load(name):
    try:
        return importlib.import_module(f"minicnn.kernels.{name}")
    except ImportError as exc:
        return NotBuilt(name, exc)


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
    _openmp, _conv, _pool = _load("_openmp"), _load("_conv"), _load("_pool")
    _elementwise, _norm = _load("_elementwise"), _load("_norm")
finally:
    if _set_spincount:
        del os.environ["GOMP_SPINCOUNT"]


# OpenBLAS cores with "small matrix" sgemm/dgemm kernels (AVX-512); the conv kernels cut their
# GEMMs to that size only where the BLAS has them ("GEMM sizes" in _plan.pxd).
SMALL_GEMM_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")
SMALL_GEMM_SIZE = 100 ** 3


def blas_small_gemm_size():
    """The small-matrix size m*n*k of the BLAS the conv kernels call (scipy's): 100**3 for
    OpenBLAS on an AVX-512 core that has small kernels, else 0."""
    from minicnn.kernels.blas import scipy_blas

    cores = {str(getattr(lib, "architecture", "")).lower() for lib in scipy_blas.libs}
    return SMALL_GEMM_SIZE if cores & {core.lower() for core in SMALL_GEMM_CORES} else 0


if not isinstance(_conv, NotBuilt):
    _conv.set_small_gemm_size(blas_small_gemm_size())
    # minicnn's own AVX2 GEMM where it pays, unless OpenBLAS runs AVX-512 kernels here
    # (the comment above _input_gemm_avx2 in _plan.pxd).
    _conv.set_avx2_gemm(_conv.cpu_has_avx2_fma() and _conv.small_gemm_size() == 0)


def openmp_enabled():
    """True if the compiled kernels were built with OpenMP (read from the extension itself)."""
    return _openmp.openmp_enabled()


def compile_flags():
    """The compiler/linker flags the kernels were built with."""
    return _openmp.compile_flags()


def _threads_available():
    """False when the kernels run serially: built without OpenMP, or not built at all."""
    return not isinstance(_openmp, NotBuilt) and _openmp.openmp_enabled()


# ---------------------------------------------------------------------------------------------
# The backend
# ---------------------------------------------------------------------------------------------

BACKENDS = ("fast", "reference")
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


# ---------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------

def _usable_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))  # respects taskset / cgroup cpusets
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


# More threads than cores only adds waiting; far more can exhaust what the system lets a process
# create, and libgomp then ends the process. So the kernels use at most this many threads per
# usable core.
MAX_THREADS_PER_CORE = 4


def max_num_threads():
    """The most threads ``set_num_threads`` accepts: 4 per usable core."""
    return MAX_THREADS_PER_CORE * _usable_cores()


def _default_num_threads():
    if not _threads_available():
        return 1
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) >= 1:
        return min(int(env), max_num_threads())
    return _usable_cores()


_num_threads = _default_num_threads()
_forked = False


def _after_fork_in_child():
    # GNU OpenMP's thread pool does not survive fork: a forked child (a DataLoader worker, a
    # multiprocessing.Pool process) that starts a team of threads can wait forever on threads
    # that exist only in its parent. So a forked child runs the kernels on one thread.
    global _num_threads, _forked
    _forked, _num_threads = True, 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def set_num_threads(n):
    """Set how many OpenMP threads the kernels use (``n >= 1``). Without OpenMP it stays 1.

    At most ``max_num_threads()`` (4 per usable core): a larger ``n`` is clamped to it, with a
    RuntimeWarning. Results do not depend on this number: every kernel is bit-identical for
    any thread count. In a forked process (a DataLoader worker on Linux) the kernels run on one
    thread, and ``n > 1`` raises RuntimeError: OpenMP's threads do not survive fork.
    """
    global _num_threads
    n = check_int(n, "n (number of threads)", 1, INT_MAX)
    if _forked and n > 1 and _threads_available():
        raise RuntimeError(f"set_num_threads({n}): this process was forked (a DataLoader "
                           f"worker?), and OpenMP's thread pool does not survive fork: the "
                           f"kernels run on 1 thread here (for more, start workers with "
                           f"multiprocessing_context='spawn')")
    cap = max_num_threads()
    if n > cap:
        import warnings

        warnings.warn(f"set_num_threads({n}): more than {MAX_THREADS_PER_CORE} threads per "
                      f"usable core ({_usable_cores()}); using {cap}", RuntimeWarning,
                      stacklevel=2)
        n = cap
    _num_threads = n if _threads_available() else 1


def get_num_threads():
    """Number of OpenMP threads the kernels use (1 if minicnn was built without OpenMP)."""
    return _num_threads


# Below this much work per thread, an extra OpenMP thread costs more than it saves: waking one
# takes microseconds on an idle machine and up to a scheduler time slice on a busy one, while a
# small layer's whole call takes microseconds. Results are bit-identical for any thread count,
# so this changes speed only. Units: multiply-adds x 2 for conv, window reads for pooling,
# elements for the element-wise kernels (ReLU, bias).
MIN_WORK_PER_THREAD = {"conv": 2_000_000, "pool": 65_536, "elementwise": 65_536}


def threads_for(kind, work):
    """How many of the ``get_num_threads()`` threads a ``kind`` ("conv", "pool" or
    "elementwise") call with ``work`` units gets: at most one per ``MIN_WORK_PER_THREAD[kind]``
    units (a table without ``kind`` gives it every thread)."""
    # The table is read through the package, minicnn.kernels.MIN_WORK_PER_THREAD: that is the
    # documented knob, and assigning a new table there (as the tests do) must take effect.
    rule = sys.modules[__package__].MIN_WORK_PER_THREAD
    return int(max(1, min(_num_threads, work // max(1, rule.get(kind, 1)))))
