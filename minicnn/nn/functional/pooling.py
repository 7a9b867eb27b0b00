"""Pooling: max_pool2d (and its indices, dilation), max_unpool2d, avg_pool2d (ceil_mode,
padding, divisor_override); each Function above its wrapper."""
import numpy as np

from minicnn import kernels as K
from minicnn._checks import check_bool, check_int, pair
from minicnn._tensor import Function, Tensor, float_tensor_arg
from minicnn.nn.functional._common import unbatched
from minicnn.nn.functional.padding import pad

__all__ = ["MaxPool2dFn", "max_pool2d", "PickPlaneFn", "MaxUnpool2dFn", "max_unpool2d",
           "AvgPool2dFn", "avg_pool2d"]


class MaxPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        y, indices = K.max_pool2d_forward(x, kernel_size, stride, padding)
        ctx.indices, ctx.x_shape = indices, x.shape
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # the gradient flows only to the position that won each window (ties: the first)
        return K.max_pool2d_backward(grad_out, ctx.indices, ctx.x_shape), None, None, None


@unbatched(4)
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d`` (padding counts as -inf).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W), or (C, H, W) unbatched
    kernel_size : int or (int, int)
    stride : int or (int, int), default kernel_size
    padding : int or (int, int), at most half the kernel size
    dilation : int or (int, int)
        The spacing of a window's taps (DH, DW): a window covers ``D*(K-1) + 1`` pixels. Other
        values than 1 take a slower NumPy path (the compiled kernels have no dilation).
    ceil_mode : bool
        Round the output size up (a last, partial window), as PyTorch.
    return_indices : bool
        Also return where each maximum came from (for ``max_unpool2d``).

    Returns
    -------
    Tensor, shape (N, C, OH, OW), OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1 (ceil with
    ceil_mode, but the last window must start inside the input or its top/left padding)
    indices : int64 Tensor of the same shape, with ``return_indices``
        The flat position ``h*W + w`` of each maximum in its input plane, as PyTorch's.
    """
    input = float_tensor_arg(input, "input", 4)
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    if pair(dilation, "dilation", 1) != (1, 1):
        indices = _dilated_max_indices(input._data, kernel_size, stride, padding,
                                       pair(dilation, "dilation", 1), ceil_mode)
        out = PickPlaneFn.apply(input, indices)
        return (out, Tensor(indices)) if check_bool(return_indices, "return_indices") else out
    pooled, W = input, input.shape[3]
    if ceil_mode:
        # the extra right/bottom rows are -inf, so they never win: PyTorch's partial window
        (EH, EW), _ = _ceil_mode_extra(input.shape, kernel_size, stride, padding)
        if EH or EW:
            pooled = pad(input, (0, EW, 0, EH), value=-np.inf)
    if not check_bool(return_indices, "return_indices"):
        return MaxPool2dFn.apply(pooled, kernel_size, stride, padding)
    _, indices = K.max_pool2d_forward(pooled._data, kernel_size, stride, padding)
    W2 = pooled.shape[3]
    if W2 != W:  # positions in the -inf-padded plane -> positions in the input's
        indices = indices // W2 * W + indices % W2
    return PickPlaneFn.apply(input, indices), Tensor(indices)


class PickPlaneFn(Function):
    @staticmethod
    def forward(ctx, x, indices):
        ctx.indices, ctx.x_shape = indices, x.shape
        N, C, H, W = x.shape
        planes = x.reshape(N, C, H * W)
        return np.take_along_axis(planes, indices.reshape(N, C, -1), 2).reshape(indices.shape)

    @staticmethod
    def backward(ctx, grad_out):
        # y = x.plane[indices]: each grad_out element goes back to the position it was read
        # from (added where several outputs read one position)
        return K.max_pool2d_backward(grad_out, ctx.indices, ctx.x_shape), None


class MaxUnpool2dFn(Function):
    @staticmethod
    def forward(ctx, x, indices, out_hw):
        N, C = x.shape[:2]
        ctx.indices = indices
        out = np.zeros((N, C, out_hw[0] * out_hw[1]), dtype=x.dtype)
        np.put_along_axis(out, indices.reshape(N, C, -1), x.reshape(N, C, -1), 2)
        return out.reshape((N, C) + tuple(out_hw))

    @staticmethod
    def backward(ctx, grad_out):
        # y.plane[indices] = x: grad_x = grad_out.plane[indices] (the gather max pooling does)
        N, C = grad_out.shape[:2]
        planes = grad_out.reshape(N, C, -1)
        grad_x = np.take_along_axis(planes, ctx.indices.reshape(N, C, -1), 2)
        return grad_x.reshape(ctx.indices.shape), None, None


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value back where ``max_pool2d(..., return_indices=True)`` found it, zeros
    elsewhere, as ``torch.nn.functional.max_unpool2d`` (a partial inverse of max pooling).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W), or (C, H, W) unbatched
        The pooled values.
    indices : int64 Tensor, same shape
        The flat positions ``h*OW + w`` in each output plane.
    kernel_size, stride, padding : int or (int, int)
        Those of the pooling; stride defaults to kernel_size.
    output_size : (int, int) or longer sequence, optional
        (OH, OW), e.g. the pooled input's shape; default ``(H - 1)*SH - 2*PH + KH``.

    Returns
    -------
    Tensor, shape (N, C, OH, OW)
    """
    if isinstance(input, Tensor) and input.ndim == 3:  # unbatched (C, H, W), as PyTorch's
        if not isinstance(indices, Tensor) or indices.ndim != 3:
            raise ValueError("an unbatched (C, H, W) input needs (C, H, W) indices")
        return max_unpool2d(input.unsqueeze(0), indices.unsqueeze(0), kernel_size, stride,
                            padding, output_size).squeeze(0)
    input = float_tensor_arg(input, "input", 4)
    if not isinstance(indices, Tensor) or indices.dtype.kind not in "iu":
        raise TypeError("indices must be an int64 tensor (from max_pool2d(return_indices=True))")
    if indices.shape != input.shape:
        raise ValueError(f"Expected shape of indices to be same as that of the input tensor "
                         f"({tuple(input.shape)}) but got indices tensor with shape: "
                         f"{tuple(indices.shape)}")
    (KH, KW), (PH, PW) = pair(kernel_size, "kernel_size", 1), pair(padding, "padding", 0)
    SH, SW = (KH, KW) if stride is None else pair(stride, "stride", 1)
    H, W = input.shape[2:]
    if output_size is None:
        out_hw = ((H - 1) * SH - 2 * PH + KH, (W - 1) * SW - 2 * PW + KW)
    else:
        out_hw = tuple(check_int(v, "output_size", 1) for v in tuple(output_size)[-2:])
    idx = indices._data.astype(np.int64, copy=False)
    if idx.size and (idx.min() < 0 or idx.max() >= out_hw[0] * out_hw[1]):
        raise ValueError(f"Found an invalid max index: {int(idx.max())} (output volumes are of "
                         f"size {out_hw[0]}x{out_hw[1]})")
    return MaxUnpool2dFn.apply(input, idx, out_hw)


