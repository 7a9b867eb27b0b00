"""End-to-end training: LeNet and CIFAR-net steps and an MNIST-epoch-like loop, minicnn beside
PyTorch, with a per-op breakdown of minicnn's step and page faults per step.

Run from a source checkout::

    python benchmarks/step_bench.py --threads 1,2 --repeats 40 --json steps.json

What is measured, float32, in one process:

* a training step (``zero_grad``, forward, cross-entropy, backward, SGD with momentum) of
  ``minicnn.models.lenet`` and ``cifar_net`` at batch 64, and the same model in PyTorch started
  from the same weights on the same batch. The two frameworks' steps are timed *interleaved*
  (minicnn, PyTorch, PyTorch, minicnn, ...), so a noisy neighbour slows both alike; each figure
  is a median over ``--repeats`` steps, and the spread (interquartile range / median) is reported;
* an MNIST-epoch-like loop: ``--epoch-batches`` batches of 64 sliced from an in-memory dataset
  (a fresh input tensor every step, as a DataLoader hands out), images per second;
* page faults per step (``resource.getrusage`` minor faults), the cost of fresh allocations;
* a per-op breakdown of minicnn's step: every ``Function``'s forward and backward, the conv
  kernels inside them, ``zero_grad`` and ``step``; "engine and glue" is the rest.

glibc's allocator is left at its defaults, as a user's script runs; ``--mallopt`` raises the mmap
and trim thresholds for both frameworks (reported in the output), which hides page-fault costs.
"""
import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the modules beside this one

from system import raise_mmap_threshold  # noqa: E402
from torch_side import import_torch  # noqa: E402

import minicnn  # noqa: E402
import minicnn.nn as mnn  # noqa: E402
import minicnn.nn.functional as F  # noqa: E402
from minicnn import kernels, models, optim  # noqa: E402
from minicnn._tensor import Function  # noqa: E402

BATCH = 64
NETS = {"lenet": (models.lenet, (1, 28, 28)), "cifar_net": (models.cifar_net, (3, 32, 32))}
CONV_KERNELS = ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")


def make_batch(shape, batch=BATCH, seed=1):
    """A fixed random batch: images (batch, *shape) float32 and labels int64 in [0, 10)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch,) + shape, dtype=np.float32),
            rng.integers(0, 10, size=batch).astype(np.int64))


def torch_model(torch, model):
    """The PyTorch twin of a minicnn ``nn.Sequential`` of Conv2d/ReLU/MaxPool2d/Flatten/Linear,
    with minicnn's parameter values copied in."""
    layers = []
    for m in model:
        if isinstance(m, mnn.Conv2d):
            layers.append(torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size,
                                          m.stride, m.padding))
        elif isinstance(m, mnn.ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(m, mnn.MaxPool2d):
            layers.append(torch.nn.MaxPool2d(m.kernel_size, m.stride, m.padding))
        elif isinstance(m, mnn.Flatten):
            layers.append(torch.nn.Flatten())
        elif isinstance(m, mnn.Linear):
            layers.append(torch.nn.Linear(m.in_features, m.out_features))
        else:
            raise TypeError(f"no PyTorch twin for {type(m).__name__}")
    twin = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for p, q in zip(twin.parameters(), model.parameters()):
            p.copy_(torch.from_numpy(np.ascontiguousarray(q.detach().numpy())))
    return twin


def minicnn_step(model, x, y):
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xt, yt = minicnn.tensor(x), minicnn.tensor(y)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step, opt


def torch_step(torch, model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step


def minicnn_epoch(model, images, labels, batch=BATCH):
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def epoch():
        for i in range(0, len(images) - batch + 1, batch):
            opt.zero_grad()
            loss = F.cross_entropy(model(minicnn.tensor(images[i:i + batch])),
                                   minicnn.tensor(labels[i:i + batch]))
            loss.backward()
            opt.step()
    return epoch


def torch_epoch(torch, model, images, labels, batch=BATCH):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xs, ys = torch.from_numpy(images), torch.from_numpy(labels)

    def epoch():
        for i in range(0, len(images) - batch + 1, batch):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xs[i:i + batch]), ys[i:i + batch])
            loss.backward()
            opt.step()
    return epoch


def _minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def interleaved(calls, repeats, warmup=3):
    """Time ``calls`` ({name: fn}) interleaved, alternating the order each round.

    Returns ``{name: {"ms", "iqr_rel", "faults", "times_ms"}}``: the median ms, the interquartile
    range over the median, and the median minor page faults per call."""
    names = list(calls)
    for _ in range(warmup):
        for n in names:
            calls[n]()
    times = {n: [] for n in names}
    faults = {n: [] for n in names}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            for n in (names if r % 2 == 0 else names[::-1]):
                f0, t0 = _minflt(), time.perf_counter()
                calls[n]()
                t1, f1 = time.perf_counter(), _minflt()
                times[n].append(1e3 * (t1 - t0))
                faults[n].append(f1 - f0)
    finally:
        if enabled:
            gc.enable()
    out = {}
    for n in names:
        q = statistics.quantiles(times[n], n=4) if len(times[n]) >= 2 else [0, 0, 0]
        med = statistics.median(times[n])
        out[n] = {"ms": med, "iqr_rel": (q[2] - q[0]) / med if med else 0.0,
                  "faults": statistics.median(faults[n]), "times_ms": times[n]}
    return out


