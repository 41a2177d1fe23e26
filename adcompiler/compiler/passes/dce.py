"""Dead-code elimination: ops whose results are never used, results of `if`
nobody reads, and loop-carried values that feed nothing but themselves (and a
`fused` op's unread results, with the arguments nothing then reads). Ops run
anyway: those acting on a tape, and the user's own scalar ops where Python may
raise (pysemantics.may_raise: `math.log(b)` of an unused result still raises)."""
from __future__ import annotations

import threading

from ..ir import EFFECTS, clone, use_counts, walk
from ..pysemantics import loop_ranges, may_raise

_ranges = threading.local()      # the loop counters' ranges of the function being cleaned


def _must_run(op):
    return op.name in EFFECTS or may_raise(op, getattr(_ranges, "value", None))


def dce(fn):
    fn = clone(fn)
    _ranges.value = loop_ranges(fn)
    try:
        _block(fn.body)
    finally:
        _ranges.value = None
    return fn


def _block(block):
    term = block.ops[-1]
    live = {id(v) for v in term.operands}
    kept = [term]
    for op in reversed(block.ops[:-1]):
        if op.regions:
            if not any(id(r) in live for r in op.results) and not _has_effects(op):
                continue  # a whole loop or branch nobody reads (its condition alone keeps nothing alive)
            _prune_region_op(op, live)
            if not op.results and not _has_effects(op):
                continue
        elif not _must_run(op) and not any(id(r) in live for r in op.results):
            continue
        kept.append(op)
        live.update(id(v) for v in op.operands)
        for r in op.regions:
            for inner in walk(r):
                live.update(id(v) for v in inner.operands)
    kept.reverse()
    block.ops[:] = kept


def _prune_region_op(op, live):
    keep = [k for k, r in enumerate(op.results) if id(r) in live]
    if op.name in ("for", "while"):
        keep = _live_carried(op, set(keep))
    n_lead = 3 if op.name == "for" else 0       # for: start, stop, step
    arg_lead = 1 if op.name == "for" else 0     # for: the induction variable
    op.results = [op.results[k] for k in keep]
    if op.name == "fused":
        body = op.regions[0]
        body.ops[-1].operands = [body.ops[-1].operands[k] for k in keep]
        _block(body)
        used = use_counts(body)
        args = [k for k, a in enumerate(body.args) if id(a) in used]
        op.operands = [op.operands[k] for k in args]
        body.args = [body.args[k] for k in args]
        return
    if op.name != "if":
        op.operands = op.operands[:n_lead] + [op.operands[n_lead + k] for k in keep]
        for r in op.regions:
            r.args = r.args[:arg_lead] + [r.args[arg_lead + k] for k in keep]
    for r in op.regions:
        term = r.ops[-1]
        if term.name == "yield":
            term.operands = [term.operands[k] for k in keep]
        _block(r)


def _has_effects(op):
    """Whether `op` or an op nested in its regions must run (a tape, a Python error)."""
    if _must_run(op):
        return True
    return any(_must_run(inner) for r in op.regions for inner in walk(r))


def _effect_operands(block):
    return [v for inner in walk(block) if _must_run(inner) for v in inner.operands]


def _live_carried(op, keep):
    """Carried indices needed: those whose result is used, and those the body
    (or the while condition) needs to compute them."""
    lead = 1 if op.name == "for" else 0
    while True:
        needed = set()
        for r in op.regions:
            term = r.ops[-1]
            roots = term.operands if term.name == "condition" else [term.operands[k] for k in keep]
            roots = list(roots) + _effect_operands(r)
            needed |= _needed(r, {id(v) for v in roots})
        grown = keep | {k for k in range(len(op.results))
                        if any(id(r.args[lead + k]) in needed for r in op.regions)}
        if grown == keep:
            return sorted(keep)
        keep = grown


def _needed(block, roots):
    """Ids of values needed in `block` to compute `roots` (conservative for nested regions)."""
    need = set(roots)
    for op in reversed(block.ops[:-1]):
        if any(id(r) in need for r in op.results) or _has_effects(op):
            need.update(id(v) for v in op.operands)
            for r in op.regions:
                for inner in walk(r):
                    need.update(id(v) for v in inner.operands)
    return need
