"""`check --kernel` under attack: kernels that change their inputs, return the wrong kind of
array, exit, crash or hang must each end in a FAIL row (or a one-line error) saying so."""
import argparse
import os
import signal
import subprocess
import sys
import time

import pytest

from minicnn.cli import check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HOSTILE = """
import os, signal, sys, time
import numpy as np
from minicnn.kernels import reference as r

def nan_to_minus_inf(x, kernel_size, stride=None, padding=0):
    x[np.isnan(x)] = -np.inf           # the reference, run after it, would see this x
    return r.max_pool2d_forward(x, kernel_size, stride, padding)

def zeroes_its_input(x, w, stride=1, padding=0, dilation=1, groups=1):
    y = r.conv2d_forward(x, w, stride, padding, dilation, groups)
    x[...] = 0
    return y

def float32_out(x, w, **geometry):
    return r.conv2d_forward(x, w, **geometry).astype(np.float32)

def float64_out(x, w, **geometry):
    return r.conv2d_forward(x, w, **geometry).astype(np.float64)

def float64_grad(grad_out, indices, x_shape):
    return r.max_pool2d_backward(grad_out, indices, x_shape).astype(np.float64)

def complex_out(x, w, **geometry):
    return r.conv2d_forward(x, w, **geometry).astype(np.complex128)

def fortran_out(x, w, **geometry):
    return np.asfortranarray(r.conv2d_forward(x, w, **geometry))

def list_out(x, w, **geometry):
    return r.conv2d_forward(x, w, **geometry).tolist()

def transposed_shape(grad_out, w, x_shape, **geometry):
    grad_x = r.conv2d_backward_input(grad_out, w, x_shape, **geometry)
    return np.ascontiguousarray(grad_x.transpose(0, 1, 3, 2))

def int32_indices(x, kernel_size, stride=None, padding=0):
    y, idx = r.max_pool2d_forward(x, kernel_size, stride, padding)
    return y, idx.astype(np.int32)

def exits(x, w, **geometry):
    sys.exit(0)

def os_exits(x, w, **geometry):
    os._exit(0)

def segfaults(x, w, **geometry):
    os.kill(os.getpid(), signal.SIGSEGV)

def hangs(x, w, **geometry):
    while True:
        time.sleep(0.05)

def waits_for_ctrl_c(x, w, **geometry):
    with open(os.environ["MARKER"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
"""


@pytest.fixture
def kernels_file(tmp_path):
    path = tmp_path / "hostile.py"
    path.write_text(HOSTILE)
    return path


def run(capsys, spec, kernel_as="conv2d_forward", timeout=60.0):
    args = argparse.Namespace(verbose=False, kernel=spec, kernel_as=kernel_as, timeout=timeout)
    code = check.main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("function, kernel_as, message", [
    ("nan_to_minus_inf", "max_pool2d_forward", "changed its input x ("),
    ("zeroes_its_input", "conv2d_forward", "changed its input x ("),
    ("float32_out", "conv2d_forward", "has dtype float32, expected float64"),
    ("complex_out", "conv2d_forward", "has dtype complex128, expected float64"),
    ("float64_out", "conv2d_forward", "has dtype float64, expected float32"),
    ("float64_grad", "max_pool2d_backward", "has dtype float64, expected float32"),
    ("fortran_out", "conv2d_forward", "is not C-contiguous"),
    ("list_out", "conv2d_forward", "is a list, expected a NumPy array"),
    ("transposed_shape", "conv2d_backward_input", "output has shape (2, 3, 6, 7), expected "
                                                  "(2, 3, 7, 6)"),
    ("int32_indices", "max_pool2d_forward", "output 1 has dtype int32, expected int64"),
    ("exits", "conv2d_forward", "your kernel called sys.exit(0)"),
    ("os_exits", "conv2d_forward", "exited with status 0 without finishing"),
    ("segfaults", "conv2d_forward", "your kernel was killed by signal SIGSEGV"),
])
def test_a_hostile_kernel_is_a_fail_row_naming_what_it_did(capsys, kernels_file, function,
                                                           kernel_as, message):
    code, out, err = run(capsys, f"{kernels_file}:{function}", kernel_as)
    assert code == 1, out + err
    fails = [line for line in out.splitlines() if line.startswith("FAIL  your ")]
    assert fails and message in fails[0], out
    assert "Traceback" not in out + err and out.rstrip().endswith("failed")


def test_the_nan_rewrite_is_named_with_its_values(capsys, kernels_file):
    _, out, _ = run(capsys, f"{kernels_file}:nan_to_minus_inf", "max_pool2d_forward")
    assert "nan -> -inf" in out


def test_a_kernel_that_never_returns_times_out(capsys, kernels_file):
    start = time.monotonic()
    code, out, _ = run(capsys, f"{kernels_file}:hangs", timeout=0.5)
    assert code == 1 and "FAIL  your conv2d_forward" in out
    assert "timed out after 0.5 s" in out
    assert time.monotonic() - start < 30  # the child was stopped, not waited for


@pytest.mark.parametrize("module_text, message", [
    ("import sys\nsys.exit(0)\n", "called sys.exit(0) while being imported"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
     "while being imported, the module was killed by signal SIGSEGV"),
])
def test_exit_or_crash_while_importing_is_one_line_and_status_2(capsys, tmp_path, module_text,
                                                                message):
    path = tmp_path / "bad_import.py"
    path.write_text(module_text)
    code, out, err = run(capsys, f"{path}:conv2d_forward")
    assert code == 2 and out == ""
    assert err.startswith("minicnn check: error: --kernel: ") and message in err
    assert len(err.splitlines()) == 1


def test_the_timeout_option_is_checked():
    from minicnn.__main__ import build_parser
    parser = build_parser("check")
    assert parser.parse_args(["check", "--timeout", "2.5"]).timeout == 2.5
    with pytest.raises(SystemExit):
        parser.parse_args(["check", "--timeout", "0"])


def test_ctrl_c_during_check_kernel_is_one_line_and_stops_the_child(kernels_file, tmp_path):
    marker = tmp_path / "child.pid"
    process = subprocess.Popen(
        [sys.executable, "-m", "minicnn", "check", "--kernel",
         f"{kernels_file}:waits_for_ctrl_c", "--as", "conv2d_forward"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, MARKER=str(marker), OPENBLAS_NUM_THREADS="1"))
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(marker.read_text())
        process.send_signal(signal.SIGINT)  # as a terminal sends it, to the command's process
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err.strip() == "minicnn check: interrupted"
    with pytest.raises(ProcessLookupError):  # the kernel's process went with it
        for _ in range(100):
            os.kill(child, 0)
            time.sleep(0.05)
