"""The full benchmark: minicnn's conv kernels and a LeNet step against NumPy and PyTorch.

Run from a source checkout (``python benchmarks/bench.py --help``). What is measured, all float32,
all in one process so every framework sees the same machine state:

* the six conv layers of docs/performance.md, forward (``conv2d_forward``) and forward+backward
  (``conv2d_forward`` + ``conv2d_backward_input`` + ``conv2d_backward_weight``), at each thread
  count, for minicnn, a NumPy im2col+matmul baseline (numpy_conv.py) and PyTorch when it is
  installed (torch_side.py);
* the practical float32 peak: a 2048x2048 ``scipy.linalg.blas.sgemm`` at each thread count;
* a LeNet training step (forward, backward, SGD step) for minicnn and PyTorch.

Every figure is the median over ``--repeats`` timed calls (at least ``--min-time`` seconds in
all), after ``--warmup`` untimed calls. GFLOP/s use FLOPs = 2*N*O*OH*OW*C*KH*KW for forward and 3x
that for forward+backward. A speed ratio "minicnn/X" is X's time divided by minicnn's time, so
above 1 means minicnn is faster. ``--per-kernel`` adds ``conv2d_backward_input`` and
``conv2d_backward_weight`` timed alone.

Allocator state: glibc returns big blocks to the kernel on ``free`` and faults fresh pages in on
the next ``malloc``, which for small layers costs more than the arithmetic. A training loop is a
long-running process that reuses its memory, so the benchmark raises ``M_MMAP_THRESHOLD`` (and
``M_TRIM_THRESHOLD``) with ``mallopt`` once, for all frameworks alike (``--no-mallopt`` to see the
difference; every figure records its page faults per call).

Noise: on a shared machine another process can take a core mid-measurement. Every figure records
how much of its cores other processes used (``disturbance``, from /proc/stat); a disturbed
figure is measured again (``--retries``) and one still disturbed is marked ``*`` in the tables.

The tables are rendered by json_to_markdown.py, which renders a saved ``--json`` file the same way.
"""
import argparse
import contextlib
import datetime
import json
import math
import os
import shlex
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the modules beside this one

from json_to_markdown import index, to_markdown  # noqa: E402
from numpy_conv import numpy_calls  # noqa: E402
from system import (available_cores, blas_limits, loadavg, machine_info,  # noqa: E402
                    raise_mmap_threshold, summary, timed_block)
from torch_side import import_torch, torch_calls, torch_lenet_step  # noqa: E402

from minicnn import kernels, models  # noqa: E402
from minicnn.cli.bench import (LAYER_NAMES, LAYERS, LENET_BATCH, conv_flops,  # noqa: E402
                               kernel_calls, layer_inputs, layer_list, lenet_step, out_shape,
                               positive_int)

SCHEMA = "minicnn-bench/2"
SGEMM_SIZE = 2048

# A layer is "large" when its GEMM contraction C*KH*KW is deep enough (>= 256) for a GEMM-based
# kernel to approach sgemm peak; the few-channel layers are bound by memory traffic instead.
LARGE_CONTRACTION = 256

# FLOPs of each timed pass, in units of the forward's.
PASS_FLOPS = {"forward": 1, "forward_backward": 3, "backward_input": 1, "backward_weight": 1}


def sgemm_peak(threads, repeats=5, min_time=0.2, warmup=2, size=SGEMM_SIZE,
               max_disturbance=1.0, retries=0):
    """Practical float32 peak: a ``size``-square ``scipy.linalg.blas.sgemm`` on ``threads``.

    The operands are Fortran-ordered and C is written in place, so the call is pure BLAS (no
    copies, no allocation). ``max_disturbance`` and ``retries`` as in ``system.timed_block``.

    Returns
    -------
    dict
        ``{"ms", "min_ms", "gflops", "times_ms", "size", "cpu_share", "disturbance",
        "attempts", "page_faults_per_call"}``.
    """
    from scipy.linalg.blas import sgemm

    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((size, size), dtype=np.float32))
    b = np.asfortranarray(rng.standard_normal((size, size), dtype=np.float32))
    c = np.zeros((size, size), dtype=np.float32, order="F")

    def call():
        sgemm(1.0, a, b, beta=0.0, c=c, overwrite_c=1)

    with blas_limits(threads):
        times, info = timed_block(call, repeats, min_time, warmup, threads,
                                  max_disturbance, retries)
    if not np.isfinite(c[0, 0]):  # the result is used: a broken BLAS would show here
        raise RuntimeError("sgemm produced a non-finite result")
    out = summary(times, 2.0 * size ** 3)
    out.update(info, size=size)
    return out


