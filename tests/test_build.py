"""The package is built and installed: compiled kernels import, OpenMP is on, the CLI answers."""
import re
import subprocess
import sys

import pytest

import minicnn
from minicnn.kernels import _conv, _openmp, _pool


def test_extensions_import():
    for module in (_conv, _openmp, _pool):
        assert module.__file__.endswith((".so", ".pyd")), module.__file__


def _serial_build():
    """True for kernels compiled without an OpenMP flag (MINICNN_NO_OPENMP=1, or no OpenMP)."""
    flags = minicnn.kernels.compile_flags().split()
    return "-fopenmp" not in flags and "/openmp" not in flags


SERIAL = "serial build (no OpenMP flag in compile_flags()): MINICNN_NO_OPENMP=1 or no OpenMP"


def test_openmp_enabled_on_this_machine():
    # gcc with OpenMP is part of this project's supported setup; a serial build is tested
    # separately (test_backend.py) and checks its own consistency there.
    if _serial_build():
        pytest.skip(SERIAL)
    assert minicnn.openmp_enabled() is True


def test_info_reports_the_build():
    out = subprocess.run([sys.executable, "-m", "minicnn", "info"], capture_output=True, text=True,
                         check=True).stdout
    fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.splitlines() if line.strip())
    assert fields["minicnn"] == minicnn.__version__
    assert fields["OpenMP"] == ("off (serial build)" if _serial_build() else "on")
    assert fields["threads"] == str(minicnn.get_num_threads())


def test_cli_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "minicnn", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("train", "evaluate", "bench", "check", "info"):
        assert command in out
