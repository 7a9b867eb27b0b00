"""Task col2im: the input gradient of a convolution, by col2im (the transpose of im2col).

Run its tests with ``python -m pytest -m task_col2im``. docs/backprop.md ("grad_x") and
docs/convolution.md ("Transposed convolution is the backward pass") explain why this works.
"""
import numpy as np


def pair(v):
    """An int or a pair of ints -> a pair (``2 -> (2, 2)``, ``(1, 2) -> (1, 2)``). Given."""
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(H, KH, SH=1, PH=0, DH=1):
    """PyTorch's output size, ``floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1``. Given."""
    return (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1


def col2im(cols, x_shape, KH, KW, stride=1, padding=0, dilation=1):
    """The transpose of im2col: add every column entry back onto the pixel it was copied from.

    Where windows overlap, contributions add up. Entries that fall on the padding are dropped.

    Parameters
    ----------
    cols : ndarray, shape (C*KH*KW, OH*OW)
        Rows in (c, kh, kw) order, columns in (oh, ow) order, as im2col makes them.
    x_shape : tuple (C, H, W)
        The shape of one (unpadded) sample.
    KH, KW : int
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    x : ndarray, shape x_shape, the dtype of ``cols``
    """
    raise NotImplementedError("col2im: your code here")


def conv2d_backward_input(grad_out, w, x_shape, stride=1, padding=0, dilation=1, groups=1):
    """``grad_x`` of ``conv2d_forward``, as ``minicnn.kernels.conv2d_backward_input``.

    Forward is ``y[n] = W @ cols(x[n])`` with ``W = w.reshape(O, -1)``, so
    ``grad_x[n] = col2im(W.T @ grad_out[n].reshape(O, -1))``. With groups, do that per group:
    group g uses output channels ``g*O/G ...`` and input channels ``g*C/G ...``.

    Parameters
    ----------
    grad_out : ndarray, shape (N, O, OH, OW)
    w : ndarray, shape (O, C/G, KH, KW)
    x_shape : tuple (N, C, H, W)
    stride, padding, dilation : int or (int, int)
    groups : int

    Returns
    -------
    grad_x : ndarray, shape x_shape
    """
    raise NotImplementedError("conv2d_backward_input: your code here")
