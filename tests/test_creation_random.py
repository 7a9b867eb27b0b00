"""Factories and random sampling as PyTorch's: size= as a keyword, a tuple or varargs, normal's
overloads, bernoulli/multinomial/poisson, the in-place random fills, logspace, meshgrid, and
generator= everywhere. Distributions are checked by their moments on a few thousand draws, with
margins of several standard errors (and fixed seeds, so a check cannot flicker)."""
import numpy as np
import pytest

import minicnn
from minicnn.gradcheck import gradcheck


@pytest.mark.parametrize("make", [
    lambda: minicnn.zeros(2, 3), lambda: minicnn.zeros((2, 3)), lambda: minicnn.zeros(size=(2, 3)),
    lambda: minicnn.ones(size=[2, 3]), lambda: minicnn.empty(size=(2, 3)),
    lambda: minicnn.rand(size=(2, 3)), lambda: minicnn.randn(2, 3),
    lambda: minicnn.randint(10, size=(2, 3)), lambda: minicnn.randint(0, 10, (2, 3)),
    lambda: minicnn.randint(10, (2, 3)), lambda: minicnn.normal(0.0, 1.0, size=(2, 3)),
    lambda: minicnn.normal(0.0, 1.0, (2, 3)),
])
def test_sizes_as_varargs_tuple_or_keyword(make):
    assert make().shape == (2, 3)


def test_size_given_twice_is_refused():
    with pytest.raises(TypeError, match="size="):
        minicnn.zeros(2, size=(2,))


def test_normal_overloads_and_moments():
    minicnn.manual_seed(0)
    x = minicnn.normal(2.0, 3.0, (20000,), requires_grad=True)
    assert x.dtype == minicnn.float32 and x.requires_grad and x.is_leaf
    assert abs(x.mean().item() - 2.0) < 0.1 and abs(x.std().item() - 3.0) < 0.1
    means = minicnn.tensor([0.0, 100.0], dtype=minicnn.float64)
    y = minicnn.normal(means, 1.0)                       # a tensor of means
    assert y.dtype == minicnn.float64 and abs(y[1].item() - 100) < 6
    z = minicnn.normal(0.0, minicnn.tensor([[1e-9], [1e-9]]))   # a tensor of stds
    assert z.shape == (2, 1) and z.abs().max().item() < 1e-6
    with pytest.raises(TypeError, match="size"):
        minicnn.normal(0.0, 1.0)
    with pytest.raises(ValueError, match="std"):
        minicnn.normal(0.0, -1.0, (2,))


def test_generator_makes_draws_repeatable_without_touching_the_global_stream():
    minicnn.manual_seed(5)
    expected = minicnn.rand(3)
    minicnn.manual_seed(5)
    g = minicnn.Generator().manual_seed(1)
    a = minicnn.randn(4, generator=g)
    assert minicnn.rand(3).tolist() == expected.tolist()   # the global stream did not move
    g.manual_seed(1)
    assert minicnn.randn(4, generator=g).tolist() == a.tolist()
    g.manual_seed(1)
    assert minicnn.randperm(5, generator=g).tolist() == \
        minicnn.randperm(5, generator=minicnn.Generator().manual_seed(1)).tolist()


def test_bernoulli_multinomial_poisson():
    minicnn.manual_seed(1)
    p = minicnn.full((20000,), 0.3)
    draws = minicnn.bernoulli(p)
    assert draws.dtype == minicnn.float32 and set(np.unique(draws.numpy())) <= {0.0, 1.0}
    assert abs(draws.mean().item() - 0.3) < 0.02
    assert abs(p.bernoulli().mean().item() - 0.3) < 0.02
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        minicnn.bernoulli(minicnn.tensor([1.5]))
    weights = minicnn.tensor([0.0, 1.0, 3.0])
    picks = minicnn.multinomial(weights, 4000, replacement=True)
    assert picks.dtype == minicnn.int64 and picks.shape == (4000,)
    counts = np.bincount(picks.numpy(), minlength=3)
    assert counts[0] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    rows = minicnn.multinomial(minicnn.ones(2, 5), 5)          # without replacement: a shuffle
    assert rows.shape == (2, 5) and all(sorted(r) == list(range(5)) for r in rows.tolist())
    with pytest.raises(RuntimeError, match="without replacement"):
        minicnn.multinomial(weights, 3)                        # only 2 nonzero weights
    with pytest.raises(RuntimeError, match="element < 0"):
        minicnn.multinomial(minicnn.tensor([1.0, -1.0]), 1)
    rates = minicnn.full((20000,), 4.0)
    counts = minicnn.poisson(rates)
    assert abs(counts.mean().item() - 4.0) < 0.1 and abs(counts.var().item() - 4.0) < 0.3


