"""Containers: Sequential (run modules in order), ModuleList and ModuleDict (register modules),
ParameterList and ParameterDict (register parameters).

The lists name their entries ``"0"``, ``"1"``, ... so a state dict reads ``"0.weight"`` as
PyTorch's; deleting or inserting renumbers them, as PyTorch.

>>> import minicnn.nn as nn
>>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
>>> len(model), model[0]
(2, Linear(in_features=4, out_features=3, bias=True))
"""
import collections

from minicnn._checks import check_int
from minicnn._tensor import Tensor
from minicnn.nn.module import Module, Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _check_module(module):
    if not isinstance(module, Module):
        raise TypeError(f"{type(module).__name__} is not a Module subclass")
    return module


class Sequential(Module):
    """Run modules one after another: ``Sequential(m0, m1, ...)(x) == m1(m0(x))``...

    Parameters
    ----------
    *modules : Module
        Registered under the names ``"0"``, ``"1"``, ... Or pass one ``OrderedDict`` of
        name -> Module to choose the names.

    Supports ``len``, iteration, indexing (an int gives a module, a slice a Sequential),
    ``del seq[i]``, ``append``, ``extend``, ``insert`` and ``pop``. Input and output shapes
    are those of the first and last module.
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
        idx = check_int(idx, "index")
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

    def __delitem__(self, idx):
        keys = list(self._modules)
        doomed = keys[idx] if isinstance(idx, slice) else [keys[self._index(idx)]]
        for key in doomed:
            del self._modules[key]
        self._renumber()

    def _renumber(self):
        # PyTorch renumbers after a deletion or insertion: names stay "0", "1", ...
        modules = list(self._modules.values())
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add ``module`` at the end (named by its position); return self."""
        self.add_module(str(len(self)), _check_module(module))
        return self

    def extend(self, modules):
        """Append every module of the iterable ``modules``; return self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (as ``list.insert``); return self."""
        _check_module(module)
        index = check_int(index, "index")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of "
                             f"length {n}")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m
        return self

    def pop(self, index=-1):
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module

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
    __delitem__ = Sequential.__delitem__
    __len__ = Sequential.__len__
    __iter__ = Sequential.__iter__
    append = Sequential.append
    insert = Sequential.insert
    pop = Sequential.pop
    _index = Sequential._index
    _renumber = Sequential._renumber

    def __getitem__(self, idx):  # noqa: F811 - a slice gives a ModuleList
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return list(self._modules.values())[self._index(idx)]

    extend = Sequential.extend


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order.

    Parameters
    ----------
    modules : mapping or iterable of (str, Module) pairs, optional

    Supports ``d[key]``, ``d[key] = m``, ``del d[key]``, ``in``, ``len``, iteration over the
    keys, ``keys``/``values``/``items``, ``update``, ``pop`` and ``clear``. No ``forward``.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, _check_module(module))

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        """The names, in insertion order."""
        return self._modules.keys()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self):
        """(name, module) pairs, in insertion order."""
        return self._modules.items()

    def update(self, modules):
        """Add or replace entries from a mapping or an iterable of (name, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module

    def pop(self, key):
        """Remove and return the module under ``key``."""
        module = self._modules[key]
        del self[key]
        return module

    def clear(self):
        """Remove every entry."""
        self._modules.clear()


def _check_parameter(value):
    if not isinstance(value, Parameter):
        if isinstance(value, Tensor):
            return Parameter(value._data)  # as PyTorch: a plain tensor is wrapped
        raise TypeError(f"{type(value).__name__} is not a Parameter")
    return value


class ParameterList(Module):
    """A list of Parameters registered under the names ``"0"``, ``"1"``, ...

    Parameters
    ----------
    values : iterable of Parameter (or Tensor, wrapped), optional

    Supports ``len``, iteration, indexing, assignment by index, ``append`` and ``extend``.
    """

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList(list(self._parameters.values())[idx])
        return list(self._parameters.values())[self._index(idx)]

    def _index(self, idx):
        idx = check_int(idx, "index")
        n = len(self._parameters)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for ParameterList of length {n}")
        return idx % n

    def __setitem__(self, idx, param):
        self.register_parameter(str(self._index(idx)), _check_parameter(param))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, value):
        """Add ``value`` at the end; return self."""
        self.register_parameter(str(len(self)), _check_parameter(value))
        return self

    def extend(self, values):
        """Append every entry of ``values``; return self."""
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(f"({i}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of Parameters, registered under their keys, in insertion order.

    Parameters
    ----------
    parameters : mapping or iterable of (str, Parameter) pairs, optional
    """

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, param):
        self.register_parameter(key, _check_parameter(param))

    def __delitem__(self, key):
        del self._parameters[key]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        """The names, in insertion order."""
        return self._parameters.keys()

    def values(self):
        """The parameters, in insertion order."""
        return self._parameters.values()

    def items(self):
        """(name, parameter) pairs, in insertion order."""
        return self._parameters.items()

    def update(self, parameters):
        """Add or replace entries from a mapping or an iterable of (name, parameter) pairs."""
        pairs = parameters.items() if hasattr(parameters, "items") else parameters
        for key, param in pairs:
            self[key] = param
