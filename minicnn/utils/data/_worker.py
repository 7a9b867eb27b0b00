"""Worker processes for DataLoader(num_workers > 0): index batches in, collated batches out.

The design is a small process pool. The main process sends batch ``k`` (a list of indices) to
worker ``k % num_workers`` and keeps ``prefetch_factor * num_workers`` batches in flight; each
worker sends back ``(key, pickled batch)`` on its own pipe; the main process buffers results
that arrive early and yields them in order ``0, 1, 2, ...``. So a loader yields exactly the
batches it yields with ``num_workers=0``, whichever worker is faster.

Nothing can hang or leak: every message is length-prefixed and read without blocking, so a
worker killed half-way through a large batch is reported (its pipe closes, its process sentinel
fires) rather than waited for; the main process never blocks writing a task; a worker exits
when its task pipe closes, when the main process dies (Linux's parent-death signal, and a
parent-pid check every second while it waits) and when nobody reads its results.

An exception in a worker travels back as text (its traceback) and is raised again in the main
process with the same type, as PyTorch does. Workers ignore Ctrl-C (the main process handles it
and shuts them down).
"""
import os
import pickle
import random
import select
import selectors
import signal
import struct
import sys
import threading
import time
import traceback

import numpy as np

from minicnn import rng as _rng

__all__ = ["WorkerInfo", "get_worker_info", "WorkerPool"]

_worker_info = None


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``
    (the one minicnn's generator was seeded with) and ``dataset`` (this worker's copy)."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, "
                f"seed={self.seed}, dataset={type(self.dataset).__name__})")


def get_worker_info():
    """In a DataLoader worker process: its ``WorkerInfo``. In the main process: ``None``."""
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process as its traceback text."""

    def __init__(self, exc, where):
        self.exc_type = type(exc)
        try:
            pickle.dumps(self.exc_type)
        except Exception:  # a class the main process could not import: raise a RuntimeError
            self.exc_type = RuntimeError
        self.where = where
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def reraise(self):
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:  # KeyError's str() is the repr of its argument
            message = _KeyErrorMessage(message)
        try:
            exc = self.exc_type(message)
        except Exception:  # an exception type whose constructor wants other arguments
            exc = RuntimeError(message)
        raise exc


class _KeyErrorMessage(str):
    """A message whose repr is itself, so a KeyError shows the traceback's lines (as PyTorch)."""

    def __repr__(self):
        return self


def _dumps(obj, where):
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return pickle.dumps(ExceptionWrapper(exc, where))


# ---------------------------------------------------------------------------------------------
# Messages: an 8-byte length, then that many bytes, over one pipe per direction per worker
# ---------------------------------------------------------------------------------------------

# The main process's ends of every live pool's pipes. A forked worker closes its copies of all
# of them, so that each pipe reads as closed as soon as its own two processes are done with it
# (a worker of one loader must not keep another loader's workers waiting).
_PARENT_ENDS = set()

_LENGTH = struct.Struct("<Q")
_KEY = struct.Struct("<qq")  # a result's (epoch, batch number), before its pickled batch
# The transport needs POSIX pipes that can be polled (select.poll, non-blocking reads): Linux
# and macOS. Elsewhere (Windows) a loader asked for workers loads in the main process instead,
# with a warning: the same batches, without the parallelism.
SUPPORTED = hasattr(select, "poll") and hasattr(os, "set_blocking")
_WATCH_SECONDS = 1.0         # how often a waiting worker checks that its parent is alive


class _Reader:
    """Reads length-prefixed messages from a non-blocking pipe, as far as the bytes there go.

    A message may arrive in pieces (a large batch fills the pipe many times over): the pieces
    are kept until it is whole, so a reader never blocks on a message half-written by a process
    that died."""

    def __init__(self, fd):
        os.set_blocking(fd, False)
        self.fd = fd
        self._head = b""
        self._body, self._got = None, 0

    def read(self):
        """(complete messages read now, whether the writing end is closed)."""
        messages = []
        while True:
            try:
                if self._body is None:
                    chunk = os.read(self.fd, _LENGTH.size - len(self._head))
                    if not chunk:
                        return messages, True
                    self._head += chunk
                    if len(self._head) == _LENGTH.size:
                        self._body = bytearray(_LENGTH.unpack(self._head)[0])
                        self._head, self._got = b"", 0
                else:
                    n = os.readv(self.fd, [memoryview(self._body)[self._got:]]) \
                        if self._got < len(self._body) else 0
                    if n == 0 and self._got < len(self._body):
                        return messages, True
                    self._got += n
                if self._body is not None and self._got == len(self._body):
                    messages.append(self._body)
                    self._body = None
            except BlockingIOError:
                return messages, False


