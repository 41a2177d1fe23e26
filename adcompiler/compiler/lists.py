"""Python lists in compiled code: list displays and comprehensions of run-time
values, `append`, and what NumPy makes of a list (np.sum([a, b]), np.stack(hs)).

A list is a front-end value, never an IR value of its own:

- `PyTuple(is_list=True)`: a list display or a comprehension (unrolled: its
  length must be known at compile time, and an `if` clause must be static);
- `ListBuffer`: the list a `for` loop appended to. The loop carries one array
  whose rows are the items (preallocated: the trip count is known), and each
  `append` writes its row, `setitem` at (prefix + iteration * m + j).
- `GrowList`: the list a loop appends to when that cannot be preallocated (a
  `while` loop, a trip count known only at run time, break/continue/return, an
  append under an `if` or in a nested loop). Its items are pushed onto a tape
  (`tape_push %xs, %v, %i`: `i`, the item's index, is a counter the loops carry
  like a variable, so `len(xs)` is a run-time value and the reverse sweep reads
  the item's cotangent at row i), and NumPy sees them through one `tape_stack`,
  an array whose first extent is a symbol known only when the code runs
  (ops/dims.py: `ShapeEnv.unbacked_symbol`, at least 1 as np.stack raises on an
  empty list). Shape rules compute with it symbolically; a step that needs its
  value is refused with the reason. The stack is made at the level of the code
  that made the list, after its last append.

`append` rebinds the list's name to a longer list. That is Python's semantics
only while no other name (or container, or a caller's variable) refers to the
same list object, so the front end refuses an append to a list that has another
reference. An appended array stays referenced by the list: the memory analysis
(memory.py) is told that the buffer keeps the appended value's memory, so an
in-place write to that array while the list is still read is refused.
"""
from __future__ import annotations

import numpy as np

from ..ops.dims import Dim
from .errors import UnsupportedSyntax
from .ir import Op, Value
from .types import ArrayType, ScalarType, TapeType, TupleType
from .values import GrowList, ListBuffer, PyTuple, Static

UNROLL_LIMIT = 1000     # items of a comprehension (each is its own ops)


# ---- what NumPy makes of a list -------------------------------------------------

def as_array(fe, a):
    """`a` as NumPy's np.asarray(a) would see it: a list/tuple of values becomes their stack."""
    if isinstance(a, GrowList):
        return grown_array(fe, a)
    if isinstance(a, ListBuffer):
        if not a.length:
            fe.fail("this list is empty here (the loop that appends to it runs no iteration); NumPy's result "
                    "would have another shape, or raise")
        return a.array
    if isinstance(a, PyTuple):
        return stack_nested(fe, a)
    if isinstance(a, Value) and a.type.is_tuple:
        return stack_nested(fe, PyTuple(fe.b.untuple(a)))
    return a


def stack_nested(fe, t):
    items = [as_array(fe, i) if isinstance(i, (PyTuple, ListBuffer, GrowList)) or isinstance(i, Value) and i.type.is_tuple
             else fe.val(i) for i in t.items]
    if not items:
        fe.fail("an empty list cannot become an array here (its dtype and shape are unknown)")
    return fe.prim("stack", *items, axis=0, weak=False)


def rows(fe, buf):
    """The items of a ListBuffer, one getitem each."""
    return [fe.prim("getitem", buf.array, idx=k) for k in range(buf.length)]


# ---- comprehensions --------------------------------------------------------------

def comprehension(fe, node):
    """[elt for ... in ... if ...] (or a generator expression): unrolled into a list display, or,
    over more than LOOP_FROM items of one loop with no `if`, converted as the loop
    `for target in iter: tmp.append(elt)` (a ListBuffer)."""
    saved = fe.env
    fe.env = dict(saved)     # the comprehension's variables are its own
    try:
        looped = _as_loop(fe, node)
        if looped is not None:
            return looped
        out = []
        _comp_for(fe, node, node.for_in, out)
    finally:
        fe.env = saved
    return PyTuple(out, is_list=True)


LOOP_FROM = 32


