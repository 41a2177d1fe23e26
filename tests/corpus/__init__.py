"""The compiler's test corpus: plain Python + NumPy functions in normal modules
(so inspect.getsource works), each registered with the argument types it is
compiled for. `CASES` lists them all; the front-end tests keep golden IR for
each, and the differential tests of the grad issue can reuse them."""
from __future__ import annotations

CASES = []


class Case:
    def __init__(self, fn, types, values):
        self.fn, self.types, self.values = fn, types, values
        self.name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

    def __repr__(self):
        return self.name


def case(values=None, **types):
    """Register a corpus function: @case(x="f64[3]", n="i64"); `values` fixes
    argument values (name -> value) where random ones would not do."""
    def deco(fn):
        CASES.append(Case(fn, types, values or {}))
        return fn
    return deco


def load():
    from . import calls, control, loops, straight  # noqa: F401
    return CASES
