# cython: language_level=3
# (boundscheck, wraparound, initializedcheck and cdivision come from setup.py, so that
#  MINICNN_DEBUG=1 can turn the checks back on for every kernel.)
"""What the compiled kernels were built with: OpenMP or not, the thread count, the flags."""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define MINICNN_OPENMP 1
    #else
    #define MINICNN_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_num_procs(void) { return 1; }
    #endif
    #ifndef MINICNN_CFLAGS
    #define MINICNN_CFLAGS ""
    #endif
    #ifndef MINICNN_CYTHON_VERSION
    #define MINICNN_CYTHON_VERSION "unknown"
    #endif
    """
    int MINICNN_OPENMP
    const char* MINICNN_CFLAGS
    const char* MINICNN_CYTHON_VERSION
    int omp_get_max_threads() nogil
    int omp_get_num_procs() nogil


def openmp_enabled():
    """True if the kernels were compiled with OpenMP (read from ``#ifdef _OPENMP``)."""
    return bool(MINICNN_OPENMP)


def compile_flags():
    """The extra compiler and linker flags setup.py used for the kernels, as one string."""
    return MINICNN_CFLAGS.decode()


def cython_version():
    """The version of Cython that generated the kernels' C code."""
    return MINICNN_CYTHON_VERSION.decode()


def omp_max_threads():
    """OpenMP's own default team size (1 without OpenMP)."""
    return omp_get_max_threads()
