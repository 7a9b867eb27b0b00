"""Datasets shaped like torchvision.datasets: MNIST, FashionMNIST and CIFAR10 over files you have.

Each is a map-style ``Dataset`` whose ``ds[i]`` is ``(image, label)``: the image a uint8 array,
``(H, W)`` for MNIST and ``(32, 32, 3)`` for CIFAR-10 - what ``np.asarray`` makes of the PIL image
torchvision returns - so ``transforms.ToTensor()`` turns it into a ``(C, H, W)`` float Tensor in
[0, 1]; the label an int. Nothing is ever downloaded: ``download=True`` uses files that are
already there and otherwise raises an error that says where to get them and what is expected.

Where the files are looked for (``root`` is what you pass):

=============  ==========================================================================
MNIST          ``root/MNIST/raw/``, ``root/MNIST/`` or ``root/``: the four IDX files
FashionMNIST   ``root/FashionMNIST/raw/``, ``root/FashionMNIST/`` or ``root/``: same names
CIFAR10        ``root/cifar-10-batches-py/`` (the python pickles, read without running pickle
               code), ``root/cifar-10-batches-bin/`` (the binary release, no unpickling at all)
               or ``root/`` itself holding either kind
=============  ==========================================================================
"""
import os
from pathlib import Path

import numpy as np

from minicnn._tensor import Tensor
from minicnn.data import MNIST_FILES, SOURCES, read_idx
from minicnn.serialization import check_regular_file
from minicnn.utils.data.dataset import Dataset

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "read_cifar10_binary", "CIFAR10_BIN_FILES"]

CIFAR10_BIN_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                     "test": ("test_batch.bin",)}
CIFAR10_PY_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                    "test": ("test_batch",)}
# One record of the binary release: a label byte, then 1024 red, 1024 green, 1024 blue bytes.
CIFAR10_RECORD = 1 + 3 * 32 * 32
MAX_CIFAR10_BIN_BYTES = 256 * 2 ** 20  # the real files are 30,730,000 bytes


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
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}",
                 f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


def _not_found(name, looked_in, expected, where, download):
    how = ("download=True cannot fetch it: minicnn works offline and never downloads"
           if download else "minicnn never downloads (download=True only uses files already "
           "there)")
    return RuntimeError(
        f"{name}: dataset not found. Looked in {', '.join(repr(str(p)) for p in looked_in)} for "
        f"{', '.join(expected)}. {how}; get the files from {where} and put them in one of "
        f"those directories.")


class MNIST(VisionDataset):
    """The MNIST handwritten digits (torchvision's ``MNIST``).

    Parameters
    ----------
    root : str or Path
        Where the IDX files are: ``root/MNIST/raw/``, ``root/MNIST/`` or ``root/`` itself.
    train : bool, default True
        The 60,000 training images (``train-*``) or the 10,000 test images (``t10k-*``); only
        that split's two files are needed.
    transform, target_transform : callable, optional
        Applied to the image (a ``(28, 28)`` uint8 array) and to the label (an int).
    download : bool, default False
        Never downloads; with the files missing, the error says where to get them.

    Attributes
    ----------
    data : Tensor (N, 28, 28) uint8
    targets : Tensor (N,) int64
    classes : list of str
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    _folder = "MNIST"
    _where = SOURCES["mnist"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform, target_transform)
        self.train = bool(train)
        names = MNIST_FILES["train" if self.train else "test"]
        base = Path(self.root)
        candidates = [base / self._folder / "raw", base / self._folder, base]
        for directory in candidates:
            found = [self._find(directory, n) for n in names]
            if all(found):
                break
        else:
            raise _not_found(type(self).__name__, candidates, [n + "[.gz]" for n in names],
                             self._where, download)
        images = read_idx(found[0], "images")
        labels = read_idx(found[1], "labels")
        if images.ndim != 3 or labels.ndim != 1:
            raise ValueError(f"{found[0]}: expected images (N, H, W) and labels (N,), got "
                             f"{images.shape} and {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {found[0].name} holds {len(images)} images "
                             f"but {found[1].name} holds {len(labels)} labels")
        if labels.max() >= len(self.classes):
            raise ValueError(f"{found[1]}: labels must be 0..{len(self.classes) - 1}, found "
                             f"{int(labels.max())}")
        self.data = Tensor(np.ascontiguousarray(images), dtype=np.uint8)
        self.targets = Tensor(labels.astype(np.int64), dtype=np.int64)

    @staticmethod
    def _find(directory, name):
        for candidate in (directory / name, directory / (name + ".gz")):
            if candidate.is_file():
                return candidate
        return None

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self._apply(_array(self.data)[index], int(_array(self.targets)[index]))


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's file names and format, ten kinds of clothing.
    Looked for in ``root/FashionMNIST/raw/``, ``root/FashionMNIST/`` or ``root/``."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    _folder = "FashionMNIST"
    _where = SOURCES["fashion-mnist"]


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
    with open(path, "rb") as f:
        raw = f.read(size + 1)
    if len(raw) != size:  # the file changed between stat and read
        raise ValueError(f"{path}: not a CIFAR-10 binary batch: its size changed while reading")
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
        base = Path(self.root)
        candidates = [base / "cifar-10-batches-py", base / "cifar-10-batches-bin", base]
        parts = None
        for directory in candidates:
            for names, read in ((CIFAR10_PY_FILES[split], _read_cifar10_pickle),
                                (CIFAR10_BIN_FILES[split], read_cifar10_binary)):
                if all((directory / n).is_file() for n in names):
                    parts = [read(directory / n) for n in names]
                    break
            if parts is not None:
                break
        else:
            expected = [f"{' '.join(CIFAR10_PY_FILES[split])} (python version)",
                        f"or {' '.join(CIFAR10_BIN_FILES[split])} (binary version)"]
            raise _not_found("CIFAR10", candidates, expected,
                             f"{SOURCES['cifar10']} (cifar-10-python.tar.gz or "
                             "cifar-10-binary.tar.gz)", download)
        images = np.concatenate([p[0] for p in parts])
        self.data = np.ascontiguousarray(images.transpose(0, 2, 3, 1))  # NCHW -> NHWC
        self.targets = np.concatenate([p[1] for p in parts]).tolist()

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self._apply(_array(self.data)[index], int(self.targets[index]))


def _read_cifar10_pickle(path):
    # minicnn.data owns the restricted unpickler for the python batches.
    from minicnn.data import _load_cifar_batch
    return _load_cifar_batch(path)
