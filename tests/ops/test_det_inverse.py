"""det and inverse (minicnn/ops/linalg.py; minicnn.linalg.det/inv, Tensor.det/inverse): NumPy
oracle, float64 gradcheck (singular matrices included for det), PyTorch's errors; values and
gradients against PyTorch when torch is importable."""
import numpy as np
import pytest

import minicnn
import minicnn.linalg
from minicnn.gradcheck import gradcheck


def _t(array, grad=True):
    return minicnn.tensor(np.asarray(array, dtype=np.float64), requires_grad=grad)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 2, 2), (1, 1), (5, 5)])
def test_det_and_inverse_match_numpy_and_gradcheck(shape):
    a = np.random.default_rng(sum(shape)).standard_normal(shape)
    A = _t(a)
    for fn in (minicnn.det, minicnn.linalg.det, minicnn.Tensor.det):
        np.testing.assert_allclose(fn(A).detach().numpy(), np.linalg.det(a), rtol=1e-10)
    for fn in (minicnn.inverse, minicnn.linalg.inv, minicnn.Tensor.inverse):
        np.testing.assert_allclose(fn(A).detach().numpy(), np.linalg.inv(a), rtol=1e-9,
                                   atol=1e-12)
    assert gradcheck(minicnn.det, [A]) and gradcheck(minicnn.inverse, [A])


@pytest.mark.parametrize("a", [[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]],   # rank 2
                               [[0.0, 0.0], [0.0, 0.0]],                              # rank 0
                               [[1.0, 2.0], [2.0, 4.0]]])                             # rank 1
def test_det_gradient_of_a_singular_matrix_is_its_cofactor_matrix(a):
    A = _t(a)
    minicnn.det(A).backward()
    a = np.asarray(a)
    n = len(a)
    cofactor = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                          if n > 1 else 1.0 for j in range(n)] for i in range(n)])
    np.testing.assert_allclose(A.grad.numpy(), cofactor, atol=1e-12)
    assert gradcheck(minicnn.det, [_t(a)])


def test_det_and_inverse_dtypes_and_empty_matrices():
    assert minicnn.det(minicnn.eye(3)).dtype == minicnn.float32
    assert minicnn.inverse(minicnn.eye(3)).dtype == minicnn.float32
    assert minicnn.det(minicnn.zeros(0, 0)).item() == 1.0
    assert minicnn.inverse(minicnn.zeros(3, 0, 0)).shape == (3, 0, 0)


@pytest.mark.parametrize("call,message", [
    (lambda: minicnn.det(minicnn.zeros(2, 3)), "2 by 3 matrices"),
    (lambda: minicnn.det(minicnn.zeros(2, 2, dtype=minicnn.int64)), "Got Long"),
    (lambda: minicnn.det(minicnn.zeros(2)), "at least 2 dimensions"),
    (lambda: minicnn.linalg.inv(minicnn.zeros(2, 2)), "singular"),
    (lambda: minicnn.inverse(minicnn.stack([minicnn.eye(2), minicnn.zeros(2, 2)])),
     r"batch element 1\) is singular"),
])
def test_errors_as_pytorch(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_against_pytorch():
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    rng = np.random.default_rng(7)
    for shape in [(3, 3), (2, 4, 4)]:
        a = rng.standard_normal(shape)
        for name in ("det", "inverse"):
            ours, theirs = _t(a), torch.tensor(a, requires_grad=True)
            out_m, out_t = getattr(minicnn, name)(ours), getattr(torch, name)(theirs)
            np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(),
                                       rtol=1e-10, atol=1e-12)
            g = rng.standard_normal(out_t.shape)
            out_m.backward(minicnn.tensor(g))
            out_t.backward(torch.tensor(g))
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8,
                                       atol=1e-10)
