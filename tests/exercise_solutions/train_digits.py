"""Solution to exercises/train_digits.py (its your_kernels() reads the hidden solutions)."""
import contextlib
import importlib.util
from pathlib import Path

import numpy as np

import minicnn
import minicnn.kernels as K
import minicnn.kernels.reference as reference
import minicnn.nn.functional as F
from minicnn.datasets import load_digits
from minicnn.models import digits_net

YOURS = {"conv2d_forward": ("conv_loop", "conv2d_forward"),
         "conv2d_backward_input": ("col2im", "conv2d_backward_input"),
         "max_pool2d_forward": ("maxpool", "max_pool2d_forward"),
         "max_pool2d_backward": ("maxpool", "max_pool2d_backward")}


def _solution(name):
    path = Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_exercise_solution_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def your_kernels(package=None):
    saved = {name: getattr(reference, name) for name in YOURS}
    try:
        for name, (module, function) in YOURS.items():
            setattr(reference, name, getattr(_solution(module), function))
        with K.backend("reference"):
            yield
    finally:
        for name, function in saved.items():
            setattr(reference, name, function)


def train_digits(epochs=1, lr=0.05, batch_size=32, seed=0):
    train, test = load_digits()
    x, y = train.tensors
    minicnn.manual_seed(seed)
    model = digits_net()
    optimizer = minicnn.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch_size):
            batch = minicnn.tensor(order[i:i + batch_size])
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    with minicnn.no_grad():
        logits = model(test.tensors[0])
    accuracy = (logits.argmax(1) == test.tensors[1]).float().mean().item()
    return losses, accuracy
