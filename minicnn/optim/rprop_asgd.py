"""Rprop and ASGD: a sign-based step with per-coordinate step sizes, and averaged SGD."""
import numpy as np

from minicnn._checks import check_nonnegative, check_real
from minicnn.optim.optimizer import Optimizer

__all__ = ["Rprop", "ASGD"]


class Rprop(Optimizer):
    r"""Rprop (resilient backpropagation): only the gradient's sign is used; each coordinate's
    step size grows while the sign holds and shrinks when it flips.

    For each parameter ``p`` with gradient ``g`` (PyTorch's documented rule; ``prev`` starts at
    0 and every step size at ``lr``)::

        s = sign(g * prev)
        step_size = clip(step_size * (etaplus if s > 0, etaminus if s < 0, 1 if s == 0),
                         step_size_min, step_size_max)
        if s < 0:  g = 0              (after a sign flip, skip this coordinate once)
        p = p - sign(g) * step_size
        prev = g

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        >= 0, the initial step size (default 1e-2).
    etas : tuple of float
        ``(etaminus, etaplus)`` with ``0 < etaminus < 1 < etaplus`` (default (0.5, 1.2)).
    step_sizes : tuple of float
        ``(step_size_min, step_size_max)`` (default (1e-6, 50)).
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, capturable, differentiable
        As PyTorch's: ``foreach`` changes nothing here; ``capturable=True`` and
        ``differentiable=True`` raise NotImplementedError (see ``optimizer._check_flags``).
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes,
                                      capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _check_options(self, group):
        group["lr"] = check_nonnegative(group["lr"], "lr")
        for name in ("etas", "step_sizes"):
            value = group[name]
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise ValueError(f"{name} must be a pair, got {value!r}")
            for i in (0, 1):
                check_real(value[i], f"{name}[{i}]")
            group[name] = tuple(value)  # as given (an int stays one), as PyTorch keeps them
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus}")

    def _update(self, p, grad, state, group):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        if not state:
            state["step"] = 0
            state["prev"] = np.zeros_like(p._data)
            state["step_size"] = np.full_like(p._data, group["lr"])
        state["step"] += 1
        sign = np.sign(grad * state["prev"])
        factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1.0))
        step_size = state["step_size"]
        step_size *= factor.astype(p._data.dtype, copy=False)
        np.clip(step_size, step_size_min, step_size_max, out=step_size)
        grad = np.where(sign < 0, 0, grad).astype(p._data.dtype, copy=False)
        p._data -= np.sign(grad) * step_size
        state["prev"][...] = grad


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky): SGD with a decaying rate, and a running average of
    the iterates (``state["ax"]``) from step ``t0`` on.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...`` (``eta`` starts at
    ``lr``, ``mu`` at 1, ``ax`` at 0; PyTorch's rule)::

        if weight_decay != 0:  g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)   if mu != 1  else  p
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)

    The averaged weights are ``ax``; copy them into the model to evaluate it.

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        >= 0 (default 1e-2).
    lambd : float
        Decay term (default 1e-4).
    alpha : float
        Power of the rate's decay (default 0.75).
    t0 : float
        Step at which averaging starts (default 1e6).
    weight_decay : float
        L2 penalty, >= 0.
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, capturable, differentiable
        As PyTorch's: ``foreach`` changes nothing here; ``capturable=True`` and
        ``differentiable=True`` raise NotImplementedError (see ``optimizer._check_flags``).
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _check_options(self, group):
        group["lr"] = check_nonnegative(group["lr"], "lr")
        group["weight_decay"] = check_nonnegative(group["weight_decay"], "weight_decay")
        for name in ("lambd", "alpha", "t0"):
            group[name] = check_real(group[name], name)

    def _update(self, p, grad, state, group):
        lr, lambd = group["lr"], group["lambd"]
        if not state:
            state["step"] = 0
            state["eta"] = lr
            state["mu"] = 1.0
            state["ax"] = np.zeros_like(p._data)
        state["step"] += 1
        t = state["step"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        eta = state["eta"]
        p._data *= 1 - lambd * eta
        p._data -= eta * grad
        if state["mu"] != 1:
            state["ax"] += (p._data - state["ax"]) * state["mu"]
        else:
            state["ax"][...] = p._data
        state["eta"] = lr / (1 + lambd * lr * t) ** group["alpha"]
        state["mu"] = 1 / max(1, t - group["t0"])
