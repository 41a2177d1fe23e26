"""Elementwise primitives: arithmetic, transcendental functions, activations,
comparisons, `where` and `clip`, with their VJP rules and their scalar
definitions (written once against a math namespace `m`: see ops/scalar.py).

No JVP rule is written here: an elementwise primitive's Jacobian is diagonal after
broadcasting, so its tangent is its VJP rule applied to the broadcast tangent
(Primitive.jvp_rule); `mul` (multilinear) and `where` (linear in its branches) apply
themselves to the tangent. Every VJP rule here is pointwise (g times a factor, or a
`where` selecting g) -- keep it so, or give the primitive an explicit JVP rule."""
from __future__ import annotations

import math

import numpy as np

from .core import Abstract, Primitive, shape_of, unbroadcast
from .dims import broadcast_shapes
from .scalar import python_math

_PY_SCALARS = (int, float, bool)


def _is_scalar(a):
    return isinstance(a, _PY_SCALARS)


def elementwise_shape_rule(impl):
    """Shape by broadcasting; dtype by running `impl` on 0-d dummies."""

    def rule(args, params):
        shapes = [shape_of(a) for a in args if not _is_scalar(a)]
        shape = broadcast_shapes(*shapes) if shapes else ()
        dummies = [a if _is_scalar(a) else np.zeros((), dtype=np.dtype(a.dtype)) for a in args]
        with np.errstate(all="ignore"):
            dtype = np.asarray(impl(*dummies, **params)).dtype
        return Abstract(shape, dtype)

    return rule


def _prim(name, impl, grad_fn=None, **kw):
    return Primitive(name, impl, grad_fn=grad_fn, shape_rule=elementwise_shape_rule(impl), kind="elementwise", **kw)


_INT = "fiu"      # scalar definitions that hold for integers too (the default is floats only)
_ANY = "fiub"     # ... and for booleans


# ---- scalar definitions shared by several primitives (NumPy's semantics) -----------------

def _maximum(m, x, y):
    """np.maximum: nan propagates from either side; on a tie (0.0 vs -0.0) the second operand."""
    return m.select(m.logical_or(m.gt(x, y), m.isnan(x)), x, y)


def _minimum(m, x, y):
    return m.select(m.logical_or(m.lt(x, y), m.isnan(x)), x, y)


def _clip(m, x, lo=None, hi=None):
    """np.clip: with both bounds, x on a tie and nan from any of the three; with one bound
    it is np.maximum / np.minimum (NumPy calls them)."""
    if lo is None and hi is None:
        return x
    if hi is None:
        return _maximum(m, x, m.const(lo))
    if lo is None:
        return _minimum(m, x, m.const(hi))
    return _minimum(m, m.const(hi), _maximum(m, m.const(lo), x))


def _sigmoid_scalar(m, x):
    # as _sigmoid below: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below (no overflow)
    e = m.exp(m.neg(m.abs(x)))
    one = m.const(1)
    d = m.add(one, e)
    return m.select(m.ge(x, m.const(0)), m.div(one, d), m.div(e, d))


def _always(m, x):
    """True, as the namespace's boolean (for clip_mask without bounds)."""
    return m.logical_or(m.isnan(x), m.logical_not(m.isnan(x)))


def _ignore_fp(fn):
    """Forward that returns inf/nan (like torch) instead of printing NumPy warnings."""

    def impl(*args, **params):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(*args, **params)

    impl.__name__ = getattr(fn, "__name__", "impl")
    return impl


# ---- arithmetic -------------------------------------------------------------

def _sub_name(args, params):
    return "RsubBackward1" if _is_scalar(args[0]) else "SubBackward0"


def _pow_name(args, params):
    if _is_scalar(args[1]):
        return "PowBackward0"
    return "PowBackward2" if _is_scalar(args[0]) else "PowBackward1"


add = _prim("add", np.add, numpy_name="add", scalar=lambda m, x, y: m.add(x, y), scalar_kinds=_INT)
sub = _prim("sub", np.subtract, grad_fn=_sub_name, numpy_name="subtract", scalar=lambda m, x, y: m.sub(x, y),
            scalar_kinds=_INT)
mul = _prim("mul", np.multiply, saves=(0, 1), numpy_name="multiply", scalar=lambda m, x, y: m.mul(x, y),
            scalar_kinds=_INT, multilinear=True)
div = _prim("div", _ignore_fp(np.true_divide), saves=(1,), saves_out=True, numpy_name="true_divide",
            scalar=lambda m, x, y: m.div(x, y))
