"""Constant folding: a primitive whose operands are all constants is evaluated
with the table's NumPy forward and becomes a constant (results up to
`MAX_ELEMENTS`); an `if` on a constant condition is replaced by its taken
branch; `untuple` of a `tuple` forwards the parts; a `for` that runs zero
times yields its initial values."""
from __future__ import annotations

import numpy as np

from ...ops.dims import Dim, has_dims
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
            if not op.attrs.get("live") and not isinstance(op.attrs["value"], Dim):
                consts[id(op.result)] = op.attrs["value"]   # (a global array is read when the code runs,
                                                            # an extent of a shape-generic one too)
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
        elif name == "if" and _is_bool_select(op):
            # if %c {yield true} else {yield false} -> %c (or logical_not %c)
            if _yields(op.regions[0]):
                mapping[id(op.result)] = op.operands[0]
                continue
            op.name, op.regions, op.attrs = "logical_not", [], {}
            out.append(op)
            continue
        elif op.is_prim and op.results and all(id(v) in consts for v in op.operands):
            _try_fold(op, consts)
        for r in op.regions:
            _block(r, dict(consts), tuples, mapping)
        out.append(op)
    block.ops[:] = out


def _yields(region):
    """The constant a branch of a boolean select yields."""
    return bool(region.ops[0].attrs["value"])


def _is_bool_select(op):
    if len(op.results) != 1 or op.result.type != op.operands[0].type:
        return False
    if op.result.type.dtype != np.bool_:
        return False
    vals = []
    for r in op.regions:
        if len(r.ops) != 2 or r.ops[0].name != "const" or r.ops[-1].operands[0] is not r.ops[0].result:
            return False
        vals.append(bool(r.ops[0].attrs["value"]))
    return vals[0] != vals[1]


def _try_fold(op, consts):
    t = op.result.type
    if not (t.is_scalar or t.is_array) or (t.is_array and (has_dims(t.shape) or t.size > MAX_ELEMENTS)):
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
