"""The padding layers as Modules, mirroring ``torch.nn``: ZeroPad2d, ConstantPad2d,
ReflectionPad2d, ReplicationPad2d (``F.pad``, in ``nn/functional/padding.py``).

>>> import minicnn.nn as nn
>>> nn.ZeroPad2d((1, 1, 2, 0))
ZeroPad2d((1, 1, 2, 0))
"""
from minicnn._checks import check_real, ntuple
from minicnn.nn import functional as F
from minicnn.nn.module import Module

__all__ = ["ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d"]


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