# ---------------------------------------------------------------------------------------------
# Per-op breakdown (minicnn): wrap every Function's forward/backward and the conv kernels
# ---------------------------------------------------------------------------------------------

def _all_functions():
    seen, todo = [], list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.append(cls)
            todo.extend(cls.__subclasses__())
    return seen


@contextlib.contextmanager
def instrumented(acc, opt):
    """Accumulate seconds per part into ``acc`` while the block runs (wrappers removed after)."""
    saved = []

    def wrap(owner, attr, key, static):
        orig = owner.__dict__[attr]
        fn = orig.__func__ if static else orig

        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[key] = acc.get(key, 0.0) + time.perf_counter() - t0
        saved.append((owner, attr, orig))
        setattr(owner, attr, staticmethod(timed) if static else timed)

    for cls in _all_functions():
        for attr in ("forward", "backward"):
            if isinstance(cls.__dict__.get(attr), staticmethod):
                wrap(cls, attr, f"{cls.__name__[:-2] if cls.__name__.endswith('Fn') else cls.__name__}"
                                f" {attr}", True)
    for name in CONV_KERNELS:
        wrap_mod = kernels
        orig = getattr(wrap_mod, name)

        def make(orig=orig, name=name):
            def timed(*a, **k):
                t0 = time.perf_counter()
                try:
                    return orig(*a, **k)
                finally:
                    acc["kernel " + name] = acc.get("kernel " + name, 0.0) + \
                        time.perf_counter() - t0
            return timed
        saved.append((wrap_mod, name, orig))
        setattr(wrap_mod, name, make())
    for attr in ("zero_grad", "step"):
        orig = getattr(opt, attr)

        def make(orig=orig, attr=attr):
            def timed(*a, **k):
                t0 = time.perf_counter()
                try:
                    return orig(*a, **k)
                finally:
                    acc["optimizer " + attr] = acc.get("optimizer " + attr, 0.0) + \
                        time.perf_counter() - t0
            return timed
        setattr(opt, attr, make())
    try:
        yield
    finally:
        for owner, attr, orig in reversed(saved):
            setattr(owner, attr, orig)
        for attr in ("zero_grad", "step"):
            opt.__dict__.pop(attr, None)


