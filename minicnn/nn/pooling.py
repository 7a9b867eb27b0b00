"""The pooling layers as Modules, mirroring ``torch.nn``: MaxPool2d, AvgPool2d, MaxPool1d,
AvgPool1d, MaxUnpool2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d.

Each holds its settings and calls ``minicnn.nn.functional`` (``nn/functional/pooling.py``).

>>> import minicnn.nn as nn
>>> nn.AdaptiveAvgPool2d((1, 1))
AdaptiveAvgPool2d(output_size=(1, 1))
"""
from minicnn._checks import check_bool, check_int, ntuple, pair
from minicnn.kernels import PoolGeometry
from minicnn.nn import functional as F
from minicnn.nn.module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "MaxUnpool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]


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
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


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
