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
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import pathlib
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, note, settings
from hypothesis import strategies as st

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
    iterable: str           # "range(k)" or a vector variable
    body: list

    def lines(self, probe):
        return [f"for {self.var} in {self.iterable}:"] + _indent(_block(self.body, probe))

    def children(self):
        return self.body

    @property
    def features(self):
        return ("for_range",) if self.iterable.startswith("range(") else ("for_array",)


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
    v = np.asarray(v, dtype=float)
    _TRACE.append((float(np.min(np.abs(v))), tuple(np.sign(v).ravel())))
    return np.abs(v) if v.ndim else float(np.abs(v))


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
    def __init__(self, n, matrix, body):
        self.n, self.matrix, self.body = n, matrix, body

    def function_source(self, name, probe=False):
        return "\n".join([f"def {name}(a, x):"] + _indent(_block(self.body, probe)))

    @property
    def source(self):
        m = np.array2string(self.matrix, separator=", ", precision=3, floatmode="fixed",
                            max_line_width=200).replace("\n", "")
        return "\n".join(["import math", "", "import numpy as np", "", f"M = np.array({m})", "", "",
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

    def __init__(self, parent=None, loop=None):
        self.parent = parent
        self.local = {}
        self.loop = loop if loop is not None else (parent.loop if parent else None)

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
    leaves = [leaf(s) for s in scope.of("s")]
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
        vec = draw(st.sampled_from(scope.of("v") + scope.of("b")))
        idx = draw(st.sampled_from(scope.indices(n) + [str(i) for i in range(n)] + ["-1"]))
        return leaf(f"{vec}[{idx}]")
    if kind == "reduce":
        return _apply(draw(st.sampled_from(REDUCTIONS)), leaf(draw(st.sampled_from(scope.of("v")))))
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
    vecs = [leaf(v) for v in scope.of("v")]
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
def update(draw, scope, n, namer):
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
        return draw(update(scope, n, namer))
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
        iterable = draw(st.just(leaf("x")) | vector_expr(scope, n, 1, fresh=True)).render()
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


def decisions(mod, a, x):
    mod._TRACE.clear()
    with np.errstate(all="ignore"):
        value = mod.f_probe(a, x.copy())
    return value, list(mod._TRACE)


def evaluate(mod, a, x):
    with np.errstate(all="ignore"):
        return float(mod.f(a, x.copy()))


def central_differences(fn, a, x, h=FD_H):
    """Central differences of scalar fn(a, x) w.r.t. a and each x[j]."""
    da = (fn(a + h, x.copy()) - fn(a - h, x.copy())) / (2 * h)
    dx = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        dx[j] = (fn(a, x + e) - fn(a, x - e)) / (2 * h)
    return da, dx


def fd_points(a, x, h):
    yield a + h, x
    yield a - h, x
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        yield a, x + e
        yield a, x - e


def smoothness(mod, a, x):
    """None when (a, x) is near a branch boundary or kink (the decisions change under a
    finite-difference step, or a margin is below MIN_MARGIN) or f blows up there;
    otherwise f's value at (a, x)."""
    value, trace = decisions(mod, a, x)
    if not (np.isfinite(value) and abs(value) < MAX_VALUE) or any(m < MIN_MARGIN for m, _ in trace):
        return None
    sides = [s for _, s in trace]
    for h in (FD_H, 1e-5, 1e-4):
        for pa, px in fd_points(a, x, h):
            if [s for _, s in decisions(mod, pa, px)[1]] != sides:
                return None
    plain = evaluate(mod, a, x)
    assert plain == value or abs(plain - value) <= 1e-12 * max(1.0, abs(value)), "probe copy disagrees with f"
    return plain


def assume_smooth(mod, a, x):
    value = smoothness(mod, a, x)
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
