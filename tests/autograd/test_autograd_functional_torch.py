"""Opt-in: minicnn.autograd.functional gives torch.autograd.functional's values and structures
(skipped when torch is not importable)."""
import numpy as np
import pytest

import minicnn
from minicnn.autograd import functional as mf

torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
tf = torch.autograd.functional


def _both(a):
    return minicnn.tensor(a), torch.tensor(a)


def _same(ours, theirs):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _same(o, t)
    else:
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-11,
                                   atol=1e-13)


@pytest.mark.parametrize("tuple_in,tuple_out", [(False, False), (True, False), (False, True),
                                                (True, True)])
def test_jacobian_vjp_jvp_match_pytorch(tuple_in, tuple_out):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    (am, at), (bm, bt) = _both(a), _both(b)

    def f(lib):
        def fn(*xs):
            p = xs[0]
            q = xs[1] if len(xs) > 1 else p[0]
            first = (p * q).tanh()
            return (first, (p.exp() * q).sum(1)) if tuple_out else first
        return fn

    ins_m, ins_t = ((am, bm), (at, bt)) if tuple_in else (am, at)
    _same(mf.jacobian(f(minicnn), ins_m), tf.jacobian(f(torch), ins_t))
    outs = f(torch)(*(ins_t if tuple_in else (ins_t,)))
    outs = outs if tuple_out else (outs,)
    vs = [rng.standard_normal(tuple(o.shape)) for o in outs]
    v_m = tuple(minicnn.tensor(v) for v in vs)
    v_t = tuple(torch.tensor(v) for v in vs)
    _same(mf.vjp(f(minicnn), ins_m, v_m if tuple_out else v_m[0]),
          tf.vjp(f(torch), ins_t, v_t if tuple_out else v_t[0]))
    shapes = [a.shape, b.shape] if tuple_in else [a.shape]
    us = [rng.standard_normal(s) for s in shapes]
    u_m = tuple(minicnn.tensor(u) for u in us)
    u_t = tuple(torch.tensor(u) for u in us)
    _same(mf.jvp(f(minicnn), ins_m, u_m if tuple_in else u_m[0]),
          tf.jvp(f(torch), ins_t, u_t if tuple_in else u_t[0]))


def test_unused_inputs_give_zeros_and_strict_raises_as_pytorch():
    (xm, xt) = _both(np.array([1.0, 2.0]))
    _same(mf.jacobian(lambda a, b: a * 2, (xm, xm)), tf.jacobian(lambda a, b: a * 2, (xt, xt)))
    with pytest.raises(RuntimeError):
        tf.jacobian(lambda a, b: a * 2, (xt, xt), strict=True)
    with pytest.raises(RuntimeError):
        mf.jacobian(lambda a, b: a * 2, (xm, xm), strict=True)
