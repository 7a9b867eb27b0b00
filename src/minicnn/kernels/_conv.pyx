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
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

import os
import threading

import numpy as np
import scipy


# ---------------------------------------------------------------------------------------------
# One thread pool: scipy's BLAS runs single-threaded while these kernels run
# ---------------------------------------------------------------------------------------------
#
# The kernels call BLAS from inside OpenMP threads. scipy's OpenBLAS has its own pthreads pool;
# left at its default (all cores) it would start its threads from every OpenMP thread and
# oversubscribe the cores (measured: mnist_conv2 forward 8x slower on 1 OpenMP thread with
# other work on the machine). So each kernel call holds scipy's BLAS at 1 thread and restores
# the previous count afterwards (two ctypes calls, ~4 us); the controllers are found once.

def _scipy_blas_controllers():
    """threadpoolctl controllers of the BLAS that scipy.linalg.cython_blas calls.

    pip wheels ship it in ``site-packages/scipy.libs``; other installs (conda, distro) share
    one system BLAS, which is then held too - nothing inside the kernels calls NumPy's BLAS.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return []
    blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    scipy_home = os.path.dirname(os.path.realpath(scipy.__file__))
    homes = (scipy_home + os.sep, scipy_home + ".libs" + os.sep)   # .../scipy/, .../scipy.libs/
    ours = [lib for lib in blas if os.path.realpath(lib.filepath).startswith(homes)]
    return ours or blas


_BLAS_LIBS = _scipy_blas_controllers()
_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved = []


class _SingleThreadedBlas:
    """Context manager: scipy's BLAS on 1 thread inside, its previous count restored after.

    Reentrant and safe for concurrent kernel calls from several Python threads: the first
    caller in lowers the count, the last one out restores it.
    """

    def __enter__(self):
        global _blas_users, _blas_saved
        with _blas_lock:
            if _blas_users == 0:
                _blas_saved = [lib.get_num_threads() for lib in _BLAS_LIBS]
                for lib, n in zip(_BLAS_LIBS, _blas_saved):
                    if n != 1:
                        lib.set_num_threads(1)
            _blas_users += 1

    def __exit__(self, *exc):
        global _blas_users
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for lib, n in zip(_BLAS_LIBS, _blas_saved):
                    if n != 1:
                        lib.set_num_threads(n)
        return False


_single_threaded_blas = _SingleThreadedBlas()


cdef inline Py_ssize_t _imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline Py_ssize_t _imax(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a > b else b


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


cdef inline void _copy(floating* dst, const floating* src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = src[i]


cdef inline void _add(floating* dst, const floating* src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] += src[i]


# ---------------------------------------------------------------------------------------------
# Geometry and the lowering of one sample to rows (im2row) and back (row2im)
# ---------------------------------------------------------------------------------------------
#
# Notation (everywhere in this file):
#   x      (N, C, H, W)     input;  w (O, CG, KH, KW) weights, CG = C/G, OG = O/G per group
#   y      (N, O, OH, OW)   output; P = OH*OW output pixels per sample
#   xh     (Hp, Wp, C)      one sample, transposed to channels-last and zero-padded:
#                           Hp = H + 2*PH, Wp = W + 2*PW, xh[h + PH, w + PW, c] = x[n, c, h, w]
#   rows   (P, K)           im2row of group gi, K = KH*KW*CG, columns ordered (kh, kw, c):
#                           rows[oh*OW + ow, (kh*KW + kw)*CG + c]
#                               = xh[oh*SH + kh*DH, ow*SW + kw*DW, gi*CG + c]
#   wr     (O, KH, KW, CG)  the weights reordered to match: wr[o] is one row of length K
#
# Then, per sample and group (each product is one BLAS call):
#   forward         y_g^T  (P, OG) = rows (P, K) @ wr_g^T (K, OG)
#   backward input  drows  (P, K)  = grad_out_g^T (P, OG) @ wr_g (OG, K);  grad_x = row2im(drows)
#   backward weight wr_g grad (OG, K) += grad_out_g (OG, P) @ rows (P, K)
#
# Why channels-last rows rather than the classic im2col (K, P) of NCHW planes: with columns
# ordered (kh, kw, c) one kernel row of one output pixel, KW*C numbers, is ONE contiguous run
# of xh (when G = 1 and DW = 1), e.g. 80 floats for a 5x5 kernel on 16 channels, where im2col
# copies runs of OW (14) numbers with padding tests around each. Padding lives in xh's zero
# border, so the copies never test bounds. And BLAS runs these shapes faster (measured
# sgemm, 1 thread: 106 vs 88 GFLOP/s for y = w @ cols of a 5x5x16->32 layer on 14x14).

ctypedef struct Geo:
    Py_ssize_t N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G, OH, OW
    Py_ssize_t CG, OG, Hp, Wp, P, K, XH   # XH = Hp*Wp*C, the size of one xh
    bint merged                           # G == 1 and DW == 1: a kernel row is one run
    bint pointwise                        # 1x1, stride 1, no padding, G == 1: rows IS xh


cdef Geo _geometry(Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                   Py_ssize_t O, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t OH, Py_ssize_t OW,
                   int SH, int SW, int PH, int PW, int DH, int DW, int G):
    cdef Geo g
    g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW = N, C, H, W, O, KH, KW, OH, OW
    g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.G = SH, SW, PH, PW, DH, DW, G
    g.CG, g.OG = C // G, O // G
    g.Hp, g.Wp = H + 2 * PH, W + 2 * PW
    g.P, g.K = OH * OW, KH * KW * (C // G)
    g.XH = g.Hp * g.Wp * C
    g.merged = G == 1 and DW == 1
    g.pointwise = (KH == 1 and KW == 1 and SH == 1 and SW == 1 and PH == 0 and PW == 0
                   and G == 1)
    for size in (g.P, g.K, g.O, g.XH):
        # BLAS takes 32-bit ints: refuse, rather than overflow, a dimension beyond that.
        if size > 2**31 - 1:
            raise ValueError(f"convolution too large for 32-bit BLAS: a GEMM dimension is {size}")
    return g


cdef void _to_hwc(const floating* x, floating* xh, const Geo* g) noexcept nogil:
    """Write sample x (C, H, W) into the interior of xh (Hp, Wp, C); the border is left as is
    (zeros, written once when the workspace was allocated)."""
    cdef Py_ssize_t c, h, w, C = g.C, HW = g.H * g.W
    cdef const floating* src
    cdef floating* dst
    for h in range(g.H):
        for w in range(g.W):
            src = x + h * g.W + w
            dst = xh + ((h + g.PH) * g.Wp + w + g.PW) * C
            for c in range(C):
                dst[c] = src[c * HW]


cdef void _from_hwc(const floating* xh, floating* x, const Geo* g) noexcept nogil:
    """The reverse of _to_hwc: x (C, H, W) = the interior of xh (Hp, Wp, C)."""
    cdef Py_ssize_t c, h, w, C = g.C, HW = g.H * g.W
    cdef const floating* src
    cdef floating* dst
    for h in range(g.H):
        for w in range(g.W):
            src = xh + ((h + g.PH) * g.Wp + w + g.PW) * C
            dst = x + h * g.W + w
            for c in range(C):
                dst[c * HW] = src[c]


cdef void _im2row(const floating* xh, floating* rows, Py_ssize_t gi,
                  const Geo* g) noexcept nogil:
    """rows (P, K) of group gi from xh (Hp, Wp, C), as in the notation block."""
    cdef Py_ssize_t oh, ow, kh, kw, C = g.C, CG = g.CG, run = g.KW * g.C
    cdef const floating* src
    cdef floating* dst = rows
    for oh in range(g.OH):
        for ow in range(g.OW):
            for kh in range(g.KH):
                src = xh + ((oh * g.SH + kh * g.DH) * g.Wp + ow * g.SW) * C + gi * CG
                if g.merged:
                    _copy(dst, src, run)
                    dst += run
                else:
                    for kw in range(g.KW):
                        _copy(dst, src + kw * g.DW * C, CG)
                        dst += CG


cdef void _row2im(const floating* rows, floating* xh, Py_ssize_t gi,
                  const Geo* g) noexcept nogil:
    """The transpose of _im2row: add every entry of rows (P, K) into the xh pixel it was read
    from (padding entries land in the border, which the caller ignores)."""
    cdef Py_ssize_t oh, ow, kh, kw, C = g.C, CG = g.CG, run = g.KW * g.C
    cdef floating* dst
    cdef const floating* src = rows
    for oh in range(g.OH):
        for ow in range(g.OW):
            for kh in range(g.KH):
                dst = xh + ((oh * g.SH + kh * g.DH) * g.Wp + ow * g.SW) * C + gi * CG
                if g.merged:
                    _add(dst, src, run)
                    src += run
                else:
                    for kw in range(g.KW):
                        _add(dst + kw * g.DW * C, src, CG)
                        src += CG


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

cdef object _dtype(const floating[:, :, :, ::1] a):
    """The NumPy dtype of a fused memoryview (for allocating its workspaces)."""
    return np.float32 if floating is float else np.float64


cdef Py_ssize_t _forward_batch(const Geo* g):
    """Samples per forward GEMM: enough rows (>= 384) for BLAS to run near its peak on small
    images, few enough that a thread's rows (B*P, K) stay in its L2 (<= 1 MB of float32)."""
    cdef Py_ssize_t B = _imin(8, _imax(1, (384 + g.P - 1) // g.P))
    while B > 1 and B * g.P * g.K > 262144:
        B -= 1
    return _imin(B, g.N)


def conv2d_forward(const floating[:, :, :, ::1] x,  # IN  (N, C, H, W)
                   const floating[:, :, :, ::1] w,  # IN  (O, C/G, KH, KW)
                   floating[:, :, :, ::1] y,        # OUT (N, O, OH, OW)
                   int SH, int SW, int PH, int PW, int DH, int DW, int G, int n_threads):
    """y = conv2d(x, w): cross-correlation with stride, padding, dilation and groups.

    Loop nest (parallel axis: chunks of B samples, B from the shapes; each thread owns its
    workspace xh (B, Hp, Wp, C), rows (B*P, K), yt (B*P, O))::

        for chunk in prange(ceil(N / B)):
            for n in chunk: xh[n] = pad(x[n].transpose(1, 2, 0))
            for gi in range(G):
                for n in chunk: rows[n] = im2row(xh[n], gi)               # (P, K) each
                yt[:, gi*OG:(gi+1)*OG] = rows @ wr_gi.T                   # one BLAS gemm
            for n in chunk: y[n] = yt[n].T                                # (O, P)

    Optimisations: one GEMM covers several samples of a small image; channels-last rows make
    the lowering long contiguous copies; padding is a zero border, never tested per element;
    a 1x1 stride-1 unpadded conv skips the lowering (xh is already rows); BLAS runs
    single-threaded inside the OpenMP threads (one thread pool).

    Parameters
    ----------
    x : (N, C, H, W) C-contiguous, float32 or float64
    w : (O, C/G, KH, KW), same dtype
    y : (N, O, OH, OW), same dtype, overwritten
    SH, SW, PH, PW, DH, DW, G : stride, padding, dilation, groups (validated by the caller)
    n_threads : number of OpenMP threads
    """
    cdef Geo g = _geometry(x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0],
                           w.shape[2], w.shape[3], y.shape[2], y.shape[3],
                           SH, SW, PH, PW, DH, DW, G)
    cdef Py_ssize_t B = _forward_batch(&g)
    cdef Py_ssize_t rows_size = 0 if g.pointwise else B * g.P * g.K
    cdef Py_ssize_t stride = B * g.XH + rows_size + B * g.P * g.O
    # zeros: the border of every xh must read as padding, and is never written.
    cdef floating[:, ::1] ws = np.zeros((n_threads, stride), dtype=_dtype(x))
    cdef const floating[:, :, :, ::1] wr = np.ascontiguousarray(np.asarray(w).transpose(0, 2, 3, 1))
    with _single_threaded_blas:
        with nogil:
            _forward(&x[0, 0, 0, 0], &wr[0, 0, 0, 0], &y[0, 0, 0, 0], &ws[0, 0], stride, B,
                     &g, n_threads)


cdef void _forward(const floating* x, const floating* wr, floating* y, floating* ws,
                   Py_ssize_t stride, Py_ssize_t B, const Geo* g, int n_threads) noexcept nogil:
    cdef Py_ssize_t chunk, n0, nb, b, gi, o, p, n_chunks = (g.N + B - 1) // B
    cdef Py_ssize_t P = g.P, K = g.K, O = g.O, OG = g.OG
    cdef floating* xh
    cdef floating* rows
    cdef floating* yt
    cdef floating* yn
    cdef const floating* src
    for chunk in prange(n_chunks, schedule="static", num_threads=n_threads):
        xh = ws + threadid() * stride
        rows = xh if g.pointwise else xh + B * g.XH
        yt = xh + B * g.XH + (0 if g.pointwise else B * P * K)
        n0 = chunk * B
        nb = _imin(B, g.N - n0)
        for b in range(nb):
            _to_hwc(x + (n0 + b) * g.C * g.H * g.W, xh + b * g.XH, g)
        for gi in range(g.G):
            if not g.pointwise:
                for b in range(nb):
                    _im2row(xh + b * g.XH, rows + b * P * K, gi, g)
            # Column-major, yt_g (OG x nb*P, ldc O) = wr_g^T... i.e. op(A) = wr_g as (OG, K)
            # read transposed, B = rows as (K x nb*P): BLAS sees no copies of ours.
            _gemm(c'T', c'N', <int>OG, <int>(nb * P), <int>K, <floating>1,
                  wr + gi * OG * K, <int>K, rows, <int>K, <floating>0, yt + gi * OG, <int>O)
        for b in range(nb):
            # (P, O) -> (O, P): a small transpose, resident in L1/L2.
            yn = y + (n0 + b) * O * P
            src = yt + b * P * O
            for o in range(O):
                for p in range(P):
                    yn[o * P + p] = src[p * O + o]


def conv2d_backward_input(const floating[:, :, :, ::1] grad_out,  # IN  (N, O, OH, OW)
                          const floating[:, :, :, ::1] w,         # IN  (O, C/G, KH, KW)
                          floating[:, :, :, ::1] grad_x,          # OUT (N, C, H, W)
                          int SH, int SW, int PH, int PW, int DH, int DW, int G,
                          int n_threads):
    """grad_x = the gradient of conv2d_forward with respect to x (a transposed convolution).

    Loop nest (parallel axis: samples; sample n only writes grad_x[n] and the thread's own
    workspace, so the scatter-adds of row2im never race)::

        for n in prange(N):
            gxh = 0                                                     # (Hp, Wp, C)
            for gi in range(G):
                drows = grad_out[n, gi*OG:(gi+1)*OG].T @ wr_gi            # (P, K), BLAS
                gxh += row2im(drows, gi)
            grad_x[n] = gxh[PH:PH+H, PW:PW+W].transpose(2, 0, 1)

    Parameters
    ----------
    grad_out : (N, O, OH, OW) C-contiguous, float32 or float64
    w : (O, C/G, KH, KW), same dtype
    grad_x : (N, C, H, W), same dtype, overwritten
    SH, SW, PH, PW, DH, DW, G, n_threads : as in ``conv2d_forward``
    """
    cdef Geo g = _geometry(grad_x.shape[0], grad_x.shape[1], grad_x.shape[2], grad_x.shape[3],
                           w.shape[0], w.shape[2], w.shape[3], grad_out.shape[2],
                           grad_out.shape[3], SH, SW, PH, PW, DH, DW, G)
    cdef Py_ssize_t stride = g.XH + (0 if g.pointwise else g.P * g.K)
    cdef floating[:, ::1] ws = np.empty((n_threads, stride), dtype=_dtype(w))
    cdef const floating[:, :, :, ::1] wr = np.ascontiguousarray(np.asarray(w).transpose(0, 2, 3, 1))
    with _single_threaded_blas:
        with nogil:
            _backward_input(&grad_out[0, 0, 0, 0], &wr[0, 0, 0, 0], &grad_x[0, 0, 0, 0],
                            &ws[0, 0], stride, &g, n_threads)


cdef void _backward_input(const floating* grad_out, const floating* wr, floating* grad_x,
                          floating* ws, Py_ssize_t stride, const Geo* g,
                          int n_threads) noexcept nogil:
    cdef Py_ssize_t n, gi, P = g.P, K = g.K, OG = g.OG
    cdef floating* gxh
    cdef floating* drows
    for n in prange(g.N, schedule="static", num_threads=n_threads):
        gxh = ws + threadid() * stride
        drows = gxh if g.pointwise else gxh + g.XH
        if not g.pointwise:
            memset(gxh, 0, g.XH * sizeof(floating))
        for gi in range(g.G):
            # Column-major drows^T (K x P, ld K) = wr_g^T (K x OG) @ grad_out_g (OG x P):
            # wr_g (OG, K) row-major is (K x OG) column-major; grad_out_g (OG, P) is read
            # transposed.
            _gemm(c'N', c'T', <int>K, <int>P, <int>OG, <floating>1, wr + gi * OG * K, <int>K,
                  grad_out + (n * g.O + gi * OG) * P, <int>P, <floating>0, drows, <int>K)
            if not g.pointwise:
                _row2im(drows, gxh, gi, g)
        _from_hwc(gxh, grad_x + n * g.C * g.H * g.W, g)


cdef Py_ssize_t _weight_chunks(const Geo* g):
    """How many partial sums the batch is cut into for backward_weight: a function of N only,
    never of the thread count, so that the fixed-order sum is the same for any thread count.
    16 chunks keep 2-4 threads balanced; few chunks keep the final sum cheap."""
    return _imin(g.N, 16)


def conv2d_backward_weight(const floating[:, :, :, ::1] x,         # IN  (N, C, H, W)
                           const floating[:, :, :, ::1] grad_out,  # IN  (N, O, OH, OW)
                           floating[:, :, :, ::1] grad_w,          # OUT (O, C/G, KH, KW)
                           int SH, int SW, int PH, int PW, int DH, int DW, int G,
                           int n_threads):
    """grad_w = the gradient of conv2d_forward with respect to w, summed over the batch.

    Deterministic: the batch is cut into ``min(N, 16)`` chunks of consecutive samples (a
    function of N only); chunk c sums its samples into its own partial gradient; the partials
    are added in chunk order. So the result is bit-identical for any thread count. Loop nest
    (parallel axes: the chunks of a wave, then the rows o of the sum; a wave is as many chunks
    as partial buffers fit in memory, and does not change the order of the sum)::

        for wave in waves(chunks):
            for c in prange(wave):                          # thread-private xh, rows
                part[c] = 0
                for n in chunk c:
                    xh = pad(x[n].transpose(1, 2, 0))
                    for gi in range(G):
                        part[c][gi*OG:(gi+1)*OG] += grad_out[n, gi*OG:(gi+1)*OG] @ im2row(xh, gi)
            for o in prange(O):
                for c in wave: gwr[o] += part[c][o]         # in chunk order
        grad_w = gwr.transpose(0, 3, 1, 2)                  # (O, KH, KW, CG) -> (O, CG, KH, KW)

    Parameters
    ----------
    x : (N, C, H, W) C-contiguous, float32 or float64
    grad_out : (N, O, OH, OW), same dtype
    grad_w : (O, C/G, KH, KW), same dtype, overwritten
    SH, SW, PH, PW, DH, DW, G, n_threads : as in ``conv2d_forward``
    """
    cdef Geo g = _geometry(x.shape[0], x.shape[1], x.shape[2], x.shape[3], grad_w.shape[0],
                           grad_w.shape[2], grad_w.shape[3], grad_out.shape[2],
                           grad_out.shape[3], SH, SW, PH, PW, DH, DW, G)
    cdef Py_ssize_t n_chunks = _weight_chunks(&g), OK = g.O * g.K
    # As many partial buffers as fit in ~64 MB (at least one per thread).
    cdef Py_ssize_t n_parts = _imin(n_chunks, _imax(n_threads, 8 * 1024 * 1024 // OK))
    cdef Py_ssize_t stride = g.XH + (0 if g.pointwise else g.P * g.K)
    dtype = _dtype(x)
    cdef floating[:, ::1] ws = np.zeros((n_threads, stride), dtype=dtype)
    cdef floating[:, ::1] parts = np.empty((n_parts, OK), dtype=dtype)
    gwr = np.zeros((g.O, g.KH, g.KW, g.CG), dtype=dtype)
    cdef floating[:, :, :, ::1] gwr_view = gwr
    with _single_threaded_blas:
        with nogil:
            _backward_weight(&x[0, 0, 0, 0], &grad_out[0, 0, 0, 0], &gwr_view[0, 0, 0, 0],
                             &ws[0, 0], stride, &parts[0, 0], n_parts, n_chunks, &g, n_threads)
    np.asarray(grad_w)[...] = gwr.transpose(0, 3, 1, 2)


cdef void _backward_weight(const floating* x, const floating* grad_out, floating* gwr,
                           floating* ws, Py_ssize_t stride, floating* parts,
                           Py_ssize_t n_parts, Py_ssize_t n_chunks, const Geo* g,
                           int n_threads) noexcept nogil:
    cdef Py_ssize_t wave, j, c, n, gi, o, n_in_wave, P = g.P, K = g.K, OG = g.OG
    cdef Py_ssize_t OK = g.O * g.K
    cdef floating* xh
    cdef floating* rows
    cdef floating* part
    cdef floating beta
    wave = 0
    while wave < n_chunks:                    # the chunks wave, wave+1, ..., wave+n_in_wave-1
        n_in_wave = _imin(n_parts, n_chunks - wave)
        for j in prange(n_in_wave, schedule="static", num_threads=n_threads):
            xh = ws + threadid() * stride
            rows = xh if g.pointwise else xh + g.XH
            part = parts + j * OK
            c = wave + j
            # Chunk c holds samples [c*N/n_chunks, (c+1)*N/n_chunks): sizes differ by <= 1.
            for n in range(c * g.N // n_chunks, (c + 1) * g.N // n_chunks):
                beta = 0 if n == c * g.N // n_chunks else 1   # the first sample initialises
                _to_hwc(x + n * g.C * g.H * g.W, xh, g)
                for gi in range(g.G):
                    if not g.pointwise:
                        _im2row(xh, rows, gi, g)
                    # Column-major part_g^T (K x OG, ld K) += rows^T (K x P) @ grad_out_g^T
                    # (P x OG): rows (P, K) and grad_out_g (OG, P) row-major are exactly those.
                    _gemm(c'N', c'N', <int>K, <int>OG, <int>P, <floating>1, rows, <int>K,
                          grad_out + (n * g.O + gi * OG) * P, <int>P, beta,
                          part + gi * OG * K, <int>K)
        for o in prange(g.O, schedule="static", num_threads=n_threads):
            for j in range(n_in_wave):
                _add(gwr + o * K, parts + j * OK + o * K, K)
        wave += n_in_wave
