"""Tests of ``python -m minicnn check``: it passes on the real kernels, and each check can fail."""
import argparse
import re

import numpy as np
import pytest

import minicnn.__main__ as cli
import minicnn.kernels as K
import minicnn.nn.functional as F
from minicnn.cli import check
from minicnn.testing import BIG_CONV_CASES, scipy_conv2d

ROW = re.compile(r"^(PASS|FAIL)  (.+?)\s+\d+\.\d\ds  (.*)$")


def run_main(capsys, verbose=False, kernel=None, kernel_as=None):
    """check.main on a parsed Namespace: (exit code, {row name: (status, detail)}, stdout)."""
    code = check.main(argparse.Namespace(verbose=verbose, kernel=kernel, kernel_as=kernel_as))
    out = capsys.readouterr().out
    rows = {}
    for line in out.splitlines():
        match = ROW.match(line)
        if match:
            rows[match[2]] = (match[1], match[3])
    return code, rows, out


def only(monkeypatch, *keywords):
    """Restrict check.CHECKS to the rows whose names contain every word of one keyword string."""
    chosen = []
    for words in keywords:
        found = [c for c in check.CHECKS if all(w in c[0] for w in words.split())]
        assert len(found) == 1, f"{words!r} matches {[c[0] for c in found]}"
        chosen += found
    monkeypatch.setattr(check, "CHECKS", chosen)
    return [name for name, _ in chosen]


def break_fast_kernel(monkeypatch, name, offset=0.5):
    """Make the fast backend's ``name`` kernel add ``offset`` to the first element of its result.

    Patched at the seam (``minicnn.kernels``), which check.py and nn.functional both call
    through, so the reference backend stays correct: a bug in a fast kernel only.
    """
    real = getattr(K, name)

    def broken(*args, **kwargs):
        out = real(*args, **kwargs)
        if K.get_backend() == "fast":
            out = out.copy()
            out.flat[0] += offset
        return out

    monkeypatch.setattr(K, name, broken)


def test_all_checks_pass_on_the_installed_kernels(capsys, threads):
    # One thread: on shared, busy cores every parallel kernel call can wait a whole time slice
    # for its second thread (10x slower here). The thread row sets 1, 2 and 3 threads itself.
    threads(1)
    code, rows, out = run_main(capsys)
    assert code == 0, out
    assert list(rows) == [name for name, _ in check.CHECKS]
    assert all(status == "PASS" for status, _ in rows.values()), out
    assert out.splitlines()[0].startswith("minicnn check: OpenMP ")
    assert out.splitlines()[-1] == f"{len(check.CHECKS)} passed, 0 failed"


def test_a_wrong_forward_value_fails_the_oracle_and_twin_rows(monkeypatch, capsys, threads):
    threads(1)  # these tiny shapes gain nothing from threads; spare the shared cores
    names = only(monkeypatch, "scipy float32 fast", "scipy float64 fast", "scipy reference",
                 "twins", "gradcheck")
    break_fast_kernel(monkeypatch, "conv2d_forward")
    code, rows, out = run_main(capsys)
    assert code == 1
    status = {name: rows[name][0] for name in names}
    assert status == {names[0]: "FAIL", names[1]: "FAIL", names[2]: "PASS",
                      names[3]: "FAIL", names[4]: "FAIL"}, out
    # The detail names the kernel, the labelled geometry and the side that disagrees.
    assert rows[names[1]][1].startswith("AssertionError: conv2d_forward N,C,H,W=2,3,7,6 "
                                        "O,KH,KW=4,3,3 stride=1: fast kernel (fast) disagrees "
                                        "with scipy"), out
    # A constant offset has zero derivative, so conv2d's own gradcheck (checked first) passes;
    # it is caught through conv_transpose2d, whose backward runs the conv forward kernel.
    assert rows[names[4]][1].startswith("AssertionError: conv_transpose2d: gradcheck failed")
    assert out.splitlines()[-1] == "1 passed, 4 failed"


