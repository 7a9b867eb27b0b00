"""The engine track's checks (tasks value, function, linear and train_digits); see
``_checks.py``."""
import math

import numpy as np

import minicnn
import minicnn.nn.functional as F

from exercises import _hints
from exercises._checks import WrongAnswer, assert_close, expect

_ORDER = ("a node's backward ran before every node computed from it had sent its share of the "
          "gradient: visit the graph in reverse topological order")


# --- value -------------------------------------------------------------------------------------

def check_value_forward(m):
    a, b = m.Value(2.0), m.Value(-3.0)
    cases = [("a + b", a + b, -1.0), ("a * b", a * b, -6.0), ("a ** 3", a ** 3, 8.0),
             ("a.exp()", a.exp(), math.exp(2)), ("a.log()", a.log(), math.log(2)),
             ("b.relu()", b.relu(), 0.0), ("a.relu()", a.relu(), 2.0),
             ("a + 1", a + 1, 3.0), ("2 * b", 2 * b, -6.0), ("a / b - 1", a / b - 1, -5 / 3)]
    for text, got, want in cases:
        expect(isinstance(got, m.Value), f"{text} returned {type(got).__name__}, not a Value")
        assert_close(got.data, want, text, atol=1e-12)


def _value_grads(m, f, values):
    leaves = [m.Value(v) for v in values]
    f(*leaves).backward()
    return [leaf.grad for leaf in leaves]


def _numeric(f, values, eps=1e-6):
    out = []
    for i in range(len(values)):
        up, down = list(values), list(values)
        up[i] += eps
        down[i] -= eps
        out.append((f(*up) - f(*down)) / (2 * eps))
    return out


EXPRESSIONS = [
    ("a * b + b ** 2", lambda a, b: a * b + b ** 2, (1.5, -0.5)),
    ("(a * b).exp() + (a + 3).log()", lambda a, b: (a * b).exp() + (a + 3).log(), (0.7, 0.4)),
    ("(a * b - 1).relu() * a", lambda a, b: (a * b - 1).relu() * a, (2.0, 1.5)),
    ("(a ** -2 + a / b) * b", lambda a, b: (a ** -2 + a / b) * b, (1.3, 2.0)),
]


def _as_float(f):
    """An expression of Values, run on floats (with math.exp, math.log, max(., 0))."""
    class Num(float):
        def exp(self): return Num(math.exp(self))
        def log(self): return Num(math.log(self))
        def relu(self): return Num(max(self, 0.0))
        __add__ = lambda s, o: Num(float(s) + o)            # noqa: E731
        __radd__ = __add__
        __mul__ = lambda s, o: Num(float(s) * o)            # noqa: E731
        __rmul__ = __mul__
        __sub__ = lambda s, o: Num(float(s) - o)            # noqa: E731
        __truediv__ = lambda s, o: Num(float(s) / o)        # noqa: E731
        __pow__ = lambda s, o: Num(float(s) ** o)           # noqa: E731
    return lambda *xs: float(f(*(Num(x) for x in xs)))


def check_value_gradients(m):
    for text, f, values in EXPRESSIONS:
        got = _value_grads(m, f, values)
        want = _numeric(_as_float(f), values)
        for name, g, w in zip("ab", got, want):
            assert_close(g, w, f"d({text})/d{name}",
                         lambda: _hints.reused_value_overwritten(g, w), rtol=1e-5, atol=1e-7)


def check_value_reuse_and_order(m):
    # x used twice, and a diamond: c depends on x both directly and through b.
    x = m.Value(3.0)
    (x * x).backward()
    assert_close(x.grad, 6.0, "d(x * x)/dx at x = 3",
                 lambda: _hints.reused_value_overwritten(x.grad, 6.0))
    x = m.Value(2.0)
    b = x * 3
    c = b * x + b          # 3x^2 + 3x: dc/dx = 6x + 3 = 15
    d = c * c              # dd/dx = 2c * 15 = 2 * 18 * 15
    d.backward()
    assert_close(x.grad, 540.0, "d((3x*x + 3x)^2)/dx at x = 2",
                 lambda: _hints.reused_value_overwritten(x.grad, 540.0),
                 lambda: _ORDER)


# --- function ----------------------------------------------------------------------------------

def check_function_context(m):
    ctx = m.Context()
    a, b = np.arange(3.0), np.ones(2)
    ctx.save_for_backward(a, b)
    expect(isinstance(ctx.saved_tensors, tuple) and len(ctx.saved_tensors) == 2
           and ctx.saved_tensors[0] is a and ctx.saved_tensors[1] is b,
           "ctx.saved_tensors is not the tuple of the arrays given to save_for_backward")
    out = m.Mul.apply(m.Tensor(a), m.Tensor(np.full(3, 2.0)))
    expect(isinstance(out, m.Tensor), f"Mul.apply returned {type(out).__name__}, not a Tensor")
    assert_close(out.data, 2 * a, "Mul.apply(a, 2)")
    expect(out._fn is m.Mul and len(out._parents) == 2,
           "Function.apply did not record its Function (_fn) and its inputs (_parents)")


