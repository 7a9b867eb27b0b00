"""Module and Parameter: the registry behind every layer - parameters and buffers, modes, dtype,
state dicts, hooks and repr, mirroring ``torch.nn.Module``.

A Module holds its Parameters, buffers and sub-Modules in three ordered dicts. Parameters and
sub-Modules are registered by plain attribute assignment (``self.conv1 = Conv2d(...)``), buffers
by ``register_buffer``, so their order and names - ``conv1.weight``, ``0.bias``,
``bn.running_mean`` - are those of the registrations, as in PyTorch. A buffer is state that is
not learnt (a running mean, a step counter): saved in ``state_dict`` unless registered with
``persistent=False``, converted by ``to(dtype)`` when it is floating, never handed to an optimizer.

>>> import numpy as np, minicnn, minicnn.nn as nn
>>> class Counter(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.scale = nn.Parameter(np.ones(2, np.float32))
...         self.register_buffer("calls", minicnn.tensor(0))
>>> m = Counter()
>>> list(m.state_dict())
['scale', 'calls']
>>> [name for name, _ in m.named_parameters()], [name for name, _ in m.named_buffers()]
(['scale'], ['calls'])
"""
import collections
import collections.abc

import numpy as np

from minicnn import dtypes
from minicnn._checks import FLOAT_DTYPES, check_bool, float_dtype
from minicnn._tensor import Tensor

__all__ = ["Parameter", "Module"]  # RemovableHandle is public here only, as in torch.utils.hooks


