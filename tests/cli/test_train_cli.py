"""Tests for `python -m minicnn train` / `evaluate`: accuracy, resume, threads, outputs, errors."""
import gzip
import io
import json
import os
import pickle
import re
import stat
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minicnn
from minicnn.__main__ import main
from minicnn.cli.options import DATASETS
from minicnn.cli.train import load_dataset, CLIError

# Small runs: 256 training digits, 120 test digits, one kernel thread.
SMALL = ["--limit", "256", "--test-limit", "120", "--threads", "1", "--quiet"]


@pytest.fixture(autouse=True)
def restore_threads():
    previous = minicnn.get_num_threads()
    yield
    minicnn.set_num_threads(previous)


def run(capsys, *argv):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def weights(path):
    return minicnn.load(path)["model"]


def test_default_digits_run_reaches_97_percent(capsys, tmp_path):
    metrics_path = tmp_path / "m.json"
    status, out, err = run(capsys, "train", "--threads", "1", "--quiet",
                           "--metrics-json", metrics_path)
    assert status == 0
    epochs = DATASETS["digits"].epochs
    lines = out.strip().splitlines()
    assert len(lines) == epochs + 1  # --quiet: a line per epoch and the final accuracy
    for i, line in enumerate(lines[:-1], start=1):
        assert line.startswith(f"epoch {i:>2}/{epochs}")
        for field in ("train loss", "train acc", "test loss", "test acc", " s ", "img/s"):
            assert field in line
    assert err == ""  # no progress bar
    metrics = json.loads(metrics_path.read_text())
    assert metrics["test_accuracy"] >= 0.97
    assert metrics["dataset"] == "digits" and metrics["model"] == "digits_net"
    assert metrics["epochs"] == epochs and len(metrics["history"]) == epochs
    assert metrics["threads"] == 1 and metrics["seed"] == 0
    assert metrics["minicnn_version"] == minicnn.__version__
    assert metrics["train_seconds"] > 0 and metrics["images_per_second"] > 0
    assert metrics["test_loss"] == metrics["history"][-1]["test_loss"]
    assert f"{100 * metrics['test_accuracy']:.2f}%" in lines[-2]
    assert lines[-1].startswith(f"test accuracy {100 * metrics['test_accuracy']:.2f}% after "
                                f"{epochs} epochs")
    peaks = [h["peak_rss_mb"] for h in metrics["history"]]
    assert all(p > 0 for p in peaks) and peaks == sorted(peaks)  # a running maximum


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_and_header_without_quiet(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    status, out, _ = run(capsys, "train", "--epochs", "1", "--limit", "64", "--test-limit",
                         "32", "--threads", "1")
    err = sys.stderr.getvalue()
    assert status == 0
    assert "training digits_net on digits (64 train, 32 test images)" in out
    assert "epoch 1/1" in err and "img/s" in err and "loss" in err  # tqdm writes to stderr
    assert "test accuracy" in out.splitlines()[-1]


def test_no_progress_bar_when_stderr_is_not_a_terminal(capsys):
    # A log file (pytest's capture is not a terminal): one line per epoch, no bar redraws.
    status, out, err = run(capsys, "train", "--epochs", "3", "--limit", "64", "--test-limit",
                           "32", "--threads", "1")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("training digits_net") and lines[-1].startswith("test accuracy")
    assert [line.split()[1] for line in lines[1:-1]] == ["1/3", "2/3", "3/3"]


def history_without_times(path):
    return [{k: v for k, v in h.items() if k not in ("seconds", "images_per_second", "peak_rss_mb")}
            for h in minicnn.load(path)["history"]]


def test_resume_is_bit_identical_to_a_straight_run(capsys, tmp_path):
    straight, split = tmp_path / "straight.npz", tmp_path / "split.npz"
    assert run(capsys, "train", *SMALL, "--epochs", 4, "--checkpoint", straight)[0] == 0
    assert run(capsys, "train", *SMALL, "--epochs", 2, "--checkpoint", split)[0] == 0
    assert minicnn.load(split)["epoch"] == 2
    status, out, _ = run(capsys, "train", *SMALL, "--epochs", 4, "--checkpoint", split,
                         "--resume")
    assert status == 0
    assert [line.split()[1] for line in out.splitlines()] == ["3/4", "4/4", "accuracy"]
    a, b = weights(straight), weights(split)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert history_without_times(straight) == history_without_times(split)
    assert minicnn.load(straight)["rng"] == minicnn.load(split)["rng"]
    # Optimizer state (momentum buffers) continues too.
    sa, sb = minicnn.load(straight)["optimizer"], minicnn.load(split)["optimizer"]
    for i in sa["state"]:
        np.testing.assert_array_equal(sa["state"][i]["momentum_buffer"],
                                      sb["state"][i]["momentum_buffer"])


@pytest.mark.parametrize("scheduler", ["step", "cosine", "onecycle"])
def test_resume_is_bit_identical_with_augment_schedule_and_early_stopping(capsys, tmp_path,
                                                                         monkeypatch, scheduler):
    import minicnn.cli.train as train_module
    options = [*SMALL, "--augment", "--scheduler", scheduler, "--early-stopping", "5",
               "--val-split", "0.25", "--epochs", "4"]
    straight, split = tmp_path / "straight.npz", tmp_path / "split.npz"
    assert run(capsys, "train", *options, "--checkpoint", straight)[0] == 0
    # The same run, interrupted (Ctrl-C) during its third epoch, then resumed.
    real, calls = train_module.train_one_epoch, []

    def interrupted_in_epoch_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_one_epoch", interrupted_in_epoch_3)
    status, out, err = run(capsys, "train", *options, "--checkpoint", split)
    assert status == 130 and minicnn.load(split)["epoch"] == 2, out + err
    monkeypatch.setattr(train_module, "train_one_epoch", real)
    status, out, err = run(capsys, "train", *SMALL, "--checkpoint", split, "--resume")
    assert status == 0, out + err
    a, b = minicnn.load(straight), minicnn.load(split)
    for key in a["model"]:
        np.testing.assert_array_equal(a["model"][key], b["model"][key])
        np.testing.assert_array_equal(a["best_model"][key], b["best_model"][key])
    assert a["scheduler"] == b["scheduler"] and a["early_stopping"] == b["early_stopping"]
    assert history_without_times(straight) == history_without_times(split)
    assert [g["lr"] for g in a["optimizer"]["param_groups"]] != [0.05]  # the schedule ran
    assert "val_loss" in a["history"][-1]
    # A scheduled run was planned for its --epochs: it cannot be extended.
    status, _, err = run(capsys, "train", *SMALL, "--checkpoint", split, "--resume",
                         "--epochs", 6)
    assert status == 2 and "planned for 4 epochs" in err


def test_early_stopping_stops_at_patience_and_keeps_the_best_epoch(capsys, tmp_path,
                                                                   monkeypatch):
    import minicnn.cli.train as train_module
    path = tmp_path / "run.npz"
    # Validation losses that improve twice, then not: with patience 2 the run stops after
    # epoch 4 and its result is epoch 2's weights.
    losses = iter([0.9, 0.5, 0.7, 0.6, 0.4, 0.3])
    real_update = train_module.EarlyStopping.update
    monkeypatch.setattr(train_module.EarlyStopping, "update",
                        lambda self, epoch, loss, model: real_update(self, epoch,
                                                                     next(losses), model))
    status, out, _ = run(capsys, "train", "--limit", "256", "--test-limit", "120", "--threads",
                         1, "--early-stopping", 2, "--epochs", 6, "--checkpoint", path)
    assert status == 0, out
    saved = minicnn.load(path)
    assert saved["epoch"] == 4 and saved["early_stopping"]["best_epoch"] == 2
    assert "early stopping" in out and "the weights of epoch 2" in out
    best = out.splitlines()[-1].split()[2]               # "test accuracy 97.50% after ..."
    evaluated = run(capsys, "evaluate", "--checkpoint", path)[1]
    assert f"test accuracy {best}" in evaluated          # evaluate uses the best weights


def test_same_seed_same_curve_whatever_the_thread_count(capsys, tmp_path):
    paths = []
    for threads in (1, 2):
        path = tmp_path / f"t{threads}.npz"
        argv = ["train", "--limit", "96", "--test-limit", "40", "--epochs", "2", "--quiet",
                "--threads", threads, "--checkpoint", path]
        assert run(capsys, *argv)[0] == 0
        paths.append(path)
    assert history_without_times(paths[0]) == history_without_times(paths[1])
    a, b = weights(paths[0]), weights(paths[1])
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_different_seeds_differ(capsys, tmp_path):
    for seed in (0, 1):
        run(capsys, "train", *SMALL, "--epochs", 1, "--seed", seed,
            "--checkpoint", tmp_path / f"s{seed}.npz")
    assert history_without_times(tmp_path / "s0.npz") != history_without_times(tmp_path / "s1.npz")


def test_evaluate_matches_the_final_epoch(capsys, tmp_path):
    ckpt, metrics = tmp_path / "c.npz", tmp_path / "m.json"
    run(capsys, "train", *SMALL, "--epochs", 2, "--checkpoint", ckpt, "--metrics-json", metrics)
    status, out, _ = run(capsys, "evaluate", "--checkpoint", ckpt, "--threads", "1")
    assert status == 0
    m = json.loads(metrics.read_text())
    assert f"test loss {m['test_loss']:.4f}" in out
    assert f"test accuracy {100 * m['test_accuracy']:.2f}%" in out
    assert "digits_net (epoch 2) on digits" in out and "(120 images)" in out  # its --test-limit
    # Another test subset of the same dataset.
    status, out, _ = run(capsys, "evaluate", "--checkpoint", ckpt, "--test-limit", "10")
    assert status == 0 and "(10 images)" in out


def test_optimizers_and_options(capsys, tmp_path):
    for optimizer in ("adam", "adamw"):
        m = tmp_path / f"{optimizer}.json"
        status, _, _ = run(capsys, "train", *SMALL, "--epochs", 1, "--optimizer", optimizer,
                           "--weight-decay", "0.01", "--metrics-json", m)
        assert status == 0
        options = json.loads(m.read_text())["options"]
        assert options["optimizer"] == optimizer and options["lr"] == 1e-3
        assert options["weight_decay"] == 0.01
    status, _, _ = run(capsys, "train", *SMALL, "--epochs", 1, "--batch-size", 50, "--lr", 0.01,
                       "--momentum", 0.5, "--metrics-json", tmp_path / "sgd.json")
    options = json.loads((tmp_path / "sgd.json").read_text())["options"]
    assert (options["batch_size"], options["lr"], options["momentum"]) == (50, 0.01, 0.5)


def test_rmsprop_with_label_smoothing_resumes_bit_identically(capsys, tmp_path):
    options = ["--optimizer", "rmsprop", "--momentum", 0.5, "--label-smoothing", 0.1]
    straight, split = tmp_path / "straight.npz", tmp_path / "split.npz"
    assert run(capsys, "train", *SMALL, *options, "--epochs", 2, "--checkpoint", straight)[0] == 0
    assert run(capsys, "train", *SMALL, *options, "--epochs", 1, "--checkpoint", split)[0] == 0
    status, _, err = run(capsys, "train", *SMALL, "--epochs", 2, "--checkpoint", split,
                         "--resume")
    assert status == 0, err
    a, b = minicnn.load(straight), minicnn.load(split)
    assert a["args"]["optimizer"] == "rmsprop" and a["args"]["lr"] == 1e-3
    assert a["args"]["label_smoothing"] == 0.1
    for key in a["model"]:
        np.testing.assert_array_equal(a["model"][key], b["model"][key])
    for i, state in a["optimizer"]["state"].items():
        assert set(state) == {"step", "square_avg", "momentum_buffer"}
        np.testing.assert_array_equal(state["square_avg"], b["optimizer"]["state"][i]["square_avg"])
    # The smoothing is in the loss: the same run without it has another training loss.
    plain = tmp_path / "plain.npz"
    assert run(capsys, "train", *SMALL, "--optimizer", "rmsprop", "--momentum", 0.5,
               "--epochs", 1, "--checkpoint", plain)[0] == 0
    assert minicnn.load(plain)["history"][0]["train_loss"] != a["history"][0]["train_loss"]
    # A resumed run keeps its smoothing.
    status, _, err = run(capsys, "train", *SMALL, "--epochs", 3, "--checkpoint", split,
                         "--resume", "--label-smoothing", 0.2)
    assert status == 2 and "--label-smoothing 0.2 differs from the checkpoint's 0.1" in err


def test_split_test_on_digits(capsys, tmp_path):
    m = tmp_path / "m.json"
    status, out, _ = run(capsys, "train", "--split-test", 300, "--epochs", 1, "--threads", 1,
                         "--metrics-json", m)
    assert status == 0
    assert "(300 train, 60 test images)" in out


def test_plot_writes_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    png = tmp_path / "curves.png"
    assert run(capsys, "train", *SMALL, "--epochs", 2, "--plot", png)[0] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_shows_the_validation_curve_and_whole_epochs(tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    from minicnn.cli.train import _write_plot
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5, "val_loss": 1.1 / e,
                "val_accuracy": 0.4, "test_loss": 1.2 / e, "test_accuracy": 0.45}
               for e in (1, 2, 3)]
    fig = _write_plot(tmp_path / "p.png", history, "t")
    for ax in fig.axes:
        assert ax.get_legend_handles_labels()[1] == ["train", "val", "test"]
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_plot_without_matplotlib_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    status, out, err = run(capsys, "train", *SMALL, "--plot", tmp_path / "p.png")
    assert status == 2 and "--plot needs matplotlib" in err and out == ""


