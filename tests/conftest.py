"""Shared pytest fixtures: setters of the thread count, the GEMM sizes and the AVX2 GEMM that
restore what was there before, a seeded rng."""
import numpy as np
import pytest

import minicnn.kernels as K


@pytest.fixture
def threads():
    """A function ``threads(n)`` that sets the kernels' OpenMP thread count for this test.

    The count in force before the test is restored afterwards, even if the test fails.
    """
    previous = K.get_num_threads()
    yield K.set_num_threads
    K.set_num_threads(previous)


@pytest.fixture
def small_gemm():
    """A function ``small_gemm(size)`` that sets the BLAS small-matrix size the conv kernels
    plan their GEMMs by (``_conv.set_small_gemm_size``): ``runtime.SMALL_GEMM_SIZE`` takes the
    pixel-blocked path an AVX-512 OpenBLAS gets, 0 the path of every other BLAS, on any
    machine. The machine's own size is restored afterwards."""
    from minicnn.kernels import _conv

    previous = _conv.small_gemm_size()
    yield _conv.set_small_gemm_size
    _conv.set_small_gemm_size(previous)


@pytest.fixture
def avx2_gemm():
    """A function ``avx2_gemm(enabled)`` that turns minicnn's own AVX2 GEMM on or off for the
    conv kernels (``_conv.set_avx2_gemm``); the machine's setting is restored afterwards."""
    from minicnn.kernels import _conv

    previous = _conv.avx2_gemm()
    yield _conv.set_avx2_gemm
    _conv.set_avx2_gemm(previous)


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, fresh for every test (independent of minicnn.rng)."""
    return np.random.default_rng(20240607)


@pytest.fixture(autouse=True)
def kernels_use_every_thread(monkeypatch):
    """Run every kernel call on all ``get_num_threads()`` threads, however small.

    The seam gives small calls fewer threads (``K.MIN_WORK_PER_THREAD``); the tests use small
    shapes, and without this their thread-count checks would compare one thread with itself.
    """
    monkeypatch.setattr(K, "MIN_WORK_PER_THREAD", {"conv": 1, "pool": 1})
