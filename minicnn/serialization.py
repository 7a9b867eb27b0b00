"""minicnn.save / minicnn.load: checkpoints as pickle-free .npz files, written atomically.

A file holds the arrays of ``obj`` as ordinary ``.npy`` members plus one more member,
``__minicnn__``: a uint8 array holding UTF-8 JSON that describes the structure around them::

    {"format": "minicnn", "version": 1,
     "root": {"dict": [["epoch", 3], ["model", {"odict": [["0.weight", {"array": "arr_0"}], ...]]}]]}}

Every container is a one-key JSON object (``dict``, ``odict``, ``list``, ``tuple``) so that
dicts, lists and tuples come back as what they were; dict keys may be ``str`` or ``int`` (an
optimizer's state dict is keyed by parameter index). ``{"array": name}`` and ``{"scalar":
name}`` point at ``.npy`` members (a NumPy scalar is stored as a 0-d array so that its dtype
survives). Integers outside the int64 range are written in hex (``{"bigint": "0x..."}``) and
non-finite floats by name, so the header stays strict JSON any reader can parse.

Loading goes through ``np.load(..., allow_pickle=False)``: a file can describe data, never
code, so loading an untrusted checkpoint cannot run anything.
"""
import collections
import errno
import glob
import json
import math
import os
import secrets
import stat
import time
import zipfile

import numpy as np

from minicnn import safetensors_io

__all__ = ["save", "load"]

FORMAT = "minicnn"
VERSION = 1
HEADER_KEY = "__minicnn__"
_INT64_MIN, _INT64_MAX = -2 ** 63, 2 ** 63 - 1
# Containers inside containers: a checkpoint nests a few levels; a save refuses more than this
# (rather than end in a RecursionError), and every file it writes loads back.
MAX_DEPTH = 100


# ---------------------------------------------------------------------------------------------
# Object -> (JSON description, arrays)
# ---------------------------------------------------------------------------------------------

class _Encoder:
    """Walks ``obj`` once, collecting arrays under fresh names and building the JSON node."""

    def __init__(self):
        self.arrays = {}
        self._active = set()  # ids of the containers being walked, to detect cycles

    def _add_array(self, array, where):
        if array.dtype.hasobject:
            raise TypeError(f"cannot save the object-dtype array at {where}: it would need "
                            "pickle; convert it to a numeric or string dtype")
        name = f"arr_{len(self.arrays)}"
        self.arrays[name] = array
        return name

    def encode(self, obj, where="obj", depth=0):
        # bool before int (bool is an int subclass); np.generic before float (np.float64 is a
        # float subclass) so that NumPy scalars keep their dtype.
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.generic):
            return {"scalar": self._add_array(np.asarray(obj), where)}
        if isinstance(obj, int):
            obj = int(obj)
            if _INT64_MIN <= obj <= _INT64_MAX:
                return obj
            return {"bigint": hex(obj)}  # hex: exact, and not subject to int<->str digit limits
        if isinstance(obj, float):
            if math.isfinite(obj):
                return float(obj)
            return {"float": repr(float(obj))}  # 'nan', 'inf', '-inf'
        if isinstance(obj, np.ndarray):
            return {"array": self._add_array(obj, where)}
        tensor_data = _tensor_data(obj)
        if tensor_data is not None:
            return {"array": self._add_array(tensor_data, where)}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"cannot save a self-referencing structure (cycle at {where})")
            if depth >= MAX_DEPTH:
                raise ValueError(f"cannot save a structure nested more than {MAX_DEPTH} "
                                 f"containers deep (at {where[:60]}...)")
            self._active.add(id(obj))
            try:
                return self._encode_container(obj, where, depth + 1)
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"cannot save object of type {type(obj).__name__} at {where}; "
                        "minicnn.save stores dicts, lists, tuples, ndarrays, Tensors, "
                        "int, float, bool, str and None")

    def _encode_container(self, obj, where, depth):
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if isinstance(key, (bool, np.bool_)) or not isinstance(key, (str, int)):
                    raise TypeError(f"cannot save dict key {key!r} of type "
                                    f"{type(key).__name__} at {where}: keys must be str or int")
                if isinstance(key, int) and not isinstance(key, str):
                    key = int(key)
                    if not _INT64_MIN <= key <= _INT64_MAX:
                        raise TypeError(f"cannot save dict key {key} at {where}: int keys "
                                        "must fit in int64")
                items.append([key, self.encode(value, f"{where}[{key!r}]", depth)])
            tag = "odict" if isinstance(obj, collections.OrderedDict) else "dict"
            return {tag: items}
        tag = "tuple" if isinstance(obj, tuple) else "list"
        return {tag: [self.encode(v, f"{where}[{i}]", depth) for i, v in enumerate(obj)]}


