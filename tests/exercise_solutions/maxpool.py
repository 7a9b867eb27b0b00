"""Solution to exercises/maxpool.py."""
import numpy as np


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(H, KH, SH=1, PH=0, DH=1):
    return (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1



def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    (KH, KW) = pair(kernel_size)
    (SH, SW) = pair(kernel_size if stride is None else stride)
    (PH, PW) = pair(padding)
    N, C, H, W = x.shape
    OH, OW = out_size(H, KH, SH, PH), out_size(W, KW, SW, PW)
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)), constant_values=-np.inf)
    # Every window as its KH*KW values in row-major order: (N, C, OH, OW, KH*KW).
    windows = np.stack([x_pad[:, :, kh:kh + SH * (OH - 1) + 1:SH, kw:kw + SW * (OW - 1) + 1:SW]
                        for kh in range(KH) for kw in range(KW)], axis=-1)
    best = np.argmax(windows, axis=-1)                  # the first maximum; a NaN wins
    y = np.take_along_axis(windows, best[..., None], axis=-1)[..., 0].astype(x.dtype)
    kh, kw = np.divmod(best, KW)
    h = np.arange(OH)[:, None] * SH + kh - PH           # back to unpadded coordinates
    w = np.arange(OW)[None, :] * SW + kw - PW
    return y, (h * W + w).astype(np.int64)


def max_pool2d_backward(grad_out, indices, x_shape):
    N, C, H, W = x_shape
    grad_x = np.zeros((N, C, H * W), grad_out.dtype)
    n, c = np.indices(indices.shape[:2])
    for oh in range(indices.shape[2]):
        for ow in range(indices.shape[3]):
            # np.add.at: a pixel that wins several windows receives every one of their shares.
            np.add.at(grad_x, (n, c, indices[:, :, oh, ow]), grad_out[:, :, oh, ow])
    return grad_x.reshape(x_shape)
