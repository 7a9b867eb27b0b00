"""CIFAR-10, shaped like torchvision's, from the python or the binary release."""
from pathlib import Path

import numpy as np

from minicnn.data import SOURCES
from minicnn.datasets.vision import VisionDataset, _array, _not_found, read_exact
from minicnn.serialization import check_regular_file

__all__ = ["CIFAR10", "read_cifar10_binary", "CIFAR10_BIN_FILES"]

CIFAR10_BIN_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                     "test": ("test_batch.bin",)}
CIFAR10_PY_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                    "test": ("test_batch",)}
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

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"


def _read_cifar10_pickle(path):
    # minicnn.data owns the restricted unpickler for the python batches.
    from minicnn.data import _load_cifar_batch
    return _load_cifar_batch(path)