neg = _prim("neg", np.negative, numpy_name="negative", scalar=lambda m, x: m.neg(x), scalar_kinds=_INT)
power = _prim("pow", _ignore_fp(np.power), grad_fn=_pow_name, saves=(0, 1), saves_out=True, numpy_name="power",
              scalar=lambda m, x, y: m.pow(x, y), scalar_kinds=_INT)
# NumPy's reciprocal of an integer is an integer (1, -1 or 0): no scalar definition for it
reciprocal = _prim("reciprocal", _ignore_fp(np.reciprocal), saves_out=True, numpy_name="reciprocal",
                   scalar=lambda m, x: m.div(m.const(1), x))

add.defvjp(lambda g, x, y, out: unbroadcast(g, shape_of(x)),
           lambda g, x, y, out: unbroadcast(g, shape_of(y)))
sub.defvjp(lambda g, x, y, out: unbroadcast(g, shape_of(x)),
           lambda g, x, y, out: unbroadcast(neg(g), shape_of(y)))
mul.defvjp(lambda g, x, y, out: unbroadcast(mul(g, y), shape_of(x)),
           lambda g, x, y, out: unbroadcast(mul(g, x), shape_of(y)))
div.defvjp(lambda g, x, y, out: unbroadcast(div(g, y), shape_of(x)),
           lambda g, x, y, out: unbroadcast(neg(mul(g, div(out, y))), shape_of(y)))
neg.defvjp(lambda g, x, out: neg(g))
reciprocal.defvjp(lambda g, x, out: neg(mul(g, mul(out, out))))


def _pow_dx(g, x, y, out):
    if _is_scalar(y):
        if y == 0:
            return zeros_like(g)
        d = mul(y, power(x, y - 1)) if y != 2 else mul(2.0, x)
    else:
        # x ** 0 is 1 for every x: the derivative is 0 at x == 0 where y == 0 (as torch), not
        # 0 * 0 ** -1 = nan. Only there: elsewhere y * x ** (y - 1) is finite, and its derivative
        # in y at y == 0 is 1 / x, not 0. The inner `where` keeps 0 ** -1 out of the discarded
        # branch, so its own derivative is not nan either.
        zero = logical_and(eq(x, 0.0), eq(y, 0.0))
        ys = where(zero, 1.0, y)
        d = where(zero, 0.0, mul(ys, power(x, sub(ys, 1.0))))
    return unbroadcast(mul(g, d), shape_of(x))


def _pow_dy(g, x, y, out):
    # d(x ** y)/dy = x ** y * log(x); where x == 0 and y >= 0 it is 0 (0 ** y is 0 for y > 0;
    # torch takes 0 at y == 0 too), not 0 * log(0) = nan. Where x == 0 and y < 0 it is -inf
    # (inf * log(0), as torch).
    if _is_scalar(x):
        if x > 0:
            d = mul(out, math.log(x))
        elif x == 0:
            d = where(pow_zero_base_mask(x, y), 0.0, mul(ones_like(out), -math.inf))
        else:
            d = mul(out, math.nan)
    else:
        # the inner `where` keeps log(0) out of the discarded branch (and of its derivative)
        zero = pow_zero_base_mask(x, y)
        d = where(zero, 0.0, mul(out, log(where(zero, 1.0, x))))
    return unbroadcast(mul(g, d), shape_of(y))


power.defvjp(_pow_dx, _pow_dy)

floor_divide = _prim("floor_divide", _ignore_fp(np.floor_divide), differentiable=False, numpy_name="floor_divide",
                     scalar=lambda m, x, y: m.floor_divide(x, y), scalar_kinds=_INT)
remainder = _prim("remainder", _ignore_fp(np.remainder), saves=(0, 1), numpy_name="remainder",
                  scalar=lambda m, x, y: m.remainder(x, y), scalar_kinds=_INT)
# x % y = x - floor(x / y) * y, so d/dx = 1 and d/dy = -floor(x / y) (torch's RemainderBackward0)
remainder.defvjp(lambda g, x, y, out: unbroadcast(g, shape_of(x)),
                 lambda g, x, y, out: unbroadcast(neg(mul(g, floor_divide(x, y))), shape_of(y)))

# ---- transcendental and activations -----------------------------------------