def _as_loop(fe, node):
    import libcst as cst
    cf = node.for_in
    if cf.ifs or cf.inner_for_in is not None or cf.asynchronous is not None:
        return None
    it = fe.iteration(cf.iter)
    if isinstance(it, list) or it.length is None or (not isinstance(it.length, Dim) and it.length <= LOOP_FROM):
        return None     # (a symbolic length: a loop too, not unrolled for one value)
    name = f"_adc_comprehension_{len(fe.b.block.ops)}"
    target = cst.Name(name)
    call = cst.Call(func=cst.Attribute(value=target, attr=cst.Name("append")), args=[cst.Arg(node.elt)])
    stmt = cst.Expr(call)
    loop = cst.For(target=cf.target, iter=cf.iter, body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[stmt])]))
    positions = fe.ctx.src.positions
    for synthetic in (loop, stmt, call, call.func, target):
        if node in positions:
            positions[synthetic] = positions[node]
    fe.env[name] = PyTuple([], is_list=True)
    mark, writes = len(fe.b.block.ops), len(fe.writes)
    try:
        fe.stmt(loop)
    except UnsupportedSyntax:   # e.g. items of a type a buffer cannot hold: unrolled instead
        del fe.b.block.ops[mark:]
        del fe.writes[writes:]
        return None
    return fe.env[name]


def _comp_for(fe, node, cf, out):
    if cf.asynchronous is not None:
        fe.fail("async comprehensions are not supported", cf)
    for item in _static_items(fe, cf.iter):
        fe.assign(cf.target, item, cf)
        if not all(_static_test(fe, c.test) for c in cf.ifs):
            continue
        if cf.inner_for_in is not None:
            _comp_for(fe, node, cf.inner_for_in, out)
        else:
            out.append(fe.expr(node.elt))
        if len(out) > UNROLL_LIMIT:
            fe.fail(f"a comprehension is unrolled, and this one has more than {UNROLL_LIMIT} items "
                    "(write a for loop that appends to a list)", node)


def _static_items(fe, iter_node):
    it = fe.iteration(iter_node)
    if isinstance(it, list):
        return it
    if it.length is None or not all(isinstance(b, Static) for b in (it.start, it.step)):
        fe.fail("a comprehension needs an iterable whose length is known at compile time", iter_node)
    start, step = it.start.value, it.step.value
    return (it.item(Static(start + k * step)) for k in range(it.length))


def _static_test(fe, test_node):
    c = fe.truth(fe.expr(test_node), test_node)
    if not isinstance(c, Static):
        fe.fail("a comprehension's `if` on a run-time value is not supported (the list's length would depend "
                "on the data; use np.where)", test_node)
    return c.value


# ---- append ----------------------------------------------------------------------

class ListProbe:
    """The list a loop appends to, while the loop body is converted once to learn what it appends
    (`prefix`: its items before the loop; `values`: those appended so far in the iteration)."""
    __slots__ = ("name", "types", "node", "prefix", "values")

    def __init__(self, name, node, prefix):
        self.name, self.node, self.prefix = name, node, prefix
        self.types, self.values = [], []

    @property
    def base(self):
        return len(self.prefix)

    @property
    def j(self):
        return len(self.values)


class Appending:
    """The list a loop appends to, during the loop body's conversion: `array` (the loop-carried
    buffer) gets row base + k * m + j at the j-th of the m appends of iteration k."""
    __slots__ = ("name", "array", "base", "m", "k", "j")

    def __init__(self, name, array, base, m, k, j=0):
        self.name, self.array, self.base, self.m, self.k, self.j = name, array, base, m, k, j


