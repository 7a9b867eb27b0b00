"""Embedding and EmbeddingBag: learnt lookup tables, mirroring ``torch.nn`` (``F.embedding``,
``F.embedding_bag``).

>>> import minicnn, minicnn.nn as nn
>>> emb = nn.Embedding(10, 3, padding_idx=0)
>>> emb(minicnn.tensor([[0, 2], [4, 9]])).shape
(2, 2, 3)
"""
import numpy as np

from minicnn._checks import check_bool, check_int, float_dtype
from minicnn._tensor import float_tensor_arg
from minicnn.autograd import no_grad
from minicnn.nn import functional as F
from minicnn.nn import init
from minicnn.nn.functional.sparse import _MODES, _padding_idx
from minicnn.nn.module import Module, Parameter

__all__ = ["Embedding", "EmbeddingBag"]


def _table(module, num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
           scale_grad_by_freq, sparse, _weight, _freeze, dtype):
    """Shared by Embedding and EmbeddingBag: check the settings, make ``weight``."""
    module.num_embeddings = check_int(num_embeddings, "num_embeddings", 0)
    module.embedding_dim = check_int(embedding_dim, "embedding_dim", 0)
    module.padding_idx = (None if padding_idx is None else
                          _padding_idx(check_int(padding_idx, "padding_idx"), num_embeddings))
    module.max_norm, module.norm_type = max_norm, norm_type
    module.scale_grad_by_freq = check_bool(scale_grad_by_freq, "scale_grad_by_freq")
    module.sparse = check_bool(sparse, "sparse")
    shape = (module.num_embeddings, module.embedding_dim)
    if _weight is None:
        module.weight = Parameter(np.empty(shape, dtype=float_dtype(dtype)),
                                  requires_grad=not _freeze)
        module.reset_parameters()
    else:
        _weight = float_tensor_arg(_weight, "_weight")
        if _weight.shape != shape:
            raise ValueError(f"Shape of weight does not match num_embeddings and embedding_dim:"
                             f" {_weight.shape} vs {shape}")
        module.weight = Parameter(_weight, requires_grad=not _freeze)


class _Table(Module):
    def reset_parameters(self):
        """PyTorch's init: weight N(0, 1), the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight._data[self.padding_idx] = 0
                self.weight._version_box[0] += 1

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s


class Embedding(_Table):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``:
    ``F.embedding(input, weight)``.

    Parameters
    ----------
    num_embeddings, embedding_dim : int
    padding_idx : int, optional
        Its row starts at zero and gets no gradient (negative counts from the end).
    max_norm : float, optional
        Looked-up rows whose norm exceeds it are rescaled in place to it at every forward.
    norm_type : float
        The p of that norm (default 2).
    scale_grad_by_freq : bool
        Divide the gradient by the words' frequency in the mini-batch.
    sparse : bool
        Must be False.
    dtype : {None, numpy.float32, numpy.float64}

    Attributes
    ----------
    weight : Parameter, shape (num_embeddings, embedding_dim), initialised N(0, 1)

    Shapes: integer input (*) -> output (*, embedding_dim).
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        _table(self, num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
               scale_grad_by_freq, sparse, _weight, _freeze, dtype)

    def forward(self, input):
        """Integer (*) -> (*, embedding_dim)."""
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is ``embeddings`` (2-D, (num_embeddings, embedding_dim)),
        frozen (``requires_grad=False``) unless ``freeze=False``. The padding row is kept as
        given (not zeroed), as PyTorch."""
        embeddings = float_tensor_arg(embeddings, "embeddings")
        if embeddings.ndim != 2:
            raise ValueError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)


class EmbeddingBag(_Table):
    """Sums, means or maxima of bags of embeddings: ``F.embedding_bag``.

    Parameters
    ----------
    num_embeddings, embedding_dim, max_norm, norm_type, scale_grad_by_freq, sparse :
        As :class:`Embedding`.
    mode : {'sum', 'mean', 'max'}
        Default 'mean'.
    include_last_offset : bool
        ``offsets`` carries the end of the last bag too.
    padding_idx : int, optional
        Entries equal to it are left out of their bag; its row starts at zero.
    dtype : {None, numpy.float32, numpy.float64}

    Attributes
    ----------
    weight : Parameter, shape (num_embeddings, embedding_dim), initialised N(0, 1)

    Shapes: input (B, L), or (M,) with offsets (B,) -> output (B, embedding_dim).
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        if mode not in _MODES:
            raise ValueError("mode has to be one of sum, mean or max")
        self.mode = mode
        self.include_last_offset = check_bool(include_last_offset, "include_last_offset")
        _table(self, num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
               scale_grad_by_freq, sparse, _weight, False, dtype)

    def forward(self, input, offsets=None, per_sample_weights=None):
        """Integer (B, L), or (M,) with ``offsets`` -> (B, embedding_dim)."""
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        return super().extra_repr() + f", mode='{self.mode}'"

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag whose weight is ``embeddings``, frozen unless ``freeze=False``."""
        embeddings = float_tensor_arg(embeddings, "embeddings")
        if embeddings.ndim != 2:
            raise ValueError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  embeddings, include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
