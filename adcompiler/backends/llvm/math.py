"""The math namespace `m` of the native tier: the scalar operations the primitive
table's scalar definitions are written against (ops: `prim.scalar(m, *args)`),
emitted with an llvmlite IRBuilder.

Semantics are NumPy's (division by zero gives inf/nan, `floor_divide` and
`remainder` follow `npy_divmod`, `maximum`/`minimum` propagate nan). Values are
llvmlite values of one element type per namespace: `double`, `float`, an
integer type, or `i1` for booleans (comparisons return `i1`).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

__all__ = ["LLVMMath", "F64", "F32", "I64", "I1", "TYPES", "convert", "per_element_call"]

F64, F32, I64, I1 = ir.DoubleType(), ir.FloatType(), ir.IntType(64), ir.IntType(1)
TYPES = {"float64": F64, "float32": F32, "int64": I64, "bool": I1}   # NumPy dtype name -> LLVM type
_FLOATS = (F64, F32)


def convert(b, x, ty):
    """`x` converted to LLVM type `ty` as NumPy converts (bool is x != 0; float -> int truncates)."""
    if x.type == ty:
        return x
    if x.type == I1:
        return b.uitofp(x, ty) if ty in _FLOATS else b.zext(x, ty)
    if ty == I1:
        if x.type in _FLOATS:
            return b.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0))
        return b.icmp_unsigned("!=", x, ir.Constant(x.type, 0))
    if x.type in _FLOATS and ty in _FLOATS:
        return b.fpext(x, ty) if ty == F64 else b.fptrunc(x, ty)
    if ty in _FLOATS:
        return b.sitofp(x, ty)
    return b.fptosi(x, ty)
_LIBM = {"log1p", "expm1", "tanh", "tan", "fmod", "sinh", "cosh", "atan", "atan2", "asin", "acos", "asinh", "acosh",
         "atanh", "erf", "erfc", "lgamma", "tgamma", "hypot", "copysign"}


class LLVMMath:
    """`m` for one operation: builder `b`, element type `ty` of the operands."""

    def __init__(self, builder, ty, module):
        self.b, self.ty, self.module = builder, ty, module
        self.is_float = isinstance(ty, (ir.DoubleType, ir.FloatType))

    def __getattr__(self, name):   # a protocol method this namespace does not provide
        raise NotImplementedError(f"the native math namespace has no {name}")

    # ---- constants and helpers -------------------------------------------------------
    def const(self, x):
        if isinstance(x, ir.Value):
            return x
        if self.is_float:
            return ir.Constant(self.ty, float(x))
        return ir.Constant(self.ty, int(x))

    def cast(self, x, dtype):
        ty = TYPES.get(np.dtype(dtype).name)
        if ty is None:
            raise NotImplementedError(f"a cast to {np.dtype(dtype)}")
        return convert(self.b, self.const(x), ty)

    def _intrinsic(self, name, *args):
        ty = args[0].type      # llvm.copysign takes two: the signature is spelled out, not guessed
        fn = self.module.declare_intrinsic(f"llvm.{name}", [ty], ir.FunctionType(ty, [ty] * len(args)))
        return self.b.call(fn, list(args))

    def _libm(self, name, *args):
        ty = args[0].type
        cname = name if isinstance(ty, ir.DoubleType) else name + "f"
        fn = self.module.globals.get(cname)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ty, [ty] * len(args)), cname)
        return self.b.call(fn, list(args))

    def _args(self, *xs):
        return [self.const(x) for x in xs]

    # ---- arithmetic ---------------------------------------------------------------------
    def add(self, x, y):
        x, y = self._args(x, y)
        return self.b.fadd(x, y) if self.is_float else self.b.add(x, y)

    def sub(self, x, y):
        x, y = self._args(x, y)
        return self.b.fsub(x, y) if self.is_float else self.b.sub(x, y)

    def mul(self, x, y):
        x, y = self._args(x, y)
        return self.b.fmul(x, y) if self.is_float else self.b.mul(x, y)

    def div(self, x, y):
        if not self.is_float:
            raise NotImplementedError("integer div")
        x, y = self._args(x, y)
        return self.b.fdiv(x, y)

    def neg(self, x):
        x = self.const(x)
        return self.b.fneg(x) if self.is_float else self.b.neg(x)

    def pow(self, x, y):
        if not self.is_float:
            raise NotImplementedError("integer power")
        x, y = self._args(x, y)
        return self._intrinsic("pow", x, y)

    def abs(self, x):
        x = self.const(x)
        if self.is_float:
            return self._intrinsic("fabs", x)
        return self.b.select(self.b.icmp_signed("<", x, self.const(0)), self.b.neg(x), x)

    def sign(self, x):
        x = self.const(x)
        one, zero = self.const(1), self.const(0)
        if self.is_float:
            pos = self.b.select(self.b.fcmp_ordered(">", x, zero), one, zero)
            neg = self.b.select(self.b.fcmp_ordered("<", x, zero), self.const(-1), pos)
            return self.b.select(self.isnan(x), x, neg)
        pos = self.b.select(self.b.icmp_signed(">", x, zero), one, zero)
        return self.b.select(self.b.icmp_signed("<", x, zero), self.const(-1), pos)

    def floor(self, x):
        x = self.const(x)
        return self._intrinsic("floor", x) if self.is_float else x

    def _divmod(self, x, y):
        """NumPy's npy_divmod (floats) / Python's floor division (integers)."""
        x, y = self._args(x, y)
        b = self.b
        if not self.is_float:
            zero = self.const(0)
            # y == 0 and y == -1 never reach the division: x // 0 and x % 0 are 0 (NumPy), and
            # x // -1 is -x, wrapping for the smallest integer (NumPy) where sdiv would trap (SIGFPE)
            minus_one = b.icmp_signed("==", y, self.const(-1))
            by_zero = b.icmp_signed("==", y, zero)
            safe = b.select(b.or_(by_zero, minus_one), self.const(1), y)
            q, r = b.sdiv(x, safe), b.srem(x, safe)
            fix = b.and_(b.icmp_signed("!=", r, zero), b.xor(b.icmp_signed("<", r, zero), b.icmp_signed("<", safe, zero)))
            q = b.select(fix, b.sub(q, self.const(1)), q)
            r = b.select(fix, b.add(r, safe), r)
            q = b.select(minus_one, b.sub(zero, x), q)
            return b.select(by_zero, zero, q), b.select(b.or_(by_zero, minus_one), zero, r)
        zero, one, half = self.const(0.0), self.const(1.0), self.const(0.5)
        mod = self._libm("fmod", x, y)
        div = b.fdiv(b.fsub(x, mod), y)
        nonzero_mod = b.fcmp_unordered("!=", mod, zero)
        flip = b.and_(nonzero_mod, b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero)))
        mod = b.select(flip, b.fadd(mod, y), b.select(nonzero_mod, mod, self._intrinsic("copysign", zero, y)))
        div = b.select(flip, b.fsub(div, one), div)
        fl = self._intrinsic("floor", div)
        fl = b.select(b.fcmp_ordered(">", b.fsub(div, fl), half), b.fadd(fl, one), fl)
        fl = b.select(b.fcmp_unordered("!=", div, zero), fl, self._intrinsic("copysign", zero, b.fdiv(x, y)))
        # y == 0: floor_divide gives x / 0 (inf or nan), remainder gives nan (fmod's answer)
        ydz = b.fcmp_ordered("==", y, zero)
        return b.select(ydz, b.fdiv(x, y), fl), mod

    def floor_divide(self, x, y):
        return self._divmod(x, y)[0]

    def remainder(self, x, y):
        return self._divmod(x, y)[1]

    # ---- transcendental functions (LLVM intrinsics or libm: the same libm as Python's math) ----
    def sqrt(self, x):
        return self._intrinsic("sqrt", self.const(x))

    def exp(self, x):
        return self._intrinsic("exp", self.const(x))

    def log(self, x):
        return self._intrinsic("log", self.const(x))

    def sin(self, x):
        return self._intrinsic("sin", self.const(x))

    def cos(self, x):
        return self._intrinsic("cos", self.const(x))

    def tan(self, x):
        return self._libm("tan", self.const(x))

    def tanh(self, x):
        return self._libm("tanh", self.const(x))

    def log1p(self, x):
        return self._libm("log1p", self.const(x))

    def expm1(self, x):
        return self._libm("expm1", self.const(x))

    def ceil(self, x):
        return self._intrinsic("ceil", self.const(x))

    def trunc(self, x):
        return self._intrinsic("trunc", self.const(x))

    def rint(self, x):
        return self._intrinsic("rint", self.const(x))

    def copysign(self, x, y):
        return self._libm("copysign", *self._args(x, y))

    def atan2(self, y, x):
        return self._libm("atan2", *self._args(y, x))

    def hypot(self, x, y):
        return self._libm("hypot", *self._args(x, y))

    # ---- comparisons and logic (results are i1) ----------------------------------------------
    def _cmp(self, op, x, y):
        x, y = self._args(x, y)
        if self.is_float:
            return self.b.fcmp_unordered(op, x, y) if op == "!=" else self.b.fcmp_ordered(op, x, y)
        if self.ty == I1:
            return self.b.icmp_unsigned(op, x, y)
        return self.b.icmp_signed(op, x, y)

    def lt(self, x, y):
        return self._cmp("<", x, y)

    def le(self, x, y):
        return self._cmp("<=", x, y)

    def gt(self, x, y):
        return self._cmp(">", x, y)

    def ge(self, x, y):
        return self._cmp(">=", x, y)

    def eq(self, x, y):
        return self._cmp("==", x, y)

    def ne(self, x, y):
        return self._cmp("!=", x, y)

    def isnan(self, x):
        x = self.const(x)
        return self.b.fcmp_unordered("uno", x, x) if self.is_float else ir.Constant(I1, 0)

    def logical_and(self, x, y):
        return self.b.and_(self._bool(x), self._bool(y))

    def logical_or(self, x, y):
        return self.b.or_(self._bool(x), self._bool(y))

    def logical_not(self, x):
        return self.b.xor(self._bool(x), ir.Constant(I1, 1))

    def _bool(self, x):
        if isinstance(x, bool):
            return ir.Constant(I1, int(x))
        if x.type == I1:
            return x
        return self.ne(x, 0)

    def select(self, c, x, y):
        x, y = self._args(x, y)
        return self.b.select(self._bool(c), x, y)


def _unary_libm(name):
    def method(self, x):
        return self._libm(name, self.const(x))
    method.__name__ = name
    return method


for _name in ("sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "erf", "erfc", "lgamma", "tgamma"):
    setattr(LLVMMath, _name, _unary_libm(_name))


# the namespace methods that become a call into libm for every element (LLVM does not vectorise them;
# NumPy's own loops for exp, log, tanh, sin ... are SIMD): an array kernel would be slower than NumPy
_CALLS = frozenset(_LIBM) | {"sin", "cos", "exp", "log", "tgamma", "lgamma", "erf", "erfc"}
_CHEAP_EXPONENTS = (0.0, 0.5, 1.0, 2.0, 3.0, -1.0)     # pow that LLVM turns into arithmetic or sqrt


def per_element_call(op, consts):
    """Whether the scalar definition of elementwise op `op` makes a libm call per element (`consts`:
    id(IR value) -> value, for the operands that are constants: x ** 2 is a multiplication)."""
    args = [consts.get(id(v), _Opaque) for v in op.operands]
    rec = _Recorder()
    try:
        op.prim.scalar(rec, *args, **op.attrs)
    except Exception:
        return True
    return rec.calls


class _Opaque:
    """A run-time operand of the scalar definition being probed."""


class _Recorder:
    """A math namespace that only notes whether a per-element libm call would be made."""
    is_float = True

    def __init__(self):
        self.calls = False

    def __getattr__(self, name):
        def method(*args, **kw):
            if name in _CALLS:
                self.calls = True
            elif name == "pow":
                y = args[1] if len(args) > 1 else None
                if not (isinstance(y, (int, float)) and float(y) in _CHEAP_EXPONENTS):
                    self.calls = True
            return _Opaque
        return method
