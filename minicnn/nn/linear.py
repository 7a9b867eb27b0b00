"""Linear and the reshaping layers as Modules, mirroring ``torch.nn``: Linear, Identity,
Flatten, Unflatten (LazyLinear is in ``lazy.py``; the ops in ``nn/functional/linear.py``).

>>> import minicnn.nn as nn
>>> nn.Linear(4, 3)
Linear(in_features=4, out_features=3, bias=True)
"""
import numpy as np

from minicnn._checks import check_bool, check_dim, check_int, factory_dtype
from minicnn.nn import functional as F
from minicnn.nn.init import _reset_weight_and_bias
from minicnn.nn.module import Module, Parameter

__all__ = ["Linear", "Identity", "Flatten", "Unflatten"]


class Linear(Module):
    """Fully connected layer: ``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features : int
        >= 1.
    bias : bool
    device, dtype : as Conv2d's (``'cpu'`` only; float32 or float64, the default dtype if None)

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
    bias : Parameter of shape (out_features,), or None

    Shapes: (N, *, in_features) -> (N, *, out_features).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.out_features = check_int(out_features, "out_features", 1)
        bias = check_bool(bias, "bias")
        dtype = factory_dtype(device, dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((self.out_features,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: weight Kaiming-uniform (a=√5), bias U(±1/√in_features)."""
        _reset_weight_and_bias(self)

    def forward(self, input):
        """(N, *, in_features) -> (N, *, out_features)."""
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Return the input unchanged (any arguments to the constructor are ignored, as PyTorch):
    a placeholder, e.g. to remove a layer from a pretrained model."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        """Any shape -> the same tensor."""
        return input


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default.

    Parameters
    ----------
    start_dim, end_dim : int
        First and last dimension to merge (negative counts from the end).
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = check_int(start_dim, "start_dim")
        self.end_dim = check_int(end_dim, "end_dim")

    def forward(self, input):
        """(d0, ..., d_start, ..., d_end, ...) -> (d0, ..., d_start*...*d_end, ...)."""
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: (N, C*H*W) -> (N, C, H, W).

    Parameters
    ----------
    dim : int
    unflattened_size : tuple of int
        Its product must equal the size of ``dim``; one entry may be -1.
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = check_int(dim, "dim")
        if not isinstance(unflattened_size, (tuple, list)) or not unflattened_size:
            raise TypeError(f"unflattened_size must be a tuple of ints, got "
                            f"{unflattened_size!r}")
        self.unflattened_size = tuple(check_int(s, "unflattened_size", -1)
                                      for s in unflattened_size)

    def forward(self, input):
        """(..., d, ...) -> (..., *unflattened_size, ...)."""
        dim = check_dim(self.dim, input.ndim)
        return input.reshape(input.shape[:dim] + self.unflattened_size + input.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