# ---------------------------------------------------------------------------------------------
# The conv layers
# ---------------------------------------------------------------------------------------------

def minicnn_calls(layer, x, w, g):
    """minicnn's kernel calls on ``layer`` (``minicnn.cli.bench.kernel_calls``), and all three
    in a row as "forward_backward"."""
    calls = kernel_calls(layer, x, w, g)
    calls["forward_backward"] = lambda: tuple(calls[k]() for k in
                                              ("forward", "backward_input", "backward_weight"))
    return calls


def _rel_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _check_outputs(results, reference_key):
    """Max relative difference of every framework's (y, grad_x, grad_w) to ``reference_key``'s."""
    ref = results.get(reference_key)
    if ref is None:
        return {}
    return {key: max(_rel_diff(np.asarray(o), r) for o, r in zip(outs, ref))
            for key, outs in results.items() if key != reference_key}


@contextlib.contextmanager
def framework_threads(framework, threads, torch, blas_threads=None):
    """Run one framework's block of timed calls on ``threads`` threads, then restore.

    minicnn: its kernels' OpenMP count (``blas_threads`` also caps NumPy's and scipy's BLAS);
    numpy: its BLAS pool; torch: its intra-op pool.
    """
    with contextlib.ExitStack() as stack:
        if framework.startswith("minicnn"):
            saved = kernels.get_num_threads()
            kernels.set_num_threads(threads)
            stack.callback(kernels.set_num_threads, saved)
            if blas_threads is not None:
                stack.enter_context(blas_limits(blas_threads))
        elif framework == "numpy":
            stack.enter_context(blas_limits(threads))
        elif framework == "torch":
            saved = torch.get_num_threads()
            torch.set_num_threads(threads)
            stack.callback(torch.set_num_threads, saved)
        yield


def bench_layer(layer, threads, opts, torch, note):
    """Time one layer at one thread count for every framework, forward and forward+backward.

    Parameters
    ----------
    layer : minicnn.cli.bench.Layer
    threads : int
    opts : argparse.Namespace
        The parsed options (repeats, min_time, warmup, retries, max_disturbance, no_numpy,
        per_kernel).
    torch : module or None
    note : callable
        Called with a message for the report's notes (a mismatch between frameworks).

    Returns
    -------
    records : list of dict
        One per pass and framework: ``layer``, ``threads``, ``pass``, ``framework``, ``ms``
        (median), ``min_ms``, ``gflops``, ``times_ms``, ``cpu_share``, ``disturbance``,
        ``attempts``, ``page_faults_per_call``.
    check : dict
        Largest relative difference of each framework's (y, grad_x, grad_w) to minicnn's.
    """
    x, w, g = layer_inputs(layer)
    flops = conv_flops(layer)
    frameworks = {"minicnn": minicnn_calls(layer, x, w, g)}
    if not opts.no_numpy:
        frameworks["numpy"] = numpy_calls(layer, x, w, g)
    if torch is not None:
        frameworks["torch"] = torch_calls(torch, layer, x, w, g)

    passes = ["forward", "forward_backward"]
    if getattr(opts, "per_kernel", False):
        passes += ["backward_input", "backward_weight"]
    records, outputs = [], {}
    for framework, calls in frameworks.items():
        # Same inputs, outputs compared below: no framework can skip work unnoticed.
        outputs[framework] = [np.asarray(o) for o in calls["forward_backward"]()]
        for pass_ in passes:
            if pass_ not in calls:
                continue
            with framework_threads(framework, threads, torch):
                times, info = timed_block(calls[pass_], opts.repeats, opts.min_time, opts.warmup,
                                          threads, opts.max_disturbance, opts.retries)
            rec = {"layer": layer.name, "threads": threads, "pass": pass_,
                   "framework": framework}
            rec.update(summary(times, PASS_FLOPS[pass_] * flops), **info)
            records.append(rec)
    check = _check_outputs(outputs, "minicnn")
    for framework, diff in check.items():
        if diff > 1e-3:
            note(f"WARNING {layer.name}: {framework} differs from minicnn by {diff:.2e} (relative)")
    return records, check


# ---------------------------------------------------------------------------------------------
# LeNet training step
# ---------------------------------------------------------------------------------------------

def lenet_init(seed=2):
    """One set of initial LeNet parameters (PyTorch's default init ranges), for both frameworks."""
    rng = np.random.default_rng(seed)
    shapes = [(16, 1, 5, 5), (16,), (32, 16, 5, 5), (32,), (10, 1568), (10,)]
    fan_in = [25, 25, 400, 400, 1568, 1568]
    return [rng.uniform(-1, 1, size=s).astype(np.float32) / np.float32(math.sqrt(f))
            for s, f in zip(shapes, fan_in)]


