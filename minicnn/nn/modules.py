"""Layers as objects: Module, Parameter, containers and the layers, mirroring ``torch.nn``.

Module is the parameter registry (state dicts, train/eval, dtype, repr, summary); the layers
(Conv2d, MaxPool2d, Linear, ReLU, ...) hold their settings and parameters.

A Module holds its Parameters and sub-Modules in two ordered dicts, filled by plain attribute
assignment (``self.conv1 = Conv2d(...)``), so their order and names - ``conv1.weight``,
``0.bias`` - are those of the assignments, as in PyTorch. Computation is delegated to
``minicnn.nn.functional``; this file only keeps state and calls those ops.

>>> import minicnn.nn as nn
>>> model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 10))
>>> [name for name, _ in model.named_parameters()]
['0.weight', '0.bias', '3.weight', '3.bias']
>>> model[0]
Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
"""
import collections
import collections.abc
import math
import numbers
import operator

import numpy as np

from minicnn import rng as _random
from minicnn.kernels import FLOAT_DTYPES, PoolGeometry
from minicnn.nn import functional as F
from minicnn.nn import init
from minicnn._tensor import Tensor
from minicnn.autograd import no_grad

__all__ = [
    "Parameter", "Module", "Sequential", "ModuleList",
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Linear", "Flatten",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "CrossEntropyLoss", "MSELoss",
]

# ---------------------------------------------------------------------------------------------
# Argument checking shared by the layers
# ---------------------------------------------------------------------------------------------

