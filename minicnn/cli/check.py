"""`python -m minicnn check`: verify the installed kernels and ops three independent ways.

1. scipy.signal oracles for every convolution kernel (forward, grad_x, grad_w), float32 and float64;
2. finite differences in float64 for every differentiable op (``minicnn.gradcheck``);
3. fast kernel == readable twin, and bit-identical results for 1, 2 and 3 threads.

This is what a learner runs after editing a kernel. It prints a PASS/FAIL table and exits
non-zero on any failure.
"""
import functools
import sys
import time
import traceback

import numpy as np

from minicnn import kernels
from minicnn.cli.arguments import positive_float
from minicnn.testing import (BIG_CONV_CASES, CONV_CASES, assert_close, case_label,
                             numerical_grad, numpy_max_pool2d, pool_case_label, scipy_conv2d)

def _tolerance(dtype):
    # float32 sums of up to ~10^4 products: relative to the largest value of the result.
    return 2e-5 if dtype == np.float32 else 1e-10


def assert_agrees(got, want, what, side, reference_name="scipy"):
    """Raise a one-line AssertionError naming ``what``, ``side`` and ``reference_name`` when
    got and want differ.

    The tolerance is relative to the largest magnitude of ``want`` (float32: 2e-5, float64:
    1e-10), so that sums over a batch of 70 are judged as fairly as sums over 2; NaN matches NaN.
    """
    got, want = np.asarray(got), np.asarray(want)
    tol = _tolerance(got.dtype if got.dtype in (np.float32, np.float64) else np.float64)
    scale = max(1.0, float(np.nanmax(np.abs(want)))) if want.size and not np.isnan(want).all() \
        else 1.0

    def one_line(message):
        parts = [line for line in message.splitlines()[1:] if line and "relative" not in line]
        return f"{what}: {side} disagrees with {reference_name}: " + "; ".join(parts or [message])

    assert_close(got, want, rtol=0.0, atol=tol * scale, equal_nan=True, check_dtype=False,
                 msg=one_line)


def _conv_case(case, dtype, rng):
    N, C, H, W, O, KH, KW, stride, padding, dilation, groups = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C // groups, KH, KW)).astype(dtype)
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = kernels.conv2d_forward(x, w, **geo)
    grad_out = rng.standard_normal(y.shape).astype(dtype)
    return x, w, grad_out, geo


def _conv_outputs(x, w, grad_out, geo):
    return (kernels.conv2d_forward(x, w, **geo),
            kernels.conv2d_backward_input(grad_out, w, x.shape, **geo),
            kernels.conv2d_backward_weight(x, grad_out, w.shape, **geo))


KERNEL_NAMES = ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")
SIDES = {"fast": "fast kernel", "reference": "readable twin"}


def check_conv_scipy(dtype, backend, cases=None):
    """Every conv case (small and past batch 16) against the scipy.signal oracle."""
    cases = CONV_CASES + BIG_CONV_CASES if cases is None else cases
    rng = np.random.default_rng(0)
    with kernels.backend(backend):
        for case in cases:
            x, w, grad_out, geo = _conv_case(case, dtype, rng)
            got = _conv_outputs(x, w, grad_out, geo)
            want = scipy_conv2d(x, w, grad_out=grad_out, **geo)
            for name, g, e in zip(KERNEL_NAMES, got, want):
                what = f"{name} {case_label(case)}"
                assert g.dtype == dtype, f"{what}: dtype {g.dtype}, expected {np.dtype(dtype)}"
                assert_agrees(g, e, what, f"{SIDES[backend]} ({backend})")
    return f"{len(cases)} shapes (N up to {max(c[0] for c in cases)}) x 3 kernels"


def _pool_inputs(rng, shape=(2, 3, 7, 6)):
    # A shuffled arange: no ties, so the max-pool gradient is well defined.
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) / 10


