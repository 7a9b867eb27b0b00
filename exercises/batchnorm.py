"""Task batchnorm: batch normalisation in training mode, forward and backward, by hand.

Run its tests with ``python -m pytest -m task_batchnorm``.
"""
import numpy as np


def batch_norm_forward(x, gamma, beta, eps=1e-5):
    """Normalise each channel over the batch and the pixels, then scale and shift.

    ``mean[c]`` and ``var[c]`` are over axes (0, 2, 3) (``var`` is the biased one, ``ddof=0``);
    ``x_hat = (x - mean) / sqrt(var + eps)`` and ``y = gamma[c] * x_hat + beta[c]``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    gamma, beta : ndarray, shape (C,)
    eps : float

    Returns
    -------
    y : ndarray, shape (N, C, H, W)
    cache : anything you need in the backward (for example ``(x_hat, gamma, inv_std)``)
    """
    raise NotImplementedError("batch_norm_forward: your code here")


def batch_norm_backward(grad_out, cache):
    """The gradients of the forward's ``y`` with respect to ``x``, ``gamma`` and ``beta``.

    Hint: with M = N*H*W values per channel, ``grad_x_hat = grad_out * gamma`` and
    ``grad_x = inv_std / M * (M * grad_x_hat - sum(grad_x_hat) - x_hat * sum(grad_x_hat * x_hat))``
    (sums per channel). Derive it: mean and var depend on every x of the channel.

    Returns
    -------
    grad_x : ndarray, shape (N, C, H, W)
    grad_gamma, grad_beta : ndarray, shape (C,)
    """
    raise NotImplementedError("batch_norm_backward: your code here")
