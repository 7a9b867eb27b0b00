# cython: language_level=3
"""Planning for the conv kernels: how one call runs, decided once before its parallel loop.

``_geometry`` gives a Geo: the sizes of one call (the names of the notation block at the top
of _conv.pyx) and the layout its kernels use. ``_workspace(g, forward, avx2_gemm, small_gemm)``
gives a Workspace: the GEMM sizes (samples per GEMM, pixels per GEMM), which GEMMs run on
minicnn's AVX2 GEMM, and one thread's workspace slot carved into regions. The two facts about
the machine it depends on, whether that GEMM is on (``avx2_gemm``) and the BLAS's small-matrix
size (``small_gemm``), are arguments: the kernels in _conv.pyx read them once per call and
hand the Workspace down, so no module global is read inside a parallel loop. ``cdef inline``,
cimported by _conv.pyx; no module of its own.
"""

from minicnn.kernels._common cimport _imax, _imin


ctypedef struct Geo:
    Py_ssize_t N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G, OH, OW
    Py_ssize_t CG, OG, Hp, Wp, P, K
    Py_ssize_t XP            # Hp*Wp*C: one padded sample, either layout
    bint padded              # PH or PW > 0
    bint planar              # use the planar layout (else channels-last)
    bint pointwise           # 1x1, stride 1, unpadded (planar, no lowering)
    bint merged              # channels-last with G == 1 and DW == 1: a kernel row is one run


cdef inline Geo _geometry(Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                          Py_ssize_t O, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t OH, Py_ssize_t OW,
                          int SH, int SW, int PH, int PW, int DH, int DW,
                          int G) except *:
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
    # The plan's GEMMs: whether each kernel's GEMM runs on _sgemm_avx2 for float32 (the
    # predicates below, where a GEMM covers whole samples: blk >= P), and the BLAS's
    # small-matrix size the sizes were chosen for.
    bint forward_avx2, input_avx2, weight_avx2
    Py_ssize_t small_gemm


# --- minicnn's AVX2 GEMM: where it runs ------------------------------------------------------
#
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
# AVX-512 kernels (the cores with small-matrix kernels, small_gemm > 0) it has twice the
# vector width, so minicnn.kernels.runtime turns this GEMM off there (``avx2`` below is
# False: set_avx2_gemm in _conv.pyx); it is off, too, where the CPU lacks AVX2 or FMA.

cdef inline bint _input_gemm_avx2(const Geo* g, bint avx2) noexcept nogil:
    """backward_input's channels-last GEMM (float32) runs on _sgemm_avx2: a short sum over the
    output channels (OG <= 64) and rows of K a multiple of 8 numbers."""
    return avx2 and not g.planar and g.OG <= 64 and g.K % 8 == 0


cdef inline bint _forward_gemm_avx2(const Geo* g, bint avx2) noexcept nogil:
    """The forward's GEMM (float32) runs on _sgemm_avx2: channels-last with few output
    channels (OG <= 32, a multiple of 8); planar (not 1x1) with OG <= 64 and P a multiple
    of 8."""
    if g.planar:
        return avx2 and not g.pointwise and g.P % 8 == 0 and g.OG <= 64
    return avx2 and g.OG <= 32 and g.OG % 8 == 0


cdef inline Py_ssize_t _planar_ld(Py_ssize_t P) noexcept nogil:
    """The row stride of planar cols (K, P) for the forward on _sgemm_avx2: P, or P + 16 when
    P numbers are a multiple of 4 KB (rows that far apart share L1 cache sets, and the GEMM
    reads down the rows: on 32x32 images it ran 10% slower than BLAS, 1.4-1.6x faster on
    16x16, 24x24 and 40x40)."""
    return P + 16 if P % 1024 == 0 else P


cdef inline bint _weight_gemm_avx2(const Geo* g, bint avx2) noexcept nogil:
    """backward_weight's GEMM (float32) runs on _sgemm_avx2: channels-last (im2row rows) with
    few output channels (OG <= 32) and rows of K a multiple of 8 numbers; planar (not 1x1,
    the partial sum transposed) with OG <= 64, a multiple of 8."""
    if g.planar:
        return avx2 and not g.pointwise and g.OG <= 64 and g.OG % 8 == 0
    return avx2 and g.OG <= 32 and g.K % 8 == 0


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
# ran at 37 GFLOP/s and 32 x 392 x 400 at 52. There small_gemm is 0: no blocks, and several
# samples per GEMM. minicnn.kernels.runtime sets it once, from the BLAS it finds, before any
# kernel runs (set_small_gemm_size in _conv.pyx); it depends on the machine, never on the
# thread count.


