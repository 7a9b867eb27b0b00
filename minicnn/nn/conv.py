"""The convolution layers as Modules, mirroring ``torch.nn``: Conv1d, Conv2d, ConvTranspose1d,
ConvTranspose2d (their lazy forms are in ``lazy.py``; the ops in ``nn/functional/conv.py``).

Each layer checks its settings when built, holds them and its Parameters, and delegates the
computation to ``minicnn.nn.functional``; this file keeps state and calls those ops. The
settings reach the ops already checked (a ``ConvArgs``, kept until one of them changes), so a
forward pass checks only what the input adds.

>>> import minicnn.nn as nn
>>> nn.Conv2d(1, 4, 3, padding=1)
Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
"""
import numpy as np

from minicnn._checks import (check_bool, check_int, check_output_padding, factory_dtype,
                             ntuple)
from minicnn.nn import functional as F
from minicnn.nn.functional.conv import (_conv1d_layer, _conv2d_layer, _conv_transpose1d_layer,
                                        _conv_transpose2d_layer, conv_args)
from minicnn.nn.init import _reset_weight_and_bias
from minicnn.nn.module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]


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
        check_output_padding(self.output_padding, self.stride)
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
        """The input to convolve (pre-padded by F.pad for a padding_mode other than 'zeros')
        and this layer's checked settings (``_settings``)."""
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice,
                          mode=_PADDING_MODES[self.padding_mode])
        return (input, *self._settings())

    def _settings(self):
        """This layer's settings checked as those of a 2-D conv (a conv1d runs as a conv2d of
        height 1): a ``ConvArgs``, the extra pixel of an even kernel's 'same' padding, and
        the output_padding pair (transposed convs).

        Checked on the first call and kept for as long as they stay the same (assigning
        ``stride``, ``padding``... makes the next call check them again).
        """
        key = tuple(tuple(v) if isinstance(v, list) else v for v in (  # a list may change
            self.stride, self.padding, self.dilation, self.groups, self.padding_mode,
            self.output_padding, tuple(self.weight.shape[2:])))
        cached = self.__dict__.get("_settings_cache")
        if cached is None or cached[0] != key:
            padding = self.padding if self.padding_mode == "zeros" else 0
            n = len(self.kernel_size)
            lead = (1,) * (2 - n)  # what a conv1d adds: stride and dilation 1, no padding
            settings = (lead + ntuple(self.stride, n, "stride", 1),
                        padding if isinstance(padding, str)
                        else (0,) * (2 - n) + ntuple(padding, n, "padding", 0),
                        lead + ntuple(self.dilation, n, "dilation", 1))
            args, extra = conv_args(*settings, self.groups, lead + key[-1])
            output_padding = (0,) * (2 - n) + ntuple(self.output_padding, n, "output_padding", 0)
            cached = self._settings_cache = (key, args, extra, output_padding)
        return cached[1:]

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
        input, args, extra, _ = self._conv_args(input)
        return _conv2d_layer(input, self.weight, self.bias, args, extra)


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
        input, args, extra, _ = self._conv_args(input)
        return _conv1d_layer(input, self.weight, self.bias, args, extra)


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
        args, _, output_padding = self._settings()
        if output_size is not None:
            output_padding = self._output_padding(input, output_size)
        return _conv_transpose2d_layer(input, self.weight, self.bias, args, output_padding)

    def _output_padding(self, input, output_size):
        """The output_padding that gives ``output_size``; PyTorch's rule: each requested size
        lies in [smallest, smallest + stride - 1]."""
        k = len(self.kernel_size)
        sizes = tuple(output_size)[-k:]
        if len(sizes) != k:
            raise ValueError(f"output_size must have {k} or {k + 2} elements, got "
                             f"{tuple(output_size)}")
        padding = []
        spatial = tuple(input.shape[-k:])  # batched or not
        for a, size in enumerate(sizes):
            size = check_int(size, "output_size", 1)
            smallest = ((spatial[a] - 1) * self.stride[a] - 2 * self.padding[a]
                        + self.dilation[a] * (self.kernel_size[a] - 1) + 1)
            if not smallest <= size < smallest + self.stride[a]:
                raise ValueError(f"requested an output size of {tuple(sizes)}, but valid "
                                 f"sizes range from {smallest} to "
                                 f"{smallest + self.stride[a] - 1} (for an input of "
                                 f"{spatial}) on dimension {a}")
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
        args, _, output_padding = self._settings()
        if output_size is not None:
            output_padding = (0,) + self._output_padding(input, output_size)
        return _conv_transpose1d_layer(input, self.weight, self.bias, args, output_padding)
