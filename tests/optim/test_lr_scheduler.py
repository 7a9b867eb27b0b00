"""minicnn.optim.lr_scheduler: 20 epochs against closed forms written out here, PyTorch's
initial-step semantics, state dicts, and (opt-in, skipped without torch) torch's schedulers."""
import math
import warnings

import numpy as np
import pytest

import minicnn.nn as nn
import minicnn.optim as optim
from minicnn.optim import lr_scheduler as S

EPOCHS = 20


def make_opt(lr=0.1, cls=optim.SGD, **kw):
    return cls([nn.Parameter(np.zeros(2))], lr=lr, **kw)


def trace(opt, sched, epochs=EPOCHS, metric=None):
    """The rate in force at each epoch, stepping as a training loop does."""
    lrs = []
    for epoch in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if metric is None:
            sched.step()
        else:
            sched.step(metric(epoch))
    return lrs


CLOSED_FORMS = [
    (lambda o: S.StepLR(o, step_size=3, gamma=0.5), lambda e: 0.1 * 0.5 ** (e // 3)),
    (lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.1),
     lambda e: 0.1 * 0.1 ** sum(m <= e for m in [2, 5, 5, 9])),
    (lambda o: S.ExponentialLR(o, gamma=0.9), lambda e: 0.1 * 0.9 ** e),
    (lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
     lambda e: 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * e / 7)) / 2),
    (lambda o: S.LambdaLR(o, lambda e: 1 / (1 + e)), lambda e: 0.1 / (1 + e)),
    (lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4),
     lambda e: 0.1 * (0.25 + 0.75 * min(e, 4) / 4)),
    (lambda o: S.MultiplicativeLR(o, lambda e: 0.8), lambda e: 0.1 * 0.8 ** e),
    (lambda o: S.ConstantLR(o, factor=0.5, total_iters=3), lambda e: 0.05 if e < 3 else 0.1),
    (lambda o: S.PolynomialLR(o, total_iters=8, power=2.0),
     lambda e: 0.1 * (1 - min(e, 8) / 8) ** 2),
    (lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=5),
     lambda e: 0.01 + 0.09 * (e % 8 / 3 if e % 8 <= 3 else (8 - e % 8) / 5)),
    (lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="triangular2"),
     lambda e: 0.01 + 0.09 * (1 - abs(e % 4 - 2) / 2) / 2 ** (e // 4)),
    (lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range",
                          gamma=0.9),
     lambda e: 0.01 + 0.09 * (1 - abs(e % 4 - 2) / 2) * 0.9 ** e),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
     # restarts at 0, 3, 9 (periods 3, 6, 12)
     lambda e: 0.01 + 0.09 * (1 + math.cos(math.pi * (e if e < 3 else e - 3 if e < 9 else e - 9)
                                           / (3 if e < 3 else 6 if e < 9 else 12))) / 2),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4),
     lambda e: 0.1 * (1 + math.cos(math.pi * (e % 4) / 4)) / 2),
    (lambda o: S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=2),
                                   S.ExponentialLR(o, 0.9)]),
     lambda e: 0.1 * 0.9 ** e * (0.5 if e < 2 else 1)),
]


@pytest.mark.parametrize("make,closed", CLOSED_FORMS)
def test_scheduler_matches_closed_form_20_epochs(make, closed):
    opt = make_opt()
    sched = make(opt)
    lrs = trace(opt, sched)
    np.testing.assert_allclose(lrs, [closed(e) for e in range(EPOCHS)], rtol=1e-12)
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]
    assert getattr(sched, "last_epoch", EPOCHS) == EPOCHS   # ChainedScheduler has none


def onecycle_ref(step, total, max_lr, pct=0.3, div=25.0, final_div=1e4):
    lo, top = max_lr / div, max_lr
    end1 = pct * total - 1

    def cos(a, b, p):
        return b + (a - b) / 2 * (math.cos(math.pi * p) + 1)
    if step <= end1:
        return cos(lo, top, step / end1)
    return cos(top, lo / final_div, (step - end1) / (total - 1 - end1))


def test_onecycle_matches_closed_form_and_cycles_momentum():
    opt = make_opt(momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=EPOCHS)
    moms = []
    lrs = []
    for step in range(EPOCHS):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if step < EPOCHS - 1:
            sched.step()
    np.testing.assert_allclose(lrs, [onecycle_ref(s, EPOCHS, 1.0) for s in range(EPOCHS)],
                               rtol=1e-12)
    assert moms[0] == pytest.approx(0.95) and min(moms) == pytest.approx(0.85)
    sched.step()
    with pytest.raises(ValueError, match="Tried to step"):
        sched.step()


