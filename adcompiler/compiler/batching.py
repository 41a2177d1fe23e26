"""Batching on the IR: give chosen parameters a leading batch axis (vmap over the IR).

`batch(fn, params, size)` returns a function whose parameters `params` have
shape (size, *shape) and which computes, for every index b of that axis, what
`fn` computes for slice b. Values that depend on a batched parameter carry the
axis; the others stay as they are (a loop's primal values are computed once,
not per batch element). That is how a Jacobian or a Hessian is one sweep with
a batched tangent (or cotangent), not one call per column.

Each primitive is rewritten by a rule for its kind from the table (elementwise:
align the batched operands' ranks; reductions, views: shift axes; indexing:
prepend a full slice; matmul by cases ...). A primitive without a rule raises
`Unbatchable` with the reason, and the caller falls back to one sweep per
basis vector. Every rewritten op is checked to give exactly (size, *shape) of
the original's result, so a rule that got it wrong is refused, not trusted.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .builder import Builder
from .errors import UnsupportedSyntax
from .ir import Block, Function, Op, Value, verify
from .types import ArrayType

__all__ = ["Unbatchable", "batch"]

_AXIS_REDUCTIONS = frozenset({"sum", "mean", "prod", "var", "std", "logsumexp", "max", "min", "amax", "amin",
                              "argmax", "argmin"})
_AXIS_OTHER = frozenset({"softmax", "log_softmax", "cumsum", "concatenate", "stack"})


class Unbatchable(Exception):
    """The IR has an op the batching transform has no rule for (the reason)."""


def _rank(t):
    return len(t.shape) if (t.is_array or t.is_scalar) else None


class _Batcher:
    def __init__(self, fn, params, size):
        self.fn, self.params, self.size = fn, set(params), int(size)
        self.b = Builder(loc=fn.loc)
        self.env = {}

    # -- values --------------------------------------------------------------------
    def new(self, v):
        return self.env.get(id(v), v)

    def btype(self, t):
        if t.is_tuple:
            raise Unbatchable("a tuple value depends on the batched input")
        return ArrayType(t.dtype, (self.size,) + tuple(t.shape))

    @staticmethod
    def is_b(old, new):
        """Whether `new`, the rewritten `old`, carries the batch axis (batching adds one)."""
        if new.type.is_tuple:
            return any(_Batcher.is_b_type(o, n) for o, n in zip(old.type.elems, new.type.elems))
        return _Batcher.is_b_type(old.type, new.type)

    @staticmethod
    def is_b_type(old, new):
        if old.is_tuple:
            return any(_Batcher.is_b_type(o, n) for o, n in zip(old.elems, new.elems))
        return _rank(new) is not None and _rank(new) == _rank(old) + 1

    def expand(self, nv, rank):
        """Batched `nv` (size, *s) as (size, 1, ..., 1, *s) of rank 1 + `rank`."""
        s = tuple(nv.type.shape[1:])
        if len(s) >= rank:
            return nv
        return ops.reshape(nv, shape=(self.size,) + (1,) * (rank - len(s)) + s)

    def broadcast(self, old, nv):
        """Unbatched `nv` (the rewritten `old`) repeated along a new batch axis, as its own array."""
        t = self.btype(old.type)
        defining = self.defs.get(id(nv))
        if defining is not None and defining.name in ("full", "const") and np.ndim(defining.attrs["value"]) == 0:
            return self.b.full(np.asarray(defining.attrs["value"]).item(), t)
        x = ops.broadcast_to(nv, shape=t.shape)
        if x.type.dtype != t.dtype:
            x = ops.astype(x, dtype=t.dtype)
        return ops.copy(x)

    def as_batched(self, old, nv):
        return nv if self.is_b(old, nv) else self.broadcast(old, nv)

    # -- ops -----------------------------------------------------------------------
    def emit_block(self, block):
        for op in block.ops:
            if op.name in ("yield", "condition", "return"):
                continue
            with self.b.located(op.loc):
                if op.is_prim:
                    self.emit_prim(op)
                elif op.name in ("if", "for", "while"):
                    getattr(self, "emit_" + op.name)(op)
                elif "list" in op.attrs:
                    raise Unbatchable("a list whose length is known only at run time")
                elif op.name == "tape_push":
                    self.emit_push(op)
                else:
                    self.clone(op)

    def clone(self, op, result_types=None, regions=()):
        if result_types is None:
            result_types = [self._result_type(op, r) for r in op.results]
        new = Op(op.name, [self.new(v) for v in op.operands], result_types, op.attrs, regions, op.loc,
                 [r.hint for r in op.results])
        new.user, new.replay = op.user, op.replay
        for old, r in zip(op.results, new.results):
            self.env[id(old)] = r
            self.defs[id(r)] = new
        self.b.add(new)
        return new

    def _result_type(self, op, r):
        if op.name == "tuple":
            from .types import TupleType
            return TupleType(self.new(v).type for v in op.operands)
        if op.name == "untuple":
            k = op.results.index(r)
            return self.new(op.operands[0]).type.elems[k]
        if op.name == "tape_pop":
            k = op.results.index(r)
            return self.new(op.operands[0]).type.elems[k]
        return r.type

    def emit_push(self, op):
        new = self.clone(op)
        tape = new.operands[0]
        tape.type = tape.type.with_elems([v.type for v in new.operands[1:]])

    def emit_prim(self, op):
        args = [self.new(v) for v in op.operands]
        flags = [self.is_b(o, n) for o, n in zip(op.operands, args)]
        if not any(flags):
            self.clone(op)
            return
        prim = op.prim
        rule = getattr(self, "rule_" + prim.name, None) or getattr(self, "kind_" + prim.kind, None)
        if rule is None:
            raise Unbatchable(f"no batching rule for {prim.name}")
        out = rule(op, args, flags)
        want = self.btype(op.result.type)
        if out.type.shape != want.shape or out.type.dtype != want.dtype:
            raise Unbatchable(f"the batching rule of {prim.name} gave {out.type}, not {want}")
        if out.hint is None:
            out.hint = op.result.hint
        self.env[id(op.result)] = out

    # elementwise: batched operands get the result's rank (plus the batch axis) so NumPy's
    # right-aligned broadcasting lines everything else up
    def kind_elementwise(self, op, args, flags):
        r = _rank(op.result.type)
        return op.prim(*[self.expand(a, r) if f else a for a, f in zip(args, flags)], **op.attrs)

    def _shift_axis(self, axis, ndim):
        if axis is None:
            return tuple(range(1, ndim + 1))
        if isinstance(axis, (tuple, list)):
            return tuple(a + 1 if a >= 0 else a for a in axis)
        return axis + 1 if axis >= 0 else axis

    def _only_first(self, op, flags):
        if any(flags[1:]):
            raise Unbatchable(f"{op.name} with a batched operand after the first")

    def kind_reduction(self, op, args, flags):
        if op.name == "sum_to":
            return self.rule_sum_to(op, args, flags)
        if op.name not in _AXIS_REDUCTIONS:
            raise Unbatchable(f"no batching rule for {op.name}")
        self._only_first(op, flags)
        attrs = dict(op.attrs)
        attrs["axis"] = self._shift_axis(attrs.get("axis"), _rank(op.operands[0].type))
        return op.prim(*args, **attrs)

    def rule_sum_to(self, op, args, flags):
        x = args[0]
        target = tuple(op.attrs["shape"])
        lead = _rank(op.operands[0].type) - len(target)
        if lead > 0:
            x = ops.sum_(x, axis=tuple(range(1, 1 + lead)))
        return ops.sum_to(x, shape=(self.size,) + target)

    def rule_reshape(self, op, args, flags):
        return ops.reshape(args[0], shape=(self.size,) + tuple(op.result.type.shape))

    def rule_transpose(self, op, args, flags):
        n = _rank(op.operands[0].type)
        axes = op.attrs.get("axes")
        axes = tuple(range(n - 1, -1, -1)) if axes is None else tuple(a % n for a in axes)
        return ops.transpose(args[0], axes=(0,) + tuple(a + 1 for a in axes))

    def rule_squeeze(self, op, args, flags):
        shape = tuple(op.operands[0].type.shape)
        axis = op.attrs.get("axis")
        if axis is None:
            axis = tuple(i for i, d in enumerate(shape) if d == 1)
        attrs = dict(op.attrs)
        attrs["axis"] = self._shift_axis(axis if isinstance(axis, tuple) else (axis % len(shape),), len(shape))
        return op.prim(args[0], **attrs)

    def rule_expand_dims(self, op, args, flags):
        attrs = dict(op.attrs)
        attrs["axis"] = self._shift_axis(attrs["axis"], None)
        return op.prim(args[0], **attrs)

    def rule_broadcast_to(self, op, args, flags):
        shape = tuple(op.attrs["shape"])
        return ops.broadcast_to(self.expand(args[0], len(shape)), shape=(self.size,) + shape)

    # -- indexing: the batch axis is indexed by a full slice in front ---------------
    def _index(self, op, arg_count):
        idx = op.attrs["idx"]
        parts = idx if isinstance(idx, tuple) else (idx,)
        dyn = op.operands[arg_count:]
        advanced = [k for k, p in enumerate(parts) if isinstance(p, (np.ndarray, list)) or (
            isinstance(p, ops.indexing.Dyn) and _rank(dyn[p.k].type) != 0)]
        if advanced and advanced != list(range(advanced[0], advanced[-1] + 1)):
            raise Unbatchable("an index with separated array parts")
        return (slice(None),) + tuple(parts)

    def _indexed_rank(self, op, shape):
        dyn = [ops.Abstract(v.type.shape, v.type.dtype) for v in op.operands[2:]] if op.name != "scatter_add" \
            else [ops.Abstract(v.type.shape, v.type.dtype) for v in op.operands[1:]]
        a = ops.indexing.getitem.abstract_eval([ops.Abstract(shape, np.float64)] + dyn, {"idx": op.attrs["idx"]})
        return len(a.shape)

    def rule_getitem(self, op, args, flags):
        self._only_first(op, flags)
        return ops.indexing.getitem(*args, idx=self._index(op, 1))

    def rule_scatter_add(self, op, args, flags):
        self._only_first(op, flags)
        shape = tuple(op.attrs["shape"])
        g = self.expand(args[0], self._indexed_rank(op, shape))
        return ops.indexing.scatter_add(g, *args[1:], idx=self._index(op, 1), shape=(self.size,) + shape)

    def _into(self, op, args, flags):
        if any(flags[2:]):
            raise Unbatchable(f"{op.name} with a batched index")
        acc = self.as_batched(op.operands[0], args[0])
        v = args[1]
        if flags[1]:
            v = self.expand(v, self._indexed_rank(op, tuple(op.operands[0].type.shape)))
        return op.prim(acc, v, *args[2:], idx=self._index(op, 2))

    rule_index_add = _into
    rule_setitem = _into

    # -- matmul by cases (NumPy's 1-D rules differ from its stacked ones) -------------
    def rule_matmul(self, op, args, flags):
        a, b = args
        ra, rb = _rank(op.operands[0].type), _rank(op.operands[1].type)
        if flags[0] and flags[1]:
            if ra == 1 and rb == 1:
                return ops.sum_(ops.mul(a, b), axis=-1)
            if ra == 1:
                return ops.reshape(ops.matmul(ops.reshape(a, shape=(self.size, 1, -1)), self.expand(b, max(rb, 2))),
                                   shape=self.btype(op.result.type).shape)
            if rb == 1:
                return ops.reshape(ops.matmul(self.expand(a, max(ra, 2)), ops.reshape(b, shape=(self.size, -1, 1))),
                                   shape=self.btype(op.result.type).shape)
            r = max(ra, rb)
            return ops.matmul(self.expand(a, r), self.expand(b, r))
        if flags[0]:
            return ops.matmul(a, b)          # (B, n) @ (n, k), (B, ..., m, n) @ (n, k): NumPy lines them up
        if rb >= 2:
            return ops.matmul(a, b)          # (m, n) @ (B, ..., n, k)
        if ra == 1:
            return ops.matmul(b, a)          # (n,) @ (B, n) -> (B, n) @ (n,)
        if ra == 2:
            return ops.matmul(b, ops.transpose(a, axes=(1, 0)))   # (m, n) @ (B, n) -> (B, n) @ (n, m)
        raise Unbatchable("a stacked matmul with a batched vector")

    # -- other kinds with an axis ---------------------------------------------------------
    def kind_other(self, op, args, flags):
        if op.name not in _AXIS_OTHER:
            raise Unbatchable(f"no batching rule for {op.name}")
        attrs = dict(op.attrs)
        axis = attrs.get("axis", 0 if op.name in ("concatenate", "stack") else -1)
        if axis is None:
            raise Unbatchable(f"{op.name} over a flattened array")
        attrs["axis"] = self._shift_axis(axis, None)
        if op.name in ("concatenate", "stack"):
            args = [self.as_batched(o, n) for o, n in zip(op.operands, args)]
            if op.name == "concatenate":
                r = _rank(op.result.type)
                args = [ops.broadcast_to(self.expand(a, r), shape=(self.size,) + tuple(a.type.shape[1:]))
                        if _rank(a.type) < r + 1 else a for a in args]
        else:
            self._only_first(op, flags)
        return op.prim(*args, **attrs)

    # -- regions ---------------------------------------------------------------------------
    def emit_if(self, op):
        blocks, yields = [], []
        for region in op.regions:
            blk = Block()
            with self.b.at(blk):
                self.emit_block(region)
            blocks.append(blk)
            yields.append([self.new(v) for v in region.ops[-1].operands])
        batched = [any(self.is_b(r, ys[k]) for ys in yields) for k, r in enumerate(op.results)]
        types = []
        for k, r in enumerate(op.results):
            types.append(self.btype(r.type) if batched[k] else yields[0][k].type)
        for blk, region, ys in zip(blocks, op.regions, yields):
            with self.b.at(blk):
                olds = region.ops[-1].operands
                self.b.yield_([self.as_batched(o, y) if batched[k] else y
                               for k, (o, y) in enumerate(zip(olds, ys))])
        self.clone(op, types, blocks)

    def emit_for(self, op):
        self._loop(op, 3)

    def emit_while(self, op):
        self._loop(op, 0)

    def _loop(self, op, first):
        olds = op.operands[first:]
        inits = [self.new(v) for v in olds]
        batched = {k for k, (o, n) in enumerate(zip(olds, inits)) if self.is_b(o, n)}
        for _ in range(len(olds) + 1):
            types = [self.btype(r.type) if k in batched else r.type for k, r in enumerate(op.results)]
            blocks = []
            grew = False
            for region in op.regions:
                lead = len(region.args) - len(op.results)
                blk = Block([a.type for a in region.args[:lead]] + types, [a.hint for a in region.args])
                for o, n in zip(region.args, blk.args):
                    self.env[id(o)] = n
                with self.b.at(blk):
                    self.emit_block(region)
                    term = region.ops[-1]
                    if term.name == "condition":
                        self.b.condition(self.new(term.operands[0]))
                    else:
                        ys = [self.new(v) for v in term.operands]
                        new_b = {k for k, (o, y) in enumerate(zip(term.operands, ys)) if self.is_b(o, y)}
                        if not new_b <= batched:
                            batched |= new_b
                            grew = True
                        self.b.yield_([self.as_batched(o, y) if k in batched else y
                                       for k, (o, y) in enumerate(zip(term.operands, ys))])
                blocks.append(blk)
            if not grew:
                break
        else:
            raise Unbatchable("a loop's batched values do not settle")
        new_inits = [self.as_batched(o, n) if k in batched else n for k, (o, n) in enumerate(zip(olds, inits))]
        new = Op(op.name, [self.new(v) for v in op.operands[:first]] + new_inits, types, op.attrs, blocks, op.loc,
                 [r.hint for r in op.results])
        new.user, new.replay = op.user, op.replay
        for o, r in zip(op.results, new.results):
            self.env[id(o)] = r
            self.defs[id(r)] = new
        self.b.add(new)

    # -- driver ----------------------------------------------------------------------------
    def run(self):
        fn = self.fn
        self.defs = {}
        params = []
        for i, p in enumerate(fn.params):
            t = self.btype(p.type) if i in self.params else p.type
            q = Value(t, p.hint)
            self.env[id(p)] = q
            params.append(q)
        body = Block()
        self.b.block = body
        with self.b:
            self.emit_block(fn.body)
            self.b.return_(self.new(fn.return_op.operands[0]))
        new = Function(fn.name + "_batched", params, body, fn.loc)
        new.guards, new.hidden = fn.guards, fn.hidden
        verify(new)
        return new


def batch(fn, params, size):
    """`fn` with a leading batch axis of `size` on parameters `params` (indices); see the module
    docstring. Raises Unbatchable naming an op without a rule."""
    try:
        return _Batcher(fn, params, size).run()
    except Unbatchable:
        raise
    except (TypeError, ValueError, UnsupportedSyntax) as e:     # a rule built something the table refuses
        raise Unbatchable(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
