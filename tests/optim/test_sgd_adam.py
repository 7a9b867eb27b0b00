"""Tests for minicnn.optim: SGD/Adam/AdamW against their documented equations, groups, state dicts."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn import Tensor

STEPS = 5


def make_params(rng, dtype=np.float64):
    return [nn.Parameter(rng.standard_normal(shape).astype(dtype)) for shape in [(3, 4), (5,)]]


def grad_sequence(rng, params, steps=STEPS):
    """Fixed pseudo-gradients for each step (independent of the parameters' values)."""
    return [[rng.standard_normal(p.shape) for p in params] for _ in range(steps)]


def run(optimizer, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.astype(p.dtype)
        optimizer.step()
    return [p.detach().numpy().copy() for p in params]


# ---------------------------------------------------------------------------------------------
# The documented update equations, written out in NumPy (float64), one parameter at a time
# ---------------------------------------------------------------------------------------------

def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p = p.astype(np.float64).copy()
    b = None
    for g in grads:
        g = g + weight_decay * p
        if momentum != 0:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def adam_reference(p, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False):
    p = p.astype(np.float64).copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.1),
]


@pytest.mark.parametrize("options", SGD_CASES)
def test_sgd_matches_documented_update(rng, options):
    params = make_params(rng)
    start = [p.detach().numpy().copy() for p in params]
    grads = grad_sequence(rng, params)
    out = run(optim.SGD(params, **options), params, grads)
    for i, (p0, p) in enumerate(zip(start, out)):
        expected = sgd_reference(p0, [g[i] for g in grads], **options)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)


def test_sgd_first_momentum_buffer_is_the_undamped_gradient(rng):
    p = nn.Parameter(np.zeros(4))
    g = rng.standard_normal(4)
    opt = optim.SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    p.grad = g.copy()
    opt.step()
    np.testing.assert_allclose(p.data, -g)  # not -(1 - dampening) * g
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], g)
    p.grad = g.copy()
    opt.step()  # buffer 0.9 * g + 0.5 * g
    np.testing.assert_allclose(p.data, -g - 1.4 * g)


@pytest.mark.parametrize("cls, options", [
    (optim.Adam, dict(lr=0.01)),
    (optim.Adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    (optim.Adam, dict(lr=0.01, weight_decay=0.1)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.AdamW, dict(lr=0.03, betas=(0.5, 0.9), weight_decay=0.2)),
])
def test_adam_and_adamw_match_documented_update(rng, cls, options):
    params = make_params(rng)
    start = [p.detach().numpy().copy() for p in params]
    grads = grad_sequence(rng, params)
    opt = cls(params, **options)
    out = run(opt, params, grads)
    group = opt.param_groups[0]
    for i, (p0, p) in enumerate(zip(start, out)):
        expected = adam_reference(p0, [g[i] for g in grads], group["lr"], *group["betas"],
                                  group["eps"], group["weight_decay"],
                                  decoupled=cls is optim.AdamW)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)
    assert opt.state[params[0]]["step"] == STEPS


def test_adam_bias_correction_makes_the_first_step_lr_sized(rng):
    # With bias correction m_hat = g and v_hat = g², so the first step is lr * g / (|g| + eps).
    p = nn.Parameter(np.zeros(6))
    g = rng.standard_normal(6) * 1e-3
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    p.grad = g
    opt.step()
    np.testing.assert_allclose(p.data, -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_adamw_decay_is_decoupled_from_the_gradient():
    # With a zero gradient Adam's moments stay 0: AdamW only shrinks the weight by
    # (1 - lr * wd), while Adam's L2 term becomes a gradient and moves it by about lr.
    start = np.array([1.0, -2.0, 3.0])
    pw, pa = nn.Parameter(start.copy()), nn.Parameter(start.copy())
    adamw = optim.AdamW([pw], lr=0.1, weight_decay=0.5)
    adam = optim.Adam([pa], lr=0.1, weight_decay=0.5)
    for _ in range(3):
        pw.grad, pa.grad = np.zeros(3), np.zeros(3)
        adamw.step()
        adam.step()
    np.testing.assert_allclose(pw.data, start * (1 - 0.1 * 0.5) ** 3, rtol=1e-12)
    # (about: the L2 gradient changes a little as p moves, so the steps are not exactly lr)
    np.testing.assert_allclose(pa.data, start - 3 * 0.1 * np.sign(start), atol=5e-3)
    assert optim.AdamW([pw]).param_groups[0]["weight_decay"] == 1e-2


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=1e-2),
    lambda ps: optim.AdamW(ps, lr=1e-2),
])
def test_float32_parameters_stay_float32_and_track_float64(rng, make):
    p64 = make_params(rng)
    p32 = [nn.Parameter(p.data.float()) for p in p64]
    grads = grad_sequence(rng, p64)
    out64 = run(make(p64), p64, grads)
    out32 = run(make(p32), p32, grads)
    for a, b in zip(out32, out64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_updates_are_in_place_and_params_without_grad_are_skipped(rng):
    a, b = make_params(rng)
    a_data, a_ptr, b_before = a.detach().numpy(), a.data_ptr(), b.detach().numpy().copy()
    a_before = a_data.copy()
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = minicnn.ones_like(a)
    opt.step()
    # updated in place: the same memory, changed
    assert a.data_ptr() == a_ptr and np.shares_memory(a.detach().numpy(), a_data)
    assert not np.array_equal(a_data, a_before)
    np.testing.assert_array_equal(b.data, b_before)
    assert b not in opt.state or not opt.state[b]


def test_step_with_closure_returns_the_loss(rng):
    model = nn.Linear(3, 1, dtype=np.float64)
    x = Tensor(rng.standard_normal((8, 3)), dtype=np.float64)
    y = Tensor(x.data @ np.array([[1.0], [-2.0], [0.5]]) + 0.3, dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(60)]
    assert losses[-1] < 1e-3 * losses[0]  # it actually trains


def test_zero_grad(rng):
    params = make_params(rng)
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = np.ones(p.shape)
    grads = [p.grad for p in params]
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g.any() for p, g in zip(params, grads))
    opt.zero_grad()
    assert all(p.grad is None for p in params)


