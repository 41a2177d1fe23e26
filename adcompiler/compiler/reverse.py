"""Reverse-mode transform on the structured IR.

`reverse(fn, wrt)` returns a new IR function with the same parameters that
returns `(value, d value/d wrt_0, ...)`. It has two sweeps:

- forward sweep: a copy of `fn`'s body in which every `for`/`while` iteration
  pushes the loop-carried values it starts from onto a tape (`tape_push`; the
  tape's type lists what is pushed and, for a `for` loop, holds its trip count:
  `tape<i64, f64[]; range>`, see types.TapeType);
- reverse sweep: the ops again, last to first; for each primitive call the
  table's VJP rules are called with IR values, and the builder turns what they
  compute into ops — no derivative formula lives here. A region (branch or
  loop body) is reversed by recomputing its ops from its inputs (popped from
  the tape for loops) and sweeping those backwards. Adjoints of values from
  outside a region come out of it as results (loop-carried in reverse loops).

Only active values (depending on a wrt parameter and reaching the output) get
adjoints. The result is IR again, so passes and backends apply to it, and it is
exactly typed (ir.check_types): where adjoints meet at a region boundary they
are converted to the type they unify to (see `_Reverser.join`).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .builder import Builder
from .frontend import Frontend
from .ir import Block, Function, Op, Value, free_values, walk
from .passes.activity import active_values
from .types import RANGE, ScalarType, TapeType, TupleType, type_of_value, unify

__all__ = ["reverse", "prune_tapes"]

_I64 = ScalarType("int64")
_MAX_ROUNDS = 6


_free_values = free_values


# ---- the transform ---------------------------------------------------------------

class _Reverser:
    def __init__(self, fn, wrt, with_value=True, has_aux=False):
        self.fn = fn
        self.wrt = wrt
        self.with_value = with_value
        self.has_aux = has_aux
        self.varied = active_values(fn, [fn.params[i] for i in wrt])
        self.scalars = {id(op.result): op.attrs["value"] for op in walk(fn.body)
                        if op.name == "const" and type(op.attrs["value"]) in (int, float)}
        self.b = Builder(loc=fn.loc)
        # adjoints that are zero on the paths where the value was overwritten or its branch not
        # taken: a rule applied to them must give 0 there, not 0 * inf = nan (the tracer has no
        # edge at all on such a path)
        self.maybe_zero = set()
        # a Python list of unknown length (lists.py): id(tape) -> the cotangent of its stack, whose
        # row i each push's item gets (`tape_push %xs, %v, %i`)
        self.list_ct = {}
        self.replayed_lists = set()   # list tapes the reverse sweep makes again (a list made in a loop)

    def active(self, v):
        return id(v) in self.varied

    # -- cloning with tapes ---------------------------------------------------
    def clone_block(self, src, dst, env, tape_loops, replay=False):
        """Copy the ops of `src` into `dst`, renaming through `env` (old id -> new Value).
        With `tape_loops`, loops push their carried values each iteration; `replay` marks the
        copies as the reverse sweep's recomputation (ir.Op.replay)."""
        with self.b.at(dst):
            for op in src.ops:
                self.clone_op(op, env, tape_loops, replay)

    def clone_op(self, op, env, tape_loops, replay=False):
        new_operands = [env.get(id(v), v) for v in op.operands]
        if replay and op.name == "tape_push" and "list" in op.attrs and id(new_operands[0]) not in self.replayed_lists:
            return None     # the forward sweep has pushed it; the list it grows was read already
        new = Op(op.name, new_operands, [r.type for r in op.results], op.attrs, (), op.loc,
                 [r.hint for r in op.results])
        new.user = op.user
        new.replay = replay or op.replay
        for r_old, r_new in zip(op.results, new.results):
            env[id(r_old)] = r_new
        if replay and op.name == "tape_new" and "list" in op.attrs:
            self.replayed_lists.add(id(new.result))
        for region in op.regions:
            blk = Block([a.type for a in region.args], [a.hint for a in region.args])
            for a_old, a_new in zip(region.args, blk.args):
                env[id(a_old)] = a_new
            new.regions.append(blk)
        if tape_loops and op.name in ("for", "while") and self._loop_is_active(op):
            body_new = new.regions[-1]
            tape = self.b.add(self._tape_new(op, new, body_new.args)).result
            env[("tape", id(op))] = tape
            with self.b.at(body_new):
                self.b.add(Op("tape_push", [tape] + list(body_new.args), (), loc=op.loc))
        for region, blk in zip(op.regions, new.regions):
            # nested loops get their tapes when the reverse sweep recomputes this region
            self.clone_block(region, blk, env, tape_loops=False, replay=replay)
        self.b.add(new)
        return new

    def _tape_new(self, old, new, pushed):
        """The tape of loop `new` (the copy of `old`), pushed `pushed` each iteration: a `for`
        loop's holds its trip count (known at compile time for constant bounds, else
        len(range(start, stop, step)) of its bounds), a `while` loop's grows."""
        elems = [v.type for v in pushed]
        if old.name != "for":
            return Op("tape_new", (), [TapeType(elems)], loc=old.loc, hints=["tape"])
        bounds = [self.scalars.get(id(v)) for v in old.operands[:3]]
        if all(type(b) is int for b in bounds) and bounds[2] != 0:
            return Op("tape_new", (), [TapeType(elems, len(range(*bounds)))], loc=old.loc, hints=["tape"])
        return Op("tape_new", new.operands[:3], [TapeType(elems, RANGE)], loc=old.loc, hints=["tape"])

    def _loop_is_active(self, op):
        """Whether the loop needs a reverse: a result, a value from outside it, or a carried value
        is active (one that reaches the output only through an item appended to a list)."""
        return any(self.active(r) for r in op.results) or any(
            self.active(v) for v in _free_values(op.regions[-1])) or any(
            self.active(a) for a in op.regions[-1].args)

    # -- adjoint bookkeeping ------------------------------------------------------
    def accumulate(self, adj, v, g):
        if g is None:
            return
        if isinstance(g, Value) and g.hint is None and v.hint:
            g.hint = _adj_hint(v)  # the adjoint of x reads as dx in the generated code
        old = adj.get(id(v))
        if old is None:
            adj[id(v)] = g
        elif isinstance(old, list):
            adj[id(v)] = [a if c is None else c if a is None else ops.add(a, c) for a, c in zip(old, g)]
        else:
            total = ops.add(old, g)
            total.hint = _adj_hint(v)
            if id(old) in self.maybe_zero and id(g) in self.maybe_zero:
                self.maybe_zero.add(id(total))
            adj[id(v)] = total

    def unless_zero(self, g, compute, loc):
        """`compute()` (a list of values) run only where the scalar `g` is not 0 (zeros otherwise)."""
        then, other = Block(), Block()
        with self.b.at(then):
            cs = [self.b.value(c) for c in compute()]
            self.b.yield_(cs)
        types = [c.type for c in cs]
        with self.b.at(other):
            self.b.yield_([self.b.zeros(t) for t in types])
        new = self.b.add(Op("if", [ops.ne(g, 0.0)], types, regions=[then, other], loc=loc,
                            hints=[c.hint for c in cs]))
        self.maybe_zero.update(id(r) for r in new.results)
        return new.results

    def mask(self, g, c, prim):
        """`c`, a contribution computed from the maybe-zero cotangent `g`, set to 0 where g is 0: only
        for an elementwise primitive whose contribution has g's shape (c[i] comes from g[i] alone)."""
        if not (isinstance(c, Value) and prim.kind == "elementwise" and tuple(c.type.shape) == tuple(g.type.shape)):
            return c
        out = ops.where(ops.eq(g, 0.0), 0.0, c)
        self.maybe_zero.add(id(out))
        return out

    def materialize(self, g, type_):
        """An adjoint as an IR value (zeros of `type_` where there is none)."""
        if isinstance(g, list):
            return self.b.tuple([self.materialize(e, t) for e, t in zip(g, type_.elems)])
        if g is None:
            return self.b.zeros(type_)
        return g

    # -- types where adjoints meet ----------------------------------------------------------
    # The adjoint of a value is computed by the table's rules, so its type follows NumPy's
    # promotion: the cotangent of a Python float `y` is a 0-d array once `y` meets one
    # (`y * np.sum(x)`), and the seed of an f64[] result is a Python 1.0. Where adjoints meet
    # at a region boundary (a branch's yields, a reverse loop's carried adjoints and their
    # inits) they take the type they unify to, as the front end does for the user's own
    # branches and loops, and the promotion becomes an explicit `astype` (or `broadcast_to`).

    # the front end's conversion to a unified type (astype / broadcast_to; tuples elementwise)
    convert = Frontend.convert

    def join(self, t, gs):
        """The type adjoints `gs` (of a value of type `t`; None: no adjoint) meet in."""
        for g in gs:
            if g is None:
                continue
            u = unify(t, self._type_of(g, t), allow_broadcast=True)
            if u is None:
                raise TypeError(f"reverse: an adjoint of type {self._type_of(g, t)} for a value of type {t}")
            t = u
        return t

    def _type_of(self, g, t):
        if isinstance(g, list):
            return TupleType(e if x is None else self._type_of(x, e) for x, e in zip(g, t.elems))
        return g.type if isinstance(g, Value) else type_of_value(g)

    def to_type(self, g, t):
        """Adjoint `g` (None: zeros) as a value of type `t`, a type it joins into."""
        if isinstance(g, list):
            return self.b.tuple([self.to_type(x, e) for x, e in zip(g, t.elems)])
        if g is None:
            return self.b.zeros(t)
        g = self.b.value(g)
        return g if g.type == t else self.convert(g, t)

    # -- the reverse sweep -----------------------------------------------------------
    def sweep(self, block, adj, env):
        """Emit the adjoint of `block`'s ops (already computed, values renamed by `env`)."""
        for op in reversed(block.ops):
            if op.name in ("yield", "condition", "return", "const", "full"):
                continue
            with self.b.located(op.loc):
                if op.is_prim:
                    self.sweep_prim(op, adj, env)
                elif op.name == "tuple":
                    g = adj.get(id(op.result))
                    if g is not None:
                        gs = g if isinstance(g, list) else self.b.untuple(g)
                        for v, gv in zip(op.operands, gs):
                            if self.active(v):
                                self.accumulate(adj, v, gv)
                elif op.name == "untuple":
                    gs = [adj.get(id(r)) for r in op.results]
                    if any(g is not None for g in gs) and self.active(op.operands[0]):
                        self.accumulate(adj, op.operands[0], gs)
                elif op.name == "tape_stack":      # a list's items as an array: the rows' cotangents
                    g = adj.get(id(op.result))
                    if g is not None:
                        key = (id(op.operands[0]), op.attrs.get("field", 0))
                        self.list_ct[key] = self.to_type(g, op.result.type)
                elif op.name == "tape_push" and "list" in op.attrs:
                    i = op.operands[-1]
                    for k, v in enumerate(op.operands[1:-1]):
                        ct = self.list_ct.get((id(op.operands[0]), k))
                        if ct is not None and self.active(v):
                            self.accumulate(adj, v, self.b.prim("getitem", ct, env.get(id(i), i), idx=_dyn0()))
                elif op.name == "if":
                    self.sweep_if(op, adj, env)
                elif op.name in ("for", "while"):
                    self.sweep_loop(op, adj, env)

    def sweep_prim(self, op, adj, env):
        g = adj.get(id(op.result))
        if g is None or not op.prim.differentiable:
            return
        # constants reach the rules as Python scalars, so `x ** 2` differentiates to `2.0 * x`
        args = [self.scalars.get(id(v), env.get(id(v), v)) for v in op.operands]
        out = env.get(id(op.result), op.result)
        todo = [(i, v, op.prim.vjp_rule(i)) for i, v in enumerate(op.operands) if self.active(v)]
        todo = [(i, v, rule) for i, v, rule in todo if rule is not None]

        def contributions():
            return [rule(g, *args, out, **op.attrs) for _, _, rule in todo]
        if id(g) not in self.maybe_zero:
            cs = contributions()
        elif not g.type.shape:
            cs = self.unless_zero(g, contributions, op.loc)   # a scalar: skip the rules when it is 0
        else:
            cs = [self.mask(g, c, op.prim) for c in contributions()]
        for (_, v, _), c in zip(todo, cs):
            self.accumulate(adj, v, c)

    def _region_reverse(self, region, seeds, free, adj_in_region_args, env, popped=None):
        """Recompute `region` into the current block, sweep it backwards from `seeds`
        (yield position -> adjoint), and return adjoints of `free` values and of the
        region's arguments."""
        renv = dict(env)
        if popped is not None:
            for a, p in zip(region.args, popped):
                renv[id(a)] = p
        self.clone_block(_without_terminator(region), self.b.block, renv, tape_loops=True, replay=True)
        radj = {}
        for (k, g) in seeds:
            y = region.ops[-1].operands[k]
            if g is not None and self.active(y):
                self.accumulate(radj, y, g)
        self.sweep(_without_terminator(region), radj, renv)
        return [radj.get(id(v)) for v in free], [radj.get(id(a)) for a in adj_in_region_args]

    def sweep_if(self, op, adj, env):
        gs = [adj.get(id(r)) for r in op.results]
        if all(g is None for g in gs) and not self._appends_active(op):
            return
        free = [v for v in _free_values_regions(op) if self.active(v)]
        if not free:
            return
        cond = env.get(id(op.operands[0]), op.operands[0])
        none = [0] * len(free)        # in how many branches each free value gets no adjoint
        zero = [False] * len(free)    # whether it may be zero on some path
        branches = []
        for region in op.regions:
            blk = Block()
            with self.b.at(blk):
                gfree, _ = self._region_reverse(region, list(enumerate(gs)), free, [], env)
                for k, g in enumerate(gfree):
                    none[k] += g is None
                    zero[k] = zero[k] or g is None or id(g) in self.maybe_zero
            branches.append((blk, gfree))
        types = [self.join(v.type, [gfree[k] for _, gfree in branches]) for k, v in enumerate(free)]
        for blk, gfree in branches:
            with self.b.at(blk):
                self.b.yield_([self.to_type(g, t) for g, t in zip(gfree, types)])
        new = self.b.add(Op("if", [cond], types, regions=[blk for blk, _ in branches], loc=op.loc,
                            hints=[_adj_hint(v) for v in free]))
        for v, r, n, z in zip(free, new.results, none, zero):
            if n == len(op.regions):
                continue          # no adjoint on any path (DCE drops the zeros yielded)
            if z:
                self.maybe_zero.add(id(r))
            self.accumulate(adj, v, r)

    def sweep_loop(self, op, adj, env):
        tape = env.get(("tape", id(op)))
        if tape is None:
            return
        body = op.regions[-1]
        is_for = op.name == "for"
        carried_args = body.args[1:] if is_for else body.args
        inits = op.operands[3:] if is_for else op.operands
        free = [v for v in _free_values(body) if self.active(v)]
        g_out = [adj.get(id(r)) if self.active(r) else None for r in op.results]
        # the carried adjoints' types: those of the values, joined with what flows into them
        # (the adjoints of the results, what an iteration computes), until they settle
        c_types = [self.join(a.type, [g]) for a, g in zip(carried_args, g_out)]
        f_types = [v.type for v in free]
        hints = [_adj_hint(a) for a in carried_args] + [_adj_hint(v) for v in free]
        for _ in range(_MAX_ROUNDS):
            blk = Block([_I64] + c_types + f_types, ["_k"] + hints)
            with self.b.at(blk):
                popped = self.b.add(Op("tape_pop", [tape], list(tape.type.elems), loc=op.loc,
                                       hints=[a.hint for a in body.args])).results
                seeds = list(enumerate(blk.args[1:1 + len(c_types)]))
                gfree, gargs = self._region_reverse(body, seeds, free, carried_args, env, popped)
                acc_free = [a if g is None else ops.add(a, g) for a, g in zip(blk.args[1 + len(c_types):], gfree)]
            settled = ([self.join(t, [g]) for t, g in zip(c_types, gargs)],
                       [self.join(t, [a]) for t, a in zip(f_types, acc_free)])
            if settled == (c_types, f_types):
                break
            c_types, f_types = settled    # built again with the wider types (the old body is dropped)
        else:
            raise TypeError("reverse: the adjoint types of a loop do not settle")
        with self.b.at(blk):
            self.b.yield_([self.to_type(g, t) for g, t in zip(gargs + acc_free, c_types + f_types)])
        g_res = [self.to_type(g, t) for g, t in zip(g_out, c_types)]
        g_free = [self.b.zeros(t) for t in f_types]
        n = self.b.add(Op("tape_len", [tape], [_I64], loc=op.loc, hints=["n"])).result
        zero, one = self.b.const(0), self.b.const(1)
        rloop = self.b.add(Op("for", [zero, n, one] + g_res + g_free, c_types + f_types, regions=[blk],
                              loc=op.loc, hints=hints))
        runs = self._surely_runs(op)
        for init, r, g in zip(inits, rloop.results[:len(c_types)], gargs):
            if not self.active(init):
                continue
            if g is None and runs:
                continue      # overwritten in the loop before it is read: no adjoint at all
            if g is None or id(g) in self.maybe_zero:
                self.maybe_zero.add(id(r))
            self.accumulate(adj, init, r)
        for v, r, g in zip(free, rloop.results[len(c_types):], gfree):
            if g is None:
                continue
            if id(g) in self.maybe_zero:
                self.maybe_zero.add(id(r))
            self.accumulate(adj, v, r)

    def _appends_active(self, op):
        """Whether a region of `op` appends an active item to a list whose stack has a cotangent."""
        return any(o.name == "tape_push" and "list" in o.attrs and any(
            (id(o.operands[0]), k) in self.list_ct and self.active(v) for k, v in enumerate(o.operands[1:-1]))
            for r in op.regions for o in walk(r))

    def _surely_runs(self, op):
        """Whether a `for` op runs at least once (constant bounds)."""
        if op.name != "for":
            return False
        bounds = [self.scalars.get(id(v)) for v in op.operands[:3]]
        return all(isinstance(b, int) for b in bounds) and len(range(*bounds)) > 0

    def _seed(self, type_):
        """d out / d out: a Python 1.0 for a float64 scalar output (so `1.0 * g` simplifies away);
        otherwise typed like the output, so a float32 loss keeps a float32 backward pass."""
        if type_.is_scalar or (type_.is_array and type_.shape == () and type_.dtype == np.float64):
            return self.b.const(1.0)
        return self.b.full(1.0, type_)

    # -- driver --------------------------------------------------------------------------
    def run(self):
        fn = self.fn
        params = [Value(p.type, p.hint) for p in fn.params]
        env = {id(p): q for p, q in zip(fn.params, params)}
        body = Block()
        self.b.block = body
        with self.b:
            self.clone_block(_without_terminator(fn.body), body, env, tape_loops=True)
            out_old = fn.return_op.operands[0]
            out = env.get(id(out_old), out_old)
            adj = {}
            if self.active(out_old):
                with self.b.located(_defining_loc(fn.body, out_old) or fn.return_op.loc):
                    if self.has_aux:  # (loss, aux): only the loss is differentiated
                        adj[id(out_old)] = [self._seed(out.type.elems[0]), None]
                    else:
                        adj[id(out_old)] = self._seed(out.type)
                self.sweep(_without_terminator(fn.body), adj, env)
            if self.has_aux:
                loss, aux = self.b.untuple(out, hints=["loss", "aux"])
                head = ([loss] if self.with_value else []) + [aux]
            else:
                head = [out] if self.with_value else []
            grads = []
            for i in self.wrt:
                p = fn.params[i]
                g = adj.get(id(p))
                g = self.materialize(g, p.type)
                grads.append(g)
            self.b.return_(self.b.tuple(head + grads))
        new = Function(fn.name + "_grad", params, body, fn.loc)
        return new


