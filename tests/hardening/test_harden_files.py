"""Files: checkpoints and datasets from untrusted or damaged files never run code, never crash
with a traceback in the CLI, and a failed save never destroys the last good checkpoint.

(test_serialization.py and test_data.py cover minicnn.save/load and the loaders themselves;
this file adds the attacks and failures they do not: through the CLI, more pickle tricks,
corruption fuzzing, and a crash while ``train`` writes its checkpoint.)
"""
import copyreg
import os
import pickle
import zipfile

import numpy as np
import pytest

import minicnn
from minicnn.__main__ import main
from minicnn.data import load_cifar10
from minicnn.models import lenet

SMALL = ["--limit", "128", "--test-limit", "64", "--threads", "1", "--quiet"]


@pytest.fixture(autouse=True)
def restore_threads():
    previous = minicnn.get_num_threads()
    yield
    minicnn.set_num_threads(previous)


def cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def checkpoint(tmp_path, capsys):
    """A real one-epoch checkpoint of digits_net."""
    path = tmp_path / "run.npz"
    status, _, err = cli(capsys, "train", *SMALL, "--epochs", 1, "--checkpoint", path)
    assert status == 0, err
    return path


# ---------------------------------------------------------------------------------------------
# Damaged and mismatched checkpoints through the CLI
# ---------------------------------------------------------------------------------------------

def _edit(path, out, edit):
    ckpt = minicnn.load(path)
    edit(ckpt)
    minicnn.save(ckpt, out)
    return out


EDITS = {
    # Bug: these reached model.load_state_dict / optimizer.load_state_dict / set_rng_state /
    # a dict lookup and ended in a traceback instead of the CLI's one-line error.
    "wrong architecture": (lambda c: c.update(model=lenet().state_dict()),
                           ["does not fit model digits_net", "lacks '2.weight'",
                            "unknown entries '3.weight'"]),
    "weights of the wrong shape": (lambda c: c["model"].update(
        {"0.weight": np.zeros((3, 1, 3, 3), np.float32)}), ["does not fit", "float32 array of shape (32, 1, 3, 3)",
                               "shape (3, 1, 3, 3)"]),
    "complex weights": (lambda c: c["model"].update(
        {"0.weight": c["model"]["0.weight"].astype(complex)}),
        ["damaged", "model['0.weight'] should be a numeric array, it is a complex128 array"]),
    "no model entry": (lambda c: c.pop("model"), ["damaged", "'model'", "missing"]),
    "args not a dict": (lambda c: c.update(args=[1, 2]), ["damaged", "'args'", "list"]),
    "args without epochs": (lambda c: c["args"].pop("epochs"), ["damaged", "epochs"]),
    "epoch a string": (lambda c: c.update(epoch="3"), ["damaged", "'epoch'"]),
    # Fields checked for type and range before training starts (they used to fail later,
    # some only at the first optimizer.step()).
    "negative epoch": (lambda c: c.update(epoch=-1), ["damaged", "'epoch' should be an integer"]),
    "huge epoch": (lambda c: c.update(epoch=10 ** 30), ["damaged", "'epoch'"]),
    "batch size 0": (lambda c: c["args"].update(batch_size=0), ["damaged", "args['batch_size']"]),
    "lr nan": (lambda c: c["args"].update(lr=float("nan")), ["damaged", "args['lr']", "finite"]),
    "unknown dataset": (lambda c: c["args"].update(dataset="imagenet"),
                        ["damaged", "args['dataset']", "imagenet"]),
    "momentum buffer a string": (lambda c: c["optimizer"]["state"][0].update(
        momentum_buffer="x"), ["damaged", "optimizer['state'][0]['momentum_buffer']",
                               "float array", "a str"]),
    "step negative": (lambda c: c["optimizer"]["state"][0].update(step=-5),
                      ["damaged", "optimizer['state'][0]['step']"]),
    "group lr a string": (lambda c: c["optimizer"]["param_groups"][0].update(lr="fast"),
                          ["damaged", "optimizer['param_groups'][0]['lr']"]),
    "history entry not a dict": (lambda c: c["history"].append(3), ["damaged", "history[1]"]),
}
RESUME_ONLY = {
    "optimizer state of another optimizer": (lambda c: c.update(optimizer={"x": 1}),
                                             ["damaged", "'optimizer' should hold"]),
    "rng state of another generator": (lambda c: c.update(rng={"bit_generator": "MT19937"}),
                                       ["random generator state does not fit"]),
}


