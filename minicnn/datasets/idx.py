"""IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST): the bounded reader and the MNIST loaders."""
import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from minicnn.datasets._common import (MAX_GZIP_RATIO, MNIST_FILES, SOURCES, check_dir,
                                      check_split, locate, missing_files, standardized)
from minicnn.serialization import check_regular_file

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "load_kmnist", "idx_subdirs",
           "IDX_MAGIC"]

# IDX magic numbers: two zero bytes, a type byte (0x08 = unsigned byte), the number of dims.
IDX_MAGIC = {"images": 2051, "labels": 2049}
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
    room = size * MAX_GZIP_RATIO if gzipped else size - header
    if expected > room:
        raise ValueError(f"{path}: truncated data: shape {shape} needs {expected} bytes after "
                         f"the header, more than this {size}-byte "
                         f"{'gzip ' if gzipped else ''}file can hold")
    if gzipped and trailer != (header + expected) % 2 ** 32:
        # The gzip trailer disagrees with the header: a damaged or hostile file, or the last of
        # several gzip members. That member alone inflates to ``trailer`` bytes (exactly, when
        # the file is too small to inflate past 2**32, and unless the file is cut short): more
        # than declared is refused at once.
        if size * MAX_GZIP_RATIO < 2 ** 32 and trailer > header + expected:
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


def idx_subdirs(folder):
    """Where an IDX dataset's files are looked for below ``root``, before ``root`` itself:
    torchvision's ``root/<folder>/raw/``, then ``root/<folder>/``."""
    return (f"{folder}/raw", folder)


def _load_idx_split(paths, what):
    images, labels = read_idx(paths[0], "images"), read_idx(paths[1], "labels")
    if len(images) != len(labels):
        raise ValueError(f"{what}: {paths[0].name} holds {len(images)} images but "
                         f"{paths[1].name} holds {len(labels)} labels (in "
                         f"{str(paths[0].parent)!r})")
    if labels.max() > 9:
        raise ValueError(f"{paths[1]}: labels must be 0..9, found {int(labels.max())}")
    return images[:, None, :, :], labels


def _load_idx_dataset(path, split, mean, std, what, source, folder):
    check_split(split)
    root = check_dir(path, what)
    splits = ("train", "test") if split == "both" else (split,)
    names = [name for s in splits for name in MNIST_FILES[s]]
    # Check that every needed file exists before reading any: one clear error, listing them all.
    directories, paths = locate(root, idx_subdirs(folder), names)
    if paths is None:
        hint = ("; to load only the files you have, pass split='test' (or 'train')"
                if split == "both" else "")
        raise missing_files(what, directories, names, True,
                            f"{hint}. minicnn never downloads: get the files from "
                            f"{SOURCES[source]}")
    out = tuple(standardized(*_load_idx_split(paths[2 * k:2 * k + 2], what), mean, std)
                for k in range(len(splits)))
    return out if split == "both" else out[0]


def load_mnist(path, split="both"):
    """MNIST from the four standard IDX files (``.gz`` or not), as a ``TensorDataset``.

    Looks for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each possibly with ``.gz``, in
    ``path/MNIST/raw/`` (torchvision's layout), ``path/MNIST/`` or ``path`` itself.
    Pixels are divided by 255, then standardised with MNIST's usual training-set statistics
    (mean 0.1307, std 0.3081), fixed constants so either split can be loaded alone.

    Parameters
    ----------
    path : str or Path
        Directory holding the files (or torchvision's root above ``MNIST/raw/``).
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
    return _load_idx_dataset(path, split, 0.1307, 0.3081, "load_mnist", "mnist", "MNIST")


def load_fashion_mnist(path, split="both"):
    """Fashion-MNIST: same files, format and return values as ``load_mnist``, looked for in
    ``path/FashionMNIST/raw/``, ``path/FashionMNIST/`` or ``path``.

    Normalisation: pixel / 255, then (x - 0.2860) / 0.3530 (Fashion-MNIST's training-set
    statistics). See ``load_mnist`` for parameters, returns and errors.
    """
    return _load_idx_dataset(path, split, 0.2860, 0.3530, "load_fashion_mnist",
                             "fashion-mnist", "FashionMNIST")


def load_kmnist(path, split="both"):
    """KMNIST (Kuzushiji-MNIST): same files, format and return values as ``load_mnist``, looked
    for in ``path/KMNIST/raw/``, ``path/KMNIST/`` or ``path``.

    Normalisation: pixel / 255, then (x - 0.5) / 0.5, which maps [0, 1] onto [-1, 1]: fixed
    constants, not the dataset's own statistics, so that either split can be loaded alone and
    gives the same numbers. See ``load_mnist`` for parameters, returns and errors.
    """
    return _load_idx_dataset(path, split, 0.5, 0.5, "load_kmnist", "kmnist", "KMNIST")