cdef inline Py_ssize_t _pixel_block(Py_ssize_t mk, Py_ssize_t P,
                                     Py_ssize_t small_gemm) noexcept nogil:
    """Pixels per GEMM, for a GEMM whose two other sizes multiply to mk: blocks of equal size
    under small_gemm, or all P when that would make them smaller than 32 pixels."""
    cdef Py_ssize_t cap = small_gemm // mk, n_blocks
    if cap < 32 or cap >= P:
        return P
    n_blocks = (P + cap - 1) // cap
    return (P + n_blocks - 1) // n_blocks


# --- the plan --------------------------------------------------------------------------------

cdef inline void _gemm_plan(const Geo* g, Py_ssize_t small_gemm, Py_ssize_t* B,
                            Py_ssize_t* blk) noexcept nogil:
    """Samples per chunk (B) and pixels per GEMM (blk), the same for all three kernels.

    Planar: one sample, one GEMM (y[n] is the GEMM's output). Channels-last: pixel blocks
    under small_gemm when a sample is larger than that; else a chunk of samples per GEMM:
    as many as stay under small_gemm, or, for layers too large for it, enough rows (>= 384)
    for BLAS to run near its peak, few enough that a thread's rows (B*P, K) stay in its L2
    (<= 1 MB of float32)."""
    cdef Py_ssize_t mk = g.OG * g.K, cap = small_gemm // (g.OG * g.K)
    B[0], blk[0] = 1, g.P
    if g.planar:
        return
    blk[0] = _pixel_block(mk, g.P, small_gemm)
    if blk[0] < g.P:
        return
    if cap >= g.P:
        B[0] = _imin(8, cap // g.P)
    else:
        B[0] = _imin(8, _imax(1, (384 + g.P - 1) // g.P))
        while B[0] > 1 and B[0] * g.P * g.K > 262144:
            B[0] -= 1
    B[0] = _imin(B[0], g.N)


cdef inline Py_ssize_t _slot(Py_ssize_t size) noexcept nogil:
    """A per-thread (or per-partial) workspace size rounded up to a multiple of 16 numbers,
    so that every slot has the same alignment (mod 64 bytes): which slot a sample lands in
    varies with the thread count and the schedule, and a BLAS may round differently for
    differently aligned data (OpenBLAS does not, MKL can)."""
    return (_imax(size, 1) + 15) // 16 * 16


cdef inline Workspace _workspace(const Geo* g, bint forward, bint avx2_gemm,
                                 Py_ssize_t small_gemm) except *:
    """The plan of one kernel call of this geometry (``forward``: conv2d_forward, else either
    backward) on this machine (``avx2_gemm``: minicnn's AVX2 GEMM is on; ``small_gemm``: the
    BLAS's small-matrix size): the GEMM sizes and which GEMMs run on AVX2, and the layout of
    one thread's workspace slot (it sizes the allocation and carves it up)."""
    cdef Workspace L
    _gemm_plan(g, small_gemm, &L.B, &L.blk)
    L.small_gemm = small_gemm
    L.forward_avx2 = _forward_gemm_avx2(g, avx2_gemm) and L.blk >= g.P
    L.input_avx2 = _input_gemm_avx2(g, avx2_gemm) and L.blk >= g.P
    L.weight_avx2 = _weight_gemm_avx2(g, avx2_gemm) and L.blk >= g.P
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


cdef inline Py_ssize_t _weight_chunks(const Geo* g) noexcept nogil:
    """How many partial sums the batch is cut into for backward_weight: a function of N only,
    never of the thread count, so that the fixed-order sum is the same for any thread count.
    16 chunks keep 2-4 threads balanced; few chunks keep the final sum cheap."""
    return _imin(g.N, 16)


cdef inline bint _weight_by_columns(const Geo* g, const Workspace* L, bint avx2) noexcept nogil:
    """Whether a channels-last layer's weight gradient lowers its samples planar instead
    (im2col columns (K, pixels), not im2row rows (pixels, K)).

    With rows, the GEMM's sizes are K x OG x pixels (m = K); with columns it can run as
    OG x K x pixels (m = OG), which OpenBLAS's packed sgemm ran 1.2-1.6x faster on an AVX2
    machine (mnist_conv2, 2 samples: 71 against 47 GFLOP/s; cifar_conv2 77 against 60).
    Worth it where the planar copies are long enough: stride 1 and runs of OW >= 12 numbers
    (measured: mnist_conv2's OW = 14 and cifar_conv2's 16 gained 14-17% and 3-10%, cifar_conv3's
    8 nothing, the strided layer lost 11%). Not with pixel blocks (small-matrix BLAS), nor where
    minicnn's AVX2 GEMM takes the rows (``avx2``: float32 and Workspace.weight_avx2), which beat
    both BLAS ways on such layers."""
    return not g.planar and L.blk >= g.P and g.SW == 1 and g.OW >= 12 and not avx2


