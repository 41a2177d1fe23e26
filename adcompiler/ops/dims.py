"""Symbolic array extents, for one compiled specialisation that serves many shapes.

When a function is called with a new batch size, the compiler can specialise it on the dtype and
rank of its arguments and keep the extents that changed as `Dim`s: symbols (`n0`, the extent of
some argument axis) and integer expressions of them (`n0 - 1`, `n0 * 20`). A Dim carries the
value it has for the call being compiled (its *hint*). Shape rules that know about Dims compute
with them symbolically; every other use is a decision about the value, and the `ShapeEnv` records
it as a *guard* that the specialisation is valid only where it holds:

    n0 == n1, n0 != 1, bool(n0 - 1)   -> a guard on the comparison's outcome
    int(n0), operator.index(n0)       -> "n0 == hint": the extent is pinned (NumPy calls that need
                                         a real int, np.broadcast_to, range() ... pin)

so whatever the compiler does with a shape, the code it builds is right for every shape that
satisfies the guards — checked on each call before the specialisation is used. Once the
specialisation's code is built the environment is frozen: a later decision raises `Specialised`
instead of adding a guard the calls already made did not check.

A Dim's repr is the Python expression of it (`_n0 - 1`), so generated code that prints a shape with
repr() computes it from the symbols, which the code binds from its arguments' shapes on entry.
"""
from __future__ import annotations

import operator

import numpy as np

__all__ = ["Dim", "ShapeEnv", "Specialised", "Unbacked", "has_dims", "broadcast_shapes", "hint", "hints", "shape_text",
           "value_of", "same_shape"]

_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}


class Specialised(Exception):
    """A decision on a symbolic extent after the specialisation using it was built."""


class Unbacked(Exception):
    """A decision on an extent known only when the code runs (ShapeEnv.unbacked): the code
    cannot be built for every value it may take."""


