"""Fusion (IR -> IR): the runs of top-level ops one native kernel can compute become `fused` ops.

A run is a maximal sequence of consecutive top-level ops that are all fusible: elementwise
primitives with a scalar definition (broadcasting included), reductions that fold with a
primitive (the table's `monoid`) and `sum_to`, views, basic indexing with static indices,
constants, tapes, and `for` / `while` / `if` whose bodies hold only such ops — on float64,
float32, int64 and bool values. What is fusible comes from the primitive table (kind, scalar
definition, monoid, may_alias, static attributes), never from a backend; a backend narrows it with
`accept(op)` (the llvm backend leaves large libm-bound ops to NumPy).

A run becomes one `fused` op when it is worth a kernel call (a loop, or an array of at least
`MIN_ELEMENTS` elements) and defines something used after it:

    %a, %b = fused @f_k0(%x.1 = %x, %y.1 = %y) : f64[512], f64 {
      ... the run's ops, reading only the block arguments ...
      yield %a.1, %b.1
    }

its operands are the values the run reads from outside (in first-use order), its results the
values the run defines that later ops read. A view read by an op left outside kernels stays
outside too: NumPy makes it for free, a kernel would return a copy.
"""
from __future__ import annotations

import numpy as np

from ...ops.dims import Dim, has_dims, hints
from ..ir import Block, Op, Value, clone, free_values, replace_uses, walk

__all__ = ["MIN_ELEMENTS", "DTYPES", "fuse", "fusible", "size"]

MIN_ELEMENTS = 256          # a run is fused when it has a loop or an array operand/result at least this big
DTYPES = frozenset({"float64", "float32", "int64", "bool"})
_ANYWHERE = frozenset({"yield", "condition", "tape_new", "tape_push", "tape_pop", "tape_len"})


def fuse(fn, accept=None, min_elements=MIN_ELEMENTS):
    """A copy of IR function `fn` (not changed) in which each run of fusible top-level ops worth a
    kernel is one `fused` op named `<fn>_k0`, `<fn>_k1` ... in order. `accept(op) -> bool`, asked
    about each op the table allows (nested ones too), leaves the ops it refuses out of kernels."""
    ops = fn.body.ops
    fits = {id(op): fusible(op, accept) for op in ops}
    runs = [(start, stop) for start, stop in _runs(ops[:-1], fits, _view_breakers(ops, fits, _top_level_uses(ops)))
            if _worth_a_kernel(ops[start:stop], min_elements)]
    out = clone(fn)               # the same ops at the same positions: the runs are fused in the copy
    _fuse_runs(out, runs)
    return out


def fusible(op, accept=None):
    """Whether `op` and every op nested in it may be part of a kernel (and `accept` takes them)."""
    if not _table_allows(op) or (accept is not None and not accept(op)):
        return False
    return all(fusible(o, accept) for r in op.regions for o in r.ops)


def _table_allows(op):
    """The test for `op` itself (its nested ops are tested on their own)."""
    name = op.name
    if "list" in op.attrs:      # a Python list of unknown length (compiler/lists.py) stays with the host
        return False
    if name in ("const", "full"):
        return _type_ok(op.result.type) and not isinstance(op.attrs.get("value"), Dim)
    if name in _ANYWHERE:
        return True
    if name in ("if", "for", "while"):
        return all(_type_ok(r.type) for r in op.results)
    if not op.is_prim:          # tuple, untuple, return, native_call, fused
        return False
    if not all(_type_ok(v.type) for v in list(op.operands) + list(op.results)):
        return False
    prim = op.prim
    if prim.kind == "elementwise":
        return prim.scalar is not None
    if prim.kind == "index":
        return _static_index(op)
    # sum_to folds with add over the broadcast axes; the table gives it no monoid (nothing to fold when
    # there is nothing to sum)
    return prim.kind == "view" or prim.monoid is not None or name == "sum_to"


