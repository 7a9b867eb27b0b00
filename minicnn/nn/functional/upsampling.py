"""Upsampling: interpolate (nearest, nearest-exact, linear, bilinear, bicubic; 'area' is adaptive
average pooling), each a weighted gather along each spatial axis (``AxisResampleFn``, which
``pad`` shares)."""
import numpy as np

from minicnn._checks import check_real, ntuple
from minicnn._tensor import float_tensor_arg
from minicnn.nn.functional.padding import AxisResampleFn
from minicnn.nn.functional.pooling import adaptive_avg_pool1d, adaptive_avg_pool2d

__all__ = ["interpolate"]


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