def _tensor_data(obj):
    """The ndarray behind a minicnn Tensor (or Parameter), else None."""
    try:
        from minicnn._tensor import Tensor
    except ImportError:  # pragma: no cover - tensor.py is part of the package
        return None
    if isinstance(obj, Tensor):
        return np.asarray(obj._data)
    return None


# ---------------------------------------------------------------------------------------------
# (JSON description, arrays) -> object
# ---------------------------------------------------------------------------------------------

class _Corrupt(Exception):
    """Raised inside ``load`` for a malformed file; ``load`` turns it into a ValueError."""


def _decode(node, arrays, used):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        raise _Corrupt("a bare JSON list where a tagged node was expected")
    if not isinstance(node, dict) or len(node) != 1:
        raise _Corrupt(f"malformed node {str(node)[:80]!r}")
    (tag, value), = node.items()
    if tag in ("array", "scalar"):
        if not isinstance(value, str) or value not in arrays:
            raise _Corrupt(f"it refers to an array {value!r} that is not in the file")
        used.add(value)
        return arrays[value][()] if tag == "scalar" else arrays[value]
    if tag == "bigint":
        try:
            return int(value, 16)
        except (TypeError, ValueError):
            raise _Corrupt(f"bad bigint {value!r}") from None
    if tag == "float":
        if value not in ("nan", "inf", "-inf"):
            raise _Corrupt(f"bad float {value!r}")
        return float(value)
    if tag in ("list", "tuple"):
        if not isinstance(value, list):
            raise _Corrupt(f"a {tag} node must hold a JSON list")
        items = [_decode(v, arrays, used) for v in value]
        return tuple(items) if tag == "tuple" else items
    if tag in ("dict", "odict"):
        out = collections.OrderedDict() if tag == "odict" else {}
        if not isinstance(value, list):
            raise _Corrupt(f"a {tag} node must hold a JSON list of [key, value] pairs")
        for pair in value:
            if (not isinstance(pair, list) or len(pair) != 2
                    or isinstance(pair[0], bool) or not isinstance(pair[0], (str, int))):
                raise _Corrupt(f"malformed dict entry {str(pair)[:80]!r}")
            out[pair[0]] = _decode(pair[1], arrays, used)
        return out
    raise _Corrupt(f"unknown node type {tag!r}")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

def _check_path(path, name="path"):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path == "":
        raise ValueError(f"{name} must name a file, got an empty string")
    return path