@pytest.mark.parametrize("argv,message", [
    (["--dataset", "mnist"], "--dataset mnist needs --data-dir"),
    (["--dataset", "cifar10"], "--dataset cifar10 needs --data-dir"),
    (["--resume"], "--resume needs --checkpoint"),
    (["--model", "lenet"], "model lenet takes 1x28x28 images but dataset digits has 1x8x8"),
    (["--split-test", "360"], "--split-test 360 leaves no test images"),
    (["--data-dir", "."], "--data-dir is not used with --dataset digits"),
    (["--optimizer", "adam", "--momentum", "0.5"],
     "--momentum applies to --optimizer sgd and rmsprop only: adam takes none"),
    (["--optimizer", "adamw", "--momentum", "0.9"],
     "--momentum applies to --optimizer sgd and rmsprop only: adamw takes none"),
])
def test_errors(capsys, argv, message):
    status, out, err = run(capsys, "train", "--quiet", *argv)
    assert status == 2
    assert message in err
    assert "Traceback" not in err


def docs_data_md():
    return (Path(__file__).resolve().parents[2] / "docs" / "data.md").read_text()


@pytest.mark.parametrize("dataset, files", [
    ("mnist", ["train-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]"]),
    ("fashion-mnist", ["train-labels-idx1-ubyte[.gz]", "t10k-images-idx3-ubyte[.gz]"]),
    ("cifar10", ["data_batch_1", "data_batch_5", "test_batch", "cifar-10-python.tar.gz"]),
])
def test_missing_data_files_are_reported_in_the_cli_options(capsys, tmp_path, dataset, files):
    status, out, err = run(capsys, "train", "--dataset", dataset, "--data-dir", tmp_path)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"minicnn train: error: --data-dir {tmp_path} lacks ")
    for name in files:
        assert name in err
    # The command line's own options, not the Python API's split='test'.
    assert "--split-test N" in err and "split=" not in err and "never downloads" in err
    # Where to get the files: the same places docs/data.md gives.
    urls = re.findall(r"https?://[^\s)]+[^\s).,]", err)
    assert urls and all(url in docs_data_md() for url in urls), urls