def pool_out_size(n, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size along one axis: ``(n + 2p - d(k-1) - 1) / s + 1``
    rounded down, or up with ``ceil_mode`` - where the last window must then still start
    inside the input or its left padding."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _dilated_max_indices(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Where each window's maximum is, as flat positions ``h*W + w`` in the input plane: the
    NumPy path for dilated windows. Taps in the padding never win; a window whose real taps
    are all -inf answers its first real tap, ties the first in row-major order and NaNs the
    last, as PyTorch's loops do."""
    N, C, H, W = x.shape
    g = K.PoolGeometry(x.shape, kernel_size, stride, padding)  # the kernels' checks
    (KH, KW, SH, SW, PH, PW), (DH, DW) = g.ints(), dilation
    OH = pool_out_size(H, KH, SH, PH, DH, ceil_mode)
    OW = pool_out_size(W, KW, SW, PW, DW, ceil_mode)
    if OH < 1 or OW < 1:
        raise ValueError(f"max_pool2d: the output would be {OH}x{OW} (too small): the dilated "
                         f"window {(DH * (KH - 1) + 1, DW * (KW - 1) + 1)} is larger than the "
                         f"padded input {(H + 2 * PH, W + 2 * PW)}")
    # tap (i, a) of output row i reads input row i*SH + a*DH - PH (likewise for columns)
    rows = np.arange(OH)[:, None] * SH + np.arange(KH)[None, :] * DH - PH    # (OH, KH)
    cols = np.arange(OW)[:, None] * SW + np.arange(KW)[None, :] * DW - PW    # (OW, KW)
    row_ok, col_ok = (rows >= 0) & (rows < H), (cols >= 0) & (cols < W)
    taps = x[:, :, np.clip(rows, 0, H - 1)[:, None, :, None],
             np.clip(cols, 0, W - 1)[None, :, None, :]]                      # (N, C, OH, OW, KH, KW)
    valid = row_ok[:, None, :, None] & col_ok[None, :, None, :]             # (OH, OW, KH, KW)
    taps = np.where(valid, taps, -np.inf).reshape(N, C, OH, OW, KH * KW)
    best = taps.argmax(-1)
    first = valid.reshape(OH, OW, KH * KW).argmax(-1)                        # first real tap
    best = np.where(np.take_along_axis(taps, best[..., None], -1)[..., 0] == -np.inf,
                    first, best)
    nan = np.isnan(taps)            # PyTorch's loop takes every NaN it meets: the last one wins
    best = np.where(nan.any(-1), KH * KW - 1 - nan[..., ::-1].argmax(-1), best)
    a, b = np.divmod(best, KW)
    h = rows[np.arange(OH)[:, None], a]
    w = cols[np.arange(OW)[None, :], b]
    return (h * W + w).astype(np.int64)


def _ceil_mode_extra(shape, kernel_size, stride, padding):
    """The rows/columns to add at the bottom/right so that the floor output size of the
    kernels equals PyTorch's ceil_mode size (whose last window must start inside the input or
    its left padding), and the (start, end) of every window per axis for the divisors."""
    K = pair(kernel_size, "kernel_size", 1)
    S = K if stride is None else pair(stride, "stride", 1)
    P = pair(padding, "padding", 0)
    extra, windows = [], []
    for n, k, st, p in zip(shape[2:], K, S, P):
        out = pool_out_size(n, k, st, p, 1, True)
        extra.append(max(0, (out - 1) * st + k - (n + 2 * p)))
        start = np.arange(out) * st - p
        windows.append((start, n, k, p, extra[-1]))
    return tuple(extra), windows


class AvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, count_include_pad):
        ctx.args = (x.shape, kernel_size, stride, padding, count_include_pad)
        return K.avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad)

    @staticmethod
    def backward(ctx, grad_out):
        # each output's gradient is spread evenly (/ divisor) over its window
        return K.avg_pool2d_backward(grad_out, *ctx.args), None, None, None, None


