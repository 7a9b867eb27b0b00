# cython: language_level=3
"""Small inline helpers shared by _conv.pyx and _pool.pyx (cimported; no module of its own)."""


cdef inline Py_ssize_t _imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline Py_ssize_t _imax(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a > b else b


cdef inline void _clip_window(Py_ssize_t o, Py_ssize_t S, Py_ssize_t P, Py_ssize_t K,
                              Py_ssize_t size, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """The real (unpadded) input range [lo, hi) that output index o's window of K covers along
    one axis of ``size``, with stride S and padding P: [o*S - P, o*S - P + K) clipped to
    [0, size). Padding is never materialised; with P <= K // 2 the range is never empty."""
    cdef Py_ssize_t start = o * S - P
    hi[0] = _imin(start + K, size)
    lo[0] = _imax(start, 0)
