"""Hypothesis generators of scalar-only Python programs for the native tier's property tests.

A program is `def f(a, b, n)`: `a` and `b` Python floats (differentiated), `n` a Python int.
Its statements use only what the native tier lowers: Python floats, ints and bools, float32
scalars (`np.float32(...)`), arithmetic, comparisons, the `math` functions of the table (with
their arguments kept inside their domains), `abs`/`max`/`min`, `//` and `%` on floats and ints
with negative operands, `int()`/`float()`, conditional expressions, `if`/`elif`/`else`, `for`
over `range` (negative steps, zero trips), counter-guarded `while` loops with data-dependent
exits, `break`/`continue`, early `return` (also from nested loops).

Each program is rendered twice: `f` itself and `f_probe`, a copy in which every branch
condition and every kink (abs, max/min, float `//` and `%`, `int()`) records its margin and the
side it took, so the tests can keep finite differences away from non-smooth points.

`risky=True` programs also hold operations that raise in Python for some inputs: `math.sqrt`,
`math.log`, `math.log1p` outside their domains, float and int division and modulo by zero,
`math.exp` overflow, `0.0 ** -1.0`; their inputs are drawn from values that hit those edges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import strategies as st

# ---- expressions and lines -------------------------------------------------------------------

@dataclass(frozen=True)
class X:
    """An expression: its text in f and in f_probe, and the features it uses."""
    text: str
    probe: str
    feats: frozenset = frozenset()


def leaf(text, *feats):
    return X(text, text, frozenset(feats))


def form(template, *args, probe=None, feats=()):
    """`template` ("{0} + {1}") over sub-expressions; `probe` is the template of the probe copy."""
    out = set(feats)
    for a in args:
        out |= a.feats
    return X(template.format(*(a.text for a in args)), (probe or template).format(*(a.probe for a in args)),
             frozenset(out))


@dataclass
class Line:
    indent: int
    expr: X      # the line's whole text (a statement, or a header ending in ":")


@dataclass
class Program:
    lines: list
    f32: bool = False        # has float32 values
    risky: bool = False      # may raise in Python
    feats: set = field(default_factory=set)

    def function_source(self, name, probe=False):
        body = ["    " * (ln.indent + 1) + (ln.expr.probe if probe else ln.expr.text) for ln in self.lines]
        return "\n".join([f"def {name}(a, b, n):"] + body)

    @property
    def source(self):
        return "\n".join(["import math", "", "import numpy as np", "", "",
                          self.function_source("f"), "", "", self.function_source("f_probe", probe=True),
                          PROBE_HELPERS])

    def twin_source(self):
        """The module with float64 where f has float32 (finite differences of an f32 program)."""
        return self.source.replace("np.float32(", "np.float64(")

    def __repr__(self):       # hypothesis prints a falsifying example with this
        return "Program(source=\n" + self.function_source("f") + "\n)"


PROBE_HELPERS = '''

_TRACE = []


def _gt(x, y):
    d = float(x) - float(y)
    _TRACE.append((abs(d), d > 0))
    return x > y


def _lt(x, y):
    return _gt(y, x)


def _abs(x):
    _TRACE.append((abs(float(x)), float(x) > 0))
    return abs(x)


def _fabs(x):
    _TRACE.append((abs(float(x)), float(x) > 0))
    return math.fabs(x)


def _max(x, y):
    d = float(x) - float(y)
    _TRACE.append((abs(d), d > 0))
    return max(x, y)


def _min(x, y):
    d = float(x) - float(y)
    _TRACE.append((abs(d), d > 0))
    return min(x, y)


def _steps(x, y):
    """x // y and x % y jump where x / y is an integer."""
    q = float(x) / float(y)
    _TRACE.append((abs(q - round(q)) * abs(float(y)), math.floor(q)))


def _floordiv(x, y):
    _steps(x, y)
    return x // y


def _mod(x, y):
    _steps(x, y)
    return x % y


def _int(x):
    """int() truncates: it jumps at every integer but 0."""
    v = float(x)
    r = round(v)
    _TRACE.append((abs(v - r) if r != 0 else 1.0 - abs(v), int(v)))
    return int(x)
