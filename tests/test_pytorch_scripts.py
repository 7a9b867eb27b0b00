"""Public PyTorch scripts (tests/pytorch_scripts/) run against minicnn with only their imports
renamed; with PyTorch installed, what they print is compared with PyTorch's."""
import contextlib
import io
import random
import re
import runpy
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import minicnn

SCRIPTS = Path(__file__).parent / "pytorch_scripts"
# The scripts that need no data files (the training scripts have tests of their own below).
NAMES = ["blitz_autograd_tutorial", "blitz_autograd_tutorial_2023", "blitz_tensor_tutorial",
         "blitz_tensor_tutorial_2023", "polynomial_custom_function"]
# ... and those compared with PyTorch as they are (the others have tests of their own below)
COMPARED = NAMES + ["autogradqs_tutorial", "buildmodel_tutorial", "polynomial_tensor",
                    "polynomial_nn",
                    "polynomial_optim", "polynomial_module", "regression_main",
                    "what_is_state_dict", "defining_a_neural_network"]
# Where minicnn prints differently (the comparison is xfail(strict): remove the entry once fixed)
DIFFERENCES = {}


def _run(path, source=None):
    out = io.StringIO()
    minicnn.manual_seed(0)
    random.seed(0)
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


def _losses(lines):
    return [float(line.split()[1]) for line in lines if re.fullmatch(r"\d+ \S+", line)]


@pytest.mark.parametrize("name", ["polynomial_tensor", "polynomial_nn", "polynomial_optim",
                                  "polynomial_module"])
def test_polynomial_scripts_fit_the_sine(name):
    # hand-written gradients on tensors (device=, dtype=, matmul(input=, other=)), then
    # nn.Sequential + Linear + Flatten(0, 1) with a hand-written update under no_grad, the
    # same with optim.SGD, and a Module of four scalar Parameters
    lines = _run(SCRIPTS / f"{name}.py").splitlines()
    losses = _losses(lines)
    assert len(losses) == 20 and losses[-1] < losses[0] / 5 and losses[-1] < 20
    terms = re.fullmatch(r"Result: y = (\S+) \+ (\S+) x \+ (\S+) x\^2 \+ (\S+) x\^3", lines[-1])
    a, b, c, d = map(float, terms.groups())
    # sin(x) ~ 0.857 x - 0.093 x^3 on [-pi, pi] (least squares)
    assert abs(a) < 0.1 and abs(b - 0.85) < 0.05 and abs(c) < 0.05 and abs(d + 0.09) < 0.01


DYNAMIC_NET_STEPS = ("range(30000)", "range(4000)")      # 4,000 of its 30,000 steps


def test_dynamic_net_script_trains_a_random_depth_model():
    # weight sharing and Python control flow in forward, SGD with momentum
    path = SCRIPTS / "dynamic_net.py"
    lines = _run(path, path.read_text().replace(*DYNAMIC_NET_STEPS)).splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["1999", "3999"]
    assert _losses(lines)[-1] < 1000
    assert re.fullmatch(r"Result: y = \S+ \+ \S+ x \+ \S+ x\^2 \+ \S+ x\^3 \+ (\S+) x\^4 \? "
                        r"\+ (\S+) x\^5 \?", lines[-1])


def test_dynamic_net_script_prints_what_pytorch_prints(monkeypatch):
    pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    path = SCRIPTS / "dynamic_net.py"
    source = path.read_text().replace(*DYNAMIC_NET_STEPS)
    assert _mask(_run(path, source)) == _mask(_torch_run(path, monkeypatch, source))


def test_regression_example_learns_the_polynomial():
    # pytorch/examples' regression/main.py: torch.cat, mm, smooth_l1_loss, param.data.add_,
    # formatting 0-d tensors with '{:+.2f}'
    lines = _run(SCRIPTS / "regression_main.py").splitlines()
    assert re.fullmatch(r"Loss: 0\.000\d+ after \d+ batches", lines[0])
    learned, actual = ([float(v) for v in re.findall(r"[-+]\d+\.\d\d", line)] for line in lines[1:])
    assert len(learned) == len(actual) == 5
    np.testing.assert_allclose(learned, actual, atol=0.2)