def _int(value, name, minimum=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _ntuple(value, n, name, minimum):
    """An int or a sequence of ``n`` ints -> a tuple of ``n`` Python ints, each >= minimum."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
        return tuple(_int(v, name, minimum) for v in value)
    return (_int(value, name, minimum),) * n


def _dtype(dtype):
    if dtype is None:
        return np.dtype(np.float32)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _real(value, name):
    """A real number (not a bool, not NaN) as a Python float; minicnn.optim uses it too."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def _reset_weight_and_bias(module):
    """PyTorch's default init of a layer's ``weight`` and optional ``bias`` (Conv*, Linear):
    weight Kaiming-uniform (a=√5), so |w| <= 1/√fan_in, and bias U(-1/√fan_in, 1/√fan_in),
    with fan_in from the weight shape."""
    init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(module.bias, -bound, bound)


# ---------------------------------------------------------------------------------------------
# Parameter and Module
# ---------------------------------------------------------------------------------------------

class Parameter(Tensor):
    """A Tensor that a Module registers as one of its parameters (``requires_grad=True``).

    Parameters
    ----------
    data : array_like or Tensor, optional
        The initial values, any shape. A float32/float64 array keeps its dtype; anything else
        becomes float32. Default: an empty float32 array.
    requires_grad : bool
        Default True. Set False to freeze the parameter (it stays in ``state_dict``).
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.data
        array = np.asarray(data)
        dtype = array.dtype if array.dtype in FLOAT_DTYPES else np.float32
        super().__init__(array, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(collections.namedtuple("IncompatibleKeys",
                                               ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict(strict=False)`` skipped: two lists of key names."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        """Unregister the hook (a second call does nothing)."""
        self._hooks.pop(self.id, None)


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign Parameters and sub-Modules as
    attributes (they are registered in assignment order), and define ``forward``. Calling the
    module (``model(x)``) runs ``forward`` and then any forward hooks.

    Attributes
    ----------
    training : bool
        True in training mode (the default), False after ``eval()``; Dropout reads it.
    """

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", collections.OrderedDict())
        object.__setattr__(self, "_modules", collections.OrderedDict())
        object.__setattr__(self, "_forward_hooks", collections.OrderedDict())

    def forward(self, *args, **kwargs):
        """The computation; every subclass overrides it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        output = self.forward(*args, **kwargs)
        for hook in list(self.__dict__.get("_forward_hooks", {}).values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every forward of this module.

        If the hook returns something other than None, that replaces the output.

        Returns
        -------
        RemovableHandle
            ``handle.remove()`` unregisters the hook.
        """
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ----- registration -------------------------------------------------------------------

    def _check_name(self, name, what):
        if not isinstance(name, str):
            raise TypeError(f"{what} name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name must be a non-empty string without '.', got {name!r}")
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one) under ``name``."""
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter "
                            f"{name!r} (nn.Parameter or None required)")
        if name in self._modules or (name in self.__dict__ and name not in self._parameters):
            raise KeyError(f"attribute {name!r} already exists")
        self._parameters[name] = param

    def add_module(self, name, module):
        """Register the sub-module ``module`` (or None) under ``name``."""
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if name in self._parameters or (name in self.__dict__ and name not in self._modules):
            raise KeyError(f"attribute {name!r} already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        modules = self.__dict__.get("_modules")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self.__dict__.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self.__dict__.pop(name, None)
            params.pop(name, None)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"{name!r} (nn.Module or None expected)")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails. Use __dict__.get so that a half-built object
        # (copy.deepcopy, unpickling) does not recurse forever.
        for registry in ("_parameters", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules))

    # ----- traversal ----------------------------------------------------------------------

    def named_modules(self, prefix="", remove_duplicate=True, _memo=None):
        """Yield ``(name, module)`` for this module (name ``prefix``) and all below it.

        Names are dotted paths (``"features.0"``); a module reachable twice is yielded once
        unless ``remove_duplicate=False``.
        """
        memo = set() if _memo is None else _memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(sub, remove_duplicate, memo)

    def modules(self):
        """Yield this module and every module below it (each once)."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield ``(name, module)`` for the direct sub-modules (each once)."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        """Yield the direct sub-modules."""
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(name, parameter)`` pairs, names as in ``state_dict`` (``"conv1.weight"``).

        Parameters
        ----------
        prefix : str
            Prepended (with a dot) to every name.
        recurse : bool
            Include the parameters of sub-modules (default) or only this module's own.
        remove_duplicate : bool
            Yield a parameter shared by several layers only once (default).
        """
        memo = set()
        modules = (self.named_modules(prefix, remove_duplicate) if recurse
                   else [(prefix, self)])
        for module_prefix, module in modules:
            for name, param in module._parameters.items():
                if param is None or (remove_duplicate and id(param) in memo):
                    continue
                memo.add(id(param))
                yield (f"{module_prefix}.{name}" if module_prefix else name), param

    def parameters(self, recurse=True):
        """Yield every Parameter (each once, in registration order), e.g. for an optimizer."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and on self; return self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ----- modes and gradients ------------------------------------------------------------

    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode here and in all sub-modules.

        Returns
        -------
        self
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode (Dropout becomes the identity); same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter (False freezes the module); return self."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every parameter.

        Parameters
        ----------
        set_to_none : bool
            True (default): ``p.grad = None``. False: fill existing gradients with zeros.
        """
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad[...] = 0

    # ----- dtype ----------------------------------------------------------------------------

    def to(self, dtype):
        """Convert every parameter (and its gradient) to ``dtype``, in place; return self.

        Parameters
        ----------
        dtype : {numpy.float32, numpy.float64}
            float64 is what gradient checking a whole model needs.

        Notes
        -----
        The Parameter objects are kept (only their arrays are replaced), but build optimizers
        after converting: their state arrays are not converted.
        """
        dtype = _dtype(dtype)
        seen = set()
        for module in self.modules():
            for param in module._parameters.values():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                param.data = param.data.astype(dtype, copy=False)
                if param.grad is not None:
                    param.grad = param.grad.astype(dtype, copy=False)
        return self

    def double(self):
        """Convert every parameter to float64; return self."""
        return self.to(np.float64)

    def float(self):
        """Convert every parameter to float32; return self."""
        return self.to(np.float32)

    # ----- state dicts --------------------------------------------------------------------

    def _all_named_parameters(self, prefix=""):
        # Unlike named_parameters, keeps every name of a shared parameter: a state dict has
        # one entry per place a parameter is registered, as in PyTorch.
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, module in self._modules.items():
            if module is not None:
                yield from module._all_named_parameters(prefix + name + ".")

    def state_dict(self):
        """Copies of every parameter's values, keyed by dotted name.

        Returns
        -------
        collections.OrderedDict of str -> ndarray
            Keys as PyTorch names them (``"0.weight"``, ``"conv1.bias"``), in registration
            order; values are copies, so later training does not change them.
            ``minicnn.save`` stores it.
        """
        return collections.OrderedDict(
            (name, param.data.copy()) for name, param in self._all_named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into this module's parameters, in place.

        Nothing is changed if any check fails.

        Parameters
        ----------
        state_dict : mapping of str -> ndarray (or Tensor, or array_like)
            As returned by :meth:`state_dict` (possibly via ``minicnn.save``/``load``).
            Values are cast to each parameter's dtype.
        strict : bool
            If True (default), the keys must match this module's exactly.

        Returns
        -------
        IncompatibleKeys
            Named tuple ``(missing_keys, unexpected_keys)`` (both empty when strict).

        Raises
        ------
        ValueError
            Listing every missing key and unexpected key (when ``strict``) and every entry
            whose shape differs from the parameter's (always), with both shapes.
        TypeError
            If ``state_dict`` is not a mapping or an entry is not numeric.
        """
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"state_dict must be a mapping (dict) of name -> array, got "
                            f"{type(state_dict).__name__}")
        own = collections.OrderedDict(self._all_named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict:
            if missing:
                errors.append("Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
        values = {}
        for name, param in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.data if isinstance(value, Tensor) else np.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(f"state_dict entry {name!r} must be numeric, got dtype "
                                f"{value.dtype}")
            if value.shape != param.data.shape:
                errors.append(f"size mismatch for {name}: copying a param with shape "
                              f"{value.shape} from checkpoint, the shape in current model is "
                              f"{param.data.shape}.")
            values[name] = value
        if errors:
            raise ValueError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                             + "\n\t".join(errors))
        for name, value in values.items():
            own[name].data[...] = value  # in place, cast to the parameter's dtype
        return _IncompatibleKeys(missing, unexpected)

    # ----- printing -------------------------------------------------------------------------

    def extra_repr(self):
        """The text between the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for name, module in self._modules.items():
            text = repr(module).replace("\n", "\n  ")  # indent the child's own lines
            child_lines.append(f"({name}): {text}")
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"

    def summary(self, input_shape, dtype=None):
        """Print and return a table of each layer's output shape and parameter count.

        Runs one forward pass on zeros of ``input_shape`` under ``no_grad`` in eval mode (the
        training flags and minicnn's random state are restored afterwards).

        Parameters
        ----------
        input_shape : tuple of int
            Shape of the input batch *including* the batch size, e.g. ``(1, 1, 28, 28)``.
        dtype : numpy dtype, optional
            Dtype of the dummy input; default: the dtype of the first parameter (float32 for a
            module without parameters).

        Returns
        -------
        str
            The table: one row per layer in the order the layers ran (layers without
            sub-modules, and any module holding parameters of its own), then the totals.
        """
        if not isinstance(input_shape, (tuple, list)) or not input_shape:
            raise TypeError(f"input_shape must be a non-empty tuple of ints, got {input_shape!r}")
        input_shape = tuple(_int(s, "input_shape", 1) for s in input_shape)
        if dtype is None:
            first = next(self.parameters(), None)
            dtype = first.data.dtype if first is not None else np.float32
        dtype = _dtype(dtype)

        rows, counted, handles = [], set(), []

        def record(name):
            def hook(module, inputs, output):
                if id(module) in counted:
                    count = "(shared)"
                else:
                    counted.add(id(module))
                    count = sum(p.data.size for p in module.parameters(recurse=False))
                label = f"{name} ({type(module).__name__})" if name else type(module).__name__
                rows.append((label, _shape_text(output), count))
            return hook

        for name, module in self.named_modules():
            has_children = any(True for _ in module.children())
            has_own = any(True for _ in module.parameters(recurse=False))
            if not has_children or has_own:
                handles.append(module.register_forward_hook(record(name)))
        modes = [(module, module.training) for module in self.modules()]
        rng_state = _random.get_rng_state()
        try:
            self.eval()
            with no_grad():
                self(Tensor(np.zeros(input_shape, dtype=dtype), dtype=dtype))
        finally:
            for handle in handles:
                handle.remove()
            for module, mode in modes:
                object.__setattr__(module, "training", mode)
            _random.set_rng_state(rng_state)

        params = list(self.parameters())
        total = sum(p.data.size for p in params)
        trainable = sum(p.data.size for p in params if p.requires_grad)
        size_mb = sum(p.data.nbytes for p in params) / 2 ** 20
        header = ("Layer (type)", "Output Shape", "Param #")
        body = [(label, shape, f"{count:,}" if isinstance(count, int) else count)
                for label, shape, count in rows]
        widths = [max(len(r[i]) for r in [header] + body) for i in range(3)]
        line = lambda r: f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}"
        rule = "=" * (sum(widths) + 6)
        text = "\n".join(
            [line(header), rule] + [line(r) for r in body] + [
                rule,
                f"Input shape: {list(input_shape)} ({dtype})",
                f"Total params: {total:,}",
                f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable:,}",
                f"Params size (MB): {size_mb:.2f}",
            ])
        print(text)
        return text


def _shape_text(output):
    if isinstance(output, Tensor):
        return str(list(output.shape))
    if isinstance(output, np.ndarray):
        return str(list(output.shape))
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_text(o) for o in output)
    return type(output).__name__


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------

class Sequential(Module):
    """Run modules one after another: ``Sequential(m0, m1, ...)(x) == m1(m0(x))``...

    Parameters
    ----------
    *modules : Module
        Registered under the names ``"0"``, ``"1"``, ... Or pass one ``OrderedDict`` of
        name -> Module to choose the names.

    Supports ``len``, iteration, indexing (an int gives a module, a slice a Sequential) and
    ``append``. Input and output shapes are those of the first and last module.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential argument {i} is not a Module, got "
                                    f"{type(module).__name__}")
                self.add_module(str(i), module)

    def _index(self, idx):
        idx = _int(idx, "index")
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of "
                             f"length {n}")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(collections.OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx, module):
        key = list(self._modules)[self._index(idx)]
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[key] = module

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add ``module`` at the end (named by its position); return self."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self.add_module(str(len(self)), module)
        return self

    def forward(self, input):
        """Feed ``input`` through every module in order; shapes as the modules define."""
        for module in self:
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules whose parameters are registered (unlike a plain Python list).

    Parameters
    ----------
    modules : iterable of Module, optional
        Registered under the names ``"0"``, ``"1"``, ...

    It has no ``forward``: the owning module decides how to call its entries.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    __setitem__ = Sequential.__setitem__
    __len__ = Sequential.__len__
    __iter__ = Sequential.__iter__
    append = Sequential.append
    _index = Sequential._index

    def __getitem__(self, idx):  # noqa: F811 - a slice gives a ModuleList
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return list(self._modules.values())[self._index(idx)]

    def extend(self, modules):
        """Append every module of the iterable ``modules``; return self."""
        for module in modules:
            self.append(module)
        return self


