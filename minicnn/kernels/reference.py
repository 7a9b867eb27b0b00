"""Readable NumPy twins of the compiled kernels: same names and results, called with the
arguments of ``minicnn.kernels``' dispatchers (the compiled kernels also take the output
buffers and a thread count, which the dispatchers supply).

These are the kernels a learner would write. Each is the direct loop nest over
(group, kernel row, kernel column) with the remaining loops - batch, channels and output
pixels - done by one NumPy expression per kernel tap. They assume valid arguments
(``minicnn.kernels`` checks them) and are used to test the fast kernels and as a backend a
learner can switch to with ``minicnn.kernels.use("reference")``.

Notation (as everywhere in minicnn): x is (N, C, H, W), w is (O, C/G, KH, KW), y is
(N, O, OH, OW); stride (SH, SW), padding (PH, PW), dilation (DH, DW), G groups.
"""
import numpy as np

from minicnn._checks import pair
from minicnn.kernels.geometry import out_size as _out_size


def _conv_pairs(stride, padding, dilation):
    """(SH, SW), (PH, PW), (DH, DW) from ints or pairs."""
    return pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")


def _pool_pairs(kernel_size, stride, padding):
    """(KH, KW), (SH, SW), (PH, PW) from ints or pairs."""
    return pair(kernel_size, "kernel_size"), pair(stride, "stride"), pair(padding, "padding")


def _tap(kh, kw, SH, SW, DH, DW, OH, OW):
    """Slices of the padded input that kernel tap (kh, kw) meets, over all output pixels:
    output pixel (oh, ow) reads padded row oh*SH + kh*DH and column ow*SW + kw*DW."""
    h0, w0 = kh * DH, kw * DW
    return (slice(h0, h0 + SH * (OH - 1) + 1, SH), slice(w0, w0 + SW * (OW - 1) + 1, SW))


def conv2d_forward(x, w, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, oh, ow] = sum_{c, kh, kw} x_pad[n, g*C/G + c, oh*SH + kh*DH, ow*SW + kw*DW]
    * w[o, c, kh, kw], where g = o // (O/G) is the group of output channel o."""
    (SH, SW), (PH, PW), (DH, DW) = _conv_pairs(stride, padding, dilation)
    G = groups
    N, C, H, W = x.shape
    O, CG, KH, KW = w.shape
    OG = O // G
    OH, OW = _out_size(H, PH, DH, KH, SH), _out_size(W, PW, DW, KW, SW)
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    y = np.zeros((N, O, OH, OW), dtype=x.dtype)
    for g in range(G):
        xs, os_ = slice(g * CG, (g + 1) * CG), slice(g * OG, (g + 1) * OG)
        for kh in range(KH):
            for kw in range(KW):
                rows, cols = _tap(kh, kw, SH, SW, DH, DW, OH, OW)
                patch = x_pad[:, xs, rows, cols]                        # (N, CG, OH, OW)
                y[:, os_] += np.einsum("nchw,oc->nohw", patch, w[os_, :, kh, kw])
    return y


def conv2d_backward_input(grad_out, w, x_shape, stride=1, padding=0, dilation=1, groups=1):
    """grad_x = the transpose of conv2d_forward applied to grad_out: every output pixel sends
    grad_out[n, o, oh, ow] * w[o, c, kh, kw] back to the input pixel it read."""
    (SH, SW), (PH, PW), (DH, DW) = _conv_pairs(stride, padding, dilation)
    G = groups
    N, C, H, W = x_shape
    O, CG, KH, KW = w.shape
    OG = O // G
    OH, OW = grad_out.shape[2:]
    grad_x_pad = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=grad_out.dtype)
    for g in range(G):
        xs, os_ = slice(g * CG, (g + 1) * CG), slice(g * OG, (g + 1) * OG)
        for kh in range(KH):
            for kw in range(KW):
                rows, cols = _tap(kh, kw, SH, SW, DH, DW, OH, OW)
                grad_x_pad[:, xs, rows, cols] += np.einsum(
                    "nohw,oc->nchw", grad_out[:, os_], w[os_, :, kh, kw])
    return np.ascontiguousarray(grad_x_pad[:, :, PH:PH + H, PW:PW + W])


