"""The safetensors format, read and written without pickle (and without the safetensors package).

A ``.safetensors`` file is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the tensors' bytes back to back. PyTorch, NumPy and
many other tools read and write it, so a ``state_dict`` can move between minicnn and PyTorch::

    minicnn.save(model.state_dict(), "model.safetensors")   # torch: safetensors.torch.load_file
    model.load_state_dict(minicnn.load("model.safetensors"))

Only a flat ``{name: tensor}`` mapping fits the format (a state dict does; a whole training
checkpoint with its optimizer does not: use ``.npz`` for that). Reading treats the file as
hostile: every entry is checked against the file before any byte of it is used.
"""
import json
import math
import struct

import numpy as np

__all__ = ["encode", "read", "MAX_HEADER_BYTES"]

# safetensors' dtype names <-> NumPy's (little-endian, as the format stores them)
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U8": "u1", "BOOL": "?"}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}
MAX_HEADER_BYTES = 100 * 2 ** 20  # the reference implementation's limit


def encode(tensors):
    """The bytes of a safetensors file holding ``tensors``, a ``{str: array}`` mapping."""
    if not isinstance(tensors, dict):
        raise TypeError(f"a .safetensors file holds a flat dict of named tensors (such as a "
                        f"state_dict), got {type(tensors).__name__}; use a .npz path for "
                        f"anything else")
    header, chunks, offset = {}, [], 0
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"a .safetensors file names its tensors with str keys, got "
                            f"{name!r}")
        array = np.asarray(value._data if hasattr(value, "_ctx") else value)
        little = array.dtype.newbyteorder("<")
        if little not in _NAMES:
            raise TypeError(f"tensor {name!r} has dtype {array.dtype}, which a .safetensors "
                            f"file cannot hold")
        data = np.ascontiguousarray(array, dtype=little).tobytes()
        header[name] = {"dtype": _NAMES[little], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def read(f, size, source):
    """``{name: ndarray}`` (in the file's byte order) from the open safetensors file ``f`` of
    ``size`` bytes; ``source`` names the file in errors.

    The file is hostile until checked: the 8-byte header length is checked against ``size``
    before anything else is read, then the header (every field's type, every byte range against
    the file), and only then is each tensor read, one at a time, into an array of its own. A
    file that claims more than it holds costs no more than its header.

    Raises ValueError for anything that is not a valid file: a header that does not fit, bad
    JSON, unknown dtypes, byte ranges that overlap, leave gaps, or do not match their shape.
    """
    def bad(what):
        return ValueError(f"cannot load {source!r} as safetensors: {what}")

    if size < 8:
        raise bad("it is shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", f.read(8))
    if length > MAX_HEADER_BYTES or 8 + length > size:
        raise bad(f"its header claims {length} bytes, more than the file holds or allows")
    text = f.read(length)
    if len(text) != length:
        raise bad("it ended inside its header")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(v, str) for v in metadata.values())):
        raise bad("its __metadata__ should map names to strings")
    entries = _checked_entries(header, size - 8 - length, bad)
    out = {}
    for start, stop, name, dtype, shape in entries:
        array = np.empty(shape, dtype=_DTYPES[dtype])
        f.seek(8 + length + start)
        if f.readinto(memoryview(array.reshape(-1)).cast("B")) != stop - start:
            raise bad(f"it ended inside tensor {name[:60]!r}")
        out[name] = array
    # The file's own order of names (JSON keeps it).
    return {name: out[name] for name in header}


def _checked_entries(header, data_size, bad):
    """The header's entries as ``(start, stop, name, dtype, shape)`` sorted by offset, each
    field checked for type and the ranges for covering the ``data_size`` bytes exactly."""
    entries = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"entry {name[:60]!r} should hold dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise bad(f"entry {name[:60]!r} has dtype {json.dumps(dtype)[:20]}, which "
                      f"minicnn does not read (it reads {', '.join(_DTYPES)})")
        if not isinstance(shape, list) or any(type(n) is not int or n < 0 for n in shape):
            raise bad(f"entry {name[:60]!r} has a bad shape {str(shape)[:60]}")
        if not isinstance(offsets, list) or len(offsets) != 2 or \
                any(type(n) is not int for n in offsets) or not 0 <= offsets[0] <= offsets[1]:
            raise bad(f"entry {name[:60]!r} has bad data_offsets {str(offsets)[:60]}")
        nbytes = math.prod(shape) * np.dtype(_DTYPES[dtype]).itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise bad(f"entry {name[:60]!r}: {offsets[1] - offsets[0]} bytes for a "
                      f"{dtype} tensor of shape {tuple(shape)}, which needs {nbytes}")
        entries.append((offsets[0], offsets[1], name, dtype, shape))
    entries.sort()
    end = 0
    for start, stop, name, _, _ in entries:
        if start != end:
            raise bad(f"entry {name[:60]!r} starts at byte {start}, expected {end} (the "
                      f"tensors' bytes must follow each other)")
        end = stop
    if end != data_size:
        raise bad(f"its tensors take {end} bytes but the file holds {data_size} after the "
                  f"header")
    return entries
