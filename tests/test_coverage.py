"""docs/coverage.md is what tools/make_coverage.py writes now, so the page cannot go stale.

No PyTorch needed: the tool reads PyTorch's names from docs/coverage/torch_names.json.
"""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("make_coverage",
                                                  ROOT / "tools" / "make_coverage.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_page_is_up_to_date(tool):
    committed = (ROOT / "docs" / "coverage.md").read_text()
    assert committed == tool.generate(), (
        "docs/coverage.md is out of date with minicnn's code (or with "
        "docs/coverage/torch_names.json): regenerate it with  python tools/make_coverage.py  "
        "and commit the result")


def test_generation_is_deterministic(tool):
    assert tool.generate() == tool.generate()


def test_names_file_names_its_tool():
    data = json.loads((ROOT / "docs" / "coverage" / "torch_names.json").read_text())
    assert data["generated_by"] == "tools/torch_names.py"
    assert (ROOT / data["generated_by"]).is_file()
    for groups in data["namespaces"].values():
        for _, names in groups:
            assert names == sorted(names)


def _groups(tool, namespace):
    _, spaces = tool.load_names()
    return dict((g, (p, m)) for g, p, m in tool.coverage({namespace: spaces[namespace]})[namespace])


def test_present_names_counted(tool):
    assert tool.has_name("torch.Tensor", "add")
    assert tool.has_name("torch.Tensor", "grad")  # an attribute set per instance
    assert tool.has_name("torch.nn", "Conv2d")
    assert tool.has_name("torch.nn", "utils.clip_grad_norm_")
    assert tool.has_name("torch.optim.lr_scheduler", "StepLR")
    present, _ = _groups(tool, "torch.Tensor")["methods"]
    assert "add" in present


def test_absent_names_listed_missing(tool):
    # Recurrent layers are out of scope on purpose; the name must not exist in minicnn.
    assert not tool.has_name("torch.nn", "LSTM")
    assert not tool.has_name("torch.nn", "no_such_layer")
    _, missing = _groups(tool, "torch.nn")["recurrent layers"]
    assert "LSTM" in missing
    page = (ROOT / "docs" / "coverage.md").read_text()
    assert "`LSTM`" in page
    assert "| `torch.nn` (`minicnn.nn`) |" in page