class ShapeEnv:
    """The symbols of one specialisation, where they come from, and the guards recorded on them."""

    def __init__(self):
        self.symbols = {}     # name -> [(parameter name, axis), ...]: where the extent is read
        self.guards = {}      # (lhs expr, comparison, rhs expr, outcome) -> None, in order
        self.static = {}      # parameter name -> its shape, None for the symbolic extents
        self.cli_names = {}   # `adc ... --arg x=f64[n, 4]`: the symbol of each name
        self.unbacked = {}    # name -> (lower bound, what it is): extents the running code finds out
        self.frozen = False

    def symbol(self, value, sources):
        """A new symbol for extent `value` (≥ 2) read at `sources` (all equal on a valid call)."""
        name = f"n{len(self.symbols)}"
        self.symbols[name] = list(sources)
        d = Dim(self, ("sym", name), int(value))
        self.guards[(d.expr, ">=", 2, True)] = None    # 0 and 1 broadcast differently: never symbolic
        return d

    def unbacked_symbol(self, name, lower, what):
        """A symbol for an extent no argument has — known only when the code runs (the length of
        a list a while loop appended to) — that is at least `lower`. Arithmetic on it stays
        symbolic; a decision the bound does not settle raises `Unbacked` (there is no value to
        guard on). Its hint is a nominal size, for cost estimates only."""
        while name in self.unbacked or name in self.symbols:
            name += "_"
        self.unbacked[name] = (lower, what)
        return Dim(self, ("sym", name), max(lower, UNBACKED_HINT))

    def settled(self, diff, cmp):
        """`diff cmp 0` where the symbols' lower bounds decide it (a symbol is at least 2, an unbacked
        one at least its bound), else None. `diff`: an expression that is not a constant."""
        const, terms = _linear(diff)
        if not all(a[0] == "sym" for a in terms):
            return None
        signs = {c > 0 for c in terms.values()}
        if len(signs) != 1:
            return None
        bound = const + sum(c * self.unbacked.get(a[1], (2,))[0] for a, c in terms.items())
        if signs == {True}:      # diff >= bound
            if bound > 0:
                return cmp in (">", ">=", "!=")
            if bound == 0 and cmp in (">=", "<"):
                return cmp == ">="
        else:                    # diff <= bound
            if bound < 0:
                return cmp in ("<", "<=", "!=")
            if bound == 0 and cmp in ("<=", ">"):
                return cmp == "<="
        return None

    def check_backed(self, e, what):
        """Raise Unbacked when expression `e` involves an extent known only when the code runs."""
        names = _symbols(e) & set(self.unbacked)
        if names:
            n = sorted(names)[0]
            raise Unbacked(f"this needs {what}, where {n} is {self.unbacked[n][1]}, known only when the code runs")

    def record(self, lhs, cmp, rhs, outcome):
        for e in (lhs, rhs):
            self.check_backed(e, f"to know whether {_source(lhs)} {cmp} {_source(rhs)}")
        if self.frozen:
            raise Specialised(f"the code for this specialisation depends on {_source(lhs)} {cmp} {_source(rhs)}")
        self.guards[(lhs, cmp, rhs, outcome)] = None

    def values(self, shapes):
        """Symbol -> extent for a call (`shapes`: parameter name -> shape), or None when two places
        of one symbol differ."""
        out = {}
        for name, sources in self.symbols.items():
            vals = {shapes[p][axis] for p, axis in sources}
            if len(vals) != 1:
                return None
            out[name] = vals.pop()
        return out

    def holds(self, shapes):
        """Whether a call with these argument shapes (of the ranks compiled for) satisfies every guard."""
        for name, shape in self.static.items():
            if any(d is not None and d != actual for d, actual in zip(shape, shapes[name])):
                return False
        env = self.values(shapes)
        if env is None:
            return False
        try:
            return all(_COMPARE[cmp](_eval(lhs, env), _eval(rhs, env)) == outcome
                       for lhs, cmp, rhs, outcome in self.guards)
        except ZeroDivisionError:
            return False

    def pinned(self):
        """The symbols a guard fixes to one value (the specialisation is not generic in them)."""
        return {lhs[1] for lhs, cmp, rhs, outcome in self.guards
                if cmp == "==" and outcome and isinstance(rhs, int) and lhs[0] == "sym"}

    def conditions(self, prefix=""):
        """The guards as Python expressions over the symbols (named prefix + name)."""
        return [("" if outcome else "not ") + f"{_source(lhs, prefix)} {cmp} {_source(rhs, prefix)}"
                for lhs, cmp, rhs, outcome in self.guards]

    def describe(self):
        where = ", ".join(f"{n} = {p}.shape[{a}]" for n, srcs in self.symbols.items() for p, a in srcs[:1])
        return f"{where}; valid while {' and '.join(self.conditions())}"


UNBACKED_HINT = 16


def _symbols(e):
    if isinstance(e, int):
        return set()
    if e[0] == "sym":
        return {e[1]}
    if e[0] == "lin":
        return set().union(*(_symbols(a) for a, _ in e[2]))
    return _symbols(e[1]) | _symbols(e[2])


def _eval(e, env):
    if isinstance(e, int):
        return e
    if e[0] == "sym":
        return env[e[1]]
    if e[0] == "lin":
        return e[1] + sum(c * _eval(a, env) for a, c in e[2])
    return _ARITH[e[0]](_eval(e[1], env), _eval(e[2], env))


def _source(e, prefix=""):
    if isinstance(e, int):
        return repr(e)
    if e[0] == "sym":
        return prefix + e[1]
    if e[0] == "lin":
        text = ""
        for a, c in e[2]:
            term = _source(a, prefix) if abs(c) == 1 else f"{abs(c)} * {_source(a, prefix)}"
            text = (("-" if c < 0 else "") + term) if not text else f"{text} {'-' if c < 0 else '+'} {term}"
        if e[1]:
            text += f" {'-' if e[1] < 0 else '+'} {abs(e[1])}"
        return f"({text})"
    return f"({_source(e[1], prefix)} {e[0]} {_source(e[2], prefix)})"


