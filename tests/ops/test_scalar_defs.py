"""The table's scalar definitions on the Python namespace (ops/scalar.py) against the
NumPy forwards: for every elementwise primitive, on special values (inf, nan, signed
zeros, the largest and the smallest floats, negatives, integers), in float64, float32,
integers and bools, the namespace gives NumPy's answer — bitwise where NumPy is exact,
within 1e-15 (float64) or a few float32 ulps (float32) for the transcendental functions.

The Python namespace is the oracle of every backend's scalar code, so this is where its
agreement with NumPy is established."""
import functools
import inspect
import itertools
import math

import numpy as np
import pytest

from adcompiler import ops
from adcompiler.ops import Abstract
from adcompiler.ops.scalar import METHODS, PythonMath, python_math

from .samples import SAMPLES

inf, nan = math.inf, math.nan

FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.0, 3.0, -3.0, 7.0, 0.1, 1e-8, 100.0, -100.0,
          709.0, 710.0, -720.0, -745.0, 88.0, 89.0, -104.0, 1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324,
          2.2250738585072014e-308, 1e-310, 3.4028235e38, 1e-45, 1e-40, 2.0 ** 53 + 2, 1e22, inf, -inf, nan]
INTS = [0, 1, -1, 2, -2, 3, -3, 7, -7, 62, 63, 64, 100, 255, 2 ** 31 - 1, -2 ** 31, 2 ** 53 + 1, 2 ** 62,
        2 ** 63 - 1, -2 ** 63]
BOOLS = [False, True]
F64, F32, I64, I32, U8, B = (np.dtype(t) for t in ("float64", "float32", "int64", "int32", "uint8", "bool"))
DTYPES = (F64, F32, I64, I32, U8, B)
WEAK_F, WEAK_I = "weak float", "weak int"     # a Python scalar operand (NumPy 2's weak promotion)

# NumPy's own implementations differ from libm (and between float32 and float64) by an ulp or so
TRANSCENDENTAL = {"exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sigmoid", "pow", "sinh", "cosh",
                  "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "hypot"}
RTOL = {F64: 1e-15, F32: 2 * 2.0 ** -23}   # float32: two ulps (NumPy's float32 functions are within one)

# elementwise primitives without a scalar definition, with the reason
NO_SCALAR = {"polygamma": "no libm function computes it (the derivative of lgamma): the native tier refuses it"}


def _values(spec):
    if spec == WEAK_F:
        return FLOATS
    if spec == WEAK_I:
        return [v for v in INTS if abs(v) < 2 ** 31]
    if spec.kind == "f":
        with np.errstate(all="ignore"):
            return list(np.array(FLOATS).astype(spec))
    if spec.kind == "b":
        return list(np.array(BOOLS))
    return list(np.array([np.int64(v) if v < 2 ** 63 else v for v in INTS], dtype=np.int64).astype(spec))


def _abstract(spec):
    return 0.0 if spec == WEAK_F else 0 if spec == WEAK_I else Abstract((), spec)


def _operand(value, spec):
    """The argument the NumPy forward gets: a 1-element array, or a Python scalar for a weak
    operand. (Not a 0-d array: NumPy's power has a fast path for a broadcast exponent of 2,
    0.5 or -1 (x * x, sqrt(x), 1 / x) that differs from its array loop, C99's pow, at
    (-inf) ** 0.5 and (-0.0) ** 0.5; the namespace follows the array loop.)"""
    return value if spec in (WEAK_F, WEAK_I) else np.asarray([value], dtype=spec)


def _numpy_fast_path(name, vals, specs):
    """pow with a weak exponent of 0.5 at -inf or -0.0: NumPy's sqrt fast path (see _operand)."""
    if name != "pow" or specs[1] != WEAK_F or vals[1] != 0.5:
        return False
    x = float(vals[0])
    return x == 0.0 or math.isinf(x) or (specs[0] == F32 and float(np.float32(x)) == -inf)


def _convert(value, dtype):
    with np.errstate(all="ignore"):
        return np.asarray(value).astype(dtype).item()


def _same(got, want, dtype, rtol):
    if dtype.kind == "b":
        return isinstance(got, bool) and got == want
    if dtype.kind in "iu":
        return isinstance(got, int) and not isinstance(got, bool) and got == want
    if not isinstance(got, float):
        return False
    if math.isnan(want):
        return math.isnan(got)
    if rtol == 0 or math.isinf(want) or math.isinf(got):
        return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)
    tiny = np.finfo(dtype).smallest_subnormal
    return abs(got - want) <= rtol * abs(want) or abs(got - want) <= 2 * tiny


