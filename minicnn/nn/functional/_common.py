"""Argument and reduction helpers shared by nn.functional's ops."""
import functools

import numpy as np

from minicnn._tensor import Tensor, float_tensor_arg

__all__ = []


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


def unbatched(batched_ndim):
    """Decorator: the op also takes one sample without its batch axis, as PyTorch's do
    (``(C, H, W)`` for a 2-D convolution or pooling, ``(C, L)`` for a 1-D one). It runs on a
    batch of one and drops that axis from the result (from each result, for a tuple)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(input, *args, **kwargs):
            ndim = input.ndim if isinstance(input, Tensor) else None
            if ndim == batched_ndim - 1:
                out = fn(input.unsqueeze(0), *args, **kwargs)
                if isinstance(out, tuple):
                    return tuple(o.squeeze(0) for o in out)
                return out.squeeze(0)
            if ndim is not None and ndim != batched_ndim:
                raise ValueError(f"input must be {batched_ndim - 1}-D (unbatched) or "
                                 f"{batched_ndim}-D (batched), got shape {tuple(input.shape)}")
            return fn(input, *args, **kwargs)
        return wrapper
    return decorate


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


def _channel_shape(x):
    """(1, C, 1, ...) for an (N, C, *) array: per-channel values broadcast against it."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)
