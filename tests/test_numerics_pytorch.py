"""Numerics PyTorch gets right at the edges: std/var at zero variance (and n <= correction),
vector norms at zero entries (p < 1, p = 0, +-inf), cross_entropy/nll_loss when every target is
ignored or weighted 0. Each case has hand-derived expectations; the last tests compare the same
cases with PyTorch itself (opt-in: skipped when torch is not installed)."""
import math
import warnings

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F

nan, inf = math.nan, math.inf


def _leaf(values, dtype=np.float64):
    return minicnn.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def _value_and_grad(fn, values, dtype=np.float64):
    """``fn(x)`` for a leaf x holding ``values``, and x's gradient of ``fn(x).sum()`` (None if
    the backward reached no gradient), with NumPy's floating-point warnings as errors: the
    edge cases must come out without dividing by zero on the way."""
    x = _leaf(values, dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        y = fn(x)
        y.sum().backward()
    return y.detach().numpy(), None if x.grad is None else x.grad.numpy()


def _assert_same(actual, expected, rtol=1e-12, atol=0.0):
    """Equal values, NaN where NaN is expected, and dtype kept."""
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float64), rtol=rtol,
                               atol=atol, equal_nan=True)


# --- std / var at zero variance ------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("correction", [0, 1])
def test_std_of_a_constant_has_gradient_zero_not_nan(dtype, correction):
    # std = 0: d std = d var / (2 std) would be 0/0; PyTorch masks it to 0 where std == 0
    y, g = _value_and_grad(lambda x: x.std(correction=correction), [3.0, 3.0, 3.0], dtype)
    assert y == 0 and y.dtype == dtype
    np.testing.assert_array_equal(g, np.zeros(3, dtype))
    assert g.dtype == dtype


def test_std_along_a_dim_zero_rows_and_others():
    # row 0 is constant: std 0, gradient 0; row 1: std = sqrt(7/3) and
    # d std / d x_i = (x_i - mean) / ((n - 1) std)
    x = [[3.0, 3.0, 3.0], [1.0, 2.0, 4.0]]
    for keepdim in (False, True):
        y, g = _value_and_grad(lambda t: t.std(1, keepdim=keepdim), x)
        s = math.sqrt(7 / 3)
        _assert_same(y.reshape(-1), [0.0, s])
        assert y.shape == ((2, 1) if keepdim else (2,))
        _assert_same(g, [[0, 0, 0], (np.array([1, 2, 4]) - 7 / 3) / (2 * s)])


def test_var_of_a_constant_is_zero_with_gradient_zero():
    y, g = _value_and_grad(lambda x: x.var(), [2.0, 2.0, 2.0, 2.0])
    assert y == 0
    np.testing.assert_array_equal(g, np.zeros(4))