def _type_ok(t):
    if t.is_tuple or t.is_tape or (t.is_array and has_dims(t.shape)):   # a kernel is compiled per shape
        return False
    return (t.is_scalar or t.is_array) and np.dtype(t.dtype).name in DTYPES


def _static_index(op):
    idx = op.attrs.get("idx")
    parts = idx if isinstance(idx, tuple) else (idx,)
    return not any(isinstance(p, (np.ndarray, list)) for p in parts)


def _nested(op):
    return [o for r in op.regions for o in walk(r)]


def _top_level_uses(ops):
    """id(value) -> the positions of the top-level ops that read it (themselves or nested)."""
    uses = {}
    for k, op in enumerate(ops):
        for o in [op, *_nested(op)]:
            for v in o.operands:
                uses.setdefault(id(v), []).append(k)
    return uses


def _is_view(op):
    return op.is_prim and (op.prim.kind == "view" or (op.name == "getitem" and op.prim.may_alias))


def _view_breakers(ops, fits, uses):
    """Positions of the views (x.T, x[1:], reshape ...) that an op outside kernels reads."""
    return {k for k, op in enumerate(ops)
            if _is_view(op) and any(not fits[id(ops[u])] for u in uses.get(id(op.result), ()))}


def _runs(ops, fits, breakers):
    """(start, stop) of the maximal runs of fusible ops among `ops`."""
    runs, start = [], None
    for k, op in enumerate(ops):
        if fits[id(op)] and k not in breakers:
            start = k if start is None else start
        elif start is not None:
            runs.append((start, k))
            start = None
    if start is not None:
        runs.append((start, len(ops)))
    return runs


def _worth_a_kernel(run, min_elements):
    for op in run:
        for o in [op, *_nested(op)]:
            if o.name in ("for", "while"):
                return True
            if o.is_prim and any(v.type.is_array and size(v.type) >= min_elements
                                 for v in list(o.operands) + list(o.results)):
                return True
    return False


def size(t):
    """Elements of a value of type `t`; a symbolic extent counts with its current value (a guess that
    changes no number, so it records no guard on the extent)."""
    return int(np.prod(hints(t.shape), dtype=np.int64))


def _block_of(ops):
    block = Block()
    block.ops = list(ops)
    return block


def _fuse_runs(fn, runs):
    """Replace each run (start, stop) of `fn`'s top level that defines something used after it, and
    whose inputs and outputs a kernel can take, by a `fused` op (in place)."""
    ops = fn.body.ops
    uses = _top_level_uses(ops)
    body, at, outer, n = [], 0, {}, 0
    for start, stop in runs:
        run = ops[start:stop]
        inputs = free_values(_block_of(run))
        outputs = [r for op in run for r in op.results if any(k >= stop for k in uses.get(id(r), ()))]
        if not outputs or not all(_type_ok(v.type) for v in inputs + outputs):
            continue
        fused = _fused_op(f"{fn.name}_k{n}", run, inputs, outputs)
        outer.update((id(old), new) for old, new in zip(outputs, fused.results))
        body += ops[at:start] + [fused]
        at, n = stop, n + 1
    body += ops[at:]
    for op in body:            # the values the runs define are read from the fused ops' results
        for o in [op] if op.name == "fused" else [op, *_nested(op)]:
            o.operands = [outer.get(id(v), v) for v in o.operands]
    fn.body.ops = body


def _fused_op(name, run, inputs, outputs):
    region = Block()
    region.args = [_like(v) for v in inputs]
    region.ops = list(run) + [Op("yield", outputs, loc=run[-1].loc)]
    replace_uses(region, {id(v): a for v, a in zip(inputs, region.args)})
    op = Op("fused", inputs, [v.type for v in outputs], {"name": name}, [region], loc=run[0].loc,
            hints=[v.hint for v in outputs])
    for old, new in zip(outputs, op.results):
        new.active = old.active
    return op


def _like(v):
    n = Value(v.type, v.hint)
    n.active = v.active
    return n
