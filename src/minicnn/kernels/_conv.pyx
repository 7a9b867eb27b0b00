# cython: language_level=3
# (boundscheck, wraparound, initializedcheck and cdivision come from setup.py, so that
#  MINICNN_DEBUG=1 can turn the checks back on for every kernel.)
"""Convolution kernels (OpenMP + BLAS): conv2d forward, backward_input, backward_weight.

Every kernel is a GEMM in disguise. Each sample is lowered to a column matrix (im2col), the
contraction over (channel, kernel row, kernel column) runs as single-threaded BLAS
``sgemm``/``dgemm`` (``scipy.linalg.cython_blas``, called without the GIL), and an OpenMP
``prange`` over samples gives every thread its own samples and its own workspace.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

import numpy as np


cdef inline Py_ssize_t _imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline Py_ssize_t _imax(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a > b else b


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """ceil(a / b) for b > 0, and 0 for a <= 0 (C division truncates towards zero)."""
    return (a + b - 1) // b if a > 0 else 0


cdef inline void _gemm(char transa, char transb, int m, int n, int k, floating alpha,
                       const floating* A, int lda, const floating* B, int ldb,
                       floating beta, floating* C, int ldc) noexcept nogil:
    """Column-major C = alpha * op(A) @ op(B) + beta * C (BLAS ?gemm)."""
    # cython_blas declares its inputs non-const; BLAS does not write A or B.
    if floating is float:
        sgemm(&transa, &transb, &m, &n, &k, &alpha, <float*>A, &lda, <float*>B, &ldb,
              &beta, C, &ldc)
    else:
        dgemm(&transa, &transb, &m, &n, &k, &alpha, <double*>A, &lda, <double*>B, &ldb,
              &beta, C, &ldc)


# ---------------------------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------------------------
#
# Notation (one sample, one group):
#   x     (C, H, W)          the input planes, unpadded
#   cols  (K, P) with K = C*KH*KW rows and P = OH*OW columns, row-major with leading dim ldc:
#         cols[(c*KH + kh)*KW + kw, oh*OW + ow] = x_pad[c, oh*SH + kh*DH, ow*SW + kw*DW]
#   where x_pad is x with PH zero rows above and below and PW zero columns left and right.
# Then  y (O, P) = w (O, K) @ cols (K, P)          forward
#       cols = w.T @ grad_out,  grad_x = col2im(cols)   backward input (col2im adds)
#       grad_w (O, K) += grad_out (O, P) @ cols.T       backward weight
#
# Padding is never materialised: for tap (kh, kw), output column ow reads input column
# iw = ow*SW - PW + kw*DW, which is inside [0, W) exactly for ow in [ow_lo, ow_hi); the
# columns outside that range read zeros (im2col) or add nothing (col2im). Rows likewise.


cdef void _im2col(const floating* x, floating* cols, Py_ssize_t ldc,
                  Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                  Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                  Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t DH, Py_ssize_t DW,
                  Py_ssize_t OH, Py_ssize_t OW) noexcept nogil:
    """Lower x (C, H, W) to cols (C*KH*KW, OH*OW) with row stride ldc."""
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, iw0, ow_lo, ow_hi
    cdef const floating* src
    cdef floating* dst
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                iw0 = kw * DW - PW                         # input column of ow = 0
                ow_lo = _imin(_ceil_div(-iw0, SW), OW)
                ow_hi = _imax(_imin(_ceil_div(W - iw0, SW), OW), ow_lo)
                dst = cols + ((c * KH + kh) * KW + kw) * ldc
                for oh in range(OH):
                    ih = oh * SH - PH + kh * DH
                    if ih < 0 or ih >= H:
                        memset(dst, 0, OW * sizeof(floating))
                    else:
                        src = x + (c * H + ih) * W + iw0
                        memset(dst, 0, ow_lo * sizeof(floating))
                        if SW == 1:
                            memcpy(dst + ow_lo, src + ow_lo, (ow_hi - ow_lo) * sizeof(floating))
                        else:
                            for ow in range(ow_lo, ow_hi):
                                dst[ow] = src[ow * SW]
                        memset(dst + ow_hi, 0, (OW - ow_hi) * sizeof(floating))
                    dst += OW


cdef void _col2im(const floating* cols, Py_ssize_t ldc, floating* x,
                  Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                  Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                  Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t DH, Py_ssize_t DW,
                  Py_ssize_t OH, Py_ssize_t OW) noexcept nogil:
    """The transpose of _im2col: add every entry of cols into the x (C, H, W) pixel it came
    from (padding entries are dropped). x must be initialised (usually zeros)."""
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, iw0, ow_lo, ow_hi
    cdef const floating* src
    cdef floating* dst
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                iw0 = kw * DW - PW
                ow_lo = _imin(_ceil_div(-iw0, SW), OW)
                ow_hi = _imax(_imin(_ceil_div(W - iw0, SW), OW), ow_lo)
                src = cols + ((c * KH + kh) * KW + kw) * ldc
                for oh in range(OH):
                    ih = oh * SH - PH + kh * DH
                    if 0 <= ih < H:
                        dst = x + (c * H + ih) * W + iw0
                        for ow in range(ow_lo, ow_hi):
                            dst[ow * SW] += src[ow]
                    src += OW


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

def _check_blas_sizes(*sizes):
    """BLAS takes 32-bit ints: refuse (rather than overflow) a GEMM dimension beyond that."""
    for s in sizes:
        if s > 2**31 - 1:
            raise ValueError(f"convolution too large for 32-bit BLAS: a GEMM dimension is {s}")


cdef object _dtype(const floating[:, :, :, ::1] a):
    """The NumPy dtype of a fused memoryview (for allocating its workspaces)."""
    return np.float32 if floating is float else np.float64


def conv2d_forward(const floating[:, :, :, ::1] x,  # IN  (N, C, H, W)
                   const floating[:, :, :, ::1] w,  # IN  (O, C/G, KH, KW)
                   floating[:, :, :, ::1] y,        # OUT (N, O, OH, OW)
                   int SH, int SW, int PH, int PW, int DH, int DW, int G, int n_threads):
    """y = conv2d(x, w): cross-correlation with stride, padding, dilation and groups.

    Loop nest (the ``prange`` over samples is the parallel axis; each thread owns a
    workspace ``cols`` of shape (C/G * KH * KW, OH * OW))::

        for n in prange(N):
            for g in range(G):
                cols = im2col(x[n, g*C/G:(g+1)*C/G])            # (K, P)
                y[n, g*O/G:(g+1)*O/G] = w[g*O/G:(g+1)*O/G] @ cols  # BLAS gemm, 1 thread

    Parameters
    ----------
    x : (N, C, H, W) C-contiguous, float32 or float64
    w : (O, C/G, KH, KW), same dtype
    y : (N, O, OH, OW), same dtype, overwritten
    SH, SW, PH, PW, DH, DW, G : stride, padding, dilation, groups (validated by the caller)
    n_threads : number of OpenMP threads
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t O = w.shape[0], CG = w.shape[1], KH = w.shape[2], KW = w.shape[3]
    cdef Py_ssize_t OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t OG = O // G, K = CG * KH * KW, P = OH * OW
    cdef Py_ssize_t n, g, t
    _check_blas_sizes(K, P, OG)
    cdef floating[:, ::1] ws = np.empty((n_threads, K * P), dtype=_dtype(x))
    cdef floating* cols
    for n in prange(N, nogil=True, schedule="static", num_threads=n_threads):
        t = threadid()
        cols = &ws[t, 0]
        for g in range(G):
            _im2col(&x[n, g * CG, 0, 0], cols, P, CG, H, W, KH, KW, SH, SW, PH, PW, DH, DW,
                    OH, OW)
            # Row-major y_g (OG, P) = w_g (OG, K) @ cols (K, P) is, read column-major,
            # y_g^T (P, OG) = cols^T (P, K) @ w_g^T (K, OG): no transposes needed.
            _gemm(c'N', c'N', <int>P, <int>OG, <int>K, <floating>1, cols, <int>P,
                  &w[g * OG, 0, 0, 0], <int>K, <floating>0, &y[n, g * OG, 0, 0], <int>P)


