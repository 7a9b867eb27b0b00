"""Convolution kernels: scipy.signal oracles, fast vs reference, finite differences, thread
determinism and input layouts (non-contiguous, Fortran, read-only)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn.kernels as K
from minicnn.kernels import _conv, runtime
from minicnn.kernels.geometry import out_size
from minicnn.testing import BIG_CONV_CASES, case_label, numerical_grad, scipy_conv2d

DTYPES = [np.float32, np.float64]
BACKENDS = ["fast", "reference"]


def on(backend_name, fn, *args, **kwargs):
    """Run one kernel on the named backend."""
    with K.backend(backend_name):
        return fn(*args, **kwargs)


def tol(dtype, scale=1.0):
    """Tolerance for sums of O(scale) terms: BLAS reorders them, so float32 gets ~1e-5."""
    if dtype == np.float32:
        return dict(rtol=2e-5, atol=2e-5 * scale)
    return dict(rtol=1e-12, atol=1e-12 * scale)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------------------------------------
# scipy.signal oracles (STYLE.md "Tests"): per plane, in float64, independent of minicnn's
# kernels. One owner: minicnn.testing.scipy_conv2d, which `python -m minicnn check` runs too.
# ---------------------------------------------------------------------------------------------

def oracle_forward(x, w, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o] = sum_c correlate2d(x_pad[n, c], dilated w[o, c], 'valid'), subsampled."""
    return scipy_conv2d(x, w, stride, padding, dilation, groups)[0]


def oracle_backward_input(grad_out, w, x_shape, stride=1, padding=0, dilation=1, groups=1):
    """grad_x[n, c] = sum_o convolve2d(stuffed grad_out[n, o], dilated w[o, c], 'full'),
    cropped to the unpadded input. The oracle reads only x's shape, so zeros stand in for x."""
    x = np.zeros(x_shape)
    return scipy_conv2d(x, w, stride, padding, dilation, groups, grad_out=grad_out)[1]


def oracle_backward_weight(x, grad_out, w_shape, stride=1, padding=0, dilation=1, groups=1):
    """grad_w[o, c] = sum_n correlate2d(x_pad[n, c], stuffed grad_out[n, o], 'valid'),
    read at the dilated tap offsets (kh*DH, kw*DW). Only w's shape matters."""
    w = np.zeros(w_shape)
    return scipy_conv2d(x, w, stride, padding, dilation, groups, grad_out=grad_out)[2]


ORACLE_CASES = [
    # (x shape, w shape, stride, padding, dilation, groups)
    ((2, 3, 7, 8), (4, 3, 3, 3), 1, 0, 1, 1),
    ((2, 3, 7, 8), (4, 3, 3, 2), (2, 1), (1, 2), 1, 1),         # non-square, stride, padding
    ((1, 2, 9, 9), (3, 2, 2, 3), (3, 2), 1, (2, 3), 1),         # dilation, batch 1
    ((2, 4, 6, 7), (6, 2, 3, 3), 2, 1, 1, 2),                   # groups
    ((1, 1, 5, 4), (2, 1, 5, 4), 1, 0, 1, 1),                   # kernel = input, one channel
    ((2, 2, 3, 3), (2, 2, 5, 5), 1, 1, 1, 1),                   # kernel = padded input
    ((2, 2, 8, 8), (3, 2, 2, 2), 4, 0, 1, 1),                   # stride > kernel
    ((3, 4, 5, 6), (6, 4, 1, 1), 1, 0, 1, 1),                   # 1x1
]


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", ORACLE_CASES)
def test_conv2d_against_scipy_signal(backend_name, dtype, x_shape, w_shape, stride, padding,
                                     dilation, groups, rng):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = on(backend_name, K.conv2d_forward, x, w, **geo)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, oracle_forward(x, w, **geo), **tol(dtype, 10))
    grad_out = rng.standard_normal(y.shape).astype(dtype)
    grad_x = on(backend_name, K.conv2d_backward_input, grad_out, w, x_shape, **geo)
    assert grad_x.dtype == dtype and grad_x.shape == x_shape
    np.testing.assert_allclose(grad_x, oracle_backward_input(grad_out, w, x_shape, **geo),
                               **tol(dtype, 10))
    grad_w = on(backend_name, K.conv2d_backward_weight, x, grad_out, w_shape, **geo)
    assert grad_w.dtype == dtype and grad_w.shape == w_shape
    np.testing.assert_allclose(grad_w, oracle_backward_weight(x, grad_out, w_shape, **geo),
                               **tol(dtype, 10))


