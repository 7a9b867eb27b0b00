"""The losses: cross_entropy/nll_loss with weight, ignore_index, label_smoothing, probability
targets and (N, C, d1, ...) inputs; BCE, BCE-with-logits (pos_weight), L1, SmoothL1, Huber,
KL divergence; mse_loss broadcasting. NumPy oracles, float64 gradchecks, opt-in PyTorch."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn import gradcheck


def t64(a, requires_grad=True):
    return minicnn.tensor(np.asarray(a, dtype=np.float64), dtype=np.float64,
                          requires_grad=requires_grad)


def np_log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_cross_entropy(x, t, w=None, ignore_index=-100, eps=0.0, reduction="mean"):
    """Straight from PyTorch's documented formula, one sample (and position) at a time."""
    C = x.shape[1]
    logp = np.moveaxis(np_log_softmax(x), 1, -1).reshape(-1, C)
    t = t.reshape(-1)
    w = np.ones(C) if w is None else w
    losses, weights = [], []
    for lp, ti in zip(logp, t):
        if ti == ignore_index:
            losses.append(0.0)
            weights.append(0.0)
            continue
        nll = -w[ti] * lp[ti]
        smooth = -(w * lp).sum() / C
        losses.append((1 - eps) * nll + eps * smooth)
        weights.append(w[ti])
    losses = np.array(losses)
    if reduction == "none":
        return losses.reshape((x.shape[0],) + x.shape[2:])
    return losses.sum() / (sum(weights) if reduction == "mean" else 1)


CE_CASES = [
    dict(),
    dict(weight=[0.5, 2.0, 1.0, 1.5]),
    dict(ignore_index=2),
    dict(label_smoothing=0.2),
    dict(weight=[0.5, 2.0, 1.0, 1.5], ignore_index=1, label_smoothing=0.1),
]


@pytest.mark.parametrize("options", CE_CASES)
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2, 3)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_indices_match_numpy_and_gradcheck(rng, options, shape, reduction):
    x = t64(rng.standard_normal(shape))
    t = rng.integers(0, 4, (shape[0],) + shape[2:])
    kw = dict(options)
    if "weight" in kw:
        kw["weight"] = t64(kw["weight"], requires_grad=False)
    w = None if "weight" not in options else np.array(options["weight"])
    expect = np_cross_entropy(x.detach().numpy(), t, w, options.get("ignore_index", -100),
                              options.get("label_smoothing", 0.0), reduction)
    got = F.cross_entropy(x, t, reduction=reduction, **kw)
    np.testing.assert_allclose(got.data, expect, rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda x: F.cross_entropy(x, t, reduction=reduction, **kw), (x,))
    nll = F.nll_loss(F.log_softmax(x, 1), t, reduction=reduction,
                     **{k: v for k, v in kw.items() if k != "label_smoothing"})
    if "label_smoothing" not in options:
        np.testing.assert_allclose(nll.data, got.data, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_cross_entropy_probability_targets(rng, eps):
    x = t64(rng.standard_normal((4, 3, 2)))
    p = rng.random((4, 3, 2))
    p /= p.sum(axis=1, keepdims=True)
    w = np.array([1.0, 2.0, 0.5])
    q = (p * (1 - eps) + eps / 3) * w.reshape(1, 3, 1)
    expect = -(q * np_log_softmax(x.detach().numpy())).sum(axis=1)
    got = F.cross_entropy(x, p, weight=t64(w, False), label_smoothing=eps, reduction="none")
    np.testing.assert_allclose(got.data, expect, rtol=1e-12)
    mean = F.cross_entropy(x, p, weight=t64(w, False), label_smoothing=eps)
    np.testing.assert_allclose(mean.item(), expect.sum() / 8, rtol=1e-12)   # / N*d1, not weights
    assert gradcheck(lambda x: F.cross_entropy(x, p, label_smoothing=eps), (x,))


def test_cross_entropy_ignore_index_gets_no_gradient(rng):
    x = t64(rng.standard_normal((3, 4)))
    F.cross_entropy(x, np.array([1, -100, 2])).backward()
    assert (x.grad[1] == 0).all() and (x.grad[0] != 0).all()


def test_loss_argument_errors():
    x = minicnn.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="weight must have shape"):
        F.cross_entropy(x, np.array([0, 1, 2]), weight=minicnn.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.array([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(x, np.zeros((3, 4), np.float32))             # no probabilities for nll
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(minicnn.tensor(np.full(3, 1.5)), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="Target size"):
        F.binary_cross_entropy_with_logits(x, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="batchmean"):
        F.kl_div(x, np.zeros((3, 4), np.float32), reduction="avg")
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(x, x, delta=0)


def np_smooth_l1(d, beta):
    return np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)


POINTWISE = [
    ("l1", F.l1_loss, lambda x, t: np.abs(x - t)),
    ("smooth_l1", lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.5, **k),
     lambda x, t: np_smooth_l1(x - t, 0.5)),
    ("huber", lambda x, t, **k: F.huber_loss(x, t, delta=0.7, **k),
     lambda x, t: 0.7 * np_smooth_l1(x - t, 0.7)),
    ("mse", F.mse_loss, lambda x, t: (x - t) ** 2),
    ("bce_logits", F.binary_cross_entropy_with_logits,
     lambda x, t: -(t * np.log(1 / (1 + np.exp(-x))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-x))))),
    ("kl_div", F.kl_div, lambda x, t: t * (np.log(t) - x)),
]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("name,fn,oracle", POINTWISE, ids=[p[0] for p in POINTWISE])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_losses_match_numpy_and_gradcheck(rng, name, fn, oracle, reduction):
    x = t64(rng.standard_normal((3, 4)))
    t = t64(rng.random((3, 4)) if name in ("bce_logits", "kl_div") else rng.standard_normal((3, 4)))
    xa, ta = x.detach().numpy(), t.detach().numpy()   # share x's and t's memory
    if name in ("l1", "smooth_l1", "huber"):   # keep |x - t| away from the kinks
        ta[np.abs(np.abs(xa - ta) - 0.6) < 0.15] += 0.4
        ta[np.abs(xa - ta) < 0.05] += 0.2
    elementwise = oracle(xa, ta)
    expect = {"mean": elementwise.mean(), "sum": elementwise.sum(), "none": elementwise}
    np.testing.assert_allclose(fn(x, t, reduction=reduction).data, expect[reduction],
                               rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda x, t: fn(x, t, reduction=reduction), (x, t))


