"""Run under mpiexec: every collective of minicnn.distributed, checked on every rank.
Prints "collectives ok" on each rank that passed."""
import datetime
import os

import numpy as np

import minicnn
import minicnn.distributed as dist

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=20))
rank, size = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "mpi"
ranks = np.arange(size)

for dtype in (minicnn.float32, minicnn.float64, minicnn.int64):
    def t(values):
        return minicnn.tensor(np.asarray(values), dtype=dtype)

    x = t([rank + 1, 2 * rank + 1])
    dist.broadcast(x, src=size - 1)
    assert x.tolist() == [size, 2 * size - 1], x

    for op, expect in ((dist.ReduceOp.SUM, lambda v: v.sum()),
                       (dist.ReduceOp.MAX, lambda v: v.max()),
                       (dist.ReduceOp.MIN, lambda v: v.min()),
                       (dist.ReduceOp.PRODUCT, lambda v: v.prod())):
        x = t([rank + 1, rank + 3])
        dist.all_reduce(x, op=op)
        assert x.tolist() == [expect(ranks + 1), expect(ranks + 3)], (op, x)
    if dtype != minicnn.int64:
        x = t([rank + 1.0])
        work = dist.all_reduce(x, op=dist.ReduceOp.AVG, async_op=True)
        assert work.wait() and work.is_completed()
        assert x.tolist() == [(ranks + 1).mean()], x

    x = t([rank + 1])
    dist.reduce(x, dst=0)
    assert x.tolist() == ([(ranks + 1).sum()] if rank == 0 else [rank + 1]), x

    out = [t([0, 0]) for _ in range(size)]
    dist.all_gather(out, t([rank, -rank]))
    assert [o.tolist() for o in out] == [[r, -r] for r in range(size)], out

    out = [t([[0]]) for _ in range(size)] if rank == 0 else None
    dist.gather(t([[rank * 10]]), out, dst=0)
    if rank == 0:
        assert [o.item() for o in out] == [r * 10 for r in range(size)], out

    x = t([0, 0, 0])
    parts = [t([r, r, r]) for r in range(size)] if rank == 1 % size else None
    dist.scatter(x, parts, src=1 % size)
    assert x.tolist() == [rank] * 3, x

# a non-contiguous view is written through, and its version moves on
base = minicnn.zeros(3, 4, dtype=minicnn.float64)
view = base[:, 1]
dist.all_reduce(view.add_(1))
assert base[:, 1].tolist() == [size] * 3 and base[:, 0].tolist() == [0] * 3, base

for bad, error in ((lambda: dist.all_reduce(minicnn.ones(2, dtype=minicnn.int32)), TypeError),
                   (lambda: dist.all_reduce(np.ones(2)), TypeError),
                   (lambda: dist.broadcast(minicnn.ones(2), src=size), ValueError),
                   (lambda: dist.all_reduce(minicnn.ones(2, dtype=minicnn.int64),
                                            op=dist.ReduceOp.AVG), TypeError),
                   (lambda: dist.all_gather([minicnn.ones(2)], minicnn.ones(2)) if size > 1
                    else dist.all_gather([], minicnn.ones(2)), ValueError),
                   (lambda: dist.init_process_group("mpi"), RuntimeError),
                   (lambda: dist.init_process_group("gloo"), ValueError)):
    try:
        bad()
    except error:
        pass
    else:
        raise AssertionError(f"no {error.__name__}")

work = dist.barrier(async_op=True)
assert work.wait(timeout=datetime.timedelta(seconds=10))
dist.destroy_process_group()
assert not dist.is_initialized()

# RANK / WORLD_SIZE in the environment must agree with MPI; after that, a new group can start
os.environ["WORLD_SIZE"] = str(size + 1)
try:
    dist.init_process_group("mpi", init_method="env://")
except ValueError as exc:
    assert f"WORLD_SIZE={size + 1} disagrees with MPI" in str(exc), exc
else:
    raise AssertionError("a wrong WORLD_SIZE went unnoticed")
os.environ["WORLD_SIZE"], os.environ["RANK"] = str(size), str(rank)
dist.init_process_group("mpi", init_method="env://", rank=rank, world_size=size)
assert dist.get_rank() == rank
dist.destroy_process_group()
print("collectives ok", flush=True)
