# The copies that lower a sample for the conv kernels, and back: pad/crop, im2col/col2im,
# im2row/row2im, the channels-last transposes, the gather of grad_out. Included into _conv.pyx
# (``include "_lowering.pxi"``), so these are _conv's own functions: plain ``cdef`` ones, and
# the C compiler inlines them or not as it sees fit - as ``cdef inline`` functions cimported
# from a .pxd they were all inlined into the kernels, which made some kernels up to 15% faster
# and others up to 13% slower. The names (Geo, P, K, ...) are those of the notation block at
# the top of _conv.pyx; the 4x4 SSE transpose tile is C, in src/transpose4x4.h.

cdef extern from "src/transpose4x4.h":
    # b[j*ldb + i] = a[i*lda + j] for i, j in 0..3 (float32; SSE shuffles on x86-64).
    void minicnn_transpose4x4(const float* a, Py_ssize_t lda, float* b,
                              Py_ssize_t ldb) noexcept nogil


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

cdef inline void _transpose4x4(const floating* a, Py_ssize_t lda, floating* b,
                               Py_ssize_t ldb) noexcept nogil:
    cdef Py_ssize_t i, j
    if floating is float:
        minicnn_transpose4x4(a, lda, b, ldb)
    else:
        for i in range(4):
            for j in range(4):
                b[j * ldb + i] = a[i * lda + j]


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


cdef void _gather(const floating* a, floating* buf, Py_ssize_t n0, Py_ssize_t nb,
                  const Geo* g) noexcept nogil:
    """buf (O, nb*P) = grad_out[n0:n0+nb] (nb, O, P) with the sample axis moved inside: the
    operand of one GEMM over a chunk of samples (rows gi*OG.. of it are group gi's)."""
    cdef Py_ssize_t o, b, P = g.P
    for o in range(g.O):
        for b in range(nb):
            _copy(buf + (o * nb + b) * P, a + ((n0 + b) * g.O + o) * P, P)
