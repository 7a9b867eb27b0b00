"""DataLoader as in torch.utils.data: sampler -> indices, collate -> batch, optionally in workers.

Samplers choose the indices, a collate function batches the samples, and ``num_workers`` worker
processes can do the fetching (the same batches, in the same order)."""
import numbers
import pickle
import sys
import time
import warnings

import numpy as np

from minicnn._checks import check_bool, check_int
from minicnn.utils.data import _worker
from minicnn.utils.data.collate import array_to_tensor, default_collate, default_convert
from minicnn.utils.data.dataset import IterableDataset, TensorDataset, numpy_generator
from minicnn.utils.data.sampler import (BatchSampler, RandomSampler, SequentialSampler,
                                        check_batch_size)

__all__ = ["DataLoader"]


def _tensor_dataset_batch(arrays, index):
    """A TensorDataset batch in one fancy-indexing slice per array: what ``default_collate``
    makes of the samples ``ds[i] for i in index``, without a per-sample Python loop."""
    index = np.asarray(index, dtype=np.intp)
    return [array_to_tensor(a[index]) for a in arrays]


class _Fetcher:
    """``fetch(index)``: one batch (auto-batching) or one sample (``batch_size=None``)."""

    def __init__(self, dataset, collate_fn, auto_collation, fast):
        self.dataset, self.collate_fn = dataset, collate_fn
        self.auto_collation, self.fast = auto_collation, fast

    def __call__(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.fast is not None:
            return self.fast(self.dataset.arrays, index)
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(samples)


class DataLoader:
    """Iterate over a dataset in batches, as ``torch.utils.data.DataLoader``.

    Parameters
    ----------
    dataset : Dataset
        Map-style (``len`` and ``[i]``), or an ``IterableDataset`` (``num_workers=0`` only).
    batch_size : int or None, default 1
        Samples per batch; ``None`` yields samples one by one, unbatched (``default_convert``).
    shuffle : bool, default False
        A new random order each epoch (``RandomSampler``), drawn from ``generator``.
    sampler, batch_sampler : Sampler, optional
        Which indices to read (``sampler``), or which lists of indices make each batch
        (``batch_sampler``: then leave batch_size, shuffle, sampler and drop_last unset).
    num_workers : int, default 0
        0 reads in this process. ``n > 0`` starts ``n`` worker processes per epoch (once, with
        ``persistent_workers=True``); batch ``k`` is fetched by worker ``k % n`` and batches
        are yielded in order, so they are exactly the batches ``num_workers=0`` gives. A
        worker that dies (even half-way through sending a batch) raises RuntimeError naming
        its pid; workers end with the process that started them.
    collate_fn : callable, optional
        Turns a list of samples into a batch; default ``default_collate``.
    pin_memory : bool, default False
        Accepted; there is nothing to pin on a CPU-only framework.
    drop_last : bool, default False
        Skip the last batch when it would be smaller than ``batch_size``.
    timeout : float, default 0
        Seconds to wait for a worker's batch before raising (0: wait as long as it takes;
        a worker that dies is reported either way).
    worker_init_fn : callable, optional
        Called as ``worker_init_fn(worker_id)`` in each worker after it is seeded.
    multiprocessing_context : multiprocessing context or str, optional
        Default: ``"fork"`` on Linux, the platform's default elsewhere (where the dataset and
        collate_fn must then be picklable).
    generator : numpy.random.Generator, optional
        Draws the shuffle order and the workers' base seed; default minicnn's generator, so
        ``minicnn.manual_seed`` makes runs reproducible.
    prefetch_factor : int, optional
        Batches in flight per worker (default 2 with workers; must be None without).
    persistent_workers : bool, default False
        Keep the worker processes between epochs. As in PyTorch, the loader then has one
        iterator: ``iter(loader)`` starts its epoch over and returns it (``zip(L, L)`` yields
        pairs of consecutive batches of one epoch).
    seed : int, optional
        minicnn's shorthand for ``generator=numpy.random.default_rng(seed)``: the loader's own
        reproducible sequence of epoch orders, leaving the global generator untouched.

    Notes
    -----
    Seeding: worker ``i`` seeds minicnn's generator (what random transforms draw from), NumPy's
    legacy ``np.random`` and Python's ``random`` with ``base_seed + i``, where ``base_seed`` is
    derived from ``generator``'s state when the epoch starts, without drawing from it: so the
    shuffle order is the same with and without workers. Random transforms draw different numbers
    in workers than in the main process (as in PyTorch), but the same ones on every run.

    Examples
    --------
    >>> import numpy as np
    >>> from minicnn.utils.data import TensorDataset
    >>> ds = TensorDataset(np.zeros((10, 1, 4, 4), np.float32), np.arange(10))
    >>> images, labels = next(iter(DataLoader(ds, batch_size=4, shuffle=True)))
    >>> tuple(images.shape), labels.dtype
    ((4, 1, 4, 4), minicnn.int64)
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, seed=None):
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and (not hasattr(dataset, "__len__")
                             or not hasattr(dataset, "__getitem__")):
            raise TypeError(f"dataset must support len() and indexing, "
                            f"got {type(dataset).__name__}")
        num_workers = check_int(num_workers, "num_workers")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             " let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0:
            prefetch_factor = 2 if prefetch_factor is None else \
                check_int(prefetch_factor, "prefetch_factor", 1)
        persistent_workers = check_bool(persistent_workers, "persistent_workers")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
            if generator is not None:
                raise ValueError("give either seed or generator, not both")
            generator = np.random.default_rng(int(seed))
        numpy_generator(generator)
        shuffle = bool(shuffle) if shuffle is not None else False
        if not isinstance(drop_last, (bool, np.bool_)):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        if iterable:
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle, "
                                 "sampler and batch_sampler options")
            if num_workers > 0:
                raise ValueError("minicnn's DataLoader reads an IterableDataset in the main "
                                 "process only: use num_workers=0")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is "
                                 "mutually exclusive with drop_last")
        else:
            batch_size = check_batch_size(batch_size)
        if sampler is None and not iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = check_bool(pin_memory, "pin_memory")
        self.pin_memory_device = pin_memory_device
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        if isinstance(multiprocessing_context, str):
            import multiprocessing
            multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.seed = seed
        self.shuffle = shuffle
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._pool = self._iterator = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (isinstance(self.dataset, IterableDataset)
                                                  and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def _fast_batch(self):
        """The fetch shortcut for a plain TensorDataset with the default collate, else None.
        (A subclass that overrides ``__getitem__`` is read sample by sample, as PyTorch does.)"""
        if self._default_collate and isinstance(self.dataset, TensorDataset) \
                and type(self.dataset).__getitem__ is TensorDataset.__getitem__:
            return _tensor_dataset_batch
        return None

    def _fetcher(self):
        return _Fetcher(self.dataset, self.collate_fn, self._auto_collation,
                        self._fast_batch() if self._auto_collation else None)

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            return _IterableIter(self)
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not _worker.SUPPORTED:
            warnings.warn(f"DataLoader: worker processes need POSIX pipes, which {sys.platform} "
                          f"lacks; loading in the main process instead (batches in the same order as "
                          f"num_workers={self.num_workers}, without the parallelism)",
                          RuntimeWarning, stacklevel=2)
            return _SingleProcessIter(self)
        if self.persistent_workers:
            # As PyTorch: one iterator per loader, and a new iter() starts its epoch over (so
            # zip(L, L) takes turns on one epoch rather than two epochs waiting on each other).
            if self._pool is None or not self._pool.alive:
                self._pool = self._new_pool()
                self._iterator = _MultiProcessIter(self, self._pool, owns_pool=False)
            else:
                self._iterator._reset()
            return self._iterator
        return _MultiProcessIter(self, self._new_pool(), owns_pool=True)

    def _base_seed(self):
        # Derived from a copy of the generator's state, so starting workers draws nothing:
        # the epoch's shuffle order is the same as with num_workers=0.
        rng = numpy_generator(self.generator)
        copy = np.random.Generator(type(rng.bit_generator)())
        copy.bit_generator.state = rng.bit_generator.state
        mixed = np.random.SeedSequence([int(copy.integers(2 ** 63)), 0x5EED])
        return int(mixed.generate_state(1, np.uint64)[0] >> np.uint64(1))

    def _new_pool(self):
        context = self.multiprocessing_context or _worker.default_context()
        return _worker.WorkerPool(self._fetcher(), self.dataset, self.num_workers,
                                  self._base_seed(), self.worker_init_fn, context)

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None and pool.alive:
            try:
                pool.shutdown()
            except Exception:  # interpreter shutdown: the daemonic workers end with it anyway
                pass

    def __repr__(self):
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"num_workers={self.num_workers})")


class _SingleProcessIter:
    def __init__(self, loader):
        self._loader = loader
        self._fetch = loader._fetcher()
        self._indices = iter(loader._index_sampler)

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        return self._fetch(next(self._indices))


class _IterableIter(_SingleProcessIter):
    def __init__(self, loader):
        self._samples = iter(loader.dataset)
        self._loader = loader

    def __next__(self):
        loader = self._loader
        if loader.batch_size is None:
            return loader.collate_fn(next(self._samples))
        batch = []
        for sample in self._samples:
            batch.append(sample)
            if len(batch) == loader.batch_size:
                break
        if not batch or (loader.drop_last and len(batch) < loader.batch_size):
            raise StopIteration
        return loader.collate_fn(batch)


class _MultiProcessIter:
    """One epoch over a WorkerPool: send index batches round-robin, yield results in order."""

    def __init__(self, loader, pool, owns_pool):
        self._pool, self._owns_pool = pool, owns_pool
        self._loader = loader
        self._timeout = loader.timeout
        self._reset()

    def _reset(self):
        """Start an epoch: batches of the one broken off are dropped when they arrive."""
        self._pool.epoch += 1
        self._epoch = self._pool.epoch
        self._indices = iter(self._loader._index_sampler)
        self._sent = self._next = 0
        self._buffer = {}
        self._exhausted = False
        for _ in range(self._loader.prefetch_factor * self._loader.num_workers):
            self._send()

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def _send(self):
        if self._exhausted:
            return
        try:
            index = next(self._indices)
        except StopIteration:
            self._exhausted = True
            return
        except BaseException:
            self._close()
            raise
        self._pool.send(self._sent % self._pool.num_workers, (self._epoch, self._sent), index)
        self._sent += 1

    def __next__(self):
        if self._next >= self._sent:
            self._close()
            raise StopIteration
        start = time.monotonic()
        try:
            while self._next not in self._buffer:
                (epoch, k), payload = self._pool.get(self._timeout, start)
                if epoch == self._epoch:  # else: left over from an epoch broken off early
                    self._buffer[k] = payload
        except BaseException:
            self._close()
            raise
        payload = self._buffer.pop(self._next)
        self._next += 1
        self._send()
        batch = pickle.loads(payload)
        if isinstance(batch, _worker.ExceptionWrapper):
            self._close()
            batch.reraise()
        return batch

    def _close(self):
        if self._owns_pool and self._pool.alive:
            self._pool.shutdown()

    def __del__(self):
        self._close()
