"""minicnn.testing: assert_close's PyTorch-like tolerances and messages, and the oracles' own
sanity (numerical_grad restores its input; the NumPy pool oracle by hand)."""
import re

import numpy as np
import pytest

import minicnn
from minicnn.testing import assert_close, numerical_grad, numpy_max_pool2d


@pytest.mark.parametrize("dtype, inside, outside", [
    (np.float32, 1e-6, 1e-4),     # rtol 1.3e-6, atol 1e-5 on values near 1
    (np.float64, 1e-8, 1e-6),     # rtol 1e-7, atol 1e-7
])
def test_assert_close_default_tolerances_follow_the_dtype(dtype, inside, outside):
    want = np.array([1.0, -2.0, 3.0], dtype)
    assert_close(want + dtype(inside), want)
    with pytest.raises(AssertionError, match="not close"):
        assert_close(want + dtype(outside), want)


def test_assert_close_message_counts_and_locates_the_mismatch():
    want = np.zeros((2, 3), np.float32)
    got = want.copy()
    got[1, 2] = 0.5
    with pytest.raises(AssertionError) as info:
        assert_close(got, want)
    message = str(info.value)
    assert message.startswith("Arrays are not close!")
    assert "Mismatched elements: 1 / 6 (16.7%)" in message
    assert re.search(r"Greatest absolute difference: 0\.5 at index \(1, 2\) "
                     r"\(up to 1e-05 allowed\)", message), message
    assert "(up to 1.3e-06 allowed)" in message


def test_assert_close_checks_shape_and_dtype_first():
    with pytest.raises(AssertionError, match=r"'shape' do not match: \(2,\) != \(3,\)"):
        assert_close(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError, match="'dtype' do not match: float64 != float32"):
        assert_close(np.zeros(2), np.zeros(2, np.float32))
    assert_close(np.zeros(2), np.zeros(2, np.float32), check_dtype=False)
    # Mixed dtypes are judged by the promoted dtype's tolerance (float64 here), as in PyTorch.
    with pytest.raises(AssertionError, match=r"up to 1e-07 allowed"):
        assert_close(np.ones(2) + 1e-6, np.ones(2, np.float32), check_dtype=False)


def test_assert_close_nan_integers_and_explicit_tolerances():
    with pytest.raises(AssertionError, match="nan at index"):
        assert_close(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    assert_close(np.array([1.0, np.nan, np.inf]), np.array([1.0, np.nan, np.inf]), equal_nan=True)
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 2"):
        assert_close(np.array([1, 2]), np.array([1, 3]))    # integers compare exactly
    assert_close(np.array([1.0]), np.array([1.5]), rtol=0.0, atol=0.5)
    with pytest.raises(ValueError, match="both rtol and atol"):
        assert_close(np.array([1.0]), np.array([1.0]), rtol=0.1)


def test_assert_close_msg_replaces_or_rewrites_the_message_and_takes_tensors():
    with pytest.raises(AssertionError, match="^custom$"):
        assert_close(np.array([1.0]), np.array([2.0]), msg="custom")
    with pytest.raises(AssertionError, match="^conv: Arrays are not close!"):
        assert_close(np.array([1.0]), np.array([2.0]), msg=lambda m: f"conv: {m}")
    with pytest.raises(AssertionError, match="Scalars are not close!"):
        assert_close(np.float64(1.0), np.float64(1.1))
    assert_close(minicnn.tensor([1.0, 2.0]), np.array([1.0, 2.0], np.float32))


def test_numerical_grad_is_the_derivative_and_restores_its_input():
    a = np.array([[0.5, -1.0], [2.0, 3.0]])
    before = a.copy()
    grad = numerical_grad(lambda v: float((v ** 3).sum()), a)
    np.testing.assert_allclose(grad, 3 * before ** 2, rtol=1e-8)
    np.testing.assert_array_equal(a, before)


def test_numpy_max_pool2d_by_hand():
    x = np.array([[1.0, 3.0, 2.0], [3.0, 0.0, np.nan], [4.0, 1.0, 5.0]])[None, None]
    y, idx = numpy_max_pool2d(x, 2, 1, 0)
    # A tie goes to the first maximum in row-major order; NaN wins its windows.
    np.testing.assert_array_equal(y[0, 0], [[3.0, np.nan], [4.0, np.nan]])
    np.testing.assert_array_equal(idx[0, 0], [[1, 5], [6, 5]])
    y, idx = numpy_max_pool2d(-np.ones((1, 1, 1, 1)), 3, 1, 1)   # padding never wins
    assert y[0, 0, 0, 0] == -1 and idx[0, 0, 0, 0] == 0
