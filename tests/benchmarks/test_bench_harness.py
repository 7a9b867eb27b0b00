"""Tests of the full benchmark in benchmarks/ (``python benchmarks/bench.py``): its NumPy
baseline, its arithmetic, its noise accounting, its JSON report and the tables rendered from it.

Timings are never asserted (the machine is shared and noisy); only that the benchmark measures
the right thing, computes its ratios correctly and writes a complete report.
"""
import importlib.abc
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minicnn import kernels

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if not (BENCHMARKS / "bench.py").is_file():
    pytest.skip("benchmarks/ is only in a source checkout", allow_module_level=True)
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import bench  # noqa: E402
import json_to_markdown  # noqa: E402
import numpy_conv  # noqa: E402
import system  # noqa: E402
import torch_side  # noqa: E402

# Bookkeeping that has no place in what users read: tracker references, targets, commits.
BOOKKEEPING = re.compile(r"issue|\bbars?\b|\bcommit\b", re.IGNORECASE)


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
    y, cols = numpy_conv.numpy_conv2d_forward(x, w, **geo)
    gx, gw = numpy_conv.numpy_conv2d_backward(g, w, cols, x.shape, **geo)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for got, want in ((y, y_ref), (gx, gx_ref), (gw, gw_ref)):
        assert got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, want, **tol)


# --- Ratios, geomeans, headline figures and scaling from hand-made records. -------------------

def _rec(layer, threads, pass_, framework, ms):
    return {"layer": layer, "threads": threads, "pass": pass_, "framework": framework,
            "ms": ms, "gflops": 100.0 / ms}


def test_summary_ratios_geomeans_and_headline():
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
    head = {h["name"].split(",")[0]: h for h in s["headline"]}
    assert set(head["fwd+bwd speed vs PyTorch"]) == {"name", "value", "unit"}  # no targets
    assert head["fwd+bwd speed vs PyTorch"]["value"] == pytest.approx(np.sqrt(0.5))
    assert head["fwd+bwd speed vs NumPy"]["value"] == pytest.approx(np.sqrt(2.0))
    assert head["large-layer fwd / sgemm peak"]["value"] == pytest.approx(0.5)
    assert head["LeNet step time / PyTorch's"]["value"] == pytest.approx(3.0)
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
    assert len(s["headline"]) == 4 and all(h["value"] is None for h in s["headline"])


def test_markdown_table_is_padded_and_aligned():
    text = json_to_markdown.table(["a", "number"], [["xy", "1.5"], ["z", "10.25"]], right=(1,))
    assert text.splitlines() == ["| a   | number |", "|-----|-------:|",
                                 "| xy  |    1.5 |", "| z   |  10.25 |"]


