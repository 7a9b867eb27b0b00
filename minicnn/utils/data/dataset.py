"""Map-style datasets as in torch.utils.data (Dataset, TensorDataset, Subset, ...), random_split.

A dataset is anything with ``len(ds)`` and ``ds[i]``. Everything here holds NumPy arrays (or
wraps other datasets); Tensors appear only when a ``DataLoader`` collates a batch.
"""
import bisect
import math
import numbers

import numpy as np

from minicnn._checks import check_int
from minicnn._tensor import Tensor
from minicnn.rng import numpy_generator

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "random_split", "numpy_generator"]


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` returns one sample.

    Subclass it and implement ``__len__`` and ``__getitem__``; a ``DataLoader`` then batches the
    samples with its ``collate_fn``. ``ds1 + ds2`` is their ``ConcatDataset``, as in PyTorch.
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: implement ``__iter__``. A ``DataLoader`` batches it in order
    (with ``num_workers=0``; minicnn's worker processes serve map-style datasets only)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self):
        # TypeError, as for any object without a length (list() asks, and tolerates only that)
        raise TypeError(f"object of type {type(self).__name__!r} has no len()")

    def __add__(self, other):
        raise TypeError("an IterableDataset cannot be added to another dataset")


class TensorDataset(Dataset):
    """Samples that are rows of equally long arrays: ``ds[i] == (a[i], b[i], ...)``.

    Parameters
    ----------
    *arrays : ndarray or Tensor
        Each of shape ``(N, ...)`` with the same first dimension ``N``, e.g. images
        ``(N, C, H, W)`` and labels ``(N,)``. Tensors are read through their ``.data`` array
        (no copy); the dataset holds arrays, never Tensors.

    Attributes
    ----------
    arrays : tuple of ndarray
        The arrays, as given (``ds.arrays[0][idx]`` slices a whole batch at once, which is what
        the ``DataLoader`` does instead of a per-sample loop). ``tensors`` is the same tuple,
        under PyTorch's name.

    Examples
    --------
    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((5, 1, 2, 2), np.float32), np.arange(5))
    >>> len(ds), int(ds[3][1])
    (5, 3)
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        converted = []
        for i, a in enumerate(arrays):
            if isinstance(a, Tensor):
                a = a._data
            if not isinstance(a, np.ndarray):
                raise TypeError(f"TensorDataset: argument {i} must be an ndarray or Tensor, "
                                f"got {type(a).__name__}")
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} must have a first (sample) "
                                 f"dimension, got a 0-d array")
            converted.append(a)
        n = len(converted[0])
        for i, a in enumerate(converted[1:], start=1):
            if len(a) != n:
                raise ValueError(f"TensorDataset: all arrays need the same first dimension; "
                                 f"argument 0 has {n} samples, argument {i} has {len(a)}")
        self.arrays = tuple(converted)

    @property
    def tensors(self):
        return self.arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __repr__(self):
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"TensorDataset({shapes})"


def _index(index, n, what):
    """``index`` as an int in 0..n-1 (negative counts from the end, as a list does)."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, numbers.Integral):
        raise TypeError(f"{what} indices must be integers, got {type(index).__name__}")
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"{what} index {index} is out of range for {n} samples")
    return index + n if index < 0 else index


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, idx)[i] ==
    ds[idx[i]]``.

    Parameters
    ----------
    dataset : Dataset
    indices : sequence of int
        Positions in ``dataset`` (checked here, so a wrong index fails at once, not mid-epoch).
    """

    def __init__(self, dataset, indices):
        n = len(dataset)
        self.dataset = dataset
        self.indices = [_index(i, n, "Subset") for i in
                        (indices.tolist() if isinstance(indices, np.ndarray) else indices)]

    def __getitem__(self, index):
        if isinstance(index, (list, tuple, np.ndarray)):
            return [self[i] for i in index]
        return self.dataset[self.indices[_index(index, len(self.indices), "Subset")]]

    def __getitems__(self, indices):
        # As PyTorch: a dataset that fetches many samples at once gets them all in one call.
        mapped = [self.indices[_index(i, len(self.indices), "Subset")] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self):
        return len(self.indices)

    def __repr__(self):
        return f"Subset({self.dataset!r}, {len(self.indices)} of {len(self.dataset)} samples)"


class ConcatDataset(Dataset):
    """Several datasets one after the other: indices 0..len(a)-1 are ``a``'s, then ``b``'s, ...

    Attributes
    ----------
    datasets : list of Dataset
    cumulative_sizes : list of int
        ``cumulative_sizes[k]`` = total length of ``datasets[:k+1]`` (PyTorch's attribute).
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = _index(index, len(self), "ConcatDataset")
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][index - start]

    def __repr__(self):
        return f"ConcatDataset({len(self.datasets)} datasets, {len(self)} samples)"


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    Parameters
    ----------
    dataset : Dataset
    lengths : sequence of int, or of float fractions summing to 1
        Fractions are turned into lengths as PyTorch does: ``floor(n * f)`` each, then the
        samples left over go one by one to the splits in order.
    generator : numpy.random.Generator, optional
        Draws the permutation; by default minicnn's generator (``minicnn.manual_seed``).

    Returns
    -------
    list of Subset

    Examples
    --------
    >>> import numpy as np
    >>> train, val = random_split(TensorDataset(np.arange(10)), [0.8, 0.2],
    ...                           generator=np.random.default_rng(0))
    >>> len(train), len(val)
    (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in lengths):
        lengths = [check_int(x, "lengths", 0) for x in lengths]
    elif math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        fractions = lengths
        for i, f in enumerate(fractions):
            if not 0 <= f <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        lengths = [int(math.floor(n * f)) for f in fractions]
        for i in range(n - sum(lengths)):
            lengths[i % len(lengths)] += 1
    else:
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing "
                         f"to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset! "
                         f"({sum(lengths)} != {n})")
    order = numpy_generator(generator).permutation(n).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[offset:offset + length]))
        offset += length
    return out
