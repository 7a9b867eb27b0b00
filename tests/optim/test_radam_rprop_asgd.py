"""RAdam, Rprop and ASGD against their update rules written out in NumPy; ``maximize`` and
PyTorch's implementation switches on every optimizer; and (opt-in, skipped without torch) 20
steps side by side with torch.optim on random gradients, a quadratic and a tiny Linear model."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.optim as optim

STEPS = 20
SHAPES = [(3, 4), (5,)]


def make_params(rng, dtype=np.float64):
    return [nn.Parameter(rng.standard_normal(shape).astype(dtype)) for shape in SHAPES]


def grads_for(rng):
    return [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(STEPS)]


def run(opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.astype(p.dtype)
        opt.step()
    return [p.detach().numpy().copy() for p in params]


# ----- the rules in NumPy, one parameter at a time --------------------------------------------

def radam_ref(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              decoupled_weight_decay=False):
    (b1, b2), m, v = betas, np.zeros_like(p), np.zeros_like(p)
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, 1):
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                          / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * m_hat * r * math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
        else:
            p = p - lr * m_hat
    return p


def rprop_ref(p, grads, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
    prev, size = np.zeros_like(p), np.full_like(p, lr)
    for g in grads:
        s = np.sign(g * prev)
        size = np.clip(size * np.select([s > 0, s < 0], [etas[1], etas[0]], 1.0), *step_sizes)
        g = np.where(s < 0, 0.0, g)
        p = p - np.sign(g) * size
        prev = g
    return p


def asgd_ref(p, grads, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0):
    eta, mu, ax = lr, 1.0, np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax) if mu != 1 else p.copy()
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)
    return p, ax


CASES = [
    (optim.RAdam, radam_ref, {}),
    (optim.RAdam, radam_ref, dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    (optim.RAdam, radam_ref, dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    (optim.Rprop, rprop_ref, {}),
    (optim.Rprop, rprop_ref, dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.01, 0.2))),
    (optim.ASGD, lambda *a, **k: asgd_ref(*a, **k)[0], {}),
    (optim.ASGD, lambda *a, **k: asgd_ref(*a, **k)[0],
     dict(lr=0.1, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),
]


@pytest.mark.parametrize("cls,ref,options", CASES)
def test_optimizer_matches_numpy_reference_20_steps(rng, cls, ref, options):
    params = make_params(rng)
    start = [p.detach().numpy().copy() for p in params]
    grads = grads_for(rng)
    got = run(cls(params, **options), params, grads)
    for i, (p0, p) in enumerate(zip(start, got)):
        np.testing.assert_allclose(p, ref(p0, [g[i] for g in grads], **options),
                                   rtol=1e-12, atol=1e-14)
        assert not np.allclose(p, p0)


def test_radam_first_steps_are_momentum_sgd():
    # rho_t <= 5 for t <= 5 with beta2 = 0.999: the step is lr * m_hat, m_hat = g for constant g
    p = nn.Parameter(np.array([1.0, -2.0]))
    opt = optim.RAdam([p], lr=0.1)
    for _ in range(3):
        p.grad = np.array([0.5, -4.0])
        opt.step()
    np.testing.assert_allclose(p.data.numpy(), [1.0 - 0.15, -2.0 + 1.2], rtol=1e-12)


def test_rprop_hand_step():
    # grads +1, +1, -1: sizes 0.1, 0.12 (same sign), 0.06 (flip: no move, prev set to 0)
    p = nn.Parameter(np.array([0.0]))
    opt = optim.Rprop([p], lr=0.1)
    moves = []
    for g in (1.0, 1.0, -1.0, -1.0):
        p.grad = np.array([g])
        before = p.data.numpy()[0]
        opt.step()
        moves.append(p.data.numpy()[0] - before)
    np.testing.assert_allclose(moves, [-0.1, -0.12, 0.0, 0.06], rtol=1e-12)


def test_asgd_averages_from_t0(rng):
    params = make_params(rng)
    start = [p.detach().numpy().copy() for p in params]
    grads = grads_for(rng)
    opt = optim.ASGD(params, lr=0.1, t0=5)
    run(opt, params, grads)
    for i, (p0, p) in enumerate(zip(start, params)):
        expect_p, expect_ax = asgd_ref(p0, [g[i] for g in grads], lr=0.1, t0=5)
        np.testing.assert_allclose(opt.state[p]["ax"], expect_ax, rtol=1e-12)
        assert not np.allclose(opt.state[p]["ax"], p.data.numpy())  # a real average


# ----- maximize and the implementation switches --------------------------------------------

ALL = [
    ("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.05)), ("AdamW", dict(lr=0.05)),
    ("Adamax", {}), ("NAdam", {}), ("RAdam", {}), ("RMSprop", {}), ("Adagrad", {}),
    ("Adadelta", {}), ("Rprop", {}), ("ASGD", {}),
]


@pytest.mark.parametrize("name,options", ALL)
def test_maximize_is_descent_on_the_negated_gradient(rng, name, options):
    grads = grads_for(rng)
    start = make_params(rng)
    up = [nn.Parameter(p.data.clone()) for p in start]
    down = [nn.Parameter(p.data.clone()) for p in start]
    got = run(getattr(optim, name)(up, maximize=True, **options), up, grads)
    expect = run(getattr(optim, name)(down, **options), down, [[-g for g in s] for s in grads])
    for a, b, p0 in zip(got, expect, start):
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, p0.data.numpy())


@pytest.mark.parametrize("name,options", ALL)
def test_implementation_switches_accepted_or_refused(rng, name, options):
    import inspect
    sig = inspect.signature(getattr(optim, name))
    params = make_params(rng)
    opt = getattr(optim, name)(params, foreach=True, **options)
    assert opt.param_groups[0]["foreach"] is True and opt.param_groups[0]["maximize"] is False
    if "fused" in sig.parameters:
        getattr(optim, name)(make_params(rng), fused=True, **options)
        with pytest.raises(RuntimeError, match="cannot be `True` together"):
            getattr(optim, name)(make_params(rng), fused=True, foreach=True, **options)
    for flag in ("capturable", "differentiable"):
        if flag in sig.parameters:
            with pytest.raises(NotImplementedError, match=flag):
                getattr(optim, name)(make_params(rng), **{flag: True}, **options)
    with pytest.raises(TypeError, match="maximize"):
        getattr(optim, name)(make_params(rng), maximize="yes", **options)


@pytest.mark.parametrize("make,exc,match", [
    (lambda ps: optim.RAdam(ps, betas=(0.9, 1.0)), ValueError, "betas"),
    (lambda ps: optim.Rprop(ps, etas=(1.5, 1.2)), ValueError, "Invalid eta values"),
    (lambda ps: optim.Rprop(ps, lr=-1), ValueError, "lr"),
    (lambda ps: optim.ASGD(ps, weight_decay=-1), ValueError, "weight_decay"),
])
def test_new_optimizers_reject_bad_options(rng, make, exc, match):
    with pytest.raises(exc, match=match):
        make(make_params(rng))


@pytest.mark.parametrize("make", [
    lambda ps: optim.RAdam(ps, weight_decay=0.1, decoupled_weight_decay=True),
    lambda ps: optim.Rprop(ps),
    lambda ps: optim.ASGD(ps, t0=3, lambd=0.01),
    lambda ps: optim.Adam(ps, maximize=True, decoupled_weight_decay=True, weight_decay=0.1),
])
def test_state_dict_resume_is_exact(rng, make, tmp_path):
    grads = grads_for(rng)
    start = make_params(rng)
    straight = [nn.Parameter(p.data.clone()) for p in start]
    run(make(straight), straight, grads)
    first = [nn.Parameter(p.data.clone()) for p in start]
    opt = make(first)
    run(opt, first, grads[:7])
    minicnn.save({"o": opt.state_dict()}, tmp_path / "o.npz")
    second = [nn.Parameter(p.data.clone()) for p in first]
    opt2 = make(second)
    opt2.load_state_dict(minicnn.load(tmp_path / "o.npz")["o"])
    run(opt2, second, grads[7:])
    for a, b in zip(straight, second):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_load_rejects_a_wrong_shape(rng):
    opt = optim.Rprop(make_params(rng))
    run(opt, opt.param_groups[0]["params"], grads_for(rng)[:2])
    saved = opt.state_dict()
    saved["state"][0]["step_size"] = np.zeros(7)
    with pytest.raises(ValueError, match="shape"):
        optim.Rprop(make_params(rng)).load_state_dict(saved)


# ----- opt-in: torch.optim, 20 steps side by side --------------------------------------------

TORCH_CASES = [
    ("RAdam", {}),
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Rprop", {}),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.01, 0.2), maximize=True)),
    ("ASGD", {}),
    ("ASGD", dict(lr=0.1, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05, decoupled_weight_decay=True, weight_decay=0.1)),
] + [(name, dict(options, maximize=True)) for name, options in ALL]


def _torch_run(torch, name, options, theirs, grads):
    topt = getattr(torch.optim, name)(theirs, **options)
    for step_grads in grads:
        for t, g in zip(theirs, step_grads):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    return topt


@pytest.mark.parametrize("name,options", TORCH_CASES)
def test_optimizer_matches_torch_20_steps(rng, name, options):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    params = make_params(rng)
    theirs = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    grads = grads_for(rng)
    ours_opt = getattr(optim, name)(params, **options)
    ours = run(ours_opt, params, grads)
    topt = _torch_run(torch, name, options, theirs, grads)
    # torch keeps ASGD's eta/mu and NAdam's mu_product as float32 scalar tensors
    rtol = 1e-6 if name in ("ASGD", "NAdam") else 1e-10
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=rtol, atol=1e-12)
    if name == "ASGD":
        for p, t in zip(params, theirs):
            np.testing.assert_allclose(ours_opt.state[p]["ax"], topt.state[t]["ax"].numpy(),
                                       rtol=rtol, atol=1e-12)


TORCH_MODEL_CASES = [
    ("RAdam", dict(lr=0.05)), ("RAdam", dict(lr=0.05, weight_decay=0.1,
                                            decoupled_weight_decay=True)),
    ("Rprop", dict(lr=0.01)), ("ASGD", dict(lr=0.05, t0=5)),
    ("SGD", dict(lr=0.05, momentum=0.9, maximize=True)), ("Adam", dict(lr=0.05)),
]


@pytest.mark.parametrize("problem", ["quadratic", "linear"])
@pytest.mark.parametrize("name,options", TORCH_MODEL_CASES)
def test_optimizer_matches_torch_on_a_model_20_steps(rng, name, options, problem):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    sign = -1.0 if options.get("maximize") else 1.0
    if problem == "quadratic":
        # f(w) = 0.5 w^T A w - b^T w, A positive definite
        M = rng.standard_normal((4, 4))
        A, b, w0 = M @ M.T + np.eye(4), rng.standard_normal(4), rng.standard_normal(4)
        ours_p = [nn.Parameter(w0.copy())]
        theirs_p = [torch.tensor(w0.copy(), requires_grad=True)]
        At, bt = torch.from_numpy(A), torch.from_numpy(b)
        An, bn = minicnn.tensor(A), minicnn.tensor(b)

        def ours_loss():
            w = ours_p[0]
            return (0.5 * (w * (An @ w)).sum() - (bn * w).sum()) * sign

        def their_loss():
            w = theirs_p[0]
            return (0.5 * (w @ At @ w) - bt @ w) * sign
    else:
        X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
        ours_model = nn.Linear(3, 2, dtype=np.float64)
        ours_model.weight = nn.Parameter(rng.standard_normal((2, 3)))
        ours_model.bias = nn.Parameter(rng.standard_normal(2))
        their_model = torch.nn.Linear(3, 2).double()
        with torch.no_grad():
            their_model.weight.copy_(torch.from_numpy(ours_model.weight.data.numpy()))
            their_model.bias.copy_(torch.from_numpy(ours_model.bias.data.numpy()))
        ours_p, theirs_p = list(ours_model.parameters()), list(their_model.parameters())
        Xn, Yn, Xt, Yt = minicnn.tensor(X), minicnn.tensor(Y), torch.from_numpy(X), \
            torch.from_numpy(Y)

        def ours_loss():
            return ((ours_model(Xn) - Yn) ** 2).mean() * sign

        def their_loss():
            return ((their_model(Xt) - Yt) ** 2).mean() * sign
    ours_opt = getattr(optim, name)(ours_p, **options)
    their_opt = getattr(torch.optim, name)(theirs_p, **options)
    start = [p.data.numpy().copy() for p in ours_p]
    for _ in range(STEPS):
        ours_opt.zero_grad()
        ours_loss().backward()
        ours_opt.step()
        their_opt.zero_grad()
        their_loss().backward()
        their_opt.step()
    for a, b, p0 in zip(ours_p, theirs_p, start):
        assert a.data.numpy().dtype == np.float64
        np.testing.assert_allclose(a.data.numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-9)
        assert not np.allclose(a.data.numpy(), p0)


SIGNATURES = [("optim", n) for n in ("SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam",
                                     "RMSprop", "Adagrad", "Adadelta", "Rprop", "ASGD",
                                     "LBFGS")] + \
    [("optim.lr_scheduler", n) for n in ("CyclicLR", "CosineAnnealingWarmRestarts",
                                         "PolynomialLR", "MultiplicativeLR")] + \
    [("optim.swa_utils", n) for n in ("AveragedModel", "SWALR", "update_bn")]


@pytest.mark.parametrize("where,name", SIGNATURES)
def test_signature_is_torchs(where, name):
    # the same parameter names, kinds (positional / keyword-only) and defaults
    import importlib
    import inspect
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    ours = getattr(importlib.import_module("minicnn." + where), name)
    theirs = getattr(importlib.import_module("torch." + where), name)
    assert torch is not None

    def shape(f):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]
    assert shape(ours) == shape(theirs)