def test_conv2d_oracle_sees_a_hand_computed_case():
    """Guard the oracle itself: a 1x1 input through padding 1 and an all-ones 3x3 kernel."""
    x = np.full((1, 1, 1, 1), 2.0)
    w = np.ones((1, 1, 3, 3))
    np.testing.assert_array_equal(oracle_forward(x, w, padding=1), [[[[2.0]]]])
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 1] = 1.0                          # picks x[oh*S, ow*S + 1]
    np.testing.assert_array_equal(oracle_forward(x, w, stride=2)[0, 0], [[1, 3], [9, 11]])
    # Backward, by hand: y = x*w[1, 1] through padding 1, so with grad_out = 1, grad_x = w[1, 1]
    # and grad_w is x at the centre tap (the others only ever see padding).
    x, w, g = np.full((1, 1, 1, 1), 2.0), np.arange(9.0).reshape(1, 1, 3, 3), np.ones((1, 1, 1, 1))
    np.testing.assert_array_equal(oracle_backward_input(g, w, x.shape, padding=1), [[[[4.0]]]])
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 2.0
    np.testing.assert_array_equal(oracle_backward_weight(x, g, w.shape, padding=1), expected)


# ---------------------------------------------------------------------------------------------
# Fast == reference on random problems
# ---------------------------------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    """A random conv2d problem: non-square kernels, stride up to 4 (often > kernel), padding,
    dilation, groups, batch 1, one channel; the input is sometimes exactly as large as the
    dilated kernel after padding."""
    N = draw(st.integers(1, 4))
    G = draw(st.integers(1, 3))
    CG, OG = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    SH, SW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    PH, PW = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    DH, DW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # The dilated kernel must fit the padded input: H + 2*PH >= DH*(KH-1) + 1.
    H = max(1, DH * (KH - 1) + 1 - 2 * PH) + draw(st.integers(0, 6))
    W = max(1, DW * (KW - 1) + 1 - 2 * PW) + draw(st.integers(0, 6))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    geo = dict(stride=(SH, SW), padding=(PH, PW), dilation=(DH, DW), groups=G)
    return (N, G * CG, H, W), (G * OG, CG, KH, KW), geo, dtype, np.random.default_rng(seed)


@settings(max_examples=30, deadline=None)
@given(conv_cases())
def test_conv2d_fast_matches_reference(case):
    _check_fast_matches_reference(case)


def _check_fast_matches_reference(case):
    x_shape, w_shape, geo, dtype, rng = case
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    y = on("fast", K.conv2d_forward, x, w, **geo)
    np.testing.assert_allclose(y, on("reference", K.conv2d_forward, x, w, **geo),
                               **tol(dtype, 10))
    grad_out = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_allclose(
        on("fast", K.conv2d_backward_input, grad_out, w, x_shape, **geo),
        on("reference", K.conv2d_backward_input, grad_out, w, x_shape, **geo),
        **tol(dtype, 10))
    np.testing.assert_allclose(
        on("fast", K.conv2d_backward_weight, x, grad_out, w_shape, **geo),
        on("reference", K.conv2d_backward_weight, x, grad_out, w_shape, **geo),
        **tol(dtype, 30))


@st.composite
def wide_conv_cases(draw):
    """Many channels and larger images: the channels-last paths with pixel blocks and with
    large GEMMs, which the small cases above rarely reach."""
    N, G = draw(st.integers(1, 6)), draw(st.sampled_from([1, 1, 2]))
    CG, OG = draw(st.integers(8, 64)), draw(st.integers(8, 128))
    KH, KW = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    SH, SW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    PH, PW = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    DH, DW = draw(st.sampled_from([1, 1, 2])), draw(st.sampled_from([1, 1, 2]))
    H = max(1, DH * (KH - 1) + 1 - 2 * PH) + draw(st.integers(4, 18))
    W = max(1, DW * (KW - 1) + 1 - 2 * PW) + draw(st.integers(4, 18))
    seed = draw(st.integers(0, 2**32 - 1))
    geo = dict(stride=(SH, SW), padding=(PH, PW), dilation=(DH, DW), groups=G)
    return (N, G * CG, H, W), (G * OG, CG, KH, KW), geo, np.float64, np.random.default_rng(seed)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(wide_conv_cases(), st.integers(1, 3))
def test_conv2d_fast_matches_reference_wide(case, n_threads):
    previous = K.get_num_threads()
    K.set_num_threads(n_threads)
    try:
        _check_fast_matches_reference(case)
    finally:
        K.set_num_threads(previous)


# Shapes shaped like the benchmark layers (scaled down in batch) and the special cases the
# fast path treats differently, each labelled with the path it takes where the BLAS has
# small-matrix kernels (checked below, so a change of the layout rules cannot silently leave
# a path untested): the planar im2col layout, 1x1 convs that need no lowering, channels-last
# im2row with pixel-blocked GEMMs, with several samples per GEMM (small layers, a ragged last
# chunk) and with one large GEMM. Without small kernels (small_gemm 0) nothing is blocked; the
# tests run every case both ways, whatever this machine's BLAS.
LAYER_CASES = [
    ((9, 1, 28, 28), (16, 1, 5, 5), 1, 2, 1, 1, "planar"),            # mnist_conv1
    ((3, 3, 32, 32), (8, 3, 3, 3), 1, 1, 1, 1, "planar"),             # cifar_conv1-like: planar
    #   rows 4 KB apart, which the AVX2 forward pads
    ((2, 4, 8, 8), (8, 2, 3, 3), 1, 1, 1, 2, "planar"),               # planar groups
    ((7, 16, 14, 14), (32, 16, 5, 5), 1, 2, 1, 1, "blocked"),         # mnist_conv2
    ((5, 32, 8, 8), (64, 32, 3, 3), 1, 1, 1, 1, "blocked"),           # cifar_conv3-like
    ((7, 64, 8, 8), (128, 64, 3, 3), 1, 1, 1, 1, "large"),            # cifar_conv3
    ((9, 8, 6, 6), (4, 8, 3, 3), 1, 1, 1, 1, "stacked"),              # 8 samples per GEMM
    ((6, 16, 12, 12), (32, 16, 3, 3), 2, 1, 1, 1, "stacked"),         # strided
    ((11, 8, 5, 7), (12, 8, 1, 1), 1, 0, 1, 1, "pointwise"),          # 1x1, stride 1, no pad
    ((3, 8, 7, 7), (12, 8, 1, 1), 2, 0, 1, 1, "stacked"),             # 1x1 strided
    ((4, 6, 10, 9), (6, 2, 3, 3), 1, 1, 2, 3, "planar"),              # groups + dilation
    ((2, 4, 6, 6), (8, 1, 3, 3), 1, 1, 1, 4, "planar"),               # depthwise
    ((3, 32, 7, 7), (6, 16, 2, 3), (1, 2), 1, (2, 1), 2, "stacked"),  # groups, channels-last
    ((3, 32, 14, 14), (8, 16, 3, 3), 1, 1, 2, 2, "large"),           # groups + dilation, and
    #   the weight gradient lowered to columns (channels-last, stride 1, OW >= 12)
    ((2, 16, 9, 9), (4, 16, 3, 3), 1, 2, (1, 2), 1, "stacked"),       # dilated kernel rows
]
LAYER_PARAMS = "x_shape, w_shape, stride, padding, dilation, groups, path"


def _path(x_shape, w_shape, stride, padding, dilation, groups):
    """The fast kernels' path for these shapes, from minicnn.kernels._conv.plan."""
    (SH, SW), (PH, PW), (DH, DW) = pair(stride), pair(padding), pair(dilation)
    plan = _conv.plan(x_shape, w_shape, SH, SW, PH, PW, DH, DW, groups)
    if plan["layout"] == "planar":
        return "pointwise" if plan["pointwise"] else "planar"
    OH = out_size(x_shape[2], PH, DH, w_shape[2], SH)
    OW = out_size(x_shape[3], PW, DW, w_shape[3], SW)
    if plan["pixels_per_gemm"] < OH * OW:
        return "blocked"
    return "large" if plan["samples_per_gemm"] * OH * OW >= 384 else "stacked"


