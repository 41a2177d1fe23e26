"""What crosses the boundary between Python and a native kernel, and the native tier's refusal —
without importing llvmlite (a kernel loaded from the cache as a shared library never needs it).

A kernel is `int32 kernel(char *args, char *results)`: the arguments packed into one buffer of
8-byte slots, the results written into another; a nonzero status means "Python would raise here"
(the call then re-runs on the NumPy tier).
"""
from __future__ import annotations

import os

__all__ = ["NotLowerable", "Slot"]


class NotLowerable(Exception):
    """The IR has something the native tier does not lower; `reason` and `loc` say what and where."""

    def __init__(self, reason, loc=None):
        super().__init__(reason if loc is None else f"{reason} ({_where(loc)})")
        self.reason, self.loc = reason, loc


def _where(loc):
    return f"{os.path.basename(loc[0]) if loc[0] else '?'}:{loc[1]}"


class Slot:
    """How one argument or result crosses the boundary: 'd' (a double) or 'q' (an int64),
    and the Python type to give a result back as."""
    __slots__ = ("code", "kind")

    def __init__(self, code, kind):
        self.code, self.kind = code, kind   # kind: "float", "int", "bool", "f64", "f32", ...
