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
NAMES = sorted(p.stem for p in SCRIPTS.glob("*.py"))


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
    assert "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])" not in autograd
    assert "[[4.5 4.5]\n [4.5 4.5]]" in autograd          # .grad is a NumPy array here
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
    source = source.replace("while y.norm() < 1000:", "while y.data.norm() < 1000:")
    # minicnn's .grad is a NumPy array (see the Tensor docstring): have PyTorch print its own
    # as an array too, so that the rest can be compared.
    source = source.replace("print(x.grad)", "print(x.grad.numpy())")
    torch.manual_seed(0)
    theirs = _run(path, source)
    assert _mask(ours) == _mask(theirs)