exp = _prim("exp", np.exp, math_name="exp", saves_out=True, numpy_name="exp", scalar=lambda m, x: m.exp(x))
log = _prim("log", _ignore_fp(np.log), math_name="log", saves=(0,), numpy_name="log", scalar=lambda m, x: m.log(x))
log1p = _prim("log1p", _ignore_fp(np.log1p), grad_fn="Log1PBackward0", math_name="log1p", saves=(0,),
              numpy_name="log1p",
              scalar=lambda m, x: m.log1p(x))
expm1 = _prim("expm1", np.expm1, math_name="expm1", saves_out=True, numpy_name="expm1", scalar=lambda m, x: m.expm1(x))
sqrt = _prim("sqrt", _ignore_fp(np.sqrt), math_name="sqrt", saves_out=True,
             numpy_name="sqrt", scalar=lambda m, x: m.sqrt(x))
rsqrt = _prim("rsqrt", _ignore_fp(lambda x: 1.0 / np.sqrt(x)), saves_out=True,
              scalar=lambda m, x: m.div(m.const(1), m.sqrt(x)))
sin = _prim("sin", np.sin, math_name="sin", saves=(0,), numpy_name="sin", scalar=lambda m, x: m.sin(x))
cos = _prim("cos", np.cos, math_name="cos", saves=(0,), numpy_name="cos", scalar=lambda m, x: m.cos(x))
tan = _prim("tan", np.tan, math_name="tan", saves_out=True, numpy_name="tan", scalar=lambda m, x: m.tan(x))
tanh = _prim("tanh", np.tanh, math_name="tanh", saves_out=True, numpy_name="tanh", scalar=lambda m, x: m.tanh(x))


def _sigmoid(x):
    # in the float result type first (-x of an unsigned int would wrap); exp of a large positive
    # number overflows, so branch on the sign
    x = np.asarray(x)
    x = x.astype(np.result_type(x, 1.0), copy=False)
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1.0 / (1.0 + np.exp(-x)), np.exp(x) / (1.0 + np.exp(x)))


sigmoid = _prim("sigmoid", _sigmoid, saves_out=True, scalar=_sigmoid_scalar)
relu = _prim("relu", lambda x: np.maximum(x, 0).astype(np.asarray(x).dtype, copy=False), saves_out=True,
             scalar=lambda m, x: _maximum(m, x, m.const(0)), scalar_kinds=_INT)
absolute = _prim("abs", np.abs, saves=(0,), numpy_name="abs", scalar=lambda m, x: m.abs(x), scalar_kinds=_INT)
sign = _prim("sign", lambda x: np.sign(x).astype(np.asarray(x).dtype, copy=False), numpy_name="sign",
             scalar=lambda m, x: m.sign(x), scalar_kinds=_INT)

exp.defvjp(lambda g, x, out: mul(g, out))
log.defvjp(lambda g, x, out: div(g, x))
log1p.defvjp(lambda g, x, out: div(g, add(x, 1.0)))
expm1.defvjp(lambda g, x, out: mul(g, add(out, 1.0)))
sqrt.defvjp(lambda g, x, out: div(g, mul(2.0, out)))
rsqrt.defvjp(lambda g, x, out: mul(g, mul(-0.5, mul(out, mul(out, out)))))
sin.defvjp(lambda g, x, out: mul(g, cos(x)))
cos.defvjp(lambda g, x, out: neg(mul(g, sin(x))))
tan.defvjp(lambda g, x, out: mul(g, add(1.0, mul(out, out))))
tanh.defvjp(lambda g, x, out: mul(g, sub(1.0, mul(out, out))))
sigmoid.defvjp(lambda g, x, out: mul(g, mul(out, sub(1.0, out))))
relu.defvjp(lambda g, x, out: where(gt(out, 0.0), g, 0.0))
absolute.defvjp(lambda g, x, out: mul(g, sign(x)))
sign.defvjp(lambda g, x, out: zeros_like(g))

# ---- more math functions ------------------------------------------------------

sinh = _prim("sinh", _ignore_fp(np.sinh), math_name="sinh", saves=(0,),
             numpy_name="sinh", scalar=lambda m, x: m.sinh(x))
cosh = _prim("cosh", _ignore_fp(np.cosh), math_name="cosh", saves=(0,),
             numpy_name="cosh", scalar=lambda m, x: m.cosh(x))
arcsin = _prim("arcsin", _ignore_fp(np.arcsin), grad_fn="AsinBackward0", math_name="asin", saves=(0,),
               numpy_name="arcsin",
               scalar=lambda m, x: m.asin(x))
