"""Scalar math of the table: the namespace protocol, and the Python namespace (the oracle).

An elementwise primitive defines its scalar math ONCE, against a namespace `m`
that each backend supplies (this module's `PythonMath` for the oracle, an
IRBuilder wrapper for LLVM):

    Primitive("mul", np.multiply, ..., scalar=lambda m, x, y: m.mul(x, y))
    Primitive("clip", ..., scalar=lambda m, x, lo=None, hi=None: ...)

and a backend applies it as `prim.scalar(m, *operands, **params)` (params: the
op's attributes, as keywords; Python values).

Types
-----
A namespace works in ONE element type, the *compute dtype*. Before the call the
backend converts operand i to `prim.scalar_types(args, params).operands[i]`
(args as for `abstract_eval`: Abstracts or arrays, a Python scalar for a weak
operand; for an IR value, compiler/types.abstract_arg(v.type)) and makes `m`
for `.compute`; the value returned has `.result`'s dtype (a comparison returns
the namespace's boolean; `copy` may return its operand itself). So a definition never sees mixed types: its operands are values of the
compute dtype, or booleans where the primitive reads a condition (`where`'s
first operand, the operands of the logical ops). `prim.scalar_kinds` lists the
NumPy kinds ("f", "i", "u", "b") of compute dtype the definition holds for; a
backend refuses the others (`reciprocal` of an int, `add` of bools ...), and
the floating types it does not have (float16: NumPy's sin of a uint8;
longdouble). `astype` computes in its operand's dtype and `cast`s to the result's.

The protocol (every method takes and returns namespace values)
--------------------------------------------------------------
Numeric (compute dtype in, compute dtype out; "f" only where marked):

    add sub mul neg     + - * and unary -; integers wrap (two's complement)
    div                 true division (f); x/0 is +-inf, 0/0 and nan/0 nan
    pow                 x ** y; f: C99 pow, as NumPy's array loop (pow(nan, 0) = 1,
                        pow(-8, 1/3) nan, pow(+-0, y<0) +-inf, pow(-inf, 0.5) inf,
                        overflow +-inf; NumPy's fast path for a broadcast exponent
                        of 0.5, 2, -1 (sqrt, x*x, 1/x) differs at (-inf) ** 0.5 and
                        (-0.0) ** 0.5, and in the last bit); integers wrap, and a
                        negative integer exponent raises ValueError (as NumPy)
    floor_divide        floor(x / y) and x - floor(x / y) * y: for floats NumPy's
    remainder           npy_divmod (the remainder has the sign of y; y == 0 gives
                        x / 0, and nan); integers: Python's // and %, 0 when y == 0
    abs                 |x| (abs(-0.0) = 0.0; integers wrap: abs(INT_MIN) = INT_MIN)
    sign                -1, 0 or 1 in the compute dtype; sign(nan) nan, sign(-0.0) 0.0
    floor               f: floor (floor(-0.0) = -0.0, inf and nan unchanged); ints: x
    ceil trunc rint     f only: C's ceil, trunc and rint (round half to even); the sign of
                        a zero result is the operand's (ceil(-0.5) = -0.0)
    copysign            f only: |x| with the sign bit of y (C's copysign)
    sin cos tan exp log log1p expm1 sqrt tanh
    sinh cosh asin acos atan asinh acosh atanh erf erfc lgamma tgamma
                        f only, IEEE/NumPy/C99: no exceptions, inf and nan instead
                        (log(0) -inf, log(-1) nan, sqrt(-1) nan, sin(inf) nan,
                        exp(1000) inf, log1p(-1) -inf, asin(2) nan, atanh(1) inf,
                        lgamma(0) inf, tgamma(+-0) +-inf, tgamma(-1) nan)
    atan2 hypot         f only, binary: C's atan2(y, x) and hypot(x, y)

Boolean results (a namespace's boolean type; Python bool, LLVM i1):

    lt le gt ge eq ne   comparisons; with a nan operand all are False but ne
    isnan               True for a float nan; False for every integer or bool
    logical_and logical_or logical_not   on booleans

Others:

    select(c, a, b)     a where the boolean c holds, else b (both evaluated)
    const(value)        a constant of the compute dtype (a Python number in;
                        a bool constant in a bool namespace)
    cast(x, dtype)      x converted to NumPy dtype `dtype` (used by `astype`):
                        NumPy's conversion (round to nearest; float -> int
                        truncates; -> bool is x != 0). Float -> int of nan, inf
                        or a value out of range is undefined (platform-defined
                        in NumPy): the Python namespace raises ValueError.

Floating operations never raise (IEEE semantics, as NumPy's with warnings
ignored): this namespace is what the native tier must compute, and the Python
namespace below is the reference. A namespace raises NotImplementedError for a
method or a dtype it does not provide; a backend then refuses the primitive
(never guesses). Definitions wrap every constant in `m.const`.

The Python namespace and float32
--------------------------------
`PythonMath(dtype)` works on Python values: float, int, bool. float64 is a
Python float. For float32 every value is a Python float holding a float32
value: the namespace rounds the result of every operation to float32 (round to
nearest even, overflow to inf), which is exactly float32 arithmetic for + - * /
and sqrt (float64 has more than 2 * 24 + 2 bits, so the double rounding is
innocuous), and the correctly rounded float32 result of float64 libm for the
transcendental functions (NumPy's float32 versions may differ by a few ulps).
Integers are Python ints wrapped to the dtype's width after every operation.
"""
from __future__ import annotations

