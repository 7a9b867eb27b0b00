"""The activation layers as Modules, mirroring ``torch.nn``: ReLU, LeakyReLU, Sigmoid, Tanh,
GELU, ELU, SELU, SiLU, Softplus, Hardtanh, ReLU6, PReLU, Softmax, LogSoftmax.

Each holds its settings (and PReLU its slopes) and calls ``minicnn.nn.functional``.
``inplace=True`` is accepted where PyTorch has it; the result is computed out of place.

>>> import minicnn.nn as nn
>>> nn.Hardtanh(-2.0, 2.0)
Hardtanh(min_val=-2.0, max_val=2.0)
"""
import warnings

import numpy as np

from minicnn._checks import check_bool, check_int, check_real, factory_dtype
from minicnn.nn import functional as F
from minicnn.nn.module import Module, Parameter
from minicnn.ops.activation import check_approximate

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "ELU", "SELU", "SiLU", "Softplus",
           "Hardtanh", "ReLU6", "PReLU", "Softmax", "LogSoftmax"]


class ReLU(Module):
    """``max(x, 0)`` elementwise; any shape.

    Parameters
    ----------
    inplace : bool
        Accepted as in PyTorch; the result is computed out of place.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = check_bool(inplace, "inplace")

    def forward(self, input):
        """Any shape -> same shape."""
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x`` elementwise; any shape.

    Parameters
    ----------
    negative_slope : float
        Slope for negative inputs (default 0.01).
    inplace : bool
        Accepted as in PyTorch; the result is computed out of place.
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = check_real(negative_slope, "negative_slope")
        self.inplace = check_bool(inplace, "inplace")

    def forward(self, input):
        """Any shape -> same shape."""
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise; any shape."""

    def forward(self, input):
        """Any shape -> same shape."""
        return F.sigmoid(input)


class Tanh(Module):
    """``tanh(x)`` elementwise; any shape."""

    def forward(self, input):
        """Any shape -> same shape."""
        return F.tanh(input)


class GELU(Module):
    """``x * Phi(x)`` elementwise (Phi the standard normal CDF); any shape.

    Parameters
    ----------
    approximate : {"none", "tanh"}
        ``"tanh"`` uses PyTorch's tanh approximation (see ``minicnn.ops.gelu``).
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = check_approximate(approximate)

    def forward(self, input):
        """Any shape -> same shape."""
        return F.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class _Inplace(Module):
    """An activation with PyTorch's ``inplace`` flag (accepted; computed out of place)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = check_bool(inplace, "inplace")

    def _inplace_repr(self):
        return "inplace=True" if self.inplace else ""


class ELU(_Inplace):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``; any shape.

    Parameters
    ----------
    alpha : float
    inplace : bool
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = check_real(alpha, "alpha")

    def forward(self, input):
        """Any shape -> same shape."""
        return F.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(_Inplace):
    """Scaled ELU with the self-normalising constants (alpha ≈ 1.6733, scale ≈ 1.0507)."""

    def forward(self, input):
        """Any shape -> same shape."""
        return F.selu(input)

    extra_repr = _Inplace._inplace_repr


class SiLU(_Inplace):
    """``x * sigmoid(x)`` (swish); any shape."""

    def forward(self, input):
        """Any shape -> same shape."""
        return F.silu(input)

    extra_repr = _Inplace._inplace_repr


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``; any shape.

    Parameters
    ----------
    beta : float
    threshold : float
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = check_real(beta, "beta")
        self.threshold = check_real(threshold, "threshold")

    def forward(self, input):
        """Any shape -> same shape."""
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(_Inplace):
    """``clip(x, min_val, max_val)``; any shape.

    Parameters
    ----------
    min_val, max_val : float
        ``min_val <= max_val``.
    inplace : bool
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace)
        self.min_val = check_real(min_val, "min_val")
        self.max_val = check_real(max_val, "max_val")
        if self.max_val < self.min_val:
            raise ValueError(f"max_val ({self.max_val}) must be >= min_val ({self.min_val})")

    def forward(self, input):
        """Any shape -> same shape."""
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``; any shape."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return self._inplace_repr()


class PReLU(Module):
    """``x`` if ``x > 0`` else ``a * x`` with learnt slopes ``a``.

    Parameters
    ----------
    num_parameters : int
        1 (one slope shared by every channel) or C (one per channel, dim 1 of the input).
    init : float
        Initial slope (0.25).
    device, dtype : ``'cpu'`` only; float32 or float64 (the default dtype if None)

    Attributes
    ----------
    weight : Parameter, shape (num_parameters,)
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = check_int(num_parameters, "num_parameters", 1)
        self.init = check_real(init, "init")
        self.weight = Parameter(np.full(self.num_parameters, self.init,
                                        dtype=factory_dtype(device, dtype)))

    def reset_parameters(self):
        """Every slope back to ``init``."""
        self.weight._data[...] = self.init

    def forward(self, input):
        """(N, C, *) or any shape with one slope -> same shape."""
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


def _softmax_dim(name, ndim):
    # PyTorch's legacy rule for dim=None, with its warning
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``dim``.

    Parameters
    ----------
    dim : int or None
        None picks PyTorch's legacy default (0 for 0-, 1- and 3-D inputs, else 1) with a
        UserWarning.
    """

    _name = "softmax"

    def __init__(self, dim=None):
        super().__init__()
        self.dim = None if dim is None else check_int(dim, "dim")

    def _dim(self, input):
        return self.dim if self.dim is not None else _softmax_dim(self._name, input.ndim)

    def forward(self, input):
        """Any shape -> same shape."""
        return F.softmax(input, self._dim(input))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``log(softmax(x))`` along ``dim``, computed stably. Parameters as :class:`Softmax`."""

    _name = "log_softmax"

    def forward(self, input):
        """Any shape -> same shape."""
        return F.log_softmax(input, self._dim(input))