# The three ways the channels-last GEMMs run, on any machine: pixel blocks sized for
# OpenBLAS's small-matrix kernels, whole samples on BLAS, whole samples on minicnn's own AVX2
# GEMM where it pays (skipped on a CPU without AVX2 and FMA).
GEMM_PATHS = pytest.mark.parametrize("gemm_path", ["small-gemm", "blas", "avx2"])


@pytest.fixture
def use_gemm_path(small_gemm, avx2_gemm):
    def use(path):
        if path == "avx2" and not _conv.cpu_has_avx2_fma():
            pytest.skip("this CPU (or build) cannot run the AVX2 GEMM")
        small_gemm(runtime.SMALL_GEMM_SIZE if path == "small-gemm" else 0)
        avx2_gemm(path == "avx2")
    return use


@pytest.mark.parametrize(LAYER_PARAMS, LAYER_CASES)
def test_layer_cases_take_the_labelled_path(x_shape, w_shape, stride, padding, dilation,
                                            groups, path, small_gemm):
    small_gemm(runtime.SMALL_GEMM_SIZE)
    assert _path(x_shape, w_shape, stride, padding, dilation, groups) == path
    # Without small kernels the blocked layers stack samples instead; nothing else changes.
    small_gemm(0)
    unblocked = _path(x_shape, w_shape, stride, padding, dilation, groups)
    assert unblocked in ("stacked", "large") if path == "blocked" else unblocked == path


