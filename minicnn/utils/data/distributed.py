"""``DistributedSampler``, as torch.utils.data.distributed's: each rank of a distributed run reads
its own share of the dataset, and together the ranks read all of it once per epoch."""
import math

import numpy as np

from minicnn._checks import check_bool, check_int
from minicnn.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices of rank ``rank`` of ``num_replicas``: every ``num_replicas``-th index of the
    epoch's order, starting at ``rank``.

    Each rank gets the same number of indices, ``ceil(len(dataset) / num_replicas)``: the order
    is padded by repeating its first indices (or, with ``drop_last=True``, cut to a multiple of
    ``num_replicas``), as PyTorch's, so every rank runs the same number of steps.

    Parameters
    ----------
    dataset : Dataset
        Anything with ``len()``.
    num_replicas, rank : int, optional
        Default: ``minicnn.distributed.get_world_size()`` and ``get_rank()``.
    shuffle : bool, default True
        A new order each epoch, the same on every rank: drawn from a NumPy generator seeded with
        ``seed + epoch``. (PyTorch draws with its own generator, so the order differs from
        PyTorch's for the same seed; the shares and the padding follow the same rules.)
    seed : int, default 0
    drop_last : bool, default False

    Call ``set_epoch(epoch)`` at the start of each epoch, before iterating, or every epoch
    reads the same order.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from minicnn import distributed
            if not distributed.is_initialized():
                raise RuntimeError("DistributedSampler needs num_replicas and rank, or a "
                                   "process group (minicnn.distributed.init_process_group) "
                                   "to take them from")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        num_replicas = check_int(num_replicas, "num_replicas", 1)
        rank = check_int(rank, "rank")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.drop_last = check_bool(shuffle, "shuffle"), check_bool(drop_last,
                                                                                 "drop_last")
        self.seed, self.epoch = check_int(seed, "seed"), 0
        n = len(dataset)
        if self.drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """The epoch whose order ``__iter__`` gives next (every rank must set the same one)."""
        self.epoch = check_int(epoch, "epoch")
