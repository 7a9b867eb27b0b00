"""The collectives of ``minicnn.distributed`` on minicnn tensors, as torch.distributed's: each
writes its result into the tensors it is given, and with ``async_op=True`` returns a ``Work``
whose ``wait()`` finishes it.

Each call starts one non-blocking MPI collective (``Iallreduce``, ``Ibcast``, ...) on a
contiguous NumPy buffer, then waits for it with the group's timeout (``group.wait_all``).
"""
import datetime

import numpy as np

from minicnn._tensor import Tensor
from minicnn.distributed.process_group import _check_group, wait_all

__all__ = ["ReduceOp", "Work", "barrier", "broadcast", "all_reduce", "reduce", "all_gather",
           "gather", "scatter"]

_DTYPES = (np.float32, np.float64, np.int64)


class ReduceOp:
    """How ``all_reduce`` and ``reduce`` combine the ranks' tensors, elementwise."""

    SUM = "SUM"
    AVG = "AVG"          # SUM, then divided by the world size (floating-point tensors only)
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"


def _mpi_op(op, MPI, tensor):
    table = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
             ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}
    if op not in table:
        raise ValueError(f"op must be one of ReduceOp.SUM, AVG, PRODUCT, MIN, MAX, got {op!r}")
    if op == ReduceOp.AVG and tensor._data.dtype.kind != "f":
        raise TypeError(f"ReduceOp.AVG needs a floating-point tensor, got {tensor.dtype}")
    return table[op]


