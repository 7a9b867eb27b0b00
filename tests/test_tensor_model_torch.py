"""The Tensor model against PyTorch itself (opt-in: skipped when ``torch`` is not importable).

Random programs of views and in-place ops, drawn with a fixed seed, run line for line in
minicnn and in PyTorch: values, gradients, dtypes, ``requires_grad`` and ``is_leaf`` must agree,
and so must whether backward raises (an in-place change of a value saved for backward) and
whether an in-place op is refused (on one of the views that split/chunk/unbind return).
"""
import numpy as np
import pytest

import minicnn

from tensor_programs import describe, draw, run

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("seed", range(200))
def test_random_views_and_inplace_ops_match_pytorch(seed):
    program, x0, a0, w0 = draw(seed)
    ours, theirs = run(minicnn, program, x0, a0, w0), run(torch, program, x0, a0, w0)
    described = describe(program)
    if theirs.get("error") and "error" not in ours and any(o == "relu_" for _, o in described):
        # The one known difference: minicnn's relu saves a mask, not its output, so changing
        # the output in place later leaves its backward right; PyTorch's relu saves the output
        # and refuses. minicnn's gradient is then checked by gradcheck in test_tensor_model.py.
        return
    assert ours.keys() == theirs.keys(), (described, ours.get("error"), theirs.get("error"))
    for key, value in theirs.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(ours[key], value, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{key} after {described}")
        else:
            assert ours[key] == value, (key, described)


PROMOTIONS = [
    lambda lib: lib.tensor(np.array([1, 2], np.uint8)) / 255,
    lambda lib: lib.ones(2) * lib.tensor([1, 2]),
    lambda lib: lib.ones(2) + lib.tensor(2.0, dtype=lib.float64),
    lambda lib: lib.tensor([1, 2]) * 2.5,
    lambda lib: lib.tensor([1, 2], dtype=lib.int8) + lib.tensor(300),
    lambda lib: lib.tensor([1, 2], dtype=lib.int8) + lib.tensor([1], dtype=lib.uint8),
    lambda lib: lib.tensor([True]) + lib.tensor([1, 2], dtype=lib.int32),
    lambda lib: lib.tensor([True, False]) + True,
    lambda lib: lib.tensor([1, 2]) / lib.tensor([2, 2]),
    lambda lib: lib.tensor([1., 2.], dtype=lib.float16) * 2.0,
    lambda lib: lib.tensor([1, 2], dtype=lib.int32) + 1,
    lambda lib: lib.tensor([1, 2], dtype=lib.int16) * lib.tensor(2.0),
    lambda lib: lib.tensor(3, dtype=lib.uint8) + lib.tensor(-1, dtype=lib.int8),
    lambda lib: lib.tensor([1.5], dtype=lib.float64) * lib.tensor([2], dtype=lib.int64),
    lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), 0.5),
    lambda lib: lib.cat([lib.tensor([1], dtype=lib.int32), lib.tensor([1.5])]),
]


@pytest.mark.parametrize("i", range(len(PROMOTIONS)))
def test_type_promotion_matches_pytorch(i):
    ours, theirs = PROMOTIONS[i](minicnn), PROMOTIONS[i](torch)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64", "float16",
                                   "float32", "float64", "bool"])
def test_tensor_of_an_ndarray_keeps_the_dtype_pytorch_keeps(dtype):
    array = np.zeros(2, dtype)
    assert str(minicnn.tensor(array).dtype).split(".")[-1] == \
        str(torch.tensor(array).dtype).split(".")[-1]