def _loss_value(loss):
    item = getattr(loss, "item", None)
    return float(item() if callable(item) else np.asarray(loss))


def bench_lenet(threads_list, opts, torch):
    """Time a LeNet training step (forward, backward, SGD step) for minicnn and PyTorch.

    minicnn is timed twice: ``"minicnn"`` with every BLAS held at one thread around the whole
    step, and ``"minicnn_default_blas"`` with NumPy's BLAS left at its default, as the ``train``
    command and a training script of the user's own run it. minicnn's ``Linear`` and ``@`` hold
    NumPy's BLAS at one thread themselves (``kernels/blas.py``), so the two should agree; the
    second row shows that no second thread pool fights the kernels' OpenMP threads. PyTorch's
    row is there when ``torch`` is not None. An error in either framework's step propagates.

    Returns a dict ``{"status": "ok", "reason": "", "batch", "records", "first_loss"}``.
    """
    batch = opts.batch or LENET_BATCH
    params = lenet_init()
    model = models.lenet()
    for p, a in zip(model.parameters(), params, strict=True):
        if p.data.shape != a.shape:
            raise RuntimeError(f"minicnn.models.lenet has a parameter of shape {p.data.shape}; "
                               f"the benchmark's LeNet expects {a.shape}")
        p.data[...] = a
    steps = {"minicnn": lenet_step(batch, model)}
    result = {"status": "ok", "reason": "", "batch": batch, "records": [],
              "first_loss": {"minicnn": _loss_value(steps["minicnn"]())}}
    # The same model again with NumPy's BLAS left at its default (all cores).
    steps["minicnn_default_blas"] = steps["minicnn"]
    if torch is not None:
        steps["torch"] = torch_lenet_step(torch, batch, params)
        result["first_loss"]["torch"] = _loss_value(steps["torch"]())
    for threads in threads_list:
        for framework, step in steps.items():
            blas = 1 if framework == "minicnn" else None
            with framework_threads(framework, threads, torch, blas_threads=blas):
                times, info = timed_block(step, opts.repeats, opts.min_time, opts.warmup,
                                          threads, opts.max_disturbance, opts.retries)
            rec = {"threads": threads, "framework": framework}
            rec.update(summary(times), **info)
            rec["images_per_s"] = batch / (rec["ms"] / 1e3)
            result["records"].append(rec)
    return result


# ---------------------------------------------------------------------------------------------
# Summary: ratios, geomeans, headline figures, thread scaling
# ---------------------------------------------------------------------------------------------

def geomean(values):
    """Geometric mean of positive numbers, None ignored (None for an empty list)."""
    values = [v for v in values if v is not None]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _ratio(idx, layer, threads, pass_, other):
    """minicnn speed / ``other``'s speed (``other``'s time over minicnn's), or None."""
    mine = idx.get((layer, threads, pass_, "minicnn"))
    theirs = idx.get((layer, threads, pass_, other))
    return theirs["ms"] / mine["ms"] if mine and theirs else None


def _headline(name, value, unit):
    return {"name": name, "value": value, "unit": unit}


