# cython: language_level=3
# (boundscheck, wraparound, initializedcheck and cdivision come from setup.py, so that
#  MINICNN_DEBUG=1 can turn the checks back on for every kernel.)
"""Convolution kernels (OpenMP + BLAS): conv2d forward, backward_input, backward_weight.

Every kernel is a GEMM in disguise. Each sample is lowered to a matrix - im2col of its
planes for few-channel layers, im2row of its channels-last copy for many-channel ones (see
the notation block below) - and the contraction over (channel, kernel row, kernel column)
runs as single-threaded BLAS ``sgemm``/``dgemm`` (``scipy.linalg.cython_blas``, called
without the GIL). An OpenMP ``prange`` over chunks of samples gives every thread its own
samples and its own workspace; the weight gradient sums fixed chunks of the batch in a fixed
order. Every result is bit-identical for any thread count.

``plan(x_shape, w_shape, ...)`` tells which layout and GEMM sizes a layer gets.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

from minicnn.kernels._common cimport _imax, _imin

import numpy as np

from minicnn.kernels.blas import scipy_blas
from minicnn.kernels.geometry import out_size


# One thread pool: the kernels call scipy's BLAS from inside their OpenMP threads, so it runs
# single-threaded while they do (see kernels/blas.py for why and what it costs).
_single_threaded_blas = scipy_blas


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
    """dst[:n] = src[:n] (no overlap). Runs of 16 or more go to libc's memcpy, which uses the
    machine's widest vectors; the portable build's own loop is SSE2 only, and its speed on
    medium runs varied by up to 20% with where the compiler happened to place it."""
    cdef Py_ssize_t i
    if n >= 16:
        memcpy(dst, src, n * sizeof(floating))
        return
    for i in range(n):
        dst[i] = src[i]


cdef inline void _add(floating* dst, const floating* src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] += src[i]

# ---------------------------------------------------------------------------------------------
# Geometry, and the two ways one sample is lowered to a matrix
# ---------------------------------------------------------------------------------------------
#
# Notation (everywhere in this file):
#   x   (N, C, H, W)    input;   w (O, CG, KH, KW) weights, CG = C/G, OG = O/G per group gi
#   y   (N, O, OH, OW)  output;  P = OH*OW output pixels per sample, K = CG*KH*KW
#   Hp = H + 2*PH, Wp = W + 2*PW: the padded sample. Padding is a zero border written once
#   (or zeroed per sample where gradients are added into it), never a test per element.
#
# PLANAR layout - im2col of NCHW planes, used when runs of OW numbers are the long ones
# (few channels, e.g. a 5x5 conv on 1 channel of 28x28) and for 1x1 convs:
#   xp    (C, Hp, Wp)     the sample, zero-padded (x itself when there is no padding)
#   cols  (K, P)          cols[(c*KH + kh)*KW + kw, oh*OW + ow]
#                             = xp[gi*CG + c, oh*SH + kh*DH, ow*SW + kw*DW]
#   forward          y_g (OG, P)         = w_g (OG, K) @ cols (K, P)
#   backward input   dcols (K, P)        = w_g^T (K, OG) @ grad_out_g (OG, P);  col2im(dcols)
#   backward weight  grad_w_g (OG, K)   += grad_out_g (OG, P) @ cols^T (P, K)
#   A 1x1 stride-1 unpadded conv needs no lowering at all: cols IS x[n] (C, H*W).
#
# CHANNELS-LAST layout - im2row, used when a kernel row across all channels (KW*C numbers)
# is the long run (many channels, e.g. 80 numbers for a 5x5 kernel on 16 channels where OW
# is 14; measured 1.3-1.8x faster than planar for such layers):
#   xh    (Hp, Wp, C)     the sample, transposed to channels-last and zero-padded
#   rows  (P, K)          columns ordered (kh, kw, c): rows[oh*OW + ow, (kh*KW + kw)*CG + c]
#                             = xh[oh*SH + kh*DH, ow*SW + kw*DW, gi*CG + c]
#   wr    (O, KH, KW, CG) w reordered to match
#   forward          y_g^T (P, OG)       = rows (P, K) @ wr_g^T (K, OG), then transposed
#   backward input   drows (P, K)        = grad_out_g^T (P, OG) @ wr_g (OG, K);  row2im(drows)
#   backward weight  gwr_g (OG, K)      += grad_out_g (OG, P) @ rows (P, K)
#                    or, with long planar runs (_weight_by_columns), planar cols instead:
#                    grad_w_g^T (K, OG) += cols (K, P) @ grad_out_g^T (P, OG)
#   One GEMM takes several samples (rows stacked to (B*P, K), cols side by side to (K, B*P))
#   when P is small.
#
# Every product above is one BLAS call on row-major matrices; BLAS is column-major, so a
# row-major C = A @ B is issued as C^T = B^T @ A^T: operands swapped, no copies.

ctypedef struct Geo:
    Py_ssize_t N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G, OH, OW
    Py_ssize_t CG, OG, Hp, Wp, P, K
    Py_ssize_t XP            # Hp*Wp*C: one padded sample, either layout
    bint padded              # PH or PW > 0
    bint planar              # use the planar layout (else channels-last)
    bint pointwise           # 1x1, stride 1, unpadded (planar, no lowering)
    bint merged              # channels-last with G == 1 and DW == 1: a kernel row is one run


cdef Geo _geometry(Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                   Py_ssize_t O, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t OH, Py_ssize_t OW,
                   int SH, int SW, int PH, int PW, int DH, int DW, int G):
    """Sizes of one conv2d call, and the layout its kernels use (a function of the shapes)."""
    cdef Geo g
    g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW = N, C, H, W, O, KH, KW, OH, OW
    g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.G = SH, SW, PH, PW, DH, DW, G
    g.CG, g.OG = C // G, O // G
    g.Hp, g.Wp = H + 2 * PH, W + 2 * PW
    g.P, g.K = OH * OW, KH * KW * (C // G)
    g.XP = g.Hp * g.Wp * C
    g.padded = PH > 0 or PW > 0
    g.merged = G == 1 and DW == 1
    g.pointwise = KH == 1 and KW == 1 and SH == 1 and SW == 1 and not g.padded
    # The contiguous run each layout copies: KW*C (or CG) numbers channels-last, OW planar.
    run = KW * C if g.merged else g.CG
    g.planar = g.pointwise or (run < 16 and run < OW)
    for size in (g.P, g.K, g.O, g.XP):
        # BLAS takes 32-bit ints: refuse, rather than overflow, a dimension beyond that.
        if size > 2**31 - 1:
            raise ValueError(f"convolution too large for 32-bit BLAS: a GEMM dimension is {size}")
    return g


# --- planar ----------------------------------------------------------------------------------

cdef void _pad_planar(const floating* x, floating* xp, const Geo* g) noexcept nogil:
    """Copy sample x (C, H, W) into the interior of xp (C, Hp, Wp); the border is left as is."""
    cdef Py_ssize_t c, h
    for c in range(g.C):
        for h in range(g.H):
            _copy(xp + (c * g.Hp + h + g.PH) * g.Wp + g.PW, x + (c * g.H + h) * g.W, g.W)


cdef void _crop_planar(const floating* xp, floating* x, const Geo* g) noexcept nogil:
    """The reverse of _pad_planar: x (C, H, W) = the interior of xp (C, Hp, Wp)."""
    cdef Py_ssize_t c, h
    for c in range(g.C):
        for h in range(g.H):
            _copy(x + (c * g.H + h) * g.W, xp + (c * g.Hp + h + g.PH) * g.Wp + g.PW, g.W)


cdef void _im2col(const floating* xp, floating* cols, Py_ssize_t gi, Py_ssize_t ld,
                  const Geo* g) noexcept nogil:
    """cols (K, P) of group gi from xp (C, Hp, Wp), as in the notation block; row r of cols
    starts at cols + r*ld (ld = P, or wider when several samples' columns sit side by side)."""
    cdef Py_ssize_t c, kh, kw, oh, ow, SW = g.SW, OW = g.OW
    cdef const floating* src
    cdef floating* dst
    cdef floating* row = cols
    for c in range(gi * g.CG, (gi + 1) * g.CG):
        for kh in range(g.KH):
            for kw in range(g.KW):
                dst = row
                for oh in range(g.OH):
                    src = xp + (c * g.Hp + oh * g.SH + kh * g.DH) * g.Wp + kw * g.DW
                    if SW == 1:
                        _copy(dst, src, OW)
                    else:
                        for ow in range(OW):
                            dst[ow] = src[ow * SW]
                    dst += OW
                row += ld


cdef void _col2im(const floating* cols, floating* xp, Py_ssize_t gi,
                  const Geo* g) noexcept nogil:
    """The transpose of _im2col: add every entry of cols (K, P) into the xp pixel it was read
    from (padding entries land in the border, which the caller drops)."""
    cdef Py_ssize_t c, kh, kw, oh, ow, SW = g.SW, OW = g.OW
    cdef floating* dst
    cdef const floating* src = cols
    for c in range(gi * g.CG, (gi + 1) * g.CG):
        for kh in range(g.KH):
            for kw in range(g.KW):
                for oh in range(g.OH):
                    dst = xp + (c * g.Hp + oh * g.SH + kh * g.DH) * g.Wp + kw * g.DW
                    if SW == 1:
                        _add(dst, src, OW)
                    else:
                        for ow in range(OW):
                            dst[ow * SW] += src[ow]
                    src += OW


# --- channels-last ---------------------------------------------------------------------------

cdef extern from *:
    """
    /* One 4x4 tile of a transpose: b[j*ldb + i] = a[i*lda + j] for i, j in 0..3. x86-64
       always has SSE: four loads, the four-shuffle transpose, four stores. Elsewhere the
       plain loop. */
    #if defined(__SSE__) || defined(_M_X64)
    #include <xmmintrin.h>
    static inline void minicnn_transpose4x4(const float* a, Py_ssize_t lda,
                                            float* b, Py_ssize_t ldb) {
        __m128 r0 = _mm_loadu_ps(a), r1 = _mm_loadu_ps(a + lda);
        __m128 r2 = _mm_loadu_ps(a + 2 * lda), r3 = _mm_loadu_ps(a + 3 * lda);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(b, r0);
        _mm_storeu_ps(b + ldb, r1);
        _mm_storeu_ps(b + 2 * ldb, r2);
        _mm_storeu_ps(b + 3 * ldb, r3);
    }
    #else
    static inline void minicnn_transpose4x4(const float* a, Py_ssize_t lda,
                                            float* b, Py_ssize_t ldb) {
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                b[j * ldb + i] = a[i * lda + j];
    }
    #endif
    """
    void minicnn_transpose4x4(const float* a, Py_ssize_t lda, float* b,
                              Py_ssize_t ldb) noexcept nogil


cdef void _transpose(const floating* a, Py_ssize_t lda, floating* b, Py_ssize_t ldb,
                     Py_ssize_t R, Py_ssize_t S) noexcept nogil:
    """b[s, r] = a[r, s] for an (R, S) matrix a with row stride lda into b with row stride ldb.

    In 4x4 tiles, which for float32 are SSE shuffles: a plain loop does one strided scalar
    store per number, and was the largest cost after the GEMM in the channels-last kernels
    (the strided layer's forward: 1.5x faster with the tiles).
    """
    cdef Py_ssize_t r, s, i, j, R4 = R - R % 4, S4 = S - S % 4
    # Sweep along the contiguous axis of the side with the larger row stride, so that a
    # sweep touches only 4 of its rows: 4 KB apart (the planes of a 32x32 image), more
    # rows would compete for one L1 set.
    if lda >= ldb:
        for r in range(0, R4, 4):
            for s in range(0, S4, 4):
                _transpose4x4(a + r * lda + s, lda, b + s * ldb + r, ldb)
    else:
        for s in range(0, S4, 4):
            for r in range(0, R4, 4):
                _transpose4x4(a + r * lda + s, lda, b + s * ldb + r, ldb)
    for r in range(R4):                          # the edges
        for s in range(S4, S):
            b[s * ldb + r] = a[r * lda + s]
    for r in range(R4, R):
        for s in range(S):
            b[s * ldb + r] = a[r * lda + s]


cdef inline void _transpose4x4(const floating* a, Py_ssize_t lda, floating* b,
                               Py_ssize_t ldb) noexcept nogil:
    cdef Py_ssize_t i, j
    if floating is float:
        minicnn_transpose4x4(a, lda, b, ldb)
    else:
        for i in range(4):
            for j in range(4):
                b[j * ldb + i] = a[i * lda + j]


cdef void _to_hwc(const floating* x, floating* xh, const Geo* g) noexcept nogil:
    """Write sample x (C, H, W) into the interior of xh (Hp, Wp, C); the border is left as is.

    One input row at a time: the (C, W) slice x[:, h, :] (rows H*W apart) transposed into
    the (W, C) row xh[h + PH, PW:PW+W, :], both L1-resident. (Walking all C planes per pixel
    instead reads at a stride of H*W numbers, 4 KB for 32x32 images: every read maps to the
    same L1 set.)"""
    cdef Py_ssize_t h
    for h in range(g.H):
        _transpose(x + h * g.W, g.H * g.W, xh + ((h + g.PH) * g.Wp + g.PW) * g.C, g.C,
                   g.C, g.W)


cdef void _from_hwc(const floating* xh, floating* x, const Geo* g) noexcept nogil:
    """The reverse of _to_hwc: x (C, H, W) = the interior of xh (Hp, Wp, C)."""
    cdef Py_ssize_t h
    for h in range(g.H):
        _transpose(xh + ((h + g.PH) * g.Wp + g.PW) * g.C, g.C, x + h * g.W, g.H * g.W,
                   g.W, g.C)


cdef void _im2row(const floating* xh, floating* rows, Py_ssize_t gi, Py_ssize_t p0,
                  Py_ssize_t p1, const Geo* g) noexcept nogil:
    """Rows p0 .. p1-1 of rows (P, K) of group gi, from xh (Hp, Wp, C), written to rows[0..]."""
    cdef Py_ssize_t p, oh, ow, kh, kw, C = g.C, CG = g.CG, run = g.KW * g.C
    cdef const floating* src
    cdef floating* dst = rows
    for p in range(p0, p1):
        oh = p // g.OW
        ow = p - oh * g.OW
        for kh in range(g.KH):
            src = xh + ((oh * g.SH + kh * g.DH) * g.Wp + ow * g.SW) * C + gi * CG
            if g.merged:
                _copy(dst, src, run)
                dst += run
            else:
                for kw in range(g.KW):
                    _copy(dst, src + kw * g.DW * C, CG)
                    dst += CG


cdef void _row2im(const floating* rows, floating* xh, Py_ssize_t gi, Py_ssize_t p0,
                  Py_ssize_t p1, const Geo* g) noexcept nogil:
    """The transpose of _im2row: add rows[0..] (rows p0 .. p1-1 of group gi) into the xh
    pixels they were read from (padding entries land in the border, which the caller drops)."""
    cdef Py_ssize_t p, oh, ow, kh, kw, C = g.C, CG = g.CG, run = g.KW * g.C
    cdef floating* dst
    cdef const floating* src = rows
    for p in range(p0, p1):
        oh = p // g.OW
        ow = p - oh * g.OW
        for kh in range(g.KH):
            dst = xh + ((oh * g.SH + kh * g.DH) * g.Wp + ow * g.SW) * C + gi * CG
            if g.merged:
                _add(dst, src, run)
                src += run
            else:
                for kw in range(g.KW):
                    _add(dst + kw * g.DW * C, src, CG)
                    src += CG


# --- A GEMM of minicnn's own, for products with a small side ---------------------------------

cdef extern from *:
    """
    /* C[i*ldc + j] (+)= sum_p A[i*sa + p*sp] * B[p*ldb + j] for i < m, j < n, p < k: float32,
       all row-major, A read through two strides (so A or its transpose). n % 8 == 0.

       Each C tile of 6 rows x 16 columns is twelve AVX registers; for p = 0 .. k-1 in order,
       the 16 numbers of row p of B are loaded once and each of the 6 numbers A(i, p)
       broadcast and fused-multiply-added into its row (one rounding per term, the terms
       summed in the order of p). Leftover rows go one at a time, a leftover 8 columns 8 at a
       time, in the same order. No packing: the point is products with a small side (few
       output channels), where BLAS's packing of A and B costs more than it saves.

       The functions are compiled for AVX2 and FMA whatever the build's flags
       (target attribute), and only called when the CPU has both (minicnn_cpu_has_avx2_fma).
       Other compilers and CPUs get stubs and BLAS. */
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #include <immintrin.h>
    #define MINICNN_AVX2 __attribute__((target("avx2,fma")))
    static int minicnn_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    MINICNN_AVX2 static inline void minicnn_store_row(float* c, __m256 x0, __m256 x1,
                                                       int accumulate) {
        if (accumulate) {
            x0 = _mm256_add_ps(_mm256_loadu_ps(c), x0);
            x1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), x1);
        }
        _mm256_storeu_ps(c, x0);
        _mm256_storeu_ps(c + 8, x1);
    }
    MINICNN_AVX2 static void minicnn_tile_6x16(int k, const float* A, Py_ssize_t sa,
                                               Py_ssize_t sp, const float* B, Py_ssize_t ldb,
                                               float* C, Py_ssize_t ldc, int accumulate) {
        __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00;
        __m256 c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < k; p++) {
            const float* a = A + p * sp;
            __m256 b0 = _mm256_loadu_ps(B + p * ldb), b1 = _mm256_loadu_ps(B + p * ldb + 8);
            __m256 ai = _mm256_broadcast_ss(a);
            c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
            ai = _mm256_broadcast_ss(a + sa);
            c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
            ai = _mm256_broadcast_ss(a + 2 * sa);
            c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
            ai = _mm256_broadcast_ss(a + 3 * sa);
            c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
            ai = _mm256_broadcast_ss(a + 4 * sa);
            c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
            ai = _mm256_broadcast_ss(a + 5 * sa);
            c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
        }
        minicnn_store_row(C, c00, c01, accumulate);
        minicnn_store_row(C + ldc, c10, c11, accumulate);
        minicnn_store_row(C + 2 * ldc, c20, c21, accumulate);
        minicnn_store_row(C + 3 * ldc, c30, c31, accumulate);
        minicnn_store_row(C + 4 * ldc, c40, c41, accumulate);
        minicnn_store_row(C + 5 * ldc, c50, c51, accumulate);
    }
    MINICNN_AVX2 static void minicnn_sgemm_avx2(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                                                const float* A, Py_ssize_t sa, Py_ssize_t sp,
                                                const float* B, Py_ssize_t ldb, float* C,
                                                Py_ssize_t ldc, int accumulate) {
        Py_ssize_t i, j, p;
        for (j = 0; j + 16 <= n; j += 16) {
            for (i = 0; i + 6 <= m; i += 6)
                minicnn_tile_6x16((int)k, A + i * sa, sa, sp, B + j, ldb, C + i * ldc + j,
                                  ldc, accumulate);
            for (; i < m; i++) {                      /* the last 0-5 rows: 1 x 16 */
                __m256 x0 = _mm256_setzero_ps(), x1 = x0;
                for (p = 0; p < k; p++) {
                    __m256 ai = _mm256_broadcast_ss(A + i * sa + p * sp);
                    x0 = _mm256_fmadd_ps(ai, _mm256_loadu_ps(B + p * ldb + j), x0);
                    x1 = _mm256_fmadd_ps(ai, _mm256_loadu_ps(B + p * ldb + j + 8), x1);
                }
                minicnn_store_row(C + i * ldc + j, x0, x1, accumulate);
            }
        }
        for (; j < n; j += 8)                          /* the last 8 columns: 1 x 8 */
            for (i = 0; i < m; i++) {
                __m256 x0 = _mm256_setzero_ps();
                for (p = 0; p < k; p++)
                    x0 = _mm256_fmadd_ps(_mm256_broadcast_ss(A + i * sa + p * sp),
                                         _mm256_loadu_ps(B + p * ldb + j), x0);
                if (accumulate)
                    x0 = _mm256_add_ps(_mm256_loadu_ps(C + i * ldc + j), x0);
                _mm256_storeu_ps(C + i * ldc + j, x0);
            }
    }
    #else
    static int minicnn_cpu_has_avx2_fma(void) { return 0; }
    static void minicnn_sgemm_avx2(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A,
                                   Py_ssize_t sa, Py_ssize_t sp, const float* B,
                                   Py_ssize_t ldb, float* C, Py_ssize_t ldc, int accumulate) {}
    #endif
    """
    bint _cpu_has_avx2_fma "minicnn_cpu_has_avx2_fma"() noexcept nogil
    void _sgemm_avx2 "minicnn_sgemm_avx2"(
        Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A, Py_ssize_t sa,
        Py_ssize_t sp, const float* B, Py_ssize_t ldb, float* C, Py_ssize_t ldc,
        bint accumulate) noexcept nogil


# Where it pays, measured on an AVX2 machine against OpenBLAS's sgemm in the same minute, with
# several samples per GEMM. backward_input, a sum over the OG output channels: mnist_conv2
# (OG = 32) 1.05-1.6x faster on the GEMM alone, cifar_conv2 (64) 1.2-1.4x, strided (32)
# 1.5-2x, cifar_conv3 (128) 0.8-1.0x. The forward, a long sum over K into OG columns:
# mnist_conv2 and strided (OG = 32) 12-15% faster as whole kernels, cifar_conv2 (64) -3 to +5%,
# cifar_conv3 (128) 2-13% slower; planar (few input channels, y written directly, the GEMM
# (OG, K) @ (K, P)): mnist_conv1 (OG = 16) 1.8x faster, cifar_conv1 (32) 1.3x, 3 -> 64 channels
# 8%, 3 -> 128 5% slower. backward_weight (im2row rows, OG x K x pixels), as whole
# kernels against the best BLAS way: mnist_conv2 9-14% faster, strided 21-32%, cifar_conv2 -4
# to +1%, cifar_conv3 -2 to +11%; planar (grad_out transposed first): mnist_conv1 1.9x,
# cifar_conv1 1.4x, 3 -> 64 channels 1.2x. So (float32): backward_input's channels-last GEMMs
# with OG <= 64, the channels-last forward's and backward_weight's with OG <= 32, the planar
# forward's and backward_weight's with OG <= 64 (the side the tiles run along, K, OG or P, a
# multiple of 8; _input_gemm_avx2 and the two below say exactly). Where OpenBLAS runs
# AVX-512 kernels (the cores with small-matrix kernels, _small_gemm > 0) it has twice the
# vector width, so minicnn.kernels.runtime turns this GEMM off there; it is off, too, where
# the CPU lacks AVX2 or FMA.
cdef bint _avx2_gemm = False


def set_avx2_gemm(bint enabled):
    """Use (True) or not (False) minicnn's own AVX2 GEMM where it pays; for tests, which run
    both paths. True needs a CPU with AVX2 and FMA (else ValueError). Returns the previous
    setting. minicnn.kernels.runtime sets it when the kernels load: on where the CPU has AVX2
    and FMA and scipy's OpenBLAS has no AVX-512 small-matrix kernels."""
    global _avx2_gemm
    if enabled and not _cpu_has_avx2_fma():
        raise ValueError("enabled=True needs a CPU with AVX2 and FMA (and gcc or clang)")
    previous, _avx2_gemm = _avx2_gemm, enabled
    return previous


def avx2_gemm():
    """Whether the kernels use minicnn's own AVX2 GEMM where it pays (see ``plan``)."""
    return _avx2_gemm


def cpu_has_avx2_fma():
    """Whether this CPU (and this build's compiler) can run minicnn's AVX2 GEMM."""
    return bool(_cpu_has_avx2_fma())


cdef inline bint _input_gemm_avx2(const Geo* g) noexcept nogil:
    """backward_input's channels-last GEMM (float32) runs on _sgemm_avx2: a short sum over the
    output channels (OG <= 64) and rows of K a multiple of 8 numbers."""
    return _avx2_gemm and not g.planar and g.OG <= 64 and g.K % 8 == 0


cdef inline bint _forward_gemm_avx2(const Geo* g) noexcept nogil:
    """The forward's GEMM (float32) runs on _sgemm_avx2: channels-last with few output
    channels (OG <= 32, a multiple of 8); planar (not 1x1) with OG <= 64 and P a multiple
    of 8."""
    if g.planar:
        return _avx2_gemm and not g.pointwise and g.P % 8 == 0 and g.OG <= 64
    return _avx2_gemm and g.OG <= 32 and g.OG % 8 == 0


cdef inline Py_ssize_t _planar_ld(Py_ssize_t P) noexcept nogil:
    """The row stride of planar cols (K, P) for the forward on _sgemm_avx2: P, or P + 16 when
    P numbers are a multiple of 4 KB (rows that far apart share L1 cache sets, and the GEMM
    reads down the rows: on 32x32 images it ran 10% slower than BLAS, 1.4-1.6x faster on
    16x16, 24x24 and 40x40)."""
    return P + 16 if P % 1024 == 0 else P


cdef inline bint _weight_gemm_avx2(const Geo* g) noexcept nogil:
    """backward_weight's GEMM (float32) runs on _sgemm_avx2: channels-last (im2row rows) with
    few output channels (OG <= 32) and rows of K a multiple of 8 numbers; planar (not 1x1,
    the partial sum transposed) with OG <= 64, a multiple of 8."""
    if g.planar:
        return _avx2_gemm and not g.pointwise and g.OG <= 64 and g.OG % 8 == 0
    return _avx2_gemm and g.OG <= 32 and g.K % 8 == 0


def sgemm_avx2(const float[:, ::1] A, const float[:, ::1] B, float[:, ::1] C,
               bint transpose_a=False, bint accumulate=False):
    """C (+)= A @ B (or A.T @ B) with minicnn's own AVX2 GEMM, for tests against NumPy. C must
    be (m, n) with n a multiple of 8; A (m, k), or (k, m) with ``transpose_a``; B (k, n)."""
    cdef Py_ssize_t m = C.shape[0], n = C.shape[1]
    cdef Py_ssize_t k = A.shape[0] if transpose_a else A.shape[1]
    if not _cpu_has_avx2_fma():
        raise ValueError("this CPU (or build) cannot run the AVX2 GEMM")
    if n % 8 or (A.shape[1] if transpose_a else A.shape[0]) != m or B.shape[0] != k \
            or B.shape[1] != n or m == 0 or k == 0:
        raise ValueError(f"shapes do not fit: A {(A.shape[0], A.shape[1])} (transpose_a="
                         f"{transpose_a}), B {(B.shape[0], B.shape[1])}, C "
                         f"{(C.shape[0], C.shape[1])} with C's columns a multiple of 8")
    with nogil:
        _sgemm_avx2(m, n, k, &A[0, 0], 1 if transpose_a else A.shape[1],
                    A.shape[1] if transpose_a else 1, &B[0, 0], n, &C[0, 0], n, accumulate)


# --- GEMM sizes ------------------------------------------------------------------------------
#
# OpenBLAS (scipy's BLAS) has "small matrix" kernels for AVX-512 machines (its SkylakeX,
# Cooperlake and SapphireRapids cores) that skip packing when m*n*k <= 100^3, for the NN and NT
# forms; on such a machine they ran 1.3-1.6x faster than the packed path on these layers' shapes
# (sgemm 1 thread, 32 x 66 x 400: 145 vs 112 GFLOP/s for 32 x 392 x 400). So there the
# channels-last GEMMs are cut into pixel blocks under that size, lowered one block at a time
# (the block's rows also stay in L2). Where even 32 pixels would exceed it (many channels and
# outputs), one large GEMM runs near peak anyway: no blocks. Other cores have no small kernels,
# and blocks only shrink the GEMMs: on an AVX2 machine (OpenBLAS's Haswell core) 32 x 66 x 400
# ran at 37 GFLOP/s and 32 x 392 x 400 at 52. There _small_gemm is 0: no blocks, and several
# samples per GEMM. minicnn.kernels.runtime sets it once, from the BLAS it finds, before any
# kernel runs; it depends on the machine, never on the thread count.

cdef Py_ssize_t _small_gemm = 0


def set_small_gemm_size(Py_ssize_t size):
    """Set the BLAS's small-matrix size m*n*k (0: it has none), which ``plan`` and the kernels
    size their GEMMs by. ``minicnn.kernels.runtime`` sets it when the kernels load; tests set
    it to take each path on any machine. Returns the previous size."""
    global _small_gemm
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    previous, _small_gemm = _small_gemm, size
    return previous


def small_gemm_size():
    """The small-matrix size m*n*k the kernels plan for (0: the BLAS has no small kernels)."""
    return _small_gemm


cdef Py_ssize_t _pixel_block(Py_ssize_t mk, Py_ssize_t P) noexcept nogil:
    """Pixels per GEMM, for a GEMM whose two other sizes multiply to mk: blocks of equal size
    under _small_gemm, or all P when that would make them smaller than 32 pixels."""
    cdef Py_ssize_t cap = _small_gemm // mk, n_blocks
    if cap < 32 or cap >= P:
        return P
    n_blocks = (P + cap - 1) // cap
    return (P + n_blocks - 1) // n_blocks


# ---------------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------------

cdef inline Py_ssize_t _slot(Py_ssize_t size) noexcept nogil:
    """A per-thread (or per-partial) workspace size rounded up to a multiple of 16 numbers,
    so that every slot has the same alignment (mod 64 bytes): which slot a sample lands in
    varies with the thread count and the schedule, and a BLAS may round differently for
    differently aligned data (OpenBLAS does not, MKL can)."""
    return (_imax(size, 1) + 15) // 16 * 16


ctypedef struct Workspace:
    # One thread's slot of the workspace: up to three regions, each an offset and a size in
    # numbers from the start of the slot, laid out one after the other.
    Py_ssize_t B, blk        # samples per chunk and pixels per GEMM (_gemm_plan)
    Py_ssize_t xp, xp_size   # the padded sample(s): planar xp / gxp (C, Hp, Wp), if padded;
                             #   channels-last B xh / gxh (Hp, Wp, C), all B borders
    Py_ssize_t cols, cols_size  # the lowered matrix: planar cols / dcols (K, P), unless
                             #   pointwise; channels-last rows / drows (blk or B*P, K)
    Py_ssize_t buf, buf_size # channels-last: forward yt (B*P, O); backward, when a GEMM
                             #   covers the chunk's samples, grad_out gathered (O, B*P);
                             #   planar backward (not 1x1): grad_out_g^T (P, OG)
    Py_ssize_t slot          # the slot's size: the regions' total, rounded up by _slot


cdef Workspace _workspace(const Geo* g, bint forward) except *:
    """The layout of one thread's workspace slot for a kernel of this geometry (``forward``:
    conv2d_forward, else either backward): sizes the allocation and carves it up."""
    cdef Workspace L
    _gemm_plan(g, &L.B, &L.blk)
    if g.planar:
        L.xp_size = g.XP if g.padded else 0
        L.cols_size = 0 if g.pointwise else g.K * _planar_ld(g.P)
        # backward_weight's grad_out_g^T, for the AVX2 GEMM (which skips 1x1 convs)
        L.buf_size = 0 if forward or g.pointwise else g.P * g.OG
    else:
        L.xp_size = L.B * g.XP
        L.cols_size = (L.blk if L.blk < g.P else L.B * g.P) * g.K
        L.buf_size = L.B * g.P * g.O if forward or L.blk >= g.P else 0
    L.xp = 0
    L.cols = L.xp + L.xp_size
    L.buf = L.cols + L.cols_size
    L.slot = _slot(L.buf + L.buf_size)
    assert L.buf + L.buf_size <= L.slot, "workspace regions overrun their slot"
    return L


def workspace(x_shape, w_shape, int SH=1, int SW=1, int PH=0, int PW=0, int DH=1, int DW=1,
              int G=1):
    """The per-thread workspace layout of the three kernels for a conv2d of these shapes, for
    tests: ``{"forward": {...}, "backward": {...}}``, each with ``slot`` (numbers per thread)
    and ``xp``, ``cols``, ``buf`` as (offset, size) pairs. Arguments as in ``plan``."""
    cdef Geo g = _checked_geometry(x_shape, w_shape, SH, SW, PH, PW, DH, DW, G)
    cdef Workspace L
    layouts = {}
    for name, forward in (("forward", True), ("backward", False)):
        L = _workspace(&g, forward)
        layouts[name] = {"slot": L.slot, "xp": (L.xp, L.xp_size),
                         "cols": (L.cols, L.cols_size), "buf": (L.buf, L.buf_size)}
    return layouts


cdef object _dtype(const floating[:, :, :, ::1] a):
    """The NumPy dtype of a fused memoryview (for allocating its workspaces)."""
    return np.float32 if floating is float else np.float64


cdef object _channels_last_weights(const floating[:, :, :, ::1] w, const Geo* g,
                                   bint transposed):
    """The weights as the channels-last GEMMs read them: wr (O, KH, KW, CG), or with
    ``transposed`` wr^T (KH, KW, CG, O) = (K, O); w itself for the planar layout."""
    if g.planar:
        return w
    order = (2, 3, 1, 0) if transposed else (0, 2, 3, 1)
    return np.ascontiguousarray(np.asarray(w).transpose(order))


cdef void _gemm_plan(const Geo* g, Py_ssize_t* B, Py_ssize_t* blk) noexcept nogil:
    """Samples per chunk (B) and pixels per GEMM (blk), the same for all three kernels.

    Planar: one sample, one GEMM (y[n] is the GEMM's output). Channels-last: pixel blocks
    under _small_gemm when a sample is larger than that; else a chunk of samples per GEMM:
    as many as stay under _small_gemm, or, for layers too large for it, enough rows (>= 384)
    for BLAS to run near its peak, few enough that a thread's rows (B*P, K) stay in its L2
    (<= 1 MB of float32)."""
    cdef Py_ssize_t mk = g.OG * g.K, cap = _small_gemm // (g.OG * g.K)
    B[0], blk[0] = 1, g.P
    if g.planar:
        return
    blk[0] = _pixel_block(mk, g.P)
    if blk[0] < g.P:
        return
    if cap >= g.P:
        B[0] = _imin(8, cap // g.P)
    else:
        B[0] = _imin(8, _imax(1, (384 + g.P - 1) // g.P))
        while B[0] > 1 and B[0] * g.P * g.K > 262144:
            B[0] -= 1
    B[0] = _imin(B[0], g.N)


def plan(x_shape, w_shape, int SH=1, int SW=1, int PH=0, int PW=0, int DH=1, int DW=1,
         int G=1):
    """How the fast kernels will run a conv2d of these (validated) shapes: for tests and
    for learners who want to see the choice. Returns a dict with ``layout`` ("planar" or
    "channels_last"), ``pointwise`` (no lowering at all), ``samples_per_gemm`` (B, the
    chunk of samples one GEMM covers), ``pixels_per_gemm`` (one sample's pixels are cut into
    blocks of this size when it is smaller than OH*OW; then B = 1), ``weight_chunks``
    (the fixed cut of the batch that backward_weight sums in order), ``weight_lowering``
    (how backward_weight lowers the input: "im2col" columns, "im2row" rows, or "none" for a
    1x1 conv), ``forward_gemm``, ``input_gemm`` and ``weight_gemm`` (what runs the three
    kernels' GEMMs: "avx2", minicnn's own, or "blas") and ``small_gemm`` (the BLAS's
    small-matrix size the GEMMs were sized by, ``small_gemm_size()``). The GEMM entries and
    ``weight_lowering`` describe float32; float64 always runs BLAS, and lowers by columns
    wherever ``weight_lowering`` says "im2col" with the AVX2 GEMM off.

    Parameters
    ----------
    x_shape : (N, C, H, W)
    w_shape : (O, C/G, KH, KW)
    SH, SW, PH, PW, DH, DW, G : stride, padding, dilation, groups

    Raises
    ------
    ValueError
        naming the argument, for shapes or settings the kernels cannot run.
    """
    cdef Geo g = _checked_geometry(x_shape, w_shape, SH, SW, PH, PW, DH, DW, G)
    cdef Workspace L = _workspace(&g, False)
    if g.pointwise:
        weight_lowering = "none"
    elif g.planar or _weight_by_columns(&g, &L, _weight_gemm_avx2(&g)):
        weight_lowering = "im2col"
    else:
        weight_lowering = "im2row"
    return {"layout": "planar" if g.planar else "channels_last", "pointwise": bool(g.pointwise),
            "samples_per_gemm": L.B, "pixels_per_gemm": L.blk,
            "weight_chunks": _weight_chunks(&g), "weight_lowering": weight_lowering,
            "forward_gemm": "avx2" if _forward_gemm_avx2(&g) and L.blk >= g.P else "blas",
            "input_gemm": "avx2" if _input_gemm_avx2(&g) and L.blk >= g.P else "blas",
            "weight_gemm": "avx2" if _weight_gemm_avx2(&g) and L.blk >= g.P else "blas",
            "small_gemm": _small_gemm}


cdef Geo _checked_geometry(x_shape, w_shape, int SH, int SW, int PH, int PW, int DH, int DW,
                           int G) except *:
    """The Geo of plan()'s and workspace()'s arguments, checked first."""
    # plan() and workspace() are called directly (tests, docs/kernels.md), not through the
    # seam, and with cdivision a zero stride or group count would kill the interpreter with
    # SIGFPE: so this checks what the seam (kernels.ConvGeometry) checks before any division.
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"x_shape and w_shape must have 4 entries (N, C, H, W) and "
                         f"(O, C/G, KH, KW), got {tuple(x_shape)} and {tuple(w_shape)}")
    N, C, H, W = [int(v) for v in x_shape]
    O, CG, KH, KW = [int(v) for v in w_shape]
    for name, value, low in (("SH", SH, 1), ("SW", SW, 1), ("DH", DH, 1), ("DW", DW, 1),
                             ("PH", PH, 0), ("PW", PW, 0), ("G", G, 1),
                             ("x_shape N", N, 0), ("x_shape C", C, 1), ("x_shape H", H, 1),
                             ("x_shape W", W, 1), ("w_shape O", O, 1), ("w_shape C/G", CG, 1),
                             ("w_shape KH", KH, 1), ("w_shape KW", KW, 1)):
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if C % G or O % G or CG != C // G:
        raise ValueError(f"G={G} must divide C={C} and O={O}, and w_shape[1] must be C/G, "
                         f"got {CG}")
    if DH * (KH - 1) + 1 > H + 2 * PH or DW * (KW - 1) + 1 > W + 2 * PW:
        raise ValueError(f"the dilated kernel {KH}x{KW} (dilation {DH}, {DW}) is larger than "
                         f"the padded input {H + 2 * PH}x{W + 2 * PW}")
    OH, OW = out_size(H, PH, DH, KH, SH), out_size(W, PW, DW, KW, SW)
    return _geometry(N, C, H, W, O, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW, G)


def conv2d_forward(const floating[:, :, :, ::1] x,  # IN  (N, C, H, W)
                   const floating[:, :, :, ::1] w,  # IN  (O, C/G, KH, KW)
                   floating[:, :, :, ::1] y,        # OUT (N, O, OH, OW)
                   int SH, int SW, int PH, int PW, int DH, int DW, int G, int n_threads):
    """y = conv2d(x, w): cross-correlation with stride, padding, dilation and groups.

    Loop nest (parallel axis: chunks of B consecutive samples, B from the shapes; each
    thread lowers its samples into its own workspace and calls single-threaded BLAS)::

        for chunk in prange(ceil(N / B)):
            planar (B = 1):                                  # few channels, or 1x1
                for gi in range(G):
                    cols = im2col(pad(x[n]), gi)                         # (K, P)
                    y[n, gi*OG:(gi+1)*OG] = w_gi @ cols                  # BLAS gemm
            channels-last:                                   # many channels
                for n in chunk: xh[n] = pad(x[n].transpose(1, 2, 0))
                for gi in range(G):
                    for each block of blk pixels (B = 1), or all B*P pixels of the chunk:
                        rows = im2row(xh, gi, block)                     # (pixels, K)
                        yt[block, gi*OG:(gi+1)*OG] = rows @ wr_gi.T      # BLAS gemm
                for n in chunk: y[n] = yt[n].T                           # (P, O) -> (O, P)

    Optimisations: a lowering layout per layer chosen for long contiguous copies; GEMM
    sizes chosen for the BLAS (pixel blocks under OpenBLAS's small-matrix size, or several
    samples of a small image in one GEMM); padding as a zero border, never tested per
    element; no lowering for 1x1 convs; SSE-tiled transposes; BLAS single-threaded inside
    the OpenMP threads (one thread pool, no oversubscription).

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
    cdef Workspace L = _workspace(&g, True)
    # No more threads (and workspace slots) than chunks of samples.
    n_threads = <int>_imin(n_threads, (g.N + L.B - 1) // L.B)
    # zeros: the border of xp/xh must read as padding, and is never written.
    cdef floating[:, ::1] ws = np.zeros((n_threads, L.slot), dtype=_dtype(x))
    cdef const floating[:, :, :, ::1] wr = _channels_last_weights(w, &g, True)
    with _single_threaded_blas:
        with nogil:
            _forward(&x[0, 0, 0, 0], &wr[0, 0, 0, 0], &y[0, 0, 0, 0], &ws[0, 0], &L, &g,
                     n_threads)


cdef void _forward(const floating* x, const floating* w, floating* y, floating* ws,
                   const Workspace* L, const Geo* g, int n_threads) noexcept nogil:
    cdef Py_ssize_t chunk, B = L.B, n_chunks = (g.N + L.B - 1) // L.B
    for chunk in prange(n_chunks, schedule="dynamic", num_threads=n_threads):
        if g.planar:
            _forward_planar(x, w, y, ws + threadid() * L.slot, L, chunk, g)
        else:
            _forward_channels_last(x, w, y, ws + threadid() * L.slot, L, chunk * B,
                                   _imin(B, g.N - chunk * B), g)


cdef void _forward_planar(const floating* x, const floating* w, floating* y, floating* slot,
                          const Workspace* L, Py_ssize_t n, const Geo* g) noexcept nogil:
    cdef Py_ssize_t gi, P = g.P, K = g.K, OG = g.OG
    cdef const floating* xp = x + n * g.C * g.H * g.W
    cdef floating* cols = slot + L.cols
    if g.padded:
        _pad_planar(xp, slot + L.xp, g)
        xp = slot + L.xp
    cdef bint avx2 = floating is float and _forward_gemm_avx2(g)
    cdef Py_ssize_t ld = _planar_ld(P) if avx2 else P       # cols' row stride
    for gi in range(g.G):
        if g.pointwise:
            cols = <floating*>(xp + gi * K * P)   # read only: the GEMM's input
        else:
            _im2col(xp, cols, gi, ld, g)
        if floating is float and avx2:
            # y_g (OG, P) = w_g (OG, K) @ cols (K, P; rows ld apart) on minicnn's own GEMM
            _sgemm_avx2(OG, P, K, w + gi * OG * K, K, 1, cols, ld,
                        y + (n * g.O + gi * OG) * P, P, False)
        else:
            # Row-major y_g (OG, P) = w_g (OG, K) @ cols (K, P); column-major that is
            # y_g^T (P x OG) = cols^T (P x K) @ w_g^T (K x OG), all three as stored.
            _gemm(c'N', c'N', <int>P, <int>OG, <int>K, <floating>1, cols, <int>P,
                  w + gi * OG * K, <int>K, <floating>0, y + (n * g.O + gi * OG) * P, <int>P)


cdef void _forward_channels_last(const floating* x, const floating* wrt, floating* y,
                                 floating* slot, const Workspace* L, Py_ssize_t n0,
                                 Py_ssize_t nb, const Geo* g) noexcept nogil:
    """Samples n0 .. n0+nb-1 (nb <= B) through the workspace slot; with blk < P (then
    B = 1) the sample's pixels go through the GEMM in blocks of blk."""
    cdef Py_ssize_t b, gi, p0, p1, P = g.P, K = g.K, O = g.O, OG = g.OG, blk = L.blk
    cdef floating* xh = slot + L.xp              # (B, Hp, Wp, C)
    cdef floating* rows = slot + L.cols          # (blk or B*P, K), after all B borders
    cdef floating* yt = slot + L.buf             # (B*P, O)
    for b in range(nb):
        _to_hwc(x + (n0 + b) * g.C * g.H * g.W, xh + b * g.XP, g)
    for gi in range(g.G):
        if blk < P:
            p0 = 0
            while p0 < P:
                p1 = _imin(p0 + blk, P)
                _im2row(xh, rows, gi, p0, p1, g)
                # Column-major yt_g (OG x n, ld O) = wr_g (OG x K: wr^T stored (K, O), ld O)
                # @ rows^T (K x n, stored as is): yt row-major is (P, O).
                _gemm(c'N', c'N', <int>OG, <int>(p1 - p0), <int>K, <floating>1,
                      wrt + gi * OG, <int>O, rows, <int>K, <floating>0,
                      yt + p0 * O + gi * OG, <int>O)
                p0 = p1
        else:
            for b in range(nb):
                _im2row(xh + b * g.XP, rows + b * P * K, gi, 0, P, g)
            if floating is float and _forward_gemm_avx2(g):
                # yt_g (nb*P, OG; row stride O) = rows (nb*P, K) @ wr_g^T (K, OG; ld O)
                _sgemm_avx2(nb * P, OG, K, rows, K, 1, wrt + gi * OG, O, yt + gi * OG, O,
                            False)
            else:
                _gemm(c'N', c'N', <int>OG, <int>(nb * P), <int>K, <floating>1, wrt + gi * OG,
                      <int>O, rows, <int>K, <floating>0, yt + gi * OG, <int>O)
    for b in range(nb):
        _transpose(yt + b * P * O, O, y + (n0 + b) * O * P, P, P, O)   # (P, O) -> (O, P)


# ---------------------------------------------------------------------------------------------
# Backward input
# ---------------------------------------------------------------------------------------------

cdef void _gather(const floating* a, floating* buf, Py_ssize_t n0, Py_ssize_t nb,
                  const Geo* g) noexcept nogil:
    """buf (O, nb*P) = grad_out[n0:n0+nb] (nb, O, P) with the sample axis moved inside: the
    operand of one GEMM over a chunk of samples (rows gi*OG.. of it are group gi's)."""
    cdef Py_ssize_t o, b, P = g.P
    for o in range(g.O):
        for b in range(nb):
            _copy(buf + (o * nb + b) * P, a + ((n0 + b) * g.O + o) * P, P)


def conv2d_backward_input(const floating[:, :, :, ::1] grad_out,  # IN  (N, O, OH, OW)
                          const floating[:, :, :, ::1] w,         # IN  (O, C/G, KH, KW)
                          floating[:, :, :, ::1] grad_x,          # OUT (N, C, H, W)
                          int SH, int SW, int PH, int PW, int DH, int DW, int G,
                          int n_threads):
    """grad_x = the gradient of conv2d_forward with respect to x (a transposed convolution).

    Loop nest (parallel axis: chunks of B consecutive samples, as in the forward; a chunk only
    writes its own samples of grad_x and the thread's own workspace, so the scatter-adds
    never race and the result does not depend on the thread count)::

        for chunk in prange(ceil(N / B)):
            planar (B = 1):
                gxp = 0                                                  # (C, Hp, Wp)
                for gi in range(G):
                    dcols = w_gi.T @ grad_out[n, gi*OG:(gi+1)*OG]                # (K, P)
                    gxp += col2im(dcols, gi)
                grad_x[n] = crop(gxp)
            channels-last:
                gxh[n] = 0 for n in chunk                                # (Hp, Wp, C) each
                for gi in range(G):
                    for each pixel block (or the whole chunk's pixels at once):
                        drows = grad_out[chunk, gi*OG:(gi+1)*OG, block].T @ wr_gi  # (n, K)
                        gxh[n] += row2im(drows, gi)
                grad_x[n] = crop(gxh[n]).transpose(2, 0, 1) for n in chunk

    A 1x1 stride-1 unpadded conv writes the GEMM straight into grad_x[n]. A chunk of
    samples is one GEMM over grad_out gathered to (O, B*P).

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
    cdef Workspace L = _workspace(&g, False)
    n_threads = <int>_imin(n_threads, (g.N + L.B - 1) // L.B)   # no more than chunks
    cdef floating[:, ::1] ws = np.empty((n_threads, L.slot), dtype=_dtype(w))
    cdef const floating[:, :, :, ::1] wr = _channels_last_weights(w, &g, False)
    with _single_threaded_blas:
        with nogil:
            _backward_input(&grad_out[0, 0, 0, 0], &wr[0, 0, 0, 0], &grad_x[0, 0, 0, 0],
                            &ws[0, 0], &L, &g, n_threads)


cdef void _backward_input(const floating* grad_out, const floating* w, floating* grad_x,
                          floating* ws, const Workspace* L, const Geo* g,
                          int n_threads) noexcept nogil:
    cdef Py_ssize_t chunk, B = L.B, n_chunks = (g.N + L.B - 1) // L.B
    for chunk in prange(n_chunks, schedule="dynamic", num_threads=n_threads):
        if g.planar:
            _backward_input_planar(grad_out, w, grad_x, ws + threadid() * L.slot, L, chunk, g)
        else:
            _backward_input_channels_last(grad_out, w, grad_x, ws + threadid() * L.slot, L,
                                          chunk * B, _imin(B, g.N - chunk * B), g)


cdef void _backward_input_planar(const floating* grad_out, const floating* w,
                                 floating* grad_x, floating* slot, const Workspace* L,
                                 Py_ssize_t n, const Geo* g) noexcept nogil:
    cdef Py_ssize_t gi, P = g.P, K = g.K, OG = g.OG
    cdef floating* gx = grad_x + n * g.C * g.H * g.W
    cdef floating* gxp = slot + L.xp if g.padded else gx   # where the gradient is accumulated
    cdef floating* dcols = slot + L.cols
    if not g.pointwise:
        memset(gxp, 0, g.XP * sizeof(floating))
    for gi in range(g.G):
        if g.pointwise:
            dcols = gxp + gi * K * P                # the GEMM writes grad_x[n] directly
        # Row-major dcols (K, P) = w_g^T (K, OG) @ grad_out_g (OG, P); column-major
        # dcols^T (P x K) = grad_out_g^T (P x OG, as stored) @ w_g (OG x K, stored as its
        # transpose, so 'T').
        _gemm(c'N', c'T', <int>P, <int>K, <int>OG, <floating>1,
              grad_out + (n * g.O + gi * OG) * P, <int>P, w + gi * OG * K, <int>K,
              <floating>0, dcols, <int>P)
        if not g.pointwise:
            _col2im(dcols, gxp, gi, g)
    if g.padded:
        _crop_planar(gxp, gx, g)


cdef void _backward_input_channels_last(const floating* grad_out, const floating* wr,
                                        floating* grad_x, floating* slot, const Workspace* L,
                                        Py_ssize_t n0, Py_ssize_t nb,
                                        const Geo* g) noexcept nogil:
    """Samples n0 .. n0+nb-1 (nb <= B); with blk < P (then B = 1) in pixel blocks of blk."""
    cdef Py_ssize_t b, gi, p0, p1, P = g.P, K = g.K, OG = g.OG, blk = L.blk
    cdef floating* gxh = slot + L.xp             # (B, Hp, Wp, C)
    cdef floating* drows = slot + L.cols         # (blk or B*P, K)
    cdef floating* gbuf = slot + L.buf           # (O, B*P), when stacked
    memset(gxh, 0, nb * g.XP * sizeof(floating))
    if blk >= P:
        _gather(grad_out, gbuf, n0, nb, g)
    for gi in range(g.G):
        if blk < P:
            p0 = 0
            while p0 < P:                        # pixel blocks p0 .. p1-1
                p1 = _imin(p0 + blk, P)
                # Row-major drows (n, K) = grad_out_g[:, p0:p1]^T (n, OG) @ wr_g (OG, K);
                # column-major drows^T (K x n) = wr_g^T (K x OG, as stored) @
                # grad_out_g[:, p0:p1] (OG x n, stored as its transpose, so 'T').
                _gemm(c'N', c'T', <int>K, <int>(p1 - p0), <int>OG, <floating>1,
                      wr + gi * OG * K, <int>K, grad_out + (n0 * g.O + gi * OG) * P + p0,
                      <int>P, <floating>0, drows, <int>K)
                _row2im(drows, gxh, gi, p0, p1, g)
                p0 = p1
        else:
            # The same product over the chunk's nb*P pixels at once, from the gathered
            # grad_out (group gi's rows of it, ld nb*P) ...
            if floating is float and _input_gemm_avx2(g):
                # ... on minicnn's own GEMM: drows (nb*P, K) = A @ wr_g with A (nb*P, OG)
                # read as the transpose of the gathered rows (A[i, p] = gbuf_g[p, i]).
                _sgemm_avx2(nb * P, K, OG, gbuf + gi * OG * nb * P, 1, nb * P,
                            wr + gi * OG * K, K, drows, K, False)
            else:
                _gemm(c'N', c'T', <int>K, <int>(nb * P), <int>OG, <floating>1,
                      wr + gi * OG * K, <int>K, gbuf + gi * OG * nb * P, <int>(nb * P),
                      <floating>0, drows, <int>K)
            for b in range(nb):
                _row2im(drows + b * P * K, gxh + b * g.XP, gi, 0, P, g)
    for b in range(nb):
        _from_hwc(gxh + b * g.XP, grad_x + (n0 + b) * g.C * g.H * g.W, g)


# ---------------------------------------------------------------------------------------------
# Backward weight
# ---------------------------------------------------------------------------------------------

cdef Py_ssize_t _weight_chunks(const Geo* g) noexcept nogil:
    """How many partial sums the batch is cut into for backward_weight: a function of N only,
    never of the thread count, so that the fixed-order sum is the same for any thread count.
    16 chunks keep 2-4 threads balanced; few chunks keep the final sum cheap."""
    return _imin(g.N, 16)


cdef bint _weight_by_columns(const Geo* g, const Workspace* L, bint avx2) noexcept nogil:
    """Whether a channels-last layer's weight gradient lowers its samples planar instead
    (im2col columns (K, pixels), not im2row rows (pixels, K)).

    With rows, the GEMM's sizes are K x OG x pixels (m = K); with columns it can run as
    OG x K x pixels (m = OG), which OpenBLAS's packed sgemm ran 1.2-1.6x faster on an AVX2
    machine (mnist_conv2, 2 samples: 71 against 47 GFLOP/s; cifar_conv2 77 against 60).
    Worth it where the planar copies are long enough: stride 1 and runs of OW >= 12 numbers
    (measured: mnist_conv2's OW = 14 and cifar_conv2's 16 gained 14-17% and 3-10%, cifar_conv3's
    8 nothing, the strided layer lost 11%). Not with pixel blocks (small-matrix BLAS), nor where
    minicnn's AVX2 GEMM takes the rows (``avx2``: float32 and _weight_gemm_avx2), which beat
    both BLAS ways on such layers."""
    return not g.planar and L.blk >= g.P and g.SW == 1 and g.OW >= 12 and not avx2


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
    as partial buffers fit in memory, which does not change the order of the sum)::

        for wave in waves(chunks):
            for c in prange(wave):                        # thread-private workspace
                part[c] = 0
                for each group of up to B samples of chunk c (B as in the forward):
                    for gi in range(G):
                        planar:        part[c]_gi += grad_out[n]_gi @ im2col(pad(x[n]), gi).T
                        channels-last: part[c]_gi += grad_out[ns]_gi @ im2row(xh(x[ns]), gi)
                                       (per pixel block, or over the group's samples at once)
                        or, stride 1 and OW >= 12 (_weight_by_columns):
                                       part[c]_gi^T += im2col(pad(x[ns]), gi) @ grad_out[ns]_gi.T
            for o in prange(O):
                for c in wave: gw[o] += part[c][o]        # in chunk order
        grad_w = gw  (channels-last: gw.transpose(0, 3, 1, 2), from (O, KH, KW, CG);
                      by columns: each group's (K, OG) transposed)

    Every product is one BLAS GEMM accumulating into the partial (beta = 1).

    Parameters
    ----------
    x : (N, C, H, W) C-contiguous, float32 or float64
    grad_out : (N, O, OH, OW), same dtype
    grad_w : (O, C/G, KH, KW), same dtype, zero-initialised by the caller
    SH, SW, PH, PW, DH, DW, G, n_threads : as in ``conv2d_forward``
    """
    cdef Geo g = _geometry(x.shape[0], x.shape[1], x.shape[2], x.shape[3], grad_w.shape[0],
                           grad_w.shape[2], grad_w.shape[3], grad_out.shape[2],
                           grad_out.shape[3], SH, SW, PH, PW, DH, DW, G)
    cdef Py_ssize_t n_chunks = _weight_chunks(&g), OK = g.O * g.K
    n_threads = <int>_imin(n_threads, n_chunks)             # no more than chunks
    # As many partial buffers as fit in ~64 MB of float64 (at least one per thread).
    cdef Py_ssize_t n_parts = _imin(n_chunks, _imax(n_threads, 8 * 1024 * 1024 // OK))
    cdef Workspace L = _workspace(&g, False)
    dtype = _dtype(x)
    # zeros: the border of xp/xh must read as padding, and is never written.
    cdef floating[:, ::1] ws = np.zeros((n_threads, L.slot), dtype=dtype)
    # One partial sum (O, K) per row, rounded up to a slot as the workspaces are.
    cdef Py_ssize_t part_slot = _slot(OK)
    cdef floating[:, ::1] parts = np.empty((n_parts, part_slot), dtype=dtype)
    # The planar layout sums straight into grad_w; channels-last into gw (O, KH, KW, CG), or,
    # lowered to columns, into gw (G, K, OG, 1): each group's gradient transposed.
    cdef bint avx2 = floating is float and _weight_gemm_avx2(&g)
    cdef bint by_columns = _weight_by_columns(&g, &L, avx2)
    # The partials come out transposed, (K, OG) per group, by columns and on the planar AVX2 way.
    cdef bint transposed = by_columns or (g.planar and avx2)
    if transposed:
        gw = np.zeros((g.G, g.K, g.OG, 1), dtype=dtype)
    else:
        gw = grad_w if g.planar else np.zeros((g.O, g.KH, g.KW, g.CG), dtype=dtype)
    cdef floating[:, :, :, ::1] gw_view = gw
    with _single_threaded_blas:
        with nogil:
            _backward_weight(&x[0, 0, 0, 0], &grad_out[0, 0, 0, 0], &gw_view[0, 0, 0, 0],
                             &ws[0, 0], &L, &parts[0, 0], part_slot, n_parts, n_chunks,
                             by_columns, avx2, &g, n_threads)
    if transposed:
        np.asarray(grad_w).reshape(g.G, g.OG, g.K)[...] = np.asarray(gw)[..., 0].transpose(0, 2, 1)
    elif not g.planar:
        np.asarray(grad_w)[...] = np.asarray(gw).transpose(0, 3, 1, 2)


cdef void _backward_weight(const floating* x, const floating* grad_out, floating* gw,
                           floating* ws, const Workspace* L, floating* parts,
                           Py_ssize_t part_slot, Py_ssize_t n_parts, Py_ssize_t n_chunks,
                           bint by_columns, bint avx2, const Geo* g,
                           int n_threads) noexcept nogil:
    # parts[j] starts at j*part_slot (O*K rounded up by _slot). The sum is elementwise, so
    # it runs over O rows of K numbers whichever layout the parts and gw share.
    cdef Py_ssize_t wave = 0, j, n, n1, o, n_in_wave, K = g.K, B = L.B
    while wave < n_chunks:                      # the chunks wave .. wave + n_in_wave - 1
        n_in_wave = _imin(n_parts, n_chunks - wave)
        for j in prange(n_in_wave, schedule="dynamic", num_threads=n_threads):
            # Chunk c = wave + j: samples [c*N/n_chunks, (c+1)*N/n_chunks), sizes differ by
            # <= 1; taken B at a time (the last group may be smaller).
            n = (wave + j) * g.N // n_chunks
            n1 = (wave + j + 1) * g.N // n_chunks
            while n < n1:
                _weight_samples(x, grad_out, parts + j * part_slot, ws + threadid() * L.slot, L,
                                n, _imin(B, n1 - n), n == (wave + j) * g.N // n_chunks,
                                by_columns, avx2, g)
                n = n + _imin(B, n1 - n)
        for o in prange(g.O, schedule="static", num_threads=n_threads):
            for j in range(n_in_wave):
                _add(gw + o * K, parts + j * part_slot + o * K, K)
        wave += n_in_wave


cdef void _weight_samples(const floating* x, const floating* grad_out, floating* part,
                          floating* slot, const Workspace* L, Py_ssize_t n0, Py_ssize_t nb,
                          bint first, bint by_columns, bint avx2,
                          const Geo* g) noexcept nogil:
    """part += the weight gradient of samples n0 .. n0+nb-1, nb <= B (part = it, if first).

    The workspace slot holds B xh (their zero borders are written once, when allocated, so
    the rows after them start at B*XP whatever nb is), then rows, then gathered grad_out.
    With ``by_columns`` (channels-last layers, _weight_by_columns) the B padded samples are
    planar xp instead, the rows columns (K, nb*P), and part is (K, OG) per group. ``avx2``
    (float32 and _weight_gemm_avx2, decided once per call with the layout of the sums): the
    GEMMs run on _sgemm_avx2, and a planar layer's part is (K, OG) per group too."""
    cdef Py_ssize_t b, gi, p0, p1, P = g.P, K = g.K, OG = g.OG, blk = L.blk
    cdef floating beta = 0 if first else 1
    cdef const floating* xn = x + n0 * g.C * g.H * g.W
    cdef const floating* go = grad_out + n0 * g.O * P
    cdef floating* xs = slot + L.xp              # planar xp, or B channels-last xh
    cdef floating* cols = slot + L.cols          # planar cols, or channels-last rows
    cdef floating* gbuf = slot + L.buf           # grad_out gathered, when stacked
    cdef Py_ssize_t ld = _planar_ld(P) if avx2 else P
    if g.planar:                                 # nb = 1
        if g.padded:
            _pad_planar(xn, xs, g)
            xn = xs
        for gi in range(g.G):
            if g.pointwise:
                cols = <floating*>(xn + gi * K * P)   # read only: the GEMM's input
            else:
                _im2col(xn, cols, gi, ld, g)
            if floating is float and avx2:
                # part_g^T (K, OG) (+)= cols (K, P; rows ld apart) @ grad_out_g^T (P, OG) on
                # minicnn's own GEMM, grad_out_g transposed into the workspace first.
                _transpose(go + gi * OG * P, P, gbuf, OG, OG, P)
                _sgemm_avx2(K, OG, P, cols, ld, 1, gbuf, OG, part + gi * K * OG, OG, not first)
            else:
                # Row-major part_g (OG, K) += grad_out_g (OG, P) @ cols^T (P, K); column-major
                # part_g^T (K x OG) += cols (K x P, stored as its transpose, so 'T') @
                # grad_out_g^T (P x OG, as stored).
                _gemm(c'T', c'N', <int>K, <int>OG, <int>P, <floating>1, cols, <int>P,
                      go + gi * OG * P, <int>P, beta, part + gi * OG * K, <int>K)
    elif blk < P:                                # nb = 1, pixel blocks
        _to_hwc(xn, xs, g)
        for gi in range(g.G):
            p0 = 0
            while p0 < P:                        # pixel blocks p0 .. p1-1, summed in order
                p1 = _imin(p0 + blk, P)
                _im2row(xs, cols, gi, p0, p1, g)
                # Row-major part_g (OG, K) += grad_out_g[:, p0:p1] (OG, n) @ rows (n, K);
                # column-major part_g^T (K x OG) += rows^T (K x n, as stored) @
                # grad_out_g[:, p0:p1]^T (n x OG, as stored with ld P).
                _gemm(c'N', c'N', <int>K, <int>OG, <int>(p1 - p0), <floating>1, cols, <int>K,
                      go + gi * OG * P + p0, <int>P, beta if p0 == 0 else 1,
                      part + gi * OG * K, <int>K)
                p0 = p1
    elif by_columns:                             # nb samples, lowered planar
        _gather(grad_out, gbuf, n0, nb, g)
        for b in range(nb):
            if g.padded:
                _pad_planar(xn + b * g.C * g.H * g.W, xs + b * g.XP, g)
        for gi in range(g.G):
            for b in range(nb):                  # sample b's columns: cols[:, b*P:(b+1)*P]
                _im2col(xs + b * g.XP if g.padded else xn + b * g.C * g.H * g.W,
                        cols + b * P, gi, nb * P, g)
            # Row-major part_g^T (K, OG) += cols (K, nb*P) @ grad_out_g^T (nb*P, OG);
            # column-major part_g (OG x K, ld OG) += grad_out_g (OG x nb*P: gathered, stored
            # as its transpose, so 'T') @ cols^T (nb*P x K, as stored).
            _gemm(c'T', c'N', <int>OG, <int>K, <int>(nb * P), <floating>1,
                  gbuf + gi * OG * nb * P, <int>(nb * P), cols, <int>(nb * P), beta,
                  part + gi * K * OG, <int>OG)
    else:                                        # nb samples in one GEMM per group
        for b in range(nb):
            _to_hwc(xn + b * g.C * g.H * g.W, xs + b * g.XP, g)
        _gather(grad_out, gbuf, n0, nb, g)
        for gi in range(g.G):
            for b in range(nb):
                _im2row(xs + b * g.XP, cols + b * P * K, gi, 0, P, g)
            # As above over the nb*P pixels of the samples, grad_out gathered (ld nb*P) ...
            if floating is float and avx2:
                # ... on minicnn's own GEMM: part_g (OG, K) (+)= gbuf_g (OG, nb*P) @ rows
                _sgemm_avx2(OG, K, nb * P, gbuf + gi * OG * nb * P, nb * P, 1, cols, K,
                            part + gi * OG * K, K, not first)
            else:
                _gemm(c'N', c'N', <int>K, <int>OG, <int>(nb * P), <floating>1, cols, <int>K,
                      gbuf + gi * OG * nb * P, <int>(nb * P), beta, part + gi * OG * K,
                      <int>K)
