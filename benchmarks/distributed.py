"""Data-parallel scaling on one machine: LeNet training steps (global batch 64, float32) in
images per second, for processes x threads:

    threads only     one process, 1 and 2 OpenMP threads (no minicnn.distributed)
    ranks            mpiexec -n 1 and -n 2, 1 thread each, DistributedDataParallel
                     (each rank trains on 64 / N images of every batch)
    PyTorch          opt-in (--torch-python PATH, a Python with torch): the same model in
                     PyTorch's DistributedDataParallel, gloo backend, 1 thread per rank

Run from a source checkout, in an environment with the distributed extra::

    python benchmarks/distributed.py --steps 30 --ranks 1,2 --json distributed.json
    python benchmarks/distributed.py --torch-python /path/to/venv-with-torch/bin/python

Each configuration runs in its own process(es); each figure is the median over ``--repeats``
blocks of ``--steps`` steps, after two warm-up steps. A worker (``--worker``, what mpiexec
starts) prints its figures as one JSON line on rank 0.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH = 64


def worker(args):
    import minicnn
    import minicnn.nn as nn
    from minicnn.models import create_model
    minicnn.set_num_threads(args.threads)
    model, rank, size = create_model("lenet"), 0, 1
    if args.distributed:
        import minicnn.distributed as dist
        from minicnn.nn.parallel import DistributedDataParallel
        dist.init_process_group("mpi")
        rank, size = dist.get_rank(), dist.get_world_size()
        model = DistributedDataParallel(model)
    per = BATCH // size
    rng = np.random.default_rng(rank)
    x = minicnn.tensor(rng.standard_normal((per, 1, 28, 28)).astype(np.float32))
    y = minicnn.tensor(rng.integers(0, 10, per))
    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    rate = _images_per_second(model, x, y, optimizer, loss_fn,
                              dist.barrier if args.distributed else None, args)
    if rank == 0:
        print(json.dumps({"ranks": size, "threads": args.threads,
                          "distributed": args.distributed, "images_per_second": rate}),
              flush=True)


def _images_per_second(model, x, y, optimizer, loss_fn, barrier, args):
    """The median images/s of ``args.repeats`` timings of ``args.steps`` training steps (after
    two untimed ones), the ranks lined up by ``barrier`` before each timing: the same loop for
    minicnn and PyTorch."""
    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    for _ in range(2):
        step()
    rates = []
    for _ in range(args.repeats):
        if barrier is not None:
            barrier()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        rates.append(BATCH * args.steps / (time.perf_counter() - start))
    return statistics.median(rates)


def torch_worker(args):
    """One rank of PyTorch's DDP (gloo) on minicnn's LeNet, timed as ``worker`` times minicnn."""
    import torch
    import torch.distributed as tdist
    from torch import nn as tnn
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", rank=args.rank, world_size=args.world)
    rank, size = args.rank, args.world
    torch.manual_seed(0)
    model = tnn.parallel.DistributedDataParallel(tnn.Sequential(
        tnn.Conv2d(1, 16, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10)))
    per = BATCH // size
    rng = np.random.default_rng(rank)
    x = torch.from_numpy(rng.standard_normal((per, 1, 28, 28)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, per))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = tnn.CrossEntropyLoss()

    rate = _images_per_second(model, x, y, optimizer, loss_fn, tdist.barrier, args)
    if rank == 0:
        print(json.dumps({"ranks": size, "threads": 1, "distributed": "torch-gloo",
                          "images_per_second": rate}), flush=True)
    tdist.destroy_process_group()


def run_torch(python, ranks, args):
    """PyTorch DDP on ``ranks`` processes started here (gloo finds them over localhost)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="29511")
    command = [python, os.path.abspath(__file__), "--torch-worker", "--steps", str(args.steps),
               "--repeats", str(args.repeats), "--world", str(ranks)]
    procs = [subprocess.Popen(command + ["--rank", str(r)], stdout=subprocess.PIPE, text=True,
                              env=env) for r in range(ranks)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"the PyTorch run on {ranks} ranks failed")
    return json.loads(outputs[0].strip().splitlines()[-1])


def run(command):
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ranks", default="1,2", help="numbers of ranks, comma-separated")
    parser.add_argument("--threads", default="1,2",
                        help="thread counts of the one-process runs, comma-separated")
    parser.add_argument("--json", default=None, metavar="PATH")
    parser.add_argument("--torch-python", default=None, metavar="PYTHON",
                        help="also time PyTorch's DDP (gloo) with this Python (one with torch)")
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--world", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--thread-count", dest="thread_count", type=int, default=1,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.threads = args.thread_count
        return worker(args)
    if args.torch_worker:
        return torch_worker(args)
    me = [sys.executable, os.path.abspath(__file__), "--worker", "--steps", str(args.steps),
          "--repeats", str(args.repeats)]
    results = [run(me + ["--thread-count", t]) for t in args.threads.split(",")]
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    mpiexec = mpiexec if os.path.isfile(mpiexec) else shutil.which("mpiexec")
    if mpiexec is None:
        print("no mpiexec: install the distributed extra for the multi-rank figures")
    else:
        results += [run([mpiexec, "-n", n] + me + ["--distributed", "--thread-count", "1"])
                    for n in args.ranks.split(",")]
    if args.torch_python:
        results += [run_torch(args.torch_python, int(n), args) for n in args.ranks.split(",")]
    base = results[0]["images_per_second"]
    print(f"LeNet training step, global batch {BATCH}, float32")
    print("| processes x threads | DDP | images/s | vs 1 x 1 |\n|---|---|---|---|")
    names = {False: "no", True: "minicnn, MPI", "torch-gloo": "PyTorch, gloo"}
    for r in results:
        print(f"| {r['ranks']} x {r['threads']} | {names[r['distributed']]} | "
              f"{r['images_per_second']:.0f} | {r['images_per_second'] / base:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": "python benchmarks/distributed.py " + " ".join(
                argv if argv is not None else sys.argv[1:]), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
