"""The process group: MPI found and started (``init_process_group``), who this process is, the
excepthook that stops every rank when one fails, and waiting on MPI requests with a deadline.

mpi4py is imported only here, and only when a process group is started, so ``import minicnn``
and ``import minicnn.distributed`` work without it.
"""
import datetime
import importlib.util
import os
import sys
import time
import traceback

__all__ = ["is_available", "is_mpi_available", "init_process_group", "is_initialized",
           "destroy_process_group", "get_rank", "get_world_size", "get_backend",
           "DistError", "DistBackendError", "default_pg_timeout"]

# As torch.distributed's default for CPU backends: how long a collective may wait for the others.
default_pg_timeout = datetime.timedelta(minutes=30)

INSTALL_ADVICE = ('install the distributed extra: pip install -e ".[distributed]" in a checkout '
                  '(or pip install mpi4py mpich)')


class DistError(RuntimeError):
    """An error of the distributed package (as ``torch.distributed.DistError``)."""


class DistBackendError(DistError):
    """An error of the communication backend, e.g. a collective that timed out."""


class _Group:
    """The default process group: MPI's world communicator and what init_process_group was told."""

    def __init__(self, mpi, comm, timeout):
        self.MPI, self.comm, self.timeout = mpi, comm, timeout
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.previous_excepthook = None


_group = None


def is_available():
    """True if the distributed package can run here: mpi4py (with MPI) can be imported."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available():
    """True if the MPI backend is available (minicnn's only backend): as ``is_available()``."""
    return is_available()


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:  # no mpi4py, or mpi4py without a loadable MPI library
        raise RuntimeError(f"minicnn.distributed needs mpi4py and an MPI library ({exc}): "
                           f"{INSTALL_ADVICE}") from None
    return MPI


def _env_int(name):
    text = os.environ.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name} must be a whole number, got "
                         f"{text!r}") from None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Start the default process group on MPI, as ``torch.distributed.init_process_group``.

    Run the script under ``mpiexec -n N python script.py``: MPI tells each process its rank
    and the world size. Without mpiexec the script runs as a world of one process.

    Parameters
    ----------
    backend : {"mpi", None}
        The only backend here (None means "mpi"); "gloo" and "nccl" are refused.
    init_method : {None, "env://"}
        How the processes find each other. MPI does it; ``RANK`` and ``WORLD_SIZE`` in the
        environment, where set, must agree with MPI's (a mismatch is a ValueError).
    timeout : datetime.timedelta, optional
        How long a collective may wait for the other ranks before it raises
        ``DistBackendError`` (default 30 minutes, as PyTorch's CPU backends).
    world_size, rank : int
        -1 (the default) takes MPI's; any other value must agree with MPI's.
    store, group_name, pg_options, device_id :
        Accepted for PyTorch's signature; a store is refused (MPI needs none).
    """
    global _group
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"backend must be 'mpi' (minicnn's only backend, over mpi4py), got "
                         f"{backend!r}")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_method must be None or 'env://' (MPI finds the processes "
                         f"itself), got {init_method!r}")
    if store is not None:
        raise ValueError("store is not used by the MPI backend; leave it out")
    if timeout is None:
        timeout = default_pg_timeout
    if not isinstance(timeout, datetime.timedelta) or timeout.total_seconds() <= 0:
        raise TypeError(f"timeout must be a positive datetime.timedelta, got {timeout!r}")
    if _group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD
    group = _Group(MPI, comm, timeout)
    for name, given in (("rank", rank), ("world_size", world_size),
                        ("RANK", _env_int("RANK")), ("WORLD_SIZE", _env_int("WORLD_SIZE"))):
        actual = group.rank if name.lower() == "rank" else group.size
        if given is not None and given != -1 and given != actual:
            where = "argument" if name.islower() else "environment variable"
            raise ValueError(f"{where} {name}={given} disagrees with MPI, which started this "
                             f"process as rank {group.rank} of {group.size} (run the script "
                             f"under mpiexec -n N, or leave {name} unset)")
    _group = group
    _install_excepthook(group)


def _install_excepthook(group):
    """An uncaught exception on one rank aborts them all: the other ranks would otherwise wait
    in their next collective for ever (or until the timeout)."""
    group.previous_excepthook = sys.excepthook

    def excepthook(kind, value, tb):
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(text)
        sys.stderr.write(f"minicnn.distributed: rank {group.rank} of {group.size} stopped with "
                         f"{kind.__name__}: {value}; aborting all ranks\n")
        sys.stderr.flush()
        group.comm.Abort(1)

    sys.excepthook = excepthook


def _default_group():
    if _group is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return _group


def _check_group(group):
    if group is not None and group is not WORLD:
        raise ValueError("only the default process group (group=None) is supported")
    return _default_group()


class _World:
    """The default group's name (``group.WORLD``)."""

    def __repr__(self):
        return "<minicnn.distributed.group.WORLD>"


WORLD = _World()  # torch.distributed.group.WORLD: the default group's name


def is_initialized():
    """True once ``init_process_group`` has run (and ``destroy_process_group`` has not)."""
    return _group is not None


def get_rank(group=None):
    """This process's rank, 0 .. world size - 1."""
    return _check_group(group).rank


def get_world_size(group=None):
    """How many processes the group has."""
    return _check_group(group).size


def get_backend(group=None):
    """The group's backend: ``"mpi"``."""
    _check_group(group)
    return "mpi"


def destroy_process_group(group=None):
    """Leave the default group (after a barrier, so no rank leaves while others still talk).
    MPI itself stays up until the process exits, so a new group can be started after."""
    global _group
    current = _check_group(group)
    current.comm.Barrier()
    sys.excepthook = current.previous_excepthook
    _group = None


def wait_all(requests, what, group, timeout=None):
    """Wait for MPI ``requests`` to complete; ``DistBackendError`` naming ``what`` once
    ``timeout`` (a timedelta; default the group's) has passed. Polled with ``Testall`` (which also lets MPI make progress):
    busily for the first millisecond, as MPI's own blocking wait does, then with short sleeps
    that grow to a millisecond, so a rank that waits long leaves the cores to the others."""
    test = group.MPI.Request.Testall
    if test(requests):
        return
    seconds = (group.timeout if timeout is None else timeout).total_seconds()
    now = time.monotonic()
    deadline, spin_until = now + seconds, now + 1e-3
    pause = 0.0
    while not test(requests):
        now = time.monotonic()
        if now > deadline:
            raise DistBackendError(
                f"{what} timed out after {seconds:g} s on rank "
                f"{group.rank} of {group.size}: another rank did not join it (it may have "
                f"failed, or called the collectives in another order)")
        if now > spin_until:
            time.sleep(pause)
            pause = min(2 * pause + 1e-5, 1e-3)
