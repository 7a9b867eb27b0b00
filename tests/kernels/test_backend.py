"""The kernels' run-time switches: backend selection, thread count, and a serial (no-OpenMP) build."""
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import minicnn
import minicnn.kernels as K

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_backend():
    """Every test here starts on, and leaves behind, the default backend."""
    K.use("fast")
    yield
    K.use("fast")


# ---------------------------------------------------------------------------------------------
# Backend selection
# ---------------------------------------------------------------------------------------------

def test_default_backend_is_fast():
    assert K.get_backend() == "fast"
    assert K.BACKENDS == ("fast", "reference")


def test_use_switches_backend():
    K.use("reference")
    assert K.get_backend() == "reference"
    K.use("fast")
    assert K.get_backend() == "fast"


def test_backend_context_manager_switches_and_restores():
    with K.backend("reference"):
        assert K.get_backend() == "reference"
        with K.backend("fast"):
            assert K.get_backend() == "fast"
        assert K.get_backend() == "reference"
    assert K.get_backend() == "fast"


def test_backend_context_manager_restores_on_exception():
    with pytest.raises(RuntimeError, match="boom"):
        with K.backend("reference"):
            raise RuntimeError("boom")
    assert K.get_backend() == "fast"


def test_backend_dispatches_to_the_reference_kernels(monkeypatch):
    # Prove the switch reaches the dispatch: a sentinel reference kernel is called only there.
    calls = []
    monkeypatch.setattr(K.reference, "avg_pool2d_forward",
                        lambda *a, **k: calls.append(1) or "sentinel")
    x = np.ones((1, 1, 2, 2), np.float32)
    assert isinstance(K.avg_pool2d_forward(x, 2), np.ndarray) and calls == []
    with K.backend("reference"):
        assert K.avg_pool2d_forward(x, 2) == "sentinel"
    assert calls == [1]


@pytest.mark.parametrize("name", ["Fast", "numpy", "", None, 0, "reference "])
def test_invalid_backend_names_raise(name):
    with pytest.raises(ValueError, match="backend"):
        K.use(name)
    with pytest.raises(ValueError, match="backend"):
        with K.backend(name):
            pass  # pragma: no cover - not reached
    assert K.get_backend() == "fast"


def test_backend_is_per_thread():
    seen = []
    with K.backend("reference"):
        worker = threading.Thread(target=lambda: seen.append(K.get_backend()))
        worker.start()
        worker.join()
        assert K.get_backend() == "reference"
    assert seen == ["fast"]


# ---------------------------------------------------------------------------------------------
# Thread count
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 7, np.int64(2)])
def test_set_num_threads_round_trips(n, threads):
    threads(n)
    expected = n if K.openmp_enabled() else 1  # a serial build accepts n but keeps one thread
    assert K.get_num_threads() == expected
    assert minicnn.get_num_threads() == expected  # the top-level names are the same functions
    assert isinstance(K.get_num_threads(), int)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                        (True, TypeError), (np.True_, TypeError),
                                        ("2", TypeError), (None, TypeError)])
def test_set_num_threads_rejects(bad, error, threads):
    threads(2)
    before = K.get_num_threads()  # 2, or 1 in a serial build
    with pytest.raises(error, match=r"\bn\b"):
        K.set_num_threads(bad)
    assert K.get_num_threads() == before  # a rejected value changes nothing


def test_openmp_enabled_matches_the_build_flags():
    # Read from #ifdef _OPENMP, so it must agree with the flags setup.py compiled with: on in a
    # normal build here, off in a serial one (MINICNN_NO_OPENMP=1), where one thread is all.
    flags = K.compile_flags().split()
    built_with_openmp = "-fopenmp" in flags or "/openmp" in flags
    assert K.openmp_enabled() is built_with_openmp, K.compile_flags()
    assert minicnn.openmp_enabled() is built_with_openmp
    assert K.get_num_threads() >= 1
    if not built_with_openmp:
        assert K.get_num_threads() == 1


# ---------------------------------------------------------------------------------------------
# Serial build
# ---------------------------------------------------------------------------------------------

def _have_compiler():
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


