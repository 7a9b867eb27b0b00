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

This file holds the three kernels and the machine settings they plan by; the lowering copies
are in _lowering.pxi (included), the GEMMs and the planning ``cdef inline`` in _gemm.pxd and
_plan.pxd, the C intrinsics in src/. ``plan(x_shape, w_shape, ...)`` tells which layout and
GEMM sizes a layer gets.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

from minicnn.kernels._common cimport _imax, _imin
from minicnn.kernels._gemm cimport _cpu_has_avx2_fma, _sgemm_avx2, gemm_rowmajor
from minicnn.kernels._plan cimport (
    Geo, Workspace, _geometry, _planar_ld, _slot, _weight_by_columns, _weight_chunks, _workspace)

include "_lowering.pxi"

import numpy as np

from minicnn.kernels.blas import scipy_blas
from minicnn.kernels.geometry import ConvGeometry, shape4


# One thread pool: the kernels call scipy's BLAS from inside their OpenMP threads, so it runs
# single-threaded while they do (see kernels/blas.py for why and what it costs).
_single_threaded_blas = scipy_blas


# ---------------------------------------------------------------------------------------------
# Notation, and the two ways one sample is lowered to a matrix
# ---------------------------------------------------------------------------------------------
#
# Notation (everywhere in this file, _lowering.pxi and _plan.pxd):
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
# Every product above is one GEMM on row-major matrices, written below as it reads here:
# gemm_rowmajor(opA, opB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc) is C (m, n) =
# alpha * op(A) (m, k) @ op(B) (k, n) + beta * C, with 'T' where a product reads a stored
# matrix transposed (w_g^T, cols^T, grad_out_g^T); _gemm.pxd issues BLAS's column-major call.
# Where a product has a small side, float32 may run it on minicnn's own AVX2 GEMM instead
# (_sgemm_avx2, C in src/sgemm_avx2.h; the plan says where).
#
# The parts: _lowering.pxi (the copies that lower a sample; included), _gemm.pxd (the GEMMs),
# _plan.pxd (Geo, and the plan of one call: GEMM sizes, where the AVX2 GEMM runs, the
# workspace layout), src/ (the C intrinsics: the 4x4 SSE transpose and the AVX2 GEMM).


# ---------------------------------------------------------------------------------------------
# The machine: two settings the plans depend on, read once per kernel call
# ---------------------------------------------------------------------------------------------
#
# Whether minicnn's own AVX2 GEMM runs where it pays (_plan.pxd says where, and why), and the
# BLAS's small-matrix size the channels-last GEMMs are sized by (_plan.pxd, "GEMM sizes").
# minicnn.kernels.runtime sets both when the kernels load; tests set them to take each path.
# A kernel reads them once, into its Workspace (_plan_call), before its parallel loop.

cdef bint _avx2_gemm = False
cdef Py_ssize_t _small_gemm = 0


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


cdef Workspace _plan_call(const Geo* g, bint forward) except *:
    """The plan of one kernel call (_workspace in _plan.pxd), with this machine's settings."""
    return _workspace(g, forward, _avx2_gemm, _small_gemm)


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


# ---------------------------------------------------------------------------------------------
# The plan, for tests and learners
# ---------------------------------------------------------------------------------------------

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
    cdef Workspace L = _plan_call(&g, False)
    if g.pointwise:
        weight_lowering = "none"
    elif g.planar or _weight_by_columns(&g, &L, L.weight_avx2):
        weight_lowering = "im2col"
    else:
        weight_lowering = "im2row"
    return {"layout": "planar" if g.planar else "channels_last", "pointwise": bool(g.pointwise),
            "samples_per_gemm": L.B, "pixels_per_gemm": L.blk,
            "weight_chunks": _weight_chunks(&g), "weight_lowering": weight_lowering,
            "forward_gemm": "avx2" if L.forward_avx2 else "blas",
            "input_gemm": "avx2" if L.input_avx2 else "blas",
            "weight_gemm": "avx2" if L.weight_avx2 else "blas",
            "small_gemm": L.small_gemm}


