"""ELU, SELU, SiLU, Softplus, Hardtanh, ReLU6, PReLU, Softmax, LogSoftmax: NumPy oracles, float64
gradchecks, modules, and (opt-in, skipped without torch) PyTorch's values and gradients."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn import gradcheck

SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def away(rng, *shape, lo=0.05):
    """Values away from the kinks at 0 (and from +-1 and 6 for the clips)."""
    x = np.where(rng.random(shape) < 0.5, -1, 1) * rng.uniform(lo, 3, shape)
    x[np.isclose(np.abs(x), 1, atol=0.05)] += 0.2
    return minicnn.tensor(x, dtype=np.float64, requires_grad=True)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


ORACLES = [
    ("elu", lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    ("selu", F.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * (np.exp(x) - 1))),
    ("silu", F.silu, lambda x: x * sigmoid(x)),
    ("softplus", lambda x: F.softplus(x, 2.0, 4.0),
     lambda x: np.where(2 * x > 4, x, np.log1p(np.exp(2 * x)) / 2)),
    ("hardtanh", lambda x: F.hardtanh(x, -1.5, 2.0), lambda x: np.clip(x, -1.5, 2.0)),
    ("relu6", lambda x: F.relu6(x * 3), lambda x: np.clip(3 * x, 0, 6)),
]


@pytest.mark.parametrize("name,fn,oracle", ORACLES, ids=[o[0] for o in ORACLES])
def test_activation_matches_numpy_and_gradcheck(rng, name, fn, oracle):
    x = away(rng, 3, 4, 5)
    xa = x.detach().numpy()  # shares x's memory
    if name == "relu6":  # keep 3x away from 6 as well
        xa[np.abs(3 * xa - 6) < 0.1] += 0.1
    y = fn(x)
    assert y.dtype == np.float64 and y.shape == x.shape
    np.testing.assert_allclose(y.data, oracle(xa), rtol=1e-12, atol=1e-14)
    assert gradcheck(fn, (x,))
    y32 = fn(x.detach().float())
    assert y32.dtype == np.float32


def test_softplus_and_elu_are_finite_for_large_inputs():
    x = minicnn.tensor(np.array([-1000.0, 1000.0]), dtype=np.float64)
    assert np.isfinite(F.softplus(x, threshold=1e6).numpy()).all()
    assert np.isfinite(F.elu(x).numpy()).all() and np.isfinite(F.silu(x).numpy()).all()


@pytest.mark.parametrize("shape,n", [((3, 4, 2, 2), 4), ((3, 4), 1), ((5,), 1)])
def test_prelu_matches_numpy_and_gradcheck(rng, shape, n):
    x = away(rng, *shape)
    w = minicnn.tensor(rng.uniform(0.1, 0.5, n), dtype=np.float64, requires_grad=True)
    xa, wa = x.detach().numpy(), w.detach().numpy()
    wb = wa.reshape((1, -1) + (1,) * (len(shape) - 2)) if n > 1 else wa[0]
    np.testing.assert_allclose(F.prelu(x, w).data, np.where(xa > 0, xa, wb * xa))
    assert gradcheck(F.prelu, (x, w))


def test_activation_modules():
    assert repr(nn.ELU(0.5, inplace=True)) == "ELU(alpha=0.5, inplace=True)"
    assert repr(nn.ReLU6()) == "ReLU6()"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.2, inplace=True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert nn.SiLU(inplace=True).inplace and nn.SELU(inplace=True).inplace
    p = nn.PReLU(3)
    assert [q.shape for q in p.parameters()] == [(3,)] and (p.weight.data == 0.25).all()
    with pytest.raises(ValueError, match="max_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(TypeError, match="inplace"):
        nn.ELU(inplace=1)
    with pytest.raises(ValueError, match="channels"):
        p(minicnn.tensor(np.zeros((2, 4))))


def test_softmax_modules_and_the_implicit_dim(rng):
    x = minicnn.tensor(rng.standard_normal((2, 3)), dtype=np.float64)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).numpy().sum(axis=1), 1)
    np.testing.assert_allclose(nn.LogSoftmax(dim=0)(x).data, F.log_softmax(x, 0).data)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(x)
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1)   # 2-D input: dim 1, as PyTorch


def test_activations_match_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    x = away(rng, 2, 3, 4)
    g = rng.standard_normal(x.shape)
    pairs = [(nn.ELU(0.6), torch.nn.ELU(0.6)), (nn.SELU(), torch.nn.SELU()),
             (nn.SiLU(), torch.nn.SiLU()), (nn.Softplus(1.5, 2.0), torch.nn.Softplus(1.5, 2.0)),
             (nn.Hardtanh(-0.5, 1.5), torch.nn.Hardtanh(-0.5, 1.5)),
             (nn.ReLU6(), torch.nn.ReLU6()), (nn.Softmax(2), torch.nn.Softmax(2)),
             (nn.LogSoftmax(1), torch.nn.LogSoftmax(1)),
             (nn.PReLU(3, dtype=np.float64), torch.nn.PReLU(3, init=0.25).double())]
    for ours, theirs in pairs:
        xm = minicnn.tensor(x.detach().numpy() * 3, dtype=np.float64, requires_grad=True)
        xt = torch.tensor(x.detach().numpy() * 3, requires_grad=True)
        y, yt = ours(xm), theirs(xt)
        (y * minicnn.tensor(g, dtype=np.float64)).sum().backward()
        (yt * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-14)
        if isinstance(ours, nn.PReLU):
            np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12)