def appended_in_loop(fe, body, node, it):
    """Before a loop (`it`: a for loop's iteration, None for a while loop or a loop that may exit
    early): the lists its body appends to. Those it can preallocate for are returned as {name:
    appends per iteration}; the others become GrowLists (a list of unknown length), whose names
    are returned second."""
    import libcst as cst
    from .scan import contains
    counts = {}
    top = set()
    for s in body:
        call = _append_call(s)
        if call is not None:
            counts[call] = counts.get(call, 0) + 1
            top.add(id(s))
    nested = _nested_appends(body, top)
    known = it is not None and it.length is not None and isinstance(it.start, Static) and \
        isinstance(it.step, Static) and not contains(body, (cst.Continue, cst.Break, cst.Return), True)
    grown = []
    for name in list(counts) + [n for n in nested if n not in counts]:
        lst = fe.env.get(name)
        if isinstance(lst, GrowList):
            grown.append(name)
        elif _is_list(lst) and (name in nested or not known):
            to_growlist(fe, name, node)
            grown.append(name)
    return {n: m for n, m in counts.items() if _is_list(fe.env.get(n))}, grown


def _is_list(v):
    return isinstance(v, ListBuffer) or isinstance(v, PyTuple) and v.is_list


def _append_call(s):
    import libcst as cst     # the front end's: not imported when a cached gradient is loaded
    if isinstance(s, cst.Expr) and isinstance(s.value, cst.Call):
        f = s.value.func
        if isinstance(f, cst.Attribute) and f.attr.value == "append" and isinstance(f.value, cst.Name):
            return f.value.value
    return None


def _nested_appends(body, top):
    import libcst as cst
    found = {}

    class V(cst.CSTVisitor):
        def visit_Call(self, n):
            f = n.func
            if isinstance(f, cst.Attribute) and f.attr.value == "append" and isinstance(f.value, cst.Name):
                found.setdefault(f.value.value, n)
    for s in body:
        if id(s) in top:
            continue
        s.visit(V())
    return found


def check_unshared(fe, name, node):
    """Refuse appending to a list another name, container or caller also refers to."""
    lst = fe.env[name]
    for env in fe.envs():
        for n, v in env.items():
            if (n != name or env is not fe.env) and _refers(v, lst):
                where = f"'{n}'" if env is fe.env else f"'{n}' of a calling function"
                fe.fail(f"appending to '{name}', which {where} also refers to, is not supported (the compiled "
                        "code copies lists; use list(...) to make a separate list first)", node)


def _refers(v, lst):
    if v is lst:
        return True
    return isinstance(v, PyTuple) and any(_refers(i, lst) for i in v.items)


def elem_type(fe, probe):
    t = probe.types[0]
    for u in probe.types[1:]:
        if u.shape != t.shape:
            fe.fail(f"the items appended to '{probe.name}' have different shapes ({t} and {u})", probe.node)
        t = ArrayType(np.result_type(t.dtype, u.dtype), t.shape)
    if t.dtype.kind not in "biuf":
        fe.fail(f"items of type {t} cannot be appended in a loop", probe.node)
    return ArrayType(t.dtype, t.shape)


def new_buffer(fe, prefix, t, n):
    """The array a loop appends n rows of type t to, after the items of `prefix`."""
    total = ArrayType(t.dtype, (len(prefix) + n,) + t.shape)
    arr = fe.b.zeros(total)
    for k, v in enumerate(prefix):
        arr = fe.prim("setitem", arr, v, idx=k)
        fe.keeps[fe.b.block.ops[-1]] = 1
    return arr


def prefix_items(fe, lst):
    if isinstance(lst, ListBuffer):
        return rows(fe, lst)
    return [fe.val(i) for i in lst.items]


