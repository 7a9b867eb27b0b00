"""A learner's kernel, run so that it cannot fool `check` or end it without a report.

Two layers, used by ``python -m minicnn check --kernel``:

* ``guarded(fn, ...)`` calls the kernel on **copies** of its arrays and checks what it did: an
  input changed (NaN rewritten to -inf, an input zeroed after use) is a failure naming the
  argument, and so is an output that is not a C-contiguous NumPy array of the input's dtype
  and the expected shape (float32 or complex for float64 input fails).
* ``run_rows`` runs the rows in a **child process** with a time limit per row, so that
  ``sys.exit()`` (in the kernel or while importing it), a crash (a segmentation fault in a C
  extension) or a loop that never ends becomes a ``FAIL`` row saying what happened.
"""
import faulthandler
import multiprocessing
import signal
import sys
import time
from multiprocessing.connection import wait

import numpy as np

__all__ = ["guarded", "run_rows", "Refused"]


class Refused(ValueError):
    """The kernel could not be loaded (a one-line error and exit status 2, not a row)."""


def _first_difference(before, after):
    """Where ``after`` differs from ``before`` (NaN equals NaN), in words, or None."""
    if before.shape != after.shape or before.dtype != after.dtype:
        return f"now {after.dtype} {after.shape}, was {before.dtype} {before.shape}"
    same = before == after
    if before.dtype.kind in "fc":
        same |= np.isnan(before) & np.isnan(after)
    if same.all():
        return None
    i = tuple(int(v) for v in np.argwhere(~same)[0])
    return (f"{int((~same).sum())} of {same.size} values, e.g. at index {i}: "
            f"{before[i].item()!r} -> {after[i].item()!r}")


def _check_array(out, what, dtype, shape):
    if not isinstance(out, np.ndarray):
        raise AssertionError(f"{what} is a {type(out).__name__}, expected a NumPy array")
    if out.dtype != dtype:
        raise AssertionError(f"{what} has dtype {out.dtype}, expected {np.dtype(dtype)} "
                             f"(the dtype of the input)")
    if shape is not None and out.shape != tuple(shape):
        raise AssertionError(f"{what} has shape {out.shape}, expected {tuple(shape)}")
    if not out.flags.c_contiguous:
        raise AssertionError(f"{what} is not C-contiguous (return np.ascontiguousarray(...))")


def guarded(fn, side, arg_names, outputs, shape_arg=None):
    """``fn`` wrapped: called on copies of its array arguments, its result checked.

    Parameters
    ----------
    fn : callable
        The learner's kernel.
    side : str
        How failures name it ("your conv2d_forward").
    arg_names : sequence of str
        The names of its positional arguments, to name the one it changed.
    outputs : sequence of str or None
        One entry per returned array: "float" (the dtype of the first float input) or an
        explicit dtype name; a single entry means one array is returned, not a tuple.
    shape_arg : str, optional
        The argument holding the expected output shape (``x_shape``, ``w_shape``).
    """
    def call(*args, **kwargs):
        named = dict(zip(arg_names, args))
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        result = fn(*copies, **kwargs)
        for name, before, after in zip(arg_names, args, copies):
            if isinstance(before, np.ndarray):
                change = _first_difference(before, after)
                if change is not None:
                    raise AssertionError(f"{side} changed its input {name} ({change}): a "
                                         f"kernel must not write to its inputs")
        float_dtype = next(a.dtype for a in args
                           if isinstance(a, np.ndarray) and a.dtype.kind == "f")
        shape = named.get(shape_arg) if shape_arg else None
        results = (result,) if len(outputs) == 1 else result
        if len(outputs) > 1 and (not isinstance(result, tuple) or len(result) != len(outputs)):
            raise AssertionError(f"{side} returns {type(result).__name__}, expected a tuple "
                                 f"of {len(outputs)} arrays")
        for k, (out, dtype) in enumerate(zip(results, outputs)):
            what = f"{side}'s output" + (f" {k}" if len(outputs) > 1 else "")
            _check_array(out, what, float_dtype if dtype == "float" else np.dtype(dtype), shape)
        return result
    return call


# --- the child process ----------------------------------------------------------------------

_MESSAGE_CHARS = 1000  # a message stays far below a pipe's atomic write size (4096 bytes)


def _describe_exit(code):
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"was killed by signal {name}" + (" (a crash: a bad memory access)"
                                             if name in ("SIGSEGV", "SIGBUS") else "")
    return f"exited with status {code} without finishing (os._exit()?)"


def _child(load, load_args, run_row, conn):
    """In the child: load the rows, then run them one by one, reporting each as it goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    faulthandler.disable()  # a crash is reported by the parent, in one line

    def send(*message):
        conn.send(tuple(m[:_MESSAGE_CHARS] if isinstance(m, str) else m for m in message))

    try:
        rows = load(*load_args)
    except ValueError as exc:
        return send("refused", str(exc))
    except SystemExit as exc:
        return send("refused", f"--kernel: the module called sys.exit({exc.code!r}) while "
                               f"being imported")
    send("rows", [name for name, _ in rows])
    for name, fn in rows:
        send("start", name)
        start = time.perf_counter()
        try:
            row = run_row(name, fn)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by the kernel
            what = (f"your kernel called sys.exit({exc.code!r})" if isinstance(exc, SystemExit)
                    else f"your kernel raised {type(exc).__name__}")
            row = (name, False, f"{type(exc).__name__}: {what}", time.perf_counter() - start)
        send("row", *row)
    send("done")


def _context():
    # fork where it is cheap and safe (the child shares what is imported); spawn elsewhere.
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def run_rows(load, load_args, run_row, timeout):
    """Run ``load(*load_args) -> [(name, fn), ...]`` and then ``run_row(name, fn) -> (name,
    passed, detail, seconds)`` for each row, in a child process.

    Returns ``(names, rows)``. A row that runs more than ``timeout`` seconds, or during which
    the child ends (a signal, ``os._exit``), is a failed row saying so; the rows after it do
    not run. Raises ``Refused`` when loading fails (also by a crash or a time-out)."""
    context = _context()
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(load, load_args, run_row, writer),
                            daemon=True)
    child.start()
    writer.close()
    names, rows, current = None, [], None
    started = time.perf_counter()
    try:
        while True:
            left = timeout - (time.perf_counter() - started)
            ready = wait([reader, child.sentinel], max(0.0, left))
            if reader in ready:
                try:
                    kind, *message = reader.recv()
                except EOFError:  # the child has ended: its sentinel says how
                    child.join()
                    ready = [child.sentinel]
                else:
                    if kind == "refused":
                        raise Refused(message[0])
                    if kind == "rows":
                        names = message[0]
                    elif kind == "start":
                        current, started = message[0], time.perf_counter()
                    elif kind == "row":
                        rows.append(tuple(message))
                        current = None
                    elif kind == "done":
                        return names, rows
                    continue
            seconds = time.perf_counter() - started
            if child.sentinel in ready:
                child.join()
                how = _describe_exit(child.exitcode)
            else:
                how = (f"timed out after {timeout:g} s (a loop that never ends? --timeout "
                       f"gives it longer)")
            if names is None:
                raise Refused(f"--kernel: while being imported, the module {how}")
            if current is None:
                current = names[len(rows)] if len(rows) < len(names) else names[-1]
            rows.append((current, False, f"your kernel {how}", seconds))
            return names, rows
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        reader.close()
