"""DistributedDataParallel's gradient reducer, after PyTorch's (``torch/csrc/distributed/c10d/
reducer.cpp``): gradients copied into flat buckets, each bucket all-reduced as soon as all its
gradients are ready, while backward goes on through the earlier layers.

    construction   parameters, last first, packed into buckets of about bucket_cap_mb
                   (the first bucket smaller, 1 MiB, so communication starts early)
    backward       post-accumulate hook of parameter p:  bucket[p] <- p.grad / world size
                   bucket complete -> Iallreduce(SUM) started (buckets in index order, the same
                   order on every rank, as MPI requires)
    end of backward   wait for every bucket; p.grad <- its slice of the bucket
"""
import numpy as np

from minicnn import autograd
from minicnn._tensor import Tensor
from minicnn.distributed.process_group import wait_all

__all__ = ["Reducer", "broadcast_tensors", "check_same_parameters"]

FIRST_BUCKET_BYTES = 1024 * 1024   # as torch.distributed's _DEFAULT_FIRST_BUCKET_BYTES


def broadcast_tensors(tensors, src, group, what):
    """Copy rank ``src``'s values of ``tensors`` into them on every rank (one Ibcast each, all
    in flight together)."""
    buffers = [np.ascontiguousarray(t._data) for t in tensors]
    wait_all([group.comm.Ibcast(b, root=src) for b in buffers], what, group)
    if group.rank != src:
        for t, b in zip(tensors, buffers):
            t._data[...] = b
            t._version_box[0] += 1


def _gather_text(text, group, what):
    """Every rank's ``text`` (a str), on every rank: lengths, then the padded UTF-8 bytes."""
    data = np.frombuffer(text.encode(), np.uint8)
    lengths = np.empty(group.size, np.int64)
    wait_all([group.comm.Iallgather(np.array([data.size], np.int64), lengths)], what, group)
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[:data.size] = data
    table = np.empty((group.size, padded.size), np.uint8)
    wait_all([group.comm.Iallgather(padded, table)], what, group)
    return [bytes(row[:n]).decode() for row, n in zip(table, lengths)]


def check_same_parameters(named, group):
    """RuntimeError, on every rank, unless all ranks hold parameters of the same names, shapes
    and dtypes (a model built differently on one rank would otherwise exchange garbage)."""
    mine = "\n".join(f"{name!r} of shape {tuple(p.shape)} ({p.dtype})" for name, p in named)
    tables = _gather_text(mine, group, "DistributedDataParallel's parameter check")
    reference = tables[0].split("\n") if tables[0] else []
    for rank, table in enumerate(tables[1:], start=1):
        rows = table.split("\n") if table else []
        for ours, theirs in zip(reference, rows):
            if ours != theirs:
                raise RuntimeError(
                    f"DistributedDataParallel: the model differs across ranks: rank {rank} has "
                    f"parameter {theirs} where rank 0 has {ours}; build the same model on "
                    f"every rank")
        if len(rows) != len(reference):
            raise RuntimeError(f"DistributedDataParallel: the model differs across ranks: rank "
                               f"{rank} has {len(rows)} parameters, rank 0 has "
                               f"{len(reference)}; build the same model on every rank")


class _Bucket:
    def __init__(self, dtype):
        self.dtype, self.indices, self.offsets, self.size = dtype, [], [], 0

    def add(self, index, numel):
        self.indices.append(index)
        self.offsets.append(self.size)
        self.size += numel