arccos = _prim("arccos", _ignore_fp(np.arccos), grad_fn="AcosBackward0", math_name="acos", saves=(0,),
               numpy_name="arccos",
               scalar=lambda m, x: m.acos(x))
arctan = _prim("arctan", np.arctan, grad_fn="AtanBackward0", math_name="atan", saves=(0,), numpy_name="arctan",
               scalar=lambda m, x: m.atan(x))
arcsinh = _prim("arcsinh", np.arcsinh, grad_fn="AsinhBackward0", math_name="asinh", saves=(0,), numpy_name="arcsinh",
                scalar=lambda m, x: m.asinh(x))
arccosh = _prim("arccosh", _ignore_fp(np.arccosh), grad_fn="AcoshBackward0", math_name="acosh", saves=(0,),
                numpy_name="arccosh",
                scalar=lambda m, x: m.acosh(x))
arctanh = _prim("arctanh", _ignore_fp(np.arctanh), grad_fn="AtanhBackward0", math_name="atanh", saves=(0,),
                numpy_name="arctanh",
                scalar=lambda m, x: m.atanh(x))
arctan2 = _prim("arctan2", _ignore_fp(np.arctan2), grad_fn="Atan2Backward0", math_name="atan2", saves=(0, 1),
                numpy_name="arctan2",
                scalar=lambda m, y, x: m.atan2(y, x))
hypot = _prim("hypot", _ignore_fp(np.hypot), math_name="hypot", saves=(0, 1), saves_out=True, numpy_name="hypot",
              scalar=lambda m, x, y: m.hypot(x, y))
copysign = _prim("copysign", np.copysign, math_name="copysign", saves=(0,), saves_out=True, numpy_name="copysign",
                 scalar=lambda m, x, y: m.copysign(x, y))


def _one_minus_sq(x):
    return mul(sub(1.0, x), add(1.0, x))     # 1 - x^2 without cancellation near |x| = 1


def _over_norm(g, x, out):
    """g * x / out, and 0 where out == 0 (the cone point of a norm: 0 is the subgradient, as
    torch). The inner `where` keeps 0 / 0 out of the discarded branch and its derivative."""
    zero = eq(out, 0.0)
    return where(zero, 0.0, div(mul(g, x), where(zero, 1.0, out)))


sinh.defvjp(lambda g, x, out: mul(g, cosh(x)))
cosh.defvjp(lambda g, x, out: mul(g, sinh(x)))
arcsin.defvjp(lambda g, x, out: div(g, sqrt(_one_minus_sq(x))))
arccos.defvjp(lambda g, x, out: neg(div(g, sqrt(_one_minus_sq(x)))))
arctan.defvjp(lambda g, x, out: div(g, add(1.0, mul(x, x))))
arcsinh.defvjp(lambda g, x, out: div(g, hypot(x, 1.0)))
arccosh.defvjp(lambda g, x, out: div(g, sqrt(mul(sub(x, 1.0), add(x, 1.0)))))
arctanh.defvjp(lambda g, x, out: div(g, _one_minus_sq(x)))
arctan2.defvjp(lambda g, y, x, out: unbroadcast(div(mul(g, x), add(mul(x, x), mul(y, y))), shape_of(y)),
               lambda g, y, x, out: unbroadcast(neg(div(mul(g, y), add(mul(x, x), mul(y, y)))), shape_of(x)))
hypot.defvjp(lambda g, x, y, out: unbroadcast(_over_norm(g, x, out), shape_of(x)),
             lambda g, x, y, out: unbroadcast(_over_norm(g, y, out), shape_of(y)))
# d copysign(x, y)/dx = out / x: +-1 (0 at x == 0, as torch); constant in y
copysign.defvjp(lambda g, x, y, out: unbroadcast(_over_norm(g, out, x), shape_of(x)),
                lambda g, x, y, out: zeros_like(unbroadcast(g, shape_of(y))) if not _is_scalar(y) else None)


def _libm_only(name):
    """The forward of a math function NumPy lacks (erf, lgamma ...): the Python namespace's
    scalar definition (Python's math, with C's inf/nan where math raises) on every element."""

    def impl(x):
        x = np.asarray(x)
        dt = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        fn = getattr(python_math(dt), name)
        flat = [fn(v) for v in x.astype(dt).ravel().tolist()]
        return np.asarray(flat, dtype=dt).reshape(x.shape)

    impl.__name__ = name
    return impl


