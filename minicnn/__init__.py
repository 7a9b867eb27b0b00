"""minicnn: a small deep-learning framework with OpenMP Cython convolution kernels.

The top-level names follow PyTorch's: ``minicnn.tensor``, ``minicnn.zeros``, ``minicnn.cat``,
``minicnn.float32``, ``minicnn.no_grad``, ... so a script written for ``torch`` runs with its
imports renamed.
"""
import importlib

from minicnn import accelerator, autograd, autograd_graph, backends, cuda, dtypes, linalg, ops
from minicnn._format import set_printoptions
from minicnn._tensor import Function, Tensor, TensorFunction
from minicnn.autograd import (enable_grad, inference_mode, is_grad_enabled,
                              is_inference_mode_enabled, no_grad, set_grad_enabled)
from minicnn.creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                              full_like, linspace, logspace, normal, ones, ones_like, rand,
                              rand_like, randint, randint_like, randn, randn_like, randperm,
                              tensor, zeros, zeros_like)
from minicnn.dtypes import (Size, bool, device, double, dtype, float, float16, float32,
                            float64, get_default_device, get_default_dtype, half, int, int8,
                            int16, int32, int64, is_floating_point, long, promote_types,
                            result_type, can_cast, set_default_device, set_default_dtype, short,
                            uint8)
from minicnn.gradcheck import GradcheckError, gradcheck
from minicnn.kernels import get_num_threads, openmp_enabled, set_num_threads
from minicnn.rng import Generator, get_rng_state, manual_seed, set_rng_state

__version__ = "0.1.0"

# The Tensor-level custom Function and gradcheck belong to minicnn.autograd (as in PyTorch) but
# need the Tensor class, which autograd/__init__.py (the engine) must not import: attached here.
autograd.Function = TensorFunction
autograd.gradcheck = gradcheck
autograd.GradcheckError = GradcheckError
autograd.to_dot, autograd.render = autograd_graph.to_dot, autograd_graph.render
from minicnn.autograd import function, functional  # noqa: E402,F401  (they need Tensor too)

# Every op of minicnn.ops as a top-level function too (minicnn.exp, minicnn.cat, minicnn.max).
_OPS = [name for name in ops.__all__ if not name.endswith("Fn")
        and name not in ("binary", "unbroadcast", "expand_reduced",
                         "clean_index", "getitem", "index_put")]
globals().update({name: getattr(ops, name) for name in _OPS})


def is_tensor(obj):
    """True if ``obj`` is a minicnn Tensor."""
    return isinstance(obj, Tensor)


def numel(input):
    """The number of elements of ``input``."""
    return input.numel()


__all__ = [
    "__version__", "Tensor", "tensor", "Function", "autograd", "no_grad", "enable_grad",
    "set_grad_enabled", "inference_mode", "is_grad_enabled", "is_inference_mode_enabled",
    "manual_seed", "get_rng_state", "set_rng_state", "Generator", "gradcheck", "GradcheckError",
    "set_num_threads", "get_num_threads", "openmp_enabled", "save", "load", "nn", "optim",
    "ops", "linalg", "autograd_graph", "dtypes", "dtype", "device", "Size", "is_tensor", "numel",
    "get_default_dtype", "set_default_dtype", "get_default_device", "set_default_device",
    "is_floating_point", "result_type", "promote_types", "can_cast", "cuda", "accelerator",
    "backends", "set_printoptions",
    "float32", "float64", "float16", "float", "double", "half", "int64", "long", "int32", "int",
    "int16", "short", "int8", "uint8", "bool",
    "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "rand", "randn", "randint",
    "normal", "randperm", "arange", "linspace",
    "logspace", "eye", "zeros_like", "ones_like", "full_like",
    "empty_like", "rand_like", "randn_like", "randint_like",
] + _OPS

# Loaded on first use (PEP 562): `nn` and `optim` import `minicnn._tensor`, and `save`/`load`
# live in `minicnn.serialization`; importing them lazily keeps `import minicnn` fast, while
# `minicnn.nn`, `minicnn.save(...)` and `from minicnn import load` all work.
_LAZY = {
    "nn": ("minicnn.nn", None),
    "optim": ("minicnn.optim", None),
    "save": ("minicnn.serialization", "save"),
    "load": ("minicnn.serialization", "load"),
    "utils": ("minicnn.utils", None),
    "transforms": ("minicnn.transforms", None),
    "datasets": ("minicnn.datasets", None),
    "distributed": ("minicnn.distributed", None),   # mpi4py itself only at init_process_group
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
