"""Layers that rearrange values without learning: Unfold/Fold (sliding blocks) and
PixelShuffle, PixelUnshuffle, ChannelShuffle, mirroring ``torch.nn`` (the ops are in
``nn/functional/fold.py``).

>>> import minicnn, minicnn.nn as nn
>>> nn.Unfold(kernel_size=2)(minicnn.zeros(1, 3, 4, 4)).shape
(1, 12, 9)
"""
from minicnn._checks import check_int, pair
from minicnn.nn import functional as F
from minicnn.nn.module import Module

__all__ = ["Unfold", "Fold", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]


class Unfold(Module):
    """Extract sliding blocks (im2col): ``F.unfold``.

    Unfold is the lowering a convolution uses: ``conv2d(x, w)`` equals
    ``w.reshape(O, -1) @ Unfold(K)(x)`` reshaped to (N, O, OH, OW), one matrix product
    (see docs/convolution.md).

    Parameters
    ----------
    kernel_size, dilation, padding, stride : int or (int, int)
        As Conv2d's.

    Shapes: (N, C, H, W) -> (N, C*KH*KW, L), ``L = OH*OW`` (the number of blocks).
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        for value, name, low in ((kernel_size, "kernel_size", 1), (dilation, "dilation", 1),
                                 (padding, "padding", 0), (stride, "stride", 1)):
            pair(value, name, low)
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        """(N, C, H, W) -> (N, C*KH*KW, L)."""
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Combine sliding blocks into an image (col2im), summing where they overlap: ``F.fold``,
    the transpose of :class:`Unfold` (how a convolution's input gradient is assembled from
    its lowered form).

    Parameters
    ----------
    output_size : int or (int, int)
        (H, W) of the image.
    kernel_size, dilation, padding, stride : int or (int, int)

    Shapes: (N, C*KH*KW, L) -> (N, C, H, W).
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        for value, name, low in ((output_size, "output_size", 1),
                                 (kernel_size, "kernel_size", 1), (dilation, "dilation", 1),
                                 (padding, "padding", 0), (stride, "stride", 1)):
            pair(value, name, low)
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        """(N, C*KH*KW, L) -> (N, C, H, W)."""
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class PixelShuffle(Module):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): ``F.pixel_shuffle`` (sub-pixel upsampling)."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = check_int(upscale_factor, "upscale_factor", 1)

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W): ``F.pixel_unshuffle``, PixelShuffle's inverse."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = check_int(downscale_factor, "downscale_factor", 1)

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleave the channels of ``groups`` groups: ``F.channel_shuffle`` (ShuffleNet).

    Shapes: (N, C, *) -> (N, C, *), C divisible by ``groups``.
    """

    def __init__(self, groups):
        super().__init__()
        self.groups = check_int(groups, "groups", 1)

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
