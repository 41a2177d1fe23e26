"""Where the user's own code on Python scalars means Python's semantics, not NumPy's.

A primitive the user wrote on Python floats and ints computes what Python computes: `x / 0.0`
raises ZeroDivisionError, `math.log(0.0)` ValueError, `math.exp(1000.0)` OverflowError,
`int(nan)` ValueError, `int(1e300)` is a big int — where NumPy gives inf, nan or a wrapped int64.
The backends emit or check these errors from here; passes keep such an op even when its result is
unused, because Python runs it (a `math.log(b)` nobody reads still raises for b = -1).
"""
from __future__ import annotations

import numpy as np

from .. import ops

__all__ = ["math_name", "MATH_PRIMS", "INFIX_RAISING", "on_python_scalars", "may_raise", "python_scalar"]

# primitives Python spells as an operator that raises where NumPy does not (/, //, %, **)
INFIX_RAISING = frozenset({"div", "floor_divide", "remainder", "pow"})


def math_name(prim):
    """The name of `prim` in Python's math module (on Python scalars), or None (the table says)."""
    return prim.math_name


MATH_PRIMS = frozenset(n for n, p in ops.registry.items() if math_name(p))


def on_python_scalars(op):
    """The user's own op (not a recomputation) on Python scalars, giving Python scalars."""
    return (op.user and not op.replay and bool(op.results) and all(v.type.is_scalar for v in op.operands)
            and all(r.type.is_scalar for r in op.results))


def may_raise(op):
    """Whether Python may raise running `op`."""
    if not on_python_scalars(op):
        return False
    if op.name in INFIX_RAISING or op.name in MATH_PRIMS:
        return True
    return op.name == "astype" and op.result.type.dtype.kind in "iu" and op.operands[0].type.dtype.kind == "f"


def python_scalar(x):
    """A NumPy scalar (or 0-d array) as the Python scalar it stands for: np.sign(1.5) is a strong
    np.float64, which would promote float32 values it meets, and math.* widens a float32 to the double
    it is. Anything else (a traced Tensor) as it is. Generated code calls it where NumPy computes an op
    on Python scalars."""
    if isinstance(x, np.generic) or isinstance(x, np.ndarray) and x.ndim == 0:
        return x.item()
    return x
