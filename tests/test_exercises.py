"""The exercises' tests: each task's checks run on the learner's stub in exercises/ (skipped
while it raises NotImplementedError) and, in the default suite, on its reference solution.

    python -m pytest -m task_im2col          # your im2col, once you have written it
    python -m pytest tests/test_exercises.py # every task: solved ones pass, stubs skip

Each check takes the module under test and asserts against minicnn's kernels, scipy.signal,
minicnn's autograd or finite differences.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F
from minicnn.testing import numerical_grad

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
TASKS = ("conv_loop", "im2col", "col2im", "maxpool", "softmax_ce", "sum_to", "batchnorm", "sobel")

pytestmark = pytest.mark.skipif(not EXERCISES.is_dir(),
                                reason="exercises/ is only in a source checkout")


def load(task, solution=False):
    """exercises/<task>.py (or exercises/solutions/<task>.py), imported from its file."""
    path = EXERCISES / ("solutions" if solution else "") / f"{task}.py"
    spec = importlib.util.spec_from_file_location(
        f"_exercise_{'solution_' if solution else ''}{task}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numeric_grad(f, a):
    """Central differences of the scalar f() with respect to every entry of a (in place)."""
    return numerical_grad(lambda _: f(), a)


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
    np.testing.assert_allclose(y, expected, atol=1e-12)


def check_conv_loop_geometries(m):
    rng = np.random.default_rng(1)
    for geometry in GEOMETRIES:
        for dtype in (np.float64, np.float32):
            x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
            w = rng.standard_normal((5, 3, 3, 2)).astype(dtype)
            y = m.conv2d_forward(x, w, **geometry)
            assert y.dtype == dtype, f"{geometry}: dtype {y.dtype}, expected {dtype}"
            np.testing.assert_allclose(y, K.conv2d_forward(x, w, **geometry), rtol=1e-4,
                                       atol=1e-4, err_msg=str(geometry))


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
            assert cols.shape == (3 * 3 * 2, y.shape[2] * y.shape[3]), str(geometry)
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
        np.testing.assert_array_equal(counts, expected, err_msg=str(geometry))


def check_col2im_backward_input(m):
    rng = np.random.default_rng(4)
    for geometry in GEOMETRIES + [dict(padding=1, groups=2)]:
        x, w = rng.standard_normal((2, 4, 8, 7)), rng.standard_normal((6, 4 // geometry.get("groups", 1), 3, 3))
        g = rng.standard_normal(K.conv2d_forward(x, w, **geometry).shape)
        np.testing.assert_allclose(m.conv2d_backward_input(g, w, x.shape, **geometry),
                                   K.conv2d_backward_input(g, w, x.shape, **geometry),
                                   atol=1e-10, err_msg=str(geometry))


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
    np.testing.assert_array_equal(idx[0, 0], [[0, 2], [8, 14]])
    assert np.isnan(y[0, 0, 1, 1]) and np.all(y[0, 0].ravel()[:3] == 1)


def check_maxpool_backward(m):
    rng = np.random.default_rng(7)
    x = rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6).astype(np.float64)
    for k, s, p in POOLS:
        y, idx = K.max_pool2d_forward(x, k, s, p)
        g = rng.standard_normal(y.shape)
        got = m.max_pool2d_backward(g, idx, x.shape)
        np.testing.assert_allclose(got, K.max_pool2d_backward(g, idx, x.shape), atol=1e-12,
                                   err_msg=f"kernel {k} stride {s} padding {p}")
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
    np.testing.assert_allclose(grad, zt.grad, atol=1e-12)
    np.testing.assert_allclose(grad, numeric_grad(lambda: m.cross_entropy(z, t), z), atol=1e-7)


# --- sum_to ------------------------------------------------------------------------------------

def check_sum_to_cases(m):
    g = np.arange(24.0).reshape(2, 3, 4)
    for shape in [(2, 3, 4), (4,), (3, 1), (1, 3, 1), (1, 1, 4), (), (2, 1, 1)]:
        got = m.sum_to(g, shape)
        assert np.shape(got) == shape, f"sum_to to {shape} gave shape {np.shape(got)}"
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
    np.testing.assert_allclose(y, want, atol=1e-10)


def check_batchnorm_backward(m):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 2, 4, 3))
    gamma, beta = rng.standard_normal(2), rng.standard_normal(2)
    g = rng.standard_normal(x.shape)
    y, cache = m.batch_norm_forward(x, gamma, beta)
    grad_x, grad_gamma, grad_beta = m.batch_norm_backward(g, cache)
    loss = lambda: np.sum(m.batch_norm_forward(x, gamma, beta)[0] * g)   # noqa: E731
    np.testing.assert_allclose(grad_x, numeric_grad(loss, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad_gamma, numeric_grad(loss, gamma), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad_beta, numeric_grad(loss, beta), rtol=1e-5, atol=1e-6)


# --- sobel -------------------------------------------------------------------------------------

def check_sobel_learned(m):
    rng = np.random.default_rng(13)
    sobel = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    images = rng.standard_normal((4, 1, 12, 12))
    targets = K.conv2d_forward(images, sobel[None, None], padding=1)
    kernel = m.learn_kernel(images, targets)
    assert np.shape(kernel) == (3, 3)
    np.testing.assert_allclose(kernel, sobel, atol=1e-2)


CHECKS = {
    "conv_loop": [check_conv_loop_vs_scipy, check_conv_loop_geometries, check_conv_loop_groups],
    "im2col": [check_im2col_worked_example, check_im2col_times_weights_is_conv],
    "col2im": [check_col2im_counts_windows, check_col2im_backward_input,
               check_col2im_vs_finite_differences],
    "maxpool": [check_maxpool_forward, check_maxpool_ties_and_nan, check_maxpool_backward],
    "softmax_ce": [check_softmax_ce_loss, check_softmax_ce_stable, check_softmax_ce_backward],
    "sum_to": [check_sum_to_cases, check_sum_to_is_broadcasting_backward],
    "batchnorm": [check_batchnorm_forward, check_batchnorm_backward],
    "sobel": [check_sobel_learned],
}


def _params(with_marks):
    return [pytest.param(task, check, id=check.__name__[len("check_"):],
                         marks=[getattr(pytest.mark, f"task_{task}")] if with_marks else [])
            for task in TASKS for check in CHECKS[task]]


@pytest.mark.parametrize("task, check", _params(with_marks=True))
def test_task(task, check):
    """Your implementation in exercises/<task>.py (skipped until it stops raising
    NotImplementedError)."""
    module = load(task)
    try:
        check(module)
    except NotImplementedError as exc:
        pytest.skip(f"exercises/{task}.py is not solved yet ({exc})")


@pytest.mark.parametrize("task, check", _params(with_marks=False))
def test_solution(task, check):
    """The reference solution in exercises/solutions/<task>.py passes the same checks."""
    check(load(task, solution=True))


def test_every_task_has_a_stub_a_solution_checks_and_a_marker():
    import re
    registered = set(re.findall(r'^\s*"(task_\w+):', (ROOT / "pyproject.toml").read_text(),
                                re.MULTILINE))
    stubs = {p.stem for p in EXERCISES.glob("*.py")} - {"__init__"}
    assert stubs == set(TASKS) == set(CHECKS)
    assert {p.stem for p in (EXERCISES / "solutions").glob("*.py")} - {"__init__"} == stubs
    assert {f"task_{t}" for t in TASKS} <= registered
    assert (EXERCISES / "README.md").is_file()


def test_a_solution_plugs_into_the_reference_backend(monkeypatch):
    """exercises/README.md's seam: a learner's kernel in the twin's place runs under F.conv2d."""
    import minicnn.kernels.reference as reference
    conv_loop, maxpool = load("conv_loop", solution=True), load("maxpool", solution=True)
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return conv_loop.conv2d_forward(*args, **kwargs)

    monkeypatch.setattr(reference, "conv2d_forward", spy)
    monkeypatch.setattr(reference, "max_pool2d_forward", maxpool.max_pool2d_forward)
    rng = np.random.default_rng(14)
    x = minicnn.tensor(rng.standard_normal((2, 3, 8, 8)), dtype=np.float64)
    w = minicnn.tensor(rng.standard_normal((4, 3, 3, 3)), dtype=np.float64)
    fast = F.max_pool2d(F.conv2d(x, w, padding=1, stride=(1, 2)), 2).numpy()
    with K.backend("reference"):
        yours = F.max_pool2d(F.conv2d(x, w, padding=1, stride=(1, 2)), 2).numpy()
    assert calls, "the reference backend did not call the swapped-in function"
    np.testing.assert_allclose(yours, fast, atol=1e-10)


@pytest.mark.parametrize("spec", ["conv_loop.py:conv2d_forward",
                                  "maxpool.py:max_pool2d_forward"])
def test_a_solution_passes_check_kernel(spec):
    """exercises/README.md's `python -m minicnn check --kernel FILE:FUNCTION`, on a solution."""
    import os
    import subprocess
    import sys
    result = subprocess.run(
        [sys.executable, "-m", "minicnn", "check", "--kernel", f"exercises/solutions/{spec}"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout and "PASS  your " in result.stdout
