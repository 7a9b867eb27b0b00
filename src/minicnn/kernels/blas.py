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

Holding costs two ctypes calls (a few microseconds) and restores the previous count on exit.
It is reentrant and safe for concurrent use from several Python threads: the first caller in
lowers the count, the last one out restores it. Other NumPy/SciPy code in your program keeps
its threads.
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
    """

    def __init__(self, package):
        self.package = package
        self._libs = None          # found on first use: threadpoolctl scans the loaded libraries
        self._lock = threading.Lock()
        self._users = 0
        self._saved = []

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

    def __enter__(self):
        libs = self.libs
        with self._lock:
            if self._users == 0:
                self._saved = [lib.get_num_threads() for lib in libs]
                for lib, n in zip(libs, self._saved):
                    if n != 1:
                        lib.set_num_threads(1)
            self._users += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                for lib, n in zip(self.libs, self._saved):
                    if n != 1:
                        lib.set_num_threads(n)
        return False


scipy_blas = SingleThreadedBlas("scipy")
numpy_blas = SingleThreadedBlas("numpy")
