"""``nn.DataParallel`` as a CPU-only PyTorch runs it: the wrapped module, run as it is.

PyTorch's DataParallel splits each batch over the GPUs; with no GPU it keeps
``device_ids == []`` and calls the module directly, and so does minicnn (which has no GPU).
What scripts rely on is kept: the module is ``.module``, and the state_dict keys carry the
``module.`` prefix, so checkpoints saved from a wrapped model load as PyTorch's do.

>>> import minicnn.nn as nn
>>> model = nn.DataParallel(nn.Linear(2, 3))
>>> list(model.state_dict())
['module.weight', 'module.bias']
"""
from minicnn.nn.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Run ``module`` on the CPU, as ``torch.nn.DataParallel`` does where there is no GPU.

    Parameters
    ----------
    module : Module
        The model; kept as ``self.module``.
    device_ids, output_device : ignored
        As in a CPU-only PyTorch: with no GPU they are not used (``device_ids`` becomes []).
    dim : int
        The batch dimension a GPU run would split (kept, unused).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel wraps a Module, got {type(module).__name__}")
        self.module = module
        self.device_ids = []
        self.output_device = None
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        """``self.module(*inputs, **kwargs)``."""
        return self.module(*inputs, **kwargs)
