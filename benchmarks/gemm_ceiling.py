"""How fast can BLAS run the GEMMs an im2col convolution lowers to? A ceiling for each layer.

For every benchmark layer, times single-threaded ``scipy.linalg.blas.sgemm`` on the forward's
GEMM shape, ``(O x C*KH*KW) @ (C*KH*KW x pixels)``, with the pixel count of one sample, of a
block of samples, and of the whole batch, and prints GFLOP/s beside the 2048^2 sgemm rate.
No im2col is done: this is the arithmetic alone, the most any im2col+GEMM kernel could reach
with that GEMM shape on one core.

Usage::

    python benchmarks/gemm_ceiling.py [--repeats 20]
"""
import argparse
import statistics
import sys

import numpy as np
from scipy.linalg.blas import sgemm
from threadpoolctl import threadpool_limits

from bench import SGEMM_SIZE
from system import raise_mmap_threshold

from minicnn.cli.bench import LAYERS, out_shape, time_calls


def gemm_gflops(m, n, k, repeats, min_time=0.2):
    """Median GFLOP/s of a column-major float32 ``(m x k) @ (k x n)`` sgemm, C written in place.

    Parameters
    ----------
    m, n, k : int
        GEMM sizes: C is (m, n), the contraction has length k.
    repeats : int
        At least this many timed calls (and at least ``min_time`` seconds of them).

    Returns
    -------
    float
    """
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((m, k), dtype=np.float32))
    b = np.asfortranarray(rng.standard_normal((k, n), dtype=np.float32))
    c = np.zeros((m, n), dtype=np.float32, order="F")
    times = time_calls(lambda: sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=1),
                       repeats, min_time, warmup=2)
    return 2.0 * m * n * k / statistics.median(times) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    raise_mmap_threshold()
    with threadpool_limits(1, "blas"):
        peak = gemm_gflops(SGEMM_SIZE, SGEMM_SIZE, SGEMM_SIZE, 3)
        print(f"sgemm {SGEMM_SIZE}^2 on 1 thread: {peak:.0f} GFLOP/s\n")
        print("GFLOP/s (% of that peak) of the GEMM (O x K) @ (K x pixels of ...)")
        print(f"{'layer':<12} {'O':>4} {'K=C*KH*KW':>9} {'P/sample':>8} | "
              f"{'1 sample':>16} {'8 samples':>16} {'whole batch':>16}")
        for layer in LAYERS:
            OH, OW = out_shape(layer)
            P = OH * OW
            K = layer.C * layer.K * layer.K
            cells = []
            for samples in (1, 8, layer.N):
                g = gemm_gflops(layer.O, samples * P, K, args.repeats)
                cells.append(f"{g:7.0f} ({100 * g / peak:3.0f}%)")
            print(f"{layer.name:<12} {layer.O:>4} {K:>9} {P:>8} | "
                  + " ".join(f"{c:>16}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
