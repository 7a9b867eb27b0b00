"""Solution to exercises/conv_loop.py: one einsum per kernel tap (as kernels/reference.py)."""
import numpy as np


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(H, KH, SH=1, PH=0, DH=1):
    return (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1



def conv2d_forward(x, w, stride=1, padding=0, dilation=1, groups=1):
    (SH, SW), (PH, PW), (DH, DW) = pair(stride), pair(padding), pair(dilation)
    N, C, H, W = x.shape
    O, CG, KH, KW = w.shape
    OG = O // groups
    OH, OW = out_size(H, KH, SH, PH, DH), out_size(W, KW, SW, PW, DW)
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    y = np.zeros((N, O, OH, OW), x.dtype)
    for g in range(groups):
        xg = x_pad[:, g * CG:(g + 1) * CG]
        wg = w[g * OG:(g + 1) * OG]
        for kh in range(KH):
            for kw in range(KW):
                h0, w0 = kh * DH, kw * DW
                # The input pixel tap (kh, kw) reads for every output pixel: one strided slice.
                patch = xg[:, :, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW]
                y[:, g * OG:(g + 1) * OG] += np.einsum("nchw,oc->nohw", patch, wg[:, :, kh, kw])
    return y