def _dyn0():
    return ops.Dyn(0)


def _without_terminator(block):
    blk = Block.__new__(Block)
    blk.args = block.args
    blk.ops = block.ops[:-1] if block.terminator is not None else block.ops
    return blk


def _defining_loc(block, v):
    for op in walk(block):
        if any(r is v for r in op.results):
            return op.loc
    return None


def _free_values_regions(op):
    seen = {}
    for r in op.regions:
        for v in _free_values(r):
            seen.setdefault(id(v), v)
    return list(seen.values())


def _adj_hint(v):
    return "d" + v.hint if v.hint else None


def prune_tapes(fn):
    """Push onto each tape only the values its pops are read for (after DCE of the
    reverse sweep, many recomputations no longer need every carried value).
    Works in place on `fn` (the transform's own output); returns whether it pruned."""
    from .ir import use_counts
    uses = use_counts(fn.body)
    pushes, pops = {}, {}
    for op in walk(fn.body):
        if op.name == "tape_push":
            pushes.setdefault(id(op.operands[0]), []).append(op)
        elif op.name == "tape_pop":
            pops.setdefault(id(op.operands[0]), []).append(op)
    pruned = False
    for tape, pop_ops in pops.items():
        width = len(pop_ops[0].results)
        keep = [j for j in range(width) if any(uses.get(id(p.results[j]), 0) for p in pop_ops)]
        if len(keep) == width:
            continue
        pruned = True
        t = pop_ops[0].operands[0]
        t.type = t.type.with_elems([t.type.elems[j] for j in keep])   # the tape's type says what it holds
        for p in pop_ops:
            p.results = [p.results[j] for j in keep]
        for push in pushes.get(tape, ()):
            push.operands = [push.operands[0]] + [push.operands[1 + j] for j in keep]
    return pruned


def reverse(fn, wrt, with_value=True, has_aux=False):
    """The adjoint function of `fn` w.r.t. parameter indices `wrt` (see the module docstring):
    returns (value, *grads); without `with_value` the gradients alone, computing only what they
    need. With `has_aux`, fn returns (loss, aux) and the result is (loss?, aux, *grads)."""
    return _Reverser(fn, list(wrt), with_value, has_aux).run()
