"""``minicnn.backends.mps``: Apple's Metal backend, absent from minicnn (as from a CPU-only
PyTorch): ``is_available()`` and ``is_built()`` are False.
"""

__all__ = ["is_available", "is_built"]


def is_available():
    """False: minicnn computes on the CPU only."""
    return False


def is_built():
    """False: minicnn has no MPS backend."""
    return False
