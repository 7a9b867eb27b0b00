"""Tests for minicnn.save / minicnn.load: round trips, atomic writes, and refusing bad files."""
import collections
import json
import math
import os
import stat
import zipfile

import numpy as np
import pytest

import minicnn.rng
from minicnn.serialization import load, save
from minicnn import Tensor


def assert_same(a, b):
    """Deep equality that also checks container types and array dtypes/shapes."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and (a == b or (np.isnan(a) and np.isnan(b)))
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b)  # keeps -0.0
    else:
        assert a == b


def nested_object(rng):
    return {
        "f64": rng.standard_normal((3, 4)),
        "f32": rng.standard_normal((2, 1, 3, 3)).astype(np.float32),
        "i64": rng.integers(-2 ** 62, 2 ** 62, size=5, dtype=np.int64),
        "flags": np.array([True, False]),
        "empty": np.zeros((0, 3), np.float32),
        "zero_d": np.array(2.5),
        "transposed": rng.standard_normal((3, 5)).T,  # not C-contiguous
        "np_scalars": [np.float32(1.5), np.int64(-7), np.float64(np.nan)],
        "python": (None, True, False, 0, -3, 1.25, -0.0, float("inf"), float("-inf"),
                   float("nan"), "text", "ünïcode ✓", ""),
        "big_ints": [2 ** 63, -2 ** 63 - 1, 2 ** 200 + 12345, -(2 ** 130), 2 ** 63 - 1],
        "ordered": collections.OrderedDict([("0.weight", np.ones((2, 2))), ("0.bias", np.zeros(2))]),
        7: {"int keys": "work", -1: [[], {}, ()]},
    }


def test_round_trip_nested_structure(tmp_path, rng):
    obj = nested_object(rng)
    path = tmp_path / "obj.npz"
    save(obj, path)
    assert_same(obj, load(path))
    assert_same(obj, load(str(path)))  # str and PathLike both work


def test_round_trip_keeps_the_exact_path(tmp_path):
    path = tmp_path / "checkpoint.ckpt"  # no .npz appended, unlike np.savez
    save({"a": 1}, path)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.ckpt"]
    assert load(path) == {"a": 1}


def test_tensors_are_saved_as_arrays(tmp_path):
    t = Tensor(np.arange(6.0).reshape(2, 3), dtype=np.float64, requires_grad=True)
    save({"t": t, "list": [t]}, tmp_path / "t.npz")
    out = load(tmp_path / "t.npz")
    assert isinstance(out["t"], np.ndarray) and out["t"].dtype == np.float64
    np.testing.assert_array_equal(out["t"], t.data)
    np.testing.assert_array_equal(out["list"][0], t.data)


def test_rng_state_round_trip_reproduces_draws(tmp_path):
    minicnn.rng.manual_seed(1234)
    minicnn.rng.get_rng().standard_normal(10)
    state = minicnn.rng.get_rng_state()
    assert max(state["state"]["state"], state["state"]["inc"]) > 2 ** 64  # really big ints
    save({"rng": state, "epoch": 3}, tmp_path / "ckpt.npz")
    expected = minicnn.rng.get_rng().standard_normal(5)
    minicnn.rng.manual_seed(99)
    loaded = load(tmp_path / "ckpt.npz")
    assert loaded["rng"] == state
    minicnn.rng.set_rng_state(loaded["rng"])
    np.testing.assert_array_equal(minicnn.rng.get_rng().standard_normal(5), expected)


def test_header_is_strict_json_and_files_are_plain_npz(tmp_path):
    save({"x": float("nan"), "big": 2 ** 100, "a": np.ones(2)}, tmp_path / "h.npz")
    with np.load(tmp_path / "h.npz", allow_pickle=False) as contents:
        raw = contents["__minicnn__"].tobytes().decode("utf-8")
        assert set(contents.files) == {"__minicnn__", "arr_0"}

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    header = json.loads(raw, parse_constant=no_constants)
    assert header["format"] == "minicnn" and header["version"] == 1


# ---------------------------------------------------------------------------------------------
# What cannot be saved
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("obj, where", [
    ({"a": [1, {2, 3}]}, "obj['a'][1]"),
    ({"a": {"b": object()}}, "obj['a']['b']"),
    ({"x": np.array([{}, 1], dtype=object)}, "obj['x']"),
    ([lambda: 0], "obj[0]"),
])
def test_unsupported_objects_raise_type_error_naming_where(tmp_path, obj, where):
    with pytest.raises(TypeError) as info:
        save(obj, tmp_path / "bad.npz")
    assert where in str(info.value)
    assert not os.listdir(tmp_path)  # nothing written, no temporary left behind


@pytest.mark.parametrize("key", [1.5, (1, 2), True, None])
def test_dict_keys_must_be_str_or_int(tmp_path, key):
    with pytest.raises(TypeError, match="key"):
        save({key: 1}, tmp_path / "bad.npz")


def test_cycles_are_refused(tmp_path):
    a = {"x": 1}
    a["self"] = [a]
    with pytest.raises(ValueError, match="cycle"):
        save(a, tmp_path / "cycle.npz")


def test_path_must_be_a_path(tmp_path):
    with pytest.raises(TypeError, match="path"):
        save({}, 123)
    with pytest.raises(TypeError, match="path"):
        load(None)


# ---------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------

def test_failed_serialisation_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "model.npz"
    save({"version": 1, "w": np.arange(4.0)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save({"version": 2, "w": np.arange(4.0), "bad": {1, 2}}, path)
    assert path.read_bytes() == before
    assert load(path)["version"] == 1
    assert os.listdir(tmp_path) == ["model.npz"]


def test_crash_midway_through_writing_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save({"version": 1, "w": np.arange(4.0)}, path)
    before = path.read_bytes()
    written = []
    real_write_array = np.lib.format.write_array

    def write_then_crash(fp, array, *args, **kwargs):
        if written:  # the first array goes out fine, then the "disk" fails
            fp.write(b"partial")
            raise OSError("simulated disk failure")
        written.append(array)
        return real_write_array(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)
    with pytest.raises(OSError, match="simulated"):
        save({"version": 2, "w": np.ones(1000), "v": np.zeros(1000)}, path)
    assert written  # the failure really happened midway
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load(path)["version"] == 1
    assert os.listdir(tmp_path) == ["model.npz"]


def test_failing_fsync_or_rename_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save({"version": 1}, path)
    for name in ("fsync", "replace"):
        with monkeypatch.context() as m:
            def fail(*args, **kwargs):
                raise OSError(f"simulated {name} failure")
            m.setattr(os, name, fail)
            with pytest.raises(OSError, match="simulated"):
                save({"version": 2}, path)
        assert load(path)["version"] == 1
        assert os.listdir(tmp_path) == ["model.npz"]


def test_overwrite_replaces_content(tmp_path):
    path = tmp_path / "model.npz"
    save({"version": 1}, path)
    save({"version": 2}, path)
    assert load(path) == {"version": 2}


# ---------------------------------------------------------------------------------------------
# Loading bad files
# ---------------------------------------------------------------------------------------------

def test_missing_file_raises_file_not_found_naming_path(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError) as info:
        load(path)
    assert str(path) in str(info.value)


def test_truncated_files_raise_value_error_naming_path(tmp_path, rng):
    good = tmp_path / "good.npz"
    save({"w": rng.standard_normal((50, 50)), "b": np.arange(10), "n": 3}, good)
    data = good.read_bytes()
    bad = tmp_path / "truncated.npz"
    for size in (0, 1, 10, 100, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        bad.write_bytes(data[:size])
        with pytest.raises(ValueError) as info:
            load(bad)
        message = str(info.value)
        assert str(bad) in message
        assert any(word in message for word in ("truncated", "corrupted", "empty",
                                                "not a minicnn")), message


def test_flipped_bytes_are_detected(tmp_path, rng):
    good = tmp_path / "good.npz"
    save({"w": rng.standard_normal(1000)}, good)
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the array payload: caught by the zip CRC
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        load(bad)


def test_random_bytes_and_other_files_are_not_minicnn_files(tmp_path, rng):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="not a minicnn file") as info:
        load(junk)
    assert str(junk) in str(info.value)

    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(ValueError, match="not a minicnn file"):
        load(npy)

    plain_npz = tmp_path / "plain.npz"
    np.savez(plain_npz, a=np.ones(3))
    with pytest.raises(ValueError, match="not a minicnn file"):
        load(plain_npz)

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a minicnn file"):
        load(text)


_side_effects = []


def _record_side_effect():
    _side_effects.append("code ran")
    return "payload"


class _Malicious:
    def __reduce__(self):
        return (_record_side_effect, ())


def test_pickled_object_array_inside_npz_is_refused_without_running_code(tmp_path):
    header = {"format": "minicnn", "version": 1, "root": {"dict": [["x", {"array": "arr_0"}]]}}
    path = tmp_path / "evil.npz"
    np.savez(path, arr_0=np.array([_Malicious()], dtype=object),
             __minicnn__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    _side_effects.clear()
    with pytest.raises(ValueError, match="pickle") as info:
        load(path)
    assert str(path) in str(info.value)
    assert _side_effects == []


def _write_minicnn_like(path, header, **arrays):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    np.savez(path, __minicnn__=np.frombuffer(raw, dtype=np.uint8), **arrays)


@pytest.mark.parametrize("header, arrays, match", [
    (b"{not json", {}, "corrupted header"),
    ({"format": "other", "version": 1, "root": 1}, {}, "not a minicnn file"),
    ({"format": "minicnn", "version": 99, "root": 1}, {}, "newer minicnn"),
    ({"format": "minicnn", "version": "1", "root": 1}, {}, "format version"),
    ({"format": "minicnn", "version": 1, "root": {"array": "arr_7"}}, {}, "not in the file"),
    ({"format": "minicnn", "version": 1, "root": {"set": []}}, {}, "unknown node"),
    ({"format": "minicnn", "version": 1, "root": {"bigint": "xyz"}}, {}, "bigint"),
    ({"format": "minicnn", "version": 1, "root": 1}, {"arr_0": np.ones(2)}, "not described"),
])
def test_malformed_headers_raise_value_error(tmp_path, header, arrays, match):
    path = tmp_path / "bad.npz"
    _write_minicnn_like(path, header, **arrays)
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)


def test_header_that_is_not_uint8_is_refused(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, __minicnn__=np.arange(5, dtype=np.int64))
    with pytest.raises(ValueError, match="uint8"):
        load(path)


def test_zip_with_bad_member_is_refused(tmp_path):
    path = tmp_path / "bad.npz"
    save({"a": np.ones(3)}, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("arr_1.npy", b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="arr_1"):
        load(path)


def test_save_removes_stale_temporaries_of_its_own_target_only(tmp_path):
    import time

    from minicnn import serialization

    target = tmp_path / "ckpt.npz"
    stale = tmp_path / ".ckpt.npz.abc123.tmp"         # left by a save killed midway
    fresh = tmp_path / ".ckpt.npz.def456.tmp"         # a save running right now elsewhere
    other = tmp_path / ".other.npz.abc123.tmp"        # another target's
    for path in (stale, fresh, other):
        path.write_bytes(b"x" * 100)
    old = time.time() - serialization.STALE_TMP_SECONDS - 10
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    minicnn.save({"a": 1}, target)
    assert not stale.exists() and fresh.exists() and other.exists()
    assert minicnn.load(target) == {"a": 1}


@pytest.mark.parametrize("call", [lambda: minicnn.save({}, ""), lambda: minicnn.load("")])
def test_an_empty_path_is_an_error(call):
    with pytest.raises(ValueError, match="path must name a file, got an empty string"):
        call()


# ---------------------------------------------------------------------------------------------
# File permissions: what open(path, "w") would give, as torch.save and np.save
# ---------------------------------------------------------------------------------------------

class umask:
    """Set the process umask for a block (os.umask is process-wide: restored in finally)."""

    def __init__(self, mask):
        self.mask = mask

    def __enter__(self):
        self.previous = os.umask(self.mask)

    def __exit__(self, *exc):
        os.umask(self.previous)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


SAVED = {"w": np.arange(4.0, dtype=np.float32), "b": np.zeros(2, dtype=np.float32)}


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and umask")
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664),
                                            (0o027, 0o640)])
def test_new_file_gets_the_umask_mode_like_open(tmp_path, suffix, mask, expected):
    path, plain = tmp_path / f"model{suffix}", tmp_path / "plain.txt"
    with umask(mask):
        save(SAVED, path)
        with open(plain, "w"):
            pass
    assert mode_of(path) == mode_of(plain) == expected
    np.testing.assert_array_equal(load(path)["w"], SAVED["w"])


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and umask")
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("mask, existing", [(0o022, 0o600), (0o077, 0o664), (0o022, 0o640),
                                            (0o000, 0o400)])
def test_replaced_file_keeps_its_mode(tmp_path, suffix, mask, existing):
    path = tmp_path / f"model{suffix}"
    save({"w": np.ones(3, dtype=np.float32)}, path)
    os.chmod(path, existing)
    with umask(mask):
        save(SAVED, path)
    assert mode_of(path) == existing
    np.testing.assert_array_equal(load(path)["w"], SAVED["w"])
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and umask")
def test_replacing_a_private_file_never_exposes_the_data(tmp_path, monkeypatch):
    # Under umask 0 a new file would be 0o666; the temporary holding the new data of a 0o600
    # file must already be 0o600 while the data is being written.
    path = tmp_path / "model.npz"
    save(SAVED, path)
    os.chmod(path, 0o600)
    seen = []
    real_write_array = np.lib.format.write_array

    def write_and_look(fp, array, *args, **kwargs):
        seen.extend(mode_of(tmp_path / name) for name in os.listdir(tmp_path)
                    if name.endswith(".tmp"))
        return real_write_array(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_and_look)
    with umask(0):
        save(SAVED, path)
    assert seen and set(seen) == {0o600}
    assert mode_of(path) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes, umask and symlinks")
def test_saving_through_a_symlink_keeps_the_target_mode(tmp_path):
    # os.replace replaces the link itself; the new file keeps the mode of the file it pointed
    # at, not the wider one a new file would get.
    target, link = tmp_path / "real.npz", tmp_path / "link.npz"
    save(SAVED, target)
    os.chmod(target, 0o600)
    link.symlink_to(target)
    with umask(0o022):
        save(SAVED, link)
    assert mode_of(link) == 0o600

