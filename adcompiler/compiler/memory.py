"""Which arrays may share memory: one dataflow analysis over the structured IR,
shared by the front end (may an in-place write in the user's code be compiled
as a functional update?) and the backends (which arrays may generated code
update in place?).

Every value gets the set of *sites* its memory may come from:

    ("param", p)   the caller's argument p
    ("extern", x)  an array from outside the function (a global, an attribute ...):
                   a hidden input x (external.py) or a `const` op x with live=True
    ("alloc", op)  an array allocated by `op` in this function
    ("tape", op)   a value popped from a tape (adjoint code): whatever was pushed

A Python list of unknown length (a tape with attrs["list"]) has the sites of its items, so an
in-place write to an item while the list is still read (stacked) is seen as one to an alias.

A primitive the table marks `may_alias` (getitem with a basic index, reshape,
transpose ...) has the sites of its first argument; an in-place op of the
user's code (`x[i] = v`, `a += b`: the front end lists them) has the sites of
the array it writes; an `if` result the union of what its branches yield; a
loop-carried value the union of its initial value and of what the body yields,
to a fixed point. Python scalars have no sites. Sites are static: the
iterations of a loop allocate at one site, so the analysis is conservative
there. Values are keyed by the objects themselves, never by `id()`, so the
answer does not depend on memory addresses.

`unsafe_write(...)` is the front end's question: the IR is functional (a
`setitem` returns a new array), which equals Python's in-place semantics only
if nothing reads another name of the written memory after the write.
"""
from __future__ import annotations

from .. import ops as _ops
from .types import ScalarType

__all__ = ["Memory", "unsafe_write"]

_NONE = frozenset()


class Memory:
    """The memory sites of every value of an IR function (see the module docstring)."""

    def __init__(self, fn, inplace=(), keeps=None):
        self.fn = fn
        self.inplace = set(inplace)
        self.keeps = keeps or {}   # op -> operand index: the op's result also holds that operand's memory
        self.sites = {}
        n_user = len(fn.params) - len(fn.hidden)
        for k, p in enumerate(fn.params):
            self.sites[p] = _NONE if _no_memory(p) else frozenset({("param" if k < n_user else "extern", p)})
        self._block(fn.body)

    def of(self, v):
        return self.sites.get(v, _NONE)

    def fresh(self, v):
        """Whether `v` is an array allocated in this function (by any op)."""
        s = self.of(v)
        return bool(s) and all(site[0] == "alloc" for site in s)

    def new_each_call(self, v):
        """Whether `v` is memory the function allocates anew on every call (not a parameter, an
        external array, a constant compiled in, or a value from a tape): safe to hand out."""
        s = self.of(v)
        return bool(s) and all(site[0] == "alloc" and site[1].name != "const" for site in s)

    def allocated_by_own_op(self, v, op):
        """Whether `v`, a result of `op`, is new memory `op` allocates."""
        return self.of(v) == frozenset({("alloc", op)})

    def may_alias(self, a, b):
        return bool(self.of(a) & self.of(b))

    # ---- the transfer functions ------------------------------------------------
    def _set(self, v, sites):
        self.sites[v] = _NONE if _no_memory(v) else frozenset(sites)

    def _block(self, block):
        for op in block.ops:
            self._op(op)

    def _op(self, op):
        name = op.name
        if name == "tape_push" and "list" in op.attrs:   # the list refers to its items
            tape = op.operands[0]
            self.sites[tape] = self.of(tape).union(*(self.of(v) for v in op.operands[1:-1]))
            return
        if name in ("yield", "condition", "return", "tape_push", "tape_len", "tape_new"):
            return
        if name == "tape_pop":   # values pushed earlier: they may share memory with anything
            for r in op.results:
                self._set(r, {("tape", op)})
            return
        if name == "const":
            self._set(op.result, {("extern" if op.attrs.get("live") else "alloc", op)})
        elif name == "full":
            self._set(op.result, {("alloc", op)})
        elif name in ("tuple", "untuple"):
            union = frozenset().union(*(self.of(v) for v in op.operands))
            for r in op.results:
                self._set(r, union)
        elif name == "if":
            for r in op.regions:
                self._block(r)
            for k, res in enumerate(op.results):
                self._set(res, self.of(op.regions[0].ops[-1].operands[k]) | self.of(op.regions[1].ops[-1].operands[k]))
        elif name in ("for", "while"):
            self._loop(op)
        elif op in self.inplace or (op.is_prim and op.prim.may_alias and not _copies(op)):
            self._set(op.result, self.of(op.operands[0]))
        else:
            for r in op.results:
                self._set(r, {("alloc", op)})
        k = self.keeps.get(op)
        if k is not None:   # a list's buffer: the item appended to it stays referenced by the list
            self._set(op.result, self.of(op.result) | self.of(op.operands[k]))

    def _loop(self, op):
        lead = 1 if op.name == "for" else 0
        inits = op.operands[3:] if op.name == "for" else op.operands
        body = op.regions[-1]
        carried = [self.of(v) for v in inits]
        while True:
            for r in op.regions:
                for k, a in enumerate(r.args[lead:]):
                    self._set(a, carried[k])
                if lead:
                    self._set(r.args[0], _NONE)
                self._block(r)
            grown = [c | self.of(y) for c, y in zip(carried, body.ops[-1].operands)]
            if grown == carried:
                break
            carried = grown
        for res, c in zip(op.results, carried):
            self._set(res, c)


