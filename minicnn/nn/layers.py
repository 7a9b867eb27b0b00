"""The layers as Modules: convolutions, pooling, Linear, Flatten, the first activations and
Dropout, mirroring ``torch.nn`` (the losses are in ``loss.py``).

Each layer checks its settings when built, holds them and its Parameters, and delegates the
computation to ``minicnn.nn.functional``; this file keeps state and calls those ops.

>>> import minicnn.nn as nn
>>> nn.Conv2d(1, 4, 3, padding=1)
Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
"""
import math

import numpy as np

from minicnn._checks import (check_bool, check_dim, check_int, check_real, factory_dtype,
                             ntuple, pair)
from minicnn.kernels import PoolGeometry
from minicnn.nn import functional as F
from minicnn.nn import init
from minicnn.nn.module import Module, Parameter
from minicnn.ops.activation import check_approximate

__all__ = [
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d",
    "Linear", "Flatten",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Dropout", "Dropout1d", "Dropout2d",
    "Identity", "Unflatten",
]


def _reset_weight_and_bias(module):
    """PyTorch's default init of a layer's ``weight`` and optional ``bias`` (Conv*, Linear):
    weight Kaiming-uniform (a=√5), so |w| <= 1/√fan_in, and bias U(-1/√fan_in, 1/√fan_in),
    with fan_in from the weight shape."""
    init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(module.bias, -bound, bound)


# ---------------------------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------------------------

_PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                  "circular": "circular"}