def _pool_outputs(x, rng):
    out = []
    for k, s, p in ((2, 2, 0), (3, 2, 1), ((3, 2), 1, (1, 0))):
        y, idx = kernels.max_pool2d_forward(x, k, s, p)
        g = rng.standard_normal(y.shape).astype(x.dtype)
        out += [y, idx, kernels.max_pool2d_backward(g, idx, x.shape)]
        for include in (True, False):
            y = kernels.avg_pool2d_forward(x, k, s, p, count_include_pad=include)
            out += [y, kernels.avg_pool2d_backward(g, x.shape, k, s, p,
                                                   count_include_pad=include)]
    return out


def check_fast_vs_reference():
    """Fast kernels equal the readable twins (conv and pool, float32 and float64)."""
    count = 0
    for dtype in (np.float32, np.float64):
        for case in CONV_CASES + BIG_CONV_CASES:
            x, w, grad_out, geo = _conv_case(case, dtype, np.random.default_rng(1))
            with kernels.backend("reference"):
                want = _conv_outputs(x, w, grad_out, geo)
            got = _conv_outputs(x, w, grad_out, geo)
            for name, g, e in zip(KERNEL_NAMES, got, want):
                try:
                    assert_agrees(g, e, f"{name} {case_label(case)}", "fast kernel",
                                  "readable twin")
                except AssertionError:
                    # Which side is wrong? Ask the oracle.
                    oracle = scipy_conv2d(x, w, grad_out=grad_out, **geo)[KERNEL_NAMES.index(name)]
                    for side, value in (("fast kernel", g), ("readable twin", e)):
                        assert_agrees(value, oracle, f"{name} {case_label(case)}", side)
                    raise
                count += 1
        x = _pool_inputs(np.random.default_rng(2)).astype(dtype)
        with kernels.backend("reference"):
            want = _pool_outputs(x, np.random.default_rng(3))
        for g, e in zip(_pool_outputs(x, np.random.default_rng(3)), want):
            assert_agrees(g, e, "pooling (tie-free input)", "fast kernel", "readable twin")
            count += 1
    return f"{count} outputs compared"


def _tie_and_nan_inputs(rng, dtype, shape=(17, 2, 7, 6)):
    """Small integers (many ties in every window), some NaN, one plane all equal."""
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    x[rng.random(shape) < 0.04] = np.nan
    x[1, 0] = 1.0
    return x


def check_max_pool_ties_nan():
    """Max pooling on inputs with ties and NaN against a NumPy oracle, both backends."""
    rng = np.random.default_rng(9)
    count = 0
    for dtype in (np.float32, np.float64):
        x = _tie_and_nan_inputs(rng, dtype)
        for k, s, p in ((2, 2, 0), (3, 2, 1), ((3, 2), 1, (1, 0)), (3, 1, 1)):
            y_want, idx_want = numpy_max_pool2d(x, k, s, p)
            g = rng.standard_normal(y_want.shape).astype(dtype)
            gx_want = np.zeros(x.shape, dtype).reshape(x.shape[0] * x.shape[1], -1)
            np.add.at(gx_want, (np.arange(gx_want.shape[0])[:, None],
                                idx_want.reshape(gx_want.shape[0], -1)),
                      g.reshape(gx_want.shape[0], -1))
            what = f"max_pool2d {pool_case_label(x.shape, k, s, p)} ({np.dtype(dtype)})"
            for backend in ("fast", "reference"):
                side = f"{SIDES[backend]} ({backend})"
                with kernels.backend(backend):
                    y, idx = kernels.max_pool2d_forward(x, k, s, p)
                    gx = kernels.max_pool2d_backward(g, idx_want, x.shape)
                assert_agrees(y, y_want, f"{what} forward", side, "NumPy argmax")
                if not np.array_equal(idx, idx_want):
                    i = tuple(int(v) for v in np.argwhere(idx != idx_want)[0])
                    raise AssertionError(f"{what} indices: {side} disagrees with NumPy argmax "
                                         f"(ties: the first maximum wins, NaN wins): at {i} "
                                         f"{idx[i]} vs {idx_want[i]}")
                assert_agrees(gx, gx_want.reshape(x.shape), f"{what} backward", side,
                              "NumPy scatter-add")
                count += 3
    return f"{count} outputs, ties and NaN"


