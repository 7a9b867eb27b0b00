"""``minicnn.backends.cudnn``: cuDNN's flags, settable as in PyTorch and without effect.

Scripts set ``torch.backends.cudnn.benchmark = True`` or ``deterministic = True``; both are
accepted and kept, but minicnn has no cuDNN: its CPU kernels are always deterministic (results
bit-identical for any thread count) and choose no algorithm at run time. The defaults are
PyTorch's.
"""

__all__ = ["is_available", "version", "enabled", "benchmark", "deterministic",
           "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """False: minicnn has no cuDNN."""
    return False


def version():
    """None: no cuDNN (as a CPU-only PyTorch answers)."""
    return None