@pytest.mark.parametrize("fill, check", [
    (lambda t: t.random_(3, 7), lambda a: a.min() >= 3 and a.max() <= 6 and
     np.all(a == np.round(a))),
    (lambda t: t.random_(5), lambda a: a.min() >= 0 and a.max() <= 4),
    (lambda t: t.exponential_(2.0), lambda a: a.min() >= 0 and abs(a.mean() - 0.5) < 0.03),
    (lambda t: t.geometric_(0.25), lambda a: a.min() >= 1 and abs(a.mean() - 4.0) < 0.2),
    (lambda t: t.log_normal_(0.0, 0.5), lambda a: a.min() > 0 and
     abs(np.log(a).std() - 0.5) < 0.03),
    (lambda t: t.cauchy_(1.0, 0.1), lambda a: abs(np.median(a) - 1.0) < 0.02),
    (lambda t: t.bernoulli_(0.2), lambda a: abs(a.mean() - 0.2) < 0.02),
    (lambda t: t.uniform_(-2, 2), lambda a: a.min() >= -2 and a.max() < 2 and
     abs(a.mean()) < 0.1),
    (lambda t: t.normal_(1.0, 0.5), lambda a: abs(a.mean() - 1.0) < 0.03),
])
def test_inplace_random_fills(fill, check):
    minicnn.manual_seed(2)
    t = minicnn.zeros(8000)
    before = t._version
    assert fill(t) is t and t._version == before + 1 and t.dtype == minicnn.float32
    assert check(t.numpy())


def test_inplace_random_fill_of_a_parameter_needs_no_grad_and_cuts_history():
    w = minicnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor"):
        w.normal_()
    w.data.normal_()                                  # .data: allowed, no graph
    y = w * 2
    y.uniform_()                                      # on a non-leaf: history cut, gradient 0
    y.sum().backward()
    assert w.grad.tolist() == [0.0, 0.0]


def test_logspace_and_float_arange():
    np.testing.assert_allclose(minicnn.logspace(0, 3, 4).numpy(), [1, 10, 100, 1000])
    np.testing.assert_allclose(minicnn.logspace(0, 2, 3, base=2).numpy(), [1, 2, 4])
    r = minicnn.arange(0, 1, 0.25)
    assert r.dtype == minicnn.float32 and r.tolist() == [0.0, 0.25, 0.5, 0.75]


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_numpy_and_its_gradient_sums_the_repeats(indexing):
    a = minicnn.tensor([1.0, 2.0, 3.0], dtype=minicnn.float64, requires_grad=True)
    b = minicnn.tensor([4.0, 5.0], dtype=minicnn.float64, requires_grad=True)
    grids = minicnn.meshgrid(a, b, indexing=indexing)
    for ours, expected in zip(grids, np.meshgrid(a.detach().numpy(), b.detach().numpy(),
                                                 indexing=indexing)):
        np.testing.assert_array_equal(ours.detach().numpy(), expected)
    (grids[0] * 2 + grids[1]).sum().backward()
    assert a.grad.tolist() == [4.0, 4.0, 4.0] and b.grad.tolist() == [3.0, 3.0]
    assert gradcheck(lambda a, b: minicnn.meshgrid(a, b, indexing=indexing)[0] *
                     minicnn.meshgrid(a, b, indexing=indexing)[1], (a, b))
    with pytest.raises(ValueError, match="indexing"):
        minicnn.meshgrid(a, b, indexing="xyz")
