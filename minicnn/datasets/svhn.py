"""SVHN, shaped like torchvision's: house-number digits from the .mat files of the 32x32 release."""
import os

import numpy as np

from minicnn.datasets._common import MAX_GZIP_RATIO, SOURCES, check_file_size, not_found
from minicnn.datasets.vision import SplitArrayDataset, verify_str_arg

__all__ = ["SVHN"]

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}
MAX_SVHN_BYTES = 2 * 2 ** 30  # the largest real file, extra_32x32.mat, is 1.3 GB
_LABEL_CLASSES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
                  "single", "double"}


def _read_svhn_mat(path):
    """``X`` (32, 32, 3, N) uint8 and ``y`` (N,) int64 labels 0..9 from one SVHN .mat file.

    The variables' headers are read first (``scipy.io.whosmat``: names, shapes, types, no
    data) and checked, and their declared size checked against the file's (a compressed .mat
    file cannot hold more than ~1032 times its size), before ``scipy.io.loadmat`` reads just
    ``X`` and ``y``. A .mat file holds no code: nothing in it is run.
    """
    import scipy.io

    size = check_file_size(path, MAX_SVHN_BYTES, "an SVHN .mat file")
    try:
        variables = {name: (shape, cls) for name, shape, cls in scipy.io.whosmat(path)}
    except Exception as exc:  # whatever scipy's parser makes of a file that is not a .mat
        raise ValueError(f"{path}: not an SVHN .mat file (MATLAB 5 to 7.2 format): "
                         f"{type(exc).__name__}: {exc}") from None
    missing = [n for n in ("X", "y") if n not in variables]
    if missing:
        raise ValueError(f"{path}: not an SVHN .mat file: no variable {' or '.join(missing)} "
                         f"(found {sorted(variables)[:5]})")
    (x_shape, x_cls), (y_shape, y_cls) = variables["X"], variables["y"]
    if len(x_shape) != 4 or x_shape[:3] != (32, 32, 3) or x_cls != "uint8":
        raise ValueError(f"{path}: 'X' must be uint8 images (32, 32, 3, N), got {x_cls} "
                         f"{x_shape}")
    n = x_shape[3]
    if n * 3072 > size * MAX_GZIP_RATIO:
        raise ValueError(f"{path}: the header declares {n} images, more than this {size}-byte "
                         f"file can hold")
    if y_cls not in _LABEL_CLASSES or len(y_shape) > 2 or int(np.prod(y_shape)) != n:
        raise ValueError(f"{path}: 'y' must hold one number per image ({n}), got {y_cls} "
                         f"{y_shape}")
    try:
        mat = scipy.io.loadmat(path, variable_names=["X", "y"])
        images, labels = mat["X"], mat["y"]
    except Exception as exc:
        raise ValueError(f"{path}: corrupt or truncated SVHN .mat file: "
                         f"{type(exc).__name__}: {exc}") from None
    if images.shape != x_shape or images.dtype != np.uint8 or labels.size != n:
        raise ValueError(f"{path}: corrupt SVHN .mat file: the data do not match the headers")
    labels = labels.reshape(-1)
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.floor(labels)):
        raise ValueError(f"{path}: labels must be whole numbers 1..10")
    labels = labels.astype(np.int64)
    if n and (labels.min() < 0 or labels.max() > 10):
        raise ValueError(f"{path}: labels must be 1..10 (10 is the digit 0), found "
                         f"{labels.min()}..{labels.max()}")
    labels[labels == 10] = 0  # SVHN labels the digit 0 as 10; torchvision makes it 0
    return images, labels


class SVHN(SplitArrayDataset):
    """The Street View House Numbers, cropped 32x32 digits (torchvision's ``SVHN``).

    Parameters
    ----------
    root : str or Path
        The folder holding ``train_32x32.mat``, ``test_32x32.mat`` and ``extra_32x32.mat``
        (from http://ufldl.stanford.edu/housenumbers/; only the split's file is needed).
    split : {"train", "test", "extra"}, default "train"
        73,257, 26,032 and 531,131 images.
    transform, target_transform : callable, optional
        Applied to the image (a ``(32, 32, 3)`` uint8 array) and to the label (an int 0..9).
    download : bool, default False
        Never downloads; with the file missing, the error says where to get it.

    Attributes
    ----------
    data : ndarray (N, 3, 32, 32) uint8
    labels : ndarray (N,) int64
        0..9: the files' label 10 (the digit 0) becomes 0, as in torchvision.
    """

    split_list = SVHN_FILES

    def __init__(self, root, split="train", transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", tuple(self.split_list))
        self.filename = self.split_list[self.split]
        path = os.path.join(self.root, self.filename)
        if not os.path.isfile(path):
            raise not_found("SVHN", [self.root], [self.filename],
                             f"{SOURCES['svhn']} (the cropped digits, format 2)", download)
        images, self.labels = _read_svhn_mat(path)
        self.data = np.transpose(images, (3, 2, 0, 1))  # (H, W, C, N) -> (N, C, H, W)
