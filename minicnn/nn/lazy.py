"""Lazy layers, which read their input size from the first batch, mirroring ``torch.nn``:
LazyLinear, LazyConv1d/2d, LazyConvTranspose1d/2d, LazyBatchNorm1d/2d, with the placeholders
they hold until then (UninitializedParameter, UninitializedBuffer).

Until the first forward a lazy layer's parameters are placeholders with no shape. That first
call materialises them (the same objects, now of their real shape), initialises them as the
layer's eager class does, and turns the module into that class (``type(m) is nn.Linear``,
PyTorch's ``cls_to_become``). Build the optimizer after one dummy forward, as d2l does:

>>> import minicnn, minicnn.nn as nn
>>> net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
>>> net[0].has_uninitialized_params()
True
>>> _ = net(minicnn.zeros(4, 20))
>>> type(net[0]).__name__, tuple(net[0].weight.shape)
('Linear', (8, 20))
"""
import numpy as np

from minicnn._checks import check_int, float_dtype
from minicnn._tensor import Tensor
from minicnn.autograd import no_grad
from minicnn.nn.layers import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Linear
from minicnn.nn.module import Module, Parameter
from minicnn.nn.normalization import BatchNorm1d, BatchNorm2d

__all__ = ["UninitializedParameter", "UninitializedBuffer", "LazyLinear", "LazyConv1d",
           "LazyConv2d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyBatchNorm1d",
           "LazyBatchNorm2d"]


