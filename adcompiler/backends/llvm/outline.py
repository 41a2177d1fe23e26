"""Native kernels for the array regions of a function the native tier cannot lower whole.

A gradient with a matmul (BLAS through NumPy), an advanced index or a linalg call cannot become
one native kernel. `outline(fn)` finds the maximal runs of top-level ops that lower (elementwise
chains, reductions, basic indexing, loops over array elements ...), turns each run worth a call
(array work or a loop) into an IR function of its own compiled to a native kernel, and returns a
copy of `fn` in which each run is one `native_call` op: the NumPy tier's generated code then calls
the kernels between its NumPy statements ("NumPy glue"). `explain()` lists the kernels and what
stayed NumPy, and why.

A kernel's results are arrays it allocates on each call (the NativeFunction glue), so the memory
analysis sees them as fresh; a kernel that reports an error Python would raise re-runs its run of
ops on the NumPy tier, which raises it.
"""
from __future__ import annotations

import numpy as np

from ...compiler.ir import Block, Function, Op, Value, clone, free_values, replace_uses, walk
from .abi import NotLowerable

__all__ = ["MIN_ELEMENTS", "Outlined", "outline"]

MIN_ELEMENTS = 256          # a run is outlined when it has a loop or an array op at least this big
_DTYPES = frozenset({"float64", "float32", "int64", "bool"})


class Outlined:
    """The result of `outline`: the host IR (with native_call ops), the kernels and a summary."""

    def __init__(self, host, kernels, kept):
        self.host, self.kernels, self.kept = host, kernels, kept

    def summary(self):
        parts = [f"{len(self.kernels)} native kernel{'s' if len(self.kernels) != 1 else ''} for the array "
                 f"code, NumPy for the rest"]
        if self.kept:
            parts.append("kept as NumPy: " + "; ".join(self.kept[:4]) + (" ..." if len(self.kept) > 4 else ""))
        return ": ".join(parts[:1]) + ("; " + parts[1] if len(parts) > 1 else "")


def _type_ok(t):
    if t.is_tuple or t.is_tape:
        return False
    return (t.is_scalar or t.is_array) and np.dtype(t.dtype).name in _DTYPES


def _index_ok(op):
    idx = op.attrs.get("idx")
    parts = idx if isinstance(idx, tuple) else (idx,)
    return not any(isinstance(p, (np.ndarray, list)) for p in parts)


def lowerable(op, consts=None):
    """Whether `op` (and everything nested in it) has a native lowering: a cheap test on names and
    types; compiling the run is the final word."""
    name = op.name
    consts = {} if consts is None else consts
    if name in ("const", "full"):
        return _type_ok(op.result.type)
    if name in ("yield", "condition", "tape_new", "tape_push", "tape_pop", "tape_len"):
        return True
    if name in ("if", "for", "while"):
        return all(lowerable(o, consts) for r in op.regions for o in r.ops) and all(_type_ok(r.type) for r in op.results)
    if name in ("tuple", "untuple", "return") or not op.is_prim:
        return False
    if not all(_type_ok(v.type) for v in list(op.operands) + list(op.results)):
        return False
    prim = op.prim
    if prim.kind == "elementwise":
        if prim.scalar is None:
            return False
        from .arrays import LIBM_ELEMENTS
        from .math import per_element_call
        size = int(np.prod(op.result.type.shape, dtype=np.int64))
        return size < LIBM_ELEMENTS or not per_element_call(op, consts)
    if prim.kind == "index":
        return _index_ok(op)
    # what arrays.py lowers: views, and reductions that fold with a primitive (or undo broadcasting)
    return prim.kind == "view" or prim.monoid is not None or name == "sum_to"


def _worth_a_kernel(ops):
    for op in ops:
        for o in [op, *walk_nested(op)]:
            if o.name in ("for", "while"):
                return True
            if o.is_prim and any((v.type.is_array and int(np.prod(v.type.shape)) >= MIN_ELEMENTS)
                                 for v in list(o.operands) + list(o.results)):
                return True
    return False


def walk_nested(op):
    for r in op.regions:
        yield from walk(r)


def _free_and_defined(ops):
    """(values the ops read that are defined elsewhere, in first-use order; values they define at top level)."""
    run = Block()
    run.ops = list(ops)
    return free_values(run), [r for op in ops for r in op.results]


def _copy_ops(ops, vmap):
    out = []
    for op in ops:
        o = Op.__new__(Op)
        o.name, o.attrs, o.loc, o.user, o.replay = op.name, dict(op.attrs), op.loc, op.user, op.replay
        o.operands = [vmap.get(id(v), v) for v in op.operands]
        o.regions = []
        for r in op.regions:
            blk = Block()
            blk.args = []
            for a in r.args:
                na = Value(a.type, a.hint)
                vmap[id(a)] = na
                blk.args.append(na)
            blk.ops = _copy_ops(r.ops, vmap)
            o.regions.append(blk)
        o.results = []
        for res in op.results:
            nr = Value(res.type, res.hint)
            vmap[id(res)] = nr
            o.results.append(nr)
        out.append(o)
    return out


