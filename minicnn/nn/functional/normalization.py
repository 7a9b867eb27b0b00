"""Normalisation: batch_norm, layer_norm, group_norm (one backward for the three; derived in
docs/backprop.md), and instance_norm (batch norm of the samples' channels side by side)."""
import numpy as np

from minicnn import kernels
from minicnn._checks import check_int, check_real, ntuple
from minicnn._tensor import Function, Tensor, float_tensor_arg
from minicnn.nn.functional._common import _channel_shape

__all__ = ["BatchNormFn", "batch_norm", "LayerNormFn", "layer_norm", "GroupNormFn", "group_norm",
           "instance_norm"]


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


def _affine_backward(ctx, grad_out, xhat, reduce_axes, shape):
    """grad_w = sum(grad_out * x_hat), grad_b = sum(grad_out), over ``reduce_axes``."""
    need_w, need_b = ctx.needs_input_grad[1:3]
    grad_w = (grad_out * xhat).sum(axis=reduce_axes).reshape(shape) if need_w else None
    grad_b = grad_out.sum(axis=reduce_axes).reshape(shape) if need_b else None
    return grad_w, grad_b


class BatchNormFn(Function):
    """y = (x - mean) * rstd * w + b per channel, on the kernels' seam (minicnn.kernels:
    per-channel sums in float64 on the fast backend, the NumPy twins in kernels/reference.py on
    the reference one). The formulas are those of _normalize and _normalize_backward above,
    written per channel; docs/backprop.md derives them."""

    @staticmethod
    def forward(ctx, x, w, b, running_mean, running_var, training, momentum, eps):
        if training:
            mean, var = kernels.batch_norm_stats(x)          # float64, biased var
            count = x.size // x.shape[1]
            if running_mean is not None:  # in place: the module's buffers see the update
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype)
            if running_var is not None:
                # the running variance is the unbiased one (n / (n - 1)), as PyTorch
                running_var *= 1 - momentum
                running_var += (momentum * var * (count / (count - 1))).astype(running_var.dtype)
        else:
            mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
        # The statistics in x's dtype, as the normalisation uses them (float32 for float32 x).
        rstd = 1 / np.sqrt(var.astype(x.dtype) + x.dtype.type(eps))
        alpha = rstd if w is None else rstd * w
        beta = -mean.astype(x.dtype) * alpha + (0 if b is None else b)
        ctx.saved = (x, mean, rstd.astype(np.float64), training, w)
        # y = x * alpha + beta: one pass (alpha = w * rstd, beta = b - mean * alpha)
        return kernels.channel_affine(x, alpha, beta)

    @staticmethod
    def backward(ctx, grad_out):
        # Train: the statistics depend on x, so with g = grad_out * w and x_hat = (x - mean) *
        # rstd, grad_x = rstd * (g - mean(g) - x_hat * mean(g * x_hat)) (means per channel);
        # eval: they are constants, grad_x = g * rstd. grad_w = sum(grad_out * x_hat),
        # grad_b = sum(grad_out) in both.
        x, mean, rstd, training, w = ctx.saved
        grad_x, grad_w, grad_b = kernels.batch_norm_backward(grad_out, x, mean, rstd, w,
                                                             training)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        return (grad_x if need_x else None, grad_w if need_w else None,
                grad_b if need_b else None, None, None, None, None, None)


def _buffer_array(value, name, channels):
    if value is None:
        return None
    data = value._data if isinstance(value, Tensor) else value
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


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalisation, as ``torch.nn.functional.instance_norm``: each sample's each
    channel normalised over its own positions, then a per-channel ``weight`` and ``bias``.

    As PyTorch computes it: batch norm of the input seen as one sample of N*C channels
    ``(1, N*C, *)`` (so it runs on the batch-norm kernels), the affine parameters repeated for
    each sample. With ``use_input_stats=False`` the running statistics normalise instead; with
    running statistics given and ``use_input_stats``, they are updated with the average over the
    samples of each channel's statistics.
    """
    input = float_tensor_arg(input, "input")
    if input.ndim < 3:
        raise ValueError(f"instance_norm expects an input of shape (N, C, *) with positions, "
                         f"got {input.shape}")
    N, C = input.shape[:2]
    mean = _buffer_array(running_mean, "running_mean", C)
    var = _buffer_array(running_var, "running_var", C)
    if not use_input_stats and (mean is None or var is None):
        raise ValueError("instance_norm with use_input_stats=False needs running_mean and "
                         "running_var")
    weight, bias = _norm_affine(weight, bias, (C,), input.dtype)
    tiled = [None if v is None else np.tile(v, N) for v in (mean, var)]
    out = batch_norm(input.reshape(1, N * C, *input.shape[2:]), tiled[0], tiled[1],
                     None if weight is None else weight.repeat(N),
                     None if bias is None else bias.repeat(N), bool(use_input_stats), momentum,
                     eps)
    for buffer, updated in zip((mean, var), tiled):
        if buffer is not None and use_input_stats:
            buffer[...] = updated.reshape(N, C).mean(axis=0)
    return out.reshape(input.shape)
