"""Task sobel: learn a kernel by gradient descent, with minicnn's autograd.

Run its tests with ``python -m pytest -m task_sobel``. Given images and what some unknown 3x3
kernel made of them, find the kernel: the smallest "training" there is.
"""
import numpy as np

import minicnn                                # noqa: F401 - what you will need
import minicnn.nn.functional as F             # noqa: F401


def learn_kernel(images, targets, steps=300, lr=0.1):
    """Find the 3x3 kernel ``k`` with ``F.conv2d(images, k, padding=1) == targets``.

    Start from zeros, and repeat ``steps`` times: compute the mean squared error between
    ``F.conv2d(images, k, padding=1)`` and ``targets``, backpropagate, and move ``k`` against
    its gradient (``k.data -= lr * k.grad``, then clear ``k.grad``).

    Parameters
    ----------
    images : ndarray of float64, shape (N, 1, H, W)
    targets : ndarray of float64, shape (N, 1, H, W)
    steps : int
    lr : float

    Returns
    -------
    kernel : ndarray of float64, shape (3, 3) (``k.detach().numpy()``: ``k`` requires grad)
    """
    raise NotImplementedError("learn_kernel: your code here")
