"""``python -m minicnn exercises``: one line per task, on a copy of exercises/ where one task is
solved, one has a typical mistake and the rest are the stubs."""
import shutil
import sys
from pathlib import Path

import pytest

import minicnn.__main__ as cli

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (ROOT / "exercises").is_dir(),
                                reason="exercises/ is only in a source checkout")


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A copy of exercises/ in tmp_path; the real one is back in sys.modules afterwards."""
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "exercises"}
    yield tmp_path
    for name in [n for n in sys.modules if n.split(".")[0] == "exercises"]:
        del sys.modules[name]
    sys.modules.update(saved)


def test_each_task_not_started_failing_with_its_hint_or_passing(checkout, capsys):
    solutions = ROOT / "tests" / "exercise_solutions"            # the hidden solutions
    shutil.copy(solutions / "value.py", checkout / "exercises" / "value.py")
    wrong = (solutions / "softmax_ce.py").read_text().replace("return grad / len(labels)",
                                                              "return grad")
    (checkout / "exercises" / "softmax_ce.py").write_text(wrong)
    assert cli.main(["exercises", "--dir", str(checkout)]) == 0
    lines = capsys.readouterr().out.splitlines()
    status = {line.split()[1]: line for line in lines[:-1]}
    assert list(status)[:5] == ["value", "sum_to", "function", "softmax_ce", "linear"]
    assert status["value"].split()[2:] == ["passing"]
    assert status["sum_to"].endswith("not started")
    assert "failing: cross_entropy_backward(z, labels)" in status["softmax_ce"]
    assert "likely cause: gradient 4 times too large: the mean's 1/N" in status["softmax_ce"]
    assert lines[-1].startswith(f"1 of {len(lines) - 1} passing") and len(lines) >= 13


def test_chosen_tasks_only(checkout, capsys):
    assert cli.main(["exercises", "im2col", "--dir", str(checkout)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["7", "im2col", "not", "started"] and len(out) == 2


@pytest.mark.parametrize("argv, message", [
    (["exercises", "--dir", "{tmp}"], "no exercises/ in"),
    (["exercises", "nosuchtask"], "no task 'nosuchtask' (tasks: value, sum_to,"),
])
def test_mistakes_are_one_line_errors(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
