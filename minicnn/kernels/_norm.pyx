# cython: language_level=3
# (boundscheck, wraparound, initializedcheck and cdivision come from setup.py, so that
#  MINICNN_DEBUG=1 can turn the checks back on for every kernel.)
"""Batch-normalisation kernels: the per-channel statistics, the per-channel affine map, and the
two sums and the elementwise pass of the backward.

An input (N, C, S) (S = H*W, or 1 for BatchNorm1d on (N, C)) holds channel c in N runs of S
numbers, C*S apart. The sums run over one channel at a time, so the parallel axis of the
reductions is the channel: each channel's sum is done by one thread, in a fixed order (16
running sums over consecutive numbers, in float64, then added in order), so any thread count
gives the same bits. The elementwise passes split the N*C planes among the threads.

    stats:     for c in prange(C):  mean[c] = sum(x[:, c]) / M;  var[c] = sum((x[:, c] - mean[c])^2) / M
    affine:    for q in prange(N*C): y[n, c] = x[n, c] * alpha[c] + beta[c]
    backward:  for c in prange(C):  sum_dy[c] = sum(dy[:, c]);  sum_dy_xmu[c] = sum(dy[:, c] * (x[:, c] - mean[c]))
               for q in prange(N*C): dx[n, c] = k[c] * (dy[n, c] - a[c] - (x[n, c] - mean[c]) * b[c])

(M = N*S.) The readable twins are in reference.py; the formulas are derived in docs/backprop.md.
"""

from cython cimport floating
from cython.parallel cimport prange

# Running sums per channel: 16 consecutive numbers go to 16 separate sums, which the compiler
# turns into vector adds without reordering any one sum (each stays a plain left-to-right sum).
DEF LANES = 16


cdef double _sum(const floating* x, Py_ssize_t n, double shift) noexcept nogil:
    """sum(x[i] - shift) over n numbers, in float64, in the fixed order described above."""
    cdef double acc[LANES]
    cdef Py_ssize_t i, j, n16 = n - n % LANES
    cdef double total = 0
    for j in range(LANES):
        acc[j] = 0
    for i in range(0, n16, LANES):
        for j in range(LANES):
            acc[j] += <double>x[i + j] - shift
    for j in range(LANES):
        total += acc[j]
    for i in range(n16, n):
        total += <double>x[i] - shift
    return total


cdef double _sum_sq(const floating* x, Py_ssize_t n, double shift) noexcept nogil:
    """sum((x[i] - shift)^2) over n numbers, as _sum."""
    cdef double acc[LANES]
    cdef double d, total = 0
    cdef Py_ssize_t i, j, n16 = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
    for i in range(0, n16, LANES):
        for j in range(LANES):
            d = <double>x[i + j] - shift
            acc[j] += d * d
    for j in range(LANES):
        total += acc[j]
    for i in range(n16, n):
        d = <double>x[i] - shift
        total += d * d
    return total


cdef void _sum_and_sq(const floating* x, Py_ssize_t n, double shift, double* s,
                      double* q) noexcept nogil:
    """s += sum(x[i] - shift) and q += sum((x[i] - shift)^2) over n numbers, in one pass, each
    in the fixed order of _sum."""
    cdef double acc[LANES]
    cdef double acc2[LANES]
    cdef double total = 0, total2 = 0, d
    cdef Py_ssize_t i, j, n16 = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
        acc2[j] = 0
    for i in range(0, n16, LANES):
        for j in range(LANES):
            d = <double>x[i + j] - shift
            acc[j] += d
            acc2[j] += d * d
    for j in range(LANES):
        total += acc[j]
        total2 += acc2[j]
    for i in range(n16, n):
        d = <double>x[i] - shift
        total += d
        total2 += d * d
    s[0] += total
    q[0] += total2


cdef void _sums_dy(const floating* dy, const floating* x, Py_ssize_t n, double shift,
                   double* s, double* t) noexcept nogil:
    """s += sum(dy[i]) and t += sum(dy[i] * (x[i] - shift)) over n numbers, in one pass, each
    in the fixed order of _sum."""
    cdef double acc[LANES]
    cdef double acc2[LANES]
    cdef double total = 0, total2 = 0, g
    cdef Py_ssize_t i, j, n16 = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
        acc2[j] = 0
    for i in range(0, n16, LANES):
        for j in range(LANES):
            g = <double>dy[i + j]
            acc[j] += g
            acc2[j] += g * (<double>x[i + j] - shift)
    for j in range(LANES):
        total += acc[j]
        total2 += acc2[j]
    for i in range(n16, n):
        g = <double>dy[i]
        total += g
        total2 += g * (<double>x[i] - shift)
    s[0] += total
    t[0] += total2


