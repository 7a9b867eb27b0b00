"""Pooling: max_pool2d, avg_pool2d (ceil_mode, padding); each Function above its wrapper."""
import numpy as np

from minicnn import kernels as K
from minicnn._checks import check_bool, ntuple, pair
from minicnn._tensor import Function, float_tensor_arg
from minicnn.nn.functional.padding import pad

__all__ = ["MaxPool2dFn", "max_pool2d", "AvgPool2dFn", "avg_pool2d"]


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
    return_indices : False
        True is not supported.

    Returns
    -------
    Tensor, shape (N, C, OH, OW), OH = floor((H + 2*PH - KH) / SH) + 1 (ceil with ceil_mode)
    """
    input = float_tensor_arg(input, "input", 4)
    _check_pool_extras(dilation, return_indices)
    if check_bool(ceil_mode, "ceil_mode"):
        # the extra right/bottom rows are -inf, so they never win: PyTorch's partial window
        (EH, EW), _ = _ceil_mode_extra(input.shape, kernel_size, stride, padding)
        if EH or EW:
            input = pad(input, (0, EW, 0, EH), value=-np.inf)
    return MaxPool2dFn.apply(input, kernel_size, stride, padding)


def _check_pool_extras(dilation, return_indices):
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
