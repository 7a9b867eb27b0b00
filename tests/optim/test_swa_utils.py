"""optim.swa_utils: AveragedModel (SWA, EMA through avg_fn and multi_avg_fn, use_buffers),
SWALR's rates in closed form, update_bn; and (opt-in, skipped without torch) torch.optim.swa_utils
side by side."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.optim as optim
from minicnn.optim import swa_utils


def make_model(rng):
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.BatchNorm1d(4, dtype=np.float64),
                          nn.Linear(4, 2, dtype=np.float64))
    return model


def weights_sequence(rng, model, n=5):
    """n snapshots of random weights (and running statistics), applied to model in turn."""
    seq = []
    for _ in range(n):
        snap = [rng.standard_normal(p.shape) for p in model.parameters()]
        bufs = [rng.random(b.shape) if b._data.dtype.kind == "f" else
                np.array(rng.integers(0, 10)) for b in model.buffers()]
        seq.append((snap, bufs))
    return seq


def apply(model, snap):
    params, bufs = snap
    for p, v in zip(model.parameters(), params):
        p._data[...] = v
    for b, v in zip(model.buffers(), bufs):
        b._data[...] = v


def test_averaged_model_is_the_mean_of_the_snapshots(rng):
    model = make_model(rng)
    swa = swa_utils.AveragedModel(model)
    seq = weights_sequence(rng, model)
    for snap in seq:
        apply(model, snap)
        swa.update_parameters(model)
    assert int(swa.n_averaged.numpy()) == len(seq)
    for i, p in enumerate(swa.module.parameters()):
        np.testing.assert_allclose(p.data.numpy(), np.mean([s[0][i] for s in seq], axis=0),
                                   rtol=1e-12)
    # buffers are copied from the last model, not averaged
    for b, v in zip(swa.module.buffers(), seq[-1][1]):
        np.testing.assert_array_equal(b.numpy(), v)
    # the copy is independent of the model
    assert all(not np.shares_memory(a._data, b._data)
               for a, b in zip(swa.module.parameters(), model.parameters()))
    x = minicnn.tensor(rng.standard_normal((6, 3)))
    swa.eval()
    assert swa(x).shape == (6, 2)


@pytest.mark.parametrize("which", ["avg_fn", "multi_avg_fn"])
def test_averaged_model_ema_with_buffers(rng, which):
    decay = 0.8
    model = make_model(rng)
    fn = (dict(avg_fn=swa_utils.get_ema_avg_fn(decay)) if which == "avg_fn"
          else dict(multi_avg_fn=swa_utils.get_ema_multi_avg_fn(decay)))
    ema = swa_utils.AveragedModel(model, use_buffers=True, **fn)
    seq = weights_sequence(rng, model, 4)
    for snap in seq:
        apply(model, snap)
        ema.update_parameters(model)
    expect = [np.array(v, dtype=float) for v in seq[0][0] + seq[0][1]]
    for snap in seq[1:]:
        expect = [decay * e + (1 - decay) * v for e, v in zip(expect, snap[0] + snap[1])]
    got = list(ema.module.parameters()) + list(ema.module.buffers())
    for g, e in zip(got, expect):
        if g._data.dtype.kind == "f":
            np.testing.assert_allclose(g._data, e, rtol=1e-12)
        else:  # num_batches_tracked: an integer buffer, truncated as torch's copy_ does
            assert g._data == np.trunc(e)


def test_averaged_model_checks_its_arguments(rng):
    model = make_model(rng)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="decay"):
        swa_utils.get_ema_avg_fn(1.5)


def test_swa_multi_avg_fn_equals_the_default(rng):
    model = make_model(rng)
    a = swa_utils.AveragedModel(model)
    b = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for snap in weights_sequence(rng, model, 4):
        apply(model, snap)
        a.update_parameters(model)
        b.update_parameters(model)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data.numpy(), q.data.numpy(), rtol=1e-14)


def test_update_bn_recomputes_the_statistics_over_the_loader(rng):
    model = make_model(rng)
    bn = model[1]
    bn.running_mean._data[...] = 100.0
    batches = [rng.standard_normal((8, 3)) for _ in range(3)]
    loader = [(minicnn.tensor(x), minicnn.tensor(np.zeros(8))) for x in batches]
    model.eval()
    swa_utils.update_bn(loader, model)
    assert not model.training and bn.momentum == 0.1
    h = [model[0](minicnn.tensor(x)).detach().numpy() for x in batches]
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([x.mean(0) for x in h], 0),
                               rtol=1e-10)
    np.testing.assert_allclose(bn.running_var.numpy(),
                               np.mean([x.var(0, ddof=1) for x in h], 0), rtol=1e-10)
    swa_utils.update_bn([], nn.Linear(2, 2))  # no BatchNorm: nothing to do


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_closed_form(strategy):
    opt = optim.SGD([nn.Parameter(np.zeros(2))], lr=0.5)
    sched = swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=4, anneal_strategy=strategy)
    alpha = ((lambda t: (1 - math.cos(math.pi * t)) / 2) if strategy == "cos"
             else (lambda t: t))
    for epoch in range(8):
        t = min(1, epoch / 4)
        assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * alpha(t) + 0.5 * (1 - alpha(t)),
                                                          rel=1e-12)
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="anneal_strategy"):
        swa_utils.SWALR(opt, 0.05, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs"):
        swa_utils.SWALR(opt, 0.05, anneal_epochs=-1)


# ----- opt-in: torch.optim.swa_utils ---------------------------------------------------------

def _torch_copy(torch):
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                 torch.nn.Linear(4, 2)).double()
    return tmodel


@pytest.mark.parametrize("kind", ["swa", "ema_multi", "ema", "swa_buffers"])
def test_averaged_model_matches_torch(rng, kind):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    TU = torch.optim.swa_utils
    model = make_model(rng)
    tmodel = _torch_copy(torch)
    ours_kw, their_kw = {}, {}
    if kind == "ema_multi":
        ours_kw = dict(multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.7), use_buffers=True)
        their_kw = dict(multi_avg_fn=TU.get_ema_multi_avg_fn(0.7), use_buffers=True)
    elif kind == "ema":
        ours_kw = dict(avg_fn=swa_utils.get_ema_avg_fn(0.7))
        their_kw = dict(avg_fn=TU.get_ema_avg_fn(0.7))
    elif kind == "swa_buffers":
        ours_kw = their_kw = dict(use_buffers=True)
    ours = swa_utils.AveragedModel(model, **ours_kw)
    theirs = TU.AveragedModel(tmodel, **their_kw)
    for snap in weights_sequence(rng, model, 5):
        apply(model, snap)
        with torch.no_grad():
            for t, v in zip(list(tmodel.parameters()) + list(tmodel.buffers()),
                            snap[0] + snap[1]):
                t.copy_(torch.as_tensor(v))
        ours.update_parameters(model)
        theirs.update_parameters(tmodel)
    got = list(ours.module.parameters()) + list(ours.module.buffers())
    expect = list(theirs.module.parameters()) + list(theirs.module.buffers())
    for g, e in zip(got, expect):
        np.testing.assert_allclose(g._data, e.detach().numpy(), rtol=1e-12)
    assert int(ours.n_averaged.numpy()) == int(theirs.n_averaged)


def test_update_bn_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    model = make_model(rng)
    tmodel = _torch_copy(torch)
    with torch.no_grad():
        for t, p in zip(tmodel.parameters(), model.parameters()):
            t.copy_(torch.from_numpy(p.data.numpy()))
    batches = [rng.standard_normal((8, 3)) for _ in range(4)]
    swa_utils.update_bn([minicnn.tensor(x) for x in batches], model)
    torch.optim.swa_utils.update_bn([torch.from_numpy(x) for x in batches], tmodel)
    for b, t in zip(model.buffers(), tmodel.buffers()):
        np.testing.assert_allclose(b.numpy(), t.numpy(), rtol=1e-10)


@pytest.mark.parametrize("strategy,epochs", [("cos", 5), ("linear", 3), ("cos", 0)])
def test_swalr_matches_torch(strategy, epochs):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    opt = optim.SGD([nn.Parameter(np.zeros(2))], lr=0.5)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.5)
    sched = swa_utils.SWALR(opt, swa_lr=[0.05], anneal_epochs=epochs, anneal_strategy=strategy)
    tsched = torch.optim.swa_utils.SWALR(topt, swa_lr=[0.05], anneal_epochs=epochs,
                                         anneal_strategy=strategy)
    for _ in range(10):
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
        opt.step(), topt.step()
        sched.step(), tsched.step()