class _ConvNd(Module):
    """Shared by Conv1d, Conv2d and ConvTranspose2d: validation, parameters, init, repr."""

    def __init__(self, n, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, device, dtype, transposed=False, output_padding=0,
                 padding_mode="zeros"):
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.out_channels = check_int(out_channels, "out_channels", 1)
        self.groups = check_int(groups, "groups", 1)
        if self.in_channels % self.groups:
            raise ValueError(f"in_channels ({self.in_channels}) must be divisible by groups "
                             f"({self.groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"out_channels ({self.out_channels}) must be divisible by groups "
                             f"({self.groups})")
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", 1)
        self.stride = ntuple(stride, n, "stride", 1)
        self.dilation = ntuple(dilation, n, "dilation", 1)
        if isinstance(padding, str) and not transposed:
            # 'valid' or 'same' (checked, stride 1) kept as the string, as PyTorch
            left, extra = F._string_padding(padding, self.kernel_size, self.dilation,
                                            self.stride)
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, "padding", 0)
            left, extra = self.padding, (0,) * n
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {sorted(_PADDING_MODES)}, got "
                             f"{padding_mode!r}")
        if transposed and padding_mode != "zeros":
            raise ValueError(f"Only 'zeros' padding mode is supported for {type(self).__name__}")
        self.padding_mode = padding_mode
        # F.pad's order: last axis first, (left, right) each
        self._reversed_padding_repeated_twice = tuple(
            v for lo, ex in zip(reversed(left), reversed(extra)) for v in (lo, lo + ex))
        self.transposed = transposed
        self.output_padding = ntuple(output_padding, n, "output_padding", 0)
        F._check_output_padding(self.output_padding, self.stride)
        bias = check_bool(bias, "bias")
        dtype = factory_dtype(device, dtype)
        if transposed:  # (C, O/G, *K): the weight of the conv whose backward this is
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:           # (O, C/G, *K)
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((self.out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default init: weight Kaiming-uniform (a=√5), so |w| <= 1/√fan_in, and
        bias U(-1/√fan_in, 1/√fan_in), with fan_in from the weight shape."""
        _reset_weight_and_bias(self)

    def _conv_args(self, input):
        """The input and padding to convolve with: pre-padded by F.pad for a padding_mode
        other than 'zeros' (then the convolution itself pads nothing)."""
        if self.padding_mode == "zeros":
            return input, self.padding
        input = F.pad(input, self._reversed_padding_repeated_twice,
                      mode=_PADDING_MODES[self.padding_mode])
        return input, 0

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if isinstance(self.padding, str):
            s += f", padding={self.padding}"
        elif self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as every framework): ``F.conv2d`` with a learnt
    weight and bias.

    Parameters
    ----------
    in_channels, out_channels : int
        C and O; both divisible by ``groups``.
    kernel_size : int or (int, int)
        (KH, KW), >= 1.
    stride : int or (int, int)
        >= 1.
    padding : int, (int, int), 'valid' or 'same'
        Added on both sides, >= 0; 'same' (stride 1) keeps H and W, as PyTorch.
    dilation : int or (int, int)
        Spacing between kernel taps, >= 1.
    groups : int
        Split channels into G independent groups.
    bias : bool
        Learn a per-output-channel bias.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        What the padding holds (``F.pad``'s modes).
    device : None or 'cpu'
        Any other device is a RuntimeError (minicnn computes on the CPU).
    dtype : {None, minicnn.float32, minicnn.float64}
        Parameter dtype (default: ``minicnn.get_default_dtype()``, float32 unless changed).

    Attributes
    ----------
    weight : Parameter, shape (O, C/G, KH, KW)
    bias : Parameter of shape (O,), or None

    Shapes: input (N, C, H, W) -> output (N, O, OH, OW),
    ``OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1`` (likewise OW).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, device, dtype, padding_mode=padding_mode)

    def forward(self, input):
        """(N, C, H, W) -> (N, O, OH, OW)."""
        input, padding = self._conv_args(input)
        return F.conv2d(input, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) inputs (``F.conv1d``, a conv2d of unit height).

    Parameters
    ----------
    in_channels, out_channels : int
        C and O; both divisible by ``groups``.
    kernel_size, stride, padding, dilation : int or (int,)
        As Conv2d, along the one spatial axis (padding may be 'valid' or 'same').
    groups : int
    bias : bool
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    device, dtype : as Conv2d's (``'cpu'`` only; float32 or float64, the default dtype if None)

    Attributes
    ----------
    weight : Parameter, shape (O, C/G, K)
    bias : Parameter of shape (O,), or None

    Shapes: input (N, C, L) -> output (N, O, OL), ``OL = floor((L + 2*P - D*(K-1) - 1)/S) + 1``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(1, in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, device, dtype, padding_mode=padding_mode)

    def forward(self, input):
        """(N, C, L) -> (N, O, OL)."""
        input, padding = self._conv_args(input)
        return F.conv1d(input, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input), used
    to upsample.

    Parameters
    ----------
    in_channels, out_channels : int
        C and O; both divisible by ``groups``.
    kernel_size, stride, padding, dilation : int or (int, int)
        Those of the Conv2d this layer is the transpose of.
    output_padding : int or (int, int)
        Extra rows/columns added to one side of the output (to pick among the input sizes a
        strided conv maps to the same output size); smaller than stride (PyTorch also
        allows smaller than dilation; minicnn does not, see ``F.conv_transpose2d``).
    groups : int
    bias : bool
    device, dtype : as Conv2d's (``'cpu'`` only; float32 or float64, the default dtype if None)

    Attributes
    ----------
    weight : Parameter, shape (C, O/G, KH, KW)
        (PyTorch's layout; fan_in for init is therefore O/G*KH*KW, as in PyTorch.)
    bias : Parameter of shape (O,), or None

    Shapes: input (N, C, H, W) -> output (N, O, OH, OW),
    ``OH = (H - 1)*SH - 2*PH + DH*(KH-1) + OPH + 1`` (likewise OW).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, device, dtype, transposed=True,
                         output_padding=output_padding, padding_mode=padding_mode)

    def forward(self, input, output_size=None):
        """(N, C, H, W) -> (N, O, OH, OW); ``output_size`` picks among the sizes a strided
        conv maps to the same input size (it sets the output_padding for this call)."""
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """PyTorch's rule: each requested size lies in [smallest, smallest + stride - 1]."""
        if output_size is None:
            return self.output_padding
        k = len(self.kernel_size)
        sizes = tuple(output_size)[-k:]
        if len(sizes) != k:
            raise ValueError(f"output_size must have {k} or {k + 2} elements, got "
                             f"{tuple(output_size)}")
        padding = []
        for a, size in enumerate(sizes):
            size = check_int(size, "output_size", 1)
            smallest = ((input.shape[2 + a] - 1) * self.stride[a] - 2 * self.padding[a]
                        + self.dilation[a] * (self.kernel_size[a] - 1) + 1)
            if not smallest <= size < smallest + self.stride[a]:
                raise ValueError(f"requested an output size of {tuple(sizes)}, but valid "
                                 f"sizes range from {smallest} to "
                                 f"{smallest + self.stride[a] - 1} (for an input of "
                                 f"{tuple(input.shape[2:])}) on dimension {a}")
            padding.append(size - smallest)
        return tuple(padding)


class ConvTranspose1d(ConvTranspose2d):
    """Transposed 1-D convolution over (N, C, L) (``F.conv_transpose1d``, a transposed conv2d
    of unit height).

    Parameters as :class:`ConvTranspose2d`, along the one spatial axis.

    Attributes
    ----------
    weight : Parameter, shape (C, O/G, K)
    bias : Parameter of shape (O,), or None

    Shapes: (N, C, L) -> (N, O, OL), ``OL = (L - 1)*S - 2*P + D*(K-1) + OP + 1``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        _ConvNd.__init__(self, 1, in_channels, out_channels, kernel_size, stride, padding,
                         dilation, groups, bias, device, dtype, transposed=True,
                         output_padding=output_padding, padding_mode=padding_mode)

    def forward(self, input, output_size=None):
        """(N, C, L) -> (N, O, OL)."""
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

def _pool_args(kernel_size, stride, padding):
    # The kernels' geometry owns the pooling rules (sizes, padding at most half the kernel):
    # check them now, on an input of exactly one window, so a bad layer fails when built
    # rather than on first use.
    PoolGeometry((1, 1) + pair(kernel_size, "kernel_size", 1), kernel_size, stride, padding)
    return kernel_size, (kernel_size if stride is None else stride), padding


class MaxPool2d(Module):
    """2-D max pooling (padding counts as -inf): ``F.max_pool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window (KH, KW), >= 1.
    stride : int or (int, int), optional
        Default: ``kernel_size`` (non-overlapping windows).
    padding : int or (int, int)
        At most half the kernel size.
    dilation : int or (int, int)
        Spacing of a window's taps (values other than 1 take a slower NumPy path).
    return_indices : bool
        Also return where each maximum came from (for ``nn.MaxUnpool2d``).
    ceil_mode : bool
        Round the output size up (a last, partial window).

    Shapes: (N, C, H, W) -> (N, C, OH, OW), ``OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1``.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding)
        pair(dilation, "dilation", 1)
        self.dilation = dilation
        self.return_indices = check_bool(return_indices, "return_indices")
        self.ceil_mode = check_bool(ceil_mode, "ceil_mode")

    def forward(self, input):
        """(N, C, H, W) -> (N, C, OH, OW) (and the indices, with ``return_indices``)."""
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                + (f", dilation={self.dilation}" if self.dilation != 1 else "")
                + (", ceil_mode=True" if self.ceil_mode else ""))


