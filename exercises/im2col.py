"""Task im2col: lower one sample to columns, so that a convolution is one matrix product.

Run its tests with ``python -m pytest -m task_im2col``. docs/convolution.md, "im2col", has the
layout (and a figure).
"""
import numpy as np


def pair(v):
    """An int or a pair of ints -> a pair (``2 -> (2, 2)``, ``(1, 2) -> (1, 2)``). Given."""
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(H, KH, SH=1, PH=0, DH=1):
    """PyTorch's output size, ``floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1``. Given."""
    return (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1


def im2col(x, KH, KW, stride=1, padding=0, dilation=1):
    """Copy every window of one sample into a column.

    ``cols[c*KH*KW + kh*KW + kw, oh*OW + ow] = x_pad[c, oh*SH + kh*DH, ow*SW + kw*DW]``, so
    that for a weight ``w`` of shape (O, C, KH, KW) the convolution of this sample is
    ``(w.reshape(O, -1) @ cols).reshape(O, OH, OW)``.

    Parameters
    ----------
    x : ndarray, shape (C, H, W)
        One sample (no batch axis).
    KH, KW : int
        Kernel height and width.
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    cols : ndarray, shape (C*KH*KW, OH*OW), the dtype of ``x``
    """
    raise NotImplementedError("im2col: your code here")
