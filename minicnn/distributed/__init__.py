"""minicnn.distributed, shaped like torch.distributed: processes that train one model together,
talking over MPI (through mpi4py, the optional ``distributed`` extra).

Run a script under ``mpiexec -n 2 python script.py``; in it::

    import minicnn
    import minicnn.distributed as dist
    dist.init_process_group("mpi")           # rank and world size from MPI
    t = minicnn.tensor([float(dist.get_rank())])
    dist.all_reduce(t)                       # t is now 0 + 1 on both ranks

``import minicnn.distributed`` works without mpi4py; ``init_process_group`` says what to install.
See docs/distributed.md, and ``minicnn.nn.parallel.DistributedDataParallel``.
"""
from minicnn.distributed.collectives import (ReduceOp, Work, all_gather, all_reduce, barrier,
                                             broadcast, gather, reduce, scatter)
from minicnn.distributed.process_group import (WORLD, DistBackendError, DistError,
                                               default_pg_timeout, destroy_process_group,
                                               get_backend, get_rank, get_world_size,
                                               init_process_group, is_available,
                                               is_initialized, is_mpi_available)

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_mpi_available",
           "is_initialized", "get_rank", "get_world_size", "get_backend", "barrier",
           "broadcast", "all_reduce", "reduce", "all_gather", "gather", "scatter", "ReduceOp",
           "Work", "DistError", "DistBackendError", "default_pg_timeout", "group"]


class group:
    """As ``torch.distributed.group``: ``group.WORLD`` names the default process group."""

    WORLD = WORLD
