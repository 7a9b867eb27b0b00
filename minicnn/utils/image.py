"""Image utilities as in torchvision.utils: make_grid, save_image, draw_bounding_boxes."""
import math
import os
import struct
import warnings
import zlib

import numpy as np

from minicnn._checks import check_int
from minicnn._tensor import Tensor

__all__ = ["make_grid", "save_image", "draw_bounding_boxes"]

PILLOW_HINT = "pip install pillow"


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """Tile images ``(B, C, H, W)`` (or a list of ``(C, H, W)``) into one ``(C, H', W')`` image.

    As torchvision's: ``nrow`` images per row, ``padding`` pixels of ``pad_value`` around each;
    one-channel images are repeated to three channels; ``normalize=True`` shifts and scales the
    values to [0, 1] using ``value_range`` (default: the min and max of the batch, or of each
    image with ``scale_each=True``). A batch of one image is returned as that image.

    Examples
    --------
    >>> import minicnn
    >>> tuple(make_grid(minicnn.zeros(5, 3, 4, 4), nrow=2).shape)
    (3, 20, 14)
    """
    if isinstance(tensor, (list, tuple)):
        tensor = np.stack([t._data if isinstance(t, Tensor) else np.asarray(t) for t in tensor])
    x = np.array(tensor._data if isinstance(tensor, Tensor) else tensor)
    nrow, padding = check_int(nrow, "nrow", 1), check_int(padding, "padding", 0)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = (np.concatenate([x] * 3) if x.shape[0] == 1 else x)[None]
    if x.ndim != 4:
        raise ValueError(f"make_grid: expected images (B, C, H, W), got shape {x.shape}")
    if x.shape[1] == 1:
        x = np.concatenate([x] * 3, axis=1)
    if normalize:
        x = x.astype(np.float32) if x.dtype.kind != "f" else x

        def scale(img):
            low, high = value_range if value_range is not None else (img.min(), img.max())
            np.clip(img, low, high, out=img)
            img -= low
            img /= max(high - low, 1e-5)

        if scale_each:
            for img in x:
                scale(img)
        else:
            scale(x)
    if x.shape[0] == 1:
        return Tensor(x[0], dtype=x.dtype)
    count, channels, h, w = x.shape
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    height, width = h + padding, w + padding
    grid = np.full((channels, height * rows + padding, width * columns + padding), pad_value,
                   dtype=x.dtype)
    for k in range(count):
        top, left = (k // columns) * height + padding, (k % columns) * width + padding
        grid[:, top:top + h, left:left + w] = x[k]
    return Tensor(grid, dtype=grid.dtype)


def _png_chunk(kind, payload):
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def encode_png(pixels):
    """PNG bytes of a uint8 image ``(H, W)`` or ``(H, W, C)`` with C = 1, 2, 3 or 4 (grey,
    grey + alpha, RGB, RGBA): 8 bits per sample, no interlacing, each row filtered with
    filter 0 (none) and the whole compressed with zlib, as the PNG specification lays out."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = np.zeros((height, 1 + width * channels), dtype=np.uint8)  # column 0: filter byte
    rows[:, 1:] = pixels.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _png_chunk(b"IEND", b""))


def _image_format(fp, format):
    if format is not None:
        return str(format).lower()
    name = os.fspath(fp) if isinstance(fp, (str, os.PathLike)) else getattr(fp, "name", "")
    suffix = os.path.splitext(str(name))[1].lower().lstrip(".")
    if not suffix:
        raise ValueError(f"save_image: cannot tell the image format from {name or fp!r}: give "
                         f"the file a name ending in .png (or pass format='png')")
    return {"jpg": "jpeg", "tif": "tiff"}.get(suffix, suffix)


def save_image(tensor, fp, nrow=8, padding=2, normalize=False, value_range=None,
               scale_each=False, pad_value=0.0, format=None):
    """Save a Tensor of images as one image file, as torchvision's ``save_image``.

    The images go through ``make_grid`` (same arguments), then values in [0, 1] become bytes:
    ``clamp(x * 255 + 0.5, 0, 255)`` truncated to uint8, as torchvision does.

    Parameters
    ----------
    tensor : Tensor or ndarray (B, C, H, W) or (C, H, W), or a list of (C, H, W)
    fp : str, Path or a binary file object
        Where to write. The format comes from ``format`` or else from the file name's suffix.
    nrow, padding, normalize, value_range, scale_each, pad_value
        As ``make_grid``.
    format : str, optional
        ``"png"`` is written by minicnn itself (zlib, no other package needed); any other
        format (``"jpeg"``, ``"bmp"``, ...) is handed to Pillow, and without Pillow raises
        ``ImportError`` naming ``pip install pillow``.

    Examples
    --------
    >>> import io, minicnn
    >>> buffer = io.BytesIO()
    >>> save_image(minicnn.rand(4, 3, 8, 8), buffer, format="png")
    >>> buffer.getvalue()[:4]
    b'\\x89PNG'
    """
    grid = make_grid(tensor, nrow=nrow, padding=padding, normalize=normalize,
                     value_range=value_range, scale_each=scale_each, pad_value=pad_value)
    values = np.asarray(grid._data, dtype=np.float32)
    pixels = np.clip(values * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    if pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"save_image: images need 1, 2, 3 or 4 channels, got "
                         f"{pixels.shape[2]}")
    kind = _image_format(fp, format)
    if kind == "png":
        blob = encode_png(pixels)
        if isinstance(fp, (str, os.PathLike)):
            with open(fp, "wb") as f:
                f.write(blob)
        else:
            fp.write(blob)
        return
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"save_image: writing {kind!r} files needs Pillow: {PILLOW_HINT} "
                          f"(PNG needs nothing: name the file .png)") from None
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(fp, format=kind)


def _palette(count):
    """torchvision's default box colours: ``(i * (2**25 - 1, 2**15 - 1, 2**21 - 1)) % 255``."""
    return [tuple(int(v) for v in (i * np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1],
                                                dtype=np.int64)) % 255) for i in range(count)]


