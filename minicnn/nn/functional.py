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
import numpy as np

from minicnn import kernels as K
from minicnn.kernels.blas import numpy_blas
from minicnn._checks import INT_MAX, check_int, check_real, ntuple, pair
from minicnn._tensor import Function, Tensor, as_tensor_arg, float_tensor_arg
from minicnn.ops.activation import (  # noqa: F401  (the activations live there; re-exported)
    _log_softmax, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh)
from minicnn.rng import get_rng

__all__ = [
    "conv2d", "conv_transpose2d", "conv1d", "max_pool2d", "avg_pool2d",
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "linear", "flatten", "dropout",
    "softmax", "log_softmax", "cross_entropy", "nll_loss", "mse_loss",
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
            y += b.reshape(1, -1, 1, 1)
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
    stride, padding, dilation : int or (int, int)
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
    return Conv2dFn.apply(input, weight, bias, stride, padding, dilation, groups)


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


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution, as ``torch.nn.functional.conv1d`` (a conv2d of height 1).

    Parameters
    ----------
    input : Tensor, shape (N, C, L)
    weight : Tensor, shape (O, C/G, K)
    bias : Tensor, shape (O,), optional
    stride, padding, dilation : int or (int,)
    groups : int

    Returns
    -------
    Tensor, shape (N, O, OL), OL = floor((L + 2*P - D*(K-1) - 1) / S) + 1
    """
    input = float_tensor_arg(input, "input", 3)
    weight = float_tensor_arg(weight, "weight", 3)
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias,
                 stride=(1,) + ntuple(stride, 1, "stride"),
                 padding=(0,) + ntuple(padding, 1, "padding"),
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


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d`` (padding counts as -inf).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default kernel_size
    padding : int or (int, int), at most half the kernel size

    Returns
    -------
    Tensor, shape (N, C, OH, OW), OH = floor((H + 2*PH - KH) / SH) + 1
    """
    input = float_tensor_arg(input, "input", 4)
    return MaxPool2dFn.apply(input, kernel_size, stride, padding)


class AvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, count_include_pad):
        ctx.args = (x.shape, kernel_size, stride, padding, count_include_pad)
        return K.avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad)

    @staticmethod
    def backward(ctx, grad_out):
        # each output's gradient is spread evenly (/ divisor) over its window
        return K.avg_pool2d_backward(grad_out, *ctx.args), None, None, None, None


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default kernel_size
    padding : int or (int, int), at most half the kernel size
    count_include_pad : bool
        Count the zero padding in the divisor (then always KH*KW), as PyTorch by default.

    Returns
    -------
    Tensor, shape (N, C, OH, OW)
    """
    input = float_tensor_arg(input, "input", 4)
    return AvgPool2dFn.apply(input, kernel_size, stride, padding, count_include_pad)


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
        # y = x * mask / (1-p): dy/dx = mask / (1-p), already folded into the mask
        return grad_out * ctx.mask, None


def dropout(input, p=0.5, training=True):
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p).

    The mask is drawn from ``minicnn.rng.get_rng()``, so ``minicnn.manual_seed`` makes it
    reproducible. With ``training=False`` (or ``p=0``) the input is returned unchanged.

    Parameters
    ----------
    input : Tensor, any shape
    p : float in [0, 1]
    training : bool

    Returns
    -------
    Tensor, same shape
    """
    input = float_tensor_arg(input, "input")
    p = check_real(p, "p")
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability p must be in [0, 1], got {p!r}")
    if not training or p == 0:
        return input
    if p == 1:
        mask = np.zeros(input.shape, dtype=input.dtype)
    else:
        keep = get_rng().random(input.shape) >= p
        mask = keep.astype(input.dtype) / input.dtype.type(1 - p)
    return DropoutFn.apply(input, mask)


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------

def _class_targets(target, input):
    """Check class-index targets for an (N, C) input; return them as an int64 ndarray."""
    if input.ndim != 2:
        raise ValueError(f"input must be 2-D (N, C) scores, got shape {input.shape}")
    if isinstance(target, Tensor):
        target = target.data
    elif isinstance(target, (list, tuple)):
        target = np.asarray(target)
    if not isinstance(target, np.ndarray):
        raise TypeError(f"target must be a Tensor or ndarray of class indices, got "
                        f"{type(target).__name__}")
    N, C = input.shape
    if target.dtype.kind not in "iu":
        raise TypeError(f"target must be integer class indices (e.g. int64), got dtype "
                        f"{target.dtype}; build it with minicnn.tensor(labels) from integer "
                        f"labels, or .long()")
    if target.shape != (N,):
        raise ValueError(f"target must have shape (N,) = ({N},) to match input {input.shape}, "
                         f"got {target.shape}")
    if N and (target.min() < 0 or target.max() >= C):
        raise ValueError(f"target values must be class indices in [0, C) = [0, {C}), got "
                         f"values from {target.min()} to {target.max()}")
    return target.astype(np.int64, copy=False)


