"""Datasets, the DataLoader that batches them, and offline loaders for digits, MNIST and CIFAR-10.

Everything here works on NumPy arrays and hands ``Tensor``s out only at the very end, when the
``DataLoader`` yields a batch. The loaders read files already on disk; nothing downloads anything.

``Dataset`` and ``TensorDataset`` are ``minicnn.utils.data``'s (PyTorch's path, with samplers,
``random_split`` and worker processes); the ``DataLoader`` here is that module's, keeping this
module's batching rules (a tuple of float32/int64 Tensors) and its ``seed=`` argument.

What each loader returns (all images NCHW float32, all labels int64):

==========================  ===================  =================================================
loader                      shape of an image    normalisation
==========================  ===================  =================================================
``load_digits()``           (1, 8, 8)            pixel / 16, then (x - mean) / std with the scalar
                                                 mean and std of the *training* pixels
``load_mnist(path)``        (1, 28, 28)          pixel / 255, then (x - 0.1307) / 0.3081
``load_fashion_mnist(p)``   (1, 28, 28)          pixel / 255, then (x - 0.2860) / 0.3530
``load_cifar10(path)``      (3, 32, 32)          pixel / 255, then per channel (x - mean) / std
                                                 with the usual CIFAR-10 training-set statistics
==========================  ===================  =================================================

With ``split="both"`` (the default) a loader returns ``(train, test)``, two ``TensorDataset``s;
with ``split="train"`` or ``split="test"`` it returns that one ``TensorDataset`` and needs only
its files (useful when you have, say, only the MNIST test files).

>>> from minicnn.data import load_digits, DataLoader
>>> train, test = load_digits()
>>> len(train), len(test)
(1437, 360)
>>> images, labels = next(iter(DataLoader(train, batch_size=32, shuffle=True, seed=0)))
>>> tuple(images.shape), tuple(labels.shape)
((32, 1, 8, 8), (32,))
"""
import gzip
import io
import math
import os
import pickle
import zlib
from pathlib import Path

import numpy as np

from minicnn._tensor import Tensor
from minicnn.serialization import check_regular_file
from minicnn.utils import data as _utils_data
from minicnn.utils.data.dataset import Dataset, TensorDataset

__all__ = [
    "Dataset", "TensorDataset", "DataLoader",
    "load_digits", "load_mnist", "load_fashion_mnist", "load_cifar10", "read_idx",
    "check_finite",
    "DIGITS_TEST_SIZE", "MNIST_FILES", "CIFAR10_FILES",
]

SPLITS = ("both", "train", "test")


# =============================================================================================
# Datasets and the DataLoader
# =============================================================================================

# Dataset and TensorDataset are minicnn.utils.data's (PyTorch's path), re-exported here so
# ``from minicnn.data import TensorDataset`` keeps working; it is one class, not a copy.


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


def _batch_tensor(array):
    """Wrap one batched field as a Tensor: floats stay float32/float64, integers become int64."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        dtype = array.dtype if array.dtype == np.float64 else np.float32
    elif array.dtype.kind in "iub":
        dtype = np.int64  # class labels: what cross_entropy indexes with
    else:
        raise TypeError(f"DataLoader: cannot batch an array of dtype {array.dtype}")
    return Tensor(np.ascontiguousarray(array, dtype=dtype), dtype=dtype)


def _collate(samples):
    """minicnn.data's batching: one Tensor per field, as a tuple (see ``_batch_tensor``)."""
    if not isinstance(samples[0], (tuple, list)):
        samples = [(s,) for s in samples]
    return tuple(_batch_tensor(np.stack([np.asarray(s[k]) for s in samples]))
                 for k in range(len(samples[0])))


def _tensor_dataset_batch(arrays, index):
    """A TensorDataset batch in one fancy-indexing slice per array, batched as ``_collate``."""
    index = np.asarray(index, dtype=np.intp)
    return tuple(_batch_tensor(a[index]) for a in arrays)


