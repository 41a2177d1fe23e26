"""IR -> readable Python/NumPy source, compiled into a callable.

One statement per line, the user's variable names (`x`, `x_1` for a later
version, `dx` for an adjoint), Python arithmetic on Python scalars (so scalar
loops run at interpreter speed), NumPy on arrays, and a comment quoting the
user's source line above each group of statements that came from it. The
source is compiled under a file name registered in `linecache`, so tracebacks
and `inspect.getsource` show the generated code.

Primitives without a NumPy spelling here are called through the table
(`prim.sum_to(g, shape=(3,))`), which keeps the generated code differentiable
again by the tracer and by the compiler.
"""
from __future__ import annotations

import functools
import itertools
import keyword
import linecache
import math
import os
import types
import weakref

import numpy as np

from .. import ops
from ..compiler import library
from ..compiler.ir import use_counts, walk
from ..compiler.memory import Memory
from ..ops.dims import Dim, hint
from ..ops.indexing import Dyn
from ..compiler.pysemantics import math_name, python_scalar

__all__ = ["emit_source", "compile_function", "register_and_exec", "CompiledSource"]

# How Python spells primitives. Operators are Python syntax; everything else comes from the
# table: `np.<numpy_name>` where the front end reads that NumPy function back (the generated
# code stays compilable and traceable), `math.<name>` for Python scalars where the table's
# math namespace is Python's `math` function of that name (ops/scalar.py).
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@",
          "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_SCALAR_INFIX = {"remainder": "%", "floor_divide": "//"}  # Python's semantics match NumPy's for scalars
_MAY_RAISE = ("/", "**", "%", "//")   # where Python raises on floats and NumPy gives inf or nan
_NUMPY = {n: f"np.{p.numpy_name}" for n, p in ops.registry.items()
          if p.numpy_name and library.is_known(functools.reduce(getattr, p.numpy_name.split("."), np))}
_MATH = {n: f"math.{math_name(p)}" for n, p in ops.registry.items() if math_name(p)}
# scalar ops where Python raises (ZeroDivisionError, math domain error, OverflowError) and NumPy
# gives inf or nan: the NumPy spelling the strict variant uses for them
_NUMPY_SEMANTICS = {n: f"np.{ops.registry[n].numpy_name}" for n in
                    [n for n, sym in {**_INFIX, **_SCALAR_INFIX}.items() if sym in _MAY_RAISE] + list(_MATH)}
_counter = itertools.count()
_RESERVED = frozenset({"np", "math", "prim", "Dyn", "python_scalar"})


class _Names:
    """Unique Python identifiers for values: the user's name, then name_1, name_2 ..."""

    def __init__(self, reserved=()):
        self.used = set(reserved)
        self.of = {}

    def fresh(self, base):
        base = base if base and base.isidentifier() and not keyword.iskeyword(base) else "t"
        if base == "t" or base in self.used:
            for k in itertools.count(1):
                cand = f"{base}_{k}" if base != "t" else f"t{k}"
                if cand not in self.used:
                    base = cand
                    break
        self.used.add(base)
        return base

    def bind(self, v, name=None):
        if name is None and id(v) in self.of:
            return self.of[id(v)]  # pre-bound to the variable a loop or branch yields it into
        n = name or self.fresh(v.hint)
        self.of[id(v)] = n
        return n

    def __call__(self, v):
        return self.of[id(v)]


