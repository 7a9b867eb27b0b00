"""Checkpoints of every model and every schedule: a BatchNorm network's checkpoint (its int64
``num_batches_tracked`` counters) evaluates and resumes, with early stopping too; every damaged
optimizer, scheduler or settings field is refused in one line before the first epoch; resuming
a one-cycle run on data of another size stops before training; output paths that collide are
refused. (test_harden_files.py holds the older damaged-checkpoint cases.)"""
import pickle

import numpy as np
import pytest

import minicnn
import minicnn.optim as optim
from minicnn.__main__ import main
from minicnn.models import digits_net
from minicnn.optim import lr_scheduler

from test_harden_cli import (blow_up_in_epoch, cli, one_line_error,  # noqa: F401 (a fixture)
                             restore_threads)

SMALL = ["--limit", "64", "--test-limit", "32", "--threads", "1", "--quiet"]


def fake_cifar(directory, n):
    directory.mkdir()
    rng = np.random.default_rng(0)
    for name, k in [(f"data_batch_{i}", n) for i in range(1, 6)] + [("test_batch", 6)]:
        batch = {b"data": rng.integers(0, 256, (k, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, k)]}
        (directory / name).write_bytes(pickle.dumps(batch, protocol=2))
    return directory


# ---------------------------------------------------------------------------------------------
# A BatchNorm network's checkpoint
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["--early-stopping", 1]])
def test_a_batchnorm_checkpoint_evaluates_and_resumes(capsys, tmp_path, extra):
    # Bug: the check wanted every model entry to be a float array, and BatchNorm's
    # num_batches_tracked is int64: `evaluate` and `--resume` refused every cifar_bn_net run.
    data = fake_cifar(tmp_path / "cifar", 4)
    path = tmp_path / "bn.ckpt"
    run = ["--dataset", "cifar10", "--data-dir", data, "--model", "cifar_bn_net",
           "--batch-size", 8, "--threads", 1, "--quiet", *extra]
    status, _, err = cli(capsys, "train", *run, "--epochs", 1, "--checkpoint", path)
    assert status == 0, err
    saved = minicnn.load(path)
    assert saved["model"]["1.num_batches_tracked"].dtype == np.int64
    status, out, err = cli(capsys, "evaluate", "--checkpoint", path)
    assert status == 0 and "cifar_bn_net (epoch 1)" in out, err
    status, out, err = cli(capsys, "train", "--resume", "--checkpoint", path, "--epochs", 2,
                           "--quiet")
    assert status == 0 and "epoch 2/2" in out, err
    # resumed with the saved counter: 3 batches (of 8 out of 20 or 18 images) per epoch
    assert int(minicnn.load(path)["model"]["1.num_batches_tracked"]) == 2 * 3


def test_model_entries_must_match_the_models_own_state_dict(capsys, tmp_path):
    data = fake_cifar(tmp_path / "cifar", 4)
    path = tmp_path / "bn.ckpt"
    status, _, err = cli(capsys, "train", "--dataset", "cifar10", "--data-dir", data, "--model",
                         "cifar_bn_net", "--batch-size", 8, "--epochs", 1, "--quiet",
                         "--threads", 1, "--checkpoint", path)
    assert status == 0, err
    for edit, words in [
        (lambda m: m.update({"1.num_batches_tracked": np.array(2.0)}),
         ["model['1.num_batches_tracked']", "int64 array of shape ()", "float64"]),
        (lambda m: m.update({"1.running_var": m["1.running_var"].astype(np.float64)}),
         ["model['1.running_var']", "float32 array of shape (64,)", "float64"]),
        (lambda m: m.pop("1.running_mean"), ["lacks '1.running_mean'"]),
        (lambda m: m.update(extra=np.zeros(2)), ["unknown entries 'extra'"]),
        (lambda m: m["0.weight"].__setitem__((0, 0, 0, 0), np.nan), ["NaN or Inf"]),
    ]:
        ckpt = minicnn.load(path)
        edit(ckpt["model"])
        bad = tmp_path / "bad.ckpt"
        minicnn.save(ckpt, bad)
        for command in (["evaluate"], ["train", "--resume", "--epochs", 2]):
            one_line_error(*cli(capsys, *command, "--checkpoint", bad), str(bad), *words)