def test_sequential_lr_warmup_then_decay():
    opt = make_opt()
    warm = S.LinearLR(opt, start_factor=0.5, total_iters=3)
    decay = S.ExponentialLR(opt, gamma=0.5)
    sched = S.SequentialLR(opt, [warm, decay], milestones=[3])
    lrs = trace(opt, sched, 7)
    expect = [0.05, 0.1 * (0.5 + 0.5 / 3), 0.1 * (0.5 + 1 / 3), 0.1, 0.05, 0.025, 0.0125]
    np.testing.assert_allclose(lrs, expect, rtol=1e-12)


def test_reduce_lr_on_plateau_patience_cooldown_min_lr():
    opt = make_opt(lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=0.2)
    metrics = [5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    lrs = trace(opt, sched, len(metrics), metric=lambda e: metrics[e])
    # bad epochs from epoch 2; the third (epoch 4) reduces; one cooldown epoch; and so on
    assert lrs == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    assert opt.param_groups[0]["lr"] == 0.2  # clipped at min_lr
    maxed = S.ReduceLROnPlateau(make_opt(), mode="max", patience=0)
    maxed.step(1.0)
    maxed.step(2.0)
    assert maxed.get_last_lr() == [0.1]
    maxed.step(2.0)
    assert maxed.get_last_lr() == [pytest.approx(0.01)]


def test_initial_step_semantics_and_param_groups():
    opt = optim.SGD([{"params": [nn.Parameter(np.zeros(1))], "lr": 1.0},
                     {"params": [nn.Parameter(np.zeros(1))], "lr": 0.1}])
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    assert sched.last_epoch == 0 and sched.base_lrs == [1.0, 0.1]
    assert [g["initial_lr"] for g in opt.param_groups] == [1.0, 0.1]
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.5, 0.05]


def test_stepping_the_scheduler_first_warns():
    opt = make_opt()
    sched = S.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = make_opt()
    sched2 = S.StepLR(opt2, 2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, step_size=3, gamma=0.5),
    lambda o: S.MultiStepLR(o, milestones=[2, 5]),
    lambda o: S.CosineAnnealingLR(o, T_max=5),
    lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=30),
    lambda o: S.SequentialLR(o, [S.LinearLR(o, total_iters=2), S.ExponentialLR(o, 0.9)], [2]),
])
def test_scheduler_state_dict_resume(make):
    opt = make_opt(momentum=0.9)
    sched = make(opt)
    straight = trace(opt, sched, 12)
    opt_a = make_opt(momentum=0.9)
    sched_a = make(opt_a)
    first = trace(opt_a, sched_a, 5)
    opt_b = make_opt(momentum=0.9)
    sched_b = make(opt_b)
    opt_b.load_state_dict(opt_a.state_dict())
    sched_b.load_state_dict(sched_a.state_dict())
    assert "optimizer" not in sched_a.state_dict()
    assert first + trace(opt_b, sched_b, 7) == straight


def test_scheduler_argument_errors():
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), 2)
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(make_opt(), 0)
    with pytest.raises(ValueError, match="Factor"):
        S.ReduceLROnPlateau(make_opt(), factor=1.5)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(make_opt(), max_lr=1.0)
    with pytest.raises(ValueError, match="milestone"):
        o = make_opt()
        S.SequentialLR(o, [S.StepLR(o, 2)], milestones=[3])
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(make_opt(), 2, last_epoch=3)


# ----- opt-in: torch.optim.lr_scheduler, 20 epochs side by side ------------------------------

TORCH_CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.2, total_iters=7)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=25)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=25, anneal_strategy="linear",
                        three_phase=True)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e)),
    ("ReduceLROnPlateau", dict(patience=1, factor=0.5, cooldown=1)),
    ("SequentialLR", None),
    ("ChainedScheduler", None),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("PolynomialLR", dict(total_iters=12, power=2.0)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=5)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, mode="triangular2",
                      base_momentum=0.7, max_momentum=0.95)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range",
                      gamma=0.95)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, cycle_momentum=False)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                      scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations")),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.01)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
]


