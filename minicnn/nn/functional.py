"""Neural-network operations: one Function per op (forward and backward side by side) + wrapper.

Signatures and defaults follow ``torch.nn.functional``. Convolution and pooling call the kernels
in ``minicnn.kernels`` (arrays in, arrays out), which validate the geometry; this module adds
the bias, the autograd bookkeeping and argument checks the kernels cannot do.

>>> import numpy as np, minicnn, minicnn.nn.functional as F
>>> x = minicnn.tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
>>> w = minicnn.tensor(np.ones((2, 1, 3, 3)), requires_grad=True)
>>> with minicnn.kernels.backend("reference"):
...     y = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
>>> y.shape
(1, 2, 2, 2)
"""
import warnings

import numpy as np

from minicnn import kernels as K
from minicnn.kernels.blas import numpy_blas
from minicnn._checks import INT_MAX, check_bool, check_int, check_real, ntuple, pair
from minicnn._tensor import Function, Tensor, as_tensor_arg, float_tensor_arg
from minicnn.ops._common import unbroadcast
from minicnn.ops.activation import (  # noqa: F401  (the activations live there; re-exported)
    _log_softmax, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh)
from minicnn.rng import get_rng

__all__ = [
    "conv2d", "conv_transpose2d", "conv1d", "conv_transpose1d", "max_pool2d", "avg_pool2d",
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "linear", "flatten", "dropout",
    "softmax", "log_softmax", "cross_entropy", "nll_loss", "mse_loss",
    "batch_norm", "layer_norm", "group_norm",
    "elu", "selu", "silu", "softplus", "hardtanh", "relu6", "prelu",
    "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "one_hot", "dropout1d", "dropout2d",
    "pad", "interpolate", "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_pool1d",
    "avg_pool1d",
]


# ---------------------------------------------------------------------------------------------
# Argument helpers
# ---------------------------------------------------------------------------------------------

def _check_bias(bias, channels, dtype):
    if bias is None:
        return None
    bias = float_tensor_arg(bias, "bias")
    if bias.shape != (channels,):
        raise ValueError(f"bias must have shape ({channels},) (one per output channel), "
                         f"got {bias.shape}")
    if bias.dtype != dtype:
        raise TypeError(f"bias has dtype {bias.dtype} but input has {dtype}")
    return bias


def _check_reduction(reduction):
    """``reduction`` itself if it is 'mean', 'sum' or 'none' (the loss modules use it too)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _reduce(loss, reduction):
    """Apply ``reduction`` to per-sample losses (an ndarray of shape (N,) or more)."""
    if reduction == "mean":
        return np.asarray(loss.mean(), dtype=loss.dtype)
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=loss.dtype)
    return loss


def _reduction_grad(grad_out, shape, reduction):
    """The gradient of ``_reduce`` with respect to its per-sample input, shape ``shape``."""
    if reduction == "mean":
        return np.broadcast_to(grad_out / max(int(np.prod(shape)), 1), shape)
    if reduction == "sum":
        return np.broadcast_to(grad_out, shape)
    return grad_out


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------

class Conv2dFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        ctx.x_shape, ctx.w_shape = x.shape, w.shape
        y = K.conv2d_forward(x, w, stride, padding, dilation, groups)
        if b is not None:
            y = K.bias_add(y, b)  # in place, parallel over the (n, o) planes
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # grad_x = conv_transpose(grad_out, w); grad_w = sum_n corr(x, grad_out);
        # grad_b = sum over N, OH, OW of grad_out
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = (K.conv2d_backward_input(grad_out, w, ctx.x_shape, *ctx.geometry)
                  if need_x else None)
        grad_w = (K.conv2d_backward_weight(x, grad_out, ctx.w_shape, *ctx.geometry)
                  if need_w else None)
        grad_b = grad_out.sum(axis=(0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None, None, None, None


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    weight : Tensor, shape (O, C/G, KH, KW), same dtype
    bias : Tensor, shape (O,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), 'valid' or 'same'
        'same' (stride 1 only) keeps H and W; an even kernel's odd pixel goes right/bottom.
    groups : int, divides C and O

    Returns
    -------
    Tensor, shape (N, O, OH, OW), OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1
    """
    input = float_tensor_arg(input, "input", 4)
    weight = float_tensor_arg(weight, "weight", 4)
    if weight.dtype != input.dtype:
        raise TypeError(f"weight has dtype {weight.dtype} but input has {input.dtype}")
    bias = _check_bias(bias, weight.shape[0], input.dtype)
    if isinstance(padding, str):
        padding, extra = _string_padding(padding, weight.shape[2:], dilation, stride)
        if any(extra):  # an even kernel's 'same': the odd pixel goes right/bottom, as PyTorch
            input = pad(input, (0, extra[1], 0, extra[0]))
    return Conv2dFn.apply(input, weight, bias, stride, padding, dilation, groups)