@pytest.mark.parametrize("gemm_size", [runtime.SMALL_GEMM_SIZE, 0])
def test_channels_last_weight_gradients_lower_to_columns_or_rows(gemm_size, small_gemm,
                                                                 avx2_gemm):
    # backward_weight of a channels-last layer lowers its input planar (im2col columns) when
    # the planar copies are long (stride 1, OW >= 12), its pixels are not blocked and
    # minicnn's AVX2 GEMM does not take the rows (here: off); the layer cases take both ways.
    small_gemm(gemm_size)
    avx2_gemm(False)
    lowering = {}
    for x_shape, w_shape, stride, padding, dilation, groups, path in LAYER_CASES:
        (SH, SW), (PH, PW), (DH, DW) = pair(stride), pair(padding), pair(dilation)
        plan = _conv.plan(x_shape, w_shape, SH, SW, PH, PW, DH, DW, groups)
        lowering[(x_shape, w_shape)] = (plan["layout"], plan["weight_lowering"])
    assert lowering[(3, 32, 14, 14), (8, 16, 3, 3)] == ("channels_last", "im2col")
    assert lowering[(7, 64, 8, 8), (128, 64, 3, 3)] == ("channels_last", "im2row")   # OW 8
    assert lowering[(6, 16, 12, 12), (32, 16, 3, 3)] == ("channels_last", "im2row")  # stride 2
    assert lowering[(7, 16, 14, 14), (32, 16, 5, 5)] == (
        "channels_last", "im2row" if gemm_size else "im2col")   # mnist_conv2: blocks or not
    assert lowering[(11, 8, 5, 7), (12, 8, 1, 1)] == ("planar", "none")
    assert lowering[(9, 1, 28, 28), (16, 1, 5, 5)] == ("planar", "im2col")