def test_a_wrong_weight_gradient_fails_the_gradcheck_row_too(monkeypatch, capsys, threads):
    threads(1)
    names = only(monkeypatch, "scipy float64 fast", "scipy reference", "gradcheck")
    break_fast_kernel(monkeypatch, "conv2d_backward_weight", offset=1e-2)
    code, rows, out = run_main(capsys)
    assert code == 1
    assert [rows[name][0] for name in names] == ["FAIL", "PASS", "FAIL"], out
    assert "conv2d_backward_weight N,C,H,W=" in rows[names[0]][1]
    # gradcheck names the op and the input (the weight is input 1 of conv2d).
    assert rows[names[2]][1].startswith("AssertionError: conv2d: gradcheck failed for input 1")


def test_a_wrong_backward_in_a_functional_op_fails_gradcheck(monkeypatch, capsys, threads):
    threads(1)
    names = only(monkeypatch, "scipy reference", "gradcheck")
    real_backward = F.AvgPool2dFn.backward

    def backward_off_by_a_factor(ctx, grad_out):
        grad_x, *rest = real_backward(ctx, grad_out)
        return (1.01 * grad_x, *rest)  # 1% too large: beyond gradcheck's rtol of 1e-3

    monkeypatch.setattr(F.AvgPool2dFn, "backward", staticmethod(backward_off_by_a_factor))
    code, rows, out = run_main(capsys)
    assert code == 1
    assert rows[names[0]][0] == "PASS" and rows[names[1]][0] == "FAIL", out
    assert "avg_pool2d: gradcheck failed for input 0" in rows[names[1]][1]
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_thread_row_fails_when_results_depend_on_the_thread_count(monkeypatch, capsys):
    if not K.openmp_enabled():
        pytest.skip("serial build: the thread check has nothing to compare")
    only(monkeypatch, "threads")
    real = K.conv2d_backward_weight

    def racy(*args, **kwargs):  # what a data race looks like: the last bits move with threads
        out = real(*args, **kwargs)
        return out + np.float32(1e-6) * (K.get_num_threads() - 1)

    monkeypatch.setattr(K, "conv2d_backward_weight", racy)
    code, rows, out = run_main(capsys)
    assert code == 1
    (status, detail), = rows.values()
    assert status == "FAIL" and "1 thread vs 2 threads" in detail, out


def test_any_exception_is_a_failed_row_and_verbose_prints_its_traceback(monkeypatch, capsys):
    def crashes():
        raise ValueError("\nkernel exploded\nin this place\n\nand more detail")

    monkeypatch.setattr(check, "CHECKS", [("works", lambda: "fine"), ("crashes", crashes)])
    code, rows, out = run_main(capsys)
    assert code == 1
    assert rows == {"works": ("PASS", "fine"),
                    "crashes": ("FAIL", "ValueError: kernel exploded | in this place")}
    assert capsys.readouterr().err == ""

    check.main(argparse.Namespace(verbose=True))
    captured = capsys.readouterr()
    assert "Traceback" in captured.err and "kernel exploded" in captured.err


def test_the_command_line_exits_non_zero_on_failure(monkeypatch, capsys):
    monkeypatch.setattr(check, "CHECKS", [("fails", lambda: 1 / 0)])
    assert cli.main(["check"]) == 1
    assert "FAIL  fails" in capsys.readouterr().out
    monkeypatch.setattr(check, "CHECKS", [("passes", lambda: "ok")])
    assert cli.main(["check"]) == 0


