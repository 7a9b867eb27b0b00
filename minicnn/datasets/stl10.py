"""STL10, shaped like torchvision's: 96x96 colour images from the binary release."""
import os

import numpy as np

from minicnn.datasets._common import SOURCES, check_file_size, not_found, read_exact
from minicnn.datasets.vision import SplitArrayDataset, verify_str_arg

__all__ = ["STL10"]

IMAGE_BYTES = 3 * 96 * 96
MAX_STL10_BYTES = 3 * 2 ** 30  # the largest real file, unlabeled_X.bin, is 2,764,800,000 bytes
MAX_TEXT_BYTES = 2 ** 20  # class_names.txt and fold_indices.txt are a few kB
_WHERE = SOURCES["stl10"]


def _read_images(path):
    """``(N, 3, 96, 96)`` uint8 from ``*_X.bin``: each image column-major, channel by channel."""
    size = check_file_size(path, MAX_STL10_BYTES, "an STL-10 images file")
    if size == 0 or size % IMAGE_BYTES:
        raise ValueError(f"{path}: not an STL-10 images file: {size} bytes is not a whole "
                         f"number of {IMAGE_BYTES}-byte images (3 x 96 x 96)")
    images = np.frombuffer(read_exact(path, size, "an STL-10 images file"), dtype=np.uint8)
    # Each plane was written column by column (MATLAB's order): swap to rows as torchvision.
    return np.transpose(images.reshape(-1, 3, 96, 96), (0, 1, 3, 2))


def _read_labels(path, count):
    """``(count,)`` int64 labels 0..9 from ``*_y.bin`` (one byte per image, 1..10)."""
    size = check_file_size(path, count, "the STL-10 labels of its images file")
    labels = np.frombuffer(read_exact(path, size, "an STL-10 labels file"), dtype=np.uint8)
    if size != count:
        raise ValueError(f"{path}: {size} labels for {count} images")
    if count and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f"{path}: labels must be 1..10, found {labels.min()}..{labels.max()}")
    return labels.astype(np.int64) - 1


def _read_text(path):
    check_file_size(path, MAX_TEXT_BYTES, "an STL-10 text file")
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read(MAX_TEXT_BYTES + 1).splitlines()


class STL10(SplitArrayDataset):
    """STL-10: 96x96 colour images of ten classes, and 100,000 unlabelled ones (torchvision's).

    Parameters
    ----------
    root : str or Path
        The folder holding ``stl10_binary/`` (what ``stl10_binary.tar.gz`` unpacks to):
        ``train_X.bin``, ``train_y.bin``, ``test_X.bin``, ``test_y.bin``, ``unlabeled_X.bin``,
        and optionally ``class_names.txt`` and ``fold_indices.txt``. Only the files of the
        split asked for are needed.
    split : {"train", "test", "unlabeled", "train+unlabeled"}, default "train"
        5,000 labelled training images, 8,000 test images, 100,000 unlabelled images (label
        -1), or the training images followed by the unlabelled ones.
    folds : int in 0..9 or None, default None
        Keep only the training images of that line of ``fold_indices.txt`` (1,000 of them).
    transform, target_transform : callable, optional
        Applied to the image (a ``(96, 96, 3)`` uint8 array) and to the label (an int).
    download : bool, default False
        Never downloads; with the files missing, the error says where to get them.

    Attributes
    ----------
    data : ndarray (N, 3, 96, 96) uint8
    labels : ndarray (N,) int64
        0..9, or -1 for unlabelled images.
    classes : list of str
        From ``class_names.txt`` if present, else STL-10's ten names.
    """

    base_folder = "stl10_binary"
    splits = ("train", "train+unlabeled", "unlabeled", "test")
    classes = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship",
               "truck"]

    def __init__(self, root, split="train", folds=None, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", self.splits)
        self.folds = self._verify_folds(folds)
        folder = os.path.join(self.root, self.base_folder)
        names = {"train": ["train_X.bin", "train_y.bin"], "test": ["test_X.bin", "test_y.bin"],
                 "unlabeled": ["unlabeled_X.bin"]}
        needed = [n for part in self.split.split("+") for n in names[part]]
        if not all(os.path.isfile(os.path.join(folder, n)) for n in needed):
            raise not_found("STL10", [folder], needed, _WHERE, download)
        path = {n: os.path.join(folder, n) for n in needed}
        if self.split == "test":
            self.data = _read_images(path["test_X.bin"])
            self.labels = _read_labels(path["test_y.bin"], len(self.data))
        else:
            parts = []
            if "train" in self.split:
                images = _read_images(path["train_X.bin"])
                labels = _read_labels(path["train_y.bin"], len(images))
                parts.append(self._load_folds(images, labels, folds, folder))
            if "unlabeled" in self.split:
                images = _read_images(path["unlabeled_X.bin"])
                parts.append((images, np.full(len(images), -1, dtype=np.int64)))
            self.data, self.labels = parts[0] if len(parts) == 1 else (
                np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        class_file = os.path.join(folder, "class_names.txt")
        if os.path.isfile(class_file):
            self.classes = _read_text(class_file)

    @staticmethod
    def _verify_folds(folds):
        if folds is None:
            return folds
        if isinstance(folds, int) and not isinstance(folds, bool):
            if folds in range(10):
                return folds
            raise ValueError(f"Value for argument folds should be in the range [0, 10), but "
                             f"got {folds}.")
        raise ValueError(f"Expected type None or int for argument folds, but got type "
                         f"{type(folds)}.")

    @staticmethod
    def _load_folds(images, labels, folds, folder):
        if folds is None:
            return images, labels
        path = os.path.join(folder, "fold_indices.txt")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"STL10: folds={folds} needs {path} (it comes with the "
                                    f"other files from {_WHERE})")
        lines = _read_text(path)
        if folds >= len(lines):
            raise ValueError(f"{path}: has {len(lines)} lines, no fold {folds}")
        try:
            index = np.array([int(word) for word in lines[folds].split()], dtype=np.int64)
        except ValueError:
            raise ValueError(f"{path}: line {folds + 1} must be image indices separated by "
                             f"spaces") from None
        if index.size and (index.min() < 0 or index.max() >= len(images)):
            raise ValueError(f"{path}: fold {folds} indexes images {index.min()}.."
                             f"{index.max()}, but there are {len(images)}")
        return images[index], labels[index]