def test_the_avx2_gemm_runs_where_it_pays(small_gemm, avx2_gemm):
    # On when the kernels load exactly where the CPU can and OpenBLAS has no AVX-512 small
    # kernels; then for float32 backward_input's GEMMs with OG <= 64, the forward's and
    # backward_weight's with OG <= 32 (planar: OG <= 64), never with pixel blocks.
    assert _conv.avx2_gemm() == (_conv.cpu_has_avx2_fma() and _conv.small_gemm_size() == 0)
    if not _conv.cpu_has_avx2_fma():
        with pytest.raises(ValueError, match="AVX2"):
            _conv.set_avx2_gemm(True)
        pytest.skip("this CPU (or build) cannot run the AVX2 GEMM")
    small_gemm(0)
    avx2_gemm(True)

    def gemms(x_shape, w_shape, P):
        plan = _conv.plan(x_shape, w_shape, PH=P, PW=P)
        return plan["forward_gemm"], plan["input_gemm"], plan["weight_gemm"]

    mnist_conv2 = (64, 16, 14, 14), (32, 16, 5, 5), 2
    assert gemms(*mnist_conv2) == ("avx2", "avx2", "avx2")
    assert _conv.plan(*mnist_conv2[:2], PH=2, PW=2)["weight_lowering"] == "im2row"
    assert gemms((64, 32, 16, 16), (64, 32, 3, 3), 1) == ("blas", "avx2", "blas")  # cifar_conv2
    assert gemms((64, 64, 8, 8), (128, 64, 3, 3), 1) == ("blas", "blas", "blas")   # cifar_conv3
    assert gemms((64, 1, 28, 28), (16, 1, 5, 5), 2) == ("avx2", "blas", "avx2")    # planar
    assert gemms((64, 3, 32, 32), (128, 3, 3, 3), 1) == ("blas", "blas", "blas")   # OG 128
    assert _conv.plan((8, 64, 8, 8), (32, 64, 1, 1))["forward_gemm"] == "blas"     # 1x1
    assert gemms((64, 16, 14, 14), (12, 16, 5, 5), 2) == ("blas", "avx2", "avx2")  # OG % 8
    small_gemm(runtime.SMALL_GEMM_SIZE)                                            # blocks
    assert gemms(*mnist_conv2) == ("blas", "blas", "blas")
    avx2_gemm(False)
    small_gemm(0)
    assert gemms(*mnist_conv2) == ("blas", "blas", "blas")
    assert _conv.plan(*mnist_conv2[:2], PH=2, PW=2)["weight_lowering"] == "im2col"


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("m, n, k", [(1, 8, 1), (5, 16, 3), (6, 16, 32), (7, 24, 5),
                                     (13, 40, 64), (392, 32, 400)])
def test_avx2_gemm_matches_numpy(m, n, k, transpose_a, accumulate, rng):
    # minicnn's own GEMM against NumPy's (float64 products): the 6 x 16 tiles, the leftover
    # rows one at a time, a leftover 8 columns, both readings of A, accumulating into C or not.
    if not _conv.cpu_has_avx2_fma():
        pytest.skip("this CPU (or build) cannot run the AVX2 GEMM")
    a = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    c = c0.copy()
    _conv.sgemm_avx2(a, b, c, transpose_a=transpose_a, accumulate=accumulate)
    product = (a.T if transpose_a else a).astype(np.float64) @ b.astype(np.float64)
    want = product + c0 if accumulate else product
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    with pytest.raises(ValueError, match="multiple of 8"):
        _conv.sgemm_avx2(a, b[:, :n - 1].copy(), np.zeros((m, n - 1), np.float32),
                         transpose_a=transpose_a)


def test_the_blas_small_gemm_size_is_the_plans():
    # Set once when the kernels load, from the BLAS scipy ships: 100**3 for OpenBLAS on an
    # AVX-512 core with small-matrix kernels, else 0.
    assert _conv.small_gemm_size() == runtime.blas_small_gemm_size()
    assert runtime.blas_small_gemm_size() in (0, runtime.SMALL_GEMM_SIZE)
    plan = _conv.plan((64, 16, 14, 14), (32, 16, 5, 5), PH=2, PW=2)    # mnist_conv2
    assert plan["small_gemm"] == _conv.small_gemm_size()
    with pytest.raises(ValueError, match="size"):
        _conv.set_small_gemm_size(-1)


