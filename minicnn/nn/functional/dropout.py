"""Dropout: dropout (inverted, one draw per element), dropout1d and dropout2d (one draw per
channel); the Function above its wrappers. The masks come from ``minicnn.rng.get_rng()``."""
import warnings

import numpy as np

from minicnn._checks import check_real
from minicnn._tensor import Function, float_tensor_arg
from minicnn.rng import get_rng

__all__ = ["DropoutFn", "dropout", "dropout1d", "dropout2d"]


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
