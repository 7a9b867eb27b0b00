"""Argument checks and geometry of the kernels: the output-size rule, ConvArgs, ConvGeometry,
PoolGeometry.

Pure Python and NumPy (no compiled code), so the readable twins and the layers can use it in a
tree where the kernels were never built. The argument rules themselves (ints, bools, pairs,
``INT_MAX``, ``FLOAT_DTYPES``) belong to ``minicnn._checks``: the same mistake raises the same
exception type with the same wording here as in every other layer.
"""
import math

import numpy as np

from minicnn._checks import FLOAT_DTYPES, INT_MAX, check_int, pair

__all__ = ["out_size", "ConvArgs", "ConvGeometry", "PoolGeometry", "FLOAT_DTYPES", "INT_MAX",
           "check_padded_sample"]

_MAX_ELEMENTS = np.iinfo(np.intp).max // 8  # float64 elements whose byte count fits in intp


def out_size(size, pad, dilation, kernel, stride):
    """PyTorch's output size along one axis: ``floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1``.

    The one place minicnn writes this rule (conv and pooling; pooling has dilation 1).
    """
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def _c_ints(value, name, minimum):
    """``_checks.pair`` (an int or a pair, each >= minimum), each also a C int.

    The upper bound is checked here rather than by ``pair``'s ``maximum`` only for its wording,
    which says why the kernels have one (tests/test_fuzz.py matches it).
    """
    return _below_c_int_max(pair(value, name, minimum, maximum=None), value, name)


def _below_c_int_max(ints, value, name):
    if max(ints) > INT_MAX:
        raise ValueError(f"{name} must be <= 2**31 - 1 = {INT_MAX} (the kernels take C ints), "
                         f"got {value!r}")
    return ints


def _check_sizes(named_sizes):
    """Every (name, size) is >= 1 (a zero-sized channel, image or kernel axis)."""
    for name, size in named_sizes:
        if size < 1:
            raise ValueError(f"{name} must be >= 1, got {size}")


def shape4(value, name):
    """A 4-entry shape argument (``x_shape``, ``w_shape``) as a tuple of non-negative ints."""
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        raise ValueError(f"{name} must be a 4-tuple (N, C, H, W)-like shape, got {value!r}")
    shape = tuple(check_int(v, f"{name}[{i}]") for i, v in enumerate(value))
    if min(shape) < 0:
        raise ValueError(f"{name} must not have negative sizes, got {value!r}")
    if math.prod(shape) > _MAX_ELEMENTS:
        # np.empty would raise a bare "array is too big" (or a MemoryError) later on.
        raise ValueError(f"{name} {value!r} describes an array too large to allocate "
                         f"({math.prod(shape)} elements)")
    return shape


def check_padded_sample(shape, PH, PW, padding, what):
    """The kernels lower one padded sample of ``shape`` (N, C, H, W) at a time and hand its
    size to 32-bit BLAS: refuse, naming ``what`` the sample is (the conv input, the output of
    a transposed conv), a padded sample of more than 2**31 - 1 numbers."""
    _, C, H, W = shape
    padded = C * (H + 2 * PH) * (W + 2 * PW)
    if padded > INT_MAX:
        raise ValueError(f"one padded {what} sample C*(H+2*PH)*(W+2*PW) = {C}*{H + 2 * PH}"
                         f"*{W + 2 * PW} = {padded} numbers exceeds 2**31 - 1 ({what} shape "
                         f"{tuple(shape)}, padding {padding!r})")


