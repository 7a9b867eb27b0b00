"""Batch-norm kernels (_norm.pyx: statistics, channel affine, backward): fast vs readable twin
vs a float64 NumPy oracle, at batch 64 and at sizes that end mid-lane; float64 gradcheck of
F.batch_norm on both backends; thread determinism (1, 2, 3 threads); argument checks."""
import numpy as np
import pytest

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F
from minicnn.gradcheck import gradcheck

DTYPES = [np.float32, np.float64]
# Batch 64 with 32x32 planes (as a VGG-BN CIFAR layer), planes that are no multiple of the
# kernels' 16 lanes (7x5), BatchNorm1d's (N, C) and (N, C, L).
SHAPES = [(64, 8, 32, 32), (3, 5, 7, 5), (64, 10), (6, 4, 17)]


def on(backend_name, fn, *args):
    with K.backend(backend_name):
        return fn(*args)


def _oracle(x, grad_out, w, eps, training, running=None):
    """batch norm's output and gradients in float64, straight from the definitions."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    x64, g64, w64 = x.astype(np.float64), grad_out.astype(np.float64), w.astype(np.float64)
    if training:
        mean, var = x64.mean(axis=axes), x64.var(axis=axes)
    else:
        mean, var = running
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x64 - mean.reshape(shape)) * rstd.reshape(shape)
    y = xhat * w64.reshape(shape)
    gw = (g64 * xhat).sum(axis=axes)
    gb = g64.sum(axis=axes)
    g = g64 * w64.reshape(shape)
    if training:
        gx = rstd.reshape(shape) * (g - g.mean(axis=axes, keepdims=True)
                                    - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    else:
        gx = g * rstd.reshape(shape)
    return y, gx, gw, gb


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_fast_equals_twin_and_oracle(rng, shape, dtype, training):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype)
    running = (rng.standard_normal(shape[1]), rng.uniform(0.5, 2, shape[1]))
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    y_o, gx_o, gw_o, gb_o = _oracle(x, g, w, 1e-5, training, running)
    results = {}
    for name in ("fast", "reference"):
        with K.backend(name):
            if training:
                mean, var = K.batch_norm_stats(x)
                np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(0,) + tuple(
                    range(2, x.ndim))), rtol=1e-12, atol=1e-12)
            else:
                mean, var = running
            rstd = 1 / np.sqrt(var + 1e-5)
            y = K.channel_affine(x, w * rstd, -mean * w * rstd)
            grads = K.batch_norm_backward(g, x, mean, rstd, w, training)
        assert y.dtype == dtype and all(a.dtype == dtype for a in grads)
        for got, want in zip((y,) + grads, (y_o, gx_o, gw_o, gb_o)):
            np.testing.assert_allclose(got, want, **tol)
        results[name] = (y,) + grads
    # fast == twin to rounding: the twin's sums are NumPy's pairwise ones, the kernel's 16-lane
    for a, b in zip(results["fast"], results["reference"]):
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("backend_name", ["fast", "reference"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck_float64(rng, backend_name, training):
    x = minicnn.tensor(rng.standard_normal((4, 3, 5, 3)), requires_grad=True)
    w = minicnn.tensor(rng.standard_normal(3), requires_grad=True)
    b = minicnn.tensor(rng.standard_normal(3), requires_grad=True)
    rm, rv = minicnn.tensor(rng.standard_normal(3)), minicnn.tensor(rng.uniform(0.5, 2, 3))

    def fn(x, w, b):
        # fresh running buffers each call (training updates them in place)
        return F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=training)
    with K.backend(backend_name):
        assert gradcheck(fn, [x, w, b])


def test_running_statistics_update_as_pytorch(rng):
    x = rng.standard_normal((8, 3, 4, 4)).astype(np.float32) * 2 + 1
    rm, rv = minicnn.zeros(3), minicnn.ones(3)
    F.batch_norm(minicnn.tensor(x), rm, rv, training=True, momentum=0.1)
    axes = (0, 2, 3)
    np.testing.assert_allclose(rm.numpy(), 0.1 * x.mean(axis=axes), rtol=1e-5)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * x.var(axis=axes, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_determinism(rng, threads, dtype):
    x = (rng.standard_normal((64, 6, 16, 15)) * 4).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    w = rng.standard_normal(6).astype(dtype)
    results = []
    for n in (1, 2, 3):
        threads(n)
        mean, var = K.batch_norm_stats(x)
        rstd = 1 / np.sqrt(var + 1e-5)
        y = K.channel_affine(x, w * rstd, -mean * w * rstd)
        results.append((mean, var, y) + K.batch_norm_backward(g, x, mean, rstd, w, True))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_nan_propagates_to_its_channel_only(rng):
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    x[2, 1, 3, 3] = np.nan
    mean, var = K.batch_norm_stats(x)
    assert np.isnan(mean[1]) and np.isnan(var[1])
    assert np.isfinite(mean[[0, 2]]).all() and np.isfinite(var[[0, 2]]).all()


@pytest.mark.parametrize("call,error,match", [
    (lambda: K.batch_norm_stats(np.ones(3, np.float32)), ValueError, r"\(N, C, \*\)"),
    (lambda: K.batch_norm_stats(np.ones((2, 3), np.int64)), TypeError, "float32 or float64"),
    (lambda: K.channel_affine(np.ones((2, 3), np.float32), np.ones(2), np.ones(3)), ValueError,
     r"alpha must be a float numpy.ndarray of shape \(3,\)"),
    (lambda: K.batch_norm_backward(np.ones((2, 3), np.float64), np.ones((2, 3), np.float32),
                                   np.ones(3), np.ones(3)), TypeError, "grad_out has dtype"),
    (lambda: K.batch_norm_backward(np.ones((2, 4)), np.ones((2, 3)), np.ones(3), np.ones(3)),
     ValueError, "grad_out must have x's shape"),
    (lambda: K.batch_norm_backward(np.ones((2, 3)), np.ones((2, 3)), np.ones(2), np.ones(3)),
     ValueError, r"mean must be a float numpy.ndarray of shape \(3,\)"),
])
def test_arguments_are_checked_before_any_kernel_runs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_empty_inputs():
    x = np.ones((0, 3, 4, 4), np.float32)
    mean, var = K.batch_norm_stats(x)
    assert mean.shape == (3,) and np.isnan(mean).all()
    assert K.channel_affine(x, np.ones(3), np.zeros(3)).shape == x.shape
    gx, gw, gb = K.batch_norm_backward(x, x, np.zeros(3), np.ones(3), None, False)
    assert gx.shape == x.shape and (gw == 0).all() and (gb == 0).all()
