"""The structured SSA IR: functions, values, ops and regions.

An `Op` is either a primitive call (its name is a key of `ops.registry`, its
`attrs` are the primitive's static parameters) or one of the structural ops:

    const      value (attrs["value"])                 -> 1 result
    full       an array/scalar filled with attrs["value"] -> 1 result
    tuple      build a tuple from the operands        -> 1 result
    untuple    unpack a tuple operand                 -> one result per element
    if         operands [cond]; regions [then, else]; each region ends in
               `yield` of the op's results
    for        operands [start, stop, step, *inits]; region [body] with args
               [i, *carried]; body ends in `yield` of the next carried values;
               Python range() semantics (negative steps too); results are the
               final carried values
    while      operands [*inits]; regions [cond, body], both with args
               [*carried]; cond ends in `condition %c`, body in `yield`;
               results are the carried values when the condition fails
    yield / condition / return   terminators

A value is visible in the block that defines it and in the regions nested
inside that block (like MLIR's scf dialect); `verify` checks it. Every op keeps
`loc = (file, line, col)` of the user's source.
"""
from __future__ import annotations

from .. import ops as _ops

STRUCTURAL = frozenset({"const", "full", "tuple", "untuple", "if", "for", "while", "yield", "condition", "return",
                        "tape_new", "tape_push", "tape_pop", "tape_len"})  # tapes: see reverse.py
# Ops that act on a tape: never removed, merged or reordered by passes.
EFFECTS = frozenset({"tape_new", "tape_push", "tape_pop"})
TERMINATORS = frozenset({"yield", "condition", "return"})
assert not STRUCTURAL & set(_ops.registry), "a primitive name clashes with a structural op"


class Value:
    """An SSA value: the result of an op or an argument of a block.

    `hint` is the user's variable name (None for temporaries); `type` an IR type.
    Shape-like attributes let VJP rules ask `shape_of(v)`, `v.dtype`, `v.ndim`.
    """
    __slots__ = ("type", "hint", "active", "__weakref__")

    def __init__(self, type, hint=None):
        self.type = type
        self.hint = hint
        self.active = None

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def ndim(self):
        return len(self.type.shape)

    def __repr__(self):
        return f"<Value {self.hint or ''}:{self.type}>"


class Op:
    """One operation; `regions` is a list of Blocks (empty for most ops).

    `user` is True for ops the front end made from the user's code (and their copies in an
    adjoint's forward sweep): on Python scalars they keep Python's semantics (1.0 / 0.0
    raises), where ops of derivative rules follow NumPy's (inf, nan)."""
    __slots__ = ("name", "operands", "results", "attrs", "regions", "loc", "user")

    def __init__(self, name, operands=(), result_types=(), attrs=None, regions=(), loc=None, hints=None):
        self.name = name
        self.operands = list(operands)
        hints = hints or [None] * len(result_types)
        self.results = [Value(t, h) for t, h in zip(result_types, hints)]
        self.attrs = dict(attrs or {})
        self.regions = list(regions)
        self.loc = loc
        self.user = False

    @property
    def result(self):
        assert len(self.results) == 1, f"{self.name} has {len(self.results)} results"
        return self.results[0]

    @property
    def is_prim(self):
        return self.name not in STRUCTURAL

    @property
    def prim(self):
        return _ops.registry[self.name]

    def __repr__(self):
        return f"<Op {self.name}>"


class Block:
    """A single-block region: arguments and a list of ops ending in a terminator."""
    __slots__ = ("args", "ops")

    def __init__(self, arg_types=(), hints=None):
        hints = hints or [None] * len(arg_types)
        self.args = [Value(t, h) for t, h in zip(arg_types, hints)]
        self.ops = []

    @property
    def terminator(self):
        return self.ops[-1] if self.ops and self.ops[-1].name in TERMINATORS else None


