"""Forward-mode transform on the structured IR.

`forward(fn, wrt)` returns a new IR function taking `fn`'s parameters and, after
them, one tangent per `wrt` parameter (named `x_dot`), and returning
`(value, value_dot)`: the value and its directional derivative J·(x_dot, ...).

Every active value (depending on a wrt parameter and reaching the result) gets a
tangent, computed right after the value by the table's JVP rules (`ops.jvp`)
called with IR values — no derivative formula lives here. No tape is needed:
tangents travel alongside their values, so an `if` gets extra results, a loop
extra carried values. Applied to an adjoint (reverse.py's output), the tapes
it pushes and pops carry the pushed values' tangents too: that is
forward-over-reverse, how `hessian` and `hvp` are compiled through loops.

A value's tangent has the value's own type (a weak `f64` scalar's tangent is a
weak `f64`), converted with `astype`/`broadcast_to` where a rule computes it in
another, so region boundaries and tapes are exactly typed as `verify` demands.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .builder import Builder
from .frontend import Frontend
from .ir import Block, Function, Op, Value, walk
from .passes.activity import active_values
from .types import is_float

__all__ = ["forward", "tangent_name"]


def tangent_name(hint):
    return f"{hint}_dot" if hint else None


class _Forward:
    def __init__(self, fn, wrt):
        self.fn = fn
        self.wrt = list(wrt)
        self.varied = active_values(fn, [fn.params[i] for i in self.wrt])
        self.scalars = {id(op.result): op.attrs["value"] for op in walk(fn.body)
                        if op.name == "const" and type(op.attrs["value"]) in (int, float)}
        self.b = Builder(loc=fn.loc)
        self.env = {}      # id(old value) -> new value
        self.tan = {}      # id(old value) -> its tangent: a Value, a list (parts of a tuple) or None (zero)
        self.tapes = self._tape_slots()
        self.defs = {id(r): op for op in walk(fn.body) for r in op.results}

    def active(self, v):
        return id(v) in self.varied

    convert = Frontend.convert

    # -- tangents ------------------------------------------------------------------
    def new(self, v):
        return self.env.get(id(v), v)

    def tangent_of(self, v):
        return self.tan.get(id(v)) if self.active(v) else None

    def as_type(self, t, type_):
        """Tangent `t` (a Value, a list of parts, or None for zero) as a value of `type_`."""
        if type_.is_tuple:
            if isinstance(t, list):
                return self.b.tuple([self.as_type(p, e) for p, e in zip(t, type_.elems)])
            if t is None:
                return self.b.tuple([self.as_type(None, e) for e in type_.elems])
        if t is None or not is_float(type_):
            return self.b.zeros(type_)
        t = self.b.value(t)
        if t.type == type_:
            return t
        if type_.is_scalar and t.type.is_array and t.type.shape == ():
            # the tangent of a Python scalar computed as a 0-d array (the rule of `float(x[i])`'s cast, or of
            # math.cos(x[i])): cast it as the front end casts float(x) -- an astype retyped as a Python scalar
            # (Frontend.convert would keep the 0-d array, and verify refuses it where the scalar is carried)
            c = self.b.prim("astype", t, dtype=type_.dtype)
            c.type = type_
            self.b.block.ops[-1].user = True     # the backends' float(x) (a Python float at run time)
            return c
        return self.convert(t, type_)

    def set_tangent(self, old, t):
        if t is not None and self.active(old):
            if isinstance(t, Value) and t.hint is None:
                t.hint = tangent_name(old.hint)
            self.tan[id(old)] = t

    # -- ops ---------------------------------------------------------------------------
    def emit_block(self, block):
        """The ops of `block` (without its terminator) with their tangents, into the current block."""
        for op in block.ops:
            if op.name in ("yield", "condition", "return"):
                continue
            with self.b.located(op.loc):
                handler = getattr(self, "emit_" + op.name, None)
                if handler is not None:
                    handler(op)
                elif op.is_prim:
                    self.emit_prim(op)
                else:
                    self.clone(op)

    def clone(self, op, extra_results=(), regions=()):
        new = Op(op.name, [self.new(v) for v in op.operands], [r.type for r in op.results] + list(extra_results),
                 op.attrs, regions, op.loc, [r.hint for r in op.results] + [None] * len(extra_results))
        new.user, new.replay = op.user, op.replay
        for old, r in zip(op.results, new.results):
            self.env[id(old)] = r
        self.b.add(new)
        return new

    def emit_prim(self, op):
        new = self.clone(op)
        prim = op.prim
        if not prim.differentiable or not self.active(op.result):
            return
        if op.name == "where" and self.scalars.get(id(op.operands[1])) == 0.0 and \
                self._zero_guard(op, "eq") is not None:    # reverse.py's mask: the guarded value's tangent
            t = self.tangent_of(op.operands[2])
            if t is not None:
                self.set_tangent(op.result, self.as_type(t, op.result.type))
            return
        tangents = [self.tangent_of(v) for v in op.operands]
        if all(t is None for t in tangents):
            return
        # constants reach the rules as Python scalars, so `x ** 2` gives `2.0 * x * x_dot`
        args = [self.scalars.get(id(v), self.new(v)) for v in op.operands]
        t = ops.jvp(prim, tangents, args, op.attrs, new.result)
        if t is not None:
            self.set_tangent(op.result, self.as_type(t, op.result.type))

    def emit_tuple(self, op):
        self.clone(op)
        parts = [self.tangent_of(v) for v in op.operands]
        if any(p is not None for p in parts):
            self.set_tangent(op.result, parts)

    def emit_untuple(self, op):
        self.clone(op)
        t = self.tangent_of(op.operands[0])
        if t is None:
            return
        parts = t if isinstance(t, list) else self.b.untuple(t)
        for r, p in zip(op.results, parts):
            self.set_tangent(r, p)

    def _zero_guard(self, op, value_of_zero):
        """The cotangent g of a reverse sweep's zero guard (reverse.py: `unless_zero`, an `if` on
        g != 0 whose else branch gives zeros; `mask`, where(g == 0, 0, c)), or None. The guard keeps
        0 * inf from a rule applied to a zero cotangent; a tangent of g is not zero there, and what
        the guarded rule computes from it (linear in g) is the guarded value's tangent."""
        if op.user:
            return None
        test = self.defs.get(id(op.operands[0]))
        if test is None or test.name != value_of_zero or self.scalars.get(id(test.operands[1])) != 0.0:
            return None
        return test.operands[0]

    def _zeros_only(self, region):
        return all(o.name in ("full", "const") and np.all(o.attrs["value"] == 0) for o in region.ops[:-1])

    def emit_if(self, op):
        act = [k for k, r in enumerate(op.results) if self.active(r)]
        ttypes = [op.results[k].type for k in act]
        g = self._zero_guard(op, "ne") if self._zeros_only(op.regions[1]) else None
        g_dot = self.tangent_of(g) if g is not None and act else None
        guard = None
        if g_dot is not None:     # the guarded branch also runs where g == 0 but g_dot != 0
            guard = ops.logical_or(self.new(op.operands[0]), ops.ne(self.b.value(g_dot), 0.0))
        blocks = []
        for j, region in enumerate(op.regions):
            blk = Block()
            with self.b.at(blk):
                self.emit_block(region)
                ys = region.ops[-1].operands
                primal = [self.new(v) for v in ys]
                if g_dot is not None and j == 0:   # entered where g == 0 too: the values stay zero there
                    primal = [self.as_type(ops.where(self.new(op.operands[0]), p, 0.0), y.type) if is_float(y.type)
                              else p for p, y in zip(primal, ys)]
                self.b.yield_(primal + [self.as_type(self.tangent_of(ys[k]), t) for k, t in zip(act, ttypes)])
            blocks.append(blk)
        new = self.clone(op, ttypes, blocks)
        if guard is not None:
            new.operands[0] = guard
        for k, r in zip(act, new.results[len(op.results):]):
            r.hint = tangent_name(op.results[k].hint)
            self.set_tangent(op.results[k], r)

    def _carried_with_tangents(self, op, *arg_lists):
        return [k for k, r in enumerate(op.results)
                if self.active(r) or any(self.active(args[k]) for args in arg_lists)]

    def _region(self, region, act, carried):
        """A copy of loop region `region` (`carried`: its block arguments that are carried values) whose
        block arguments are the region's, then the tangents of the carried values `act`; yields likewise."""
        ttypes = [carried[k].type for k in act]
        blk = Block([a.type for a in region.args] + ttypes,
                    [a.hint for a in region.args] + [tangent_name(carried[k].hint) for k in act])
        for old, new in zip(region.args, blk.args):
            self.env[id(old)] = new
        for k, t in zip(act, blk.args[len(region.args):]):
            self.set_tangent(carried[k], t)
        with self.b.at(blk):
            self.emit_block(region)
            term = region.ops[-1]
            if term.name == "condition":
                self.b.condition(self.new(term.operands[0]))
            else:
                ys = term.operands
                self.b.yield_([self.new(v) for v in ys] +
                              [self.as_type(self.tangent_of(ys[k]), t) for k, t in zip(act, ttypes)])
        return blk

    def emit_for(self, op):
        body = op.regions[0]
        act = self._carried_with_tangents(op, body.args[1:])
        inits = op.operands[3:]
        tinits = [self.as_type(self.tangent_of(inits[k]), op.results[k].type) for k in act]
        blk = self._region(body, act, body.args[1:])
        self._finish_loop(op, act, tinits, [blk])

    def emit_while(self, op):
        cond, body = op.regions
        act = self._carried_with_tangents(op, cond.args, body.args)
        tinits = [self.as_type(self.tangent_of(op.operands[k]), op.results[k].type) for k in act]
        blocks = [self._region(cond, act, cond.args), self._region(body, act, body.args)]
        self._finish_loop(op, act, tinits, blocks)

    def _finish_loop(self, op, act, tinits, blocks):
        new = self.clone(op, [op.results[k].type for k in act], blocks)
        new.operands += tinits
        for k, r in zip(act, new.results[len(op.results):]):
            r.hint = tangent_name(op.results[k].hint)
            self.set_tangent(op.results[k], r)

    # -- tapes (forward over an adjoint) ------------------------------------------------
    def _tape_slots(self):
        """{id(tape): positions of its entries that get tangents}: an entry is active when what
        is pushed there or what is popped from there is."""
        slots = {}
        for op in walk(self.fn.body):
            if op.name == "tape_push":
                vals = op.operands[1:-1] if "list" in op.attrs else op.operands[1:]
            elif op.name == "tape_pop":
                vals = op.results
            elif op.name == "tape_stack":        # a list's: the field it stacks
                vals = {op.attrs.get("field", 0): op.result}
                vals = [vals.get(k) for k in range(max(vals) + 1)]
            else:
                continue
            s = slots.setdefault(id(op.operands[0]), set())
            s.update(k for k, v in enumerate(vals) if v is not None and self.active(v) and is_float(v.type))
        return {k: sorted(v) for k, v in slots.items() if v}

    def emit_tape_new(self, op):
        slots = self.tapes.get(id(op.result))
        new = self.clone(op)
        if slots:
            elems = op.result.type.elems
            new.result.type = op.result.type.with_elems(list(elems) + [elems[k] for k in slots])

    def emit_tape_push(self, op):
        listed = "list" in op.attrs      # a list's push ends with the item's index
        vals = op.operands[1:-1] if listed else op.operands[1:]
        # (made before the push: a zero tangent is an op of its own)
        tangents = [self.as_type(self.tangent_of(vals[k]), vals[k].type) for k in self.tapes.get(id(op.operands[0]), ())]
        new = self.clone(op)
        new.operands[len(new.operands) - listed:len(new.operands) - listed] = tangents

    def emit_tape_stack(self, op):
        self.clone(op)
        slots = self.tapes.get(id(op.operands[0]), ())
        k = op.attrs.get("field", 0)
        if k in slots and self.active(op.result):
            field = len(op.operands[0].type.elems) + slots.index(k)
            t = self.b.add(Op("tape_stack", [self.new(op.operands[0])], [op.result.type], dict(op.attrs, field=field),
                              hints=[tangent_name(op.result.hint)])).result
            self.set_tangent(op.result, t)

    def emit_tape_pop(self, op):
        slots = self.tapes.get(id(op.operands[0]), ())
        new = self.clone(op, [op.results[k].type for k in slots])
        for k, r in zip(slots, new.results[len(op.results):]):
            r.hint = tangent_name(op.results[k].hint)
            self.set_tangent(op.results[k], r)

    # -- driver ----------------------------------------------------------------------
    def run(self):
        fn = self.fn
        user = fn.user_params
        params = [Value(p.type, p.hint) for p in user]
        tangents = [Value(fn.params[i].type, tangent_name(fn.params[i].hint)) for i in self.wrt]
        hidden = [Value(p.type, p.hint) for p in fn.params[len(user):]]
        for old, new in zip(fn.params, params + hidden):
            self.env[id(old)] = new
        for i, t in zip(self.wrt, tangents):
            self.set_tangent(fn.params[i], t)
        body = Block()
        self.b.block = body
        with self.b:
            self.emit_block(fn.body)
            ret = fn.return_op.operands[0]
            out = self.new(ret)
            with self.b.located(fn.return_op.loc):
                out_dot = self.as_type(self.tangent_of(ret), ret.type)
                if out_dot.hint is None:
                    out_dot.hint = tangent_name(out.hint) or "out_dot"
                self.b.return_(self.b.tuple([out, out_dot]))
        new = Function(fn.name + "_jvp", params + tangents + hidden, body, fn.loc)
        new.guards, new.hidden = fn.guards, fn.hidden
        return new


def forward(fn, wrt):
    """The tangent function of `fn` w.r.t. parameter indices `wrt` (see the module docstring):
    fn_jvp(*params, *tangents of wrt) -> (value, value_dot)."""
    for i in wrt:
        if not is_float(fn.params[i].type):
            raise TypeError(f"forward: parameter {fn.params[i].hint!r} has type {fn.params[i].type}; "
                            "tangents are taken w.r.t. float inputs")
    return _Forward(fn, wrt).run()

