"""minicnn: a small deep-learning framework with OpenMP Cython convolution kernels."""
import importlib

from minicnn import ops
from minicnn._tensor import Function, Tensor, tensor
from minicnn.autograd import enable_grad, is_grad_enabled, no_grad
from minicnn.gradcheck import GradcheckError, gradcheck
from minicnn.kernels import get_num_threads, openmp_enabled, set_num_threads
from minicnn.rng import manual_seed

__version__ = "0.1.0"

__all__ = [
    "__version__", "Tensor", "tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled",
    "manual_seed", "gradcheck", "GradcheckError", "set_num_threads", "get_num_threads",
    "openmp_enabled", "save", "load", "nn", "optim", "ops",
]

# Loaded on first use (PEP 562): `nn` and `optim` import `minicnn._tensor`, and `save`/`load`
# live in `minicnn.serialization`; importing them lazily keeps `import minicnn` cycle-free and
# fast, while `minicnn.nn`, `minicnn.save(...)` and `from minicnn import load` all work.
_LAZY = {
    "nn": ("minicnn.nn", None),
    "optim": ("minicnn.optim", None),
    "save": ("minicnn.serialization", "save"),
    "load": ("minicnn.serialization", "load"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'minicnn' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