cdef Geo _checked_geometry(x_shape, w_shape, int SH, int SW, int PH, int PW, int DH, int DW,
                           int G) except *:
    """The Geo of plan()'s and workspace()'s arguments, checked first by the seam's own rules
    (ConvGeometry): they are called directly (tests, docs/kernels.md), and with cdivision a
    zero stride or group count would kill the interpreter with SIGFPE instead of raising."""
    geo = ConvGeometry(shape4(x_shape, "x_shape"), shape4(w_shape, "w_shape"), (SH, SW),
                       (PH, PW), (DH, DW), G)
    return _geometry(geo.N, geo.C, geo.H, geo.W, geo.O, geo.KH, geo.KW, geo.OH, geo.OW,
                     SH, SW, PH, PW, DH, DW, G)


def workspace(x_shape, w_shape, int SH=1, int SW=1, int PH=0, int PW=0, int DH=1, int DW=1,
              int G=1):
    """The per-thread workspace layout of the three kernels for a conv2d of these shapes, for
    tests: ``{"forward": {...}, "backward": {...}}``, each with ``slot`` (numbers per thread)
    and ``xp``, ``cols``, ``buf`` as (offset, size) pairs. Arguments as in ``plan``."""
    cdef Geo g = _checked_geometry(x_shape, w_shape, SH, SW, PH, PW, DH, DW, G)
    cdef Workspace L
    layouts = {}
    for name, forward in (("forward", True), ("backward", False)):
        L = _plan_call(&g, forward)
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


# ---------------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------------

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
    cdef Workspace L = _plan_call(&g, True)
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
    cdef bint avx2 = floating is float and L.forward_avx2
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
            # y_g (OG, P) = w_g (OG, K) @ cols (K, P)
            gemm_rowmajor(c'N', c'N', <int>OG, <int>P, <int>K, <floating>1, w + gi * OG * K,
                          <int>K, cols, <int>P, <floating>0, y + (n * g.O + gi * OG) * P,
                          <int>P)


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
                # yt_g[p0:p1] (n, OG; rows O apart) = rows (n, K) @ wr_g^T (K, OG; ld O)
                gemm_rowmajor(c'N', c'N', <int>(p1 - p0), <int>OG, <int>K, <floating>1,
                              rows, <int>K, wrt + gi * OG, <int>O, <floating>0,
                              yt + p0 * O + gi * OG, <int>O)
                p0 = p1
        else:
            for b in range(nb):
                _im2row(xh + b * g.XP, rows + b * P * K, gi, 0, P, g)
            # yt_g (nb*P, OG; rows O apart) = rows (nb*P, K) @ wr_g^T (K, OG; ld O)
            if floating is float and L.forward_avx2:
                _sgemm_avx2(nb * P, OG, K, rows, K, 1, wrt + gi * OG, O, yt + gi * OG, O,
                            False)
            else:
                gemm_rowmajor(c'N', c'N', <int>(nb * P), <int>OG, <int>K, <floating>1, rows,
                              <int>K, wrt + gi * OG, <int>O, <floating>0, yt + gi * OG, <int>O)
    for b in range(nb):
        _transpose(yt + b * P * O, O, y + (n0 + b) * O * P, P, P, O)   # (P, O) -> (O, P)


# ---------------------------------------------------------------------------------------------
# Backward input
# ---------------------------------------------------------------------------------------------

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
    cdef Workspace L = _plan_call(&g, False)
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
        # dcols (K, P) = w_g^T (K, OG) @ grad_out_g (OG, P)
        gemm_rowmajor(c'T', c'N', <int>K, <int>P, <int>OG, <floating>1, w + gi * OG * K,
                      <int>K, grad_out + (n * g.O + gi * OG) * P, <int>P, <floating>0, dcols,
                      <int>P)
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
                # drows (n, K) = grad_out_g[:, p0:p1]^T (n, OG) @ wr_g (OG, K)
                gemm_rowmajor(c'T', c'N', <int>(p1 - p0), <int>K, <int>OG, <floating>1,
                              grad_out + (n0 * g.O + gi * OG) * P + p0, <int>P,
                              wr + gi * OG * K, <int>K, <floating>0, drows, <int>K)
                _row2im(drows, gxh, gi, p0, p1, g)
                p0 = p1
        else:
            # The same product over the chunk's nb*P pixels at once, from the gathered
            # grad_out (group gi's rows of it, ld nb*P): drows (nb*P, K) = gbuf_g^T (nb*P, OG)
            # @ wr_g (OG, K). minicnn's own GEMM reads gbuf_g^T through its two strides.
            if floating is float and L.input_avx2:
                _sgemm_avx2(nb * P, K, OG, gbuf + gi * OG * nb * P, 1, nb * P,
                            wr + gi * OG * K, K, drows, K, False)
            else:
                gemm_rowmajor(c'T', c'N', <int>(nb * P), <int>K, <int>OG, <floating>1,
                              gbuf + gi * OG * nb * P, <int>(nb * P), wr + gi * OG * K,
                              <int>K, <floating>0, drows, <int>K)
            for b in range(nb):
                _row2im(drows + b * P * K, gxh + b * g.XP, gi, 0, P, g)
    for b in range(nb):
        _from_hwc(gxh + b * g.XP, grad_x + (n0 + b) * g.C * g.H * g.W, g)