def check_threads():
    """Fast kernels are bit-identical for 1, 2 and 3 threads."""
    if not kernels.openmp_enabled():
        return "serial build: always 1 thread"
    previous = kernels.get_num_threads()
    previous_min_work = kernels.MIN_WORK_PER_THREAD
    # Batches not a multiple of the thread counts; the second past 16, channels-last, several
    # samples per chunk and per GEMM.
    cases = [(7, 5, 12, 11, 6, 3, 3, 1, 1, 1, 1), (40, 8, 6, 6, 4, 3, 3, 1, 1, 1, 1)]
    results = {}
    # These shapes are small: let every call use all the threads it is given.
    kernels.MIN_WORK_PER_THREAD = {"conv": 1, "pool": 1}
    try:
        for n in (1, 2, 3):
            kernels.set_num_threads(n)
            results[n] = []
            for case in cases:
                x, w, grad_out, geo = _conv_case(case, np.float32, np.random.default_rng(5))
                results[n] += _conv_outputs(x, w, grad_out, geo)
            px = _pool_inputs(np.random.default_rng(6)).astype(np.float32)
            results[n] += _pool_outputs(px, np.random.default_rng(7))
    finally:
        kernels.set_num_threads(previous)
        kernels.MIN_WORK_PER_THREAD = previous_min_work
    for n in (2, 3):
        for a, b in zip(results[1], results[n]):
            np.testing.assert_array_equal(a, b, err_msg=f"1 thread vs {n} threads")
    return f"{len(results[1])} outputs, 1 vs 2 vs 3 threads"


def check_gradients():
    """Every differentiable op through autograd against central differences (float64)."""
    import minicnn
    import minicnn.nn.functional as F

    rng = np.random.default_rng(8)

    def t(*shape, positive=False):
        a = rng.standard_normal(shape)
        if positive:
            a = np.abs(a) + 0.5
        return minicnn.tensor(a, dtype=np.float64, requires_grad=True)

    def away_from_zero(*shape):
        a = rng.standard_normal(shape)
        a += np.sign(a) * 0.1  # ReLU/LeakyReLU have a kink at 0
        return minicnn.tensor(a, dtype=np.float64, requires_grad=True)

    def tie_free(*shape):
        return minicnn.tensor(_pool_inputs(rng, shape), dtype=np.float64, requires_grad=True)

    labels = minicnn.tensor(rng.integers(0, 5, size=4))
    cases = {
        "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=1),
                   (t(2, 3, 6, 5), t(4, 3, 3, 2), t(4))),
        "conv2d groups+dilation": (lambda x, w: F.conv2d(x, w, padding=2, dilation=2, groups=2),
                                   (t(1, 4, 6, 6), t(2, 2, 3, 3))),
        "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1),
                             (t(2, 3, 4, 3), t(3, 2, 3, 3), t(2))),
        "max_pool2d": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), (tie_free(2, 2, 7, 6),)),
        "avg_pool2d": (lambda x: F.avg_pool2d(x, (3, 2), stride=1, padding=(1, 1)),
                       (t(2, 2, 5, 6),)),
        "relu": (F.relu, (away_from_zero(3, 4),)),
        "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), (away_from_zero(3, 4),)),
        "sigmoid": (F.sigmoid, (t(3, 4),)),
        "tanh": (F.tanh, (t(3, 4),)),
        "gelu": (F.gelu, (t(3, 4),)),
        "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), (t(3, 4),)),
        "linear": (F.linear, (t(4, 6), t(3, 6), t(3))),
        "log_softmax": (lambda x: F.log_softmax(x, dim=1), (t(4, 5),)),
        "softmax": (lambda x: F.softmax(x, dim=1), (t(4, 5),)),
        "cross_entropy": (lambda x: F.cross_entropy(x, labels), (t(4, 5),)),
        "mse_loss": (F.mse_loss, (t(3, 4), t(3, 4))),
        "tensor arithmetic": (lambda a, b: ((a * b + a / b - b) ** 2).exp().log().mean(),
                              (t(3, 4), t(3, 4, positive=True))),
        "matmul, reshape, transpose": (lambda a, b: (a @ b).reshape(2, 6).transpose(0, 1).sum(),
                                       (t(3, 4), t(4, 4))),
    }
    for name, (fn, inputs) in cases.items():
        try:
            minicnn.gradcheck(fn, inputs)
        except Exception as exc:
            raise AssertionError(f"{name}: {exc}") from exc
    return f"{len(cases)} ops"


