"""The ops that act on values alone: each ``XxxFn`` Function (forward, and backward with its
formula as a comment) right above its lowercase wrapper, one file per kind.

Where an op lives (the rule, also in docs/index.md):

* here, in ``minicnn/ops/``: every op behind a Tensor operator or method, and the activations -
  ``arithmetic.py`` (+ - * / ** @, dot, maximum), ``pointwise.py`` (exp, log, sin, abs,
  clamp, floor/round/trunc, casts), ``special.py`` (log1p, expm1, asin, atanh, erf, lgamma,
  logit, atan2, xlogy, lerp, addcmul, fmod/remainder, nan_to_num, bitwise ops, ...),
  ``activation.py`` (relu, sigmoid, tanh, gelu, softmax, ...), ``reduction.py`` (sum, mean,
  max/min, var/std, prod, norm, cumsum, logsumexp), ``sorting.py`` (sort, topk, kthvalue,
  median, mode, unique, bincount, histc, cumprod, cummax/cummin, logcumsumexp, nansum,
  nanmean, aminmax, std_mean),
  ``shape.py`` (the views - reshape, permute, expand, narrow, select, diagonal, as_strided,
  indexing - and flatten, repeat, flip), ``combine.py`` (cat, stack, split, where, gather,
  masked_fill, index_put, index_select/add/copy/fill, scatter, take), ``comparison.py`` (eq,
  lt, ..., argmax, all/any: no gradient), ``linalg.py`` (bmm, addmm, mv, outer, kron, tril,
  diag, trace, cross, cdist, svdvals), ``contraction.py`` (einsum, tensordot, inner);
* in ``minicnn/nn/functional/``: the ops with geometry, learnable weights, randomness or
  targets - convolution, padding, pooling, linear, dropout, losses, normalisation,
  upsampling. ``nn.functional`` re-exports the activations, so ``F.relu`` is
  ``minicnn.ops.relu``.

Adding an elementwise op (GELU is the worked example) touches two source files: its Function
and wrapper in ``activation.py`` (or the file of its kind), listed in that file's ``__all__``,
and its Module in ``nn/activation.py``. This package and ``nn.functional`` collect the
``__all__`` lists themselves, so neither needs an edit.

>>> import minicnn
>>> x = minicnn.tensor([-1.0, 2.0], requires_grad=True)
>>> minicnn.ops.relu(x * 3).sum().backward()
>>> x.grad
tensor([0., 3.])
"""
import inspect

from minicnn._checks import numpy_names
from minicnn.ops import (_common, activation, arithmetic, combine, comparison, contraction,
                         linalg, pointwise, reduction, sampling, shape, sorting, special)

_KINDS = (_common, arithmetic, pointwise, special, activation, reduction, sorting, shape, combine,
          comparison, linalg, contraction, sampling)

# Every public name of every kind, as minicnn.ops.<name> (written out by the loop rather than by
# hand, so that adding an op to its file is enough).
__all__ = [name for kind in _KINDS for name in kind.__all__]
globals().update({name: getattr(kind, name) for kind in _KINDS for name in kind.__all__})


def _takes_numpy_names(fn):
    """An op with a ``dim`` parameter and no ``axis`` one (wrapped by ``numpy_names``)."""
    if not inspect.isfunction(fn):
        return False
    params = inspect.signature(fn).parameters
    return "dim" in params and "axis" not in params


# ``minicnn.argmax(x, axis=0)``, ``minicnn.sum(x, axis=0)``: NumPy's names, as PyTorch's ops
# take them too (the functions in the kind files keep their own signatures).
globals().update({name: numpy_names(globals()[name]) for name in __all__
                  if _takes_numpy_names(globals()[name])})