def test_evaluate_on_a_dataset_the_model_does_not_fit_names_no_model_option(capsys, tmp_path):
    fake_mnist(tmp_path)
    ckpt = tmp_path / "c.npz"
    status, _, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", tmp_path,
                         "--epochs", 1, "--threads", 1, "--quiet", "--checkpoint", ckpt)
    assert status == 0, err
    status, out, err = run(capsys, "evaluate", "--checkpoint", ckpt, "--dataset", "digits")
    assert status == 2 and out == ""
    assert err == ("minicnn evaluate: error: model lenet takes 1x28x28 images but dataset digits "
                   "has 1x8x8; the checkpoint's network needs --dataset mnist (the one it was "
                   "trained on) or another dataset of that image size\n")
    assert "--model" not in err  # evaluate has no such option


def test_missing_training_files_suggest_split_test_first(capsys, tmp_path):
    fake_mnist(tmp_path)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / name).unlink()
    status, _, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", tmp_path)
    assert status == 2
    assert f"lacks MNIST's training files: looked in {tmp_path}/MNIST/raw, {tmp_path}/MNIST, " \
           f"{tmp_path} for train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz]. With " \
           f"only the test files, add --split-test N" in err
    assert "https://yann.lecun.com/exdb/mnist/" in err
    # With --split-test the test files are all it needs, and missing ones are named alone.
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    status, _, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", tmp_path,
                         "--split-test", 10)
    assert status == 2 and f"{tmp_path} for t10k-labels-idx1-ubyte[.gz]. minicnn never" in err
    assert "--split-test N" not in err


