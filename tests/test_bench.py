"""Tests of ``python -m minicnn bench``: its NumPy baseline, its arithmetic and its JSON report.

Timings are never asserted (the machine is shared and noisy); only that the benchmark measures
the right thing, computes its ratios correctly and writes a complete report.
"""
import argparse
import json

import numpy as np
import pytest

from minicnn import bench, kernels
from minicnn.__main__ import build_parser
from minicnn.__main__ import main as cli_main


# --- The NumPy baseline must compute the same convolution as minicnn's readable twin. ---------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, C, H, W, O, KH, KW, stride, padding, dilation", [
    (2, 3, 7, 6, 4, 3, 3, 1, 1, 1),
    (1, 1, 5, 5, 2, 5, 5, 1, 0, 1),            # kernel equal to the input
    (3, 2, 9, 8, 3, 3, 2, (2, 1), (1, 0), 1),   # non-square kernel, stride and padding
    (2, 4, 10, 11, 5, 3, 3, 2, 2, (2, 1)),      # dilation
])
def test_numpy_baseline_matches_reference(N, C, H, W, O, KH, KW, stride, padding, dilation,
                                          dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C, KH, KW)).astype(dtype)
    geo = dict(stride=stride, padding=padding, dilation=dilation)
    with kernels.backend("reference"):
        y_ref = kernels.conv2d_forward(x, w, **geo)
        g = rng.standard_normal(y_ref.shape).astype(dtype)
        gx_ref = kernels.conv2d_backward_input(g, w, x.shape, **geo)
        gw_ref = kernels.conv2d_backward_weight(x, g, w.shape, **geo)
    y, cols = bench.numpy_conv2d_forward(x, w, **geo)
    gx, gw = bench.numpy_conv2d_backward(g, w, cols, x.shape, **geo)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for got, want in ((y, y_ref), (gx, gx_ref), (gw, gw_ref)):
        assert got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, want, **tol)


def test_conv_flops_counts_two_flops_per_multiply_accumulate():
    for layer in bench.LAYERS:
        x = np.zeros((layer.N, layer.C, layer.H, layer.W), np.float32)
        w = np.zeros((layer.O, layer.C, layer.K, layer.K), np.float32)
        y, _ = bench.numpy_conv2d_forward(x, w, layer.S, layer.P)
        # Every output element is one dot product of length C*KH*KW.
        assert bench.conv_flops(layer) == 2 * y.size * layer.C * layer.K * layer.K


def test_layers_are_the_six_of_the_design():
    assert [(lay.name, lay.N, lay.C, lay.H, lay.W, lay.O, lay.K, lay.S, lay.P)
            for lay in bench.LAYERS] == [
        ("mnist_conv1", 64, 1, 28, 28, 16, 5, 1, 2), ("mnist_conv2", 64, 16, 14, 14, 32, 5, 1, 2),
        ("cifar_conv1", 64, 3, 32, 32, 32, 3, 1, 1), ("cifar_conv2", 64, 32, 16, 16, 64, 3, 1, 1),
        ("cifar_conv3", 64, 64, 8, 8, 128, 3, 1, 1), ("strided", 32, 16, 32, 32, 32, 3, 2, 1)]


# --- Ratios, geomeans and bars from hand-made records. ----------------------------------------

def _rec(layer, threads, pass_, framework, ms):
    return {"layer": layer, "threads": threads, "pass": pass_, "framework": framework,
            "ms": ms, "gflops": 100.0 / ms}


