"""Task maxpool: max pooling forward (value and where it was) and its backward (routing).

Run its tests with ``python -m pytest -m task_maxpool``. docs/convolution.md ("Pooling") and
docs/backprop.md ("Max pooling: route the gradient to the winner", with a figure).
"""
import numpy as np


def pair(v):
    """An int or a pair of ints -> a pair (``2 -> (2, 2)``, ``(1, 2) -> (1, 2)``). Given."""
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(H, KH, SH=1, PH=0, DH=1):
    """PyTorch's output size, ``floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1``. Given."""
    return (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1


def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Max pooling, as ``minicnn.kernels.max_pool2d_forward``.

    Pad with -inf (padding never wins). In a tie the *first* maximum in row-major window order
    wins; a NaN counts as larger than everything (the first NaN wins, and y is NaN).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int) or None
        None means ``kernel_size``.
    padding : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW), the dtype of ``x``
    indices : ndarray of int64, shape (N, C, OH, OW)
        Where each maximum is in the *unpadded* input plane, as the flat index ``h * W + w``.
    """
    raise NotImplementedError("max_pool2d_forward: your code here")


def max_pool2d_backward(grad_out, indices, x_shape):
    """Send each window's gradient to its winner; windows that share a winner add up.

    Parameters
    ----------
    grad_out : ndarray, shape (N, C, OH, OW)
    indices : ndarray of int64, shape (N, C, OH, OW), from the forward
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    grad_x : ndarray, shape x_shape, the dtype of ``grad_out``

    Hint: ``grad_x[n, c].flat[indices[n, c, oh, ow]] += grad_out[n, c, oh, ow]`` - but with
    repeated indices ``a[idx] += v`` adds only once; ``np.add.at`` adds every time.
    """
    raise NotImplementedError("max_pool2d_backward: your code here")
