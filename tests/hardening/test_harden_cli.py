"""The command line under stress: bad output paths, an existing checkpoint, empty data, a
diverging run, Ctrl-C and absurd thread counts each end in one clear line (never a traceback)
before any work is lost, and the last good checkpoint is never replaced by a bad one."""
import warnings

import numpy as np
import pytest

import minicnn
from minicnn.utils.data import TensorDataset
from minicnn.__main__ import main
from minicnn.cli import train
from minicnn.kernels import runtime

SMALL = ["--limit", "96", "--test-limit", "48", "--threads", "1", "--quiet"]


@pytest.fixture(autouse=True)
def restore_threads():
    previous = minicnn.get_num_threads()
    yield
    minicnn.set_num_threads(previous)


def cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(status, out, err, *words):
    assert status == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "epoch" not in out, "the check must come before the first epoch"
    for word in words:
        assert word in err, (word, err)


@pytest.mark.parametrize("flag", ["--checkpoint", "--metrics-json", "--plot"])
def test_output_paths_are_checked_before_the_first_epoch(capsys, tmp_path, flag):
    name = {"--checkpoint": "c.npz", "--metrics-json": "m.json", "--plot": "p.png"}[flag]
    missing = tmp_path / "no-such-dir" / name
    one_line_error(*cli(capsys, "train", *SMALL, flag, missing), flag, "does not exist")
    one_line_error(*cli(capsys, "train", *SMALL, flag, tmp_path), flag, "is a directory")
    one_line_error(*cli(capsys, "train", *SMALL, flag, ""), flag,
                   "must name a file, got an empty string")


def test_an_existing_checkpoint_needs_resume_or_overwrite(capsys, tmp_path):
    path = tmp_path / "run.npz"
    assert cli(capsys, "train", *SMALL, "--epochs", 1, "--checkpoint", path)[0] == 0
    before = path.read_bytes()
    one_line_error(*cli(capsys, "train", *SMALL, "--epochs", 1, "--seed", 5,
                        "--checkpoint", path), "already exists", "--resume", "--overwrite")
    assert path.read_bytes() == before
    one_line_error(*cli(capsys, "train", "--resume", "--overwrite", "--checkpoint", path),
                   "give one of them")
    status, _, err = cli(capsys, "train", *SMALL, "--epochs", 1, "--seed", 5, "--overwrite",
                         "--checkpoint", path)
    assert status == 0, err
    assert minicnn.load(path)["args"]["seed"] == 5


@pytest.mark.parametrize("empty", ["train", "test"])
def test_an_empty_training_or_test_set_is_a_clear_error(capsys, monkeypatch, empty):
    real = train.load_dataset

    def with_an_empty_split(*args, **kwargs):
        parts = dict(zip(("train", "test"), real(*args, **kwargs)))
        x, y = parts[empty].arrays
        parts[empty] = TensorDataset(x[:0], y[:0])
        return parts["train"], parts["test"]

    monkeypatch.setattr(train, "load_dataset", with_an_empty_split)
    one_line_error(*cli(capsys, "train", *SMALL, "--epochs", 1),
                   f"the {empty} set is empty")


def blow_up_in_epoch(monkeypatch, bad_epoch, how):
    """Make train_one_epoch misbehave in ``bad_epoch``: huge weights, or a Ctrl-C."""
    real = train.train_one_epoch

    def epoch(model, loader, optimizer, progress=None, epoch=None, **options):
        stats = real(model, loader, optimizer, progress, epoch, **options)
        if epoch == bad_epoch:
            if how == "interrupt":
                raise KeyboardInterrupt
            for p in model.parameters():
                p.data[...] = p.data * 1e8   # finite, but diverged
        return stats

    monkeypatch.setattr(train, "train_one_epoch", epoch)


def test_a_diverged_epoch_does_not_replace_the_last_good_checkpoint(capsys, tmp_path,
                                                                    monkeypatch):
    path = tmp_path / "run.npz"
    blow_up_in_epoch(monkeypatch, 2, "diverge")
    status, out, err = cli(capsys, "train", *SMALL, "--epochs", 3, "--checkpoint", path)
    assert status == 1 and "Traceback" not in err, err
    assert "epoch 2 diverged" in err and f"the checkpoint {path} still holds epoch 1" in err
    assert minicnn.load(path)["epoch"] == 1
    assert np.isfinite(minicnn.load(path)["model"]["0.weight"]).all()


def test_ctrl_c_prints_one_line_with_the_resume_command_and_exits_130(capsys, tmp_path,
                                                                      monkeypatch):
    path = tmp_path / "run.npz"
    blow_up_in_epoch(monkeypatch, 2, "interrupt")
    status, _, err = cli(capsys, "train", *SMALL, "--epochs", 3, "--checkpoint", path)
    assert status == 130
    assert err.strip() == (f"minicnn train: interrupted in epoch 2; last complete checkpoint: "
                           f"epoch 1; resume with: python -m minicnn train --checkpoint {path} "
                           f"--resume --epochs 3")
    assert minicnn.load(path)["epoch"] == 1
    monkeypatch.undo()
    status, _, err = cli(capsys, "train", "--resume", "--epochs", 3, "--checkpoint", path,
                         "--quiet")
    assert status == 0, err
    assert minicnn.load(path)["epoch"] == 3


def test_ctrl_c_without_a_checkpoint_says_so(capsys, monkeypatch):
    blow_up_in_epoch(monkeypatch, 1, "interrupt")
    status, _, err = cli(capsys, "train", *SMALL, "--epochs", 2)
    assert status == 130 and "Traceback" not in err
    assert err.strip() == ("minicnn train: interrupted in epoch 1; no checkpoint "
                           "(no --checkpoint given)")


def test_threads_above_the_cap_are_refused_by_the_cli_and_clamped_by_the_library(capsys):
    cap = runtime.max_num_threads()
    assert cap == runtime.MAX_THREADS_PER_CORE * runtime._usable_cores()
    one_line_error(*cli(capsys, "train", *SMALL, "--threads", cap + 1), f"--threads {cap + 1}",
                   f"at most {cap}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        minicnn.set_num_threads(10 ** 6)
    if minicnn.kernels.openmp_enabled():
        assert minicnn.get_num_threads() == cap
    assert any(f"using {cap}" in str(w.message) and w.category is RuntimeWarning
               for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minicnn.set_num_threads(cap)  # the cap itself is fine, silently