import math
import struct
from collections import namedtuple

import numpy as np

__all__ = ["PythonMath", "python_math", "ScalarTypes", "METHODS"]

# the protocol: the methods every namespace provides (or refuses with NotImplementedError)
METHODS = ("add", "sub", "mul", "div", "neg", "pow", "floor_divide", "remainder", "abs", "sign", "floor",
           "sin", "cos", "tan", "exp", "log", "log1p", "expm1", "sqrt", "tanh",
           "ceil", "trunc", "rint", "copysign", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh",
           "erf", "erfc", "lgamma", "tgamma", "atan2", "hypot",
           "lt", "le", "gt", "ge", "eq", "ne", "isnan", "logical_and", "logical_or", "logical_not",
           "select", "const", "cast")

ScalarTypes = namedtuple("ScalarTypes", "operands compute result")
ScalarTypes.__doc__ = """The dtypes of a scalar application: what each operand is converted to, the
namespace's compute dtype, and the result's dtype (see the module docstring)."""

_F32 = struct.Struct("<f")
_INF, _NAN = math.inf, math.nan


def _round_f32(x):
    try:
        return _F32.unpack(_F32.pack(x))[0]
    except OverflowError:                   # rounds to a value beyond float32's range
        return math.copysign(_INF, x)


def _int_to_f32(n):
    """int -> float32 rounded once (int -> float64 -> float32 could round twice)."""
    a = abs(n)
    bits = a.bit_length()
    if bits > 24:
        shift = bits - 24
        q, r = divmod(a, 1 << shift)
        half = 1 << (shift - 1)
        if r > half or (r == half and q & 1):
            q += 1
        a = q << shift
    try:
        v = float(a)
    except OverflowError:
        v = _INF
    return _round_f32(-v if n < 0 else v)


def _odd_integer(y):
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


