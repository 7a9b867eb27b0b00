"""Element-wise kernels (ReLU forward/backward, conv bias add): fast vs readable twin vs a NumPy
oracle, NaN/inf/-0.0 semantics, finite-difference gradients through F.relu and F.conv2d's bias,
and thread determinism (1, 2, 3 threads)."""
import numpy as np
import pytest

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F
from minicnn.kernels import _elementwise

DTYPES = [np.float32, np.float64]
# Batch 64 as in training (several blocks per thread), and shapes that end mid-block.
SHAPES = [(64, 16, 28, 28), (3, 5, 7, 11), (1,), (4097,), (2, 3), ()]


def on(backend_name, fn, *args):
    with K.backend(backend_name):
        return fn(*args)


def _special(rng, shape, dtype):
    """Random values with NaN, +-inf, +-0.0 sprinkled in."""
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    for i, v in zip(rng.integers(0, flat.size, 6), [np.nan, np.inf, -np.inf, 0.0, -0.0, np.nan]):
        flat[i] = v
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_forward_vs_reference_and_numpy(rng, dtype, shape):
    x = _special(rng, shape, dtype)
    y, mask = K.relu_forward(x)
    ref, ref_mask = on("reference", K.relu_forward, x)
    oracle = np.maximum(x, 0)
    # A select, no arithmetic: identical bits (NaN kept, -0.0 made +0.0 as np.maximum does).
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(y, oracle)
    assert np.array_equal(np.signbit(y), np.signbit(oracle))
    np.testing.assert_array_equal(mask, x > 0)
    np.testing.assert_array_equal(ref_mask, x > 0)
    assert y.dtype == dtype and y.shape == x.shape and mask.dtype == np.bool_
    assert K.relu_backward(np.ones_like(x), mask).shape == x.shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_backward_vs_reference_and_numpy(rng, dtype, shape):
    x = _special(rng, shape, dtype)
    mask = np.asarray(x > 0)  # an array also for 0-d x
    g = _special(rng, shape, dtype)
    grad_x = K.relu_backward(g, mask)
    np.testing.assert_array_equal(grad_x, on("reference", K.relu_backward, g, mask))
    oracle = g * (x > 0)
    np.testing.assert_array_equal(grad_x, oracle)
    assert np.array_equal(np.signbit(grad_x), np.signbit(oracle))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_add_vs_reference_and_numpy(rng, dtype):
    y = rng.standard_normal((5, 7, 3, 4)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    oracle = y + b.reshape(1, -1, 1, 1)
    ref = on("reference", K.bias_add, y, b)
    out = K.bias_add(y.copy(), b)
    np.testing.assert_array_equal(out, oracle)
    np.testing.assert_array_equal(ref, oracle)


def test_bias_add_is_in_place_on_a_writable_array_and_copies_a_read_only_one(rng):
    y = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    b = np.arange(3, dtype=np.float32)
    assert K.bias_add(y, b) is y
    frozen = y.copy()
    frozen.setflags(write=False)
    out = K.bias_add(frozen, b)
    assert out is not frozen
    np.testing.assert_array_equal(out, frozen + b.reshape(1, -1, 1, 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_thread_determinism(rng, threads, dtype):
    x = _special(rng, (64, 16, 28, 28), dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    b = rng.standard_normal(16).astype(dtype)
    results = []
    for n in (1, 2, 3):
        threads(n)
        y, mask = K.relu_forward(x)
        results.append((y.copy(), mask.copy(), K.relu_backward(g, mask).copy(),
                        K.bias_add(x.copy(), b)))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


def test_compiled_relu_writes_every_element(rng):
    # The output comes from reused, uninitialised memory: every element must be written.
    x = rng.standard_normal(10_001).astype(np.float32)
    y = np.full_like(x, 7.0)
    mask = np.full(x.shape, 7, np.uint8)
    _elementwise.relu_forward(x, y, mask, 3)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(mask, x > 0)
    gx = np.full_like(x, 7.0)
    _elementwise.relu_backward(x, mask, gx, 3)
    np.testing.assert_array_equal(gx, x * (x > 0))


def test_elementwise_seam_rejects_bad_arguments():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        K.relu_forward(x.astype(np.int64))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        K.relu_forward([1.0])
    with pytest.raises(TypeError, match="mask must be a bool"):
        K.relu_backward(x, x)
    with pytest.raises(ValueError, match="mask's shape"):
        K.relu_backward(np.ones((3, 2), np.float32), x > 0)
    with pytest.raises(ValueError, match="b must have shape"):
        K.bias_add(np.ones((2, 3, 4, 4), np.float32), np.ones(4, np.float32))


def test_relu_gradcheck_through_the_fast_kernel(rng):
    # float64 central differences; inputs kept away from 0, where ReLU has no derivative.
    a = rng.uniform(0.1, 1.0, (3, 4, 5, 5)) * rng.choice([-1.0, 1.0], (3, 4, 5, 5))
    x = minicnn.tensor(a, dtype=np.float64, requires_grad=True)
    assert minicnn.gradcheck(F.relu, (x,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_conv_bias_gradcheck_through_bias_add(rng):
    x = minicnn.tensor(rng.standard_normal((2, 3, 6, 6)), dtype=np.float64,
                       requires_grad=True)
    w = minicnn.tensor(rng.standard_normal((4, 3, 3, 3)), dtype=np.float64,
                       requires_grad=True)
    b = minicnn.tensor(rng.standard_normal(4), dtype=np.float64, requires_grad=True)
    assert minicnn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b),
                             eps=1e-6, atol=1e-6, rtol=1e-4)


def test_relu_module_fast_equals_reference_forward_and_backward(rng):
    a = _special(rng, (4, 3, 9, 9), np.float32)
    g = rng.standard_normal(a.shape).astype(np.float32)
    out = {}
    for name in ("fast", "reference"):
        with K.backend(name):
            x = minicnn.tensor(a, requires_grad=True)
            y = F.relu(x)
            y.backward(minicnn.tensor(g))
            out[name] = (y.detach().clone(), x.grad.clone())
    for fast, ref in zip(out["fast"], out["reference"]):
        np.testing.assert_array_equal(fast, ref)