class _Uninitialized:
    """What the two placeholders share: no shape until ``materialize``."""

    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Give this placeholder an (uninitialised) array of ``shape`` in place and turn it
        into a plain ``cls_to_become`` (Parameter or Tensor): its identity is kept, so an
        optimizer or a module that holds it sees the real tensor."""
        dtype = self._data.dtype if dtype is None else float_dtype(dtype)
        self._data = np.empty(tuple(shape), dtype=dtype)
        self._version_box[0] += 1
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise ValueError("Can't access the shape of an uninitialized parameter or buffer. This "
                         "error usually happens in `load_state_dict` when trying to load an "
                         "uninitialized parameter into an initialized one. Call `forward` to "
                         "initialize the parameters before accessing their attributes.")

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A Parameter whose shape is not known yet (what a lazy layer holds before its first
    forward); ``materialize(shape)`` makes it a Parameter of that shape."""

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(np.empty((0,), dtype=float_dtype(dtype)), requires_grad)


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer whose shape is not known yet (a lazy BatchNorm's running statistics);
    ``materialize(shape)`` makes it a Tensor of that shape."""

    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        super().__init__(np.empty((0,), dtype=float_dtype(dtype)), requires_grad)


class _LazyMixin:
    """Shared by the lazy layers: initialise at the first call, then become ``cls_to_become``.

    Each lazy layer defines ``initialize_parameters(input)``, which materialises its
    placeholders from the input's shape and initialises them."""

    cls_to_become = None

    def has_uninitialized_params(self):
        """Whether this module still holds a placeholder parameter or buffer."""
        return any(isinstance(t, _Uninitialized)
                   for t in list(self._parameters.values()) + list(self._buffers.values()))

    def reset_parameters(self):
        """Nothing to initialise before the shapes are known (the first forward does it)."""
        if not self.has_uninitialized_params():
            self.cls_to_become.reset_parameters(self)

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            with no_grad():
                self.initialize_parameters(*args, **kwargs)
        self.__class__ = self.cls_to_become  # (also when load_state_dict gave the shapes)
        return Module.__call__(self, *args, **kwargs)  # (super() would not follow the class)


class LazyLinear(_LazyMixin, Linear):
    """:class:`Linear` whose ``in_features`` is the last size of the first input.

    Parameters
    ----------
    out_features : int
    bias : bool
    dtype : {None, numpy.float32, numpy.float64}
    """

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        # Linear's checks; its shapes are replaced below
        Linear.__init__(self, 1, out_features, bias, device=device, dtype=dtype)
        self.in_features = 0
        dtype = self.weight.dtype
        self.weight = UninitializedParameter(dtype=dtype)
        if self.bias is not None:
            self.bias = UninitializedParameter(dtype=dtype)

    def initialize_parameters(self, input):
        """Materialise weight (out_features, input.shape[-1]) and bias, with Linear's init."""
        self.in_features = input.shape[-1]
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        Linear.reset_parameters(self)


class _LazyConvMixin(_LazyMixin):
    """Shared by the lazy convolutions: ``in_channels`` from the input's channel axis."""

    def _make_lazy(self):
        self.in_channels = 0
        dtype = self.weight.dtype
        self.weight = UninitializedParameter(dtype=dtype)
        if self.bias is not None:
            self.bias = UninitializedParameter(dtype=dtype)

    def initialize_parameters(self, input, *args, **kwargs):
        """Materialise weight and bias for C = the input's channels, with the eager init."""
        n = len(self.kernel_size)
        C = input.shape[1] if input.ndim == n + 2 else input.shape[0]
        if C % self.groups:
            raise ValueError(f"in_channels ({C}) must be divisible by groups ({self.groups})")
        self.in_channels = C
        if self.transposed:
            shape = (C, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, C // self.groups) + self.kernel_size
        self.weight.materialize(shape)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.cls_to_become.reset_parameters(self)


class LazyConv1d(_LazyConvMixin, Conv1d):
    """:class:`Conv1d` whose ``in_channels`` is read from the first input (N, C, L)."""

    cls_to_become = Conv1d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        Conv1d.__init__(self, groups, out_channels, kernel_size, stride, padding, dilation,
                        groups, bias, padding_mode, device=device, dtype=dtype)
        self._make_lazy()


class LazyConv2d(_LazyConvMixin, Conv2d):
    """:class:`Conv2d` whose ``in_channels`` is read from the first input (N, C, H, W)."""

    cls_to_become = Conv2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        Conv2d.__init__(self, groups, out_channels, kernel_size, stride, padding, dilation,
                        groups, bias, padding_mode, device=device, dtype=dtype)
        self._make_lazy()


def _check_zeros(padding_mode, name):
    if padding_mode != "zeros":
        raise ValueError(f"Only 'zeros' padding mode is supported for {name}")


class LazyConvTranspose1d(_LazyConvMixin, ConvTranspose1d):
    """:class:`ConvTranspose1d` whose ``in_channels`` is read from the first input."""

    cls_to_become = ConvTranspose1d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        _check_zeros(padding_mode, "LazyConvTranspose1d")
        ConvTranspose1d.__init__(self, groups, out_channels, kernel_size, stride, padding,
                                 output_padding, groups, bias, dilation, padding_mode,
                                 device=device, dtype=dtype)
        self._make_lazy()


class LazyConvTranspose2d(_LazyConvMixin, ConvTranspose2d):
    """:class:`ConvTranspose2d` whose ``in_channels`` is read from the first input."""

    cls_to_become = ConvTranspose2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        _check_zeros(padding_mode, "LazyConvTranspose2d")
        ConvTranspose2d.__init__(self, groups, out_channels, kernel_size, stride, padding,
                                 output_padding, groups, bias, dilation, padding_mode,
                                 device=device, dtype=dtype)
        self._make_lazy()


class _LazyBatchNormMixin(_LazyMixin):
    """Shared by the lazy BatchNorms: ``num_features`` from the input's channel axis."""

    def _make_lazy(self):
        self.num_features = 0
        held = [t for t in (self.weight, self.running_mean) if t is not None]
        dtype = held[0].dtype if held else np.float32
        if self.affine:
            self.weight = UninitializedParameter(dtype=dtype)
            self.bias = UninitializedParameter(dtype=dtype)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)

    def initialize_parameters(self, input):
        """Materialise weight, bias and the running statistics for C = input.shape[1]."""
        self.num_features = check_int(input.shape[1], "num_features", 1)
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t.materialize((self.num_features,))
        self.cls_to_become.reset_parameters(self)


class LazyBatchNorm1d(_LazyBatchNormMixin, BatchNorm1d):
    """:class:`BatchNorm1d` whose ``num_features`` is read from the first input."""

    cls_to_become = BatchNorm1d

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        BatchNorm1d.__init__(self, 1, eps, momentum, affine, track_running_stats, device=device,
                             dtype=dtype)
        self._make_lazy()


class LazyBatchNorm2d(_LazyBatchNormMixin, BatchNorm2d):
    """:class:`BatchNorm2d` whose ``num_features`` is read from the first input."""

    cls_to_become = BatchNorm2d

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        BatchNorm2d.__init__(self, 1, eps, momentum, affine, track_running_stats, device=device,
                             dtype=dtype)
        self._make_lazy()
