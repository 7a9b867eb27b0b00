"""The ops that act on values alone: each ``XxxFn`` Function (forward, and backward with its
formula as a comment) right above its lowercase wrapper, one file per kind.

Where an op lives (the rule, also in docs/index.md):

* here, in ``minicnn/ops/``: every op behind a Tensor operator or method, and the activations -
  ``arithmetic.py`` (+ - * / ** @, maximum), ``pointwise.py`` (exp, log, sin, abs, clamp,
  casts), ``activation.py`` (relu, sigmoid, tanh, gelu, softmax, ...), ``reduction.py`` (sum,
  mean, max/min, var/std, prod, norm, cumsum, logsumexp), ``shape.py`` (reshape, permute,
  flatten, expand, repeat, flip, indexing), ``combine.py`` (cat, stack, split, where, gather,
  masked_fill), ``comparison.py`` (eq, lt, ..., argmax, all/any: no gradient);
* in ``minicnn/nn/functional/``: the ops with geometry, learnable weights, randomness or
  targets - convolution, padding, pooling, linear, dropout, losses, normalisation,
  resampling. ``nn.functional`` re-exports the activations, so ``F.relu`` is
  ``minicnn.ops.relu``.

Adding an elementwise op (GELU is the worked example) touches two source files: its Function
and wrapper in ``activation.py`` (or the file of its kind), listed in that file's ``__all__``,
and its Module in ``nn/layers.py``. This package and ``nn.functional`` collect the ``__all__``
lists themselves, so neither needs an edit.

>>> import minicnn
>>> x = minicnn.tensor([-1.0, 2.0], requires_grad=True)
>>> minicnn.ops.relu(x * 3).sum().backward()
>>> x.grad
array([0., 3.], dtype=float32)
"""
from minicnn._tensor import Tensor
from minicnn.ops import (_common, activation, arithmetic, combine, comparison, pointwise,
                         reduction, shape)

_KINDS = (_common, arithmetic, pointwise, activation, reduction, shape, combine, comparison)

# Every public name of every kind, as minicnn.ops.<name> (written out by the loop rather than by
# hand, so that adding an op to its file is enough).
__all__ = [name for kind in _KINDS for name in kind.__all__]
globals().update({name: getattr(kind, name) for kind in _KINDS for name in kind.__all__})


# Tensor methods that only call the op of the same name with the tensor first: ``x.exp()`` is
# ``minicnn.ops.exp(x)``. (Methods with arguments of their own - sum, max, reshape, to, the
# in-place ones - are written out in _tensor.py.)
_METHODS = (
    "add", "sub", "mul", "div", "pow", "matmul", "neg", "maximum", "minimum",
    "exp", "log", "sqrt", "abs", "sin", "cos", "sign", "square", "clamp", "clip", "clone",
    "floor", "ceil", "round", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "amax", "amin", "var", "std", "prod", "norm", "cumsum", "logsumexp",
    "permute", "transpose", "flatten", "unsqueeze", "squeeze", "expand", "repeat", "flip",
    "split", "chunk", "unbind", "gather", "masked_fill",
    "eq", "ne", "lt", "le", "gt", "ge", "equal", "allclose", "isclose", "isnan", "isinf",
    "isfinite", "logical_not", "logical_and", "logical_or", "logical_xor", "argmax", "argmin",
    "all", "any", "count_nonzero", "nonzero",
)


def _as_method(fn):
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    method.__name__, method.__qualname__ = fn.__name__, f"Tensor.{fn.__name__}"
    method.__doc__ = fn.__doc__
    return method


for _name in _METHODS:
    setattr(Tensor, _name, _as_method(globals()[_name]))
Tensor.subtract, Tensor.multiply, Tensor.divide = Tensor.sub, Tensor.mul, Tensor.div
Tensor.greater, Tensor.less = Tensor.gt, Tensor.lt


def _where_method(self, condition, other):
    """``where(condition, self, other)``."""
    return combine.where(condition, self, other)


def _t_method(self):
    """The transpose of a 2-D tensor (a 0-d or 1-D tensor is returned as it is)."""
    return self if self.ndim < 2 else shape.transpose(self, 0, 1)


def _masked_fill_(self, mask, value):
    """``masked_fill`` in place."""
    return self._inplace(lambda old: combine.masked_fill(old, mask, value), "masked_fill_")


Tensor.where, Tensor.t, Tensor.masked_fill_ = _where_method, _t_method, _masked_fill_
