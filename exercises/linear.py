"""Task linear: matmul, a Linear layer and softmax cross-entropy, trained on a toy set.

The engine track's fourth step: a whole (tiny) classifier by hand. ``linear_forward`` and
``linear_backward`` are ``nn.Linear``'s two passes (weight of shape (out, in), as PyTorch's);
``train`` fits one Linear layer to points in the plane by gradient descent, with your
``cross_entropy`` and ``cross_entropy_backward`` from exercises/softmax_ce.py (solve task
softmax_ce first). Run the tests with ``python -m pytest -m task_linear``; docs/backprop.md,
"Linear" and "Softmax and cross-entropy, fused".
"""
import numpy as np  # noqa: F401

from exercises.softmax_ce import cross_entropy, cross_entropy_backward  # noqa: F401


def linear_forward(x, weight, bias):
    """``x @ weight.T + bias``: x (N, in), weight (out, in), bias (out,) -> (N, out)."""
    raise NotImplementedError("linear_forward: your code here")


def linear_backward(grad_out, x, weight):
    """The gradients ``(grad_x, grad_weight, grad_bias)`` of ``sum(linear_forward(x, weight,
    bias) * grad_out)``, of the shapes of x, weight and bias. Each is a matmul or a sum: write
    down the shapes and there is one way to multiply them."""
    raise NotImplementedError("linear_backward: your code here")


def train(x, labels, classes, epochs=200, lr=0.5, seed=0):
    """Fit ``linear_forward(x, weight, bias)`` as logits of ``classes`` classes by full-batch
    gradient descent on the mean cross-entropy.

    Start from ``weight = 0.01 * np.random.default_rng(seed).standard_normal((classes,
    x.shape[1]))`` and ``bias = np.zeros(classes)``; each epoch computes the loss, its gradient
    with respect to the logits (``cross_entropy_backward``), then ``linear_backward``, and
    steps ``weight -= lr * grad_weight`` (and the same for bias).

    Returns
    -------
    weight, bias, losses : the trained parameters and the loss of each epoch (a list)
    """
    raise NotImplementedError("train: your code here")