def append(fe, target, value, node):
    """`name.append(value)`: returns the list `name` is rebound to."""
    if isinstance(target, GrowList):
        check_unshared(fe, node.func.value.value, node)
        push(fe, target, value, node)
        return target
    if isinstance(target, ListProbe):
        t = fe.type_of(value)
        if not (t.is_array or t.is_scalar):
            fe.fail(f"items of type {t} cannot be appended in a loop", node)
        target.types.append(t)
        target.values.append(value)
        return target
    if isinstance(target, Appending):
        t = target.array.type
        row = ArrayType(t.dtype, t.shape[1:])
        v = fe.val(value)
        if v.type.shape != row.shape:
            fe.fail(f"the items appended to '{target.name}' change shape ({row} and {v.type})", node)
        fe.node = node
        idx = target.k if target.m == 1 else fe.binop("mul", target.k, Static(target.m))
        if target.base + target.j:
            idx = fe.binop("add", idx, Static(target.base + target.j))
        out = fe.prim("setitem", target.array, v, idx, idx=_dyn0())
        fe.keeps[fe.b.block.ops[-1]] = 1
        return Appending(target.name, out, target.base, target.m, target.k, target.j + 1)
    check_unshared(fe, node.func.value.value, node)
    if isinstance(target, ListBuffer):
        v = fe.val(value)
        row = ArrayType(target.array.type.dtype, target.array.type.shape[1:])
        if v.type.shape != row.shape:
            return PyTuple(rows(fe, target) + [value], is_list=True)
        out = fe.prim("concatenate", target.array, fe.prim("reshape", v, shape=(1,) + row.shape), axis=0, weak=False)
        fe.keeps[fe.b.block.ops[-1]] = 1
        return ListBuffer(out, target.length + 1)
    return PyTuple(target.items + [value], is_list=True)


# ---- lists of unknown length (GrowList) ------------------------------------------------

def counter(g):
    """The front-end variable holding the length of GrowList `g` (the loops carry it; a helper
    the list is passed to or returned from gets it with the list, carry_counters)."""
    return f"#len {g.name} {id(g)}"


def carry_counters(src, dst, values):
    """Copy into environment `dst` the length counters `src` has for the GrowLists in `values`."""
    for v in values:
        if isinstance(v, PyTuple):
            carry_counters(src, dst, v.items)
        elif isinstance(v, GrowList) and counter(v) in src:
            dst[counter(v)] = src[counter(v)]


def _count(fe, g):
    c = fe.env.get(counter(g))
    if c is None:
        fe.fail(f"the length of the list '{g.name}' (known only at run time) is not visible here (a list "
                "of unknown length is supported within the function that made it and the helpers it calls)")
    return c


def to_growlist(fe, name, node):
    """Make the list `name` a GrowList: a new tape, the items it has so far pushed onto it."""
    check_unshared(fe, name, node)
    items = prefix_items(fe, fe.env[name])
    with fe.b.located(fe.loc(node)):
        tape = fe.b.add(Op("tape_new", [], [TapeType(())], {"list": name}, hints=[name])).result
    g = GrowList(name, tape, None, fe.b.block)
    fe.env[name] = g
    fe.env[counter(g)] = Static(0)
    for v in items:
        push(fe, g, v, node)


def grow_before_branch(fe, stmts, node):
    """Before an `if` on a run-time condition: a list from outside it that a loop inside it appends
    to becomes a GrowList here, so both branches have the same list (a tape) and its length."""
    import libcst as cst
    from .scan import statements

    class Loops(cst.CSTVisitor):
        def __init__(self):
            self.names = {}

        def visit_FunctionDef(self, n):
            return False

        def visit_Lambda(self, n):
            return False

        def _loop(self, n):
            found = _nested_appends(statements(n.body), set())
            for name, call in found.items():
                self.names.setdefault(name, call)

        def visit_For(self, n):
            self._loop(n)

        def visit_While(self, n):
            self._loop(n)
    v = Loops()
    for s in stmts:
        s.visit(v)
    for name in v.names:
        if _is_list(fe.env.get(name)):
            to_growlist(fe, name, node)


def reset_types(fe, names, before):
    """Before a loop body is converted again (its carried types changed): the item types of the
    GrowLists nothing was pushed onto before the loop are learnt again."""
    for n in names:
        g = before.get(n)
        count = before.get(counter(g)) if isinstance(g, GrowList) else None
        if isinstance(count, Static) and count.value == 0:
            g.elem = None


