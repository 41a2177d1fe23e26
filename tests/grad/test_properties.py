"""Property-based differential tests of `adcompiler.grad`.

Hypothesis builds small random programs f(a, x) -- a scalar `a` and a vector
`x` of length 3 or 4 -- from the primitive table's elementwise operations,
reductions, indexing and a matmul with a constant matrix, wrapped in `for`
loops (over ranges and over arrays, nested, with `break`), counter-driven
`while` loops (optionally with a data-dependent exit), `if`/`elif`/`else` on
data, and early returns. Each program is written as a real module in a
temporary directory (the compiler reads source files), loaded with importlib,
and differentiated three ways:

* compiled (`ad.grad(f, wrt=(0, 1))`, which must run in compiled mode),
* traced (`fallback="always"`, the eager engine),
* central finite differences in float64 on the plain function.

Non-smooth points are kept away from finite differences: every branch
condition and every kink (abs, maximum, max) is rendered a second time in a
"probe" copy of the function that records its margin and the side taken; a
program whose margin is tiny at the sample point, or whose decisions change at
any finite-difference point, is rejected with `assume`.

Generated modules are written to a temporary directory. With
ADC_PROPS_KEEP=1 the failing programs are also kept in tests/grad/progs/
(git-ignored) for inspection.

A second generator (the "state" section below) makes programs with aliases, views,
in-place writes, 0-d arrays, changing module globals and keyword arguments; for those,
refusing to compile is fine, but whichever path runs must be right.
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import pathlib
import re
import sys
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption

import adcompiler as ad
from adcompiler.compiler import UnsupportedSyntax

# ---- tolerances ----------------------------------------------------------------

FD_H = 1e-6
FD_RTOL, FD_ATOL = 1e-5, 1e-6          # compiled vs central differences
PATH_RTOL, PATH_ATOL = 1e-9, 1e-12     # compiled vs traced
MIN_MARGIN = 1e-4                      # distance of every branch condition / kink from its boundary
MAX_VALUE = 1e3                        # keep |f| (and so the finite-difference round-off) small
MAX_GRAD = 1e4

# No "explain" phase: it re-runs a failing program over a thousand times (minutes).
FAST = settings(max_examples=40, deadline=None, derandomize=True, print_blob=True,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
SLOW = settings(FAST, max_examples=400)

KEEP_DIR = pathlib.Path(__file__).parent / "progs"


# ---- program representation ----------------------------------------------------

@dataclass(frozen=True)
class E:
    """An expression: a format string over sub-expressions. `pfmt` is the probe form
    (branch conditions and kinks record their margin there)."""
    fmt: str
    args: tuple = ()
    pfmt: str | None = None

    def render(self, probe=False):
        parts = [a.render(probe) for a in self.args]
        return (self.pfmt if probe and self.pfmt else self.fmt).format(*parts)

    def walk(self):
        yield self
        for a in self.args:
            yield from a.walk()


def leaf(text):
    return E(text.replace("{", "{{").replace("}", "}}"))


class Stmt:
    features = ()

    def lines(self, probe):
        raise NotImplementedError

    def children(self):
        return ()

    def exprs(self):
        return ()


def _indent(lines):
    return ["    " + ln for ln in lines]


def _block(stmts, probe):
    out = []
    for s in stmts:
        out.extend(s.lines(probe))
    return out or ["pass"]


@dataclass
class Assign(Stmt):
    target: str
    expr: E
    op: str = "="

    def lines(self, probe):
        return [f"{self.target} {self.op} {self.expr.render(probe)}"]

    def exprs(self):
        return (self.expr,)

    @property
    def features(self):
        return ("augassign",) if self.op != "=" else ()


@dataclass
class ExprStmt(Stmt):
    expr: E

    def lines(self, probe):
        return [self.expr.render(probe)]

    def exprs(self):
        return (self.expr,)


@dataclass
class SetItem(Stmt):
    target: str
    index: str
    expr: E

    def lines(self, probe):
        return [f"{self.target}[{self.index}] = {self.expr.render(probe)}"]

    def exprs(self):
        return (self.expr,)

    features = ("setitem",)


@dataclass
class If(Stmt):
    branches: list          # [(cond E, [Stmt])]
    orelse: list | None

    def lines(self, probe):
        out = []
        for k, (cond, body) in enumerate(self.branches):
            out.append(f"{'if' if k == 0 else 'elif'} {cond.render(probe)}:")
            out.extend(_indent(_block(body, probe)))
        if self.orelse is not None:
            out.append("else:")
            out.extend(_indent(_block(self.orelse, probe)))
        return out

    def children(self):
        for _, body in self.branches:
            yield from body
        yield from self.orelse or ()

    def exprs(self):
        return tuple(c for c, _ in self.branches)

    @property
    def features(self):
        f = ["if"]
        if len(self.branches) > 1:
            f.append("elif")
        if self.orelse is not None:
            f.append("else")
        return tuple(f)


@dataclass
class For(Stmt):
    var: str
    iterable: str | E       # "range(k)", or a vector expression (its kinks are probed too)
    body: list

    def lines(self, probe):
        it = self.iterable.render(probe) if isinstance(self.iterable, E) else self.iterable
        return [f"for {self.var} in {it}:"] + _indent(_block(self.body, probe))

    def children(self):
        return self.body

    def exprs(self):
        return (self.iterable,) if isinstance(self.iterable, E) else ()

    @property
    def features(self):
        return ("for_array",) if isinstance(self.iterable, E) else ("for_range",)


@dataclass
class While(Stmt):
    counter: str
    bound: int
    cond: E | None
    body: list

    def lines(self, probe):
        head = f"{self.counter} < {self.bound}"
        if self.cond is not None:
            head += f" and {self.cond.render(probe)}"
        # the counter steps first, so a `continue` in the body cannot loop forever
        return ([f"{self.counter} = 0", f"while {head}:"]
                + _indent([f"{self.counter} = {self.counter} + 1"] + _block(self.body, probe)))

    def children(self):
        return self.body

    def exprs(self):
        return (self.cond,) if self.cond is not None else ()

    @property
    def features(self):
        return ("while", "while_data") if self.cond is not None else ("while",)


@dataclass
class Break(Stmt):
    cond: E
    keyword: str = "break"      # or "continue"

    def lines(self, probe):
        return [f"if {self.cond.render(probe)}:", f"    {self.keyword}"]

    def exprs(self):
        return (self.cond,)

    @property
    def features(self):
        return (self.keyword,)


@dataclass
class Return(Stmt):
    expr: E
    cond: E | None = None   # early return when given

    def lines(self, probe):
        if self.cond is None:
            return [f"return {self.expr.render(probe)}"]
        return [f"if {self.cond.render(probe)}:", f"    return {self.expr.render(probe)}"]

    def exprs(self):
        return (self.expr,) + ((self.cond,) if self.cond is not None else ())

    @property
    def features(self):
        return ("early_return",) if self.cond is not None else ()


PROBE_HELPERS = '''

_TRACE = []


def _cond(margin):
    margin = float(margin)
    _TRACE.append((abs(margin), margin > 0.0))
    return margin > 0.0


def _abs(v):
    d = np.asarray(v, dtype=float)
    _TRACE.append((float(np.min(np.abs(d))), tuple(np.sign(d).ravel())))
    return np.abs(v)   # of v itself: the same type as in f (a 0-d array stays one)


def _maximum(u, v):
    d = np.asarray(u, dtype=float) - np.asarray(v, dtype=float)
    _TRACE.append((float(np.min(np.abs(d))), tuple(np.sign(d).ravel())))
    return np.maximum(u, v)


def _max(v):
    s = np.sort(np.asarray(v, dtype=float).ravel())
    _TRACE.append((float(s[-1] - s[-2]) if s.size > 1 else math.inf, int(np.argmax(v))))
    return np.max(v)
'''


class Program:
    def __init__(self, n, matrix, body, params="a, x", prelude=()):
        self.n, self.matrix, self.body = n, matrix, body
        self.params = params        # f's parameter list
        self.prelude = list(prelude)  # module-level definitions (globals f reads)

    def function_source(self, name, probe=False):
        return "\n".join([f"def {name}({self.params}):"] + _indent(_block(self.body, probe)))

    def matrix_source(self):
        m = np.array2string(self.matrix, separator=", ", precision=3, floatmode="fixed",
                            max_line_width=200).replace("\n", "")
        return f"M = np.array({m})"

    @property
    def source(self):
        prelude = self.prelude + [""] if self.prelude else []
        return "\n".join(["import math", "", "import numpy as np", "", self.matrix_source(), ""] + prelude + ["",
                          self.function_source("f"), "", "", self.function_source("f_probe", probe=True),
                          PROBE_HELPERS])

    def statements(self):
        todo = list(self.body)
        while todo:
            s = todo.pop()
            yield s
            todo.extend(s.children())

    def features(self):
        out = set()
        for s in self.statements():
            out.update(s.features)
            for e in s.exprs():
                for sub in e.walk():
                    if sub.fmt.startswith("np.") or sub.fmt.startswith("math.") or "@" in sub.fmt:
                        out.add(sub.fmt.split("(")[0].replace("{}", "").strip() or sub.fmt)
            if isinstance(s, (For, While)) and any(isinstance(c, (For, While)) for c in s.children()):
                out.add("nested_loop")
        return out

    def __repr__(self):  # hypothesis prints the falsifying example with this
        return "Program(source=\n" + self.function_source("f") + "\n)"


# ---- the generator -------------------------------------------------------------
#
# Variables have a kind: "s" scalar, "v" vector, "b" buffer (a vector written element by
# element), ("i", bound) a range() index, "k" a while counter. Vectors are only ever bound
# to fresh arrays (never `v = w`), buffers are only read through `b[i]` until the final
# return, and arrays iterated by `for e in ...` are never mutated, so no generated program
# depends on aliasing between array names: the compiler refuses (and traces) code that
# mutates an array another name shares, or one a `for` loop iterates over
# (test_for_over_an_array_the_body_mutates), and buffers are kept away from the traced
# path's torch-style in-place checks (test_traced_setitem_after_the_array_was_used).

class LoopContext:
    """What a loop body contains so far. A `for` loop body gets either a `break` or a
    nested loop, not both: the compiler rejects the combination (see
    test_for_loop_with_nested_loop_and_break)."""

    def __init__(self, kind):
        self.kind = kind
        self.has_break = False
        self.has_loop = False


class Scope:
    """Variables visible at a point of the program. New variables defined in a block
    are not used after it (they may be unbound there); outer ones may be reassigned."""

    def __init__(self, parent=None, loop=None, cfg=None):
        self.parent = parent
        self.local = {}
        self.loop = loop if loop is not None else (parent.loop if parent else None)
        self.cfg = cfg if cfg is not None else (parent.cfg if parent else None)   # StateConfig or None

    def all(self):
        d = dict(self.parent.all()) if self.parent else {}
        d.update(self.local)
        return d

    def of(self, kind):
        return [n for n, k in self.all().items() if k == kind]

    def indices(self, n):
        return [name for name, k in self.all().items() if isinstance(k, tuple) and k[1] <= n]

    def counters(self):
        return [name for name, k in self.all().items() if k == "k" or isinstance(k, tuple)]


class Namer:
    def __init__(self):
        self.count = {}

    def __call__(self, prefix):
        self.count[prefix] = self.count.get(prefix, -1) + 1
        return f"{prefix}{self.count[prefix]}"


CONSTS = st.sampled_from(["0.5", "1.5", "0.25", "2.0", "0.1", "-0.75", "3.0"])
SMALL = st.sampled_from(["0.1", "0.25", "0.5"])
THRESHOLDS = st.sampled_from(["0.0", "0.2", "-0.3", "0.5", "-0.1", "1.0"])

# (format, probe format). Arguments are kept bounded where a function grows fast (exp)
# and away from singularities (sqrt, log, division). Kinks record their margin in the probe.
UNARY = [
    ("np.sin({})", None), ("np.cos({})", None), ("np.tanh({})", None),
    ("np.exp(np.sin({}))", None), ("np.exp(-({0}) * ({0}))", None),
    ("np.sqrt(1.0 + ({0}) * ({0}))", None), ("np.log(1.0 + ({0}) * ({0}))", None),
    ("({}) ** 2", None), ("np.tanh({}) ** 3", None), ("np.sin({}) ** 3", None), ("-({})", None),
    ("np.abs({})", "_abs({})"), ("np.maximum({}, 0.0)", "_maximum({}, 0.0)"),
]
SCALAR_ONLY_UNARY = [("math.sin({})", None), ("math.cos({})", None), ("math.tanh({})", None),
                     ("math.exp(math.sin({}))", None)]
BINARY = [
    ("({}) + ({})", None), ("({}) - ({})", None), ("({}) * ({})", None),
    ("({0}) / (1.0 + ({1}) * ({1}))", None), ("({}) / (2.0 + np.cos({}))", None),
    ("np.maximum({}, {})", "_maximum({}, {})"),
]
REDUCTIONS = [("np.sum({})", None), ("np.mean({})", None), ("({}).sum()", None), ("np.max({})", "_max({})"),
              ("({0}) @ ({0})", None)]
DAMPED = ["{0} + {1} * {2}", "{1} * {0} + {2}", "np.tanh({2})"]   # loop-carried updates


def _apply(form, *args):
    fmt, pfmt = form
    return E(fmt, tuple(args), pfmt)


@st.composite
def scalar_expr(draw, scope, n, depth):
    leaves = [leaf(s) for s in scope.of("s") + scope.of("r")]   # "r": read-only (a global, kw.get(...))
    choices = ["leaf", "const", "index", "reduce"]
    if scope.counters():
        choices.append("counter")
    if depth > 0:
        choices += ["unary", "unary", "binary", "binary", "reduce_expr", "math"]
    kind = draw(st.sampled_from(choices))
    if kind == "leaf":
        return draw(st.sampled_from(leaves))
    if kind == "const":
        # a constant next to a live value, so the expression stays active
        return E("{} + {}", (leaf(draw(CONSTS)), draw(st.sampled_from(leaves))))
    if kind == "counter":
        return E("{} * {}", (leaf(draw(SMALL)), leaf(draw(st.sampled_from(scope.counters())))))
    if kind == "index":
        vec = draw(st.sampled_from(scope.of("v") + scope.of("b") + scope.of("rv")))
        idx = draw(st.sampled_from(scope.indices(n) + [str(i) for i in range(n)] + ["-1"]))
        return leaf(f"{vec}[{idx}]")
    if kind == "reduce":
        return _apply(draw(st.sampled_from(REDUCTIONS)), leaf(draw(st.sampled_from(scope.of("v") + scope.of("rv")))))
    if kind == "reduce_expr":
        return _apply(draw(st.sampled_from(REDUCTIONS)), draw(vector_expr(scope, n, depth - 1)))
    if kind == "unary":
        return _apply(draw(st.sampled_from(UNARY)), draw(scalar_expr(scope, n, depth - 1)))
    if kind == "math":
        return _apply(draw(st.sampled_from(SCALAR_ONLY_UNARY)), draw(scalar_expr(scope, n, depth - 1)))
    return _apply(draw(st.sampled_from(BINARY)), draw(scalar_expr(scope, n, depth - 1)),
                  draw(scalar_expr(scope, n, depth - 1)))


@st.composite
def vector_expr(draw, scope, n, depth, fresh=False):
    """A vector expression; `fresh` ones are never a bare variable (no aliasing)."""
    vecs = [leaf(v) for v in scope.of("v") + scope.of("rv")]
    choices = ["matmul"] + ([] if fresh else ["leaf"])
    if depth > 0:
        choices += ["unary", "unary", "binary", "broadcast", "matmul_expr"]
    kind = draw(st.sampled_from(choices))
    if kind == "leaf":
        return draw(st.sampled_from(vecs))
    if kind == "matmul":
        return E("M @ {}", (draw(st.sampled_from(vecs)),))
    if kind == "matmul_expr":
        return E("M @ ({})", (draw(vector_expr(scope, n, depth - 1)),))
    if kind == "unary":
        return _apply(draw(st.sampled_from(UNARY)), draw(vector_expr(scope, n, depth - 1)))
    if kind == "binary":
        return _apply(draw(st.sampled_from(BINARY)), draw(vector_expr(scope, n, depth - 1)),
                      draw(vector_expr(scope, n, depth - 1)))
    # vector-scalar broadcasting, in either order
    v = draw(vector_expr(scope, n, depth - 1))
    s = draw(scalar_expr(scope, n, depth - 1))
    return _apply(draw(st.sampled_from(BINARY)), *((v, s) if draw(st.booleans()) else (s, v)))


@st.composite
def condition(draw, scope, n):
    lhs = draw(scalar_expr(scope, n, 1))
    thr = leaf(draw(THRESHOLDS))
    if draw(st.booleans()):
        return E("{} > {}", (lhs, thr), "_cond(({}) - ({}))")
    return E("{} < {}", (lhs, thr), "_cond(({1}) - ({0}))")


@st.composite
def scalar_rhs(draw, scope, n):
    # may be a bare element `s = b[i]`, which is a copy (test_scalar_element_is_not_an_alias)
    return draw(scalar_expr(scope, n, 2))


@st.composite
def update(draw, scope, n, namer, kind=None):
    """Assign to a variable: a new one, or an existing scalar/vector/buffer. Updates in
    loop bodies (carried from one iteration to the next) are damped so values stay small."""
    loop = scope.loop is not None
    owned = [v for v in scope.of("v") if v != "x"]
    buffers = scope.of("b")
    kinds = ["new_s", "new_v", "new_b", "new_b", "set_s", "set_s", "aug_s"]
    if owned:
        kinds += ["set_v", "set_v", "aug_v"]
    if buffers:
        kinds += ["setitem", "setitem"]
    if kind is None:
        kind = draw(st.sampled_from(kinds))
    if kind in ("new_s", "new_v", "new_b"):
        name = namer(kind[-1])
        if kind == "new_s":
            stmt = Assign(name, draw(scalar_rhs(scope, n)))
        elif kind == "new_v":
            stmt = Assign(name, draw(vector_expr(scope, n, 2, fresh=True)))
        else:
            init = draw(st.sampled_from(["np.zeros({n})", "{s} * np.ones({n})", "x * {s}"]))
            stmt = Assign(name, leaf(init.format(n=n, s=draw(st.sampled_from(scope.of("s"))))))
        scope.local[name] = kind[-1]
        return stmt
    if kind == "aug_s":
        return Assign(draw(st.sampled_from(scope.of("s"))),
                      E("{} * {}", (leaf(draw(SMALL)), draw(scalar_expr(scope, n, 2)))),
                      op=draw(st.sampled_from(["+=", "-="])))
    if kind == "aug_v":
        return Assign(draw(st.sampled_from(owned)),
                      E("{} * {}", (leaf(draw(SMALL)), draw(vector_expr(scope, n, 2)))),
                      op=draw(st.sampled_from(["+=", "-="])))
    if kind == "setitem":
        idx = draw(st.sampled_from(scope.indices(n) + [str(i) for i in range(n)] + ["-1"]))
        return SetItem(draw(st.sampled_from(buffers)), idx, draw(scalar_expr(scope, n, 2)))
    if kind == "set_s":
        t = draw(st.sampled_from(scope.of("s")))
        e = draw(scalar_rhs(scope, n))
        if loop:
            e = E(draw(st.sampled_from(DAMPED)), (leaf(t), leaf(draw(SMALL)), e))
        return Assign(t, e)
    t = draw(st.sampled_from(owned))
    e = draw(vector_expr(scope, n, 2, fresh=True))
    if loop:
        e = E(draw(st.sampled_from(DAMPED)), (leaf(t), leaf(draw(SMALL)), e))
    return Assign(t, e)


@st.composite
def block(draw, scope, n, namer, depth, min_size=1, max_size=3):
    size = draw(st.integers(min_size, max_size))
    return [draw(statement(scope, n, namer, depth)) for _ in range(size)]


@st.composite
def statement(draw, scope, n, namer, depth):
    ctx = scope.loop
    for_with_break = ctx is not None and ctx.kind == "for" and ctx.has_break
    kinds = ["update", "update", "update"]
    if depth > 0:
        kinds.append("if")
        if not for_with_break:
            kinds += ["for", "for_array", "while"]
    if ctx is not None:
        kinds.append("continue")
        if not (ctx.kind == "for" and ctx.has_loop):
            kinds.append("break")
    kind = draw(st.sampled_from(kinds))
    if kind == "update":
        return draw((scope.cfg.update if scope.cfg is not None else update)(scope, n, namer))
    if kind == "break":
        ctx.has_break = True
        return Break(draw(condition(scope, n)))
    if kind == "continue":
        return Break(draw(condition(scope, n)), "continue")
    if kind == "if":
        branches = []
        for _ in range(draw(st.integers(1, 2))):
            cond = draw(condition(scope, n))
            branches.append((cond, draw(block(Scope(scope), n, namer, depth - 1))))
        orelse = draw(st.none() | block(Scope(scope), n, namer, depth - 1))
        return If(branches, orelse)
    if ctx is not None:
        ctx.has_loop = True
    inner = Scope(scope, loop=LoopContext("while" if kind == "while" else "for"))
    if kind == "for":
        var = namer("i")
        k = draw(st.integers(1, n))
        inner.local[var] = ("i", k)
        return For(var, f"range({k})", draw(block(inner, n, namer, depth - 1)))
    if kind == "for_array":
        var = namer("e")
        inner.local[var] = "s"
        # x is never mutated, and a fresh expression cannot be (see the note above)
        iterable = draw(st.just(leaf("x")) | vector_expr(scope, n, 1, fresh=True))
        return For(var, iterable, draw(block(inner, n, namer, depth - 1)))
    counter = namer("k")
    inner.local[counter] = "k"
    cond = draw(st.none() | condition(scope, n))
    return While(counter, draw(st.integers(1, 4)), cond, draw(block(inner, n, namer, depth - 1)))


@st.composite
def programs(draw, max_depth=2):
    n = draw(st.sampled_from([3, 4]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    matrix = np.round(rng.uniform(-0.6, 0.6, size=(n, n)), 3)
    namer = Namer()
    scope = Scope()
    scope.local.update({"a": "s", "x": "v"})
    body = []
    early = draw(st.integers(0, 5)) == 0
    for k in range(draw(st.integers(1, 5))):
        if early and k == 1:
            # an early return in the middle
            body.append(Return(draw(scalar_expr(scope, n, 2)), draw(condition(scope, n))))
        body.append(draw(statement(scope, n, namer, max_depth)))
    # Return every top-level value, so each statement is live; `a` linearly, so its
    # cotangent is a compile-time constant (test_weak_cotangent_of_an_element).
    terms = ["a"] + [f"np.sin({s})" for s in scope.of("s") if s != "a"]
    terms += [f"np.sum(np.tanh({v}))" for v in scope.of("v") + scope.of("b")]
    body.append(Return(leaf(" + ".join(terms))))
    return Program(n, matrix, body)


# ---- loading and checking ------------------------------------------------------

# Compiler failures already reduced to a minimal function and pinned by an
# xfail(strict=True) test below, as message -> test name; a generated program that hits
# one of them is discarded (and counted as an event) instead of failing every run. Any
# other compile failure fails the property. (Empty: the two that were here are fixed.)
KNOWN_COMPILER_BUGS = {}


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return tmp_path_factory.mktemp("progs")


class loaded:
    """Write `program` as a module file in `directory` and import it (inspect.getsource
    must find f's source); the module leaves sys.modules again on exit."""

    def __init__(self, program, directory):
        src = program.source
        self.name = "adc_prop_" + hashlib.sha1(src.encode()).hexdigest()[:12]
        self.path = pathlib.Path(directory) / f"{self.name}.py"
        self.path.write_text(src)

    def __enter__(self):
        spec = importlib.util.spec_from_file_location(self.name, self.path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[self.name] = mod
        spec.loader.exec_module(mod)
        return mod

    def __exit__(self, *exc):
        sys.modules.pop(self.name, None)


def keep(program):
    if os.environ.get("ADC_PROPS_KEEP"):
        KEEP_DIR.mkdir(exist_ok=True)
        (KEEP_DIR / ".gitignore").write_text("*\n")
        src = program.source
        (KEEP_DIR / f"prog_{hashlib.sha1(src.encode()).hexdigest()[:12]}.py").write_text(src)


def as_arg(a, a_type=None):
    """The scalar argument `a` (a float) as the type a program is called with."""
    if a_type == "np.float64":
        return np.float64(a)
    if a_type == "0-d":
        return np.array(a)
    return a


def fresh(kw):
    """Keyword arguments with arrays copied (f may write into them)."""
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in (kw or {}).items()}


def decisions(mod, a, x, kw=None, a_type=None):
    mod._TRACE.clear()
    with np.errstate(all="ignore"):
        value = mod.f_probe(as_arg(a, a_type), x.copy(), **fresh(kw))
    return float(np.asarray(value).reshape(())), list(mod._TRACE)


def evaluate(mod, a, x, kw=None, a_type=None):
    """f's value on fresh copies of the arguments (f may write into them)."""
    with np.errstate(all="ignore"):
        return float(np.asarray(mod.f(as_arg(a, a_type), x.copy(), **fresh(kw))).reshape(()))


def central_differences(fn, a, x, h=FD_H):
    """Central differences of scalar fn(a, x) w.r.t. a and each x[j]."""
    da = (fn(a + h, x.copy()) - fn(a - h, x.copy())) / (2 * h)
    dx = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        dx[j] = (fn(a, x + e) - fn(a, x - e)) / (2 * h)
    return da, dx


def extrapolated_differences(fn, a, x, h=1e-5):
    """Central differences at h and h/2, Richardson-extrapolated (error O(h^4)): programs whose
    loops multiply curvature up are not flagged for the O(h^2) error of plain differences."""
    (a1, x1), (a2, x2) = central_differences(fn, a, x, h), central_differences(fn, a, x, h / 2)
    return (4 * a2 - a1) / 3, (4 * x2 - x1) / 3


def fd_points(a, x, h):
    yield a + h, x
    yield a - h, x
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        yield a, x + e
        yield a, x - e


def smoothness(mod, a, x, kw=None, a_type=None):
    """None when (a, x) is near a branch boundary or kink (the decisions change under a
    finite-difference step, or a margin is below MIN_MARGIN) or f blows up there;
    otherwise f's value at (a, x)."""
    value, trace = decisions(mod, a, x, kw, a_type)
    if not (np.isfinite(value) and abs(value) < MAX_VALUE) or any(m < MIN_MARGIN for m, _ in trace):
        return None
    sides = [s for _, s in trace]
    for h in (FD_H, 1e-5, 1e-4):
        for pa, px in fd_points(a, x, h):
            if [s for _, s in decisions(mod, pa, px, kw, a_type)[1]] != sides:
                return None
    plain = evaluate(mod, a, x, kw, a_type)
    assert plain == value or abs(plain - value) <= 1e-12 * max(1.0, abs(value)), "probe copy disagrees with f"
    return plain


def assume_smooth(mod, a, x, kw=None, a_type=None):
    value = smoothness(mod, a, x, kw, a_type)
    assume(value is not None)
    return value


def assert_grads_close(got, want, rtol, atol, what):
    (ga, gx), (wa, wx) = got, want
    np.testing.assert_allclose(ga, wa, rtol=rtol, atol=atol, err_msg=f"d/da: {what}")
    np.testing.assert_allclose(gx, wx, rtol=rtol, atol=atol, err_msg=f"d/dx: {what}")


def compiled_value_and_grad(mod, a, x):
    """(value, (da, dx)) from the compiler; the compiler must take every generated program."""
    g = ad.value_and_grad(mod.f, wrt=(0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ad.FallbackWarning)
        try:
            out = g(a, x.copy())
        except (ad.FallbackWarning, ValueError) as e:
            for known, test in KNOWN_COMPILER_BUGS.items():
                if known in str(e):
                    event(f"discarded: known compiler bug ({test})")
                    assume(False)
            raise
    assert g.mode == "compiled", g.explain()
    return out


def inputs(n):
    coord = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False)
    return st.tuples(coord, st.lists(coord, min_size=n, max_size=n).map(lambda v: np.array(v, dtype=np.float64)))


@st.composite
def cases(draw, max_depth=2):
    program = draw(programs(max_depth))
    a, x = draw(inputs(program.n))
    return program, a, x


def check_program(program, a, x, directory):
    note(program.source)
    with loaded(program, directory) as mod:
        value = assume_smooth(mod, a, x)
        for feature in sorted(program.features()):
            event(feature)
        cval, (ca, cx) = compiled_value_and_grad(mod, a, x)
        fd_a, fd_x = central_differences(lambda a_, x_: evaluate(mod, a_, x_), a, x)
        assume(abs(fd_a) < MAX_GRAD and np.all(np.abs(fd_x) < MAX_GRAD))
        try:
            # a gradient has the type and shape of its input
            assert isinstance(ca, float), type(ca)
            assert isinstance(cx, np.ndarray) and cx.shape == x.shape and cx.dtype == np.float64
            np.testing.assert_allclose(cval, value, rtol=1e-12, atol=1e-12, err_msg="compiled value")

            t = ad.value_and_grad(mod.f, wrt=(0, 1), fallback="always")
            tval, (ta, tx) = t(a, x.copy())
            assert t.mode == "traced"
            np.testing.assert_allclose(tval, value, rtol=1e-12, atol=1e-12, err_msg="traced value")
            assert_grads_close((ca, cx), (ta, tx), PATH_RTOL, PATH_ATOL, "compiled vs traced")
            assert_grads_close((ca, cx), (fd_a, fd_x), FD_RTOL, FD_ATOL, "compiled vs central differences")
        except BaseException:
            keep(program)
            raise


def check_second_order(program, a, x, directory):
    """d/d(a, x) of df/da: the compiled first derivative differentiated again (grad of
    grad) against the eager engine's double backward and central differences of the
    compiled first derivative."""
    note(program.source)
    with loaded(program, directory) as mod:
        assume_smooth(mod, a, x)
        compiled_value_and_grad(mod, a, x)
        first = ad.grad(mod.f, wrt=0)
        h = 1e-5
        fd_a, fd_x = central_differences(first, a, x, h=h)
        assume(abs(fd_a) < MAX_GRAD and np.all(np.abs(fd_x) < MAX_GRAD))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ad.FallbackWarning)   # grad of grad traces the adjoint
                second = ad.grad(ad.grad(mod.f, wrt=0), wrt=(0, 1))(a, x.copy())
            eager = ad.grad(ad.grad(mod.f, wrt=0, fallback="always"), wrt=(0, 1), fallback="always")(a, x.copy())
            assert_grads_close(second, eager, 1e-8, 1e-10, "grad(grad(f)) vs eager double backward")
            assert_grads_close(second, (fd_a, fd_x), 1e-4, 1e-5, "grad(grad(f)) vs central differences of grad(f)")
        except BaseException:
            keep(program)
            raise


