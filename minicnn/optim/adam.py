"""The Adam family: Adam/AdamW (amsgrad), Adamax, NAdam and RAdam, as PyTorch's update rules."""
import math

import numpy as np

from minicnn._checks import check_betas, check_bool, check_nonnegative
from minicnn.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"]


def _check_common(group):
    group["lr"] = check_nonnegative(group["lr"], "lr")
    group["eps"] = check_nonnegative(group["eps"], "eps")
    group["weight_decay"] = check_nonnegative(group["weight_decay"], "weight_decay")
    group["betas"] = check_betas(group["betas"])



def _weight_decay(p, grad, lr, weight_decay, decoupled):
    """Weight decay for the Adam family: decoupled (AdamW's: shrink the weight itself, not the
    gradient) or L2 (add ``weight_decay * p`` to the gradient). Returns the gradient to use."""
    if weight_decay == 0:
        return grad
    if decoupled:
        p._data *= 1 - lr * weight_decay
        return grad
    return grad + weight_decay * p._data


def _moments(p, grad, state, betas):
    """One step of the Adam family's running moments, in ``state`` (created at zero on the first
    step, after any keys the optimizer keeps first): ``step += 1``,
    ``m = beta1 * m + (1 - beta1) * g``, ``v = beta2 * v + (1 - beta2) * g**2``.
    Returns m, v and the step t."""
    beta1, beta2 = betas
    state.setdefault("step", 0)
    if "exp_avg" not in state:
        state["exp_avg"] = np.zeros_like(p._data)
        state["exp_avg_sq"] = np.zeros_like(p._data)
    state["step"] += 1
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    return m, v, state["step"]


class Adam(Optimizer):
    r"""Adam with bias correction (and L2 weight decay added to the gradient).

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...`` (PyTorch's
    documented rule)::

        if weight_decay != 0:  g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g            (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g**2
        if amsgrad:  v_max = max(v_max, v), and v_max replaces v below
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    Parameters
    ----------
    params : iterable of Tensor or of dict
        See :class:`Optimizer`.
    lr : float
        >= 0.
    betas : tuple of float
        ``(beta1, beta2)``, each in [0, 1).
    eps : float
        >= 0, added to the denominator for stability.
    weight_decay : float
        L2 penalty, >= 0 (added to the gradient; see :class:`AdamW` for decoupled decay).
    amsgrad : bool
        Divide by the running maximum of ``v`` (AMSGrad), so steps never grow back.
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, fused, capturable, differentiable
        PyTorch's implementation switches, where PyTorch has them: ``foreach``/``fused``
        (None or bool) change nothing here; ``capturable=True``/``differentiable=True`` raise
        NotImplementedError (see ``optimizer._check_flags``).
    decoupled_weight_decay : bool
        Decay the weight directly, as :class:`AdamW` (which is Adam with this set).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check_options(self, group):
        _check_common(group)
        group["amsgrad"] = check_bool(group["amsgrad"], "amsgrad")
        group["decoupled_weight_decay"] = check_bool(group["decoupled_weight_decay"],
                                                     "decoupled_weight_decay")

    def _update(self, p, grad, state, group):
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        grad = _weight_decay(p, grad, lr, weight_decay, group["decoupled_weight_decay"])
        m, v, t = _moments(p, grad, state, (beta1, beta2))
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(p._data)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        # lr * m_hat / (sqrt(v_hat) + eps), with the corrections folded into scalars
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps
        p._data -= (lr / bias_correction1) * m / denom


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter).

    As :class:`Adam`, except that the decay shrinks the weight directly instead of being added
    to the gradient (so it is not rescaled by the adaptive denominator)::

        p = p - lr * weight_decay * p
        m, v, m_hat, v_hat as in Adam (from the plain gradient g; amsgrad likewise)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    Parameters
    ----------
    params : iterable of Tensor or of dict
        See :class:`Optimizer`.
    lr : float
        >= 0.
    betas : tuple of float
        ``(beta1, beta2)``, each in [0, 1).
    eps : float
        >= 0.
    weight_decay : float
        Decoupled decay coefficient, >= 0 (default 1e-2).
    amsgrad : bool
        As :class:`Adam`.
    maximize, foreach, capturable, differentiable, fused
        As :class:`Adam`.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


class Adamax(Optimizer):
    r"""Adamax: Adam with the infinity norm in place of the second moment.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

        if weight_decay != 0:  g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g            (m, u start at 0)
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        >= 0 (default 2e-3).
    betas : tuple of float
        Each in [0, 1).
    eps : float
        >= 0.
    weight_decay : float
        L2 penalty, >= 0.
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, fused, capturable, differentiable
        PyTorch's implementation switches, where PyTorch has them: ``foreach``/``fused``
        (None or bool) change nothing here; ``capturable=True``/``differentiable=True`` raise
        NotImplementedError (see ``optimizer._check_flags``).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _check_options(self, group):
        _check_common(group)

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p._data)
            state["exp_inf"] = np.zeros_like(p._data)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        m, u = state["exp_avg"], state["exp_inf"]
        m *= beta1
        m += (1 - beta1) * grad
        u *= beta2
        np.maximum(u, np.abs(grad) + group["eps"], out=u)
        p._data -= (group["lr"] / (1 - beta1 ** state["step"])) * m / u


