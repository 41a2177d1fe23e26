"""Algebraic simplification: x * 1 -> x, x + 0 -> x, x - 0 -> x, x / 1 -> x,
where the result has x's type (no broadcasting or dtype change is lost).
The reverse transform's seeds and zero-initialised adjoints produce these."""
from __future__ import annotations

import numpy as np

from ..ir import clone, replace_uses, walk

# name -> (unit, positions where the unit may stand)
_IDENTITY = {"mul": (1.0, (0, 1)), "add": (0.0, (0, 1)), "sub": (0.0, (1,)), "div": (1.0, (1,))}


_SAME_VALUES = ("broadcast_to", "reshape", "expand_dims", "squeeze", "transpose")


def _constant(v, defs):
    """The single value every element of `v` has, when it is a known constant."""
    op = defs.get(id(v))
    while op is not None and op.name in _SAME_VALUES:  # the sum's adjoint broadcasts the seed
        op = defs.get(id(op.operands[0]))
    if op is None or op.name not in ("const", "full"):
        return None
    val = op.attrs["value"]
    if isinstance(val, np.ndarray):
        return val.reshape(-1)[0].item() if val.size and np.all(val == val.reshape(-1)[0]) else None
    return val if isinstance(val, (int, float)) and not isinstance(val, bool) else None


def simplify(fn):
    fn = clone(fn)
    defs = {id(r): op for op in walk(fn.body) for r in op.results}
    mapping = {}
    for op in walk(fn.body):
        rule = _IDENTITY.get(op.name)
        if rule is None or len(op.operands) != 2:
            continue
        unit, positions = rule
        for k in positions:
            other = op.operands[1 - k]
            if _constant(op.operands[k], defs) == unit and other.type == op.result.type:
                mapping[id(op.result)] = other
                break
    replace_uses(fn.body, mapping)
    return fn
