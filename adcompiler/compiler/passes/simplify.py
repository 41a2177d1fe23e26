"""Algebraic simplification of adjoints, where the result type is unchanged:

- x * 1 -> x, x + 0 -> x, x - 0 -> x, x / 1 -> x (also when the 1 or 0 is a
  broadcast array of them, as the adjoint of a sum makes);
- x * c and x / c with c a broadcast array of one value -> x * c with c a scalar,
  and x * broadcast(s) -> x * s for a Python float s;
- acc + scatter_add(g, idx) -> index_add(acc, g, idx), which the Python
  backend runs in place (acc[idx] += g) when acc is a fresh array nobody else
  reads. The reverse transform's seeds and indexing adjoints produce these.

Re-associating rewrites (scalar chains, hoisted factors) and `x + 0 -> x` (which
turns -0.0 + 0.0 into -0.0) leave the user's own ops alone: the forward value keeps
the rounding Python gives it.
"""
from __future__ import annotations

import numpy as np

from ... import ops
from ..ir import Op, clone, replace_uses, use_counts
from ..types import ScalarType

# name -> (unit, positions where the unit may stand)
_IDENTITY = {"mul": (1.0, (0, 1)), "add": (0.0, (0, 1)), "sub": (0.0, (1,)), "div": (1.0, (1,))}
_SAME_VALUES = frozenset(n for n, p in ops.registry.items() if p.kind == "view")  # elements of argument 0, moved
_ARITH = {"mul": lambda a, b: a * b, "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
          "div": lambda a, b: a / b}


def _constant(v, defs):
    """The single value every element of `v` has, when it is a known constant (memoised in defs)."""
    key = ("const", id(v))
    if key in defs:
        return defs[key]
    defs[key] = value = _constant_uncached(v, defs)
    return value


def _constant_uncached(v, defs):
    op = defs.get(id(v))
    while op is not None and op.name in _SAME_VALUES:  # the sum's adjoint broadcasts the seed
        op = defs.get(id(op.operands[0]))
    if op is not None and op.name in _ARITH and len(op.operands) == 2:
        a, b = (_constant(x, defs) for x in op.operands)
        return None if a is None or b is None or (op.name == "div" and b == 0) else _ARITH[op.name](a, b)
    if op is None or op.name not in ("const", "full"):
        return None
    val = op.attrs["value"]
    if isinstance(val, np.ndarray):
        return val.reshape(-1)[0].item() if val.size and np.all(val == val.reshape(-1)[0]) else None
    return val if isinstance(val, (int, float)) and not isinstance(val, bool) else None


def _blocks(block):
    stack = [block]
    while stack:
        b = stack.pop()
        yield b
        for op in b.ops:
            stack.extend(op.regions)


def simplify(fn, rounds=3):
    """Apply the rewrites until a round changes nothing (at most `rounds` rounds)."""
    from .dce import dce
    fn = clone(fn)
    for _ in range(rounds):
        if not _simplify_in_place(fn):
            break
        fn = dce(fn)  # what the rewrites left dead would still count as uses in the next round
    return fn


def _simplify_in_place(fn):
    defs = {}
    for b in _blocks(fn.body):
        for op in b.ops:
            for r in op.results:
                defs[id(r)] = op
    uses = use_counts(fn.body)
    mapping = {}
    changed = False
    for b in _blocks(fn.body):
        new_ops = []
        for op in b.ops:
            if _identity(op, defs, mapping):
                new_ops.append(op)
                changed = True
                continue
            for rewrite in (_scalar_operand(op, defs), _fold_scalar_chain(op, defs, uses)):
                if rewrite is not None:
                    new_ops.append(rewrite)  # the scalar constant the rewritten op now reads
                    changed = True
            hoisted = _hoist_factors(op, defs, uses)
            if hoisted:
                new_ops.extend(hoisted)
                changed = True
            changed |= _accumulate_into(op, defs, uses)
            new_ops.append(op)
        b.ops[:] = new_ops
    replace_uses(fn.body, mapping)
    return changed


def _identity(op, defs, mapping):
    rule = _IDENTITY.get(op.name)
    if rule is None or len(op.operands) != 2:
        return False
    unit, positions = rule
    if op.user and op.name == "add":
        return False
    for k in positions:
        other = op.operands[1 - k]
        if _constant(op.operands[k], defs) == unit and other.type == op.result.type:
            mapping[id(op.result)] = other
            return True
    return False