def check_regular_file(path):
    """Raise ValueError naming ``path`` unless it is a regular file (FileNotFoundError if it
    does not exist): a FIFO, a device or a directory would block a reader or never end."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path)) from None
    if not stat.S_ISREG(mode):
        kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)"
                if stat.S_ISFIFO(mode) else "a device or socket")
        raise ValueError(f"{str(path)!r} is {kind}, not a regular file")


# Temporary files of an interrupted save are ``.NAME.<random>.tmp`` beside NAME; a save removes
# the ones of its own target that are older than this many seconds (a save still running in
# another process is younger).
STALE_TMP_SECONDS = 60


def _remove_stale_temporaries(directory, name, keep):
    pattern = os.path.join(glob.escape(directory), f".{glob.escape(name)}.*.tmp")
    now = time.time()
    for tmp in glob.glob(pattern):
        if tmp == keep:
            continue
        try:
            if now - os.lstat(tmp).st_mtime > STALE_TMP_SECONDS:
                os.unlink(tmp)
        except OSError:
            pass


def save(obj, path):
    """Save ``obj`` to ``path`` as a pickle-free ``.npz`` file, atomically.

    Parameters
    ----------
    obj : nested dict / list / tuple of ndarray, Tensor, int, float, bool, str, None
        For example ``model.state_dict()``, ``optimizer.state_dict()``, or a checkpoint dict
        ``{"epoch": 3, "model": ..., "optimizer": ..., "rng": minicnn.rng.get_rng_state()}``.
        Dict keys must be ``str`` or ``int``. Tensors and Parameters are stored as their
        arrays (shape and dtype kept); Python ints of any size are kept exactly.
    path : str or os.PathLike
        The file to write, used exactly as given (no ``.npz`` is appended). A path ending in
        ``.safetensors`` writes that format instead, which PyTorch reads too (for a flat
        ``{name: tensor}`` dict such as a state dict).

    Raises
    ------
    TypeError
        If ``obj`` contains something that cannot be stored without pickle (the message names
        where it is, e.g. ``obj['optimizer']['state'][0]``). Nothing is written then.
    ValueError
        If ``obj`` refers to itself, or nests containers more than ``MAX_DEPTH`` (100) deep.

    Notes
    -----
    The data is written to a temporary file in the same directory, flushed, ``fsync``-ed and
    then renamed over ``path`` with ``os.replace``, so a crash or error midway leaves any
    previous file at ``path`` intact. The file gets the permissions ``open(path, "wb")``
    would give it: a new file ``0o666`` less the umask (``0o644`` under the usual ``022``, as
    ``torch.save`` and ``np.save``), a replaced file the mode it had.
    """
    path = _check_path(path)
    if str(path).endswith(".safetensors"):
        blob = safetensors_io.encode(obj)
        write_atomically(path, lambda f: f.write(blob))
        return
    encoder = _Encoder()
    root = encoder.encode(obj)
    header = json.dumps({"format": FORMAT, "version": VERSION, "root": root},
                        allow_nan=False, separators=(",", ":"))
    members = dict(encoder.arrays)
    members[HEADER_KEY] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)
    write_atomically(path, lambda f: np.savez(f, **members))


def write_atomically(path, write):
    """``write(file)`` into a temporary file beside ``path``, then rename it over ``path``.

    The file ends up with the mode a plain ``open(path, "wb")`` gives it: a new file gets
    ``0o666`` less the umask (``0o644`` under umask ``022``, as ``torch.save``/``np.save``),
    and a file being replaced keeps its own mode, so a checkpoint made private stays private.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temporary(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            kept = _existing_mode(path)
            if kept is not None:  # before any data is written: never readable more widely
                _chmod(f.fileno(), tmp, kept)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
    _remove_stale_temporaries(directory, os.path.basename(path), tmp)


def _create_temporary(directory, name):
    """Create ``.NAME.<random>.tmp`` in ``directory``; return ``(fd, path)``.

    Unlike ``tempfile.mkstemp`` (always ``0o600``), the file is created with mode ``0o666``
    and the kernel applies the umask (and any default ACL of the directory), exactly as for
    ``open(path, "w")``: reading the umask with ``os.umask`` would briefly change it for
    every thread of the process.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", directory)


def _existing_mode(path):
    """The permission bits of the regular file at ``path`` (through a symlink), else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return stat.S_IMODE(st.st_mode) & 0o777  # no setuid/setgid/sticky on a file we rewrote


def _chmod(fd, path, mode):
    if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
        os.fchmod(fd, mode)
    else:  # pragma: no cover
        os.chmod(path, mode)


def _fsync_directory(directory):
    # Makes the rename itself durable; not possible on every platform, and not needed for
    # atomicity, so failures are ignored.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path, map_location=None, weights_only=True):
    """Load an object written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``minicnn.save``.
    map_location, weights_only
        (A ``.safetensors`` file loads as a ``{name: ndarray}`` dict.) Accepted for PyTorch's ``torch.load(path, map_location=..., weights_only=True)``:
        minicnn's files never hold code (``weights_only`` is always in effect) and everything
        loads onto the CPU (a ``map_location`` naming another device is an error).

    Returns
    -------
    object
        The saved structure: dicts (``OrderedDict`` where one was saved), lists, tuples,
        ndarrays (Tensors come back as ndarrays), NumPy scalars and Python scalars.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated, corrupted, not a minicnn file, or holds a pickled object
        (loading never unpickles, so it can never execute code). The message names the path
        and what is wrong.
    """
    if map_location is not None and not callable(map_location) and \
            not isinstance(map_location, dict):
        from minicnn.dtypes import as_device
        as_device(map_location)  # 'cpu' or device('cpu'); anything else: a clear error
    path = _check_path(path)
    check_regular_file(path)
    if str(path).endswith(".safetensors"):
        with open(path, "rb") as f:
            return safetensors_io.read(f, os.fstat(f.fileno()).st_size, path)

    def bad(what):
        return ValueError(f"cannot load {path!r}: {what}")

    # Look at the magic number first, so that random bytes get a plain answer instead of
    # np.load's guess that they might be a pickle.
    with open(path, "rb") as f:
        magic = f.read(4)
    if not magic:
        raise bad("the file is empty")
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        kind = ("a single .npy array, not an .npz archive" if magic == b"\x93NUM"
                else f"not an .npz (zip) archive; it starts with {magic!r}")
        raise bad(f"not a minicnn file ({kind})")
    try:
        with zipfile.ZipFile(path) as archive:
            members = _checked_members(archive, os.path.getsize(path), bad)
            header = _read_header(archive, members, bad)
            wanted = _referenced_arrays(header["root"], bad)
            unexpected = sorted(set(members) - wanted - {HEADER_KEY})
            if unexpected:
                raise bad(f"corrupted file: entries {unexpected[:5]} are not described by "
                          f"the header")
            # Only now, with every member known and sized, read the arrays.
            arrays = {name: _read_member(archive, members[name], name, bad)
                      for name in sorted(wanted & set(members))}
    except zipfile.BadZipFile as exc:
        raise bad(f"the file is truncated or corrupted ({exc})") from None
    except (OSError, EOFError) as exc:
        raise bad(f"the file is truncated or corrupted ({type(exc).__name__}: {exc})") from None
    used = set()
    try:
        obj = _decode(header["root"], arrays, used)
    except _Corrupt as exc:
        raise bad(f"corrupted header: {exc}") from None
    except RecursionError:
        raise bad("corrupted header: nested too deeply") from None
    return obj


def _checked_members(archive, file_size, bad):
    """{array name: ZipInfo} of the archive, checked before anything is decompressed: .npy
    members only, no duplicates, stored uncompressed (minicnn.save never compresses), and no
    larger together than the file itself."""
    members, total = {}, 0
    for info in archive.infolist():
        name = info.filename
        if not name.endswith(".npy") or "/" in name:
            raise bad(f"unexpected entry {name[:80]!r} (a minicnn file holds only .npy entries)")
        key = name[:-4]
        if key in members:
            raise bad(f"entry {name[:80]!r} appears twice")
        if info.compress_type != zipfile.ZIP_STORED:
            raise bad(f"entry {name[:80]!r} is compressed; minicnn.save never writes "
                      f"compressed entries")
        total += info.file_size
        if info.file_size != info.compress_size or total > file_size:
            raise bad(f"entry {name[:80]!r} claims {info.file_size} bytes, more than the "
                      f"file holds")
        members[key] = info
    if HEADER_KEY not in members:
        raise bad(f"not a minicnn file (no {HEADER_KEY!r} entry; entries: {list(members)[:5]})")
    return members


def _read_member(archive, info, name, bad):
    """One .npy member as an array: never a pickle."""
    import io

    try:
        with archive.open(info) as f:
            return np.lib.format.read_array(io.BytesIO(f.read()), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise bad(f"entry {name!r} is a pickled object array; refusing to load it "
                      "(unpickling can execute arbitrary code)") from None
        raise bad(f"entry {name!r} is truncated or corrupted ({exc})") from None
    except Exception as exc:  # zipfile / format errors from a damaged member
        raise bad(f"entry {name!r} is truncated or corrupted "
                  f"({type(exc).__name__}: {exc})") from None


def _read_header(archive, members, bad):
    raw = _read_member(archive, members[HEADER_KEY], HEADER_KEY, bad)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise bad(f"not a minicnn file ({HEADER_KEY!r} is not a uint8 byte string)")
    text = raw.tobytes()
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"corrupted header ({exc})") from None
    except RecursionError:
        raise bad("corrupted header: nested too deeply") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT or "root" not in header:
        raise bad("not a minicnn file (the header does not describe a minicnn object)")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"corrupted header (bad format version {version!r})")
    if version > VERSION:
        raise bad(f"written by a newer minicnn (format version {version}; this one reads "
                  f"up to {VERSION})")
    return header


def _referenced_arrays(root, bad):
    """The member names the header's nodes point at (walked without recursion)."""
    names, stack = set(), [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict) and len(node) == 1:
            (tag, value), = node.items()
            if tag in ("array", "scalar"):
                if not isinstance(value, str):
                    raise bad(f"corrupted header: bad array reference {str(value)[:80]!r}")
                names.add(value)
            elif isinstance(value, list):
                stack.extend(value)
        elif isinstance(node, list):
            stack.extend(node)
    return names