def _reference(prim, args, params):
    with np.errstate(all="ignore"):
        try:
            return np.asarray(prim.impl(*args, **params)), None
        except (ValueError, ZeroDivisionError, OverflowError, RuntimeError) as e:
            return None, type(e)


def _check(name, specs, tuples=None, params=None):
    """Every tuple of sample values (all combinations by default) of operand types `specs`:
    the scalar definition on the Python namespace gives the NumPy forward's answer.
    Returns the number of cases compared (0 if the definition does not hold for this
    compute dtype)."""
    prim = ops.get(name)
    params = params or {}
    try:
        st = prim.scalar_types([_abstract(s) for s in specs], params)
    except TypeError:
        return 0        # NumPy refuses these dtypes (-True, True - False)
    if st.compute.kind not in prim.scalar_kinds or st.compute == np.float16:
        return 0        # (cos of uint8 is float16 in NumPy: a dtype backends refuse)
    m = python_math(st.compute)
    rtol = RTOL.get(st.result, 0) if name in TRANSCENDENTAL else 0
    if tuples is None:
        tuples = list(itertools.product(*[_values(s) for s in specs]))
    bad = []
    for vals in tuples:
        want, error = _reference(prim, [_operand(v, s) for v, s in zip(vals, specs)], params)
        inputs = [_convert(v, d) for v, d in zip(vals, st.operands)]
        if error is not None:
            with pytest.raises(error):
                prim.scalar(m, *inputs, **params)
            continue
        assert want.dtype == st.result, (name, specs, want.dtype, st.result)
        got = prim.scalar(m, *inputs, **params)
        want = want.reshape(-1)[0]
        if not _same(got, want.item(), st.result, rtol) and not _numpy_fast_path(name, vals, specs):
            bad.append((vals, got, want.item()))
    assert not bad, f"{name}{tuple(map(str, specs))} {params or ''}: {len(bad)} differ, e.g. " + "; ".join(
        f"{v} -> {g!r}, NumPy {w!r}" for v, g, w in bad[:4])
    return len(tuples)


def _arity(prim, params=()):
    """How many operands the scalar definition takes (its parameters after `m` that are
    neither params nor defaulted)."""
    sig = list(inspect.signature(prim.scalar).parameters.values())[1:]
    return sum(1 for q in sig if q.name not in params and q.default is inspect.Parameter.empty)


def _scalar_prims(arity):
    return [name for name, p in sorted(ops.registry.items()) if p.scalar is not None
            and name not in ("where", "clip", "clip_mask", "astype") and _arity(p) == arity]


UNARY = _scalar_prims(1)
BINARY = _scalar_prims(2)
BINARY_SPECS = [(F64, F64), (F32, F32), (I64, I64), (I32, I32), (U8, U8), (B, B), (F32, WEAK_F), (WEAK_F, F32),
                (I64, F64), (F32, I64), (I64, WEAK_F), (I32, WEAK_I), (WEAK_F, WEAK_F)]


def test_unary_and_binary_lists_cover_every_scalar_definition():
    with_scalar = {n for n, p in ops.registry.items() if p.scalar is not None}
    assert with_scalar == set(UNARY) | set(BINARY) | {"where", "clip", "clip_mask", "astype"}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_definition_equals_numpy(name, dtype):
    _check(name, (dtype,))