@pytest.mark.parametrize("name,options", TORCH_CASES)
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_scheduler_matches_torch_20_epochs(name, options, opt_name):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    TS = torch.optim.lr_scheduler
    kw = dict(momentum=0.9) if opt_name == "SGD" else {}
    ours_opt = getattr(optim, opt_name)([nn.Parameter(np.zeros(2))], lr=0.1, **kw)
    their_opt = getattr(torch.optim, opt_name)([torch.zeros(2, requires_grad=True)], lr=0.1,
                                               **kw)

    def build(mod, opt):
        if name == "ChainedScheduler":
            return mod.ChainedScheduler([mod.ConstantLR(opt, 0.2, total_iters=3),
                                         mod.ExponentialLR(opt, 0.9)])
        if name == "SequentialLR":
            return mod.SequentialLR(opt, [mod.LinearLR(opt, 0.5, total_iters=3),
                                          mod.CosineAnnealingLR(opt, T_max=8)], [4])
        return getattr(mod, name)(opt, **options)

    ours, theirs = build(S, ours_opt), build(TS, their_opt)
    metrics = [3, 2, 2, 2, 1, 1, 1, 1, 1, 0.5] * 2
    for epoch in range(EPOCHS):
        assert ours_opt.param_groups[0]["lr"] == pytest.approx(their_opt.param_groups[0]["lr"],
                                                               rel=1e-12, abs=1e-15)
        if opt_name == "Adam":
            assert ours_opt.param_groups[0]["betas"] == pytest.approx(
                their_opt.param_groups[0]["betas"], rel=1e-12)
        else:
            assert ours_opt.param_groups[0]["momentum"] == pytest.approx(
                their_opt.param_groups[0]["momentum"], rel=1e-12)
        ours_opt.step(), their_opt.step()
        args = (metrics[epoch],) if name == "ReduceLROnPlateau" else ()
        ours.step(*args), theirs.step(*args)
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_cosine_warm_restarts_fractional_epochs_closed_form(T_mult):
    opt = make_opt()
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=T_mult, eta_min=0.001)
    for epoch in [0.25, 1.5, 2.0, 2.75, 5.5, 7.9, 13.2, 3.3, 0.0]:
        sched.step(epoch)
        start, period = 0, 2  # find the period holding epoch by walking the restarts
        while epoch >= start + period:
            start, period = start + period, period * T_mult
        expect = 0.001 + 0.099 * (1 + math.cos(math.pi * (epoch - start) / period)) / 2
        assert opt.param_groups[0]["lr"] == pytest.approx(expect, rel=1e-12)
        assert sched.last_epoch == math.floor(epoch)
    with pytest.raises(ValueError, match="non-negative epoch"):
        sched.step(-1)


def test_cosine_warm_restarts_fractional_epochs_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    ours_opt = make_opt()
    their_opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    ours = S.CosineAnnealingWarmRestarts(ours_opt, T_0=3, T_mult=2, eta_min=0.01)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(their_opt, T_0=3, T_mult=2,
                                                                  eta_min=0.01)
    iters = 4
    for epoch in range(12):
        for i in range(iters):
            ours_opt.step(), their_opt.step()
            ours.step(epoch + i / iters), theirs.step(epoch + i / iters)
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
            assert ours.T_i == theirs.T_i and ours.last_epoch == theirs.last_epoch


def test_cyclic_lr_cycles_momentum_against_the_rate():
    opt = make_opt(momentum=0.9)
    sched = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2)
    seen = []
    for _ in range(5):
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.step()
        sched.step()
    np.testing.assert_allclose(seen, [(0.01, 0.9), (0.055, 0.85), (0.1, 0.8), (0.055, 0.85),
                                      (0.01, 0.9)], rtol=1e-12)


@pytest.mark.parametrize("make,exc,match", [
    (lambda o: S.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), ValueError, "mode is invalid"),
    (lambda o: S.CyclicLR(o, 0.01, 0.1, cycle_momentum=True), ValueError, "momentum or beta1"),
    (lambda o: S.CyclicLR(o, [0.01, 0.02], 0.1), ValueError, "base_lr"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5), ValueError, "T_mult"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"), ValueError, "eta_min"),
])
def test_cyclic_schedules_reject_bad_options(make, exc, match):
    opt = optim.Adagrad([nn.Parameter(np.zeros(2))], lr=0.1)  # neither momentum nor betas
    with pytest.raises(exc, match=match):
        make(opt)


def test_cyclic_lr_state_dict_round_trip():
    opt = make_opt(momentum=0.9)
    sched = S.CyclicLR(opt, 0.01, 0.1, step_size_up=3, mode="triangular2")
    trace(opt, sched, 5)
    saved = sched.state_dict()
    assert saved["_scale_fn_custom"] is None
    opt2 = make_opt(momentum=0.9)
    sched2 = S.CyclicLR(opt2, 0.01, 0.1, step_size_up=3, mode="triangular2")
    opt2.load_state_dict(opt.state_dict())  # after building the scheduler, which sets lr
    sched2.load_state_dict(saved)
    assert trace(opt2, sched2, 8) == trace(opt, sched, 8)


def test_scheduler_state_survives_minicnn_save_and_load(tmp_path):
    import minicnn
    opt = make_opt()
    sched = S.MultiStepLR(opt, milestones=[2, 4, 4])
    trace(opt, sched, 3)
    minicnn.save({"s": sched.state_dict(), "o": opt.state_dict()}, tmp_path / "c.npz")
    back = minicnn.load(tmp_path / "c.npz")
    opt2 = make_opt()
    sched2 = S.MultiStepLR(opt2, milestones=[2])
    opt2.load_state_dict(back["o"])
    sched2.load_state_dict(back["s"])
    assert trace(opt2, sched2, 3) == trace(opt, sched, 3)
    assert sched2._get_closed_form_lr() == sched._get_closed_form_lr()
