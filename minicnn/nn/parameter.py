"""``torch.nn.parameter``'s names: :class:`Parameter` and the placeholders a lazy layer holds
before its first call (``type(p)`` prints ``<class 'minicnn.nn.parameter.Parameter'>``, as
PyTorch's prints ``torch.nn.parameter.Parameter``)."""
from minicnn.nn.lazy import UninitializedBuffer, UninitializedParameter
from minicnn.nn.module import Parameter

__all__ = ["Parameter", "UninitializedParameter", "UninitializedBuffer"]