def test_a_missing_data_dir_is_reported(capsys, tmp_path):
    status, _, err = run(capsys, "train", "--dataset", "cifar10", "--data-dir", tmp_path / "no")
    assert status == 2 and "does not exist" in err


def test_resume_errors(capsys, tmp_path):
    ckpt = tmp_path / "c.npz"
    status, _, err = run(capsys, "train", "--resume", "--checkpoint", ckpt)
    assert status == 2 and "does not exist" in err
    run(capsys, "train", *SMALL, "--epochs", 1, "--checkpoint", ckpt)
    status, _, err = run(capsys, "train", *SMALL, "--epochs", 2, "--checkpoint", ckpt,
                         "--resume", "--lr", "0.5")
    assert status == 2 and "--lr 0.5 differs from the checkpoint's 0.05" in err
    status, out, _ = run(capsys, "train", *SMALL, "--epochs", 1, "--checkpoint", ckpt, "--resume")
    assert status == 0 and "nothing to train" in out
    other = tmp_path / "other.npz"
    minicnn.save({"weights": np.zeros(3)}, other)
    for command in (["train", "--resume"], ["evaluate"]):
        status, _, err = run(capsys, *command, "--checkpoint", other)
        assert status == 2 and "not a checkpoint written by" in err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    status, _, err = run(capsys, "evaluate", "--checkpoint", tmp_path / "junk.npz")
    assert status == 2 and "junk.npz" in err


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "1.5"], "--epochs must be a positive whole number, got 1.5"),
    (["--epochs", "0"], "--epochs must be a positive whole number, got 0"),
    (["--batch-size", "-3"], "--batch-size must be a positive whole number, got -3"),
    (["--threads", "two"], "--threads must be a positive whole number, got two"),
    (["--seed", "-1"], "--seed must be a whole number >= 0, got -1"),
    (["--lr", "nan"], "--lr must be a finite number >= 0, got nan"),
    (["--momentum", "abc"], "--momentum must be a finite number >= 0, got abc"),
    (["--val-split", "1"], "--val-split must be a fraction between 0 and 1, got 1"),
])
def test_bad_numbers_are_one_line_naming_the_option(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(["train", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == (f"python -m minicnn train: error: {message} "
                   f"(see python -m minicnn train --help)\n")


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and umask")
def test_checkpoint_and_metrics_files_respect_the_umask(capsys, tmp_path):
    ckpt, metrics = tmp_path / "c.npz", tmp_path / "m.json"
    previous = os.umask(0o027)
    try:
        # New files: 0o666 less the umask, as open() (not the 0o600 of a temporary file).
        assert run(capsys, "train", *SMALL, "--epochs", 1, "--checkpoint", ckpt,
                   "--metrics-json", metrics)[0] == 0
        assert [stat.S_IMODE(os.stat(p).st_mode) for p in (ckpt, metrics)] == [0o640, 0o640]
        # Replaced files keep the mode they were given, even if the umask would allow more.
        os.chmod(ckpt, 0o600)
        os.chmod(metrics, 0o644)
        os.umask(0o002)
        assert run(capsys, "train", *SMALL, "--epochs", 2, "--checkpoint", ckpt, "--resume",
                   "--metrics-json", metrics)[0] == 0
        assert [stat.S_IMODE(os.stat(p).st_mode) for p in (ckpt, metrics)] == [0o600, 0o644]
    finally:
        os.umask(previous)
    assert minicnn.load(ckpt)["epoch"] == 2
    assert sorted(os.listdir(tmp_path)) == ["c.npz", "m.json"]  # no temporaries left

def test_bad_numbers_are_rejected_by_argparse(capsys):
    for argv in (["--epochs", "0"], ["--batch-size", "-3"], ["--lr", "nan"], ["--threads", "0"]):
        with pytest.raises(SystemExit) as info:
            main(["train", *argv])
        assert info.value.code == 2
        assert "must be" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Other datasets, on small files crafted in the real formats
# ---------------------------------------------------------------------------------------------

def write_idx(path, array):
    array = np.asarray(array, np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def fake_mnist(directory, n_train=64, n_test=32):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        # Learnable: each class is a bright square in its own place.
        images = rng.integers(0, 40, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 * c:2 * c + 8, 2 * c:2 * c + 8] = 255
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "kmnist"])
def test_mnist_like_datasets(capsys, tmp_path, dataset):
    fake_mnist(tmp_path)
    ckpt, m = tmp_path / "c.npz", tmp_path / "m.json"
    status, out, err = run(capsys, "train", "--dataset", dataset, "--data-dir", tmp_path,
                           "--epochs", 2, "--threads", 1, "--quiet", "--checkpoint", ckpt,
                           "--metrics-json", m)
    assert status == 0, err
    metrics = json.loads(m.read_text())
    assert metrics["model"] == "lenet" and metrics["dataset"] == dataset
    # evaluate finds the data directory in the checkpoint.
    status, out, _ = run(capsys, "evaluate", "--checkpoint", ckpt)
    assert status == 0 and f"test accuracy {100 * metrics['test_accuracy']:.2f}%" in out
    # Only the test files: evaluate needs no more, and train takes --split-test.
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / name).unlink()
    status, out, err = run(capsys, "evaluate", "--checkpoint", ckpt)
    assert status == 0 and f"test accuracy {100 * metrics['test_accuracy']:.2f}%" in out, err
    status, out, err = run(capsys, "train", "--dataset", dataset, "--data-dir", tmp_path,
                           "--epochs", 1, "--threads", 1, "--split-test", 24)
    assert status == 0, err
    assert "(24 train, 8 test images)" in out


def test_cifar10(capsys, tmp_path):
    write_cifar_batches(tmp_path, np.random.default_rng(0))
    m = tmp_path / "m.json"
    status, _, err = run(capsys, "train", "--dataset", "cifar10", "--data-dir", tmp_path,
                         "--epochs", 1, "--batch-size", 8, "--threads", 1, "--quiet",
                         "--metrics-json", m)
    assert status == 0, err
    metrics = json.loads(m.read_text())
    assert metrics["model"] == "cifar_net" and len(metrics["history"]) == 1
    assert np.isfinite(metrics["test_loss"])


def write_cifar_batches(directory, rng):
    directory.mkdir(parents=True, exist_ok=True)
    for name, n in [(f"data_batch_{i}", 4) for i in range(1, 6)] + [("test_batch", 6)]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)]}
        (directory / name).write_bytes(pickle.dumps(batch, protocol=2))


