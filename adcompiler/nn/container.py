"""Containers: `Sequential` (modules applied in order) and `ModuleList`."""
from __future__ import annotations

import collections

from .module import Module

__all__ = ["Sequential", "ModuleList"]


class _Indexed(Module):
    """Children named "0", "1", ...: len, iteration, indexing, slicing, append."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.values())
        if isinstance(idx, slice):
            return type(self)(*items[idx]) if type(self) is Sequential else type(self)(items[idx])
        if not -len(items) <= idx < len(items):
            raise IndexError(f"index {idx} is out of range")
        return items[idx]

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


class Sequential(_Indexed):
    """Apply the given modules in order; built from modules or from one OrderedDict of name -> module."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], collections.OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(_Indexed):
    """A list of modules whose parameters belong to the owner (indexable, iterable)."""

    def __init__(self, modules=None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self
