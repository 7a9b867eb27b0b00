"""``python -m minicnn bench``: a quick timer of minicnn's conv kernels and a LeNet training step.

Every figure is the median of ``--repeats`` timed calls after one untimed call, float32, on the
thread count in force (``--threads`` to change it). GFLOP/s count 2*N*O*OH*OW*C*KH*KW for each
kernel: forward, ``backward_input`` and ``backward_weight`` are each one contraction of that size.
The full comparison with PyTorch and a NumPy baseline, with machine facts and noise accounting,
is ``python benchmarks/bench.py`` in a source checkout; it reuses the layers and helpers here.
"""
import argparse
import gc
import json
import statistics
import sys
import time
from collections import namedtuple

import numpy as np

import minicnn
from minicnn import kernels
# positive_int: benchmarks/bench.py imports it from here too.
from minicnn.cli.arguments import CLIError, check_output_path, positive_int
from minicnn.kernels.geometry import out_size
from minicnn.kernels.runtime import MAX_THREADS_PER_CORE, max_num_threads

Layer = namedtuple("Layer", "name N C H W O K S P")
Layer.__doc__ = """One timed conv layer: x (N, C, H, W), w (O, C, K, K), stride S, padding P."""

# The two LeNet convs, three CIFAR-style convs and a strided one (docs/performance.md).
LAYERS = [
    Layer("mnist_conv1", 64, 1, 28, 28, 16, 5, 1, 2),
    Layer("mnist_conv2", 64, 16, 14, 14, 32, 5, 1, 2),
    Layer("cifar_conv1", 64, 3, 32, 32, 32, 3, 1, 1),
    Layer("cifar_conv2", 64, 32, 16, 16, 64, 3, 1, 1),
    Layer("cifar_conv3", 64, 64, 8, 8, 128, 3, 1, 1),
    Layer("strided", 32, 16, 32, 32, 32, 3, 2, 1),
]
LAYER_NAMES = [layer.name for layer in LAYERS]
KERNELS = ("forward", "backward_input", "backward_weight")
LENET_BATCH = 64


def out_shape(layer):
    """(OH, OW) of ``layer``'s output."""
    return tuple(out_size(n, layer.P, 1, layer.K, layer.S) for n in (layer.H, layer.W))


def conv_flops(layer):
    """FLOPs of one pass over ``layer``: 2*N*O*OH*OW*C*KH*KW (a multiply and an add per MAC)."""
    OH, OW = out_shape(layer)
    return 2 * layer.N * layer.O * OH * OW * layer.C * layer.K * layer.K


def time_calls(fn, repeats, min_time=0.0, warmup=1):
    """Seconds per call of ``fn()``: ``warmup`` untimed calls, then timed calls until there are at
    least ``repeats`` of them taking ``min_time`` seconds in all (the garbage collector paused)."""
    for _ in range(warmup):
        fn()
    times, enabled = [], gc.isenabled()
    gc.disable()
    try:
        while len(times) < repeats or sum(times) < min_time:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return times


def layer_inputs(layer, seed=0):
    """x (N, C, H, W), w (O, C, K, K) and grad_out (N, O, OH, OW) of ``layer``, float32."""
    rng = np.random.default_rng(seed)
    OH, OW = out_shape(layer)
    x = rng.standard_normal((layer.N, layer.C, layer.H, layer.W), dtype=np.float32)
    w = rng.standard_normal((layer.O, layer.C, layer.K, layer.K), dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(layer.C * layer.K * layer.K))
    grad_out = rng.standard_normal((layer.N, layer.O, OH, OW), dtype=np.float32)
    return x, w, grad_out


def kernel_calls(layer, x, w, grad_out):
    """``{kernel name: a call of that minicnn conv kernel on these arrays}``, one per KERNELS."""
    geo = dict(stride=layer.S, padding=layer.P)
    return {"forward": lambda: kernels.conv2d_forward(x, w, **geo),
            "backward_input": lambda: kernels.conv2d_backward_input(grad_out, w, x.shape, **geo),
            "backward_weight": lambda: kernels.conv2d_backward_weight(x, grad_out, w.shape, **geo)}


