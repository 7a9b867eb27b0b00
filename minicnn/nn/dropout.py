"""The dropout layers as Modules, mirroring ``torch.nn``: Dropout, Dropout1d, Dropout2d (the ops
in ``nn/functional/dropout.py``). Each is active in training mode only (``model.train()``).

>>> import minicnn.nn as nn
>>> nn.Dropout(0.2)
Dropout(p=0.2, inplace=False)
"""
from minicnn._checks import check_bool, check_real
from minicnn.nn import functional as F
from minicnn.nn.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


class Dropout(Module):
    """Inverted dropout: in training mode zero each element with probability ``p`` and scale
    the rest by ``1/(1-p)``; in eval mode (``model.eval()``) the identity.

    Parameters
    ----------
    p : float
        Drop probability, in [0, 1]. Masks come from ``minicnn.rng.get_rng()``.
    inplace : bool
        Accepted as in PyTorch; the result is computed out of place.
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        p = check_real(p, "p")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p must be between 0 and 1, got {p}")
        self.p = p
        self.inplace = check_bool(inplace, "inplace")

    def forward(self, input):
        """Any shape -> same shape."""
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class _DropoutNd(Dropout):
    """Dropout of whole channels: ``F.dropout1d``/``F.dropout2d``, in training mode only."""

    _fn = None

    def forward(self, input):
        """(N, C, *) -> same shape."""
        return type(self)._fn(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) inputs with probability ``p`` (scale the rest by
    1/(1-p)); the identity in eval mode. Parameters as :class:`Dropout`."""

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps) of (N, C, H, W) inputs with probability ``p``
    (scale the rest by 1/(1-p)); the identity in eval mode. Parameters as :class:`Dropout`."""

    _fn = staticmethod(F.dropout2d)
