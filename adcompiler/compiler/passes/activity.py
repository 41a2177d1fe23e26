"""Activity analysis: a value is active when it depends differentiably on a
`wrt` parameter (varied) AND the returned value depends differentiably on it
(useful). Only active values get adjoints in the reverse transform.

Dependencies are edges value -> value: primitive operand -> result (for
differentiable primitives, operands with a VJP rule, float results); tuple
parts <-> tuple; the values flowing into if results and loop-carried values
(condition values never carry derivatives); what a tape_push pushes to what the
tape's pops give (an adjoint's tapes, for forward-over-reverse), and to a list's stack. Varied is forward reachability
from `wrt`, useful is backward reachability from the return value.
"""
from __future__ import annotations

from ..ir import clone, walk
from ..types import is_float


def activity(fn, wrt):
    """A copy of `fn` with `.active` set on every value and `fn.wrt` the active
    parameters. `wrt`: parameter names, positions or Values (or one of them)."""
    fn = clone(fn)
    params = _params(fn, wrt)
    active = active_values(fn, params)
    for v in fn.params:
        v.active = id(v) in active
    for op in walk(fn.body):
        for v in op.results:
            v.active = id(v) in active
        for r in op.regions:
            for a in r.args:
                a.active = id(a) in active
    fn.wrt = params
    return fn


def _params(fn, wrt):
    if not isinstance(wrt, (list, tuple)):
        wrt = [wrt]
    out = []
    for w in wrt:
        if isinstance(w, int):
            out.append(fn.params[w])
        elif isinstance(w, str):
            match = [p for p in fn.params if p.hint == w]
            if not match:
                raise KeyError(f"'{fn.name}' has no parameter named {w!r}")
            out.append(match[0])
        else:
            out.append(w)
    return out


def active_values(fn, wrt_params):
    """Ids of the active values of `fn` for the given parameter Values."""
    fwd, bwd = {}, {}

    def edge(a, b):
        if _carries(a) and _carries(b):
            fwd.setdefault(id(a), []).append(b)
            bwd.setdefault(id(b), []).append(a)

    pops = {}
    for op in walk(fn.body):
        _edges(op, edge)
        if op.name in ("tape_pop", "tape_stack"):
            pops.setdefault(id(op.operands[0]), []).append(op)
    for op in walk(fn.body):        # what a tape's push takes, its pops (a list's stacks) give back
        if op.name == "tape_push":
            for pop in pops.get(id(op.operands[0]), ()):
                if pop.name == "tape_stack":
                    edge(op.operands[1 + pop.attrs.get("field", 0)], pop.result)
                    continue
                for v, r in zip(op.operands[1:], pop.results):
                    edge(v, r)
    varied = _reach([p for p in wrt_params if _carries(p)], fwd)
    ret = fn.return_op.operands[0]
    useful = _reach([ret] if _carries(ret) else [], bwd)
    return varied & useful


def _carries(v):
    t = v.type
    return is_float(t) or (t.is_tuple and any(_carries_type(e) for e in t.elems))


def _carries_type(t):
    return is_float(t) or (t.is_tuple and any(_carries_type(e) for e in t.elems))


def _edges(op, edge):
    name = op.name
    if op.is_prim:
        prim = op.prim
        if not prim.differentiable:
            return
        for i, v in enumerate(op.operands):
            if prim.vjp_rule(i) is not None:
                edge(v, op.result)
    elif name == "tuple":
        for v in op.operands:
            edge(v, op.result)
    elif name == "untuple":
        for r in op.results:
            edge(op.operands[0], r)
    elif name == "if":
        for region in op.regions:
            for v, r in zip(region.ops[-1].operands, op.results):
                edge(v, r)
    elif name == "for":
        body = op.regions[0]
        for init, arg, y, r in zip(op.operands[3:], body.args[1:], body.ops[-1].operands, op.results):
            edge(init, arg), edge(y, arg), edge(init, r), edge(y, r)
    elif name == "while":
        cond, body = op.regions
        for k, (init, r) in enumerate(zip(op.operands, op.results)):
            carg, barg, y = cond.args[k], body.args[k], body.ops[-1].operands[k]
            edge(init, carg), edge(y, carg), edge(carg, barg), edge(carg, r)


def _reach(starts, graph):
    seen = {id(v) for v in starts}
    stack = list(starts)
    while stack:
        v = stack.pop()
        for w in graph.get(id(v), ()):
            if id(w) not in seen:
                seen.add(id(w))
                stack.append(w)
    return seen
