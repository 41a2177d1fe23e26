"""Constant folding: a primitive whose operands are all constants is evaluated
with the table's NumPy forward and becomes a constant (results up to
`MAX_ELEMENTS`); an `if` on a constant condition is replaced by its taken
branch; `untuple` of a `tuple` forwards the parts; a `for` that runs zero
times yields its initial values."""
from __future__ import annotations

import numpy as np

from ..builder import const_value, fold
from ..ir import clone, replace_uses

MAX_ELEMENTS = 1000


def constant_fold(fn):
    fn = clone(fn)
    mapping = {}
    _block(fn.body, {}, {}, mapping)
    replace_uses(fn.body, mapping)
    return fn


def _block(block, consts, tuples, mapping):
    out = []
    for op in block.ops:
        op.operands = [mapping.get(id(v), v) for v in op.operands]
        name = op.name
        if name == "const":
            consts[id(op.result)] = op.attrs["value"]
        elif name == "tuple":
            tuples[id(op.result)] = op.operands
        elif name == "untuple" and id(op.operands[0]) in tuples:
            for r, v in zip(op.results, tuples[id(op.operands[0])]):
                mapping[id(r)] = v
            continue
        elif name == "if" and id(op.operands[0]) in consts:
            region = op.regions[0 if consts[id(op.operands[0])] else 1]
            _block(region, consts, tuples, mapping)
            out.extend(region.ops[:-1])
            for r, v in zip(op.results, region.ops[-1].operands):
                mapping[id(r)] = mapping.get(id(v), v)
            continue
        elif name == "for" and all(id(v) in consts for v in op.operands[:3]) and \
                len(range(*(int(consts[id(v)]) for v in op.operands[:3]))) == 0:
            for r, v in zip(op.results, op.operands[3:]):
                mapping[id(r)] = v
            continue
        elif op.is_prim and op.results and all(id(v) in consts for v in op.operands):
            _try_fold(op, consts)
        for r in op.regions:
            _block(r, dict(consts), tuples, mapping)
        out.append(op)
    block.ops[:] = out


def _try_fold(op, consts):
    t = op.result.type
    if not (t.is_scalar or t.is_array) or (t.is_array and t.size > MAX_ELEMENTS):
        return
    try:
        raw = fold(op.name, [consts[id(v)] for v in op.operands], op.attrs)
    except Exception:
        return     # leave it to run time (and to raise there)
    value = const_value(t, raw)
    if np.shape(value) != t.shape:
        return
    op.name, op.operands, op.attrs = "const", [], {"value": value}
    consts[id(op.result)] = value