def _check_tensor(tensor, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a minicnn Tensor, got {type(tensor).__name__}")
    if tensor._data.dtype.type not in _DTYPES:
        raise TypeError(f"{name} has dtype {tensor.dtype}; the collectives take float32, "
                        f"float64 and int64 tensors")
    return tensor


def _check_list(tensors, name, like, size):
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        raise ValueError(f"{name} must be a list of {size} tensors (one per rank), got "
                         f"{tensors!r:.80}")
    for i, t in enumerate(tensors):
        _check_tensor(t, f"{name}[{i}]")
        if t.shape != like.shape or t.dtype != like.dtype:
            raise ValueError(f"{name}[{i}] has shape {tuple(t.shape)} and dtype {t.dtype}; "
                             f"expected {tuple(like.shape)} and {like.dtype} as the tensor's")
    return list(tensors)


def _write(tensor, values):
    """Write the collective's result into ``tensor`` in place (as PyTorch's collectives do)."""
    if values is not tensor._data:
        tensor._data[...] = values.reshape(tensor._data.shape)
    tensor._version_box[0] += 1


class Work:
    """A collective under way (``async_op=True``): ``wait()`` blocks until it is done and its
    result is in the tensors; ``is_completed()`` says whether it is."""

    def __init__(self, group, requests, finish, what):
        self._group, self._requests, self._finish, self._what = group, requests, finish, what
        self._done = False

    def is_completed(self):
        """True once the collective has finished (and ``wait()`` would not block)."""
        return self._done or self._group.MPI.Request.Testall(self._requests)

    def wait(self, timeout=None):
        """Block until the collective is done and its result written; returns True.
        ``DistBackendError`` if it takes longer than ``timeout`` (a ``datetime.timedelta``;
        default the group's)."""
        if timeout is not None and not isinstance(timeout, datetime.timedelta):
            raise TypeError(f"timeout must be a datetime.timedelta, got {timeout!r}")
        if not self._done:
            wait_all(self._requests, self._what, self._group, timeout)
            self._done = True
            if self._finish is not None:
                self._finish()
        return True


def _run(group, requests, finish, what, async_op):
    work = Work(group, requests, finish, what)
    return work if async_op else work.wait() and None


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached the barrier."""
    g = _check_group(group)
    return _run(g, [g.comm.Ibarrier()], None, "barrier", async_op)


def _check_rank(value, name, g):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 0 <= value < g.size:
        raise ValueError(f"{name} must be a rank from 0 to {g.size - 1}, got {value!r}")
    return int(value)


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    g = _check_group(group)
    _check_tensor(tensor, "tensor")
    src = _check_rank(src, "src", g)
    buffer = np.ascontiguousarray(tensor._data)
    request = g.comm.Ibcast(buffer, root=src)
    finish = None if g.rank == src else (lambda: _write(tensor, buffer))
    return _run(g, [request], finish, "broadcast", async_op)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks with ``op`` and write the result into ``tensor`` on
    every rank. The order in which MPI adds the ranks' values is its own (see
    docs/distributed.md): with floats, a different order can change the last bits."""
    g = _check_group(group)
    _check_tensor(tensor, "tensor")
    mpi_op = _mpi_op(op, g.MPI, tensor)
    data = tensor._data
    # In place where the tensor's memory allows: MPI libraries keep the buffers they have seen
    # registered, so a fresh buffer at every call costs more than the copy it would save.
    in_place = data.flags.c_contiguous and data.flags.writeable
    result = data if in_place else np.ascontiguousarray(data).copy()
    request = g.comm.Iallreduce(g.MPI.IN_PLACE, result, op=mpi_op)

    def finish():
        if op == ReduceOp.AVG:
            result[...] /= g.size
        _write(tensor, result)
    return _run(g, [request], finish, "all_reduce", async_op)


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks with ``op`` into ``tensor`` on rank ``dst`` (the other
    ranks' tensors are left as they were)."""
    g = _check_group(group)
    _check_tensor(tensor, "tensor")
    dst = _check_rank(dst, "dst", g)
    mpi_op = _mpi_op(op, g.MPI, tensor)
    send = np.ascontiguousarray(tensor._data)
    result = np.empty_like(send) if g.rank == dst else None
    request = g.comm.Ireduce(send, result, op=mpi_op, root=dst)

    def finish():
        if op == ReduceOp.AVG:
            result[...] /= g.size
        _write(tensor, result)
    return _run(g, [request], finish if g.rank == dst else None, "reduce", async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Rank r's ``tensor`` into ``tensor_list[r]`` on every rank."""
    g = _check_group(group)
    _check_tensor(tensor, "tensor")
    tensor_list = _check_list(tensor_list, "tensor_list", tensor, g.size)
    send = np.ascontiguousarray(tensor._data)
    result = np.empty((g.size,) + send.shape, send.dtype)
    request = g.comm.Iallgather(send, result)

    def finish():
        for r, t in enumerate(tensor_list):
            _write(t, result[r])
    return _run(g, [request], finish, "all_gather", async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Rank r's ``tensor`` into ``gather_list[r]`` on rank ``dst`` (the only rank that passes a
    ``gather_list``)."""
    g = _check_group(group)
    _check_tensor(tensor, "tensor")
    dst = _check_rank(dst, "dst", g)
    if g.rank == dst:
        gather_list = _check_list(gather_list, "gather_list", tensor, g.size)
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination "
                         "ranks.")
    send = np.ascontiguousarray(tensor._data)
    result = np.empty((g.size,) + send.shape, send.dtype) if g.rank == dst else None
    request = g.comm.Igather(send, result, root=dst)

    def finish():
        for r, t in enumerate(gather_list):
            _write(t, result[r])
    return _run(g, [request], finish if g.rank == dst else None, "gather", async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """``scatter_list[r]`` of rank ``src`` (the only rank that passes a ``scatter_list``) into
    ``tensor`` on rank r."""
    g = _check_group(group)
    _check_tensor(tensor, "tensor")
    src = _check_rank(src, "src", g)
    send = None
    if g.rank == src:
        scatter_list = _check_list(scatter_list, "scatter_list", tensor, g.size)
        send = np.ascontiguousarray(np.stack([t._data for t in scatter_list]))
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    result = np.empty(tensor._data.shape, tensor._data.dtype)
    request = g.comm.Iscatter(send, result, root=src)
    return _run(g, [request], lambda: _write(tensor, result), "scatter", async_op)
