"""`python -m minicnn check`: verify the installed kernels and ops three independent ways.

1. scipy.signal oracles for every convolution kernel (forward, grad_x, grad_w), float32 and float64;
2. finite differences in float64 for every differentiable op (``minicnn.gradcheck``);
3. fast kernel == readable twin, and bit-identical results for 1, 2 and 3 threads.

This is what a learner runs after editing a kernel. It prints a PASS/FAIL table and exits
non-zero on any failure.
"""
import time
import traceback

import numpy as np
from scipy import signal

from minicnn import kernels

# (N, C, H, W, O, KH, KW, stride, padding, dilation, groups): small, but each one exercises
# something: plain, stride > 1 with padding, dilation, groups, non-square, kernel == padded input.
CONV_CASES = [
    (2, 3, 7, 6, 4, 3, 3, 1, 0, 1, 1),
    (2, 2, 9, 8, 3, 3, 2, (2, 3), (1, 0), 1, 1),
    (1, 2, 9, 9, 2, 3, 3, 1, 2, (2, 1), 1),
    (2, 4, 6, 6, 6, 3, 3, 2, 1, 1, 2),
    (3, 1, 5, 4, 2, 7, 6, 1, (1, 1), 1, 1),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _dilate(w, DH, DW):
    """Insert DH-1 / DW-1 zeros between kernel taps: (KH, KW) -> (DH(KH-1)+1, DW(KW-1)+1)."""
    KH, KW = w.shape[-2:]
    out = np.zeros(w.shape[:-2] + (DH * (KH - 1) + 1, DW * (KW - 1) + 1), w.dtype)
    out[..., ::DH, ::DW] = w
    return out


def _stuffed(grad_out, shape, SH, SW):
    """grad_out placed at every SH-th row / SW-th column of a zero array of the stride-1 size."""
    out = np.zeros(grad_out.shape[:2] + shape, grad_out.dtype)
    OH, OW = grad_out.shape[2:]
    out[:, :, :SH * OH:SH, :SW * OW:SW] = grad_out
    return out


def scipy_conv2d(x, w, stride=1, padding=0, dilation=1, groups=1, grad_out=None):
    """Oracle for the three conv kernels built from scipy.signal 2-D correlations.

    Returns (y, grad_x, grad_w), the last two only when ``grad_out`` is given:
    forward = sum_c correlate2d(x_pad[n, c], w[o, c], 'valid'), subsampled by the stride;
    grad_x  = sum_o convolve2d(grad_out_stuffed[n, o], w[o, c], 'full'), cropped by the padding;
    grad_w  = sum_n correlate2d(x_pad[n, c], grad_out_stuffed[n, o], 'valid').
    Dilation is a kernel with zeros inserted between its taps.
    """
    (SH, SW), (PH, PW), (DH, DW), G = _pair(stride), _pair(padding), _pair(dilation), groups
    N, C, H, W = x.shape
    O, CG = w.shape[:2]
    OG = O // G
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW))).astype(np.float64)
    w_dil = _dilate(w.astype(np.float64), DH, DW)
    full_h, full_w = x_pad.shape[2] - w_dil.shape[2] + 1, x_pad.shape[3] - w_dil.shape[3] + 1
    group = [o // OG for o in range(O)]
    y1 = np.zeros((N, O, full_h, full_w))
    for n in range(N):
        for o in range(O):
            for c in range(CG):
                y1[n, o] += signal.correlate2d(x_pad[n, group[o] * CG + c], w_dil[o, c], "valid")
    OH, OW = (full_h - 1) // SH + 1, (full_w - 1) // SW + 1
    y = y1[:, :, ::SH, ::SW][:, :, :OH, :OW]
    if grad_out is None:
        return y, None, None
    g1 = _stuffed(grad_out.astype(np.float64), (full_h, full_w), SH, SW)
    grad_x_pad = np.zeros(x_pad.shape)
    grad_w_dil = np.zeros(w_dil.shape)
    for n in range(N):
        for o in range(O):
            for c in range(CG):
                ci = group[o] * CG + c
                grad_x_pad[n, ci] += signal.convolve2d(g1[n, o], w_dil[o, c], "full")
                grad_w_dil[o, c] += signal.correlate2d(x_pad[n, ci], g1[n, o], "valid")
    grad_x = grad_x_pad[:, :, PH:PH + H, PW:PW + W]
    return y, grad_x, grad_w_dil[:, :, ::DH, ::DW]


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


def check_conv_scipy(dtype, backend):
    """Every conv case against the scipy.signal oracle."""
    rng = np.random.default_rng(0)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    with kernels.backend(backend):
        for case in CONV_CASES:
            x, w, grad_out, geo = _conv_case(case, dtype, rng)
            got = _conv_outputs(x, w, grad_out, geo)
            want = scipy_conv2d(x, w, grad_out=grad_out, **geo)
            for name, g, e in zip(("forward", "grad_x", "grad_w"), got, want):
                assert g.dtype == dtype, f"{name}: dtype {g.dtype}, expected {np.dtype(dtype)}"
                np.testing.assert_allclose(g, e, **tol, err_msg=f"{name} {case}")
    return f"{len(CONV_CASES)} shapes x 3 kernels"


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
    for dtype, tol in ((np.float32, 1e-4), (np.float64, 1e-11)):
        for case in CONV_CASES:
            x, w, grad_out, geo = _conv_case(case, dtype, np.random.default_rng(1))
            with kernels.backend("reference"):
                want = _conv_outputs(x, w, grad_out, geo)
            for g, e in zip(_conv_outputs(x, w, grad_out, geo), want):
                np.testing.assert_allclose(g, e, rtol=tol, atol=tol, err_msg=str(case))
                count += 1
        x = _pool_inputs(np.random.default_rng(2)).astype(dtype)
        with kernels.backend("reference"):
            want = _pool_outputs(x, np.random.default_rng(3))
        for g, e in zip(_pool_outputs(x, np.random.default_rng(3)), want):
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol)
            count += 1
    return f"{count} outputs compared"