# --- Noise and allocator accounting. -----------------------------------------------------------

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

    monkeypatch.setattr(system, "available_cores", lambda: 2)
    monkeypatch.setattr(system, "time_calls", fake_time_calls)
    monkeypatch.setattr(system, "cpu_busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(system.time, "process_time", lambda: clock["cpu"])
    monkeypatch.setattr(system.time, "perf_counter", lambda: clock["wall"])
    pauses = []
    monkeypatch.setattr(system.time, "sleep", pauses.append)
    times, info = system.timed_block(None, 3, 0.0, 0, threads=2, max_disturbance=0.1,
                                     retries=3)
    assert times == [0.01] * 3 and pauses == [0.5]  # one pause, before the second attempt
    assert info["attempts"] == 2 and info["cpu_share"] == pytest.approx(1.0)
    assert info["disturbance"] == pytest.approx(0.0)
    # No retries allowed: the disturbed block is kept, and says so.
    others = iter([1.0])
    times, info = system.timed_block(None, 3, 0.0, 0, threads=2, max_disturbance=0.1,
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

    monkeypatch.setattr(system, "time_calls", one_thread)
    times, info = system.timed_block(None, 3, 0.0, 0, threads=1, max_disturbance=0.1,
                                     retries=3)
    assert info["attempts"] == 1 and info["cpu_share"] == pytest.approx(1.0)
    assert info["disturbance"] == pytest.approx(0.0)


def test_cpu_busy_seconds_counts_this_process():
    busy0, cpu0 = system.cpu_busy_seconds(), system.time.process_time()
    if busy0 is None:
        pytest.skip("no /proc/stat on this platform")
    t = system.time.perf_counter()
    while system.time.perf_counter() - t < 0.2:
        sum(range(1000))
    busy = system.cpu_busy_seconds() - busy0
    # Our own 0.2 s of work is part of all processes' busy time (ticks of 10 ms: some slack).
    assert busy >= system.time.process_time() - cpu0 - 0.05


def test_raise_mmap_threshold_reports_what_it_did():
    result = system.raise_mmap_threshold()
    assert set(result) == {"applied", "mmap_threshold", "trim_threshold", "detail"}
    if result["applied"]:
        assert 1 << 20 <= result["mmap_threshold"] <= 32 << 20
    else:
        assert result["detail"]


def test_raised_mmap_threshold_stops_page_faults_of_fresh_outputs():
    if not system.raise_mmap_threshold()["applied"]:
        pytest.skip("glibc mallopt not available")
    if system.minor_faults() is None:
        pytest.skip("getrusage not available")

    def fresh_output():
        out = np.empty(4 * 1024 * 1024 // 4, np.float32)   # 4 MB, far above glibc's default
        out.fill(1.0)                                       # touch every page
        return out

    _, info = system.timed_block(fresh_output, 20, 0.0, 2, threads=1)
    # The freed block is reused from the heap: no fresh pages per call (a 4 MB mmap would be
    # about 1000 faults).
    assert info["page_faults_per_call"] < 50


# --- The command line, the JSON report and the tables. -----------------------------------------

def _parse(*argv):
    return bench.build_parser().parse_args(list(argv))


@pytest.mark.parametrize("argv, message", [
    (["--layers", "mnist_conv1,nope"], "unknown layer"),
    (["--threads", "0"], "--threads"),
    (["--threads", "two"], "--threads"),
    (["--repeats", "-1"], "positive whole number"),
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


def test_defaults_and_thread_list():
    args = _parse()
    assert args.layers == bench.LAYER_NAMES and args.backend == "fast" and args.json is None
    assert _parse("--threads", "2,1,all,1").threads == sorted({1, 2, system.available_cores()})


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
        assert share is None or 0 < share <= system.available_cores() / r["threads"] + 0.5
        assert r["disturbance"] is None or 0 <= r["disturbance"] <= 1
        assert r["page_faults_per_call"] is None or r["page_faults_per_call"] >= 0
        assert 1 <= r["attempts"] <= report["settings"]["retries"] + 1
    # Every framework computed the same outputs as minicnn.
    for check in report["checks"]:
        assert set(check["max_rel_diff_to_minicnn"]) == set(frameworks) - {"minicnn"}
        assert all(d < 1e-4 for d in check["max_rel_diff_to_minicnn"].values()), check
    assert len(report["summary"]["headline"]) == 4 * len(threads)
    assert len(report["summary"]["geomeans"]) == 2 * len(threads)


def _without_blas_paths(report):
    """The report as text, less the BLAS libraries' file names (which carry build hashes)."""
    return json.dumps(dict(report, machine=dict(report["machine"], blas=[])))


def test_quick_run_without_torch_writes_complete_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)   # `import torch` fails as if not installed
    path = tmp_path / "bench.json"
    args = _parse("--quick", "--batch", "2", "--layers", "mnist_conv1,strided",
                  "--threads", "1,2", "--backend", "reference", "--json", str(path))
    report = bench.run(args)
    out = capsys.readouterr().out
    # The reason PyTorch is left out is printed, and recorded.
    assert "PyTorch left out: PyTorch is not installed" in out
    assert any("PyTorch is not installed" in n for n in report["notes"])
    assert "mnist_conv1" in out and "**geomean**" in out and "Headline figures" in out
    assert not BOOKKEEPING.search(out)
    saved = json.loads(path.read_text())
    assert saved == json.loads(json.dumps(report))
    assert not BOOKKEEPING.search(_without_blas_paths(saved))
    _check_report(saved, ["mnist_conv1", "strided"], [1, 2], ["minicnn", "numpy"], repeats=3)
    assert saved["settings"]["torch"] is False and saved["machine"]["torch"] is None
    lenet = saved["lenet"]
    assert lenet["status"] == "ok"
    assert sorted((r["threads"], r["framework"]) for r in lenet["records"]) == [
        (t, f) for t in (1, 2) for f in ("minicnn", "minicnn_default_blas")]
    assert all(r["images_per_s"] > 0 for r in lenet["records"])


def test_lenet_failure_propagates(monkeypatch):
    def broken_step(batch, model=None):
        raise AttributeError("no such op")

    monkeypatch.setattr(bench, "lenet_step", broken_step)
    args = _parse("--quick", "--batch", "1", "--layers", "strided", "--threads", "1",
                  "--no-torch", "--no-numpy")
    with pytest.raises(AttributeError, match="no such op"):
        bench.run(args)


class _BrokenTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            raise OSError("libtorch_cpu.so: cannot open shared object file")
        return None


def test_broken_torch_install_is_not_taken_for_a_missing_one(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenTorch(), *sys.meta_path])
    with pytest.raises(OSError, match="libtorch"):
        torch_side.import_torch()


def test_json_to_markdown_renders_every_table(tmp_path):
    path = tmp_path / "r.json"
    args = _parse("--quick", "--batch", "2", "--layers", "strided", "--threads", "1",
                  "--no-torch", "--per-kernel", "--json", str(path))
    report = json.loads(json.dumps(bench.run(args)))
    md = json_to_markdown.to_markdown(report)
    rec = {(r["pass"], r["framework"]): r for r in report["records"]}
    for heading in ("1 thread: forward", "forward + backward", "each kernel alone",
                    "LeNet training step", "Headline figures"):
        assert heading in md
    # The table carries the run's own medians.
    assert re.search(rf"\| strided +\| +{rec[('forward', 'minicnn')]['ms']:.3f} \|", md)
    assert f"{rec[('forward_backward', 'numpy')]['ms']:.3f}" in md
    assert md.count("**geomean**") == 2
    # The script renders a saved file exactly so.
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "json_to_markdown.py"), str(path)],
                          capture_output=True, text=True, check=True)
    assert proc.stdout == md


