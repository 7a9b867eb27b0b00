"""The NumPy baseline: a conv layer as im2col + one matmul, as a careful NumPy user writes it."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minicnn.kernels.geometry import out_size


def _pairs(stride, padding, dilation):
    def pair(v):
        return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    return pair(stride), pair(padding), pair(dilation)


def numpy_conv2d_forward(x, w, stride=1, padding=0, dilation=1):
    """Convolution forward as im2col + one matmul (groups=1), in plain NumPy.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (O, C, KH, KW), same dtype
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    y : ndarray, shape (N, O, OH, OW), C-contiguous
    cols : ndarray, shape (C*KH*KW, N*OH*OW)
        The im2col matrix, kept for :func:`numpy_conv2d_backward` (as a NumPy layer keeps it
        between forward and backward, so backward does not redo the lowering).
    """
    (SH, SW), (PH, PW), (DH, DW) = _pairs(stride, padding, dilation)
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    OH, OW = out_size(H, PH, DH, KH, SH), out_size(W, PW, DW, KW, SW)
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW))) if (PH or PW) else x
    # A zero-copy view of every window: (N, C, OH, OW, KH, KW) after striding/dilating.
    win = sliding_window_view(xp, (DH * (KH - 1) + 1, DW * (KW - 1) + 1), axis=(2, 3))
    win = win[:, :, ::SH, ::SW, ::DH, ::DW]
    # The one copy: rows (c, kh, kw), columns (n, oh, ow); the inner axis ow stays unit-stride
    # in the source for stride 1, so the copy streams.
    cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, N * OH * OW)
    y = w.reshape(O, C * KH * KW) @ cols                        # (O, N*OH*OW), one BLAS call
    y = np.ascontiguousarray(y.reshape(O, N, OH, OW).transpose(1, 0, 2, 3))
    return y, cols


def numpy_conv2d_backward(grad_out, w, cols, x_shape, stride=1, padding=0, dilation=1):
    """Convolution backward from the forward's columns: two matmuls and a per-tap col2im.

    Parameters
    ----------
    grad_out : ndarray, shape (N, O, OH, OW)
    w : ndarray, shape (O, C, KH, KW)
    cols : ndarray, shape (C*KH*KW, N*OH*OW), from :func:`numpy_conv2d_forward`
    x_shape : (N, C, H, W)
    stride, padding, dilation : int or (int, int), as in forward

    Returns
    -------
    grad_x : ndarray, shape (N, C, H, W)
    grad_w : ndarray, shape (O, C, KH, KW)
    """
    (SH, SW), (PH, PW), (DH, DW) = _pairs(stride, padding, dilation)
    N, C, H, W = x_shape
    O, _, KH, KW = w.shape
    OH, OW = grad_out.shape[2:]
    go = grad_out.transpose(1, 0, 2, 3).reshape(O, N * OH * OW)   # (O, N*OH*OW), a copy
    grad_w = (go @ cols.T).reshape(w.shape)                       # grad_w = grad_out . cols^T
    dcols = w.reshape(O, C * KH * KW).T @ go                      # dcols = w^T . grad_out
    dcols = dcols.reshape(C, KH, KW, N, OH, OW)
    # col2im: KH*KW vectorised scatter-adds, each tap's windows are disjoint so `+=` is exact.
    # Accumulate in (C, N, ...) order so no tap needs a transposed read.
    gxp = np.zeros((C, N, H + 2 * PH, W + 2 * PW), dtype=grad_out.dtype)
    for kh in range(KH):
        for kw in range(KW):
            h0, w0 = kh * DH, kw * DW
            gxp[:, :, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW] += dcols[:, kh, kw]
    grad_x = np.ascontiguousarray(gxp[:, :, PH:PH + H, PW:PW + W].transpose(1, 0, 2, 3))
    return grad_x, grad_w


def numpy_calls(layer, x, w, grad_out):
    """``{pass: call}`` of the baseline on ``layer``'s arrays: "forward" and "forward_backward"
    (no separate backward kernels: a NumPy layer's backward reuses the forward's columns)."""
    s, p = layer.S, layer.P

    def forward():
        return numpy_conv2d_forward(x, w, s, p)[0]

    def forward_backward():
        y, cols = numpy_conv2d_forward(x, w, s, p)
        return (y, *numpy_conv2d_backward(grad_out, w, cols, x.shape, s, p))

    return {"forward": forward, "forward_backward": forward_backward}
