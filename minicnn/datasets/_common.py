"""What the dataset readers share: sources, file names, the folder lookup, checks and errors."""
import os
from pathlib import Path

import numpy as np

from minicnn._tensor import Tensor
from minicnn.serialization import check_regular_file
from minicnn.utils.data.dataset import TensorDataset

__all__ = ["SOURCES", "MNIST_FILES", "CIFAR10_FILES", "CIFAR10_BIN_FILES", "SPLITS",
           "MAX_GZIP_RATIO", "check_finite", "check_split", "check_dir", "find_file",
           "locate", "missing_files", "not_found", "standardized", "check_file_size",
           "read_exact", "as_array"]

SPLITS = ("both", "train", "test")

# Where a user gets each dataset's files (minicnn never downloads): every missing-files message
# (the load_* functions, the torchvision-shaped classes, the CLI) quotes this one table.
SOURCES = {
    "mnist": "https://yann.lecun.com/exdb/mnist/ (or a mirror such as "
             "https://ossci-datasets.s3.amazonaws.com/mnist/)",
    "fashion-mnist": "https://github.com/zalandoresearch/fashion-mnist (the files are served "
                     "from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/)",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar.html",
    "kmnist": "https://github.com/rois-codh/kmnist (the MNIST-format files are served from "
              "http://codh.rois.ac.jp/kmnist/dataset/kmnist/)",
    "emnist": "https://www.nist.gov/itl/products-and-services/emnist-dataset (gzip.zip; its "
              "gzip/ folder holds the IDX files)",
    "svhn": "http://ufldl.stanford.edu/housenumbers/",
    "stl10": "https://cs.stanford.edu/~acoates/stl10/ (stl10_binary.tar.gz)",
}

# The file names of each split (the IDX ones may also be gzipped, name + ".gz").
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR10_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR10_BIN_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                     "test": ("test_batch.bin",)}

# Deflate inflates at most ~1032x (its longest match, 258 bytes, costs at least 2 bits): a
# gzip file cannot hold more than this many times its size (plus a little for the framing).
MAX_GZIP_RATIO = 1032


def check_finite(dataset, what="dataset"):
    """Raise ``ValueError`` if a floating-point array of ``dataset`` holds NaN or Inf.

    A NaN pixel makes every loss it touches NaN, and then every weight after one optimizer
    step; ``python -m minicnn train`` calls this on its data before training. (The loaders
    here cannot produce NaN: IDX and CIFAR-10 files store uint8 pixels. Use it for your own
    arrays.)

    Parameters
    ----------
    dataset : TensorDataset
        Its arrays ``(N, ...)`` are checked; integer and bool arrays cannot hold NaN.
    what : str
        How to name the dataset in the message.

    Raises
    ------
    ValueError
        Naming ``what``, the array (by position, dtype and shape), how many samples are
        affected and the first of them.

    Examples
    --------
    >>> import numpy as np
    >>> from minicnn.utils.data import TensorDataset
    >>> ds = TensorDataset(np.array([[0.0], [np.nan]], np.float32), np.arange(2))
    >>> try:
    ...     check_finite(ds, "my data")
    ... except ValueError as exc:
    ...     print(exc)
    my data: array 0 (float32, shape (2, 1)) holds NaN or Inf in 1 of 2 samples, first in sample 1
    """
    if not isinstance(dataset, TensorDataset):
        raise TypeError(f"check_finite needs a TensorDataset, got {type(dataset).__name__}")
    chunk = 4096  # samples per isfinite() call: bounded temporary memory for large datasets
    for i, a in enumerate(dataset.arrays):
        if a.dtype.kind not in "fc":
            continue
        bad = np.concatenate([~np.isfinite(a[k:k + chunk]).reshape(len(a[k:k + chunk]), -1)
                              .all(axis=1) for k in range(0, len(a), chunk)] or [[]])
        if bad.any():
            raise ValueError(f"{what}: array {i} ({a.dtype}, shape {a.shape}) holds NaN or "
                             f"Inf in {int(bad.sum())} of {len(a)} samples, first in sample "
                             f"{int(np.argmax(bad))}")


def check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def check_dir(path, what):
    """``path`` as a Path, after checking that it names an existing directory."""
    if path is None:
        raise ValueError(f"{what}: path is required (the directory holding the files)")
    path = Path(os.fspath(path)).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what}: data directory {str(path)!r} is not a directory "
                                 f"(it names a file)")
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: data directory {str(path)!r} does not exist")
    return path


def find_file(directory, name, gz=True):
    """``directory/name`` or (with ``gz``) ``directory/name.gz``, whichever exists (raw first),
    else None."""
    for candidate in (directory / name, directory / (name + ".gz"))[:2 if gz else 1]:
        if candidate.is_file():
            return candidate
    return None


def locate(root, subdirs, names, gz=True):
    """Where a dataset's files are: the one lookup of every reader (torchvision's layouts).

    Parameters
    ----------
    root : Path
        What the user passed.
    subdirs : sequence of str
        Folders below ``root`` tried first, in order (``"MNIST/raw"``, ``"MNIST"``); ``root``
        itself is tried last.
    names : sequence of str
        The files needed, all in one directory (each also as ``name.gz`` with ``gz``).

    Returns
    -------
    directories : list of Path
        Every directory tried, in order.
    paths : list of Path or None
        The files in the first directory holding all of them, or None if none does.
    """
    directories = [Path(root) / s for s in subdirs] + [Path(root)]
    for directory in directories:
        paths = [find_file(directory, n, gz) for n in names]
        if all(paths):
            return directories, paths
    return directories, None


def missing_files(what, directories, names, gz, advice):
    """The FileNotFoundError a loader raises when no directory holds all of ``names``: it names
    the files the most complete directory lacks, and carries them (``.directory``,
    ``.looked_in``, ``.missing``, names without ``.gz``) so that a caller such as the command
    line can word its own advice."""
    def lacking(directory):
        return [n for n in names if find_file(directory, n, gz) is None]
    directory = min(directories, key=lambda d: len(lacking(d)))  # first of the most complete
    missing = lacking(directory)
    places = ", ".join(repr(str(d)) for d in directories)
    shown = ", ".join(n + "[.gz]" if gz else n for n in missing)
    error = FileNotFoundError(f"{what}: missing files: looked in {places} for {shown}{advice}")
    error.directory, error.looked_in, error.missing = directory, list(directories), missing
    return error


def not_found(name, looked_in, expected, where, download):
    """The RuntimeError of a torchvision-shaped dataset whose files are missing."""
    how = ("download=True cannot fetch it: minicnn works offline and never downloads"
           if download else "minicnn never downloads (download=True only uses files already "
           "there)")
    return RuntimeError(
        f"{name}: dataset not found. Looked in {', '.join(repr(str(p)) for p in looked_in)} for "
        f"{', '.join(expected)}. {how}; get the files from {where} and put them in one of "
        f"those directories.")


def standardized(images, labels, mean, std):
    """Scale uint8 images to [0, 1], standardise, and pair them with int64 labels."""
    x = images.astype(np.float32) / np.float32(255.0)
    mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    x = (x - mean) / std
    return TensorDataset(np.ascontiguousarray(x, np.float32), labels.astype(np.int64))


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


def as_array(x):
    """The NumPy array of a dataset's ``data`` or ``targets`` (a Tensor or an array-like)."""
    return x._data if isinstance(x, Tensor) else np.asarray(x)