@pytest.mark.parametrize("what", sorted(EDITS) + sorted(RESUME_ONLY))
def test_damaged_or_mismatched_checkpoints_give_one_line_errors(capsys, tmp_path, checkpoint,
                                                                what):
    edit, words = {**EDITS, **RESUME_ONLY}[what]
    bad = _edit(checkpoint, tmp_path / "bad.npz", edit)
    commands = [["train", "--resume", "--epochs", 2, "--quiet"]]
    if what in EDITS:
        commands.append(["evaluate"])
    for command in commands:
        status, _, err = cli(capsys, *command, "--checkpoint", bad)
        assert status == 2, (command, err)
        assert "Traceback" not in err and str(bad) in err
        for word in words:
            assert word in err, (command, word, err)


def test_truncated_and_bit_flipped_checkpoints_never_load_garbage(capsys, tmp_path, checkpoint):
    # Every damaged copy must either load to exactly the original (the damage hit bytes that
    # do not matter, e.g. a zip comment or padding) or be refused with the file's name.
    blob = checkpoint.read_bytes()
    original = minicnn.load(checkpoint)
    rng = np.random.default_rng(0)
    refused = 0
    for trial in range(60):
        damaged = bytearray(blob)
        if trial % 3 == 0:
            damaged = damaged[:int(rng.integers(0, len(blob)))]
        else:
            for i in rng.integers(0, len(blob), size=1 + trial % 4):
                damaged[i] ^= 1 << int(rng.integers(8))
        path = tmp_path / f"damaged{trial}.npz"
        path.write_bytes(bytes(damaged))
        try:
            loaded = minicnn.load(path)
        except ValueError as exc:
            assert str(path) in str(exc)
            refused += 1
            status, _, err = cli(capsys, "evaluate", "--checkpoint", path)
            assert status == 2 and "Traceback" not in err
            continue
        np.testing.assert_equal(loaded["model"], original["model"])
    assert refused >= 40  # the zip CRCs catch nearly every flip in the data