class CrossEntropyFn(Function):
    @staticmethod
    def forward(ctx, x, target, reduction):
        logp = _log_softmax(x, 1)
        rows = np.arange(x.shape[0])
        ctx.logp, ctx.target, ctx.reduction = logp, target, reduction
        return _reduce(-logp[rows, target], reduction)

    @staticmethod
    def backward(ctx, grad_out):
        # d(-log softmax(x)_t)/dx = softmax(x) - onehot(t), times the reduction's weight
        grad = np.exp(ctx.logp)
        grad[np.arange(len(ctx.target)), ctx.target] -= 1
        weight = _reduction_grad(grad_out, ctx.target.shape, ctx.reduction)
        return grad * weight[:, None], None, None


def cross_entropy(input, target, reduction="mean"):
    """Softmax cross-entropy of raw scores against class indices, as ``F.cross_entropy``.

    One fused, numerically stable op (log-softmax by the max-shift, no log of 0): finite for
    logits of any size, with gradient (softmax - onehot) / N for ``reduction='mean'``.

    Parameters
    ----------
    input : Tensor, shape (N, C)
        Unnormalised scores (logits).
    target : Tensor or ndarray of int, shape (N,)
        Class indices in [0, C).
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor: a scalar, or shape (N,) for ``reduction='none'``
    """
    input = float_tensor_arg(input, "input")
    _check_reduction(reduction)
    return CrossEntropyFn.apply(input, _class_targets(target, input), reduction)


class NLLLossFn(Function):
    @staticmethod
    def forward(ctx, x, target, reduction):
        ctx.x_shape, ctx.target, ctx.reduction = x.shape, target, reduction
        return _reduce(-x[np.arange(x.shape[0]), target], reduction)

    @staticmethod
    def backward(ctx, grad_out):
        # d(-x[n, t_n])/dx = -onehot(t), times the reduction's weight
        grad = np.zeros(ctx.x_shape, dtype=grad_out.dtype)
        weight = _reduction_grad(grad_out, ctx.target.shape, ctx.reduction)
        grad[np.arange(len(ctx.target)), ctx.target] = -weight
        return grad, None, None


def nll_loss(input, target, reduction="mean"):
    """Negative log-likelihood of log-probabilities against class indices, as ``F.nll_loss``.

    ``nll_loss(log_softmax(x, 1), t)`` equals ``cross_entropy(x, t)``.

    Parameters
    ----------
    input : Tensor, shape (N, C)
        Log-probabilities.
    target : Tensor or ndarray of int, shape (N,)
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor: a scalar, or shape (N,) for ``reduction='none'``
    """
    input = float_tensor_arg(input, "input")
    _check_reduction(reduction)
    return NLLLossFn.apply(input, _class_targets(target, input), reduction)


class MSELossFn(Function):
    @staticmethod
    def forward(ctx, x, target, reduction):
        diff = x - target
        ctx.diff, ctx.reduction = diff, reduction
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx, grad_out):
        # d(x - t)^2/dx = 2 (x - t), d/dt = -2 (x - t), times the reduction's weight
        grad = 2 * ctx.diff * _reduction_grad(grad_out, ctx.diff.shape, ctx.reduction)
        return (grad if ctx.needs_input_grad[0] else None,
                -grad if ctx.needs_input_grad[1] else None, None)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error, as ``torch.nn.functional.mse_loss``.

    Parameters
    ----------
    input : Tensor, any shape
    target : Tensor or ndarray, same shape and dtype (it may require grad too)
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor: a scalar, or the input's shape for ``reduction='none'``
    """
    input = float_tensor_arg(input, "input")
    target = float_tensor_arg(target, "target")
    if target.shape != input.shape:
        raise ValueError(f"target must have the input's shape {input.shape}, got "
                         f"{target.shape}")
    if target.dtype != input.dtype:
        raise TypeError(f"target has dtype {target.dtype} but input has {input.dtype}")
    _check_reduction(reduction)
    return MSELossFn.apply(input, target, reduction)