def check_threads():
    """Fast kernels are bit-identical for 1, 2 and 3 threads."""
    if not kernels.openmp_enabled():
        return "serial build: always 1 thread"
    previous = kernels.get_num_threads()
    previous_min_work = kernels.MIN_WORK_PER_THREAD
    case = (7, 5, 12, 11, 6, 3, 3, 1, 1, 1, 1)  # batch not a multiple of the thread counts
    results = {}
    # These shapes are small: let every call use all the threads it is given.
    kernels.MIN_WORK_PER_THREAD = {"conv": 1, "pool": 1}
    try:
        for n in (1, 2, 3):
            kernels.set_num_threads(n)
            x, w, grad_out, geo = _conv_case(case, np.float32, np.random.default_rng(5))
            px = _pool_inputs(np.random.default_rng(6)).astype(np.float32)
            results[n] = list(_conv_outputs(x, w, grad_out, geo)) + _pool_outputs(
                px, np.random.default_rng(7))
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
    ("bit-identical for 1, 2, 3 threads", check_threads),
    ("gradcheck of every op (float64)", check_gradients),
]


def run_checks(verbose=False):
    """Run every check; return a list of (name, passed, detail, seconds)."""
    rows = []
    for name, fn in CHECKS:
        start = time.perf_counter()
        try:
            detail, passed = fn(), True
        except Exception as exc:  # a failing check is reported, never hidden
            # np.testing messages open with a blank line and give err_msg (which kernel, which
            # shape) on their second line: keep the first two non-blank lines.
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail, passed = f"{type(exc).__name__}: {' | '.join(lines[:2])}"[:200], False
            if verbose:
                traceback.print_exc()
        rows.append((name, passed, detail, time.perf_counter() - start))
    return rows


def add_arguments(parser):
    """Add the ``check`` subcommand's options to an argparse parser."""
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of failures")


def main(args):
    """Run every check, print the PASS/FAIL table; return 0 if all passed, else 1."""
    print(f"minicnn check: OpenMP {'on' if kernels.openmp_enabled() else 'off'}, "
          f"{kernels.get_num_threads()} threads")
    rows = run_checks(verbose=args.verbose)
    width = max(len(name) for name, *_ in rows)
    for name, passed, detail, seconds in rows:
        print(f"{'PASS' if passed else 'FAIL'}  {name:<{width}}  {seconds:5.2f}s  {detail}")
    failed = sum(not passed for _, passed, *_ in rows)
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0
