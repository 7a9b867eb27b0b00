"""Public PyTorch scripts (tests/pytorch_scripts/) run against minicnn with only their imports
renamed; with PyTorch installed, what they print is compared with PyTorch's."""
import contextlib
import io
import re
import runpy
from pathlib import Path

import numpy as np
import pytest

import minicnn

SCRIPTS = Path(__file__).parent / "pytorch_scripts"
# The scripts that need no data files (the training scripts have tests of their own below).
NAMES = ["blitz_autograd_tutorial", "blitz_autograd_tutorial_2023", "blitz_tensor_tutorial",
         "blitz_tensor_tutorial_2023", "polynomial_custom_function"]


def _run(path, source=None):
    out = io.StringIO()
    minicnn.manual_seed(0)
    with contextlib.redirect_stdout(out):
        if source is None:
            runpy.run_path(str(path), run_name="__main__")
        else:
            exec(compile(source, str(path), "exec"), {"__name__": "__main__"})
    return out.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_pytorch_script_runs_to_the_end(name):
    text = _run(SCRIPTS / f"{name}.py")
    assert text.strip(), "the script printed nothing"


def test_blitz_tutorials_print_the_values_pytorch_prints():
    # The lines whose values are not random, checked exactly.
    tensor = _run(SCRIPTS / "blitz_tensor_tutorial.py").splitlines()
    assert "tensor([5.5000, 3.0000])" in tensor
    assert "minicnn.Size([5, 3])" in tensor
    assert "minicnn.Size([4, 4]) minicnn.Size([16]) minicnn.Size([2, 8])" in tensor
    assert tensor.count("tensor([2., 2., 2., 2., 2.])") == 1
    assert "tensor([2., 2., 2., 2., 2.], dtype=minicnn.float64)" in tensor
    autograd = _run(SCRIPTS / "blitz_autograd_tutorial.py")
    # .grad is a Tensor, printed as PyTorch prints it
    assert "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])" in autograd
    assert "tensor([1.0240e+02, 1.0240e+03, 1.0240e-01])" in autograd
    assert "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)" in autograd
    assert re.search(r"False\nTrue\n<SumBackward0 object at 0x[0-9a-f]+>\n", autograd)
    assert autograd.rstrip().endswith("True\nTrue\nFalse")
    current = _run(SCRIPTS / "blitz_autograd_tutorial_2023.py")
    assert current.count("tensor([True, True])") == 2
    assert "Does `a` require gradients?: False\nDoes `b` require gradients?: True" in current


def test_custom_function_script_fits_the_sine():
    lines = _run(SCRIPTS / "polynomial_custom_function.py").splitlines()
    losses = [float(line.split()[1]) for line in lines[:-1]]
    assert len(losses) == 20 and losses[-1] < losses[0] / 5      # it learns
    assert lines[-1].startswith("Result: y = ")


def _mask(text):
    text = text.replace("minicnn", "torch")
    text = re.sub(r"0x[0-9a-f]+", "#", text)                      # object addresses
    text = re.sub(r"-?\d+(\.\d*)?(e[+-]?\d+)?", "#", text)
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("name", NAMES)
def test_pytorch_script_prints_what_pytorch_prints(name):
    pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    import torch
    path = SCRIPTS / f"{name}.py"
    ours = _run(path)
    source = path.read_text().replace("import minicnn as torch", "import torch")
    torch.manual_seed(0)
    theirs = _run(path, source)
    assert _mask(ours) == _mask(theirs)


# ---------------------------------------------------------------------------------------------
# Training scripts: pytorch/examples' mnist/main.py and the blitz CIFAR-10 tutorial, on small
# data written where the scripts look for it (../data and ./data)
# ---------------------------------------------------------------------------------------------

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _write_idx(path, array):
    import gzip
    import struct
    magic = 2051 if array.ndim == 3 else 2049
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _mnist_subset(root, n_train, n_test):
    """MNIST's real test images split into a small train and test set, as IDX files."""
    from minicnn.datasets import read_idx
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "train-images-idx3-ubyte.gz", images[:n_train])
    _write_idx(raw / "train-labels-idx1-ubyte.gz", labels[:n_train])
    _write_idx(raw / "t10k-images-idx3-ubyte.gz", images[n_train:n_train + n_test])
    _write_idx(raw / "t10k-labels-idx1-ubyte.gz", labels[n_train:n_train + n_test])


def _run_in(cwd, path, argv, source=None, monkeypatch=None):
    monkeypatch.chdir(cwd)
    monkeypatch.setattr("sys.argv", [str(path)] + argv)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return _run(path, source)


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs ../shared/data/mnist (the real "
                    "MNIST test set), which is not part of the project")
def test_mnist_example_trains_on_a_real_subset(tmp_path, monkeypatch):
    _mnist_subset(tmp_path / "data", 2000, 1000)
    (tmp_path / "run").mkdir()
    text = _run_in(tmp_path / "run", SCRIPTS / "mnist_main.py",
                   ["--epochs", "1", "--log-interval", "10"], monkeypatch=monkeypatch)
    accuracy = re.search(r"Accuracy: (\d+)/1000", text)
    assert accuracy and int(accuracy.group(1)) > 800, text[-500:]
    assert "Train Epoch: 1 [1920/2000 (94%)]" in text


def _cifar_batches(root, n_train, n_test, rng):
    """A small CIFAR-10 in the python-pickle layout, every class in each split; the classes
    differ by colour so that a tiny net can learn them."""
    import pickle
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, n in (("data_batch_1", n_train), ("test_batch", n_test)):
        labels = np.arange(n) % 10
        base = np.stack([labels * 25, 255 - labels * 25, (labels * 70) % 256], axis=1)
        images = base[:, :, None] + rng.integers(0, 40, (n, 3, 1024))
        batch = {b"data": np.clip(images, 0, 255).astype(np.uint8).reshape(n, 3072),
                 b"labels": labels.tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    for name in ("data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"):
        (folder / name).write_bytes((folder / "data_batch_1").read_bytes())


def test_blitz_cifar10_tutorial_trains_and_reports(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="the tutorial shows images with matplotlib")
    _cifar_batches(tmp_path / "data", 40, 20, np.random.default_rng(0))
    text = _run_in(tmp_path, SCRIPTS / "blitz_cifar10_tutorial.py", [], monkeypatch=monkeypatch)
    assert "Finished Training" in text and (tmp_path / "cifar_net.pth").is_file()
    assert re.search(r"Accuracy of the network on the 10000 test images: \d+ %", text)
    assert text.count("Accuracy for class:") == 10 and text.rstrip().endswith("cpu")


def test_quickstart_tutorial_runs_on_a_small_fashion_mnist(tmp_path, monkeypatch):
    # The PyTorch "Quickstart" (learn the basics), on 256 + 64 made-up 28x28 images written
    # where FashionMNIST(root="data") looks: data/FashionMNIST/raw/*-ubyte.
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 256), ("t10k", 64)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 60 + labels[:, None, None] * 18).astype(np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)
    text = _run_in(tmp_path, SCRIPTS / "quickstart_tutorial.py", [], monkeypatch=monkeypatch)
    assert "Shape of X [N, C, H, W]: minicnn.Size([64, 1, 28, 28])" in text
    assert "Shape of y: minicnn.Size([64]) minicnn.int64" in text
    assert text.count("Test Error:") == 5 and "Done!" in text
    assert re.search(r'Predicted: "[^"]+", Actual: "[^"]+"', text)
