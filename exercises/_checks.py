"""Each task's checks, shared by the tests (``tests/test_exercises.py``) and
``python -m minicnn exercises``.

A check takes the module under test and raises ``AssertionError`` when it is wrong; where the
symptom matches a typical mistake, the message ends with the likely cause (see ``_hints.py``).
Read them freely: they say what your code must do, not how.
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
from scipy import signal

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F

from exercises import _hints

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "tests" / "exercise_solutions"


class WrongAnswer(AssertionError):
    """A failed check; ``hint`` is the likely cause, or None."""

    def __init__(self, message, hint=None):
        super().__init__(message + (f"\n    likely cause: {hint}" if hint else ""))
        self.hint = hint


def _first_hint(hints):
    for hint in hints:
        try:
            text = hint()
        except Exception:           # a hint that cannot judge this answer names nothing
            text = None
        if text:
            return text
    return None


def assert_close(got, want, what="", *hints, rtol=1e-7, atol=0.0, equal=False):
    """``np.testing.assert_allclose`` (``assert_array_equal`` when ``equal``), with the first
    hint (a function returning a sentence or None) that names the mistake."""
    try:
        if equal:
            np.testing.assert_array_equal(got, want, err_msg=what)
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)
    except AssertionError as exc:
        raise WrongAnswer(str(exc).strip(), _first_hint(hints)) from None


def expect(condition, message, *hints):
    if not condition:
        raise WrongAnswer(message, _first_hint(hints))


def load(task, solution=False):
    """exercises/<task>.py (or the hidden solution), imported from its file."""
    if str(ROOT) not in sys.path:       # the engine tasks import your earlier ones
        sys.path.insert(0, str(ROOT))
    path = (SOLUTIONS if solution else EXERCISES) / f"{task}.py"
    spec = importlib.util.spec_from_file_location(
        f"_exercise_{'solution_' if solution else ''}{task}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numeric_grad(f, a, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of a (in place)."""
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        plus = f()
        a[i] = old - eps
        minus = f()
        a[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


GEOMETRIES = [dict(), dict(stride=2, padding=1), dict(stride=(2, 1), padding=(0, 1), dilation=2),
              dict(padding=1, dilation=(1, 2))]


# --- conv_loop ---------------------------------------------------------------------------------

def check_conv_loop_vs_scipy(m):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    y = m.conv2d_forward(x, w)
    expected = [[sum(signal.correlate2d(x[n, c], w[o, c], "valid") for c in range(3))
                 for o in range(4)] for n in range(2)]
    assert_close(y, expected, "conv2d_forward(x, w)",
                 lambda: _hints.kernel_flipped(y, K.conv2d_forward(x, w[..., ::-1, ::-1].copy())),
                 atol=1e-12)


def check_conv_loop_geometries(m):
    rng = np.random.default_rng(1)
    for geometry in GEOMETRIES:
        for dtype in (np.float64, np.float32):
            x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
            w = rng.standard_normal((5, 3, 3, 2)).astype(dtype)
            y = m.conv2d_forward(x, w, **geometry)
            expect(np.asarray(y).dtype == dtype,
                   f"{geometry}: dtype {np.asarray(y).dtype}, expected {np.dtype(dtype)}",
                   lambda: _hints.wrong_dtype(y, dtype))
            flipped = w[..., ::-1, ::-1].copy()
            assert_close(y, K.conv2d_forward(x, w, **geometry), str(geometry),
                         lambda: _hints.kernel_flipped(y, K.conv2d_forward(x, flipped, **geometry)),
                         rtol=1e-4, atol=1e-4)


def check_conv_loop_groups(m):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 6, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    np.testing.assert_allclose(m.conv2d_forward(x, w, padding=1, groups=2),
                               K.conv2d_forward(x, w, padding=1, groups=2), atol=1e-12)


# --- im2col ------------------------------------------------------------------------------------

def check_im2col_worked_example(m):
    x = np.arange(1, 17, dtype=np.float64).reshape(1, 4, 4)
    cols = m.im2col(x, 3, 3)
    assert cols.shape == (9, 4)
    np.testing.assert_array_equal(cols[:, 0], [1, 2, 3, 5, 6, 7, 9, 10, 11])
    np.testing.assert_array_equal(cols[4], [6, 7, 10, 11])       # the centre tap, per window


def check_im2col_times_weights_is_conv(m):
    rng = np.random.default_rng(3)
    for geometry in GEOMETRIES:
        x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((5, 3, 3, 2))
        y = K.conv2d_forward(x, w, **geometry)
        for n in range(2):
            cols = m.im2col(x[n], 3, 2, **geometry)
            P = y.shape[2] * y.shape[3]
            expect(np.shape(cols) == (3 * 3 * 2, P),
                   f"{geometry}: cols of shape {np.shape(cols)}, expected {(3 * 3 * 2, P)}")
            want = F.unfold(minicnn.tensor(x[n:n + 1]), (3, 2), **geometry).numpy()[0]
            assert_close(cols, want, f"im2col(x[{n}], 3, 2, **{geometry})",
                         lambda: _hints.rows_not_channel_first(cols, want, (3, 3, 2)),
                         atol=1e-12)
            np.testing.assert_allclose((w.reshape(5, -1) @ cols).reshape(y.shape[1:]), y[n],
                                       atol=1e-12, err_msg=str(geometry))


# --- col2im ------------------------------------------------------------------------------------

def check_col2im_counts_windows(m):
    # col2im of all ones: how many windows read each pixel - a transposed conv of ones.
    for geometry in GEOMETRIES:
        y = K.conv2d_forward(np.zeros((1, 1, 7, 6)), np.zeros((1, 1, 3, 2)), **geometry)
        OH, OW = y.shape[2:]
        counts = m.col2im(np.ones((3 * 2, OH * OW)), (1, 7, 6), 3, 2, **geometry)
        expected = K.conv2d_backward_input(np.ones((1, 1, OH, OW)), np.ones((1, 1, 3, 2)),
                                           (1, 1, 7, 6), **geometry)[0]
        assert_close(counts, expected, f"col2im of ones, {geometry}",
                     lambda: _hints.repeated_indices(counts, expected, expected), equal=True)


def check_col2im_backward_input(m):
    rng = np.random.default_rng(4)
    for geometry in GEOMETRIES + [dict(padding=1, groups=2)]:
        x, w = rng.standard_normal((2, 4, 8, 7)), rng.standard_normal((6, 4 // geometry.get("groups", 1), 3, 3))
        g = rng.standard_normal(K.conv2d_forward(x, w, **geometry).shape)
        got = m.conv2d_backward_input(g, w, x.shape, **geometry)
        plain = {k: v for k, v in geometry.items() if k != "groups"}
        writes = np.broadcast_to(K.conv2d_backward_input(        # windows reading each pixel
            np.ones((1, 1) + g.shape[2:]), np.ones((1, 1) + w.shape[2:]), (1, 1) + x.shape[2:],
            **plain), x.shape)
        flipped = w[..., ::-1, ::-1].copy()
        assert_close(got, K.conv2d_backward_input(g, w, x.shape, **geometry), str(geometry),
                     lambda: _hints.repeated_indices(got, K.conv2d_backward_input(
                         g, w, x.shape, **geometry), writes),
                     lambda: _hints.kernel_flipped(got, K.conv2d_backward_input(
                         g, flipped, x.shape, **geometry)),
                     atol=1e-10)


def check_col2im_vs_finite_differences(m):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    g = rng.standard_normal(K.conv2d_forward(x, w, stride=2, padding=1).shape)
    want = numeric_grad(lambda: np.sum(K.conv2d_forward(x, w, stride=2, padding=1) * g), x)
    np.testing.assert_allclose(m.conv2d_backward_input(g, w, x.shape, stride=2, padding=1), want,
                               rtol=1e-6, atol=1e-7)


# --- maxpool -----------------------------------------------------------------------------------

POOLS = [(2, None, 0), (3, 2, 1), ((3, 2), 1, (1, 0))]


def check_maxpool_forward(m):
    rng = np.random.default_rng(6)
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(np.float64)   # no ties
    for k, s, p in POOLS:
        y, idx = m.max_pool2d_forward(x, k, s, p)
        y_want, idx_want = K.max_pool2d_forward(x, k, s, p)
        np.testing.assert_array_equal(y, y_want, err_msg=f"kernel {k} stride {s} padding {p}")
        np.testing.assert_array_equal(idx, idx_want, err_msg=f"indices, kernel {k} stride {s} "
                                                             f"padding {p}")


def check_maxpool_ties_and_nan(m):
    x = np.ones((1, 1, 4, 4))
    x[0, 0, 3, 2] = np.nan
    y, idx = m.max_pool2d_forward(x, 2)
    # Ties: the first (top-left) of each window wins; a NaN beats everything.
    want = np.array([[[[0, 2], [8, 14]]]])
    assert_close(np.asarray(idx), want, "indices of a 4x4 image of ones with a NaN",
                 lambda: _hints.ties_only(idx, want, x), equal=True)
    assert np.isnan(y[0, 0, 1, 1]) and np.all(y[0, 0].ravel()[:3] == 1)


def check_maxpool_backward(m):
    rng = np.random.default_rng(7)
    x = rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6).astype(np.float64)
    for k, s, p in POOLS:
        y, idx = K.max_pool2d_forward(x, k, s, p)
        g = rng.standard_normal(y.shape)
        got = m.max_pool2d_backward(g, idx, x.shape)
        want = K.max_pool2d_backward(g, idx, x.shape)
        writes = K.max_pool2d_backward(np.ones_like(g), idx, x.shape)
        assert_close(got, want, f"kernel {k} stride {s} padding {p}",
                     lambda: _hints.repeated_indices(got, want, writes), atol=1e-12)
        want = numeric_grad(lambda: np.sum(K.max_pool2d_forward(x, k, s, p)[0] * g), x)
        np.testing.assert_allclose(got, want, atol=1e-6)


# --- softmax_ce --------------------------------------------------------------------------------

def check_softmax_ce_loss(m):
    rng = np.random.default_rng(8)
    z, t = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    lsm = m.log_softmax(z)
    np.testing.assert_allclose(np.exp(lsm).sum(axis=1), 1, atol=1e-12)
    want = F.cross_entropy(minicnn.tensor(z, dtype=np.float64), minicnn.tensor(t)).item()
    assert np.isclose(m.cross_entropy(z, t), want, atol=1e-12)


def check_softmax_ce_stable(m):
    z = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise"):     # underflow to 0 is fine
        lsm = m.log_softmax(z)
    np.testing.assert_allclose(lsm[0], [0, -1000, -2000])
    np.testing.assert_allclose(lsm[1, 1:], -np.log(2))
    assert np.isfinite(m.cross_entropy(z, np.array([0, 1])))


def check_softmax_ce_backward(m):
    rng = np.random.default_rng(9)
    z, t = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    zt = minicnn.tensor(z, dtype=np.float64, requires_grad=True)
    F.cross_entropy(zt, minicnn.tensor(t)).backward()
    grad = m.cross_entropy_backward(z, t)
    assert_close(grad, zt.grad, "cross_entropy_backward(z, labels)",
                 lambda: _hints.times_n(grad, zt.grad), atol=1e-12)
    np.testing.assert_allclose(grad, numeric_grad(lambda: m.cross_entropy(z, t), z), atol=1e-7)


# --- sum_to ------------------------------------------------------------------------------------

def check_sum_to_cases(m):
    g = np.arange(24.0).reshape(2, 3, 4)
    for shape in [(2, 3, 4), (4,), (3, 1), (1, 3, 1), (1, 1, 4), (), (2, 1, 1)]:
        got = m.sum_to(g, shape)
        expect(np.shape(got) == shape, f"sum_to to {shape} gave shape {np.shape(got)}",
               lambda: _hints.sum_to_shape(np.shape(got), shape))
        # The defining property: summing g equals summing the reduced gradient.
        assert np.isclose(np.sum(got), g.sum())
    np.testing.assert_array_equal(m.sum_to(np.ones((2, 3, 4)), (3, 1)), np.full((3, 1), 8.0))


def check_sum_to_is_broadcasting_backward(m):
    rng = np.random.default_rng(10)
    for a_shape, b_shape in [((4, 3, 5), (3, 1)), ((2, 3), (3,)), ((2, 1, 4), (3, 1)),
                             ((5,), (1,))]:
        a = minicnn.tensor(rng.standard_normal(a_shape), dtype=np.float64, requires_grad=True)
        b = minicnn.tensor(rng.standard_normal(b_shape), dtype=np.float64, requires_grad=True)
        out = a * b
        g = rng.standard_normal(out.shape)
        (out * minicnn.tensor(g, dtype=np.float64)).sum().backward()
        np.testing.assert_allclose(m.sum_to(g * b.detach().numpy(), a_shape), a.grad, atol=1e-12)
        np.testing.assert_allclose(m.sum_to(g * a.detach().numpy(), b_shape), b.grad, atol=1e-12)


# --- batchnorm ---------------------------------------------------------------------------------

def check_batchnorm_forward(m):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 3, 5, 5)) * 3 + 2
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    y, _ = m.batch_norm_forward(x, gamma, beta)
    want = F.batch_norm(minicnn.tensor(x, dtype=np.float64), None, None,
                        minicnn.tensor(gamma, dtype=np.float64),
                        minicnn.tensor(beta, dtype=np.float64), training=True).numpy()
    axes = (0, 2, 3)
    unbiased = ((x - x.mean(axis=axes, keepdims=True))
                / np.sqrt(x.var(axis=axes, ddof=1, keepdims=True) + 1e-5)
                * gamma[:, None, None] + beta[:, None, None])
    assert_close(y, want, "batch_norm_forward(x, gamma, beta)",
                 lambda: _hints.unbiased_variance(y, unbiased), atol=1e-10)


def check_batchnorm_backward(m):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 2, 4, 3))
    gamma, beta = rng.standard_normal(2), rng.standard_normal(2)
    g = rng.standard_normal(x.shape)
    y, cache = m.batch_norm_forward(x, gamma, beta)
    grad_x, grad_gamma, grad_beta = m.batch_norm_backward(g, cache)
    loss = lambda: np.sum(m.batch_norm_forward(x, gamma, beta)[0] * g)   # noqa: E731
    for name, got, wrt in (("grad_x", grad_x, x), ("grad_gamma", grad_gamma, gamma),
                           ("grad_beta", grad_beta, beta)):
        want = numeric_grad(loss, wrt)
        assert_close(got, want, name, lambda: _hints.times_n(got, want, name),
                     rtol=1e-5, atol=1e-6)


# --- sobel -------------------------------------------------------------------------------------

def check_sobel_learned(m):
    rng = np.random.default_rng(13)
    sobel = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    images = rng.standard_normal((4, 1, 12, 12))
    targets = K.conv2d_forward(images, sobel[None, None], padding=1)
    kernel = m.learn_kernel(images, targets)
    assert np.shape(kernel) == (3, 3)
    np.testing.assert_allclose(kernel, sobel, atol=1e-2)
