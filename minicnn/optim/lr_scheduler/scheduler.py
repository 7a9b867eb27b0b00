"""The base class of every learning-rate schedule: the step counter, PyTorch's step
semantics, state dicts."""
import collections.abc
import numbers
import warnings

import numpy as np

from minicnn._checks import check_int, check_real
from minicnn.optim.optimizer import Optimizer

__all__ = ["LRScheduler"]


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
    return optimizer


def _lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class: ``base_lrs`` (each group's ``initial_lr``), ``last_epoch``, ``step``,
    ``get_last_lr`` and state dicts. A subclass writes ``get_lr``.

    Parameters
    ----------
    optimizer : Optimizer
    last_epoch : int
        -1 for a fresh schedule; >= 0 to resume (then every group needs ``initial_lr``).
    """

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = _check_optimizer(optimizer)
        last_epoch = check_int(last_epoch, "last_epoch", -1)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming a scheduler with last_epoch >= 0")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The rates for ``self.last_epoch`` (one per group)."""
        raise NotImplementedError

    def get_last_lr(self):
        """The rates the last ``step`` set, one per parameter group (a list of floats)."""
        return self._last_lr

    def step(self):
        """Advance one epoch and set every group's ``lr``. Call after ``optimizer.step()``."""
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                          "Call them in the opposite order: `optimizer.step()` before "
                          "`lr_scheduler.step()`, or the first value of the learning rate "
                          "schedule is skipped.", UserWarning, stacklevel=2)
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = (self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr")
                      else self.get_lr())
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self):
        """Every attribute except the optimizer, as a dict."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore attributes saved by :meth:`state_dict`.

        Only this scheduler's own attributes are taken, each of the kind it holds now (a
        number for a number, a list for a list, ...): a key it does not have is a ValueError,
        a value of another kind a TypeError, and nothing is changed then."""
        self.__dict__.update(self._checked_state(state_dict))

    def _checked_state(self, state_dict):
        """``state_dict`` as a dict, checked against :meth:`state_dict` (see above)."""
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        own = self.state_dict()
        unknown = [k for k in state_dict if k not in own]
        if unknown:
            raise ValueError(f"state_dict holds {', '.join(repr(k)[:40] for k in unknown[:5])}, "
                             f"which {type(self).__name__} does not have")
        for key, value in state_dict.items():
            kind = _state_kind(own[key])
            if kind is not None and _state_kind(value) != kind:
                raise TypeError(f"state_dict[{key!r}] should be {kind}, got "
                                f"{type(value).__name__} {str(value)[:40]!r}")
        return dict(state_dict)


def _state_kind(value):
    """The kind of a scheduler attribute that a loaded value must share (None: any)."""
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if isinstance(value, (numbers.Real, np.number)):
        return "a number"
    for kind, types in (("a str", str), ("a list", (list, tuple)),
                        ("a dict", collections.abc.Mapping)):
        if isinstance(value, types):
            return kind
    return None


def _per_group(name, optimizer, value):
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"expected {len(optimizer.param_groups)} values for {name}, got "
                             f"{len(value)}")
        return [check_real(v, name) for v in value]
    return [check_real(value, name)] * len(optimizer.param_groups)
