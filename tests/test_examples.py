"""Smoke tests: every script in examples/ runs end to end with tiny settings, as a user runs it."""
import gzip
import importlib.util
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minicnn

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run_example(name, *args, cwd):
    """Run examples/<name> in a fresh interpreter; return its stdout (fails on a non-zero exit)."""
    # One thread for the kernels and BLAS: the settings are tiny, and on a busy machine spinning
    # worker threads would make these smoke runs many times slower.
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)],
                            capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def run_failing_example(name, *args, cwd, missing=()):
    """Run examples/<name> expecting it to refuse; return its stderr, checked to be a single
    ``<name>: error: ...`` line and no traceback. ``missing`` names modules to make unimportable:
    a directory first on PYTHONPATH holds a stand-in for each that raises ImportError."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    if missing:
        blocker = Path(cwd) / "not_installed"
        blocker.mkdir(exist_ok=True)
        for module in missing:
            (blocker / f"{module}.py").write_text(
                f"raise ImportError('simulated: {module} is not installed')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(blocker), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)],
                            capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert result.returncode != 0, f"{name} did not refuse:\n{result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}: error: "), result.stderr
    return lines[0]


def test_every_example_is_smoke_tested():
    tested = {"train_digits.py", "train_mnist.py", "cifar10.py", "gradcheck_exercise.py",
              "filters.py", "feature_maps.py", "report.py", "sequence_conv1d.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_examples_are_short_and_use_only_the_public_api(name):
    text = (EXAMPLES / name).read_text()
    # report.py draws 5 figures, filters.py reads 3 kinds of image; every example also refuses
    # bad options in one line
    assert len(text.splitlines()) <= {"report.py": 150, "filters.py": 130}.get(name, 110)
    assert "import torch" not in text
    assert "minicnn.kernels" not in text and "minicnn.tensor import" not in text
    assert "._" not in text  # no private attributes


def test_train_digits(tmp_path):
    out = run_example("train_digits.py", "--epochs", 2, "--limit", 300, cwd=tmp_path)
    lines = out.strip().splitlines()
    assert lines[-1].startswith("final test accuracy")
    assert sum(line.startswith("epoch ") for line in lines) == 2
    assert float(lines[-1].split()[-1].rstrip("%")) > 20  # better than chance after 2 epochs


def write_idx(path, array):
    array = np.asarray(array, np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def fake_mnist(directory, n_train=48, n_test=24):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))


def test_train_mnist_on_crafted_files(tmp_path):
    fake_mnist(tmp_path)
    out = run_example("train_mnist.py", "--data-dir", tmp_path, "--epochs", 1, cwd=tmp_path)
    assert "48 training and 24 test images" in out and "epoch 1:" in out
    out = run_example("train_mnist.py", "--data-dir", tmp_path, "--fashion", "--epochs", 1,
                      "--split-test", 16, cwd=tmp_path)
    assert "16 training and 8 test images" in out


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"real MNIST not found at {SHARED_MNIST}")
def test_train_mnist_on_real_test_files(tmp_path):
    out = run_example("train_mnist.py", "--data-dir", SHARED_MNIST, "--split-test", 9000,
                      "--limit", 640, "--epochs", 1, cwd=tmp_path)
    assert "640 training and 1000 test images" in out
    accuracy = float(out.split("test accuracy ")[-1].split("%")[0])
    assert accuracy > 50  # 640 real digits are enough for far better than chance (10%)


def test_cifar10_on_crafted_batches(tmp_path):
    rng = np.random.default_rng(0)
    data_dir = tmp_path / "cifar-10-batches-py"
    data_dir.mkdir()
    for name, n in [(f"data_batch_{i}", 4) for i in range(1, 6)] + [("test_batch", 10)]:
        batch = {b"batch_label": b"fake", b"data": rng.integers(0, 256, (n, 3072), np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)]}
        (data_dir / name).write_bytes(pickle.dumps(batch, protocol=2))
    out = run_example("cifar10.py", "--data-dir", tmp_path, "--epochs", 1, "--batch-size", 8,
                      cwd=tmp_path)
    assert "epoch 1: train loss" in out and "test accuracy:" in out


def test_gradcheck_exercise(tmp_path):
    out = run_example("gradcheck_exercise.py", cwd=tmp_path)
    assert "1. gradcheck(Swish): True" in out
    assert "caught, as expected" in out and "numeric" in out
    assert "w.r.t. input, weight and bias: True" in out


@pytest.mark.parametrize("source", [[], ["--digit", "3"]], ids=["photo", "digit"])
def test_filters(tmp_path, source):
    out = run_example("filters.py", "--out-dir", tmp_path, *source, cwd=tmp_path)
    for name in ("sobel x", "sobel y", "gaussian blur", "sharpen"):
        assert name in out
    errors = [float(line.split("= ")[1].split()[0]) for line in out.splitlines() if "max |" in line]
    assert len(errors) == 4 and max(errors) < 1e-10
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "image_filters.png").read_bytes()[:4] == b"\x89PNG"


def write_png(path, height=24, width=40):
    """A small grey PNG written by minicnn itself: a bright square on a left-to-right ramp."""
    from minicnn.utils import save_image

    image = np.tile(np.linspace(0.1, 0.6, width), (height, 1))
    image[6:18, 10:22] = 1.0
    save_image(minicnn.tensor(image[None, None], dtype=np.float32), path, padding=0)
    return image


def test_filters_on_your_own_image(tmp_path):
    write_png(tmp_path / "mine.png")
    out = run_example("filters.py", "--image", tmp_path / "mine.png", "--out-dir", tmp_path,
                      cwd=tmp_path)
    errors = [float(line.split("= ")[1].split()[0]) for line in out.splitlines() if "max |" in line]
    assert len(errors) == 4 and max(errors) < 1e-10
    assert "edge magnitude: max" in out
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "image_filters.png").read_bytes()[:4] == b"\x89PNG"


def test_filters_image_errors_are_one_line(tmp_path):
    err = run_failing_example("filters.py", "--image", tmp_path / "nowhere.png", cwd=tmp_path)
    assert "cannot read --image" in err and "nowhere.png" in err
    (tmp_path / "notes.png").write_text("not a picture")
    err = run_failing_example("filters.py", "--image", tmp_path / "notes.png", cwd=tmp_path)
    assert "cannot read --image" in err and "notes.png" in err
    write_png(tmp_path / "mine.png")
    err = run_failing_example("filters.py", "--image", tmp_path / "mine.png", cwd=tmp_path,
                              missing=["PIL"])
    assert "--image needs Pillow" in err and "pip install pillow" in err


def test_feature_maps(tmp_path):
    out = run_example("feature_maps.py", "--epochs", 1, "--out-dir", tmp_path / "maps",
                      cwd=tmp_path)
    assert "feature maps are all zero after ReLU" in out
    if HAVE_MATPLOTLIB:
        for name in ("conv1_filters.png", "feature_maps.png"):
            assert (tmp_path / "maps" / name).read_bytes()[:4] == b"\x89PNG"


def test_sequence_conv1d(tmp_path):
    plot = ["--plot", tmp_path / "out" / "motif.png"] if HAVE_MATPLOTLIB else []
    out = run_example("sequence_conv1d.py", "--epochs", 2, "--samples", 1000, *plot, cwd=tmp_path)
    lines = out.strip().splitlines()
    assert sum(line.startswith("epoch ") for line in lines) == 2
    accuracy = float(lines[1].split("test accuracy ")[1].split("%")[0])
    assert accuracy > 85 and lines[1].endswith("on 250 sequences (chance: 50%)")
    correlations = next(line for line in lines if "correlation with the motif" in line)
    assert len([float(r) for r in correlations.split(": ")[1].split(", ")]) == 4
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "out" / "motif.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="report.py draws its figures with matplotlib")
def test_report(tmp_path):
    out = run_example("report.py", "--epochs", 2, "--limit", 200, "--out-dir", tmp_path / "r",
                      cwd=tmp_path)
    assert sum(line.startswith("epoch ") for line in out.splitlines()) == 2
    page = (tmp_path / "r" / "index.html").read_text()
    for name in ("curves", "confusion", "mistakes", "filters", "feature_maps"):
        assert f'src="{name}.png"' in page
        assert (tmp_path / "r" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert page.count("<tr>") == 3                     # a header row and one row per epoch


# ---------------------------------------------------------------------------------------------
# What a newcomer gets wrong: each ends in one line naming the problem, as the CLI's errors do
# ---------------------------------------------------------------------------------------------

def test_filters_without_pillow_says_so(tmp_path):
    err = run_failing_example("filters.py", "--out-dir", tmp_path, cwd=tmp_path, missing=["PIL"])
    assert "Pillow" in err and "--digit" in err  # and how to do without it
    # The digit needs no Pillow and still works with it blocked (the stand-in left above).
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(tmp_path / "not_installed"), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, str(EXAMPLES / "filters.py"), "--digit", "3",
                             "--out-dir", str(tmp_path)], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0 and "sobel x" in result.stdout, result.stderr


def test_filters_digit_out_of_range(tmp_path):
    err = run_failing_example("filters.py", "--digit", 5000, cwd=tmp_path)
    assert "--digit" in err and "1796" in err


@pytest.mark.parametrize("option, message", [
    (["--epochs", 0], "--epochs must be at least 1, got 0"),
    (["--noise", "nan"], "--noise must be at least 0, got nan")])
def test_sequence_conv1d_refuses_bad_options(tmp_path, option, message):
    assert message in run_failing_example("sequence_conv1d.py", *option, cwd=tmp_path)


def test_sequence_conv1d_plot_without_matplotlib_says_so_before_training(tmp_path):
    err = run_failing_example("sequence_conv1d.py", "--plot", tmp_path / "m.png", cwd=tmp_path,
                              missing=["matplotlib"])
    assert "--plot needs matplotlib" in err


def test_report_without_matplotlib_says_so_before_training(tmp_path):
    err = run_failing_example("report.py", "--out-dir", tmp_path / "r", cwd=tmp_path,
                              missing=["matplotlib"])
    assert "matplotlib" in err
    assert not (tmp_path / "r").exists()  # refused before doing anything


@pytest.mark.parametrize("option", [["--epochs", 0], ["--limit", 0]])
def test_report_refuses_nothing_to_report(tmp_path, option):
    err = run_failing_example("report.py", *option, "--out-dir", tmp_path / "r", cwd=tmp_path)
    assert f"{option[0]} must be at least 1, got 0" in err


def test_feature_maps_index_out_of_range(tmp_path):
    err = run_failing_example("feature_maps.py", "--index", 99999, "--out-dir", tmp_path,
                              cwd=tmp_path)
    assert "--index 99999 is out of range" in err and "360 images" in err


def test_train_mnist_without_its_files(tmp_path):
    err = run_failing_example("train_mnist.py", "--data-dir", tmp_path, cwd=tmp_path)
    assert "missing files" in err and "train-images-idx3-ubyte" in err
    err = run_failing_example("train_mnist.py", "--data-dir", tmp_path / "nowhere", cwd=tmp_path)
    assert "does not exist" in err and "nowhere" in err


def test_train_mnist_split_test_must_leave_test_images(tmp_path):
    fake_mnist(tmp_path, n_test=24)
    err = run_failing_example("train_mnist.py", "--data-dir", tmp_path, "--split-test", 24,
                              cwd=tmp_path)
    assert "--split-test 24 leaves no test images" in err


def test_cifar10_without_its_files(tmp_path):
    err = run_failing_example("cifar10.py", "--data-dir", tmp_path, cwd=tmp_path)
    assert "missing files" in err and "data_batch_1" in err


@pytest.mark.parametrize("name", ["train_digits.py", "train_mnist.py", "cifar10.py"])
@pytest.mark.parametrize("limit", [0, -5])
def test_limit_must_be_positive(tmp_path, name, limit):
    # --limit 0 used to mean "no limit" and trained on everything.
    data = [] if name == "train_digits.py" else ["--data-dir", tmp_path]
    err = run_failing_example(name, *data, "--limit", limit, cwd=tmp_path)
    assert f"--limit must be at least 1, got {limit}" in err
