"""The front end: a Python function's source (libcst) -> typed structured SSA IR.

`compile_function(fn, arg_types)` specialises `fn` on the types of its
arguments. Statements are converted in order with an environment mapping
variable names to front-end values (values.py); control flow becomes the IR's
structured ops:

- `if` on a run-time condition -> an `if` op whose results are the variables
  either branch assigns (a static condition just picks the branch);
- `for` over range / an array's first axis / enumerate / zip -> a `for` op with
  the variables the body reassigns as loop-carried values (a tuple is unrolled);
- `while`, and a `for` containing break or return -> a `while` op;
- break / continue / early return -> flags (`broke`, `cont`, `returned`, `ret`)
  and the rest of a block guarded by an `if` on them; a branch that always
  returns has the rest of its block moved into the other branch instead.

Calls to user functions are inlined (recursion is not); library calls lower
through library.py. What cannot be compiled raises UnsupportedSyntax with the
user's file, line and column.
"""
from __future__ import annotations

import builtins
import inspect
import weakref

import libcst as cst
import numpy as np

from . import closures, lists
from .builder import Builder
from .errors import UnsupportedSyntax
from .expressions import ExpressionMixin, _static_name
from .ir import Block, Function, Op, Value, use_counts, walk
from .external import Guard, Hidden, Ref, guard_for, is_stable_module, snapshot
from .memory import unsafe_write
from .scan import always_exits, assigned_names, contains, else_statements, statements, target_names
from .source import function_source
from .types import LiteralType, I64, NONE, type_of_value, unify
from .values import BoundMethod, GrowList, ListBuffer, PyTuple, Static, Undefined, static_equal
from ..ops.dims import Dim, ShapeEnv, Unbacked, has_dims

FLAGS = ("#returned", "#broke", "#cont")
HINTS = {"#returned": "returned", "#ret": "ret", "#broke": "broke", "#cont": "cont", "#k": "k"}


def hint_of(name):
    """The name generated code gives a front-end variable (flags, a list's length counter)."""
    if name is not None and name.startswith("#len "):
        return "n_" + name.split()[1]
    return HINTS.get(name, name)


_UNSUPPORTED_STMT = {
    cst.Try: "try/except is not supported", cst.With: "with statements are not supported",
    cst.ClassDef: "class definitions are not supported", cst.Raise: "raise is not supported",
    cst.Global: "global statements are not supported", cst.Nonlocal: "nonlocal statements are not supported",
    cst.Import: "import inside the function is not supported", cst.ImportFrom: "import inside the function is not supported",
    cst.Del: "del is not supported",
}
if hasattr(cst, "Match"):
    _UNSUPPORTED_STMT[cst.Match] = "match statements are not supported"
if hasattr(cst, "TryStar"):
    _UNSUPPORTED_STMT[cst.TryStar] = "try/except* is not supported"
_MISSING = object()


class _Ctx:
    """One function being converted: the top-level one or an inlined helper."""
    __slots__ = ("fn", "src", "closure", "guards")

    def __init__(self, fn, src, guards):
        self.fn, self.src = fn, src
        self.guards = guards  # external.Guard for everything compiled in as a constant
        code = fn.__code__
        self.closure = dict(zip(code.co_freevars, fn.__closure__ or ()))
        # the function itself: a new body or new defaults must recompile
        me = weakref.ref(fn)
        for attr in ("__code__", "__defaults__"):
            guards.append(Guard(Ref(me, [("weak", None), ("attr", attr)]), "is", getattr(fn, attr)))
        kw = fn.__kwdefaults__
        guards.append(Guard(Ref(me, [("weak", None), ("attr", "__kwdefaults__")]), *(
            ("is", None) if kw is None else ("eq", snapshot(kw)))))

    def lookup_global(self, name):
        """(value, Ref) of a closure variable or a global; a builtin has no Ref, but a guard
        that no global of that name appears later."""
        cell = self.closure.get(name)
        if cell is not None:
            try:
                value = cell.cell_contents
            except ValueError:
                raise KeyError(name) from None
            return value, Ref(cell, [("cell", name)])
        g = self.fn.__globals__
        if name in g:
            return g[name], Ref(g, [("item", name)])
        if hasattr(builtins, name):
            self.guards.append(Guard(Ref(g, [("item", name)]), "absent", None))
            return getattr(builtins, name), None
        raise KeyError(name)


def _rounds_a_float(v, static, t):
    """Whether merging `v`, a Python float, into the narrower float type `t` may change its value
    (a constant that `t` holds exactly does not)."""
    vt = v.type
    if not (vt.is_scalar and vt.dtype.kind == "f" and t.dtype.kind == "f" and t.dtype.itemsize < vt.dtype.itemsize):
        return False
    if isinstance(static, Static) and isinstance(static.raw, (int, float)):
        return float(t.dtype.type(static.raw)) != float(static.raw)
    return True


class _Iteration:
    """What a for loop iterates: k in range(start, stop, step), item(k) bound to the target."""

    def __init__(self, start, stop, step, item, length=None, plain=False):
        self.start, self.stop, self.step, self.item, self.length = start, stop, step, item, length
        self.plain = plain   # the item is the counter itself (range)