def array4(a, name, dtype=None, other=None):
    """Check ``a`` is a 4-D float32/float64 array (of ``dtype`` if given); return it C-ordered."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but {other} has {dtype}; "
                        f"cast one of them so they match")
    if a.ndim != 4:
        raise ValueError(f"{name} must be 4-D, got {a.ndim}-D array of shape {a.shape}")
    # Copies non-contiguous, Fortran-ordered and negative-stride views; read-only arrays are fine
    # (the kernels take const memoryviews).
    return np.ascontiguousarray(a)


def grad_out4(grad_out, expected, dtype, other):
    """``grad_out`` checked as by ``array4`` and to have the ``expected`` shape."""
    grad_out = array4(grad_out, "grad_out", dtype, other)
    if grad_out.shape != tuple(expected):
        raise ValueError(f"grad_out must have shape {tuple(expected)}, got {grad_out.shape}")
    return grad_out


class ConvArgs:
    """The validated settings of a conv that do not depend on the input: stride, padding and
    dilation as pairs of C ints, and groups.

    A layer whose settings are fixed builds this once and reuses it for every call; a
    functional call builds one per call. ``ConvGeometry.from_args`` adds the shapes.
    """

    __slots__ = ("stride", "padding", "dilation", "groups")

    def __init__(self, stride=1, padding=0, dilation=1, groups=1):
        self.stride = _c_ints(stride, "stride", 1)
        self.padding = _c_ints(padding, "padding", 0)
        self.dilation = _c_ints(dilation, "dilation", 1)
        self.groups, = _below_c_int_max((check_int(groups, "groups", 1),), groups, "groups")

    def __repr__(self):
        return (f"ConvArgs(stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, groups={self.groups})")


class ConvGeometry:
    """Validated sizes of one conv2d call (all plain ints), shared by its three kernels.

    ``ConvGeometry(x_shape, w_shape, stride, padding, dilation, groups)`` checks everything;
    ``ConvGeometry.from_args(x_shape, w_shape, args)`` takes the settings already checked as
    a ``ConvArgs`` and checks only what the shapes add. The ops build one per call and hand it
    to the kernels (``geometry=``), which then trust it.
    """

    __slots__ = ("N", "C", "H", "W", "O", "KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW",
                 "G", "OH", "OW")

    def __init__(self, x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1):
        self._build(x_shape, w_shape, ConvArgs(stride, padding, dilation, groups))

    @classmethod
    def from_args(cls, x_shape, w_shape, args, sample="input"):
        """The geometry of ``x_shape`` convolved with ``w_shape`` under the checked ``args``;
        ``sample`` names what ``x_shape`` is in the error for a too large padded sample."""
        geometry = cls.__new__(cls)
        geometry._build(x_shape, w_shape, args, sample)
        return geometry

    def _build(self, x_shape, w_shape, args, sample="input"):
        self.N, self.C, self.H, self.W = x_shape
        self.O, CG, self.KH, self.KW = w_shape
        self.SH, self.SW = args.stride
        self.PH, self.PW = args.padding
        self.DH, self.DW = args.dilation
        self.G = args.groups
        _check_sizes((("x channels (C)", self.C), ("x height (H)", self.H),
                      ("x width (W)", self.W), ("w out channels (O)", self.O),
                      ("w in channels per group", CG), ("w height (KH)", self.KH),
                      ("w width (KW)", self.KW)))
        if self.C % self.G:
            raise ValueError(f"groups={self.G} must divide the input channels C={self.C}")
        if self.O % self.G:
            raise ValueError(f"groups={self.G} must divide the output channels O={self.O}")
        if CG != self.C // self.G:
            raise ValueError(f"w has {CG} input channels per group, expected C/groups = "
                             f"{self.C}/{self.G} = {self.C // self.G} (w shape {tuple(w_shape)})")
        for axis, size, pad, dil, k in (("height", self.H, self.PH, self.DH, self.KH),
                                        ("width", self.W, self.PW, self.DW, self.KW)):
            if dil * (k - 1) + 1 > size + 2 * pad:
                raise ValueError(
                    f"kernel {axis} {k} (dilated to {dil * (k - 1) + 1}) is larger than the "
                    f"padded input {axis} {size} + 2*{pad} = {size + 2 * pad}")
        self.OH = out_size(self.H, self.PH, self.DH, self.KH, self.SH)
        self.OW = out_size(self.W, self.PW, self.DW, self.KW, self.SW)
        # The kernels lower one padded sample and one output plane at a time and hand their
        # sizes to 32-bit BLAS; refuse, naming the cause, what they could not index.
        check_padded_sample(x_shape, self.PH, self.PW, args.padding, sample)
        if self.OH * self.OW > INT_MAX:
            raise ValueError(f"the output plane OH*OW = {self.OH}*{self.OW} exceeds 2**31 - 1 "
                             f"numbers (stride {args.stride!r}, padding {args.padding!r})")
        if self.O * self.C // self.G * self.KH * self.KW > INT_MAX:
            raise ValueError(f"w of shape {self.w_shape} has more than 2**31 - 1 numbers")

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self):
        return (self.O, self.C // self.G, self.KH, self.KW)

    def __repr__(self):
        return (f"ConvGeometry(x_shape={self.x_shape}, w_shape={self.w_shape}, "
                f"stride={(self.SH, self.SW)}, padding={(self.PH, self.PW)}, "
                f"dilation={(self.DH, self.DW)}, groups={self.G})")

    @property
    def y_shape(self):
        return (self.N, self.O, self.OH, self.OW)

    def args(self):
        """The keyword arguments of the reference kernels, as plain pairs."""
        return dict(stride=(self.SH, self.SW), padding=(self.PH, self.PW),
                    dilation=(self.DH, self.DW), groups=self.G)

    def work(self):
        """The cost of each of this conv's three kernels: 2*N*O*OH*OW*(C/G)*KH*KW flops."""
        return 2 * self.N * self.O * self.OH * self.OW * (self.C // self.G) * self.KH * self.KW

    def ints(self):
        """SH, SW, PH, PW, DH, DW, G: the geometry arguments of the compiled kernels."""
        return (self.SH, self.SW, self.PH, self.PW, self.DH, self.DW, self.G)


class PoolGeometry:
    """Validated sizes of one pooling call (plain ints)."""

    __slots__ = ("N", "C", "H", "W", "KH", "KW", "SH", "SW", "PH", "PW", "OH", "OW")

    def __init__(self, x_shape, kernel_size, stride, padding):
        self.N, self.C, self.H, self.W = x_shape
        self.KH, self.KW = _c_ints(kernel_size, "kernel_size", 1)
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
            stride = (self.KH, self.KW)
        self.SH, self.SW = _c_ints(stride, "stride", 1)
        self.PH, self.PW = _c_ints(padding, "padding", 0)
        if self.PH > self.KH // 2 or self.PW > self.KW // 2:
            raise ValueError(f"padding {padding!r} must be at most half the kernel size "
                             f"({self.KH}, {self.KW}), i.e. <= ({self.KH // 2}, {self.KW // 2})")
        _check_sizes((("x channels (C)", self.C), ("x height (H)", self.H),
                      ("x width (W)", self.W)))
        for axis, size, pad, k in (("height", self.H, self.PH, self.KH),
                                   ("width", self.W, self.PW, self.KW)):
            if k > size + 2 * pad:
                raise ValueError(f"kernel_size {axis} {k} is larger than the padded input "
                                 f"{axis} {size} + 2*{pad} = {size + 2 * pad}")
        self.OH = out_size(self.H, self.PH, 1, self.KH, self.SH)
        self.OW = out_size(self.W, self.PW, 1, self.KW, self.SW)

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def y_shape(self):
        return (self.N, self.C, self.OH, self.OW)

    def args(self):
        """The keyword arguments of the reference kernels, as plain pairs."""
        return dict(kernel_size=(self.KH, self.KW), stride=(self.SH, self.SW),
                    padding=(self.PH, self.PW))

    def ints(self):
        """KH, KW, SH, SW, PH, PW: the geometry arguments of the compiled kernels."""
        return (self.KH, self.KW, self.SH, self.SW, self.PH, self.PW)

    def work(self):
        """The cost of one of this pooling's kernels: N*C*OH*OW windows of KH*KW reads."""
        return self.N * self.C * self.OH * self.OW * self.KH * self.KW