# ---- the properties --------------------------------------------------------------

@FAST
@given(case=cases())
def test_compiled_traced_and_finite_differences_agree(case, progdir):
    check_program(*case, progdir)


@settings(FAST, max_examples=30)
@given(case=cases())
def test_second_derivatives_agree(case, progdir):
    check_second_order(*case, progdir)


@pytest.mark.slow
@SLOW
@given(case=cases(max_depth=3))
def test_compiled_traced_and_finite_differences_agree_many(case, progdir):
    check_program(*case, progdir)


@pytest.mark.slow
@settings(SLOW, max_examples=100)
@given(case=cases(max_depth=2))
def test_second_derivatives_agree_many(case, progdir):
    check_second_order(*case, progdir)


# ---- state: aliases, views, in-place writes, 0-d arrays, globals, keywords ----------------
#
# A differential fuzzer found about 1% of compiled programs silently wrong, all about state
# that the generator above keeps away from: names sharing memory, 0-d arrays (mutable, unlike
# NumPy scalars and Python floats), module globals that change between calls, and keyword
# arguments. Four more families of programs exercise them:
#
# * "alias": f's own arrays (x * a, ...) and x, aliased (`b = a`, `([a], ...)[0]`, a helper
#   returning its argument), viewed (`a[:]`, `a[1:]`, `a[:2]`, `a[::2]`, `a[::-1]`,
#   `a.reshape(...)` also 2-D, `a.ravel()`, `np.asarray(a)`, `a[None][0]`, ...) and written in
#   place through any name (`a[i] = ...`, `a[1:3] = ...`, `a[:] = b`, `a += ...`, `a *= ...`,
#   `a[i] += ...`, a helper writing into its argument), in loops and branches too: an alias
#   made in one iteration and written in the next, carried out of a loop, made in one branch
#   of an if and written or read after it; writes into x itself only in the slow variant;
# * "scalar": 0-d arrays (`np.where(c, 1.0, np.sum(x))`, `np.array(s)`, `np.asarray(s)`,
#   `y[1, ...]`, `y[1:2].reshape(())`) written in place (`s += ...`, `s *= ...`,
#   `s[...] = ...`) and aliased (`t = s`), next to NumPy scalars (`np.sum(x)`, `x[0]`,
#   `np.float64(...)`) and Python floats; `a` itself is a float, a np.float64 or a 0-d array,
#   and f returns a scalar, a 0-d or a size-1 array;
# * "globals": f reads module globals -- a scalar LAM, an array Z, a dict CONFIG (a float and an
#   array), a list LR, an object OBJ's attributes, a function H; between calls the test rebinds
#   them (`mod.LAM = 2.0`, also to a NumPy scalar, a 0-d array, an int; `mod.Z = ...`, also an
#   int array; `mod.H = mod._h2`) or changes them in place (`mod.Z[:] = ...`,
#   `mod.CONFIG["l2"] = 3.0`, `mod.CONFIG["w"][k] = ...`, `mod.LR[0] = 0.7`, `mod.OBJ.w = ...`);
# * "kwargs": keyword-only and defaulted parameters, a boolean flag, and **kw read with
#   kw.get, called with other keywords each time (floats, ints, NumPy scalars, 0-d arrays).
#
# Refusing is a correct answer for these: a program the compiler cannot prove safe must be
# traced (with a FallbackWarning). So these properties do not require compiled mode; they
# require that whichever path `grad` takes gives the plain NumPy value (f run on copies of
# its arguments) and the central-difference gradient, that the traced path does too, and that
# compiled == traced whenever the compiler took the program. `event()` counts compiled vs
# refused per family (pytest --hypothesis-show-statistics). Each program is called in two or
# three rounds -- new inputs and, for "globals" and "kwargs", new global state or keywords --
# with the same `grad` objects, so a specialisation reused after the state changed is caught.
# The slow variants and the survey below also check a jit="always" gradient (native tier).
#
# The default runs keep away from the open bugs below, each reduced to minimal functions in
# an xfail(strict=True) test of test_properties_state.py (which also keeps the fixed ones as
# regression tests); the slow variants generate everything. When a bug is fixed, remove its
# xfail there and its tag here. `python -m tests.grad.test_properties [family ...]
# [--examples N] [--default | --avoid TAG,...]` counts the outcomes of N programs per family,
# without stopping at the first failure, and prints the smallest failing programs.