def _frame(payload):
    return _LENGTH.pack(len(payload)) + payload


def _enlarge_pipe(fd):
    """Fewer wake-ups for large batches: a 1 MiB pipe buffer where Linux allows it."""
    try:
        import fcntl
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass


class _ParentGone(Exception):
    """The process that started this worker has ended: the worker stops."""


def _wait_for(fd, events, parent):
    """Wait until ``fd`` is ready for ``events``, checking every second that the parent (pid
    ``parent``) is still alive: a worker must not outlive it, blocked on a pipe."""
    poller = select.poll()
    poller.register(fd, events)
    while not poller.poll(_WATCH_SECONDS * 1000):
        if os.getppid() != parent:
            raise _ParentGone


def _send(fd, parts, parent):
    """Write one message, the concatenation of the byte strings ``parts``, whole (non-blocking
    writes, waiting in between; the parts are not joined: a batch is not copied again)."""
    for part in (_LENGTH.pack(sum(len(p) for p in parts)), *parts):
        view = memoryview(part)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                _wait_for(fd, select.POLLOUT, parent)


def _tasks(fd, parent):
    """Yield the worker's tasks, ``(epoch, k, indices)``, until the pipe closes."""
    reader = _Reader(fd)
    while True:
        _wait_for(fd, select.POLLIN, parent)
        messages, closed = reader.read()
        for message in messages:
            yield pickle.loads(message)
        if closed:
            return


