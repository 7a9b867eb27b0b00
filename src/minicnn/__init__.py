"""minicnn: a small deep-learning framework with OpenMP Cython convolution kernels."""
from minicnn.kernels import get_num_threads, openmp_enabled, set_num_threads

__version__ = "0.1.0"

__all__ = ["__version__", "get_num_threads", "openmp_enabled", "set_num_threads"]
