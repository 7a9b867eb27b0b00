"""The losses as Modules, mirroring ``torch.nn``: each holds its settings (``reduction``, class
weights, ...) and calls its function in ``minicnn.nn.functional``.

>>> import minicnn.nn as nn
>>> nn.CrossEntropyLoss(label_smoothing=0.1)
CrossEntropyLoss(label_smoothing=0.1)
"""
from minicnn._checks import (check_bool, check_int, check_real, check_reduction,
                             legacy_reduction)
from minicnn._tensor import float_tensor_arg
from minicnn.nn import functional as F
from minicnn.nn.module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]


class _Loss(Module):
    """Shared by the losses: the ``reduction`` setting (and PyTorch's deprecated
    ``size_average``/``reduce``), checked once, and its repr."""

    _reductions = ("mean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        reduction = legacy_reduction(size_average, reduce, reduction)
        if reduction not in self._reductions:
            check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight``, kept as a buffer (as PyTorch)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None
                             else float_tensor_arg(weight, "weight"))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy between logits and class indices or probabilities:
    ``F.cross_entropy``.

    Parameters
    ----------
    weight : Tensor of shape (C,), optional
    ignore_index : int
    reduction : {'mean', 'sum', 'none'}
    label_smoothing : float in [0, 1]

    Shapes: input (N, C) or (N, C, d1, ...) logits; target (N,) / (N, d1, ...) ints in [0, C),
    or probabilities of the input's shape -> a scalar (or the target's batch shape for 'none').
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = check_int(ignore_index, "ignore_index")
        self.label_smoothing = check_real(label_smoothing, "label_smoothing")
        if not 0.0 <= self.label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {self.label_smoothing}")

    def forward(self, input, target):
        """(N, C, *), (N, *) -> scalar, or (N, *) if ``reduction='none'``."""
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self):
        parts = [super().extra_repr()] if self.reduction != "mean" else []
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(parts)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities: ``F.nll_loss``.

    Parameters
    ----------
    weight : Tensor of shape (C,), optional
    ignore_index : int
    reduction : {'mean', 'sum', 'none'}

    Shapes: input (N, C) or (N, C, d1, ...) log-probabilities; target (N,) / (N, d1, ...).
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = check_int(ignore_index, "ignore_index")

    def forward(self, input, target):
        """(N, C, *), (N, *) -> scalar, or (N, *) if ``reduction='none'``."""
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``(input - target)**2``, reduced: ``F.mse_loss``.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}

    Shapes: input and target of the same shape (or broadcasting, with PyTorch's warning).
    """

    def forward(self, input, target):
        """Same-shape input and target -> scalar, or that shape if ``reduction='none'``."""
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``: ``F.l1_loss``. Shapes as :class:`MSELoss`."""

    def forward(self, input, target):
        """Same-shape input and target -> scalar, or that shape if ``reduction='none'``."""
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, L1 above: ``F.smooth_l1_loss``.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}
    beta : float, >= 0
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = check_real(beta, "beta", 0.0)

    def forward(self, input, target):
        """Same-shape input and target -> scalar, or that shape if ``reduction='none'``."""
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Quadratic below ``delta``, linear (slope delta) above: ``F.huber_loss``.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}
    delta : float, > 0
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = check_real(delta, "delta")

    def forward(self, input, target):
        """Same-shape input and target -> scalar, or that shape if ``reduction='none'``."""
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1]: ``F.binary_cross_entropy``.

    Parameters
    ----------
    weight : Tensor broadcasting with the input, optional
    reduction : {'mean', 'sum', 'none'}
    """

    def forward(self, input, target):
        """Same-shape input and target -> scalar, or that shape if ``reduction='none'``."""
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy, stable: ``F.binary_cross_entropy_with_logits``.

    Parameters
    ----------
    weight : Tensor broadcasting with the input, optional
    reduction : {'mean', 'sum', 'none'}
    pos_weight : Tensor broadcasting with the input (one per class), optional
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", None if pos_weight is None
                             else float_tensor_arg(pos_weight, "pos_weight"))

    def forward(self, input, target):
        """Same-shape input and target -> scalar, or that shape if ``reduction='none'``."""
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities ``input`` from ``target``:
    ``F.kl_div``.

    Parameters
    ----------
    reduction : {'mean', 'batchmean', 'sum', 'none'}
        'batchmean' is the mathematical KL divergence averaged over the batch.
    log_target : bool
        The target holds log-probabilities too.
    """

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = check_bool(log_target, "log_target")

    def forward(self, input, target):
        """Same-shape input and target -> scalar, or that shape if ``reduction='none'``."""
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
