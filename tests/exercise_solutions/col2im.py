"""Solution to exercises/col2im.py: im2col run backwards, with += where windows overlap."""
import numpy as np


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(H, KH, SH=1, PH=0, DH=1):
    return (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1



def col2im(cols, x_shape, KH, KW, stride=1, padding=0, dilation=1):
    (SH, SW), (PH, PW), (DH, DW) = pair(stride), pair(padding), pair(dilation)
    C, H, W = x_shape
    OH, OW = out_size(H, KH, SH, PH, DH), out_size(W, KW, SW, PW, DW)
    cols = cols.reshape(C, KH, KW, OH, OW)
    x_pad = np.zeros((C, H + 2 * PH, W + 2 * PW), cols.dtype)
    for kh in range(KH):
        for kw in range(KW):
            h0, w0 = kh * DH, kw * DW
            # Within one tap the windows read distinct pixels, so += on the slice is safe;
            # overlaps between taps add up across iterations.
            x_pad[:, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW] += cols[:, kh, kw]
    return x_pad[:, PH:PH + H, PW:PW + W]


def conv2d_backward_input(grad_out, w, x_shape, stride=1, padding=0, dilation=1, groups=1):
    N, C, H, W = x_shape
    O, CG, KH, KW = w.shape
    OG = O // groups
    grad_x = np.zeros(x_shape, np.result_type(grad_out, w))
    for n in range(N):
        for g in range(groups):
            Wg = w[g * OG:(g + 1) * OG].reshape(OG, -1)                 # (OG, CG*KH*KW)
            cols = Wg.T @ grad_out[n, g * OG:(g + 1) * OG].reshape(OG, -1)
            grad_x[n, g * CG:(g + 1) * CG] = col2im(cols, (CG, H, W), KH, KW, stride, padding,
                                                    dilation)
    return grad_x
