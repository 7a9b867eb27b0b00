"""Worker processes for DataLoader(num_workers > 0): index batches in, collated batches out.

The design is a small process pool. The main process sends batch ``k`` (a list of indices) to
worker ``k % num_workers`` and keeps ``prefetch_factor * num_workers`` batches in flight; every
worker puts ``(key, pickled batch)`` on one shared result queue; the main process buffers results
that arrive early and yields them in order ``0, 1, 2, ...``. So a loader yields exactly the
batches it yields with ``num_workers=0``, whichever worker is faster.

An exception in a worker travels back as text (its traceback) and is raised again in the main
process with the same type, as PyTorch does. Workers ignore Ctrl-C (the main process handles it
and shuts them down) and exit when they receive ``None``.
"""
import pickle
import queue
import random
import signal
import sys
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


def _worker_loop(worker_id, num_workers, fetch, dataset, seed, init_fn, index_queue,
                 result_queue):
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Each worker draws from its own stream: minicnn's generator, NumPy's legacy one and
    # Python's random, all seeded from the loader's base seed plus the worker's id.
    _rng.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    # One kernel thread per worker, as PyTorch does: n workers x n threads would oversubscribe
    # the cores, and an OpenMP pool inherited through fork is not safe to reuse.
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
    while True:
        task = index_queue.get()
        if task is None:
            break
        key, indices = task
        if init_error is not None:
            result = init_error
        else:
            try:
                result = fetch(indices)
            except Exception as exc:
                result = ExceptionWrapper(exc, where)
        result_queue.put((key, _dumps(result, where)))
    result_queue.close()
    result_queue.join_thread()  # flush what this worker put before it exits


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
        self.result_queue = context.Queue()
        self.index_queues, self.workers = [], []
        self.epoch = 0
        try:
            for i in range(num_workers):
                index_queue = context.Queue()
                worker = context.Process(
                    target=_worker_loop, daemon=True,
                    args=(i, num_workers, fetch, dataset, (base_seed + i) % 2 ** 63, init_fn,
                          index_queue, self.result_queue))
                worker.start()
                self.index_queues.append(index_queue)
                self.workers.append(worker)
        except BaseException:
            self.shutdown()
            raise

    def send(self, worker, key, indices):
        self.index_queues[worker].put((key, indices))

    def get(self, timeout):
        """The next ``(key, payload)`` from any worker; RuntimeError if a worker died or
        ``timeout`` seconds (when > 0) passed with nothing."""
        start = time.monotonic()
        while True:
            wait = 1.0 if timeout <= 0 else min(1.0, max(0.0, start + timeout - time.monotonic()))
            try:
                return self.result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                codes = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
                self.shutdown()
                raise RuntimeError(f"DataLoader worker ({codes}) exited unexpectedly")
            if timeout > 0 and time.monotonic() - start >= timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    def shutdown(self):
        """Ask every worker to stop, wait a little, then terminate any that has not."""
        workers, self.workers = self.workers, []
        for q in self.index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        # A worker exits only once its results are flushed into the pipe: read and drop them
        # (an epoch broken off early leaves batches in flight), for at most a few seconds.
        deadline = time.monotonic() + 5.0
        while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
            try:
                self.result_queue.get(timeout=0.05)
            except queue.Empty:
                pass
            except (OSError, EOFError, ValueError, pickle.UnpicklingError):
                break
        for w in workers:
            if w.is_alive():  # still busy in the user's __getitem__ (or stuck): stop it
                w.terminate()
            w.join()
        for q in self.index_queues + [self.result_queue]:
            q.cancel_join_thread()
            q.close()
        self.index_queues = []

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