def _rgb(color):
    """An ``(r, g, b)`` tuple from a tuple, ``"#rrggbb"`` or (with Pillow) any colour name."""
    if isinstance(color, str):
        text = color.strip()
        if len(text) == 7 and text[0] == "#":
            return tuple(int(text[k:k + 2], 16) for k in (1, 3, 5))
        try:
            from PIL import ImageColor
        except ImportError:
            raise ImportError(f"draw_bounding_boxes: colour names such as {color!r} need "
                              f"Pillow: {PILLOW_HINT} (or give '#rrggbb' or (r, g, b))") from None
        return ImageColor.getrgb(text)[:3]
    rgb = tuple(int(c) for c in color)
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"draw_bounding_boxes: a colour must be (r, g, b) in 0..255, got "
                         f"{color!r}")
    return rgb


def _colors(colors, count):
    if colors is None:
        return _palette(count)
    if isinstance(colors, list):
        if len(colors) < count:
            raise ValueError(f"Number of colors must be equal or larger than the number of "
                             f"objects, but got {len(colors)} < {count}.")
        return [_rgb(c) for c in colors[:count]]
    return [_rgb(colors)] * count


def _window(top, bottom, left, right, height, width):
    """The pixels of rows top..bottom and columns left..right (both inclusive) inside the
    image, as a pair of slices (empty when the box lies outside, or is empty)."""
    return (slice(min(max(top, 0), height), min(max(bottom + 1, 0), height)),
            slice(min(max(left, 0), width), min(max(right + 1, 0), width)))


def _blend(region, color, alpha):
    """Pillow's blend of an RGBA ink over RGB pixels: (src (255 - a) + c a + 128) / 255,
    divided by 255 as Pillow divides (two shifts)."""
    tmp = region.astype(np.int32) * (255 - alpha) + np.asarray(color, np.int32) * alpha + 128
    return (((tmp >> 8) + tmp) >> 8).astype(np.uint8)