def conv2d_backward_input(const floating[:, :, :, ::1] grad_out,  # IN  (N, O, OH, OW)
                          const floating[:, :, :, ::1] w,         # IN  (O, C/G, KH, KW)
                          floating[:, :, :, ::1] grad_x,          # OUT (N, C, H, W)
                          int SH, int SW, int PH, int PW, int DH, int DW, int G,
                          int n_threads):
    """grad_x = the gradient of conv2d_forward with respect to x (a transposed convolution).

    Loop nest (parallel over samples: sample n only writes grad_x[n], so the scatter-adds
    of col2im never race)::

        for n in prange(N):
            grad_x[n] = 0
            for g in range(G):
                cols = w[g*O/G:(g+1)*O/G].T @ grad_out[n, g*O/G:(g+1)*O/G]   # (K, P), BLAS
                grad_x[n, g*C/G:(g+1)*C/G] += col2im(cols)

    Parameters
    ----------
    grad_out : (N, O, OH, OW) C-contiguous, float32 or float64
    w : (O, C/G, KH, KW), same dtype
    grad_x : (N, C, H, W), same dtype, overwritten
    SH, SW, PH, PW, DH, DW, G, n_threads : as in ``conv2d_forward``
    """
    cdef Py_ssize_t N = grad_x.shape[0], C = grad_x.shape[1]
    cdef Py_ssize_t H = grad_x.shape[2], W = grad_x.shape[3]
    cdef Py_ssize_t O = w.shape[0], CG = w.shape[1], KH = w.shape[2], KW = w.shape[3]
    cdef Py_ssize_t OH = grad_out.shape[2], OW = grad_out.shape[3]
    cdef Py_ssize_t OG = O // G, K = CG * KH * KW, P = OH * OW
    cdef Py_ssize_t n, g, t
    _check_blas_sizes(K, P, OG)
    cdef floating[:, ::1] ws = np.empty((n_threads, K * P), dtype=_dtype(w))
    cdef floating* cols
    for n in prange(N, nogil=True, schedule="static", num_threads=n_threads):
        t = threadid()
        cols = &ws[t, 0]
        memset(&grad_x[n, 0, 0, 0], 0, C * H * W * sizeof(floating))
        for g in range(G):
            # Row-major cols (K, P) = w_g^T (K, OG) @ grad_out_g (OG, P); column-major that is
            # cols^T (P, K) = grad_out_g^T (P, OG) @ w_g (OG, K), with w_g read transposed.
            _gemm(c'N', c'T', <int>P, <int>K, <int>OG, <floating>1,
                  &grad_out[n, g * OG, 0, 0], <int>P, &w[g * OG, 0, 0, 0], <int>K,
                  <floating>0, cols, <int>P)
            _col2im(cols, P, &grad_x[n, g * CG, 0, 0], CG, H, W, KH, KW, SH, SW, PH, PW,
                    DH, DW, OH, OW)


