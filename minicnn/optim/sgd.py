"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
import numpy as np

from minicnn._checks import check_nonnegative, check_real
from minicnn.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, dampening, Nesterov, weight decay.

    For each parameter ``p`` with gradient ``g`` (PyTorch's documented rule)::

        if weight_decay != 0:  g = g + weight_decay * p
        if momentum != 0:
            b = g                                   (first step: the buffer is g, undamped)
            b = momentum * b + (1 - dampening) * g  (later steps)
            g = g + momentum * b  if nesterov  else  b
        p = p - lr * g

    Parameters
    ----------
    params : iterable of Tensor or of dict
        See :class:`Optimizer`.
    lr : float
        Learning rate, >= 0 (default 1e-3, as PyTorch).
    momentum : float
        >= 0.
    dampening : float
        Dampening of the momentum buffer.
    weight_decay : float
        L2 penalty, >= 0.
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool
        Maximise the objective (the gradient is negated before the update).
    foreach, fused, capturable, differentiable
        PyTorch's implementation switches, where PyTorch has them: ``foreach``/``fused``
        (None or bool) change nothing here; ``capturable=True``/``differentiable=True`` raise
        NotImplementedError (see ``optimizer._check_flags``).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _check_options(self, group):
        group["lr"] = check_nonnegative(group["lr"], "lr")
        group["momentum"] = check_nonnegative(group["momentum"], "momentum")
        dampening = group["dampening"]
        check_real(dampening, "dampening")
        group["dampening"] = dampening if type(dampening) is int else float(dampening)
        group["weight_decay"] = check_nonnegative(group["weight_decay"], "weight_decay")
        if not isinstance(group["nesterov"], (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {group['nesterov']!r}")
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov momentum requires a momentum > 0 and zero dampening, "
                             f"got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")

    def _update(self, p, grad, state, group):
        lr, momentum = group["lr"], group["momentum"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p._data -= lr * grad