class Reducer:
    """Averages the gradients of ``named`` (name, parameter) pairs over ``group`` in buckets.

    Parameters
    ----------
    named : list of (str, Tensor)
        The parameters that require grad, in the module's order.
    group : the process group
    bucket_bytes : int
        The size a bucket is filled to (``bucket_cap_mb`` * 2**20).
    find_unused_parameters : bool
        Look, after each forward, for the parameters the output does not depend on, and count
        them as ready (with a zero gradient) so their buckets are not waited for for ever.
    """

    def __init__(self, named, group, bucket_bytes, find_unused_parameters=False):
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.group, self.find_unused = group, find_unused_parameters
        self.buckets, self.where = self._assign(bucket_bytes), {}
        for b, bucket in enumerate(self.buckets):
            bucket.flat = np.zeros(bucket.size, bucket.dtype)
            for i, offset in zip(bucket.indices, bucket.offsets):
                self.where[i] = (b, offset, self.params[i]._data.size)
        self.expect_hooks = False
        self.handles = [p.register_post_accumulate_grad_hook(self._hook(i))
                        for i, p in enumerate(self.params)]

    def _assign(self, bucket_bytes):
        """Buckets over the parameters in reverse order (backward makes the last layers'
        gradients first), one dtype per bucket; the first bucket capped at 1 MiB."""
        buckets, open_ = [], {}
        for i in reversed(range(len(self.params))):
            array = self.params[i]._data
            cap = min(bucket_bytes, FIRST_BUCKET_BYTES) if not buckets else bucket_bytes
            bucket = open_.get(array.dtype)
            if bucket is None or (bucket.size and
                                  (bucket.size + array.size) * array.itemsize > cap):
                bucket = open_[array.dtype] = _Bucket(array.dtype)
                buckets.append(bucket)
            bucket.add(i, array.size)
        return buckets

    def prepare_for_backward(self, outputs):
        """Called by each forward that will be followed by a synchronised backward."""
        self.expect_hooks, self.callback_queued = True, False
        self.ready = [False] * len(self.params)
        self.used = np.zeros(len(self.params), np.int32)   # got a gradient on this rank
        self.pending = [len(b.indices) for b in self.buckets]
        self.requests, self.next_bucket = [], 0
        if self.find_unused:
            used = _leaves_reached(outputs)
            for i, p in enumerate(self.params):
                if id(p) not in used:
                    self._mark_ready(i, None)

    def _hook(self, i):
        def hook(param):
            if not self.expect_hooks:   # no_sync(), or a backward without a DDP forward
                return
            if not self.callback_queued:
                autograd._queue_callback(self._finalize)
                self.callback_queued = True
            self.used[i] = 1
            self._mark_ready(i, param.grad._data)
        return hook

    def _mark_ready(self, i, grad):
        if self.ready[i]:
            raise RuntimeError(f"DistributedDataParallel: parameter {self.names[i]!r} got its "
                               f"gradient twice in one backward pass")
        self.ready[i] = True
        b, offset, numel = self.where[i]
        view = self.buckets[b].flat[offset:offset + numel]
        if grad is None:
            view[...] = 0
        else:   # divided first, as PyTorch's default hook does: SUM then gives the mean
            np.divide(grad.reshape(-1), self.group.size, out=view)
        self.pending[b] -= 1
        while self.next_bucket < len(self.buckets) and self.pending[self.next_bucket] == 0:
            flat = self.buckets[self.next_bucket].flat
            self.requests.append(self.group.comm.Iallreduce(self.group.MPI.IN_PLACE, flat,
                                                            op=self.group.MPI.SUM))
            self.next_bucket += 1
        if self.requests:   # MPI progresses non-blocking collectives when called
            self.group.MPI.Request.Testall(self.requests)

    def _finalize(self):
        """At the end of backward: wait for every bucket, write the averages into ``.grad``."""
        self.expect_hooks = False
        missing = [self.names[i] for i, ready in enumerate(self.ready) if not ready]
        if missing:
            wait_all(self.requests, "DistributedDataParallel's gradient all-reduce", self.group)
            raise RuntimeError(
                f"DistributedDataParallel: parameters {missing} got no gradient in this "
                f"backward pass, so their buckets could not be reduced. If the model does not "
                f"use every parameter in every step, pass find_unused_parameters=True")
        wait_all(self.requests, "DistributedDataParallel's gradient all-reduce", self.group)
        if self.find_unused:   # which parameters some rank used: as PyTorch's local_used_map
            wait_all([self.group.comm.Iallreduce(self.group.MPI.IN_PLACE, self.used,
                                                 op=self.group.MPI.MAX)],
                     "DistributedDataParallel's unused-parameter check", self.group)
        for bucket in self.buckets:
            for i, offset in zip(bucket.indices, bucket.offsets):
                p = self.params[i]
                if self.find_unused and not self.used[i]:
                    continue   # no rank used it: its .grad is left as it was (None stays None)
                values = bucket.flat[offset:offset + p._data.size].reshape(p._data.shape)
                if p._grad is None or not p._grad._data.flags.writeable:
                    p._grad = Tensor._make(values.copy(), None)
                else:
                    p._grad._data[...] = values
                    p._grad._version_box[0] += 1


def _leaves_reached(outputs):
    """ids of the leaf tensors the backward graph of ``outputs`` reaches."""
    found, stack = set(), [outputs]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, Tensor) and item.requires_grad:
            for node in autograd.topological_order(item._grad_node()):
                if isinstance(node, autograd.AccumulateGrad):
                    found.add(id(node.variable))
    return found