def test_autograd_basics_tutorial_prints_pytorch_values():
    text = _run(SCRIPTS / "autogradqs_tutorial.py")
    assert re.match(r"Gradient function for z = <AddBackward0 object at 0x[0-9a-f]+>\n"
                    r"Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object "
                    r"at 0x[0-9a-f]+>\n", text)
    first = ("tensor([[4., 2., 2., 2., 2.],\n        [2., 4., 2., 2., 2.],\n"
             "        [2., 2., 4., 2., 2.],\n        [2., 2., 2., 4., 2.]])")
    assert text.endswith(f"True\nFalse\nFalse\nFirst call\n{first}\n\nSecond call\n"
                         + first.replace("4.", "8.").replace("2.", "4.")
                         + f"\n\nCall after zeroing gradients\n{first}\n")
    rows = re.search(r">\n(tensor\(\[\[.*?\]\]\))\ntensor\(\[(.*?)\]\)\nTrue", text, re.S)
    assert rows.group(1).count(rows.group(2)) == 5          # d loss / dw: one row per x_i = 1


def test_build_model_tutorial_prints_the_model_as_pytorch_does():
    text = _run(SCRIPTS / "buildmodel_tutorial.py")
    model = """NeuralNetwork(
  (flatten): Flatten(start_dim=1, end_dim=-1)
  (linear_relu_stack): Sequential(
    (0): Linear(in_features=784, out_features=512, bias=True)
    (1): ReLU()
    (2): Linear(in_features=512, out_features=512, bias=True)
    (3): ReLU()
    (4): Linear(in_features=512, out_features=10, bias=True)
    (5): ReLU()
  )
)"""
    assert text.startswith(f"Using cpu device\n{model}\nPredicted class: tensor([")
    assert ("minicnn.Size([3, 28, 28])\nminicnn.Size([3, 784])\nminicnn.Size([3, 20])\n"
            "Before ReLU: tensor([[") in text
    assert "grad_fn=<AddmmBackward0>)\n\n\nAfter ReLU: tensor([[" in text
    assert f"Model structure:  {model} \n\n\n" in text
    layers = re.findall(r"Layer: (\S+) \| Size: minicnn.Size\((\[.*?\])\) \| Values : tensor", text)
    assert layers == [(f"linear_relu_stack.{i}.{kind}", shape) for i, n, m in
                      ((0, 512, 784), (2, 512, 512), (4, 10, 512))
                      for kind, shape in (("weight", f"[{n}, {m}]"), ("bias", f"[{n}]"))]
    assert text.count("grad_fn=<SliceBackward0>") == 6


def test_state_dict_recipe_prints_the_model_and_optimizer_state():
    text = _run(SCRIPTS / "what_is_state_dict.py")
    sizes = ["conv1.weight \t minicnn.Size([6, 3, 5, 5])", "conv1.bias \t minicnn.Size([6])",
             "conv2.weight \t minicnn.Size([16, 6, 5, 5])", "conv2.bias \t minicnn.Size([16])",
             "fc1.weight \t minicnn.Size([120, 400])", "fc1.bias \t minicnn.Size([120])",
             "fc2.weight \t minicnn.Size([84, 120])", "fc2.bias \t minicnn.Size([84])",
             "fc3.weight \t minicnn.Size([10, 84])", "fc3.bias \t minicnn.Size([10])"]
    assert "\nModel's state_dict:\n" + "\n".join(sizes) + "\n\nOptimizer's state_dict:\n" in text
    # the optimizer's state_dict as PyTorch 2.13 prints it
    assert text.endswith(
        "state \t {}\nparam_groups \t [{'lr': 0.001, 'momentum': 0.9, 'dampening': 0, "
        "'weight_decay': 0, 'nesterov': False, 'maximize': False, 'foreach': None, "
        "'differentiable': False, 'fused': None, 'params': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}]\n")


def test_warmstarting_recipe_loads_one_model_into_another(tmp_path, monkeypatch):
    # save a state dict, load it into another model with strict=False
    monkeypatch.chdir(tmp_path)
    names = runpy.run_path(str(SCRIPTS / "warmstarting_model.py"), run_name="__main__")
    a, b = names["netA"].state_dict(), names["netB"].state_dict()
    assert list(a) == list(b) and (tmp_path / "model.pt").is_file()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert not np.array_equal(a["fc3.weight"].numpy(), names["NetB"]().fc3.weight.detach().numpy())
    result = names["netB"].load_state_dict(minicnn.load("model.pt"), strict=False)
    assert repr(result) == "<All keys matched successfully>"


