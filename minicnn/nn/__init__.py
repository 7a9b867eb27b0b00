"""minicnn.nn: layers as Modules, ``nn.functional`` (the ops), ``nn.init`` (initialisers) and
``nn.utils`` (``summary``).

Where each name lives: ``module.py`` Module and Parameter; ``containers.py`` Sequential,
ModuleList and friends; ``layers.py`` convolution, pooling, Linear, the first activations and
Dropout; ``pooling.py`` the other pooling, padding and resampling layers; ``activation.py`` the
other activations; ``loss.py`` the losses; ``normalization.py`` BatchNorm, SyncBatchNorm,
LayerNorm and GroupNorm; ``sparse.py`` Embedding and EmbeddingBag; ``fold.py`` Unfold, Fold,
PixelShuffle, PixelUnshuffle and ChannelShuffle; ``lazy.py`` the Lazy layers; ``parallel.py``
DataParallel (the module run as it is, on the CPU) and DistributedDataParallel (``nn.parallel``
only, as in PyTorch). This package collects their ``__all__`` itself (as ``minicnn.ops`` does),
so a new layer is added in its file only.
"""
from minicnn.nn import (activation, containers, fold, functional, init, layers, lazy, loss,
                        module, normalization, parallel, parameter, pooling, sparse, utils)

_PARTS = (module, containers, layers, pooling, activation, normalization, loss, sparse, fold,
          lazy)

__all__ = (["functional", "init", "utils", "parallel", "DataParallel"]
           + [name for part in _PARTS for name in part.__all__])
globals().update({name: getattr(part, name) for part in _PARTS for name in part.__all__})
DataParallel = parallel.DataParallel  # torch.nn has DataParallel, not DistributedDataParallel
