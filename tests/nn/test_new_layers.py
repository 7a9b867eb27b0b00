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
            np.testing.assert_allclose(emb.weight.detach().numpy()[r], before[r] / (norms[r] + 1e-7))
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
    np.testing.assert_allclose(y.detach().numpy(), _bag_oracle(w.detach().numpy(), idx, offsets, mode,
                                                   padding_idx=padding_idx), rtol=1e-12)
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
    np.testing.assert_allclose(y.detach().numpy(), _bag_oracle(w.detach().numpy(), idx.ravel(), [0, 3], "sum",
                                                   psw.detach().numpy().ravel()), rtol=1e-12)
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