CHECKS = [
    ("conv kernels vs scipy.signal, float32, fast", lambda: check_conv_scipy(np.float32, "fast")),
    ("conv kernels vs scipy.signal, float64, fast", lambda: check_conv_scipy(np.float64, "fast")),
    ("conv kernels vs scipy.signal, float64, reference",
     lambda: check_conv_scipy(np.float64, "reference")),
    ("fast kernels == readable twins", check_fast_vs_reference),
    ("max_pool2d ties and NaN vs NumPy, fast and reference", check_max_pool_ties_nan),
    ("bit-identical for 1, 2, 3 threads", check_threads),
    ("gradcheck of every op (float64)", check_gradients),
]


# --- a learner's own kernel: python -m minicnn check --kernel MODULE:FUNCTION -------------

USER_KERNELS = KERNEL_NAMES + ("max_pool2d_forward", "max_pool2d_backward")


def load_kernel(spec):
    """``MODULE:FUNCTION`` (a dotted module or a path to a .py file) -> the function.

    Raises ValueError naming ``--kernel`` and what is wrong."""
    import importlib
    import importlib.util
    import os

    module_name, sep, function_name = spec.rpartition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"--kernel: expected MODULE:FUNCTION (e.g. my_kernels:conv2d_forward "
                         f"or path/to/file.py:conv2d_forward), got {spec!r}")
    try:
        if module_name.endswith(".py"):
            if not os.path.isfile(module_name):
                raise ValueError(f"--kernel: no such file {module_name!r}")
            loader = importlib.util.spec_from_file_location("_minicnn_user_kernel", module_name)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ValueError:
        raise
    except Exception as exc:  # the learner's module failed to import: say so, in one line
        raise ValueError(f"--kernel: importing {module_name!r} failed: "
                         f"{type(exc).__name__}: {exc}") from exc
    fn = getattr(module, function_name, None)
    if not callable(fn):
        raise ValueError(f"--kernel: {module_name!r} has no function {function_name!r}")
    return fn


# Each kernel's positional arguments, what it returns ("float": the input's dtype), and the
# argument that holds its output's shape.
KERNEL_SIGNATURES = {
    "conv2d_forward": (("x", "w"), ("float",), None),
    "conv2d_backward_input": (("grad_out", "w", "x_shape"), ("float",), "x_shape"),
    "conv2d_backward_weight": (("x", "grad_out", "w_shape"), ("float",), "w_shape"),
    "max_pool2d_forward": (("x", "kernel_size", "stride", "padding"), ("float", "int64"), None),
    "max_pool2d_backward": (("grad_out", "indices", "x_shape"), ("float",), "x_shape"),
}


