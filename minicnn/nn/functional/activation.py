"""Activations with a learnable weight (prelu); the value-only ones live in
minicnn/ops/activation.py."""
import numpy as np

from minicnn._tensor import Function, float_tensor_arg

__all__ = ["PreluFn", "prelu"]


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