KNOWN_STATE_BUGS = {
    # tag: its regression test in test_properties_state.py
    "traced_np_float64": "test_traced_np_float64_of_a_traced_value",
    "traced_write_into_untraced_array": "test_traced_write_into_an_untraced_array",
}
DEFAULT_AVOID = frozenset(KNOWN_STATE_BUGS)
STATE_FAMILIES = ("alias", "scalar", "globals", "kwargs")


class StateConfig:
    """What one state program may contain, and what the generator knows about its names."""

    def __init__(self, family, avoid, n):
        self.family, self.avoid, self.n = family, frozenset(avoid), n
        self.update = {"alias": alias_update, "scalar": scalar_update, "globals": globals_update}.get(family, update)
        self.shapes = {}        # "w" variable -> its shape (views with another shape than x's)
        self.zero_d = set()     # variables surely bound to a 0-d array (`s[...] = ...` is valid)
        self.pinned = set()     # 0-d variables written with `s[...] =`: never rebound after
        self.a_type = "float"   # the type `a` is passed as
        self.keywords = ()      # "kwargs": the keyword names f takes

    def allows(self, tag):
        return tag not in self.avoid


class StateProgram(Program):
    def __init__(self, n, matrix, body, cfg, params="a, x", prelude=()):
        super().__init__(n, matrix, body, params, prelude)
        self.cfg = cfg
        self.family = cfg.family

    def __repr__(self):
        pre = "\n".join([self.matrix_source()] + self.prelude) + "\n\n"
        return f"StateProgram({self.family}, a: {self.cfg.a_type}, source=\n{pre}{self.function_source('f')}\n)"