# ---------------------------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------------------------

class _ConvNd(Module):
    """Shared by Conv1d, Conv2d and ConvTranspose2d: validation, parameters, init, repr."""

    def __init__(self, n, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, dtype, transposed=False, output_padding=0):
        super().__init__()
        self.in_channels = _int(in_channels, "in_channels", 1)
        self.out_channels = _int(out_channels, "out_channels", 1)
        self.groups = _int(groups, "groups", 1)
        if self.in_channels % self.groups:
            raise ValueError(f"in_channels ({self.in_channels}) must be divisible by groups "
                             f"({self.groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"out_channels ({self.out_channels}) must be divisible by groups "
                             f"({self.groups})")
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", 1)
        self.stride = _ntuple(stride, n, "stride", 1)
        self.padding = _ntuple(padding, n, "padding", 0)
        self.dilation = _ntuple(dilation, n, "dilation", 1)
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n, "output_padding", 0)
        F._check_output_padding(self.output_padding, self.stride)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        dtype = _dtype(dtype)
        if transposed:  # (C, O/G, *K): the weight of the conv whose backward this is
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:           # (O, C/G, *K)
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((self.out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default init: weight Kaiming-uniform (a=√5), so |w| <= 1/√fan_in, and
        bias U(-1/√fan_in, 1/√fan_in), with fan_in from the weight shape."""
        _reset_weight_and_bias(self)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as every framework): ``F.conv2d`` with a learnt
    weight and bias.

    Parameters
    ----------
    in_channels, out_channels : int
        C and O; both divisible by ``groups``.
    kernel_size : int or (int, int)
        (KH, KW), >= 1.
    stride : int or (int, int)
        >= 1.
    padding : int or (int, int)
        Zeros added on both sides, >= 0.
    dilation : int or (int, int)
        Spacing between kernel taps, >= 1.
    groups : int
        Split channels into G independent groups.
    bias : bool
        Learn a per-output-channel bias.
    dtype : {None, numpy.float32, numpy.float64}
        Parameter dtype (default float32).

    Attributes
    ----------
    weight : Parameter, shape (O, C/G, KH, KW)
    bias : Parameter of shape (O,), or None

    Shapes: input (N, C, H, W) -> output (N, O, OH, OW),
    ``OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1`` (likewise OW).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, dtype=None):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, dtype)

    def forward(self, input):
        """(N, C, H, W) -> (N, O, OH, OW)."""
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) inputs (``F.conv1d``, a conv2d of unit height).

    Parameters
    ----------
    in_channels, out_channels : int
        C and O; both divisible by ``groups``.
    kernel_size, stride, padding, dilation : int or (int,)
        As Conv2d, along the one spatial axis.
    groups : int
    bias : bool
    dtype : {None, numpy.float32, numpy.float64}

    Attributes
    ----------
    weight : Parameter, shape (O, C/G, K)
    bias : Parameter of shape (O,), or None

    Shapes: input (N, C, L) -> output (N, O, OL), ``OL = floor((L + 2*P - D*(K-1) - 1)/S) + 1``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, dtype=None):
        super().__init__(1, in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, dtype)

    def forward(self, input):
        """(N, C, L) -> (N, O, OL)."""
        return F.conv1d(input, self.weight, self.bias, self.stride[0], self.padding[0],
                        self.dilation[0], self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input), used
    to upsample.

    Parameters
    ----------
    in_channels, out_channels : int
        C and O; both divisible by ``groups``.
    kernel_size, stride, padding, dilation : int or (int, int)
        Those of the Conv2d this layer is the transpose of.
    output_padding : int or (int, int)
        Extra rows/columns added to one side of the output (to pick among the input sizes a
        strided conv maps to the same output size); smaller than stride (PyTorch also
        allows smaller than dilation; minicnn does not, see ``F.conv_transpose2d``).
    groups : int
    bias : bool
    dtype : {None, numpy.float32, numpy.float64}

    Attributes
    ----------
    weight : Parameter, shape (C, O/G, KH, KW)
        (PyTorch's layout; fan_in for init is therefore O/G*KH*KW, as in PyTorch.)
    bias : Parameter of shape (O,), or None

    Shapes: input (N, C, H, W) -> output (N, O, OH, OW),
    ``OH = (H - 1)*SH - 2*PH + DH*(KH-1) + OPH + 1`` (likewise OW).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, dtype=None):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, dtype, transposed=True, output_padding=output_padding)

    def forward(self, input):
        """(N, C, H, W) -> (N, O, OH, OW)."""
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

def _pool_args(kernel_size, stride, padding):
    k = _ntuple(kernel_size, 2, "kernel_size", 1)
    s = k if stride is None else _ntuple(stride, 2, "stride", 1)
    p = _ntuple(padding, 2, "padding", 0)
    # The seam owns the pooling rules (padding at most half the kernel): check them now, on an
    # input of exactly one window, so a bad layer fails when built rather than on first use.
    PoolGeometry((1, 1) + k, k, s, p)
    return kernel_size, (kernel_size if stride is None else stride), padding


class MaxPool2d(Module):
    """2-D max pooling (padding counts as -inf): ``F.max_pool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window (KH, KW), >= 1.
    stride : int or (int, int), optional
        Default: ``kernel_size`` (non-overlapping windows).
    padding : int or (int, int)
        At most half the kernel size.

    Shapes: (N, C, H, W) -> (N, C, OH, OW), ``OH = floor((H + 2*PH - KH) / SH) + 1``.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding)

    def forward(self, input):
        """(N, C, H, W) -> (N, C, OH, OW)."""
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """2-D average pooling: ``F.avg_pool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window (KH, KW), >= 1.
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int)
        At most half the kernel size.
    count_include_pad : bool
        Divide by KH*KW everywhere (True, default) or by the number of real pixels.

    Shapes: (N, C, H, W) -> (N, C, OH, OW), ``OH = floor((H + 2*PH - KH) / SH) + 1``.
    """

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding)
        if not isinstance(count_include_pad, (bool, np.bool_)):
            raise TypeError(f"count_include_pad must be a bool, got {count_include_pad!r}")
        self.count_include_pad = bool(count_include_pad)

    def forward(self, input):
        """(N, C, H, W) -> (N, C, OH, OW)."""
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        if not self.count_include_pad:
            s += ", count_include_pad=False"
        return s