def batch_norm_stats(const floating[:, :, ::1] x,   # IN  (N, C, S)
                     double[::1] mean,               # OUT (C,)
                     double[::1] var,                # OUT (C,) biased: sum / M
                     int n_threads):
    """Per-channel mean and biased variance of x, in float64.

    float64 x: two passes over each channel, the mean first, then the squares of the differences
    from it (no cancellation). float32 x: one pass, the sums of ``x - K`` and ``(x - K)^2`` in
    float64 with K the channel's first number, var = E[(x-K)^2] - E[x-K]^2: the shift keeps the
    cancellation to float64's rounding times (mean - K)^2 / var, far below float32's, and the
    channel is read once instead of twice.

    Loop nest (parallel axis: the channels)::

        for c in prange(C):
            float64: mean[c] = sum over n of _sum(x[n, c, :]) / M
                     var[c] = sum over n of _sum_sq(x[n, c, :], mean[c]) / M
            float32: s, q = sums over n of _sum_and_sq(x[n, c, :], K = x[0, c, 0])
                     mean[c] = K + s / M;  var[c] = max(q / M - (s / M)^2, 0)
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c, n
    cdef double M = N * S, s, q, K
    with nogil:
        for c in prange(C, schedule="static", num_threads=n_threads):
            if floating is float:
                K = x[0, c, 0]
                s = 0
                q = 0
                for n in range(N):
                    _sum_and_sq(&x[n, c, 0], S, K, &s, &q)
                mean[c] = K + s / M
                var[c] = q / M - (s / M) * (s / M)
                if var[c] < 0:        # rounding; a NaN stays NaN
                    var[c] = 0
            else:
                s = 0
                for n in range(N):
                    s = s + _sum(&x[n, c, 0], S, 0)
                mean[c] = s / M
                s = 0
                for n in range(N):
                    s = s + _sum_sq(&x[n, c, 0], S, mean[c])
                var[c] = s / M


cdef void _affine(const floating* x, floating* y, floating alpha, floating beta,
                  Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = x[i] * alpha + beta


def channel_affine(const floating[:, :, ::1] x,    # IN  (N, C, S)
                   const floating[::1] alpha,      # IN  (C,)
                   const floating[::1] beta,       # IN  (C,)
                   floating[:, :, ::1] y,          # OUT (N, C, S)
                   int n_threads):
    """``y[n, c, :] = x[n, c, :] * alpha[c] + beta[c]``: batch norm's normalise-and-scale in one
    pass (alpha = weight / sqrt(var + eps), beta = bias - mean * alpha).

    Loop nest (parallel axis: the N*C planes)::

        for q in prange(N*C):                # plane (n, c) = divmod(q, C)
            for s in range(S):
                y[n, c, s] = x[n, c, s] * alpha[c] + beta[c]
    """
    cdef Py_ssize_t C = x.shape[1], S = x.shape[2], q
    with nogil:
        for q in prange(x.shape[0] * C, schedule="static", num_threads=n_threads):
            _affine(&x[q // C, q % C, 0], &y[q // C, q % C, 0], alpha[q % C], beta[q % C], S)


def batch_norm_backward_reduce(const floating[:, :, ::1] grad_out,   # IN  (N, C, S)
                               const floating[:, :, ::1] x,          # IN  (N, C, S)
                               const double[::1] mean,               # IN  (C,)
                               double[::1] sum_dy,                   # OUT (C,)
                               double[::1] sum_dy_xmu,               # OUT (C,)
                               int n_threads):
    """The two per-channel sums of the backward: ``sum(dy)`` (the bias gradient) and
    ``sum(dy * (x - mean))`` (the weight gradient times sqrt(var + eps)), in float64.

    Loop nest (parallel axis: the channels)::

        for c in prange(C):
            sum_dy[c], sum_dy_xmu[c] = sums over n of _sums_dy(dy[n, c, :], x[n, c, :], mean[c])
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c, n
    with nogil:
        for c in prange(C, schedule="static", num_threads=n_threads):
            sum_dy[c] = 0
            sum_dy_xmu[c] = 0
            for n in range(N):
                _sums_dy(&grad_out[n, c, 0], &x[n, c, 0], S, mean[c], &sum_dy[c], &sum_dy_xmu[c])


cdef void _backward_plane(const floating* dy, const floating* x, floating* dx, floating k,
                          floating a, floating b, floating m, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = k * (dy[i] - a - (x[i] - m) * b)


def batch_norm_backward_apply(const floating[:, :, ::1] grad_out,   # IN  (N, C, S)
                              const floating[:, :, ::1] x,          # IN  (N, C, S)
                              const floating[::1] mean,             # IN  (C,)
                              const floating[::1] k,                # IN  (C,)
                              const floating[::1] a,                # IN  (C,)
                              const floating[::1] b,                # IN  (C,)
                              floating[:, :, ::1] grad_x,           # OUT (N, C, S)
                              int n_threads):
    """``grad_x[n, c] = k[c] * (dy[n, c] - a[c] - (x[n, c] - mean[c]) * b[c])``: the input
    gradient of training-mode batch norm, with k = weight * rstd, a = sum_dy / M and
    b = rstd^2 * sum_dy_xmu / M (see batch_norm_backward_reduce).

    Loop nest (parallel axis: the N*C planes)::

        for q in prange(N*C):
            for s in range(S):
                grad_x[n, c, s] = k[c] * (dy[n, c, s] - a[c] - (x[n, c, s] - mean[c]) * b[c])
    """
    cdef Py_ssize_t C = x.shape[1], S = x.shape[2], q, c
    with nogil:
        for q in prange(x.shape[0] * C, schedule="static", num_threads=n_threads):
            c = q % C
            _backward_plane(&grad_out[q // C, c, 0], &x[q // C, c, 0], &grad_x[q // C, c, 0],
                            k[c], a[c], b[c], mean[c], S)