def breakdown(step, opt, repeats):
    """Median ms per step of each part of a minicnn step, plus the total and the conv-kernel share.

    The conv kernels run inside Conv2d's forward/backward; those rows show the time *outside*
    the kernels (the seam's glue, bias)."""
    per_step = []
    for _ in range(repeats):
        acc = {}
        with instrumented(acc, opt):
            t0 = time.perf_counter()
            step()
            total = time.perf_counter() - t0
        acc["total"] = total
        per_step.append(acc)
    keys = sorted({k for a in per_step for k in a})
    med = {k: 1e3 * statistics.median(a.get(k, 0.0) for a in per_step) for k in keys}
    kern = sum(med.get("kernel " + n, 0.0) for n in CONV_KERNELS)
    for key in ("Conv2d forward", "Conv2d backward"):
        if key in med:   # the Function rows minus the kernels they called
            inner = ("conv2d_forward",) if key.endswith("forward") else CONV_KERNELS[1:]
            med[key] -= sum(med.get("kernel " + n, 0.0) for n in inner)
    named = sum(v for k, v in med.items() if k != "total")
    med["engine and glue"] = med["total"] - named
    med["outside conv kernels, share"] = 1 - kern / med["total"]
    return med


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def run(threads_list, repeats, nets, epoch_batches, use_mallopt, out=print):
    torch, why = import_torch()
    allocator = raise_mmap_threshold() if use_mallopt else {"applied": False,
                                                            "detail": "glibc defaults"}
    report = {"schema": "minicnn-steps/1", "batch": BATCH, "allocator": allocator,
              "torch": torch.__version__ if torch else None, "torch_missing": why,
              "numpy": np.__version__, "minicnn": minicnn.__version__, "records": []}
    out(f"minicnn {minicnn.__version__}, PyTorch {report['torch'] or '- (' + why + ')'}, batch "
        f"{BATCH}, float32, allocator: {'mallopt ' if use_mallopt else ''}{allocator['detail']}")
    saved = kernels.get_num_threads()
    try:
        for threads in threads_list:
            kernels.set_num_threads(threads)
            if torch:
                torch.set_num_threads(threads)
            for net in nets:
                make, shape = NETS[net]
                minicnn.manual_seed(0)
                model = make()
                x, y = make_batch(shape)
                step, opt = minicnn_step(model, x, y)
                calls = {"minicnn": step}
                if torch:
                    calls["torch"] = torch_step(torch, torch_model(torch, model), x, y)
                reps = repeats if net == "lenet" else max(5, repeats // 5)
                timing = interleaved(calls, reps)
                parts = breakdown(step, opt, reps)
                rec = {"kind": "step", "net": net, "threads": threads, "repeats": reps,
                       **{f"{k}_{f}": v[f] for k, v in timing.items()
                          for f in ("ms", "iqr_rel", "faults")},
                       "breakdown_ms": parts}
                if torch:
                    rec["speed_ratio"] = timing["torch"]["ms"] / timing["minicnn"]["ms"]
                report["records"].append(rec)
                out(f"{net:<10} {threads} thr: minicnn {timing['minicnn']['ms']:7.2f} ms "
                    f"(iqr {100 * timing['minicnn']['iqr_rel']:.0f}%, "
                    f"{timing['minicnn']['faults']:.0f} faults)"
                    + (f" | torch {timing['torch']['ms']:7.2f} ms (iqr "
                       f"{100 * timing['torch']['iqr_rel']:.0f}%, {timing['torch']['faults']:.0f}"
                       f" faults) | speed minicnn/torch {rec['speed_ratio']:.2f}x" if torch else ""))
            if epoch_batches:
                minicnn.manual_seed(0)
                model = models.lenet()
                images, labels = make_batch((1, 28, 28), BATCH * epoch_batches, seed=3)
                calls = {"minicnn": minicnn_epoch(model, images, labels)}
                if torch:
                    calls["torch"] = torch_epoch(torch, torch_model(torch, model), images, labels)
                timing = interleaved(calls, max(3, repeats // 10), warmup=1)
                rec = {"kind": "epoch", "net": "lenet", "threads": threads,
                       "batches": epoch_batches,
                       **{f"{k}_images_per_s": BATCH * epoch_batches / v["ms"] * 1e3
                          for k, v in timing.items()}}
                report["records"].append(rec)
                out(f"epoch-like {threads} thr: minicnn {rec['minicnn_images_per_s']:.0f} img/s"
                    + (f" | torch {rec['torch_images_per_s']:.0f} img/s | ratio "
                       f"{rec['minicnn_images_per_s'] / rec['torch_images_per_s']:.2f}x"
                       if torch else ""))
    finally:
        kernels.set_num_threads(saved)
    out("")
    out(breakdown_table(report["records"]))
    return report


def breakdown_table(records):
    """A markdown table: ms per step of each part of minicnn's step, one column per net/threads."""
    steps = [r for r in records if r["kind"] == "step"]
    if not steps:
        return ""
    keys = []
    for r in steps:
        for k in r["breakdown_ms"]:
            if k not in keys and k not in ("total", "outside conv kernels, share"):
                keys.append(k)
    order = sorted(keys, key=lambda k: (not k.startswith("kernel"), k == "engine and glue", k))
    head = [f"{r['net']} {r['threads']} thr" for r in steps]
    lines = ["| part of the step, ms | " + " | ".join(head) + " |",
             "|---|" + "---:|" * len(steps)]
    for k in order:
        lines.append(f"| {k} | " + " | ".join(f"{r['breakdown_ms'].get(k, 0.0):.2f}"
                                              for r in steps) + " |")
    lines.append("| **total (instrumented)** | " + " | ".join(
        f"{r['breakdown_ms']['total']:.2f}" for r in steps) + " |")
    lines.append("| share outside the conv kernels | " + " | ".join(
        f"{100 * r['breakdown_ms']['outside conv kernels, share']:.0f}%" for r in steps) + " |")
    lines.append("| page faults per step (minicnn / torch) | " + " | ".join(
        f"{r['minicnn_faults']:.0f} / {r.get('torch_faults', float('nan')):.0f}"
        for r in steps) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--repeats", type=int, default=40, help="timed steps per figure (LeNet; the "
                   "CIFAR net gets a fifth, at least 5)")
    p.add_argument("--nets", default="lenet,cifar_net", help="comma-separated: lenet, cifar_net")
    p.add_argument("--epoch-batches", type=int, default=20,
                   help="batches in the epoch-like loop (0 skips it)")
    p.add_argument("--mallopt", action="store_true",
                   help="raise glibc's mmap/trim thresholds (hides page-fault costs; reported)")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = p.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    for n in nets:
        if n not in NETS:
            p.error(f"unknown net {n!r}; choose from {', '.join(NETS)}")
    report = run(threads, args.repeats, nets, args.epoch_batches, args.mallopt)
    report["command"] = " ".join(["python", "benchmarks/step_bench.py"] + (argv or sys.argv[1:]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
