"""Common-subexpression elimination: an op equal to an earlier visible one
(same name, operands, attributes and types) is replaced by it. Values of an
outer block are visible in nested regions, so each region starts from a copy
of its parent's table (a `fused` region, which sees only its arguments, an
empty one). Fresh arrays (`full` of a shape) are never merged: a
backend may write into each."""
from __future__ import annotations

import numpy as np

from ..ir import EFFECTS, clone, replace_uses
from ...ops import Dyn


def cse(fn):
    fn = clone(fn)
    mapping = {}
    _block(fn.body, {}, mapping)
    return fn


def _block(block, table, mapping):
    kept = []
    for op in block.ops:
        op.operands = [mapping.get(id(v), v) for v in op.operands]
        if op.regions:
            for r in op.regions:   # a fused region reads only its arguments: nothing outside is visible
                _block(r, {} if op.name == "fused" else dict(table), mapping)
        elif op.results and op.name not in EFFECTS and not op.attrs.get("live") and not _allocation(op):
            key = (op.name, tuple(id(v) for v in op.operands), freeze(op.attrs), tuple(r.type for r in op.results))
            prev = table.get(key)
            if prev is not None:
                for old, new in zip(op.results, prev.results):
                    mapping[id(old)] = new
                continue
            table[key] = op
        kept.append(op)
    block.ops[:] = kept


def _allocation(op):
    """A fresh array (np.zeros ...): two of them stay two, so a backend may write into each."""
    return op.name == "full" and op.results[0].type.is_array and bool(op.results[0].type.shape)


def freeze(x):
    """A hashable key for an attribute value (arrays by content, 1 != 1.0 != True)."""
    if isinstance(x, dict):
        return tuple(sorted((k, freeze(v)) for k, v in x.items()))
    if isinstance(x, (tuple, list)):
        return (type(x).__name__,) + tuple(freeze(v) for v in x)
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, slice):
        return ("slice", freeze(x.start), freeze(x.stop), freeze(x.step))
    if isinstance(x, float):
        return ("float", repr(x))
    if isinstance(x, (Dyn, np.dtype)):
        return (type(x).__name__, str(x))
    return (type(x).__name__, x)


__all__ = ["cse", "freeze", "replace_uses"]
