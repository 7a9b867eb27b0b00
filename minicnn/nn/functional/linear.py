"""Linear and flatten; the Function above its wrapper."""
from minicnn._checks import check_bias
from minicnn._tensor import Function, as_tensor_arg, float_tensor_arg
from minicnn.kernels.blas import numpy_blas

__all__ = ["LinearFn", "linear", "flatten"]


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
    bias = check_bias(bias, weight.shape[0], input.dtype)
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
