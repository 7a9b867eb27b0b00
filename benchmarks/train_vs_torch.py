"""``python -m minicnn train --dataset mnist`` against the same training loop written in PyTorch.

Both train LeNet (conv 16 5x5 p2, ReLU, max-pool 2, conv 32 5x5 p2, ReLU, max-pool 2, Linear) with
SGD (lr 0.05, momentum 0.9) at batch 64 on the same MNIST images, shuffled every epoch, and time
the training loop of each epoch the same way: images per second from the first batch to the last
(the test pass is not timed). minicnn's figure is the one its command prints (``--metrics-json``);
PyTorch's loop is the plain one a tutorial shows - zero_grad, forward, cross-entropy, backward,
step, ``loss.item()`` and the accuracy count - on tensors already in memory (no DataLoader
workers), so it is the fastest PyTorch loop of that kind, not a straw man. Each run is a fresh
process; the two frameworks alternate run by run, so a busy neighbour slows both alike, and the
medians are reported with their ratio (above 1: minicnn trains faster). glibc's allocator keeps
its defaults in both, as a user's run has them.

    python benchmarks/train_vs_torch.py --threads 1,2 --repeats 3 --json train.json

Only the MNIST test file is needed (``--split-test``: train on its first N images). PyTorch's side
needs torch importable (``--torch-python /path/to/python`` for a separate environment); without
it only minicnn's figures are printed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The PyTorch side, run as `python -c TORCH_LOOP data_dir n_train epochs threads seed`.
TORCH_LOOP = r"""
import gzip, json, struct, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

data_dir, n_train, epochs, threads, seed = sys.argv[1], *map(int, sys.argv[2:])
torch.set_num_threads(threads)
torch.manual_seed(seed)

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    shape = struct.unpack(">" + "I" * data[3], data[4:4 + 4 * data[3]])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(shape)

images = read_idx(f"{data_dir}/t10k-images-idx3-ubyte.gz")[:n_train]
labels = read_idx(f"{data_dir}/t10k-labels-idx1-ubyte.gz")[:n_train]
x = torch.from_numpy(((images / 255.0 - 0.1307) / 0.3081).astype(np.float32)[:, None])
y = torch.from_numpy(labels.astype(np.int64))
model = nn.Sequential(
    nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
rates = []
for epoch in range(epochs):
    model.train()
    order = torch.randperm(n_train)
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for i in range(0, n_train, 64):
        index = order[i:i + 64]
        data, target = x[index], y[index]
        optimizer.zero_grad()
        output = model(data)
        loss = F.cross_entropy(output, target)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(target)
        correct += int((output.argmax(dim=1) == target).sum())
        seen += len(target)
    rates.append(seen / (time.perf_counter() - start))
print(json.dumps({"images_per_second": sum(rates) / len(rates),
                  "epochs": rates, "train_accuracy": correct / seen, "torch": torch.__version__}))
"""


def run_minicnn(data_dir, n_train, epochs, threads, seed, work):
    metrics = Path(work) / "metrics.json"
    command = [sys.executable, "-m", "minicnn", "train", "--dataset", "mnist", "--data-dir",
               str(data_dir), "--split-test", str(n_train), "--epochs", str(epochs),
               "--threads", str(threads), "--seed", str(seed), "--quiet",
               "--metrics-json", str(metrics), "--checkpoint", str(Path(work) / "ck.npz"),
               "--overwrite"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"minicnn train failed:\n{out.stderr[-2000:]}")
    history = json.loads(metrics.read_text())["history"]
    rates = [h["images_per_second"] for h in history]
    return sum(rates) / len(rates)


def run_torch(python, data_dir, n_train, epochs, threads, seed):
    out = subprocess.run([python, "-c", TORCH_LOOP, str(data_dir), str(n_train), str(epochs),
                          str(threads), str(seed)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the PyTorch loop failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_second"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"),
                        help="folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    parser.add_argument("--split-test", type=int, default=8000, metavar="N",
                        help="train on the first N images of the test file (default 8000)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=3, help="runs per framework and count")
    parser.add_argument("--torch-python", default=sys.executable)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    data = Path(args.data)
    if not (data / "t10k-images-idx3-ubyte.gz").is_file():
        raise SystemExit(f"no MNIST test file in {data} (give --data)")
    try:
        has_torch = subprocess.run([args.torch_python, "-c", "import torch"],
                                   capture_output=True).returncode == 0
    except OSError:              # no such interpreter
        has_torch = False
    if not has_torch:
        print(f"PyTorch is not importable from {args.torch_python}: minicnn only")
    results = []
    with tempfile.TemporaryDirectory() as work:
        for threads in [int(t) for t in args.threads.split(",")]:
            runs = {"minicnn": [], "torch": []}
            for repeat in range(args.repeats):
                runs["minicnn"].append(run_minicnn(data, args.split_test, args.epochs, threads,
                                                   repeat, work))
                if has_torch:
                    runs["torch"].append(run_torch(args.torch_python, data, args.split_test,
                                                   args.epochs, threads, repeat))
            row = {"threads": threads, "runs": runs,
                   "minicnn_images_per_s": statistics.median(runs["minicnn"])}
            line = (f"{threads} thr: minicnn train {row['minicnn_images_per_s']:7.0f} img/s "
                    f"(runs {', '.join(f'{r:.0f}' for r in runs['minicnn'])})")
            if has_torch:
                row["torch_images_per_s"] = statistics.median(runs["torch"])
                row["ratio"] = row["minicnn_images_per_s"] / row["torch_images_per_s"]
                line += (f" | PyTorch loop {row['torch_images_per_s']:7.0f} img/s (runs "
                         f"{', '.join(f'{r:.0f}' for r in runs['torch'])}) | minicnn/PyTorch "
                         f"{row['ratio']:.2f}x")
            print(line, flush=True)
            results.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv if argv is None else
                                                                  ["train_vs_torch.py", *argv]),
                                               "split_test": args.split_test,
                                               "epochs": args.epochs, "results": results},
                                              indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