# ---------------------------------------------------------------------------------------------
# Parameter groups and validation
# ---------------------------------------------------------------------------------------------

def test_param_groups_have_their_own_options(rng):
    a, b = make_params(rng)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.9]
    a0, b0 = a.data.clone(), b.data.clone()
    a.grad, b.grad = np.ones(a.shape), np.ones(b.shape)
    opt.step()
    np.testing.assert_allclose(a.data, a0 - 0.1)
    np.testing.assert_allclose(b.data, b0 - 0.5)
    c = nn.Parameter(np.zeros(2))
    opt.add_param_group({"params": [c], "lr": 0.01})
    assert opt.param_groups[2]["momentum"] == 0 and opt.param_groups[2]["lr"] == 0.01
    assert "lr: 0.5" in repr(opt) and "Parameter Group 2" in repr(opt)


@pytest.mark.parametrize("make, error, match", [
    (lambda ps: optim.SGD(ps, lr=-0.1), ValueError, "lr"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), ValueError, "nesterov"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     ValueError, "nesterov"),
    (lambda ps: optim.SGD(ps, lr=None), TypeError, "lr"),
    (lambda ps: optim.SGD(ps, lr="0.1"), TypeError, "lr"),
    (lambda ps: optim.SGD([{"params": ps, "lr": -1}], lr=0.1), ValueError, "lr"),
    (lambda ps: optim.SGD([{"params": ps, "betas": (0.9, 0.9)}], lr=0.1), ValueError, "betas"),
    (lambda ps: optim.Adam(ps, lr=-1e-3), ValueError, "lr"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), ValueError, "betas"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), ValueError, "betas"),
    (lambda ps: optim.Adam(ps, betas=0.9), ValueError, "betas"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), ValueError, "eps"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.01), ValueError, "weight_decay"),
    (lambda ps: optim.SGD([], lr=0.1), ValueError, "empty"),
    (lambda ps: optim.SGD(ps[0], lr=0.1), TypeError, "single Tensor"),
    (lambda ps: optim.SGD([np.ones(3)], lr=0.1), TypeError, "Tensors"),
    (lambda ps: optim.SGD([ps[0], ps[0]], lr=0.1), ValueError, "more than once"),
    (lambda ps: optim.SGD([{"params": ps}, {"params": ps[:1]}], lr=0.1), ValueError,
     "more than one"),
    (lambda ps: optim.SGD([(ps[0] * 2)], lr=0.1), ValueError, "non-leaf"),
])
def test_invalid_options_raise(rng, make, error, match):
    with pytest.raises(error, match=match):
        make(make_params(rng))


# ---------------------------------------------------------------------------------------------
# State dicts: resuming gives exactly the uninterrupted result
# ---------------------------------------------------------------------------------------------

OPTIMIZERS = [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-3),
    lambda ps: optim.AdamW(ps, lr=1e-2, betas=(0.8, 0.99)),
]


def training_setup(seed):
    minicnn.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    data = np.random.default_rng(5)
    x = Tensor(data.standard_normal((4, 1, 6, 6)).astype(np.float32))
    y = data.integers(0, 3, 4)
    return model, x, y


def train_steps(model, opt, x, y, n):
    for _ in range(n):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_resume_from_state_dict_is_bit_identical(tmp_path, make):
    model, x, y = training_setup(0)
    opt = make(model.parameters())
    train_steps(model, opt, x, y, 6)
    straight = model.state_dict()

    model, x, y = training_setup(0)
    opt = make(model.parameters())
    train_steps(model, opt, x, y, 3)
    minicnn.save({"model": model.state_dict(), "optimizer": opt.state_dict()},
                 tmp_path / "ckpt.npz")

    fresh, x, y = training_setup(1)  # different initial weights: all must come from the file
    fresh_opt = make(fresh.parameters())
    ckpt = minicnn.load(tmp_path / "ckpt.npz")
    fresh.load_state_dict(ckpt["model"])
    fresh_opt.load_state_dict(ckpt["optimizer"])
    train_steps(fresh, fresh_opt, x, y, 3)
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value, straight[key])


