"""CIFAR-10's python batches, unpickled without running any code from the file."""
import io
import math
import pickle
from pathlib import Path

import numpy as np

from minicnn.serialization import check_regular_file

__all__ = ["read_cifar10_pickle", "MAX_CIFAR_BATCH_BYTES"]

# The CIFAR batches were written by Python 2's cPickle: a dict whose b"data" is a uint8 numpy
# array. Unpickling a numpy array names three globals (below). A pickle can name *any* global
# and call it, so instead of importing what the file asks for, ``_SafeUnpickler`` hands back
# harmless stand-ins that only record their arguments; we rebuild the array ourselves with
# ``np.frombuffer`` after checking its dtype and size. Everything else is refused.
_NUMERIC_DTYPES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1"}


def _text(value):
    return value.decode("latin1") if isinstance(value, (bytes, bytearray)) else value


class _PickledDtype:
    """Stand-in for ``numpy.dtype(name, align, copy)``: records the name and byte order."""

    def __init__(self, name, align=False, copy=True):
        self.name = _text(name)
        self.byteorder = "|"

    def __setstate__(self, state):
        self.byteorder = _text(state[1]) if len(state) > 1 else "|"

    def to_numpy(self):
        if self.name not in _NUMERIC_DTYPES:
            raise pickle.UnpicklingError(f"refusing array dtype {self.name!r} "
                                         f"(only plain numeric dtypes are allowed)")
        order = self.byteorder if self.byteorder in "<>=" else "|"
        return np.dtype(self.name if order == "|" else order + self.name)


class _PickledArray:
    """Stand-in for ``numpy.core.multiarray._reconstruct(ndarray, ...)``; holds the raw state."""

    def __init__(self, subtype=None, *args):
        if subtype is not _NDARRAY:
            raise pickle.UnpicklingError("_reconstruct may only rebuild a numpy.ndarray")
        self.state = None

    def __setstate__(self, state):
        self.state = state

    def to_numpy(self):
        state = self.state
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("malformed numpy array state")
        shape, dtype, fortran, raw = state[-4:]
        if not isinstance(dtype, _PickledDtype):
            raise pickle.UnpicklingError("malformed numpy array state (dtype)")
        if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise pickle.UnpicklingError(f"malformed numpy array shape {shape!r}")
        dt = dtype.to_numpy()
        if isinstance(raw, str):  # a Python 2 str read with encoding="latin1"
            raw = raw.encode("latin1")
        if not isinstance(raw, (bytes, bytearray)):
            raise pickle.UnpicklingError("numpy array data is not a byte string")
        if len(raw) != math.prod(shape) * dt.itemsize:
            raise pickle.UnpicklingError(f"numpy array data has {len(raw)} bytes, shape "
                                         f"{shape} of {dt} needs {math.prod(shape) * dt.itemsize}")
        return np.frombuffer(bytes(raw), dtype=dt).reshape(shape, order="F" if fortran else "C")


def _encode_latin1(text, encoding="latin1"):
    """Stand-in for ``_codecs.encode``: how Python 3 writes bytes in a protocol-2 pickle."""
    if not isinstance(text, str) or _text(encoding).lower() not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode with unexpected arguments")
    return text.encode("latin1")


class _Global:
    """What ``find_class`` hands a pickle for an allowed global: calling it runs the stand-in,
    and nothing else works. In particular a pickle's BUILD on it (which would otherwise set
    attributes of the stand-in, for the rest of the process) is refused."""

    __slots__ = ("name", "_call")

    def __init__(self, name, call):
        self.name, self._call = name, call

    def __call__(self, *args):
        if self._call is None:
            raise pickle.UnpicklingError(f"refusing to call {self.name}")
        return self._call(*args)

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"refusing BUILD on {self.name} (only on array data)")


_NDARRAY = _Global("numpy.ndarray", None)  # only ever passed to _reconstruct

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _Global("_reconstruct", _PickledArray),
    ("numpy._core.multiarray", "_reconstruct"): _Global("_reconstruct", _PickledArray),
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Global("numpy.dtype", _PickledDtype),
    ("_codecs", "encode"): _Global("_codecs.encode", _encode_latin1),
}