erf = _prim("erf", _libm_only("erf"), math_name="erf", saves=(0,), scalar=lambda m, x: m.erf(x))
erfc = _prim("erfc", _libm_only("erfc"), math_name="erfc", saves=(0,), scalar=lambda m, x: m.erfc(x))
lgamma = _prim("lgamma", _libm_only("lgamma"), math_name="lgamma", saves=(0,), scalar=lambda m, x: m.lgamma(x))
gamma = _prim("gamma", _libm_only("tgamma"), math_name="gamma", saves=(0,), saves_out=True,
              scalar=lambda m, x: m.tgamma(x))

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf.defvjp(lambda g, x, out: mul(g, mul(_TWO_OVER_SQRT_PI, exp(neg(mul(x, x))))))
erfc.defvjp(lambda g, x, out: mul(g, mul(-_TWO_OVER_SQRT_PI, exp(neg(mul(x, x))))))
lgamma.defvjp(lambda g, x, out: mul(g, polygamma(x, n=0)))
gamma.defvjp(lambda g, x, out: mul(g, mul(out, polygamma(x, n=0))))

# the Bernoulli numbers B_2 .. B_20 of the asymptotic series of polygamma
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330)


def _polygamma(x, n=0):
    """The n-th derivative of digamma (n = 0: digamma): shift x up to z = x + N >= 20 with the
    recurrence psi^(n)(x) = psi^(n)(x + 1) - (-1)^n n! / x^(n+1), then the asymptotic series
    (to B_20: float64 accuracy at z >= 20). nan at the poles (0, -1, -2 ...) and below -1e6."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    z = x.astype(np.float64)
    pole = (z <= 0) & (z == np.floor(z)) | np.isnan(z) | (z < -1e6)
    z = np.where(pole, 30.0, z)
    acc = np.zeros_like(z)
    sign = -1.0 if n % 2 else 1.0                  # (-1)^n
    fact = float(math.factorial(n))
    with np.errstate(all="ignore"):
        while True:
            low = z < 20.0
            if not low.any():
                break
            zl = np.where(low, z, 1.0)
            acc = acc - np.where(low, sign * fact / zl ** (n + 1), 0.0)
            z = np.where(low, z + 1.0, z)
        if n == 0:
            series = np.log(z) - 0.5 / z
            for k, b in enumerate(_BERNOULLI, start=1):
                series = series - b / (2 * k * z ** (2 * k))
        else:
            # (-1)^(n+1) [ (n-1)! / z^n + n! / (2 z^(n+1)) + sum_k B_2k (2k+n-1)! / ((2k)! z^(2k+n)) ]
            series = math.factorial(n - 1) / z ** n + fact / (2 * z ** (n + 1))
            for k, b in enumerate(_BERNOULLI, start=1):
                series = series + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) / z ** (2 * k + n)
            series = -sign * series
    return np.where(pole, np.nan, acc + series).astype(dt)


polygamma = _prim("polygamma", _polygamma, saves=(0,))
polygamma.defvjp(lambda g, x, out, n=0: mul(g, polygamma(x, n=n + 1)))


def _zero_grad(name, impl, numpy_name, method, grad_fn=None):
    p = _prim(name, impl, grad_fn=grad_fn, numpy_name=numpy_name, scalar=lambda m, x: getattr(m, method)(x))
    return p.defvjp(lambda g, x, out: zeros_like(g))


floor = _zero_grad("floor", np.floor, "floor", "floor")
ceil = _zero_grad("ceil", np.ceil, "ceil", "ceil")
trunc = _zero_grad("trunc", np.trunc, "trunc", "trunc")
rint = _zero_grad("rint", np.rint, "rint", "rint", grad_fn="RoundBackward0")

# ---- comparisons and masks (not differentiable) -----------------------------

def _nondiff(name, impl, **kw):
    return _prim(name, impl, differentiable=False, **kw)


def _comparison(name, impl, method):
    return _nondiff(name, impl, numpy_name=impl.__name__, scalar=lambda m, x, y: getattr(m, method)(x, y),
                    scalar_args="common", scalar_kinds=_ANY)


eq = _comparison("eq", np.equal, "eq")
ne = _comparison("ne", np.not_equal, "ne")
lt = _comparison("lt", np.less, "lt")
le = _comparison("le", np.less_equal, "le")
gt = _comparison("gt", np.greater, "gt")
ge = _comparison("ge", np.greater_equal, "ge")
logical_and = _nondiff("logical_and", np.logical_and, numpy_name="logical_and",
                       scalar=lambda m, x, y: m.logical_and(x, y), scalar_args="bool", scalar_kinds="b")
logical_or = _nondiff("logical_or", np.logical_or, numpy_name="logical_or",
                      scalar=lambda m, x, y: m.logical_or(x, y), scalar_args="bool", scalar_kinds="b")
logical_not = _nondiff("logical_not", np.logical_not, numpy_name="logical_not",
                       scalar=lambda m, x: m.logical_not(x), scalar_args="bool", scalar_kinds="b")
zeros_like = _nondiff("zeros_like", lambda x: np.zeros_like(x), numpy_name="zeros_like",
                      scalar=lambda m, x: m.const(0), scalar_kinds=_ANY)
ones_like = _nondiff("ones_like", lambda x: np.ones_like(x), numpy_name="ones_like",
                     scalar=lambda m, x: m.const(1), scalar_kinds=_ANY)
def _pow_zero_base_mask(x, y):
    """x == 0 and y >= 0, both as pow sees them (in the common type)."""
    dt = np.result_type(x, y)
    return (np.asarray(x).astype(dt, copy=False) == 0) & (np.asarray(y).astype(dt, copy=False) >= 0)


pow_zero_base_mask = _nondiff("pow_zero_base_mask", _pow_zero_base_mask,
                              scalar=lambda m, x, y: m.logical_and(m.eq(x, m.const(0)), m.ge(y, m.const(0))),
                              scalar_args="common", scalar_kinds=_ANY)


def _maximum_weight(x, y):
    """1 where x wins, 0.5 on ties (torch splits the gradient), 0 where y wins."""
    dt = np.result_type(x, y, 1.0)
    return np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0)).astype(dt, copy=False)


# (integer operands are compared in the float result type: exact below 2 ** 53; the rules of
# maximum and minimum only ever pass floats)
maximum_weight = _nondiff("maximum_weight", _maximum_weight, scalar=lambda m, x, y: m.select(
    m.gt(x, y), m.const(1), m.select(m.eq(x, y), m.const(0.5), m.const(0))))


def _clip_mask_scalar(m, x, lo=None, hi=None):
    if lo is None and hi is None:
        return _always(m, x)
    if hi is None:
        return m.ge(x, m.const(lo))
    if lo is None:
        return m.le(x, m.const(hi))
    return m.logical_and(m.ge(x, m.const(lo)), m.le(x, m.const(hi)))


clip_mask = _nondiff("clip_mask", lambda x, lo=None, hi=None: (
    (np.ones(np.shape(x), bool) if lo is None else np.asarray(x) >= lo)
    & (True if hi is None else np.asarray(x) <= hi)), scalar=_clip_mask_scalar, scalar_args="common",
    scalar_kinds=_INT)

# ---- selection ---------------------------------------------------------------

maximum = _prim("maximum", np.maximum, saves=(0, 1), numpy_name="maximum", scalar=_maximum, scalar_kinds=_ANY)
minimum = _prim("minimum", np.minimum, saves=(0, 1), numpy_name="minimum", scalar=_minimum, scalar_kinds=_ANY)
where = _prim("where", np.where, saves=(0,), numpy_name="where", scalar=lambda m, c, x, y: m.select(c, x, y),
              scalar_args=("bool", "result", "result"), scalar_kinds=_ANY, linear=(1, 2))
# no numpy_name: np.clip calls its bounds min and max, not lo and hi
clip = _prim("clip", lambda x, lo=None, hi=None: np.clip(x, lo, hi),
             grad_fn=lambda a, p: "ClampBackward1", saves=(0,), scalar=_clip, scalar_kinds=_INT)

maximum.defvjp(lambda g, x, y, out: unbroadcast(mul(g, maximum_weight(x, y)), shape_of(x)),
               lambda g, x, y, out: unbroadcast(mul(g, maximum_weight(y, x)), shape_of(y)))
minimum.defvjp(lambda g, x, y, out: unbroadcast(mul(g, maximum_weight(y, x)), shape_of(x)),
               lambda g, x, y, out: unbroadcast(mul(g, maximum_weight(x, y)), shape_of(y)))
where.defvjp(None,
             lambda g, c, x, y, out: unbroadcast(where(c, g, 0.0), shape_of(x)),
             lambda g, c, x, y, out: unbroadcast(where(c, 0.0, g), shape_of(y)))
clip.defvjp(lambda g, x, out, lo=None, hi=None: where(clip_mask(x, lo=lo, hi=hi), g, 0.0))
