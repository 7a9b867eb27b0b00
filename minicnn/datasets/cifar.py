"""CIFAR-10: ``CIFAR10`` (torchvision's shape) and ``load_cifar10``, from either release."""
from pathlib import Path

import numpy as np

from minicnn.datasets._cifar_pickle import read_cifar10_pickle
from minicnn.datasets._common import (CIFAR10_BIN_FILES, CIFAR10_FILES, SOURCES, check_dir,
                                      as_array, check_split, locate, missing_files, not_found,
                                      read_exact, standardized)
from minicnn.datasets.vision import VisionDataset
from minicnn.serialization import check_regular_file

__all__ = ["CIFAR10", "load_cifar10", "read_cifar10_binary", "read_cifar10_pickle",
           "CIFAR10_FILES", "CIFAR10_BIN_FILES"]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
# Where the batches are looked for below ``root``, before ``root`` itself: what the two
# releases unpack to (torchvision's layout).
CIFAR10_SUBDIRS = ("cifar-10-batches-py", "cifar-10-batches-bin")
# One record of the binary release: a label byte, then 1024 red, 1024 green, 1024 blue bytes.
CIFAR10_RECORD = 1 + 3 * 32 * 32
MAX_CIFAR10_BIN_BYTES = 256 * 2 ** 20  # the real files are 30,730,000 bytes


def read_cifar10_binary(path):
    """One batch of CIFAR-10's binary release, read with no unpickling at all.

    A batch is a sequence of 3,073-byte records: one label byte (0..9), then the 32x32 image as
    1,024 red, 1,024 green and 1,024 blue bytes, each plane row by row.

    Parameters
    ----------
    path : str or Path
        E.g. ``cifar-10-batches-bin/data_batch_1.bin`` (10,000 records, 30,730,000 bytes).

    Returns
    -------
    images : ndarray (N, 3, 32, 32) uint8
    labels : ndarray (N,) int64

    Raises
    ------
    ValueError
        Naming the file: empty, not a whole number of records, too large, a label above 9,
        or not a regular file.
    """
    path = Path(path)
    check_regular_file(path)
    size = path.stat().st_size
    if size == 0 or size % CIFAR10_RECORD or size > MAX_CIFAR10_BIN_BYTES:
        raise ValueError(f"{path}: not a CIFAR-10 binary batch: {size} bytes is not a whole "
                         f"number of {CIFAR10_RECORD}-byte records (1 label byte + 3072 pixel "
                         f"bytes)" + (f", or more than {MAX_CIFAR10_BIN_BYTES} bytes"
                                      if size > MAX_CIFAR10_BIN_BYTES else ""))
    raw = read_exact(path, size, "a CIFAR-10 binary batch")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        first = int(np.argmax(labels > 9))
        raise ValueError(f"{path}: not a CIFAR-10 binary batch: labels must be 0..9, record "
                         f"{first} has {int(labels[first])}")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


class CIFAR10(VisionDataset):
    """CIFAR-10: 32x32 colour images of ten classes (torchvision's ``CIFAR10``).

    Reads either release from https://www.cs.toronto.edu/~kriz/cifar.html: the python version
    (``cifar-10-python.tar.gz``, unpacking to ``cifar-10-batches-py/`` with ``data_batch_1`` ..
    ``data_batch_5`` and ``test_batch``), read by minicnn's restricted unpickler, or the binary
    version (``cifar-10-binary.tar.gz``, unpacking to ``cifar-10-batches-bin/`` with
    ``data_batch_1.bin`` .. ``data_batch_5.bin`` and ``test_batch.bin``), read with no
    unpickling at all.

    Parameters
    ----------
    root : str or Path
        The directory holding ``cifar-10-batches-py/`` or ``cifar-10-batches-bin/``, or either
        of those directories itself.
    train : bool, default True
        The five training batches (50,000 images) or the test batch (10,000).
    transform, target_transform : callable, optional
        Applied to the image (a ``(32, 32, 3)`` uint8 array) and the label (an int).
    download : bool, default False
        Never downloads; with the files missing, the error says where to get them.

    Attributes
    ----------
    data : ndarray (N, 32, 32, 3) uint8
    targets : list of int
    classes : list of str
    """

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform, target_transform)
        self.train = bool(train)
        split = "train" if self.train else "test"
        for names, read in ((CIFAR10_FILES[split], read_cifar10_pickle),
                            (CIFAR10_BIN_FILES[split], read_cifar10_binary)):
            directories, paths = locate(self.root, CIFAR10_SUBDIRS, names, gz=False)
            if paths is not None:
                parts = [read(p) for p in paths]
                break
        else:
            expected = [f"{' '.join(CIFAR10_FILES[split])} (python version)",
                        f"or {' '.join(CIFAR10_BIN_FILES[split])} (binary version)"]
            raise not_found("CIFAR10", directories, expected,
                            f"{SOURCES['cifar10']} (cifar-10-python.tar.gz or "
                            "cifar-10-binary.tar.gz)", download)
        images = np.concatenate([p[0] for p in parts])
        self.data = np.ascontiguousarray(images.transpose(0, 2, 3, 1))  # NCHW -> NHWC
        self.targets = np.concatenate([p[1] for p in parts]).tolist()

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self._apply(as_array(self.data)[index], int(self.targets[index]))

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"


def load_cifar10(path, split="both"):
    """CIFAR-10 from the "python version" batches, read without executing pickle code.

    Parameters
    ----------
    path : str or Path
        A directory holding ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``, or their
        parent holding ``cifar-10-batches-py/`` (what the official archive unpacks to, and
        torchvision's layout).
    split : {"both", "train", "test"}, default "both"

    Returns
    -------
    (train, test) : TensorDataset, TensorDataset
        With ``split="both"``; otherwise the one asked for. Images ``(N, 3, 32, 32)`` float32
        (pixel / 255, then per channel ``(x - mean) / std`` with mean (0.4914, 0.4822, 0.4465),
        std (0.2470, 0.2435, 0.2616)), labels ``(N,)`` int64 in 0..9.

    Raises
    ------
    FileNotFoundError
        The directory or a needed batch is missing (the message lists what was looked for).
    NotADirectoryError
        ``path`` names a file, not a directory.
    ValueError
        A batch is malformed or tries to load anything but plain data, naming the file.
    """
    check_split(split)
    root = check_dir(path, "load_cifar10")
    splits = ("train", "test") if split == "both" else (split,)
    names = [name for s in splits for name in CIFAR10_FILES[s]]
    directories, paths = locate(root, CIFAR10_SUBDIRS[:1], names, gz=False)
    if paths is None:
        raise missing_files("load_cifar10", directories, names, False,
                            f". minicnn never downloads: get cifar-10-python.tar.gz (the python "
                            f"version) from {SOURCES['cifar10']}")
    found = dict(zip(names, paths))
    out = []
    for s in splits:
        parts = [read_cifar10_pickle(found[name]) for name in CIFAR10_FILES[s]]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        out.append(standardized(images, labels, CIFAR10_MEAN, CIFAR10_STD))
    return tuple(out) if split == "both" else out[0]
