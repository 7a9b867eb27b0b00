"""The upsampling layers as Modules, mirroring ``torch.nn``: Upsample, and its older names
UpsamplingNearest2d and UpsamplingBilinear2d (``F.interpolate``, in
``nn/functional/upsampling.py``).

>>> import minicnn.nn as nn
>>> nn.Upsample(scale_factor=2)
Upsample(scale_factor=2.0, mode='nearest')
"""
from minicnn.nn import functional as F
from minicnn.nn.module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


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