@pytest.mark.parametrize("x_shape, w_shape, geometry", [
    ((2, 3, 7, 6), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    ((1, 2, 9, 8), (3, 2, 3, 3), dict(padding=2, dilation=(2, 3))),
    ((2, 4, 6, 7), (6, 2, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((2, 6, 5, 5), (6, 1, 3, 3), dict(padding=1, groups=6)),                # depthwise
    ((1, 1, 4, 4), (2, 1, 6, 6), dict(padding=1)),                          # kernel = padded input
])
def test_scipy_oracle_agrees_with_the_reference_kernels(x_shape, w_shape, geometry, rng):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    with K.backend("reference"):
        y = K.conv2d_forward(x, w, **geometry)
        grad_out = rng.standard_normal(y.shape)
        grad_x = K.conv2d_backward_input(grad_out, w, x.shape, **geometry)
        grad_w = K.conv2d_backward_weight(x, grad_out, w.shape, **geometry)
    oracle = scipy_conv2d(x, w, grad_out=grad_out, **geometry)
    for name, got, want in zip(("y", "grad_x", "grad_w"), (y, grad_x, grad_w), oracle):
        assert want.shape == got.shape, name
        np.testing.assert_allclose(want, got, rtol=1e-12, atol=1e-12, err_msg=name)
    y_only = scipy_conv2d(x, w, **geometry)
    assert y_only[1] is None and y_only[2] is None
    np.testing.assert_allclose(y_only[0], y, rtol=1e-12, atol=1e-12)


def test_scipy_oracle_is_not_the_reference_in_disguise():
    # A hand-computed case: 1-channel 3x3 input, 2x2 kernel, stride 1, no padding.
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    w = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(1, 1, 2, 2)
    grad_out = np.ones((1, 1, 2, 2))
    y, grad_x, grad_w = scipy_conv2d(x, w, grad_out=grad_out)
    np.testing.assert_array_equal(y[0, 0], [[0 - 4, 1 - 5], [3 - 7, 4 - 8]])
    # Each input pixel gets the sum of the kernel taps that touched it.
    np.testing.assert_array_equal(grad_x[0, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])
    # Each tap gets the sum of the 2x2 input block it slid over.
    np.testing.assert_array_equal(grad_w[0, 0], [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5],
                                                 [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]])


def test_a_weight_gradient_that_drops_samples_past_16_fails_scipy_and_twin_rows(
        monkeypatch, capsys, threads):
    # What overwriting instead of accumulating across the samples of a chunk looks like: only
    # batches past 16 (several samples per chunk) go wrong.
    threads(1)
    names = only(monkeypatch, "scipy float64 fast", "scipy reference", "twins")
    real = K.conv2d_backward_weight

    def drops_samples(x, grad_out, w_shape, **geo):
        if K.get_backend() == "fast" and x.shape[0] > 16:
            return real(x[:16], grad_out[:16], w_shape, **geo)
        return real(x, grad_out, w_shape, **geo)

    monkeypatch.setattr(K, "conv2d_backward_weight", drops_samples)
    code, rows, out = run_main(capsys)
    assert code == 1
    assert [rows[name][0] for name in names] == ["FAIL", "PASS", "FAIL"], out
    for name in (names[0], names[2]):
        assert ("conv2d_backward_weight N,C,H,W=17,1,9,8 O,KH,KW=3,3,3 stride=1 padding=1: "
                "fast kernel") in rows[name][1], out
        assert "disagrees with scipy" in rows[name][1]


@pytest.mark.parametrize("blas", ["small-gemm", "no-small-gemm", "avx2"])
def test_the_big_batch_cases_cover_both_layouts_and_every_gemm_plan(small_gemm, avx2_gemm,
                                                                    blas):
    # An OpenBLAS with small-matrix kernels cuts pixel blocks; other BLAS stack samples
    # instead, and minicnn's AVX2 GEMM takes some of them where the CPU has it (the kernel
    # tests run every case each way on any machine).
    from minicnn.kernels import _conv, runtime
    if blas == "avx2" and not _conv.cpu_has_avx2_fma():
        pytest.skip("this CPU (or build) cannot run the AVX2 GEMM")
    small_gemm(runtime.SMALL_GEMM_SIZE if blas == "small-gemm" else 0)
    avx2_gemm(blas == "avx2")
    plans = set()
    for N, C, H, W, O, KH, KW, stride, padding, dilation, groups in BIG_CONV_CASES:
        assert N > 16
        (SH, SW), (PH, PW), (DH, DW) = (v if isinstance(v, tuple) else (v, v)
                                        for v in (stride, padding, dilation))
        p = _conv.plan((N, C, H, W), (O, C // groups, KH, KW), SH, SW, PH, PW, DH, DW, groups)
        OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
        OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
        plans.add((p["layout"], p["samples_per_gemm"] > 1, p["pixels_per_gemm"] < OH * OW,
                   p["weight_lowering"], p["weight_gemm"]))
    assert ("planar", False, False, "im2col", "blas") in plans
    if blas == "small-gemm":
        assert ("channels_last", False, True, "im2row", "blas") in plans   # pixel blocks
    # several samples per GEMM: lowered to rows; and to columns (on BLAS) or on the AVX2 GEMM
    assert ("channels_last", True, False, "im2row", "blas") in plans
    assert ("channels_last", True, False, *(("im2row", "avx2") if blas == "avx2" else
                                            ("im2col", "blas"))) in plans


@pytest.mark.parametrize("broken", ["last of equal maxima wins", "NaN ignored"])
def test_a_wrong_max_pool2d_tie_or_nan_rule_fails_the_tie_row(monkeypatch, capsys, broken):
    only(monkeypatch, "ties NaN")
    real = K.max_pool2d_forward

    def wrong_rule(x, kernel_size, stride=None, padding=0):
        if K.get_backend() != "fast":
            return real(x, kernel_size, stride, padding)
        if broken == "NaN ignored":
            return real(np.where(np.isnan(x), -1e30, x).astype(x.dtype), kernel_size, stride,
                        padding)
        # Flip each row: the last maximum in row order now wins among equals (in a row).
        y, idx = real(np.ascontiguousarray(x[..., ::-1]), kernel_size, stride, padding)
        return y[..., ::-1].copy(), idx  # indices point at mirrored pixels: wrong on ties
    monkeypatch.setattr(K, "max_pool2d_forward", wrong_rule)
    code, rows, out = run_main(capsys)
    assert code == 1
    (status, detail), = rows.values()
    assert status == "FAIL" and detail.startswith("AssertionError: max_pool2d N,C,H,W=17,2,7,6")
    assert "fast kernel (fast) disagrees with NumPy argmax" in detail, out


KERNEL_FILE = """
import numpy as np
from minicnn.kernels import reference as r

def conv2d_forward(x, w, stride=1, padding=0, dilation=1, groups=1):
    return r.conv2d_forward(x, w, stride, padding, dilation, groups)

def conv2d_backward_weight(x, grad_out, w_shape, **geometry):
    return r.conv2d_backward_weight(x, grad_out, w_shape, **geometry)

def backward_input_off(grad_out, w, x_shape, **geometry):
    return r.conv2d_backward_input(grad_out, w, x_shape, **geometry) * 1.001

def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    y, idx = r.max_pool2d_forward(x, kernel_size, stride, padding)
    return np.where(np.isnan(y), 0, y), idx   # forgets that NaN wins

def max_pool2d_backward(grad_out, indices, x_shape):
    return r.max_pool2d_backward(grad_out, indices, x_shape)
"""


@pytest.mark.parametrize("function, kernel_as, code, statuses", [
    ("conv2d_forward", None, 0, ["PASS", "PASS"]),        # the last row: float32 kept
    ("conv2d_backward_weight", None, 0, ["PASS", "PASS", "PASS"]),
    ("backward_input_off", "conv2d_backward_input", 1, ["FAIL", "FAIL", "FAIL"]),
    ("max_pool2d_forward", None, 1, ["FAIL", "PASS"]),   # no NaN in the float32 row
    ("max_pool2d_backward", None, 0, ["PASS", "PASS"]),
])
def test_check_kernel_runs_a_learners_function_through_the_oracles(
        tmp_path, capsys, function, kernel_as, code, statuses):
    path = tmp_path / "my_kernels.py"
    path.write_text(KERNEL_FILE)
    got, rows, out = run_main(capsys, kernel=f"{path}:{function}", kernel_as=kernel_as)
    assert got == code, out
    assert [status for status, _ in rows.values()] == statuses, out
    assert all(name.startswith(f"your {kernel_as or function}") for name in rows)
    if code:
        assert "disagrees with" in out and "your " in out


@pytest.mark.parametrize("spec, message", [
    ("no_colon", "expected MODULE:FUNCTION"),
    ("{tmp}/missing.py:conv2d_forward", "no such file"),
    ("minicnn_no_such_module:conv2d_forward", "importing 'minicnn_no_such_module' failed"),
    ("{tmp}/my_kernels.py:absent", "has no function 'absent'"),
    ("{tmp}/my_kernels.py:backward_input_off", "is not a kernel check knows"),
])
def test_check_kernel_refuses_what_it_cannot_run_in_one_line(tmp_path, capsys, spec, message):
    (tmp_path / "my_kernels.py").write_text(KERNEL_FILE)
    assert cli.main(["check", "--kernel", spec.format(tmp=tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # errors go to stderr, as every command's do
    assert err.startswith("minicnn check: error: --kernel: ") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