class _SafeUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` returns only the harmless stand-ins above."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 batch holds only "
                f"dicts, byte strings, lists, ints and a uint8 array") from None


# The largest batch file read (the real ones are 31 MB).
MAX_CIFAR_BATCH_BYTES = 256 * 2 ** 20
_CIFAR_KEYS = {"batch_label", "labels", "data", "filenames"}


def _labels(value, path):
    """A batch's labels, checked: a list of ints 0..9 (or a 1-d integer array)."""
    if isinstance(value, _PickledArray):
        value = value.to_numpy()
        if value.dtype.kind not in "iu" or value.ndim != 1:
            raise ValueError(f"{path}: 'labels' must be integers 0..9, got a {value.dtype} "
                             f"array of shape {value.shape}")
    elif isinstance(value, list):
        # One pass over the list as stored: a shared or nested list is not a label.
        for v in value:
            if type(v) is not int:
                raise ValueError(f"{path}: 'labels' must be a list of ints 0..9, found a "
                                 f"{type(v).__name__}")
            if not 0 <= v <= 9:
                shown = v if abs(v) < 10 ** 6 else "a huge int"
                raise ValueError(f"{path}: labels must be 0..9, found {shown}")
    else:
        raise ValueError(f"{path}: 'labels' must be a list of ints, got {type(value).__name__}")
    labels = np.asarray(value, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must be 0..9, found {labels.min()}..{labels.max()}")
    return labels


def _strings(value, key, path):
    """A batch's batch_label (a string) or filenames (a list of strings): checked, unused."""
    ok = (isinstance(value, (bytes, str)) if key == "batch_label" else
          isinstance(value, list) and all(isinstance(v, (bytes, str)) for v in value))
    if not ok:
        raise ValueError(f"{path}: {key!r} must be "
                         f"{'a string' if key == 'batch_label' else 'a list of strings'}, "
                         f"got {type(value).__name__}")


def read_cifar10_pickle(path):
    """One batch of CIFAR-10's python release -> (images (N, 3, 32, 32) uint8, labels (N,)
    int64).

    The file is hostile until proven otherwise: it must be a regular file of at most
    MAX_CIFAR_BATCH_BYTES; the unpickler builds only plain data and the stand-ins above; and
    the result must be exactly the batch layout (a dict of ``data``, ``labels`` and optionally
    ``batch_label`` and ``filenames``), read in one pass over what the file holds, so the work
    is bounded by the file's size however the pickle shares its objects."""
    check_regular_file(path)
    size = Path(path).stat().st_size
    if size > MAX_CIFAR_BATCH_BYTES:
        raise ValueError(f"{path}: not a CIFAR-10 batch: {size} bytes, more than the "
                         f"{MAX_CIFAR_BATCH_BYTES} a batch can have")
    try:
        batch = _SafeUnpickler(io.BytesIO(Path(path).read_bytes()), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch: {exc}") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            RecursionError, OverflowError, MemoryError) as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch: corrupt or truncated pickle "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: not a CIFAR-10 batch: expected a dict, got "
                         f"{type(batch).__name__}")
    keys = [_text(k) if isinstance(k, (bytes, str)) else k for k in batch]
    unknown = [k for k in keys if k not in _CIFAR_KEYS]
    if unknown:
        raise ValueError(f"{path}: not a CIFAR-10 batch: unexpected entries "
                         f"{[str(k)[:40] for k in unknown[:3]]} (a batch holds "
                         f"{', '.join(sorted(_CIFAR_KEYS))})")
    batch = dict(zip(keys, batch.values()))
    for key in ("data", "labels"):
        if key not in batch:
            raise ValueError(f"{path}: not a CIFAR-10 batch: no {key!r} entry "
                             f"(keys: {sorted(map(str, batch))})")
    for key in ("batch_label", "filenames"):
        if key in batch:
            _strings(batch[key], key, path)
    data = batch["data"]
    try:
        data = data.to_numpy() if isinstance(data, _PickledArray) else data
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch: {exc}") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) \
            else type(data).__name__
        raise ValueError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {desc}")
    try:
        labels = _labels(batch["labels"], path)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: not a CIFAR-10 batch: {exc}") from None
    if labels.shape != (len(data),):
        raise ValueError(f"{path}: {len(data)} images but {labels.size} labels")
    # Each row is 1024 red, then 1024 green, then 1024 blue values, each plane row-major 32x32.
    return data.reshape(-1, 3, 32, 32), labels
