"""minicnn.optim: optimizers with PyTorch's names, update rules and state dicts, and
``lr_scheduler``.

Where each name lives: ``optimizer.py`` the Optimizer base class (groups, state, state dicts);
``sgd.py`` SGD; ``adam.py`` Adam, AdamW, Adamax, NAdam, RAdam; ``adaptive.py`` RMSprop,
Adagrad, Adadelta; ``rprop_asgd.py`` Rprop, ASGD; ``lbfgs.py`` LBFGS; ``lr_scheduler/`` the
learning-rate schedules (one file per kind); ``swa_utils.py`` stochastic weight averaging
(``AveragedModel``, ``SWALR``, ``update_bn``). The package collects its files' ``__all__``,
so an optimizer is added in its own file only.

>>> import minicnn.nn as nn, minicnn.optim as optim
>>> opt = optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1, momentum=0.9)
>>> sched = optim.lr_scheduler.StepLR(opt, step_size=10)
"""
from minicnn.optim import (adam, adaptive, lbfgs, lr_scheduler, optimizer, rprop_asgd, sgd,
                           swa_utils)

_PARTS = (optimizer, sgd, adam, adaptive, rprop_asgd, lbfgs)

__all__ = ["lr_scheduler", "swa_utils"] + [name for part in _PARTS for name in part.__all__]
globals().update({name: getattr(part, name) for part in _PARTS for name in part.__all__})
