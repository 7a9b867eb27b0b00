"""Learning-rate schedules with PyTorch's names, formulas and step semantics.

A scheduler sets ``group["lr"]`` of its optimizer's parameter groups. As in PyTorch, building
one already takes its first step (``last_epoch`` goes from -1 to 0 and the epoch-0 rate is
set), and the training loop then calls ``optimizer.step()`` before ``scheduler.step()``, once
per epoch (or per batch for OneCycleLR)::

    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)            # opt.step() inside
        sched.step()

Each ``get_lr`` is PyTorch's *chainable* form (it updates the current ``group["lr"]``), so
two schedulers on one optimizer compose as they do there; the closed forms are in the
docstrings and in ``_get_closed_form_lr``. ``state_dict()`` is every attribute but the
optimizer; ``load_state_dict`` restores them.

>>> import minicnn.nn as nn, minicnn.optim as optim
>>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
>>> sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for epoch in range(5):
...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
>>> lrs
[1.0, 1.0, 0.5, 0.5, 0.25]
"""
from minicnn.optim.lr_scheduler import (composite, cyclic, onecycle, plateau, scheduler,
                                         schedules)

# Where each schedule lives: scheduler.py the base class; schedules.py the closed-form ones;
# composite.py SequentialLR and ChainedScheduler; onecycle.py; cyclic.py CyclicLR and
# CosineAnnealingWarmRestarts; plateau.py. Collected here.
_PARTS = (scheduler, schedules, composite, onecycle, cyclic, plateau)

__all__ = [name for part in _PARTS for name in part.__all__]
globals().update({name: getattr(part, name) for part in _PARTS for name in part.__all__})
