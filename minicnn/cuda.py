"""``minicnn.cuda``: PyTorch's ``torch.cuda`` queries as a CPU-only PyTorch answers them.

minicnn has no GPU, so ``torch.cuda.is_available()`` code paths take their CPU branch:
``is_available()`` is False, ``device_count()`` 0, and seeding the (absent) GPUs does nothing.
"""

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "is_initialized",
           "synchronize"]


def is_available():
    """False: minicnn computes on the CPU only."""
    return False


def device_count():
    """0: no GPU."""
    return 0


def is_initialized():
    """False: there is no CUDA state to initialise."""
    return False


def manual_seed(seed):
    """Nothing to seed (no GPU); ``minicnn.manual_seed`` seeds the CPU generator."""


def manual_seed_all(seed):
    """Nothing to seed (no GPU)."""


def synchronize(device=None):
    """Nothing to wait for: CPU operations are done when they return."""
