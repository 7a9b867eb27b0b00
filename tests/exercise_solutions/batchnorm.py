"""Solution to exercises/batchnorm.py."""
import numpy as np


def batch_norm_forward(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    y = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
    return y, (x_hat, gamma, inv_std)


def batch_norm_backward(grad_out, cache):
    x_hat, gamma, inv_std = cache
    M = grad_out.size // grad_out.shape[1]
    axes = (0, 2, 3)
    grad_beta = grad_out.sum(axis=axes)
    grad_gamma = (grad_out * x_hat).sum(axis=axes)
    g = grad_out * gamma[None, :, None, None]                          # grad of x_hat
    grad_x = inv_std / M * (M * g - g.sum(axis=axes, keepdims=True)
                            - x_hat * (g * x_hat).sum(axis=axes, keepdims=True))
    return grad_x, grad_gamma, grad_beta
