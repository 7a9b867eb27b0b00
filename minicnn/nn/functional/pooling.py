"""Pooling: max_pool2d (and its indices), max_unpool2d, avg_pool2d (ceil_mode, padding); each
Function above its wrapper."""
import numpy as np

from minicnn import kernels as K
from minicnn._checks import check_bool, check_int, ntuple, pair
from minicnn._tensor import Function, Tensor, float_tensor_arg
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


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d`` (padding counts as -inf).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default kernel_size
    padding : int or (int, int), at most half the kernel size
    dilation : 1
        Other values are not supported.
    ceil_mode : bool
        Round the output size up (a last, partial window), as PyTorch.
    return_indices : bool
        Also return where each maximum came from (for ``max_unpool2d``).

    Returns
    -------
    Tensor, shape (N, C, OH, OW), OH = floor((H + 2*PH - KH) / SH) + 1 (ceil with ceil_mode)
    indices : int64 Tensor of the same shape, with ``return_indices``
        The flat position ``h*W + w`` of each maximum in its input plane, as PyTorch's.
    """
    input = float_tensor_arg(input, "input", 4)
    _check_pool_extras(dilation, False)
    pooled, W = input, input.shape[3]
    if check_bool(ceil_mode, "ceil_mode"):
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
    input : Tensor, shape (N, C, H, W)
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


def _check_pool_extras(dilation, return_indices):
    """Refuse what the pooling kernels cannot do; ``return_indices`` is checked by the
    callers that do not support it (MaxPool2d does)."""
    if ntuple(dilation, 2, "dilation", 1) != (1, 1):
        raise NotImplementedError("pooling with dilation > 1 is not supported")
    if return_indices:
        raise NotImplementedError("pooling with return_indices=True is not supported")


def _ceil_mode_extra(shape, kernel_size, stride, padding):
    """The rows/columns to add at the bottom/right so that the floor output size of the
    kernels equals PyTorch's ceil_mode size (whose last window must start inside the input or
    its left padding), and the (start, end) of every window per axis for the divisors."""
    K = pair(kernel_size, "kernel_size", 1)
    S = K if stride is None else pair(stride, "stride", 1)
    P = pair(padding, "padding", 0)
    extra, windows = [], []
    for n, k, st, p in zip(shape[2:], K, S, P):
        out = -(-(n + 2 * p - k) // st) + 1
        if (out - 1) * st >= n + p:
            out -= 1
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


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default kernel_size
    padding : int or (int, int), at most half the kernel size
    ceil_mode : bool
        Round the output size up (a last, partial window), as PyTorch.
    count_include_pad : bool
        Count the zero padding in the divisor (then always KH*KW), as PyTorch by default.
    divisor_override : None
        Other values are not supported.

    Returns
    -------
    Tensor, shape (N, C, OH, OW)
    """
    input = float_tensor_arg(input, "input", 4)
    if divisor_override is not None:
        raise NotImplementedError("avg_pool2d(divisor_override=...) is not supported")
    count_include_pad = check_bool(count_include_pad, "count_include_pad")
    if not check_bool(ceil_mode, "ceil_mode"):
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
