"""Tests of ``benchmarks/train_vs_torch.py``: the training command against a plain PyTorch loop.

Timings are never asserted; only that the script runs minicnn's command on the files it is
given, reads back the figure the command printed, and that its PyTorch loop is the same model.
"""
import gzip
import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if not (BENCHMARKS / "train_vs_torch.py").is_file():
    pytest.skip("benchmarks/ is only in a source checkout", allow_module_level=True)
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import train_vs_torch  # noqa: E402


def write_idx_gz(path, array):
    magic = 2051 if array.ndim == 3 else 2049
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx_gz(folder / "t10k-images-idx3-ubyte.gz",
                 rng.integers(0, 256, (192, 28, 28), dtype=np.uint8))
    write_idx_gz(folder / "t10k-labels-idx1-ubyte.gz",
                 rng.integers(0, 10, 192, dtype=np.uint8))
    return folder


def test_minicnn_side_runs_the_training_command_and_reports_its_figure(tiny_mnist, tmp_path,
                                                                        capsys):
    out = tmp_path / "train.json"
    assert train_vs_torch.main(["--data", str(tiny_mnist), "--split-test", "128", "--epochs",
                                "1", "--threads", "1", "--repeats", "1", "--torch-python",
                                str(tmp_path / "no-such-python"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PyTorch is not importable" in printed and "minicnn train" in printed
    report = json.loads(out.read_text())
    (row,) = report["results"]
    assert row["threads"] == 1 and len(row["runs"]["minicnn"]) == 1
    assert row["minicnn_images_per_s"] > 0 and "torch_images_per_s" not in row
    assert report["split_test"] == 128 and "--split-test 128" in report["command"]


def test_a_missing_mnist_file_is_named():
    with pytest.raises(SystemExit, match="no MNIST test file"):
        train_vs_torch.main(["--data", "/nonexistent/mnist"])


def test_the_pytorch_loop_is_the_same_model_and_loop():
    # The loop the PyTorch side runs: compiled here, and its layers are minicnn's LeNet's.
    compile(train_vs_torch.TORCH_LOOP, "<torch loop>", "exec")
    from minicnn import models

    minicnn_layers = [type(m).__name__ for m in models.lenet()]
    for layer, text in zip(minicnn_layers, ["nn.Conv2d(1, 16, 5, padding=2)", "nn.ReLU()",
                                            "nn.MaxPool2d(2)", "nn.Conv2d(16, 32, 5, padding=2)",
                                            "nn.ReLU()", "nn.MaxPool2d(2)", "nn.Flatten()",
                                            "nn.Linear(32 * 7 * 7, 10)"]):
        assert text.startswith(f"nn.{layer}(") and text in train_vs_torch.TORCH_LOOP
    assert "lr=0.05, momentum=0.9" in train_vs_torch.TORCH_LOOP


def test_the_pytorch_loop_runs_when_torch_is_installed(tiny_mnist):
    pytest.importorskip("torch")
    rate = train_vs_torch.run_torch(sys.executable, tiny_mnist, 128, 1, 1, 0)
    assert rate > 0