def user_kernel_checks(name, fn):
    """The rows that check a learner's ``fn`` implementing the kernel ``name``: the same
    oracles as the built-in rows (scipy.signal, NumPy argmax), and finite differences of the
    library's forward for a backward kernel. ``fn`` takes what ``minicnn.kernels.<name>``
    takes (see kernels/reference.py) and returns an array; it runs on copies of its inputs,
    and changing them, or returning another dtype, shape or a non-contiguous array, fails; a
    last row runs it on float32 input, which must give float32 back."""
    from minicnn.cli.isolate import guarded
    side = f"your {name}"
    arg_names, outputs, shape_arg = KERNEL_SIGNATURES[name]
    fn = guarded(fn, side, arg_names, outputs, shape_arg)

    def conv_vs_scipy():
        rng = np.random.default_rng(0)
        index = KERNEL_NAMES.index(name)
        cases = CONV_CASES + BIG_CONV_CASES
        for case in cases:
            x, w, grad_out, geo = _conv_case(case, np.float64, rng)
            args = ((x, w), (grad_out, w, x.shape), (x, grad_out, w.shape))[index]
            want = scipy_conv2d(x, w, grad_out=grad_out, **geo)[index]
            assert_agrees(fn(*args, **geo), want, f"{name} {case_label(case)}", side)
        return f"{len(cases)} shapes (N up to {max(c[0] for c in cases)})"

    def conv_vs_finite_differences():
        rng = np.random.default_rng(1)
        case = (2, 3, 6, 5, 4, 3, 2, 2, 1, 1, 1)
        x, w, grad_out, geo = _conv_case(case, np.float64, rng)
        with kernels.backend("reference"):
            if name == "conv2d_backward_input":
                got = fn(grad_out, w, x.shape, **geo)
                want = numerical_grad(
                    lambda a: float((kernels.conv2d_forward(a, w, **geo) * grad_out).sum()), x)
            else:
                got = fn(x, grad_out, w.shape, **geo)
                want = numerical_grad(
                    lambda a: float((kernels.conv2d_forward(x, a, **geo) * grad_out).sum()), w)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} {case_label(case)}: {side} disagrees with "
                                           f"finite differences of conv2d_forward")
        return f"{want.size} partial derivatives"

    def pool_forward():
        rng = np.random.default_rng(2)
        count = 0
        for x in (_pool_inputs(rng), _tie_and_nan_inputs(rng, np.float64)):
            for k, s, p in ((2, 2, 0), (3, 2, 1), ((3, 2), 1, (1, 0))):
                what = f"{name} {pool_case_label(x.shape, k, s, p)}"
                y, idx = fn(x, k, s, p)
                y_want, idx_want = numpy_max_pool2d(x, k, s, p)
                assert_agrees(y, y_want, what, side, "NumPy argmax")
                if not np.array_equal(idx, idx_want):
                    raise AssertionError(f"{what}: {side} indices disagree with NumPy argmax "
                                         f"(the first maximum wins; a NaN wins)")
                count += 1
        return f"{count} cases, with ties and NaN"

    def pool_backward():
        rng = np.random.default_rng(3)
        x = _pool_inputs(rng)
        for k, s, p in ((2, 2, 0), (3, 2, 1), ((3, 2), 1, (1, 0))):
            y, idx = numpy_max_pool2d(x, k, s, p)
            g = rng.standard_normal(y.shape)
            want = numerical_grad(
                lambda a: float((numpy_max_pool2d(a, k, s, p)[0] * g).sum()), x.copy())
            np.testing.assert_allclose(fn(g, idx, x.shape), want, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} {pool_case_label(x.shape, k, s, p)}: "
                                               f"{side} disagrees with finite differences of "
                                               f"max pooling")
        return "3 geometries, tie-free input"

    def keeps_float32():
        # float32 in, float32 out (a float64 result is the usual slip: np.zeros' default).
        rng = np.random.default_rng(4)
        if name in KERNEL_NAMES:
            case = (2, 3, 6, 5, 4, 3, 2, 2, 1, 1, 1)
            x, w, grad_out, geo = _conv_case(case, np.float32, rng)
            args = ((x, w), (grad_out, w, x.shape), (x, grad_out, w.shape))[
                KERNEL_NAMES.index(name)]
            want = getattr(kernels, name)(*args, **geo)
            got = fn(*args, **geo)
        else:
            x = _pool_inputs(rng).astype(np.float32)
            y, idx = kernels.max_pool2d_forward(x, 3, 2, 1)
            if name == "max_pool2d_forward":
                got, want = fn(x, 3, 2, 1)[0], y
            else:
                g = rng.standard_normal(y.shape).astype(np.float32)
                got, want = fn(g, idx, x.shape), kernels.max_pool2d_backward(g, idx, x.shape)
        assert_agrees(got, want, f"{name} on float32", side, "minicnn's kernel")
        return "float32 in, float32 out"

    float32_row = (f"{side} keeps float32", keeps_float32)
    if name == "conv2d_forward":
        return [(f"{side} vs scipy.signal, float64", conv_vs_scipy), float32_row]
    if name in KERNEL_NAMES:
        return [(f"{side} vs scipy.signal, float64", conv_vs_scipy),
                (f"{side} vs finite differences", conv_vs_finite_differences), float32_row]
    if name == "max_pool2d_forward":
        return [(f"{side} vs NumPy argmax (ties, NaN)", pool_forward), float32_row]
    return [(f"{side} vs finite differences", pool_backward), float32_row]


