"""The exercises' hints: each typical wrong answer, made by changing one line of a hidden
solution, fails its task's check with the likely cause named."""
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if not (ROOT / "exercises").is_dir():
    pytest.skip("exercises/ is only in a source checkout", allow_module_level=True)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from exercises import _hints  # noqa: E402
from exercises._checks import SOLUTIONS  # noqa: E402
from exercises._tasks import TASKS, status  # noqa: E402


def mutant(task, old, new):
    """The solution of ``task`` with the line fragment ``old`` replaced by ``new``."""
    source = (SOLUTIONS / f"{task}.py").read_text()
    assert source.count(old) >= 1, f"{old!r} not in the {task} solution"
    module = types.ModuleType(f"_mutant_{task}")
    exec(compile(source.replace(old, new), f"<mutant {task}>", "exec"), module.__dict__)
    return module


def failure(task, check_name, module):
    check = next(c for c in TASKS[task][1] if c.__name__ == check_name)
    with pytest.raises(AssertionError) as info:
        check(module)
    return info.value


MUTANTS = [
    # (task, check, old, new, words the hint must contain)
    ("conv_loop", "check_conv_loop_vs_scipy", "wg[:, :, kh, kw]",
     "wg[:, :, KH - 1 - kh, KW - 1 - kw]", "true convolution with the kernel flipped"),
    ("conv_loop", "check_conv_loop_geometries", "y = np.zeros((N, O, OH, OW), x.dtype)",
     "y = np.zeros((N, O, OH, OW))", "float64 returned for float32 input"),
    ("maxpool", "check_maxpool_ties_and_nan", "best = np.argmax(windows, axis=-1)",
     "best = windows.shape[-1] - 1 - np.argmax(windows[..., ::-1], axis=-1)",
     "indices differ only at ties: the first maximum wins"),
    ("maxpool", "check_maxpool_backward",
     "np.add.at(grad_x, (n, c, indices[:, :, oh, ow]), grad_out[:, :, oh, ow])",
     "pass\n    grad_x[n[..., None, None], c[..., None, None], indices] += grad_out",
     "repeated indices: "),
    ("col2im", "check_col2im_counts_windows", "] += cols[:, kh, kw]", "] = cols[:, kh, kw]",
     "use np.add.at"),
    ("softmax_ce", "check_softmax_ce_backward", "return grad / len(labels)", "return grad",
     "gradient 4 times too large: the mean's 1/N"),
    ("value", "check_value_reuse_and_order", ".grad += ", ".grad = ", "add to .grad (+=)"),
    ("value", "check_value_reuse_and_order", "for v in reversed(order):", "for v in order:",
     "reverse topological order"),
    ("function", "check_function_gradients", "for t in reversed(order):", "for t in order:",
     "reverse topological order"),
    ("function", "check_function_gradients",
     "parent.grad = g if parent.grad is None else parent.grad + g", "parent.grad = g",
     "used twice gets only one use's gradient"),
    ("im2col", "check_im2col_times_weights_is_conv", "return cols.reshape(",
     "return cols.transpose(1, 2, 0, 3, 4).reshape(", "rows are in (kh, kw, c) order"),
    ("sum_to", "check_sum_to_cases",
     "return grad.sum(axis=stretched, keepdims=True).reshape(shape)",
     "return grad.sum(axis=stretched)", "keep the stretched axes, with size 1"),
    ("sum_to", "check_sum_to_cases",      # only the stretched axes, counted from the right
     "grad = grad.sum(axis=tuple(range(lead)))\n    stretched = tuple(i for i, n in "
     "enumerate(shape) if n == 1 and grad.shape[i] != 1)\n    return grad.sum(axis=stretched, "
     "keepdims=True).reshape(shape)",
     "stretched = tuple(i - len(shape) for i, n in enumerate(shape) if n == 1)\n"
     "    return grad.sum(axis=stretched, keepdims=True)", "sum over the leading axes"),
    ("batchnorm", "check_batchnorm_forward", "var = x.var(axis=(0, 2, 3), keepdims=True)",
     "var = x.var(axis=(0, 2, 3), ddof=1, keepdims=True)", "unbiased variance (ddof=1"),
    ("linear", "check_linear_trains_on_blobs", "weight -= lr * grad_w", "weight += lr * grad_w",
     "step against the gradient"),
    ("linear", "check_linear_forward_backward", "grad_out.sum(axis=0)",
     "grad_out.sum(axis=0) / len(x)", "5 times too small"),
]


@pytest.mark.parametrize("task, check, old, new, words", MUTANTS,
                         ids=[f"{m[0]}-{m[4][:24]}" for m in MUTANTS])
def test_a_typical_mistake_gets_its_hint(task, check, old, new, words):
    exc = failure(task, check, mutant(task, old, new))
    assert words in str(exc), str(exc)
    assert exc.hint and words in exc.hint


def test_a_wrong_answer_without_a_known_cause_gets_no_hint():
    exc = failure("softmax_ce", "check_softmax_ce_backward",
                  mutant("softmax_ce", "return grad / len(labels)", "return grad / 3.7"))
    assert exc.hint is None and "likely cause" not in str(exc)


def test_hints_stay_silent_on_right_answers():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    idx = np.array([[[[5, 7], [13, 15]]]])
    assert _hints.wrong_dtype(np.zeros(2, np.float32), np.float32) is None
    assert _hints.kernel_flipped(np.ones(3), np.zeros(3)) is None
    assert _hints.ties_only(idx, idx, x) is None
    assert _hints.ties_only(idx, idx - 1, x) is None          # other values: not a tie
    assert _hints.times_n(np.ones(3), np.ones(3)) is None
    assert _hints.repeated_indices(np.zeros(2), np.ones(2), np.ones(2)) is None
    assert _hints.reused_value_overwritten(6.0, 6.0) is None
    assert _hints.uphill([3.0, 2.0, 1.0]) is None
    assert _hints.unbiased_variance(np.ones(2), np.zeros(2)) is None
    assert _hints.rows_not_channel_first(np.ones((4, 2)), np.ones((4, 2)), (1, 2, 2)) is None
    assert _hints.sum_to_shape((3, 1), (3, 1)) is None


def test_status_of_a_task():
    assert status("value", solution=True) == ("passing", "")
    state, detail = status("value")
    assert state in ("not started", "failing", "passing")
