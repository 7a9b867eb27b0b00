"""One thread pool: hold a BLAS library at one thread while minicnn's own threads do the work.

minicnn parallelises with OpenMP. The BLAS libraries that scipy and NumPy ship (OpenBLAS in
their wheels) have thread pools of their own, and two pools on the same cores fight: OpenMP
workers spin-wait after their region while OpenBLAS's threads want the cores, and OpenBLAS's
threads spin after a multi-threaded call while the next OpenMP region wants them.

* The conv kernels call scipy's BLAS from inside their OpenMP threads, so they hold *scipy's*
  BLAS at one thread (measured: cifar_conv3 forward+backward on 2 threads, 8.6 ms held, 628 ms
  not - every OpenMP thread started BLAS threads of its own).
* ``Linear`` and ``@`` run NumPy's matmul between kernel calls, so they hold *NumPy's* BLAS at
  one thread (measured: a LeNet training step 2.5-5.6x slower at 2 threads when not held).

Holding costs a few ctypes calls (microseconds) and restores the previous count on exit.
It is reentrant and safe for concurrent use from several Python threads: the first caller in
lowers the count, the last one out restores it. Other NumPy/SciPy code in your program keeps
its threads.

Recent OpenBLAS releases also keep a count per calling thread, which the process-wide setting
does not reach once that thread has used BLAS: a kernel called from a second Python thread then
ran multi-threaded BLAS (another summation order, so other rounding than the same call from the
main thread). Where the library has ``openblas_set_num_threads_local``, each thread entering the
block also sets its own count to 1 and restores it on the way out. The conv kernels go further
(``exclusive=True``): several kernels running at once from different Python threads, each with
its OpenMP team calling sgemm, still rounded differently from run to run with OpenBLAS 0.3.30,
so one kernel runs at a time (the others wait without holding the GIL). Results then do not
depend on what other threads do.
"""
import os
import threading

__all__ = ["SingleThreadedBlas", "scipy_blas", "numpy_blas"]


class SingleThreadedBlas:
    """Context manager holding the BLAS that ``package`` ships at one thread inside the block.

    Parameters
    ----------
    package : str
        ``"scipy"`` or ``"numpy"``: the BLAS found in that package's wheel (its folder or the
        ``<package>.libs`` folder beside it). If none is found there (conda and distro installs
        share one system BLAS), every BLAS threadpoolctl sees is held.
    exclusive : bool
        Let one thread at a time into the block (reentrant within a thread).
    """

    def __init__(self, package, exclusive=False):
        self.package = package
        self._exclusive = threading.RLock() if exclusive else None
        self._libs = None          # found on first use: threadpoolctl scans the loaded libraries
        self._lock = threading.Lock()
        self._users = 0
        self._saved = []
        self._local = threading.local()   # per calling thread: a stack of its previous counts
        self._setters = None

    def _find(self):
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            return []
        module = __import__(self.package)
        home = os.path.dirname(os.path.realpath(module.__file__))
        homes = (home + os.sep, home + ".libs" + os.sep)   # .../numpy/, .../numpy.libs/
        blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
        ours = [lib for lib in blas if os.path.realpath(lib.filepath).startswith(homes)]
        return ours or blas

    @property
    def libs(self):
        """The threadpoolctl controllers held by this context manager."""
        if self._libs is None:
            self._libs = self._find()
        return self._libs

    def _thread_local_setters(self):
        if self._setters is None:
            self._setters = [
                setter for lib in self.libs
                if (setter := getattr(getattr(lib, "dynlib", None),
                                      "openblas_set_num_threads_local", None)) is not None]
        return self._setters

    def __enter__(self):
        if self._exclusive is not None:
            self._exclusive.acquire()
        libs = self.libs
        with self._lock:
            if self._users == 0:
                self._saved = [lib.get_num_threads() for lib in libs]
                for lib, n in zip(libs, self._saved):
                    if n != 1:
                        lib.set_num_threads(1)
            self._users += 1
        stack = self._local.__dict__.setdefault("stack", [])
        stack.append([(setter, setter(1)) for setter in self._thread_local_setters()])
        return self

    def __exit__(self, *exc):
        for setter, previous in self._local.stack.pop():
            setter(previous)
        with self._lock:
            self._users -= 1
            if self._users == 0:
                for lib, n in zip(self.libs, self._saved):
                    if n != 1:
                        lib.set_num_threads(n)
        if self._exclusive is not None:
            self._exclusive.release()
        return False


scipy_blas = SingleThreadedBlas("scipy", exclusive=True)
numpy_blas = SingleThreadedBlas("numpy")
