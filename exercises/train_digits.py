"""Task train_digits: train a CNN on the 8x8 digits with your own kernels, and compare.

The last step of the track. ``train_digits`` is a training loop you write with minicnn (model,
optimizer, mini-batches, ``loss.backward()``, ``optimizer.step()``); the check runs it twice -
once on minicnn's fast kernels, once inside ``your_kernels()``, where every convolution and
max-pool of the network runs your ``conv2d_forward`` (task conv_loop), your
``conv2d_backward_input`` (task col2im) and your max-pool forward and backward (task maxpool) -
and expects the same losses and the same accuracy. Solve those three tasks first. Run the
tests with ``python -m pytest -m task_train_digits``; read docs/tutorial.md, "6. Training" first.
"""
import contextlib
import importlib

import numpy as np  # noqa: F401

import minicnn  # noqa: F401
import minicnn.kernels as K
import minicnn.kernels.reference as reference
import minicnn.nn.functional as F  # noqa: F401
from minicnn.datasets import load_digits  # noqa: F401
from minicnn.models import digits_net  # noqa: F401

# minicnn's readable twin -> (your exercise module, its function)
YOURS = {"conv2d_forward": ("conv_loop", "conv2d_forward"),
         "conv2d_backward_input": ("col2im", "conv2d_backward_input"),
         "max_pool2d_forward": ("maxpool", "max_pool2d_forward"),
         "max_pool2d_backward": ("maxpool", "max_pool2d_backward")}


@contextlib.contextmanager
def your_kernels(package="exercises"):
    """Given: inside this block, minicnn's layers run your kernels (the ``reference`` backend,
    with your functions in its twins' places; minicnn's come back afterwards)."""
    saved = {name: getattr(reference, name) for name in YOURS}
    try:
        for name, (module, function) in YOURS.items():
            setattr(reference, name,
                    getattr(importlib.import_module(f"{package}.{module}"), function))
        with K.backend("reference"):
            yield
    finally:
        for name, function in saved.items():
            setattr(reference, name, function)


def train_digits(epochs=1, lr=0.05, batch_size=32, seed=0):
    """Train ``digits_net()`` on ``load_digits()`` and return ``(losses, test_accuracy)``.

    Call ``minicnn.manual_seed(seed)`` before building the model; use
    ``minicnn.optim.SGD(model.parameters(), lr=lr, momentum=0.9)`` and
    ``F.cross_entropy``; each epoch visits the training images in the order
    ``np.random.default_rng(seed).permutation(...)`` (one generator for the whole run), in
    mini-batches of ``batch_size``. ``losses`` is the list of every step's loss (a float);
    ``test_accuracy`` the fraction of test images whose largest logit is the right label,
    computed under ``minicnn.no_grad()``.
    """
    raise NotImplementedError("train_digits: your code here")