# ---------------------------------------------------------------------------------------------
# Damaged optimizer, scheduler and settings fields: one line, before the first epoch
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One-epoch checkpoints of 3-epoch runs: cosine + SGD, onecycle + Adam + early stopping,
    step + RMSprop with momentum and label smoothing."""
    directory = tmp_path_factory.mktemp("runs")
    paths = {}
    for name, options in {"cosine": ["--scheduler", "cosine"],
                          "onecycle": ["--scheduler", "onecycle", "--optimizer", "adam",
                                       "--early-stopping", 2],
                          "rmsprop": ["--scheduler", "step", "--optimizer", "rmsprop",
                                      "--momentum", 0.5, "--label-smoothing", 0.1]}.items():
        paths[name] = directory / f"{name}.ckpt"
        assert main([str(a) for a in ["train", *SMALL, "--epochs", 3, *options,
                                      "--checkpoint", paths[name]]]) == 0
        assert minicnn.load(paths[name])["epoch"] == 3  # the tests rewind it to epoch 1
    return paths


def _set(field, key, value):
    def edit(c):
        c[field][key] = value
    return edit


def _group(key, value=None, drop=False):
    def edit(c):
        group = c["optimizer"]["param_groups"][0]
        group.pop(key) if drop else group.update({key: value})
    return edit


DAMAGE = {
    # Bug: each of these ended in a traceback, some after a whole epoch of training.
    "cosine T_max 0": ("cosine", _set("scheduler", "T_max", 0), ["scheduler['T_max']"]),
    "cosine eta_min a string": ("cosine", _set("scheduler", "eta_min", "x"),
                                ["scheduler['eta_min']"]),
    "scheduler names an optimizer": ("cosine", _set("scheduler", "optimizer", 1),
                                     ["'scheduler'", "unknown", "optimizer"]),
    "onecycle total_steps 2": ("onecycle", _set("scheduler", "total_steps", 2),
                               ["planned for 2 steps"]),
    "scheduler steps taken": ("cosine", _set("scheduler", "last_epoch", 2),
                              ["has taken 2 steps", "(1) take 1"]),
    "val_split a string": ("cosine", _set("args", "val_split", "x"), ["args['val_split']"]),
    "early_stopping a string": ("onecycle", _set("args", "early_stopping", "x"),
                                ["args['early_stopping']"]),
    "optimizer 1": ("cosine", _set("args", "optimizer", 1), ["args['optimizer']", "is 1"]),
    "scheduler bogus": ("cosine", _set("args", "scheduler", "bogus"),
                        ["args['scheduler']", "bogus"]),
    "args without momentum": ("cosine", lambda c: c["args"].pop("momentum"),
                              ["'args' lack ['momentum']"]),
    "group without momentum": ("cosine", _group("momentum", drop=True),
                               ["optimizer['param_groups'][0] lacks 'momentum'"]),
    "group with nesterov 1": ("cosine", _group("nesterov", 1),
                              ["optimizer['param_groups'][0]['nesterov']"]),
    "group with an unknown option": ("cosine", _group("warp", 9.0), ["'warp'"]),
    "group betas out of range": ("onecycle", _group("betas", (0.9, 1.5)),
                                 ["['betas']"]),
    "group params": ("cosine", _group("params", [0, 1]), ["['params']"]),
    "adam state lacks exp_avg": ("onecycle", lambda c: c["optimizer"]["state"][0].pop(
        "exp_avg"), ["optimizer['state'][0]", "exp_avg"]),
    "rmsprop state lacks square_avg": ("rmsprop", lambda c: c["optimizer"]["state"][0].pop(
        "square_avg"), ["optimizer['state'][0]", "square_avg"]),
    "rmsprop state with adam's exp_avg": ("rmsprop", lambda c: c["optimizer"]["state"][0]
                                          .update(exp_avg=np.zeros(3, np.float32)),
                                          ["optimizer['state'][0]", "exp_avg"]),
    "label_smoothing 2": ("rmsprop", _set("args", "label_smoothing", 2),
                          ["args['label_smoothing']", "in [0, 1]"]),
    "momentum buffer of the wrong shape": ("cosine", lambda c: c["optimizer"]["state"][0]
                                           .update(momentum_buffer=np.zeros(3, np.float32)),
                                           ["['momentum_buffer']", "of shape (32, 1, 3, 3)"]),
    "state for no parameter": ("cosine", lambda c: c["optimizer"]["state"].update(
        {99: {"momentum_buffer": np.zeros(3, np.float32)}}), ["[99]", "no parameter"]),
    "best_loss nan": ("onecycle", _set("early_stopping", "best_loss", float("nan")),
                      ["early_stopping['best_loss']"]),
    "best_model of another net": ("onecycle", lambda c: c.update(best_model={"w": np.zeros(2)}),
                                  ["'best_model'", "lacks"]),
}


@pytest.mark.parametrize("what", sorted(DAMAGE))
def test_damaged_fields_are_refused_in_one_line_before_training(capsys, tmp_path, runs, what):
    run, edit, words = DAMAGE[what]
    ckpt = minicnn.load(runs[run])
    ckpt["epoch"] = 1  # as if the run had stopped after its first epoch
    ckpt["history"] = ckpt["history"][:1]
    if "scheduler" in ckpt:
        per_epoch = ckpt["scheduler"]["last_epoch"] // 3
        ckpt["scheduler"]["last_epoch"] = per_epoch
        ckpt["scheduler"]["_step_count"] = per_epoch + 1
    edit(ckpt)
    bad = tmp_path / "bad.ckpt"
    minicnn.save(ckpt, bad)
    one_line_error(*cli(capsys, "train", "--resume", "--checkpoint", bad, "--quiet"),
                   str(bad), *words)


def test_the_unedited_first_epoch_resumes(capsys, tmp_path, runs):
    # The control for the test above: its rewinding alone is accepted (and so is a checkpoint
    # of an older minicnn, whose groups lack a switch added since).
    for run in runs.values():
        ckpt = minicnn.load(run)
        ckpt["optimizer"]["param_groups"][0].pop("maximize")
        ckpt["epoch"], ckpt["history"] = 1, ckpt["history"][:1]
        per_epoch = ckpt["scheduler"]["last_epoch"] // 3
        ckpt["scheduler"].update(last_epoch=per_epoch, _step_count=per_epoch + 1)
        path = tmp_path / "ok.ckpt"
        minicnn.save(ckpt, path)
        status, out, err = cli(capsys, "train", "--resume", "--checkpoint", path, "--quiet")
        assert status == 0 and "epoch 2/3" in out, err


def test_a_one_cycle_run_resumed_with_a_larger_data_dir_stops_before_training(
        capsys, tmp_path, monkeypatch):
    # Bug: "Tried to step 151 times" part-way through the resumed run. A step or cosine
    # schedule counts epochs, so there another --data-dir is fine.
    small, large = fake_cifar(tmp_path / "small", 4), fake_cifar(tmp_path / "large", 8)
    for scheduler in ("onecycle", "cosine"):
        path = tmp_path / f"{scheduler}.ckpt"
        blow_up_in_epoch(monkeypatch, 2, "interrupt")
        status, _, err = cli(capsys, "train", "--dataset", "cifar10", "--data-dir", small,
                             "--batch-size", 8, "--epochs", 2, "--threads", 1, "--quiet",
                             "--scheduler", scheduler, "--checkpoint", path)
        assert status == 130 and minicnn.load(path)["epoch"] == 1, err
        monkeypatch.undo()
        status, out, err = cli(capsys, "train", "--resume", "--checkpoint", path,
                               "--data-dir", large, "--quiet")
        if scheduler == "onecycle":
            one_line_error(status, out, err, "planned for 6 steps", "make 10 (5 batches each)")
        else:
            assert status == 0 and "epoch 2/2" in out, err


def test_a_one_cycle_run_resumed_on_more_data_stops_before_training(capsys, tmp_path):
    # Bug: the schedule planned for the old number of batches ran out part-way through
    # ("Tried to step 151 times").
    path = tmp_path / "run.ckpt"
    status, _, err = cli(capsys, "train", *SMALL, "--epochs", 1, "--scheduler", "onecycle",
                         "--checkpoint", path)
    assert status == 0, err
    ckpt = minicnn.load(path)
    ckpt["args"]["limit"] = 128  # what --data-dir with a larger set does to the batch count
    ckpt["args"]["epochs"] = 2
    minicnn.save(ckpt, path)
    one_line_error(*cli(capsys, "train", "--resume", "--checkpoint", path),
                   "planned for 2 steps", "make 8 (4 batches each)", "the data")


# ---------------------------------------------------------------------------------------------
# A scheduler's load_state_dict takes only its own attributes
# ---------------------------------------------------------------------------------------------

def test_scheduler_load_state_dict_takes_only_its_own_attributes():
    opt = optim.SGD(digits_net().parameters(), lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    good = sched.state_dict()
    with pytest.raises(ValueError, match="'optimizer'.*CosineAnnealingLR does not have"):
        sched.load_state_dict(dict(good, optimizer=1))
    with pytest.raises(TypeError, match=r"state_dict\['eta_min'\] should be a number"):
        sched.load_state_dict(dict(good, eta_min="x"))
    with pytest.raises(TypeError, match=r"state_dict\['_last_lr'\] should be a list"):
        sched.load_state_dict(dict(good, _last_lr=0.1))
    assert sched.optimizer is opt and sched.eta_min == 0.0  # nothing changed
    sched.load_state_dict(dict(good, last_epoch=3))
    assert sched.last_epoch == 3
    plateau = lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="ReduceLROnPlateau does not have"):
        plateau.load_state_dict(dict(plateau.state_dict(), bogus=1))


# ---------------------------------------------------------------------------------------------
# Output paths
# ---------------------------------------------------------------------------------------------

def test_colliding_output_paths_are_refused_before_training(capsys, tmp_path):
    # Bug: --checkpoint X --metrics-json X exited 0 with the checkpoint replaced by the JSON.
    path = tmp_path / "out"
    one_line_error(*cli(capsys, "train", *SMALL, "--checkpoint", path, "--metrics-json", path),
                   "--checkpoint and --metrics-json both name")
    (tmp_path / "sub").mkdir()
    one_line_error(*cli(capsys, "train", *SMALL, "--plot", path,
                        "--metrics-json", tmp_path / "sub" / ".." / "out"),
                   "--metrics-json and --plot both name")
    path.write_text("{}")
    (tmp_path / "link").symlink_to(path)
    one_line_error(*cli(capsys, "train", *SMALL, "--metrics-json", path, "--plot",
                        tmp_path / "link"), "both name")
    assert path.read_text() == "{}"
