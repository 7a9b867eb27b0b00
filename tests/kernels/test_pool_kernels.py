"""Pooling kernels: fast (Cython/OpenMP) vs the readable reference, hand-computed cases,
ties/NaN/padding semantics, finite-difference gradients and thread determinism."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn.kernels as K
from minicnn.testing import numerical_grad

DTYPES = [np.float32, np.float64]


def on(backend_name, fn, *args, **kwargs):
    """Run one kernel on the named backend."""
    with K.backend(backend_name):
        return fn(*args, **kwargs)


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


@st.composite
def pool_cases(draw):
    """A random pooling problem: overlapping (stride < kernel) and gapped (stride > kernel)
    windows, padding up to k//2, non-square kernels, batch 1 and one channel included."""
    N = draw(st.integers(1, 3))
    C = draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    PH, PW = draw(st.integers(0, KH // 2)), draw(st.integers(0, KW // 2))
    # The kernel must fit in the padded input: H + 2*PH >= KH.
    H = draw(st.integers(max(1, KH - 2 * PH), 9))
    W = draw(st.integers(max(1, KW - 2 * PW), 9))
    SH, SW = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    geo = dict(kernel_size=(KH, KW), stride=(SH, SW), padding=(PH, PW))
    return (N, C, H, W), geo, dtype, np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# Fast == reference on random problems
# ---------------------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(pool_cases(), st.booleans())
def test_max_pool2d_matches_reference(case, rounded):
    shape, geo, dtype, rng = case
    x = rng.standard_normal(shape).astype(dtype)
    if rounded:  # few distinct values: many ties, exercising the first-maximum rule
        x = np.round(x)
    y, idx = K.max_pool2d_forward(x, **geo)
    y_ref, idx_ref = on("reference", K.max_pool2d_forward, x, **geo)
    # Selecting a maximum involves no arithmetic, so fast and reference agree exactly.
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    assert y.dtype == dtype and idx.dtype == np.int64

    grad_out = rng.standard_normal(y.shape).astype(dtype)
    grad_x = K.max_pool2d_backward(grad_out, idx, shape)
    grad_x_ref = on("reference", K.max_pool2d_backward, grad_out, idx_ref, shape)
    assert grad_x.dtype == dtype and grad_x.shape == shape
    np.testing.assert_allclose(grad_x, grad_x_ref, **tol(dtype))


@settings(max_examples=30, deadline=None)
@given(pool_cases(), st.booleans())
def test_avg_pool2d_matches_reference(case, count_include_pad):
    shape, geo, dtype, rng = case
    x = rng.standard_normal(shape).astype(dtype)
    y = K.avg_pool2d_forward(x, **geo, count_include_pad=count_include_pad)
    y_ref = on("reference", K.avg_pool2d_forward, x, **geo, count_include_pad=count_include_pad)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, y_ref, **tol(dtype))

    grad_out = rng.standard_normal(y.shape).astype(dtype)
    grad_x = K.avg_pool2d_backward(grad_out, shape, **geo, count_include_pad=count_include_pad)
    grad_x_ref = on("reference", K.avg_pool2d_backward, grad_out, shape, **geo,
                    count_include_pad=count_include_pad)
    assert grad_x.dtype == dtype and grad_x.shape == shape
    np.testing.assert_allclose(grad_x, grad_x_ref, **tol(dtype))


# Fixed geometries, so each named situation is covered whatever hypothesis draws.
GEOMETRIES = {
    "lenet 2x2/2": ((2, 3, 8, 8), dict(kernel_size=2)),
    "overlapping 3x3/1 pad 1": ((1, 2, 5, 6), dict(kernel_size=3, stride=1, padding=1)),
    "gapped 2x2/3": ((2, 1, 8, 7), dict(kernel_size=2, stride=3)),
    "non-square 3x2/(1,2) pad (1,1)": ((1, 1, 6, 5), dict(kernel_size=(3, 2), stride=(1, 2),
                                                           padding=(1, 1))),
    "kernel = padded input": ((2, 2, 3, 4), dict(kernel_size=(5, 4), padding=(1, 0))),
    "1x1": ((1, 3, 4, 4), dict(kernel_size=1)),
}


@pytest.mark.parametrize("shape, geo", GEOMETRIES.values(), ids=GEOMETRIES.keys())
@pytest.mark.parametrize("dtype", DTYPES)
def test_pool2d_fixed_geometries_match_reference(shape, geo, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    y, idx = K.max_pool2d_forward(x, **geo)
    y_ref, idx_ref = on("reference", K.max_pool2d_forward, x, **geo)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    g = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_allclose(K.max_pool2d_backward(g, idx, shape),
                               on("reference", K.max_pool2d_backward, g, idx, shape),
                               **tol(dtype))
    for include in (True, False):
        kw = dict(geo, count_include_pad=include)
        np.testing.assert_allclose(K.avg_pool2d_forward(x, **kw),
                                   on("reference", K.avg_pool2d_forward, x, **kw), **tol(dtype))
        np.testing.assert_allclose(K.avg_pool2d_backward(g, shape, **kw),
                                   on("reference", K.avg_pool2d_backward, g, shape, **kw),
                                   **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_arbitrary_indices_match_reference(dtype, rng):
    # Indices need not come from a forward pass: many outputs may point at one pixel.
    shape = (2, 3, 4, 5)
    grad_out = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    indices = rng.integers(0, 4 * 5, size=grad_out.shape)
    grad_x = K.max_pool2d_backward(grad_out, indices, shape)
    expected = np.zeros((6, 20))
    for p, (g, i) in enumerate(zip(grad_out.reshape(6, -1), indices.reshape(6, -1))):
        for gv, iv in zip(g, i):
            expected[p, iv] += gv
    np.testing.assert_allclose(grad_x, expected.reshape(shape), **tol(dtype))
    np.testing.assert_allclose(grad_x, on("reference", K.max_pool2d_backward,
                                          grad_out, indices, shape), **tol(dtype))


# ---------------------------------------------------------------------------------------------
# Hand-computed cases (both backends)
# ---------------------------------------------------------------------------------------------

BACKENDS = ["fast", "reference"]
X33 = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])  # flat index of value v is v - 1


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_by_hand(backend_name, dtype):
    x = X33.astype(dtype)[None, None]
    y, idx = on(backend_name, K.max_pool2d_forward, x, 2, stride=1)
    np.testing.assert_array_equal(y[0, 0], [[5, 6], [8, 9]])
    np.testing.assert_array_equal(idx[0, 0], [[4, 5], [7, 8]])
    # Non-square 1x3 window, stride (2, 1), padding (0, 1): columns -1..1 and 0..2, 1..3.
    y, idx = on(backend_name, K.max_pool2d_forward, x[..., ::-1].copy(), (1, 3), stride=(2, 1),
                padding=(0, 1))
    np.testing.assert_array_equal(y[0, 0], [[3, 3, 2], [9, 9, 8]])
    np.testing.assert_array_equal(idx[0, 0], [[0, 0, 1], [6, 6, 7]])


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_by_hand(backend_name, dtype):
    x = X33.astype(dtype)[None, None]
    y = on(backend_name, K.avg_pool2d_forward, x, 2, stride=1)
    np.testing.assert_allclose(y[0, 0], [[3, 4], [6, 7]])
    # Kernel 2, stride 2, padding 1: windows are rows/cols {-1, 0} and {1, 2}.
    y = on(backend_name, K.avg_pool2d_forward, x, 2, stride=2, padding=1)
    np.testing.assert_allclose(y[0, 0], [[1 / 4, 5 / 4], [11 / 4, 28 / 4]])
    y = on(backend_name, K.avg_pool2d_forward, x, 2, stride=2, padding=1,
           count_include_pad=False)
    np.testing.assert_allclose(y[0, 0], [[1, 5 / 2], [11 / 2, 28 / 4]])


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_by_hand(backend_name, dtype):
    indices = np.array([[4, 5], [7, 8]])[None, None]
    grad_out = np.array([[1, 2], [3, 4]], dtype=dtype)[None, None]
    grad_x = on(backend_name, K.max_pool2d_backward, grad_out, indices, (1, 1, 3, 3))
    np.testing.assert_array_equal(grad_x[0, 0], [[0, 0, 0], [0, 1, 2], [0, 3, 4]])


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_backward_by_hand(backend_name, dtype):
    grad_out = np.ones((1, 1, 2, 2), dtype=dtype)
    grad_x = on(backend_name, K.avg_pool2d_backward, grad_out, (1, 1, 3, 3), 2, stride=1)
    # Each pixel gets 1/4 from every window that covers it: corners 1, edges 2, centre 4.
    np.testing.assert_allclose(grad_x[0, 0], np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4)
    # Padding 1, stride 2, count_include_pad=False: the divisor is the number of real pixels.
    grad_out = np.array([[1, 2], [3, 4]], dtype=dtype)[None, None]
    grad_x = on(backend_name, K.avg_pool2d_backward, grad_out, (1, 1, 3, 3), 2, stride=2,
                padding=1, count_include_pad=False)
    np.testing.assert_allclose(grad_x[0, 0], [[1, 1, 1], [1.5, 1, 1], [1.5, 1, 1]])


# ---------------------------------------------------------------------------------------------
# Semantics: ties, NaN, padding, overlapping windows
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_ties_go_to_the_first_maximum(backend_name, dtype):
    x = np.zeros((1, 1, 4, 4), dtype=dtype)
    y, idx = on(backend_name, K.max_pool2d_forward, x, 2)
    np.testing.assert_array_equal(idx[0, 0], [[0, 2], [8, 10]])  # top-left of every window
    # Two equal maxima in one window, at flat positions 1 and 4 (row-major order 1 < 4).
    x = np.array([[0, 3, 1], [3, 0, 1], [1, 1, 1]], dtype=dtype)[None, None]
    y, idx = on(backend_name, K.max_pool2d_forward, x, 2, stride=1)
    assert y[0, 0, 0, 0] == 3 and idx[0, 0, 0, 0] == 1
    assert idx[0, 0, 0, 1] == 1 and idx[0, 0, 1, 0] == 3


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_wins_and_propagates(backend_name, dtype):
    x = np.array([[1, 9, 2, 2], [np.nan, np.nan, 5, 3]], dtype=dtype)[None, None]
    y, idx = on(backend_name, K.max_pool2d_forward, x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 4  # the first NaN, beating 9
    assert y[0, 0, 0, 1] == 5 and idx[0, 0, 0, 1] == 6        # NaN-free window unaffected
    # A NaN at the window's first position is not replaced by a larger value after it.
    x = np.array([[np.nan, 7], [8, 9]], dtype=dtype)[None, None]
    y, idx = on(backend_name, K.max_pool2d_forward, x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 0
    # Average pooling: the NaN reaches every window that contains it, and only those.
    x = np.ones((1, 1, 3, 3), dtype=dtype)
    x[0, 0, 0, 0] = np.nan
    y = on(backend_name, K.avg_pool2d_forward, x, 2, stride=1)
    np.testing.assert_array_equal(np.isnan(y[0, 0]), [[True, False], [False, False]])
    np.testing.assert_array_equal(y[0, 0][~np.isnan(y[0, 0])], 1)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_padding_never_wins(backend_name, dtype, rng):
    x = (-1 - rng.random((2, 3, 5, 6))).astype(dtype)  # all in [-2, -1): a zero pad would win
    y, idx = on(backend_name, K.max_pool2d_forward, x, 3, stride=2, padding=1)
    assert (y < -0.999).all()
    # Each maximum is the input value at its index, so it comes from a real pixel.
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(2, 3, -1),
                                                     idx.reshape(2, 3, -1), axis=2),
                                  y.reshape(2, 3, -1))
    # Even -inf inputs beat padding: the first real pixel of the window wins.
    x = np.full((1, 1, 3, 3), -np.inf, dtype=dtype)
    y, idx = on(backend_name, K.max_pool2d_forward, x, 2, stride=2, padding=1)
    np.testing.assert_array_equal(idx[0, 0], [[0, 1], [3, 4]])
    assert np.isneginf(y).all()


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_pool2d_overlapping_windows_route_and_accumulate(backend_name):
    # The centre (flat index 4) is the maximum of all four overlapping 2x2 windows.
    x = np.array([[0, 1, 0], [2, 9, 3], [0, 4, 0]], dtype=np.float64)[None, None]
    y, idx = on(backend_name, K.max_pool2d_forward, x, 2, stride=1)
    np.testing.assert_array_equal(idx[0, 0], [[4, 4], [4, 4]])
    grad_out = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    grad_x = on(backend_name, K.max_pool2d_backward, grad_out, idx, x.shape)
    expected = np.zeros((3, 3))
    expected[1, 1] = 10.0
    np.testing.assert_array_equal(grad_x[0, 0], expected)
    # Average pooling with kernel 3, stride 1, padding 1 on a 3x3 plane: every one of the nine
    # windows covers the centre, each sending grad/9.
    grad_out = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    grad_x = on(backend_name, K.avg_pool2d_backward, grad_out, (1, 1, 3, 3), 3, stride=1,
                padding=1)
    assert grad_x[0, 0, 1, 1] == pytest.approx(45 / 9)
    assert grad_x[0, 0, 0, 0] == pytest.approx((1 + 2 + 4 + 5) / 9)


# ---------------------------------------------------------------------------------------------
# Finite differences (float64)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("geo", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                 dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0))])
def test_max_pool2d_backward_finite_differences(geo, rng):
    shape = (2, 2, 5, 6)
    # A shuffled arange has no ties, and its gaps (0.1) dwarf eps: the argmax never flips.
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) * 0.1
    y, idx = K.max_pool2d_forward(x, **geo)
    g = rng.standard_normal(y.shape)
    numeric = numerical_grad(lambda v: float((K.max_pool2d_forward(v, **geo)[0] * g).sum()), x)
    analytic = K.max_pool2d_backward(g, idx, shape)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("geo", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                 dict(kernel_size=(2, 3), stride=(3, 2), padding=(1, 1))])