def test_loading_never_touches_pickle(monkeypatch, checkpoint):
    def refuse(*args, **kwargs):
        raise AssertionError("minicnn.load used pickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    assert minicnn.load(checkpoint)["epoch"] == 1


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_a_pickled_object_array_is_refused_by_the_cli(capsys, tmp_path,
                                                                      checkpoint):
    # Replace the first weight by an object array whose unpickling would run a shell command.
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.npz"
    with zipfile.ZipFile(checkpoint) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            if item.filename == "arr_0.npy":
                with dst.open(item.filename, "w") as f:
                    np.lib.format.write_array(f, np.array([_RunsCode(marker)], dtype=object),
                                              allow_pickle=True)
            else:
                dst.writestr(item, src.read(item.filename))
    for command in (["evaluate"], ["train", "--resume", "--epochs", 2, "--quiet"]):
        status, _, err = cli(capsys, *command, "--checkpoint", evil)
        assert status == 2 and "pickle" in err and "Traceback" not in err
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# A crash while train writes its checkpoint
# ---------------------------------------------------------------------------------------------

def test_failed_checkpoint_write_keeps_the_last_good_one_and_resume_still_matches(
        capsys, tmp_path, checkpoint, monkeypatch):
    before = checkpoint.read_bytes()
    real_write_array = np.lib.format.write_array
    calls = []

    def disk_full_midway(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) > 3:  # a few arrays reach the temporary file, then the disk fails
            fp.write(b"half an array")
            raise OSError(28, "No space left on device (simulated)")
        return real_write_array(fp, array, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(np.lib.format, "write_array", disk_full_midway)
        status = main([str(a) for a in ["train", "--resume", "--epochs", 2, "--checkpoint",
                                        checkpoint, "--quiet"]])
    err = capsys.readouterr().err
    # One line naming the file, the epoch and the cause; no traceback.
    assert status == 2 and "Traceback" not in err, err
    assert f"cannot write --checkpoint {checkpoint} after epoch 2: No space left on device" in err
    assert len(calls) > 3
    assert checkpoint.read_bytes() == before  # untouched, and no temporary file left over
    assert sorted(os.listdir(tmp_path)) == ["run.npz"]
    # The run resumes from the good checkpoint exactly as if nothing had happened.
    status, _, err = cli(capsys, "train", "--resume", "--epochs", 2, "--checkpoint", checkpoint,
                         "--quiet")
    assert status == 0, err
    straight = tmp_path / "straight.npz"
    assert cli(capsys, "train", *SMALL, "--epochs", 2, "--checkpoint", straight)[0] == 0
    np.testing.assert_equal(minicnn.load(checkpoint)["model"], minicnn.load(straight)["model"])


# ---------------------------------------------------------------------------------------------
# CIFAR-10 batches that try to run code
# ---------------------------------------------------------------------------------------------

def _eval_pickle(code, protocol):
    class Evil:
        def __reduce__(self):
            return (eval, (code,))
    return pickle.dumps({b"data": Evil(), b"labels": []}, protocol=protocol)


def _touch(marker):
    return f"open({str(marker)!r}, 'w').close()"


ATTACKS = {
    # name: (function of the marker path -> pickle bytes, words the error must contain)
    "builtins.eval, protocol 0 GLOBAL": (
        lambda m: b"cbuiltins\neval\n(V" + _touch(m).encode() + b"\ntR.", "builtins.eval"),
    "builtins.eval, protocol 2": (lambda m: _eval_pickle(_touch(m), 2), ".eval"),
    "builtins.eval, protocol 4 STACK_GLOBAL": (lambda m: _eval_pickle(_touch(m), 4),
                                               "builtins.eval"),
    "builtins.exec": (lambda m: pickle.dumps(
        {b"data": _Reduce(exec, (_touch(m),)), b"labels": []}, protocol=2), ".exec"),
    "os.system": (lambda m: pickle.dumps(
        {b"data": _Reduce(os.system, (f"touch {m}",)), b"labels": []}, protocol=2), "system"),
    "subprocess.Popen": (lambda m: b"\x80\x02csubprocess\nPopen\n]q\x00(X\x05\x00\x00\x00touch"
                         b"X" + len(str(m)).to_bytes(4, "little") + str(m).encode()
                         + b"e\x85R.", "subprocess.Popen"),
    "copyreg extension code (EXT1)": (None, "system"),
    "_reconstruct of something that is not an ndarray": (
        lambda m: b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85"
                  b"C\x01b\x87R.", "ndarray"),
    "_codecs.encode with another codec": (
        lambda m: b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-7\x86R.",
        "_codecs.encode"),
    "persistent id": (lambda m: b"\x80\x02X\x01\x00\x00\x00aQ.", "persistent"),
}


class _Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def _ext1_pickle(marker):
    # Pickles that name a global through the copyreg extension registry (opcode EXT1) carry
    # only a code number; the unpickler looks the global up and must still refuse it.
    copyreg.add_extension(os.system.__module__, "system", 0xF0)  # "posix" on Linux
    try:
        return pickle.dumps({b"data": _Reduce(os.system, (f"touch {marker}",)), b"labels": []},
                            protocol=2)
    finally:
        copyreg.remove_extension(os.system.__module__, "system", 0xF0)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_cifar_batches_that_try_to_run_code_are_refused(tmp_path, attack):
    make, words = ATTACKS[attack]
    marker = tmp_path / "pwned"
    blob = _ext1_pickle(marker) if make is None else make(marker)
    if attack == "copyreg extension code (EXT1)":
        assert b"\x82\xf0" in blob  # the global really is written as EXT1 0xF0
        # as a victim's registry might hold it
        copyreg.add_extension(os.system.__module__, "system", 0xF0)
    try:
        (tmp_path / "test_batch").write_bytes(blob)
        with pytest.raises(ValueError) as info:
            load_cifar10(tmp_path, split="test")
    finally:
        if attack == "copyreg extension code (EXT1)":
            copyreg.remove_extension(os.system.__module__, "system", 0xF0)
    message = str(info.value)
    assert "test_batch" in message and words in message, message
    assert not marker.exists()


def test_cifar_batch_declaring_a_huge_array_is_refused_without_allocating_it(tmp_path):
    # The array's shape comes from the file: (10**12, 3072) uint8 with 6 bytes of data must be
    # refused by the size check, not by trying to allocate 3 PB.
    shape = b"\x8a\x06\x00\x10\xa5\xd4\xe8\x00M\x00\x0c\x86"  # LONG1 10**12, BININT2 3072, TUPLE2
    blob = (b"\x80\x02}q\x00(C\x04dataq\x01cnumpy.core.multiarray\n_reconstruct\ncnumpy\n"
            b"ndarray\nK\x00\x85C\x01b\x87R(K\x01" + shape + b"cnumpy\ndtype\nX\x02\x00\x00\x00"
            b"u1K\x00K\x01\x87R(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK"
            b"\x00tb\x89C\x06abcdeftbC\x06labels]u.")
    (tmp_path / "test_batch").write_bytes(blob)
    with pytest.raises(ValueError, match=r"test_batch: .*6 bytes, shape \(1000000000000, 3072\)"):
        load_cifar10(tmp_path, split="test")


def test_cifar_batch_nested_too_deeply_is_refused(tmp_path):
    depth = 100_000
    blob = b"\x80\x02}(C\x04data" + b"]" * depth + b"a" * (depth - 1) + b"C\x06labels]u."
    (tmp_path / "test_batch").write_bytes(blob)
    # Refused by the layout check, without walking the nesting.
    with pytest.raises(ValueError, match="test_batch: 'data' must be a uint8 array"):
        load_cifar10(tmp_path, split="test")
