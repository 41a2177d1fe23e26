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

__all__ = ["math_name", "MATH_PRIMS", "INFIX_RAISING", "on_python_scalars", "may_raise", "loop_ranges",
           "python_scalar"]

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


def may_raise(op, ranges=None):
    """Whether Python may raise running `op`. `ranges`: id(value) -> the range() of values a `for`
    loop's counter takes (loop_ranges), so an index it reads need not be checked."""
    if op.user and not op.replay and op.is_prim and _array_op_may_raise(op, ranges or {}):
        return True
    if not on_python_scalars(op):
        return False
    if op.name in INFIX_RAISING or op.name in MATH_PRIMS:
        return True
    return op.name == "astype" and op.result.type.dtype.kind in "iu" and op.operands[0].type.dtype.kind == "f"


def loop_ranges(fn):
    """id(counter) -> range for every `for` loop of IR function `fn` with constant bounds."""
    from .ir import walk
    consts = {id(o.result): o.attrs["value"] for o in walk(fn.body) if o.name == "const"}
    out = {}
    for o in walk(fn.body):
        if o.name == "for":
            bounds = [consts.get(id(v)) for v in o.operands[:3]]
            if all(type(b) is int for b in bounds) and bounds[2]:
                out[id(o.regions[0].args[0])] = range(*bounds)
    return out


def _index_in_range(op, ranges):
    """Whether every run-time index of getitem `op` is a loop counter known to stay in range."""
    idx = op.attrs.get("idx")
    parts = idx if isinstance(idx, tuple) else (idx,)
    if any(p is Ellipsis for p in parts):
        return False
    shape = op.operands[0].type.shape
    axis = 0
    for p in parts:
        if isinstance(p, ops.Dyn):
            r = ranges.get(id(op.operands[1 + p.k]))
            n = shape[axis] if axis < len(shape) else None
            if r is None or not isinstance(n, int) or (len(r) and not (-n <= min(r) and max(r) < n)):
                return False
        if p is not None:
            axis += 1
    return True


def _array_op_may_raise(op, ranges):
    """The user's NumPy op that raises for values it may meet: an index read at run time
    (IndexError) not known to stay in range, or an op NumPy refuses on the empty array it is
    given (np.max of no rows)."""
    if op.name == "getitem":
        idx = op.attrs.get("idx")
        if any(isinstance(p, ops.Dyn) for p in (idx if isinstance(idx, tuple) else (idx,))) and \
                not _index_in_range(op, ranges):
            return True
    shapes = [v.type.shape for v in op.operands if v.type.is_array]
    if not any(isinstance(d, int) and d == 0 for s in shapes for d in s):
        return False
    dummies = [np.zeros(v.type.shape, v.type.dtype) if v.type.is_array else
               v.type.dtype.type(0).item() for v in op.operands]
    try:
        with np.errstate(all="ignore"):
            op.prim.impl(*dummies, **op.attrs)
    except Exception:
        return True
    return False


def python_scalar(x):
    """A NumPy scalar (or 0-d array) as the Python scalar it stands for: np.sign(1.5) is a strong
    np.float64, which would promote float32 values it meets, and math.* widens a float32 to the double
    it is. Anything else (a traced Tensor) as it is. Generated code calls it where NumPy computes an op
    on Python scalars."""
    if isinstance(x, np.generic) or isinstance(x, np.ndarray) and x.ndim == 0:
        return x.item()
    return x
