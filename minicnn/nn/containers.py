"""Containers: Sequential (run modules in order) and ModuleList (register a list of modules).

Both name their entries ``"0"``, ``"1"``, ... so a state dict reads ``"0.weight"`` as PyTorch's.

>>> import minicnn.nn as nn
>>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
>>> len(model), model[0]
(2, Linear(in_features=4, out_features=3, bias=True))
"""
import collections

from minicnn._checks import check_int
from minicnn.nn.module import Module

__all__ = ["Sequential", "ModuleList"]


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