# ---------------------------------------------------------------------------------------------
# Backward weight
# ---------------------------------------------------------------------------------------------

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
    cdef Workspace L = _plan_call(&g, False)
    dtype = _dtype(x)
    # zeros: the border of xp/xh must read as padding, and is never written.
    cdef floating[:, ::1] ws = np.zeros((n_threads, L.slot), dtype=dtype)
    # One partial sum (O, K) per row, rounded up to a slot as the workspaces are.
    cdef Py_ssize_t part_slot = _slot(OK)
    cdef floating[:, ::1] parts = np.empty((n_parts, part_slot), dtype=dtype)
    # The planar layout sums straight into grad_w; channels-last into gw (O, KH, KW, CG), or,
    # lowered to columns, into gw (G, K, OG, 1): each group's gradient transposed.
    cdef bint avx2 = floating is float and L.weight_avx2
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
    (float32 and Workspace.weight_avx2, decided once per call with the layout of the sums): the
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
                # part_g (OG, K) (+)= grad_out_g (OG, P) @ cols^T (P, K)
                gemm_rowmajor(c'N', c'T', <int>OG, <int>K, <int>P, <floating>1,
                              go + gi * OG * P, <int>P, cols, <int>P, beta,
                              part + gi * OG * K, <int>K)
    elif blk < P:                                # nb = 1, pixel blocks
        _to_hwc(xn, xs, g)
        for gi in range(g.G):
            p0 = 0
            while p0 < P:                        # pixel blocks p0 .. p1-1, summed in order
                p1 = _imin(p0 + blk, P)
                _im2row(xs, cols, gi, p0, p1, g)
                # part_g (OG, K) (+)= grad_out_g[:, p0:p1] (OG, n; ld P) @ rows (n, K)
                gemm_rowmajor(c'N', c'N', <int>OG, <int>K, <int>(p1 - p0), <floating>1,
                              go + gi * OG * P + p0, <int>P, cols, <int>K,
                              beta if p0 == 0 else 1, part + gi * OG * K, <int>K)
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
            # part_g^T (K, OG) (+)= cols (K, nb*P) @ grad_out_g^T (nb*P, OG), grad_out gathered
            gemm_rowmajor(c'N', c'T', <int>K, <int>OG, <int>(nb * P), <floating>1, cols,
                          <int>(nb * P), gbuf + gi * OG * nb * P, <int>(nb * P), beta,
                          part + gi * K * OG, <int>OG)
    else:                                        # nb samples in one GEMM per group
        for b in range(nb):
            _to_hwc(xn + b * g.C * g.H * g.W, xs + b * g.XP, g)
        _gather(grad_out, gbuf, n0, nb, g)
        for gi in range(g.G):
            for b in range(nb):
                _im2row(xs + b * g.XP, cols + b * P * K, gi, 0, P, g)
            # part_g (OG, K) (+)= grad_out_g (OG, nb*P; gathered) @ rows (nb*P, K)
            if floating is float and avx2:
                _sgemm_avx2(OG, K, nb * P, gbuf + gi * OG * nb * P, nb * P, 1, cols, K,
                            part + gi * OG * K, K, not first)
            else:
                gemm_rowmajor(c'N', c'N', <int>OG, <int>K, <int>(nb * P), <floating>1,
                              gbuf + gi * OG * nb * P, <int>(nb * P), cols, <int>K, beta,
                              part + gi * OG * K, <int>K)
