"""Neural-network operations: one Function per op (forward and backward side by side) + wrapper,
one file per kind of op (the ops with geometry, weights, randomness or targets; the value-only
activations live in ``minicnn/ops/activation.py`` and are re-exported here).

Signatures and defaults follow ``torch.nn.functional``. Convolution and pooling call the kernels
in ``minicnn.kernels`` (arrays in, arrays out), which validate the geometry; this module adds
the bias, the autograd bookkeeping and argument checks the kernels cannot do.

>>> import numpy as np, minicnn, minicnn.nn.functional as F
>>> x = minicnn.tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
>>> w = minicnn.tensor(np.ones((2, 1, 3, 3)), requires_grad=True)
>>> with minicnn.kernels.backend("reference"):
...     y = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
>>> y.shape
(1, 2, 2, 2)
"""
from minicnn.nn.functional import (activation, attention, conv, dropout, fold, linear, loss,
                                   normalization, padding, pooling, sparse, upsampling)
from minicnn.nn.functional.conv import _string_padding  # noqa: F401  (nn.Conv2d uses it)
from minicnn.ops import activation as _value_activations

# Where each op lives (each file named as nn/'s file of the same kind of Module): conv.py,
# padding.py (F.pad), pooling.py (max, average, 1-D and adaptive pooling, max_unpool2d),
# upsampling.py (interpolate), linear.py (linear, flatten), dropout.py, loss.py,
# normalization.py, activation.py (prelu, which has a weight), sparse.py (embedding,
# embedding_bag), fold.py (unfold, fold, pixel_shuffle, channel_shuffle), attention.py
# (scaled_dot_product_attention). This package collects
# their __all__.
_PARTS = (conv, padding, pooling, upsampling, linear, dropout, loss, normalization, activation,
          sparse, fold, attention)
# The value-only activations of minicnn/ops/activation.py (relu, gelu, ...), as F.relu etc.
_ACTIVATIONS = [name for name in _value_activations.__all__ if not name.endswith("Fn")]

__all__ = _ACTIVATIONS + [name for part in _PARTS for name in part.__all__]
globals().update({name: getattr(_value_activations, name) for name in _ACTIVATIONS})
globals().update({name: getattr(part, name) for part in _PARTS for name in part.__all__})