def test_avg_pool2d_backward_finite_differences(geo, count_include_pad, rng):
    shape = (2, 2, 5, 6)
    x = rng.standard_normal(shape)
    kw = dict(geo, count_include_pad=count_include_pad)
    g = rng.standard_normal(K.avg_pool2d_forward(x, **kw).shape)
    numeric = numerical_grad(lambda v: float((K.avg_pool2d_forward(v, **kw) * g).sum()), x)
    analytic = K.avg_pool2d_backward(g, shape, **kw)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# Thread determinism
# ---------------------------------------------------------------------------------------------

@pytest.mark.skipif(not K.openmp_enabled(), reason="serial build: one thread only")
@pytest.mark.parametrize("dtype", DTYPES)
def test_pool2d_bit_identical_across_thread_counts(dtype, threads, rng):
    shape = (3, 5, 11, 13)  # 15 planes: uneven split over 2 and 3 threads
    x = rng.standard_normal(shape).astype(dtype)
    geo = dict(kernel_size=3, stride=2, padding=1)  # overlapping windows
    results = []
    for n in (1, 2, 3):
        threads(n)
        assert K.get_num_threads() == n
        y, idx = K.max_pool2d_forward(x, **geo)
        g = np.linspace(-1, 1, y.size, dtype=dtype).reshape(y.shape)
        results.append([
            y, idx, K.max_pool2d_backward(g, idx, shape),
            K.avg_pool2d_forward(x, **geo), K.avg_pool2d_backward(g, shape, **geo),
            K.avg_pool2d_forward(x, **geo, count_include_pad=False),
            K.avg_pool2d_backward(g, shape, **geo, count_include_pad=False),
        ])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool2d_backward_kernels_overwrite_grad_x(rng, threads, dtype):
    # The seam hands the backward kernels reused, uninitialised memory: each kernel zeroes
    # grad_x itself, plane by plane, before it accumulates (same bits on 1, 2, 3 threads).
    from minicnn.kernels import _pool
    x = rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7).astype(dtype)  # no ties
    y, idx = K.max_pool2d_forward(x, 3, 2, 1)
    g = rng.standard_normal(y.shape).astype(dtype)
    expected_max = on("reference", K.max_pool2d_backward, g, idx, x.shape)
    expected_avg = on("reference", K.avg_pool2d_backward, g, x.shape, 3, 2, 1)
    for n in (1, 2, 3):
        threads(n)
        grad_x = np.full(x.shape, np.nan, dtype)
        _pool.max_pool2d_backward(g, idx, grad_x, n)
        np.testing.assert_array_equal(grad_x, expected_max)
        grad_x = np.full(x.shape, np.nan, dtype)
        _pool.avg_pool2d_backward(g, grad_x, 3, 3, 2, 2, 1, 1, True, n)
        np.testing.assert_allclose(grad_x, expected_avg, **tol(dtype))
        np.testing.assert_array_equal(grad_x, K.avg_pool2d_backward(g, x.shape, 3, 2, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 16, 28, 28), (2, 3, 7, 9), (1, 1, 2, 2)])