def summarize(records, layers, threads_list, peaks, lenet):
    """Per-layer ratios, their geomeans per thread count and pass, the headline figures and the
    thread scaling (geomean over layers of the time at 1 thread over the time at N)."""
    idx = index(records)
    ratios, geomeans, headline, scaling = [], [], [], []
    for threads in threads_list:
        for pass_ in ("forward", "forward_backward"):
            per = {"numpy": [], "torch": []}
            for layer in layers:
                row = {"layer": layer.name, "threads": threads, "pass": pass_}
                for other in per:
                    row[f"vs_{other}"] = _ratio(idx, layer.name, threads, pass_, other)
                    per[other].append(row[f"vs_{other}"])
                mine = idx.get((layer.name, threads, pass_, "minicnn"))
                peak = peaks.get(threads)
                row["peak_fraction"] = (mine["gflops"] / peak["gflops"]
                                        if mine and peak and pass_ == "forward" else None)
                ratios.append(row)
            geomeans.append({"threads": threads, "pass": pass_,
                             "vs_numpy": geomean(per["numpy"]), "vs_torch": geomean(per["torch"])})

    large = [lay.name for lay in layers if lay.C * lay.K * lay.K >= LARGE_CONTRACTION]
    for threads in threads_list:
        gm = next(g for g in geomeans if g["threads"] == threads
                  and g["pass"] == "forward_backward")
        headline.append(_headline(f"fwd+bwd speed vs PyTorch, geomean, {threads} thr",
                                  gm["vs_torch"], "x"))
        headline.append(_headline(f"fwd+bwd speed vs NumPy, geomean, {threads} thr",
                                  gm["vs_numpy"], "x"))
        fracs = [r["peak_fraction"] for r in ratios if r["threads"] == threads
                 and r["pass"] == "forward" and r["layer"] in large
                 and r["peak_fraction"] is not None]
        headline.append(_headline(f"large-layer fwd / sgemm peak, worst layer, {threads} thr",
                                  min(fracs) if fracs else None, "%"))
        lenet_ms = {r["framework"]: r["ms"] for r in lenet.get("records", [])
                    if r["threads"] == threads}
        headline.append(_headline(f"LeNet step time / PyTorch's, {threads} thr",
                                  lenet_ms["minicnn"] / lenet_ms["torch"]
                                  if "minicnn" in lenet_ms and "torch" in lenet_ms else None, "x"))
    for threads in [t for t in threads_list if t > 1 and 1 in threads_list]:
        for framework in ("minicnn", "numpy", "torch"):
            for pass_ in ("forward", "forward_backward"):
                speedups = [idx[lay.name, 1, pass_, framework]["ms"]
                            / idx[lay.name, threads, pass_, framework]["ms"] for lay in layers
                            if (lay.name, 1, pass_, framework) in idx
                            and (lay.name, threads, pass_, framework) in idx]
                if speedups:
                    scaling.append({"framework": framework, "pass": pass_,
                                    "threads": threads, "speedup": geomean(speedups)})
    return {"ratios": ratios, "geomeans": geomeans, "headline": headline, "large_layers": large,
            "scaling": scaling}


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def _number(convert, ok, expected):
    """An argparse type: ``convert(text)``, refused with "expected ..." unless ``ok(value)``."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value
    return parse


_non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_fraction = _number(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
_seconds = _number(float, lambda v: v >= 0, "seconds >= 0")


def _thread_list(text):
    values = []
    for part in text.split(","):
        part = part.strip()
        if part in ("all", "max"):
            values.append(available_cores())
            continue
        try:
            values.append(positive_int(part))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"--threads takes comma-separated positive ints or 'all', got {text!r}") from None
    return sorted(set(values))


def add_arguments(parser):
    """Add the benchmark's options to an ``argparse`` parser."""
    parser.add_argument("--layers", type=layer_list, default=list(LAYER_NAMES),
                        help=f"comma-separated subset of: {', '.join(LAYER_NAMES)} (default: all)")
    parser.add_argument("--threads", type=_thread_list, default=None,
                        help="comma-separated thread counts, 'all' = every available core "
                             "(default: 1,all)")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="timed calls per measurement, at least (default 15; 3 with --quick)")
    parser.add_argument("--min-time", type=_seconds, default=None,
                        help="seconds of timed calls per measurement, at least (default 0.3; 0 "
                             "with --quick)")
    parser.add_argument("--warmup", type=_non_negative_int, default=None,
                        help="untimed calls before each measurement (default 3; 1 with --quick)")
    parser.add_argument("--retries", type=_non_negative_int, default=None,
                        help="measure a figure again, up to this many times, while other "
                             "processes used more than --max-disturbance of its cores "
                             "(default 3; 0 with --quick)")
    parser.add_argument("--max-disturbance", type=_fraction, default=0.1,
                        help="fraction of the timed cores other processes may use before a "
                             "figure counts as disturbed (default 0.1)")
    parser.add_argument("--quick", action="store_true",
                        help="a fast smoke run: few repeats, no minimum time")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help="override every layer's batch size and LeNet's (default: the "
                             "layer's own, 64 or 32)")
    parser.add_argument("--backend", choices=kernels.BACKENDS, default="fast",
                        help="minicnn kernel backend to time (default: fast)")
    parser.add_argument("--per-kernel", action="store_true",
                        help="also time backward_input and backward_weight on their own "
                             "(minicnn and PyTorch)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-numpy", action="store_true", help="leave the NumPy baseline out")
    parser.add_argument("--no-lenet", action="store_true", help="skip the LeNet training step")
    parser.add_argument("--no-mallopt", action="store_true",
                        help="leave glibc's allocator thresholds as they are")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write every figure and the machine info as JSON to PATH")


def build_parser():
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return parser


