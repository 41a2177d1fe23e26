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
    fused      operands [*inputs]; region [body] with args [*params] (the
               operands' types) that reads nothing from outside (only its
               args); body ends in `yield` of the op's results; attrs["name"]
               names the kernel. Made by passes/fuse.py: a run of ops one
               native kernel can compute.
    yield / condition / return   terminators

Tapes (made by the reverse transform, reverse.py; type `TapeType`, text
`tape<i64, f64[]; range>`): a loop's forward sweep pushes, its reverse pops.

    tape_new   operands [] or, for capacity "range", [start, stop, step] of the
               `for` loop it is made for -> 1 result, the tape
    tape_push  operands [tape, *values] (the tape's element types, in order) -> no result
    tape_pop   operands [tape] -> one result per element type (the last entry pushed)
    tape_len   operands [tape] -> 1 result, i64: the number of entries

A Python list of unknown length (compiler/lists.py) is a tape of one element type too, made by
the front end: `tape_new`, `tape_push` and `tape_stack` carry attrs["list"] (the list's name).

    tape_push  (a list's) operands [tape, *values, index]: index, an i64, is the item's position
               (an entry holds the item, and in forward mode its tangent)
    tape_stack operands [tape] -> 1 result: np.stack of the entries' attrs["field"] (default 0),
               an array whose first extent is a symbol known only when the code runs
               (ops/dims.py); raises ValueError as np.stack does when the tape is empty

`native_call` (operands: the inputs; attrs: the compiled `kernel`; results: its outputs) exists only
in the host code of a function whose array regions became native kernels (backends/llvm/outline.py).

A value is visible in the block that defines it and in the regions nested
inside that block (like MLIR's scf dialect). Types are exact (`check_types`):
where values meet (a branch's yields, a loop's inits, carried values, yields and
results) they have one type, and NumPy's promotion is an explicit `astype`.
`verify` checks both. Every op keeps `loc = (file, line, col)` of the user's source.
"""
from __future__ import annotations

import os

import numpy as np

from .. import ops as _ops
from .types import I64, RANGE, TupleType, abstract_arg, dtype_name, from_abstract, type_of_value

STRUCTURAL = frozenset({"const", "full", "tuple", "untuple", "if", "for", "while", "yield", "condition", "return",
                        "tape_new", "tape_push", "tape_pop", "tape_len", "tape_stack", "native_call", "fused"})
# Ops that act on a tape: never removed, merged or reordered by passes.
EFFECTS = frozenset({"tape_new", "tape_push", "tape_pop", "tape_stack"})
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
    raises), where ops of derivative rules follow NumPy's (inf, nan). `replay` marks the
    reverse sweep's recomputation of a user op: it computes what the forward already computed
    (so it cannot raise there) and may be dropped when unused."""
    __slots__ = ("name", "operands", "results", "attrs", "regions", "loc", "user", "replay")

    def __init__(self, name, operands=(), result_types=(), attrs=None, regions=(), loc=None, hints=None):
        self.name = name
        self.operands = list(operands)
        hints = hints or [None] * len(result_types)
        self.results = [Value(t, h) for t, h in zip(result_types, hints)]
        self.attrs = dict(attrs or {})
        self.regions = list(regions)
        self.loc = loc
        self.user = False
        self.replay = False

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
    __slots__ = ("name", "params", "body", "loc", "wrt", "guards", "hidden", "shape_symbols", "_check")

    def __init__(self, name, params, body, loc=None):
        self.name = name
        self.params = list(params)
        self.body = body
        self.loc = loc
        self.wrt = None          # set by activity analysis: the active parameters
        self.guards = ()         # set by the front end (external.py): values compiled in as constants
        self.hidden = ()         # set by the front end: the last len(hidden) params, read on each call
        self.shape_symbols = {}  # a shape-generic specialisation's extents: symbol -> (param index, axis)
        self._check = None

    def read_shape_symbols(self, env):
        """Read each symbol of ShapeEnv `env` (ops/dims.py) from the parameter it comes from: the
        generated code binds `_n0 = x.shape[0]` on entry."""
        names = [p.hint for p in self.params]
        self.shape_symbols = {s: (names.index(src[0][0]), src[0][1]) for s, src in env.symbols.items()}
        return self

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


def free_values(block):
    """Values used in `block` (and nested regions) but defined outside it, in first-use order."""
    defined = set()
    free = {}
    for op in walk(block):
        for r in op.regions:
            defined.update(id(a) for a in r.args)
        for v in op.operands:
            if id(v) not in defined:
                free.setdefault(id(v), v)
        defined.update(id(r) for r in op.results)
    defined.update(id(a) for a in block.args)
    return [v for k, v in free.items() if k not in defined]


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
    """Check the IR's contract; raises ValueError naming the op.

    Structure: defs before uses, region scoping, terminators, region/result arities.
    Types (what a backend may rely on, see `check_types`): every value crossing a region
    boundary has exactly the type on the other side, conditions are bools, `for` bounds
    integer scalars, tapes are pushed and popped what their type says, and primitive calls
    have the result types the table gives for their operand types."""
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
                check_block(r, set() if op.name == "fused" else visible, term)
            visible.update(id(r) for r in op.results)
        if block.terminator is None or block.terminator.name not in want_term:
            raise ValueError(f"block does not end in {' or '.join(sorted(want_term))}")

    check_block(fn.body, {id(p) for p in fn.params}, {"return"})
    check_types(fn)
    return fn


def _region_terminators(op):
    if op.name == "while":
        return [{"condition"}, {"yield"}]
    return [{"yield"}] * len(op.regions)


def _check_regions(op):
    n = len(op.results)
    want = {"if": 2, "for": 1, "while": 2, "fused": 1}.get(op.name, 0)
    if len(op.regions) != want:
        raise ValueError(f"{op.name}: {len(op.regions)} regions, expected {want}")
    for r in op.regions:
        if not r.ops:
            raise ValueError(f"{op.name}: an empty region")
    if op.name == "if":
        if len(op.operands) != 1:
            raise ValueError("if: takes one condition")
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
    elif op.name == "fused":
        body = op.regions[0]
        if len(body.args) != len(op.operands) or len(body.ops[-1].operands) != n:
            raise ValueError("fused: operands and block arguments, or results and yields, disagree")


# ---- types ------------------------------------------------------------------------------------

def check_types(fn):
    """The typing rules of the IR (`verify` runs them after the structural checks):

    - a region boundary is exact: an `if`'s branches yield its result types; a loop's inits,
      carried block arguments, yields and results all have one type per carried value (a weak
      `f64` and a 0-d `f64[]` differ: a producer converts with `astype` where they meet);
    - a `fused` op's block arguments have its operands' types, its yield its result types;
    - `if` and `condition` take a bool (`bool` or `bool[]`); `for` bounds are integer scalars
      and the induction variable is `i64`;
    - `tuple`/`untuple` agree with the tuple type; `const`/`full` values fit their type;
    - a primitive takes scalars and arrays, and its result has the dtype and shape the table's
      `abstract_eval` gives for its operand types (a scalar result may be weak: `float(x)`,
      `math.sin(x)`, `astype`);
    - tapes: `tape_new` makes a tape (with the three `for` bounds as operands when its capacity
      is "range", none otherwise); `tape_push %t, *vs` pushes exactly the element types of %t,
      `tape_pop %t` pops them, `tape_len %t` is an `i64`; a tape is used by nothing else."""
    for op in walk(fn.body):
        try:
            _check_op_types(op)
        except ValueError as e:
            raise ValueError(f"{op.name}{_where(op)}: {e}") from None
    for p in fn.params:
        if p.type.is_tape:
            raise ValueError(f"parameter {p!r} is a tape")
    return fn


def _where(op):
    loc = op.loc
    if loc is None or loc[0] is None:
        return ""
    return f" ({os.path.basename(loc[0])}:{loc[1]})"


def _same(what, got, want):
    for k, (g, w) in enumerate(zip(got, want)):
        if g.type != w.type:
            raise ValueError(f"{what} #{k} has type {g.type}, expected {w.type}")


def _is_bool(t):
    return (t.is_scalar or (t.is_array and t.shape == ())) and t.dtype.kind == "b"


def _is_int_scalar(t):
    return (t.is_scalar or (t.is_array and t.shape == ())) and t.dtype.kind in "iu"


def _check_op_types(op):
    name = op.name
    for k, v in enumerate(op.operands):
        if v.type.is_tape and not (name in ("tape_push", "tape_pop", "tape_len", "tape_stack") and k == 0):
            raise ValueError(f"operand #{k} is a tape ({v.type}), which only tape ops may use")
    for r in op.results:
        if r.type.is_tape and name != "tape_new":
            raise ValueError(f"result {r!r} is a tape; only tape_new makes one")
    if name == "if":
        if not _is_bool(op.operands[0].type):
            raise ValueError(f"condition has type {op.operands[0].type}, expected bool")
        for branch, r in zip(("then", "else"), op.regions):
            _same(f"the {branch} branch's yield", r.ops[-1].operands, op.results)
    elif name == "for":
        body = op.regions[0]
        for what, v in zip(("start", "stop", "step"), op.operands[:3]):
            if not _is_int_scalar(v.type):
                raise ValueError(f"{what} has type {v.type}, expected an integer scalar")
        if body.args[0].type != I64:
            raise ValueError(f"the induction variable has type {body.args[0].type}, expected i64")
        _same("init", op.operands[3:], op.results)
        _same("carried block argument", body.args[1:], op.results)
        _same("yield", body.ops[-1].operands, op.results)
    elif name == "while":
        cond, body = op.regions
        _same("init", op.operands, op.results)
        _same("carried argument of the condition region", cond.args, op.results)
        _same("carried argument of the body", body.args, op.results)
        _same("yield", body.ops[-1].operands, op.results)
        c = cond.ops[-1]
        if len(c.operands) != 1 or not _is_bool(c.operands[0].type):
            raise ValueError("the condition region must end in `condition` of one bool")
    elif name == "fused":
        body = op.regions[0]
        _same("block argument", body.args, op.operands)
        _same("yield", body.ops[-1].operands, op.results)
    elif name == "tuple":
        if len(op.results) != 1 or op.result.type != TupleType(v.type for v in op.operands):
            raise ValueError(f"result type {[str(r.type) for r in op.results]} does not match the operands")
    elif name == "untuple":
        t = op.operands[0].type if len(op.operands) == 1 else None
        if t is None or not t.is_tuple or tuple(r.type for r in op.results) != t.elems:
            raise ValueError(f"results do not match the tuple type {t}")
    elif name in ("const", "full"):
        _check_constant(op)
    elif name == "tape_new":
        if len(op.results) != 1 or not op.result.type.is_tape:
            raise ValueError("tape_new makes one tape")
        cap = op.result.type.capacity
        if cap == RANGE:
            if len(op.operands) != 3 or not all(_is_int_scalar(v.type) for v in op.operands):
                raise ValueError("a tape of capacity 'range' takes the for loop's start, stop, step")
        elif op.operands:
            raise ValueError(f"a tape of capacity {cap} takes no operands")
    elif name == "tape_stack":
        elems = op.operands[0].type.elems if len(op.operands) == 1 and op.operands[0].type.is_tape else None
        t = op.result.type if len(op.results) == 1 else None
        k = op.attrs.get("field", 0)
        if not elems or not 0 <= k < len(elems) or t is None or not t.is_array or \
                (t.dtype, tuple(t.shape[1:])) != (elems[k].dtype, tuple(elems[k].shape)):
            raise ValueError("tape_stack takes a list's tape and gives the stack of one field of its entries")
    elif name in ("tape_push", "tape_pop", "tape_len"):
        if not op.operands or not op.operands[0].type.is_tape:
            raise ValueError("the first operand must be a tape")
        elems = op.operands[0].type.elems
        if name == "tape_push":
            got = tuple(v.type for v in op.operands[1:])
            if "list" in op.attrs:
                if len(op.operands) < 3 or op.operands[-1].type != I64:
                    raise ValueError("a list's tape_push takes the tape, the entry's values and the item's index "
                                     "(an i64)")
                got = got[:-1]
            if op.results or got != elems:
                raise ValueError(f"pushes ({', '.join(map(str, got))}) onto a {op.operands[0].type}")
        elif name == "tape_pop":
            got = tuple(r.type for r in op.results)
            if len(op.operands) != 1 or got != elems:
                raise ValueError(f"pops ({', '.join(map(str, got))}) from a {op.operands[0].type}")
        elif len(op.operands) != 1 or len(op.results) != 1 or op.result.type != I64:
            raise ValueError("tape_len takes a tape and gives an i64")
    elif name in ("yield", "condition", "return"):
        if op.results:
            raise ValueError("a terminator has no results")
        if name == "return" and len(op.operands) != 1:
            raise ValueError("return takes one value")
    elif op.is_prim:
        _check_prim(op)


def _check_constant(op):
    if len(op.results) != 1:
        raise ValueError("a constant has one result")
    t, value = op.result.type, op.attrs.get("value")
    if op.name == "full":
        if not (t.is_scalar or t.is_array) or isinstance(value, np.ndarray):
            raise ValueError(f"full of {type(value).__name__} as {t}")
        return
    if t.is_array:
        ok = isinstance(value, np.ndarray) and value.dtype == t.dtype and value.shape == t.shape
    elif t.is_scalar:
        ok = type(value) in (bool, int, float) and np.dtype(type(value)).kind == t.dtype.kind or \
            (type_of_value(value) == t and t.dtype.kind == "i")      # an extent read at run time (ops/dims.py)
    else:
        ok = type_of_value(value) == t
    if not ok:
        raise ValueError(f"constant {value!r} ({type(value).__name__}) does not fit its type {t}")


def _check_prim(op):
    if len(op.results) != 1:
        raise ValueError(f"a primitive call has one result, not {len(op.results)}")
    for k, v in enumerate(op.operands):
        if not (v.type.is_scalar or v.type.is_array):
            raise ValueError(f"operand #{k} has type {v.type}; a primitive takes scalars and arrays")
    try:
        a = op.prim.abstract_eval([abstract_arg(v.type) for v in op.operands], op.attrs)
    except Exception as e:   # the table refuses these operand types
        raise ValueError(f"the table refuses operands ({', '.join(str(v.type) for v in op.operands)}): "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    t = op.result.type
    if t.is_scalar:
        ok = a.shape == () and from_abstract(a, True) == t if a.dtype.kind in "fiub" else False
        if not ok and op.name == "astype":   # a cast to a Python scalar: float(x), int(x)
            ok = a.shape == () and from_abstract(a, True).dtype == t.dtype
    else:
        ok = t.is_array and t.dtype == a.dtype and t.shape == tuple(a.shape)
    if not ok:
        raise ValueError(f"result type {t} but the table gives {_abstract_text(a)} for "
                         f"({', '.join(str(v.type) for v in op.operands)})")


def _abstract_text(a):
    return f"{dtype_name(a.dtype)}[{','.join(map(str, a.shape))}]"


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
            o.name, o.attrs, o.loc, o.user, o.replay = op.name, dict(op.attrs), op.loc, op.user, op.replay
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