def test_summary_ratios_geomeans_and_bars():
    layers = [bench.LAYERS[0], bench.LAYERS[1]]   # mnist_conv1 (small), mnist_conv2 (large)
    records = []
    for pass_ in ("forward", "forward_backward"):
        records += [_rec("mnist_conv1", 2, pass_, "minicnn", 2.0),
                    _rec("mnist_conv1", 2, pass_, "torch", 4.0),
                    _rec("mnist_conv1", 2, pass_, "numpy", 1.0),
                    _rec("mnist_conv2", 2, pass_, "minicnn", 8.0),
                    _rec("mnist_conv2", 2, pass_, "torch", 2.0),
                    _rec("mnist_conv2", 2, pass_, "numpy", 32.0)]
    peaks = {2: {"gflops": 25.0}}
    lenet = {"records": [{"threads": 2, "framework": "minicnn", "ms": 30.0},
                         {"threads": 2, "framework": "torch", "ms": 10.0}]}
    s = bench.summarize(records, layers, [2], peaks, lenet)
    row = {(r["layer"], r["pass"]): r for r in s["ratios"]}
    # "minicnn/X" is a speed ratio: X's time over minicnn's.
    assert row[("mnist_conv1", "forward")]["vs_torch"] == pytest.approx(2.0)
    assert row[("mnist_conv2", "forward")]["vs_numpy"] == pytest.approx(4.0)
    assert row[("mnist_conv2", "forward")]["peak_fraction"] == pytest.approx(12.5 / 25.0)
    assert row[("mnist_conv2", "forward_backward")]["peak_fraction"] is None
    gm = {g["pass"]: g for g in s["geomeans"]}["forward_backward"]
    assert gm["vs_torch"] == pytest.approx(np.sqrt(2.0 * 0.25))
    assert gm["vs_numpy"] == pytest.approx(np.sqrt(0.5 * 4.0))
    assert s["large_layers"] == ["mnist_conv2"]
    bars = {b["name"].split(",")[0]: b for b in s["bars"]}
    assert bars["fwd+bwd vs PyTorch"]["met"] is True            # 0.707 >= 0.5
    assert bars["fwd+bwd vs NumPy"]["met"] is False             # 1.41 < 2
    assert bars["large-layer fwd / sgemm peak"]["value"] == pytest.approx(0.5)
    assert bars["large-layer fwd / sgemm peak"]["met"] is True  # exactly 50%
    assert bars["LeNet step time vs PyTorch"]["value"] == pytest.approx(3.0)
    assert bars["LeNet step time vs PyTorch"]["met"] is False
    assert s["scaling"] == []  # only one thread count


def test_summary_thread_scaling():
    layer = bench.LAYERS[2]
    records = [_rec(layer.name, t, p, "minicnn", ms) for t, ms in ((1, 3.0), (2, 2.0))
               for p in ("forward", "forward_backward")]
    s = bench.summarize(records, [layer], [1, 2], {}, {"records": []})
    assert [(sc["framework"], sc["pass"], sc["threads"]) for sc in s["scaling"]] == [
        ("minicnn", "forward", 2), ("minicnn", "forward_backward", 2)]
    assert all(sc["speedup"] == pytest.approx(1.5) for sc in s["scaling"])


def test_summary_without_other_frameworks_reports_not_measured():
    records = [_rec("strided", 1, p, "minicnn", 1.0) for p in ("forward", "forward_backward")]
    s = bench.summarize(records, [bench.LAYERS[5]], [1], {}, {"records": []})
    assert all(b["value"] is None and b["met"] is None for b in s["bars"])


def test_time_calls_honours_repeats_min_time_and_warmup():
    calls = []
    times = bench.time_calls(lambda: calls.append(1), repeats=4, min_time=0.0, warmup=2)
    assert len(times) == 4 and len(calls) == 6 and all(t >= 0 for t in times)
    times = bench.time_calls(lambda: sum(range(1000)), repeats=1, min_time=0.01, warmup=0)
    assert sum(times) >= 0.01


# --- The command line and the JSON report. ----------------------------------------------------

def _parse(*argv):
    return build_parser().parse_args(["bench", *argv])