class AvgPool2d(Module):
    """2-D average pooling: ``F.avg_pool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window (KH, KW), >= 1.
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int)
        At most half the kernel size.
    ceil_mode : bool
        Round the output size up (a last, partial window).
    count_include_pad : bool
        Divide by KH*KW everywhere (True, default) or by the number of real pixels.
    divisor_override : int, optional
        Divide every window's sum by this instead.

    Shapes: (N, C, H, W) -> (N, C, OH, OW), ``OH = floor((H + 2*PH - KH) / SH) + 1``.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding)
        self.ceil_mode = check_bool(ceil_mode, "ceil_mode")
        self.count_include_pad = check_bool(count_include_pad, "count_include_pad")
        if divisor_override is not None and check_int(divisor_override,
                                                      "divisor_override") == 0:
            raise ValueError("AvgPool2d: divisor_override must be not zero")
        self.divisor_override = divisor_override

    def forward(self, input):
        """(N, C, H, W) -> (N, C, OH, OW)."""
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                            ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad,
                            divisor_override=self.divisor_override)

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        if self.ceil_mode:
            s += ", ceil_mode=True"
        if not self.count_include_pad:
            s += ", count_include_pad=False"
        return s


# ---------------------------------------------------------------------------------------------
# Linear, reshaping, activations, dropout
# ---------------------------------------------------------------------------------------------

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


class Dropout(Module):
    """Inverted dropout: in training mode zero each element with probability ``p`` and scale
    the rest by ``1/(1-p)``; in eval mode (``model.eval()``) the identity.

    Parameters
    ----------
    p : float
        Drop probability, in [0, 1]. Masks come from ``minicnn.rng.get_rng()``.
    inplace : bool
        Accepted as in PyTorch; the result is computed out of place.
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        p = check_real(p, "p")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p must be between 0 and 1, got {p}")
        self.p = p
        self.inplace = check_bool(inplace, "inplace")

    def forward(self, input):
        """Any shape -> same shape."""
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class _DropoutNd(Dropout):
    """Dropout of whole channels: ``F.dropout1d``/``F.dropout2d``, in training mode only."""

    _fn = None

    def forward(self, input):
        """(N, C, *) -> same shape."""
        return type(self)._fn(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) inputs with probability ``p`` (scale the rest by
    1/(1-p)); the identity in eval mode. Parameters as :class:`Dropout`."""

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps) of (N, C, H, W) inputs with probability ``p``
    (scale the rest by 1/(1-p)); the identity in eval mode. Parameters as :class:`Dropout`."""

    _fn = staticmethod(F.dropout2d)


class Identity(Module):
    """Return the input unchanged (any arguments to the constructor are ignored, as PyTorch):
    a placeholder, e.g. to remove a layer from a pretrained model."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        """Any shape -> the same tensor."""
        return input


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