class _Emitter:
    def __init__(self, fn, strict=False, reuse=True, prim_ref=None, reserved=()):
        self.fn = fn
        self.prim_ref = prim_ref or (lambda name: f"prim.{name}")
        self.strict = strict
        self.reuse = reuse
        self.lines = []
        self.consts = {}
        self.names = _Names(reserved=_RESERVED | {identifier(fn.name)} | set(reserved))
        self.inline = {}
        self.last_line = None
        self.src_lines = _source_lines(fn)
        self.uses = use_counts(fn.body)
        self.owned = set()
        self.carried = {}                    # id(loop body arg) -> (loop op, slot): an own carried array
        self.blocks = []                     # the blocks being emitted, innermost last
        self.def_block = _defining_blocks(fn)
        self._find_owned(fn)

    # -- in-place accumulation ---------------------------------------------------------
    def in_place(self, op):
        """Whether an index_add or setitem may write into its array (acc[idx] += g, acc[idx] = v):
        an array this call made, of the result's type, whose old contents nothing reads later
        (the block's holder analysis, _Buffers.writable)."""
        acc = op.operands[0]
        if not (id(acc) in self.owned and acc.type.is_array and acc.type.shape and acc.type == op.result.type):
            return False
        if op.name == "index_add" and ops.indexing.is_advanced(_resolve_for_check(op.attrs["idx"])):
            return False      # acc[idx] += g with repeated indices adds once (np.add.at adds each)
        buffers = self._buffers_here()
        return buffers is not None and buffers.writable(op, self.position)

    def memory_classes(self):
        """The function's memory classes (see _MemoryClasses), made once per emitted function."""
        if getattr(self, "_classes", None) is None:
            self._classes = _MemoryClasses(self.fn, self.mem)
        return self._classes

    def _find_owned(self, fn):
        """Arrays this function allocates itself (not parameters, constants or views)."""
        owned = self.owned
        mem = self.mem = Memory(fn)
        for op in walk(fn.body):
            if op.name == "full" or op.is_prim:
                owned.update(id(r) for r in op.results if r.type.is_array and mem.allocated_by_own_op(r, op))
        for op in walk(fn.body):
            if op.name in ("for", "while"):
                self._owned_carried(op)

    def _owned_carried(self, op):
        """A carried array stays this call's own when its init is and only the loop reads the init,
        and the body makes the yielded value from the carried one by writes alone
        (acc = index_add(acc, ...) or setitem(acc, ...), any number of them): each write then
        runs in place where nothing reads the old contents (in_place)."""
        body = op.regions[-1]
        lead = 1 if op.name == "for" else 0
        inits = op.operands[3:] if op.name == "for" else op.operands
        term = body.ops[-1]
        made_by = {id(r): o for o in body.ops for r in o.results}
        for j, init in enumerate(inits):
            arg = body.args[lead + j]
            if id(init) not in self.owned or self.uses.get(id(init)) != 1:
                continue
            y = term.operands[j]
            while id(y) in made_by and made_by[id(y)].name in _WRITES and y is not arg:
                y = made_by[id(y)].operands[0]
            if y is arg:
                self.owned.add(id(arg))
                self.owned.add(id(op.results[j]))
                self.carried[id(arg)] = (op, j)

    # -- values -------------------------------------------------------------------
    def ref(self, v):
        s = self.inline.get(id(v))
        return s if s is not None else self.names(v)

    def const_ref(self, value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return _literal(value)
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    # -- statements ------------------------------------------------------------------
    def emit(self, indent, text, loc=None):
        if loc is not None and loc[1] != self.last_line and self.src_lines is not None:
            self.last_line = loc[1]
            src = self.src_lines.get(loc[1])
            if src:
                self.lines.append("    " * indent + f"# {os.path.basename(loc[0])}:{loc[1]}: {src}")
        self.lines.append("    " * indent + text)

    def block(self, block, indent):
        saved = getattr(self, "buffers", None), getattr(self, "position", None)
        if self.reuse:
            _reads_before_writes(block)
        self.blocks.append(block)
        self.buffers = _Buffers(self, block) if self.reuse else None
        for k, op in enumerate(block.ops):
            self.position = k
            self.op(op, indent)
        self.blocks.pop()
        self.buffers, self.position = saved

    def op(self, op, indent):
        name = op.name
        if name == "const":
            v = op.attrs["value"]
            if v is None or isinstance(v, (bool, int, float, Dim)):
                self.inline[id(op.result)] = _literal(v)
            elif _scalar_const(op):   # a 0-d constant (e.g. a folded cast of a Python float): np.float64(1.0)
                self.inline[id(op.result)] = f"np.{v.dtype.name}({_literal(v.item())})"
            else:
                self.inline[id(op.result)] = self.const_ref(np.asarray(v))
            return
        if name == "full":
            t, v = op.result.type, op.attrs["value"]
            if t.is_scalar:
                self.inline[id(op.result)] = _literal(v)
            elif t.shape == () and t.dtype.name in _SCALAR_DTYPES:   # e.g. a zero adjoint of a 0-d array
                self.inline[id(op.result)] = f"np.{t.dtype.name}({_literal(t.dtype.type(v).item())})"
            else:
                fill = "np.zeros" if v == 0 else "np.ones" if v == 1 else None
                shape = repr(tuple(t.shape))
                expr = f"{fill}({shape}, np.{t.dtype.name})" if fill else \
                    f"np.full({shape}, {_literal(v)}, np.{t.dtype.name})"
                self.emit(indent, f"{self.names.bind(op.result)} = {expr}", op.loc)
            return
        if name == "return":
            self.emit(indent, f"return {self.ref(op.operands[0])}")
            return
        if name in ("yield", "condition"):
            return  # handled by the enclosing structured op
        if name == "if":
            return self.emit_if(op, indent)
        if name == "for":
            return self.emit_for(op, indent)
        if name == "while":
            return self.emit_while(op, indent)
        if name == "tuple":
            items = ", ".join(self.ref(v) for v in op.operands)
            self.inline[id(op.result)] = f"({items}{',' if len(op.operands) == 1 else ''})"
            return
        if name == "untuple":
            targets = [self.names.bind(r) for r in op.results]
            self.emit(indent, f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {self.ref(op.operands[0])}",
                      op.loc)
            return
        if name == "tape_new":
            self.emit(indent, f"{self.names.bind(op.result)} = []", op.loc)
            return
        if name == "tape_push":  # one value is pushed bare, several as a tuple (a list's: its item)
            items = [self.ref(v) for v in op.operands[1:-1 if "list" in op.attrs else None]]
            item = items[0] if len(items) == 1 else f"({', '.join(items)})"
            self.emit(indent, f"{self.ref(op.operands[0])}.append({item})", op.loc)
            return
        if name == "tape_pop":
            targets = [self.names.bind(r) for r in op.results]
            lhs = f"{', '.join(targets)} = " if targets else ""
            self.emit(indent, f"{lhs}{self.ref(op.operands[0])}.pop()", op.loc)
            return
        if name == "tape_stack":   # a list of unknown length as an array; its length binds the symbol
            out = self.names.bind(op.result)
            tape = self.ref(op.operands[0])
            self.emit(indent, f"if not {tape}:", op.loc)     # np.array([]) would be (0,): not what was compiled
            self.emit(indent + 1, f"raise ValueError(\"need at least one array to stack (the list "
                                  f"'{op.attrs['list']}' is empty)\")")
            if len(op.operands[0].type.elems) > 1:
                tape = f"[e[{op.attrs.get('field', 0)}] for e in {tape}]"
            self.emit(indent, f"{out} = np.stack({tape})", op.loc)
            self.emit(indent, f"_{op.result.type.shape[0].expr[1]} = {out}.shape[0]")
            return
        if name == "tape_len":
            self.emit(indent, f"{self.names.bind(op.result)} = len({self.ref(op.operands[0])})", op.loc)
            return
        if name == "native_call":    # a native kernel for a run of array code (backends/llvm/outline.py)
            kernel = f"_k{sum(k.startswith('_k') for k in self.consts)}"
            self.consts[kernel] = op.attrs["kernel"]
            targets = [self.names.bind(r) for r in op.results]
            lhs = ", ".join(targets) + ("," if op.attrs["tuple"] and len(targets) == 1 else "")
            self.emit(indent, f"{lhs} = {kernel}({', '.join(self.ref(v) for v in op.operands)})", op.loc)
            for r, t in zip(op.results, targets):
                if r.type.is_array and r.type.shape == ():    # the kernel gives a NumPy scalar for a 0-d array
                    self.emit(indent, f"{t} = np.asarray({t})")
            return
        if name in _WRITES and self.in_place(op):
            acc, g, *dyn = op.operands
            target = self.ref(acc)
            self.names.bind(op.result, target)
            self.emit(indent, f"{target}[{self.index(op.attrs['idx'], [self.ref(d) for d in dyn])}] "
                              f"{_WRITES[name]} {self.ref(g)}", op.loc)
            return
        expr = self.expr(op)
        buffers = self._buffers_here()
        if buffers is not None and len(op.results) == 1:
            reused = buffers.into(op, self.position, expr)
            if reused is not None:
                expr = reused
        self.emit(indent, f"{self.names.bind(op.result)} = {expr}", op.loc)

    def _buffers_here(self):
        b = getattr(self, "buffers", None)
        return b if b is not None and b.block is self.blocks[-1] else None

    def expr(self, op):
        name = op.name
        args = [self.ref(a) for a in op.operands]
        types_ = [a.type for a in op.operands]
        scalar_only = all(t.is_scalar for t in types_)
        weak = op.result.type.is_scalar
        if self.strict and scalar_only and not op.user and name in _NUMPY_SEMANTICS:
            # a derivative rule's op on Python scalars: NumPy's answer (inf, nan), as the tracer
            return _python_scalar(f"{_NUMPY_SEMANTICS[name]}({', '.join(args)})", op.result.type)
        if name in _INFIX and len(args) == 2:
            return f"{_paren(args[0])} {_INFIX[name]} {_paren(args[1])}"
        if name in _SCALAR_INFIX and scalar_only:
            return f"{_paren(args[0])} {_SCALAR_INFIX[name]} {_paren(args[1])}"
        if name == "neg":
            return f"-{_paren(args[0])}"
        if name in _MATH and scalar_only and weak:
            return f"{_MATH[name]}({', '.join(args)})"
        if name == "abs" and scalar_only and weak:
            return f"abs({args[0]})"
        if name == "astype" and weak and op.user and not op.operands[0].type.shape:   # int(x), float(x) ...
            kind, src = op.result.type.dtype.kind, op.operands[0].type
            if kind == "f" and not src.is_scalar and src.dtype.kind == "f":
                return f"python_scalar({args[0]})"      # a NumPy float as the double it is (traced values pass)
            return f"{ {'f': 'float', 'i': 'int', 'u': 'int', 'b': 'bool'}[kind]}({args[0]})"   # Python's answers
        np_fn = _NUMPY.get(name)
        kind = op.prim.kind if np_fn else None
        if kind == "elementwise" and not op.attrs:
            call = f"{np_fn}({', '.join(args)})"
            # a Python scalar stays one (np.sign(1.5) is a strong np.float64: it would promote float32)
            return _python_scalar(call, op.result.type) if scalar_only and weak else call
        if kind == "reduction" and set(op.attrs) <= {"axis", "keepdims"}:
            extra = ""
            if op.attrs.get("axis") is not None:
                extra += f", axis={op.attrs['axis']!r}"
            if op.attrs.get("keepdims"):
                extra += ", keepdims=True"
            return f"{np_fn}({args[0]}{extra})"
        if kind == "view" and len(op.attrs) == 1:   # reshape(x, shape), transpose(x, axes) ...
            return f"{np_fn}({args[0]}, {next(iter(op.attrs.values()))!r})"
        if name == "getitem":
            read = f"{_paren(args[0])}[{self.index(op.attrs['idx'], args[1:])}]"
            buffers = self._buffers_here()
            return f"{read}.copy()" if buffers is not None and id(op.result) in buffers.copy_views else read
        params = "".join(f", {k}={self.attr(v)}" for k, v in op.attrs.items())
        if not args:
            params = params[2:]
        return f"{np_fn or self.prim_ref(name)}({', '.join(args)}{params})"   # (np_fn(*args, **params) is the primitive)

    def attr(self, v):
        if isinstance(v, np.dtype):
            return f"np.{v.name}"
        if isinstance(v, np.ndarray):
            return self.const_ref(v)
        if isinstance(v, tuple) and any(isinstance(x, (np.ndarray, Dyn)) for x in v):
            return "(" + ", ".join(self.attr(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        if isinstance(v, Dyn):
            return f"Dyn({v.k})"
        if isinstance(v, slice):
            return f"slice({self.attr(v.start)}, {self.attr(v.stop)}, {self.attr(v.step)})"
        if isinstance(v, (type(Ellipsis),)):
            return "Ellipsis"
        if isinstance(v, float):
            return _literal(v)          # inf and nan as float('inf'), not a bare name
        return repr(v)

    def index(self, idx, dyn):
        parts = idx if isinstance(idx, tuple) else (idx,)
        out = [self.index_part(p, dyn) for p in parts]
        if not out:
            return "()"
        return ", ".join(out) + ("," if len(out) == 1 and isinstance(idx, tuple) and not
                                 isinstance(parts[0], (int, slice, Dyn)) else "")

    def index_part(self, p, dyn):
        if isinstance(p, Dyn):
            return dyn[p.k]
        if isinstance(p, slice):
            f = lambda x: "" if x is None else self.index_part(x, dyn)
            s = f"{f(p.start)}:{f(p.stop)}"
            return s + (f":{f(p.step)}" if p.step is not None else "")
        if p is None:
            return "None"
        if p is Ellipsis:
            return "..."
        if isinstance(p, (np.ndarray, list)):
            return self.const_ref(np.asarray(p))
        return repr(p)

    # -- structured control flow ---------------------------------------------------
    def assign(self, indent, targets, values, loc):
        if not targets:
            return
        pairs = [(t, v) for t, v in zip(targets, values) if t != v]
        if pairs:
            lhs = ", ".join(t for t, _ in pairs)
            rhs = ", ".join(v for _, v in pairs)
            self.emit(indent, f"{lhs} = {rhs}", loc)

    def emit_if(self, op, indent):
        results = [self.names.bind(r) for r in op.results]
        cond = self.ref(op.operands[0])
        then, other = op.regions
        self.emit(indent, f"if {cond}:", op.loc)
        self.region_yielding(then, results, indent + 1)
        self.emit(indent, "else:")
        self.region_yielding(other, results, indent + 1)

    def prebind_yields(self, block, targets, carried_args=()):
        """Name values a region yields after the variable they are yielded into, when
        that is safe, so `x = x + t` replaces `x_1 = x + t; x = x_1`."""
        term = block.ops[-1]
        uses, last_use, defined_at = {}, {}, {}
        for k, op in enumerate(block.ops):
            for inner in [op] + [o for r in op.regions for o in walk(r)]:
                for v in inner.operands:
                    uses[id(v)] = uses.get(id(v), 0) + 1
                    last_use[id(v)] = k
            for r in op.results:
                defined_at[id(r)] = (k, op)
        yielded = {id(v) for v in term.operands}
        for pos, (v, target) in enumerate(zip(term.operands, targets)):
            found = defined_at.get(id(v))
            if found is None or uses.get(id(v)) != 1 or id(v) in self.names.of:
                continue
            k, op = found
            if len(op.results) != 1 or op.name in ("const", "full", "tuple") or op.regions:
                continue
            if carried_args:
                arg = carried_args[pos]
                if id(arg) in yielded or last_use.get(id(arg), -1) > k:
                    continue
            self.names.bind(v, target)

    def region_yielding(self, block, targets, indent, carried_args=()):
        self.prebind_yields(block, targets, carried_args)
        n = len(self.lines)
        self.block(block, indent)
        self.assign(indent, targets, [self.ref(v) for v in block.ops[-1].operands], None)
        if len(self.lines) == n:
            self.emit(indent, "pass")

    def emit_for(self, op, indent):
        body = op.regions[0]
        carried = [self.names.bind(r) for r in op.results]
        for a, n in zip(body.args[1:], carried):
            self.names.bind(a, n)
        self.assign(indent, carried, [self.ref(v) for v in op.operands[3:]], op.loc)
        i = self.names.bind(body.args[0])
        start, stop, step = (self.ref(v) for v in op.operands[:3])
        rng = f"range({stop})" if start == "0" and step == "1" else \
            f"range({start}, {stop})" if step == "1" else f"range({start}, {stop}, {step})"
        self.emit(indent, f"for {i} in {rng}:", op.loc)
        self.region_yielding(body, carried, indent + 1, body.args[1:])

    def emit_while(self, op, indent):
        cond, body = op.regions
        carried = [self.names.bind(r) for r in op.results]
        for a, b, n in zip(cond.args, body.args, carried):
            self.names.bind(a, n)
            self.names.bind(b, n)
        self.assign(indent, carried, [self.ref(v) for v in op.operands], op.loc)
        self.emit(indent, "while True:", op.loc)
        self.block(cond, indent + 1)
        self.emit(indent + 1, f"if not {self.ref(cond.ops[-1].operands[0])}:")
        self.emit(indent + 2, "break")
        self.region_yielding(body, carried, indent + 1, body.args)


# writes the backend may run in place (acc[idx] += g, acc[idx] = v): the symbol
_WRITES = {"index_add": "+=", "setitem": "="}
# elementwise primitives as NumPy ufuncs (which take out=), for the infix spellings
_UFUNC = {"add": "np.add", "sub": "np.subtract", "mul": "np.multiply", "div": "np.true_divide",
          "pow": "np.power", "neg": "np.negative"}
REUSE_MIN_SIZE = 2048        # below this, a fresh array is as cheap as reusing one


class _MemoryClasses:
    """The memory analysis's sites joined where the backend writes in place: an index_add or
    setitem run in place (acc[idx] += g) leaves its result in acc's memory, which the analysis
    (functional IR) counts as a new site. `sharing[class]` lists the values that may hold it."""

    def __init__(self, fn, mem):
        self.parent = {}
        self.made_by = {}       # id(value) -> the op that made it
        ops_ = list(walk(fn.body))
        for op in ops_:
            for r in op.results:
                self.made_by[id(r)] = op
            if op.name in _WRITES:
                for site in mem.of(op.operands[0]):
                    self.parent[self.find(site)] = self.find(("alloc", op))
        self.sharing = {}
        for op in ops_:
            for v in [*op.results, *(a for region in op.regions for a in region.args)]:
                for root in {self.find(site) for site in mem.of(v)}:
                    self.sharing.setdefault(root, []).append(v)

    def find(self, x):
        parent = self.parent
        while parent.get(x, x) != x:
            x = parent[x]
        return x


class _Buffers:
    """Dead temporaries of one block whose memory a later elementwise op of the same block may
    write into (`t5 = np.multiply(100.0, t4, out=t4)`): a fresh 8 MB array costs its page faults
    on every call. A buffer qualifies when the generated code allocated it in this block
    (Memory: its only site is the op that made it), nothing that may share its memory is read
    after this op, and nothing keeps a reference to it (a tape, a tuple, a yield or return)."""

    _KEEPS = frozenset({"tuple", "tape_push", "yield", "return", "condition"})

    def __init__(self, em, block):
        self.em, self.block = em, block
        self.last = {}          # id(value) -> index of the last op of this block reading it
        kept = set()
        for k, op in enumerate(block.ops):
            for inner in [op, *walk_regions(op)]:
                for v in inner.operands:
                    self.last[id(v)] = k
                    if inner.name in self._KEEPS:
                        kept.add(id(v))
        mem, classes = em.mem, em.memory_classes()
        find, sharing = classes.find, classes.sharing
        here = {id(r) for op in block.ops for r in op.results}
        self.find, self.sharing, self.here = find, sharing, here
        self.defined_at = {id(r): k for k, o in enumerate(block.ops) for r in o.results}
        self.made = {id(r): o for o in block.ops for r in o.results}
        self.nested = {id(v) for op in block.ops for inner in walk_regions(op)
                       for v in [*inner.results, *(a for r in inner.regions for a in r.args)]}
        self.nested |= {id(a) for op in block.ops for r in op.regions for a in r.args}
        self._plan_writes()
        self.free_after = {}    # memory class -> (a value naming it, index after which it is dead)
        for op in block.ops:
            if not (op.is_prim or op.name == "full") or len(op.results) != 1:
                continue
            r = op.result
            if id(r) not in em.owned or mem.of(r) != frozenset({("alloc", op)}) or not _large(r):
                continue
            root = find(("alloc", op))
            holders = sharing.get(root, [r])
            if root in self.free_after or any(id(h) in kept or id(h) not in here for h in holders):
                continue
            self.free_after[root] = (r, max(self.last.get(id(h), -1) for h in holders))
        self.taken = set()

    def writable(self, op, position):
        """Whether `op` (a write into operand 0) may change that array in place at `position`
        (decided for the whole block when it starts: see _plan_writes)."""
        return id(op) in self.in_place_ok

    def _plan_writes(self):
        """Which writes run in place, and which small views of their arrays are copied when read
        so that they may (`dh = dhs[t].copy()` lets `dhs[t] = 0.0` run in place)."""
        self.in_place_ok, self.copy_views = set(), set()
        for k, op in enumerate(self.block.ops):
            if op.name not in _WRITES:
                continue
            blockers = self._blockers(op, k)
            if blockers is not None and all(self._copyable(b, op.operands[0], k) for b in blockers):
                self.copy_views.update(id(b) for b in blockers)
                self.in_place_ok.add(id(op))

    def _blockers(self, op, position):
        """The values that keep `op` from writing in place: others that may hold its array's
        memory and are read at or after `position` (None when it cannot in any case)."""
        acc = op.operands[0]
        if self.last.get(id(acc)) != position:
            return None              # the old contents are read after the write
        chain = self.em.carried.get(id(acc))
        allowed = {id(acc), id(op.result)}
        if chain is not None:
            allowed |= self._chain_outside(*chain)
        elif self.em.def_block.get(id(acc)) is not self.block:
            return None              # an array from outside a loop body would be written once per iteration
        blockers = []
        for root in {self.find(site) for site in self.em.mem.of(acc)}:
            for h in self.sharing.get(root, ()):
                if id(h) in allowed:
                    continue
                if id(h) not in self.here:
                    if id(h) in self.nested or id(acc) in self.here:
                        # inside an op of this block: dead before it (acc is not read after) or made from
                        # the new contents; outside the block, with acc made in it: only after the block
                        # yields it (or an earlier run of the block's own allocation)
                        continue
                    return None
                if self.defined_at.get(id(h), -1) > position:
                    continue         # made after the write: from the new contents (acc is not read after)
                if self.last.get(id(h), -1) >= position and not self._later_write_of(h, acc):
                    blockers.append(h)
        return blockers

    def _chain_outside(self, loop, j):
        """Values outside the loop body that are the carried array's own: the init and the writes
        it was made by (each read by the next alone), and whatever follows the loop."""
        em = self.em
        inits = loop.operands[3:] if loop.name == "for" else loop.operands
        out = {id(loop.results[j])}
        v = inits[j]
        while True:
            out.add(id(v))
            w = em.memory_classes().made_by.get(id(v))
            if w is None or w.name not in _WRITES or em.uses.get(id(w.operands[0])) != 1:
                break
            v = w.operands[0]
        outer = em.def_block.get(id(loop.results[j]))
        if outer is not None:
            after = outer.ops[outer.ops.index(loop) + 1:]
            for o in after:
                for inner in [o, *walk_regions(o)]:
                    out.update(id(r) for r in inner.results)
        return out

    def _copyable(self, v, acc, position):
        """`v` is a smaller view of `acc` read from it before `position` in this block."""
        o = self.made.get(id(v))
        return (o is not None and self.defined_at[id(v)] < position and o.name == "getitem" and o.operands[0] is acc
                and v.type.is_array and v.type.size < acc.type.size)

    def _later_write_of(self, h, acc):
        """h is a later version of acc made by writes in this block (acc[i] = ...; then h[j] = ...)."""
        made = self.made
        while id(h) in made and made[id(h)].name in _WRITES:
            h = made[id(h)].operands[0]
            if h is acc:
                return True
        return False

    def into(self, op, position, expr):
        """`expr` rewritten to write into a dead buffer of the block, or None."""
        name = op.name
        r = op.result
        if not _large(r):
            return None
        if name in _UFUNC and len(op.operands) == (1 if name == "neg" else 2):
            call = f"{_UFUNC[name]}({', '.join(self.em.ref(v) for v in op.operands)}"
        elif op.is_prim and op.prim.kind == "elementwise" and not op.attrs and expr.endswith(")") and \
                isinstance(getattr(np, expr.split("(", 1)[0][3:], None), np.ufunc) and expr.startswith("np."):
            call = expr[:-1]
        else:
            return None
        for key, (buf, dead_after) in self.free_after.items():
            if key in self.taken or dead_after > position or buf.type != r.type or buf is r:
                continue
            if dead_after == position and not any(v is buf for v in op.operands):
                continue   # read by this op through a view: NumPy would copy; a fresh array is as good
            self.taken.add(key)
            return f"{call}, out={self.em.ref(buf)})"
        return None


def _reads_before_writes(block):
    """Move a pure op that reads an array a later-emitted write changes (`dh = dhs[t]` after
    `dhs2 = setitem(dhs, 0.0, t)`, as the adjoint of `hs[t] = h` gives them) to just before that
    write when its operands are ready there, so the write may run in place. Pure ops only (no
    regions, no tape): their order is free."""
    ops_ = block.ops
    k = 0
    while k < len(ops_):
        w = ops_[k]
        if w.name in _WRITES:
            acc = w.operands[0]
            defined = {id(a) for a in block.args}
            for o in ops_[:k]:
                defined.update(id(r) for r in o.results)
            j = k + 1
            while j < len(ops_):
                r = ops_[j]
                if (r.is_prim and not r.regions and r.name not in _WRITES and any(v is acc for v in r.operands)
                        and all(id(v) in defined or _outer(v, block) for v in r.operands)):
                    ops_.insert(k, ops_.pop(j))
                    k += 1
                    defined.update(id(x) for x in r.results)
                j += 1
        k += 1


def _outer(v, block):
    """Whether `v` is defined outside `block` (then it is ready anywhere in it)."""
    return not any(v is a for a in block.args) and not any(v in o.results for o in block.ops)


def _large(v):
    """An ndarray (not 0-d: that may be a NumPy scalar) of at least REUSE_MIN_SIZE elements."""
    t = v.type
    # (a symbolic size is judged by its value now, with no guard: out= is right for any size)
    return t.is_array and len(t.shape) > 0 and hint(t.size) >= REUSE_MIN_SIZE


def walk_regions(op):
    """The ops nested in `op`'s regions."""
    for region in op.regions:
        yield from walk(region)


def identifier(name):
    """`name` as a Python identifier: a function's __name__ may be anything (`loss[v2]`, or
    text crafted to run code), and only the user's own function body may reach exec."""
    text = "".join(c if c.isalnum() or c == "_" else "_" for c in str(name)) or "f"
    if not text.isidentifier() or keyword.iskeyword(text) or text in _RESERVED:
        text = "f_" + text
    return text if text.isidentifier() else "f"


def _defining_blocks(fn):
    """id(value) -> the block that defines it (block arguments belong to their block)."""
    out = {}
    stack = [fn.body]
    while stack:
        b = stack.pop()
        for a in b.args:
            out[id(a)] = b
        for op in b.ops:
            for r in op.results:
                out[id(r)] = b
            stack.extend(op.regions)
    return out


def _resolve_for_check(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    return tuple(0 if isinstance(p, Dyn) else p for p in parts)


def _describe_const(v):
    v = np.asarray(v)
    flat = v.reshape(-1)
    if v.size and np.all(flat == flat[0]):
        return f"np.full({v.shape}, {flat[0].item()!r})"
    if v.size <= 6:
        return f"np.array({v.tolist()!r})"
    return f"array of shape {v.shape}"


def _scalar_const(op):
    """A 0-d bool/int/float array constant compiled in by value (not a global read per call)."""
    v = op.attrs["value"]
    return isinstance(v, np.ndarray) and v.shape == () and v.dtype.name in _SCALAR_DTYPES and not op.attrs.get("live")


# 0-d values of these dtypes are written as NumPy scalars: np.float64(1.0)
_SCALAR_DTYPES = frozenset({"bool", "int64", "int32", "float64", "float32"})


def _literal(v):
    if isinstance(v, float):
        if math.isinf(v) or math.isnan(v):
            return f"float({str(v)!r})"
        return repr(v)
    return repr(v)


def _python_scalar(expr, t):
    """`expr` (a NumPy scalar) as the Python scalar of weak type `t`."""
    return f"python_scalar({expr})"


def _paren(s):
    try:
        float(s)
        return s
    except ValueError:
        pass
    if s.isidentifier() or s.replace(".", "").replace("_", "").isalnum() or (s.startswith("(") and s.endswith(")")):
        return s
    if s.startswith("-") and s[1:].replace(".", "").isalnum():
        return f"({s})"
    return f"({s})"


def _source_lines(fn):
    loc = fn.loc
    if not loc or not loc[0]:
        return None
    lines = linecache.getlines(loc[0])
    if not lines:
        return None
    return {i + 1: line.strip() for i, line in enumerate(lines)}


def emit_source(fn, strict=False, reuse=True, prim_ref=None, reserved=(), entry_check=False):
    """(source text, constants) of a Python function for IR function `fn`. Scalar code uses
    Python floats and `math` (fast); with `strict`, the ops that did not come from the user's
    own Python-scalar code use NumPy's semantics instead (see CompiledSource). With `reuse`,
    large elementwise results go into dead temporaries (out=; see _Buffers). `prim_ref(name)`
    spells a call of a primitive NumPy has no function for (default `prim.<name>`; the
    standalone export, backends/export.py, names its own helpers); `reserved`: names the
    generated code must not bind."""
    symbols = getattr(fn, "shape_symbols", {})
    stacked = [op.result.type.shape[0].expr[1] for op in walk(fn.body) if op.name == "tape_stack"]
    em = _Emitter(fn, strict, reuse, prim_ref, tuple(reserved) + tuple(f"_{s}" for s in list(symbols) + stacked))
    params = [em.names.bind(p) for p in fn.params]
    em.lines.append(f"def {identifier(fn.name)}({', '.join(params)}):")
    for sym, (k, axis) in symbols.items():      # a shape-generic specialisation's extents (ops/dims.py)
        em.lines.append(f"    _{sym} = {params[k]}.shape[{axis}]")
    if entry_check and symbols:
        em.lines += _shape_check(fn, params)
    n = len(em.lines)
    em.block(fn.body, 1)
    if len(em.lines) == n:
        em.lines.append("    pass")
    if em.consts:
        em.lines[1:1] = ["    # constants: " + "; ".join(
            f"{k} = {_describe_const(v)}" if not k.startswith("_k") else f"{k} = native kernel {v.name}"
            for k, v in em.consts.items())]
    return "\n".join(em.lines) + "\n", em.consts


def _shape_check(fn, params):
    """Lines raising ValueError when the arguments' shapes are not ones a shape-generic function
    was compiled for (its fixed extents, one value per symbol, and the guards)."""
    env, conds, wanted = None, [], []
    for k, p in enumerate(fn.params):
        t = p.type
        if not t.is_array:
            continue
        conds.append(f"np.ndim({params[k]}) == {t.ndim}")
        for a, d in enumerate(t.shape):
            if isinstance(d, Dim):
                env = d.env
                if not (d.expr[0] == "sym" and fn.shape_symbols[d.expr[1]] == (k, a)):
                    conds.append(f"{params[k]}.shape[{a}] == {d!r}")
            else:
                conds.append(f"{params[k]}.shape[{a}] == {d}")
        wanted.append(f"{p.hint}: {t}")
    conds += env.conditions("_")
    message = f"compiled for {', '.join(wanted)}; valid while {' and '.join(env.conditions())}"
    return [f"    if not ({' and '.join(conds)}):", f"        raise ValueError({message!r})"]


class CompiledSource:
    """A generated function with its source text and the file name it is registered under.

    Calling it runs the fast variant; where that raises an arithmetic error (a derivative at
    a point where it is infinite, say), the call is repeated on the strict variant, which
    gives NumPy's inf/nan there and raises only where the user's own code would."""
    _ERRORS = (ZeroDivisionError, OverflowError, ValueError)

    def __init__(self, func, source, filename, ir=None):
        self.func = func
        self.source = source
        self.filename = filename
        self.ir = ir
        self._strict = None
        self._plain = None

    def __call__(self, *args):
        try:
            return self.func(*args)
        except self._ERRORS:
            if self.ir is None:
                raise
        try:
            return self.strict(*args)
        except self._ERRORS as e:
            where = self.user_line(e.__traceback__)
            if where:
                e.add_note(f"(raised where the compiled gradient runs {where}; the function raises it there too)")
            raise

    def user_line(self, tb):
        """'file.py:N: source' of the user's line whose generated code raised, from the comment
        the generated source keeps above each block."""
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename.startswith("<adcompiler-generated"):
                line = tb.tb_lineno
                text = linecache.getlines(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        if line is None:
            return None
        for k in range(line - 1, -1, -1):
            stripped = text[k].strip()
            if stripped.startswith("# ") and ":" in stripped and not stripped.startswith("# constants"):
                return stripped[2:]
        return None

    @property
    def strict(self):
        if self._strict is None:
            self._strict = _compile(self.ir, strict=True).func
        return self._strict

    @property
    def plain(self):
        """The variant without out= buffers: what the tracer runs on Tensors and what the front end
        reads back (grad of grad)."""
        if self._plain is None:
            self._plain = self.func if self.ir is None else _compile(self.ir, strict=False, reuse=False).func
        return self._plain


def register_and_exec(source, name, namespace):
    """Compile `source` under a file name registered in linecache (so tracebacks and
    inspect.getsource show it), run it in `namespace`; returns the file name."""
    filename = f"<adcompiler-generated {name} #{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return filename


def compile_function(fn):
    """Compile IR function `fn` to Python; the source is registered in linecache."""
    return _compile(fn, strict=False)


def _compile(fn, strict, reuse=True):
    source, consts = emit_source(fn, strict, reuse)
    namespace = {"np": np, "math": math, "prim": types.SimpleNamespace(**ops.registry), "Dyn": Dyn,
                 "python_scalar": python_scalar, **consts}
    filename = register_and_exec(source, identifier(fn.name), namespace)
    func = namespace[identifier(fn.name)]
    weakref.finalize(func, linecache.cache.pop, filename, None)   # the source lives as long as the code
    func.__source__ = source
    return CompiledSource(func, source, filename, fn)
