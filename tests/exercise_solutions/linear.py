"""Solution to exercises/linear.py."""
import numpy as np


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def linear_forward(x, weight, bias):
    return x @ weight.T + bias


def linear_backward(grad_out, x, weight):
    return grad_out @ weight, grad_out.T @ x, grad_out.sum(axis=0)


def train(x, labels, classes, epochs=200, lr=0.5, seed=0):
    weight = 0.01 * np.random.default_rng(seed).standard_normal((classes, x.shape[1]))
    bias = np.zeros(classes)
    losses = []
    n = len(labels)
    for _ in range(epochs):
        lsm = _log_softmax(linear_forward(x, weight, bias))
        losses.append(-lsm[np.arange(n), labels].mean())
        grad = np.exp(lsm)
        grad[np.arange(n), labels] -= 1
        _, grad_w, grad_b = linear_backward(grad / n, x, weight)
        weight -= lr * grad_w
        bias -= lr * grad_b
    return weight, bias, losses