# ---------------------------------------------------------------------------------------------
# Linear, reshaping, activations, dropout
# ---------------------------------------------------------------------------------------------

class Linear(Module):
    """Fully connected layer: ``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features : int
        >= 1.
    bias : bool
    dtype : {None, numpy.float32, numpy.float64}

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
    bias : Parameter of shape (out_features,), or None

    Shapes: (N, *, in_features) -> (N, *, out_features).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features = _int(in_features, "in_features", 1)
        self.out_features = _int(out_features, "out_features", 1)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        dtype = _dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((self.out_features,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: weight Kaiming-uniform (a=√5), bias U(±1/√in_features)."""
        _reset_weight_and_bias(self)

    def forward(self, input):
        """(N, *, in_features) -> (N, *, out_features)."""
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default.

    Parameters
    ----------
    start_dim, end_dim : int
        First and last dimension to merge (negative counts from the end).
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = _int(start_dim, "start_dim")
        self.end_dim = _int(end_dim, "end_dim")

    def forward(self, input):
        """(d0, ..., d_start, ..., d_end, ...) -> (d0, ..., d_start*...*d_end, ...)."""
        ndim = len(input.shape)
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -max(ndim, 1) <= dim < max(ndim, 1):
                raise ValueError(f"Flatten: {name}={dim} is out of range for a {ndim}-D input "
                                 f"of shape {tuple(input.shape)}")
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class ReLU(Module):
    """``max(x, 0)`` elementwise; any shape."""

    def forward(self, input):
        """Any shape -> same shape."""
        return F.relu(input)


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x`` elementwise; any shape.

    Parameters
    ----------
    negative_slope : float
        Slope for negative inputs (default 0.01).
    """

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = _real(negative_slope, "negative_slope")

    def forward(self, input):
        """Any shape -> same shape."""
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise; any shape."""

    def forward(self, input):
        """Any shape -> same shape."""
        return F.sigmoid(input)


