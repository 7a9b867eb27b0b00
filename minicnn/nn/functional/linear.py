"""Linear, flatten and dropout (dropout1d/2d); each Function above its wrapper."""
import warnings

import numpy as np

from minicnn._checks import check_real
from minicnn._tensor import Function, as_tensor_arg, float_tensor_arg
from minicnn.kernels.blas import numpy_blas
from minicnn.nn.functional._common import _check_bias
from minicnn.rng import get_rng

__all__ = ["LinearFn", "linear", "flatten", "DropoutFn", "dropout", "dropout1d", "dropout2d"]


class LinearFn(Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        # PyTorch's grad_fn: addmm (or mm, without a bias) on a matrix, a view of it otherwise
        ctx.grad_fn_name = ("Addmm" if b is not None else "Mm") if x.ndim == 2 else "View"
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
    if name == "dropout2d" and input.ndim in (2, 3, 5):
        # PyTorch still takes these, with a warning: one draw per (dim 0, dim 1) entry
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated in PyTorch: it drops entries of its first two dimensions "
                      "(N, C) as for an (N, C, H, W) input; use dropout or dropout1d "
                      "instead", UserWarning, stacklevel=3)
        ndim = input.ndim
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
