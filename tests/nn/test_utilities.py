"""Containers and utilities: Sequential/ModuleList insert, extend, del, pop; ModuleDict,
ParameterList, ParameterDict; Identity, Unflatten, Dropout1d/2d; clip_grad_norm_,
clip_grad_value_; init.trunc_normal_ and orthogonal_ (opt-in PyTorch checks skip without torch)."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn import gradcheck


def test_sequential_insert_extend_delete_pop_renumber():
    a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU()
    seq = nn.Sequential(a, b)
    assert seq.extend([c]) is seq and list(seq) == [a, b, c]
    seq.insert(1, d)
    assert list(seq) == [a, d, b, c] and list(seq._modules) == ["0", "1", "2", "3"]
    seq.insert(-1, nn.Identity())
    assert isinstance(seq[3], nn.Identity) and seq[4] is c
    del seq[3]
    del seq[0]
    assert list(seq) == [d, b, c] and list(seq._modules) == ["0", "1", "2"]
    del seq[1:]
    assert list(seq) == [d]
    assert seq.pop(0) is d and len(seq) == 0
    with pytest.raises(IndexError):
        del seq[0]
    with pytest.raises(TypeError, match="Module"):
        seq.insert(0, lambda x: x)


def test_sequential_state_dict_after_delete_matches_pytorch_names():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    del seq[1]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    ml = nn.ModuleList([nn.ReLU(), nn.Linear(1, 1)])
    ml.insert(0, nn.Tanh())
    del ml[1]
    assert [type(m).__name__ for m in ml] == ["Tanh", "Linear"]
    assert list(ml.state_dict()) == ["1.weight", "1.bias"]


def test_module_dict():
    d = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    assert list(d) == ["conv", "act"] and "conv" in d and len(d) == 2
    assert list(d.state_dict()) == ["conv.weight", "conv.bias"]
    d["head"] = nn.Linear(2, 1)
    d.update([("act", nn.Tanh())])
    assert isinstance(d["act"], nn.Tanh) and list(d.keys()) == ["conv", "act", "head"]
    assert isinstance(d.pop("head"), nn.Linear) and "head" not in d
    del d["act"]
    assert [k for k, _ in d.items()] == ["conv"]
    with pytest.raises(TypeError, match="Module"):
        d["x"] = 3
    d.clear()
    assert len(d) == 0


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(np.zeros(2)), minicnn.tensor(np.ones(3))])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    pl.append(nn.Parameter(np.zeros((1, 2))))

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = pl
            self.pd = nn.ParameterDict({"scale": nn.Parameter(np.ones(1))})

    h = Holder()
    assert list(h.state_dict()) == ["ps.0", "ps.1", "ps.2", "pd.scale"]
    assert len(list(h.parameters())) == 4
    pl[0] = nn.Parameter(np.full(2, 5.0))
    assert pl[0].data[0] == 5 and pl[-1].shape == (1, 2)
    with pytest.raises(TypeError, match="Parameter"):
        pl.append(np.zeros(2))


def test_identity_and_unflatten(rng):
    x = minicnn.tensor(rng.standard_normal((2, 12)))
    assert nn.Identity(54, unused="x")(x) is x
    u = nn.Unflatten(1, (3, 2, 2))
    assert u(x).shape == (2, 3, 2, 2) and repr(u) == "Unflatten(dim=1, unflattened_size=(3, 2, 2))"
    assert nn.Unflatten(-1, (-1, 4))(x).shape == (2, 3, 4)
    np.testing.assert_array_equal(nn.Flatten()(u(x)).data, x.data)


def test_dropout2d_drops_whole_channels_and_gradchecks(rng):
    x = minicnn.tensor(rng.standard_normal((8, 6, 3, 3)) + 5, dtype=np.float64,
                       requires_grad=True)
    minicnn.manual_seed(0)
    y = F.dropout2d(x, 0.5).detach().numpy()
    zero = (y == 0).all(axis=(2, 3))
    kept = ~zero
    assert zero.any() and kept.any()
    np.testing.assert_allclose(y[kept], 2 * x.detach().numpy()[kept])
    drop = nn.Dropout2d(0.5)
    assert drop.eval()(x) is x
    assert repr(nn.Dropout2d(0.3)) == "Dropout2d(p=0.3, inplace=False)"
    assert F.dropout1d(minicnn.tensor(np.ones((2, 3, 4))), 0.5).shape == (2, 3, 4)

    def fn(x):
        minicnn.manual_seed(1)
        return F.dropout2d(x, 0.4)
    assert gradcheck(fn, (x,))
    with pytest.raises(ValueError, match="4-D"):
        F.dropout2d(minicnn.tensor(np.ones(3)))
    # PyTorch still takes an (N, C) input, with a warning: each entry is a channel
    with pytest.warns(UserWarning, match="2-D input to dropout2d"):
        y = nn.Dropout2d(0.5)(minicnn.ones(40, 50)).numpy()
    assert set(np.unique(y).tolist()) == {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    with pytest.warns(UserWarning, match="3-D input"):
        y = F.dropout2d(minicnn.ones(4, 30, 5)).numpy()
    assert ((y == 0).all(axis=2) | (y == 2).all(axis=2)).all()     # whole (n, c) rows


def _with_grads(rng, shapes, scale=1.0):
    params = [nn.Parameter(np.zeros(s)) for s in shapes]
    for p in params:
        p.grad = rng.standard_normal(p.shape) * scale
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_(rng, norm_type):
    params = _with_grads(rng, [(3, 4), (5,)], scale=3.0)
    flat = np.concatenate([p.grad.numpy().ravel() for p in params])
    before = np.linalg.norm(flat, ord=norm_type)
    total = nn.utils.clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
    assert isinstance(total, minicnn.Tensor)
    np.testing.assert_allclose(total.item(), before, rtol=1e-12)
    after = np.concatenate([p.grad.numpy().ravel() for p in params])
    np.testing.assert_allclose(after, flat / (before + 1e-6), rtol=1e-12)
    small = _with_grads(rng, [(2,)], scale=1e-3)
    g = small[0].grad.clone()
    nn.utils.clip_grad_norm_(small[0], 1.0)          # a single tensor; under the max: untouched
    np.testing.assert_array_equal(small[0].grad, g)


def test_clip_grad_norm_nonfinite_and_clip_grad_value_(rng):
    params = _with_grads(rng, [(4,)])
    params[0].grad[0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    params = _with_grads(rng, [(3, 3)], scale=2.0)
    nn.utils.clip_grad_value_(params, 0.5)
    assert np.abs(params[0].grad.numpy()).max() <= 0.5
    nn.utils.clip_grad_value_([nn.Parameter(np.zeros(2))], 1.0)    # no grad: skipped


def test_trunc_normal_and_orthogonal():
    minicnn.manual_seed(0)
    w = nn.init.trunc_normal_(np.empty(20000), mean=0.5, std=1.0, a=-1.0, b=1.5)
    assert w.min() >= -1.0 and w.max() <= 1.5
    # the truncated normal's mean: mu + std * (phi(alpha) - phi(beta)) / (Phi(beta) - Phi(alpha))
    phi = lambda v: math.exp(-v * v / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))        # noqa: E731
    expect = 0.5 + (phi(-1.5) - phi(1.0)) / (Phi(1.0) - Phi(-1.5))
    assert abs(w.mean() - expect) < 0.02
    for shape in [(3, 5), (5, 3), (4, 2, 3, 3)]:
        p = nn.Parameter(np.empty(shape))
        nn.init.orthogonal_(p, gain=2.0)
        m = p.detach().numpy().reshape(shape[0], -1)
        small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-10)
    with pytest.raises(ValueError, match="2 or more"):
        nn.init.orthogonal_(np.empty(3))


def test_clip_grad_norm_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    params = _with_grads(rng, [(3, 4), (5,)], scale=3.0)
    theirs = [torch.zeros(p.shape, dtype=torch.float64, requires_grad=True) for p in params]
    for t, p in zip(theirs, params):
        t.grad = torch.from_numpy(p.grad.numpy().copy())
    ours_total = nn.utils.clip_grad_norm_(params, 0.7, norm_type=3.0)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, 0.7, norm_type=3.0)
    np.testing.assert_allclose(ours_total.item(), their_total.item(), rtol=1e-12)
    for t, p in zip(theirs, params):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
