"""Sliding blocks and channel rearrangements: unfold (im2col), fold (col2im), pixel_shuffle,
pixel_unshuffle and channel_shuffle, as ``torch.nn.functional``; each Function above its
wrapper.

Notation: x is (N, C, H, W); kernel (KH, KW), stride (SH, SW), padding (PH, PW), dilation
(DH, DW); the blocks form an OH x OW grid, L = OH*OW of them. A column of ``unfold``'s output
holds one block, channel-major: row ``c*KH*KW + kh*KW + kw`` is x_pad[n, c, oh*SH + kh*DH,
ow*SW + kw*DW].

unfold and fold are each other's transpose (adjoint): the backward of one is the other. The
loops run over the KH*KW kernel taps; each tap moves all N*C*L values with one NumPy slice.
"""
import numpy as np

from minicnn._checks import check_int, pair
from minicnn._tensor import Function, float_tensor_arg
from minicnn.kernels.reference import _tap

__all__ = ["UnfoldFn", "unfold", "FoldFn", "fold", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "native_channel_shuffle"]


class _BlockGeometry:
    """Checked sizes of a sliding-block op: kernel, dilation, padding, stride (pairs), and
    the grid of blocks (OH, OW) over an (H, W) image."""

    def __init__(self, kernel_size, dilation, padding, stride, H, W):
        self.K = pair(kernel_size, "kernel_size", 1)
        self.D = pair(dilation, "dilation", 1)
        self.P = pair(padding, "padding", 0)
        self.S = pair(stride, "stride", 1)
        self.H, self.W = H, W
        (KH, KW), (DH, DW), (PH, PW), (SH, SW) = self.K, self.D, self.P, self.S
        self.OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
        self.OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
        if self.OH < 1 or self.OW < 1:
            raise ValueError(f"Given input with spatial size ({H}, {W}), kernel_size={self.K}, "
                             f"dilation={self.D}, padding={self.P}, calculated shape of the "
                             f"array of sliding blocks as ({self.OH}, {self.OW}), but its "
                             f"components must be at least one.")

    def unfold(self, x):
        """(N, C, H, W) -> (N, C*KH*KW, L)."""
        (KH, KW), (PH, PW), (SH, SW), (DH, DW) = self.K, self.P, self.S, self.D
        N, C = x.shape[:2]
        x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
        cols = np.empty((N, C, KH, KW, self.OH, self.OW), dtype=x.dtype)
        for kh in range(KH):
            for kw in range(KW):
                cols[:, :, kh, kw] = x_pad[(slice(None), slice(None))
                                           + _tap(kh, kw, SH, SW, DH, DW, self.OH, self.OW)]
        return cols.reshape(N, C * KH * KW, self.OH * self.OW)

    def fold(self, cols):
        """(N, C*KH*KW, L) -> (N, C, H, W), summing where blocks overlap."""
        (KH, KW), (PH, PW), (SH, SW), (DH, DW) = self.K, self.P, self.S, self.D
        N = cols.shape[0]
        C = cols.shape[1] // (KH * KW)
        cols = cols.reshape(N, C, KH, KW, self.OH, self.OW)
        x_pad = np.zeros((N, C, self.H + 2 * PH, self.W + 2 * PW), dtype=cols.dtype)
        for kh in range(KH):
            for kw in range(KW):
                x_pad[(slice(None), slice(None))
                      + _tap(kh, kw, SH, SW, DH, DW, self.OH, self.OW)] += cols[:, :, kh, kw]
        return x_pad[:, :, PH:PH + self.H, PW:PW + self.W]