def _one_use_only(got, paths):
    if any(np.shape(p) == np.shape(got) and np.allclose(got, p) for p in paths):
        return ("a Tensor used twice gets only one use's gradient: add each parent's share to "
                "its .grad, never assign it")
    return None


def check_function_gradients(m):
    rng = np.random.default_rng(20)
    for a_shape, b_shape in [((3, 4), (3, 4)), ((2, 3, 4), (3, 1)), ((4,), ())]:
        a_np, b_np = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
        a, b = m.Tensor(a_np), m.Tensor(b_np)
        try:
            ((a * b + b.exp()) * a).sum().backward()
        except TypeError as exc:
            if "NoneType" not in str(exc):
                raise
            raise WrongAnswer(f"backward() of sum((a * b + exp(b)) * a) raised {exc}",
                              _ORDER) from None
        ta = minicnn.tensor(a_np, dtype=np.float64, requires_grad=True)
        tb = minicnn.tensor(b_np, dtype=np.float64, requires_grad=True)
        ((ta * tb + tb.exp()) * ta).sum().backward()
        for name, got, want in (("a", a.grad, ta.grad.numpy()), ("b", b.grad, tb.grad.numpy())):
            what = f"d sum((a * b + exp(b)) * a) / d{name}, a {a_shape}, b {b_shape}"
            expect(got is not None and np.shape(got) == want.shape,
                   f"{what}: grad {None if got is None else np.shape(got)}, "
                   f"expected shape {want.shape}")
            paths = [a_np * b_np, a_np * b_np + np.exp(b_np)]   # a's two uses, one each
            assert_close(got, want, what,
                         lambda: _one_use_only(got, paths) if name == "a" else None,
                         rtol=1e-10, atol=1e-12)


# --- linear ------------------------------------------------------------------------------------

def check_linear_forward_backward(m):
    rng = np.random.default_rng(21)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    g = rng.standard_normal((5, 3))
    tx, tw, tb = (minicnn.tensor(v, dtype=np.float64, requires_grad=True) for v in (x, w, b))
    y = F.linear(tx, tw, tb)
    assert_close(m.linear_forward(x, w, b), y.detach().numpy(), "linear_forward", atol=1e-12)
    (y * minicnn.tensor(g, dtype=np.float64)).sum().backward()
    got = m.linear_backward(g, x, w)
    expect(len(got) == 3, "linear_backward must return (grad_x, grad_weight, grad_bias)")
    for name, mine, want in zip(("grad_x", "grad_weight", "grad_bias"), got,
                                (tx.grad, tw.grad, tb.grad)):
        want = want.numpy()
        expect(np.shape(mine) == want.shape,
               f"{name}: shape {np.shape(mine)}, expected {want.shape}")
        assert_close(mine, want, name, lambda: _hints.times_n(mine, want, name), atol=1e-12)


def blobs(n=60, seed=22):
    """Two Gaussian blobs in the plane, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal((-1.5, -1.0), 0.8, (n, 2)), rng.normal((1.5, 1.0), 0.8, (n, 2))])
    return x, np.repeat([0, 1], n)


def check_linear_trains_on_blobs(m):
    x, labels = blobs()
    weight, bias, losses = m.train(x, labels, 2, epochs=100, lr=0.5)
    expect(np.shape(weight) == (2, 2) and np.shape(bias) == (2,),
           f"train returned weight {np.shape(weight)} and bias {np.shape(bias)}, "
           "expected (2, 2) and (2,)")
    expect(len(losses) == 100, f"{len(losses)} losses for 100 epochs")
    expect(losses[-1] < 0.5 * losses[0], f"the loss went from {losses[0]:.4f} to "
           f"{losses[-1]:.4f} in 100 epochs; expected it at least halved",
           lambda: _hints.uphill(losses))
    accuracy = np.mean(np.argmax(x @ np.asarray(weight).T + bias, axis=1) == labels)
    expect(accuracy >= 0.95, f"training accuracy {accuracy:.2f} on two separable blobs; "
           "expected at least 0.95")


# --- train_digits ------------------------------------------------------------------------------

def check_train_digits_with_your_kernels(m):
    losses, accuracy = m.train_digits(epochs=1)                  # minicnn's kernels
    expect(len(losses) == 45, f"{len(losses)} losses for one epoch of 1437 images in batches "
           "of 32; expected 45 (one per step)")
    expect(np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]),
           f"the loss went from {losses[0]:.3f} to {losses[-1]:.3f} in one epoch; expected it "
           "at least halved", lambda: _hints.uphill(losses))
    expect(accuracy >= 0.85, f"test accuracy {accuracy:.3f} after one epoch; expected at "
           "least 0.85")
    with m.your_kernels():
        your_losses, your_accuracy = m.train_digits(epochs=1)    # your kernels
    assert_close(your_losses, losses, "every step's loss, your kernels against minicnn's",
                 rtol=1e-3, atol=1e-5)
    expect(abs(your_accuracy - accuracy) <= 0.02, f"test accuracy {your_accuracy:.3f} with "
           f"your kernels, {accuracy:.3f} with minicnn's")
