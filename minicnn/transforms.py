"""Image transforms shaped like torchvision.transforms: conversions and random augmentations.

Compose, ToTensor, Normalize, the random augmentations (crop, flip, rotation, colour jitter),
Resize, CenterCrop and RandomResizedCrop.

Images come in three forms, and every transform hands back the form it was given:

* an ndarray ``(H, W, C)`` or ``(H, W)`` - what minicnn's datasets return, like a PIL image;
* a PIL image, if Pillow is installed (converted to an array and back);
* a Tensor ``(..., C, H, W)`` - after ``ToTensor``.

Random transforms draw from minicnn's generator at call time, so ``minicnn.manual_seed`` fixes
them; in a DataLoader worker process that generator is seeded per worker. Pixels are never
looped over in Python: each transform is a few whole-array NumPy operations.
"""
import math
import numbers

import numpy as np

from minicnn import dtypes
from minicnn._checks import check_real
from minicnn._tensor import Tensor
from minicnn.rng import get_rng

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "RandomCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomRotation", "ColorJitter", "Resize", "CenterCrop",
           "RandomResizedCrop", "InterpolationMode"]


class InterpolationMode:
    """torchvision's names for the resampling filters (plain strings here)."""
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def _is_pil(img):
    return type(img).__module__.startswith("PIL.")


def _to_hwc(img):
    """``img`` as an array ``(..., H, W, C)`` and a function that turns such an array back
    into ``img``'s own form (Tensor, ndarray or PIL image)."""
    if isinstance(img, Tensor):
        array = img._data
        if array.ndim == 2:
            return array[:, :, None], lambda a: Tensor(np.ascontiguousarray(a[:, :, 0]),
                                                       dtype=a.dtype)
        if array.ndim < 2:
            raise ValueError(f"expected a Tensor image (..., C, H, W), got shape "
                             f"{tuple(array.shape)}")
        return np.moveaxis(array, -3, -1), lambda a: Tensor(
            np.ascontiguousarray(np.moveaxis(a, -1, -3)), dtype=a.dtype)
    if _is_pil(img):
        from PIL import Image
        array = np.asarray(img)
        mode = img.mode
        if array.ndim == 2:
            return array[:, :, None], lambda a: Image.fromarray(np.ascontiguousarray(a[:, :, 0]),
                                                                mode=mode)
        return array, lambda a: Image.fromarray(np.ascontiguousarray(a), mode=mode)
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            return img[:, :, None], lambda a: a[:, :, 0]
        if img.ndim == 3:
            return img, lambda a: a
        raise ValueError(f"expected an image array (H, W) or (H, W, C), got shape {img.shape}")
    raise TypeError(f"img should be a Tensor, an ndarray or a PIL Image, got "
                    f"{type(img).__name__}")


def _size_pair(size, name="size"):
    """An int ``s`` or a sequence ``(s,)`` / ``(h, w)`` as ``(h, w)``."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if not (isinstance(size, (tuple, list)) and len(size) == 2 and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size)):
        raise ValueError(f"{name} should be a positive int or a sequence of 1 or 2 positive "
                         f"ints, got {size!r}")
    return int(size[0]), int(size[1])


def _fill_value(fill, channels, dtype):
    fill = np.asarray(fill if fill is not None else 0, dtype=np.float64).ravel()
    if fill.size not in (1, channels):
        raise ValueError(f"fill must be a number or one value per channel ({channels}), got "
                         f"{fill.size} values")
    return np.broadcast_to(fill, (channels,)).astype(dtype)


def _pad(hwc, left, top, right, bottom, fill=0, padding_mode="constant"):
    widths = [(0, 0)] * (hwc.ndim - 3) + [(top, bottom), (left, right), (0, 0)]
    if padding_mode == "constant":
        out = np.empty(hwc.shape[:-3] + (hwc.shape[-3] + top + bottom,
                                         hwc.shape[-2] + left + right, hwc.shape[-1]), hwc.dtype)
        out[...] = _fill_value(fill, hwc.shape[-1], hwc.dtype)
        out[..., top:top + hwc.shape[-3], left:left + hwc.shape[-2], :] = hwc
        return out
    modes = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}
    if padding_mode not in modes:
        raise ValueError(f"padding_mode should be one of 'constant', 'edge', 'reflect' or "
                         f"'symmetric', got {padding_mode!r}")
    return np.pad(hwc, widths, mode=modes[padding_mode])


def _padding_ltrb(padding):
    """torchvision's padding forms: p (all sides), (lr, tb), or (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        padding = (padding,) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) == 1:
        padding = (padding[0],) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        padding = (padding[0], padding[1], padding[0], padding[1])
    if not (isinstance(padding, (tuple, list)) and len(padding) == 4 and all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0
            for p in padding)):
        raise ValueError(f"padding should be a non-negative int or a sequence of 1, 2 or 4 "
                         f"of them, got {padding!r}")
    return tuple(int(p) for p in padding)


