"""make_grid as in torchvision.utils: a batch of images tiled into one image for showing."""
import math

import numpy as np

from minicnn._checks import check_int
from minicnn._tensor import Tensor

__all__ = ["make_grid"]


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