def conv2d_backward_weight(const floating[:, :, :, ::1] x,         # IN  (N, C, H, W)
                           const floating[:, :, :, ::1] grad_out,  # IN  (N, O, OH, OW)
                           floating[:, :, :, ::1] grad_w,          # OUT (O, C/G, KH, KW)
                           int SH, int SW, int PH, int PW, int DH, int DW, int G,
                           int n_threads):
    """grad_w = the gradient of conv2d_forward with respect to w, summed over the batch.

    The batch is cut into fixed chunks (their size depends on the shapes only); each chunk
    sums its samples into a private partial gradient, and the partials are added into grad_w
    in chunk order. So the result is bit-identical for any thread count. Loop nest (the
    parallel axis is the chunk within a wave of ``n_threads`` chunks)::

        for wave in range(0, n_chunks, n_threads):
            for t in prange(n_threads):                  # chunk = wave + t
                part[t] = 0
                for n in chunk:
                    for g in range(G):
                        cols = im2col(x[n, g*C/G:(g+1)*C/G])                  # (K, P)
                        part[t][g*O/G:(g+1)*O/G] += grad_out[n, g-th block] @ cols.T  # BLAS
            for t in range(n_threads):                   # fixed order
                grad_w += part[t]

    Parameters
    ----------
    x : (N, C, H, W) C-contiguous, float32 or float64
    grad_out : (N, O, OH, OW), same dtype
    grad_w : (O, C/G, KH, KW), same dtype, zero-initialised by the caller
    SH, SW, PH, PW, DH, DW, G, n_threads : as in ``conv2d_forward``
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t O = grad_w.shape[0], CG = grad_w.shape[1]
    cdef Py_ssize_t KH = grad_w.shape[2], KW = grad_w.shape[3]
    cdef Py_ssize_t OH = grad_out.shape[2], OW = grad_out.shape[3]
    cdef Py_ssize_t OG = O // G, K = CG * KH * KW, P = OH * OW
    cdef Py_ssize_t chunk = 4, n_chunks = (N + 3) // 4
    cdef Py_ssize_t wave, t, c, n, g, i, n_in_wave
    _check_blas_sizes(K, P, OG)
    dtype = _dtype(x)
    cdef floating[:, ::1] ws = np.empty((n_threads, K * P), dtype=dtype)
    cdef floating[:, ::1] part = np.empty((n_threads, O * K), dtype=dtype)
    cdef floating* cols
    cdef floating* gw = &grad_w[0, 0, 0, 0]
    for wave in range(0, n_chunks, n_threads):
        n_in_wave = _imin(n_threads, n_chunks - wave)
        for t in prange(n_in_wave, nogil=True, schedule="static", num_threads=n_threads):
            cols = &ws[t, 0]
            memset(&part[t, 0], 0, O * K * sizeof(floating))
            for n in range((wave + t) * chunk, _imin((wave + t + 1) * chunk, N)):
                for g in range(G):
                    _im2col(&x[n, g * CG, 0, 0], cols, P, CG, H, W, KH, KW, SH, SW, PH, PW,
                            DH, DW, OH, OW)
                    # Row-major part_g (OG, K) += grad_out_g (OG, P) @ cols^T (P, K); column-
                    # major: part_g^T (K, OG) += cols (K, P)... read as cols^T^T @ grad_out_g^T.
                    _gemm(c'T', c'N', <int>K, <int>OG, <int>P, <floating>1, cols, <int>P,
                          &grad_out[n, g * OG, 0, 0], <int>P, <floating>1,
                          &part[t, g * OG * K], <int>K)
        with nogil:
            for c in range(n_in_wave):
                for i in range(O * K):
                    gw[i] += part[c, i]
