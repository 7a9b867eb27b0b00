"""Compare two builds of the compiled kernels bit for bit: this checkout's and another's .so files.

    python tools/compare_builds.py DIR_WITH_OTHER_SO_FILES

Copies this checkout's ``minicnn`` package to a temporary tree, puts the other build's
``_conv``/``_pool``/... .so files into its ``minicnn/kernels`` (in place of this build's), then
runs the same seeded inputs through each build in its own subprocess (conv2d forward,
backward_input and backward_weight over planar, channels-last, 1x1, strided, padded, dilated
and grouped layers; float32 and float64; batches 1, 3 and 64; minicnn's AVX2 GEMM on and off
where the CPU has it; small-GEMM sizes 0 and 1000000; 1, 2 and 3 threads; and the max-pooling
kernels) and reports every output that differs in any bit. For refactors of the kernels that must not change a result (restructured
sources, a moved C header): a change of rounding shows here, not only as a tolerance in tests.
"""
import argparse
import glob
import itertools
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (x_shape, w_shape, stride, padding, dilation, groups): every layout and GEMM path.
CONV_CASES = [
    ((3, 1, 28, 28), (16, 1, 5, 5), 1, 2, 1, 1),      # planar, padded (mnist_conv1)
    ((3, 16, 14, 14), (32, 16, 5, 5), 1, 2, 1, 1),    # channels-last, by columns (mnist_conv2)
    ((3, 3, 32, 32), (32, 3, 3, 3), 1, 1, 1, 1),      # planar, P a multiple of 1024 numbers
    ((3, 32, 16, 16), (64, 32, 3, 3), 1, 1, 1, 1),    # channels-last (cifar_conv2)
    ((3, 64, 8, 8), (128, 64, 3, 3), 1, 1, 1, 1),     # channels-last, wide (cifar_conv3)
    ((3, 16, 15, 15), (32, 16, 3, 3), 2, 1, 1, 1),    # strided
    ((3, 64, 8, 8), (32, 64, 1, 1), 1, 0, 1, 1),      # pointwise 1x1
    ((3, 8, 9, 9), (8, 8, 1, 1), 2, 0, 1, 1),         # 1x1 strided (planar, lowered)
    ((3, 6, 12, 11), (12, 3, 3, 3), 1, 1, 1, 2),      # grouped
    ((3, 16, 12, 12), (32, 4, 3, 3), 1, 2, 2, 4),     # grouped and dilated
    ((3, 24, 10, 10), (24, 24, 3, 3), (2, 1), (1, 0), (1, 2), 1),  # mixed pairs, dilated
    ((1, 16, 14, 14), (32, 16, 5, 5), 1, 2, 1, 1),    # batch 1
    ((64, 16, 14, 14), (32, 16, 5, 5), 1, 2, 1, 1),   # batch 64, channels-last
    ((64, 1, 28, 28), (16, 1, 5, 5), 1, 2, 1, 1),     # batch 64, planar
    ((64, 32, 8, 8), (64, 32, 3, 3), 1, 1, 1, 1),     # batch 64, several samples per GEMM
    ((3, 40, 20, 20), (48, 40, 3, 3), 1, 1, 1, 1),    # pixel blocks under a small-GEMM size
]
POOL_CASES = [((3, 4, 16, 16), 2, 2, 0), ((3, 4, 15, 17), 3, 2, 1), ((64, 8, 8, 8), 2, 2, 0)]


def pairs(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def dump(path):
    """Run every case through the build on sys.path; save all outputs to ``path`` (.npz)."""
    from minicnn.kernels import _conv, _pool
    from minicnn.kernels.geometry import ConvGeometry, PoolGeometry
    out = {}
    avx2_settings = [False, True] if _conv.cpu_has_avx2_fma() else [False]
    for i, (xs, ws, s, p, d, g) in enumerate(CONV_CASES):
        geo = ConvGeometry(xs, ws, s, p, d, g)
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(i)
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            go = rng.standard_normal(geo.y_shape).astype(dtype)
            for avx2, small, threads in itertools.product(avx2_settings, (0, 1000000), (1, 2, 3)):
                _conv.set_avx2_gemm(avx2)
                _conv.set_small_gemm_size(small)
                key = f"conv{i}-{np.dtype(dtype).name}-avx2{int(avx2)}-small{small}-t{threads}"
                y = np.empty(geo.y_shape, dtype)
                _conv.conv2d_forward(x, w, y, *geo.ints(), threads)
                gx = np.empty(xs, dtype)
                _conv.conv2d_backward_input(go, w, gx, *geo.ints(), threads)
                gw = np.zeros(ws, dtype)
                _conv.conv2d_backward_weight(x, go, gw, *geo.ints(), threads)
                out.update({key + "-forward": y, key + "-input": gx, key + "-weight": gw})
    for i, (xs, k, s, p) in enumerate(POOL_CASES):
        geo = PoolGeometry(xs, k, s, p)
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(100 + i)
            x = rng.integers(-4, 4, xs).astype(dtype)      # ties, so the first maximum matters
            x.flat[::97] = np.nan
            go = rng.standard_normal(geo.y_shape).astype(dtype)
            for threads in (1, 2, 3):
                key = f"pool{i}-{np.dtype(dtype).name}-t{threads}"
                y, idx = np.empty(geo.y_shape, dtype), np.empty(geo.y_shape, np.int64)
                _pool.max_pool2d_forward(x, y, idx, *geo.ints(), threads)
                gx = np.empty(xs, dtype)
                _pool.max_pool2d_backward(go, idx, gx, threads)
                out.update({key + "-max": y, key + "-idx": idx, key + "-maxgrad": gx})
    np.savez(path, **out)


def run_dump(tree, path):
    env = {**os.environ, "PYTHONPATH": tree, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, os.path.abspath(__file__), "--dump", path], cwd=tree,
                   env=env, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", nargs="?", help="a directory holding the other build's .so files")
    parser.add_argument("--dump", metavar="NPZ", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dump:
        return dump(args.dump)
    if not args.other:
        parser.error("give the directory of the other build's .so files")
    so_files = glob.glob(os.path.join(args.other, "*.so")) + glob.glob(
        os.path.join(args.other, "*.pyd"))
    if not so_files:
        parser.error(f"no .so or .pyd files in {args.other}")
    with tempfile.TemporaryDirectory(prefix="minicnn-compare-") as tmp:
        tree = os.path.join(tmp, "other")
        # This checkout's package, its compiled modules replaced by the other build's (a module
        # the other build lacks, e.g. a kernel added since, stays this checkout's).
        shutil.copytree(os.path.join(ROOT, "minicnn"), os.path.join(tree, "minicnn"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for so in so_files:
            shutil.copy2(so, os.path.join(tree, "minicnn", "kernels"))
        run_dump(tree, os.path.join(tmp, "other.npz"))
        run_dump(ROOT, os.path.join(tmp, "this.npz"))
        a, b = np.load(os.path.join(tmp, "other.npz")), np.load(os.path.join(tmp, "this.npz"))
        differ = sorted(k for k in a.files if k not in b.files or a[k].dtype != b[k].dtype
                        or a[k].shape != b[k].shape or a[k].tobytes() != b[k].tobytes())
        differ += sorted(set(b.files) - set(a.files))
        print(f"{len(a.files)} outputs compared; {len(differ)} differ")
        for k in differ[:40]:
            print("  differs:", k)
        return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
