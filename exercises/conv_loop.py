"""Task conv_loop: the convolution forward pass as a loop over kernel taps.

Run its tests with ``python -m pytest -m task_conv_loop``. Read docs/convolution.md first
("Many channels, many kernels, groups" has the formula you are implementing).
"""
import numpy as np


def pair(v):
    """An int or a pair of ints -> a pair (``2 -> (2, 2)``, ``(1, 2) -> (1, 2)``). Given."""
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(H, KH, SH=1, PH=0, DH=1):
    """PyTorch's output size, ``floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1``. Given."""
    return (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1


def conv2d_forward(x, w, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlate ``x`` with ``w``, as ``minicnn.kernels.conv2d_forward``.

    ``y[n, o, oh, ow] = sum over c, kh, kw of
    x_pad[n, g*C/G + c, oh*SH + kh*DH, ow*SW + kw*DW] * w[o, c, kh, kw]`` with ``g = o // (O/G)``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (O, C/G, KH, KW)
    stride, padding, dilation : int or (int, int)
        ``padding`` zeros are added on each side (``np.pad``).
    groups : int
        G; it divides C and O.

    Returns
    -------
    y : ndarray, shape (N, O, OH, OW), the dtype of ``x``

    Hint: loop over the KH*KW taps (and the groups) only; for one tap, the input pixels it
    reads for every output pixel are one strided slice of ``x_pad``, and the sum over channels
    is one ``np.einsum`` (or ``np.tensordot``). No loops over pixels.
    """
    raise NotImplementedError("conv2d_forward: your code here")