def _linear(e):
    """(constant, {atom: coefficient}) of an expression (atoms: symbols and non-linear terms)."""
    if isinstance(e, int):
        return e, {}
    if e[0] == "lin":
        return e[1], dict(e[2])
    return 0, {e: 1}


def _from_linear(const, terms):
    terms = {a: c for a, c in terms.items() if c}
    if not terms:
        return const
    if const == 0 and len(terms) == 1 and next(iter(terms.values())) == 1:
        return next(iter(terms))
    return ("lin", const, tuple(sorted(terms.items(), key=repr)))


def _combine(op, a, b):
    """The expression `a op b`, linear combinations kept in one normal form (so `n0 - 1 + 1` is
    `n0`, and two spellings of one extent are equal without a guard)."""
    if op in ("+", "-"):
        (ca, ta), (cb, tb) = _linear(a), _linear(b)
        sign = 1 if op == "+" else -1
        for atom, c in tb.items():
            ta[atom] = ta.get(atom, 0) + sign * c
        return _from_linear(ca + sign * cb, ta)
    if op == "*" and (isinstance(a, int) or isinstance(b, int)):
        k, e = (a, b) if isinstance(a, int) else (b, a)
        c, t = _linear(e)
        return _from_linear(k * c, {atom: k * v for atom, v in t.items()})
    if op == "//" and isinstance(b, int) and b == 1:
        return a
    return (op, a, b)


def _expr(x):
    return x.expr if isinstance(x, Dim) else x


class Dim:
    """A symbolic array extent (see the module docstring)."""
    __slots__ = ("env", "expr", "hint")

    def __init__(self, env, expr, hint):
        self.env, self.expr, self.hint = env, expr, hint

    # -- arithmetic stays symbolic --------------------------------------------------------------
    def _arith(self, op, other, reverse=False):
        if isinstance(other, bool) or not isinstance(other, (int, Dim)):
            if hasattr(other, "__index__") and not isinstance(other, float):
                other = operator.index(other)
            else:
                return NotImplemented
        if isinstance(other, Dim) and other.env is not self.env:
            other = other.pin()
        a, b = (other, self) if reverse else (self, other)
        ha, hb = hint(a), hint(b)
        if op in ("//", "%") and hb == 0:
            raise ZeroDivisionError("integer division or modulo by zero")
        e = _combine(op, _expr(a), _expr(b))
        value = _ARITH[op](ha, hb)
        return value if isinstance(e, int) else Dim(self.env, e, value)

    def __add__(self, o):
        return self._arith("+", o)

    def __radd__(self, o):
        return self._arith("+", o, True)

    def __sub__(self, o):
        return self._arith("-", o)

    def __rsub__(self, o):
        return self._arith("-", o, True)

    def __mul__(self, o):
        return self._arith("*", o)

    def __rmul__(self, o):
        return self._arith("*", o, True)

    def __floordiv__(self, o):
        return self._arith("//", o)

    def __rfloordiv__(self, o):
        return self._arith("//", o, True)

    def __mod__(self, o):
        return self._arith("%", o)

    def __rmod__(self, o):
        return self._arith("%", o, True)

    def __neg__(self):
        return self._arith("*", -1)

    def __pos__(self):
        return self

    # -- decisions are guards ----------------------------------------------------------------------
    def _compare(self, cmp, other):
        if isinstance(other, Dim):
            if other.env is not self.env:
                return NotImplemented if cmp in ("==", "!=") else _COMPARE[cmp](self.pin(), other.pin())
            if other.expr == self.expr:
                return _COMPARE[cmp](0, 0)
        elif isinstance(other, bool) or not isinstance(other, int):
            if hasattr(other, "__index__") and not isinstance(other, float):
                other = operator.index(other)
            else:
                return self.pin() if cmp in ("==", "!=") and other is None else _COMPARE[cmp](self.pin(), other)
        outcome = _COMPARE[cmp](self.hint, hint(other))
        diff = _combine("-", self.expr, _expr(other))
        if isinstance(diff, int):
            return outcome                      # holds for every value of the symbols
        settled = self.env.settled(diff, cmp)
        if settled is not None:
            return settled
        self.env.record(self.expr, cmp, _expr(other), outcome)
        return outcome

    def __eq__(self, o):
        if o is None or isinstance(o, (tuple, list, str)):
            return False
        return self._compare("==", o)

    def __ne__(self, o):
        if o is None or isinstance(o, (tuple, list, str)):
            return True
        return self._compare("!=", o)

    def __lt__(self, o):
        return self._compare("<", o)

    def __le__(self, o):
        return self._compare("<=", o)

    def __gt__(self, o):
        return self._compare(">", o)

    def __ge__(self, o):
        return self._compare(">=", o)

    def __bool__(self):
        return self._compare("!=", 0)

    def __hash__(self):
        return hash((id(self.env), self.expr))

    def pin(self):
        """The extent as a plain int, guarded to stay this value."""
        self.env.check_backed(self.expr, f"the value of {_source(self.expr)} as a number")
        self.env.record(self.expr, "==", self.hint, True)
        return self.hint

    __index__ = __int__ = pin

    def __float__(self):
        return float(self.pin())

    # -- text ------------------------------------------------------------------------------------
    def __repr__(self):
        """The Python expression (generated code binds `_n0` ... from the arguments' shapes)."""
        return _source(self.expr, "_")

    def __str__(self):
        return _source(self.expr)


