"""Fuzzing the kernel boundary: random and adversarial arguments never crash the interpreter.

Two parts:

* Regression tests, in process, for what the fuzzer found (each names the bug it pins).
* The fuzzer: a seeded batch of cases run in a *subprocess* (this file, run as a script), so a
  segfault or abort in a compiled kernel fails one test, naming the last case started, instead
  of killing pytest. Every case must either return what the readable twin returns, or raise a
  TypeError/ValueError/IndexError/OverflowError whose message names an argument it was given.
"""
import numpy as np
import pytest

import minicnn.kernels as K

# ---------------------------------------------------------------------------------------------
# Regressions
# ---------------------------------------------------------------------------------------------

X = np.ones((1, 1, 4, 4), np.float32)
W = np.ones((1, 1, 3, 3), np.float32)
G1 = np.ones((1, 1, 1, 1), np.float32)

HUGE = [2 ** 31, 2 ** 32, 2 ** 40, 2 ** 63, 2 ** 64, np.uint64(2 ** 63)]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("call, name", [
    (lambda v: K.conv2d_forward(X, W, stride=v), "stride"),
    (lambda v: K.conv2d_forward(X, W, stride=(1, v)), "stride"),
    (lambda v: K.conv2d_forward(X, W, padding=v), "padding"),
    (lambda v: K.conv2d_forward(X, W, dilation=v), "dilation"),
    (lambda v: K.conv2d_forward(X, W, groups=v), "groups"),
    (lambda v: K.conv2d_backward_input(G1, W, X.shape, stride=v), "stride"),
    (lambda v: K.conv2d_backward_weight(X, G1, W.shape, stride=(v, 1)), "stride"),
    (lambda v: K.max_pool2d_forward(X, 2, stride=v), "stride"),
    (lambda v: K.max_pool2d_forward(X, v), "kernel_size"),
    (lambda v: K.avg_pool2d_forward(X, 2, stride=v), "stride"),
    (lambda v: K.avg_pool2d_forward(X, v, padding=v // 2), "kernel_size"),
    (lambda v: K.avg_pool2d_backward(G1, X.shape, 4, stride=v), "stride"),
])
def test_huge_geometry_ints_raise_value_error_naming_them(call, name, value):
    # Bug: a stride of 2**31 reached Cython's int conversion and raised a bare
    # "OverflowError: value too large to convert to int"; a pooling kernel of 2**32 (with
    # padding, so the window fits) overflowed KH*KW inside avg_pool2d and returned inf.
    with pytest.raises(ValueError, match=rf"{name} must be <= 2\*\*31 - 1"):
        call(int(value))


def test_set_num_threads_refuses_more_than_a_c_int():
    with pytest.raises(ValueError, match="number of threads"):
        K.set_num_threads(2 ** 31)


def test_largest_c_int_stride_and_pool_kernel_still_work():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    big = 2 ** 31 - 1
    y = K.conv2d_forward(x, np.ones((1, 1, 1, 1)), stride=big)
    assert y.shape == (1, 1, 1, 1) and y[0, 0, 0, 0] == 0.0
    # One window covering everything: the mean over KH*KW = big**2 cells, padding included.
    y = K.avg_pool2d_forward(x, big, padding=big // 2)
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == pytest.approx(x.sum() / big ** 2, rel=1e-12)


@pytest.mark.parametrize("call, names", [
    # Bug: numpy's bare "array is too big" (or a MemoryError of 14 TiB) instead of naming the
    # argument that made the arrays so large.
    (lambda: K.conv2d_forward(X, W, padding=2 ** 30), ["padding", "padded input"]),
    (lambda: K.conv2d_forward(X, W, padding=10 ** 6), ["padding", "padded input"]),
    (lambda: K.conv2d_forward(G1, G1, stride=2 ** 30, padding=2 ** 29), ["padding"]),
    (lambda: K.conv2d_backward_input(G1, G1, (1, 1, 2 ** 40, 3)), ["input shape"]),
    (lambda: K.max_pool2d_backward(G1, np.zeros((1, 1, 1, 1), np.int64),
                                   (1, 1, 2 ** 40, 2 ** 40)), ["x_shape"]),
    (lambda: K.avg_pool2d_backward(G1, (1, 1, 2 ** 62, 1), 1), ["x_shape"]),
    (lambda: K.conv2d_backward_weight(np.ones((0, 1, 1, 1), np.float32),
                                      np.ones((0, 1, 1, 1), np.float32),
                                      (2 ** 62, 1, 1, 1)), ["w_shape"]),
])
def test_oversized_arrays_raise_value_error_naming_the_cause(call, names):
    with pytest.raises(ValueError) as info:
        call()
    assert any(n in str(info.value) for n in names), str(info.value)
