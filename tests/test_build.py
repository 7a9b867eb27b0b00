"""The package is built and installed: compiled kernels import, OpenMP is on, the CLI answers;
and an unbuilt tree still imports, saying how to build when a compiled kernel is called."""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import minicnn
from minicnn.kernels import _conv, _openmp, _pool

REPO = Path(__file__).resolve().parents[1]


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


UNBUILT_CHECK = textwrap.dedent("""
    import numpy as np
    import minicnn.kernels.reference as R          # the readable twins need no compiler
    import minicnn.kernels.blas                    # nor does holding a BLAS
    from minicnn.kernels import FLOAT_DTYPES
    import minicnn, minicnn.kernels as K
    assert minicnn.__file__.startswith({src!r}), minicnn.__file__
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 3, 3))
    assert R.conv2d_forward(x, w, padding=1)[0, 0, 0, 0] == 0 + 1 + 4 + 5
    with K.backend("reference"):                   # the seam too, on the reference backend
        assert K.conv2d_forward(x, w).shape == (1, 1, 2, 2)
    assert K.get_num_threads() == 1
    for fast_call in (lambda: K.conv2d_forward(x, w), lambda: K.max_pool2d_forward(x, 2),
                      K.openmp_enabled, K.compile_flags):
        try:
            fast_call()
        except ImportError as exc:
            print("ImportError:", exc)
        else:
            raise AssertionError("a fast call ran in a tree without compiled kernels")
""")


def test_an_unbuilt_tree_imports_and_names_the_build_command_on_a_fast_call(tmp_path):
    # The package's .py files alone (no .so): the engine, the reference twins and the seam import;
    # only the compiled kernels' entry points fail, with an ImportError that says how to build.
    tree = tmp_path / "tree"
    shutil.copytree(REPO / "minicnn", tree / "minicnn",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "*.pyx", "*.pxd",
                                                  "__pycache__"))
    src = str(tree)
    env = dict(os.environ, PYTHONPATH=src)  # ahead of the editable install's path entry
    run = subprocess.run([sys.executable, "-c", UNBUILT_CHECK.format(src=src)], cwd=tmp_path,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    errors = run.stdout.splitlines()
    assert len(errors) == 4, run.stdout
    for line in errors:
        assert "compiled kernels are not built" in line, line
        assert "pip install -e ." in line and "docs/building.md" in line, line


def test_a_build_without_a_compiler_says_what_to_install(tmp_path):
    # setup.py probes the compiler first: with none, one clear message naming what to install
    # (not a warning that the compiler "does not support OpenMP", then a long traceback).
    pytest.importorskip("Cython", reason="runs setup.py itself, which needs Cython (the dev "
                        "extra; CI runs this test after installing it)")
    cached = REPO / "build" / "cython-release"
    if not cached.is_dir():
        pytest.skip("needs the Cython C files of an in-tree build (build/cython-release)")
    for name in ("minicnn", "setup.py", "pyproject.toml", "MANIFEST.in", "README.md"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    shutil.copytree(cached, tmp_path / "build" / "cython-release")  # no re-cythonizing
    for built in (tmp_path / "minicnn").rglob("*.so"):
        built.unlink()
    env = dict(os.environ, CC=str(tmp_path / "no-such-compiler"))
    result = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "minicnn: cannot compile its kernels" in result.stderr, result.stderr
    assert "build-essential python3-dev" in result.stderr
    assert "OpenMP; building serial" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