class Parameter(Tensor):
    """A Tensor that a Module registers as one of its parameters (``requires_grad=True``).

    Parameters
    ----------
    data : array_like or Tensor, optional
        The initial values, any shape. A float32/float64 array keeps its dtype; anything else
        becomes the default dtype (float32 unless changed). Default: an empty tensor of it.
    requires_grad : bool
        Default True. Set False to freeze the parameter (it stays in ``state_dict``).
    """

    __module__ = "minicnn.nn.parameter"  # where PyTorch's is (type(p) prints it)

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=dtypes.default_numpy_float())
        if isinstance(data, Tensor):
            data = data._data
        array = np.asarray(data)
        dtype = array.dtype if array.dtype in FLOAT_DTYPES else dtypes.default_numpy_float()
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
    """Returned by ``register_forward_hook`` and ``register_forward_pre_hook``;
    ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        """Unregister the hook (a second call does nothing)."""
        self._hooks.pop(self.id, None)


def _add_hook(hooks, hook):
    """Put ``hook`` into the ordered dict ``hooks``; its handle removes it."""
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign Parameters and sub-Modules as
    attributes (they are registered in assignment order), register buffers with
    ``register_buffer``, and define ``forward``. Calling the module (``model(x)``) runs any
    forward pre-hooks, ``forward`` and then any forward hooks.

    Attributes
    ----------
    training : bool
        True in training mode (the default), False after ``eval()``; Dropout reads it.
    """

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", collections.OrderedDict())
        object.__setattr__(self, "_buffers", collections.OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", collections.OrderedDict())
        object.__setattr__(self, "_forward_hooks", collections.OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", collections.OrderedDict())

    def forward(self, *args, **kwargs):
        """The computation; every subclass overrides it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        for hook in list(self.__dict__.get("_forward_pre_hooks", {}).values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
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
        return _add_hook(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before every forward of this module (``inputs`` is the
        tuple of positional arguments).

        If the hook returns something other than None, that replaces the inputs (a single value
        is wrapped in a tuple), as in PyTorch. ``nn.utils.weight_norm`` recomputes the weight
        this way.

        Returns
        -------
        RemovableHandle
            ``handle.remove()`` unregisters the hook.
        """
        return _add_hook(self._forward_pre_hooks, hook)

    # ----- registration -------------------------------------------------------------------

    def _check_name(self, name, what, registry):
        """PyTorch's rules for a new entry of ``registry`` (``"_parameters"``, ...): a str,
        not empty, no '.', not already another attribute or another kind of entry."""
        if registry not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{what} name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name must be a non-empty string without '.', got {name!r}")
        if hasattr(self, name) and name not in self.__dict__[registry]:
            raise KeyError(f"attribute {name!r} already exists")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one) under ``name``."""
        self._check_name(name, "parameter", "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter "
                            f"{name!r} (nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register ``tensor`` (a Tensor, or None for an absent one) as the buffer ``name``.

        A buffer is module state that is not a parameter: not returned by ``parameters()``
        (so no optimizer updates it), reachable as ``self.name``, converted by ``to(dtype)``
        if it is floating, and - if ``persistent`` - saved by ``state_dict`` after this
        module's own parameters.

        Parameters
        ----------
        name : str
            Non-empty, without '.', not already an attribute, parameter or sub-module.
        tensor : Tensor or None
            Any dtype (an int64 step counter as well as a float running mean), any shape.
        persistent : bool
            False keeps the buffer out of ``state_dict`` (and ``load_state_dict``).
        """
        self._check_name(name, "buffer", "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} object to buffer {name!r} "
                            "(Tensor or None required)")
        persistent = check_bool(persistent, "persistent")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Register the sub-module ``module`` (or None) under ``name``."""
        self._check_name(name, "module", "_modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        # PyTorch's rules: a Parameter or a Module assigned under any name is registered (and
        # leaves any other registry); a name already registered takes only its own kind or
        # None; a plain Tensor replaces a buffer but is never made one by assignment.
        kinds = (("_parameters", Parameter, "parameter", "nn.Parameter"),
                 ("_modules", Module, "child module", "nn.Module"),
                 ("_buffers", Tensor, "buffer", "Tensor"))
        for registry, kind, what, expected in kinds:
            entries = self.__dict__.get(registry)
            if isinstance(value, kind) and kind is not Tensor:
                if entries is None:
                    raise AttributeError(f"cannot assign {what} before Module.__init__() call")
                self.__dict__.pop(name, None)
                for other, *_ in kinds:
                    if other != registry:  # a replaced entry keeps its place in the order
                        self.__dict__[other].pop(name, None)
                self._non_persistent_buffers_set.discard(name)
                entries[name] = value
                return
            if entries is not None and name in entries:
                if value is not None and not isinstance(value, kind):
                    raise TypeError(f"cannot assign {type(value).__name__} as {what} {name!r} "
                                    f"({expected} or None expected)")
                entries[name] = value
                return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails. Use __dict__.get so that a half-built object
        # (copy.deepcopy, unpickling) does not recurse forever.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

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

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        """``(dotted name, tensor)`` for the entries of ``registry`` here (and below)."""
        memo = set()
        modules = (self.named_modules(prefix, remove_duplicate) if recurse
                   else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in memo):
                    continue
                memo.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

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
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Yield every Parameter (each once, in registration order), e.g. for an optimizer."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(name, buffer)`` pairs (persistent or not; None entries skipped).

        Arguments as ``named_parameters``.
        """
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """Yield every buffer Tensor (each once, in registration order)."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

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
        mode = check_bool(mode, "mode")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
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
                param.grad.zero_()

    # ----- dtype ----------------------------------------------------------------------------

    def to(self, *args, dtype=None, device=None, non_blocking=False):
        """Convert every parameter (and its gradient) and every floating buffer to ``dtype``,
        in place; return self. As PyTorch's: ``model.to(minicnn.float64)``,
        ``model.to(device)``, ``model.to("cpu", minicnn.double)``; the device must be the CPU.

        Parameters
        ----------
        dtype : {minicnn.float32, minicnn.float64} (or NumPy's)
            float64 is what gradient checking a whole model needs.
        device : str or minicnn.device
            Only ``"cpu"``: minicnn computes on the CPU (anything else is a RuntimeError).

        Notes
        -----
        Integer and bool buffers (a step counter) keep their dtype, as in PyTorch. The
        Parameter and buffer objects are kept (only their arrays are replaced), but build
        optimizers after converting: their state arrays are not converted.
        """
        for arg in args:
            if isinstance(arg, (str, dtypes.device)):
                device = arg
            else:
                dtype = arg
        dtypes.as_device(device)
        if dtype is None:
            return self
        dtype = float_dtype(dtype)
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor._data.dtype.kind != "f":
                continue
            tensor._data = tensor._data.astype(dtype, copy=False)
            if tensor.grad is not None:
                tensor.grad = tensor.grad.to(dtype)
        return self

    def cpu(self):
        """This module (minicnn computes on the CPU)."""
        return self

    def cuda(self, device=None):
        """Refused: minicnn computes on the CPU only."""
        raise RuntimeError("minicnn runs on the CPU only; .cuda() is not available")

    def double(self):
        """Convert every parameter and floating buffer to float64; return self."""
        return self.to(np.float64)

    def float(self):
        """Convert every parameter and floating buffer to float32; return self."""
        return self.to(np.float32)

    # ----- state dicts --------------------------------------------------------------------

    def _state_entries(self, prefix=""):
        # Unlike named_parameters, keeps every name of a shared tensor: a state dict has one
        # entry per place a tensor is registered. PyTorch's order: this module's parameters,
        # then its persistent buffers, then each child's entries, depth first.
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                yield prefix + name, buf
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_entries(prefix + name + ".")

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """Every parameter and persistent buffer, keyed by dotted name, as PyTorch's.

        Returns
        -------
        collections.OrderedDict of str -> Tensor
            Keys as PyTorch names them (``"0.weight"``, ``"conv1.bias"``,
            ``"bn.running_mean"``), in registration order, each module's parameters before
            its buffers. The values share the parameters' memory (``detach()``ed, or the
            parameters themselves with ``keep_vars=True``): later training changes them, so
            ``copy.deepcopy`` or ``{k: v.clone() ...}`` a state dict to keep a snapshot.
            ``minicnn.save`` stores it.
        """
        out = collections.OrderedDict() if destination is None else destination
        for name, tensor in self._state_entries(prefix):
            out[name] = tensor if keep_vars else tensor.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into this module's parameters and persistent
        buffers, in place.

        Nothing is changed if any check fails.

        Parameters
        ----------
        state_dict : mapping of str -> ndarray (or Tensor, or array_like)
            As returned by :meth:`state_dict` (possibly via ``minicnn.save``/``load``).
            Values are cast to each entry's dtype.
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
            whose shape differs from the parameter's or buffer's (always), with both shapes.
        TypeError
            If ``state_dict`` is not a mapping or an entry is not numeric.
        """
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"state_dict must be a mapping (dict) of name -> array, got "
                            f"{type(state_dict).__name__}")
        own = collections.OrderedDict(self._state_entries())
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
        for name, tensor in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value._data if isinstance(value, Tensor) else np.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(f"state_dict entry {name!r} must be numeric, got dtype "
                                f"{value.dtype}")
            lazy = hasattr(tensor, "materialize")  # a lazy layer's placeholder: any shape
            if value.shape != tensor._data.shape and not lazy:
                errors.append(f"size mismatch for {name}: copying a param with shape "
                              f"{value.shape} from checkpoint, the shape in current model is "
                              f"{tensor._data.shape}.")
            values[name] = value
        if errors:
            raise ValueError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                             + "\n\t".join(errors))
        for name, value in values.items():
            if hasattr(own[name], "materialize"):
                own[name].materialize(value.shape)  # as PyTorch's lazy modules load
            own[name]._data[...] = value  # in place, cast to the entry's dtype
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
        """Print and return a table of each layer's output shape and parameter count;
        see :func:`minicnn.nn.utils.summary`."""
        # Imported here: nn.utils needs this file's Parameter (weight_norm, spectral_norm).
        from minicnn.nn.utils import summary
        return summary(self, input_shape, dtype)
