"""Tests of minicnn.gradcheck: it passes correct gradients and pinpoints wrong ones."""
import numpy as np
import pytest

import minicnn
from minicnn import Function, GradcheckError, gradcheck


def t64(rng, *shape, requires_grad=True):
    return minicnn.tensor(rng.standard_normal(shape), dtype=np.float64,
                          requires_grad=requires_grad)


class Cube(Function):
    """A learner's own op, written the documented way."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_out):
        x, = ctx.saved_tensors
        return grad_out * 3 * x ** 2          # d(x^3)/dx = 3x^2


class WeightedSum(Function):
    """out[i] = sum_j w[i, j] * x[j], with a backward that can be broken at one element."""

    bug_at = None   # (row, col) of grad_w that gets a wrong value, or None

    @staticmethod
    def forward(ctx, w, x):
        ctx.save_for_backward(w, x)
        return w @ x

    @staticmethod
    def backward(ctx, grad_out):
        w, x = ctx.saved_tensors
        grad_w = np.outer(grad_out, x)        # d(Wx)/dW = g x^T
        grad_x = w.T @ grad_out               # d(Wx)/dx = W^T g
        if WeightedSum.bug_at is not None:
            grad_w = grad_w.copy()
            grad_w[WeightedSum.bug_at] += 0.5
        return grad_w, grad_x


def test_passes_on_a_learners_function():
    x = t64(np.random.default_rng(0), 3, 4)
    assert gradcheck(Cube.apply, (x,)) is True
    assert gradcheck(Cube.apply, x) is True   # a single Tensor is accepted too


def test_catches_a_wrong_backward_and_names_input_and_index():
    rng = np.random.default_rng(1)
    w, x = t64(rng, 3, 4), t64(rng, 4)
    WeightedSum.bug_at = None
    assert gradcheck(WeightedSum.apply, (w, x))
    WeightedSum.bug_at = (2, 1)
    try:
        with pytest.raises(GradcheckError) as info:
            gradcheck(WeightedSum.apply, (w, x))
    finally:
        WeightedSum.bug_at = None
    err = info.value
    message = str(err)
    assert "input 0 (shape (3, 4))" in message
    assert "index (2, 1)" in message
    assert "numeric" in message and "analytic" in message and "tolerance" in message
    assert err.input_index == 0 and err.index == (2, 1)
    # The reported values are the real ones: the bug adds exactly 0.5 to that element.
    assert err.analytic - err.numeric == pytest.approx(0.5, abs=1e-6)
    assert isinstance(err, AssertionError)


def test_catches_a_wrong_gradient_of_the_second_input():
    class BadSecond(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad_out):
            a, b = ctx.saved_tensors
            return grad_out * b, grad_out * a * 1.01   # 1% off

    rng = np.random.default_rng(2)
    a, b = t64(rng, 2, 3), t64(rng, 2, 3)
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 3\)\)") as info:
        gradcheck(BadSecond.apply, (a, b))
    assert info.value.input_index == 1
    assert gradcheck(BadSecond.apply, (a, b), rtol=0.05, atol=1e-3)   # within a looser tolerance
    assert gradcheck(BadSecond.apply, (a, b.detach()))   # b not checked when it needs no grad


def test_raise_exception_false_returns_false():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad_out):
            return grad_out * 3

    x = t64(np.random.default_rng(3), 4)
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False


def test_nan_gradient_is_reported():
    class NanGrad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad_out):
            g = grad_out.copy()
            g[1] = np.nan
            return g

    x = t64(np.random.default_rng(4), 3)
    with pytest.raises(GradcheckError, match=r"index \(1,\)"):
        gradcheck(NanGrad.apply, (x,))


def test_requires_float64_leaves():
    rng = np.random.default_rng(5)
    x32 = minicnn.tensor(rng.standard_normal(3), dtype=np.float32, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x * 2, (x32,))
    x = t64(rng, 3)
    with pytest.raises(ValueError, match="leaf"):
        gradcheck(lambda x: x * 2, (x * 1,))
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda x: x * 2, (x.detach(),))
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x.float(), (x,))
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda x: x.detach().numpy(), (x,))   # an ndarray
    with pytest.raises(TypeError, match="inputs must be"):
        gradcheck(lambda x: x, x.detach().numpy())
    with pytest.raises(ValueError, match="eps"):
        gradcheck(lambda x: x, (x,), eps=0)


def test_leaves_inputs_untouched():
    rng = np.random.default_rng(6)
    x, y = t64(rng, 2, 3), t64(rng, 3)
    x.grad = np.full((2, 3), 7.0)
    before = x.data.clone()
    data_object, ptr = x.detach().numpy(), x.data_ptr()
    assert gradcheck(lambda x, y: (x * y).tanh(), (x, y))
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 7.0))
    assert y.grad is None
    assert x.data_ptr() == ptr and np.shares_memory(x.detach().numpy(), data_object)
    np.testing.assert_array_equal(x.data, before)


def test_non_tensor_arguments_and_tuple_outputs():
    rng = np.random.default_rng(7)
    x, y = t64(rng, 3), t64(rng, 3)

    def fn(x, scale, y):
        return x * scale, (x * y).sum()

    assert gradcheck(fn, (x, 2.5, y))


def test_output_that_does_not_depend_on_the_input():
    x = t64(np.random.default_rng(8), 3)
    const = minicnn.tensor(np.ones(3), dtype=np.float64)
    assert gradcheck(lambda x: const * 2, (x,))    # zero gradient on both sides


def test_read_only_input_data():
    data = np.random.default_rng(9).standard_normal(4)
    data.flags.writeable = False
    x = minicnn.Tensor(data, requires_grad=True)
    assert gradcheck(lambda x: x.exp(), (x,))
    assert x.data_ptr() == data.ctypes.data and np.shares_memory(x.detach().numpy(), data)


def test_gradcheck_leaves_minicnn_random_stream_untouched():
    minicnn.manual_seed(3)
    expected = minicnn.rng.get_rng().standard_normal(4)
    minicnn.manual_seed(3)
    x = minicnn.tensor(np.arange(1.0, 4.0), dtype=np.float64, requires_grad=True)
    assert minicnn.gradcheck(lambda t: t * t, (x,))
    np.testing.assert_array_equal(minicnn.rng.get_rng().standard_normal(4), expected)


def test_input_is_restored_when_fn_raises_during_the_numeric_pass():
    data = np.array([0.5, -1.25, 2.0])
    x = minicnn.tensor(data.copy(), dtype=np.float64, requires_grad=True)
    calls = []

    def fn(t):
        calls.append(1)
        if len(calls) == 3:  # the analytic pass, then the first nudge up; fail on the nudge down
            raise RuntimeError("fn failed mid-way")
        return (t * t).sum()

    with pytest.raises(RuntimeError, match="mid-way"):
        gradcheck(fn, (x,))
    np.testing.assert_array_equal(x.data, data)