def test_bce_with_weight_and_bce_with_logits_pos_weight(rng):
    p = t64(rng.uniform(0.05, 0.95, (4, 3)))
    t = t64(rng.random((4, 3)))
    w = rng.uniform(0.5, 2, (1, 3))
    pa, ta = p.detach().numpy(), t.detach().numpy()
    expect = -w * (ta * np.log(pa) + (1 - ta) * np.log(1 - pa))
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, weight=t64(w, False)).item(),
                               expect.mean(), rtol=1e-12)
    assert gradcheck(lambda p, t: F.binary_cross_entropy(p, t, weight=t64(w, False)), (p, t))
    x = t64(rng.standard_normal((4, 3)))
    pw = rng.uniform(0.5, 3, 3)
    xa = x.detach().numpy()
    ls = -np.log1p(np.exp(-xa))          # log sigmoid
    expect = -(pw * ta * ls + (1 - ta) * (ls - xa))
    got = F.binary_cross_entropy_with_logits(x, t, pos_weight=t64(pw, False), reduction="none")
    np.testing.assert_allclose(got.data, expect, rtol=1e-12)
    assert gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(
        x, t, weight=t64(w, False), pos_weight=t64(pw, False)), (x, t))
    huge = minicnn.tensor(np.array([-800.0, 800.0]), dtype=np.float64)
    assert np.isfinite(F.binary_cross_entropy_with_logits(huge, np.array([1.0, 0.0])).item())
    assert F.binary_cross_entropy(minicnn.tensor(np.array([0.0], np.float32)),
                                  np.array([1.0], np.float32)).item() == 100.0  # log clamped


def test_kl_div_batchmean_and_log_target(rng):
    x = t64(np_log_softmax(rng.standard_normal((4, 5))))
    p = np.exp(np_log_softmax(rng.standard_normal((4, 5))))
    kl = (p * (np.log(p) - x.detach().numpy())).sum()
    np.testing.assert_allclose(F.kl_div(x, p, reduction="batchmean").item(), kl / 4, rtol=1e-12)
    np.testing.assert_allclose(F.kl_div(x, np.log(p), reduction="sum", log_target=True).item(),
                               kl, rtol=1e-12)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, p)
    lt = t64(np.log(p))
    assert gradcheck(lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True), (x, lt))
    zero = F.kl_div(x, np.zeros((4, 5)), reduction="sum")     # 0 log 0 = 0
    assert zero.item() == 0