def same_shape(a, b):
    """Whether shapes a and b are the same (types compare so). An extent known only when the code
    runs is the same as another only as the same expression: comparing types decides nothing."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        unbacked = [d for d in (x, y) if isinstance(d, Dim) and _symbols(d.expr) & set(d.env.unbacked)]
        if unbacked:
            if not (isinstance(x, Dim) and isinstance(y, Dim) and x.expr == y.expr):
                return False
        elif not x == y:
            return False
    return True


def value_of(d, symbols):
    """The value of extent `d` (a Dim or an int) where the symbols have the values `symbols`."""
    return _eval(d.expr, symbols) if isinstance(d, Dim) else d


def hint(x):
    """The value of an extent (a Dim's hint, an int as it is)."""
    return x.hint if isinstance(x, Dim) else x


def hints(shape):
    return tuple(hint(d) for d in shape)


def shape_text(shape):
    """A shape as NumPy prints it, symbols by name: (n0, 3)."""
    shape = tuple(shape)
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def has_dims(shape):
    return any(isinstance(d, Dim) for d in shape)


def broadcast_shapes(*shapes):
    """NumPy's broadcasting of shapes that may hold Dims. A Dim counts as an extent other than 1
    (a symbol is at least 2; an expression such as n0 - 1 may be 1, but then it is compared with
    the extents it meets and the result holds only where they are equal)."""
    if not any(has_dims(s) for s in shapes):
        return np.broadcast_shapes(*shapes)
    ndim = max(len(s) for s in shapes)
    out = []
    for k in range(ndim):
        sizes = [s[len(s) - ndim + k] for s in shapes if len(s) - ndim + k >= 0]
        big = [d for d in sizes if isinstance(d, Dim) or d != 1]
        if not big:
            out.append(1)
            continue
        first = next((d for d in big if not isinstance(d, Dim)), big[0])
        for d in big:
            if not d == first:
                raise ValueError(f"shape mismatch: objects cannot be broadcast to a single shape "
                                 f"({' vs '.join(shape_text(s) for s in shapes)})")
        out.append(first)
    return tuple(out)
