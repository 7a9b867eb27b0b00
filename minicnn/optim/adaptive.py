"""Per-coordinate step sizes without Adam's bias correction: RMSprop, Adagrad and Adadelta."""
import numpy as np

from minicnn._checks import check_bool, check_nonnegative, check_unit
from minicnn.optim.optimizer import Optimizer

__all__ = ["RMSprop", "Adagrad", "Adadelta"]


class RMSprop(Optimizer):
    r"""RMSprop: divide the gradient by a running root-mean-square of recent gradients.

    For each parameter ``p`` with gradient ``g`` (PyTorch's documented rule)::

        if weight_decay != 0:  g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g**2                       (s, a, b start at 0)
        if centered:  a = alpha * a + (1 - alpha) * g;  d = sqrt(s - a**2) + eps
        else:         d = sqrt(s) + eps
        if momentum > 0:  b = momentum * b + g / d;  p = p - lr * b
        else:             p = p - lr * g / d

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        >= 0 (default 1e-2).
    alpha : float
        Smoothing constant, in [0, 1].
    eps : float
        >= 0.
    weight_decay : float
        L2 penalty, >= 0.
    momentum : float
        >= 0.
    centered : bool
        Normalise by an estimate of the gradient's variance rather than its second moment.
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, fused, capturable, differentiable
        PyTorch's implementation switches, where PyTorch has them: ``foreach``/``fused``
        (None or bool) change nothing here; ``capturable=True``/``differentiable=True`` raise
        NotImplementedError (see ``optimizer._check_flags``).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _check_options(self, group):
        for name in ("lr", "eps", "weight_decay", "momentum"):
            group[name] = check_nonnegative(group[name], name)
        group["alpha"] = check_unit(group["alpha"], "alpha")
        group["centered"] = check_bool(group["centered"], "centered")

    def _update(self, p, grad, state, group):
        alpha = group["alpha"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p._data)
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(p._data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(p._data)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        s = state["square_avg"]
        s *= alpha
        s += (1 - alpha) * grad * grad
        if group["centered"]:
            a = state["grad_avg"]
            a *= alpha
            a += (1 - alpha) * grad
            denom = np.sqrt(s - a * a) + group["eps"]
        else:
            denom = np.sqrt(s) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / denom
            p._data -= group["lr"] * buf
        else:
            p._data -= group["lr"] * grad / denom


class Adagrad(Optimizer):
    r"""Adagrad: divide by the root of the sum of every squared gradient so far.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

        if weight_decay != 0:  g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2                             (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        >= 0 (default 1e-2).
    lr_decay : float
        >= 0.
    weight_decay : float
        >= 0.
    initial_accumulator_value : float
        >= 0.
    eps : float
        >= 0 (default 1e-10).
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, fused, capturable, differentiable
        PyTorch's implementation switches, where PyTorch has them: ``foreach``/``fused``
        (None or bool) change nothing here; ``capturable=True``/``differentiable=True`` raise
        NotImplementedError (see ``optimizer._check_flags``).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, fused=fused))

    def _check_options(self, group):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[name] = check_nonnegative(group[name], name)

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p._data, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        p._data -= clr * grad / (np.sqrt(state["sum"]) + group["eps"])


class Adadelta(Optimizer):
    r"""Adadelta: a step sized by the running RMS of past steps over that of past gradients.

    For each parameter ``p`` with gradient ``g`` (PyTorch's documented rule)::

        if weight_decay != 0:  g = g + weight_decay * p
        v = rho * v + (1 - rho) * g**2                          (v, u start at 0)
        dx = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * dx**2
        p = p - lr * dx

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        >= 0 (default 1.0).
    rho : float
        In [0, 1] (default 0.9).
    eps : float
        >= 0 (default 1e-6).
    weight_decay : float
        >= 0.
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, fused, capturable, differentiable
        PyTorch's implementation switches, where PyTorch has them: ``foreach``/``fused``
        (None or bool) change nothing here; ``capturable=True``/``differentiable=True`` raise
        NotImplementedError (see ``optimizer._check_flags``).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, capturable=capturable,
                                      maximize=maximize, differentiable=differentiable))

    def _check_options(self, group):
        for name in ("lr", "eps", "weight_decay"):
            group[name] = check_nonnegative(group[name], name)
        group["rho"] = check_unit(group["rho"], "rho")

    def _update(self, p, grad, state, group):
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p._data)
            state["acc_delta"] = np.zeros_like(p._data)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * grad * grad
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * grad
        u *= rho
        u += (1 - rho) * delta * delta
        p._data -= group["lr"] * delta