def lenet_batch(batch, seed=1):
    """A fixed random MNIST-shaped batch: images (batch, 1, 28, 28) float32, labels int64."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, 1, 28, 28), dtype=np.float32),
            rng.integers(0, 10, size=batch).astype(np.int64))


def lenet_step(batch, model=None):
    """A closure running one training step of ``model`` (default ``minicnn.models.lenet()``) on
    :func:`lenet_batch`: forward, cross-entropy, backward, SGD with momentum; returns the loss."""
    import minicnn.nn.functional as F
    from minicnn import models, optim

    model = models.lenet() if model is None else model
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = (minicnn.tensor(a) for a in lenet_batch(batch))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def layer_list(text):
    """An argparse type: comma-separated names from LAYER_NAMES."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or any(n not in LAYER_NAMES for n in names):
        raise argparse.ArgumentTypeError(
            f"unknown layer in {text!r}; choose from {', '.join(LAYER_NAMES)}")
    return names


def add_arguments(parser):
    """Add the ``bench`` options to an ``argparse`` parser."""
    parser.add_argument("--layers", type=layer_list, default=list(LAYER_NAMES),
                        help=f"comma-separated subset of: {', '.join(LAYER_NAMES)} (default: all)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="OpenMP threads for the kernels (default: minicnn's current count; "
                             f"at most {MAX_THREADS_PER_CORE} per usable core)")
    parser.add_argument("--repeats", type=positive_int, default=10,
                        help="timed calls per figure; the median is shown (default 10)")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help="override every layer's batch and LeNet's (default: 64, strided 32)")
    parser.add_argument("--backend", choices=kernels.BACKENDS, default="fast",
                        help="minicnn kernels to time (default: fast)")
    parser.add_argument("--no-lenet", action="store_true", help="skip the LeNet training step")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")


def main(args):
    """``python -m minicnn bench`` (``args`` from :func:`add_arguments`): time, print each row as
    it is measured, optionally write the figures as JSON."""
    try:
        check_output_path(args.json, "--json")  # before the timing, not after it
    except CLIError as exc:
        print(f"minicnn bench: error: {exc}", file=sys.stderr)
        return 2
    saved = kernels.get_num_threads()
    requested = args.threads or saved
    # Capped here rather than by set_num_threads' warning, so the header says what is timed.
    kernels.set_num_threads(min(requested, max_num_threads()))
    threads = kernels.get_num_threads()  # what the kernels really use (1 without OpenMP)
    note = ""
    if threads < requested:
        note = (f" (--threads {requested} capped: at most {MAX_THREADS_PER_CORE} per usable "
                f"core)" if requested > max_num_threads() else " (OpenMP is off in this build)")
    layers = [lay._replace(N=args.batch or lay.N) for lay in LAYERS if lay.name in args.layers]
    report = {"settings": {"minicnn": minicnn.__version__, "backend": args.backend,
                           "threads": threads, "threads_requested": requested,
                           "repeats": args.repeats, "dtype": "float32"},
              "records": [], "lenet": None}
    try:
        print(f"minicnn {minicnn.__version__} conv kernels, backend {args.backend}, {threads} "
              f"thread(s){note}, float32, median of {args.repeats} calls")
        print(f"{'layer':<12} {'GFLOP':>6} | " + " | ".join(f"{k + ' ms':>18} {'GF/s':>6}"
                                                           for k in KERNELS))
        with kernels.backend(args.backend):
            for layer in layers:
                calls, cells = kernel_calls(layer, *layer_inputs(layer)), []
                for name in KERNELS:
                    ms = 1e3 * statistics.median(time_calls(calls[name], args.repeats))
                    report["records"].append({"layer": layer.name, "kernel": name, "ms": ms,
                                              "gflops": conv_flops(layer) / ms / 1e6})
                    cells.append(f"{ms:18.3f} {report['records'][-1]['gflops']:6.1f}")
                print(f"{layer.name:<12} {conv_flops(layer) / 1e9:6.3f} | " + " | ".join(cells))
            if not args.no_lenet:
                batch = args.batch or LENET_BATCH
                ms = 1e3 * statistics.median(time_calls(lenet_step(batch), args.repeats))
                report["lenet"] = {"batch": batch, "ms": ms, "images_per_s": batch / ms * 1e3}
                print(f"LeNet training step, batch {batch}: {ms:.2f} ms "
                      f"({batch / ms * 1e3:.0f} images/s)")
    finally:
        kernels.set_num_threads(saved)
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
        except OSError as exc:
            print(f"minicnn bench: error: cannot write --json {args.json}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.json}")
    print("The full comparison with PyTorch and a NumPy baseline, with noise accounting:\n"
          "  python benchmarks/bench.py   (in a source checkout of minicnn)")
    return 0
