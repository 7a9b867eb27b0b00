"""repeat_interleave (ops/shape.py), tan and rsqrt (ops/pointwise.py): NumPy oracle, float64
gradcheck, PyTorch's forms and errors; against PyTorch when torch is importable."""
import numpy as np
import pytest

import minicnn
from minicnn.gradcheck import gradcheck


def _t(array, grad=True):
    return minicnn.tensor(np.asarray(array, dtype=np.float64), requires_grad=grad)


@pytest.mark.parametrize("shape,repeats,dim", [
    ((2, 3), 2, None), ((2, 3), 3, 1), ((2, 3), [1, 0, 2], 1), ((2, 3), [2, 1], 0),
    ((4,), [0, 0, 0, 0], 0), ((2, 3), [2], -1), ((), 3, None), ((0, 3), 2, 0)])
def test_repeat_interleave_matches_numpy_and_gradcheck(shape, repeats, dim):
    a = np.random.default_rng(0).standard_normal(shape)
    x = _t(a)
    r = minicnn.tensor(repeats) if isinstance(repeats, list) else repeats
    out = minicnn.repeat_interleave(x, r, dim)
    expected = np.repeat(a.reshape(-1) if dim is None else a,
                         np.broadcast_to(repeats, a.shape[dim] if dim is not None else a.size)
                         if isinstance(repeats, list) else repeats,
                         axis=0 if dim is None else dim)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    np.testing.assert_array_equal(x.repeat_interleave(r, dim=dim).detach().numpy(), expected)
    if out.numel():
        assert gradcheck(lambda t: minicnn.repeat_interleave(t, r, dim), [x])


def test_repeat_interleave_of_counts_alone_and_output_size():
    idx = minicnn.repeat_interleave(minicnn.tensor([2, 0, 1]))
    assert idx.dtype == minicnn.int64 and idx.tolist() == [0, 0, 2]
    x = minicnn.tensor([1.0, 2.0])
    assert minicnn.repeat_interleave(x, 2, output_size=4).tolist() == [1.0, 1.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="output_size"):
        minicnn.repeat_interleave(x, 2, output_size=3)
    with pytest.raises(RuntimeError, match="1 or 2 entries"):
        x.repeat_interleave(minicnn.tensor([1, 2, 3]))
    with pytest.raises(RuntimeError, match="negative"):
        x.repeat_interleave(-1)
    with pytest.raises(TypeError, match="integer"):
        x.repeat_interleave(minicnn.tensor([1.0, 2.0]))


@pytest.mark.parametrize("name,oracle", [("tan", np.tan), ("rsqrt", lambda a: 1 / np.sqrt(a))])
def test_tan_and_rsqrt(name, oracle):
    a = np.random.default_rng(1).uniform(0.1, 1.4, (3, 4))
    x = _t(a)
    fn = getattr(minicnn, name)
    np.testing.assert_allclose(fn(x).detach().numpy(), oracle(a), rtol=1e-12)
    np.testing.assert_allclose(getattr(x, name)().detach().numpy(), oracle(a), rtol=1e-12)
    assert gradcheck(fn, [x])
    y = minicnn.tensor(a.astype(np.float32))
    getattr(y, name + "_")()
    np.testing.assert_allclose(y.numpy(), oracle(a), rtol=1e-5)
    assert fn(minicnn.tensor([1, 2])).dtype == minicnn.float32      # ints compute in float32


def test_rsqrt_edges_as_pytorch():
    out = minicnn.rsqrt(minicnn.tensor([0.0, -1.0, 4.0]))
    assert np.isinf(out[0].item()) and np.isnan(out[1].item()) and out[2].item() == 0.5


def test_against_pytorch():
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    a = np.random.default_rng(2).uniform(0.1, 1.4, (2, 3))
    for call in (lambda L, t: L.tan(t), lambda L, t: L.rsqrt(t),
                 lambda L, t: L.repeat_interleave(t, 2, 0),
                 lambda L, t: t.repeat_interleave(L.tensor([1, 0, 2]), dim=1)):
        ours, theirs = _t(a), torch.tensor(a, requires_grad=True)
        out_m, out_t = call(minicnn, ours), call(torch, theirs)
        np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=1e-12)
        out_m.sum().backward()
        out_t.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
