"""The ops that act on values alone: each ``XxxFn`` Function (forward, and backward with its
formula as a comment) right above its lowercase wrapper, one file per kind.

Where an op lives (the rule, also in docs/index.md):

* here, in ``minicnn/ops/``: every op behind a Tensor operator or method, and the activations -
  ``arithmetic.py`` (+ - * / ** @, maximum), ``pointwise.py`` (exp, log, sqrt, abs, casts),
  ``activation.py`` (relu, sigmoid, tanh, gelu, softmax, ...), ``reduction.py`` (sum, mean,
  max/min), ``shape.py`` (reshape, permute, flatten, indexing);
* in ``minicnn/nn/functional.py``: the ops with geometry, learnable weights, randomness or
  targets - convolution, pooling, linear, dropout, losses. ``nn.functional`` re-exports the
  activations, so ``F.relu`` is ``minicnn.ops.relu``.

Adding an elementwise op (GELU is the worked example) touches three source files: its Function
and wrapper in ``activation.py`` (or the file of its kind; listed in that file's ``__all__``),
one name in ``nn/functional.py``'s import of the activations, and its Module in ``nn/layers.py``.
This package collects every submodule's ``__all__`` itself, so it needs no edit.

>>> import minicnn
>>> x = minicnn.tensor([-1.0, 2.0], requires_grad=True)
>>> minicnn.ops.relu(x * 3).sum().backward()
>>> x.grad
array([0., 3.], dtype=float32)
"""
from minicnn.ops import _common, activation, arithmetic, pointwise, reduction, shape

_KINDS = (_common, arithmetic, pointwise, activation, reduction, shape)

# Every public name of every kind, as minicnn.ops.<name> (written out by the loop rather than by
# hand, so that adding an op to its file is enough).
__all__ = [name for kind in _KINDS for name in kind.__all__]
globals().update({name: getattr(kind, name) for kind in _KINDS for name in kind.__all__})