@GEMM_PATHS
@pytest.mark.parametrize(LAYER_PARAMS, LAYER_CASES)
def test_conv2d_workspace_regions_fit_their_slot(x_shape, w_shape, stride, padding, dilation,
                                                 groups, path, gemm_path, use_gemm_path):
    """The one layout function that sizes each thread's workspace slot also carves it: its
    regions follow each other without overlap, end inside the slot, and the slot keeps every
    thread's workspace at the same alignment (a multiple of 16 numbers)."""
    use_gemm_path(gemm_path)
    (SH, SW), (PH, PW), (DH, DW) = pair(stride), pair(padding), pair(dilation)
    layouts = _conv.workspace(x_shape, w_shape, SH, SW, PH, PW, DH, DW, groups)
    N, C, H, W = x_shape
    padded_sample = C * (H + 2 * PH) * (W + 2 * PW)
    for kernel, layout in layouts.items():
        end = 0
        for region in ("xp", "cols", "buf"):
            offset, size = layout[region]
            assert offset == end and size >= 0, (kernel, region, layout)
            end = offset + size
        assert end <= layout["slot"] and layout["slot"] % 16 == 0, (kernel, layout)
        if path == "pointwise":
            assert end == 0, (kernel, layout)           # no lowering, no padding
        elif PH or PW or path != "planar":
            assert layout["xp"][1] >= padded_sample, (kernel, layout)


@pytest.mark.parametrize("x_shape, w_shape, kwargs, name", [
    ((1, 4, 4, 4), (0, 4, 3, 3), {}, r"^w out channels \(O\) must be >= 1"),
    ((1, 4, 4, 4), (4, 4, 3, 3), {"G": 0}, "^groups must be >= 1"),
    ((1, 4, 4, 4), (4, 4, 3, 3), {"SH": -1}, "^stride must be >= 1"),
    ((1, 4, 4, 4), (4, 4, 3, 3), {"SW": 0}, "^stride must be >= 1"),
    ((1, 4, 4, 4), (4, 4, 3, 3), {"DH": 0}, "^dilation must be >= 1"),
    ((1, 4, 4, 4), (4, 4, 3, 3), {"PW": -1}, "^padding must be >= 0"),
    ((1, 4, 4, 4), (4, 4, 3, 3), {"G": 3}, "^groups=3 must divide"),
    ((1, 4, 4, 4), (4, 4, 3, 3), {"G": 2}, "expected C/groups"),
    ((1, 4, 2, 2), (4, 4, 3, 3), {}, "larger than the padded input"),
    ((1, 4, 4), (4, 4, 3, 3), {}, "^x_shape must be a 4-tuple"),
])
def test_plan_rejects_bad_arguments_instead_of_crashing(x_shape, w_shape, kwargs, name):
    # plan() is public to learners and skips the seam; with cdivision a zero stride or group
    # count used to kill the interpreter (SIGFPE) instead of raising. It checks its arguments
    # by the seam's rules (ConvGeometry), so the messages are the seam's.
    with pytest.raises(ValueError, match=name):
        _conv.plan(x_shape, w_shape, **kwargs)


@GEMM_PATHS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(LAYER_PARAMS, LAYER_CASES)
def test_conv2d_fast_matches_reference_on_layers(dtype, x_shape, w_shape, stride, padding, dilation,
                                                 groups, path, rng, gemm_path, use_gemm_path):
    use_gemm_path(gemm_path)
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    y = on("fast", K.conv2d_forward, x, w, **geo)
    scale = np.sqrt(w_shape[1] * w_shape[2] * w_shape[3])
    np.testing.assert_allclose(y, on("reference", K.conv2d_forward, x, w, **geo),
                               **tol(dtype, scale))
    grad_out = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_allclose(
        on("fast", K.conv2d_backward_input, grad_out, w, x_shape, **geo),
        on("reference", K.conv2d_backward_input, grad_out, w, x_shape, **geo),
        **tol(dtype, scale))
    scale_w = np.sqrt(x_shape[0] * y.shape[2] * y.shape[3])
    np.testing.assert_allclose(
        on("fast", K.conv2d_backward_weight, x, grad_out, w_shape, **geo),
        on("reference", K.conv2d_backward_weight, x, grad_out, w_shape, **geo),
        **tol(dtype, scale_w))


