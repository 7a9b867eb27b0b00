"""Batch norm's training step (forward and backward of F.batch_norm) at the shapes of a VGG-style
CIFAR net: minicnn's kernels (_norm.pyx), minicnn's readable NumPy twins, and PyTorch when it is
importable, timed interleaved in one process; medians and ratios.

    python benchmarks/batchnorm.py                       # 1 thread and all cores
    python benchmarks/batchnorm.py --threads 1,2 --repeats 30 --json bn.json
"""
import argparse
import json
import statistics
import time

import numpy as np

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F

# (N, C, H, W) after each conv of a 32-32-64-64-128 VGG-BN CIFAR net at batch 64.
SHAPES = [(64, 32, 32, 32), (64, 64, 16, 16), (64, 128, 8, 8)]


def _minicnn_step(x, g, w, b, backend):
    def step():
        with K.backend(backend):
            xt = minicnn.tensor(x, requires_grad=True)
            wt, bt = minicnn.tensor(w, requires_grad=True), minicnn.tensor(b, requires_grad=True)
            y = F.batch_norm(xt, minicnn.zeros(x.shape[1]), minicnn.ones(x.shape[1]), wt, bt,
                             training=True)
            y.backward(minicnn.tensor(g))
    return step


def _torch_step(torch, x, g, w, b):
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)

    def step():
        xr = xt.clone().requires_grad_()
        wt = torch.from_numpy(w).requires_grad_()
        bt = torch.from_numpy(b).requires_grad_()
        y = torch.nn.functional.batch_norm(xr, torch.zeros(x.shape[1]), torch.ones(x.shape[1]),
                                           wt, bt, training=True)
        y.backward(gt)
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,all")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        torch = None
    import os
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts = [cores if t == "all" else int(t) for t in args.threads.split(",")]
    rng = np.random.default_rng(0)
    rows = []
    for shape in SHAPES:
        x = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        w = rng.standard_normal(shape[1]).astype(np.float32)
        b = rng.standard_normal(shape[1]).astype(np.float32)
        for n in counts:
            minicnn.set_num_threads(n)
            steps = {"minicnn": _minicnn_step(x, g, w, b, "fast"),
                     "numpy twin": _minicnn_step(x, g, w, b, "reference")}
            if torch is not None:
                torch.set_num_threads(n)
                steps["torch"] = _torch_step(torch, x, g, w, b)
            times = {k: [] for k in steps}
            for step in steps.values():
                step()                                       # warm up
            for _ in range(args.repeats):                    # interleaved
                for name, step in steps.items():
                    t = time.perf_counter()
                    step()
                    times[name].append(time.perf_counter() - t)
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            rows.append({"shape": list(shape), "threads": n, "ms": med})
    names = list(rows[0]["ms"])
    print("| shape | threads | " + " | ".join(f"{n} ms" for n in names)
          + " | minicnn vs twin" + (" | minicnn vs torch |" if "torch" in names else " |"))
    print("|---|---:|" + "---:|" * (len(names) + 1 + ("torch" in names)))
    for r in rows:
        ms = r["ms"]
        cells = " | ".join(f"{ms[n]:.2f}" for n in names)
        ratio = f"{ms['numpy twin'] / ms['minicnn']:.2f}x"
        vs = f" | {ms['torch'] / ms['minicnn']:.2f}x" if "torch" in ms else ""
        print(f"| {tuple(r['shape'])} | {r['threads']} | {cells} | {ratio}{vs} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "torch": getattr(torch, "__version__", None),
                       "repeats": args.repeats}, f, indent=1)


if __name__ == "__main__":
    main()
