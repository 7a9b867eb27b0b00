"""Solution to exercises/im2col.py."""
import numpy as np


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(H, KH, SH=1, PH=0, DH=1):
    return (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1



def im2col(x, KH, KW, stride=1, padding=0, dilation=1):
    (SH, SW), (PH, PW), (DH, DW) = pair(stride), pair(padding), pair(dilation)
    C, H, W = x.shape
    OH, OW = out_size(H, KH, SH, PH, DH), out_size(W, KW, SW, PW, DW)
    x_pad = np.pad(x, ((0, 0), (PH, PH), (PW, PW)))
    cols = np.empty((C, KH, KW, OH, OW), x.dtype)
    for kh in range(KH):
        for kw in range(KW):
            h0, w0 = kh * DH, kw * DW
            cols[:, kh, kw] = x_pad[:, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW]
    return cols.reshape(C * KH * KW, OH * OW)