def conv2d_backward_weight(x, grad_out, w_shape, stride=1, padding=0, dilation=1, groups=1):
    """grad_w[o, c, kh, kw] = sum_{n, oh, ow} grad_out[n, o, oh, ow]
    * x_pad[n, g*C/G + c, oh*SH + kh*DH, ow*SW + kw*DW]."""
    (SH, SW), (PH, PW), (DH, DW) = _conv_pairs(stride, padding, dilation)
    G = groups
    O, CG, KH, KW = w_shape
    OG = O // G
    OH, OW = grad_out.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    grad_w = np.zeros(w_shape, dtype=x.dtype)
    for g in range(G):
        xs, os_ = slice(g * CG, (g + 1) * CG), slice(g * OG, (g + 1) * OG)
        for kh in range(KH):
            for kw in range(KW):
                rows, cols = _tap(kh, kw, SH, SW, DH, DW, OH, OW)
                patch = x_pad[:, xs, rows, cols]                        # (N, CG, OH, OW)
                grad_w[os_, :, kh, kw] = np.einsum("nohw,nchw->oc", grad_out[:, os_], patch)
    return grad_w


def _pool_taps(x_shape, kernel_size, stride, padding):
    """Yield (kh, kw, rows, cols) for every tap of a pooling window over the padded input."""
    (KH, KW), (SH, SW), (PH, PW) = _pool_pairs(kernel_size, stride, padding)
    H, W = x_shape[2:]
    OH, OW = _out_size(H, PH, 1, KH, SH), _out_size(W, PW, 1, KW, SW)
    for kh in range(KH):
        for kw in range(KW):
            yield kh, kw, _tap(kh, kw, SH, SW, 1, 1, OH, OW)


def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """y[n, c, oh, ow] = max over the window of x_pad (padding = -inf); indices hold the flat
    position h*W + w of the first maximum in row-major window order (a NaN wins)."""
    stride = kernel_size if stride is None else stride
    (KH, KW), (SH, SW), (PH, PW) = _pool_pairs(kernel_size, stride, padding)
    N, C, H, W = x.shape
    OH, OW = _out_size(H, PH, 1, KH, SH), _out_size(W, PW, 1, KW, SW)
    pad = ((0, 0), (0, 0), (PH, PH), (PW, PW))
    x_pad = np.pad(x, pad, constant_values=-np.inf)
    # Flat index into the unpadded plane of every padded position (-1 for padding).
    where = np.pad(np.arange(H * W, dtype=np.int64).reshape(H, W), pad[2:], constant_values=-1)
    y = np.full((N, C, OH, OW), -np.inf, dtype=x.dtype)
    indices = np.full((N, C, OH, OW), -1, dtype=np.int64)
    for _, _, (rows, cols) in _pool_taps(x.shape, (KH, KW), (SH, SW), (PH, PW)):
        v, idx = x_pad[:, :, rows, cols], where[rows, cols]
        # Take this tap if it is real and (nothing taken yet, or it is larger, or it is the
        # first NaN): strict '>' keeps the first of equal maxima.
        take = (idx >= 0) & ((indices < 0) | (v > y) | (np.isnan(v) & ~np.isnan(y)))
        y = np.where(take, v, y)
        indices = np.where(take, idx, indices)
    return y, indices


def max_pool2d_backward(grad_out, indices, x_shape):
    """grad_x[n, c, indices[n, c, oh, ow]] += grad_out[n, c, oh, ow] (windows may overlap)."""
    N, C, H, W = x_shape
    grad_x = np.zeros((N * C, H * W), dtype=grad_out.dtype)
    planes = np.arange(N * C)[:, None]
    P = grad_out.shape[2] * grad_out.shape[3]  # not -1: reshape cannot infer it when N*C = 0
    np.add.at(grad_x, (planes, indices.reshape(N * C, P)), grad_out.reshape(N * C, P))
    return grad_x.reshape(N, C, H, W)


def relu_forward(x):
    """y = max(x, 0) elementwise (a NaN stays NaN), and the mask x > 0 that backward needs."""
    return np.maximum(x, x.dtype.type(0)), x > 0


def relu_backward(grad_out, mask):
    """grad_x = grad_out * mask, mask = (x > 0) from forward: the slope is 1 there, else 0."""
    return grad_out * mask


