"""Samplers as in torch.utils.data: which indices a DataLoader reads, in which order and batches.

Random samplers draw from minicnn's generator (``minicnn.manual_seed``) unless given their own
``numpy.random.Generator``; the order of an epoch is drawn when its iteration starts.
"""
import numbers

import numpy as np

from minicnn._checks import check_bool, check_int
from minicnn.utils.data.dataset import numpy_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "check_batch_size"]


def check_batch_size(batch_size):
    """``batch_size`` as a positive int; ValueError otherwise (PyTorch raises ValueError for a
    float or bool batch size too, so check_int's TypeError is turned into one here)."""
    try:
        return check_int(batch_size, "batch_size", 1)
    except TypeError:
        raise ValueError(f"batch_size should be a positive integer value, but got "
                         f"batch_size={batch_size!r}") from None


class Sampler:
    """Base class: ``iter(sampler)`` yields dataset indices (or lists of them, for a batch
    sampler); ``len(sampler)`` is how many it yields, where that is known."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the dataset's indices, new every epoch.

    Parameters
    ----------
    data_source : Dataset
    replacement : bool, default False
        Draw ``num_samples`` indices independently (with repeats) instead of a permutation.
    num_samples : int, optional
        How many indices per epoch; default ``len(data_source)``. Without replacement, more
        than that chains several permutations, as PyTorch does.
    generator : numpy.random.Generator, optional
        Default: minicnn's generator, so ``minicnn.manual_seed`` fixes the order and restoring
        ``minicnn.set_rng_state`` resumes it.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = check_bool(replacement, "replacement")
        self._num_samples = None if num_samples is None else check_int(num_samples,
                                                                        "num_samples", 1)
        numpy_generator(generator)  # a wrong type fails here, not at the first epoch
        self.generator = generator

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, m = len(self.data_source), self.num_samples
        rng = numpy_generator(self.generator)
        if self.replacement:
            order = rng.integers(0, n, size=m)
        elif m == n:
            order = rng.permutation(n)  # one draw per epoch: minicnn's train resumes on it
        else:
            order = np.concatenate([rng.permutation(n) for _ in range(-(-m // n))])[:m]
        yield from order.tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, new every epoch."""

    def __init__(self, indices, generator=None):
        self.indices = list(indices)
        numpy_generator(generator)
        self.generator = generator

    def __iter__(self):
        for k in numpy_generator(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[k]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices 0..len(weights)-1 drawn with probability proportional to
    ``weights`` (with or without replacement)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1 or weights.size == 0 or not np.isfinite(weights).all() \
                or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("weights must be a non-empty 1-d sequence of non-negative, finite "
                             "numbers that do not sum to 0")
        self.weights = weights
        self.num_samples = check_int(num_samples, "num_samples", 1)
        self.replacement = check_bool(replacement, "replacement")
        if not self.replacement and self.num_samples > np.count_nonzero(weights):
            raise ValueError("without replacement, num_samples cannot exceed the number of "
                             "non-zero weights")
        numpy_generator(generator)
        self.generator = generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        draw = numpy_generator(self.generator).choice(len(p), self.num_samples,
                                                      replace=self.replacement, p=p)
        yield from draw.tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size``.

    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=True))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = check_batch_size(batch_size)
        if not isinstance(drop_last, (bool, np.bool_)):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.drop_last = bool(drop_last)

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(int(index) if isinstance(index, numbers.Integral) else index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
