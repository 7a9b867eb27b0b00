"""What minicnn's torchvision-shaped datasets share: ``VisionDataset``, argument checks, errors."""
import os

import numpy as np

from minicnn.utils.data.dataset import Dataset

__all__ = ["VisionDataset", "SplitArrayDataset", "verify_str_arg"]


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