@pytest.mark.parametrize("argv, message", [
    (["--layers", "mnist_conv1,nope"], "unknown layer"),
    (["--threads", "0"], "--threads"),
    (["--threads", "two"], "--threads"),
    (["--repeats", "-1"], "positive integer"),
    (["--min-time", "-2"], "seconds"),
    (["--backend", "gpu"], "invalid choice"),
    (["--warmup", "-1"], "integer >= 0"),
    (["--retries", "x"], "integer >= 0"),
    (["--max-disturbance", "1.5"], "[0, 1]"),
])
def test_bad_arguments_are_rejected_by_name(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        _parse(*argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_disturbed_blocks_are_measured_again_and_the_least_disturbed_kept(monkeypatch):
    # Fake clocks on a 2-core machine, 2 threads: during the first block another process
    # uses 1 core (we get the other), during the second nobody does.
    others = iter([1.0, 0.0])
    clock = {"cpu": 0.0, "wall": 0.0, "busy": 0.0}

    def fake_time_calls(fn, repeats, min_time, warmup):
        other = next(others)
        ours = 2.0 - other
        clock["wall"] += 1.0
        clock["cpu"] += ours
        clock["busy"] += ours + other
        return [0.01 * 2 / ours] * repeats

    monkeypatch.setattr(bench, "available_cores", lambda: 2)
    monkeypatch.setattr(bench, "time_calls", fake_time_calls)
    monkeypatch.setattr(bench, "_cpu_busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(bench.time, "process_time", lambda: clock["cpu"])
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock["wall"])
    pauses = []
    monkeypatch.setattr(bench.time, "sleep", pauses.append)
    times, info = bench._timed_block(None, 3, 0.0, 0, threads=2, max_disturbance=0.1,
                                     retries=3)
    assert times == [0.01] * 3 and pauses == [0.5]  # one pause, before the second attempt
    assert info["attempts"] == 2 and info["cpu_share"] == pytest.approx(1.0)
    assert info["disturbance"] == pytest.approx(0.0)
    # No retries allowed: the disturbed block is kept, and says so.
    others = iter([1.0])
    times, info = bench._timed_block(None, 3, 0.0, 0, threads=2, max_disturbance=0.1,
                                     retries=0)
    assert info["attempts"] == 1 and info["disturbance"] == pytest.approx(0.5)
    # On 1 thread the other core is free: someone using it does not disturb the block.
    others = iter([1.0])
    clock["busy"] = clock["cpu"]

    def one_thread(fn, repeats, min_time, warmup):
        other = next(others)
        clock["wall"] += 1.0
        clock["cpu"] += 1.0
        clock["busy"] += 1.0 + other
        return [0.01] * repeats

    monkeypatch.setattr(bench, "time_calls", one_thread)
    times, info = bench._timed_block(None, 3, 0.0, 0, threads=1, max_disturbance=0.1,
                                     retries=3)
    assert info["attempts"] == 1 and info["cpu_share"] == pytest.approx(1.0)
    assert info["disturbance"] == pytest.approx(0.0)


def test_cpu_busy_seconds_counts_this_process():
    busy0, cpu0 = bench._cpu_busy_seconds(), bench.time.process_time()
    if busy0 is None:
        pytest.skip("no /proc/stat on this platform")
    t = bench.time.perf_counter()
    while bench.time.perf_counter() - t < 0.2:
        sum(range(1000))
    busy = bench._cpu_busy_seconds() - busy0
    # Our own 0.2 s of work is part of all processes' busy time (ticks of 10 ms: some slack).
    assert busy >= bench.time.process_time() - cpu0 - 0.05


def test_thread_list_accepts_all_and_deduplicates():
    args = _parse("--threads", "2,1,all,1")
    assert args.threads == sorted({1, 2, bench.available_cores()})


def _check_report(report, layers, threads, frameworks, repeats, kernel_frameworks=()):
    assert report["schema"] == bench.SCHEMA
    for key in ("date", "command", "machine", "settings", "allocator", "layers", "sgemm_peak",
                "records", "checks", "lenet", "summary", "notes"):
        assert key in report, key
    m = report["machine"]
    for key in ("cpu_model", "available_cores", "python", "numpy", "scipy", "minicnn",
                "minicnn_openmp", "torch", "blas"):
        assert key in m, key
    assert report["settings"]["threads"] == threads
    assert report["settings"]["layers"] == layers
    assert [p["threads"] for p in report["sgemm_peak"]] == threads
    assert all(p["gflops"] > 0 for p in report["sgemm_peak"])
    # One record per layer x threads x pass x framework, each with its samples.
    keys = sorted((r["layer"], r["threads"], r["pass"], r["framework"])
                  for r in report["records"])
    assert keys == sorted([(lay, t, p, f) for lay in layers for t in threads
                           for p in ("forward", "forward_backward") for f in frameworks]
                          + [(lay, t, p, f) for lay in layers for t in threads
                             for p in ("backward_input", "backward_weight")
                             for f in kernel_frameworks])
    for r in report["records"]:
        assert len(r["times_ms"]) >= repeats
        assert r["ms"] > 0 and r["gflops"] > 0 and r["min_ms"] <= r["ms"]
        # CPU seconds per (wall second x threads): positive, and no more than all cores give
        # (None when the block was too short to measure it).
        share = r["cpu_share"]
        assert share is None or 0 < share <= bench.available_cores() / r["threads"] + 0.5
        assert r["disturbance"] is None or 0 <= r["disturbance"] <= 1
        assert r["page_faults_per_call"] is None or r["page_faults_per_call"] >= 0
        assert 1 <= r["attempts"] <= report["settings"]["retries"] + 1
    # Every framework computed the same outputs as minicnn.
    for check in report["checks"]:
        assert set(check["max_rel_diff_to_minicnn"]) == set(frameworks) - {"minicnn"}
        assert all(d < 1e-4 for d in check["max_rel_diff_to_minicnn"].values()), check
    assert len(report["summary"]["bars"]) == 4 * len(threads)
    assert len(report["summary"]["geomeans"]) == 2 * len(threads)


def test_quick_run_writes_complete_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    threads = sorted({1, 2})
    args = _parse("--quick", "--batch", "2", "--layers", "mnist_conv1,strided",
                  "--threads", "1,2", "--no-torch", "--backend", "reference",
                  "--json", str(path))
    report = bench.run(args)
    out = capsys.readouterr().out
    assert "mnist_conv1" in out and "geomean" in out and "bars" in out
    saved = json.loads(path.read_text())
    assert saved == json.loads(json.dumps(report))
    _check_report(saved, ["mnist_conv1", "strided"], threads, ["minicnn", "numpy"], repeats=3)
    assert saved["settings"]["torch"] is False
    lenet = saved["lenet"]
    assert lenet["status"] in ("ok", "skipped")
    if lenet["status"] == "ok":
        assert sorted((r["threads"], r["framework"]) for r in lenet["records"]) == [
            (t, f) for t in (1, 2) for f in ("minicnn", "minicnn_default_blas")]
        assert all(r["images_per_s"] > 0 for r in lenet["records"])
    else:
        assert "LeNet" in " ".join(saved["notes"]) and lenet["reason"]


def test_json_to_markdown_renders_every_table(tmp_path):
    import importlib.util
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "json_to_markdown.py"
    if not script.is_file():
        pytest.skip("benchmarks/ is only in a source checkout")
    spec = importlib.util.spec_from_file_location("json_to_markdown", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = _parse("--quick", "--batch", "2", "--layers", "strided", "--threads", "1",
                  "--no-torch", "--per-kernel", "--json", str(tmp_path / "r.json"))
    report = json.loads(json.dumps(bench.run(args)))
    md = module.to_markdown(report)
    rec = {(r["pass"], r["framework"]): r for r in report["records"]}
    for heading in ("1 thread: forward", "forward + backward", "each kernel alone",
                    "LeNet training step", "Bars"):
        assert heading in md
    # The table carries the run's own medians.
    assert f"| strided | {rec[('forward', 'minicnn')]['ms']:.3f}" in md
    assert f"{rec[('forward_backward', 'numpy')]['ms']:.3f}" in md
    assert md.count("**geomean**") == 2


def test_cli_runs_the_fast_backend_per_kernel(tmp_path, capsys):
    path = tmp_path / "fast.json"
    # --min-time long enough (0.1 s per figure) for the CPU share to be measured.
    assert cli_main(["bench", "--quick", "--min-time", "0.1", "--batch", "1", "--layers",
                     "cifar_conv3", "--threads", "1", "--no-torch", "--no-lenet",
                     "--per-kernel", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    _check_report(report, ["cifar_conv3"], [1], ["minicnn", "numpy"], repeats=3,
                  kernel_frameworks=["minicnn"])
    assert all(r["cpu_share"] is not None and r["disturbance"] is not None
               for r in report["records"])
    assert "each kernel on its own" in capsys.readouterr().out


def test_torch_column_when_torch_is_installed(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is optional (benchmark comparison only)")
    args = _parse("--quick", "--batch", "2", "--layers", "strided", "--threads", "1",
                  "--backend", "reference", "--per-kernel")
    report = bench.run(args)
    _check_report(report, ["strided"], [1], ["minicnn", "numpy", "torch"], repeats=3,
                  kernel_frameworks=["minicnn", "torch"])
    if report["lenet"]["status"] == "ok":
        losses = report["lenet"]["first_loss"]
        # Same initial weights and batch: the two frameworks' first losses agree.
        assert losses["minicnn"] == pytest.approx(losses["torch"], rel=1e-4)
    assert report["machine"]["torch"]


def test_raise_mmap_threshold_reports_what_it_did():
    result = bench.raise_mmap_threshold()
    assert set(result) == {"applied", "mmap_threshold", "trim_threshold", "detail"}
    if result["applied"]:
        assert 1 << 20 <= result["mmap_threshold"] <= 32 << 20
    else:
        assert result["detail"]


def test_raised_mmap_threshold_stops_page_faults_of_fresh_outputs():
    if not bench.raise_mmap_threshold()["applied"]:
        pytest.skip("glibc mallopt not available")
    if bench._minor_faults() is None:
        pytest.skip("getrusage not available")

    def fresh_output():
        out = np.empty(4 * 1024 * 1024 // 4, np.float32)   # 4 MB, far above glibc's default
        out.fill(1.0)                                       # touch every page
        return out

    _, info = bench._timed_block(fresh_output, 20, 0.0, 2, threads=1)
    # The freed block is reused from the heap: no fresh pages per call (a 4 MB mmap would be
    # about 1000 faults).
    assert info["page_faults_per_call"] < 50


def test_add_arguments_defaults():
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args([])
    assert args.layers == bench.LAYER_NAMES and args.backend == "fast" and args.json is None