def _kernel_function(name, ops, inputs, outputs, loc):
    vmap = {}
    params = []
    for v in inputs:
        p = Value(v.type, v.hint)
        vmap[id(v)] = p
        params.append(p)
    body = Block()
    body.ops = _copy_ops(ops, vmap)
    outs = [vmap[id(v)] for v in outputs]
    if len(outs) == 1:
        ret = Op("return", [outs[0]], loc=loc)
    else:
        from ...compiler.types import TupleType
        tup = Op("tuple", outs, [TupleType(v.type for v in outs)], loc=loc)
        body.ops.append(tup)
        ret = Op("return", [tup.result], loc=loc)
    body.ops.append(ret)
    return Function(name, params, body, loc)


def _is_view(op):
    return op.is_prim and (op.prim.kind == "view" or (op.name == "getitem" and op.prim.may_alias))


def _view_breakers(all_ops, consts):
    """Views (x.T, x[1:], reshape ...) read by NumPy code: NumPy makes them for free, while a kernel
    would return a copy, so they stay NumPy."""
    users = {}
    for op in all_ops:
        for o in [op, *walk_nested(op)]:
            for v in o.operands:
                users.setdefault(id(v), []).append(op)
    return {id(op) for op in all_ops if _is_view(op) and any(
        not lowerable(u, consts) for u in users.get(id(op.result), ()))}


def _runs(ops, consts, breakers=frozenset()):
    """Maximal runs of lowerable ops among `ops` (the top level, without its return)."""
    runs, cur = [], []
    for op in ops:
        if lowerable(op, consts) and id(op) not in breakers:
            cur.append(op)
        else:
            if cur:
                runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def outline(fn, compile_kernel):
    """An Outlined for IR function `fn` (not changed), or NotLowerable when no run of it is worth a
    kernel. `compile_kernel(ir_fn)` compiles one run (raising NotLowerable)."""
    host = clone(fn)
    body_ops = host.body.ops[:-1]
    uses_after = {}
    order = {id(op): k for k, op in enumerate(body_ops)}
    for k, op in enumerate(host.body.ops):
        for o in [op, *walk_nested(op)]:
            for v in o.operands:
                uses_after.setdefault(id(v), []).append(k)
    kernels, kept = [], []
    replacements = []
    consts = {id(o.result): o.attrs["value"] for o in walk(host.body) if o.name == "const"}
    for run in _runs(body_ops, consts, _view_breakers(host.body.ops, consts)):
        if not _worth_a_kernel(run):
            continue
        inputs, top = _free_and_defined(run)
        last = order[id(run[-1])]
        outputs = [v for v in top if any(k > last for k in uses_after.get(id(v), ()))]
        if not outputs or not all(_type_ok(v.type) for v in inputs + outputs):
            continue
        kfn = _kernel_function(f"{fn.name}_k{len(kernels)}", run, inputs, outputs, run[0].loc)
        try:
            kernel = compile_kernel(kfn)
        except NotLowerable as e:
            kept.append(f"a run of {len(run)} ops at line {run[0].loc[1] if run[0].loc else '?'} ({e.reason})")
            continue
        call = Op("native_call", inputs, [v.type for v in outputs], {"kernel": kernel, "tuple": len(outputs) > 1},
                  loc=run[0].loc, hints=[v.hint for v in outputs])
        for old, new in zip(outputs, call.results):
            new.hint = old.hint
        replacements.append((run, call, outputs))
        kernels.append(kernel)
    if not kernels:
        raise NotLowerable("no part of the function is worth a native kernel")
    mapping = {}
    drop = set()
    first = {}
    for run, call, outputs in replacements:
        drop.update(id(op) for op in run)
        first[id(run[0])] = call
        for old, new in zip(outputs, call.results):
            mapping[id(old)] = new
    new_ops = []
    for op in host.body.ops:
        if id(op) in first:
            new_ops.append(first[id(op)])
        if id(op) not in drop:
            new_ops.append(op)
    host.body.ops = new_ops
    replace_uses(host.body, mapping)
    for op in _not_lowered(body_ops, drop, consts):
        kept.append(f"{op.name} at line {op.loc[1] if op.loc else '?'}")
    return Outlined(host, kernels, kept)


def _not_lowered(ops, dropped, consts):
    return [op for op in ops if id(op) not in dropped and op.is_prim and not lowerable(op, consts)]
