"""Tests of ``python -m minicnn check``: it passes on the real kernels, and each check can fail."""
import argparse
import re

import numpy as np
import pytest

import minicnn.__main__ as cli
import minicnn.kernels as K
import minicnn.nn.functional as F
from minicnn.cli import check

ROW = re.compile(r"^(PASS|FAIL)  (.+?)\s+\d+\.\d\ds  (.*)$")


def run_main(capsys, verbose=False):
    """check.main on a parsed Namespace: (exit code, {row name: (status, detail)}, stdout)."""
    code = check.main(argparse.Namespace(verbose=verbose))
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
    assert "forward (" in rows[names[1]][1]  # the detail names the kernel and the case
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
    assert "grad_w" in rows[names[0]][1]
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
    oracle = check.scipy_conv2d(x, w, grad_out=grad_out, **geometry)
    for name, got, want in zip(("y", "grad_x", "grad_w"), (y, grad_x, grad_w), oracle):
        assert want.shape == got.shape, name
        np.testing.assert_allclose(want, got, rtol=1e-12, atol=1e-12, err_msg=name)
    y_only = check.scipy_conv2d(x, w, **geometry)
    assert y_only[1] is None and y_only[2] is None
    np.testing.assert_allclose(y_only[0], y, rtol=1e-12, atol=1e-12)


def test_scipy_oracle_is_not_the_reference_in_disguise():
    # A hand-computed case: 1-channel 3x3 input, 2x2 kernel, stride 1, no padding.
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    w = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(1, 1, 2, 2)
    grad_out = np.ones((1, 1, 2, 2))
    y, grad_x, grad_w = check.scipy_conv2d(x, w, grad_out=grad_out)
    np.testing.assert_array_equal(y[0, 0], [[0 - 4, 1 - 5], [3 - 7, 4 - 8]])
    # Each input pixel gets the sum of the kernel taps that touched it.
    np.testing.assert_array_equal(grad_x[0, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])
    # Each tap gets the sum of the 2x2 input block it slid over.
    np.testing.assert_array_equal(grad_w[0, 0], [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5],
                                                 [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]])
