"""Mutation testing of the kernels, their readable twins and the hostile-file checks: does
verification catch a bug?

Each mutation below is one small deliberate bug (an off-by-one window bound, an overwrite
instead of an accumulate, a swapped stride, a wrong tie rule, a dropped padding term, ...).
For each one this script takes a fresh copy of the sources in a temporary directory (never
the working tree), applies the mutation there, rebuilds the kernels in that copy when a
compiled source (.pyx, .pxd, .pxi, .h) changed, and runs ``python -m minicnn check`` and the kernel
tests (or the tests the mutation names) against it. A mutation is *killed* when either fails,
and *survives* when both pass: a survivor is a bug that verification cannot see. The target is
no survivors. The mutations of ``check --kernel``'s guards on a learner's kernel
(``minicnn/cli/isolate.py``) are judged by their own tests, ``tests/cli/test_check_kernel.py``,
instead of the kernel tests (so ``--check-only`` cannot kill them).

Usage (from the repository root; about a minute per compiled mutation on 2 cores)::

    python tools/mutate.py                 # all mutations; exit status 1 if one survives
    python tools/mutate.py --list          # the mutations, one a line
    python tools/mutate.py --only NAME ... # some of them
    python tools/mutate.py --check-only    # judge by `minicnn check` alone (no kernel tests)
    python tools/mutate.py --worktree      # copy the working tree instead of git HEAD

Not installed with the package; needs git, a C compiler, the build requirements (Cython,
setuptools, scipy) and the test requirements in the running interpreter: ``pip install -e
".[dev]"``.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONV, POOL, COMMON = ("minicnn/kernels/_conv.pyx", "minicnn/kernels/_pool.pyx",
                      "minicnn/kernels/_common.pxd")
LOWERING = "minicnn/kernels/_lowering.pxi"
SGEMM_AVX2, MAXPOOL_2X2 = ("minicnn/kernels/src/sgemm_avx2.h", "minicnn/kernels/src/maxpool2x2.h")
NORM = "minicnn/kernels/_norm.pyx"
REF = "minicnn/kernels/reference.py"
ISOLATE = "minicnn/cli/isolate.py"
TESTS = ["tests/kernels"]
CHECK_KERNEL_TESTS = ["tests/cli/test_check_kernel.py"]


@dataclass
class Mutation:
    name: str       # short, unique
    path: str       # file inside the repository
    old: str        # exact text replaced ...
    new: str        # ... by this
    what: str       # the bug, in words
    occurrence: int = 0  # which occurrence of ``old`` (they are counted from 0)
    tests: tuple = tuple(TESTS)  # the tests that must see it


MUTATIONS = [
    # --- the conv kernels (_conv.pyx, _lowering.pxi, src/sgemm_avx2.h) -------------------
    Mutation("conv-weight-first-always", CONV,
             "n == (wave + j) * g.N // n_chunks,", "True,",
             "weight gradient: every group of samples overwrites its chunk's partial sum "
             "instead of accumulating"),
    Mutation("conv-weight-planar-overwrite", CONV,
             "cols, <int>P, beta,", "cols, <int>P, 0,",
             "weight gradient, planar: overwrite instead of accumulate across a chunk's samples"),
    Mutation("conv-weight-stacked-overwrite", CONV,
             "cols, <int>K, beta,", "cols, <int>K, 0,",
             "weight gradient, channels-last, several samples per GEMM: overwrite instead of "
             "accumulate across the GEMMs of a chunk"),
    Mutation("conv-weight-block-overwrite", CONV,
             "beta if p0 == 0 else 1,", "beta,",
             "weight gradient, channels-last pixel blocks: each block overwrites the last"),
    Mutation("conv-weight-columns-row-stride", CONV, "cols + b * P, gi, nb * P, g)",
             "cols + b * P, gi, P, g)",
             "weight gradient lowered to columns: the row stride of one sample, so the "
             "samples of a GEMM overwrite each other's columns"),
    Mutation("conv-weight-columns-overwrite", CONV,
             "<int>(nb * P), beta,\n                          part + gi * K * OG",
             "<int>(nb * P), 0,\n                          part + gi * K * OG",
             "weight gradient lowered to columns: overwrite instead of accumulate across a "
             "chunk's GEMMs"),
    Mutation("conv-avx2-gemm-last-row-dropped", SGEMM_AVX2,
             "for (; i < m; i++) {                      /* the last 0-5 rows",
             "for (; i + 1 < m; i++) {                  /* the last 0-5 rows",
             "minicnn's AVX2 GEMM: the last row after the 6-row tiles is left out"),
    Mutation("conv-avx2-forward-row-stride", CONV, "_sgemm_avx2(nb * P, OG, K, rows, K, 1,",
             "_sgemm_avx2(nb * P, OG, K, rows, K - 1, 1,",
             "forward on minicnn's AVX2 GEMM: the lowered rows read one number short apart"),
    Mutation("conv-avx2-weight-overwrite", CONV, "part + gi * OG * K, K, not first)",
             "part + gi * OG * K, K, False)",
             "weight gradient on minicnn's AVX2 GEMM: overwrite instead of accumulate across "
             "a chunk's GEMMs"),
    Mutation("conv-avx2-planar-row-stride", CONV,
             "_sgemm_avx2(OG, P, K, w + gi * OG * K, K, 1, cols, ld,",
             "_sgemm_avx2(OG, P, K, w + gi * OG * K, K, 1, cols, P,",
             "planar forward on minicnn's AVX2 GEMM: the columns read at P apart, not at the "
             "padded stride they were written with"),
    Mutation("conv-avx2-planar-weight-overwrite", CONV,
             "part + gi * K * OG, OG, not first)", "part + gi * K * OG, OG, False)",
             "planar weight gradient on minicnn's AVX2 GEMM: each sample overwrites its "
             "chunk's partial sum instead of adding to it"),
    Mutation("conv-weight-chunks-copied", CONV,
             "_add(gw + o * K, parts + j * part_slot + o * K, K)",
             "_copy(gw + o * K, parts + j * part_slot + o * K, K)",
             "weight gradient: the chunks' partial sums are copied, not added"),
    Mutation("conv-weight-chunk-bound", CONV,
             "n1 = (wave + j + 1) * g.N // n_chunks",
             "n1 = (wave + j + 1) * g.N // n_chunks - (g.N > 16)",
             "weight gradient: off-by-one chunk end, the last sample of each chunk is dropped "
             "(only when chunks hold several samples)"),
    Mutation("conv-im2col-stride-swapped", LOWERING,
             "(c * g.Hp + oh * g.SH + kh * g.DH)", "(c * g.Hp + oh * g.SW + kh * g.DH)",
             "planar im2col: the column stride used for rows"),
    Mutation("conv-col2im-stride-swapped", LOWERING,
             "(c * g.Hp + oh * g.SH + kh * g.DH)", "(c * g.Hp + oh * g.SW + kh * g.DH)",
             "planar col2im (backward input): the column stride used for rows", occurrence=1),
    Mutation("conv-im2row-stride-swapped", LOWERING,
             "* g.Wp + ow * g.SW) * C + gi * CG", "* g.Wp + ow * g.SH) * C + gi * CG",
             "channels-last im2row: the row stride used for columns"),
    Mutation("conv-im2row-dilation-dropped", LOWERING,
             "_copy(dst, src + kw * g.DW * C, CG)", "_copy(dst, src + kw * C, CG)",
             "channels-last im2row, grouped: the column dilation dropped"),
    Mutation("conv-pad-planar-dropped", LOWERING,
             "(c * g.Hp + h + g.PH) * g.Wp + g.PW, x + (c * g.H + h) * g.W, g.W)",
             "(c * g.Hp + h) * g.Wp + g.PW, x + (c * g.H + h) * g.W, g.W)",
             "planar padding: the top padding term dropped when copying the input in"),
    Mutation("conv-crop-planar-dropped", LOWERING,
             "xp + (c * g.Hp + h + g.PH) * g.Wp + g.PW, g.W)",
             "xp + (c * g.Hp + h) * g.Wp + g.PW, g.W)",
             "planar backward input: the top padding term dropped when cropping"),
    Mutation("conv-hwc-pad-dropped", LOWERING,
             "xh + ((h + g.PH) * g.Wp + g.PW) * g.C, g.C,",
             "xh + ((h + g.PH) * g.Wp) * g.C, g.C,",
             "channels-last: the left padding term dropped when copying the input in"),
    # --- the pooling kernels (_pool.pyx, _common.pxd, src/maxpool2x2.h) ------------------
    Mutation("pool-window-off-by-one", COMMON,
             "hi[0] = _imin(start + K, size)", "hi[0] = _imin(start + K - 1, size)",
             "pooling window one pixel short"),
    Mutation("pool-window-start-unclipped", COMMON,
             "lo[0] = _imax(start, 0)", "lo[0] = _imax(start, 1)",
             "pooling window starts one pixel late at the top/left edge"),
    Mutation("pool-max-tie-last", POOL, "larger = v > best", "larger = v >= best",
             "max pooling: the last of equal maxima wins instead of the first"),
    Mutation("pool-max-nan-ignored", POOL, "        if has_nan:", "        if False:",
             "max pooling: NaN does not win"),
    Mutation("pool-max-2x2-sse-tie-last", MAXPOOL_2X2, "m = _mm_cmpgt_ps(c, best)",
             "m = _mm_cmpge_ps(c, best)",
             "2x2 max pooling, SSE rows: a later equal maximum wins over an earlier one"),
    Mutation("pool-max-2x2-sse-nan-ignored", MAXPOOL_2X2, "return _mm_movemask_ps(nan) != 0;",
             "return 0;", "2x2 max pooling, SSE rows: a row with a NaN is not scanned again"),
    Mutation("pool-max-backward-overwrite", POOL,
             "grad_x[indices[i]] += grad_out[i]", "grad_x[indices[i]] = grad_out[i]",
             "max pooling backward: overwrite instead of accumulate (overlapping windows)"),
    Mutation("pool-avg-divisor", POOL, "return total / <floating>n_real",
             "return total * inv_area",
             "average pooling: count_include_pad=False divides by the whole window"),
    Mutation("pool-avg-backward-overwrite", POOL, "grad_x[h * W + w] += share",
             "grad_x[h * W + w] = share",
             "average pooling backward: overwrite instead of accumulate"),
    # --- the batch-norm kernels (_norm.pyx) -------------------------------------------------
    Mutation("norm-stats-tail-dropped", NORM,
             "    for i in range(n16, n):\n        d = <double>x[i] - shift",
             "    for i in range(n16, n16):\n        d = <double>x[i] - shift",
             "batch-norm variance: the numbers after the last full 16 are left out"),
    Mutation("norm-stats-biased-mean", NORM, "mean[c] = s / M", "mean[c] = s / (M - 1)",
             "batch-norm statistics: the mean divided by M - 1"),
    Mutation("norm-stats-shift-dropped", NORM, "mean[c] = K + s / M\n", "mean[c] = s / M\n",
             "batch-norm statistics, float32: the shift K left out of the mean"),
    Mutation("norm-backward-sign", NORM, "dx[i] = k * (dy[i] - a - (x[i] - m) * b)",
             "dx[i] = k * (dy[i] - a + (x[i] - m) * b)",
             "batch-norm backward: the term through the variance added instead of subtracted"),
    Mutation("norm-backward-reduce-unshifted", NORM,
             "_sums_dy(&grad_out[n, c, 0], &x[n, c, 0], S, mean[c],",
             "_sums_dy(&grad_out[n, c, 0], &x[n, c, 0], S, 0,",
             "batch-norm backward: sum(dy * x) instead of sum(dy * (x - mean)) (the weight "
             "gradient off by mean * sum(dy))"),
    # --- the readable twins (reference.py) ------------------------------------------------
    Mutation("twin-tap-stride-swapped", REF,
             "slice(w0, w0 + SW * (OW - 1) + 1, SW)", "slice(w0, w0 + SW * (OW - 1) + 1, SH)",
             "twin: the row stride used for columns"),
    Mutation("twin-forward-overwrite", REF,
             "y[:, os_] += np.einsum", "y[:, os_] = np.einsum",
             "twin forward: overwrite instead of accumulate over kernel taps"),
    Mutation("twin-backward-input-flip", REF,
             '"nohw,oc->nchw", grad_out[:, os_], w[os_, :, kh, kw])',
             '"nohw,oc->nchw", grad_out[:, os_], w[os_, :, KH - 1 - kh, KW - 1 - kw])',
             "twin backward input: the kernel flipped (a convolution instead of its transpose)"),
    Mutation("twin-backward-input-pad-dropped", REF,
             "grad_x_pad[:, :, PH:PH + H, PW:PW + W]", "grad_x_pad[:, :, :H, PW:PW + W]",
             "twin backward input: the top padding term dropped when cropping"),
    Mutation("twin-max-tie-last", REF, "(v > y)", "(v >= y)",
             "twin max pooling: the last of equal maxima wins"),
    Mutation("twin-max-nan-ignored", REF, " | (np.isnan(v) & ~np.isnan(y))", "",
             "twin max pooling: NaN does not win"),
    Mutation("twin-max-backward-overwrite", REF,
             "np.add.at(grad_x, (planes, indices.reshape(N * C, P)), grad_out.reshape(N * C, P))",
             "grad_x[planes, indices.reshape(N * C, P)] = grad_out.reshape(N * C, P)",
             "twin max pooling backward: overwrite instead of accumulate"),
    # --- check --kernel's guards on a learner's kernel (cli/isolate.py) -------------------
    Mutation("check-kernel-no-copies", ISOLATE,
             "copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]",
             "copies = list(args)",
             "check --kernel: the kernel gets the caller's arrays, not copies",
             tests=tuple(CHECK_KERNEL_TESTS)),
    Mutation("check-kernel-input-change-ignored", ISOLATE,
             "if change is not None:", "if False:",
             "check --kernel: a kernel that changed its input is not reported",
             tests=tuple(CHECK_KERNEL_TESTS)),
    Mutation("check-kernel-dtype-unchecked", ISOLATE,
             "if out.dtype != dtype:", "if False:",
             "check --kernel: the output's dtype is not checked", tests=tuple(CHECK_KERNEL_TESTS)),
    Mutation("check-kernel-shape-unchecked", ISOLATE,
             "if shape is not None and out.shape != tuple(shape):", "if False:",
             "check --kernel: the output's shape is not checked", tests=tuple(CHECK_KERNEL_TESTS)),
    Mutation("check-kernel-contiguity-unchecked", ISOLATE,
             "if not out.flags.c_contiguous:", "if False:",
             "check --kernel: a non-contiguous output passes", tests=tuple(CHECK_KERNEL_TESTS)),
    Mutation("check-kernel-exit-not-caught", ISOLATE,
             "except BaseException as exc:  # SystemExit", "except Exception as exc:  # SystemExit",
             "check --kernel: sys.exit() in the kernel ends the child without naming it",
             tests=tuple(CHECK_KERNEL_TESTS)),
    Mutation("check-kernel-signal-unnamed", ISOLATE,
             "if code is not None and code < 0:", "if False:",
             "check --kernel: a kernel killed by a signal is reported as an exit status",
             tests=tuple(CHECK_KERNEL_TESTS)),
    # --- hostile files (judged by their tests) -------------------------------------------
    Mutation("safetensors-header-length-unchecked", "minicnn/safetensors_io.py",
             "if length > MAX_HEADER_BYTES or 8 + length > size:",
             "if length > MAX_HEADER_BYTES:",
             "safetensors: the 8-byte header length is not checked against the file's size",
             tests=("tests/hardening/test_hostile_files.py",)),
    Mutation("checkpoint-model-dtype-unchecked", "minicnn/cli/checkpoint.py",
             "if value.dtype != want.dtype or value.shape != want.shape:",
             "if value.shape != want.shape:",
             "train/evaluate: a checkpoint's weights and buffers are not checked for the "
             "model's dtypes",
             tests=("tests/hardening/test_harden_checkpoints.py",)),
]


def apply(mutation, tree):
    """Apply ``mutation`` to the copy at ``tree``; raise ValueError if its text is not there."""
    path = os.path.join(tree, mutation.path)
    with open(path) as f:
        text = f.read()
    starts, at = [], text.find(mutation.old)
    while at >= 0:
        starts.append(at)
        at = text.find(mutation.old, at + 1)
    if len(starts) <= mutation.occurrence:
        raise ValueError(f"mutation {mutation.name}: {mutation.path} has "
                         f"{len(starts)} occurrence(s) of {mutation.old!r}; the source changed, "
                         f"update the mutation")
    at = starts[mutation.occurrence]
    with open(path, "w") as f:
        f.write(text[:at] + mutation.new + text[at + len(mutation.old):])


def run(command, cwd, timeout):
    """(passed, seconds, last lines of output) of ``command`` run in the copy ``cwd``."""
    env = {**os.environ, "PYTHONPATH": cwd, "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
        passed, out = proc.returncode == 0, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        passed, out = False, f"timed out after {timeout} s"
    return passed, time.perf_counter() - start, out.strip().splitlines()[-3:]


def build(tree):
    passed, seconds, out = run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
                               tree, 1800)
    if not passed:
        raise RuntimeError(f"build failed in {tree}: {' | '.join(out)}")
    return seconds


def judge(tree, check_only, tests=tuple(TESTS)):
    """{'check': passed, 'tests': passed}: which verification passes on this copy."""
    result = {"check": run([sys.executable, "-m", "minicnn", "check"], tree, 1800)[0]}
    if not check_only:
        result["tests"] = run([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                               "no:cacheprovider", *tests], tree, 1800)[0]
    return result


def fresh_copy(destination, worktree):
    """The repository's sources at ``destination``: git HEAD, or the working tree's files."""
    os.makedirs(destination)
    if worktree:
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split()
        for name in files:
            if os.path.isfile(os.path.join(ROOT, name)):
                os.makedirs(os.path.join(destination, os.path.dirname(name)), exist_ok=True)
                shutil.copy2(os.path.join(ROOT, name), os.path.join(destination, name))
    else:
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", destination], input=archive, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations")
    parser.add_argument("--check-only", action="store_true",
                        help="judge by `python -m minicnn check` alone")
    parser.add_argument("--worktree", action="store_true",
                        help="copy the working tree (with uncommitted edits), not git HEAD")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:32} {m.path:30} {m.what}")
        return 0
    chosen = MUTATIONS
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTATIONS}
        if unknown:
            parser.error(f"--only: no mutation named {', '.join(sorted(unknown))} (see --list)")
        chosen = [m for m in MUTATIONS if m.name in args.only]

    work = tempfile.mkdtemp(prefix="minicnn-mutate-")
    try:
        base = os.path.join(work, "base")
        fresh_copy(base, args.worktree)
        for m in chosen:  # every mutation must still apply to these sources
            probe = os.path.join(work, "probe")
            os.makedirs(os.path.dirname(os.path.join(probe, m.path)), exist_ok=True)
            shutil.copy2(os.path.join(base, m.path), os.path.join(probe, m.path))
            apply(m, probe)
            shutil.rmtree(probe)
        print(f"building the unmutated copy in {base} ...", flush=True)
        build(base)
        baseline = judge(base, args.check_only,
                         tuple(dict.fromkeys(t for m in chosen for t in m.tests)))
        if not all(baseline.values()):
            print(f"the unmutated sources already fail: {baseline}; fix that first")
            return 2
        survivors = []
        start = time.perf_counter()
        for k, m in enumerate(chosen, 1):
            tree = os.path.join(work, "mutant")
            shutil.copytree(base, tree, symlinks=True)
            try:
                apply(m, tree)
                if not m.path.endswith(".py"):
                    build(tree)
                result = judge(tree, args.check_only, m.tests)
            finally:
                shutil.rmtree(tree)
            killed_by = [name for name, passed in result.items() if not passed]
            verdict = f"killed by {' and '.join(killed_by)}" if killed_by else "SURVIVED"
            if not killed_by:
                survivors.append(m)
            print(f"[{k}/{len(chosen)}] {m.name:32} {verdict:26} {m.what}", flush=True)
        killed = len(chosen) - len(survivors)
        print(f"{killed}/{len(chosen)} mutations killed, {len(survivors)} survived "
              f"({time.perf_counter() - start:.0f} s)")
        for m in survivors:
            print(f"survivor: {m.name}: {m.what} ({m.path})")
        return 1 if survivors else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