class Function:
    """A function: typed parameters, a body block ending in `return`."""
    __slots__ = ("name", "params", "body", "loc", "wrt", "guards", "hidden", "_check")

    def __init__(self, name, params, body, loc=None):
        self.name = name
        self.params = list(params)
        self.body = body
        self.loc = loc
        self.wrt = None          # set by activity analysis: the active parameters
        self.guards = ()         # set by the front end (external.py): values compiled in as constants
        self.hidden = ()         # set by the front end: the last len(hidden) params, read on each call
        self._check = None

    def guards_hold(self):
        """Whether everything compiled in as a constant is unchanged and every hidden input still
        has the type compiled for (external.py); False means: compile again."""
        check = self._check
        if check is None:
            from .external import compile_checks
            check = self._check = compile_checks(self.guards, self.hidden)
        return check()

    def hidden_values(self):
        """The current values of the hidden inputs (the parameters after the user's)."""
        return [h.ref.read() for h in self.hidden]

    @property
    def user_params(self):
        return self.params[:len(self.params) - len(self.hidden)]

    @property
    def return_op(self):
        return self.body.ops[-1]

    @property
    def result_type(self):
        return self.return_op.operands[0].type

    def __repr__(self):
        return f"<Function {self.name}>"

    def __str__(self):
        from .printer import print_function
        return print_function(self)


def walk(block):
    """Every op in `block` and its nested regions, in order (pre-order)."""
    stack = [iter(block.ops)]
    while stack:
        op = next(stack[-1], None)
        if op is None:
            stack.pop()
            continue
        yield op
        for r in reversed(op.regions):   # the first region ends on top of the stack
            stack.append(iter(r.ops))


def use_counts(block):
    """{id(value): number of uses} over `block` and nested regions."""
    counts = {}
    for op in walk(block):
        for v in op.operands:
            counts[id(v)] = counts.get(id(v), 0) + 1
    return counts


def replace_uses(block, mapping):
    """Replace operands throughout `block` by `mapping[id(old)] -> new`."""
    if not mapping:
        return
    for op in walk(block):
        ops_ = op.operands
        for i, v in enumerate(ops_):
            new = mapping.get(id(v))
            while new is not None:
                ops_[i] = new
                new = mapping.get(id(new))


def verify(fn):
    """Check structural SSA rules: defs before uses, region scoping, terminators,
    region/result arities. Raises ValueError naming the op."""
    def check_block(block, visible, want_term):
        visible = set(visible)
        visible.update(id(a) for a in block.args)
        for k, op in enumerate(block.ops):
            for v in op.operands:
                if id(v) not in visible:
                    raise ValueError(f"{op.name}: operand {v!r} is used outside the region that defines it")
            is_last = k == len(block.ops) - 1
            if op.name in TERMINATORS:
                if not is_last or op.name not in want_term:
                    raise ValueError(f"misplaced terminator {op.name}")
            _check_regions(op)
            for r, term in zip(op.regions, _region_terminators(op)):
                check_block(r, visible, term)
            visible.update(id(r) for r in op.results)
        if block.terminator is None or block.terminator.name not in want_term:
            raise ValueError(f"block does not end in {' or '.join(sorted(want_term))}")

    check_block(fn.body, {id(p) for p in fn.params}, {"return"})
    return fn


def _region_terminators(op):
    if op.name == "while":
        return [{"condition"}, {"yield"}]
    return [{"yield"}] * len(op.regions)


def _check_regions(op):
    n = len(op.results)
    if op.name == "if":
        for r in op.regions:
            if len(r.ops[-1].operands) != n:
                raise ValueError("if: a branch yields the wrong number of values")
    elif op.name == "for":
        body = op.regions[0]
        if len(body.args) != n + 1 or len(op.operands) != n + 3 or len(body.ops[-1].operands) != n:
            raise ValueError("for: carried values, block arguments and yields disagree")
    elif op.name == "while":
        cond, body = op.regions
        if len(cond.args) != n or len(body.args) != n or len(op.operands) != n or len(body.ops[-1].operands) != n:
            raise ValueError("while: carried values, block arguments and yields disagree")


def clone(fn):
    """A deep copy of `fn` (new values and ops; attribute values are shared)."""
    vmap = {}

    def new_value(v):
        n = Value(v.type, v.hint)
        n.active = v.active
        vmap[id(v)] = n
        return n

    def copy_block(b):
        nb = Block()
        nb.args = [new_value(a) for a in b.args]
        for op in b.ops:
            o = Op.__new__(Op)
            o.name, o.attrs, o.loc, o.user = op.name, dict(op.attrs), op.loc, op.user
            o.operands = [vmap.get(id(v), v) for v in op.operands]
            o.regions = [copy_block(r) for r in op.regions]
            o.results = [new_value(r) for r in op.results]
            nb.ops.append(o)
        return nb

    params = [new_value(p) for p in fn.params]
    out = Function(fn.name, params, copy_block(fn.body), fn.loc)
    out.wrt = None if fn.wrt is None else [vmap[id(p)] for p in fn.wrt]
    out.guards, out.hidden = fn.guards, fn.hidden
    return out