class Compose:
    """Apply ``transforms`` one after the other: ``Compose([ToTensor(), Normalize(m, s)])``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class Lambda:
    """Apply a user function: ``Lambda(lambda x: x * 2)``."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class ToTensor:
    """An image ``(H, W, C)`` or ``(H, W)`` (ndarray or PIL) -> Tensor ``(C, H, W)``.

    uint8 pixels become floats of the default dtype (float32 unless changed) in [0, 1] (divided
    by 255); other dtypes keep their values and dtype, as torchvision's ``ToTensor`` does.
    """

    def __call__(self, pic):
        if _is_pil(pic):
            pic = np.asarray(pic)
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        if pic.dtype.kind not in "biufc":  # as torch.from_numpy: object or str arrays are not data
            raise TypeError(f"pic should hold numbers, got an array of dtype {pic.dtype}")
        chw = (pic[:, :, None] if pic.ndim == 2 else pic).transpose(2, 0, 1)
        default = dtypes.default_numpy_float()
        if pic.dtype == np.uint8:
            chw = chw.astype(default) / default.type(255.0)
        elif pic.dtype == np.bool_:
            chw = chw.astype(default)
        return Tensor(np.ascontiguousarray(chw), dtype=chw.dtype)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel of a float Tensor ``(..., C, H, W)``."""

    def __init__(self, mean, std, inplace=False):
        self.mean = [float(m) for m in np.ravel(mean)]
        self.std = [float(s) for s in np.ravel(std)]
        self.inplace = inplace

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Input tensor should be a minicnn Tensor. Got {type(tensor)}.")
        x = tensor._data
        if x.dtype.kind != "f":
            raise TypeError(f"Input tensor should be a float tensor. Got {x.dtype}.")
        if x.ndim < 3:
            raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). "
                             f"Got tensor.size() = {tuple(x.shape)}")
        mean = np.asarray(self.mean, x.dtype)
        std = np.asarray(self.std, x.dtype)
        if (std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to {x.dtype}, leading to "
                             f"division by zero.")
        for name, v in (("mean", mean), ("std", std)):
            if v.size not in (1, x.shape[-3]):
                raise ValueError(f"Normalize: {name} has {v.size} values for an image of "
                                 f"{x.shape[-3]} channels")
        out = (x - mean.reshape(-1, 1, 1)) / std.reshape(-1, 1, 1)
        if self.inplace:
            x[...] = out
            return tensor
        return Tensor(out.astype(x.dtype, copy=False), dtype=x.dtype)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


def _crop(hwc, top, left, height, width):
    return hwc[..., top:top + height, left:left + width, :]


class CenterCrop:
    """The central ``size`` pixels (padded with zeros first where the image is smaller)."""

    def __init__(self, size):
        self.size = _size_pair(size)

    def __call__(self, img):
        hwc, back = _to_hwc(img)
        th, tw = self.size
        h, w = hwc.shape[-3], hwc.shape[-2]
        if th > h or tw > w:
            hwc = _pad(hwc, (tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                       (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0)
            h, w = hwc.shape[-3], hwc.shape[-2]
        # torchvision's rounding (Python's round: halves to even)
        return back(_crop(hwc, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw))

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


class RandomCrop:
    """A random ``size`` window, after optional padding, as torchvision's ``RandomCrop``.

    Parameters
    ----------
    size : int or (h, w)
    padding : int or sequence, optional
        p (every side), (left/right, top/bottom) or (left, top, right, bottom).
    pad_if_needed : bool
        Pad an image smaller than ``size`` (by the shortfall on both sides, as torchvision).
    fill : number or per-channel sequence
        The value of constant padding.
    padding_mode : {"constant", "edge", "reflect", "symmetric"}
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _size_pair(size)
        self.padding = None if padding is None else _padding_ltrb(padding)
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"padding_mode should be one of 'constant', 'edge', 'reflect' or "
                             f"'symmetric', got {padding_mode!r}")
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(hwc_shape, output_size):
        """``(top, left, h, w)`` of a random crop of ``output_size`` from an ``(H, W)`` image."""
        h, w = hwc_shape[:2]
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if h == th and w == tw:
            return 0, 0, h, w
        rng = get_rng()
        return int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1)), th, tw

    def __call__(self, img):
        hwc, back = _to_hwc(img)
        if self.padding is not None:
            hwc = _pad(hwc, *self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = hwc.shape[-3], hwc.shape[-2]
        if self.pad_if_needed and (w < tw or h < th):
            dw, dh = max(tw - w, 0), max(th - h, 0)
            hwc = _pad(hwc, dw, dh, dw, dh, self.fill, self.padding_mode)
        top, left, th, tw = self.get_params(hwc.shape[-3:-1], self.size)
        return back(_crop(hwc, top, left, th, tw))

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = check_real(p, "p", 0.0)

    def __call__(self, img):
        if get_rng().random() < self.p:
            hwc, back = _to_hwc(img)
            return back(hwc[..., :, ::-1, :])
        return img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror the image top-bottom with probability ``p``."""

    def __call__(self, img):
        if get_rng().random() < self.p:
            hwc, back = _to_hwc(img)
            return back(hwc[..., ::-1, :, :])
        return img


def _sample(hwc, sy, sx, interpolation, fill):
    """Read ``hwc`` at real-valued source coordinates ``(sy, sx)`` (arrays of the output's
    ``(OH, OW)``; pixel ``i`` has its centre at ``i``), ``fill`` outside the image."""
    h, w = hwc.shape[-3], hwc.shape[-2]
    fill = _fill_value(fill, hwc.shape[-1], np.float64)
    if interpolation == InterpolationMode.NEAREST:
        iy, ix = np.rint(sy).astype(np.intp), np.rint(sx).astype(np.intp)
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        out = hwc[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1), :].astype(np.float64)
        out[..., ~inside, :] = fill
    elif interpolation == InterpolationMode.BILINEAR:
        y0, x0 = np.floor(sy).astype(np.intp), np.floor(sx).astype(np.intp)
        fy, fx = (sy - y0)[..., None], (sx - x0)[..., None]
        src = hwc.astype(np.float64)
        out = 0.0
        # Each of the four neighbours outside the image contributes ``fill``.
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                yy, xx = y0 + dy, x0 + dx
                inside = ((yy >= 0) & (yy < h) & (xx >= 0) & (xx < w))[..., None]
                value = np.where(inside, src[..., np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1),
                                             :], fill)
                out = out + wy * wx * value
    else:
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if hwc.dtype.kind in "iu":
        info = np.iinfo(hwc.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(hwc.dtype)


class RandomRotation:
    """Rotate by an angle drawn uniformly from ``degrees`` (counter-clockwise, as
    torchvision and PIL), about the image centre or ``center`` (x, y); pixels that come from
    outside the image get ``fill``. ``expand=True`` is not supported."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False,
                 center=None, fill=0):
        if isinstance(degrees, numbers.Real):
            if degrees < 0:
                raise ValueError("If degrees is a single number, it must be positive.")
            degrees = (-float(degrees), float(degrees))
        elif not (isinstance(degrees, (tuple, list)) and len(degrees) == 2):
            raise ValueError("If degrees is a sequence, it must be of len 2.")
        self.degrees = [float(d) for d in degrees]
        self.interpolation = getattr(interpolation, "value", interpolation)
        if self.interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
            raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got "
                             f"{interpolation!r}")
        if expand:
            raise NotImplementedError("RandomRotation(expand=True) is not implemented in minicnn")
        self.expand = False
        self.center = center
        self.fill = fill

    @staticmethod
    def get_params(degrees):
        return float(get_rng().uniform(degrees[0], degrees[1]))

    def __call__(self, img):
        angle = self.get_params(self.degrees)
        hwc, back = _to_hwc(img)
        h, w = hwc.shape[-3], hwc.shape[-2]
        # Pixel i covers [i, i+1): the centre of the image is (w/2, h/2) in those units.
        cx, cy = (w / 2.0, h / 2.0) if self.center is None else \
            (self.center[0] + 0.5, self.center[1] + 0.5)
        theta = math.radians(angle)
        cos, sin = math.cos(theta), math.sin(theta)
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        dx, dy = x + 0.5 - cx, y + 0.5 - cy
        # The output pixel at (dx, dy) shows the input at the inverse rotation (y points down,
        # so a counter-clockwise turn on screen maps back through these signs).
        sx = cos * dx - sin * dy + cx - 0.5
        sy = sin * dx + cos * dy + cy - 0.5
        return back(_sample(hwc, sy, sx, self.interpolation, self.fill))

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees}, interpolation={self.interpolation})"