class DataLoader(_utils_data.DataLoader):
    """Iterate over a dataset in (optionally shuffled) mini-batches of Tensors.

    This is ``minicnn.utils.data.DataLoader`` (PyTorch's, with ``num_workers``, samplers and
    ``collate_fn``) with minicnn.data's batching rules, which ``python -m minicnn train`` and its
    checkpoints rely on: a batch is always a tuple of Tensors, floating fields become float32
    (float64 stays float64) and integer and bool fields int64 (class labels, what
    ``cross_entropy`` indexes with). ``minicnn.utils.data.DataLoader`` keeps each array's dtype
    and returns lists, as PyTorch does.

    Parameters
    ----------
    dataset : Dataset
        Usually a ``TensorDataset`` of images ``(N, C, H, W)`` and labels ``(N,)``.
    batch_size : int, default 1
        Samples per batch; the last batch is smaller unless ``drop_last``.
    shuffle : bool, default False
        Draw a new random order at the start of every pass (every ``iter(loader)``).
    drop_last : bool, default False
        Skip the last batch when it would be smaller than ``batch_size``.
    seed : int or None, default None
        ``None``: shuffle with minicnn's global generator (``minicnn.rng.get_rng()``), so
        ``minicnn.manual_seed`` fixes the order and a checkpoint of the global RNG state
        resumes it. An int: the loader owns ``numpy.random.default_rng(seed)``, so its
        sequence of epoch orders is reproducible on its own.
    **kwargs
        Any other argument of ``minicnn.utils.data.DataLoader`` (``num_workers``, ``sampler``,
        ``batch_sampler``, ``collate_fn``, ...); with ``num_workers > 0`` the batches are the same.

    Yields
    ------
    tuple of Tensor
        One Tensor per dataset field, batched along a new first axis: for images and labels,
        ``(images (B, C, H, W) float32, labels (B,) int64)``.

    Notes
    -----
    For a ``TensorDataset`` (subclasses too) a batch is one fancy-indexing slice per array (no
    per-sample Python loop); any other ``Dataset`` is read sample by sample and stacked.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 **kwargs):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                         seed=seed, **kwargs)
        if self._default_collate and self._auto_collation:
            self.collate_fn = _collate

    def _fast_batch(self):
        if self._default_collate and isinstance(self.dataset, TensorDataset):
            return _tensor_dataset_batch
        return None

    def __repr__(self):
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")


# =============================================================================================
# Helpers shared by the loaders
# =============================================================================================

def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _check_dir(path, what):
    if path is None:
        raise ValueError(f"{what}: path is required (the directory holding the files)")
    path = Path(os.fspath(path)).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what}: data directory {str(path)!r} is not a directory "
                                 f"(it names a file)")
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: data directory {str(path)!r} does not exist")
    return path


def _missing_files(message, directory, missing):
    """A FileNotFoundError that also carries ``directory`` and the ``missing`` file names (without
    ``.gz``), so that a caller such as the command line can word its own advice."""
    error = FileNotFoundError(message)
    error.directory, error.missing = directory, list(missing)
    return error


def _dataset(images, labels, mean, std):
    """Scale uint8 images to [0, 1], standardise, and pair them with int64 labels."""
    x = images.astype(np.float32) / np.float32(255.0)
    mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    x = (x - mean) / std
    return TensorDataset(np.ascontiguousarray(x, np.float32), labels.astype(np.int64))


# =============================================================================================
# 8x8 digits (scikit-learn's copy of the UCI optical digits test set, shipped in _digits/)
# =============================================================================================

DIGITS_TEST_SIZE = 360
DIGITS_DIR = Path(__file__).resolve().parent / "_digits"  # the data and its split, shipped


def load_digits(split="both"):
    """The 8x8 handwritten digits (1,797 images, the copy scikit-learn bundles), offline,
    normalised. They ship with minicnn (``minicnn/_digits/``, with their source and licence).

    The split is fixed: 1,437 training and 360 test images, each class in the same proportion
    in both (scikit-learn's ``train_test_split(test_size=360, stratify=labels,
    random_state=0)``, stored in ``minicnn/_digits/split.txt``). Pixels (0..16) are divided by
    16, then standardised with the scalar mean and standard deviation of all *training*
    pixels (the test set reuses them, so no test statistics leak into training).

    Parameters
    ----------
    split : {"both", "train", "test"}, default "both"

    Returns
    -------
    (train, test) : TensorDataset, TensorDataset
        With ``split="both"``; otherwise just the one asked for. Each holds images
        ``(N, 1, 8, 8)`` float32 and labels ``(N,)`` int64 in 0..9.
    """
    _check_split(split)
    table = np.loadtxt(DIGITS_DIR / "digits.csv.gz", delimiter=",", dtype=np.float64)
    images = (table[:, :64] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    labels = table[:, 64].astype(np.int64)
    rows = [np.array(line.split(), dtype=np.int64) for line in
            (DIGITS_DIR / "split.txt").read_text().splitlines() if not line.startswith("#")]
    x_train, x_test, y_train, y_test = images[rows[0]], images[rows[1]], labels[rows[0]], \
        labels[rows[1]]
    mean, std = x_train.mean(), x_train.std()
    train = TensorDataset(np.ascontiguousarray((x_train - mean) / std, np.float32), y_train)
    test = TensorDataset(np.ascontiguousarray((x_test - mean) / std, np.float32), y_test)
    return {"both": (train, test), "train": train, "test": test}[split]


# =============================================================================================
# MNIST and Fashion-MNIST: IDX files
# =============================================================================================

# IDX magic numbers: two zero bytes, a type byte (0x08 = unsigned byte), the number of dims.
IDX_MAGIC = {"images": 2051, "labels": 2049}
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# Where a user gets each dataset's files (minicnn never downloads): every missing-files message
# (the loaders here, minicnn.datasets, the CLI) quotes this one table.
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


# Deflate inflates at most ~1032x (its longest match, 258 bytes, costs at least 2 bits): a
# gzip file cannot hold more than this many times its size (plus a little for the framing).
_MAX_GZIP_RATIO = 1032
_READ_PIECE = 2 ** 20  # IDX data is read (and inflated) this many bytes at a time


def read_idx(path, kind=None):
    """Read one IDX file of unsigned bytes (MNIST's format), gzipped or not.

    The header is read first and checked against the file's size (a gzip file cannot hold
    more than ~1032 times its size), then exactly the declared number of bytes is read: a
    file that claims more than it can hold costs neither time nor memory.

    Parameters
    ----------
    path : str or Path
        The file (gzip is detected from its first bytes, not its name).
    kind : {"images", "labels"} or None
        If given, the magic number must be 2051 (images, 3-d) or 2049 (labels, 1-d).

    Returns
    -------
    ndarray of uint8, read-only
        The file's data. Shape from the header: ``(N, H, W)`` for images, ``(N,)`` for labels.

    Raises
    ------
    ValueError
        Naming the file: bad magic number, zero dimension, truncated or oversized data,
        corrupt gzip data, or not a regular file (a FIFO, say).
    """
    path = Path(path)
    check_regular_file(path)
    size = path.stat().st_size
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        trailer = None
        if gzipped:  # a gzip file ends with its inflated size (mod 2**32)
            raw.seek(max(0, size - 4))
            trailer = int.from_bytes(raw.read(4), "little")
        raw.seek(0)
        f = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            return _read_idx_stream(f, path, kind, size, trailer)
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            if not gzipped:
                raise
            raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def _pieces(f, limit):
    """Up to ``limit`` bytes of ``f``, in pieces of at most _READ_PIECE bytes."""
    left = limit
    while left > 0:
        piece = f.read(min(_READ_PIECE, left))
        if not piece:
            return
        left -= len(piece)
        yield piece


def _read_idx_stream(f, path, kind, size, trailer):
    gzipped = trailer is not None
    data = f.read(4)
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(data)} bytes, no header)")
    magic = int.from_bytes(data[:4], "big")
    if kind is not None and magic != IDX_MAGIC[kind]:
        raise ValueError(f"{path}: bad magic number {magic}, expected {IDX_MAGIC[kind]} "
                         f"for an IDX {kind} file")
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] == 0:
        raise ValueError(f"{path}: bad magic number {magic}: not an IDX file of unsigned bytes")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{path}: truncated header: {ndim} dimensions need {header} bytes, "
                         f"file has {4 + len(dims)}")
    shape = tuple(int.from_bytes(dims[4 * i:4 + 4 * i], "big") for i in range(ndim))
    if 0 in shape:
        raise ValueError(f"{path}: header declares an empty dimension, shape {shape}")
    expected = math.prod(shape)
    room = size * _MAX_GZIP_RATIO if gzipped else size - header
    if expected > room:
        raise ValueError(f"{path}: truncated data: shape {shape} needs {expected} bytes after "
                         f"the header, more than this {size}-byte "
                         f"{'gzip ' if gzipped else ''}file can hold")
    if gzipped and trailer != (header + expected) % 2 ** 32:
        # The gzip trailer disagrees with the header: a damaged or hostile file, or the last of
        # several gzip members. That member alone inflates to ``trailer`` bytes (exactly, when
        # the file is too small to inflate past 2**32, and unless the file is cut short): more
        # than declared is refused at once.
        if size * _MAX_GZIP_RATIO < 2 ** 32 and trailer > header + expected:
            raise ValueError(f"{path}: corrupt or truncated gzip data, or "
                             f"{trailer - header - expected} unexpected bytes after the "
                             f"{expected} declared by shape {shape} (so says the gzip trailer)")
        # Otherwise count what the data inflates to, keeping none of it, before reading it.
        _check_idx_length(sum(map(len, _pieces(f, expected + 1))), expected, shape, path,
                           "some")
        f.seek(header)
    # In pieces, one more byte than declared (is there anything after the declared data?):
    # memory grows with what the file really holds, never with what its header claims.
    body = bytearray()
    for piece in _pieces(f, expected + 1):
        body += piece
    _check_idx_length(len(body), expected, shape, path,
                      "some" if gzipped else size - header - expected)
    out = np.frombuffer(body, dtype=np.uint8).reshape(shape)
    out.flags.writeable = False
    return out


def _check_idx_length(found, expected, shape, path, extra):
    if found < expected:
        raise ValueError(f"{path}: truncated data: shape {shape} needs {expected} bytes after "
                         f"the header, found {found}")
    if found > expected:
        raise ValueError(f"{path}: {extra} unexpected bytes after the {expected} "
                         f"declared by shape {shape}")


def _find(directory, name):
    """``directory/name`` or ``directory/name.gz``, whichever exists (raw first), else None."""
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_split(directory, split, what):
    image_name, label_name = MNIST_FILES[split]
    images = read_idx(_find(directory, image_name), "images")
    labels = read_idx(_find(directory, label_name), "labels")
    if len(images) != len(labels):
        raise ValueError(f"{what}: {image_name} holds {len(images)} images but "
                         f"{label_name} holds {len(labels)} labels (in {str(directory)!r})")
    if labels.max() > 9:
        raise ValueError(f"{_find(directory, label_name)}: labels must be 0..9, "
                         f"found {int(labels.max())}")
    return images[:, None, :, :], labels


def _load_idx_dataset(path, split, mean, std, what, source):
    _check_split(split)
    directory = _check_dir(path, what)
    splits = ("train", "test") if split == "both" else (split,)
    # Check that every needed file exists before reading any: one clear error, listing them all.
    missing = [name for s in splits for name in MNIST_FILES[s] if _find(directory, name) is None]
    if missing:
        hint = ("; to load only the files you have, pass split='test' (or 'train')"
                if split == "both" else "")
        raise _missing_files(f"{what}: missing files in {str(directory)!r}: looked for "
                             f"{', '.join(n + '[.gz]' for n in missing)}{hint}. minicnn never "
                             f"downloads: get the files from {SOURCES[source]}", directory,
                             missing)
    out = tuple(_dataset(*_load_idx_split(directory, s, what), mean, std) for s in splits)
    return out if split == "both" else out[0]


def load_mnist(path, split="both"):
    """MNIST from the four standard IDX files in directory ``path`` (``.gz`` or not).

    Looks for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each possibly with ``.gz``.
    Pixels are divided by 255, then standardised with MNIST's usual training-set statistics
    (mean 0.1307, std 0.3081), fixed constants so either split can be loaded alone.

    Parameters
    ----------
    path : str or Path
        Directory holding the files.
    split : {"both", "train", "test"}, default "both"
        ``"test"`` needs only the two ``t10k`` files, ``"train"`` only the two ``train`` files.

    Returns
    -------
    (train, test) : TensorDataset, TensorDataset
        With ``split="both"``; otherwise the one asked for. Images ``(N, 1, 28, 28)`` float32,
        labels ``(N,)`` int64 (60,000 train and 10,000 test for the real files).

    Raises
    ------
    FileNotFoundError
        The directory or a needed file is missing (the message lists what was looked for).
    NotADirectoryError
        ``path`` names a file, not a directory.
    ValueError
        A file is malformed (bad magic, truncated, image/label count mismatch), naming it.
    """
    return _load_idx_dataset(path, split, 0.1307, 0.3081, "load_mnist", "mnist")


def load_fashion_mnist(path, split="both"):
    """Fashion-MNIST: same files, format and return values as ``load_mnist``.

    Normalisation: pixel / 255, then (x - 0.2860) / 0.3530 (Fashion-MNIST's training-set
    statistics). See ``load_mnist`` for parameters, returns and errors.
    """
    return _load_idx_dataset(path, split, 0.2860, 0.3530, "load_fashion_mnist",
                             "fashion-mnist")


# =============================================================================================
# CIFAR-10: the "python version" batches, unpickled without running any code from the file
# =============================================================================================

CIFAR10_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# The CIFAR batches were written by Python 2's cPickle: a dict whose b"data" is a uint8 numpy
# array. Unpickling a numpy array names three globals (below). A pickle can name *any* global
# and call it, so instead of importing what the file asks for, ``_SafeUnpickler`` hands back
# harmless stand-ins that only record their arguments; we rebuild the array ourselves with
# ``np.frombuffer`` after checking its dtype and size. Everything else is refused.
_NUMERIC_DTYPES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1"}


def _text(value):
    return value.decode("latin1") if isinstance(value, (bytes, bytearray)) else value


class _PickledDtype:
    """Stand-in for ``numpy.dtype(name, align, copy)``: records the name and byte order."""

    def __init__(self, name, align=False, copy=True):
        self.name = _text(name)
        self.byteorder = "|"

    def __setstate__(self, state):
        self.byteorder = _text(state[1]) if len(state) > 1 else "|"

    def to_numpy(self):
        if self.name not in _NUMERIC_DTYPES:
            raise pickle.UnpicklingError(f"refusing array dtype {self.name!r} "
                                         f"(only plain numeric dtypes are allowed)")
        order = self.byteorder if self.byteorder in "<>=" else "|"
        return np.dtype(self.name if order == "|" else order + self.name)


class _PickledArray:
    """Stand-in for ``numpy.core.multiarray._reconstruct(ndarray, ...)``; holds the raw state."""

    def __init__(self, subtype=None, *args):
        if subtype is not _NDARRAY:
            raise pickle.UnpicklingError("_reconstruct may only rebuild a numpy.ndarray")
        self.state = None

    def __setstate__(self, state):
        self.state = state

    def to_numpy(self):
        state = self.state
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("malformed numpy array state")
        shape, dtype, fortran, raw = state[-4:]
        if not isinstance(dtype, _PickledDtype):
            raise pickle.UnpicklingError("malformed numpy array state (dtype)")
        if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise pickle.UnpicklingError(f"malformed numpy array shape {shape!r}")
        dt = dtype.to_numpy()
        if isinstance(raw, str):  # a Python 2 str read with encoding="latin1"
            raw = raw.encode("latin1")
        if not isinstance(raw, (bytes, bytearray)):
            raise pickle.UnpicklingError("numpy array data is not a byte string")
        if len(raw) != math.prod(shape) * dt.itemsize:
            raise pickle.UnpicklingError(f"numpy array data has {len(raw)} bytes, shape "
                                         f"{shape} of {dt} needs {math.prod(shape) * dt.itemsize}")
        return np.frombuffer(bytes(raw), dtype=dt).reshape(shape, order="F" if fortran else "C")


def _encode_latin1(text, encoding="latin1"):
    """Stand-in for ``_codecs.encode``: how Python 3 writes bytes in a protocol-2 pickle."""
    if not isinstance(text, str) or _text(encoding).lower() not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode with unexpected arguments")
    return text.encode("latin1")


class _Global:
    """What ``find_class`` hands a pickle for an allowed global: calling it runs the stand-in,
    and nothing else works. In particular a pickle's BUILD on it (which would otherwise set
    attributes of the stand-in, for the rest of the process) is refused."""

    __slots__ = ("name", "_call")

    def __init__(self, name, call):
        self.name, self._call = name, call

    def __call__(self, *args):
        if self._call is None:
            raise pickle.UnpicklingError(f"refusing to call {self.name}")
        return self._call(*args)

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"refusing BUILD on {self.name} (only on array data)")


_NDARRAY = _Global("numpy.ndarray", None)  # only ever passed to _reconstruct

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _Global("_reconstruct", _PickledArray),
    ("numpy._core.multiarray", "_reconstruct"): _Global("_reconstruct", _PickledArray),
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Global("numpy.dtype", _PickledDtype),
    ("_codecs", "encode"): _Global("_codecs.encode", _encode_latin1),
}


class _SafeUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` returns only the harmless stand-ins above."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 batch holds only "
                f"dicts, byte strings, lists, ints and a uint8 array") from None


# The largest batch file read (the real ones are 31 MB).
MAX_CIFAR_BATCH_BYTES = 256 * 2 ** 20
_CIFAR_KEYS = {"batch_label", "labels", "data", "filenames"}


def _labels(value, path):
    """A batch's labels, checked: a list of ints 0..9 (or a 1-d integer array)."""
    if isinstance(value, _PickledArray):
        value = value.to_numpy()
        if value.dtype.kind not in "iu" or value.ndim != 1:
            raise ValueError(f"{path}: 'labels' must be integers 0..9, got a {value.dtype} "
                             f"array of shape {value.shape}")
    elif isinstance(value, list):
        # One pass over the list as stored: a shared or nested list is not a label.
        for v in value:
            if type(v) is not int:
                raise ValueError(f"{path}: 'labels' must be a list of ints 0..9, found a "
                                 f"{type(v).__name__}")
            if not 0 <= v <= 9:
                shown = v if abs(v) < 10 ** 6 else "a huge int"
                raise ValueError(f"{path}: labels must be 0..9, found {shown}")
    else:
        raise ValueError(f"{path}: 'labels' must be a list of ints, got {type(value).__name__}")
    labels = np.asarray(value, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must be 0..9, found {labels.min()}..{labels.max()}")
    return labels


def _strings(value, key, path):
    """A batch's batch_label (a string) or filenames (a list of strings): checked, unused."""
    ok = (isinstance(value, (bytes, str)) if key == "batch_label" else
          isinstance(value, list) and all(isinstance(v, (bytes, str)) for v in value))
    if not ok:
        raise ValueError(f"{path}: {key!r} must be "
                         f"{'a string' if key == 'batch_label' else 'a list of strings'}, "
                         f"got {type(value).__name__}")


def _load_cifar_batch(path):
    """One CIFAR-10 batch file -> (images (N, 3, 32, 32) uint8, labels (N,) int64).

    The file is hostile until proven otherwise: it must be a regular file of at most
    MAX_CIFAR_BATCH_BYTES; the unpickler builds only plain data and the stand-ins above; and
    the result must be exactly the batch layout (a dict of ``data``, ``labels`` and optionally
    ``batch_label`` and ``filenames``), read in one pass over what the file holds, so the work
    is bounded by the file's size however the pickle shares its objects."""
    check_regular_file(path)
    size = Path(path).stat().st_size
    if size > MAX_CIFAR_BATCH_BYTES:
        raise ValueError(f"{path}: not a CIFAR-10 batch: {size} bytes, more than the "
                         f"{MAX_CIFAR_BATCH_BYTES} a batch can have")
    try:
        batch = _SafeUnpickler(io.BytesIO(Path(path).read_bytes()), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch: {exc}") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            RecursionError, OverflowError, MemoryError) as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch: corrupt or truncated pickle "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: not a CIFAR-10 batch: expected a dict, got "
                         f"{type(batch).__name__}")
    keys = [_text(k) if isinstance(k, (bytes, str)) else k for k in batch]
    unknown = [k for k in keys if k not in _CIFAR_KEYS]
    if unknown:
        raise ValueError(f"{path}: not a CIFAR-10 batch: unexpected entries "
                         f"{[str(k)[:40] for k in unknown[:3]]} (a batch holds "
                         f"{', '.join(sorted(_CIFAR_KEYS))})")
    batch = dict(zip(keys, batch.values()))
    for key in ("data", "labels"):
        if key not in batch:
            raise ValueError(f"{path}: not a CIFAR-10 batch: no {key!r} entry "
                             f"(keys: {sorted(map(str, batch))})")
    for key in ("batch_label", "filenames"):
        if key in batch:
            _strings(batch[key], key, path)
    data = batch["data"]
    try:
        data = data.to_numpy() if isinstance(data, _PickledArray) else data
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch: {exc}") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) \
            else type(data).__name__
        raise ValueError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {desc}")
    try:
        labels = _labels(batch["labels"], path)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch: {exc}") from None
    if labels.shape != (len(data),):
        raise ValueError(f"{path}: {len(data)} images but {labels.size} labels")
    # Each row is 1024 red, then 1024 green, then 1024 blue values, each plane row-major 32x32.
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(path, split="both"):
    """CIFAR-10 from the "python version" batches, read without executing pickle code.

    Parameters
    ----------
    path : str or Path
        A directory holding ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``, or their
        parent holding ``cifar-10-batches-py/`` (what the official archive unpacks to).
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
    _check_split(split)
    directory = _check_dir(path, "load_cifar10")
    if not (directory / "test_batch").is_file() and not (directory / "data_batch_1").is_file() \
            and (directory / "cifar-10-batches-py").is_dir():
        directory = directory / "cifar-10-batches-py"
    splits = ("train", "test") if split == "both" else (split,)
    missing = [name for s in splits for name in CIFAR10_FILES[s]
               if not (directory / name).is_file()]
    if missing:
        raise _missing_files(f"load_cifar10: missing files in {str(directory)!r} (also tried "
                             f"its cifar-10-batches-py/ subdirectory): {', '.join(missing)}. "
                             f"minicnn never downloads: get cifar-10-python.tar.gz (the python version) "
                             f"from {SOURCES['cifar10']}",
                             directory, missing)
    out = []
    for s in splits:
        parts = [_load_cifar_batch(directory / name) for name in CIFAR10_FILES[s]]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        out.append(_dataset(images, labels, CIFAR10_MEAN, CIFAR10_STD))
    return tuple(out) if split == "both" else out[0]
