"""Page faults and time per conv call in a fresh process, with and without raising glibc's mmap
threshold (what ``benchmarks/bench.py`` does with ``mallopt`` for every framework).

Each configuration runs in its own new Python process (so allocator state starts fresh), times
``--calls`` forward+backward calls of one layer and counts the minor page faults they cause
(``getrusage``). Page faults do not depend on what else runs on the machine, so they show the
effect even where the timings are noisy.

Usage::

    python benchmarks/allocator_effect.py [--layers mnist_conv1,cifar_conv2] [--calls 30]
        [--processes 3] [--threads 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, time
here, mode, framework, layer_name, calls, threads = sys.argv[1:7]
sys.path.insert(0, here)
import bench, system
from minicnn import kernels
if mode == "mallopt":
    system.raise_mmap_threshold()
layer = next(l for l in bench.LAYERS if l.name == layer_name)
x, w, g = bench.layer_inputs(layer)
if framework == "torch":
    import torch
    torch.set_num_threads(int(threads))
    fn = bench.torch_calls(torch, layer, x, w, g)["forward_backward"]
elif framework == "numpy":
    from threadpoolctl import threadpool_limits
    threadpool_limits(int(threads), "blas")
    fn = bench.numpy_calls(layer, x, w, g)["forward_backward"]
else:
    kernels.set_num_threads(int(threads))
    fn = bench.minicnn_calls(layer, x, w, g)["forward_backward"]
fn()  # first call: imports, thread pools, workspaces
times, faults = [], []
busy0, cpu0, wall0 = system.cpu_busy_seconds(), time.process_time(), time.perf_counter()
for _ in range(int(calls)):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
busy1, cpu1, wall1 = system.cpu_busy_seconds(), time.process_time(), time.perf_counter()
# Other processes' use of the cores this run needed (as in the bench): beyond 10%, the time is
# not trustworthy (the page-fault count still is).
free = max(0, system.available_cores() - int(threads))
others = max(0.0, (busy1 - busy0 - (cpu1 - cpu0)) / (wall1 - wall0)) if busy0 is not None else 0.0
print(json.dumps({"ms": statistics.median(times) * 1e3, "faults": statistics.median(faults),
                  "disturbance": max(0.0, others - free) / int(threads)}))
"""


def run_child(mode, framework, layer, calls, threads):
    """Run one fresh process; return its ``{"ms", "faults"}`` medians (or None if it failed)."""
    proc = subprocess.run([sys.executable, "-c", CHILD, os.path.dirname(os.path.abspath(__file__)),
                           mode, framework, layer, str(calls), str(threads)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="mnist_conv1,cifar_conv2")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per framework (default 1: least sensitive to other jobs)")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
        frameworks = ("minicnn", "numpy", "torch")
    except ImportError:
        frameworks = ("minicnn", "numpy")
    print(f"forward+backward, {args.threads} thread(s), fresh process per row, median over "
          f"{args.processes} processes of the median over {args.calls} calls "
          f"(* = every process was disturbed by other jobs: time unreliable)")
    print(f"{'framework':<9} {'layer':<12} | {'default glibc':^24} | {'mmap threshold raised':^24}")
    print(f"{'':<9} {'':<12} | {'ms':>10} {'faults/call':>13} | {'ms':>10} {'faults/call':>13}")
    for framework in frameworks:
        for layer in args.layers.split(","):
            cells = []
            for mode in ("default", "mallopt"):
                runs = [r for r in (run_child(mode, framework, layer, args.calls, args.threads)
                                    for _ in range(args.processes)) if r]
                if not runs:
                    cells.append(f"{'failed':>24}")
                    continue
                # Times only from processes other jobs left alone, when there are any.
                quiet = [r for r in runs if r["disturbance"] <= 0.1] or runs
                ms = statistics.median(r["ms"] for r in quiet)
                mark = "*" if quiet is runs and any(r["disturbance"] > 0.1 for r in runs) else " "
                faults = statistics.median(r["faults"] for r in runs)
                cells.append(f"{ms:9.3f}{mark} {faults:13.0f}")
            print(f"{framework:<9} {layer:<12} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
