"""RMSprop, Adagrad, Adadelta, Adamax, NAdam and Adam/AdamW amsgrad: 20 steps against the update
rules written out in NumPy, and (opt-in, skipped without torch) against torch.optim."""
import numpy as np
import pytest

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

def rmsprop_ref(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False):
    s, a, b = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g ** 2
        if centered:
            a = alpha * a + (1 - alpha) * g
            d = np.sqrt(s - a ** 2) + eps
        else:
            d = np.sqrt(s) + eps
        if momentum:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
    return p


def adagrad_ref(p, grads, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10):
    s = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, 1):
        g = g + weight_decay * p
        s = s + g ** 2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
    return p


def adadelta_ref(p, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
    v, u = np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g ** 2
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * dx ** 2
        p = p - lr * dx
    return p


def adamax_ref(p, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
    m, u = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        u = np.maximum(betas[1] * u, np.abs(g) + eps)
        p = p - lr / (1 - betas[0] ** t) * m / u
    return p


def nadam_ref(p, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              momentum_decay=4e-3, decoupled_weight_decay=False):
    (b1, b2), m, v, prod = betas, np.zeros_like(p), np.zeros_like(p), 1.0
    for t, g in enumerate(grads, 1):
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        prod *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        d = np.sqrt(v / (1 - b2 ** t)) + eps
        p = p - lr * (1 - mu) / (1 - prod) * g / d - lr * mu_next / (1 - prod * mu_next) * m / d
    return p


def adam_amsgrad_ref(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                     decoupled=False):
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g ** 2
        vmax = np.maximum(vmax, v)
        m_hat, v_hat = m / (1 - betas[0] ** t), vmax / (1 - betas[1] ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


CASES = [
    (optim.RMSprop, rmsprop_ref, {}),
    (optim.RMSprop, rmsprop_ref, dict(lr=0.01, alpha=0.9, momentum=0.8, centered=True,
                                      weight_decay=0.1)),
    (optim.Adagrad, adagrad_ref, {}),
    (optim.Adagrad, adagrad_ref, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                      initial_accumulator_value=0.5)),
    (optim.Adadelta, adadelta_ref, {}),
    (optim.Adadelta, adadelta_ref, dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    (optim.Adamax, adamax_ref, {}),
    (optim.Adamax, adamax_ref, dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    (optim.NAdam, nadam_ref, {}),
    (optim.NAdam, nadam_ref, dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    (optim.NAdam, nadam_ref, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    (lambda ps, **kw: optim.Adam(ps, amsgrad=True, **kw), adam_amsgrad_ref,
     dict(lr=0.05, weight_decay=0.1)),
]


@pytest.mark.parametrize("cls,ref,options", CASES)
def test_optimizer_matches_numpy_reference_20_steps(rng, cls, ref, options):
    params = make_params(rng)
    start = [p.detach().numpy().copy() for p in params]
    grads = grads_for(rng)
    got = run(cls(params, **options), params, grads)
    for i, (p0, p) in enumerate(zip(start, got)):
        expect = ref(p0, [g[i] for g in grads], **options)
        np.testing.assert_allclose(p, expect, rtol=1e-12, atol=1e-14)
        assert not np.allclose(p, p0)


def test_adamw_amsgrad_matches_reference(rng):
    params = make_params(rng)
    start = [p.detach().numpy().copy() for p in params]
    grads = grads_for(rng)
    got = run(optim.AdamW(params, lr=0.05, amsgrad=True), params, grads)
    for i, (p0, p) in enumerate(zip(start, got)):
        expect = adam_amsgrad_ref(p0, [g[i] for g in grads], lr=0.05, weight_decay=1e-2,
                                  decoupled=True)
        np.testing.assert_allclose(p, expect, rtol=1e-12)


def test_amsgrad_never_lets_the_denominator_shrink():
    p = nn.Parameter(np.array([0.0]))
    opt = optim.Adam([p], lr=1.0, amsgrad=True)
    for g in (10.0, 0.01, 0.01):
        p.grad = np.array([g])
        opt.step()
    state = opt.state[p]
    assert state["max_exp_avg_sq"][0] > state["exp_avg_sq"][0]


def test_sgd_default_lr_is_pytorchs():
    assert optim.SGD([nn.Parameter(np.zeros(2))]).param_groups[0]["lr"] == 1e-3


@pytest.mark.parametrize("make,match", [
    (lambda ps: optim.RMSprop(ps, alpha=1.5), "alpha"),
    (lambda ps: optim.RMSprop(ps, momentum=-1), "momentum"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1), "lr_decay"),
    (lambda ps: optim.Adadelta(ps, rho=-0.1), "rho"),
    (lambda ps: optim.Adamax(ps, betas=(1.0, 0.5)), "betas"),
    (lambda ps: optim.NAdam(ps, momentum_decay=-1), "momentum_decay"),
])
def test_new_optimizers_reject_bad_options(rng, make, match):
    with pytest.raises(ValueError, match=match):
        make(make_params(rng))


@pytest.mark.parametrize("make", [
    lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True),
    lambda ps: optim.Adagrad(ps, lr_decay=0.01),
    lambda ps: optim.Adadelta(ps),
    lambda ps: optim.Adamax(ps),
    lambda ps: optim.NAdam(ps),
    lambda ps: optim.Adam(ps, amsgrad=True),
])
def test_state_dict_resume_is_exact(rng, make):
    grads = grads_for(rng)
    start = make_params(rng)
    straight = [nn.Parameter(p.data.clone()) for p in start]
    run(make(straight), straight, grads)
    first = [nn.Parameter(p.data.clone()) for p in start]
    opt = make(first)
    run(opt, first, grads[:7])
    second = [nn.Parameter(p.data.clone()) for p in first]
    opt2 = make(second)
    opt2.load_state_dict(opt.state_dict())
    run(opt2, second, grads[7:])
    for a, b in zip(straight, second):
        np.testing.assert_array_equal(a.data, b.data)


# ----- opt-in: torch.optim, 20 steps side by side --------------------------------------------

TORCH_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict()),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict()),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.8, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]


@pytest.mark.parametrize("name,options", TORCH_CASES)
def test_optimizer_matches_torch_20_steps(rng, name, options):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    params = make_params(rng)
    theirs = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    grads = grads_for(rng)
    ours = run(getattr(optim, name)(params, **options), params, grads)
    topt = getattr(torch.optim, name)(theirs, **options)
    for step_grads in grads:
        for t, g in zip(theirs, step_grads):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    # torch keeps NAdam's mu_product as a float32 scalar tensor even for float64 parameters;
    # minicnn keeps it as a Python float, hence the looser tolerance there
    rtol = 1e-7 if name == "NAdam" else 1e-10
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=rtol, atol=1e-12)