class NAdam(Optimizer):
    r"""NAdam: Adam with Nesterov momentum, and PyTorch's momentum schedule.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

        if weight_decay != 0:
            p = p * (1 - lr * weight_decay)  if decoupled_weight_decay  else  g = g + wd * p
        mu_t     = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_{t+1} = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        P_t = mu_1 * ... * mu_t
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g**2
        d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d
              - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        >= 0 (default 2e-3).
    betas : tuple of float
    eps : float
    weight_decay : float
    momentum_decay : float
        >= 0 (default 4e-3).
    decoupled_weight_decay : bool
        Decay the weight directly, as AdamW (NAdamW).
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, fused, capturable, differentiable
        PyTorch's implementation switches, where PyTorch has them: ``foreach``/``fused``
        (None or bool) change nothing here; ``capturable=True``/``differentiable=True`` raise
        NotImplementedError (see ``optimizer._check_flags``).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      capturable=capturable, differentiable=differentiable))

    def _check_options(self, group):
        _check_common(group)
        group["momentum_decay"] = check_nonnegative(group["momentum_decay"], "momentum_decay")
        group["decoupled_weight_decay"] = check_bool(group["decoupled_weight_decay"],
                                                     "decoupled_weight_decay")

    def _update(self, p, grad, state, group):
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
        grad = _weight_decay(p, grad, lr, wd, group["decoupled_weight_decay"])
        m, v, t = _moments(p, grad, state, (beta1, beta2))
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * group["momentum_decay"]))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * group["momentum_decay"]))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        denom = np.sqrt(v / (1 - beta2 ** t)) + group["eps"]
        p._data -= (lr * (1 - mu) / (1 - mu_product)) * grad / denom
        p._data -= (lr * mu_next / (1 - mu_product * mu_next)) * m / denom


class RAdam(Optimizer):
    r"""RAdam: Adam whose adaptive step is switched on, and rectified, once the variance of
    the second-moment estimate is tractable (Liu et al.).

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...`` (PyTorch's
    documented rule)::

        if weight_decay != 0:
            p = p * (1 - lr * weight_decay)  if decoupled_weight_decay  else  g = g + wd * p
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
            p = p - lr * m_hat * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:
            p = p - lr * m_hat                     (plain momentum SGD for the first steps)

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        >= 0 (default 1e-3).
    betas : tuple of float
    eps : float
    weight_decay : float
    decoupled_weight_decay : bool
        Decay the weight directly, as AdamW (RAdamW).
    maximize, foreach, capturable, differentiable
        As :class:`Adam`.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      capturable=capturable, differentiable=differentiable))

    def _check_options(self, group):
        _check_common(group)
        group["decoupled_weight_decay"] = check_bool(group["decoupled_weight_decay"],
                                                     "decoupled_weight_decay")

    def _update(self, p, grad, state, group):
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        grad = _weight_decay(p, grad, lr, wd, group["decoupled_weight_decay"])
        m, v, t = _moments(p, grad, state, (beta1, beta2))
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(bias_correction2) / (np.sqrt(v) + group["eps"])
            p._data -= (m / bias_correction1) * lr * adaptive * rect
        else:
            p._data -= (m / bias_correction1) * lr
