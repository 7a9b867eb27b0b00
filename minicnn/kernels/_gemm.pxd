# cython: language_level=3
"""The GEMMs of the conv kernels: BLAS ``?gemm`` (scipy's ``cython_blas``, column-major) called
once, through ``gemm_rowmajor``, on row-major matrices; and minicnn's own AVX2 float32 GEMM
for products with a small side (C, in src/sgemm_avx2.h). ``cdef inline``, cimported by
_conv.pyx; no module of its own."""

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline void _gemm(char transa, char transb, int m, int n, int k, floating alpha,
                       const floating* A, int lda, const floating* B, int ldb,
                       floating beta, floating* C, int ldc) noexcept nogil:
    """Column-major C = alpha * op(A) @ op(B) + beta * C (BLAS ?gemm, the calling thread only)."""
    # cython_blas declares its inputs non-const; BLAS does not write A or B.
    if floating is float:
        sgemm(&transa, &transb, &m, &n, &k, &alpha, <float*>A, &lda, <float*>B, &ldb,
              &beta, C, &ldc)
    else:
        dgemm(&transa, &transb, &m, &n, &k, &alpha, <double*>A, &lda, <double*>B, &ldb,
              &beta, C, &ldc)


cdef inline void gemm_rowmajor(char transa, char transb, int m, int n, int k, floating alpha,
                               const floating* A, int lda, const floating* B, int ldb,
                               floating beta, floating* C, int ldc) noexcept nogil:
    """Row-major C (m, n) = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T ('N' or 'T'):
    A is stored (m, k) with 'N' or (k, m) with 'T', B (k, n) or (n, k), each row-major with
    rows lda, ldb, ldc numbers apart.

    BLAS is column-major, and a row-major matrix read column-major is its transpose: so this
    issues C^T (n x m) = op(B)^T @ op(A)^T, the operands (and their flags and sizes) swapped,
    nothing copied (as scikit-learn's _cython_blas does)."""
    _gemm(transb, transa, n, m, k, alpha, B, ldb, A, lda, beta, C, ldc)


cdef extern from "src/sgemm_avx2.h":
    # C[i*ldc + j] (+)= sum_p A[i*sa + p*sp] * B[p*ldb + j]: row-major float32, A read through
    # two strides (A, or its transpose), n a multiple of 8; only where the CPU has AVX2 and FMA
    # (``_cpu_has_avx2_fma``; a stub elsewhere). See the header for how it runs.
    bint _cpu_has_avx2_fma "minicnn_cpu_has_avx2_fma"() noexcept nogil
    void _sgemm_avx2 "minicnn_sgemm_avx2"(
        Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A, Py_ssize_t sa,
        Py_ssize_t sp, const float* B, Py_ssize_t ldb, float* C, Py_ssize_t ldc,
        bint accumulate) noexcept nogil