def bias_add(y, b):
    """y[n, o, ...] + b[o]: the conv bias, one per output channel (returns a new array)."""
    return y + b.reshape((1, -1) + (1,) * (y.ndim - 2))


def _avg_divisor(x_shape, kernel_size, stride, padding, count_include_pad):
    """The divisor of every output pixel: KH*KW, or the number of real (unpadded) pixels."""
    (KH, KW), (PH, PW) = pair(kernel_size, "kernel_size"), pair(padding, "padding")
    if count_include_pad:
        return KH * KW
    H, W = x_shape[2:]
    real = np.pad(np.ones((1, 1, H, W)), ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    return sum(real[:, :, rows, cols]
               for _, _, (rows, cols) in _pool_taps(x_shape, kernel_size, stride, padding))


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """y[n, c, oh, ow] = sum of the window of x_pad (padding = 0) / divisor."""
    stride = kernel_size if stride is None else stride
    (PH, PW) = pair(padding, "padding")
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    total = sum(x_pad[:, :, rows, cols]
                for _, _, (rows, cols) in _pool_taps(x.shape, kernel_size, stride, padding))
    divisor = _avg_divisor(x.shape, kernel_size, stride, padding, count_include_pad)
    return (total / divisor).astype(x.dtype)


def avg_pool2d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0,
                        count_include_pad=True):
    """grad_x_pad[window of (oh, ow)] += grad_out[n, c, oh, ow] / divisor."""
    stride = kernel_size if stride is None else stride
    N, C, H, W = x_shape
    (PH, PW) = pair(padding, "padding")
    share = grad_out / _avg_divisor(x_shape, kernel_size, stride, padding, count_include_pad)
    grad_x_pad = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=grad_out.dtype)
    for _, _, (rows, cols) in _pool_taps(x_shape, kernel_size, stride, padding):
        grad_x_pad[:, :, rows, cols] += share
    return np.ascontiguousarray(grad_x_pad[:, :, PH:PH + H, PW:PW + W])


def _per_channel(v, ndim):
    """A (C,) vector shaped to broadcast against (N, C, *) with ``ndim`` dimensions."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_stats(x):
    """Per-channel mean and biased variance of x (N, C, *), in float64: the mean, then the mean
    of the squared differences from it."""
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, dtype=np.float64)
    diff = x - _per_channel(mean, x.ndim)
    return mean, (diff * diff).mean(axis=axes)


def channel_affine(x, alpha, beta):
    """``x * alpha[c] + beta[c]`` per channel c of x (N, C, *)."""
    return x * _per_channel(alpha, x.ndim) + _per_channel(beta, x.ndim)


def batch_norm_backward(grad_out, x, mean, rstd, weight, training):
    """Gradients of ``y = (x - mean) * rstd * weight + bias`` per channel (weight None: 1).

    Training (mean and rstd are the batch's, so they depend on x): with M numbers per channel,
    ``grad_x = weight * rstd * (dy - sum(dy)/M - (x - mean) * rstd^2 * sum(dy * (x - mean))/M)``;
    eval (running statistics, constants): ``grad_x = weight * rstd * dy``. Both:
    ``grad_weight = rstd * sum(dy * (x - mean))``, ``grad_bias = sum(dy)``. The sums are
    float64; the coefficients are cast to x's dtype before the elementwise pass."""
    axes = (0,) + tuple(range(2, x.ndim))
    M = x.size // x.shape[1] if x.shape[1] else 0
    xmu = x - _per_channel(mean, x.ndim)
    sum_dy = grad_out.sum(axis=axes, dtype=np.float64)
    sum_dy_xmu = (grad_out * xmu).sum(axis=axes, dtype=np.float64)
    k = rstd if weight is None else weight * rstd
    if training:
        a, b = sum_dy / M, rstd * rstd * sum_dy_xmu / M
        coef = [_per_channel(v.astype(x.dtype), x.ndim) for v in (k, a, b, mean)]
        grad_x = coef[0] * (grad_out - coef[1] - (x - coef[3]) * coef[2])
    else:
        grad_x = grad_out * _per_channel(k.astype(x.dtype), x.ndim)
    return grad_x, (sum_dy_xmu * rstd).astype(x.dtype), sum_dy.astype(x.dtype)
