"""``minicnn.accelerator``: PyTorch's ``torch.accelerator`` as a CPU-only PyTorch answers it.

``is_available()`` is False and ``current_accelerator()`` None, so the tutorials'
``torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"``
picks the CPU.
"""

__all__ = ["is_available", "current_accelerator", "device_count"]


def is_available():
    """False: minicnn has no accelerator."""
    return False


def current_accelerator(check_available=False):
    """None: minicnn has no accelerator."""
    return None


def device_count():
    """0: no accelerator."""
    return 0