def push(fe, g, value, node):
    """Append `value` to GrowList `g`: `tape_push %tape, %value, %index`, and the length + 1."""
    if g.stacked is not None:
        fe.fail(f"appending to '{g.name}' after it was read as an array (line {g.read_line}) is not supported "
                "(make a new list)", node)
    fe.node = node
    v = fe.val(value)
    t = v.type
    if not (t.is_scalar or t.is_array) or t.dtype.kind not in "biuf":
        fe.fail(f"items of type {t} cannot be appended to a list whose length is known only at run time", node)
    if g.elem is None:
        g.elem = ScalarType(t.dtype) if t.is_scalar else ArrayType(t.dtype, t.shape)
        g.tape.type = TapeType([g.elem])
    e = g.elem
    if tuple(t.shape) != tuple(e.shape):
        fe.fail(f"the items appended to '{g.name}' have different shapes ({e} and {t}); np.stack would raise",
                node)
    if np.result_type(e.dtype, t.dtype) != e.dtype:
        fe.fail(f"the items appended to '{g.name}' have types {e} and {t}: NumPy would stack them as "
                f"{np.result_type(e.dtype, t.dtype)}, which this list's earlier items do not have (append "
                "items of one dtype, e.g. float(v) or v.astype(...))", node)
    i = fe.val(_count(fe, g))
    with fe.b.located(fe.loc(node)):
        if e.is_scalar and not t.is_scalar:     # a 0-d array among Python scalars: float(v), as NumPy stacks it
            v = fe.b.prim("astype", v, dtype=e.dtype)
            v.type = e
            fe.b.block.ops[-1].user = True
        v = fe.convert(v, e)
        fe.b.add(Op("tape_push", [g.tape, v, i], [], {"list": g.name}))
    fe.env[counter(g)] = fe.binop("add", i, Static(1))


def length(fe, g):
    """len(xs) of a GrowList: the run-time counter."""
    return _count(fe, g)


def grown_array(fe, g):
    """The items of GrowList `g` as one array (np.stack(xs)): one `tape_stack`, made where the list
    was made, after the loop(s) appending to it."""
    if g.stacked is not None:
        return g.stacked
    if g.elem is None:
        fe.fail(f"nothing is appended to '{g.name}' anywhere the compiler can see, so its items' type is unknown")
    if fe.b.block is not g.block:
        fe.fail(f"the list '{g.name}', whose length is known only at run time, is read here inside an if or a "
                "loop; read it where it was made (e.g. `hs = np.stack(" + g.name + ")` right after the loop "
                "that appends to it)")
    n = fe.shape_env().unbacked_symbol(f"len_{g.name}", 1, f"the length of the list '{g.name}'")
    t = ArrayType(g.elem.dtype, (n,) + tuple(g.elem.shape))
    loc = fe.loc(fe.node)
    g.read_line = loc[1]
    with fe.b.located(loc):
        g.stacked = fe.b.add(Op("tape_stack", [g.tape], [t], {"list": g.name}, hints=[g.name])).result
    return g.stacked


def read_appending(fe, lst, index, node):
    """`name[i]` inside the loop that appends to `name`: an item before the loop (0 <= i < the
    length before it), or one appended earlier in this iteration (-j <= i < 0)."""
    parts, dyn = index
    fe.node = node
    if isinstance(lst, ListProbe) and not dyn and isinstance(parts, (int, np.integer)):
        if 0 <= parts < lst.base:
            return lst.prefix[parts]
        if -lst.j <= parts < 0:
            return lst.values[parts]
    elif not dyn and isinstance(parts, (int, np.integer)):
        if 0 <= parts < lst.base:
            return fe.prim("getitem", lst.array, idx=int(parts))
        if -lst.j <= parts < 0:
            row = fe.binop("add", lst.k if lst.m == 1 else fe.binop("mul", lst.k, Static(lst.m)),
                           Static(lst.base + lst.j + int(parts)))
            return fe.prim("getitem", lst.array, row, idx=_dyn0())
    fe.fail(f"inside the loop that appends to '{lst.name}', only its items from before the loop "
            f"(0 <= i < {lst.base}) and those appended earlier in the same iteration ({lst.name}[-1] after "
            "an append) can be read", node)


def _dyn0():
    from ..ops import Dyn
    return Dyn(0)


__all__ = ["as_array", "stack_nested", "rows", "comprehension", "append", "ListProbe", "Appending", "TupleType",
           "GrowList", "to_growlist", "grown_array", "length", "counter", "reset_types", "carry_counters"]