def _scalar_operand(op, defs):
    """x * broadcast(c) -> x * c: returns the new const op to insert before `op`."""
    if op.name not in ("mul", "div") or len(op.operands) != 2:
        return None
    for k in ((0, 1) if op.name == "mul" else (1,)):
        c_val = op.operands[k]
        if c_val.type.is_scalar or c_val.type.is_array and c_val.type.shape == ():
            continue
        c = _constant(c_val, defs)
        other = op.operands[1 - k]
        if c is None and other.type == op.result.type:
            scalar = _broadcast_scalar(c_val, defs)
            if scalar is not None:      # x * broadcast(s) -> x * s for a Python scalar s (a hidden input)
                op.operands[k] = scalar
                return None
        if c is not None and other.type == op.result.type and isinstance(c, (int, float)):
            c = float(c)
            const = Op("const", (), [ScalarType(np.float64)], {"value": c}, loc=op.loc)
            defs[id(const.result)] = const
            op.operands[k] = const.result
            return const
    return None


def _broadcast_scalar(v, defs):
    """s when `v` is a broadcast (reshape, broadcast_to ...) of a Python float s."""
    op = defs.get(id(v))
    seen = False
    while op is not None and op.name in _SAME_VALUES:
        v, seen = op.operands[0], True
        op = defs.get(id(v))
    return v if seen and isinstance(v.type, ScalarType) and v.type.dtype == np.float64 else None


def _scalar_factor(v, defs):
    """(c, y) when v = c * y (or y * c, or -y with c = -1) for a scalar constant c."""
    op = defs.get(id(v))
    if op is None:
        return None
    if op.name == "neg":
        return -1.0, op.operands[0]
    if op.name == "mul":
        for k in (0, 1):
            c = op.operands[k]
            if c.type.is_scalar and defs.get(id(c)) is not None and defs[id(c)].name == "const":
                val = defs[id(c)].attrs["value"]
                if isinstance(val, (int, float)) and not isinstance(val, bool):
                    return float(val), op.operands[1 - k]
    return None


def _fold_scalar_chain(op, defs, uses):
    """c1 * (c2 * y) -> (c1*c2) * y and -(c * y) -> (-c) * y, when the inner product has no
    other use: one pass over the array instead of two. Returns the new const op to insert."""
    outer = _scalar_factor(op.result, defs) if op.name in ("mul", "neg") and not op.user else None
    if outer is None:
        return None
    c1, inner_v = outer
    inner = _scalar_factor(inner_v, defs)
    if inner is None or uses.get(id(inner_v)) != 1 or defs[id(inner_v)].user:
        return None
    c2, y = inner
    if y.type != op.result.type:
        return None
    const = Op("const", (), [ScalarType(np.float64)], {"value": c1 * c2}, loc=op.loc)
    defs[id(const.result)] = const
    op.name, op.operands, op.attrs = "mul", [const.result, y], {}
    defs[id(op.result)] = op
    defs.pop(("const", id(op.result)), None)
    uses[id(inner_v)] = 0
    return const


def _hoist_factors(op, defs, uses):
    """(c1 * x) * (c2 * y) -> (c1*c2) * (x * y) (a factor may be a negation), when the factors
    have no other use: one pass over the arrays fewer. Returns the ops to insert before `op`."""
    if op.name != "mul" or op.user or len(op.operands) != 2 or any(v.type.is_scalar or v.type.shape == ()
                                                                      for v in op.operands):
        return None
    c, parts = 1.0, []
    for v in op.operands:
        d = defs.get(id(v))
        f = _scalar_factor(v, defs) if uses.get(id(v)) == 1 and d is not None and not d.user else None
        if f is None:
            parts.append(v)
        else:
            c *= f[0]
            parts.append(f[1])
    if parts == list(op.operands) or any(p.type != v.type for p, v in zip(parts, op.operands)):
        return None
    for v, p in zip(op.operands, parts):
        if p is not v:
            uses[id(v)] = 0
    inner = Op("mul", parts, [op.result.type], loc=op.loc)
    const = Op("const", (), [ScalarType(np.float64)], {"value": c}, loc=op.loc)
    for new in (inner, const):
        defs[id(new.result)] = new
    op.operands = [const.result, inner.result]
    defs.pop(("const", id(op.result)), None)
    return [inner, const]


def _accumulate_into(op, defs, uses):
    """acc + scatter_add(g, *dyn, idx, shape) -> index_add(acc, g, *dyn, idx) (in place)."""
    if op.name != "add":
        return False
    for k in (0, 1):
        s = defs.get(id(op.operands[k]))
        acc = op.operands[1 - k]
        if (s is not None and s.name == "scatter_add" and uses.get(id(s.result)) == 1
                and acc.type == op.result.type and s.result.type == op.result.type):
            op.name = "index_add"
            op.operands = [acc] + list(s.operands)
            op.attrs = {"idx": s.attrs["idx"]}
            uses[id(s.result)] = 0
            return True
    return False
