"""minicnn.nn: layers as Modules, ``nn.functional`` (the ops), ``nn.init`` (initialisers) and
``nn.utils`` (``summary``).

One file per kind of layer, named as ``nn/functional/``'s file of the same kind where there is
one: ``module.py`` Module and Parameter; ``container.py`` Sequential, ModuleList and friends;
``conv.py`` the convolutions; ``linear.py`` Linear, Identity, Flatten, Unflatten;
``activation.py`` ReLU, GELU, Softmax and the other activations; ``pooling.py`` max, average,
adaptive pooling and MaxUnpool2d; ``padding.py`` the Pad2d layers; ``upsampling.py`` Upsample;
``dropout.py`` Dropout, Dropout1d/2d; ``normalization.py`` BatchNorm, SyncBatchNorm, LayerNorm
and GroupNorm; ``loss.py`` the losses; ``sparse.py`` Embedding and EmbeddingBag; ``fold.py``
Unfold, Fold, PixelShuffle, PixelUnshuffle and ChannelShuffle; ``lazy.py`` the Lazy layers;
``parallel.py`` DataParallel (the module run as it is, on the CPU) and DistributedDataParallel
(``nn.parallel`` only, as in PyTorch). This package collects their ``__all__`` itself (as
``minicnn.ops`` does), so a new layer is added in its file only.
"""
from minicnn.nn import (activation, container, conv, dropout, fold, functional, init, lazy,
                        linear, loss, module, normalization, padding, parallel, parameter,
                        pooling, sparse, upsampling, utils)

_PARTS = (module, container, conv, linear, activation, pooling, padding, upsampling, dropout,
          normalization, loss, sparse, fold, lazy)

__all__ = (["functional", "init", "utils", "parallel", "DataParallel"]
           + [name for part in _PARTS for name in part.__all__])
globals().update({name: getattr(part, name) for part in _PARTS for name in part.__all__})
DataParallel = parallel.DataParallel  # torch.nn has DataParallel, not DistributedDataParallel
