"""The exercises' tests: each task's checks (exercises/_checks*.py) run on the learner's stub in
exercises/ (skipped while it raises NotImplementedError) and, in the default suite, on its
hidden reference solution in tests/exercise_solutions/.

    python -m pytest -m task_im2col          # your im2col, once you have written it
    python -m pytest tests/test_exercises.py # every task: solved ones pass, stubs skip

Each check takes the module under test and asserts against minicnn's kernels, scipy.signal,
minicnn's autograd or finite differences; tests/test_exercise_hints.py tests the hints.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"

if not EXERCISES.is_dir():
    pytest.skip("exercises/ is only in a source checkout", allow_module_level=True)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from exercises._checks import SOLUTIONS, load  # noqa: E402
from exercises._tasks import TASKS  # noqa: E402


def _params(with_marks):
    return [pytest.param(task, check, id=f"{task}-{check.__name__[len('check_'):]}",
                         marks=[getattr(pytest.mark, f"task_{task}")] if with_marks else [])
            for task, (_, checks) in TASKS.items() for check in checks]


@pytest.mark.parametrize("task, check", _params(with_marks=True))
def test_task(task, check):
    """Your implementation in exercises/<task>.py (skipped until it stops raising
    NotImplementedError)."""
    module = load(task)
    try:
        check(module)
    except NotImplementedError as exc:
        pytest.skip(f"exercises/{task}.py is not solved yet ({exc})")


@pytest.mark.parametrize("task, check", _params(with_marks=False))
def test_solution(task, check):
    """The hidden reference solution (tests/exercise_solutions/<task>.py) passes the same
    checks."""
    check(load(task, solution=True))


def test_every_task_has_a_stub_a_solution_checks_and_a_marker():
    import re
    registered = set(re.findall(r'^\s*"(task_\w+):', (ROOT / "pyproject.toml").read_text(),
                                re.MULTILINE))
    stubs = {p.stem for p in EXERCISES.glob("*.py")} - {"__init__"}
    assert {s for s in stubs if not s.startswith("_")} == set(TASKS)
    assert {p.stem for p in SOLUTIONS.glob("*.py")} - {"__init__"} == set(TASKS)
    assert not (EXERCISES / "solutions").exists()       # out of sight of the stubs
    assert {f"task_{t}" for t in TASKS} <= registered
    assert (EXERCISES / "README.md").is_file()


def test_a_solution_plugs_into_the_reference_backend(monkeypatch):
    """exercises/README.md's seam: a learner's kernel in the twin's place runs under F.conv2d."""
    import minicnn.kernels.reference as reference
    conv_loop, maxpool = load("conv_loop", solution=True), load("maxpool", solution=True)
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return conv_loop.conv2d_forward(*args, **kwargs)

    monkeypatch.setattr(reference, "conv2d_forward", spy)
    monkeypatch.setattr(reference, "max_pool2d_forward", maxpool.max_pool2d_forward)
    rng = np.random.default_rng(14)
    x = minicnn.tensor(rng.standard_normal((2, 3, 8, 8)), dtype=np.float64)
    w = minicnn.tensor(rng.standard_normal((4, 3, 3, 3)), dtype=np.float64)
    fast = F.max_pool2d(F.conv2d(x, w, padding=1, stride=(1, 2)), 2).numpy()
    with K.backend("reference"):
        yours = F.max_pool2d(F.conv2d(x, w, padding=1, stride=(1, 2)), 2).numpy()
    assert calls, "the reference backend did not call the swapped-in function"
    np.testing.assert_allclose(yours, fast, atol=1e-10)


@pytest.mark.parametrize("spec", ["conv_loop.py:conv2d_forward",
                                  "maxpool.py:max_pool2d_forward"])
def test_a_solution_passes_check_kernel(spec):
    """exercises/README.md's `python -m minicnn check --kernel FILE:FUNCTION`, on a solution."""
    import os
    import subprocess
    import sys
    result = subprocess.run(
        [sys.executable, "-m", "minicnn", "check", "--kernel", f"tests/exercise_solutions/{spec}"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout and "PASS  your " in result.stdout


def test_train_digits_your_kernels_swaps_in_the_exercises_and_restores():
    """The stub's your_kernels() puts exercises/'s functions in the reference twins' places
    (and minicnn's back afterwards), under the reference backend."""
    import minicnn.kernels.reference as reference
    module = load("train_digits")
    before = reference.conv2d_forward
    with module.your_kernels():
        assert K.get_backend() == "reference"
        assert reference.conv2d_forward is sys.modules["exercises.conv_loop"].conv2d_forward
        assert reference.max_pool2d_backward is sys.modules["exercises.maxpool"].max_pool2d_backward
    assert reference.conv2d_forward is before and K.get_backend() != "reference"
