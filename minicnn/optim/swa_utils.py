"""Stochastic weight averaging: AveragedModel (SWA or EMA of the weights), the SWALR schedule,
and update_bn (recompute BatchNorm statistics for the averaged weights), as PyTorch's.

>>> import minicnn.nn as nn, minicnn.optim as optim
>>> from minicnn.optim.swa_utils import AveragedModel, SWALR
>>> model = nn.Linear(3, 1)
>>> swa_model = AveragedModel(model)
>>> opt = optim.SGD(model.parameters(), lr=0.1)
>>> swa_sched = SWALR(opt, swa_lr=0.05, anneal_epochs=2)
"""
import copy
import itertools
import math

import numpy as np

from minicnn._checks import check_bool
from minicnn._tensor import Tensor
from minicnn.nn.module import Module
from minicnn.nn.normalization import _BatchNorm
from minicnn.optim.lr_scheduler.scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")


def get_ema_multi_avg_fn(decay=0.999):
    """An in-place EMA over lists of tensors: ``ema = decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _):
        for p_ema, p_model in zip(ema_param_list, current_param_list):
            if p_ema._data.dtype.kind == "f":
                p_ema._data += (1 - decay) * (p_model._data - p_ema._data)  # lerp
            else:
                p_ema._data[...] = p_ema._data * decay + p_model._data * (1 - decay)
            p_ema._version_box[0] += 1
    return ema_update


def get_swa_multi_avg_fn():
    """An in-place running mean over lists of tensors:
    ``avg = avg + (current - avg) / (n_averaged + 1)``."""
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        n = float(np.asarray(getattr(num_averaged, "_data", num_averaged)))
        for p_avg, p_model in zip(averaged_param_list, current_param_list):
            p_avg._data[...] = p_avg._data + (p_model._data - p_avg._data) / (n + 1)
            p_avg._version_box[0] += 1
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """The EMA of one tensor: returns ``decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """The running mean of one tensor: returns ``avg + (current - avg) / (n_averaged + 1)``."""
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are a running average of ``model``'s: the equal
    average (SWA) by default, or whatever ``avg_fn`` / ``multi_avg_fn`` computes (e.g. an EMA).

    The first :meth:`update_parameters` copies the weights; each later one averages them in.
    ``n_averaged`` (an int64 buffer) counts the models averaged. Buffers (BatchNorm statistics)
    are copied from ``model`` unless ``use_buffers``, which averages them with the parameters;
    otherwise recompute them with :func:`update_bn`.

    Parameters
    ----------
    model : Module
    device : None
        Accepted for PyTorch's signature; minicnn has one device.
    avg_fn : callable, optional
        ``avg_fn(averaged, current, n_averaged) -> new averaged`` (one Tensor at a time).
    multi_avg_fn : callable, optional
        ``multi_avg_fn(averaged_list, current_list, n_averaged)``, updating in place.
    use_buffers : bool
        Average the buffers as well as the parameters.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        if not isinstance(model, Module):
            raise TypeError(f"model must be a Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", Tensor(np.array(0, dtype=np.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = check_bool(use_buffers, "use_buffers")

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Average ``model``'s current parameters (and buffers, with ``use_buffers``) in."""
        if self.use_buffers:
            self_param = itertools.chain(self.module.parameters(), self.module.buffers())
            model_param = itertools.chain(model.parameters(), model.buffers())
        else:
            self_param, model_param = self.parameters(), model.parameters()
        averaged, current = [], []
        first = int(self.n_averaged._data) == 0
        for p_averaged, p_model in zip(self_param, model_param):
            averaged.append(p_averaged.detach())
            current.append(p_model.detach())
            if first:
                p_averaged._data[...] = p_model._data
                p_averaged._version_box[0] += 1
        if not first:
            if self.multi_avg_fn is not None:
                self.multi_avg_fn(averaged, current, self.n_averaged)
            else:
                avg_fn = self.avg_fn if self.avg_fn is not None else get_swa_avg_fn()
                for p_averaged, p_model in zip(averaged, current):
                    new = avg_fn(p_averaged, p_model, self.n_averaged)
                    p_averaged._data[...] = getattr(new, "_data", new)
                    p_averaged._version_box[0] += 1
        if not self.use_buffers:
            for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                b_swa._data[...] = b_model._data
                b_swa._version_box[0] += 1
        self.n_averaged._data += 1


def update_bn(loader, model, device=None):
    """Recompute every BatchNorm's running statistics with one pass over ``loader``.

    The statistics are reset and accumulated as a cumulative average (momentum None) in
    training mode; the momenta and the training flag are restored afterwards.

    Parameters
    ----------
    loader : iterable
        Batches: a Tensor, or a list/tuple whose first element is the input Tensor.
    model : Module
    device : None
        Accepted for PyTorch's signature; moves each batch with ``.to(device)`` if given.
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's rate to a constant ``swa_lr`` over ``anneal_epochs`` epochs, then
    hold it (the schedule of SWA's averaging phase).

    With ``alpha(t)`` = ``(1 - cos(pi t)) / 2`` (``"cos"``) or ``t`` (``"linear"``) and
    ``t = min(1, step / anneal_epochs)``, ``lr = swa_lr * alpha + lr_start * (1 - alpha)``,
    computed recursively from the current rate, as PyTorch.

    Parameters
    ----------
    optimizer : Optimizer
    swa_lr : float or list of float
    anneal_epochs : int
        >= 0 (default 10).
    anneal_strategy : {"cos", "linear"}
    last_epoch : int
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        swa_lrs = _per_group("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) \
                or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got "
                             f"{anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t):
        """The fraction of the way to ``swa_lr`` at ``t`` in [0, 1]."""
        if self._anneal_strategy == "cos":
            return (1 - math.cos(math.pi * t)) / 2
        return t

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        # _step_count counts this step already (PyTorch's step - 1 is the steps before it)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs)]
