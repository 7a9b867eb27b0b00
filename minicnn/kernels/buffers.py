"""Reusing the kernels' big output arrays across training steps, so that a step does not fault
in fresh pages for every activation and gradient.

Why: glibc hands a large ``malloc`` fresh pages (``mmap``, or a heap top it trimmed when the last
step freed it), and the first write to each 4 KiB page is a page fault in which the kernel zeroes
it. A LeNet step at batch 64 allocated about 21 MB of such outputs - 5,400 faults, several ms,
and on two threads the faults of two threads queue on one lock. A training loop asks for the very
same shapes every step, so the seam takes its outputs from here instead of ``np.empty``.

How: every array handed out is kept in a list per (shape, dtype). An array is free again when
nobody but this module refers to it: ``sys.getrefcount`` then reads 2 (the list's reference and
the call's argument). A view, a Tensor, a saved-for-backward tuple or a user's variable all hold
a reference, so an array in use is never handed out twice. ``empty`` returns a free array when
there is one and allocates (and remembers) a new one otherwise - its contents are garbage, as
``np.empty``'s, so only outputs the kernel overwrites completely come from here.

Bounds: arrays under ``MIN_BYTES`` are left to malloc (its small-block heap does not fault),
at most ``MAX_PER_SHAPE`` arrays are kept per shape, and at most ``max_bytes`` in all; past
that, free arrays of other shapes are dropped, and if that is not enough the array is a plain
one nobody remembers. ``empty_cache()`` drops every free array (as ``torch.cuda.empty_cache``);
``set_enabled(False)`` turns reuse off (every call is then ``np.empty``).
"""
import sys
import threading

import numpy as np

__all__ = ["empty", "empty_cache", "set_enabled", "is_enabled", "stats"]

MIN_BYTES = 64 * 1024
MAX_PER_SHAPE = 8
max_bytes = 512 * 1024 * 1024

_lock = threading.Lock()
_pool = {}          # (shape, dtype.str) -> [ndarray, ...]; dict order = least recently used first
_held = [0]         # bytes of every remembered array
_enabled = [True]
_counts = {"reused": 0, "allocated": 0, "untracked": 0}


def _is_free(arrays, i):
    # Free: the only references are the pool's list and getrefcount's own argument. (Indexing
    # the list inline, not through a loop variable, which would be a third.)
    return sys.getrefcount(arrays[i]) == 2


def empty(shape, dtype):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, reused when possible."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if not _enabled[0] or nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    key = (shape, dtype.str)
    with _lock:
        arrays = _pool.pop(key, None)
        if arrays is None:
            arrays = []
        _pool[key] = arrays  # most recently used last
        for i in range(len(arrays)):
            if _is_free(arrays, i):
                _counts["reused"] += 1
                return arrays[i]
        if len(arrays) >= MAX_PER_SHAPE or not _make_room(nbytes):
            _counts["untracked"] += 1
            return np.empty(shape, dtype)
        a = np.empty(shape, dtype)
        arrays.append(a)
        _held[0] += nbytes
        _counts["allocated"] += 1
        return a


def _make_room(nbytes):
    """Drop free arrays, least recently used shapes first, until ``nbytes`` more fit."""
    if _held[0] + nbytes <= max_bytes:
        return True
    for key in list(_pool):
        arrays = _pool[key]
        for i in range(len(arrays) - 1, -1, -1):
            if _held[0] + nbytes <= max_bytes:
                return True
            if _is_free(arrays, i):
                _held[0] -= arrays.pop(i).nbytes
        if not arrays:
            del _pool[key]
    return _held[0] + nbytes <= max_bytes


def empty_cache():
    """Forget every array nobody uses (its memory goes back to malloc); returns bytes dropped."""
    dropped = 0
    with _lock:
        for key in list(_pool):
            arrays = _pool[key]
            for i in range(len(arrays) - 1, -1, -1):
                if _is_free(arrays, i):
                    dropped += arrays.pop(i).nbytes
            if not arrays:
                del _pool[key]
        _held[0] -= dropped
    return dropped


def set_enabled(flag):
    """Turn reuse on (the default) or off; turning it off also drops every free array."""
    _enabled[0] = bool(flag)
    if not flag:
        empty_cache()


def is_enabled():
    """True if ``empty`` reuses arrays."""
    return _enabled[0]


def stats():
    """``{"held_bytes", "arrays", "reused", "allocated", "untracked"}``: what the pool holds and
    how its calls went since the process started."""
    with _lock:
        return {"held_bytes": _held[0], "arrays": sum(len(a) for a in _pool.values()),
                **_counts}