def _die_with_parent(parent):
    """Linux: have the kernel kill this worker when the thread that started it ends (the
    parent-pid watch in ``_wait_for`` covers other systems and a worker busy in ``fetch``)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        raise _ParentGone


def _worker_loop(worker_id, num_workers, fetch, dataset, seed, init_fn, task_conn, result_conn,
                 parent, death_signal):
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    task_fd, result_fd = task_conn.fileno(), result_conn.fileno()
    for fd in _PARENT_ENDS - {task_fd, result_fd}:  # fork: copies of the main process's ends
        try:
            os.close(fd)
        except OSError:
            pass
    _PARENT_ENDS.clear()
    if parent is None:  # spawn, forkserver: whoever started this worker
        parent = os.getppid()
    os.set_blocking(result_fd, False)
    try:
        if death_signal:
            _die_with_parent(parent)
        # Each worker draws from its own stream: minicnn's generator, NumPy's legacy one and
        # Python's random, all seeded from the loader's base seed plus the worker's id.
        _rng.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2 ** 32)
        # One kernel thread per worker, as PyTorch does: n workers x n threads would
        # oversubscribe the cores (a forked worker is held to one thread anyway).
        from minicnn.kernels import set_num_threads
        set_num_threads(1)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        if init_fn is not None:
            try:
                init_fn(worker_id)
            except Exception as exc:
                init_error = ExceptionWrapper(exc, where)
        for epoch, k, indices in _tasks(task_fd, parent):
            if init_error is not None:
                result = init_error
            else:
                try:
                    result = fetch(indices)
                except Exception as exc:
                    result = ExceptionWrapper(exc, where)
            _send(result_fd, [_KEY.pack(epoch, k), _dumps(result, where)], parent)
    except (_ParentGone, BrokenPipeError):  # the parent ended or stopped reading: stop
        pass


class WorkerPool:
    """``num_workers`` processes running ``fetch`` on index batches (see the module docstring).

    Parameters
    ----------
    fetch : callable
        ``fetch(indices) -> batch``; inherited by the workers (fork) or pickled (spawn).
    base_seed : int
        Worker ``i`` seeds its generators with ``base_seed + i``.
    context : multiprocessing context
    """

    def __init__(self, fetch, dataset, num_workers, base_seed, init_fn, context):
        self.num_workers = num_workers
        self.workers, self.epoch = [], 0
        self._readers, self._outboxes, self._task_fds, self._conns = [], [], [], []
        self._selector = selectors.DefaultSelector()
        # The kernel's parent-death signal fires when the *thread* that started the worker
        # ends: armed only for workers started by the main thread.
        # A forked worker checks that the main process is its parent (it may have died before
        # the worker ran a line); others watch whoever started them (forkserver: its server).
        parent = os.getpid() if context.get_start_method() == "fork" else None
        death_signal = (sys.platform.startswith("linux")
                        and threading.current_thread() is threading.main_thread())
        try:
            for i in range(num_workers):
                task_r, task_w = context.Pipe(duplex=False)
                result_r, result_w = context.Pipe(duplex=False)
                _enlarge_pipe(result_w.fileno())
                _PARENT_ENDS.update((task_w.fileno(), result_r.fileno()))
                worker = context.Process(
                    target=_worker_loop, daemon=True,
                    args=(i, num_workers, fetch, dataset, (base_seed + i) % 2 ** 63, init_fn,
                          task_r, result_w, parent, death_signal))
                try:
                    worker.start()
                finally:
                    task_r.close()
                    result_w.close()
                self._conns += [task_w, result_r]  # they own (and close) the pool's ends
                self._task_fds.append(task_w.fileno())
                os.set_blocking(self._task_fds[-1], False)
                self._readers.append(_Reader(result_r.fileno()))
                self._outboxes.append(bytearray())
                self.workers.append(worker)
                self._selector.register(self._readers[-1].fd, selectors.EVENT_READ, i)
                self._selector.register(worker.sentinel, selectors.EVENT_READ, i)
        except BaseException:
            self.shutdown()
            raise
        self._ready = []  # results read and not yet handed out

    def send(self, worker, key, indices):
        """Queue task ``key`` for ``worker``: written as far as the pipe takes it now, the rest
        while waiting in ``get`` (so the pool never blocks on a worker busy writing a result)."""
        self._outboxes[worker] += _frame(pickle.dumps((*key, indices),
                                                      protocol=pickle.HIGHEST_PROTOCOL))
        self._flush(worker)

    def _flush(self, i):
        box = self._outboxes[i]
        try:
            del box[:os.write(self._task_fds[i], box)]
        except BlockingIOError:
            pass
        except BrokenPipeError:  # the worker is gone: reported by get, from its sentinel
            box.clear()

    def get(self, timeout=0.0, start=None):
        """The next ``(key, payload)`` from any worker; RuntimeError if a worker died (even
        half-way through a message) or, with ``timeout > 0``, ``timeout`` seconds passed since
        ``start`` (``time.monotonic()``, default now) with nothing whole."""
        start = time.monotonic() if start is None else start
        deadline = start + timeout if timeout > 0 else None
        while not self._ready:
            for i, box in enumerate(self._outboxes):
                if box:
                    self._flush(i)
            writing = [i for i, box in enumerate(self._outboxes) if box]
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if writing:  # tasks still to write: come back to them soon
                wait = 0.05 if wait is None else min(wait, 0.05)
            events = self._selector.select(wait)
            for key, _ in events:
                i = key.data
                if key.fileobj == self._readers[i].fd:
                    self._read(i)
            for key, _ in events:
                if key.fileobj == self.workers[key.data].sentinel:
                    self._read(key.data)
                    self._dead(self.workers[key.data])
            if not self._ready and deadline is not None and time.monotonic() >= deadline:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")
        return self._ready.pop(0)

    def _read(self, i):
        messages, closed = self._readers[i].read()
        for message in messages:
            view = memoryview(message)
            self._ready.append((_KEY.unpack(view[:_KEY.size]), view[_KEY.size:]))
        if closed:
            self._dead(self.workers[i])

    def _dead(self, worker):
        worker.join(1.0)
        code = worker.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        self.shutdown()
        raise RuntimeError(f"DataLoader worker (pid {worker.pid}) exited unexpectedly ({how})")

    def shutdown(self):
        """Close every pipe (a worker waiting for a task, or writing a result, then stops), wait
        a little, then terminate any worker still busy in the dataset."""
        workers, self.workers = self.workers, []
        for conn in self._conns:
            _PARENT_ENDS.discard(conn.fileno())
            conn.close()
        self._conns, self._task_fds, self._readers, self._outboxes = [], [], [], []
        try:
            self._selector.close()
        except Exception:
            pass
        deadline = time.monotonic() + 2.0
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        for w in workers:
            if w.is_alive():  # still busy in the user's __getitem__ (or stuck): stop it
                w.terminate()
                w.join(1.0)
            if w.is_alive():
                w.kill()
                w.join()

    @property
    def alive(self):
        return bool(self.workers)


def default_context():
    """fork where it is safe and cheap (Linux: datasets and collate functions defined anywhere,
    even in a test function, reach the workers without pickling), else the platform default."""
    import multiprocessing
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()
