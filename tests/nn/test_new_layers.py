"""Embedding/EmbeddingBag, Fold/Unfold, PixelShuffle/ChannelShuffle, the lazy layers and
parameters_to_vector: NumPy oracles, float64 gradchecks, opt-in PyTorch comparisons."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn import gradcheck


def t64(a, requires_grad=True):
    return minicnn.tensor(np.asarray(a, dtype=np.float64), dtype=np.float64,
                          requires_grad=requires_grad)


def arr(t):
    return t.detach().numpy()


def ints(a):
    return minicnn.tensor(np.asarray(a, dtype=np.int64))


# ----- embedding ----------------------------------------------------------------------------

def test_embedding_matches_numpy_and_gradcheck(rng):
    w = t64(rng.standard_normal((7, 4)))
    idx = np.array([[0, 3, 3], [6, 1, 3]])
    y = F.embedding(ints(idx), w)
    np.testing.assert_array_equal(y.detach().numpy(), w.detach().numpy()[idx])
    assert gradcheck(lambda w: F.embedding(ints(idx), w), (w,))
    y = F.embedding(ints(idx), w, padding_idx=3)
    (y * t64(rng.standard_normal(y.shape), False)).sum().backward()
    assert np.all(w.grad.detach().numpy()[3] == 0) and np.all(w.grad.detach().numpy()[6] != 0)
    counts = np.bincount(idx.ravel(), minlength=7)
    w.grad = None
    F.embedding(ints(idx), w).sum().backward()
    np.testing.assert_array_equal(w.grad.detach().numpy(), np.repeat(counts[:, None], 4, axis=1))


def test_embedding_errors():
    w = t64(np.ones((5, 3)))
    with pytest.raises(TypeError, match="Long, Int"):
        F.embedding(t64([1.0]), w)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(ints([5]), w)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(NotImplementedError):
        F.embedding(ints([1]), w, sparse=True)


def test_embedding_module_init_padding_and_max_norm(rng):
    minicnn.manual_seed(0)
    emb = nn.Embedding(6, 5, padding_idx=-1)
    assert emb.padding_idx == 5 and repr(emb) == "Embedding(6, 5, padding_idx=5)"
    assert np.all(emb.weight.detach().numpy()[5] == 0) and emb.weight.dtype == np.float32
    emb = nn.Embedding(6, 5, max_norm=1.0, dtype=np.float64)
    before = emb.weight.detach().numpy().copy()
    out = emb(ints([0, 2, 2]))
    norms = np.linalg.norm(before, axis=1)
    for r in range(6):
        if r in (0, 2) and norms[r] > 1:
            np.testing.assert_allclose(arr(emb.weight)[r], before[r] / (norms[r] + 1e-7))
        else:
            np.testing.assert_array_equal(emb.weight.detach().numpy()[r], before[r])
    np.testing.assert_array_equal(out.detach().numpy(), emb.weight.detach().numpy()[[0, 2, 2]])


def test_embedding_from_pretrained():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb = nn.Embedding.from_pretrained(minicnn.tensor(table), padding_idx=1)
    assert not emb.weight.requires_grad and emb.padding_idx == 1
    np.testing.assert_array_equal(emb(ints([1, 3])).detach().numpy(), table[[1, 3]])
    assert nn.Embedding.from_pretrained(minicnn.tensor(table), freeze=False).weight.requires_grad
    with pytest.raises(ValueError, match="2-dimensional"):
        nn.Embedding.from_pretrained(minicnn.tensor(table[0]))


def _bag_oracle(w, idx, offsets, mode, psw=None, padding_idx=None):
    ends = list(offsets[1:]) + [len(idx)]
    out = []
    for s, e in zip(offsets, ends):
        rows = [w[i] * (1 if psw is None else psw[k]) for k, i in enumerate(idx[s:e], s)
                if i != padding_idx]
        if not rows:
            out.append(np.zeros(w.shape[1]))
            continue
        rows = np.array(rows)
        out.append({"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode])
    return np.array(out)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_offsets_vs_oracle_and_gradcheck(rng, mode, padding_idx):
    w = t64(rng.permutation(40).reshape(8, 5) / 7.0)  # no ties for max
    idx = np.array([1, 2, 4, 4, 7, 0, 2, 5])
    offsets = np.array([0, 3, 3, 6])  # an empty bag
    y = F.embedding_bag(ints(idx), w, ints(offsets), mode=mode, padding_idx=padding_idx)
    expected = _bag_oracle(arr(w), idx, offsets, mode, padding_idx=padding_idx)
    np.testing.assert_allclose(arr(y), expected, rtol=1e-12)
    assert gradcheck(lambda w: F.embedding_bag(ints(idx), w, ints(offsets), mode=mode,
                                               padding_idx=padding_idx), (w,))
    last = F.embedding_bag(ints(idx), w, ints(list(offsets) + [8]), mode=mode,
                           include_last_offset=True, padding_idx=padding_idx)
    np.testing.assert_array_equal(last.detach().numpy(), y.detach().numpy())


def test_embedding_bag_2d_and_per_sample_weights(rng):
    w = t64(rng.standard_normal((6, 3)))
    idx = np.array([[1, 2, 5], [0, 0, 3]])
    psw = t64(rng.standard_normal((2, 3)))
    y = F.embedding_bag(ints(idx), w, mode="sum", per_sample_weights=psw)
    expected = _bag_oracle(arr(w), idx.ravel(), [0, 3], "sum", arr(psw).ravel())
    np.testing.assert_allclose(arr(y), expected, rtol=1e-12)
    assert gradcheck(lambda w, p: F.embedding_bag(ints(idx), w, mode="sum",
                                                  per_sample_weights=p), (w, psw))
    bag = nn.EmbeddingBag(6, 3, mode="max")
    assert repr(bag) == "EmbeddingBag(6, 3, mode='max')" and bag(ints(idx)).shape == (2, 3)


def test_embedding_bag_errors():
    w = t64(np.ones((5, 3)))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(ints([1, 2]), w)
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(ints([[1, 2]]), w, ints([0]))
    with pytest.raises(ValueError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(ints([1, 2]), w, ints([1]))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(ints([1, 2]), w, ints([0]), mode="foo")
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(ints([1, 2]), w, ints([0]), mode="max", per_sample_weights=t64([1, 1]))


def test_embedding_and_bag_vs_torch(rng):
    torch = pytest.importorskip("torch")
    table = rng.standard_normal((9, 4))
    idx = np.array([3, 1, 8, 1, 0, 3, 2])
    offsets = np.array([0, 2, 2, 5])
    g = rng.standard_normal((7, 4))
    w = t64(table)
    tw = torch.tensor(table, requires_grad=True)
    y = F.embedding(ints(idx), w, padding_idx=1, scale_grad_by_freq=True)
    ty = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=1,
                                       scale_grad_by_freq=True)
    (y * t64(g, False)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(w.grad.detach().numpy(), tw.grad.numpy(), rtol=1e-12)
    for mode in ("sum", "mean", "max"):
        w, tw = t64(table), torch.tensor(table, requires_grad=True)
        y = F.embedding_bag(ints(idx), w, ints(offsets), mode=mode, padding_idx=3)
        ty = torch.nn.functional.embedding_bag(torch.tensor(idx), tw, torch.tensor(offsets),
                                               mode=mode, padding_idx=3)
        gb = rng.standard_normal(y.shape)
        (y * t64(gb, False)).sum().backward()
        (ty * torch.tensor(gb)).sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(w.grad.detach().numpy(), tw.grad.numpy(), rtol=1e-12)
    w, tw = t64(table * 3, False), torch.tensor(table * 3)
    F.embedding(ints(idx), w, max_norm=1.5, norm_type=1.0)
    torch.nn.functional.embedding(torch.tensor(idx), tw, max_norm=1.5, norm_type=1.0)
    np.testing.assert_allclose(w.detach().numpy(), tw.numpy(), rtol=1e-12)


# ----- unfold / fold ------------------------------------------------------------------------

def _unfold_oracle(x, k, d, p, s):
    (KH, KW), (DH, DW), (PH, PW), (SH, SW) = [(v, v) if np.isscalar(v) else v
                                              for v in (k, d, p, s)]
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    out = np.zeros((N, C * KH * KW, OH * OW))
    for oh in range(OH):
        for ow in range(OW):
            block = xp[:, :, oh * SH:oh * SH + DH * (KH - 1) + 1:DH,
                       ow * SW:ow * SW + DW * (KW - 1) + 1:DW]
            out[:, :, oh * OW + ow] = block.reshape(N, -1)
    return out


GEOMETRIES = [(2, 1, 0, 1), ((2, 3), 1, 1, (2, 1)), (3, 2, 1, 2), (1, 1, 0, 1)]


@pytest.mark.parametrize("k,d,p,s", GEOMETRIES)
def test_unfold_fold_vs_oracle_and_gradcheck(rng, k, d, p, s):
    x = t64(rng.standard_normal((2, 3, 7, 6)))
    cols = F.unfold(x, k, d, p, s)
    np.testing.assert_array_equal(cols.detach().numpy(), _unfold_oracle(x.detach().numpy(),
                                                                         k, d, p, s))
    assert gradcheck(lambda x: F.unfold(x, k, d, p, s), (x,))
    c = t64(rng.standard_normal(cols.shape))
    img = F.fold(c, (7, 6), k, d, p, s)
    # fold is unfold's transpose: <unfold(x), c> == <x, fold(c)>
    np.testing.assert_allclose((cols.detach().numpy() * c.detach().numpy()).sum(),
                               (x.detach().numpy() * img.detach().numpy()).sum(), rtol=1e-12)
    assert gradcheck(lambda c: F.fold(c, (7, 6), k, d, p, s), (c,))
    assert nn.Unfold(k, d, p, s)(x[0]).shape == cols.shape[1:]
    assert nn.Fold((7, 6), k, d, p, s)(c[0]).shape == (3, 7, 6)


def test_unfold_is_the_convolution_lowering(rng):
    x = t64(rng.standard_normal((2, 3, 6, 5)), False)
    w = t64(rng.standard_normal((4, 3, 3, 2)), False)
    y = F.conv2d(x, w, stride=(2, 1), padding=1)
    lowered = (w.reshape(4, -1) @ F.unfold(x, (3, 2), padding=1, stride=(2, 1)))
    np.testing.assert_allclose(lowered.reshape(y.shape).detach().numpy(),
                               y.detach().numpy(), rtol=1e-10)
    ones = F.fold(F.unfold(minicnn.ones(1, 1, 4, 4, dtype=np.float64), 2), (4, 4), 2)
    np.testing.assert_array_equal(ones.detach().numpy()[0, 0],
                                  [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_unfold_fold_errors_and_repr():
    with pytest.raises(ValueError, match="Only 3D or 4D"):
        F.unfold(minicnn.zeros(3, 4), 2)
    with pytest.raises(ValueError, match="divisible by the product of kernel_size"):
        F.fold(minicnn.zeros(1, 5, 9), (4, 4), 2)
    with pytest.raises(ValueError, match="calculated number of sliding blocks 3 \\* 3 = 9"):
        F.fold(minicnn.zeros(1, 4, 8), (4, 4), 2)
    with pytest.raises(ValueError, match="must be at least one"):
        F.unfold(minicnn.zeros(1, 1, 2, 2), 3)
    assert repr(nn.Unfold(2)) == "Unfold(kernel_size=2, dilation=1, padding=0, stride=1)"
    assert repr(nn.Fold((4, 4), 2)) == ("Fold(output_size=(4, 4), kernel_size=2, dilation=1, "
                                        "padding=0, stride=1)")


# ----- pixel and channel shuffles -----------------------------------------------------------

def test_pixel_shuffle_unshuffle_vs_numpy_and_gradcheck(rng):
    x = t64(rng.standard_normal((2, 3, 8, 2, 3)))  # an extra leading dimension
    y = F.pixel_shuffle(x, 2)
    a = x.detach().numpy()
    expected = np.empty((2, 3, 2, 4, 6))
    for i in range(2):
        for j in range(2):
            expected[..., i::2, j::2] = a[:, :, (np.arange(2) * 4 + i * 2 + j)]
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    np.testing.assert_array_equal(F.pixel_unshuffle(y, 2).detach().numpy(), a)
    assert gradcheck(lambda x: F.pixel_shuffle(x, 2), (x,))
    assert gradcheck(lambda x: F.pixel_unshuffle(x, 2), (y.detach().requires_grad_(),))
    assert nn.PixelShuffle(2)(x).shape == (2, 3, 2, 4, 6)
    assert repr(nn.PixelUnshuffle(2)) == "PixelUnshuffle(downscale_factor=2)"
    with pytest.raises(ValueError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(minicnn.zeros(1, 5, 2, 2), 2)
    with pytest.raises(ValueError, match="height to be divisible by downscale_factor"):
        F.pixel_unshuffle(minicnn.zeros(1, 1, 3, 2), 2)


def test_channel_shuffle_vs_numpy_and_gradcheck(rng):
    x = t64(rng.standard_normal((2, 6, 3, 2)))
    y = nn.ChannelShuffle(2)(x)
    np.testing.assert_array_equal(y.detach().numpy(),
                                  x.detach().numpy()[:, [0, 3, 1, 4, 2, 5]])
    assert gradcheck(lambda x: F.channel_shuffle(x, 3), (x,))
    with pytest.raises(ValueError, match="Got 3 channels and 2 groups"):
        F.channel_shuffle(minicnn.zeros(1, 3, 2, 2), 2)


def test_fold_and_shuffles_vs_torch(rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((2, 4, 7, 6))
    for op, args in [(F.unfold, ((3, 2), 2, 1, (2, 1))), (F.pixel_unshuffle, (2,)),
                     (F.channel_shuffle, (2,))]:
        if op is F.pixel_unshuffle:
            a2 = a[:, :, :6]
        else:
            a2 = a
        x, tx = t64(a2), torch.tensor(a2, requires_grad=True)
        y = op(x, *args)
        ty = getattr(torch.nn.functional, op.__name__)(tx, *args)
        g = rng.standard_normal(y.shape)
        (y * t64(g, False)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    c = rng.standard_normal((2, 12, 12))
    x, tx = t64(c), torch.tensor(c, requires_grad=True)
    y = F.fold(x, (5, 6), (3, 2), 1, 1, 2)
    ty = torch.nn.functional.fold(tx, (5, 6), (3, 2), 1, 1, 2)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    x, tx = t64(a), torch.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(F.pixel_shuffle(x, 2).detach().numpy(),
                                  torch.nn.functional.pixel_shuffle(tx, 2).detach().numpy())


# ----- lazy layers --------------------------------------------------------------------------

def test_lazy_linear_becomes_linear_and_trains():
    minicnn.manual_seed(0)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    lazy = net[0]
    assert lazy.has_uninitialized_params()
    assert repr(lazy) == "LazyLinear(in_features=0, out_features=8, bias=True)"
    params = list(net.parameters())
    assert len(params) == 4 and all(isinstance(p, nn.UninitializedParameter) for p in params)
    assert repr(params[0]) == "<UninitializedParameter>"
    with pytest.raises(ValueError, match="uninitialized parameter"):
        params[0].shape
    x = minicnn.randn(5, 20)
    net(x)
    assert type(net[0]) is nn.Linear and type(net[2]) is nn.Linear
    assert net[0].weight is params[0] and type(params[0]) is nn.Parameter
    assert net[0].weight.shape == (8, 20) and net[2].weight.shape == (2, 8)
    assert np.abs(net[0].weight.detach().numpy()).max() <= 1 / np.sqrt(20)
    assert np.abs(net[0].bias.detach().numpy()).max() <= 1 / np.sqrt(20)
    opt = minicnn.optim.SGD(net.parameters(), lr=0.1)
    loss = (net(x) ** 2).mean()
    loss.backward()
    opt.step()
    assert (net(x) ** 2).mean().item() < loss.item()
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_lazy_layers_load_a_state_dict_before_their_first_call():
    # d2l's "File I/O": load_state_dict gives the placeholders their shapes, as PyTorch's
    # lazy modules do (in_features stays 0, as in PyTorch)
    net = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 2))
    clone = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    clone.load_state_dict(net.state_dict())
    assert not clone[0].has_uninitialized_params() and type(clone[0].weight) is nn.Parameter
    x = minicnn.randn(3, 20)
    np.testing.assert_array_equal(clone(x).detach().numpy(), net(x).detach().numpy())
    assert type(clone[0]) is nn.Linear and clone[0].in_features == 0
    with pytest.raises(ValueError, match="size mismatch for 0.weight"):
        nn.Sequential(nn.Linear(4, 8)).load_state_dict({"0.weight": np.zeros((8, 3)),
                                                        "0.bias": np.zeros(8)})


@pytest.mark.parametrize("lazy,eager,shape,weight_shape", [
    (lambda: nn.LazyConv2d(6, 3, padding=1, groups=2), nn.Conv2d, (2, 4, 5, 5), (6, 2, 3, 3)),
    (lambda: nn.LazyConv1d(3, 2, bias=False), nn.Conv1d, (2, 4, 7), (3, 4, 2)),
    (lambda: nn.LazyConvTranspose2d(6, 3, stride=2), nn.ConvTranspose2d, (2, 4, 5, 5),
     (4, 6, 3, 3)),
    (lambda: nn.LazyConvTranspose1d(2, 3), nn.ConvTranspose1d, (2, 4, 5), (4, 2, 3)),
])
def test_lazy_conv_becomes_conv(lazy, eager, shape, weight_shape):
    m = lazy()
    assert m.has_uninitialized_params() and m.in_channels == 0
    y = m(minicnn.randn(*shape))
    assert type(m) is eager and m.in_channels == 4 and m.weight.shape == weight_shape
    assert not hasattr(m, "has_uninitialized_params")
    assert y.shape == m(minicnn.randn(*shape)).shape
    fan_in = np.prod(weight_shape[1:])
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / np.sqrt(fan_in)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(6, 3, groups=2)(minicnn.randn(1, 3, 4, 4))


@pytest.mark.parametrize("cls,eager,shape", [(nn.LazyBatchNorm1d, nn.BatchNorm1d, (6, 3)),
                                             (nn.LazyBatchNorm2d, nn.BatchNorm2d, (4, 3, 2, 2))])
def test_lazy_batchnorm_becomes_batchnorm(cls, eager, shape):
    m = cls(momentum=0.5)
    assert m.has_uninitialized_params()
    assert [n for n, _ in m.named_buffers()] == ["running_mean", "running_var",
                                                 "num_batches_tracked"]
    x = minicnn.randn(*shape)
    y = m(x)
    ref = eager(3, momentum=0.5)
    np.testing.assert_allclose(y.detach().numpy(), ref(x).detach().numpy(), rtol=1e-6)
    assert type(m) is eager and m.num_features == 3
    np.testing.assert_allclose(arr(m.running_mean), arr(ref.running_mean), rtol=1e-6)
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.ones(3))
    assert int(m.num_batches_tracked.item()) == 1


def test_lazy_layers_vs_torch():
    torch = pytest.importorskip("torch")
    tm = torch.nn.LazyConv2d(4, 3)
    tm(torch.zeros(1, 2, 5, 5))
    m = nn.LazyConv2d(4, 3)
    m(minicnn.zeros(1, 2, 5, 5))
    assert type(tm) is torch.nn.Conv2d and type(m) is nn.Conv2d
    assert tuple(m.weight.shape) == tuple(tm.weight.shape)
    assert repr(nn.LazyLinear(3)) == repr(torch.nn.LazyLinear(3))
    tl, ml = torch.nn.LazyLinear(3), nn.LazyLinear(3)
    assert tl.has_uninitialized_params() == ml.has_uninitialized_params() is True


# ----- parameters_to_vector / vector_to_parameters -------------------------------------------

def test_parameters_to_vector_round_trip_and_gradcheck(rng):
    model = nn.Sequential(nn.Linear(3, 2), nn.Conv1d(1, 2, 2)).double()
    params = list(model.parameters())
    vec = nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (sum(p.numel() for p in params),)
    np.testing.assert_array_equal(vec.detach().numpy(), np.concatenate(
        [p.detach().numpy().ravel() for p in params]))
    new = minicnn.tensor(rng.standard_normal(vec.shape[0]))
    nn.utils.vector_to_parameters(new, model.parameters())
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(params).detach().numpy(),
                                  new.numpy())
    assert all(p.dtype == np.float64 and p.requires_grad for p in params)
    a, b = t64(rng.standard_normal((2, 3))), t64(rng.standard_normal(4))
    assert gradcheck(lambda a, b: nn.utils.parameters_to_vector([a, b]), (a, b))
    with pytest.raises(TypeError, match="expected Tensor"):
        nn.utils.vector_to_parameters(np.zeros(3), params)
    with pytest.raises(ValueError, match="elements"):
        nn.utils.vector_to_parameters(minicnn.zeros(3), params)


def test_parameters_to_vector_vs_torch(rng):
    torch = pytest.importorskip("torch")
    tl = torch.nn.Linear(3, 2).double()
    ml = nn.Linear(3, 2, dtype=np.float64)
    ml.load_state_dict({k: minicnn.tensor(v.numpy()) for k, v in tl.state_dict().items()})
    np.testing.assert_array_equal(
        nn.utils.parameters_to_vector(ml.parameters()).detach().numpy(),
        torch.nn.utils.parameters_to_vector(tl.parameters()).detach().numpy())


# ----- max pooling indices, MaxUnpool2d, AdaptiveAvgPool1d -----------------------------------

@pytest.mark.parametrize("k,s,p,ceil", [(2, 2, 0, False), (3, 2, 1, False), (2, 2, 0, True),
                                        ((3, 2), (2, 1), (1, 0), True)])
def test_max_pool2d_indices_and_max_unpool2d(rng, k, s, p, ceil):
    x = t64(rng.permutation(2 * 3 * 7 * 5).reshape(2, 3, 7, 5) / 10.0)  # no ties
    y, idx = F.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
    np.testing.assert_array_equal(y.detach().numpy(),
                                  F.max_pool2d(x, k, s, p, ceil_mode=ceil).detach().numpy())
    planes = x.detach().numpy().reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, idx.numpy().reshape(2, 3, -1), 2),
                                  y.detach().numpy().reshape(2, 3, -1))
    assert idx.dtype == np.int64
    assert gradcheck(lambda x: F.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)[0],
                     (x,))
    u = F.max_unpool2d(y, idx, k, s, p, output_size=x.shape)
    kept = np.zeros(2 * 3 * 35, bool).reshape(2, 3, -1)
    np.put_along_axis(kept, idx.numpy().reshape(2, 3, -1), True, 2)
    np.testing.assert_array_equal(u.detach().numpy(),
                                  np.where(kept.reshape(x.shape), x.detach().numpy(), 0))
    yy = y.detach().requires_grad_()
    if any(len(np.unique(plane)) < plane.size for plane in idx.numpy().reshape(6, -1)):
        return  # overlapping windows share a maximum: unpool writes it once (as PyTorch),
        # so its backward (a gather, as PyTorch's) is not the gradient of the forward there
    assert gradcheck(lambda y: F.max_unpool2d(y, idx, k, s, p, output_size=(7, 5)), (yy,))


def test_max_unpool2d_module_and_errors(rng):
    x = t64(rng.permutation(16).reshape(1, 1, 4, 4), False)
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, idx = pool(x)
    assert unpool(y, idx).shape == (1, 1, 4, 4)
    assert repr(unpool) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    with pytest.raises(ValueError, match="Found an invalid max index"):
        F.max_unpool2d(y, idx * 10, 2)


def test_adaptive_avg_pool1d_vs_numpy_and_gradcheck(rng):
    x = t64(rng.standard_normal((2, 3, 7)))
    y = nn.AdaptiveAvgPool1d(3)(x)
    a = x.detach().numpy()
    expected = np.stack([a[..., 0:3].mean(-1), a[..., 2:5].mean(-1), a[..., 4:7].mean(-1)], -1)
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: F.adaptive_avg_pool1d(x, 3), (x,))


def test_pool_indices_unpool_adaptive1d_vs_torch(rng):
    torch = pytest.importorskip("torch")
    a = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0
    x, tx = t64(a), torch.tensor(a, requires_grad=True)
    y, idx = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    ty, tidx = torch.nn.functional.max_pool2d(tx, 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    u = F.max_unpool2d(y, idx, 3, 2, 1, output_size=(7, 6))
    tu = torch.nn.functional.max_unpool2d(ty, tidx, 3, 2, 1, output_size=(7, 6))
    g = rng.standard_normal(u.shape)
    (u * t64(g, False)).sum().backward()
    (tu * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(u.detach().numpy(), tu.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    b = rng.standard_normal((2, 3, 11))
    np.testing.assert_allclose(F.adaptive_avg_pool1d(t64(b), 4).detach().numpy(),
                               torch.nn.functional.adaptive_avg_pool1d(torch.tensor(b), 4).numpy(),
                               rtol=1e-12)
