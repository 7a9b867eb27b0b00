"""Run pytorch/examples' mnist/main.py under minicnn and under PyTorch on the same MNIST subset.

The script is tests/pytorch_scripts/mnist_main.py (torch imports renamed to minicnn); for the
PyTorch run its imports are renamed back. Both train on the first --train images of MNIST's test
set and test on the next --test (the training images are not in ../shared/data), for several
seeds, and the test accuracies are printed side by side (JSON with --json).

    python benchmarks/compare_mnist_example.py --data ../shared/data/mnist --epochs 3

PyTorch's side needs torch and torchvision importable (a separate environment is fine:
--torch-python /path/to/python); without them only minicnn's accuracies are printed.
"""
import argparse
import gzip
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "pytorch_scripts" / "mnist_main.py"
TORCH_IMPORTS = [
    ("import minicnn as torch", "import torch"),
    ("import minicnn.nn as nn", "import torch.nn as nn"),
    ("import minicnn.nn.functional as F", "import torch.nn.functional as F"),
    ("import minicnn.optim as optim", "import torch.optim as optim"),
    ("from minicnn import datasets, transforms", "from torchvision import datasets, transforms"),
    ("from minicnn.optim.lr_scheduler import StepLR",
     "from torch.optim.lr_scheduler import StepLR"),
]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path, array):
    """Uncompressed IDX, as torchvision's MNIST keeps its raw files (minicnn reads both)."""
    magic = 2051 if array.ndim == 3 else 2049
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    Path(path).write_bytes(header + array.tobytes())


def make_subset(mnist, root, n_train, n_test):
    images = read_idx(Path(mnist) / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(Path(mnist) / "t10k-labels-idx1-ubyte.gz")
    raw = Path(root) / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", images[:n_train])
    write_idx(raw / "train-labels-idx1-ubyte", labels[:n_train])
    write_idx(raw / "t10k-images-idx3-ubyte", images[n_train:n_train + n_test])
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[n_train:n_train + n_test])


def run(python, script, workdir, args, env=None):
    out = subprocess.run([python, str(script)] + args, cwd=workdir, capture_output=True,
                         text=True, env=env)
    if out.returncode:
        raise SystemExit(f"{python} {script} failed:\n{out.stderr[-2000:]}")
    found = re.findall(r"Accuracy: (\d+)/(\d+)", out.stdout)
    correct, total = map(int, found[-1])
    return 100.0 * correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--torch-python", default=sys.executable)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_subset(args.data, tmp, args.train, args.test)
        work = Path(tmp) / "run"
        work.mkdir()
        torch_script = Path(tmp) / "mnist_torch.py"
        source = SCRIPT.read_text()
        for ours, theirs in TORCH_IMPORTS:
            source = source.replace(ours, theirs)
        torch_script.write_text(source)
        has_torch = subprocess.run([args.torch_python, "-c", "import torch, torchvision"],
                                   capture_output=True).returncode == 0
        results = {"minicnn": [], "pytorch": []}
        for seed in range(1, args.seeds + 1):
            common = ["--epochs", str(args.epochs), "--seed", str(seed), "--log-interval",
                      "100000"]
            results["minicnn"].append(run(sys.executable, SCRIPT, work, common,
                                          env={**os.environ, "PYTHONPATH": str(ROOT)}))
            if has_torch:
                results["pytorch"].append(run(args.torch_python, torch_script, work, common))
            print(f"seed {seed}: minicnn {results['minicnn'][-1]:.2f}%" +
                  (f", PyTorch {results['pytorch'][-1]:.2f}%" if has_torch else ""), flush=True)
    for name, accs in results.items():
        if accs:
            print(f"{name}: mean {statistics.mean(accs):.2f}% (min {min(accs):.2f}, "
                  f"max {max(accs):.2f}) over {len(accs)} seeds")
    if not has_torch:
        print("PyTorch left out: torch and torchvision are not importable by "
              f"{args.torch_python}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "accuracy": results},
                                              indent=2))


if __name__ == "__main__":
    main()