class Frontend(ExpressionMixin):
    def __init__(self):
        self.b = Builder()
        self.ctx = None
        self.env = {}
        self.node = None
        self.callee = self.callee_name = None
        self._stack = []      # functions being converted (top level, then inlined helpers)
        self.iterated = []    # names in the iterables of the enclosing for loops
        self.writes = []      # (op, variable name, node): in-place writes of the user's code (see memory.py)
        self.externals = []   # Statics read from outside the function (see external.py)
        self.hidden = {}      # Ref -> (parameter Value, Hidden): values outside the function read per call
        self.keeps = {}       # op -> operand index: its result holds that operand's memory too (list appends)
        self._callers = []    # environments of the functions an inlined helper was called from
        self._frames = [object()]   # one per function being converted (closures.py finds their variables)
        self._shape_env = None      # symbolic extents (ops/dims.py): the arguments', or one made for lists

    # ---- errors and values -------------------------------------------------
    def fail(self, reason, node=None):
        raise UnsupportedSyntax(reason, *self.ctx.src.loc(node if node is not None else self.node))

    def loc(self, node):
        return self.ctx.src.loc(node)

    def shape_env(self):
        """The ShapeEnv of this specialisation's symbolic extents (a new one if it has none)."""
        if self._shape_env is None:
            self._shape_env = ShapeEnv()
        return self._shape_env

    def prim(self, name, *args, weak=True, **params):
        self.b.loc = self.loc(self.node)
        vals = [self.val(a) for a in args]
        try:
            return self.b.prim(name, *vals, weak=weak, **params)
        except UnsupportedSyntax as e:
            if e.file is None:
                self.fail(e.reason)
            raise

    def val(self, x):
        """A front-end value as an IR Value (constants are made here, on first run-time use)."""
        if isinstance(x, Value):
            return x
        if isinstance(x, Static):
            v = x.raw
            if x.ref is not None:
                if _is_number(v):
                    return self.hidden_input(x.ref, type_of_value(v))
                x.read = True   # compiled in as a constant: guarded
            if isinstance(v, np.ndarray) and v.dtype.kind not in "biuf":
                self.fail(f"an array of dtype {v.dtype} cannot be a run-time value")
            if isinstance(v, np.ndarray) and not x.fresh:
                return self.live_constant(v, self.node)   # made outside the function: read when it runs
            if isinstance(v, np.ndarray) and v.size > 1 and (v == v.flat[0]).all():
                return self.b.full(v.flat[0].item(), type_of_value(v))
            if isinstance(v, (bool, int, float, np.ndarray, np.generic, Dim)) or v is None:
                return self.b.const(v)     # (a Dim: an extent of a shape-generic specialisation)
            if isinstance(v, (tuple, list)):
                return self.b.tuple([self.val(Static(i)) for i in v])
            self.fail(f"{_static_name(v)} cannot be used as a run-time value")
        if isinstance(x, PyTuple):
            return self.b.tuple([self.val(i) for i in x.items])
        if isinstance(x, lists.Appending):
            return x.array    # the buffer a loop carries
        if isinstance(x, ListBuffer):
            return self.b.tuple(lists.rows(self, x))
        if isinstance(x, GrowList):
            self.fail(f"the list '{x.name}', whose length is known only at run time, can be read as an array "
                      f"(np.stack({x.name}), np.array({x.name}), np.sum({x.name}) ...), by len() and by index, "
                      "but not used as a Python list here")
        if isinstance(x, Undefined):
            self.fail(x.reason)
        if isinstance(x, BoundMethod):
            self.fail(f"the method .{x.name} cannot be used as a value (call it)")
        if isinstance(x, closures.Closure):
            self.fail(f"the function '{x.name}' cannot be used as a run-time value (only called)")
        raise TypeError(f"not a front-end value: {x!r}")

    # ---- values from outside the function (external.py) ----------------------
    def external(self, value, ref, node=None):
        """What reading `value` at `ref` (a global, closure variable, attribute or item) gives."""
        try:
            value.__class__   # what isinstance reads: a lazy proxy may raise here
        except Exception as e:
            self.fail(f"'{ref.text()}' cannot be inspected at compile time (reading its __class__ raised "
                      f"{type(e).__name__}: {e})", node)
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            return self.hidden_input(ref, type_of_value(value))
        if is_stable_module(value):
            self.guards.append(Guard(ref, "is", value))
            return Static(value)
        s = Static(value, ref=ref)
        self.externals.append(s)
        return s

    def hidden_input(self, ref, t):
        """The parameter through which the compiled code reads the value at `ref` on each call."""
        got = self.hidden.get(ref)
        if got is None:
            got = self.hidden[ref] = (Value(t, ref.hint()), Hidden(ref, t))
        return got[0]

    def truth(self, x, node):
        """A bool scalar Value (or Static) for `if x:` / `while x:`."""
        if isinstance(x, Static):
            return Static(bool(x.value))
        if isinstance(x, PyTuple):
            return Static(bool(x.items))
        if isinstance(x, ListBuffer):
            return Static(x.length > 0)
        if isinstance(x, GrowList):
            return self.binop("gt", lists.length(self, x), Static(0))
        v = self.val(x)
        t = v.type
        if t.is_tuple:
            return Static(len(t.elems) > 0)
        if t == NONE:
            return Static(False)
        if t.is_array and t.size != 1:
            self.fail(f"the truth value of an array of type {t} is ambiguous (use .any() or .all())", node)
        if t.is_array and t.shape:
            self.node = node
            v = self.prim("reshape", v, shape=())
        if t.dtype == np.bool_:
            return v
        self.node = node
        return self.prim("ne", v, 0)

    def convert(self, v, t):
        """`v` converted to type `t` (a unified type) in the current block."""
        if v.type == t:
            return v
        if t.is_tuple:
            parts = self.b.untuple(v)
            return self.b.tuple([self.convert(p, e) for p, e in zip(parts, t.elems)])
        if v.type.dtype != t.dtype or v.type.is_scalar != t.is_scalar:
            v = self.b.prim("astype", v, dtype=t.dtype, weak=t.is_scalar)
        if v.type.shape != t.shape:
            v = self.b.prim("broadcast_to", v, shape=t.shape)
        return v

    def bind(self, name, x):
        if isinstance(x, Static) and x.fresh and isinstance(x.raw, np.ndarray):
            # an array made here (np.zeros(3)) becomes one IR value now, so every name bound to it
            # names that value and the memory analysis sees them share it (`total = acc; acc += 1`)
            with self.b.located(self.loc(self.node)):
                x = self.val(x)
        if isinstance(x, Value) and x.hint is None:
            x.hint = name
        self.env[name] = x

    # ---- entry -------------------------------------------------------------
    def compile(self, fn, arg_types):
        src = function_source(fn)
        self.guards = []
        self.ctx = _Ctx(fn, src, self.guards)
        self._stack = [fn]
        self.env = {}
        self.node = src.node
        block = Block()
        self.b = Builder(block, self.loc(src.node))
        params = []
        given = dict(arg_types) if isinstance(arg_types, dict) else None
        if inspect.ismethod(fn):
            # its object's attributes (a model's weights) change between calls; compiled code would freeze them
            self.fail(f"bound methods are not compiled: {fn.__name__} reads attributes of its object, which may "
                      "change between calls (pass the arrays as arguments to compile)", src.node)
        for k, (pname, p) in enumerate(inspect.signature(fn).parameters.items()):
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                self.fail(f"*args/**kwargs parameters are not supported ('{pname}')", src.node)
            if given is not None:
                t = given.get(pname, _MISSING)
            else:
                t = arg_types[k] if k < len(arg_types) else _MISSING
            if t is _MISSING:
                if p.default is p.empty:
                    raise TypeError(f"{fn.__name__}() needs a type for argument '{pname}'")
                self.env[pname] = Static(p.default)
                continue
            v = Value(t, pname)
            for d in (t.shape if t.is_array else ()):
                if isinstance(d, Dim):
                    self._shape_env = d.env
            params.append(v)
            self.env[pname] = Static(None) if t == NONE else Static(t.value) if isinstance(t, LiteralType) else v
        self.block(statements(src.node.body))
        result = self.finish(src.node)
        self.b.loc = self.loc(src.node)
        self.b.return_(self.val(result))
        out = Function(fn.__name__, params + [v for v, _ in self.hidden.values()], block, self.loc(src.node))
        for op in walk(block):
            op.user = True
        guards = self.guards + [guard_for(s.ref, s.raw) for s in self.externals if s.read]
        out.guards = tuple({(g.ref.key(), g.mode): g for g in guards}.values())
        out.hidden = tuple(h for _, h in self.hidden.values())
        self.check_writes(out)
        return out

    def finish(self, def_node):
        returned = self.env.get("#returned")
        if returned is None or isinstance(returned, Static) and not returned.value:
            return Static(None)
        ret = self.env["#ret"]
        if isinstance(returned, Static):
            return ret
        if self.type_of(ret) == NONE:
            return Static(None)
        self.fail(f"'{def_node.name.value}' can reach its end without a return statement on some paths "
                  "(it would return None there)", def_node)

    def inline(self, fn, args, kwargs, node):
        name = fn.__name__
        if any(c is fn for c in self._stack):
            self.fail(f"recursive call to '{name}' is not supported", node)
        try:
            src = function_source(fn)
        except UnsupportedSyntax as e:
            self.fail(f"cannot inline '{name}': {e.reason}", node)
        sig = inspect.signature(fn)
        for pname, p in sig.parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                self.fail(f"cannot inline '{name}': *args/**kwargs parameters are not supported", node)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            self.fail(f"bad call to '{name}': {e}", node)
        env = {p: bound.arguments.get(p, _MISSING) for p in sig.parameters}
        for p, v in env.items():
            if v is _MISSING:
                env[p] = Static(sig.parameters[p].default)
        lists.carry_counters(self.env, env, list(env.values()))
        saved = (self.ctx, self.env, self.node)
        self._callers.append(self.env)
        self._frames.append(object())
        self.ctx, self.env = _Ctx(fn, src, self.guards), env
        self._stack.append(fn)
        try:
            self.block(statements(src.node.body))
            out = self.finish(src.node)
            lists.carry_counters(self.env, saved[1], [out])
            return out
        finally:
            self._stack.pop()
            self._frames.pop()
            self._callers.pop()
            self.ctx, self.env, self.node = saved

    def envs(self):
        """The variable environments in scope: this function's and its inlining callers'."""
        return [self.env] + self._callers[::-1]

    def frame_id(self):
        return self._frames[-1]

    def frame_env(self, frame):
        """The variables of a function being converted (None if it has returned)."""
        for k, f in enumerate(self._frames):
            if f is frame:
                return self.env if k == len(self._frames) - 1 else self._callers[k]
        return None

    # ---- statements --------------------------------------------------------
    def block(self, stmts):
        for i, s in enumerate(stmts):
            rest = stmts[i + 1:]
            if isinstance(s, cst.If) and rest and self._restructure(s, rest):
                return
            self.stmt(s)
            exit_ = self._exit_condition(s)
            if exit_ is True:
                return
            if exit_ is not None and rest:
                self._guard(*exit_, rest)
                return

    def _restructure(self, s, rest):
        """`if c: ...return` followed by more statements: the rest becomes the else branch."""
        if always_exits(statements(s.body)):
            self.stmt_If(s, extra_else=rest)
            return True
        if s.orelse is not None and always_exits(else_statements(s)):
            self.stmt_If(s, extra_then=rest)
            return True
        return False

    def _exit_condition(self, node):
        dynamic = []
        for f in FLAGS:
            v = self.env.get(f)
            if isinstance(v, Static):
                if v.value:
                    return True
            elif v is not None:
                dynamic.append(f)
        if not dynamic:
            return None
        self.node = node
        cond = self.env[dynamic[0]]
        for f in dynamic[1:]:
            cond = self.prim("logical_or", cond, self.env[f])
        return cond, dynamic

    def _guard(self, cond, flags, rest):
        """Run `rest` only when no exit flag is set: if cond { (exit) } else { rest }."""
        def exiting():
            if len(flags) == 1:
                self.env[flags[0]] = Static(True)
            return []

        def going_on():
            for f in flags:
                self.env[f] = Static(False)
            self.block(rest)
            return []
        self.branch(cond, exiting, going_on, rest[0])

    def stmt(self, node):
        self.node = node
        method = getattr(self, "stmt_" + type(node).__name__, None)
        if method is None:
            self.fail(_UNSUPPORTED_STMT.get(type(node), f"the statement {type(node).__name__} is not supported"),
                      node)
        try:
            method(node)
        except Unbacked as e:   # a decision on the length of a list known only at run time
            self.fail(str(e), self.node if self.node is not None else node)

    def stmt_Pass(self, node):
        pass

    def stmt_FunctionDef(self, node):
        self.bind(node.name.value, closures.define(self, node))

    def stmt_Expr(self, node):
        if isinstance(node.value, (cst.SimpleString, cst.ConcatenatedString, cst.Ellipsis)):
            return   # docstring
        self.expr(node.value)

    def stmt_Assign(self, node):
        value = self.expr(node.value)
        for t in node.targets:
            self.assign(t.target, value, node)

    def stmt_AnnAssign(self, node):
        if node.value is not None:
            self.assign(node.target, self.expr(node.value), node)

    def stmt_AugAssign(self, node):
        op = _augop(node.operator)
        t = node.target
        if isinstance(t, cst.Name):
            cur = self.lookup(t.value, t)
            if self.type_of(cur).is_array:
                # NumPy updates an array in place (a 0-d array too; a NumPy scalar is rebound, but the
                # IR types do not tell the two apart, so both are treated as writes)
                cur = self._before_write(t.value, node)
                new = self.binop_node(op, cur, self.expr(node.value), node)
                if not isinstance(new, Value) or new.type != cur.type:
                    self.fail(f"'{t.value} {_augsym(node.operator)}' changes the array's "
                              f"{'shape' if self.type_of(new).shape != cur.type.shape else 'dtype'} "
                              f"({cur.type} to {self.type_of(new)}); NumPy cannot do that in place", node)
                self._record_write(new, t.value, node)
                self.bind(t.value, new)
                return
            self.bind(t.value, self.binop_node(op, cur, self.expr(node.value), node))
        elif isinstance(t, cst.Subscript):
            cur = self.expr_Subscript(t)
            self.assign(t, self.binop_node(op, cur, self.expr(node.value), node), node)
        else:
            self.fail("augmented assignment to this target is not supported", t)

    def stmt_Return(self, node):
        self.env["#ret"] = Static(None) if node.value is None else self.expr(node.value)
        self.env["#returned"] = Static(True)

    def stmt_Break(self, node):
        self.env["#broke"] = Static(True)

    def stmt_Continue(self, node):
        self.env["#cont"] = Static(True)

    def stmt_Assert(self, node):
        test = self.expr(node.test)
        if not isinstance(test, Static):
            self.fail("assert on a run-time value is not supported", node)
        if not test.value:
            self.fail("this assertion always fails", node)

    # ---- assignment --------------------------------------------------------
    def assign(self, target, value, node):
        if isinstance(target, cst.Name):
            self.bind(target.value, value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elems = target.elements
            if any(isinstance(e, cst.StarredElement) for e in elems):
                self.fail("starred assignment targets are not supported", target)
            for e, item in zip(elems, self.unpack(value, len(elems), target)):
                self.assign(e.value, item, node)
        elif isinstance(target, cst.Subscript):
            self._assign_item(target, value, node)
        elif isinstance(target, cst.Attribute):
            self.fail("assigning to an attribute is not supported", target)
        else:
            self.fail(f"assignment to {type(target).__name__} is not supported", target)

    def unpack(self, value, n, node):
        if isinstance(value, PyTuple):
            items = value.items
        elif isinstance(value, Static) and isinstance(value.value, (tuple, list)):
            items = [Static(v) for v in value.value]
        else:
            v = self.val(value)
            if v.type.is_tuple:
                self.b.loc = self.loc(node)
                items = list(self.b.untuple(v))
            elif isinstance(value, ListBuffer) and value.length == n:
                items = lists.rows(self, value)
            elif v.type.is_array and v.type.shape and v.type.shape[0] == n:
                self.node = node
                items = [self.prim("getitem", v, idx=k) for k in range(n)]
            else:
                self.fail(f"cannot unpack a value of type {v.type} into {n} names", node)
        if len(items) != n:
            self.fail(f"cannot unpack {len(items)} values into {n} names", node)
        return items

    def _assign_item(self, target, value, node):
        if not isinstance(target.value, cst.Name):
            self.fail("assignment into a nested subscript is not supported (use x[i, j] = ...)", target)
        name = target.value.value
        self.lookup(name, target.value)
        cur = self._before_write(name, target)
        mask = self._run_time_mask(target, cur)
        self.node = node
        if mask is not None:   # x[mask] = v: NumPy writes v where mask is true
            t = self.type_of(value)
            if not (t.is_scalar or t.is_array and t.shape == ()):
                self.fail("x[mask] = v with a boolean mask computed at run time needs a scalar v (how many items "
                          "it takes depends on the data; use np.where(mask, v, x))", node)
            merged = self.prim("where", mask, self.prim("astype", value, dtype=cur.type.dtype, weak=False), cur)
            new = self.prim("setitem", cur, merged, idx=Ellipsis)
            self._record_write(new, name, target)
            self.bind(name, new)
            return
        parts, dyn = self.index(target)
        new = self.prim("setitem", cur, value, *dyn, idx=parts)
        self._record_write(new, name, target)
        self.bind(name, new)

    def _run_time_mask(self, target, cur):
        """The boolean array of `x[mask] = ...` when it is a run-time value of x's shape (else None)."""
        if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
            return None
        node = target.slice[0].slice.value
        if not isinstance(node, (cst.Name, cst.Comparison, cst.UnaryOperation, cst.BinaryOperation, cst.Call)):
            return None
        saved = len(self.b.block.ops)
        m = self.expr(node)
        if isinstance(m, Value) and m.type.is_array and m.type.dtype == np.bool_ and m.type.shape == cur.type.shape:
            return m
        del self.b.block.ops[saved:]   # not a mask: the subscript is converted again as an index
        return None

    # ---- in-place writes ---------------------------------------------------
    # The IR is functional: `x[i] = v` becomes x' = setitem(x, v), which is what Python does
    # only if nothing reads x's memory through another name afterwards. The front end records
    # each write; `check_writes` asks the memory analysis (memory.py) about all of them once
    # the whole function is built, and refuses the function where a write is not safe.
    def _before_write(self, name, node):
        """The value `name` holds, as an IR value (the same value for every name bound to it)."""
        if any(name in names for names in self.iterated):
            self.fail(f"changing '{name}' in place while a for loop iterates over it is not supported "
                      f"(iterate over {name}.copy(), or by index)", node)
        cur = self.env[name]
        if isinstance(cur, Static):
            v = self.val(cur)
            for n, x in list(self.env.items()):   # other names of the same array see the same value
                if x is cur:
                    self.env[n] = v
                elif isinstance(x, PyTuple) and any(i is cur for i in x.items):
                    self.env[n] = PyTuple([v if i is cur else i for i in x.items], x.is_list)
            return v
        return self.val(cur)

    def _record_write(self, new, name, node):
        op = self.b.block.ops[-1]
        assert op.results and op.results[0] is new, "the write's op is the last one built"
        self.writes.append((op, name, node, self.ctx, dict(self.env)))

    def check_writes(self, fn):
        """Refuse `fn` if an in-place write of the user's code is not safe to compile (see memory.py)."""
        found = unsafe_write(fn, [w[0] for w in self.writes], self.keeps)
        if found is None:
            return
        op, kind, detail = found
        name, node, self.ctx, env = next(w[1:] for w in self.writes if w[0] is op)
        if kind == "param":
            self.fail(f"changing '{name}' in place would modify an array the caller passed in; "
                      f"copy it first ({name} = {name}.copy())", node)
        if kind == "extern":
            self.fail(f"'{name}' is a constant array defined outside the function; changing it in place is "
                      "not supported (copy it first)", node)
        value, use = detail
        names = [n for n, v in env.items() if v is value and n != name and not n.startswith("#")]
        other = names[0] if names else value.hint if value.hint and value.hint != name else "an earlier value"
        line = f" at line {use.loc[1]}" if use.loc else ""
        self.fail(f"'{name}' shares its data with '{other}', which is read{line} after this in-place change; "
                  "changing it in place would change both (use .copy())", node)

    # ---- if ----------------------------------------------------------------
    def stmt_If(self, node, extra_then=(), extra_else=()):
        test = self.expr(node.test)
        cond = self.truth(test, node.test)
        then_stmts = statements(node.body) + list(extra_then)
        else_stmts = else_statements(node) + list(extra_else)
        if isinstance(cond, Static):
            self.block(then_stmts if cond.value else else_stmts)
            return
        lists.grow_before_branch(self, then_stmts + else_stmts, node)
        self.branch(cond, lambda: self.block(then_stmts) or [], lambda: self.block(else_stmts) or [], node)

    def if_values(self, cond, then_fn, else_fn, node):
        return self.branch(cond, then_fn, else_fn, node)[0]

    def branch(self, cond, then_fn, else_fn, node):
        """Build an `if` op: each fn runs in its own region on a copy of the
        environment and returns extra values to yield; variables either branch
        changed become results. Returns the merged extra values."""
        if isinstance(cond, Static):
            return (then_fn if cond.value else else_fn)()
        loc = self.loc(node)
        before = self.env
        blocks, envs, extras = [Block(), Block()], [], []
        for blk, fn in zip(blocks, (then_fn, else_fn)):
            self.env = dict(before)
            with self.b.at(blk):
                extras.append(fn())
            envs.append(self.env)
        merged = dict(before)
        slots = []          # (name or None, [then value, else value])
        for n in dict.fromkeys(list(envs[0]) + list(envs[1])):
            vals = [e.get(n, _MISSING) for e in envs]
            if all(v is before.get(n, _MISSING) for v in vals):
                continue
            if _MISSING in vals:
                if n in FLAGS:
                    vals = [Static(False) if v is _MISSING else v for v in vals]
                elif n != "#ret":
                    merged[n] = Undefined(f"'{n}' is assigned on only one branch of the if at line {loc[1]}")
                    continue
            undefined = [v for v in vals if isinstance(v, Undefined)]
            if undefined:
                merged[n] = undefined[0]
                continue
            if all(isinstance(v, Static) for v in vals) and static_equal(*vals):
                merged[n] = vals[0]
                continue
            slots.append((n, vals))
        slots += [(None, [a, b]) for a, b in zip(*extras)]
        yields, types, names = [[], []], [], []
        for n, vals in slots:
            mats = [None, None]
            for j in (0, 1):
                if vals[j] is not _MISSING:
                    with self.b.at(blocks[j]), self.b.located(loc):
                        mats[j] = self.val(vals[j])
            for j in (0, 1):     # a return value missing on one side: zeros of its type
                if mats[j] is None:
                    with self.b.at(blocks[j]), self.b.located(loc):
                        mats[j] = self.b.zeros(mats[1 - j].type)
            t = unify(mats[0].type, mats[1].type)
            if t is not None and any(_rounds_a_float(mats[j], vals[j], t) for j in (0, 1)):
                t = None      # a Python float on one path, float32 on the other: Python keeps the float
            if t is None:
                why = f"on one branch of the if at line {loc[1]} and {mats[1].type} on the other"
                if n is None:
                    self.fail(f"the branches give values of different types: {mats[0].type} {why}", node)
                label = "the return value" if n == "#ret" else f"'{n}'"
                merged[n] = Undefined(f"{label} has type {mats[0].type} {why}")
                continue
            for j in (0, 1):
                with self.b.at(blocks[j]), self.b.located(loc):
                    yields[j].append(self.convert(mats[j], t))
            types.append(t)
            names.append(n)
        for j in (0, 1):
            with self.b.at(blocks[j]), self.b.located(loc):
                self.b.yield_(yields[j])
        op = self.b.add(Op("if", [self.val(cond)], types, regions=blocks, loc=loc,
                           hints=[hint_of(n) for n in names]))
        out = []
        for n, r in zip(names, op.results):
            if n is None:
                out.append(r)
            else:
                merged[n] = r
        self.env = merged
        return out

    # ---- loops -------------------------------------------------------------
    def stmt_For(self, node):
        if node.orelse is not None:
            self.fail("for ... else is not supported", node)
        if node.asynchronous is not None:
            self.fail("async for is not supported", node)
        body = statements(node.body)
        it = self.iteration(node.iter)
        # NumPy yields live elements: writing into what the loop iterates over changes what it sees next
        iterated = _iterated_names(node.iter)
        self.iterated.append(iterated)
        try:
            if isinstance(it, list):
                self._unroll(node, body, it)
            elif contains(body, (cst.Break,), True) or contains(body, (cst.Return,), False):
                self._while_loop(node, body, it)
            else:
                self._for_loop(node, body, it)
        finally:
            self.iterated.pop()

    def stmt_While(self, node):
        if node.orelse is not None:
            self.fail("while ... else is not supported", node)
        self._while_loop(node, statements(node.body), None)

    def iteration(self, node):
        """What `for ... in node` iterates: an _Iteration, or a list of items to unroll."""
        if isinstance(node, cst.Call):
            fn = self.expr(node.func)
            if isinstance(fn, Static) and fn.value in (range, enumerate, zip):
                args = [a for a in node.args]
                if any(a.star for a in args):
                    self.fail("starred arguments are not supported here", node)
                pos = [a.value for a in args if a.keyword is None]
                kw = {a.keyword.value: a.value for a in args if a.keyword is not None}
                if fn.value is range:
                    return self._range(node, [self.expr(a) for a in pos], kw)
                if fn.value is enumerate:
                    return self._enumerate(node, pos, kw)
                return self._zip(node, pos, kw)
        x = self.expr(node)
        return self._iterate_value(x, node)

    def _iterate_value(self, x, node):
        if isinstance(x, PyTuple):
            return list(x.items)
        if isinstance(x, GrowList):
            self.node = node
            x = lists.as_array(self, x)
        if isinstance(x, ListBuffer):
            x = x.array
        if isinstance(x, Static):
            if isinstance(x.value, (tuple, list)):
                return [Static(v) for v in x.value]
            if isinstance(x.value, range):
                r = x.value
                return self._range(node, [Static(r.start), Static(r.stop), Static(r.step)], {})
            if not isinstance(x.value, np.ndarray):
                self.fail(f"cannot iterate over {_static_name(x.value)}", node)
        v = self.val(x)
        if v.type.is_tuple:
            return list(self.b.untuple(v))
        if not v.type.is_array or not v.type.shape:
            self.fail(f"cannot iterate over a value of type {v.type}", node)

        def item(k):
            self.node = node
            return self.prim("getitem", v, k, idx=_dyn0())
        return _Iteration(Static(0), Static(v.type.shape[0]), Static(1), item, v.type.shape[0])

    def _range(self, node, args, kw):
        if kw or not 1 <= len(args) <= 3:
            self.fail("range() takes 1 to 3 positional arguments", node)
        if len(args) == 1:
            args = [Static(0)] + args
        if len(args) == 2:
            args = args + [Static(1)]
        for a in args:
            t = self.type_of(a)
            if not (t.is_scalar or t.is_array and t.shape == ()) or t.dtype.kind not in "iub":
                self.fail(f"range() needs integers, got {t}", node)
        start, stop, step = args
        if isinstance(step, Static) and step.value == 0:
            self.fail("range() step must not be zero", node)
        length = None
        if all(isinstance(a, Static) for a in args):
            length = len(range(start.value, stop.value, step.value))
        return _Iteration(start, stop, step, lambda k: k, length, plain=True)

    def _counted(self, node, x):
        """An iterable inside enumerate/zip as (length, item(k)) over k = 0, 1, ..."""
        it = self.iteration(x)
        if isinstance(it, list):   # a tuple or list: its items, known at compile time (k is static)
            return len(it), lambda k: it[k.value], True
        if it.length is None:
            self.fail("enumerate/zip need iterables of a length known at compile time", node)
        if isinstance(it.start, Static) and isinstance(it.step, Static) and (it.start.value, it.step.value) == (0, 1):
            return it.length, it.item, False

        def item(k):
            self.node = node
            return it.item(self.binop("add", it.start, self.binop("mul", k, it.step)))
        return it.length, item, False

    def _enumerate(self, node, pos, kw):
        if len(pos) != 1 or set(kw) - {"start"}:
            self.fail("enumerate() takes one iterable (and start=)", node)
        n, inner, unrolled = self._counted(node, pos[0])
        start = self.expr(kw["start"]) if "start" in kw else Static(0)

        def item(k):
            self.node = node
            idx = k if isinstance(start, Static) and start.value == 0 else self.binop("add", k, start)
            return PyTuple([idx, inner(k)])
        if unrolled:
            return [item(Static(k)) for k in range(n)]
        return _Iteration(Static(0), Static(n), Static(1), item, n)

    def _zip(self, node, pos, kw):
        if kw or not pos:
            self.fail("zip() takes one or more iterables", node)
        parts = [self._counted(node, p) for p in pos]
        n = min(p[0] for p in parts)
        if any(unrolled for _, _, unrolled in parts):
            return [PyTuple([f(Static(k)) for _, f, _ in parts]) for k in range(n)]
        return _Iteration(Static(0), Static(n), Static(1), lambda k: PyTuple([f(k) for _, f, _ in parts]), n)

    def _unroll(self, node, body, items):
        if contains(body, (cst.Break, cst.Continue), True) or contains(body, (cst.Return,), False):
            self.fail("break/continue/return in a loop over a tuple is not supported", node)
        for item in items:
            self.assign(node.target, item, node)
            self.block(body)

    def _loop_names(self, body, node):
        targets = target_names(node.target, []) if isinstance(node, cst.For) else []
        assigned = [n for n in assigned_names(body) if n not in targets]
        carried = [n for n in assigned if n in self.env and not isinstance(self.env[n], Undefined)]
        return carried, assigned + targets

    def _after_loop(self, before, names, results, assigned, node, saved_flags):
        self.env = before
        for n, r in zip(names, results):
            self.env[n] = r
        line = self.loc(node)[1]
        for n in assigned:
            if n in names:
                continue
            self.env[n] = Undefined(f"'{n}' is set inside the loop at line {line}; using it after the loop is "
                                    "not supported (assign it before the loop to carry it out)")
        for f in ("#broke", "#cont", "#k"):
            self.env.pop(f, None)
        self.env.update(saved_flags)

    def _enter_loop(self):
        saved = {f: self.env.pop(f) for f in ("#broke", "#cont", "#k") if f in self.env}
        return dict(self.env), saved

    def _for_loop(self, node, body, it):
        loc = self.loc(node)
        self.b.loc = loc
        # {list name: appends per iteration}, and the lists of unknown length it appends to
        appends, grown = lists.appended_in_loop(self, body, node, it)
        for n in appends:
            lists.check_unshared(self, n, node)
        before, saved = self._enter_loop()
        names, local = self._loop_names(body, node)
        names = [n for n in names if n not in appends] + [lists.counter(self.env[n]) for n in grown]
        bounds = [self.val(x) for x in (it.start, it.stop, it.step)]
        inits = [self.val(before[n]) for n in names]
        iv_hint = node.target.value if isinstance(node.target, cst.Name) and it.plain else "i"
        probes = {}

        def attempt(names, inits):
            lists.reset_types(self, grown, before)
            types = [v.type for v in inits]
            blk = Block([I64] + types, hints=[iv_hint] + [hint_of(n) for n in names])
            self._enter_body(before, names, blk.args[1:], inits)
            with self.b.at(blk):
                if appends:
                    self._bind_appended(appends, probes, blk.args[0], it, before)
                self.assign(node.target, it.item(blk.args[0]), node)
                self.env["#cont"] = Static(False)
                self.block(body)
            return blk, [blk]

        runs = it.length is not None and it.length > 0
        if appends:   # convert the body once to learn what it appends, then preallocate
            probes.update({n: lists.ListProbe(n, node, lists.prefix_items(self, before[n])) for n in appends})
            self._fixpoint(node, names, inits, attempt, runs)
            self.env = dict(before)
            with self.b.located(loc):
                for n, m in appends.items():
                    t = lists.elem_type(self, probes[n])
                    names.append(n)
                    inits.append(lists.new_buffer(self, lists.prefix_items(self, before[n]), t, m * it.length))
            probes.clear()
        blk, names, inits, types = self._fixpoint(node, names, inits, attempt, runs)
        op = self.b.add(Op("for", bounds + inits, types, regions=[blk], loc=loc, hints=[hint_of(n) for n in names]))
        self._after_loop(before, names, op.results, local, node, saved)
        for n, m in appends.items():
            self.env[n] = ListBuffer(self.env[n], op.results[names.index(n)].type.shape[0])

    def _bind_appended(self, appends, probes, counter, it, before):
        """In a loop body: the lists it appends to, as probes or as the carried buffers."""
        if probes:
            for n in appends:
                self.env[n] = probes[n]
                probes[n].values, probes[n].types = [], []
            return
        k = counter
        start, step = it.start.value, it.step.value
        if start:
            k = self.binop("sub", k, Static(start))
        if step != 1:
            k = self.binop("floor_divide", k, Static(step))
        for n, m in appends.items():
            prev = before[n]
            base = prev.length if isinstance(prev, ListBuffer) else len(prev.items)
            self.env[n] = lists.Appending(n, self.env[n], base, m, k)

    def _enter_body(self, before, names, args, inits):
        self.env = dict(before)
        for n, a, i in zip(names, args, inits):
            self.env[n] = a

    def _fixpoint(self, node, names, inits, attempt, runs_once):
        """Convert a loop body until the types of the carried variables settle.

        attempt(names, inits) builds the regions for those carried variables and returns
        (region that yields, all regions); the variables' values at the end of
        the body are read from the environment it leaves. A variable whose
        type changes is converted before the loop (weak -> strong scalar,
        int -> float, scalar -> array when the loop surely runs)."""
        names, inits = list(names), list(inits)
        loc = self.loc(node)
        for _ in range(6):
            types = [v.type for v in inits]
            yblock, regions = attempt(names, inits)
            self.env.pop("#cont", None)
            with self.b.at(yblock), self.b.located(loc):
                ends = []
                for n in names:
                    v = self.env.get(n, _MISSING)
                    if v is _MISSING or isinstance(v, Undefined):
                        self.fail(v.reason if isinstance(v, Undefined) else f"'{n}' is undefined at the end of the loop body", node)
                    ends.append(self.val(v))
            new = [n for n in ("#returned", "#ret") if n in self.env and n not in names]
            retry = False
            for k in reversed(range(len(names))):
                t = unify(types[k], ends[k].type, runs_once)
                if t is None:
                    args = yblock.args[-len(names):] if names else []
                    counts = {}
                    for r in regions:
                        counts.update(use_counts(r))
                    if not counts.get(id(args[k])):
                        # reassigned before being read: local to each iteration
                        names.pop(k), inits.pop(k)
                        retry = True
                        continue
                    self.fail(f"'{names[k]}' changes type in the loop: {types[k]} before it, {ends[k].type} after an "
                              "iteration (give it its final type before the loop)", node)
                if t != types[k]:
                    with self.b.located(loc):
                        inits[k] = self.convert(inits[k], t)
                    retry = True
            for n in new:
                with self.b.located(loc):
                    v = self.val(self.env[n])
                    inits.append(self.b.const(False) if n == "#returned" else self.b.zeros(v.type))
                names.append(n)
                retry = True
            if retry:
                continue
            with self.b.at(yblock), self.b.located(loc):
                self.b.yield_([self.convert(e, t) for e, t in zip(ends, types)])
            return yblock if len(regions) == 1 else regions, names, inits, types
        self.fail("the types of the loop's variables do not settle", node)

    def _while_loop(self, node, body, it):
        """A `while` op: a user while loop, or a for loop containing break/return."""
        loc = self.loc(node)
        self.b.loc = loc
        _, grown = lists.appended_in_loop(self, body, node, None)    # a list appended to has unknown length
        before, saved = self._enter_loop()
        names, local = self._loop_names(body, node)
        names += [lists.counter(self.env[n]) for n in grown]
        inits = [self.val(before[n]) for n in names]
        flags = []
        if contains(body, (cst.Break,), True):
            flags.append("#broke")
        if contains(body, (cst.Return,), False):
            flags += [f for f in ("#returned", "#ret") if f in before]
            if "#returned" not in flags:
                flags.append("#returned")
        for f in flags:
            names.append(f)
            inits.append(self.val(before.get(f, Static(False))))
        if it is not None:
            if not isinstance(it.step, Static):
                self.fail("a for loop with break or return needs a range() step known at compile time", node)
            names.insert(0, "#k")
            inits.insert(0, self.val(it.start))
            stop = self.val(it.stop)

        counter = node.target.value if it is not None and it.plain and isinstance(node.target, cst.Name) else "k"
        hint = lambda n: counter if n == "#k" else hint_of(n)   # noqa: E731

        def attempt(names, inits):
            lists.reset_types(self, grown, before)
            types = [v.type for v in inits]
            hints = [hint(n) for n in names]
            cond, blk = Block(types, hints), Block(types, hints)
            # the condition: not (broke or returned) and (the user's test, or k < stop)
            self._enter_body(before, names, cond.args, inits)
            with self.b.at(cond), self.b.located(loc):
                self.node = node
                stop_flags = [self.env[f] for f in ("#broke", "#returned") if f in names]
                exit_ = stop_flags[0] if stop_flags else None
                for f in stop_flags[1:]:
                    exit_ = self.prim("logical_or", exit_, f)
                if it is not None:
                    test = self.prim("lt" if it.step.value > 0 else "gt", self.env["#k"], stop)
                    c = test if exit_ is None else self.prim("logical_and", self.prim("logical_not", exit_), test)
                elif exit_ is None:
                    c = self.truth(self.expr(node.test), node.test)
                else:
                    c = self.if_values(exit_, lambda: [Static(False)],
                                       lambda: [self.truth(self.expr(node.test), node.test)], node.test)
                if isinstance(c, Static):
                    if c.value:
                        self.fail("this while loop never ends (its condition is always true and it has no "
                                  "break or return)", node)
                    c = self.b.const(False)
                self.b.condition(self.val(c))
            self._enter_body(before, names, blk.args, inits)
            for f in ("#broke", "#returned"):
                if f in names:          # the body runs only while these are false
                    self.env[f] = Static(False)
            with self.b.at(blk), self.b.located(loc):
                if it is not None:
                    k = self.env["#k"]
                    self.node = node
                    self.bind("#k", self.prim("add", k, it.step, hint=counter))
                    self.assign(node.target, it.item(k), node)
                self.env["#cont"] = Static(False)
                self.block(body)
            return blk, [cond, blk]

        regions, names, inits, types = self._fixpoint(node, names, inits, attempt, False)
        op = self.b.add(Op("while", inits, types, regions=regions, loc=loc, hints=[hint(n) for n in names]))
        self._after_loop(before, names, op.results, local, node, saved)


def _iterated_names(node):
    """Names whose arrays a for loop iterates over live: `v`, or inside enumerate(...)/zip(...)."""
    if isinstance(node, cst.Name):
        return {node.value}
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("enumerate", "zip"):
        return set().union(*[_iterated_names(a.value) for a in node.args]) if node.args else set()
    return set()


def _is_number(v):
    return isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating))


