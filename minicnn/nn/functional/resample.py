"""Resampling: interpolate (nearest, nearest-exact, linear, bilinear, bicubic, area), adaptive
pooling, max/avg_pool1d."""
import numpy as np

from minicnn._checks import check_bool, check_int, check_real, ntuple
from minicnn._tensor import Tensor, float_tensor_arg
from minicnn.nn.functional._common import unbatched
from minicnn.nn.functional.padding import AxisResampleFn
from minicnn.nn.functional.pooling import PickPlaneFn, avg_pool2d, max_pool2d

__all__ = [
    "interpolate", "adaptive_avg_pool2d", "adaptive_max_pool2d", "adaptive_avg_pool1d",
    "adaptive_max_pool1d", "max_pool1d", "avg_pool1d",
]


def _cubic_weights(t, A=-0.75):
    """The four weights of Keys' cubic convolution (PyTorch's a = -0.75) for the taps at
    offsets -1, 0, 1, 2 from floor(src), where t = src - floor(src)."""
    near = lambda x: ((A + 2) * x - (A + 3)) * x * x + 1          # |x| <= 1  # noqa: E731
    far = lambda x: ((A * x - 5 * A) * x + 8 * A) * x - 4 * A      # 1 < |x| < 2  # noqa: E731
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _interp_taps(n_in, n_out, mode, align_corners, scale):
    """Source indices and weights along one axis: [(index, weight), ...], one pair per tap."""
    dst = np.arange(n_out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        # 'nearest': src = floor(dst * scale), PyTorch's historical rule (it shifts the image
        # by half a pixel); 'nearest-exact': floor((dst + 0.5) * scale), pixel centres
        src = dst * scale if mode == "nearest" else (dst + 0.5) * scale
        return [(np.minimum(np.floor(src).astype(np.int64), n_in - 1), np.ones(n_out))]
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = (dst + 0.5) * scale - 0.5
        if mode != "bicubic":  # PyTorch clamps a negative source for linear, not for cubic
            src = np.maximum(src, 0.0)
    i0 = np.floor(src).astype(np.int64)
    lam = src - i0
    if mode == "bicubic":  # taps past the border read the border pixel, as PyTorch's
        return [(np.clip(i0 - 1 + j, 0, n_in - 1), w)
                for j, w in enumerate(_cubic_weights(lam))]
    i0 = np.minimum(i0, n_in - 1)
    return [(i0, 1 - lam), (np.minimum(i0 + 1, n_in - 1), lam)]


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions, as ``torch.nn.functional.interpolate``.

    Parameters
    ----------
    input : Tensor, shape (N, C, L) or (N, C, H, W)
    size : int or tuple of int, optional
        The output's spatial size; or give ``scale_factor``.
    scale_factor : float or tuple of float, optional
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'area'}
        'linear' for 3-D inputs, 'bilinear' and 'bicubic' (Keys' cubic, a = -0.75, border
        pixels repeated) for 4-D; 'area' is adaptive average pooling to the output size;
        'nearest-exact' picks the pixel whose centre is nearest (PyTorch's 'nearest' keeps an
        older rule, ``floor(dst * in / out)``, for compatibility).
    align_corners : bool, optional
        Linear and cubic modes only: map corner pixels' centres onto each other (default
        False).
    recompute_scale_factor : bool, optional
        True: derive the scale from the computed output size instead of ``scale_factor``.
    antialias : bool
        False only (PyTorch's antialiased downsampling is not implemented).

    Returns
    -------
    Tensor, shape (N, C, *size)
    """
    input = float_tensor_arg(input, "input", (3, 4))
    k = input.ndim - 2
    modes = (("nearest", "nearest-exact", "area", "linear") if input.ndim == 3
             else ("nearest", "nearest-exact", "area", "bilinear", "bicubic"))
    if mode not in modes:
        raise ValueError(f"mode must be one of {', '.join(map(repr, modes))} for a "
                         f"{input.ndim}-D input, got {mode!r}")
    if antialias:
        raise NotImplementedError("interpolate(antialias=True) is not supported")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    align_corners = bool(align_corners) if align_corners is not None else False
    if (size is None) == (scale_factor is None):
        raise ValueError("either size or scale_factor should be defined (and not both)")
    in_size = input.shape[2:]
    if size is not None:
        out_size = ntuple(size, k, "size", 1)
        scales = [i / o for i, o in zip(in_size, out_size)]
    else:
        factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * k
        if len(factors) != k:
            raise ValueError(f"scale_factor must be a float or a tuple of {k} floats, got "
                             f"{scale_factor!r}")
        factors = [check_real(f, "scale_factor") for f in factors]
        if min(factors) <= 0:
            raise ValueError(f"scale_factor must be > 0, got {scale_factor!r}")
        out_size = tuple(int(np.floor(i * f)) for i, f in zip(in_size, factors))
        scales = ([i / o for i, o in zip(in_size, out_size)] if recompute_scale_factor
                  else [1 / f for f in factors])
    if mode == "area":
        return (adaptive_avg_pool1d if k == 1 else adaptive_avg_pool2d)(input, out_size)
    plan = [(2 + a, _interp_taps(in_size[a], out_size[a], mode, align_corners, scales[a]))
            for a in range(k)]
    return AxisResampleFn.apply(input, plan, None)


def _adaptive_bins(n_in, n_out):
    """PyTorch's adaptive-pool bins: [floor(i*n_in/n_out), ceil((i+1)*n_in/n_out))."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


def _adaptive_output_size(output_size, shape, k):
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * k
    if len(sizes) != k:
        raise ValueError(f"output_size must be an int or a tuple of {k}, got {output_size!r}")
    return tuple(shape[-k + a] if s is None else check_int(s, "output_size", 1)
                 for a, s in enumerate(sizes))


@unbatched(4)
def adaptive_avg_pool2d(input, output_size):
    """Average over the bins that divide (H, W) into ``output_size``, as
    ``torch.nn.functional.adaptive_avg_pool2d`` (bins may overlap when sizes do not divide).

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W), or (C, H, W) unbatched
    output_size : int or (int or None, int or None)
        None keeps that input size.

    Returns
    -------
    Tensor, shape (N, C, OH, OW)
    """
    input = float_tensor_arg(input, "input", 4)
    OH, OW = _adaptive_output_size(output_size, input.shape, 2)
    H, W = input.shape[2:]
    if H % OH == 0 and W % OW == 0:  # even bins: the pooling kernel
        return avg_pool2d(input, (H // OH, W // OW))
    plan = []
    for axis, n_in, n_out in ((2, H, OH), (3, W, OW)):
        # an average over each bin is a weighted gather: one tap per offset into the bin
        start, end = _adaptive_bins(n_in, n_out)
        length = end - start
        taps = [(np.minimum(start + j, n_in - 1), (j < length) / length)
                for j in range(int(length.max()))]
        plan.append((axis, taps))
    return AxisResampleFn.apply(input, plan, None)


def _adaptive_max_indices(x, OH, OW):
    """Where each adaptive bin's maximum is, as flat positions ``h*W + w`` in the input plane
    (ties: the first, as the pooling kernel)."""
    N, C, H, W = x.shape
    hs, he = _adaptive_bins(H, OH)
    ws, we = _adaptive_bins(W, OW)
    where = np.empty((N, C, OH, OW), dtype=np.int64)
    # a loop over the OH*OW bins (few), each vectorised over N and C
    for i in range(OH):
        for j in range(OW):
            window = x[:, :, hs[i]:he[i], ws[j]:we[j]].reshape(N, C, -1)
            k = window.argmax(axis=2)
            bw = we[j] - ws[j]
            where[:, :, i, j] = (hs[i] + k // bw) * W + ws[j] + k % bw
    return where


@unbatched(4)
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over the bins that divide (H, W) into ``output_size``, as
    ``torch.nn.functional.adaptive_max_pool2d``.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W), or (C, H, W) unbatched
    output_size : int or (int or None, int or None)
    return_indices : bool
        Also return where each maximum came from (flat positions ``h*W + w``).

    Returns
    -------
    Tensor, shape (N, C, OH, OW), and the int64 indices with ``return_indices``
    """
    input = float_tensor_arg(input, "input", 4)
    OH, OW = _adaptive_output_size(output_size, input.shape, 2)
    H, W = input.shape[2:]
    if H % OH == 0 and W % OW == 0:  # even bins: the pooling kernel
        return max_pool2d(input, (H // OH, W // OW), return_indices=return_indices)
    # the gradient goes to the position that won each bin (summed where bins overlap)
    indices = _adaptive_max_indices(input._data, OH, OW)
    out = PickPlaneFn.apply(input, indices)
    return (out, Tensor(indices)) if check_bool(return_indices, "return_indices") else out


@unbatched(3)
def adaptive_avg_pool1d(input, output_size):
    """Average over the bins that divide L into ``output_size``, as
    ``torch.nn.functional.adaptive_avg_pool1d`` (an adaptive_avg_pool2d of height 1).

    Parameters
    ----------
    input : Tensor, shape (N, C, L), or (C, L) unbatched
    output_size : int or (int,)

    Returns
    -------
    Tensor, shape (N, C, OL)
    """
    input = float_tensor_arg(input, "input", 3)
    OL, = _adaptive_output_size(output_size, input.shape, 1)
    return adaptive_avg_pool2d(input.unsqueeze(2), (1, OL)).squeeze(2)


@unbatched(3)
def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Maximum over the bins that divide L into ``output_size``, as
    ``torch.nn.functional.adaptive_max_pool1d`` (an adaptive_max_pool2d of height 1; the
    indices are positions along L)."""
    input = float_tensor_arg(input, "input", 3)
    OL, = _adaptive_output_size(output_size, input.shape, 1)
    out = adaptive_max_pool2d(input.unsqueeze(2), (1, OL), return_indices)
    return tuple(o.squeeze(2) for o in out) if isinstance(out, tuple) else out.squeeze(2)


@unbatched(3)
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L), as ``torch.nn.functional.max_pool1d`` (a max_pool2d of
    height 1, with its dilation, ceil_mode and indices: positions along L)."""
    input = float_tensor_arg(input, "input", 3)
    k = ntuple(kernel_size, 1, "kernel_size", 1)
    s = k if stride is None or stride == () else ntuple(stride, 1, "stride", 1)
    out = max_pool2d(input.unsqueeze(2), (1,) + k, (1,) + s,
                     (0,) + ntuple(padding, 1, "padding", 0),
                     (1,) + ntuple(dilation, 1, "dilation", 1), ceil_mode, return_indices)
    if isinstance(out, tuple):
        return out[0].squeeze(2), out[1].squeeze(2)
    return out.squeeze(2)


@unbatched(3)
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling over (N, C, L), as ``torch.nn.functional.avg_pool1d`` (an
    avg_pool2d of height 1)."""
    input = float_tensor_arg(input, "input", 3)
    k = ntuple(kernel_size, 1, "kernel_size", 1)
    s = k if stride is None or stride == () else ntuple(stride, 1, "stride", 1)
    return avg_pool2d(input.unsqueeze(2), (1,) + k, (1,) + s,
                      (0,) + ntuple(padding, 1, "padding", 0), ceil_mode=ceil_mode,
                      count_include_pad=count_include_pad).squeeze(2)