def _string_padding(padding, kernel, dilation, stride):
    """``padding='valid'`` (none) or ``'same'`` (output size = input size, stride 1 only) as
    the symmetric padding per axis and the extra pixel for the right/bottom side.

    The one owner of this rule (``nn.Conv1d``/``nn.Conv2d`` call it too).
    """
    n = len(kernel)
    if padding == "valid":
        return (0,) * n, (0,) * n
    if padding != "same":
        raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                         "{'valid', 'same'}")
    if any(s != 1 for s in ntuple(stride, n, "stride", 1)):
        raise ValueError("padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for d, k in zip(ntuple(dilation, n, "dilation", 1), kernel)]
    return tuple(t // 2 for t in totals), tuple(t % 2 for t in totals)


class ConvTranspose2dFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, y_shape, stride, padding, dilation, groups):
        # A transposed convolution is the input-gradient of the convolution whose input has
        # the shape of our output: the same kernel, run backwards.
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        ctx.w_shape = w.shape
        y = K.conv2d_backward_input(x, w, y_shape, stride, padding, dilation, groups)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # grad_x = conv2d(grad_out, w); grad_w = conv2d_backward_weight with the roles of
        # input and output swapped (grad_out plays the conv input, x its output gradient)
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = K.conv2d_forward(grad_out, w, *ctx.geometry) if need_x else None
        grad_w = (K.conv2d_backward_weight(grad_out, x, ctx.w_shape, *ctx.geometry)
                  if need_w else None)
        grad_b = grad_out.sum(axis=(0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _check_output_padding(output_padding, stride):
    """Raise ValueError unless every ``output_padding`` entry is smaller than its ``stride``.

    The one owner of this rule (``nn.ConvTranspose2d`` calls it too). PyTorch also accepts
    ``output_padding < dilation``; minicnn does not, because the transposed convolution runs
    as the input-gradient of a conv2d, and a conv2d maps only ``stride`` different input sizes
    to the same output size: the extra rows would not be its adjoint.

    Parameters
    ----------
    output_padding, stride : tuple of int
        One entry per spatial axis (already validated ints).
    """
    if any(op >= s for op, s in zip(output_padding, stride)):
        raise ValueError(f"output_padding {tuple(output_padding)} must be smaller than stride "
                         f"{tuple(stride)} on every axis")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    The adjoint of ``conv2d``: it maps a conv2d output back to the shape of its input.

    Parameters
    ----------
    input : Tensor, shape (N, C_in, H, W)
    weight : Tensor, shape (C_in, C_out/G, KH, KW) (PyTorch's layout for transposed convs)
    bias : Tensor, shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
    output_padding : int or (int, int)
        Extra rows/columns added at the bottom/right of the output, to pick one of the
        output sizes a strided conv2d maps to the same input size. Must be >= 0 and
        < stride (minicnn's restriction; PyTorch also allows < dilation).
    groups : int

    Returns
    -------
    Tensor, shape (N, C_out, OH, OW), OH = (H-1)*SH - 2*PH + DH*(KH-1) + output_padding + 1
    """
    input = float_tensor_arg(input, "input", 4)
    weight = float_tensor_arg(weight, "weight", 4)
    if weight.dtype != input.dtype:
        raise TypeError(f"weight has dtype {weight.dtype} but input has {input.dtype}")
    G = check_int(groups, "groups", 1, INT_MAX)
    if input.shape[1] != weight.shape[0]:
        raise ValueError(f"weight must have shape (C_in, C_out/groups, KH, KW) with C_in = "
                         f"{input.shape[1]} (the input's channels), got {weight.shape}")
    (SH, SW), (PH, PW) = pair(stride, "stride", 1), pair(padding, "padding", 0)
    (DH, DW) = pair(dilation, "dilation", 1)
    (OPH, OPW) = pair(output_padding, "output_padding", 0)
    _check_output_padding((OPH, OPW), (SH, SW))
    N, _, H, W = input.shape
    KH, KW = weight.shape[2:]
    out_shape = (N, weight.shape[1] * G,
                 (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1,
                 (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1)
    if min(out_shape[2:]) < 1:
        raise ValueError(f"conv_transpose2d output size {out_shape[2:]} is not positive: "
                         f"padding {padding!r} is too large for this input and kernel")
    bias = _check_bias(bias, out_shape[1], input.dtype)
    return ConvTranspose2dFn.apply(input, weight, bias, out_shape, (SH, SW), (PH, PW), (DH, DW),
                                 G)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d`` (a
    conv_transpose2d of unit height).

    Parameters
    ----------
    input : Tensor, shape (N, C_in, L)
    weight : Tensor, shape (C_in, C_out/G, K)
    bias : Tensor, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or (int,)
    groups : int

    Returns
    -------
    Tensor, shape (N, C_out, OL), OL = (L-1)*S - 2*P + D*(K-1) + output_padding + 1
    """
    input = float_tensor_arg(input, "input", 3)
    weight = float_tensor_arg(weight, "weight", 3)
    out = conv_transpose2d(input.unsqueeze(2), weight.unsqueeze(2), bias,
                           stride=(1,) + ntuple(stride, 1, "stride"),
                           padding=(0,) + ntuple(padding, 1, "padding"),
                           output_padding=(0,) + ntuple(output_padding, 1, "output_padding"),
                           groups=groups, dilation=(1,) + ntuple(dilation, 1, "dilation"))
    return out.squeeze(2)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution, as ``torch.nn.functional.conv1d`` (a conv2d of height 1).

    Parameters
    ----------
    input : Tensor, shape (N, C, L)
    weight : Tensor, shape (O, C/G, K)
    bias : Tensor, shape (O,), optional
    stride, dilation : int or (int,)
    padding : int, (int,), 'valid' or 'same'
    groups : int

    Returns
    -------
    Tensor, shape (N, O, OL), OL = floor((L + 2*P - D*(K-1) - 1) / S) + 1
    """
    input = float_tensor_arg(input, "input", 3)
    weight = float_tensor_arg(weight, "weight", 3)
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias,
                 stride=(1,) + ntuple(stride, 1, "stride"),
                 padding=(padding if isinstance(padding, str)
                          else (0,) + ntuple(padding, 1, "padding")),
                 dilation=(1,) + ntuple(dilation, 1, "dilation"), groups=groups)
    return out.squeeze(2)


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Linear, shape, dropout
# ---------------------------------------------------------------------------------------------

class LinearFn(Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        with numpy_blas:  # one thread pool: NumPy's BLAS must not fight the OpenMP kernels
            y = x @ w.T
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # y = x W^T + b:  grad_x = G W, grad_W = G^T x, grad_b = sum of G over all but the last
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        g2 = grad_out.reshape(-1, grad_out.shape[-1])  # leading dims are all batch dims
        with numpy_blas:
            grad_x = grad_out @ w if need_x else None
            grad_w = g2.T @ x.reshape(-1, x.shape[-1]) if need_w else None
        grad_b = g2.sum(axis=0) if need_b else None
        return grad_x, grad_w, grad_b


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``, as ``torch.nn.functional.linear``.

    Parameters
    ----------
    input : Tensor, shape (*, in_features)
    weight : Tensor, shape (out_features, in_features)
    bias : Tensor, shape (out_features,), optional

    Returns
    -------
    Tensor, shape (*, out_features)
    """
    input = float_tensor_arg(input, "input")
    weight = float_tensor_arg(weight, "weight", 2)
    if input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"input's last dimension ({input.shape[-1:] or 'none'}) must equal "
                         f"weight's in_features ({weight.shape[1]}); weight has shape "
                         f"(out_features, in_features) = {weight.shape}")
    if weight.dtype != input.dtype:
        raise TypeError(f"weight has dtype {weight.dtype} but input has {input.dtype}")
    bias = _check_bias(bias, weight.shape[0], input.dtype)
    return LinearFn.apply(input, weight, bias)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` into one, as ``torch.flatten``.

    Note the default ``start_dim=0`` (as ``torch.flatten``): ``nn.Flatten`` keeps the batch
    dimension by using ``start_dim=1``.

    Parameters
    ----------
    input : Tensor, shape (d0, d1, ..., dk)
    start_dim, end_dim : int

    Returns
    -------
    Tensor, shape (d0, ..., d(start-1), d(start) * ... * d(end), d(end+1), ...)
    """
    return as_tensor_arg(input, "input").flatten(start_dim, end_dim)


class DropoutFn(Function):
    @staticmethod
    def forward(ctx, x, mask):
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, grad_out):
        # y = x * mask / (1-p): dy/dx = mask / (1-p), already folded into the mask (which
        # broadcasts over H, W for channel dropout)
        return grad_out * ctx.mask, None


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p).

    The mask is drawn from ``minicnn.rng.get_rng()``, so ``minicnn.manual_seed`` makes it
    reproducible. With ``training=False`` (or ``p=0``) the input is returned unchanged.

    Parameters
    ----------
    input : Tensor, any shape
    p : float in [0, 1]
    training : bool
    inplace : bool
        Accepted as in PyTorch; the result is a new tensor.

    Returns
    -------
    Tensor, same shape
    """
    input = float_tensor_arg(input, "input")
    return _dropout(input, p, training, input.shape)


def _dropout(input, p, training, mask_shape):
    """Dropout with one draw per entry of ``mask_shape`` (broadcast over the input)."""
    p = check_real(p, "p")
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability p must be in [0, 1], got {p!r}")
    if not training or p == 0:
        return input
    if p == 1:
        mask = np.zeros(mask_shape, dtype=input.dtype)
    else:
        keep = get_rng().random(mask_shape) >= p
        mask = keep.astype(input.dtype) / input.dtype.type(1 - p)
    return DropoutFn.apply(input, mask)


def _channel_dropout(input, p, training, ndim, name):
    input = float_tensor_arg(input, "input")
    if input.ndim != ndim:
        raise ValueError(f"{name} expects a {ndim}-D input (N, C, ...), got shape {input.shape}")
    return _dropout(input, p, training, input.shape[:2] + (1,) * (ndim - 2))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, L) input with probability ``p`` and scale the rest by
    1/(1-p), as ``torch.nn.functional.dropout1d`` (one draw per (n, c)); returns the input
    unchanged unless ``training``."""
    return _channel_dropout(input, p, training, 3, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (feature maps) of an (N, C, H, W) input with probability ``p`` and
    scale the rest by 1/(1-p), as ``torch.nn.functional.dropout2d`` (one draw per (n, c));
    returns the input unchanged unless ``training``."""
    return _channel_dropout(input, p, training, 4, "dropout2d")


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------

def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated ``size_average``/``reduce`` pair, mapped onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  "reduction='mean', 'sum' or 'none' instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def _reduce_by(loss, reduction, divisor):
    """``_reduce`` whose 'mean' divides the sum by ``divisor`` (the weighted count)."""
    if reduction == "mean":
        return np.asarray(loss.sum() / divisor, dtype=loss.dtype)
    return _reduce(loss, reduction)


def _reduction_grad_by(grad_out, shape, reduction, divisor):
    """The gradient of ``_reduce_by`` with respect to its per-sample input, shape ``shape``."""
    if reduction == "mean":
        return np.broadcast_to(grad_out / divisor, shape).astype(grad_out.dtype, copy=False)
    return _reduction_grad(grad_out, shape, reduction)


def _target_array(target):
    if isinstance(target, Tensor):
        return target.data
    if isinstance(target, (list, tuple)):
        return np.asarray(target)
    if isinstance(target, np.ndarray):
        return target
    raise TypeError(f"target must be a Tensor or ndarray of class indices, got "
                    f"{type(target).__name__}")


def _class_weight(weight, C, dtype):
    if weight is None:
        return None
    w = float_tensor_arg(weight, "weight").data
    if w.shape != (C,):
        raise ValueError(f"weight must have shape (C,) = ({C},) (one per class), got {w.shape}")
    return w.astype(dtype, copy=False)


def _target_distribution(input, target, weight, ignore_index, label_smoothing,
                         probabilities=True):
    """The per-element target distribution ``q`` (N, C, *), weights and smoothing folded in,
    and the divisor of ``reduction='mean'``.

    Class indices t: ``q[n, c] = w[t_n] * ((1 - eps) * [c == t_n] + eps / C * w[c] / w[t_n])``,
    zero where ``t_n == ignore_index``; the divisor is the sum of ``w[t_n]`` over the kept
    samples (PyTorch's weighted mean). Probabilities p (input's shape, float):
    ``q = ((1 - eps) * p + eps / C) * w[c]``; the divisor is N * d1 * ... (no weights).
    """
    if input.ndim < 2:
        raise ValueError(f"input must be 2-D (N, C) scores, or (N, C, d1, ...), got shape "
                         f"{input.shape}")
    shape, dtype = input.shape, input.dtype
    N, C, spatial = shape[0], shape[1], shape[2:]
    cshape = _channel_shape(input)
    t = _target_array(target)
    w = _class_weight(weight, C, dtype)
    eps = check_real(label_smoothing, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {eps}")
    if probabilities and t.dtype.kind == "f" and t.shape == shape:
        q = t.astype(dtype)
        if eps:
            q = q * (1 - eps) + eps / C
        if w is not None:
            q = q * w.reshape(cshape)
        return q, max(N * int(np.prod(spatial, dtype=np.int64)), 1)
    if t.dtype.kind not in "iu":
        also = " or class probabilities of the input's shape" if probabilities else ""
        raise TypeError(f"target must be integer class indices (e.g. int64){also}, got dtype "
                        f"{t.dtype} and shape {t.shape}; build it with minicnn.tensor(labels) "
                        f"from integer labels, or .long()")
    expected = (N,) + spatial
    if t.shape != expected:
        form = "(N,)" if not spatial else "(N, d1, ...)"
        raise ValueError(f"target must have shape {form} = {expected} to match input {shape}, "
                         f"got {t.shape}")
    keep = t != ignore_index
    kept = t[keep]
    if kept.size and (kept.min() < 0 or kept.max() >= C):
        raise ValueError(f"target values must be class indices in [0, C) = [0, {C}) (or "
                         f"ignore_index={ignore_index}), got values from {kept.min()} to "
                         f"{kept.max()}")
    safe = np.where(keep, t, 0).astype(np.int64)
    wt = (w[safe] if w is not None else np.ones(safe.shape, dtype)) * keep
    q = np.zeros(shape, dtype)
    np.put_along_axis(q, safe[:, None], ((1 - eps) * wt)[:, None].astype(dtype), axis=1)
    if eps:
        wc = w if w is not None else np.ones(C, dtype)
        q += (eps / C) * wc.reshape(cshape) * keep[:, None]
    return q, wt.sum()


def _times_target(q, v):
    """``q * v`` with 0 where q is 0 (so a -inf log-probability of an unused class is no NaN)."""
    out = q * v
    out[q == 0] = 0
    return out


class CrossEntropyFn(Function):
    @staticmethod
    def forward(ctx, x, q, reduction, divisor):
        logp = _log_softmax(x, 1)
        ctx.logp, ctx.q, ctx.reduction, ctx.divisor = logp, q, reduction, divisor
        return _reduce_by(-_times_target(q, logp).sum(axis=1), reduction, divisor)

    @staticmethod
    def backward(ctx, grad_out):
        # L_n = -sum_c q_nc log softmax(x_n)_c: dL_n/dx_n = (sum_c q_nc) softmax(x_n) - q_n,
        # i.e. softmax - onehot for a plain label; times the reduction's weight
        q = ctx.q
        grad = np.exp(ctx.logp) * q.sum(axis=1, keepdims=True) - q
        g = _reduction_grad_by(grad_out, ctx.logp.shape[:1] + ctx.logp.shape[2:],
                               ctx.reduction, ctx.divisor)
        return grad * np.expand_dims(g, 1), None, None, None


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of raw scores, as ``torch.nn.functional.cross_entropy``.

    One fused, numerically stable op (log-softmax by the max-shift, no log of 0): finite for
    logits of any size, with gradient (softmax - onehot) / N for plain labels and 'mean'.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, d1, ...)
        Unnormalised scores (logits); C is dim 1.
    target : Tensor or ndarray
        Class indices of shape (N,) or (N, d1, ...) in [0, C) (or ``ignore_index``), or
        class probabilities of the input's shape (float).
    weight : Tensor of shape (C,), optional
        A weight per class; with indices, 'mean' divides by the summed weights of the targets.
    ignore_index : int
        Targets equal to it add nothing to the loss or to the 'mean' divisor.
    reduction : {'mean', 'sum', 'none'}
    label_smoothing : float in [0, 1]
        Mix the target with the uniform distribution: ``(1 - eps) * target + eps / C``.
    size_average, reduce : deprecated, as PyTorch

    Returns
    -------
    Tensor: a scalar, or shape (N,) / (N, d1, ...) for ``reduction='none'``
    """
    input = float_tensor_arg(input, "input")
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    q, divisor = _target_distribution(input, target, weight, check_int(ignore_index,
                                                                       "ignore_index"),
                                      label_smoothing)
    return CrossEntropyFn.apply(input, q, reduction, divisor)


class NLLLossFn(Function):
    @staticmethod
    def forward(ctx, x, q, reduction, divisor):
        ctx.q, ctx.reduction, ctx.divisor = q, reduction, divisor
        return _reduce_by(-_times_target(q, x).sum(axis=1), reduction, divisor)

    @staticmethod
    def backward(ctx, grad_out):
        # L_n = -sum_c q_nc x_nc = -w[t_n] x[n, t_n]: dL_n/dx_n = -q_n, times the reduction's
        q = ctx.q
        g = _reduction_grad_by(grad_out, q.shape[:1] + q.shape[2:], ctx.reduction, ctx.divisor)
        return -q * np.expand_dims(g, 1), None, None, None


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities against class indices, as ``F.nll_loss``.

    ``nll_loss(log_softmax(x, 1), t)`` equals ``cross_entropy(x, t)``, with the same
    ``weight``, ``ignore_index`` and (N, C, d1, ...) shapes.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, d1, ...)
        Log-probabilities.
    target : Tensor or ndarray of int, shape (N,) or (N, d1, ...)
    weight : Tensor of shape (C,), optional
    ignore_index : int
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor: a scalar, or shape (N,) / (N, d1, ...) for ``reduction='none'``
    """
    input = float_tensor_arg(input, "input")
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    q, divisor = _target_distribution(input, target, weight, check_int(ignore_index,
                                                                       "ignore_index"),
                                      0.0, probabilities=False)
    return NLLLossFn.apply(input, q, reduction, divisor)


def _regression_target(input, target, name):
    """The target as a float Tensor of the input's dtype; a shape other than the input's must
    broadcast with it (PyTorch's UserWarning then says so)."""
    target = float_tensor_arg(target, "target")
    if target.dtype != input.dtype:
        raise TypeError(f"target has dtype {target.dtype} but input has {input.dtype}")
    if target.shape != input.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(f"target must have the input's shape {input.shape} (or broadcast "
                             f"with it), got {target.shape}") from None
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)
    return target


class _PointwiseLossFn(Function):
    """A loss that is a sum of per-element terms l(x, t): subclasses give ``terms`` returning
    (l, dl/dx, dl/dt), each with its formula; ``options`` are their settings."""

    @staticmethod
    def terms(x, t, options):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x, t, reduction, options):
        loss, dx, dt = cls.terms(x, t, options)
        ctx.shapes, ctx.dx, ctx.dt, ctx.reduction = (x.shape, t.shape), dx, dt, reduction
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad_out):
        # d(reduce(l))/dx = dl/dx times the reduction's weight, summed over broadcast axes
        g = _reduction_grad(grad_out, ctx.dx.shape, ctx.reduction)
        need_x, need_t = ctx.needs_input_grad[:2]
        grad_x = unbroadcast(ctx.dx * g, ctx.shapes[0]) if need_x else None
        grad_t = (unbroadcast(ctx.dt * g, ctx.shapes[1])
                  if need_t and ctx.dt is not None else None)
        return grad_x, grad_t, None, None


class MSELossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = (x - t)^2: dl/dx = 2 (x - t), dl/dt = -2 (x - t)
        d = x - t
        return d * d, 2 * d, -2 * d


class L1LossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = |x - t|: dl/dx = sign(x - t) (0 at a tie), dl/dt = -sign(x - t)
        d = x - t
        return np.abs(d), np.sign(d), -np.sign(d)


class SmoothL1LossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = d^2 / (2 beta) if |d| < beta else |d| - beta/2: dl/dx = d / beta or sign(d)
        beta, d = options, x - t
        small = np.abs(d) < beta
        safe = beta if beta > 0 else 1.0
        loss = np.where(small, 0.5 * d * d / safe, np.abs(d) - 0.5 * beta)
        dx = np.where(small, d / safe, np.sign(d))
        return loss, dx, -dx


class HuberLossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = d^2 / 2 if |d| < delta else delta (|d| - delta/2): dl/dx = d or delta sign(d)
        delta, d = options, x - t
        small = np.abs(d) < delta
        loss = np.where(small, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
        dx = np.where(small, d, delta * np.sign(d))
        return loss, dx, -dx


class BCELossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = -w (t log x + (1-t) log(1-x)), logs clamped at -100 as PyTorch:
        # dl/dx = w (x - t) / max(x (1-x), 1e-12), dl/dt = w (log(1-x) - log x)
        w = 1 if options is None else options
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -w * (t * log_x + (1 - t) * log_1mx)
        dx = w * (x - t) / np.maximum(x * (1 - x), 1e-12)
        return loss, dx, w * (log_1mx - log_x)


class BCEWithLogitsLossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = w (p t softplus(-x) + (1-t) softplus(x)), p = pos_weight, softplus stable:
        # dl/dx = w ((1-t) s - p t (1-s)) with s = sigmoid(x);
        # dl/dt = w (p softplus(-x) - softplus(x))
        w, p = options
        w = 1 if w is None else w
        p = 1 if p is None else p
        sp_pos = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))   # softplus(x)
        sp_neg = sp_pos - x                                          # softplus(-x)
        s = _stable_sigmoid(x)
        loss = w * (p * t * sp_neg + (1 - t) * sp_pos)
        return loss, w * ((1 - t) * s - p * t * (1 - s)), w * (p * sp_neg - sp_pos)


class KLDivLossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # input x = log q. l = t (log t - x) (0 where t = 0): dl/dx = -t, dl/dt = log t + 1 - x;
        # log_target (t = log p): l = e^t (t - x): dl/dx = -e^t, dl/dt = e^t (t - x + 1)
        if options:
            p = np.exp(t)
            return p * (t - x), -p + 0 * x, p * (t - x + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_t = np.where(t > 0, np.log(np.where(t > 0, t, 1)), 0)
        loss = np.where(t > 0, t * (log_t - x), 0)
        return loss, -t + 0 * x, np.where(t > 0, log_t + 1 - x, 0)


def _pointwise_loss(fn, input, target, reduction, options, size_average=None, reduce=None):
    input = float_tensor_arg(input, "input")
    target = _regression_target(input, target, fn.__name__)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    return fn.apply(input, target, reduction, options)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean squared error ``(input - target)**2``, as ``torch.nn.functional.mse_loss``.

    Parameters
    ----------
    input : Tensor, any shape
    target : Tensor or ndarray of the input's dtype (it may require grad too); a different
        shape must broadcast with the input's and gives PyTorch's UserWarning
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor: a scalar, or the broadcast shape for ``reduction='none'``
    """
    return _pointwise_loss(MSELossFn, input, target, reduction, None, size_average, reduce)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error ``|input - target|``, as ``torch.nn.functional.l1_loss``.
    Shapes and reductions as :func:`mse_loss`."""
    return _pointwise_loss(L1LossFn, input, target, reduction, None, size_average, reduce)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0):
    """Quadratic below ``beta``, linear above: ``d**2 / (2 beta)`` if ``|d| < beta`` else
    ``|d| - beta / 2``, as ``torch.nn.functional.smooth_l1_loss`` (beta=0 is L1)."""
    beta = check_real(beta, "beta", 0.0)
    return _pointwise_loss(SmoothL1LossFn, input, target, reduction, beta, size_average,
                           reduce)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """``d**2 / 2`` if ``|d| < delta`` else ``delta * (|d| - delta / 2)``, as
    ``torch.nn.functional.huber_loss`` (smooth_l1 times delta, with beta = delta)."""
    delta = check_real(delta, "delta")
    if delta <= 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    return _pointwise_loss(HuberLossFn, input, target, reduction, delta)


def _elementwise_weight(weight, input, name="weight"):
    if weight is None:
        return None
    w = float_tensor_arg(weight, name).data.astype(input.dtype, copy=False)
    try:
        np.broadcast_shapes(w.shape, input.shape)
    except ValueError:
        raise ValueError(f"{name} of shape {w.shape} does not broadcast with the input's "
                         f"shape {input.shape}") from None
    return w


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross-entropy of probabilities, as ``torch.nn.functional.binary_cross_entropy``:
    ``-w (t log x + (1 - t) log(1 - x))`` with the logs clamped at -100.

    Parameters
    ----------
    input : Tensor, any shape, values in [0, 1]
    target : Tensor or ndarray, the input's shape, values in [0, 1]
    weight : Tensor broadcasting with the input, optional
    reduction : {'mean', 'sum', 'none'}
    """
    input = float_tensor_arg(input, "input")
    target = float_tensor_arg(target, "target")
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the "
                         "same size.")
    if input.numel() and (input.data.min() < 0 or input.data.max() > 1):
        raise ValueError("all elements of input should be between 0 and 1 (probabilities; "
                         "use binary_cross_entropy_with_logits for raw scores)")
    return _pointwise_loss(BCELossFn, input, target, reduction,
                           _elementwise_weight(weight, input), size_average, reduce)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid and binary cross-entropy in one stable op, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``:
    ``w (p t softplus(-x) + (1 - t) softplus(x))``.

    Parameters
    ----------
    input : Tensor, any shape (logits)
    target : Tensor or ndarray, the input's shape, values in [0, 1]
    weight : Tensor broadcasting with the input, optional
    pos_weight : Tensor broadcasting with the input (one per class, last dim), optional
        Weight of the positive term (> 1 raises recall).
    reduction : {'mean', 'sum', 'none'}
    """
    input = float_tensor_arg(input, "input")
    target = float_tensor_arg(target, "target")
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    options = (_elementwise_weight(weight, input),
               _elementwise_weight(pos_weight, input, "pos_weight"))
    return _pointwise_loss(BCEWithLogitsLossFn, input, target, reduction, options,
                           size_average, reduce)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence ``target * (log target - input)``, as
    ``torch.nn.functional.kl_div``: ``input`` holds log-probabilities.

    Parameters
    ----------
    input : Tensor, any shape (log q)
    target : Tensor or ndarray, the input's shape (p, or log p if ``log_target``)
    reduction : {'mean', 'batchmean', 'sum', 'none'}
        'batchmean' (the true KL divergence per sample) divides the sum by N; 'mean' divides
        by every element, with PyTorch's warning.
    log_target : bool
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                         f"{reduction!r}")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    log_target = check_bool(log_target, "log_target")
    if reduction != "batchmean":
        return _pointwise_loss(KLDivLossFn, input, target, reduction, log_target)
    loss = _pointwise_loss(KLDivLossFn, input, target, "sum", log_target)
    n = input.shape[0] if getattr(input, "ndim", 0) else 1
    return loss / n


def one_hot(tensor, num_classes=-1):
    """Class indices as one-hot vectors, as ``torch.nn.functional.one_hot``.

    Parameters
    ----------
    tensor : Tensor or ndarray of int, any shape
    num_classes : int
        -1: one more than the largest index.

    Returns
    -------
    Tensor of int64, shape ``tensor.shape + (num_classes,)``
    """
    t = _target_array(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors, got dtype {t.dtype}")
    num_classes = check_int(num_classes, "num_classes", -1)
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"Class values must be in [0, num_classes) = [0, {num_classes}), got "
                         f"values from {t.min()} to {t.max()}")
    out = np.zeros(t.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, t.astype(np.int64)[..., None], 1, axis=-1)
    return Tensor(out)


# ---------------------------------------------------------------------------------------------
# Normalisation (derivations in docs/backprop.md, "BatchNorm, LayerNorm and GroupNorm")
# ---------------------------------------------------------------------------------------------

def _normalize(x, axes, eps):
    """``(x - mean) * rstd`` over ``axes``, with ``rstd = 1/sqrt(var + eps)`` (biased var).

    Returns x_hat, rstd (keepdims), and the mean and biased variance (keepdims)."""
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(var + x.dtype.type(eps))
    return xc * rstd, rstd, mean, var


def _normalize_backward(grad_xhat, xhat, rstd, axes):
    # x_hat = (x - mu) * rstd over M elements:
    # grad_x = rstd * (g - mean(g) - x_hat * mean(g * x_hat)), g the gradient at x_hat
    return rstd * (grad_xhat - grad_xhat.mean(axis=axes, keepdims=True)
                   - xhat * (grad_xhat * xhat).mean(axis=axes, keepdims=True))


def _channel_shape(x):
    """(1, C, 1, ...) for an (N, C, *) array: per-channel values broadcast against it."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _affine_backward(ctx, grad_out, xhat, reduce_axes, shape):
    """grad_w = sum(grad_out * x_hat), grad_b = sum(grad_out), over ``reduce_axes``."""
    need_w, need_b = ctx.needs_input_grad[1:3]
    grad_w = (grad_out * xhat).sum(axis=reduce_axes).reshape(shape) if need_w else None
    grad_b = grad_out.sum(axis=reduce_axes).reshape(shape) if need_b else None
    return grad_w, grad_b


class BatchNormFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, running_mean, running_var, training, momentum, eps):
        axes = (0,) + tuple(range(2, x.ndim))
        cshape = _channel_shape(x)
        if training:
            xhat, rstd, mean, var = _normalize(x, axes, eps)
            count = x.size // x.shape[1]
            if running_mean is not None:  # in place: the module's buffers see the update
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(-1)
            if running_var is not None:
                # the running variance is the unbiased one (n / (n - 1)), as PyTorch
                running_var *= 1 - momentum
                running_var += momentum * var.reshape(-1) * (count / (count - 1))
        else:
            rstd = (1 / np.sqrt(running_var.astype(x.dtype) + x.dtype.type(eps))).reshape(cshape)
            xhat = (x - running_mean.astype(x.dtype).reshape(cshape)) * rstd
        ctx.saved = (xhat, rstd, axes, training, w)
        y = xhat if w is None else xhat * w.reshape(cshape)
        return y if b is None else y + b.reshape(cshape)

    @staticmethod
    def backward(ctx, grad_out):
        # y = x_hat * w + b per channel. Train: x_hat uses the batch statistics, so
        # grad_x = rstd * (g - mean(g) - x_hat * mean(g * x_hat)) with g = grad_out * w,
        # means over N and the spatial axes; eval: the statistics are constants, grad_x = g * rstd
        xhat, rstd, axes, training, w = ctx.saved
        g = grad_out if w is None else grad_out * w.reshape(_channel_shape(grad_out))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = _normalize_backward(g, xhat, rstd, axes) if training else g * rstd
        grad_w, grad_b = _affine_backward(ctx, grad_out, xhat, axes, (-1,))
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _buffer_array(value, name, channels):
    if value is None:
        return None
    data = value.data if isinstance(value, Tensor) else value
    if not isinstance(data, np.ndarray) or data.shape != (channels,):
        raise ValueError(f"{name} must have shape ({channels},) (one per channel), got "
                         f"{getattr(data, 'shape', type(data).__name__)}")
    return data


def _norm_affine(weight, bias, shape, dtype):
    """Check an optional affine weight and bias of ``shape``; return them as Tensors/None."""
    out = []
    for value, name in ((weight, "weight"), (bias, "bias")):
        if value is not None:
            value = float_tensor_arg(value, name)
            if value.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
            if value.dtype != dtype:
                raise TypeError(f"{name} has dtype {value.dtype} but input has {dtype}")
        out.append(value)
    return out


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, C, *) per channel, as ``torch.nn.functional.batch_norm``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. With ``training=True`` mean and var
    are the batch's (biased var) and ``running_mean``/``running_var``, if given, are updated
    in place: ``r = (1 - momentum) * r + momentum * batch_stat``, with the *unbiased* batch
    variance for ``running_var``. With ``training=False`` the running statistics are used.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, *)
    running_mean, running_var : Tensor or ndarray of shape (C,), or None (only if training)
    weight, bias : Tensor of shape (C,), optional
    training : bool
    momentum : float
    eps : float, > 0

    Returns
    -------
    Tensor, the input's shape
    """
    input = float_tensor_arg(input, "input")
    if input.ndim < 2:
        raise ValueError(f"batch_norm expects an input of shape (N, C, *), got {input.shape}")
    C = input.shape[1]
    training = bool(training)
    mean = _buffer_array(running_mean, "running_mean", C)
    var = _buffer_array(running_var, "running_var", C)
    if not training and (mean is None or var is None):
        raise ValueError("batch_norm with training=False needs running_mean and running_var")
    if training and input.numel() // max(C, 1) <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {input.shape}")
    momentum = check_real(momentum, "momentum")
    eps = check_real(eps, "eps")
    weight, bias = _norm_affine(weight, bias, (C,), input.dtype)
    return BatchNormFn.apply(input, weight, bias, mean, var, training, momentum, eps)


class LayerNormFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, k, eps):
        axes = tuple(range(x.ndim - k, x.ndim))
        xhat, rstd, _, _ = _normalize(x, axes, eps)
        ctx.saved = (xhat, rstd, axes, w)
        y = xhat if w is None else xhat * w
        return y if b is None else y + b

    @staticmethod
    def backward(ctx, grad_out):
        # y = x_hat * w + b, x_hat normalised over the last k axes (each sample on its own):
        # grad_x = rstd * (g - mean(g) - x_hat * mean(g * x_hat)), g = grad_out * w
        xhat, rstd, axes, w = ctx.saved
        g = grad_out if w is None else grad_out * w
        grad_x = _normalize_backward(g, xhat, rstd, axes) if ctx.needs_input_grad[0] else None
        lead = tuple(range(grad_out.ndim - len(axes)))
        grad_w, grad_b = _affine_backward(ctx, grad_out, xhat, lead, grad_out.shape[len(lead):])
        return grad_x, grad_w, grad_b, None, None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the last ``len(normalized_shape)`` dimensions, as
    ``torch.nn.functional.layer_norm``: ``(x - mean) / sqrt(var + eps) * weight + bias``.

    Parameters
    ----------
    input : Tensor, shape (*, *normalized_shape)
    normalized_shape : int or tuple of int
    weight, bias : Tensor of shape normalized_shape, optional
    eps : float

    Returns
    -------
    Tensor, the input's shape
    """
    input = float_tensor_arg(input, "input")
    shape = ntuple(normalized_shape, len(normalized_shape)
                   if isinstance(normalized_shape, (tuple, list)) else 1, "normalized_shape", 1)
    if input.shape[input.ndim - len(shape):] != shape or input.ndim < len(shape):
        raise ValueError(f"input's last dimensions must be normalized_shape {shape}, got "
                         f"input of shape {input.shape}")
    eps = check_real(eps, "eps")
    weight, bias = _norm_affine(weight, bias, shape, input.dtype)
    return LayerNormFn.apply(input, weight, bias, len(shape), eps)


class GroupNormFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, G, eps):
        xg = x.reshape(x.shape[0], G, -1)
        xhat, rstd, _, _ = _normalize(xg, (2,), eps)
        ctx.saved = (xhat, rstd, w, G)
        xhat = xhat.reshape(x.shape)
        cshape = _channel_shape(x)
        y = xhat if w is None else xhat * w.reshape(cshape)
        return y if b is None else y + b.reshape(cshape)

    @staticmethod
    def backward(ctx, grad_out):
        # per sample and group, as layer_norm over (C/G, *); the affine is per channel:
        # grad_x = rstd * (g - mean(g) - x_hat * mean(g * x_hat)), g = grad_out * w
        xhat, rstd, w, G = ctx.saved
        N = grad_out.shape[0]
        g = grad_out if w is None else grad_out * w.reshape(_channel_shape(grad_out))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = _normalize_backward(g.reshape(N, G, -1), xhat, rstd, (2,))
            grad_x = grad_x.reshape(grad_out.shape)
        axes = (0,) + tuple(range(2, grad_out.ndim))
        grad_w, grad_b = _affine_backward(ctx, grad_out, xhat.reshape(grad_out.shape), axes,
                                          (-1,))
        return grad_x, grad_w, grad_b, None, None


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation, as ``torch.nn.functional.group_norm``: each sample's channels are
    split into ``num_groups`` groups, each normalised over its channels and positions, then a
    per-channel ``weight`` and ``bias`` are applied.

    Parameters
    ----------
    input : Tensor, shape (N, C, *), C divisible by num_groups
    num_groups : int
    weight, bias : Tensor of shape (C,), optional
    eps : float

    Returns
    -------
    Tensor, the input's shape
    """
    input = float_tensor_arg(input, "input")
    if input.ndim < 2:
        raise ValueError(f"group_norm expects an input of shape (N, C, *), got {input.shape}")
    G = check_int(num_groups, "num_groups", 1)
    if input.shape[1] % G:
        raise ValueError(f"Expected number of channels in input ({input.shape[1]}) to be "
                         f"divisible by num_groups ({G})")
    eps = check_real(eps, "eps")
    weight, bias = _norm_affine(weight, bias, (input.shape[1],), input.dtype)
    return GroupNormFn.apply(input, weight, bias, G, eps)


# ---------------------------------------------------------------------------------------------
# More activations. Value-only ops, kept here while ops/ is being reworked; they belong in
# ops/activation.py (and then this file re-exports them, as it does relu). ``inplace=True`` is
# accepted as in PyTorch and computes out of place (the result is the same; the graph needs x).
# ---------------------------------------------------------------------------------------------

def _stable_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))  # never overflows, unlike 1 / (1 + exp(-x))


class EluFn(Function):
    @staticmethod
    def forward(ctx, x, alpha, scale):
        neg = scale * alpha * np.expm1(np.minimum(x, 0))
        ctx.save_for_backward(x)
        ctx.neg, ctx.alpha, ctx.scale = neg, alpha, scale
        return np.where(x > 0, scale * x, neg).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # y = scale*x (x > 0), scale*alpha*(e^x - 1) (x <= 0): dy/dx = scale, or y + scale*alpha
        x, = ctx.saved_tensors
        return grad_out * np.where(x > 0, ctx.scale, ctx.neg + ctx.scale * ctx.alpha), None, None


def elu(input, alpha=1.0, inplace=False):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``, as ``torch.nn.functional.elu``.

    Parameters
    ----------
    input : Tensor, any shape
    alpha : float
    inplace : bool
        Accepted for PyTorch compatibility; the result is a new tensor.

    Returns
    -------
    Tensor, same shape
    """
    input = float_tensor_arg(input, "input")
    return EluFn.apply(input, check_real(alpha, "alpha"), 1.0)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with SELU's fixed alpha ≈ 1.6733 and scale ≈ 1.0507, as
    ``torch.nn.functional.selu``; any shape -> same shape."""
    input = float_tensor_arg(input, "input")
    return EluFn.apply(input, _SELU_ALPHA, _SELU_SCALE)


class SiluFn(Function):
    @staticmethod
    def forward(ctx, x):
        s = _stable_sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_out):
        # y = x * s(x): dy/dx = s + x * s * (1 - s)
        x, s = ctx.saved_tensors
        return grad_out * (s * (1 + x * (1 - s)))


def silu(input, inplace=False):
    """``x * sigmoid(x)`` (swish), as ``torch.nn.functional.silu``; any shape -> same shape."""
    return SiluFn.apply(float_tensor_arg(input, "input"))


class SoftplusFn(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        bx = beta * x
        linear = bx > threshold
        ctx.save_for_backward(bx, linear)
        # log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|): no overflow for large bx
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
        return np.where(linear, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # y = log(1 + e^(beta x)) / beta: dy/dx = sigmoid(beta x) (1 where linear)
        bx, linear = ctx.saved_tensors
        return grad_out * np.where(linear, 1, _stable_sigmoid(bx)), None, None


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``, as
    ``torch.nn.functional.softplus``; any shape -> same shape."""
    input = float_tensor_arg(input, "input")
    return SoftplusFn.apply(input, check_real(beta, "beta"), check_real(threshold, "threshold"))


class HardtanhFn(Function):
    @staticmethod
    def forward(ctx, x, min_val, max_val):
        ctx.save_for_backward((x > min_val) & (x < max_val))
        return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # clip(x, lo, hi): dy/dx = 1 strictly inside (lo, hi), else 0
        inside, = ctx.saved_tensors
        return grad_out * inside, None, None


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``clip(x, min_val, max_val)``, as ``torch.nn.functional.hardtanh``; any shape."""
    input = float_tensor_arg(input, "input")
    min_val, max_val = check_real(min_val, "min_val"), check_real(max_val, "max_val")
    if max_val < min_val:
        raise ValueError(f"max_val ({max_val}) must be >= min_val ({min_val})")
    return HardtanhFn.apply(input, min_val, max_val)


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)``, as ``torch.nn.functional.relu6``; any shape."""
    return hardtanh(input, 0.0, 6.0)


class PreluFn(Function):
    @staticmethod
    def forward(ctx, x, w):
        wb = w.reshape((1, -1) + (1,) * (x.ndim - 2)) if w.size > 1 else w.reshape(())
        ctx.save_for_backward(x, wb)
        ctx.w_shape = w.shape
        return np.where(x > 0, x, wb * x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # y = x (x > 0), w*x (x <= 0): dy/dx = 1 or w; dy/dw = x where x <= 0, summed over
        # every axis but the channel axis (all axes for one shared weight)
        x, wb = ctx.saved_tensors
        grad_x = grad_out * np.where(x > 0, 1, wb) if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            gw = grad_out * np.where(x > 0, 0, x)
            axes = tuple(i for i in range(x.ndim) if not (wb.ndim and i == 1))
            grad_w = gw.sum(axis=axes).reshape(ctx.w_shape)
        return grad_x, grad_w


def prelu(input, weight):
    """``x`` if ``x > 0`` else ``weight * x``, with a learnt slope per channel (dim 1) or one
    shared, as ``torch.nn.functional.prelu``.

    Parameters
    ----------
    input : Tensor, shape (N, C, *) (or any shape with a one-element weight)
    weight : Tensor, shape (C,) or (1,)

    Returns
    -------
    Tensor, same shape
    """
    input = float_tensor_arg(input, "input")
    weight = float_tensor_arg(weight, "weight", 1)
    if weight.shape[0] != 1 and (input.ndim < 2 or input.shape[1] != weight.shape[0]):
        raise ValueError(f"prelu weight of {weight.shape[0]} slopes needs an input with "
                         f"{weight.shape[0]} channels in dim 1, got shape {input.shape}")
    if weight.dtype != input.dtype:
        raise TypeError(f"weight has dtype {weight.dtype} but input has {input.dtype}")
    return PreluFn.apply(input, weight)


# ---------------------------------------------------------------------------------------------
# Padding and resampling: each is a gather along one axis at a time (y = sum_k w_k x[idx_k]),
# whose gradient is the matching scatter-add; so one Function serves pad, interpolate and the
# adaptive average pool's uneven bins.
# ---------------------------------------------------------------------------------------------

class AxisResampleFn(Function):
    @staticmethod
    def forward(ctx, x, plan, fill):
        # plan: per axis (axis, [(idx, weight), ...]); weight broadcasts along that axis only
        ctx.plan, ctx.shapes = plan, []
        for axis, taps in plan:
            ctx.shapes.append(x.shape)
            shape = [1] * x.ndim
            shape[axis] = -1
            x = sum(np.take(x, idx, axis=axis) * w.astype(x.dtype).reshape(shape)
                    for idx, w in taps)
        ctx.mask = None if fill is None else fill[1]
        if fill is not None:  # constant padding: positions outside the input get the value
            x = np.where(ctx.mask, x, x.dtype.type(fill[0]))
        return x

    @staticmethod
    def backward(ctx, grad_out):
        # y = sum_k w_k x[idx_k] along an axis: grad_x[j] = sum_k sum_{i: idx_k[i] = j} w_k[i] g[i];
        # a constant fill takes nothing from x, so its positions pass no gradient back
        g = grad_out if ctx.mask is None else np.where(ctx.mask, grad_out, 0)
        for (axis, taps), shape in zip(reversed(ctx.plan), reversed(ctx.shapes)):
            view = [1] * g.ndim
            view[axis] = -1
            out = np.zeros(shape, dtype=grad_out.dtype)
            moved = np.moveaxis(out, axis, 0)  # a view: add.at along axis 0 writes into out
            for idx, w in taps:
                np.add.at(moved, idx, np.moveaxis(g * w.astype(g.dtype).reshape(view), axis, 0))
            g = out
        return g, None, None


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def pad(input, pad, mode="constant", value=None):
    """Pad the last dimensions, as ``torch.nn.functional.pad``.

    Parameters
    ----------
    input : Tensor
    pad : tuple of int, even length 2k
        ``(left, right)`` for the last dimension, then ``(top, bottom)`` for the one before, ...
        Negative values crop (constant mode).
    mode : {'constant', 'reflect', 'replicate', 'circular'}
        Fill with ``value``; mirror without repeating the edge; repeat the edge; wrap around.
    value : float, optional
        The fill of 'constant' mode (default 0).

    Returns
    -------
    Tensor, each padded dimension grown by its two pads
    """
    input = float_tensor_arg(input, "input")
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad must be a tuple of even length at most 2 * input.ndim = "
                         f"{2 * input.ndim}, got {pad!r}")
    pad = [check_int(p, "pad") for p in pad]
    if mode not in _PAD_MODES:
        raise ValueError(f"mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"value is only used by mode='constant', got value={value} with "
                         f"mode={mode!r}")
    value = 0.0 if value is None else check_real(value, "value")
    plan, mask = [], None
    for k in range(len(pad) // 2):
        axis, (left, right) = input.ndim - 1 - k, pad[2 * k:2 * k + 2]
        n = input.shape[axis]
        if mode != "constant" and min(left, right) < 0:
            raise ValueError(f"negative padding is only supported by mode='constant', got "
                             f"{pad}")
        if mode == "reflect" and max(left, right) >= n:
            raise ValueError(f"Padding size should be less than the corresponding input "
                             f"dimension, but got: padding ({left}, {right}) at dimension "
                             f"{axis} of input {input.shape}")
        if mode == "circular" and max(left, right) > n:
            raise ValueError(f"Padding value causes wrapping around more than once: padding "
                             f"({left}, {right}) at dimension {axis} of input {input.shape}")
        if n + left + right < 0:
            raise ValueError(f"padding {pad} makes dimension {axis} negative")
        if mode == "constant":
            pos = np.arange(-left, n + right)
            inside = (pos >= 0) & (pos < n)
            src = np.clip(pos, 0, max(n - 1, 0))
            if not inside.all():
                shape = [1] * input.ndim
                shape[axis] = -1
                here = inside.reshape(shape)
                mask = here if mask is None else mask & here
        else:
            src = np.pad(np.arange(n), (left, right), mode=_PAD_MODES[mode])
        plan.append((axis, [(src, np.ones(len(src)))]))
    return AxisResampleFn.apply(input, plan, (value, mask) if mask is not None else None)


def _interp_taps(n_in, n_out, mode, align_corners, scale):
    """Source indices and weights along one axis for 'nearest' or 'linear' resampling."""
    dst = np.arange(n_out, dtype=np.float64)
    if mode == "nearest":
        # PyTorch's 'nearest': src = floor(dst * scale), scale = in/out (or 1/scale_factor)
        return [(np.minimum(np.floor(dst * scale).astype(np.int64), n_in - 1), np.ones(n_out))]
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    return [(i0, 1 - lam), (i1, lam)]


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize the spatial dimensions, as ``torch.nn.functional.interpolate``.

    Parameters
    ----------
    input : Tensor, shape (N, C, L) or (N, C, H, W)
    size : int or tuple of int, optional
        The output's spatial size; or give ``scale_factor``.
    scale_factor : float or tuple of float, optional
    mode : {'nearest', 'linear', 'bilinear'}
        'linear' for 3-D inputs, 'bilinear' for 4-D.
    align_corners : bool, optional
        Linear modes only: map corner pixels' centres onto each other (default False).
    recompute_scale_factor : bool, optional
        True: derive the scale from the computed output size instead of ``scale_factor``.

    Returns
    -------
    Tensor, shape (N, C, *size)
    """
    input = float_tensor_arg(input, "input", (3, 4))
    k = input.ndim - 2
    linear = {3: "linear", 4: "bilinear"}[input.ndim]
    if mode not in ("nearest", linear):
        raise ValueError(f"mode must be 'nearest' or {linear!r} for a {input.ndim}-D input, "
                         f"got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    align_corners = bool(align_corners) if align_corners is not None else False
    if (size is None) == (scale_factor is None):
        raise ValueError("either size or scale_factor should be defined (and not both)")
    in_size = input.shape[2:]
    if size is not None:
        out_size = ntuple(size, k, "size", 1)
        scales = [i / o for i, o in zip(in_size, out_size)]
    else:
        factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * k
        if len(factors) != k:
            raise ValueError(f"scale_factor must be a float or a tuple of {k} floats, got "
                             f"{scale_factor!r}")
        factors = [check_real(f, "scale_factor") for f in factors]
        if min(factors) <= 0:
            raise ValueError(f"scale_factor must be > 0, got {scale_factor!r}")
        out_size = tuple(int(np.floor(i * f)) for i, f in zip(in_size, factors))
        scales = ([i / o for i, o in zip(in_size, out_size)] if recompute_scale_factor
                  else [1 / f for f in factors])
    plan = [(2 + a, _interp_taps(in_size[a], out_size[a], mode, align_corners, scales[a]))
            for a in range(k)]
    return AxisResampleFn.apply(input, plan, None)


def _adaptive_bins(n_in, n_out):
    """PyTorch's adaptive-pool bins: [floor(i*n_in/n_out), ceil((i+1)*n_in/n_out))."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


def _adaptive_output_size(output_size, shape, k):
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * k
    if len(sizes) != k:
        raise ValueError(f"output_size must be an int or a tuple of {k}, got {output_size!r}")
    return tuple(shape[-k + a] if s is None else check_int(s, "output_size", 1)
                 for a, s in enumerate(sizes))


def adaptive_avg_pool2d(input, output_size):
    """Average over the bins that divide (H, W) into ``output_size``, as
    ``torch.nn.functional.adaptive_avg_pool2d`` (bins may overlap when sizes do not divide).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    output_size : int or (int or None, int or None)
        None keeps that input size.

    Returns
    -------
    Tensor, shape (N, C, OH, OW)
    """
    input = float_tensor_arg(input, "input", 4)
    OH, OW = _adaptive_output_size(output_size, input.shape, 2)
    H, W = input.shape[2:]
    if H % OH == 0 and W % OW == 0:  # even bins: the pooling kernel
        return avg_pool2d(input, (H // OH, W // OW))
    plan = []
    for axis, n_in, n_out in ((2, H, OH), (3, W, OW)):
        # an average over each bin is a weighted gather: one tap per offset into the bin
        start, end = _adaptive_bins(n_in, n_out)
        length = end - start
        taps = [(np.minimum(start + j, n_in - 1), (j < length) / length)
                for j in range(int(length.max()))]
        plan.append((axis, taps))
    return AxisResampleFn.apply(input, plan, None)


class AdaptiveMaxPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, OH, OW):
        N, C, H, W = x.shape
        hs, he = _adaptive_bins(H, OH)
        ws, we = _adaptive_bins(W, OW)
        y = np.empty((N, C, OH, OW), dtype=x.dtype)
        where = np.empty((N, C, OH, OW), dtype=np.int64)
        # a loop over the OH*OW bins (few), each vectorised over N and C
        for i in range(OH):
            for j in range(OW):
                window = x[:, :, hs[i]:he[i], ws[j]:we[j]].reshape(N, C, -1)
                k = window.argmax(axis=2)  # the first maximum, as the pooling kernel
                y[:, :, i, j] = np.take_along_axis(window, k[..., None], 2)[..., 0]
                bw = we[j] - ws[j]
                where[:, :, i, j] = (hs[i] + k // bw) * W + ws[j] + k % bw
        ctx.where, ctx.x_shape = where, x.shape
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # the gradient goes to the position that won each bin (summed where bins overlap)
        N, C, H, W = ctx.x_shape
        grad = np.zeros((N, C, H * W), dtype=grad_out.dtype)
        rows = np.arange(N * C)[:, None]
        np.add.at(grad.reshape(N * C, H * W), (rows, ctx.where.reshape(N * C, -1)),
                  grad_out.reshape(N * C, -1))
        return grad.reshape(ctx.x_shape), None, None


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over the bins that divide (H, W) into ``output_size``, as
    ``torch.nn.functional.adaptive_max_pool2d``.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    output_size : int or (int or None, int or None)
    return_indices : bool
        Not supported (False only).

    Returns
    -------
    Tensor, shape (N, C, OH, OW)
    """
    input = float_tensor_arg(input, "input", 4)
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d(return_indices=True) is not supported")
    OH, OW = _adaptive_output_size(output_size, input.shape, 2)
    H, W = input.shape[2:]
    if H % OH == 0 and W % OW == 0:  # even bins: the pooling kernel
        return max_pool2d(input, (H // OH, W // OW))
    return AdaptiveMaxPool2dFn.apply(input, OH, OW)


def max_pool1d(input, kernel_size, stride=None, padding=0):
    """1-D max pooling over (N, C, L), as ``torch.nn.functional.max_pool1d`` (a max_pool2d of
    height 1)."""
    input = float_tensor_arg(input, "input", 3)
    k = ntuple(kernel_size, 1, "kernel_size", 1)
    s = k if stride is None else ntuple(stride, 1, "stride", 1)
    return max_pool2d(input.unsqueeze(2), (1,) + k, (1,) + s,
                      (0,) + ntuple(padding, 1, "padding", 0)).squeeze(2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """1-D average pooling over (N, C, L), as ``torch.nn.functional.avg_pool1d``."""
    input = float_tensor_arg(input, "input", 3)
    k = ntuple(kernel_size, 1, "kernel_size", 1)
    s = k if stride is None else ntuple(stride, 1, "stride", 1)
    return avg_pool2d(input.unsqueeze(2), (1,) + k, (1,) + s,
                      (0,) + ntuple(padding, 1, "padding", 0),
                      count_include_pad=count_include_pad).squeeze(2)