def _settings(args):
    """Fill in the defaults that depend on --quick; return the thread counts to run."""
    quick = args.quick
    args.repeats = args.repeats if args.repeats is not None else (3 if quick else 15)
    args.min_time = args.min_time if args.min_time is not None else (0.0 if quick else 0.3)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 3)
    args.retries = args.retries if args.retries is not None else (0 if quick else 3)
    return args.threads or sorted({1, available_cores()})


def run(args, out=None, command=None):
    """Run the benchmark described by the parsed ``args``; print the tables, return the report.

    The report holds ``schema``, ``date``, ``command``, ``machine``, ``settings``,
    ``allocator``, ``layers``, ``sgemm_peak``, ``records`` (one per layer, threads, pass and
    framework: ``ms``, ``gflops``, ``times_ms``), ``checks`` (max relative output difference to
    minicnn per layer), ``lenet``, ``summary`` (``ratios``, ``geomeans``, ``headline``,
    ``scaling``) and ``notes``.
    """
    out = sys.stdout if out is None else out
    threads_list = _settings(args)
    notes = []

    def note(msg):
        notes.append(msg)
        print(f"  [{msg}]", file=out, flush=True)

    allocator = ({"applied": False, "mmap_threshold": None, "trim_threshold": None,
                  "detail": "--no-mallopt"} if args.no_mallopt else raise_mmap_threshold())
    torch, why = (None, "--no-torch") if args.no_torch else import_torch()
    if torch is None:
        note(f"PyTorch left out: {why}")
    if kernels.openmp_enabled() is False and max(threads_list) > 1:
        note("minicnn was built without OpenMP: its kernels run on 1 thread whatever --threads")
    layers = [lay._replace(N=args.batch or lay.N) for lay in LAYERS if lay.name in args.layers]

    report = {
        "schema": SCHEMA,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command or "python benchmarks/bench.py (called from Python)",
        "machine": machine_info(torch),
        "settings": {"layers": [lay.name for lay in layers], "threads": threads_list,
                     "repeats": args.repeats, "min_time": args.min_time, "warmup": args.warmup,
                     "batch": args.batch, "backend": args.backend, "dtype": "float32",
                     "quick": bool(args.quick), "numpy": not args.no_numpy,
                     "per_kernel": bool(args.per_kernel), "retries": args.retries,
                     "max_disturbance": args.max_disturbance, "torch": torch is not None},
        "allocator": allocator,
        "layers": [dict(lay._asdict(), gflop_forward=conv_flops(lay) / 1e9,
                        OH=out_shape(lay)[0], OW=out_shape(lay)[1]) for lay in layers],
    }
    print(f"minicnn benchmark: layers {','.join(report['settings']['layers'])}, threads "
          f"{','.join(map(str, threads_list))}, backend {args.backend}"
          f"{', PyTorch ' + torch.__version__ if torch is not None else ''}", file=out, flush=True)

    peaks = {}
    for threads in threads_list:
        peaks[threads] = dict(sgemm_peak(threads, repeats=max(3, min(args.repeats, 5)),
                                         min_time=min(args.min_time, 0.3), warmup=1,
                                         max_disturbance=args.max_disturbance,
                                         retries=args.retries), threads=threads)
        print(f"  sgemm {SGEMM_SIZE}^2 on {threads} thread(s): {peaks[threads]['gflops']:.0f} "
              f"GFLOP/s", file=out, flush=True)
    records, checks = [], []
    with kernels.backend(args.backend):
        for threads in threads_list:
            for layer in layers:
                recs, check = bench_layer(layer, threads, args, torch, note)
                records += recs
                checks.append({"layer": layer.name, "threads": threads,
                               "max_rel_diff_to_minicnn": check})
                print(f"  {layer.name} on {threads} thread(s): done", file=out, flush=True)
        if args.no_lenet:
            lenet = {"status": "skipped", "reason": "--no-lenet", "batch": None, "records": []}
        else:
            lenet = bench_lenet(threads_list, args, torch)
    report.update(sgemm_peak=list(peaks.values()), records=records, checks=checks, lenet=lenet)
    # Other processes on the machine are noise the medians cannot fully remove: record them.
    report["machine"]["loadavg_end"] = loadavg()
    report["summary"] = summarize(records, layers, threads_list, peaks, lenet)
    report["notes"] = notes
    print("\n" + to_markdown(report), file=out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}", file=out)
    return report


def main(argv=None):
    """``python benchmarks/bench.py [options]``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    run(build_parser().parse_args(argv), command=shlex.join(["python", "benchmarks/bench.py",
                                                             *argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