def test_state_dict_layout_and_copies(rng):
    params = make_params(rng)
    opt = optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = np.ones(p.shape)
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    # PyTorch's keys, its implementation switches included
    assert sd["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8,
                                   "weight_decay": 0.0, "amsgrad": False, "foreach": None,
                                   "maximize": False, "capturable": False,
                                   "differentiable": False, "fused": None,
                                   "decoupled_weight_decay": False, "params": [0, 1]}]
    assert sorted(sd["state"]) == [0, 1] and sd["state"][0]["step"] == 1
    before = sd["state"][0]["exp_avg"].copy()
    opt.step()  # later steps do not change a state dict taken earlier
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)


def test_load_state_dict_restores_options_and_casts(rng):
    params = make_params(rng, np.float32)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.01
    sd["state"][0]["momentum_buffer"] = sd["state"][0]["momentum_buffer"].astype(np.float64)
    other = optim.SGD(params, lr=0.5, momentum=0.9)
    other.load_state_dict(sd)
    assert other.param_groups[0]["lr"] == 0.01
    assert other.state[params[0]]["momentum_buffer"].dtype == np.float32
    assert other.state[params[0]]["momentum_buffer"] is not sd["state"][0]["momentum_buffer"]


def test_load_state_dict_mismatches_raise(rng):
    params = make_params(rng)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = np.ones(p.shape)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameters"):
        optim.SGD(params[:1], lr=0.1).load_state_dict(sd)
    swapped = [params[1], params[0]]
    with pytest.raises(ValueError, match="shape"):
        optim.SGD(swapped, lr=0.1, momentum=0.9).load_state_dict(sd)
    with pytest.raises(ValueError, match="state_dict"):
        opt.load_state_dict({"state": {}})
    bad = opt.state_dict()
    bad["param_groups"][0]["momentum"] = -1
    with pytest.raises(ValueError, match="momentum"):
        opt.load_state_dict(bad)
    assert math.isclose(opt.param_groups[0]["momentum"], 0.9)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_resume_keeps_state_of_a_zero_dim_parameter(make):
    # A 0-d state array must stay an array: as a Python float, `buf *= momentum` would rebind
    # a local name and the optimizer's state would stop updating (review finding 2).
    def fresh():
        return nn.Parameter(np.array(1.0))

    def steps(p, opt, n):
        for _ in range(n):
            p.grad = 2.0 * p.data + 0.5  # gradient of p**2 + p/2
            opt.step()

    p = fresh()
    opt = make([p])
    steps(p, opt, 3)
    straight = p.data.clone()

    p = fresh()
    opt = make([p])
    steps(p, opt, 1)
    sd = opt.state_dict()
    resumed = make([p])
    resumed.load_state_dict(sd)
    steps(p, resumed, 2)
    assert all(isinstance(v, np.ndarray) and v.shape == ()
               for k, v in resumed.state[p].items() if k != "step")
    np.testing.assert_array_equal(p.data, straight)


@pytest.mark.parametrize("name, bad, error", [
    ("momentum_buffer", "not an array", TypeError),
    ("momentum_buffer", np.array(["a", "b"]), TypeError),
    ("step", -1, ValueError),
    ("step", 1.5, ValueError),
    ("step", True, TypeError),
])
def test_load_state_dict_refuses_bad_state_values_before_the_first_step(name, bad, error):
    # A damaged state must fail at load_state_dict, naming the state, not at the next step().
    import minicnn.optim as optim
    p = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(2)
    opt.step()
    state = opt.state_dict()
    state["state"][0][name] = bad
    with pytest.raises(error, match=name):
        optim.SGD([p], lr=0.1, momentum=0.9).load_state_dict(state)


def test_param_groups_keep_hyperparameters_as_given():
    # PyTorch keeps weight_decay=0 an int: a printed optimizer.state_dict() shows 0, not 0.0
    p = [minicnn.nn.Parameter(minicnn.zeros(2))]
    group = minicnn.optim.SGD(p, lr=0.001, momentum=0.9).state_dict()["param_groups"][0]
    assert [repr(group[k]) for k in ("lr", "momentum", "dampening", "weight_decay")] == [
        "0.001", "0.9", "0", "0"]
    assert minicnn.optim.Rprop(p).param_groups[0]["step_sizes"] == (1e-06, 50)
    assert type(minicnn.optim.Rprop(p).param_groups[0]["step_sizes"][1]) is int
    group = minicnn.optim.Adam(p, weight_decay=1).param_groups[0]
    assert repr(group["weight_decay"]) == "1" and repr(group["eps"]) == "1e-08"
    with pytest.raises(ValueError, match="weight_decay"):
        minicnn.optim.SGD(p, lr=0.1, weight_decay=-1)
    with pytest.raises(TypeError, match="dampening"):
        minicnn.optim.SGD(p, lr=0.1, dampening="0")