@dataclass
class Round:
    """One call: the inputs, statements run on the module first (`mod.LAM = 2.0`), keywords."""
    a: float
    x: np.ndarray
    setup: tuple = ()
    kwargs: dict = None

    def __post_init__(self):
        self.kwargs = dict(self.kwargs or {})


FULL_VIEWS = ["{u}[:]", "{u}.reshape({n})", "{u}.reshape(-1)", "{u}[::-1]", "np.reshape({u}, ({n},))",
              "np.asarray({u})", "{u}[None][0]", "np.squeeze({u}[None])", "np.expand_dims({u}, 0)[0]", "{u}.T",
              "({u}, a)[0]", "[{u}][0]", "_same({u})",
              "{u}.ravel()", "{u}[::-1].ravel()"]  # a view, except of a non-contiguous array (then a copy)
# module-level helpers of the "alias" family: one writes into its argument, one returns it
ALIAS_HELPERS = ["def _put(v, s):", "    v[0] = s", "", "", "def _same(v):", "    return v"]


def other_views(n):
    """Views of a length-n vector with another shape, as (format, shape)."""
    views = [("{u}[1:]", (n - 1,)), ("{u}[:2]", (2,)), ("{u}[1:3]", (2,)), ("{u}[::2]", ((n + 1) // 2,)),
             ("{u}.reshape(1, {n})", (1, n)), ("{u}.reshape({n}, 1)", (n, 1))]
    if n == 4:
        views.append(("{u}.reshape(2, 2)", (2, 2)))
    return views


def element_indices(shape):
    if len(shape) == 1:
        return sorted({"0", "-1", str(shape[0] - 1)})
    return ["0, 0", f"{shape[0] - 1}, {shape[1] - 1}", "-1, 0"]


def _damped(scope, target, e, draw):
    """A loop-carried update of `target` stays small."""
    if scope.loop is None:
        return e
    return E(draw(st.sampled_from(DAMPED)), (leaf(target), leaf(draw(SMALL)), e))


@st.composite
def alias_update(draw, scope, n, namer):
    """An update of the "alias" family: aliases, views and in-place writes through any name."""
    cfg = scope.cfg
    vectors = scope.of("v")                     # length-n arrays, x included
    owned = [v for v in vectors if v != "x"]
    writable = owned + (["x"] if cfg.allows("write_arg") else [])
    # aliases of x written through are discarded when writing into an argument is avoided
    sources = vectors if cfg.allows("write_arg") else owned
    others = scope.of("w")
    views = FULL_VIEWS if cfg.allows("traced_ravel_copy_is_view") else [v for v in FULL_VIEWS if "ravel" not in v]
    kinds = ["new_s", "set_s", "aug_s", "new_v", "new_v", "alias", "alias", "alias", "view", "view", "view",
             "other_view", "other_view"]
    if owned:
        kinds += ["set_v"]
    if writable:
        kinds += ["setitem", "setitem", "setslice", "helper", "aug_v", "aug_v", "aug_item"]
    if others:
        kinds += ["w_write"] * 5 + ["w_read"] * 2
    kind = draw(st.sampled_from(kinds))
    if kind in ("new_s", "set_s", "aug_s", "set_v"):
        return draw(update(scope, n, namer, kind))
    if kind == "new_v":
        init = draw(st.sampled_from(["fresh", "np.zeros({n})", "x * 1.0", "{u}.copy()", "{s} * np.ones({n})"]))
        if init == "fresh":
            e = draw(vector_expr(scope, n, 2, fresh=True))
        else:
            e = leaf(init.format(n=n, u=draw(st.sampled_from(vectors)), s=draw(st.sampled_from(scope.of("s")))))
        name = namer("v")
        scope.local[name] = "v"
        return Assign(name, e)
    if kind in ("alias", "view"):
        u = draw(st.sampled_from(sources))
        e = leaf((draw(st.sampled_from(views)) if kind == "view" else "{u}").format(u=u, n=n))
        targets = [v for v in owned if v != u]
        if targets and draw(st.booleans()):
            # rebinding a name: in a loop, the next iteration writes through the alias
            return Assign(draw(st.sampled_from(targets)), e)
        name = namer("v")
        scope.local[name] = "v"
        return Assign(name, e)
    if kind == "other_view":
        fmt, shape = draw(st.sampled_from(other_views(n)))
        name = namer("w")
        scope.local[name] = "w"
        cfg.shapes[name] = shape
        return Assign(name, leaf(fmt.format(u=draw(st.sampled_from(sources)), n=n)))
    if kind == "setitem":
        idx = draw(st.sampled_from(scope.indices(n) + [str(i) for i in range(n)] + ["-1"]))
        return SetItem(draw(st.sampled_from(writable)), idx, draw(scalar_expr(scope, n, 2)))
    if kind == "setslice":
        t = draw(st.sampled_from(writable))
        idx = draw(st.sampled_from(["1:3", ":2", "::2", "1:", ":", "..."]))
        if idx in (":", "...") and draw(st.booleans()):
            # a whole vector, maybe a bare name (`t[:] = u` copies u into t)
            return SetItem(t, idx, _damped(scope, t, draw(vector_expr(scope, n, 2)), draw))
        return SetItem(t, idx, draw(scalar_expr(scope, n, 2)))
    if kind == "helper":   # `_put(t, s)` writes t[0] = s
        return ExprStmt(E("_put({}, {})", (leaf(draw(st.sampled_from(writable))), draw(scalar_expr(scope, n, 2)))))
    if kind == "aug_item":
        t = draw(st.sampled_from(writable))
        idx = draw(st.sampled_from(scope.indices(n) + [str(i) for i in range(n)] + ["-1", "1:", ":2", ":"]))
        op = draw(st.sampled_from(["+=", "-=", "*="]))
        e = draw(scalar_expr(scope, n, 2))
        return Assign(f"{t}[{idx}]", E("np.cos({})", (e,)) if op == "*=" else E("{} * {}", (leaf(draw(SMALL)), e)),
                      op=op)
    if kind == "aug_v":
        t = draw(st.sampled_from(writable))
        form = draw(st.sampled_from(["vector", "scalar", "factor", "cos"]))
        if form == "vector":
            return Assign(t, E("{} * {}", (leaf(draw(SMALL)), draw(vector_expr(scope, n, 2)))),
                          op=draw(st.sampled_from(["+=", "-="])))
        if form == "scalar":
            return Assign(t, E("{} * {}", (leaf(draw(SMALL)), draw(scalar_expr(scope, n, 2)))),
                          op=draw(st.sampled_from(["+=", "-="])))
        if form == "factor":
            return Assign(t, leaf(draw(st.sampled_from(["0.5", "-0.75", "1.5"]))), op="*=")
        return Assign(t, E("np.cos({})", (draw(scalar_expr(scope, n, 2)),)), op="*=")
    w = draw(st.sampled_from(others))
    shape = cfg.shapes[w]
    if kind == "w_read":
        name = namer("s")
        scope.local[name] = "s"
        e = draw(st.sampled_from([f"{w}[{i}]" for i in element_indices(shape)] + [f"np.sum({w})", f"np.mean({w})"]))
        return Assign(name, leaf(e))
    if draw(st.booleans()):
        op = draw(st.sampled_from(["+=", "-=", "*="]))
        e = draw(scalar_expr(scope, n, 2))
        return Assign(w, E("np.cos({})", (e,)) if op == "*=" else E("{} * {}", (leaf(draw(SMALL)), e)), op=op)
    idx = draw(st.sampled_from(element_indices(shape) + (["0"] if len(shape) == 2 else []) + [":", "..."]))
    return SetItem(w, idx, draw(scalar_expr(scope, n, 2)))


@st.composite
def scalar_update(draw, scope, n, namer):
    """An update of the "scalar" family: 0-d arrays, NumPy scalars and floats, written in place."""
    cfg = scope.cfg
    scalars = scope.of("s")
    vectors = scope.of("v")
    owned = [v for v in vectors if v != "x"]
    protected = {"a"} if cfg.a_type == "0-d" and not cfg.allows("write_arg") else set()
    zero_d = [s for s in scalars if s in cfg.zero_d and s not in protected]
    kinds = ["new_s", "set_s", "aug_s", "aug_s", "zero_d", "zero_d", "np_scalar", "new_v", "alias", "alias",
             "zero_d_view", "zero_d_view"]
    if owned:
        kinds += ["setitem", "aug_v"]
    if zero_d:
        kinds += ["zero_d_write"] * 3
    kind = draw(st.sampled_from(kinds))
    if kind in ("set_s", "aug_s") and not [s for s in scalars if s not in cfg.pinned and s not in protected]:
        kind = "new_s"
    if kind in ("new_s", "new_v", "aug_v"):
        return draw(update(scope, n, namer, kind))
    if kind == "set_s":
        t = draw(st.sampled_from([s for s in scalars if s not in cfg.pinned]))
        cfg.zero_d.discard(t)
        return Assign(t, _damped(scope, t, draw(scalar_rhs(scope, n)), draw))
    if kind == "aug_s":
        t = draw(st.sampled_from([s for s in scalars if s not in protected]))
        op = draw(st.sampled_from(["+=", "-=", "*="]))
        e = draw(scalar_expr(scope, n, 2))
        return Assign(t, E("np.cos({})", (e,)) if op == "*=" else E("{} * {}", (leaf(draw(SMALL)), e)), op=op)
    if kind == "setitem":
        idx = draw(st.sampled_from(scope.indices(n) + [str(i) for i in range(n)] + ["-1"]))
        return SetItem(draw(st.sampled_from(owned)), idx, draw(scalar_expr(scope, n, 2)))
    if kind == "zero_d_write":
        t = draw(st.sampled_from(zero_d))
        cfg.pinned.add(t)
        return SetItem(t, "...", _damped(scope, t, draw(scalar_expr(scope, n, 2)), draw))
    if kind == "alias":
        src = draw(st.sampled_from(scalars))
        targets = [t for t in scalars if t != src and t not in cfg.pinned and t not in protected]
        if targets and draw(st.booleans()):
            t = draw(st.sampled_from(targets))
            cfg.zero_d.discard(t)
            return Assign(t, leaf(src))
        zero_d_value = src in cfg.zero_d
        e = leaf(src)
    elif kind == "np_scalar":
        zero_d_value = False
        form = draw(st.sampled_from(["np.sum({u})", "{u}[{i}]", "np.mean({u})", "np.float64({e})"]))
        # see test_traced_np_float64_of_a_traced_value
        if form == "np.float64({e})" and cfg.allows("traced_np_float64"):
            e = E("np.float64({})", (draw(scalar_expr(scope, n, 2)),))
        else:
            form = form.replace("np.float64({e})", "np.sum({u})")
            e = leaf(form.format(u=draw(st.sampled_from(vectors)), i=draw(st.integers(0, n - 1))))
    elif kind == "zero_d_view":
        zero_d_value = True
        u = draw(st.sampled_from(vectors if cfg.allows("write_arg") or not owned else owned))
        i = draw(st.integers(0, n - 1))
        forms = ["{u}[{i}:{j}].reshape(())"]
        if cfg.allows("compiled_zero_d_view"):   # see test_compiled_zero_d_view
            forms += ["{u}[{i}, ...]", "{u}[..., {i}]"]
        form = draw(st.sampled_from(forms))
        e = leaf(form.format(u=u, i=i, j=i + 1))
    else:
        zero_d_value = True
        form = draw(st.sampled_from(["where", "where", "np.array", "np.asarray"]))
        arg = draw(scalar_expr(scope, n, 2))
        if form == "where":          # (np.asarray(s) of a 0-d array s is s itself)
            cond, k = draw(condition(scope, n)), leaf(draw(CONSTS))
            e = E("np.where({}, {}, {})", (cond, k, arg) if draw(st.booleans()) else (cond, arg, k))
        else:
            e = E(form + "({})", (arg,))
    name = namer("s")
    scope.local[name] = "s"
    if zero_d_value:
        cfg.zero_d.add(name)
    return Assign(name, e)


@st.composite
def globals_update(draw, scope, n, namer):
    """The base generator's update; an array made from globals alone is a plain ndarray to the
    tracer, so the default run does not write into arrays in place here (see
    test_traced_write_into_an_untraced_array)."""
    stmt = draw(update(scope, n, namer))
    if scope.cfg.allows("traced_write_into_untraced_array") or not (isinstance(stmt, Assign) and stmt.op != "="
                                                                       and scope.of("v").count(stmt.target)):
        return stmt
    return Assign(stmt.target, E("{} " + stmt.op[0] + " {}", (leaf(stmt.target), stmt.expr)))


GLOBAL_SCALARS = ["LAM", 'CONFIG["l2"]', "LR[0]", "OBJ.w"]
GLOBAL_VECTORS = ["Z", 'CONFIG["w"]', "OBJ.v"]
GLOBAL_CLASS = ["class _Params:", "    def __init__(self, w, v):", "        self.w = w", "        self.v = v"]
GLOBAL_FUNCTIONS = ["def _h1(t):", "    return np.sin(t)", "", "", "def _h2(t):", "    return np.tanh(2.0 * t)", "", "",
                    "H = _h1"]   # f calls H(...); the test rebinds H
MUTATION_CONSTS = ["0.0", "1.0", "2.0", "-0.5", "0.7", "3.0"]


def global_arrays(n):
    """Array values for a global (of one value too: see test_global_changed_between_calls)."""
    return [f"np.linspace(-0.5, 1.0, {n})", f"np.array({[0.3, -0.2, 0.9, 0.4][:n]})", f"np.zeros({n})",
            f"np.ones({n})", f"np.full({n}, 0.5)"]


@st.composite
def global_definitions(draw, n, cfg):
    arrays = st.sampled_from(global_arrays(n))
    return ([f"LAM = {draw(CONSTS)}", f"Z = {draw(arrays)}", f'CONFIG = {{"l2": {draw(CONSTS)}, "w": {draw(arrays)}}}',
             f"LR = [{draw(CONSTS)}]", "", ""] + GLOBAL_CLASS
            + ["", "", f"OBJ = _Params({draw(CONSTS)}, {draw(arrays)})", "", ""] + GLOBAL_FUNCTIONS)


@st.composite
def global_mutation(draw, n, cfg):
    """A statement changing the module's globals between two calls."""
    c = draw(st.sampled_from(MUTATION_CONSTS))
    k = draw(st.integers(0, n - 1))
    arr = draw(st.sampled_from(global_arrays(n)))
    options = [  # rebinding
        f"mod.LAM = {c}", f"mod.Z = {arr}", f'mod.CONFIG = {{"l2": {c}, "w": {arr}}}', f"mod.LR = [{c}]",
        f"mod.OBJ = mod._Params({c}, {arr})", "mod.H = mod._h2", "mod.H = mod._h1",
        # to another type
        f"mod.LAM = np.float64({c})", f"mod.LAM = np.array({c})", f"mod.LAM = {int(float(c))}",
        f"mod.Z = np.arange({n}) - 1",   # (not float32: NumPy then rounds parts of f to float32 and
                                         # finite differences are no reference)
        # in place, on a global array
        f"mod.Z[:] = {arr}", f"mod.Z[:] = mod.Z * {c}", f"mod.Z[:] = mod.Z + {c}", f"mod.Z[:] = {c}",
        f"mod.Z[{k}] = {c}",   # (Z may have become an int array)
        # in place, on a container or an object
        f'mod.CONFIG["l2"] = {c}', f'mod.CONFIG["w"] = {arr}', f'mod.CONFIG["w"][{k}] = {c}',
        f"mod.LR[0] = {c}", f"mod.OBJ.w = {c}", f"mod.OBJ.v = {arr}", f"mod.OBJ.v[:] = {arr}"]
    return draw(st.sampled_from(options))


KEYWORD_VALUES = {   # floats, ints, a NumPy scalar, a 0-d array; flags
    "s": st.sampled_from([0.3, -1.2, 2.0, 0.75, 2, -1]) | st.sampled_from([0.6, -0.4]).map(np.float64)
    | st.sampled_from([1.3, -0.2]).map(np.array),
    "flag": st.booleans()}
KEYWORD_VALUES["t"] = KEYWORD_VALUES["s"]
KEYWORD_FORMS = {  # signature, {name: how f reads it}, a term of the result using the flag
    "keyword-only": ("a, x, *, s=1.0, t=0.5", {"s": "s", "t": "t"}, None),
    "defaults": ("a, x, s=1.0, t=0.5", {"s": "s", "t": "t"}, None),
    "flag": ("a, x, *, s=1.0, t=0.5, flag=False", {"s": "s", "t": "t", "flag": "flag"},
             "(np.sum(x * s) if flag else a * t)"),
    "**kw": ("a, x, **kw", {"s": 'kw.get("s", 1.0)', "t": 'kw.get("t", 0.5)'}, None),
    "keyword-only and **kw": ("a, x, *, s=1.0, **kw", {"s": "s", "t": 'kw.get("t", 0.5)'}, None),
}


@st.composite
def state_programs(draw, family, avoid=DEFAULT_AVOID, max_depth=2):
    n = draw(st.sampled_from([3, 4]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    matrix = np.round(rng.uniform(-0.6, 0.6, size=(n, n)), 3)
    cfg = StateConfig(family, avoid, n)
    namer = Namer()
    scope = Scope(cfg=cfg)
    scope.local.update({"a": "s", "x": "v"})
    params, prelude, extra = "a, x", [], []
    if family == "alias":
        prelude = ALIAS_HELPERS
    if family == "scalar":
        cfg.a_type = draw(st.sampled_from(["float", "np.float64", "0-d"]))
        if cfg.a_type == "0-d":
            cfg.zero_d.add("a")
    if family == "globals":
        prelude = draw(global_definitions(n, cfg))
        scope.local.update({g: "r" for g in GLOBAL_SCALARS + ["H(a)", "H(x[0])"]})
        scope.local.update({g: "rv" for g in GLOBAL_VECTORS + ["H(x)"]})
        # every program reads some globals where they change the gradient
        reads = draw(st.lists(st.sampled_from(GLOBAL_SCALARS + GLOBAL_VECTORS + ["H"]), min_size=1, max_size=3,
                              unique=True))
        extra = [f"{g} * a" if g in GLOBAL_SCALARS else "np.sum(H(x * a))" if g == "H" else f"np.sum(np.sin(x * {g}))"
                 for g in reads]
    if family == "kwargs":
        form = draw(st.sampled_from(sorted(KEYWORD_FORMS)))
        params, reads, flag_term = KEYWORD_FORMS[form]
        cfg.keywords = tuple(reads)
        for name, read in reads.items():
            if name != "flag":
                scope.local[read] = "s" if read == name else "r"
        extra = [f"{reads['s']} * a", f"np.sum(np.sin(x * {reads['t']}))"] + ([flag_term] if flag_term else [])
    body = []
    if family in ("alias", "scalar"):
        # arrays of f's own to alias, view and write into (x is the caller's)
        for _ in range(draw(st.integers(1, 2))):
            name = namer("v")
            body.append(Assign(name, leaf(draw(st.sampled_from(["x * a", "np.sin(x) + a", "a * np.ones({n})",
                                                                 "M @ x"])).format(n=n))))
            scope.local[name] = "v"
    early = draw(st.integers(0, 5)) == 0
    for k in range(draw(st.integers(1, 5))):
        if early and k == 1:
            body.append(Return(draw(scalar_expr(scope, n, 2)), draw(condition(scope, n))))
        body.append(draw(statement(scope, n, namer, max_depth)))
    terms = ["a"] + extra + [f"np.sin({s})" for s in scope.of("s") if s != "a"]
    terms += [f"np.sum(np.tanh({v}))" for v in scope.of("v") + scope.of("b") + scope.of("w")]
    total = " + ".join(terms)
    if family == "scalar":  # f may return a 0-d or a size-1 array
        total = draw(st.sampled_from(["{}", "np.asarray({})", "np.reshape({}, (1,))"])).format(total)
    body.append(Return(leaf(total)))
    return StateProgram(n, matrix, body, cfg, params, prelude)


@st.composite
def state_cases(draw, family, avoid=DEFAULT_AVOID, max_depth=2):
    program = draw(state_programs(family, avoid, max_depth))
    rounds = []
    for k in range(draw(st.integers(2, 3))):
        a, x = draw(inputs(program.n))
        setup = ()
        if family == "globals" and k > 0:
            setup = tuple(draw(st.lists(global_mutation(program.n, program.cfg), min_size=1, max_size=2)))
        kwargs = {}
        if family == "kwargs":
            keys = draw(st.lists(st.sampled_from(program.cfg.keywords), unique=True))
            kwargs = {key: draw(KEYWORD_VALUES[key]) for key in keys}
        rounds.append(Round(a, x, setup, kwargs))
    return program, rounds


def writes_argument(mod, a, x, kw, a_type, keywords_only=False):
    """Whether f writes into the arrays it is passed (it is run on read-only copies; with
    `keywords_only`, only the keyword arguments' arrays are read-only)."""
    args = [as_arg(a, a_type), x.copy()]
    kw = fresh(kw)
    for v in (list(kw.values()) if keywords_only else args + list(kw.values())):
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    try:
        with np.errstate(all="ignore"):
            mod.f(*args, **kw)
    except ValueError as e:
        if "read-only" in str(e):
            return True
        raise
    return False


def _short_reason(g):
    """explain() without the file position and the advice, for event()."""
    reason = g.explain().split(" because ", 1)[-1]
    return re.sub(r"\s*\([^()]*\.py:\d+:\d+\)", "", reason).split(";")[0][:90]


class Disagreement(AssertionError):
    """The paths of one round disagree: `labels` names the failed comparisons."""

    def __init__(self, round_, mode, failures, modes=()):
        self.round, self.mode, self.modes = round_, mode, list(modes)   # modes: of rounds 0..round_
        self.labels = [_label(f) for f in failures]
        super().__init__(f"round {round_} ({mode}):\n" + "\n".join(failures))


def _label(failure):
    """What failed, without the numbers: for an exception, its type and the start of its message."""
    head, _, rest = failure.partition(":")
    if head.endswith(" raised") or " raised " in head:
        rest = re.sub(r"\s*\([^()]*\.py:\d+(:\d+)?\)", "", rest).strip()
        return f"{head}: {' '.join(rest.split()[:9])}"
    return head


def _compare(failures, label, got, want, rtol, atol):
    try:
        if isinstance(want, tuple):
            assert_grads_close(got, want, rtol, atol, label)
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=label)
    except AssertionError as e:
        failures.append(f"{label}:{str(e).strip()}")


def _gradient_types(failures, label, grads, a, x):
    ga, gx = grads
    if isinstance(a, np.ndarray):
        ok_a = isinstance(ga, np.ndarray) and ga.shape == ()
    else:
        ok_a = isinstance(ga, float)
    if not ok_a:
        failures.append(f"{label} gradient type: d/da is {type(ga).__name__} {np.shape(ga)} for an argument of "
                        f"type {type(a).__name__}")
    if not (isinstance(gx, np.ndarray) and gx.shape == x.shape and gx.dtype == np.float64):
        failures.append(f"{label} gradient type: d/dx is {type(gx).__name__} {np.shape(gx)}")


def _check_path(failures, label, result, value, fd, traced_grads, a, x):
    """One path's (value, gradients) against f's value, central differences and the traced gradients."""
    val, grads = result
    _compare(failures, f"{label} value", val, value, 1e-12, 1e-12)
    _gradient_types(failures, label, grads, a, x)
    _compare(failures, f"{label} vs central differences", grads, fd, FD_RTOL, FD_ATOL)
    if traced_grads is not None:
        _compare(failures, f"{label} vs traced", grads, traced_grads, PATH_RTOL, PATH_ATOL)


def _call(failures, label, g, a, x, kw):
    """g(a, x, **kw), or None (and a failure) when it raises."""
    try:
        return g(np.copy(a) if isinstance(a, np.ndarray) else a, x.copy(), **fresh(kw))
    except Exception as e:
        failures.append(f"{label} raised {type(e).__name__}: {e}")
        return None


def check_state_program(program, rounds, directory, native=False):
    """Check every round (see above); returns the mode `grad` ran in, per round. The `grad`
    objects live across the rounds: the default one (compiled, or traced after a refusal), a
    traced one and, with `native`, one with jit="always" (the native tier, where it lowers f)."""
    note(repr(program))
    family, a_type = program.family, program.cfg.a_type
    modes = []
    with loaded(program, directory) as mod:
        auto = ad.value_and_grad(mod.f, wrt=(0, 1))
        traced = ad.value_and_grad(mod.f, wrt=(0, 1), fallback="always")
        native = ad.value_and_grad(mod.f, wrt=(0, 1), jit="always") if native else None
        warned = False
        for k, r in enumerate(rounds):
            for stmt in r.setup:
                exec(stmt, {"mod": mod, "np": np})
            note(f"round {k}: a={r.a!r}, x={r.x!r}, kwargs={r.kwargs}, after {list(r.setup)}")
            value = assume_smooth(mod, r.a, r.x, r.kwargs, a_type)
            if writes_argument(mod, r.a, r.x, r.kwargs, a_type):
                event(f"{family}: writes into an argument")
                if not program.cfg.allows("write_arg"):
                    event(f"{family}: discarded, writes into an argument (test_writing_into_an_argument)")
                    assume(False)
                if not program.cfg.allows("traced_write_into_untraced_array") and \
                        writes_argument(mod, r.a, r.x, r.kwargs, a_type, keywords_only=True):
                    # a keyword argument's array is not differentiated: the tracer cannot write a traced
                    # value into it (test_traced_write_into_an_untraced_array)
                    event(f"{family}: discarded, writes into a keyword argument's array")
                    assume(False)
            fd = extrapolated_differences(lambda a_, x_: evaluate(mod, a_, x_, r.kwargs, a_type), r.a, r.x)
            assume(abs(fd[0]) < MAX_GRAD and np.all(np.abs(fd[1]) < MAX_GRAD))
            a = as_arg(r.a, a_type)
            failures = []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ad.FallbackWarning)
                got = _call(failures, "grad", auto, a, r.x, r.kwargs)
                got_native = native and _call(failures, "grad(jit='always')", native, a, r.x, r.kwargs)
            mode = auto.mode
            modes.append(mode)
            if mode == "traced":
                event(f"{family}: refused ({_short_reason(auto)})")
                if "failed internally" in auto.explain():   # a crash is not a refusal
                    failures.append(f"compiler raised: {_short_reason(auto)}")
                warned = warned or any(issubclass(w.category, ad.FallbackWarning) for w in caught)
                if not warned:
                    failures.append("traced without a FallbackWarning")
            else:
                event(f"{family}: compiled")
            want = _call(failures, "traced", traced, a, r.x, r.kwargs)
            traced_grads = None if want is None else want[1]
            if want is not None:
                _check_path(failures, "traced", want, value, fd, None, a, r.x)
            if got is not None:
                _check_path(failures, mode, got, value, fd, traced_grads if mode == "compiled" else None, a, r.x)
            if got_native and native.mode == "compiled":
                event(f"{family}: jit='always' ran on the {native.tier} tier")
                _check_path(failures, f"compiled ({native.tier} tier)", got_native, value, fd, traced_grads, a, r.x)
            if failures:
                keep(program)
                raise Disagreement(k, mode, failures, modes)
    return modes


# Fast runs: ~2-4 s per family. The slow variants go deeper and longer, and also keep away from the open
# bugs of KNOWN_STATE_BUGS (each has a strict xfail test); the survey mode below generates everything.
STATE_FAST = settings(FAST, max_examples=25)
STATE_SLOW = settings(SLOW, max_examples=300)


@STATE_FAST
@given(case=state_cases("alias"))
def test_aliases_views_and_in_place_writes(case, progdir):
    check_state_program(*case, progdir)


@STATE_FAST
@given(case=state_cases("scalar"))
def test_zero_d_arrays_and_numpy_scalars(case, progdir):
    check_state_program(*case, progdir)


@STATE_FAST
@given(case=state_cases("globals"))
def test_globals_changed_between_calls(case, progdir):
    check_state_program(*case, progdir)


@STATE_FAST
@given(case=state_cases("kwargs"))
def test_keyword_arguments(case, progdir):
    check_state_program(*case, progdir)


@pytest.mark.slow
@STATE_SLOW
@given(case=state_cases("alias", max_depth=3))
def test_aliases_views_and_in_place_writes_many(case, progdir):
    check_state_program(*case, progdir, native=True)


@pytest.mark.slow
@STATE_SLOW
@given(case=state_cases("scalar", max_depth=3))
def test_zero_d_arrays_and_numpy_scalars_many(case, progdir):
    check_state_program(*case, progdir, native=True)


@pytest.mark.slow
@STATE_SLOW
@given(case=state_cases("globals", max_depth=3))
def test_globals_changed_between_calls_many(case, progdir):
    check_state_program(*case, progdir, native=True)


@pytest.mark.slow
@STATE_SLOW
@given(case=state_cases("kwargs", max_depth=3))
def test_keyword_arguments_many(case, progdir):
    check_state_program(*case, progdir, native=True)


# what a disagreement's messages say -> the known bug (KNOWN_STATE_BUGS) it is
BUG_SIGNATURES = [("compiler raised: the compiler failed internally", "compiler crashed"),
                  ("converting to a NumPy array", "traced_np_float64"),
                  ("out=...) writes into a NumPy array", "traced_write_into_untraced_array"),
                  ("setting an array element with a sequence", "traced_write_into_untraced_array")]


def classify(labels):
    """The known bugs a disagreement's labels match; "compiled path wrong" / "traced path wrong"
    for wrong numbers (a compiled path is wrong only where compiled-only labels fail)."""
    tags = {tag for sig, tag in BUG_SIGNATURES for label in labels if sig in label}
    numbers = [lb for lb in labels if " raised " not in lb]
    if any(lb.startswith("compiled") for lb in numbers):
        tags.add("compiled path wrong")
    if any(lb.startswith("traced") for lb in numbers):
        tags.add("traced path wrong")
    return tuple(sorted(tags)) or ("unclassified",)


def survey(family, examples, avoid=(), max_depth=3, directory=None):
    """Check `examples` generated programs of `family` without stopping at a failure: returns
    a Counter of outcomes, and the failing programs by the comparisons that failed (their
    modules are also written to `directory`/failing/)."""
    counts, failures = Counter(), {}
    directory = directory or tempfile.mkdtemp(prefix="adc_survey_")

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=state_cases(family, avoid=avoid, max_depth=max_depth))
    def run(case):
        counts["generated"] += 1
        try:
            modes = check_state_program(*case, directory, native=True)
        except UnsatisfiedAssumption:
            counts["rejected"] += 1
            raise
        except Disagreement as e:
            counts["checked"] += 1
            counts[f"first call {'refused' if (e.modes or [e.mode])[0] == 'traced' else 'compiled'}"] += 1
            counts["disagree"] += 1
            counts[f"disagree: {' + '.join(classify(e.labels))}"] += 1
            failures.setdefault((e.round, e.mode, tuple(e.labels)), []).append(case)
            program, rounds = case   # the whole module, and the calls, for reducing it by hand
            path = pathlib.Path(directory) / "failing" / f"{family}_{counts['disagree']:03d}.py"
            path.parent.mkdir(exist_ok=True)
            path.write_text(program.source + "\n\nROUNDS = " + repr(rounds).replace("array(", "np.array(") + "\n")
            return
        except Exception as e:   # the checker itself (or f) failed
            counts["error"] += 1
            failures.setdefault(("?", "error", (f"{type(e).__name__}: {str(e)[:80]}",)), []).append(case)
            return
        counts["checked"] += 1
        counts[f"first call {'refused' if modes[0] == 'traced' else 'compiled'}"] += 1
        counts["passed"] += 1

    run()
    return counts, failures


def _main(argv):
    import argparse
    parser = argparse.ArgumentParser(description=survey.__doc__)
    parser.add_argument("families", nargs="*", default=list(STATE_FAMILIES))
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--default", action="store_true", help="keep away from the known bugs, as the default run")
    parser.add_argument("--avoid", default="", help="comma-separated tags of KNOWN_STATE_BUGS to keep away from")
    parser.add_argument("--show", type=int, default=1, help="failing programs to print per kind of failure")
    args = parser.parse_args(argv)
    avoid = set(DEFAULT_AVOID if args.default else ()) | {t for t in args.avoid.split(",") if t}
    assert avoid <= set(KNOWN_STATE_BUGS), sorted(avoid - set(KNOWN_STATE_BUGS))
    directory = tempfile.mkdtemp(prefix="adc_survey_")
    print(f"failing programs are written to {directory}/failing/")
    for family in args.families:
        counts, failures = survey(family, args.examples, avoid=frozenset(avoid), directory=directory)
        print(f"== {family}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        for (round_, mode, labels), cases in sorted(failures.items(), key=lambda kv: -len(kv[1])):
            print(f"   {len(cases):4d} x round {round_} {mode}: {', '.join(labels)}")
            for program, rounds in sorted(cases, key=lambda c: len(c[0].source))[:args.show]:
                print("\n".join("        " + ln for ln in repr(program).splitlines()))
                print(f"        rounds: {rounds}")


if __name__ == "__main__":
    _main(sys.argv[1:])


# ---- the harness itself ------------------------------------------------------------

FEATURES = {"if", "elif", "else", "for_range", "for_array", "while", "while_data", "break", "continue",
            "early_return",
            "nested_loop", "setitem", "augassign", "M @", "np.max", "np.abs", "np.maximum", "math.sin", "np.exp",
            "np.log", "np.sqrt", "np.mean", "np.sum"}


def test_generator_produces_every_construct():
    """Every construct the module docstring promises comes out of the generator
    (generation only, nothing is compiled)."""
    seen = set()

    @settings(max_examples=150, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def collect(program):
        seen.update(program.features())
        compile(program.source, "<generated>", "exec")   # and every program is valid Python

    collect()
    assert FEATURES <= seen, f"never generated: {sorted(FEATURES - seen)}"


# what each state family's sources must contain (as text), in the default and the slow runs
STATE_CONSTRUCTS = {
    "alias": [r"\bv\d+ = v\d+\n", r"\[1:\]\n", r"\[:2\]\n", r"\[::-1\]\n", r"\.reshape\(", r"\.ravel\(\)",
              r"np\.asarray\(v", r"_put\(", r"_same\(", r"\] = ", r"\[1:3\] = ", r"v\d+ \+= ", r"v\d+ \*= ",
              r"w\d+\[.*\] = ", r"for .*:\n(.*\n)*? +v\d+ = v\d+\n", r"if .*:\n(.*\n)*? +v\d+ = v\d+\n"],
    "scalar": [r"np\.where\(", r"np\.array\(", r"np\.asarray\(", r"\.reshape\(\(\)\)", r"\b[as]\d* \+= ",
               r"\b[as]\d* \*= ", r"\[\.\.\.\] = ", r"\bs\d+ = s\d+\n", r"np\.sum\(v", r"return np\.reshape\("],
    "globals": ["LAM", r"\bZ\b", r'CONFIG\["l2"\]', r'CONFIG\["w"\]', r"LR\[0\]", r"OBJ\.w", r"OBJ\.v", r"H\("],
    "kwargs": [r"\*, s=1\.0, t=0\.5\)", r"x, s=1\.0", r"\*\*kw\)", r'kw\.get\("s"', r"flag"],
}


@pytest.mark.parametrize("family", STATE_FAMILIES)
def test_state_generators_produce_every_construct(family):
    """Generation only: the default strategy (which keeps away from the known bugs) still
    makes every construct the comment on the state families promises, with valid Python."""
    sources = []

    @settings(max_examples=500 if family == "alias" else 150, database=None, derandomize=True,
              phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(state_programs(family))
    def collect(program):
        sources.append(program.source)
        compile(program.source, "<generated>", "exec")

    collect()
    missing = [c for c in STATE_CONSTRUCTS[family] if not any(re.search(c, src) for src in sources)]
    assert not missing, f"never generated: {missing}"


def test_checker_rejects_a_wrong_gradient(tmp_path):
    """The comparisons above fail on a gradient that is off by a little."""
    program = Program(3, np.eye(3), [Return(leaf("np.sum(np.sin(a * x))"))])
    with loaded(program, tmp_path) as mod:
        a, x = 0.3, np.array([0.1, -0.4, 0.8])
        fd = central_differences(lambda a_, x_: evaluate(mod, a_, x_), a, x)
    want = (float(np.sum(x * np.cos(a * x))), a * np.cos(a * x))
    assert_grads_close(fd, want, FD_RTOL, FD_ATOL, "hand gradient")
    with pytest.raises(AssertionError):
        assert_grads_close((want[0] + 1e-4, want[1]), fd, FD_RTOL, FD_ATOL, "perturbed")
    with pytest.raises(AssertionError):
        assert_grads_close((want[0], want[1] * (1 + 1e-8)), want, PATH_RTOL, PATH_ATOL, "perturbed")


def test_branch_probe_rejects_points_near_a_boundary(tmp_path):
    """A point whose branch decision flips under a finite-difference step is discarded."""
    body = [If([(E("{} > {}", (leaf("a"), leaf("0.0")), "_cond(({}) - ({}))"), [Assign("a", leaf("a * a"))])],
               None),
            Return(leaf("np.sin(a) + np.sum(x)"))]
    program = Program(3, np.eye(3), body)
    x = np.zeros(3)
    with loaded(program, tmp_path) as mod:
        assert smoothness(mod, 0.5, x) == pytest.approx(np.sin(0.25))
        assert smoothness(mod, -0.5, x) == pytest.approx(np.sin(-0.5))
        for a in (0.0, 1e-7, -1e-5, 5e-5):
            assert smoothness(mod, a, x) is None


# ---- defects found by the generator, reduced to minimal functions ----------------------
#
# Open ones are xfail(strict=True) and the generator keeps away from them (see the
# comments there): when one is fixed, pytest reports XPASS as a failure, and the
# workaround in the generator should go. Fixed ones stay as regression tests.

def _three_ways(fn, *args, wrt=(0, 1)):
    """Assert fn compiles and compiled == traced (== fn's value); returns (value, grads)."""
    g = ad.value_and_grad(fn, wrt=wrt, fallback="never")
    value, grads = g(*args)
    assert g.mode == "compiled"
    np.testing.assert_allclose(value, fn(*[np.copy(v) for v in args]), rtol=1e-12)
    tvalue, tgrads = ad.value_and_grad(fn, wrt=wrt, fallback="always")(*args)
    np.testing.assert_allclose(tvalue, value, rtol=1e-12)
    for c, t in zip(grads, tgrads):
        np.testing.assert_allclose(c, t, rtol=PATH_RTOL, atol=PATH_ATOL)
    return value, grads


def for_with_nested_loop_and_break(a, x):
    for i in range(2):
        for j in range(2):
            a = a * 1.1
        if a < 0.5:
            break
    return a


def for_with_nested_loop_and_return(a, x):
    for i in range(3):
        for j in range(2):
            a = a * 1.1
        if a > 2.0:
            return a
    return 2.0 * a


# formerly rejected with "'#k' is undefined at the end of the loop body": the inner loop dropped the
# outer counter (fixed in frontend._enter_loop)
@pytest.mark.parametrize("fn", [for_with_nested_loop_and_break, for_with_nested_loop_and_return])
def test_for_loop_with_nested_loop_and_break(fn):
    x = np.array([0.1, 0.2, 0.3])
    for a in (0.3, 0.7, 1.9):
        value, (da, dx) = _three_ways(fn, a, x)
        want = (fn(a + 1e-6, x) - fn(a - 1e-6, x)) / 2e-6
        np.testing.assert_allclose(da, want, rtol=1e-6)
        np.testing.assert_array_equal(dx, 0.0)


def setitem_after_use(a, x):
    v = x * a
    s = v @ v
    v[0] = 1.0
    return s + np.sum(v)


def setitem_on_exp_output(a, x):
    v = np.exp(x * a)
    v[0] = 1.0
    return np.sum(v)


# formerly raised torch's "modified by an inplace operation" on the traced path; the tracer now hands
# the nodes that saved the array a copy before the write (NumPy semantics)
@pytest.mark.parametrize("fn", [setitem_after_use, setitem_on_exp_output])
def test_traced_setitem_after_the_array_was_used(fn):
    a, x = 0.7, np.array([0.1, 0.2, 0.3])
    value, (da, dx) = _three_ways(fn, a, x)
    assert_grads_close((da, dx), central_differences(fn, a, x), FD_RTOL, FD_ATOL, "vs central differences")


# fixed (c941a91): the cotangent of x[i] was a weak Python float -- a constant, or a
# math.* result -- and scatter_add's shape rule read its .dtype


def element_returned(a, x):
    return x[1]


def element_plus_a(a, x):
    return x[1] + a


def element_times_python_float(a, x):
    return math.sin(a) * x[2]


@pytest.mark.parametrize("fn", [element_returned, element_plus_a, element_times_python_float])
def test_weak_cotangent_of_an_element(fn):
    a, x = 0.4, np.array([0.1, 0.2, 0.3])
    value, (da, dx) = _three_ways(fn, a, x)
    assert_grads_close((da, dx), central_differences(fn, a, x), FD_RTOL, FD_ATOL, "vs central differences")
    assert isinstance(da, float) and dx.shape == (3,)


# fixed (bd0287a): `s = y[1]` binds a NumPy scalar (a copy), but the front end treated
# s as a view of y and refused the later `y[0] = ...`

def element_then_setitem(a, x):
    y = x * a
    s = y[1]
    y[0] = 1.0
    return s + np.sum(y)


def test_scalar_element_is_not_an_alias():
    a, x = 0.7, np.array([0.1, 0.2, 0.3])
    value, (da, dx) = _three_ways(element_then_setitem, a, x)
    np.testing.assert_allclose(value, 1.0 + 2 * a * x[1] + a * x[2], rtol=1e-12)
    np.testing.assert_allclose(da, x[1] + x[1] + x[2], rtol=1e-12)
    np.testing.assert_allclose(dx, [0.0, 2 * a, a], rtol=1e-12)


# fixed (b25747b, by refusing): `for e in v` iterated over a snapshot of v, but NumPy
# yields the live elements, so writes to v in the body were missed -- a silently wrong
# value and gradient. The compiler now refuses, and grad traces it.

def iterate_while_mutating(a, x):
    v = x * a
    t = 0.0
    for e in v:
        v[2] = e * 2.0
        t = t + e
    return t + np.sum(v)


def test_for_over_an_array_the_body_mutates():
    a, x = 0.7, np.array([0.1, 0.2, 0.3])
    # by hand: e = a*x0, a*x1, 2*a*x1; v ends as [a*x0, a*x1, 4*a*x1]; f = 2*a*x0 + 8*a*x1
    assert iterate_while_mutating(a, x.copy()) == pytest.approx(2 * a * x[0] + 8 * a * x[1])
    with pytest.raises(UnsupportedSyntax):
        ad.grad(iterate_while_mutating, wrt=(0, 1), fallback="never")(a, x)
    g = ad.value_and_grad(iterate_while_mutating, wrt=(0, 1))
    with pytest.warns(ad.FallbackWarning):
        value, (da, dx) = g(a, x.copy())
    assert g.mode == "traced"
    np.testing.assert_allclose(value, 2 * a * x[0] + 8 * a * x[1], rtol=1e-12)
    np.testing.assert_allclose(da, 2 * x[0] + 8 * x[1], rtol=1e-12)
    np.testing.assert_allclose(dx, [2 * a, 8 * a, 0.0], rtol=1e-12)


# fixed (c941a91): an early return, then a while loop holding a for loop with a break,
# with a carried value dead afterwards -- the adjoint IR failed verify() ("while: operand
# <Value s:f64> is used outside the region that defines it"), a ValueError even under
# fallback='auto'

def early_return_then_while_with_inner_break(a):
    s = a
    if a < 0.0:
        return a
    k = 0
    while k < 1:
        for i in range(1):
            if a < 0.0:
                break
            s = s * a
        k = k + 1
    return a


def test_early_return_then_while_with_inner_break():
    g = ad.value_and_grad(early_return_then_while_with_inner_break, fallback="never")
    assert g(0.5) == (0.5, 1.0)
    assert g(-0.5) == (-0.5, 1.0)
    assert g.mode == "compiled"
