"""The nets a learner grows into, minicnn beside PyTorch: a training step at batch 64 and no-grad
inference at batch 256, at each thread count, timed interleaved in one process.

    python benchmarks/zoo.py                                   # every net, 1 thread and all cores
    python benchmarks/zoo.py --nets vgg_bn,resnet8 --threads 1,2 --repeats 20 --json zoo.json

Each net is written once, over a module namespace ``nn`` (minicnn.nn or torch.nn: minicnn's API
is PyTorch's), built in both frameworks, and PyTorch's copy gets minicnn's weights (state_dict),
so both run the same arithmetic on the same batch. A step is zero_grad, forward, cross-entropy,
backward and SGD with momentum; inference is the forward in eval mode under no_grad. Figures
are medians over ``--repeats`` calls, the two frameworks alternating (minicnn, PyTorch, PyTorch,
minicnn, ...) so a busy neighbour slows both alike; "x" is PyTorch's time over minicnn's (above
1: minicnn is faster). glibc's allocator is left at its defaults, as a user's script runs.
Needs PyTorch (a separate environment is fine: run this file with that environment's python
and PYTHONPATH pointing at this checkout).
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the modules beside this one

from step_bench import interleaved  # noqa: E402
from torch_side import import_torch  # noqa: E402

import minicnn  # noqa: E402

# ---------------------------------------------------------------------------------------------
# The nets, written once over ``nn``
# ---------------------------------------------------------------------------------------------


def lenet(nn):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def cifar_net(nn):
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2048, 256), nn.ReLU(), nn.Linear(256, 10))


def vgg_bn(nn):
    """32-32-64-64-128 channels, BatchNorm after every conv."""
    layers, c_in = [], 3
    for c_out, pool in ((32, False), (32, True), (64, False), (64, True), (128, True)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                   nn.ReLU()]
        if pool:
            layers.append(nn.MaxPool2d(2))
        c_in = c_out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 4 * 4, 10))


def _basic_block(nn, c_in, c_out, stride):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.relu = nn.ReLU()
            self.shortcut = nn.Sequential()
            if stride != 1 or c_in != c_out:
                self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                              nn.BatchNorm2d(c_out))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))
    return Block()


def _cifar_resnet(nn, blocks):
    """He et al.'s CIFAR ResNet-(6n+2): 16-32-64 channels, n basic blocks per stage."""
    layers, c_in = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for c_out, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(blocks):
            layers.append(_basic_block(nn, c_in, c_out, stride if i == 0 else 1))
            c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def resnet8(nn):
    return _cifar_resnet(nn, 1)


def resnet20(nn):
    return _cifar_resnet(nn, 3)


def mobilenet_blocks(nn):
    """Depthwise-separable blocks (a 3x3 depthwise conv, then a 1x1 pointwise one, each with
    BatchNorm and ReLU) on CIFAR-sized inputs."""
    def separable(c_in, c_out, stride):
        return [nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
                nn.BatchNorm2d(c_in), nn.ReLU(),
                nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    layers = [nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
    for c_in, c_out, stride in ((32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2)):
        layers += separable(c_in, c_out, stride)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10))


NETS = {"lenet": (lenet, (1, 28, 28)), "cifar_net": (cifar_net, (3, 32, 32)),
        "vgg_bn": (vgg_bn, (3, 32, 32)), "resnet8": (resnet8, (3, 32, 32)),
        "resnet20": (resnet20, (3, 32, 32)), "mobilenet_blocks": (mobilenet_blocks, (3, 32, 32))}

# ---------------------------------------------------------------------------------------------
# The two frameworks' calls
# ---------------------------------------------------------------------------------------------


def _step(lib, model, x, y):
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def _infer(lib, model, x):
    def infer():
        with lib.no_grad():
            model(x)
    return infer


def _twin(torch, build, model):
    """PyTorch's copy of the minicnn ``model``, with its weights and buffers."""
    twin = build(torch.nn)
    state = {k: torch.from_numpy(np.ascontiguousarray(v.numpy()))
             for k, v in model.state_dict().items()}
    twin.load_state_dict(state)
    return twin


def measure(torch, name, threads, repeats, train_batch=64, infer_batch=256):
    build, shape = NETS[name]
    rng = np.random.default_rng(0)
    minicnn.manual_seed(0)
    model = build(minicnn.nn)
    twin = _twin(torch, build, model)
    minicnn.set_num_threads(threads)
    torch.set_num_threads(threads)
    rows = []
    for mode, batch in (("train", train_batch), ("infer", infer_batch)):
        x = rng.standard_normal((batch,) + shape, dtype=np.float32)
        y = rng.integers(0, 10, batch).astype(np.int64)
        model.train(mode == "train")
        twin.train(mode == "train")
        if mode == "train":
            calls = {"minicnn": _step(minicnn, model, minicnn.tensor(x), minicnn.tensor(y)),
                     "torch": _step(torch, twin, torch.from_numpy(x), torch.from_numpy(y))}
        else:
            calls = {"minicnn": _infer(minicnn, model, minicnn.tensor(x)),
                     "torch": _infer(torch, twin, torch.from_numpy(x))}
        res = interleaved(calls, repeats)
        rows.append({"net": name, "mode": mode, "batch": batch, "threads": threads,
                     "minicnn_ms": res["minicnn"]["ms"], "torch_ms": res["torch"]["ms"],
                     "ratio": res["torch"]["ms"] / res["minicnn"]["ms"],
                     "spread": max(res["minicnn"]["iqr_rel"], res["torch"]["iqr_rel"])})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", default=",".join(NETS))
    parser.add_argument("--threads", default="1,all")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    torch, why = import_torch()
    if torch is None:
        parser.error(f"{why}: run this with a python that has torch")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts = [cores if t == "all" else int(t) for t in args.threads.split(",")]
    nets = args.nets.split(",")
    for n in nets:
        if n not in NETS:
            parser.error(f"unknown net {n!r}; choose from {', '.join(NETS)}")
    rows = []
    print("| net | mode (batch) | threads | minicnn ms | PyTorch ms | x | spread |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in nets:
        for threads in counts:
            for r in measure(torch, name, threads, args.repeats):
                rows.append(r)
                print(f"| {r['net']} | {r['mode']} ({r['batch']}) | {r['threads']} | "
                      f"{r['minicnn_ms']:.1f} | {r['torch_ms']:.1f} | {r['ratio']:.2f} | "
                      f"{100 * r['spread']:.0f}% |", flush=True)
    ratios = [r["ratio"] for r in rows]
    print(f"\ngeomean x over {len(rows)} figures: "
          f"{statistics.geometric_mean(ratios):.2f} (min {min(ratios):.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "torch": torch.__version__, "minicnn": minicnn.__version__,
                       "repeats": args.repeats}, f, indent=1)


if __name__ == "__main__":
    main()