def _load_user_rows(spec, name):
    """In the child process of ``--kernel``: import the learner's function, make its rows."""
    fn = load_kernel(spec)
    if name not in USER_KERNELS:
        raise ValueError(f"--kernel: {name!r} is not a kernel check knows; name your "
                         f"function (or pass --as) one of {', '.join(USER_KERNELS)}")
    return user_kernel_checks(name, fn)


def _run_row(name, fn, verbose=False):
    return run_checks(verbose, [(name, fn)])[0]


def run_checks(verbose=False, checks=None):
    """Run every check; return a list of (name, passed, detail, seconds)."""
    rows = []
    for name, fn in CHECKS if checks is None else checks:
        start = time.perf_counter()
        try:
            detail, passed = fn(), True
        except Exception as exc:  # a failing check is reported, never hidden
            # np.testing messages open with a blank line and give err_msg (which kernel, which
            # shape) on their second line: keep the first two non-blank lines.
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail, passed = f"{type(exc).__name__}: {' | '.join(lines[:2])}"[:400], False
            if verbose:
                traceback.print_exc()
        rows.append((name, passed, detail, time.perf_counter() - start))
    return rows


def add_arguments(parser):
    """Add the ``check`` subcommand's options to an argparse parser."""
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of failures")
    parser.add_argument("--kernel", metavar="MODULE:FUNCTION",
                        help="check your own kernel instead (a module or a .py file, and a "
                             "function taking what minicnn.kernels' function of that name takes)")
    parser.add_argument("--as", dest="kernel_as", metavar="NAME", choices=USER_KERNELS,
                        help="which kernel your function implements, when its name is not one "
                             f"of {', '.join(USER_KERNELS)}")
    parser.add_argument("--timeout", type=positive_float, default=300.0, metavar="SECONDS",
                        help="with --kernel: stop your kernel when one row runs longer "
                             "(default 300)")


def _user_kernel_rows(args):
    """``--kernel``: the learner's rows, run in a child process (see ``isolate``)."""
    from scipy import signal  # noqa: F401 - before the fork: the child starts with the oracle
    from minicnn.cli.isolate import run_rows
    spec = args.kernel
    name = getattr(args, "kernel_as", None) or spec.rpartition(":")[2]
    _, rows = run_rows(_load_user_rows, (spec, name), functools.partial(
        _run_row, verbose=args.verbose), getattr(args, "timeout", 300.0))
    return rows


def main(args):
    """Run every check, print the PASS/FAIL table; return 0 if all passed, 1 if one failed,
    2 if ``--kernel`` names nothing usable."""
    if getattr(args, "kernel", None) is not None:
        try:
            rows = _user_kernel_rows(args)
        except ValueError as exc:
            print(f"minicnn check: error: {exc}", file=sys.stderr)
            return 2
        _header()
    else:
        _header()
        rows = run_checks(verbose=args.verbose)
    width = max(len(name) for name, *_ in rows)
    for name, passed, detail, seconds in rows:
        print(f"{'PASS' if passed else 'FAIL'}  {name:<{width}}  {seconds:5.2f}s  {detail}")
    failed = sum(not passed for _, passed, *_ in rows)
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _header():
    print(f"minicnn check: OpenMP {'on' if kernels.openmp_enabled() else 'off'}, "
          f"{kernels.get_num_threads()} threads")