@pytest.mark.parametrize("dataset, folder, cls", [
    ("mnist", "MNIST/raw", "MNIST"), ("fashion-mnist", "FashionMNIST/raw", "FashionMNIST"),
    ("mnist", "MNIST", "MNIST"), ("cifar10", "cifar-10-batches-py", "CIFAR10")])
def test_torchvision_folder_layouts(capsys, tmp_path, dataset, folder, cls):
    """--data-dir ROOT finds the files where torchvision keeps them below ROOT, as
    minicnn.datasets' classes do, and reads the same images."""
    import minicnn.datasets
    (tmp_path / folder).mkdir(parents=True)
    if dataset == "cifar10":
        write_cifar_batches(tmp_path / folder, np.random.default_rng(0))
    else:
        fake_mnist(tmp_path / folder, n_train=16, n_test=8)
    train, test = load_dataset(dataset, tmp_path)
    images = getattr(minicnn.datasets, cls)(tmp_path, train=False).data
    images = np.asarray(images._data if hasattr(images, "_data") else images)
    assert len(test) == len(images) and len(train) > 0
    # The same pixels, up to load_dataset's normalisation: their order in each image's channel.
    nchw = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(
        np.argsort(test.arrays[0].reshape(*nchw.shape[:2], -1), axis=2, kind="stable"),
        np.argsort(nchw.reshape(*nchw.shape[:2], -1), axis=2, kind="stable"))
    if folder == "MNIST/raw":  # the whole command, once
        status, out, err = run(capsys, "train", "--dataset", dataset, "--data-dir", tmp_path,
                               "--epochs", 1, "--threads", 1)
        assert status == 0 and "(16 train, 8 test images)" in out, err


def test_load_dataset_errors():
    with pytest.raises(CLIError, match="unknown dataset"):
        load_dataset("imagenet")
    train, test = load_dataset("digits", limit=10, test_limit=5)
    assert (len(train), len(test)) == (10, 5)


def test_module_entry_point(tmp_path):
    """The real `python -m minicnn train` process, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "minicnn", "train", "--epochs", "1", "--limit", "64",
         "--test-limit", "32", "--threads", "1", "--quiet"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("epoch 1/1")