SERIAL_CHECK = textwrap.dedent("""
    import numpy as np
    import minicnn, minicnn.kernels as K
    assert minicnn.__file__.startswith({src!r}), minicnn.__file__
    assert K.openmp_enabled() is False, "serial build reports OpenMP"
    assert K.get_num_threads() == 1, K.get_num_threads()
    K.set_num_threads(4)  # accepted, but without OpenMP it stays 1
    assert K.get_num_threads() == 1, K.get_num_threads()
    # The serial kernels still compute the right thing.
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    y, idx = K.max_pool2d_forward(x, 3, stride=2, padding=1)
    with K.backend("reference"):
        y_ref, idx_ref = K.max_pool2d_forward(x, 3, stride=2, padding=1)
    assert (y == y_ref).all() and (idx == idx_ref).all()
    print("serial ok")
""")


@pytest.mark.slow
@pytest.mark.skipif(not _have_compiler(), reason="no C compiler on PATH to build the kernels")
def test_serial_build_without_openmp(tmp_path):
    # Build a copy of the source tree with MINICNN_NO_OPENMP=1 (the working tree's own compiled
    # extensions are left alone) and import it in a fresh interpreter.
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("setup.py", "pyproject.toml"):
        shutil.copy2(REPO / name, tree / name)
    shutil.copytree(REPO / "minicnn", tree / "minicnn",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__",
                                                  "*.egg-info"))
    env = dict(os.environ, MINICNN_NO_OPENMP="1")
    env.pop("MINICNN_DEBUG", None)
    build = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "--build-temp", str(tmp_path / "tmp")],
        cwd=tree, env=env, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "building serial kernels" in build.stdout
    assert "-fopenmp" not in build.stdout + build.stderr

    src = str(tree)
    env = dict(os.environ, PYTHONPATH=src)  # ahead of the editable install's path entry
    env.pop("OMP_NUM_THREADS", None)
    run = subprocess.run([sys.executable, "-c", SERIAL_CHECK.format(src=src)], cwd=tmp_path,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "serial ok" in run.stdout


def test_small_calls_get_fewer_threads(monkeypatch, threads):
    """The seam gives a call min(get_num_threads(), work // MIN_WORK_PER_THREAD) threads."""
    if not K.openmp_enabled():
        pytest.skip("serial build: every call runs on one thread")
    seen = []
    real = K._conv.conv2d_forward
    monkeypatch.setattr(K._conv, "conv2d_forward", lambda *a: seen.append(a[-1]) or real(*a))
    monkeypatch.setattr(K, "MIN_WORK_PER_THREAD", {"conv": 10_000, "pool": 1})
    threads(3)
    w = np.ones((2, 1, 3, 3), np.float32)
    small = np.ones((1, 1, 4, 4), np.float32)    # 2*N*O*OH*OW*C*KH*KW = 2*1*2*2*2*1*9 = 144
    medium = np.ones((3, 1, 17, 17), np.float32)  # 2*3*2*15*15*9 = 24,300 -> 2 threads
    large = np.ones((4, 1, 32, 32), np.float32)   # 2*4*2*30*30*9 = 129,600 -> 3 threads (all)
    for x in (small, medium, large):
        K.conv2d_forward(x, w)
    assert seen == [1, 2, 3]


def test_numpy_blas_is_held_at_one_thread_inside_linear_and_restored():
    from threadpoolctl import threadpool_info

    import minicnn
    import minicnn.nn.functional as F
    from minicnn.kernels.blas import numpy_blas

    def counts():
        return [lib.get_num_threads() for lib in numpy_blas.libs]

    assert numpy_blas.libs, "threadpoolctl found no BLAS for NumPy"
    before = counts()
    with numpy_blas:
        assert counts() == [1] * len(before)
        with numpy_blas:  # reentrant
            assert counts() == [1] * len(before)
        assert counts() == [1] * len(before)
    assert counts() == before
    x = minicnn.tensor(np.ones((4, 3)), requires_grad=True)
    F.linear(x, minicnn.tensor(np.ones((2, 3)), requires_grad=True)).sum().backward()
    assert counts() == before
    assert any(i["user_api"] == "blas" for i in threadpool_info())


@pytest.mark.parametrize("env, expected", [
    ({}, "3000"),                                    # minicnn's default: short spins
    ({"GOMP_SPINCOUNT": "123"}, None),               # the user's choice is kept
    ({"OMP_WAIT_POLICY": "ACTIVE"}, None),           # so is a wait policy: no spin count added
])
def test_openmp_spin_count_default_respects_the_environment(env, expected):
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    code = ("import os, minicnn.kernels as K; "
            "print(K.OPENMP_SPINCOUNT, os.environ.get('GOMP_SPINCOUNT'))")
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == str(expected)                     # what minicnn set for libgomp
    assert out[1] == env.get("GOMP_SPINCOUNT", "None")  # the environment is left as it was