'''


# ---- the generator ---------------------------------------------------------------------------
#
# Variables have a kind: "f" Python float, "i" Python int, "k" a read-only int (a loop
# variable or a while loop's counter), "g" float32, "c" bool. Names made
# in a block are not used after it (they may be unbound there); outer ones may be reassigned.
# Loop-carried floats are damped (values stay small, so finite differences stay accurate) and
# loop-carried ints are kept small with `%` (no int64 overflow: Python's ints would not
# overflow, and the native tier would re-run the call on the NumPy tier).

class Scope:
    def __init__(self, parent=None, loop=None):
        self.parent = parent
        self.local = {}
        self.loop = loop if loop is not None else (parent.loop if parent else None)
        self.loop_depth = (parent.loop_depth if parent else 0) + (loop is not None)

    def all(self):
        d = dict(self.parent.all()) if self.parent else {}
        d.update(self.local)
        return d

    def of(self, kind):
        """Names of `kind`; "i" includes the read-only ints "k" (loop variables and counters)."""
        kinds = ("i", "k") if kind == "i" else (kind,)
        return [n for n, k in self.all().items() if k in kinds]


class Namer:
    def __init__(self):
        self.count = {}

    def __call__(self, prefix):
        self.count[prefix] = self.count.get(prefix, -1) + 1
        return f"{prefix}{self.count[prefix]}"


# Features that hit an open bug (each has a strict xfail test in test_native_properties.py), or that
# the compiler refuses (a Python float merged with a float32 is traced, so it cannot run native): the
# default runs keep away from them; the survey can generate them (`--all`).
OPEN_BUGS = frozenset({"float32 and float returns", "augassign to a NumPy scalar"})


@dataclass(frozen=True)
class Config:
    f32: bool = True
    risky: bool = False
    max_depth: int = 2
    avoid: frozenset = OPEN_BUGS
    special: bool = False      # risky inputs include inf, nan, 1e308 ...


CONSTS = ["0.5", "1.5", "0.25", "2.0", "0.1", "-0.75", "3.0", "-1.25"]
SMALL = ["0.1", "0.25", "0.5"]
THRESHOLDS = ["0.0", "0.2", "-0.3", "0.5", "-0.1", "1.0", "1.5"]
MODULI = ["5", "-5", "7", "-3", "4"]


def _pick(draw, items):
    return draw(st.sampled_from(list(items)))


# Unary float forms, arguments kept inside every domain; (template, probe template, feature). A
# template whose probe form is a call is parenthesised, so f and f_probe parse alike.
SAFE_UNARY = [
    ("math.sin({0})", None, "math.sin"), ("math.cos({0})", None, "math.cos"), ("math.tanh({0})", None, "math.tanh"),
    ("math.exp(math.sin({0}))", None, "math.exp"), ("math.exp(-({0}) * ({0}))", None, "math.exp"),
    ("math.sqrt(1.0 + ({0}) * ({0}))", None, "math.sqrt"), ("math.log(1.0 + ({0}) * ({0}))", None, "math.log"),
    ("math.log1p(({0}) * ({0}))", None, "math.log1p"), ("math.expm1(0.5 * math.sin({0}))", None, "math.expm1"),
    ("math.tan(0.5 * math.sin({0}))", None, "math.tan"), ("({0}) ** 2", None, "pow"),
    ("math.pow(1.5 + math.sin({0}), 1.5)", None, "math.pow"), ("(2.0 + math.cos({0})) ** -0.5", None, "pow"),
    ("-({0})", None, "neg"), ("abs({0})", "_abs({0})", "abs"), ("math.fabs({0})", "_fabs({0})", "abs"),
    ("math.sqrt(abs({0}) + 0.25)", "math.sqrt(_abs({0}) + 0.25)", "math.sqrt"),
    ("np.sin({0})", None, "np.sin"), ("np.exp(np.cos({0}))", None, "np.exp"),
    ("(({0}) // 0.75)", "_floordiv({0}, 0.75)", "float //"), ("(({0}) % 0.75)", "_mod({0}, 0.75)", "float %"),
    ("(({0}) % -0.5)", "_mod({0}, -0.5)", "float %"), ("(({0}) // -1.25)", "_floordiv({0}, -1.25)", "float //"),
]
SAFE_BINARY = [
    ("({0}) + ({1})", None, None), ("({0}) - ({1})", None, None), ("({0}) * ({1})", None, None),
    ("({0}) / (1.0 + ({1}) * ({1}))", None, "div"), ("({0}) / (2.0 + math.cos({1}))", None, "div"),
    ("max({0}, {1})", "_max({0}, {1})", "max"), ("min({0}, {1})", "_min({0}, {1})", "min"),
    ("math.sin({0}) * math.cos({1})", None, "math.sin"),
]
# a float32 value back to a Python float
FROM_F32 = [("float({0})", "float()"), ("math.sin(float({0}))", "float()"),
            ("math.sin({0})", "math of float32"), ("math.sqrt(({0}) * ({0}) + 1.0)", "math of float32")]
# operations that raise in Python for some arguments (the "risky" programs), with a feature
RISKY_UNARY = [
    ("math.sqrt({0})", "ValueError"), ("math.log({0})", "ValueError"), ("math.log1p({0})", "ValueError"),
    ("math.exp(800.0 * ({0}))", "OverflowError"), ("math.expm1(800.0 * ({0}))", "OverflowError"),
    ("1.0 / ({0})", "ZeroDivisionError"), ("2.5 // ({0})", "float //"),
    ("1.5 % ({0})", "float %"), ("({0}) ** -1.0", "ZeroDivisionError"),
]
RISKY_INT = [("({1}) // ({0})", "ZeroDivisionError"), ("({1}) % ({0})", "ZeroDivisionError")]


@st.composite
def float_expr(draw, scope, depth, cfg):
    fl = [leaf(v) for v in scope.of("f")]
    choices = ["leaf", "const"]
    if scope.of("i"):
        choices += ["mixed"]
    if scope.of("g"):
        choices += ["from_f32"]
    if depth > 0:
        choices += ["unary", "unary", "unary", "binary", "binary", "ifexp", "bool_num"]
        if cfg.risky:
            choices += ["risky", "risky"]
    kind = _pick(draw, choices)
    if kind == "leaf":
        return _pick(draw, fl)
    if kind == "const":
        return form("{0} + {1}", leaf(_pick(draw, CONSTS)), _pick(draw, fl))
    if kind == "mixed":
        i = draw(int_expr(scope, 1, cfg))
        x = _pick(draw, fl)
        t = _pick(draw, ["{0} * ({1})", "({1}) * 0.1 + {0}", "{0} + float({1}) * 0.25", "{0} * ({1} / 3)",
                         "({1}) / 4 - {0}"])
        return form(t, x, i, feats=("int/float",))
    if kind == "from_f32":
        g = _pick(draw, scope.of("g"))
        t, feat = _pick(draw, [tf for tf in FROM_F32 if tf[1] not in cfg.avoid])
        return form(t, leaf(g), feats=("f32->float", feat))
    if kind == "unary":
        t, p, feat = _pick(draw, [u for u in SAFE_UNARY if u[2] not in cfg.avoid])
        return form(t, draw(float_expr(scope, depth - 1, cfg)), probe=p, feats=(feat,))
    if kind == "binary":
        t, p, feat = _pick(draw, SAFE_BINARY)
        return form(t, draw(float_expr(scope, depth - 1, cfg)), draw(float_expr(scope, depth - 1, cfg)),
                    probe=p, feats=(feat,) if feat else ())
    if kind == "ifexp":
        c = draw(bool_expr(scope, cfg))
        return form("({1} if {0} else {2})", c, draw(float_expr(scope, depth - 1, cfg)),
                    draw(float_expr(scope, depth - 1, cfg)), feats=("ifexp",))
    if kind == "bool_num":
        c = draw(bool_expr(scope, cfg))
        return form("({0}) * ({1})", c, draw(float_expr(scope, depth - 1, cfg)), feats=("bool*float",))
    if draw(st.integers(0, 3)) == 0:   # int true division (a float) by an int that may be 0
        return form("{0} * (3 / ({1}))", _pick(draw, fl), _zeroing(draw, scope), feats=("risky",))
    t, feat = _pick(draw, [r for r in RISKY_UNARY if r[1] not in cfg.avoid])
    return form(t, draw(risky_arg(scope)), feats=("risky", feat))


def _zeroing(draw, scope):
    """An int expression that is 0 for some inputs."""
    k = _pick(draw, scope.of("i"))
    return leaf(_pick(draw, ["{0}", "{0} - 1", "{0} % 3", "{0} - n"]).format(k))


@st.composite
def risky_arg(draw, scope):
    """An argument that is 0, negative or large for some of the inputs the risky tests draw."""
    x = _pick(draw, scope.of("f"))
    t = _pick(draw, ["{0}", "{0} - 1.0", "{0} - 2.0", "{0} + 1.0", "{0} * {0} - 1.0", "{0} - b", "a * b",
                     "{0} - 0.5"])
    return leaf(t.format(x))


@st.composite
def int_expr(draw, scope, depth, cfg):
    ints = [leaf(v) for v in scope.of("i")]
    choices = ["leaf", "const"]
    if depth > 0:
        choices += ["arith", "arith", "divmod", "divmod", "unary", "from_float"]
        if cfg.risky:
            choices += ["risky"]
    kind = _pick(draw, choices)
    if kind == "leaf":
        return _pick(draw, ints)
    if kind == "const":
        return form("{0} + {1}", _pick(draw, ints), leaf(_pick(draw, ["1", "-2", "3", "-5"])))
    sub = lambda: draw(int_expr(scope, depth - 1, cfg))
    if kind == "arith":
        return form(_pick(draw, ["({0}) + ({1})", "({0}) - ({1})", "({0}) * ({1})", "max({0}, {1})",
                                 "min({0}, {1})"]), sub(), sub())
    if kind == "divmod":
        divisor = _pick(draw, ["2", "-2", "3", "-3", "(abs({1}) + 1)", "-(abs({1}) + 2)"])
        return form("({0}) " + _pick(draw, ["//", "%"]) + " " + divisor, sub(), sub(), feats=("int //,%",))
    if kind == "unary":
        return form(_pick(draw, ["-({0})", "abs({0})"]), sub())
    if kind == "from_float":
        x = draw(float_expr(scope, 1, cfg))
        return form("int(2.0 * math.sin({0}))", x, probe="_int(2.0 * math.sin({0}))", feats=("int()",))
    t, _ = _pick(draw, RISKY_INT)
    return form(t, _zeroing(draw, scope), sub(), feats=("risky",))


@st.composite
def f32_expr(draw, scope, depth, cfg):
    gs = [leaf(v) for v in scope.of("g")]
    choices = ["new"] + (["leaf"] if gs else [])
    if depth > 0 and gs:
        choices += ["arith", "arith", "sqrt", "abs", "mixed"]
    kind = _pick(draw, choices)
    if kind == "new":
        return form("np.float32({0})", draw(float_expr(scope, 1, cfg)), feats=("float32",))
    if kind == "leaf":
        return _pick(draw, gs)
    sub = lambda: draw(f32_expr(scope, depth - 1, cfg))
    if kind == "arith":
        return form(_pick(draw, ["({0}) + ({1})", "({0}) - ({1})", "({0}) * ({1})", "({0}) / (1.5 + ({1}) * ({1}))"]),
                    sub(), sub())
    if kind == "sqrt":
        return form("np.sqrt(({0}) * ({0}) + np.float32(0.5))", sub())
    if kind == "abs":
        return form("abs({0})", sub(), probe="_abs({0})")
    # float32 with a Python float or int (weak scalars: the result stays float32)
    other = leaf(_pick(draw, CONSTS)) if draw(st.booleans()) else _pick(draw, [leaf(v) for v in scope.of("i")] or
                                                                           [leaf("2")])
    return form(_pick(draw, ["({0}) * {1}", "{1} - ({0})", "({0}) + {1} * 0.5"]), sub(), other)


@st.composite
def bool_expr(draw, scope, cfg):
    choices = ["float_cmp", "float_cmp", "int_cmp"]
    if scope.of("c"):
        choices += ["var", "logic", "logic"]
    if scope.of("g"):
        choices.append("f32_cmp")
    kind = _pick(draw, choices)
    if kind == "var":
        return _pick(draw, [leaf(c) for c in scope.of("c")])
    if kind == "logic":
        c = _pick(draw, [leaf(c) for c in scope.of("c")])
        other = draw(bool_expr(scope, cfg))
        return form(_pick(draw, ["({0} and {1})", "({0} or {1})", "(not {0})"]), c, other, feats=("bool logic",))
    if kind == "int_cmp":
        i = draw(int_expr(scope, 1, cfg))
        return form("({0}) " + _pick(draw, ["<", ">=", "==", "!="]) + " " + _pick(draw, ["0", "2", "-1", "n"]), i)
    if kind == "f32_cmp":
        lhs = _pick(draw, [leaf(g) for g in scope.of("g")])
    else:
        lhs = draw(float_expr(scope, 1, cfg))
    thr = leaf(_pick(draw, THRESHOLDS))
    if draw(st.booleans()):
        return form("({0}) > {1}", lhs, thr, probe="_gt({0}, {1})")
    return form("({0}) < {1}", lhs, thr, probe="_lt({0}, {1})")


class Gen:
    """Statement generation for one program."""

    def __init__(self, draw, cfg):
        self.draw, self.cfg = draw, cfg
        self.lines = []
        self.namer = Namer()
        self.feats = set()

    def emit(self, indent, x, *feats):
        self.lines.append(Line(indent, x))
        self.feats |= set(x.feats) | set(feats)

    def block(self, scope, indent, depth, min_size=1, max_size=3):
        for _ in range(self.draw(st.integers(min_size, max_size))):
            self.statement(scope, indent, depth)

    def statement(self, scope, indent, depth):
        draw = self.draw
        kinds = ["update"] * 4
        if depth > 0:
            kinds += ["if", "if"]
            if scope.loop_depth < 3:
                kinds += ["for", "for", "while"]
        if scope.loop is not None:
            kinds += ["break", "continue"]
        kinds.append("return")
        kind = _pick(draw, kinds)
        if kind == "update":
            return self.update(scope, indent)
        if kind in ("break", "continue"):
            cond = draw(bool_expr(scope, self.cfg))
            self.emit(indent, form("if {0}:", cond), kind)
            self.emit(indent + 1, leaf(kind))
            return
        if kind == "return":
            cond = draw(bool_expr(scope, self.cfg))
            self.emit(indent, form("if {0}:", cond), "early return" + (" in loop" if scope.loop else ""))
            self.emit(indent + 1, form("return {0}", draw(float_expr(scope, 2, self.cfg))))
            return
        if kind == "if":
            for k in range(draw(st.integers(1, 2))):
                cond = draw(bool_expr(scope, self.cfg))
                self.emit(indent, form(("if" if k == 0 else "elif") + " {0}:", cond), "if" if k == 0 else "elif")
                self.block(Scope(scope), indent + 1, depth - 1)
            if draw(st.booleans()):
                self.emit(indent, leaf("else:"), "else")
                self.block(Scope(scope), indent + 1, depth - 1)
            return
        if scope.loop is not None:
            self.feats.add("nested loop")
        inner = Scope(scope, loop=kind)
        if kind == "for":
            var = self.namer("i")
            self.emit(indent, self.range_header(scope, var), "for")
            inner.local[var] = "k"
            self.block(inner, indent + 1, depth - 1)
            return
        k = self.namer("k")
        bound = draw(st.integers(1, 6))
        self.emit(indent, leaf(f"{k} = 0"))
        if draw(st.booleans()):
            cond = draw(bool_expr(scope, self.cfg))
            self.emit(indent, form(f"while {k} < {bound} and {{0}}:", cond), "while", "while data exit")
            self.emit(indent + 1, leaf(f"{k} = {k} + 1"))
        else:
            # `while True` with the exits as breaks; the counter steps first (`continue` cannot spin)
            self.emit(indent, leaf("while True:"), "while", "while True")
            self.emit(indent + 1, leaf(f"{k} = {k} + 1"))
            self.emit(indent + 1, leaf(f"if {k} > {bound}:"))
            self.emit(indent + 2, leaf("break"))
        inner.local[k] = "k"
        self.block(inner, indent + 1, depth - 1)

    def range_header(self, scope, var):
        draw = self.draw
        ints = scope.of("i")
        small = lambda: _pick(draw, ["n", f"({_pick(draw, ints)}) % 5", "3", "0", "1", f"{_pick(draw, ints)} % 4"])
        shape = _pick(draw, ["stop", "stop", "start_stop", "neg_step", "step2"])
        if shape == "stop":
            return leaf(f"for {var} in range({small()}):")
        if shape == "start_stop":
            return leaf(f"for {var} in range({_pick(draw, ['-2', '1', '-(n % 3)'])}, {small()}):")
        if shape == "neg_step":
            self.feats.add("negative step")
            return leaf(f"for {var} in range({small()}, {_pick(draw, ['-1', '0', '-3', '1'])}, "
                        f"{_pick(draw, ['-1', '-2'])}):")
        return leaf(f"for {var} in range({_pick(draw, ['0', '-1'])}, {small()}, 2):")

    def update(self, scope, indent):
        draw, cfg = self.draw, self.cfg
        loop = scope.loop is not None
        kinds = ["new_f", "new_f", "set_f", "set_f", "aug_f", "new_i", "set_i", "new_c", "new_c"]
        if cfg.f32:
            kinds += ["new_g", "new_g"] + (["set_g"] if scope.of("g") else [])
        kind = _pick(draw, kinds)
        if kind == "new_f":
            name = self.namer("s")
            self.emit(indent, form(f"{name} = {{0}}", draw(float_expr(scope, 2, cfg))))
            scope.local[name] = "f"
        elif kind == "set_f":
            t = _pick(draw, scope.of("f"))
            e = draw(float_expr(scope, 2, cfg))
            if loop:
                e = form(_pick(draw, ["{0} + {1} * {2}", "{1} * {0} + {2}", "math.tanh({2})"]), leaf(t),
                         leaf(_pick(draw, SMALL)), e)
            self.emit(indent, form(f"{t} = {{0}}", e))
        elif kind == "aug_f":
            t = _pick(draw, scope.of("f"))
            op = _pick(draw, ["+=", "-=", "*="])
            e = draw(float_expr(scope, 2, cfg))
            e = form("math.cos({0})", e) if op == "*=" else form(_pick(draw, SMALL) + " * {0}", e)
            if self.feats & {"np.sin", "np.exp"} and "augassign to a NumPy scalar" in cfg.avoid:
                # t may hold a NumPy scalar by now (an open refusal): the same update, spelled out
                self.emit(indent, form(f"{t} = {t} {op[0]} ({{0}})", e))
            else:
                self.emit(indent, form(f"{t} {op} {{0}}", e), "augassign")
        elif kind == "new_i":
            name = self.namer("m")
            self.emit(indent, form(f"{name} = {{0}}", draw(int_expr(scope, 2, cfg))))
            scope.local[name] = "i"
        elif kind == "set_i":
            t = _pick(draw, [v for v, k in scope.all().items() if k == "i"])
            e = draw(int_expr(scope, 2, cfg))
            self.emit(indent, form(f"{t} = ({{0}}) % {_pick(draw, MODULI)}", e) if loop or t == "n" else
                      form(f"{t} = {{0}}", e))
        elif kind == "new_c":
            name = self.namer("c")
            self.emit(indent, form(f"{name} = {{0}}", draw(bool_expr(scope, cfg))), "bool var")
            scope.local[name] = "c"
        elif kind == "new_g":
            name = self.namer("g")
            self.emit(indent, form(f"{name} = {{0}}", draw(f32_expr(scope, 2, cfg))))
            scope.local[name] = "g"
        else:
            t = _pick(draw, scope.of("g"))
            e = draw(f32_expr(scope, 2, cfg))
            if loop:
                e = form("{0} * np.float32(0.5) + {1}", leaf(t), form("np.float32(0.25) * ({0})", e))
            self.emit(indent, form(f"{t} = {{0}}", e))


@st.composite
def programs(draw, cfg=None):
    cfg = cfg or Config()
    gen = Gen(draw, cfg)
    scope = Scope()
    scope.local.update({"a": "f", "b": "f", "n": "i"})
    gen.block(scope, 0, cfg.max_depth, min_size=1, max_size=5)
    # every top-level value reaches the result (so every statement is live); `a` linearly
    terms = ["a"] + [f"math.sin({s})" for s in scope.of("f") if s != "a"]
    terms += [f"0.125 * {k}" for k in scope.of("i")]
    terms += [f"0.5 * {c}" for c in scope.of("c")]
    math_ok = "math of float32" not in cfg.avoid
    # a bare float32 term makes the result float32; with an early return of a Python float that is
    # an open bug (returns of two types)
    bare_ok = not any(f.startswith("early return") for f in gen.feats) or "float32 and float returns" not in cfg.avoid
    terms += [(f"math.cos({g})" if math_ok else f"math.cos(float({g}))") if draw(st.booleans()) or not bare_ok
              else g for g in scope.of("g")]
    if bare_ok and scope.of("g") and any(f.startswith("early return") for f in gen.feats):
        gen.feats.add("float32 and float returns")
    gen.emit(0, leaf("return " + " + ".join(terms)))
    return Program(gen.lines, f32=bool(scope.of("g")) or "float32" in gen.feats, risky=cfg.risky, feats=gen.feats)


# ---- inputs --------------------------------------------------------------------------------

def smooth_inputs():
    x = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
    return st.tuples(x, x, st.integers(-3, 7))


SPECIAL = [math.inf, -math.inf, math.nan, 1e308, -1e300, 5e-324]


def risky_inputs(special=False):
    """Inputs that put the risky operations' arguments on their edges (0, -1, negative, large);
    with `special`, also inf, nan, the largest and the smallest floats."""
    edge = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 3.0, -2.0] + (SPECIAL if special else []))
    x = st.one_of(edge, st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False))
    return st.tuples(x, x, st.integers(-3, 7))