def test_script_runs_the_fast_backend_per_kernel(tmp_path):
    path = tmp_path / "fast.json"
    # --min-time long enough (0.1 s per figure) for the CPU share to be measured.
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench.py"), "--quick", "--min-time", "0.1",
         "--batch", "1", "--layers", "cifar_conv3", "--threads", "1", "--no-torch",
         "--no-lenet", "--per-kernel", "--json", str(path)],
        capture_output=True, text=True, check=True)
    report = json.loads(path.read_text())
    _check_report(report, ["cifar_conv3"], [1], ["minicnn", "numpy"], repeats=3,
                  kernel_frameworks=["minicnn"])
    assert all(r["cpu_share"] is not None and r["disturbance"] is not None
               for r in report["records"])
    assert report["command"].startswith("python benchmarks/bench.py --quick")
    assert "each kernel alone" in proc.stdout and "(skipped: --no-lenet)" in proc.stdout


def test_torch_column_when_torch_is_installed():
    pytest.importorskip("torch", reason="PyTorch is optional (benchmark comparison only)")
    args = _parse("--quick", "--batch", "2", "--layers", "strided", "--threads", "1",
                  "--backend", "reference", "--per-kernel")
    report = bench.run(args)
    _check_report(report, ["strided"], [1], ["minicnn", "numpy", "torch"], repeats=3,
                  kernel_frameworks=["minicnn", "torch"])
    losses = report["lenet"]["first_loss"]
    # Same initial weights and batch: the two frameworks' first losses agree.
    assert losses["minicnn"] == pytest.approx(losses["torch"], rel=1e-4)
    assert report["machine"]["torch"]
