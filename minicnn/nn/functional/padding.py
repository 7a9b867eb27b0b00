"""Padding (F.pad), and the one-axis gather Function that padding, interpolation and adaptive
pooling share."""
import numpy as np

from minicnn._checks import check_int, check_real
from minicnn._tensor import Function, float_tensor_arg

__all__ = ["AxisResampleFn", "pad"]


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


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