def test_defining_a_network_recipe_runs_its_model():
    # Conv2d, F.max_pool2d, Dropout2d (also on a flattened (N, C) input, with PyTorch's
    # warning), flatten(start_dim=1), log_softmax
    with pytest.warns(UserWarning, match="2-D input to dropout2d"):
        text = _run(SCRIPTS / "defining_a_neural_network.py")
    assert text.startswith("Net(\n  (conv1): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))\n")
    assert "  (dropout2): Dropout2d(p=0.5, inplace=False)\n" in text
    values = re.search(r"tensor\(\[\[(.*)\]\], grad_fn=<LogSoftmaxBackward0>\)", text, re.S)
    probabilities = np.exp([float(v) for v in values.group(1).split(",")])
    assert len(probabilities) == 10 and abs(probabilities.sum() - 1) < 1e-4


def _mask(text):
    text = text.replace("minicnn", "torch")
    text = re.sub(r"0x[0-9a-f]+", "#", text)                      # object addresses
    text = re.sub(r"[-+]?\d+(\.\d*)?(e[+-]?\d+)?", "#", text)
    return re.sub(r"\s+", "", text)


def _to_torch(source):
    """The script as published: its imports name torch (and torchvision) again."""
    source = source.replace("from minicnn import datasets, transforms",
                            "from torchvision import datasets, transforms")
    return re.sub(r"^(import|from) minicnn\b", r"\1 torch", source, flags=re.M)


def _torch_run(path, monkeypatch, source=None):
    """Run the script with PyTorch (seeded with 0) and return what it printed."""
    import torch
    source = _to_torch(source or path.read_text())
    assert "minicnn" not in source
    if "torchvision" in source:
        try:
            import torchvision  # noqa: F401
        except Exception:       # a broken torchvision: the scripts here only import its names
            monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(
                datasets=None, transforms=None))
    torch.manual_seed(0)
    random.seed(0)
    return _run(path, source)


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=DIFFERENCES[name]))
    if name in DIFFERENCES else name for name in COMPARED])
def test_pytorch_script_prints_what_pytorch_prints(name, monkeypatch):
    pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    path = SCRIPTS / f"{name}.py"
    ours = _run(path)
    theirs = _torch_run(path, monkeypatch)
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


def _small_fashion_mnist(root):
    """256 + 64 made-up 28x28 images written where FashionMNIST(root="data") looks:
    data/FashionMNIST/raw/*-ubyte.gz."""
    raw = root / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 256), ("t10k", 64)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 60 + labels[:, None, None] * 18).astype(np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)


def test_quickstart_tutorial_runs_on_a_small_fashion_mnist(tmp_path, monkeypatch):
    # The PyTorch "Quickstart" (learn the basics), on a small made-up Fashion-MNIST
    _small_fashion_mnist(tmp_path)
    text = _run_in(tmp_path, SCRIPTS / "quickstart_tutorial.py", [], monkeypatch=monkeypatch)
    assert "Shape of X [N, C, H, W]: minicnn.Size([64, 1, 28, 28])" in text
    assert "Shape of y: minicnn.Size([64]) minicnn.int64" in text
    assert text.count("Test Error:") == 5 and "Done!" in text
    assert re.search(r'Predicted: "[^"]+", Actual: "[^"]+"', text)


def test_optimization_tutorial_trains_on_a_small_fashion_mnist(tmp_path, monkeypatch):
    # "Optimizing Model Parameters" (learn the basics): train_loop/test_loop, 10 epochs
    _small_fashion_mnist(tmp_path)
    text = _run_in(tmp_path, SCRIPTS / "optimization_tutorial.py", [], monkeypatch=monkeypatch)
    assert text.count("-------------------------------\nloss: ") == 10
    assert re.search(r"^loss: \d\.\d{6}  \[   64/  256\]$", text, re.M)
    errors = re.findall(r"Test Error: \n Accuracy: (\d+\.\d)%, Avg loss: (\d\.\d{6}) \n", text)
    assert len(errors) == 10 and all(0 <= float(acc) <= 100 for acc, _ in errors)
    losses = [float(loss) for _, loss in errors]
    assert losses[-1] < losses[0] and text.rstrip().endswith("Done!")
