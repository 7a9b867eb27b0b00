"""``minicnn.backends``: PyTorch's ``torch.backends.cudnn`` and ``torch.backends.mps`` flags and
queries, as a CPU-only PyTorch answers them (minicnn has neither backend).
"""
from minicnn.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