def _check_has_pixels(h, w, name):
    if h == 0 or w == 0:
        raise ValueError(f"{name}: the image has no pixels (height {h}, width {w})")


def _resized_size(h, w, size, max_size):
    if isinstance(size, numbers.Integral) or (isinstance(size, (tuple, list)) and len(size) == 1):
        requested = int(size if isinstance(size, numbers.Integral) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                                 f"requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    return _size_pair(size)


def _triangle_taps(n_in, n_out, antialias):
    """``index, weight`` (both ``(n_out, K)``): the input pixels each output pixel of a bilinear
    resize reads, and their weights. Output pixel ``i`` is centred on input coordinate
    ``c = (i + 0.5) * n_in / n_out``; input pixel ``j`` weighs ``max(0, 1 - |j + 0.5 - c| / s)``,
    normalised over the pixels inside the image. ``s = 1`` is plain bilinear interpolation;
    ``antialias`` stretches the triangle to ``s = n_in / n_out`` when shrinking, to cover every
    input pixel under the output one (Pillow's BILINEAR, PyTorch's ``antialias=True``)."""
    scale = n_in / n_out
    s = max(scale, 1.0) if antialias else 1.0
    centre = (np.arange(n_out) + 0.5) * scale
    # Every j with a nonzero weight lies in (c - s - 0.5, c + s - 0.5).
    first = np.floor(centre - s - 0.5).astype(np.intp)
    index = first[:, None] + np.arange(int(math.ceil(2 * s)) + 2)
    weight = np.maximum(0.0, 1.0 - np.abs(index + 0.5 - centre[:, None]) / s)
    weight[(index < 0) | (index >= n_in)] = 0.0
    weight /= weight.sum(axis=1, keepdims=True)
    return np.clip(index, 0, n_in - 1), weight


def _resize_bilinear(hwc, oh, ow, antialias):
    """``hwc`` (..., H, W, C) resized to (..., OH, OW, C): a pass along W, then one along H
    (the filter is separable), each a sum over the filter's taps (not a loop over pixels)."""
    out = hwc.astype(np.float64)
    for axis, n_out in ((-2, ow), (-3, oh)):
        n_in = out.shape[axis]
        if n_in == n_out:
            continue
        index, weight = _triangle_taps(n_in, n_out, antialias)
        shape = (n_out,) + (1,) * (-axis - 1)  # broadcasts a tap's weights along ``axis``
        out = sum(np.take(out, index[:, k], axis=axis) * weight[:, k].reshape(shape)
                  for k in range(index.shape[1]))
    if hwc.dtype.kind in "iu":
        info = np.iinfo(hwc.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(hwc.dtype)


class Resize:
    """Resize to ``size``: an int sets the shorter edge (keeping the aspect ratio), ``(h, w)``
    sets both. Bilinear (or nearest), pixel centres aligned (``align_corners=False``). A PIL
    image is resized by Pillow itself, as torchvision does; shrinking an array or Tensor with
    ``antialias=True`` (the default) averages all the pixels under each output pixel, as
    Pillow and torchvision do, so thin lines do not vanish; ``antialias=False`` reads the two
    nearest pixels per axis. Enlarging is the same either way; ``nearest`` never antialiases."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
        _size_pair(size)  # checks it: an int, or a sequence of 1 or 2 positive ints
        self.size = size
        self.interpolation = getattr(interpolation, "value", interpolation)
        self.max_size = max_size
        self.antialias = bool(antialias)

    def __call__(self, img):
        if _is_pil(img):
            from PIL import Image
            w, h = img.size
            oh, ow = _resized_size(h, w, self.size, self.max_size)
            filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR,
                       "bicubic": Image.BICUBIC}
            return img.resize((ow, oh), filters[self.interpolation])
        hwc, back = _to_hwc(img)
        h, w = hwc.shape[-3], hwc.shape[-2]
        _check_has_pixels(h, w, "Resize")
        oh, ow = _resized_size(h, w, self.size, self.max_size)
        if (oh, ow) == (h, w):
            return img
        if self.interpolation == InterpolationMode.NEAREST:
            # PyTorch's 'nearest': floor(i * in / out)
            iy = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.intp), h - 1)
            ix = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.intp), w - 1)
            return back(hwc[..., iy[:, None], ix[None, :], :])
        if self.interpolation != InterpolationMode.BILINEAR:
            raise ValueError(f"interpolation {self.interpolation!r} is supported for PIL images "
                             f"only; use 'bilinear' or 'nearest'")
        return back(_resize_bilinear(hwc, oh, ow, self.antialias))

    def __repr__(self):
        return (f"Resize(size={self.size}, interpolation={self.interpolation}, "
                f"antialias={self.antialias})")


class RandomResizedCrop:
    """A random crop of random area (``scale`` of the image) and aspect ratio (``ratio``),
    resized to ``size``: torchvision's ``RandomResizedCrop`` (10 tries, then a centre crop)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.size = _size_pair(size)
        if not (len(scale) == 2 and len(ratio) == 2 and 0 < scale[0] <= scale[1]
                and 0 < ratio[0] <= ratio[1]):
            raise ValueError(f"scale and ratio should be (min, max) pairs of positive numbers, "
                             f"got {scale!r} and {ratio!r}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation = getattr(interpolation, "value", interpolation)
        self.antialias = antialias

    @staticmethod
    def get_params(hwc_shape, scale, ratio):
        """``(top, left, h, w)`` of the crop, for an image of ``(H, W)``."""
        height, width = hwc_shape[:2]
        area = height * width
        rng = get_rng()
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(scale[0], scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return (int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)),
                        h, w)
        in_ratio = width / height  # fallback: the largest centre crop within the ratios
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        hwc, back = _to_hwc(img)
        _check_has_pixels(*hwc.shape[-3:-1], "RandomResizedCrop")
        top, left, h, w = self.get_params(hwc.shape[-3:-1], self.scale, self.ratio)
        crop = back(_crop(hwc, top, left, h, w))
        return Resize(self.size, self.interpolation, antialias=self.antialias)(crop)

    def __repr__(self):
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


def _gray(hwc):
    """torchvision's luma: 0.2989 R + 0.587 G + 0.114 B, in the image's dtype (..., H, W, 1)."""
    r, g, b = hwc[..., 0], hwc[..., 1], hwc[..., 2]
    gray = (0.2989 * r.astype(np.float64) + 0.587 * g + 0.114 * b)[..., None]
    return gray.astype(hwc.dtype)


def _rgb_to_hsv(rgb):
    """torchvision's RGB -> HSV on floats in [0, 1], channels last; h in [0, 1)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    maxc, minc = rgb.max(axis=-1), rgb.min(axis=-1)
    equal = maxc == minc
    cr = maxc - minc
    s = cr / np.where(equal, 1.0, maxc)
    divisor = np.where(equal, 1.0, cr)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    h = ((maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
         + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc))
    return np.stack([np.fmod(h / 6.0 + 1.0, 1.0), s, maxc], axis=-1)


def _hsv_to_rgb(hsv):
    """torchvision's HSV -> RGB: the sector ``floor(6 h)`` picks which of v, p, q, t is which."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.intp) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    return np.stack([np.choose(i, [v, q, p, p, t, v]), np.choose(i, [t, v, v, q, p, p]),
                     np.choose(i, [p, p, t, v, v, q])], axis=-1)


