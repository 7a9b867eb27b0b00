"""LBFGS: convergence on the Rosenbrock function, the two-loop recursion on a quadratic (where
it finds the minimum in n steps), state dicts, and (opt-in, skipped without torch) PyTorch's
iterates step by step, with and without the strong-Wolfe line search."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.optim as optim
from minicnn.optim.lbfgs import _cubic_interpolate


def rosenbrock(xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def closure_for(opt, f, params):
    def closure():
        opt.zero_grad()
        loss = f(*params)
        loss.backward()
        return loss
    return closure


def rosenbrock_run(steps, **options):
    w = nn.Parameter(np.array([-1.5, 2.0]))
    opt = optim.LBFGS([w], **options)
    closure = closure_for(opt, rosenbrock, [w])
    losses = [float(opt.step(closure)) for _ in range(steps)]
    return w, opt, losses


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_converges_on_rosenbrock(line_search_fn):
    lr = 1.0 if line_search_fn else 0.1
    steps = 20 if line_search_fn else 300
    w, opt, losses = rosenbrock_run(steps, lr=lr, line_search_fn=line_search_fn)
    np.testing.assert_allclose(w.data.numpy(), [1.0, 1.0], atol=1e-4)
    assert losses[0] > 1 and losses[-1] < 1e-8
    assert opt.state[w]["func_evals"] > opt.state[w]["n_iter"] > 0


def test_lbfgs_strong_wolfe_solves_a_quadratic_in_n_iterations(rng):
    # exact line searches are not needed: on a convex quadratic in 5 unknowns, L-BFGS with
    # Wolfe steps reaches the minimiser A^-1 b to round-off within a handful of iterations
    M = rng.standard_normal((5, 5))
    A, b = M @ M.T + 5 * np.eye(5), rng.standard_normal(5)
    w = nn.Parameter(np.zeros(5))
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe", max_iter=50,
                      tolerance_grad=1e-12, tolerance_change=0)
    An, bn = minicnn.tensor(A), minicnn.tensor(b)
    opt.step(closure_for(opt, lambda v: 0.5 * (v * (An @ v)).sum() - (bn * v).sum(), [w]))
    np.testing.assert_allclose(w.data.numpy(), np.linalg.solve(A, b), rtol=1e-7, atol=1e-8)


def test_lbfgs_first_iteration_is_a_scaled_gradient_step():
    # n_iter 1: t = min(1, 1/|g|_1) * lr, x = x - t g; max_iter=1 evaluates the closure once
    w = nn.Parameter(np.array([3.0, -4.0]))
    opt = optim.LBFGS([w], lr=0.5, max_iter=1)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    g = np.array([6.0, -8.0])
    np.testing.assert_allclose(w.data.numpy(), [3.0, -4.0] - 0.5 / 14 * g, rtol=1e-14)
    assert len(calls) == 1


def test_cubic_interpolate_finds_the_minimum_of_a_cubic():
    f = lambda x: x ** 3 - 3 * x  # minimum at x = 1 on [0, 2]
    df = lambda x: 3 * x ** 2 - 3
    assert _cubic_interpolate(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0)) == pytest.approx(1.0)
    # no real minimiser: the midpoint of the bounds
    assert _cubic_interpolate(0.0, 0.0, 1.5, 1.0, 1.0, 1.5, bounds=(0.0, 4.0)) == 2.0


def test_lbfgs_options_are_checked():
    w = nn.Parameter(np.zeros(2))
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [nn.Parameter(np.zeros(1))], "lr": 0.1}])
    with pytest.raises(ValueError, match="lr"):
        optim.LBFGS([w], lr=-1)
    with pytest.raises(TypeError):
        optim.LBFGS([w]).step()  # the closure is required, as PyTorch's


def test_lbfgs_max_eval_defaults_to_five_quarters_of_max_iter():
    opt = optim.LBFGS([nn.Parameter(np.zeros(2))], max_iter=8)
    assert opt.param_groups[0]["max_eval"] == 10


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_resume_is_exact(line_search_fn, tmp_path):
    options = dict(lr=0.1 if line_search_fn is None else 1, max_iter=5, history_size=3,
                   line_search_fn=line_search_fn)
    straight, _, _ = rosenbrock_run(6, **options)
    w, opt, _ = rosenbrock_run(3, **options)
    saved = opt.state_dict()
    assert len(saved["state"][0]["old_dirs"]) == 3
    w2 = nn.Parameter(w.data.numpy().copy())
    opt2 = optim.LBFGS([w2], **options)
    opt2.load_state_dict(saved)
    closure = closure_for(opt2, rosenbrock, [w2])
    for _ in range(3):
        opt2.step(closure)
    np.testing.assert_array_equal(w2.data.numpy(), straight.data.numpy())
    # the saved lists are copies: stepping the first optimizer again leaves them alone
    before = [v.copy() for v in saved["state"][0]["old_dirs"]]
    opt.step(closure_for(opt, rosenbrock, [w]))
    for a, b in zip(before, saved["state"][0]["old_dirs"]):
        np.testing.assert_array_equal(a, b)


def test_lbfgs_state_dict_load_rejects_a_wrong_size():
    _, opt, _ = rosenbrock_run(1, max_iter=3)
    saved = opt.state_dict()
    saved["state"][0]["d"] = np.zeros(3)
    with pytest.raises(ValueError, match="flat array of 2"):
        optim.LBFGS([nn.Parameter(np.zeros(2))]).load_state_dict(saved)


# ----- opt-in: PyTorch's iterates ----------------------------------------------------------

@pytest.mark.parametrize("line_search_fn,lr,history_size", [
    (None, 0.1, 100), (None, 0.2, 3), ("strong_wolfe", 1.0, 100), ("strong_wolfe", 1.0, 2)])
def test_lbfgs_matches_torch_iterates_on_rosenbrock(line_search_fn, lr, history_size):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    options = dict(lr=lr, max_iter=4, history_size=history_size, line_search_fn=line_search_fn)
    w = nn.Parameter(np.array([-1.5, 2.0]))
    opt = optim.LBFGS([w], **options)
    closure = closure_for(opt, rosenbrock, [w])
    tw = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.LBFGS([tw], **options)
    tclosure = closure_for(topt, rosenbrock, [tw])
    # Rosenbrock's valley amplifies round-off (differences start at 1e-16 and reach ~1e-8 by
    # the 8th step), so the values are compared to 1e-6 and the evaluation counts exactly
    for _ in range(10):
        ours, theirs = float(opt.step(closure)), float(topt.step(tclosure).detach())
        assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-7)
        np.testing.assert_allclose(w.data.numpy(), tw.detach().numpy(), rtol=1e-6, atol=1e-6)
        assert opt.state[w]["func_evals"] == topt.state[tw]["func_evals"]
        assert opt.state[w]["n_iter"] == topt.state[tw]["n_iter"]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_matches_torch_on_a_linear_model(rng, line_search_fn):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    X, Y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    W, B = rng.standard_normal((2, 3)), rng.standard_normal(2)
    model = nn.Linear(3, 2, dtype=np.float64)
    model.weight, model.bias = nn.Parameter(W.copy()), nn.Parameter(B.copy())
    tmodel = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        tmodel.weight.copy_(torch.from_numpy(W))
        tmodel.bias.copy_(torch.from_numpy(B))
    options = dict(lr=0.5, max_iter=5, line_search_fn=line_search_fn)
    opt = optim.LBFGS(model.parameters(), **options)
    topt = torch.optim.LBFGS(tmodel.parameters(), **options)
    Xn, Yn, Xt, Yt = minicnn.tensor(X), minicnn.tensor(Y), torch.from_numpy(X), \
        torch.from_numpy(Y)
    closure = closure_for(opt, lambda: ((model(Xn) - Yn) ** 2).mean(), [])
    tclosure = closure_for(topt, lambda: ((tmodel(Xt) - Yt) ** 2).mean(), [])
    for _ in range(4):
        opt.step(closure), topt.step(tclosure)
    for a, b in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(a.data.numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-9)
    assert not np.allclose(model.weight.data.numpy(), W)
