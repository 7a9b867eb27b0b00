"""BatchNorm, LayerNorm, GroupNorm: NumPy oracles, float64 gradchecks, running statistics as
PyTorch, and opt-in comparisons with PyTorch (skipped when torch is not importable)."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn import gradcheck


def t64(rng, *shape, requires_grad=True):
    return minicnn.tensor(rng.standard_normal(shape), dtype=np.float64,
                          requires_grad=requires_grad)


def Z(*shape):
    return minicnn.tensor(np.zeros(shape, dtype=np.float32))


def _np_norm(x, axes, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# ----- functional: oracles and gradients -----------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 4, 5)])
def test_batch_norm_train_matches_numpy_and_updates_running_stats(rng, shape):
    x = rng.standard_normal(shape)
    w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    rm, rv = rng.standard_normal(shape[1]), rng.uniform(0.5, 2, shape[1])
    rm0, rv0 = rm.copy(), rv.copy()
    axes = (0,) + tuple(range(2, len(shape)))
    cs = (1, shape[1]) + (1,) * (len(shape) - 2)
    f64 = lambda a: minicnn.tensor(a, dtype=np.float64)  # noqa: E731
    y = F.batch_norm(f64(x), rm, rv, f64(w), f64(b), training=True, momentum=0.3)
    np.testing.assert_allclose(y.data, _np_norm(x, axes) * w.reshape(cs) + b.reshape(cs),
                               rtol=1e-10, atol=1e-12)
    n = x.size // shape[1]
    np.testing.assert_allclose(rm, 0.7 * rm0 + 0.3 * x.mean(axis=axes))
    np.testing.assert_allclose(rv, 0.7 * rv0 + 0.3 * x.var(axis=axes) * n / (n - 1))


def test_batch_norm_eval_uses_running_stats(rng):
    x = rng.standard_normal((4, 3, 2, 2))
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    y = F.batch_norm(minicnn.tensor(x, dtype=np.float64), rm, rv, training=False, eps=1e-3)
    expect = (x - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + 1e-3)
    np.testing.assert_allclose(y.data, expect, rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 2)])
def test_batch_norm_gradcheck(rng, shape, training):
    x, w, b = t64(rng, *shape), t64(rng, shape[1]), t64(rng, shape[1])
    rm, rv = rng.standard_normal(shape[1]), rng.uniform(0.5, 2, shape[1])
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm.copy(), rv.copy(), w, b, training),
                     (x, w, b))


def test_batch_norm_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(Z(1, 3), None, None, training=True)


@pytest.mark.parametrize("shape,normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_layer_norm_matches_numpy_and_gradcheck(rng, shape, normalized):
    x, w, b = t64(rng, *shape), t64(rng, *normalized), t64(rng, *normalized)
    axes = tuple(range(len(shape) - len(normalized), len(shape)))
    y = F.layer_norm(x, normalized, w, b)
    xa, wa, ba = x.detach().numpy(), w.detach().numpy(), b.detach().numpy()
    np.testing.assert_allclose(y.data, _np_norm(xa, axes) * wa + ba, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, normalized, w, b), (x, w, b))
    assert gradcheck(lambda x: F.layer_norm(x, normalized), (x,))


@pytest.mark.parametrize("shape,G", [((2, 4, 3), 2), ((3, 6, 2, 2), 3), ((2, 4), 4)])
def test_group_norm_matches_numpy_and_gradcheck(rng, shape, G):
    x, w, b = t64(rng, *shape), t64(rng, shape[1]), t64(rng, shape[1])
    cs = (1, shape[1]) + (1,) * (len(shape) - 2)
    expect = _np_norm(x.detach().numpy().reshape(shape[0], G, -1), (2,)).reshape(shape)
    y = F.group_norm(x, G, w, b)
    wa, ba = w.detach().numpy().reshape(cs), b.detach().numpy().reshape(cs)
    np.testing.assert_allclose(y.data, expect * wa + ba, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda x, w, b: F.group_norm(x, G, w, b), (x, w, b))


def test_norm_argument_errors():
    with pytest.raises(ValueError, match="divisible by num_groups"):
        F.group_norm(Z(2, 3, 4), 2)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(Z(2, 3), (4,))
    with pytest.raises(ValueError, match="num_channels"):
        nn.GroupNorm(2, 3)
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(Z(2, 3))
    with pytest.raises(TypeError, match="num_features"):
        nn.BatchNorm1d(2.0)


# ----- modules ----------------------------------------------------------------------------------

def test_batchnorm2d_buffers_state_dict_and_modes(rng):
    bn = nn.BatchNorm2d(3)
    assert repr(bn) == "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, " \
                       "track_running_stats=True)"
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == np.int64
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    bn(minicnn.tensor(x))
    bn(minicnn.tensor(x))
    assert int(bn.num_batches_tracked.data) == 2
    mean = x.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(bn.running_mean.data, (1 - 0.9 ** 2) * mean, rtol=1e-5)
    bn.eval()
    y = bn(minicnn.tensor(x))
    rm, rv = bn.running_mean.numpy().reshape(1, 3, 1, 1), bn.running_var.numpy().reshape(1, 3, 1, 1)
    np.testing.assert_allclose(y.data, (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.data) == 2   # eval leaves the statistics alone


def test_batchnorm_momentum_none_is_a_cumulative_average(rng):
    bn = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    xs = [rng.standard_normal((5, 2)) for _ in range(3)]
    for x in xs:
        bn(minicnn.tensor(x, dtype=np.float64))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(0) for x in xs], axis=0))


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval(rng):
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False, dtype=np.float64).eval()
    assert bn.running_mean is None and list(bn.state_dict()) == []
    x = rng.standard_normal((6, 2))
    np.testing.assert_allclose(bn(minicnn.tensor(x, dtype=np.float64)).data, _np_norm(x, (0,)))


def test_norm_layers_repr_and_parameters():
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True)"
    assert [p.shape for p in nn.LayerNorm((2, 3)).parameters()] == [(2, 3), (2, 3)]
    assert list(nn.LayerNorm(3, bias=False).state_dict()) == ["weight"]
    assert list(nn.GroupNorm(1, 2, affine=False).parameters()) == []


# ----- opt-in: the same numbers as PyTorch -------------------------------------------------

def test_norm_layers_match_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    x = rng.standard_normal((4, 6, 3, 3))
    g = rng.standard_normal(x.shape)
    pairs = [(nn.BatchNorm2d(6, momentum=0.2, dtype=np.float64),
              torch.nn.BatchNorm2d(6, momentum=0.2).double()),
             (nn.GroupNorm(3, 6, dtype=np.float64), torch.nn.GroupNorm(3, 6).double()),
             (nn.LayerNorm((3, 3), dtype=np.float64), torch.nn.LayerNorm((3, 3)).double())]
    for ours, theirs in pairs:
        with torch.no_grad():
            for p in theirs.parameters():
                p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        for mode in ("train", "eval", "train"):
            getattr(ours, mode)(), getattr(theirs, mode)()
            xm = minicnn.tensor(x, dtype=np.float64, requires_grad=True)
            xt = torch.tensor(x, requires_grad=True)
            y, yt = ours(xm), theirs(xt)
            (y * minicnn.tensor(g, dtype=np.float64)).sum().backward()
            (yt * torch.from_numpy(g)).sum().backward()
            np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-9, atol=1e-10)
            np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
            for name, p in theirs.named_parameters():
                np.testing.assert_allclose(getattr(ours, name).grad, p.grad.numpy(),
                                           rtol=1e-8, atol=1e-10)
                p.grad = None
            ours.zero_grad()
            for name, buf in theirs.named_buffers():
                np.testing.assert_allclose(getattr(ours, name).data, buf.numpy(), rtol=1e-12)


def test_batchnorm_cnn_matches_torch_with_the_same_weights(rng):
    """A BatchNorm CNN: PyTorch's outputs, loss, gradients and running statistics, over a few
    SGD steps in train mode and then in eval mode (opt-in)."""
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")

    def build(m):
        return m.Sequential(m.Conv2d(2, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(),
                            m.MaxPool2d(2), m.Flatten(), m.Linear(4 * 3 * 3, 5),
                            m.BatchNorm1d(5), m.ReLU(), m.Linear(5, 3))

    theirs = build(torch.nn).double()
    ours = build(nn).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    opt = minicnn.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    x = rng.standard_normal((6, 2, 6, 6))
    y = rng.integers(0, 3, 6)
    for mode in ("train", "train", "train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        loss = F.cross_entropy(ours(minicnn.tensor(x, dtype=np.float64)), y)
        tloss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)),
                                                  torch.from_numpy(y))
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
        opt.zero_grad(), topt.zero_grad()
        loss.backward(), tloss.backward()
        for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-8, atol=1e-12,
                                       err_msg=name)
        opt.step(), topt.step()
        for (name, b), (_, tb) in zip(ours.named_buffers(), theirs.named_buffers()):
            np.testing.assert_allclose(b.data, tb.numpy(), rtol=1e-10, err_msg=name)
