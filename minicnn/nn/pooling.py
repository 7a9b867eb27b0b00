"""Pooling, padding and resampling layers past MaxPool2d/AvgPool2d, mirroring ``torch.nn``:
MaxPool1d, AvgPool1d, MaxUnpool2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d, Upsample
(UpsamplingNearest2d, UpsamplingBilinear2d) and the Pad2d layers.

Each holds its settings and calls ``minicnn.nn.functional``.

>>> import minicnn.nn as nn
>>> nn.AdaptiveAvgPool2d((1, 1))
AdaptiveAvgPool2d(output_size=(1, 1))
"""
from minicnn._checks import check_bool, check_real, ntuple, pair
from minicnn.nn import functional as F
from minicnn.nn.module import Module

__all__ = ["MaxPool1d", "AvgPool1d", "MaxUnpool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Upsample", "UpsamplingNearest2d",
           "UpsamplingBilinear2d",
           "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d"]


class MaxPool1d(Module):
    """1-D max pooling over (N, C, L): ``F.max_pool1d``.

    Parameters
    ----------
    kernel_size : int
    stride : int, optional
        Default: ``kernel_size``.
    padding : int
        At most half the kernel size.
    dilation : int
        Spacing of a window's taps.
    return_indices : bool
        Also return where each maximum came from (positions along L).
    ceil_mode : bool
        Round the output size up (a last, partial window).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size", 1)[0]
        self.stride = self.kernel_size if stride is None else ntuple(stride, 1, "stride", 1)[0]
        self.padding = ntuple(padding, 1, "padding", 0)[0]
        self.dilation = ntuple(dilation, 1, "dilation", 1)[0]
        self.return_indices = check_bool(return_indices, "return_indices")
        self.ceil_mode = check_bool(ceil_mode, "ceil_mode")

    def forward(self, input):
        """(N, C, L) -> (N, C, OL) (and the indices, with ``return_indices``)."""
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """1-D average pooling over (N, C, L): ``F.avg_pool1d``.

    Parameters as :class:`MaxPool1d` (no dilation or indices), and ``count_include_pad``
    (bool, default True: the zero padding counts in the divisor).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else ntuple(stride, 1, "stride", 1)
        self.padding = ntuple(padding, 1, "padding", 0)
        self.ceil_mode = check_bool(ceil_mode, "ceil_mode")
        self.count_include_pad = check_bool(count_include_pad, "count_include_pad")

    def forward(self, input):
        """(N, C, L) -> (N, C, OL)."""
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool2d(Module):
    """Undo a MaxPool2d(return_indices=True): each value back at its index, zeros elsewhere
    (``F.max_unpool2d``).

    Parameters
    ----------
    kernel_size, stride, padding : int or (int, int)
        Those of the pooling; stride defaults to kernel_size.

    Shapes: (N, C, H, W) and indices of that shape -> (N, C, OH, OW),
    ``OH = (H - 1)*SH - 2*PH + KH`` unless ``output_size`` is given to forward.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", 1)
        self.padding = pair(padding, "padding", 0)

    def forward(self, input, indices, output_size=None):
        """(N, C, H, W), indices -> (N, C, OH, OW)."""
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average-pool (N, C, L) to a fixed ``output_size``: ``F.adaptive_avg_pool1d``."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        """(N, C, L) -> (N, C, output_size)."""
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    """Average-pool (N, C, H, W) to a fixed ``output_size`` whatever H and W are:
    ``F.adaptive_avg_pool2d``.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        None keeps that input size.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        """(N, C, H, W) -> (N, C, OH, OW)."""
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Max-pool (N, C, H, W) to a fixed ``output_size``: ``F.adaptive_max_pool2d``;
    ``return_indices=True`` also returns where each maximum came from."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = check_bool(return_indices, "return_indices")

    def forward(self, input):
        """(N, C, H, W) -> (N, C, OH, OW) (and the indices, with ``return_indices``)."""
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max-pool (N, C, L) to a fixed ``output_size``: ``F.adaptive_max_pool1d``."""

    def forward(self, input):
        """(N, C, L) -> (N, C, output_size) (and the indices, with ``return_indices``)."""
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class Upsample(Module):
    """Resize (N, C, L) or (N, C, H, W): ``F.interpolate``.

    Parameters
    ----------
    size : int or tuple of int, optional
    scale_factor : float or tuple of float, optional
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'area'}
    align_corners : bool, optional
    recompute_scale_factor : bool, optional
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        """(N, C, *in_size) -> (N, C, *out_size)."""
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        what = (f"scale_factor={float(self.scale_factor)!r}"
                if self.scale_factor is not None and not isinstance(self.scale_factor, tuple)
                else f"size={self.size}" if self.size is not None
                else f"scale_factor={self.scale_factor}")
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` under its older name, as PyTorch's."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` under its older
    name, as PyTorch's (note the corners aligned, unlike ``F.interpolate``'s default)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _Pad2d(Module):
    _mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = ntuple(padding, 4, "padding", None)   # (left, right, top, bottom)
        self.value = value

    def forward(self, input):
        """(N, C, H, W) -> (N, C, H + top + bottom, W + left + right)."""
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(_Pad2d):
    """Pad with zeros: ``padding`` an int or (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad2d(_Pad2d):
    """Pad with ``value``: ``padding`` an int or (left, right, top, bottom)."""

    def __init__(self, padding, value):
        super().__init__(padding, check_real(value, "value"))

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ReflectionPad2d(_Pad2d):
    """Pad by mirroring (without repeating the edge): ``padding`` int or 4-tuple."""

    _mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Pad by repeating the edge: ``padding`` int or 4-tuple."""

    _mode = "replicate"
