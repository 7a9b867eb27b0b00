"""``python -m minicnn train --distributed``, run under ``mpiexec -n N``: every rank trains the
same model on its share of each batch (DistributedDataParallel); rank 0 alone prints and writes
the checkpoint, the metrics and the plot.

The batches are those of a one-process run: each epoch's order is drawn as ``train`` draws it
(and rank 0's is sent to all), then every batch of ``--batch-size`` images is dealt out, image
r, r + N, r + 2N, ... to rank r. So a checkpoint written by N ranks resumes on any other number
of ranks, or in one process without ``--distributed``.
"""
import os
import sys

import numpy as np

import minicnn
from minicnn.cli.arguments import CLIError
from minicnn.utils import data

__all__ = ["DistributedRun"]


class DistributedRun:
    """This process's part in a distributed ``train``: its rank, its batches, its model."""

    def __init__(self):
        from minicnn import distributed
        if not distributed.is_initialized():
            try:
                distributed.init_process_group("mpi")
            except (RuntimeError, ValueError) as exc:
                raise CLIError(f"--distributed: {exc}") from None
        self.dist = distributed
        self.rank, self.size = distributed.get_rank(), distributed.get_world_size()
        if self.rank != 0:
            sys.stdout = open(os.devnull, "w")   # the others stay quiet; errors still show

    @property
    def writes(self):
        """Whether this rank writes the run's files (rank 0 only)."""
        return self.rank == 0

    def loader(self, train_set, batch_size):
        """The training DataLoader of this rank: its share of each of the run's batches."""
        batches = data.BatchSampler(data.RandomSampler(train_set), batch_size, False)
        return data.DataLoader(train_set, batch_sampler=_Share(batches, self))

    def wrap(self, model):
        """``model`` in DistributedDataParallel (rank 0's weights; gradients averaged)."""
        from minicnn.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(model)

    def combine(self, stats):
        """One epoch's training figures over all ranks: the mean loss and accuracy, the total
        images per second."""
        values = minicnn.tensor([stats["loss"], stats["accuracy"], stats["images_per_second"]],
                                dtype=minicnn.float64)
        self.dist.all_reduce(values)
        loss, accuracy, images_per_second = values.tolist()
        return dict(stats, loss=loss / self.size, accuracy=accuracy / self.size,
                    images_per_second=images_per_second)

    def stop_all(self, code):
        """After a failure on this rank: stop every rank (the others would wait for it)."""
        if code and self.size > 1:
            sys.stderr.flush()
            from minicnn.distributed.process_group import _default_group
            _default_group().comm.Abort(code)


class _Share(data.Sampler):
    """The rank's images of each batch: ``batch[rank::size]`` of the one-process batches (a
    batch smaller than the number of ranks is repeated until every rank has an image)."""

    def __init__(self, batches, run):
        self.batches, self.run = batches, run

    def __iter__(self):
        run = self.run
        batches = [np.asarray(b, np.int64) for b in self.batches]
        order = minicnn.tensor(np.concatenate(batches) if batches else np.zeros(0, np.int64))
        run.dist.broadcast(order, src=0)   # rank 0's order: the ranks' generators may differ
        start = 0
        for b in batches:
            batch = order.numpy()[start:start + len(b)]
            start += len(b)
            if len(batch) < run.size:
                batch = np.resize(batch, run.size)
            yield batch[run.rank::run.size].tolist()

    def __len__(self):
        return len(self.batches)