def _augop(op):
    from .expressions import _AUGOPS
    return _AUGOPS[type(op)]


def _augsym(op):
    from .expressions import _AUGOPS, _BINOPS
    return _BINOPS[_AUGOPS[type(op)]][2] + "="


def _dyn0():
    from ..ops import Dyn
    return Dyn(0)


# fn -> {argument types: IR}: weak in the function (a closure made per training step is not kept
# alive, nor what it closes over), and at most _PER_FUNCTION signatures each (least recently used out)
_cache = weakref.WeakKeyDictionary()
_PER_FUNCTION = 32


def compile_function(fn, arg_types):
    """The IR of `fn` specialised on `arg_types` (a list by position, or a dict
    by name, of IR types; parameters left out take their default as a
    constant). Cached per (function, types). Raises UnsupportedSyntax."""
    key = tuple(arg_types.items()) if isinstance(arg_types, dict) else tuple(arg_types)
    if any(t.is_array and has_dims(t.shape) for _, t in (key if isinstance(arg_types, dict) else enumerate(key))):
        return Frontend().compile(fn, arg_types)     # symbolic extents (ops/dims.py): compiled once, not kept
    per = _cache.get(fn)
    if per is None:
        per = _cache[fn] = {}
    hit = per.pop(key, None)
    if hit is None or not hit.guards_hold():  # something it compiled in as a constant changed
        hit = Frontend().compile(fn, arg_types)
    per[key] = hit
    while len(per) > _PER_FUNCTION:
        del per[next(iter(per))]
    return hit


def compile_for_args(fn, *args, **kwargs):
    """The IR of `fn` specialised on the types of these run-time arguments."""
    sig = inspect.signature(fn)
    bound = sig.bind(*args, **kwargs)
    return compile_function(fn, {k: type_of_value(v) for k, v in bound.arguments.items()})
