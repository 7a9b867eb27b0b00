"""Tests of the end-to-end training benchmark (``python benchmarks/step_bench.py``): its PyTorch
twin of a minicnn model, its interleaved timer, its per-op breakdown and its JSON report.

Timings are never asserted; only that the benchmark measures the right thing and reports it.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from minicnn import kernels, models
from minicnn._tensor import Function

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if not (BENCHMARKS / "step_bench.py").is_file():
    pytest.skip("benchmarks/ is only in a source checkout", allow_module_level=True)
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import step_bench  # noqa: E402


def test_interleaved_alternates_the_order_and_counts_every_call():
    order = []
    calls = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    out = step_bench.interleaved(calls, repeats=4, warmup=1)
    assert order[2:] == ["a", "b", "b", "a", "a", "b", "b", "a"]
    for name in calls:
        assert len(out[name]["times_ms"]) == 4 and out[name]["ms"] >= 0
        assert out[name]["faults"] >= 0 and out[name]["iqr_rel"] >= 0


def test_breakdown_covers_the_step_and_removes_its_wrappers():
    model = models.lenet()
    x, y = step_bench.make_batch((1, 28, 28), batch=4)
    step, opt = step_bench.minicnn_step(model, x, y)
    step()
    forwards = {cls: cls.__dict__.get("forward") for cls in step_bench._all_functions()}
    conv = kernels.conv2d_forward
    parts = step_bench.breakdown(step, opt, repeats=2)
    for key in ("kernel conv2d_forward", "kernel conv2d_backward_weight",
                "kernel conv2d_backward_input", "Relu forward", "Relu backward",
                "MaxPool2d forward", "MaxPool2d backward", "Linear forward",
                "optimizer step", "engine and glue", "total"):
        assert key in parts, key
    assert 0 <= parts["outside conv kernels, share"] <= 1
    # Everything instrumented is restored: the next step runs the plain code.
    assert kernels.conv2d_forward is conv
    assert all(cls.__dict__.get("forward") is f for cls, f in forwards.items())
    assert "step" not in opt.__dict__ and "zero_grad" not in opt.__dict__


def test_run_writes_a_complete_report_without_torch(tmp_path, monkeypatch):
    monkeypatch.setattr(step_bench, "import_torch", lambda: (None, "not installed (test)"))
    path = tmp_path / "steps.json"
    assert step_bench.main(["--threads", "1", "--repeats", "2", "--nets", "lenet",
                            "--epoch-batches", "1", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["allocator"]["applied"] is False and report["torch"] is None
    step, epoch = report["records"]
    assert step["kind"] == "step" and step["net"] == "lenet" and step["threads"] == 1
    assert step["minicnn_ms"] > 0 and "torch_ms" not in step
    assert step["breakdown_ms"]["total"] > 0
    assert epoch["kind"] == "epoch" and epoch["minicnn_images_per_s"] > 0
    assert "--nets lenet" in report["command"]


def test_the_pytorch_twin_has_minicnns_layers_and_weights():
    torch = pytest.importorskip("torch", reason="PyTorch is optional (benchmarks only)")
    model = models.cifar_net()
    twin = step_bench.torch_model(torch, model)
    for p, q in zip(twin.parameters(), model.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.data)
    x, _ = step_bench.make_batch((3, 32, 32), batch=2)
    import minicnn
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(minicnn.tensor(x)).data, expected, rtol=1e-4, atol=1e-5)