def test_conv2d_weight_gradient_with_ragged_sample_groups(threads, rng):
    """backward_weight takes each batch chunk B samples at a time; with N = 20 the 16 chunks
    hold 1 or 2 samples, so one thread's workspace sees groups of different sizes in turn
    (a smaller group once overwrote the padding of the next one's buffers)."""
    x = rng.standard_normal((20, 8, 6, 6))
    w = rng.standard_normal((4, 8, 3, 3))
    g = rng.standard_normal((20, 4, 6, 6))
    assert _path(x.shape, w.shape, 1, 1, 1, 1) == "stacked"
    expected = oracle_backward_weight(x, g, w.shape, padding=1)
    for n in (1, 2):
        threads(n)
        np.testing.assert_allclose(K.conv2d_backward_weight(x, g, w.shape, padding=1),
                                   expected, **tol(np.float64, 10))
        np.testing.assert_allclose(K.conv2d_backward_input(g, w, x.shape, padding=1),
                                   oracle_backward_input(g, w, x.shape, padding=1),
                                   **tol(np.float64, 10))


# ---------------------------------------------------------------------------------------------
# Finite differences (float64)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", [
    ((2, 2, 5, 6), (3, 2, 3, 2), (2, 1), (1, 0), 1, 1),
    ((1, 4, 6, 5), (4, 2, 2, 3), 1, (0, 2), (2, 1), 2),
])
def test_conv2d_backward_matches_finite_differences(backend_name, x_shape, w_shape, stride, padding,
                                                    dilation, groups, rng):
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    g = rng.standard_normal(on(backend_name, K.conv2d_forward, x, w, **geo).shape)

    def loss():
        return float((on(backend_name, K.conv2d_forward, x, w, **geo) * g).sum())

    grad_x = on(backend_name, K.conv2d_backward_input, g, w, x_shape, **geo)
    grad_w = on(backend_name, K.conv2d_backward_weight, x, g, w_shape, **geo)
    np.testing.assert_allclose(grad_x, numerical_grad(lambda _: loss(), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grad_w, numerical_grad(lambda _: loss(), w), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Thread determinism and input layouts
# ---------------------------------------------------------------------------------------------

@GEMM_PATHS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", [
    ((13, 6, 12, 11), (8, 6, 3, 3), 1, 1, 1, 1),
    ((10, 16, 14, 14), (32, 16, 5, 5), 1, 2, 1, 1),
    ((7, 6, 9, 9), (6, 2, 3, 2), 2, 1, (1, 2), 3),
    ((21, 8, 6, 6), (12, 8, 1, 1), 1, 0, 1, 1),
    ((7, 64, 8, 8), (128, 64, 3, 3), 1, 1, 1, 1),
    ((20, 32, 14, 14), (8, 16, 3, 3), 1, 1, 2, 2),
])
def test_conv2d_bit_identical_across_thread_counts(threads, dtype, x_shape, w_shape, stride,
                                                   padding, dilation, groups, rng, gemm_path,
                                                   use_gemm_path):
    use_gemm_path(gemm_path)
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    results = []
    for n in (1, 2, 3):
        threads(n)
        y = K.conv2d_forward(x, w, **geo)
        grad_out = np.cos(np.arange(y.size, dtype=dtype)).reshape(y.shape)
        results.append((y, K.conv2d_backward_input(grad_out, w, x_shape, **geo),
                        K.conv2d_backward_weight(x, grad_out, w_shape, **geo)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def _layouts(a):
    """The same values as a, as a strided view, a Fortran array and a read-only array."""
    strided = np.zeros(a.shape[:3] + (2 * a.shape[3],), a.dtype)[..., ::2]
    strided[...] = a
    readonly = a.copy()
    readonly.setflags(write=False)
    return {"strided": strided, "fortran": np.asfortranarray(a), "readonly": readonly,
            "reversed": a[::-1].copy()[::-1]}


@pytest.mark.parametrize("layout", ["strided", "fortran", "readonly", "reversed"])
def test_conv2d_input_layouts_do_not_change_results(layout, rng):
    geo = dict(stride=(1, 2), padding=1, dilation=1, groups=1)
    x = rng.standard_normal((3, 4, 7, 6)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    y = K.conv2d_forward(x, w, **geo)
    g = rng.standard_normal(y.shape).astype(np.float32)
    grad_x = K.conv2d_backward_input(g, w, x.shape, **geo)
    grad_w = K.conv2d_backward_weight(x, g, w.shape, **geo)
    xl, wl, gl = _layouts(x)[layout], _layouts(w)[layout], _layouts(g)[layout]
    assert not (xl.flags.c_contiguous and xl.flags.writeable)
    np.testing.assert_array_equal(K.conv2d_forward(xl, wl, **geo), y)
    np.testing.assert_array_equal(K.conv2d_backward_input(gl, wl, x.shape, **geo), grad_x)
    np.testing.assert_array_equal(K.conv2d_backward_weight(xl, gl, w.shape, **geo), grad_w)


def test_conv2d_outputs_are_fresh_c_contiguous_arrays(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = K.conv2d_forward(x, w)
    g = np.ones_like(y)
    for out in (y, K.conv2d_backward_input(g, w, x.shape), K.conv2d_backward_weight(x, g, w.shape)):
        assert out.flags.c_contiguous and out.flags.writeable and out.flags.owndata


def test_kernels_leave_scipy_blas_thread_count_as_they_found_it():
    """The kernels hold scipy's BLAS at one thread while they run, then restore it."""
    pytest.importorskip("threadpoolctl")
    libs = _conv._single_threaded_blas.libs
    if not libs:
        pytest.skip("threadpoolctl finds no BLAS library to hold")
    before = [lib.get_num_threads() for lib in libs]
    try:
        for lib in libs:
            lib.set_num_threads(2)
        x = np.ones((2, 3, 6, 6), np.float32)
        w = np.ones((4, 3, 3, 3), np.float32)
        K.conv2d_forward(x, w)
        assert [lib.get_num_threads() for lib in libs] == [2] * len(libs)
    finally:
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


# ---------------------------------------------------------------------------------------------
# Batches past 16, in both layouts: the chunked weight-gradient paths (several samples per
# GEMM, partial sums accumulated across a chunk's samples) only run there
# ---------------------------------------------------------------------------------------------

@GEMM_PATHS
@pytest.mark.parametrize("case", BIG_CONV_CASES, ids=case_label)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_kernels_vs_scipy_at_big_batches(case, dtype, threads, gemm_path, use_gemm_path):
    threads(2)
    use_gemm_path(gemm_path)
    N, C, H, W, O, KH, KW, stride, padding, dilation, groups = case
    rng = np.random.default_rng(N * 31 + C)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C // groups, KH, KW)).astype(dtype)
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = K.conv2d_forward(x, w, **geo)
    grad_out = rng.standard_normal(y.shape).astype(dtype)
    got = (y, K.conv2d_backward_input(grad_out, w, x.shape, **geo),
           K.conv2d_backward_weight(x, grad_out, w.shape, **geo))
    want = scipy_conv2d(x, w, grad_out=grad_out, **geo)
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for name, g, e in zip(("forward", "backward_input", "backward_weight"), got, want):
        np.testing.assert_allclose(g, e, err_msg=f"{name} {case_label(case)}", **tol)
    with K.backend("reference"):
        twin = (K.conv2d_forward(x, w, **geo),
                K.conv2d_backward_input(grad_out, w, x.shape, **geo),
                K.conv2d_backward_weight(x, grad_out, w.shape, **geo))
    for name, g, t in zip(("forward", "backward_input", "backward_weight"), got, twin):
        np.testing.assert_allclose(g, t, err_msg=f"{name} vs twin {case_label(case)}", **tol)