def test_std_gradient_zero_even_when_the_upstream_gradient_is_not_finite():
    # masked_fill(std == 0, 0) sets the gradient reaching var to 0, whatever came in
    x = _leaf([5.0, 5.0])
    x.std().backward(minicnn.tensor(inf, dtype=np.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_std_near_zero_is_not_masked():
    # Only an exact 0 is masked: a tiny spread keeps its (large but finite) gradient.
    y, g = _value_and_grad(lambda x: x.std(), [0.1, 0.1, 0.1 + 1e-9])
    assert 0 < y < 1e-9
    _assert_same(g, [-1 / math.sqrt(12), -1 / math.sqrt(12), 1 / math.sqrt(3)], rtol=1e-6)


def _degenerate(fn, values):
    """``(value, grad)`` as ``_value_and_grad``, letting the NaN and inf come out silently."""
    x = _leaf(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns about dof <= 0 too; the values matter
        y = fn(x)
        y.sum().backward()
    return y.detach().numpy(), x.grad.numpy()


def _assert_pair(actual, expected):
    for a, e in zip(actual, expected):
        _assert_same(a, e)


def test_var_std_when_n_is_at_most_the_correction():
    # Over all elements with n <= correction: var = ss / max(0, n - c) (inf, or NaN for ss 0);
    # PyTorch's gradient there is NaN where x equals the mean, +inf elsewhere.
    _assert_pair(_degenerate(lambda x: x.var(correction=2), [3.0, 1.0]), [inf, [inf, inf]])
    _assert_pair(_degenerate(lambda x: x.var(correction=2), [3.0, 3.0]), [nan, [nan, nan]])
    _assert_pair(_degenerate(lambda x: x.var(), [3.0]), [nan, [nan]])
    _assert_pair(_degenerate(lambda x: x.std(), [3.0]), [nan, [nan]])
    # std = inf: d var = g / (2 inf) = 0, then 0 * (inf or NaN) = NaN
    _assert_pair(_degenerate(lambda x: x.std(correction=3), [3.0, 1.0]), [inf, [nan, nan]])
    # Along a dim PyTorch keeps 2 (x - mean) / (n - c): inf with a sign, or negative.
    _assert_pair(_degenerate(lambda x: x.var(0, correction=2), [3.0, 1.0]), [inf, [inf, -inf]])
    _assert_pair(_degenerate(lambda x: x.var(0, correction=3), [3.0, 1.0]), [inf, [-2.0, 2.0]])
    _assert_pair(_degenerate(lambda x: x.std(0, correction=3), [3.0, 1.0]), [inf, [0.0, 0.0]])
    _assert_pair(_degenerate(lambda x: x.var(1, correction=3), [[3.0, 1.0], [2.0, 2.0]]),
                 [[inf, nan], [[-2.0, 2.0], [0.0, 0.0]]])


# --- vector norms at zero entries ----------------------------------------------------------

@pytest.mark.parametrize("p", [0.5, 0.25, -1.0, -0.5, 1, 1.5, 2, 3, inf, -inf, "fro"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_of_zeros_has_gradient_zero(p, dtype):
    y, g = _value_and_grad(lambda x: x.norm(p), [0.0, 0.0, 0.0], dtype)
    assert y == 0 and y.dtype == dtype
    np.testing.assert_array_equal(g, np.zeros(3, dtype))


def test_norm_p_below_one_at_partly_zero_input():
    # ||x||_p = (sum |x_i|^p)^(1/p); d/dx_i = sgn(x_i) |x_i|^(p-1) ||x||^(1-p), 0 at x_i = 0
    x = np.array([0.0, -2.0, 3.0])
    n = (math.sqrt(2) + math.sqrt(3)) ** 2
    y, g = _value_and_grad(lambda t: t.norm(0.5), x)
    _assert_same(y, n)
    _assert_same(g, [0.0, -math.sqrt(n / 2), math.sqrt(n / 3)])
    # negative p: a zero entry makes sum |x|^p infinite and the norm 0; its gradient is 0
    y, g = _value_and_grad(lambda t: t.norm(-1), x)
    assert y == 0
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    # and without zeros, ||x||_-1 = 1 / sum(1/|x_i|), d/dx_i = sgn(x_i) x_i^-2 ||x||^2
    y, g = _value_and_grad(lambda t: t.norm(-1), [-3.0, 1.0, 3.0])
    _assert_same(y, 0.6)
    _assert_same(g, [-0.36 / 9, 0.36, 0.36 / 9])


def test_norm_p_below_one_along_a_dim():
    y, g = _value_and_grad(lambda t: t.norm(0.5, dim=1), [[0.0, 0.0], [-4.0, 0.0]])
    _assert_same(y, [0.0, 4.0])
    _assert_same(g, [[0.0, 0.0], [-1.0, 0.0]])


def test_norm_p0_counts_nonzeros_and_has_no_gradient():
    y, g = _value_and_grad(lambda t: t.norm(0), [0.0, -2.0, 3.0, 0.0])
    assert y == 2 and y.dtype == np.float64
    assert g is None  # PyTorch returns no gradient at all: .grad stays None
    x = _leaf([0.0, -2.0, 3.0])
    out = x.norm(0)
    assert out.requires_grad  # recorded all the same, as PyTorch
    (out + x.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_norm_inf_splits_the_gradient_among_ties_and_zero_is_no_tie():
    y, g = _value_and_grad(lambda t: t.norm(inf), [-3.0, 1.0, 3.0])
    assert y == 3
    _assert_same(g, [-0.5, 0.0, 0.5])
    y, g = _value_and_grad(lambda t: t.norm(-inf), [0.0, -2.0, 3.0])
    assert y == 0
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])  # sgn(0) = 0
    y, g = _value_and_grad(lambda t: t.norm(-inf), [-3.0, 1.0, 3.0])
    assert y == 1
    _assert_same(g, [0.0, 1.0, 0.0])


def test_norm_p2_and_p_above_one_at_partly_zero_input():
    x = [0.0, -2.0, 3.0]
    y, g = _value_and_grad(lambda t: t.norm(), x)
    _assert_same(y, math.sqrt(13))
    _assert_same(g, np.array(x) / math.sqrt(13))
    y, g = _value_and_grad(lambda t: t.norm(3), x)
    n = 35 ** (1 / 3)
    _assert_same(y, n)
    _assert_same(g, np.sign(x) * np.abs(x) ** 2 / n ** 2)


def test_norm_gradient_at_nan_follows_pytorchs_sgn():
    # sgn(NaN) = 0 in PyTorch: the 1- and inf-norms give 0 at the NaN entry (and the other
    # entries keep theirs for p = 1); the 2-norm is NaN everywhere
    x = [0.0, nan, 3.0]
    y, g = _degenerate(lambda t: t.norm(1), x)
    assert math.isnan(y)
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])
    y, g = _degenerate(lambda t: t.norm(inf), x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    y, g = _degenerate(lambda t: t.norm(2), x)
    assert np.isnan(g).all()


def test_norm_rejects_what_is_not_a_real_p():
    x = minicnn.tensor([1.0, 2.0])
    for p in ("nuc", None, nan, True):
        with pytest.raises(ValueError, match="p must be"):
            x.norm(p)


def test_abs_gradient_is_zero_at_zero_and_nan():
    y, g = _degenerate(lambda t: t.abs(), [-2.0, -0.0, 0.0, nan, 5.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 0.0, 0.0, 1.0])
    assert not np.signbit(g[1:4]).any()


# --- cross_entropy / nll_loss when no target counts -----------------------------------------

def _loss(fn, x, target, reduction, upstream=1.0, **kwargs):
    """The loss of ``fn`` and the gradient of ``upstream * loss.sum()``, warnings as errors."""
    x = minicnn.tensor(x, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        y = fn(x, minicnn.tensor(target), reduction=reduction, **kwargs)
        y.sum().backward(minicnn.tensor(upstream, dtype=x.dtype))
    return y.detach().numpy(), x.grad.numpy()


LOSSES = {
    "cross_entropy": (F.cross_entropy, {}),
    "nll_loss": (F.nll_loss, {}),
    "cross_entropy_weight": (F.cross_entropy, {"weight": [1.0, 2.0, 0.5, 1.0]}),
    "nll_loss_weight": (F.nll_loss, {"weight": [1.0, 2.0, 0.5, 1.0]}),
    "cross_entropy_smoothing": (F.cross_entropy, {"label_smoothing": 0.1}),
    "cross_entropy_weight_smoothing": (F.cross_entropy, {"weight": [1.0, 2.0, 0.5, 1.0],
                                                         "label_smoothing": 0.1}),
}


def _kwargs(kwargs, dtype):
    return {k: minicnn.tensor(np.asarray(v, dtype)) if k == "weight" else v
            for k, v in kwargs.items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_with_every_target_ignored(rng, name, dtype):
    # PyTorch: 'mean' is 0 / 0 = NaN, 'sum' 0, 'none' zeros; the gradient is exactly +0
    fn, kwargs = LOSSES[name]
    x = rng.standard_normal((3, 4)).astype(dtype)
    for ignore_index, target in ((-100, [-100, -100, -100]), (1, [1, 1, 1])):
        kw = dict(_kwargs(kwargs, dtype), ignore_index=ignore_index)
        for reduction, expected in (("mean", nan), ("sum", 0.0), ("none", [0.0, 0.0, 0.0])):
            y, g = _loss(fn, x, target, reduction, **kw)
            assert y.dtype == dtype
            _assert_same(y, expected)
            assert not np.signbit(y).any()
            np.testing.assert_array_equal(g, np.zeros_like(x))
            assert not np.signbit(g).any() and g.dtype == dtype


def test_loss_with_every_target_ignored_spatial_and_upstream_inf(rng):
    # (N, C, H, W) scores; even an infinite upstream gradient leaves the ignored samples at 0
    x = rng.standard_normal((2, 3, 2, 2))
    target = np.full((2, 2, 2), -100)
    for fn in (F.cross_entropy, F.nll_loss):
        y, g = _loss(fn, x, target, "mean")
        assert math.isnan(y)
        np.testing.assert_array_equal(g, np.zeros_like(x))
        y, g = _loss(fn, x, target, "sum", upstream=inf)
        np.testing.assert_array_equal(g, np.zeros_like(x))


def test_loss_ignored_samples_get_zero_gradient_among_kept_ones(rng):
    # targets [1, ignored, 2], 'mean' over the 2 kept: row 1's gradient is 0, the others
    # (softmax - onehot) / 2
    x = rng.standard_normal((3, 4))
    y, g = _loss(F.cross_entropy, x, [1, -100, 2], "mean")
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    _assert_same(y, -(np.log(p[0, 1]) + np.log(p[2, 2])) / 2)
    expected = p / 2
    expected[0, 1] -= 0.5
    expected[2, 2] -= 0.5
    expected[1] = 0
    _assert_same(g, expected, rtol=1e-10)


def test_loss_nan_scores_of_ignored_samples():
    # nll_loss never reads an ignored sample's scores: 0 loss and gradient even for NaN;
    # cross_entropy's log-softmax backward spreads the NaN over that row, as PyTorch's does
    x = np.full((2, 3), nan)
    y, g = _degenerate(lambda t: F.nll_loss(t, minicnn.tensor([-100, -100]), reduction="sum"), x)
    assert y == 0
    np.testing.assert_array_equal(g, np.zeros((2, 3)))
    y, g = _degenerate(lambda t: F.cross_entropy(t, minicnn.tensor([-100, -100]),
                                                 reduction="none"), x)
    np.testing.assert_array_equal(y, [0.0, 0.0])
    assert np.isnan(g).all()


def test_loss_mean_when_every_kept_target_weighs_zero(rng):
    # The mean's divisor, the total weight of the targets, is 0: NaN as PyTorch. Its gradient:
    # w[t] * (1/0) = 0 * inf = NaN at each target; nll_loss writes only there, cross_entropy's
    # log-softmax backward spreads it over the row. 'sum' stays finite.
    x = rng.standard_normal((3, 4))
    w = minicnn.tensor([0.0, 2.0, 0.5, 1.0], dtype=np.float64)
    target = [0, 0, -100]
    y, g = _degenerate(lambda t: F.nll_loss(t, minicnn.tensor(target), weight=w), x)
    assert math.isnan(y)
    expected = np.zeros((3, 4))
    expected[:2, 0] = nan
    _assert_same(g, expected)
    for smoothing in (0.0, 0.1):
        y, g = _degenerate(lambda t: F.cross_entropy(t, minicnn.tensor(target), weight=w,
                                                     label_smoothing=smoothing), x)
        assert math.isnan(y)
        assert np.isnan(g[:2]).all()
        np.testing.assert_array_equal(g[2], np.zeros(4))
    y, g = _degenerate(lambda t: F.cross_entropy(t, minicnn.tensor(target), weight=w,
                                                 reduction="sum"), x)
    assert y == 0
    np.testing.assert_array_equal(g, np.zeros((3, 4)))


# --- the same cases against PyTorch (opt-in) ------------------------------------------------

def _torch():
    return pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")


def _both(fn_ours, fn_torch, values):
    """(value, grad) from minicnn and from PyTorch for the same float64 input; a gradient
    PyTorch leaves undefined comes back as None from both."""
    torch = _torch()
    x = _leaf(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = fn_ours(x)
        y.sum().backward()
        t = torch.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)
        u = fn_torch(t)
        u.sum().backward()
    ours = (y.detach().numpy(), None if x.grad is None else x.grad.numpy())
    theirs = (u.detach().numpy(), None if t.grad is None else t.grad.numpy())
    return ours, theirs


def _assert_match(ours, theirs):
    for a, b in zip(ours, theirs):
        if b is None:
            assert a is None
            continue
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, equal_nan=True)


STD_VAR_CASES = [
    ([3.0, 3.0, 3.0], None, 1), ([3.0, 3.0, 3.0], None, 0),
    ([[3.0, 3.0, 3.0], [1.0, 2.0, 4.0]], 1, 1),
    ([3.0], None, 1), ([3.0, 1.0], None, 2), ([3.0, 3.0], None, 2), ([3.0, 1.0], 0, 2),
    ([3.0, 1.0], 0, 3), ([3.0, 3.0], 0, 3), ([[3.0, 1.0], [2.0, 2.0]], 1, 3),
    ([[3.0, 1.0], [2.0, 2.0]], (0, 1), 4), (2.5, 0, 1), (2.5, -1, 0), (2.5, None, 0),
    ([0.1, 0.1, 0.1 + 1e-9], None, 1), ([1.0, nan], None, 1), ([1.0, inf], None, 1),
]


@pytest.mark.parametrize("op", ["std", "var"])
@pytest.mark.parametrize("values,dim,correction", STD_VAR_CASES)
def test_std_var_match_torch(op, values, dim, correction):
    _assert_match(*_both(lambda x: getattr(x, op)(dim, correction=correction),
                         lambda t: getattr(t, op)(dim, correction=correction), values))


NORM_INPUTS = [[0.0, 0.0, 0.0], [0.0, -2.0, 3.0], [-3.0, 1.0, 3.0], [[0.0, 0.0], [-2.0, 0.0]],
               0.0, -2.0, [0.0, nan, 3.0], [1e-3, -1e-3, 0.0]]


@pytest.mark.parametrize("p", [0, 0.5, 0.25, 1, 1.5, 2, 3, inf, -inf, -1, -0.5, "fro"])
@pytest.mark.parametrize("values", NORM_INPUTS, ids=str)
def test_norm_matches_torch(p, values):
    torch = _torch()
    ndim = np.ndim(values)
    for dim in ([None] + list(range(-max(ndim, 1), max(ndim, 1)))):
        for keepdim in (False, True):
            if p == 0 and not np.isfinite(values).all():
                continue  # PyTorch counts a NaN as nonzero as we do; nothing more to check
            ours, theirs = _both(lambda x: x.norm(p, dim=dim, keepdim=keepdim),
                                 lambda t: torch.norm(t, p, dim=dim, keepdim=keepdim), values)
            _assert_match(ours, theirs)


LOSS_TARGETS = [[-100, -100, -100], [1, -100, 2], [0, 0, -100], [0, 0, 0]]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target", LOSS_TARGETS, ids=str)
@pytest.mark.parametrize("name", sorted(LOSSES) + ["nll_loss_zero_weight",
                                                   "cross_entropy_zero_weight_smoothing"])
def test_cross_entropy_nll_match_torch(rng, name, target, reduction):
    torch = _torch()
    if name == "nll_loss_zero_weight":
        fn, kwargs = F.nll_loss, {"weight": [0.0, 2.0, 0.5, 1.0]}
    elif name == "cross_entropy_zero_weight_smoothing":
        fn, kwargs = F.cross_entropy, {"weight": [0.0, 2.0, 0.5, 1.0], "label_smoothing": 0.1}
    else:
        fn, kwargs = LOSSES[name]
    tfn = getattr(torch.nn.functional, fn.__name__)
    tkwargs = {k: torch.tensor(v, dtype=torch.float64) if k == "weight" else v
               for k, v in kwargs.items()}
    x = rng.standard_normal((3, 4))
    _assert_match(*_both(
        lambda t: fn(t, minicnn.tensor(target), reduction=reduction,
                     **_kwargs(kwargs, np.float64)),
        lambda t: tfn(t, torch.tensor(target), reduction=reduction, **tkwargs), x))
