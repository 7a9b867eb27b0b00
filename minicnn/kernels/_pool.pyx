# cython: language_level=3
# (boundscheck, wraparound, initializedcheck and cdivision come from setup.py, so that
#  MINICNN_DEBUG=1 can turn the checks back on for every kernel.)
"""Max and average pooling, forward and backward: OpenMP-parallel Cython loops over N*C planes.

Every kernel is called by ``minicnn.kernels`` with validated, C-contiguous arrays and a
preallocated output, and runs the same two-level structure:

    for p in prange(N * C):              # parallel: one (n, c) plane per iteration
        _<op>_plane(plane p of the inputs, plane p of the output, geometry)

Pooling never mixes channels or samples, so every read and write of iteration ``p`` stays in
plane ``p``: the planes are independent, the parallel loop is race-free (also for the backward
scatter-adds, whose overlapping windows overlap only inside one plane), and the result is
bit-identical for any thread count. The per-plane helpers take raw pointers to one plane
(``x[h * W + w]``), so they read like the textbook loop.

Window geometry (padding never materialised; ``_clip_window`` in _common.pxd): output pixel
(oh, ow) covers input rows ``oh*SH - PH ... oh*SH - PH + KH - 1``, clipped to ``[0, H)``, and
the same for columns. The seam guarantees ``PH <= KH // 2``, so every clipped window holds at
least one real pixel.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.string cimport memset

from minicnn.kernels._common cimport _clip_window


# ---------------------------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------------------------

cdef Py_ssize_t _first_nan(const floating* x, Py_ssize_t W, Py_ssize_t h0, Py_ssize_t h1,
                           Py_ssize_t w0, Py_ssize_t w1) noexcept nogil:
    """Flat index of the first NaN of the window rows [h0, h1) x columns [w0, w1) (one exists)."""
    cdef Py_ssize_t h, w
    for h in range(h0, h1):
        for w in range(w0, w1):
            if x[h * W + w] != x[h * W + w]:
                return h * W + w
    return h0 * W + w0  # not reached: the caller saw a NaN


cdef void _max_pool_plane(const floating* x, floating* y, int64_t* indices,
                          Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                          Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                          Py_ssize_t PH, Py_ssize_t PW) noexcept nogil:
    """One plane: x is (H, W), y and indices are (OH, OW)."""
    cdef Py_ssize_t oh, ow, h, w, h0, h1, w0, w1, best_i
    cdef floating v, best
    cdef bint larger, has_nan
    for oh in range(OH):
        _clip_window(oh, SH, PH, KH, H, &h0, &h1)
        for ow in range(OW):
            _clip_window(ow, SW, PW, KW, W, &w0, &w1)
            # Padding is -inf, so it never wins: start from the first *real* pixel instead.
            best_i = h0 * W + w0
            best = x[best_i]
            has_nan = False
            for h in range(h0, h1):
                for w in range(w0, w1):
                    v = x[h * W + w]
                    # Strict '>' keeps the first of equal maxima (row-major window order).
                    # Written as selects, not an 'if': on real data the winner is
                    # unpredictable, and a branch here mispredicted often (2.4x slower).
                    larger = v > best
                    best = v if larger else best
                    best_i = (h * W + w) if larger else best_i
                    has_nan = has_nan | (v != v)
            if has_nan:
                # Rare: the first NaN in row-major order wins and propagates.
                best_i = _first_nan(x, W, h0, h1, w0, w1)
                best = x[best_i]
            y[oh * OW + ow] = best
            indices[oh * OW + ow] = best_i


cdef inline void _take(floating v, Py_ssize_t i, floating* best, Py_ssize_t* best_i,
                       bint* has_nan) noexcept nogil:
    """One step of the window scan above, for an unrolled window: strict '>' as selects."""
    cdef bint larger = v > best[0]
    best[0] = v if larger else best[0]
    best_i[0] = i if larger else best_i[0]
    has_nan[0] = has_nan[0] | (v != v)


cdef extern from "src/maxpool2x2.h":
    # One output row of the 2x2, stride-2 float32 max pool, four outputs at a time as SSE2
    # selects (C, in src/maxpool2x2.h); nonzero when a window holds a NaN (the caller then
    # redoes the row with the scalar scan).
    bint _max_pool_row_2x2_sse "minicnn_max_pool_row_2x2"(
        const float* r0, const float* r1, float* y, int64_t* idx, Py_ssize_t OW,
        Py_ssize_t base, Py_ssize_t W) noexcept nogil


cdef void _max_pool_row_2x2(const floating* x, floating* y, int64_t* indices, Py_ssize_t W,
                            Py_ssize_t OW, Py_ssize_t oh) noexcept nogil:
    """Output row oh of ``_max_pool_plane_2x2``: the window scan of ``_max_pool_plane``,
    unrolled (x is the plane, y and indices the row)."""
    cdef Py_ssize_t ow, i
    cdef floating best
    cdef Py_ssize_t best_i
    cdef bint has_nan
    for ow in range(OW):
        i = 2 * oh * W + 2 * ow
        best, best_i, has_nan = x[i], i, x[i] != x[i]
        _take(x[i + 1], i + 1, &best, &best_i, &has_nan)
        _take(x[i + W], i + W, &best, &best_i, &has_nan)
        _take(x[i + W + 1], i + W + 1, &best, &best_i, &has_nan)
        if has_nan:
            best_i = _first_nan(x, W, 2 * oh, 2 * oh + 2, 2 * ow, 2 * ow + 2)
            best = x[best_i]
        y[ow] = best
        indices[ow] = best_i


cdef void _max_pool_plane_2x2(const floating* x, floating* y, int64_t* indices,
                              Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH,
                              Py_ssize_t OW) noexcept nogil:
    """``_max_pool_plane`` for the common 2x2 window, stride 2, no padding (every window is
    whole): the same scan in the same row-major order, so the same results. float32 rows go
    through SSE2 selects four windows at a time (6x faster than the scalar scan on a LeNet
    layer); a row with a NaN in it is done again by the scalar scan, as are float64 rows."""
    cdef Py_ssize_t oh
    for oh in range(OH):
        if floating is float:
            if not _max_pool_row_2x2_sse(x + 2 * oh * W, x + (2 * oh + 1) * W, y + oh * OW,
                                         indices + oh * OW, OW, 2 * oh * W, W):
                continue
        _max_pool_row_2x2(x, y + oh * OW, indices + oh * OW, W, OW, oh)


def max_pool2d_forward(const floating[:, :, :, ::1] x,      # IN  (N, C, H, W)
                       floating[:, :, :, ::1] y,            # OUT (N, C, OH, OW)
                       int64_t[:, :, :, ::1] indices,       # OUT (N, C, OH, OW)
                       Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                       Py_ssize_t PH, Py_ssize_t PW, int n_threads):
    """Max pooling forward; fills ``y`` and ``indices`` in place.

    Loop nest (parallel axis: the N*C planes)::

        for p in prange(N*C):                                  # plane (n, c) = divmod(p, C)
            for oh, ow in OH x OW:
                best = first real pixel of the window
                for h, w in window clipped to the plane:       # row-major
                    if x[h, w] > best or (x[h, w] is NaN and best is not NaN):
                        best, best_i = x[h, w], h*W + w
                y[oh, ow], indices[oh, ow] = best, best_i

    Parameters
    ----------
    x : float32/float64 memoryview, shape (N, C, H, W), C-contiguous
    y : same dtype, shape (N, C, OH, OW); output
    indices : int64, shape (N, C, OH, OW); output, flat ``h*W + w`` in the unpadded plane
    KH, KW, SH, SW, PH, PW : kernel size, stride, padding (validated by the seam)
    n_threads : OpenMP threads
    """
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t p
    cdef bint two_by_two = KH == 2 and KW == 2 and SH == 2 and SW == 2 and PH == 0 and PW == 0
    with nogil:
        for p in prange(x.shape[0] * C, schedule='static', num_threads=n_threads):
            if two_by_two:
                _max_pool_plane_2x2(&x[p // C, p % C, 0, 0], &y[p // C, p % C, 0, 0],
                                    &indices[p // C, p % C, 0, 0], H, W, OH, OW)
            else:
                _max_pool_plane(&x[p // C, p % C, 0, 0], &y[p // C, p % C, 0, 0],
                                &indices[p // C, p % C, 0, 0],
                                H, W, OH, OW, KH, KW, SH, SW, PH, PW)


cdef void _max_pool_backward_plane(const floating* grad_out, const int64_t* indices,
                                   floating* grad_x, Py_ssize_t size,
                                   Py_ssize_t HW) noexcept nogil:
    """One plane: grad_out and indices hold ``size`` = OH*OW values, grad_x is HW = H*W."""
    cdef Py_ssize_t i
    # Zeroed here, by the thread that scatters into it, just before: the zeroing is parallel
    # and the plane is in that thread's cache for the scatter. (A serial np.zeros of the whole
    # grad_x before the parallel loop made the kernel slower on 2 threads than on 1: the second
    # thread then read its half back from the first one's cache, or faulted in fresh pages.)
    memset(grad_x, 0, HW * sizeof(floating))
    for i in range(size):
        grad_x[indices[i]] += grad_out[i]


def max_pool2d_backward(const floating[:, :, :, ::1] grad_out,   # IN  (N, C, OH, OW)
                        const int64_t[:, :, :, ::1] indices,     # IN  (N, C, OH, OW)
                        floating[:, :, :, ::1] grad_x,           # OUT (N, C, H, W)
                        int n_threads):
    """Max pooling backward: zero ``grad_x`` and scatter-add ``grad_out`` to the winning pixels.

    Loop nest (parallel axis: the N*C planes; overlapping windows can send several gradients
    to one pixel, but only within a plane, so the scatter is race-free)::

        for p in prange(N*C):
            grad_x[p] = 0
            for i in range(OH*OW):
                grad_x[p].flat[indices[p].flat[i]] += grad_out[p].flat[i]

    Parameters
    ----------
    grad_out : float32/float64, shape (N, C, OH, OW)
    indices : int64, shape (N, C, OH, OW), values in [0, H*W) (checked by the seam)
    grad_x : same dtype as grad_out, shape (N, C, H, W); output, overwritten (any contents)
    n_threads : OpenMP threads
    """
    cdef Py_ssize_t C = grad_out.shape[1]
    cdef Py_ssize_t size = grad_out.shape[2] * grad_out.shape[3]
    cdef Py_ssize_t HW = grad_x.shape[2] * grad_x.shape[3]
    cdef Py_ssize_t p
    with nogil:
        for p in prange(grad_out.shape[0] * C, schedule='static', num_threads=n_threads):
            _max_pool_backward_plane(&grad_out[p // C, p % C, 0, 0],
                                     &indices[p // C, p % C, 0, 0],
                                     &grad_x[p // C, p % C, 0, 0], size, HW)


# ---------------------------------------------------------------------------------------------
# Average pooling
# ---------------------------------------------------------------------------------------------

cdef inline floating _average(floating total, floating inv_area, Py_ssize_t n_real,
                              bint count_include_pad) noexcept nogil:
    """total / the window's divisor: KH*KW (as its reciprocal inv_area), or the n_real real
    pixels of the clipped window. The forward's average and the backward's share."""
    if count_include_pad:
        return total * inv_area
    return total / <floating>n_real


cdef void _avg_pool_plane(const floating* x, floating* y,
                          Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                          Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                          Py_ssize_t PH, Py_ssize_t PW, bint count_include_pad) noexcept nogil:
    """One plane: x is (H, W), y is (OH, OW)."""
    cdef Py_ssize_t oh, ow, h, w, h0, h1, w0, w1
    cdef floating total
    # One division per call instead of one per output pixel (the reciprocal differs from a
    # true division by at most one rounding; exact for power-of-two windows such as 2x2).
    cdef floating inv_area = <floating>(1.0 / <double>(KH * KW))
    for oh in range(OH):
        _clip_window(oh, SH, PH, KH, H, &h0, &h1)
        for ow in range(OW):
            _clip_window(ow, SW, PW, KW, W, &w0, &w1)
            # Padded zeros add nothing to the sum, so only real pixels are visited.
            total = 0
            for h in range(h0, h1):
                for w in range(w0, w1):
                    total = total + x[h * W + w]
            y[oh * OW + ow] = _average(total, inv_area, (h1 - h0) * (w1 - w0),
                                       count_include_pad)


def avg_pool2d_forward(const floating[:, :, :, ::1] x,      # IN  (N, C, H, W)
                       floating[:, :, :, ::1] y,            # OUT (N, C, OH, OW)
                       Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                       Py_ssize_t PH, Py_ssize_t PW, bint count_include_pad, int n_threads):
    """Average pooling forward; fills ``y`` in place.

    Loop nest (parallel axis: the N*C planes)::

        for p in prange(N*C):
            for oh, ow in OH x OW:
                total = sum of x[h, w] over the window clipped to the plane   # padding adds 0
                y[oh, ow] = total / (KH*KW if count_include_pad else number of real pixels)

    Parameters
    ----------
    x : float32/float64, shape (N, C, H, W)
    y : same dtype, shape (N, C, OH, OW); output
    KH, KW, SH, SW, PH, PW : kernel size, stride, padding (validated by the seam)
    count_include_pad : bool; padded zeros count in the divisor
    n_threads : OpenMP threads
    """
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t p
    with nogil:
        for p in prange(x.shape[0] * C, schedule='static', num_threads=n_threads):
            _avg_pool_plane(&x[p // C, p % C, 0, 0], &y[p // C, p % C, 0, 0],
                            H, W, OH, OW, KH, KW, SH, SW, PH, PW, count_include_pad)


cdef void _avg_pool_backward_plane(const floating* grad_out, floating* grad_x,
                                   Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                                   Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                                   Py_ssize_t PH, Py_ssize_t PW,
                                   bint count_include_pad) noexcept nogil:
    """One plane: grad_out is (OH, OW), grad_x is (H, W)."""
    cdef Py_ssize_t oh, ow, h, w, h0, h1, w0, w1
    cdef floating share
    cdef floating inv_area = <floating>(1.0 / <double>(KH * KW))
    memset(grad_x, 0, H * W * sizeof(floating))  # by the thread that accumulates into it
    for oh in range(OH):
        _clip_window(oh, SH, PH, KH, H, &h0, &h1)
        for ow in range(OW):
            _clip_window(ow, SW, PW, KW, W, &w0, &w1)
            share = _average(grad_out[oh * OW + ow], inv_area, (h1 - h0) * (w1 - w0),
                             count_include_pad)
            # The share meant for padded pixels is simply dropped: they are not inputs.
            for h in range(h0, h1):
                for w in range(w0, w1):
                    grad_x[h * W + w] += share


def avg_pool2d_backward(const floating[:, :, :, ::1] grad_out,   # IN  (N, C, OH, OW)
                        floating[:, :, :, ::1] grad_x,           # OUT (N, C, H, W)
                        Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                        Py_ssize_t PH, Py_ssize_t PW, bint count_include_pad, int n_threads):
    """Average pooling backward: spread each ``grad_out`` value evenly over its window.

    Loop nest (parallel axis: the N*C planes; overlapping windows accumulate only within a
    plane, so the scatter is race-free)::

        for p in prange(N*C):
            grad_x[p] = 0
            for oh, ow in OH x OW:
                share = grad_out[oh, ow] / divisor          # the divisor of the forward pass
                for h, w in window clipped to the plane:
                    grad_x[h, w] += share

    Parameters
    ----------
    grad_out : float32/float64, shape (N, C, OH, OW)
    grad_x : same dtype, shape (N, C, H, W); output, overwritten (any contents)
    KH, KW, SH, SW, PH, PW : kernel size, stride, padding of the forward pass
    count_include_pad : bool, as in the forward pass
    n_threads : OpenMP threads
    """
    cdef Py_ssize_t C = grad_x.shape[1], H = grad_x.shape[2], W = grad_x.shape[3]
    cdef Py_ssize_t OH = grad_out.shape[2], OW = grad_out.shape[3]
    cdef Py_ssize_t p
    with nogil:
        for p in prange(grad_x.shape[0] * C, schedule='static', num_threads=n_threads):
            _avg_pool_backward_plane(&grad_out[p // C, p % C, 0, 0],
                                     &grad_x[p // C, p % C, 0, 0],
                                     H, W, OH, OW, KH, KW, SH, SW, PH, PW, count_include_pad)