def test_max_pool2d_2x2_fast_path_matches_reference(rng, threads, dtype, shape):
    # The unrolled 2x2 / stride 2 / no padding path (odd sizes leave a row and column out):
    # ties (rounded values) and NaNs must pick the same winner as the generic scan.
    x = np.round(rng.standard_normal(shape)).astype(dtype)
    x.reshape(-1)[rng.integers(0, x.size, max(1, x.size // 50))] = np.nan
    y_ref, idx_ref = on("reference", K.max_pool2d_forward, x, 2)
    for n in (1, 2, 3):
        threads(n)
        y, idx = K.max_pool2d_forward(x, 2)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(idx, idx_ref)


@pytest.mark.parametrize("W", [8, 9, 10, 11, 16, 30])
def test_max_pool2d_2x2_vector_rows_match_scalar_scan(rng, threads, W):
    # float32 rows run four windows at a time with SSE selects, and the 0-3 windows left over
    # one at a time; a row with a NaN falls back to the scalar scan. Values drawn from a small
    # set (ties everywhere, signed zeros, infinities) and one NaN per plane, in a varying
    # column: rows with and without a NaN, in the vector part and in the tail.
    values = np.array([-np.inf, -1.0, -0.0, 0.0, 1.0, np.inf], dtype=np.float32)
    x = rng.choice(values, size=(4, 5, 6, W)).astype(np.float32)
    for p, plane in enumerate(x.reshape(-1, 6, W)):
        plane[p % 6, (3 * p) % W] = np.nan
    y_ref, idx_ref = on("reference", K.max_pool2d_forward, x, 2)
    for n in (1, 2, 3):
        threads(n)
        y, idx = K.max_pool2d_forward(x, 2)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(np.signbit(y), np.signbit(y_ref))
        np.testing.assert_array_equal(idx, idx_ref)
