"""minicnn.autograd.functional (jacobian, vjp, jvp; hessian refused) and
minicnn.autograd.function.once_differentiable: NumPy oracles, finite differences, structures."""
import numpy as np
import pytest

import minicnn
from minicnn.autograd.function import Function, once_differentiable
from minicnn.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp


def _t(a):
    return minicnn.tensor(np.asarray(a, dtype=np.float64))


def _numeric_jacobian(f, arrays, j, eps=1e-6):
    """d f(arrays) / d arrays[j] by central differences, shape out.shape + in.shape."""
    base = f(*arrays)
    jac = np.zeros(base.shape + arrays[j].shape)
    for idx in np.ndindex(arrays[j].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[j][idx] += eps
        minus[j][idx] -= eps
        jac[(...,) + idx] = (f(*plus) - f(*minus)) / (2 * eps)
    return jac


def test_jacobian_of_tanh_layer_vs_numpy_and_finite_differences():
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((4, 3)), rng.standard_normal(3)
    jw, jx = jacobian(lambda w_, x_: (w_ @ x_).tanh(), (_t(w), _t(x)))
    d = 1 - np.tanh(w @ x) ** 2
    np.testing.assert_allclose(jx.numpy(), d[:, None] * w, rtol=1e-12)
    np.testing.assert_allclose(jw.numpy(), _numeric_jacobian(lambda a, b: np.tanh(a @ b),
                                                             [w, x], 0), rtol=1e-6, atol=1e-9)
    assert jw.shape == (4, 4, 3) and jx.dtype == minicnn.float64


def test_jacobian_structures_follow_pytorch():
    x, y = _t([1.0, 2.0]), _t([[3.0]])
    assert isinstance(jacobian(lambda a: a * 2, x), minicnn.Tensor)
    one_in_tuple = jacobian(lambda a: a * 2, (x,))
    assert isinstance(one_in_tuple, tuple) and len(one_in_tuple) == 1
    outs = jacobian(lambda a: (a * 2, a.sum()), x)
    assert isinstance(outs, tuple) and outs[1].shape == (2,)
    both = jacobian(lambda a, b: (a * b, b.sum()), (x, y))
    assert [[t.shape for t in row] for row in both] == [[(1, 2, 2), (1, 2, 1, 1)],
                                                      [(2,), (1, 1)]]
    np.testing.assert_array_equal(both[1][0].numpy(), [0.0, 0.0])   # independent: zeros


def test_vjp_and_jvp_agree_with_the_jacobian():
    rng = np.random.default_rng(1)
    a, b = _t(rng.standard_normal((2, 3))), _t(rng.standard_normal(3))

    def f(p, q):
        return (p * q).sin(), (p.exp() @ q)

    jac = jacobian(f, (a, b))
    u = (_t(rng.standard_normal((2, 3))), _t(rng.standard_normal(2)))
    out, got = vjp(f, (a, b), u)
    np.testing.assert_allclose(out[0].numpy(), np.sin(a.numpy() * b.numpy()))
    for j in range(2):
        want = sum(np.tensordot(u[k].numpy(), jac[k][j].numpy(), axes=u[k].ndim)
                   for k in range(2))
        np.testing.assert_allclose(got[j].numpy(), want, rtol=1e-12, atol=1e-14)
    v = (_t(rng.standard_normal((2, 3))), _t(rng.standard_normal(3)))
    _, got = jvp(f, (a, b), v)
    for k in range(2):
        want = sum(np.tensordot(jac[k][j].numpy(), v[j].numpy(), axes=v[j].ndim)
                   for j in range(2))
        np.testing.assert_allclose(got[k].numpy(), want, rtol=1e-12, atol=1e-14)


def test_jvp_matches_finite_differences():
    rng = np.random.default_rng(2)
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    _, got = jvp(lambda t: (t * t).cumsum(0).sigmoid(), _t(x), _t(v))
    f = lambda z: 1 / (1 + np.exp(-np.cumsum(z * z)))  # noqa: E731
    eps = 1e-6
    np.testing.assert_allclose(got.numpy(), (f(x + eps * v) - f(x - eps * v)) / (2 * eps),
                               rtol=1e-6)


def test_inputs_are_detached_and_results_cut_from_the_graph():
    x = _t([1.0, 2.0]).requires_grad_()
    out, g = vjp(lambda a: (a * a).sum(), x)
    assert x.grad is None and not out.requires_grad and not g.requires_grad
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])


def test_errors_as_pytorch():
    x = _t([1.0, 2.0])
    with pytest.raises(RuntimeError, match="v can only be None"):
        vjp(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="v can only be None"):
        jvp(lambda a: a.sum(), x)
    with pytest.raises(RuntimeError, match="invalid size"):
        vjp(lambda a: a * 2, x, _t([1.0]))
    with pytest.raises(RuntimeError, match="invalid length"):
        jvp(lambda a: a * 2, x, (x, x))
    with pytest.raises(TypeError, match="inputs given to jacobian"):
        jacobian(lambda a: a, [x])
    with pytest.raises(TypeError, match="outputs of the user-provided function"):
        jacobian(lambda a: 3.0, x)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        jacobian(lambda a, b: a * 2, (x, x), strict=True)
    with pytest.raises(RuntimeError, match="does not require gradients"):
        vjp(lambda a: minicnn.ones(1, dtype=minicnn.float64).sum(), x, strict=True)
    for call in (lambda: jacobian(lambda a: a, x, create_graph=True),
                 lambda: vjp(lambda a: a.sum(), x, create_graph=True)):
        with pytest.raises(NotImplementedError, match="create_graph=True"):
            call()
    with pytest.raises(NotImplementedError, match="vectorize=True"):
        jacobian(lambda a: a, x, strategy="forward-mode")
    with pytest.raises(AssertionError, match="strategy"):
        jacobian(lambda a: a, x, strategy="sideways")
    for fn in (hessian, hvp, vhp):
        with pytest.raises(NotImplementedError, match="higher-order gradients"):
            fn(lambda a: (a * a).sum(), x)


def test_once_differentiable_backward_runs_without_recording():
    seen = []

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            seen.append(minicnn.is_grad_enabled())
            return 3 * x * x * grad_output

    x = _t([0.5, -1.5, 2.0]).requires_grad_()
    minicnn.gradcheck(Cube.apply, (x,))
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.detach().numpy() ** 2)
    assert seen and not any(seen)
    assert minicnn.autograd.function.Function is minicnn.autograd.Function