def _no_memory(v):
    return isinstance(v.type, ScalarType) or not (v.type.is_array or v.type.is_tuple)


def _copies(op):
    return op.name == "getitem" and _ops.indexing.copies_on_index(op.attrs["idx"], len(op.result.type.shape))


# ---- is an in-place write safe to compile functionally? ---------------------------------

class _Order:
    """Pre-order positions of ops, the span of each region op, the regions enclosing each op,
    the position where each value is defined, and each value's uses."""

    def __init__(self, fn):
        self.pos, self.end, self.chain, self.defpos, self.uses = {}, {}, {}, {}, {}
        for p in fn.params:
            self.defpos[p] = -1.0
        self._n = 0
        self._visit(fn.body, ())

    def _visit(self, block, chain):
        for op in block.ops:
            i = self._n
            self._n += 1
            self.pos[op], self.chain[op] = i, chain
            for v in op.operands:
                self.uses.setdefault(v, []).append(op)
            for k, r in enumerate(op.regions):
                for a in r.args:
                    self.defpos[a] = i + 0.5
                self._visit(r, chain + ((op, k),))
            self.end[op] = self._n - 1
            for res in op.results:
                self.defpos[res] = self.end[op] + 0.5 if op.regions else float(i)

    def exclusive(self, a, b):
        """Whether ops a and b lie in different branches of one `if` (never both run)."""
        branch = {p: k for p, k in self.chain[a] if p.name == "if"}
        return any(p.name == "if" and p in branch and branch[p] != k for p, k in self.chain[b])

    def may_run_after(self, use, write, value):
        """Whether `use` (an op reading `value`) may run after `write` has changed its memory."""
        if use is write or self.exclusive(use, write):
            return False
        if self.pos[use] > self.pos[write] and self.defpos[value] < self.pos[write]:
            return True
        # a later iteration of a loop around both reads a value from before the loop
        loops_of_use = {p for p, _ in self.chain[use] if p.name in ("for", "while")}
        return any(p in loops_of_use and self.defpos[value] < self.pos[p]
                   for p, _ in self.chain[write] if p.name in ("for", "while"))


def unsafe_write(fn, writes, keeps=None):
    """The first in-place write of `writes` (ops of `fn` that write into operand 0's memory in
    the user's code) that a functional update would not reproduce, as (write op, kind, detail):
    kind "param" (it writes the caller's array), "extern" (an array from outside the function),
    or "alias" with detail (value, use op): another name of that memory is read afterwards.
    None when every write is safe."""
    order = _Order(fn)
    writes = [w for w in writes if w in order.pos]   # a loop body converted again drops its first attempt
    mem = Memory(fn, writes, keeps)
    for w in writes:
        target = mem.of(w.operands[0])
        kinds = {site[0] for site in target}
        for kind in ("param", "extern"):
            if kind in kinds:
                return w, kind, None
        for v, sites in mem.sites.items():
            if v is w.results[0] or not sites & target:
                continue
            for use in order.uses.get(v, ()):
                if order.may_run_after(use, w, v):
                    return w, "alias", (v, use)
    return None