@pytest.mark.parametrize("specs", BINARY_SPECS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("name", BINARY)
def test_binary_definition_equals_numpy(name, specs):
    _check(name, specs)


def test_every_scalar_definition_is_checked_on_floats_and_integers_where_it_holds():
    for name in UNARY + BINARY:
        prim = ops.get(name)
        arity = _arity(prim)
        assert _check(name, (F64,) * arity) > 0, name
        assert _check(name, (F32,) * arity) > 0, name
        if "i" in prim.scalar_kinds:
            assert _check(name, (I64,) * arity) > 0, name


SMALL = [0.0, -0.0, 1.0, -1.0, 2.5, 1e308, 5e-324, inf, -inf, nan]


@pytest.mark.parametrize("specs", [(B, F64, F64), (B, F32, WEAK_F), (B, I64, F64), (F64, F64, F64), (B, B, B),
                                   (B, I32, I32)], ids=lambda s: "-".join(map(str, s)))
def test_where_equals_numpy(specs):
    def vals(s):
        v = _values(s)
        return v if s in (B,) or s == WEAK_F or s.kind != "f" else [x for x in v if x.item() in SMALL or x != x]
    _check("where", specs, tuples=list(itertools.product(*[vals(s) for s in specs])))


BOUNDS_F = [None, 0.0, -0.0, 1.0, -1.0, nan, inf]
BOUNDS_I = [None, 0, 5, -3]


@pytest.mark.parametrize("name", ["clip", "clip_mask"])
@pytest.mark.parametrize("dtype,bounds", [(F64, BOUNDS_F), (F32, BOUNDS_F), (I64, BOUNDS_I), (I32, BOUNDS_I),
                                          (I64, [None, 0.5, -2.0]), (U8, [None, 0, 7])], ids=str)
def test_clip_equals_numpy(name, dtype, bounds):
    for lo, hi in itertools.product(bounds, repeat=2):
        if name == "clip" and lo is None and hi is None:
            continue   # np.clip needs a bound
        _check(name, (dtype,), params={"lo": lo, "hi": hi})


@pytest.mark.parametrize("src", DTYPES, ids=str)
@pytest.mark.parametrize("dst", DTYPES, ids=str)
def test_astype_equals_numpy(src, dst):
    prim = ops.get("astype")
    params = {"dtype": dst}
    st = prim.scalar_types([Abstract((), src)], params)
    assert st.operands == (src,) and st.compute == src and st.result == dst
    m = python_math(src)
    for v in _values(src):
        x = v.item()
        if src.kind == "f" and dst.kind in "iu":
            info = np.iinfo(dst)
            if not (math.isfinite(x) and info.min <= math.trunc(x) <= info.max):
                with pytest.raises(ValueError):     # undefined (platform-defined in NumPy)
                    prim.scalar(m, x, **params)
                continue
        want, _ = _reference(prim, [np.asarray(v)], params)
        assert _same(prim.scalar(m, x, **params), want.item(), dst, 0), (src, dst, x)


def test_int_to_float32_rounds_once():
    # 2**60 + 2**36 + 1 lies just above a tie between two float32 values: rounding through
    # float64 first would make it a tie and round to even (down)
    n = 2 ** 60 + 2 ** 36 + 1
    assert python_math(I64).cast(n, F32) == float(np.array(n, np.int64).astype(np.float32))
    assert python_math(I64).cast(n, F32) != float(np.float32(float(n)))


def test_scalar_types():
    def types(name, *args, **params):
        return ops.get(name).scalar_types(list(args), params)

    # a math function of an integer is computed in float64 (the result's dtype)
    assert types("exp", Abstract((), I64)) == ((F64,), F64, F64)
    # a comparison in the common type; a weak Python float does not widen float32 (NEP 50)
    assert types("lt", Abstract((), F32), 0.1) == ((F32, F32), F32, B)
    assert types("lt", Abstract((), I64), Abstract((), F64)) == ((F64, F64), F64, B)
    # true division of integers in float64
    assert types("div", Abstract((), I64), Abstract((), I64)) == ((F64, F64), F64, F64)
    # where: a boolean condition, the values in the result type
    assert types("where", Abstract((), F64), Abstract((), I64), 1.5) == ((B, F64, F64), F64, F64)
    assert types("logical_and", Abstract((), F64), Abstract((), I32)) == ((B, B), B, B)
    # the numeric params take part in the common type (clip_mask of ints against a float bound)
    assert types("clip_mask", Abstract((), I64), lo=0.5, hi=None) == ((F64,), F64, B)
    assert types("clip", Abstract((), F32), lo=0.0, hi=1.0) == ((F32,), F32, F32)
    assert types("astype", Abstract((), F32), dtype=I32) == ((F32,), F32, I32)
    with pytest.raises(TypeError, match="no scalar definition"):
        types("sum", Abstract((3,), F64))


def test_every_elementwise_primitive_has_a_scalar_definition():
    missing = sorted(n for n, p in ops.registry.items()
                     if p.kind == "elementwise" and p.scalar is None and n not in NO_SCALAR)
    assert not missing, f"give these a scalar definition (or list them in NO_SCALAR with the reason): {missing}"
    for name in NO_SCALAR:
        assert ops.get(name).kind == "elementwise" and ops.get(name).scalar is None, name


def test_scalar_definitions_only_use_the_protocol():
    """Run every definition on a namespace that records the methods called: each is one of
    METHODS, so a backend that provides those lowers every definition."""
    used = set()

    class Recording:
        def __init__(self, dtype):
            self.inner = PythonMath(dtype)

        def __getattr__(self, attr):
            used.add(attr)
            assert attr in METHODS, f"{attr} is not in the namespace protocol"
            return getattr(self.inner, attr)

    for name, p in ops.registry.items():
        if p.scalar is None:
            continue
        params = {"dtype": F32} if name == "astype" else {}
        variants = [params] if name not in ("clip", "clip_mask") else [
            {"lo": lo, "hi": hi} for lo, hi in itertools.product([None, 0.0], [None, 1.0])]
        for params in variants:
            st = p.scalar_types([Abstract((), F64)] * _arity(p, params), params)
            m = Recording(st.compute)
            args = [_convert(0.5, d) for d in st.operands]
            p.scalar(m, *args, **params)
    assert used <= set(METHODS)
    for method in METHODS:
        assert callable(getattr(PythonMath(F64), method)), method


def test_python_namespace_follows_numpy_where_python_raises():
    m = python_math(F64)
    assert m.div(1.0, 0.0) == inf and m.div(-1.0, 0.0) == -inf and m.div(1.0, -0.0) == -inf
    assert math.isnan(m.div(0.0, 0.0))
    assert math.isnan(m.sqrt(-1.0)) and m.log(0.0) == -inf and math.isnan(m.log(-1.0))
    assert m.exp(1000.0) == inf and math.isnan(m.sin(inf)) and m.log1p(-1.0) == -inf
    assert m.pow(0.0, -1.0) == inf and m.pow(-0.0, -1.0) == -inf and math.isnan(m.pow(-8.0, 1 / 3))
    assert m.pow(-10.0, 309.0) == -inf and m.pow(10.0, 309.0) == inf
    assert m.floor_divide(1.0, 0.0) == inf and math.isnan(m.remainder(1.0, 0.0))
    i = python_math(I64)
    assert i.floor_divide(7, 0) == 0 and i.remainder(7, 0) == 0
    assert i.floor_divide(-2 ** 63, -1) == -2 ** 63 and i.add(2 ** 63 - 1, 1) == -2 ** 63
    with pytest.raises(ValueError, match="negative integer powers"):
        i.pow(2, -1)
    f = python_math(F32)
    assert f.mul(3.4028235e38, 2.0) == inf and f.const(0.1) == float(np.float32(0.1))
    for unsupported in ("float16", "complex128"):
        with pytest.raises(NotImplementedError):
            PythonMath(unsupported)
    with pytest.raises(NotImplementedError):
        i.exp(1)


# ---- what a primitive is ---------------------------------------------------------------------

def test_every_primitive_has_a_kind():
    for name, p in ops.registry.items():
        assert p.kind in ops.KINDS, name
    with pytest.raises(ValueError, match="kind must be one of"):
        ops.Primitive("no_kind_given", np.negative)
    assert "no_kind_given" not in ops.registry


def test_may_alias_is_what_the_memory_analysis_needs():
    """The primitives whose result may share memory with argument 0."""
    assert {n for n, p in ops.registry.items() if p.may_alias} == {
        "getitem", "reshape", "transpose", "squeeze", "expand_dims", "broadcast_to", "sum_to"}
    assert all(p.may_alias for p in ops.registry.values() if p.kind == "view")


def _numpy_name_cases(name, prim):
    rng = np.random.default_rng(0)
    if name in SAMPLES:
        return SAMPLES[name](rng)
    if prim.kind == "elementwise":
        n = _arity(prim)
        if prim.scalar_args == "bool":
            return [(tuple(rng.standard_normal((2, 3)) > 0 for _ in range(n)), {})]
        return [(tuple(rng.standard_normal((2, 3)) for _ in range(n)), {}),
                (tuple(np.array([0.0, -0.0, inf, -inf, nan, 1.0]) for _ in range(n)), {})]
    return [((rng.standard_normal((2, 3)),), {}), ((rng.standard_normal((2, 3)),), {"axis": 1})]


@pytest.mark.parametrize("name", sorted(n for n, p in ops.registry.items() if p.numpy_name))
def test_numpy_name_computes_the_primitive(name):
    prim = ops.get(name)
    fn = functools.reduce(getattr, prim.numpy_name.split("."), np)    # (np.linalg.inv)
    for args, params in _numpy_name_cases(name, prim):
        with np.errstate(all="ignore"):
            want = np.asarray(prim.impl(*args, **params))
            got = np.asarray(fn(*args, **params))
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
