"""Task softmax_ce: a numerically stable log-softmax, cross-entropy, and its gradient.

Run its tests with ``python -m pytest -m task_softmax_ce``. docs/backprop.md, "Softmax and
cross-entropy, fused" and "Softmax on its own".
"""
import numpy as np


def log_softmax(z):
    """``log(softmax(z))`` along the last axis, without overflow for huge logits.

    Parameters
    ----------
    z : ndarray, shape (N, K)

    Returns
    -------
    ndarray, shape (N, K)

    Hint: subtract each row's maximum first; it cancels out.
    """
    raise NotImplementedError("log_softmax: your code here")


def cross_entropy(z, labels):
    """The mean over the batch of ``-log softmax(z)[n, labels[n]]`` (a float).

    Parameters
    ----------
    z : ndarray, shape (N, K), logits
    labels : ndarray of int, shape (N,), each in 0 .. K-1
    """
    raise NotImplementedError("cross_entropy: your code here")


def cross_entropy_backward(z, labels):
    """The gradient of ``cross_entropy(z, labels)`` with respect to ``z``, shape (N, K)."""
    raise NotImplementedError("cross_entropy_backward: your code here")
