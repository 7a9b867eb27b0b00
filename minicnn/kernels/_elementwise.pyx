# cython: language_level=3
# (boundscheck, wraparound, initializedcheck and cdivision come from setup.py, so that
#  MINICNN_DEBUG=1 can turn the checks back on for every kernel.)
"""Element-wise kernels of a training step: ReLU forward and backward, and the conv bias add.

Each is one pass over memory, so on one core NumPy does them as fast as anything; what these add
is the second core, and writing into an output the seam reuses (``buffers.py``) instead of a
fresh array. The arrays are split into fixed blocks of ``BLOCK`` elements (ReLU) or into the
N*O planes (bias), handed out by a static ``prange``; no element depends on another, so any
thread count gives the same bits, and each value is the very expression NumPy evaluates (the
twins in reference.py), so fast == reference exactly.

    for blk in prange(ceil(n / BLOCK)):      # parallel: one block of BLOCK elements
        for i in block blk:                  # a plain loop the compiler vectorises
            out[i] = f(in[i], ...)
"""

from cython cimport floating
from cython.parallel cimport prange

from minicnn.kernels._common cimport _imin

# 16 KiB of float32 per block: big enough that a block's loop runs at memory speed, small
# enough that 64 blocks (a 1 M-element activation) share out evenly among threads.
DEF BLOCK = 4096


# The loops run on raw pointers in small helpers: plain counted loops over pointers, which gcc
# vectorises (the same loops in C: "loop vectorized" with -fopt-info-vec). Written with
# memoryview indexing inside the prange, the ReLU forward ran 10-20x slower than np.maximum.

cdef void _relu_block(const floating* x, floating* y, unsigned char* mask,
                      Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    # Two loops, each simple enough to vectorise; the block is still in L1 for the second.
    # (y > 0 exactly where x > 0.)
    for i in range(n):
        y[i] = 0 if x[i] <= 0 else x[i]
    for i in range(n):
        mask[i] = y[i] > 0


cdef void _relu_backward_block(const floating* grad_out, const unsigned char* mask,
                               floating* grad_x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        grad_x[i] = grad_out[i] * <floating>mask[i]


cdef void _add_scalar(floating* plane, floating b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        plane[i] = plane[i] + b


def relu_forward(const floating[::1] x,     # IN  (n,)
                 floating[::1] y,           # OUT (n,)
                 unsigned char[::1] mask,   # OUT (n,) a bool array's bytes
                 int n_threads):
    """``y = max(x, 0)`` and ``mask = x > 0``, in one pass. y is bit for bit
    ``np.maximum(x, 0)``: the select ``x <= 0 ? 0 : x`` keeps a NaN (NaN <= 0 is false) and
    turns -0.0 into +0.0, as NumPy does. The mask is what backward needs (a byte per element,
    a quarter of y's traffic).

    Loop nest (parallel axis: the blocks)::

        for blk in prange(ceil(n / BLOCK)):
            for i in blk:
                y[i] = 0 if x[i] <= 0 else x[i]
                mask[i] = x[i] > 0
    """
    cdef Py_ssize_t n = x.shape[0], blk, i0
    with nogil:
        for blk in prange((n + BLOCK - 1) // BLOCK, schedule='static', num_threads=n_threads):
            i0 = blk * BLOCK
            _relu_block(&x[i0], &y[i0], &mask[i0], _imin(n - i0, BLOCK))


def relu_backward(const floating[::1] grad_out,   # IN  (n,)
                  const unsigned char[::1] mask,  # IN  (n,) the forward's x > 0
                  floating[::1] grad_x,           # OUT (n,)
                  int n_threads):
    """``grad_x = grad_out * mask``: d relu(x)/dx is 1 where x > 0, else 0. A multiplication,
    as the twin's NumPy expression, so a NaN or inf in ``grad_out`` gives NaN where the mask
    is 0 in both (NaN * 0), and a negative value gives -0.0.

    Loop nest (parallel axis: the blocks)::

        for blk in prange(ceil(n / BLOCK)):
            for i in blk:
                grad_x[i] = grad_out[i] * mask[i]
    """
    cdef Py_ssize_t n = mask.shape[0], blk, i0
    with nogil:
        for blk in prange((n + BLOCK - 1) // BLOCK, schedule='static', num_threads=n_threads):
            i0 = blk * BLOCK
            _relu_backward_block(&grad_out[i0], &mask[i0], &grad_x[i0], _imin(n - i0, BLOCK))


def bias_add(floating[:, :, ::1] y,      # IN/OUT (N, O, P)
             const floating[::1] b,      # IN  (O,)
             int n_threads):
    """``y[n, o, :] += b[o]`` in place: the conv bias, one add per element, as NumPy's
    ``y += b.reshape(1, -1, 1, 1)``.

    Loop nest (parallel axis: the N*O planes)::

        for q in prange(N*O):                # plane (n, o) = divmod(q, O)
            for p in range(P):
                y[n, o, p] += b[o]
    """
    cdef Py_ssize_t O = y.shape[1], P = y.shape[2], q
    with nogil:
        for q in prange(y.shape[0] * O, schedule='static', num_threads=n_threads):
            _add_scalar(&y[q // O, q % O, 0], b[q % O], P)