def test_mse_loss_broadcasts_with_pytorchs_warning(rng):
    x = t64(rng.standard_normal((2, 3)))
    t = t64(rng.standard_normal(3))
    with pytest.warns(UserWarning, match="different to the input size"):
        loss = F.mse_loss(x, t)
    xa, ta = x.detach().numpy(), t.detach().numpy()
    np.testing.assert_allclose(loss.item(), ((xa - ta) ** 2).mean())
    loss.backward()
    assert t.grad.shape == (3,) and x.grad.shape == (2, 3)
    np.testing.assert_allclose(t.grad, (-2 * (xa - ta) / 6).sum(axis=0))


def test_one_hot():
    y = F.one_hot(minicnn.tensor(np.array([[0, 2], [1, 0]])))
    assert y.dtype == np.int64 and y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.data[0, 1], [0, 0, 1])
    assert F.one_hot(np.array([1]), num_classes=4).shape == (1, 4)
    with pytest.raises(ValueError, match="num_classes"):
        F.one_hot(np.array([5]), num_classes=3)
    with pytest.raises(TypeError, match="index tensors"):
        F.one_hot(np.array([1.0]))


def test_loss_modules():
    w = minicnn.tensor(np.array([1.0, 2.0, 3.0]))
    ce = nn.CrossEntropyLoss(weight=w, ignore_index=0, label_smoothing=0.1)
    assert repr(ce) == "CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)"
    assert list(ce.state_dict()) == ["weight"]
    assert repr(nn.KLDivLoss(reduction="batchmean")) == "KLDivLoss(reduction='batchmean')"
    assert repr(nn.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"
    for cls in (nn.NLLLoss, nn.BCELoss, nn.BCEWithLogitsLoss, nn.SmoothL1Loss, nn.HuberLoss,
                nn.MSELoss):
        assert cls().reduction == "mean"
    with pytest.warns(UserWarning, match="size_average"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="batchmean")
    x = minicnn.tensor(np.zeros((2, 3)), requires_grad=True)
    # uniform logits: nll part 0.9 * (2 + 3) log 3, smoothing 0.1 * 2 * (1 + 2 + 3) / 3 * log 3,
    # over the target weights 2 + 3
    assert ce(x, np.array([1, 2])).item() == pytest.approx(0.98 * np.log(3), rel=1e-6)


def test_losses_match_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    TF = torch.nn.functional
    x = rng.standard_normal((4, 5, 3))
    labels = rng.integers(0, 5, (4, 3))
    labels[0, 0] = 2
    probs = rng.random((4, 5, 3))
    w = rng.uniform(0.5, 2, 5)
    target01 = rng.random((4, 5, 3))
    cases = [
        ("cross_entropy", (labels,), dict(weight=w, ignore_index=2, label_smoothing=0.15)),
        ("cross_entropy", (probs,), dict(weight=w, label_smoothing=0.1)),
        ("cross_entropy", (labels,), dict(reduction="none")),
        ("nll_loss", (labels,), dict(weight=w, ignore_index=1)),
        ("binary_cross_entropy_with_logits", (target01,),
         dict(pos_weight=rng.uniform(0.5, 2, 3), weight=rng.uniform(0.5, 2, (5, 3)))),
        ("binary_cross_entropy", (target01,), dict(reduction="sum")),
        ("l1_loss", (probs,), {}), ("smooth_l1_loss", (probs,), dict(beta=0.4)),
        ("huber_loss", (probs,), dict(delta=0.6)), ("mse_loss", (probs,), {}),
        ("kl_div", (probs,), dict(reduction="batchmean")),
        ("kl_div", (np.log(probs),), dict(reduction="sum", log_target=True)),
    ]
    for name, (target,), options in cases:
        xin = 1 / (1 + np.exp(-x)) if name == "binary_cross_entropy" else x
        ours_x = t64(xin)
        theirs_x = torch.tensor(xin, requires_grad=True)
        o_opts = {k: (t64(v, False) if isinstance(v, np.ndarray) else v)
                  for k, v in options.items()}
        t_opts = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                  for k, v in options.items()}
        t_target = torch.from_numpy(target)
        o_target = target if target.dtype.kind in "iu" else t64(target, False)
        ours = getattr(F, name)(ours_x, o_target, **o_opts)
        theirs = getattr(TF, name)(theirs_x, t_target, **t_opts)
        g = rng.standard_normal(ours.shape)
        (ours * t64(g, False)).sum().backward()
        (theirs * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10,
                                   err_msg=name)
        np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)