def draw_bounding_boxes(image, boxes, labels=None, colors=None, fill=False, width=1, font=None,
                        font_size=None):
    """Draw boxes on an image, as torchvision's ``draw_bounding_boxes``.

    Parameters
    ----------
    image : Tensor (C, H, W), uint8 or floating, C = 1 or 3
        A floating image holds values in [0, 1]; a one-channel image is drawn on in RGB.
    boxes : Tensor or array (N, 4)
        ``(xmin, ymin, xmax, ymax)`` in pixels, both corners inside the box (as Pillow draws
        rectangles); truncated to integers.
    labels : list of str, optional
        Written inside each box's top-left corner; needs Pillow (``ImportError`` naming
        ``pip install pillow`` otherwise).
    colors : list, str or tuple, optional
        One per box, or one for all: ``(r, g, b)``, ``"#rrggbb"`` or (with Pillow) a colour
        name. Default: torchvision's palette.
    fill : bool, default False
        Also fill each box with its colour at alpha 100/255.
    width : int, default 1
        Outline width in pixels, drawn inwards (pixel for pixel as Pillow draws it; a box
        narrower than twice the width is simply filled with its colour).
    font : str, optional
        A TrueType font file for the labels (Pillow's default font otherwise).
    font_size : int, optional
        The font's size (10 by default); ignored, with a warning, without ``font``.

    Returns
    -------
    Tensor (3, H, W) of the image's dtype

    Examples
    --------
    >>> import minicnn
    >>> img = minicnn.zeros(3, 5, 5, dtype=minicnn.uint8)
    >>> out = draw_bounding_boxes(img, minicnn.tensor([[1, 1, 3, 3]]), colors="#ff0000")
    >>> out[0].numpy()
    array([[  0,   0,   0,   0,   0],
           [  0, 255, 255, 255,   0],
           [  0, 255,   0, 255,   0],
           [  0, 255, 255, 255,   0],
           [  0,   0,   0,   0,   0]], dtype=uint8)
    """
    if not isinstance(image, Tensor):
        raise TypeError(f"Tensor expected, got {type(image)}")
    x = image._data
    if not (x.dtype == np.uint8 or x.dtype.kind == "f"):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if x.ndim != 3:
        raise ValueError("Pass individual images, not batches")
    if x.shape[0] not in (1, 3):
        raise ValueError("Only grayscale and RGB images are supported")
    box_array = np.asarray(boxes._data if isinstance(boxes, Tensor) else boxes)
    if box_array.ndim != 2 or box_array.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {box_array.shape}")
    if (box_array[:, 0] > box_array[:, 2]).any() or (box_array[:, 1] > box_array[:, 3]).any():
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use "
                         "torchvision.ops.box_convert to convert them")
    count = len(box_array)
    if count == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn")
        return image
    if labels is not None and len(labels) != count:
        raise ValueError(f"Number of boxes ({count}) and labels ({len(labels)}) mismatch. "
                         f"Please specify labels for each box.")
    width = check_int(width, "width", 0)
    colors = _colors(colors, count)
    if x.shape[0] == 1:
        x = np.concatenate([x] * 3)
    floating = x.dtype.kind == "f"
    # torchvision's to_dtype(scale=True): x * (256 - 1e-3) truncated, and / 255 on the way back.
    canvas = (x * (255 + 1.0 - 1e-3)).astype(np.uint8) if floating else x.copy()
    canvas = np.ascontiguousarray(canvas.transpose(1, 2, 0))  # (H, W, 3), as Pillow draws
    height, full_width = canvas.shape[:2]
    corners = box_array.astype(np.int64)
    for (x0, y0, x1, y1), color in zip(corners.tolist(), colors):
        box = _window(y0, y1, x0, x1, height, full_width)
        if fill:
            canvas[box] = _blend(canvas[box], color, 100)
        # The outline: the box less its inside, ``width`` pixels in from each edge.
        ring = np.zeros(canvas.shape[:2], dtype=bool)
        ring[box] = True
        ring[_window(y0 + width, y1 - width, x0 + width, x1 - width, height, full_width)] = False
        canvas[ring] = color
    if labels is not None and any(label is not None for label in labels):
        canvas = _draw_labels(canvas, corners, labels, colors, width, font, font_size)
    elif font_size is not None and font is None:
        warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.")
    out = canvas.transpose(2, 0, 1)
    if floating:
        out = (out / np.float32(255)).astype(x.dtype)
    return Tensor(np.ascontiguousarray(out), dtype=out.dtype)


def _draw_labels(canvas, corners, labels, colors, width, font, font_size):
    """Write each label inside its box's top-left corner with Pillow (the only part that needs
    it: text is drawn from a font)."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError(f"draw_bounding_boxes: drawing labels needs Pillow: {PILLOW_HINT} "
                          f"(boxes alone need nothing: pass labels=None)") from None
    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.")
        text_font = ImageFont.load_default()
    else:
        text_font = ImageFont.truetype(font=font, size=font_size or 10)
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    margin = width + 1
    for (x0, y0, _, _), color, label in zip(corners.tolist(), colors, labels):
        if label is not None:
            draw.text((x0 + margin, y0 + margin), str(label), fill=color, font=text_font)
    return np.asarray(picture).copy()