def _max_value(dtype):
    """The brightest pixel of an image of ``dtype``: 1.0 for floats, the largest value of an
    integer type (255 for uint8, 65535 for uint16), as torchvision's ``_max_value``."""
    return float(np.iinfo(dtype).max) if dtype.kind in "iu" else 1.0


def _adjust_hue(hwc, factor):
    """Rotate the hue by ``factor`` (a fraction of the colour wheel), as torchvision."""
    top = _max_value(hwc.dtype)
    hsv = _rgb_to_hsv(hwc.astype(np.float64) / top)
    hsv[..., 0] = np.mod(hsv[..., 0] + factor, 1.0)
    rgb = _hsv_to_rgb(hsv)
    if hwc.dtype.kind in "iu":  # torchvision's float -> int: scale by max + 0.999 and truncate
        return (rgb * (top + 1.0 - 1e-3)).astype(hwc.dtype)
    return rgb.astype(hwc.dtype)


def _blend(a, b, ratio):
    out = np.clip(ratio * a.astype(np.float64) + (1.0 - ratio) * b, 0.0, _max_value(a.dtype))
    return out.astype(a.dtype)


class ColorJitter:
    """Randomly change brightness, contrast, saturation and hue, in a random order each call.

    Each of the first three arguments ``v`` draws a factor uniformly from
    ``[max(0, 1 - v), 1 + v]`` (or from a ``(min, max)`` pair): brightness scales the pixels,
    contrast blends with the mean grey level, saturation with the grey image. ``hue`` ``h``
    (at most 0.5) draws a shift from ``[-h, h]`` of the colour wheel, applied in HSV. Saturation
    and hue change 3-channel images only. Works on uint8 arrays (0..255), other integer
    images on 0..their type's maximum (uint16: 0..65535) and float Tensors (0..1), with
    torchvision's formulas. Every factor must be finite.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = self._check(brightness, "brightness")
        self.contrast = self._check(contrast, "contrast")
        self.saturation = self._check(saturation, "saturation")
        if isinstance(hue, numbers.Real):
            if not 0 <= hue <= 0.5:
                raise ValueError("If hue is a single number, it must be in [0, 0.5].")
            hue = (-float(hue), float(hue))
        elif not (isinstance(hue, (tuple, list)) and len(hue) == 2
                  and -0.5 <= hue[0] <= hue[1] <= 0.5):
            raise ValueError("hue should be a single number or a list/tuple with length 2 "
                             "within [-0.5, 0.5], min <= max.")
        self.hue = None if tuple(hue) == (0.0, 0.0) else (float(hue[0]), float(hue[1]))

    @staticmethod
    def _check(value, name):
        if isinstance(value, (tuple, list)) and len(value) == 2 or isinstance(value,
                                                                              numbers.Real):
            pair = value if isinstance(value, (tuple, list)) else (value,)
            if all(isinstance(v, numbers.Real) for v in pair) and not all(
                    math.isfinite(v) for v in pair):
                raise ValueError(f"{name} must be finite, got {value!r}")
        if isinstance(value, numbers.Real):
            if value < 0:
                raise ValueError(f"If {name} is a single number, it must be non negative.")
            value = (max(0.0, 1.0 - value), 1.0 + value)
        elif not (isinstance(value, (tuple, list)) and len(value) == 2
                  and 0 <= value[0] <= value[1]):
            raise ValueError(f"{name} should be a single number or a list/tuple with length 2 "
                             f"of non-negative numbers, min <= max.")
        value = (float(value[0]), float(value[1]))
        return None if value == (1.0, 1.0) else value

    @staticmethod
    def get_params(brightness, contrast, saturation, hue=None):
        rng = get_rng()
        order = rng.permutation(4).tolist()
        factors = [None if r is None else float(rng.uniform(r[0], r[1]))
                   for r in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def __call__(self, img):
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation,
                                            self.hue)
        hwc, back = _to_hwc(img)
        for k in order:
            if k == 0 and b is not None:
                hwc = _blend(hwc, 0.0, b)
            elif k == 1 and c is not None:
                channels = hwc.shape[-1]
                gray = _gray(hwc) if channels == 3 else hwc
                mean = gray.astype(np.float64).mean(axis=(-3, -2, -1), keepdims=True)
                if hwc.dtype.kind == "f":
                    mean = mean.astype(hwc.dtype)
                hwc = _blend(hwc, mean, c)
            elif k == 2 and s is not None and hwc.shape[-1] == 3:
                hwc = _blend(hwc, _gray(hwc), s)
            elif k == 3 and h is not None and hwc.shape[-1] == 3:
                hwc = _adjust_hue(hwc, h)
        return back(hwc)

    def __repr__(self):
        return (f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")