class Tanh(Module):
    """``tanh(x)`` elementwise; any shape."""

    def forward(self, input):
        """Any shape -> same shape."""
        return F.tanh(input)


class Dropout(Module):
    """Inverted dropout: in training mode zero each element with probability ``p`` and scale
    the rest by ``1/(1-p)``; in eval mode (``model.eval()``) the identity.

    Parameters
    ----------
    p : float
        Drop probability, in [0, 1]. Masks come from ``minicnn.rng.get_rng()``.
    """

    def __init__(self, p=0.5):
        super().__init__()
        p = _real(p, "p")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p must be between 0 and 1, got {p}")
        self.p = p

    def forward(self, input):
        """Any shape -> same shape."""
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------

class CrossEntropyLoss(Module):
    """Softmax cross-entropy between logits and integer class labels: ``F.cross_entropy``.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}

    Shapes: input (N, K) logits, target (N,) ints in [0, K) -> a scalar (or (N,) for 'none').
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = F._check_reduction(reduction)

    def forward(self, input, target):
        """(N, K), (N,) -> scalar, or (N,) if ``reduction='none'``."""
        return F.cross_entropy(input, target, reduction=self.reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(Module):
    """Mean squared error ``(input - target)**2``, reduced: ``F.mse_loss``.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}

    Shapes: input and target of the same shape -> a scalar (or that shape for 'none').
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = F._check_reduction(reduction)

    def forward(self, input, target):
        """Same-shape input and target -> scalar, or that shape if ``reduction='none'``."""
        return F.mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"