@unbatched(4)
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W), or (C, H, W) unbatched
    kernel_size : int or (int, int)
    stride : int or (int, int), default kernel_size
    padding : int or (int, int), at most half the kernel size
    ceil_mode : bool
        Round the output size up (a last, partial window), as PyTorch.
    count_include_pad : bool
        Count the zero padding in the divisor (then always KH*KW), as PyTorch by default.
    divisor_override : int, optional
        Divide every window's sum by this (not zero) instead; ``count_include_pad`` is then
        ignored, as in PyTorch.

    Returns
    -------
    Tensor, shape (N, C, OH, OW)
    """
    input = float_tensor_arg(input, "input", 4)
    count_include_pad = check_bool(count_include_pad, "count_include_pad")
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    if divisor_override is not None:
        if check_int(divisor_override, "divisor_override") == 0:
            raise ValueError("avg_pool2d: divisor_override must be not zero")
        # the window sums: the kernels' count_include_pad average (over zeros past the
        # ceil_mode edge too) times KH*KW
        (EH, EW), _ = (_ceil_mode_extra(input.shape, kernel_size, stride, padding) if ceil_mode
                       else ((0, 0), None))
        KH, KW = pair(kernel_size, "kernel_size", 1)
        y = AvgPool2dFn.apply(pad(input, (0, EW, 0, EH)) if EH or EW else input, kernel_size,
                              stride, padding, True)
        return y * (KH * KW / divisor_override)
    if not ceil_mode:
        return AvgPool2dFn.apply(input, kernel_size, stride, padding, count_include_pad)
    (EH, EW), windows = _ceil_mode_extra(input.shape, kernel_size, stride, padding)
    if not (EH or EW):
        return AvgPool2dFn.apply(input, kernel_size, stride, padding, count_include_pad)
    # Zero rows/columns make the kernels' windows whole; then rescale each output from the
    # kernels' divisor to PyTorch's, which counts a partial window's padded-input part only
    y = AvgPool2dFn.apply(pad(input, (0, EW, 0, EH)), kernel_size, stride, padding,
                          count_include_pad)
    factor = np.ones(1)
    for start, n, k, p, e in windows:
        theirs = (np.minimum(start + k, n + p) - start if count_include_pad
                  else np.minimum(start + k, n) - np.maximum(start, 0))
        ours = (np.full(len(start), k) if count_include_pad
                else np.minimum(start + k, n + e) - np.maximum(start, 0))
        factor = np.multiply.outer(factor, ours / theirs)
    return y * factor.reshape(factor.shape[1:]).astype(input.dtype)