class PythonMath:
    """The namespace on Python scalars for compute dtype `dtype` (float64, float32, any
    integer, bool): NumPy's answers, computed with `math` and Python's operators."""

    def __init__(self, dtype):
        dt = np.dtype(dtype)
        self.dtype = dt
        self.kind = dt.kind
        if dt.kind == "f":
            if dt.itemsize not in (4, 8):
                raise NotImplementedError(f"the Python namespace has no {dt} arithmetic")
            self._r = _round_f32 if dt.itemsize == 4 else _identity
        elif dt.kind in "iu":
            bits = 8 * dt.itemsize
            self._mod, self._mask = 1 << bits, (1 << bits) - 1
            self._half = 1 << (bits - 1) if dt.kind == "i" else None
            self._r = self._wrap
        elif dt.kind == "b":
            self._r = bool
        else:
            raise NotImplementedError(f"the Python namespace has no {dt} arithmetic")

    def __repr__(self):
        return f"PythonMath({self.dtype})"

    def _wrap(self, v):
        v &= self._mask
        if self._half is not None and v >= self._half:
            v -= self._mod
        return v

    def _float_only(self, name):
        if self.kind != "f":
            raise NotImplementedError(f"{name} on {self.dtype}")

    def _numeric(self, name):
        if self.kind == "b":
            raise NotImplementedError(f"{name} on bool")

    # ---- constants and conversion ----------------------------------------------------------
    def const(self, value):
        if self.kind == "f":
            if isinstance(value, int) and self._r is _round_f32:
                return _int_to_f32(value)
            return self._r(float(value))
        if self.kind == "b":
            return bool(value)
        return self._wrap(int(value))

    def cast(self, x, dtype):
        dt = np.dtype(dtype)
        if dt.kind == "b":
            return x != 0
        if dt.kind == "f":
            if dt.itemsize == 8:
                return float(x)
            if dt.itemsize == 4:
                return _int_to_f32(int(x)) if isinstance(x, int) else _round_f32(x)
            raise NotImplementedError(f"cast to {dt}")
        if dt.kind in "iu":
            if isinstance(x, float):
                if not math.isfinite(x):
                    raise ValueError(f"{x} -> {dt} is undefined (platform-defined in NumPy)")
                n = int(x)                  # truncates toward zero
                info = np.iinfo(dt)
                if not info.min <= n <= info.max:
                    raise ValueError(f"{x} -> {dt} is out of range (platform-defined in NumPy)")
                return n
            return python_math(dt)._wrap(int(x))
        raise NotImplementedError(f"cast to {dt}")

    # ---- arithmetic -------------------------------------------------------------------------
    def add(self, x, y):
        self._numeric("add")
        return self._r(x + y)

    def sub(self, x, y):
        self._numeric("sub")
        return self._r(x - y)

    def mul(self, x, y):
        self._numeric("mul")
        return self._r(x * y)

    def neg(self, x):
        self._numeric("neg")
        return self._r(-x)

    def div(self, x, y):
        self._float_only("div")
        if y == 0.0:
            if x == 0.0 or x != x:
                return _NAN
            return _INF if (math.copysign(1.0, x) > 0) == (math.copysign(1.0, y) > 0) else -_INF
        return self._r(x / y)

    def pow(self, x, y):
        self._numeric("pow")
        if self.kind in "iu":
            if y < 0:
                raise ValueError("Integers to negative integer powers are not allowed.")
            return self._wrap(pow(x, y, self._mod))
        try:
            return self._r(math.pow(x, y))
        except OverflowError:
            return -_INF if x < 0 and _odd_integer(y) else _INF
        except ValueError:
            if x == 0.0:                    # 0 ** negative: a pole
                return -_INF if math.copysign(1.0, x) < 0 and _odd_integer(y) else _INF
            return _NAN                     # negative ** non-integer

    def floor_divide(self, x, y):
        self._numeric("floor_divide")
        if self.kind in "iu":
            return 0 if y == 0 else self._wrap(x // y)
        return self._divmod(x, y)[0]

    def remainder(self, x, y):
        self._numeric("remainder")
        if self.kind in "iu":
            return 0 if y == 0 else x % y
        return self._divmod(x, y)[1]

    def _divmod(self, a, b):
        """NumPy's npy_divmod (CPython's float divmod is the same algorithm), each step
        rounded to the compute dtype; b == 0 gives a / b and nan, as npy_floor_divide and
        npy_remainder."""
        r = self._r
        if b == 0.0:
            return self.div(a, b), _NAN
        mod = _NAN if math.isinf(a) or a != a or b != b else math.fmod(a, b)
        div = r(r(a - mod) / b)
        if mod:
            if (b < 0) != (mod < 0):
                mod = r(mod + b)
                div = r(div - 1.0)
        else:
            mod = math.copysign(0.0, b)
        if div:
            floordiv = self.floor(div)
            if r(div - floordiv) > 0.5:
                floordiv = r(floordiv + 1.0)
        else:
            floordiv = math.copysign(0.0, a / b)
        return floordiv, mod

    def abs(self, x):
        self._numeric("abs")
        return math.fabs(x) if self.kind == "f" else self._wrap(abs(x))

    def sign(self, x):
        self._numeric("sign")
        if x != x:
            return x
        return self.const(1 if x > 0 else -1 if x < 0 else 0)

    def floor(self, x):
        self._numeric("floor")
        if self.kind != "f" or x == 0.0 or not math.isfinite(x):
            return x
        return float(math.floor(x))

    # ---- transcendental functions -------------------------------------------------------------
    def sqrt(self, x):
        self._float_only("sqrt")
        return _NAN if x < 0.0 else self._r(math.sqrt(x))

    def exp(self, x):
        self._float_only("exp")
        try:
            return self._r(math.exp(x))
        except OverflowError:
            return _INF

    def expm1(self, x):
        self._float_only("expm1")
        try:
            return self._r(math.expm1(x))
        except OverflowError:
            return _INF

    def log(self, x):
        self._float_only("log")
        if x == 0.0:
            return -_INF
        return _NAN if x < 0.0 else self._r(math.log(x))

    def log1p(self, x):
        self._float_only("log1p")
        if x == -1.0:
            return -_INF
        return _NAN if x < -1.0 else self._r(math.log1p(x))

    def sin(self, x):
        self._float_only("sin")
        return _NAN if math.isinf(x) else self._r(math.sin(x))

    def cos(self, x):
        self._float_only("cos")
        return _NAN if math.isinf(x) else self._r(math.cos(x))

    def tan(self, x):
        self._float_only("tan")
        return _NAN if math.isinf(x) else self._r(math.tan(x))

    def tanh(self, x):
        self._float_only("tanh")
        return self._r(math.tanh(x))

    def _f(self, name, fn, *args):
        """math.<fn> rounded to the dtype; a domain error is nan, an overflow +-inf (the sign of
        the exact result: sinh of a large negative, tgamma just below 0)."""
        self._float_only(name)
        try:
            return self._r(fn(*args))
        except OverflowError:
            return -_INF if name in ("sinh", "tgamma") and args[0] < 0 else _INF
        except ValueError:
            return _NAN

    def ceil(self, x):
        return self._rounded("ceil", math.ceil, x)

    def trunc(self, x):
        return self._rounded("trunc", math.trunc, x)

    def rint(self, x):
        return self._rounded("rint", round, x)     # Python's round of a float: half to even

    def _rounded(self, name, fn, x):
        self._float_only(name)
        if x == 0.0 or not math.isfinite(x):
            return x
        return math.copysign(float(fn(x)), x)

    def copysign(self, x, y):
        self._float_only("copysign")
        return math.copysign(x, y)

    def sinh(self, x):
        return self._f("sinh", math.sinh, x)

    def cosh(self, x):
        return self._f("cosh", math.cosh, x)

    def asin(self, x):
        return self._f("asin", math.asin, x)

    def acos(self, x):
        return self._f("acos", math.acos, x)

    def atan(self, x):
        return self._f("atan", math.atan, x)

    def asinh(self, x):
        return self._f("asinh", math.asinh, x)

    def acosh(self, x):
        return self._f("acosh", math.acosh, x)

    def atanh(self, x):
        if x == 1.0 or x == -1.0:
            self._float_only("atanh")
            return math.copysign(_INF, x)
        return self._f("atanh", math.atanh, x)

    def erf(self, x):
        return self._f("erf", math.erf, x)

    def erfc(self, x):
        return self._f("erfc", math.erfc, x)

    def lgamma(self, x):
        if math.isinf(x):
            self._float_only("lgamma")
            return _INF                     # lgamma(+-inf) = +inf (C99), where math.floor(-inf) would raise
        if x == 0.0 or (x < 0 and x == math.floor(x)):
            self._float_only("lgamma")
            return _INF                     # the poles
        return self._f("lgamma", math.lgamma, x)

    def tgamma(self, x):
        self._float_only("tgamma")
        if x == 0.0:
            return math.copysign(_INF, x)
        if x == -_INF or (x < 0 and x == math.floor(x)):
            return _NAN
        return self._f("tgamma", math.gamma, x)

    def atan2(self, y, x):
        return self._f("atan2", math.atan2, y, x)

    def hypot(self, x, y):
        return self._f("hypot", math.hypot, x, y)

    # ---- comparisons, logic, selection -----------------------------------------------------------
    def lt(self, x, y):
        return x < y

    def le(self, x, y):
        return x <= y

    def gt(self, x, y):
        return x > y

    def ge(self, x, y):
        return x >= y

    def eq(self, x, y):
        return x == y

    def ne(self, x, y):
        return x != y

    def isnan(self, x):
        return x != x

    def logical_and(self, x, y):
        return bool(x) and bool(y)

    def logical_or(self, x, y):
        return bool(x) or bool(y)

    def logical_not(self, x):
        return not x

    def select(self, c, a, b):
        return a if c else b


def _identity(x):
    return x


_CACHE = {}


def python_math(dtype):
    """The (shared) Python namespace for compute dtype `dtype`."""
    dt = np.dtype(dtype)
    m = _CACHE.get(dt)
    if m is None:
        m = _CACHE[dt] = PythonMath(dt)
    return m
