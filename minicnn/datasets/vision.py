"""What minicnn's torchvision-shaped datasets share: ``VisionDataset``, argument checks, errors."""
import os

import numpy as np

from minicnn._tensor import Tensor
from minicnn.serialization import check_regular_file
from minicnn.utils.data.dataset import Dataset

__all__ = ["VisionDataset", "verify_str_arg", "check_file_size", "read_exact"]


def _array(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


class VisionDataset(Dataset):
    """What the datasets share: ``root``, ``transform``, ``target_transform`` and a repr."""

    def __init__(self, root, transform=None, target_transform=None):
        self.root = os.fspath(os.path.expanduser(root)) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def _apply(self, img, target):
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        lines += ["    " + line for line in self.extra_repr().splitlines()]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)

    def extra_repr(self):
        """Lines a dataset adds to its repr (its split, say), as torchvision's ``extra_repr``."""
        return ""


class SplitArrayDataset(VisionDataset):
    """A dataset held as ``data`` ``(N, C, H, W)`` uint8 and ``labels`` ``(N,)``, chosen by
    ``split`` (torchvision's SVHN and STL10): ``ds[i]`` is the image ``(H, W, C)`` and an int."""

    def __getitem__(self, index):
        img = np.ascontiguousarray(np.transpose(self.data[index], (1, 2, 0)))
        return self._apply(img, int(self.labels[index]))

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {self.split}"


def _not_found(name, looked_in, expected, where, download):
    how = ("download=True cannot fetch it: minicnn works offline and never downloads"
           if download else "minicnn never downloads (download=True only uses files already "
           "there)")
    return RuntimeError(
        f"{name}: dataset not found. Looked in {', '.join(repr(str(p)) for p in looked_in)} for "
        f"{', '.join(expected)}. {how}; get the files from {where} and put them in one of "
        f"those directories.")


def verify_str_arg(value, arg, valid_values):
    """``value`` if it is one of ``valid_values``, else torchvision's ``ValueError``.

    >>> verify_str_arg("test", "split", ("train", "test"))
    'test'
    """
    if not isinstance(value, str):
        raise ValueError(f"Expected type str for argument {arg}, but got type {type(value)}.")
    if value not in valid_values:
        shown = "'" + "', '".join(map(str, valid_values)) + "'"
        raise ValueError(f"Unknown value '{value}' for argument {arg}. Valid values are "
                         f"{{{shown}}}.")
    return value


def check_file_size(path, limit, what):
    """``path``'s size in bytes, after checking that it is a regular file of at most ``limit``
    bytes: the first check on a file from outside, before anything is read or allocated."""
    check_regular_file(path)
    size = os.stat(path).st_size
    if size > limit:
        raise ValueError(f"{path}: not {what}: {size} bytes, more than the {limit} it can have")
    return size


def read_exact(path, size, what):
    """The ``size`` bytes of ``path`` (a size checked before, with ``check_file_size``), read
    in one call: a file that changed size in between is refused, naming ``what`` it should be."""
    with open(path, "rb") as f:
        raw = f.read(size + 1)
    if len(raw) != size:
        raise ValueError(f"{path}: not {what}: its size changed while reading")
    return raw
