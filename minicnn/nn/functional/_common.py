"""Helpers shared by nn.functional's ops: unbatched inputs, reductions, channel shapes (the
argument rules are in ``minicnn._checks``)."""
import functools

import numpy as np

from minicnn._tensor import Tensor

__all__ = []


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
