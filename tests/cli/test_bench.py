"""Tests of ``python -m minicnn bench``, the quick timer: what it times, prints and writes.

Timings are never asserted (the machine is shared and noisy); only that the timer measures the
right thing, computes GFLOP/s from the right FLOP count, and never needs PyTorch.
"""
import json
import sys
import warnings

import numpy as np
import pytest

from minicnn import kernels
from minicnn.__main__ import main as cli_main
from minicnn.cli import bench


def test_layers_are_the_six_of_the_design():
    assert [(lay.name, lay.N, lay.C, lay.H, lay.W, lay.O, lay.K, lay.S, lay.P)
            for lay in bench.LAYERS] == [
        ("mnist_conv1", 64, 1, 28, 28, 16, 5, 1, 2), ("mnist_conv2", 64, 16, 14, 14, 32, 5, 1, 2),
        ("cifar_conv1", 64, 3, 32, 32, 32, 3, 1, 1), ("cifar_conv2", 64, 32, 16, 16, 64, 3, 1, 1),
        ("cifar_conv3", 64, 64, 8, 8, 128, 3, 1, 1), ("strided", 32, 16, 32, 32, 32, 3, 2, 1)]


@pytest.mark.parametrize("layer", bench.LAYERS, ids=bench.LAYER_NAMES)
def test_conv_flops_counts_two_flops_per_multiply_accumulate(layer):
    layer = layer._replace(N=2)
    x, w, g = bench.layer_inputs(layer)
    y = bench.kernel_calls(layer, x, w, g)["forward"]()
    assert g.shape == y.shape   # layer_inputs' grad_out has the forward's output shape
    # Every output element is one dot product of length C*KH*KW.
    assert bench.conv_flops(layer) == 2 * y.size * layer.C * layer.K * layer.K


def test_kernel_calls_run_the_three_conv_kernels():
    layer = bench.LAYERS[5]._replace(N=2)
    x, w, g = bench.layer_inputs(layer)
    calls = bench.kernel_calls(layer, x, w, g)
    assert tuple(calls) == bench.KERNELS
    geo = dict(stride=layer.S, padding=layer.P)
    np.testing.assert_array_equal(calls["backward_input"](),
                                  kernels.conv2d_backward_input(g, w, x.shape, **geo))
    np.testing.assert_array_equal(calls["backward_weight"](),
                                  kernels.conv2d_backward_weight(x, g, w.shape, **geo))


def test_time_calls_honours_repeats_min_time_and_warmup():
    calls = []
    times = bench.time_calls(lambda: calls.append(1), repeats=4, min_time=0.0, warmup=2)
    assert len(times) == 4 and len(calls) == 6 and all(t >= 0 for t in times)
    times = bench.time_calls(lambda: sum(range(1000)), repeats=1, min_time=0.01, warmup=0)
    assert sum(times) >= 0.01


def test_lenet_step_trains_the_model():
    from minicnn import models
    model = models.lenet()
    before = [p.data.clone() for p in model.parameters()]
    step = bench.lenet_step(2, model)
    loss = float(step().item())
    assert np.isfinite(loss)
    assert all(not np.array_equal(b, p.data) for b, p in zip(before, model.parameters()))


def test_cli_prints_the_table_and_writes_json(tmp_path, capsys, monkeypatch):
    # The quick timer never imports PyTorch: with `import torch` made to fail, it still runs.
    monkeypatch.setitem(sys.modules, "torch", None)
    path = tmp_path / "quick.json"
    saved = kernels.get_num_threads()
    assert cli_main(["bench", "--repeats", "1", "--batch", "1", "--layers",
                     "mnist_conv1,strided", "--threads", "1", "--json", str(path)]) == 0
    assert kernels.get_num_threads() == saved
    out = capsys.readouterr().out
    assert "backend fast, 1 thread(s)" in out and "median of 1 calls" in out
    assert "mnist_conv1" in out and "strided" in out and "cifar_conv3" not in out
    assert "LeNet training step, batch 1" in out
    assert "python benchmarks/bench.py" in out
    report = json.loads(path.read_text())
    assert report["settings"]["threads"] == 1 and report["settings"]["backend"] == "fast"
    assert [(r["layer"], r["kernel"]) for r in report["records"]] == [
        (lay, k) for lay in ("mnist_conv1", "strided") for k in bench.KERNELS]
    layers = {lay.name: lay._replace(N=1) for lay in bench.LAYERS}
    for r in report["records"]:
        assert r["ms"] > 0
        assert r["gflops"] == pytest.approx(bench.conv_flops(layers[r["layer"]]) / r["ms"] / 1e6)
    lenet = report["lenet"]
    assert lenet["batch"] == 1 and lenet["images_per_s"] == pytest.approx(1e3 / lenet["ms"])


def test_cli_reference_backend_without_lenet(capsys):
    assert cli_main(["bench", "--repeats", "1", "--batch", "1", "--layers", "cifar_conv1",
                     "--backend", "reference", "--no-lenet"]) == 0
    out = capsys.readouterr().out
    assert "backend reference" in out and "cifar_conv1" in out and "LeNet" not in out


@pytest.mark.parametrize("argv, message", [
    (["--layers", "mnist_conv1,nope"], "unknown layer"),
    (["--repeats", "0"], "--repeats must be a positive whole number, got 0"),
    (["--threads", "two"], "--threads must be a positive whole number, got two"),
    (["--backend", "gpu"], "invalid choice"),
])
def test_bad_arguments_are_rejected_by_name(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["bench", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_threads_past_the_cap_are_capped_and_the_count_used_is_reported(capsys, tmp_path):
    from minicnn.kernels import runtime

    cap, saved = runtime.max_num_threads(), kernels.get_num_threads()
    used = cap if kernels.openmp_enabled() else 1
    path = tmp_path / "capped.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # capped by the command, not by set_num_threads' warning
        assert cli_main(["bench", "--threads", str(cap + 91), "--repeats", "1", "--batch", "1",
                         "--layers", "strided", "--no-lenet", "--json", str(path)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    if kernels.openmp_enabled():
        assert f"backend fast, {cap} thread(s) (--threads {cap + 91} capped: at most " \
               f"{runtime.MAX_THREADS_PER_CORE} per usable core), float32" in header
    assert str(cap + 91) + " thread(s)" not in header
    settings = json.loads(path.read_text())["settings"]
    assert settings["threads"] == used and settings["threads_requested"] == cap + 91
    assert kernels.get_num_threads() == saved


@pytest.mark.parametrize("where, message", [
    ("missing/quick.json", "does not exist"),
    (".", "is a directory"),
])
def test_an_unwritable_json_path_is_one_line_before_any_timing(capsys, tmp_path, where, message):
    status = cli_main(["bench", "--repeats", "1", "--batch", "1", "--layers", "strided",
                       "--no-lenet", "--json", str(tmp_path / where)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""  # nothing timed
    assert err.startswith("minicnn bench: error: --json ") and message in err
    assert len(err.splitlines()) == 1
