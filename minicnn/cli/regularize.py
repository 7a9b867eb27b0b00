"""What `train --augment`, `--scheduler` and `--early-stopping` add to a run: random shifts and
flips of each training batch, a learning-rate schedule, and stopping at the best validation loss.

Everything random here draws from minicnn's one generator, whose state a checkpoint keeps, and
the schedule's and early stopping's state go into the checkpoint too: a resumed run continues
exactly as an uninterrupted one would.
"""
import numpy as np

from minicnn.optim import lr_scheduler
from minicnn.rng import get_rng

__all__ = ["SCHEDULERS", "augment_batch", "make_scheduler", "EarlyStopping"]

SCHEDULERS = ("step", "cosine", "onecycle")


def augment_batch(images, flip):
    """Each image shifted by up to H/8 pixels in each direction (the emptied border is 0, as
    torchvision's RandomCrop with padding) and, if ``flip``, mirrored left-right with
    probability 1/2. Returns a new (N, C, H, W) array; ``images`` is not changed.

    Flips suit photos (CIFAR-10) but not digits, whose mirror images are other shapes.
    """
    n, _, h, w = images.shape
    pad = max(1, h // 8)
    rng = get_rng()
    padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dy = rng.integers(0, 2 * pad + 1, size=n)
    dx = rng.integers(0, 2 * pad + 1, size=n)
    out = np.empty_like(images)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    if flip:
        mirror = rng.random(n) < 0.5
        out[mirror] = out[mirror, :, :, ::-1]
    return out


def make_scheduler(name, optimizer, epochs, batches_per_epoch):
    """The schedule ``--scheduler name`` runs, and whether it steps per batch (else per epoch).

    step: the rate divided by 10 after each third of the epochs; cosine: annealed from the
    initial rate to 0 over the run; onecycle: PyTorch's one-cycle policy, peaking at the
    initial rate (``--lr``) after 30% of the batches.
    """
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), False
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs), False
    if name == "onecycle":
        peak = optimizer.param_groups[0]["lr"]
        return lr_scheduler.OneCycleLR(optimizer, max_lr=peak,
                                       total_steps=epochs * batches_per_epoch), True
    raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs; remember the
    best epoch and its weights (as a state dict of copies)."""

    def __init__(self, patience):
        self.patience = patience
        self.best_loss = float("inf")
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_state = None

    def update(self, epoch, val_loss, model):
        """Record ``epoch``'s validation loss; return True if training should stop now."""
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            self.best_state = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def state_dict(self):
        """The counters (the best weights are saved apart, as a model state)."""
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state, best_state):
        self.best_loss = float(state["best_loss"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
        self.best_state = best_state
