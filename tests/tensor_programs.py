"""Random programs of views and in-place ops, written once for any torch-like library: the
Tensor-model tests run them in minicnn (against float64 gradcheck) and in PyTorch (opt-in)."""
import numpy as np

# Each view: (name, applies to a 2-D tensor of shape (4, 5) -> a view).
VIEWS = [
    ("rows", lambda t: t[1:3]),
    ("strided", lambda t: t[::2, 1::2]),
    ("select", lambda t: t.select(1, 2)),
    ("int", lambda t: t[2]),
    ("transpose", lambda t: t.t()),
    ("narrow", lambda t: t.narrow(1, 1, 3)),
    ("diagonal", lambda t: t.diagonal()),
    ("view", lambda t: t.view(20)[3:9]),
    ("unsqueeze", lambda t: t.unsqueeze(0)[0, 1]),
    ("unbind", lambda t: t.unbind(1)[4]),
    ("chunk", lambda t: t.chunk(2, 0)[1]),
    ("whole", lambda t: t),
]

# Each in-place op: (name, op(view, lib, leaf) -> None); ``leaf`` is a second leaf that requires
# grad, so values written in can carry a gradient of their own.
INPLACE = [
    ("mul_", lambda v, lib, a: v.mul_(1.5)),
    ("add_ leaf", lambda v, lib, a: v.add_(a.sum() * 0.1)),
    ("sub_ alpha", lambda v, lib, a: v.sub_(a[0] * 0.5, alpha=2)),
    ("*= leaf", lambda v, lib, a: v.__imul__(a.mean())),
    ("zero_", lambda v, lib, a: v.zero_()),
    ("fill_", lambda v, lib, a: v.fill_(0.25)),
    ("clamp_", lambda v, lib, a: v.clamp_(-0.5, 0.5)),
    ("copy_ leaf", lambda v, lib, a: v.copy_(a.sum().expand(v.shape) * 0.5)),
    ("setitem", lambda v, lib, a: v.__setitem__(..., a.max())),
    ("relu_", lambda v, lib, a: v.relu_()),
    ("exp_", lambda v, lib, a: v.mul_(0.1).exp_()),
    ("div_", lambda v, lib, a: v.div_(2.0)),
]


def draw(seed):
    """The inputs and the program of one seed: x (4, 5), a (3,), weights (4, 5), and a list
    whose first entry says whether y starts as x * 1 or tanh(x * 1), the rest (view, op)."""
    rng = np.random.default_rng(seed)
    x0, a0, w0 = (rng.standard_normal((4, 5)), rng.standard_normal(3),
                  rng.standard_normal((4, 5)))
    program = [None if rng.random() < 0.5 else "tanh"] + [
        (int(rng.integers(len(VIEWS))), int(rng.integers(len(INPLACE))))
        for _ in range(int(rng.integers(1, 5)))]
    return program, x0, a0, w0


def describe(program):
    return [(VIEWS[v][0], INPLACE[o][0]) for v, o in program[1:]]


def apply(lib, program, x, a):
    """y after the program, from leaves x and a."""
    y = x * 1 if program[0] is None else (x * 1).tanh()
    for view_i, op_i in program[1:]:
        INPLACE[op_i][1](VIEWS[view_i][1](y), lib, a)
    return y


def run(lib, program, x0, a0, w0):
    """Run ``program`` (a list of (view, op) indices) with library ``lib``; return what to
    compare, or the exception backward raised."""
    tensor = lib.tensor
    x = tensor(x0, dtype=lib.float64, requires_grad=True)
    a = tensor(a0, dtype=lib.float64, requires_grad=True)
    try:
        y = apply(lib, program, x, a)
    except RuntimeError as e:  # both refuse in-place on one of several views made together
        return {"refused": "output of a function that returns multiple views" in str(e)}
    out = {"y": y.detach().numpy().copy(), "dtype": str(y.dtype).split(".")[-1],
           "requires_grad": y.requires_grad, "is_leaf": y.is_leaf}
    try:
        (y * tensor(w0, dtype=lib.float64)).sum().backward()
    except RuntimeError as e:
        out["error"] = "modified by an inplace operation" in str(e)
        return out
    out["x.grad"] = None if x.grad is None else x.grad.numpy().copy()
    out["a.grad"] = None if a.grad is None else a.grad.numpy().copy()
    return out