class UnfoldFn(Function):
    @staticmethod
    def forward(ctx, x, geometry):
        ctx.geometry = geometry
        return geometry.unfold(x)

    @staticmethod
    def backward(ctx, grad_out):
        # cols = U x for a 0/1 matrix U: grad_x = U^T grad_cols, which is fold
        return ctx.geometry.fold(grad_out), None


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks (im2col), as ``torch.nn.functional.unfold``.

    This is the lowering a convolution uses: with ``cols = unfold(x, K)``,
    ``conv2d(x, w)`` is ``(w.reshape(O, -1) @ cols).reshape(N, O, OH, OW)`` - one matrix
    product (docs/convolution.md; the compiled kernels do the same in ``_conv.pyx``).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W) or (C, H, W)
    kernel_size, dilation, padding, stride : int or (int, int)
        As Conv2d's (zero padding on both sides).

    Returns
    -------
    Tensor, shape (N, C*KH*KW, L) (or (C*KH*KW, L)), ``L = OH*OW``,
    ``OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1`` (likewise OW).
    """
    input = float_tensor_arg(input, "input")
    if input.ndim not in (3, 4):
        raise ValueError(f"Input Error: Only 3D or 4D input Tensors are supported "
                         f"(got {input.ndim}D)")
    batched = input if input.ndim == 4 else input.unsqueeze(0)
    geometry = _BlockGeometry(kernel_size, dilation, padding, stride, *batched.shape[2:])
    out = UnfoldFn.apply(batched, geometry)
    return out if input.ndim == 4 else out.squeeze(0)


class FoldFn(Function):
    @staticmethod
    def forward(ctx, cols, geometry):
        ctx.geometry = geometry
        return geometry.fold(cols)

    @staticmethod
    def backward(ctx, grad_out):
        # x = U^T cols (fold is unfold's transpose): grad_cols = U grad_x, which is unfold
        return ctx.geometry.unfold(np.ascontiguousarray(grad_out)), None


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding blocks into an image (col2im), summing where blocks overlap, as
    ``torch.nn.functional.fold``: the transpose of :func:`unfold` (so ``fold(unfold(x))`` is
    x times how many blocks cover each pixel), and the step by which a convolution's input
    gradient is assembled from its lowered form.

    Parameters
    ----------
    input : Tensor, shape (N, C*KH*KW, L) or (C*KH*KW, L)
    output_size : int or (int, int)
        (H, W) of the image.
    kernel_size, dilation, padding, stride : int or (int, int)

    Returns
    -------
    Tensor, shape (N, C, H, W) (or (C, H, W))
    """
    input = float_tensor_arg(input, "input")
    if input.ndim not in (2, 3):
        raise ValueError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are "
                         f"supported (got {input.ndim}D)")
    batched = input if input.ndim == 3 else input.unsqueeze(0)
    H, W = pair(output_size, "output_size", 1)
    geometry = _BlockGeometry(kernel_size, dilation, padding, stride, H, W)
    KH, KW = geometry.K
    if batched.shape[1] % (KH * KW):
        raise ValueError(f"Expected size of input's dimension 1 to be divisible by the product "
                         f"of kernel_size, but got input.size(1)={batched.shape[1]} and "
                         f"kernel_size={geometry.K}.")
    if batched.shape[2] != geometry.OH * geometry.OW:
        raise ValueError(f"Given output_size={(H, W)}, kernel_size={geometry.K}, "
                         f"dilation={geometry.D}, padding={geometry.P}, stride={geometry.S}, "
                         f"expected size of input's dimension 2 to match the calculated number "
                         f"of sliding blocks {geometry.OH} * {geometry.OW} = "
                         f"{geometry.OH * geometry.OW}, but got input.size(2)={batched.shape[2]}.")
    out = FoldFn.apply(batched, geometry)
    return out if input.ndim == 3 else out.squeeze(0)


# Pixel and channel shuffles are pure rearrangements: a reshape, a permute and a reshape, so
# their gradients come from those ops (no Function of their own).

def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), as ``torch.nn.functional.pixel_shuffle``:
    out[..., c, h*r + i, w*r + j] = in[..., c*r*r + i*r + j, h, w] (sub-pixel convolution).
    """
    input = float_tensor_arg(input, "input")
    r = check_int(upscale_factor, "upscale_factor", 1)
    if input.ndim < 3:
        raise ValueError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                         f"input with {input.ndim} dimension(s)")
    *lead, C, H, W = input.shape
    if C % (r * r):
        raise ValueError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                         f"divisible by the square of upscale_factor, but input.size(-3)={C} "
                         f"is not divisible by {r * r}")
    k = len(lead)
    x = input.reshape(*lead, C // (r * r), r, r, H, W)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)  # (*, C, H, r, W, r)
    return x.reshape(*lead, C // (r * r), H * r, W * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of :func:`pixel_shuffle`, as
    ``torch.nn.functional.pixel_unshuffle``."""
    input = float_tensor_arg(input, "input")
    r = check_int(downscale_factor, "downscale_factor", 1)
    if input.ndim < 3:
        raise ValueError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                         f"got input with {input.ndim} dimension(s)")
    *lead, C, H, W = input.shape
    for name, size, axis in (("height", H, -2), ("width", W, -1)):
        if size % r:
            raise ValueError(f"pixel_unshuffle expects {name} to be divisible by "
                             f"downscale_factor, but input.size({axis})={size} is not "
                             f"divisible by {r}")
    k = len(lead)
    x = input.reshape(*lead, C, H // r, r, W // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)  # (*, C, r, r, H/r, W/r)
    return x.reshape(*lead, C * r * r, H // r, W // r)


def channel_shuffle(input, groups):
    """(N, C, *) with C = G*K -> the same shape, channel ``g*K + k`` moved to ``k*G + g`` (the
    transpose of a (G, K) grid of channels), as ``torch.nn.functional.channel_shuffle``
    (ShuffleNet)."""
    input = float_tensor_arg(input, "input")
    G = check_int(groups, "groups", 1)
    if input.ndim < 3:
        raise ValueError(f"channel_shuffle expects input to have at least 3 dimensions, but got"
                         f" input with {input.ndim} dimension(s)")
    N, C, *rest = input.shape
    if C % G:
        raise ValueError(f"Number of channels must be divisible by groups. Got {C} channels and "
                         f"{G} groups.")
    x = input.reshape(N, G, C // G, *rest).transpose(1, 2)
    return x.reshape(N, C, *rest)


native_channel_shuffle = channel_shuffle
