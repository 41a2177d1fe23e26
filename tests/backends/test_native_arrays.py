"""The native tier's arrays (backends/llvm/arrays.py) against the NumPy tier and the IR interpreter
(issue 10's test list): every elementwise primitive with a scalar definition on random arrays with
special values, in float64, float32, int64 and bool, with broadcasting, weak Python scalars, 0-d and
empty arrays, and non-contiguous inputs; the reductions; basic indexing and the views; scatter_add /
index_add / setitem over boxes and non-boxes; whole gradients (value_and_grad, jit="always") against
the NumPy tier and finite differences; fresh outputs and untouched inputs.

Kernels are built straight from IR (one kernel computes many primitives and returns a tuple: a
native compile costs tens of milliseconds, a call microseconds), then called on many inputs. Every
native call must run natively (`last_ok`): a call re-run on the NumPy tier would compare NumPy with
itself."""
import math

import numpy as np
import pytest

import adcompiler as ad
from adcompiler import ops
from adcompiler.backends import llvm as native
from adcompiler.backends import python as python_backend
from adcompiler.compiler import UnsupportedSyntax
from adcompiler.compiler.builder import Builder
from adcompiler.compiler.interpret import interpret
from adcompiler.compiler.ir import Block, Function, Value, verify
from adcompiler.compiler.types import type_of_value
from adcompiler.ops import Abstract
from adcompiler.ops.indexing import Dyn

from ..ops.test_scalar_defs import BINARY, TRANSCENDENTAL, UNARY


@pytest.fixture(autouse=True)
def _libm_ops_lower_at_any_size(monkeypatch):
    """These tests check the native values of every primitive: a large array op with a libm call per
    element (which the native tier leaves to NumPy's faster vectorised loops) lowers here too."""
    from adcompiler.backends.llvm import arrays
    monkeypatch.setattr(arrays, "LIBM_ELEMENTS", 10 ** 12)

inf, nan = math.inf, math.nan
F64, F32, I64, B = (np.dtype(t) for t in ("float64", "float32", "int64", "bool"))
# NumPy's own (SIMD) implementations may differ from libm in the last ulp
INEXACT = set(TRANSCENDENTAL) | {"erf", "erfc", "gamma", "lgamma", "sigmoid", "rsqrt", "arctan2", "hypot"}
RTOL = {F64: 1e-13, F32: 2e-6}
N_CALLS = 6          # input sets per kernel (calls are cheap, compiles are not)


# ---- kernels built from IR --------------------------------------------------------------------

class Kernel:
    """An IR function built by `body(b, *params)` on sample arguments, compiled by both tiers."""

    def __init__(self, samples, body):
        self.params = [Value(type_of_value(a), f"a{k}") for k, a in enumerate(samples)]
        block = Block()
        with Builder(block) as b:
            r = body(b, *self.params)
            self.is_tuple = isinstance(r, (list, tuple))
            b.return_(b.tuple(list(r)) if self.is_tuple else r)
        self.fn = Function("k", self.params, block)
        verify(self.fn)
        self.py = python_backend.compile_function(self.fn)
        self.nat = native.compile(self.fn, self.py)
        self.allow_fallback = False

    def run(self, *args):
        """(native, NumPy tier, interpreter) results as tuples; the native call must run natively."""
        with np.errstate(all="ignore"):
            got = self.nat(*args)
            assert self.nat.last_ok or self.allow_fallback, "the native call re-ran on the NumPy tier"
            want = self.py(*args)
            ref = interpret(self.fn, *args)
        if not self.is_tuple:
            got, want, ref = (got,), (want,), (ref,)
        return got, want, ref


def _nonnan_equal(got, want):
    """Equal values, equal signs of zeros, nans at the same places (any nan payload)."""
    gn, wn = np.isnan(got), np.isnan(want)
    if not np.array_equal(gn, wn):
        return False
    g, w = got[~gn], want[~wn]
    return bool(np.all(g == w) and np.all(np.signbit(g) == np.signbit(w)))


def _close(got, want, rtol):
    gn, wn = np.isnan(got), np.isnan(want)
    if not np.array_equal(gn, wn):
        return False
    g, w = got[~gn].astype(np.float64), want[~wn].astype(np.float64)
    fin = np.isfinite(w)
    if not np.array_equal(g[~fin], w[~fin]):
        return False
    tiny = np.finfo(got.dtype).smallest_normal
    return bool(np.all(np.abs(g[fin] - w[fin]) <= rtol * np.abs(w[fin]) + 4 * tiny * rtol))


def assert_same(got, want, what, rtol=0.0):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, NumPy {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, NumPy {want.shape}"
    if got.dtype.kind != "f":
        ok = np.array_equal(got, want)
    elif rtol == 0:
        ok = _nonnan_equal(got, want)
    else:
        ok = _close(got, want, rtol)
    if not ok:
        bad = np.argwhere(~((got == want) | (np.isnan(got) & np.isnan(want)) if got.dtype.kind == "f" else
                            got == want))[:4] if got.shape else []
        detail = "; ".join(f"{tuple(k)}: {got[tuple(k)]!r} vs {want[tuple(k)]!r}" for k in bad) or f"{got!r} vs {want!r}"
        raise AssertionError(f"{what}: native differs from NumPy: {detail}")


def check_all(kernel, names, args, rtols=None):
    got, want, ref = kernel.run(*args)
    assert len(got) == len(names)
    for k, name in enumerate(names):
        rtol = (rtols or {}).get(name, 0.0)
        assert_same(got[k], want[k], f"{name} on {_describe(args)}", rtol)
        assert_same(ref[k], want[k], f"{name} (interpreter) on {_describe(args)}", rtol)
    return got


def _describe(args):
    return ", ".join(f"{a.dtype}{list(a.shape)}" if isinstance(a, np.ndarray) else repr(a) for a in args)


# ---- inputs -------------------------------------------------------------------------------------

SPECIAL = {
    F64: [0.0, -0.0, inf, -inf, nan, 1e300, -1e300, 1e-310, -5e-324, 2.2250738585072014e-308, 1.0, -1.0, 0.5,
          710.0, -745.5, 1e22],
    F32: [0.0, -0.0, inf, -inf, nan, 3e38, -3e38, 1e-40, -1e-45, 1.1754944e-38, 1.0, -1.0, 0.5, 89.0, -104.0,
          1e15],
    I64: [0, 0, 1, -1, 2, -2, 2 ** 62, -2 ** 63, 2 ** 63 - 1, 7, -7, 100],
}


def random_array(rng, shape, dtype, special=0.5):
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == B:
        return rng.random(shape) < 0.5
    if dtype == I64:
        out = rng.integers(-9, 10, n)
    else:
        out = (rng.standard_normal(n) * np.exp(rng.uniform(-3, 3, n))).astype(dtype)
    pick = rng.random(n) < special
    with np.errstate(all="ignore"):
        out[pick] = np.array(SPECIAL[dtype], dtype=object if dtype == I64 else dtype)[
            rng.integers(0, len(SPECIAL[dtype]), pick.sum())].astype(dtype)
    return out.reshape(shape).astype(dtype)


def all_specials(dtype, shape=(3, 4), arity=1):
    """Arrays of `shape` holding every special value (arity 1) or every pair of them (arity 2, as
    two lists of arrays), in as many arrays as that takes."""
    vals = np.array(SPECIAL[dtype] if dtype != B else [False, True], dtype=dtype if dtype != I64 else np.int64)
    n = int(np.prod(shape))
    if arity == 1:
        cols = [vals]
    else:
        cols = [np.repeat(vals, len(vals)), np.tile(vals, len(vals))]
    out = []
    for col in cols:
        k = -(-len(col) // n) * n
        padded = np.resize(col, k)                   # repeats from the start to fill the last array
        out.append([padded[j:j + n].reshape(shape) for j in range(0, k, n)])
    return out[0] if arity == 1 else out


def non_contiguous(a):
    """Views of `a`'s values: every other column of a wider array, and a transposed (F-ordered) array."""
    if a.ndim == 0:
        return []
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    wide[..., ::2] = a
    views = [wide[..., ::2]]
    if a.ndim >= 2:
        views.append(np.ascontiguousarray(a.T).T)
    views.append(a[::-1][::-1])
    for v in views:
        assert np.array_equal(v, a, equal_nan=True)
    return views


def check_views_give_the_same(kernel, args):
    """Each array argument passed as non-contiguous views: the same results, bit for bit, and
    the views' memory unchanged."""
    with np.errstate(all="ignore"):
        base = kernel.nat(*args)
    base = base if kernel.is_tuple else (base,)
    for k, a in enumerate(args):
        if not isinstance(a, np.ndarray):
            continue
        for v in non_contiguous(a):
            before = np.array(v, copy=True)
            again = list(args)
            again[k] = v
            with np.errstate(all="ignore"):
                got = kernel.nat(*again)
            assert kernel.nat.last_ok or kernel.allow_fallback
            got = got if kernel.is_tuple else (got,)
            for g, w in zip(got, base):
                assert_same(g, w, f"argument {k} as a view {v.strides}")
            assert _nonnan_equal(v, before) if v.dtype.kind == "f" else np.array_equal(v, before)


def _weak(spec):
    return spec if not isinstance(spec, np.dtype) else None


def lowers(name, operand_specs, params=None):
    """Whether the native tier lowers `name` on these operands (what arrays.py's elementwise checks:
    a compute dtype in the primitive's scalar_kinds), False where NumPy refuses the dtypes."""
    prim = ops.get(name)
    try:
        st = prim.scalar_types([Abstract((), s) if isinstance(s, np.dtype) else s for s in operand_specs],
                               params or {})
    except TypeError:
        return False
    return st.compute.kind in prim.scalar_kinds and st.compute.name in ("float64", "float32", "int64", "bool")


# ---- 1. elementwise primitives -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [F64, F32, I64, B], ids=str)
def test_every_unary_primitive(dtype):
    # lgamma on its own: the NumPy tier raises at -inf (test_lgamma_of_minus_infinity)
    names = [n for n in UNARY if lowers(n, [dtype]) and n != "lgamma"]
    assert len(names) >= {F64: 36, F32: 36, I64: 19, B: 5}[dtype], names
    rng = np.random.default_rng(1)
    x = random_array(rng, (3, 4), dtype)
    k = Kernel([x], lambda b, a: [b.prim(n, a) for n in names])
    rtols = {n: RTOL.get(dtype, RTOL[F64]) for n in names if n in INEXACT}
    for x in all_specials(dtype) + [random_array(rng, (3, 4), dtype) for _ in range(N_CALLS)]:
        check_all(k, names, [x], rtols)
    check_views_give_the_same(k, [x])
    # what is not lowered says so
    for n in UNARY:
        if not lowers(n, [dtype]) and n != "polygamma":
            try:
                Kernel([x], lambda b, a, n=n: b.prim(n, a))
            except (native.NotLowerable, UnsupportedSyntax):     # (NumPy refuses the dtype: no IR)
                continue
            raise AssertionError(f"{n} on {dtype} lowered although its scalar_kinds exclude it")


@pytest.mark.parametrize("dtype", [F64, F32, I64], ids=str)
def test_lgamma(dtype):
    rng = np.random.default_rng(21)
    x = random_array(rng, (3, 4), dtype)
    k = Kernel([x], lambda b, a: b.prim("lgamma", a))
    for x in all_specials(dtype) + [random_array(rng, (3, 4), dtype) for _ in range(N_CALLS)]:
        if dtype != I64:
            x[x == -inf] = nan
        check_all(k, ["lgamma"], [x], {"lgamma": RTOL.get(dtype, RTOL[F64])})


@pytest.mark.parametrize("dtype", [F64, F32], ids=str)
def test_lgamma_of_minus_infinity(dtype):
    x = np.array([-inf, -3e38, 1.0], dtype)          # (-3e38: finite in float32 and float64)
    k = Kernel([x], lambda b, a: b.prim("lgamma", a))
    assert k.nat(x).tolist() == [inf, inf, 0.0]
    assert k.py(x).tolist() == [inf, inf, 0.0]


def _binary_cases(dtype):
    """(name, shapes of the two operands, weak): broadcasting, a weak Python scalar, a 0-d array."""
    return [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((4,), ()), ((), (3, 4)), ((3, 4), "weak"),
            ("weak", (3, 4))]


def _operand(rng, shape, dtype):
    if shape == "weak":
        if dtype == I64:
            return int(rng.integers(-5, 6))
        return float(rng.choice([0.0, -0.0, 1.5, -2.0, inf, nan, 1e-300, 3.0, 0.5]))
    return random_array(rng, shape, dtype) if shape else np.asarray(random_array(rng, (1,), dtype)[0])


def _spec(shape, dtype):
    if shape == "weak":
        return 0 if dtype == I64 else 0.0
    return dtype


@pytest.mark.parametrize("dtype", [F64, F32, I64, B], ids=str)
@pytest.mark.parametrize("shapes", _binary_cases(None), ids=lambda s: f"{s[0]}-{s[1]}".replace(" ", ""))
def test_every_binary_primitive(dtype, shapes):
    if dtype == B and "weak" in shapes:
        pytest.skip("a weak float with bools: covered by the mixed dtypes test")
    specs = [_spec(s, dtype) for s in shapes]
    # integer powers with a negative exponent raise (tested below): pow of ints on its own
    names = [n for n in BINARY if lowers(n, specs) and not (n == "pow" and dtype == I64)]
    assert len(names) >= {F64: 22, F32: 22, I64: 14, B: 9}[dtype], names
    rng = np.random.default_rng(2)
    args = [_operand(rng, s, dtype) for s in shapes]
    k = Kernel(args, lambda b, x, y: [b.prim(n, x, y) for n in names])
    k.allow_fallback = dtype == B and () in shapes        # see test_a_zero_d_bool_argument_runs_natively
    rtols = {n: RTOL[dtype] if dtype in RTOL else RTOL[F64] for n in names if n in INEXACT}
    if shapes == ((3, 4), (3, 4)):                        # every pair of special values
        for x, y in zip(*all_specials(dtype, arity=2)):
            check_all(k, names, [x, y], rtols)
    for _ in range(N_CALLS):
        args = [_operand(rng, s, dtype) for s in shapes]
        check_all(k, names, args, rtols)
    check_views_give_the_same(k, args)


@pytest.mark.parametrize("dtypes", [(I64, F64), (F32, I64), (B, F64), (F32, F64), (F32, "weak"), (B, "weak"),
                                    (I64, "weak")], ids=str)
def test_binary_primitives_on_mixed_dtypes(dtypes):
    rng = np.random.default_rng(3)

    def make():
        return [random_array(rng, (3, 4), dtypes[0]),
                (float(rng.choice([0.5, 0.25, -0.0, inf, nan, 2.0, -1.0])) if dtypes[1] == "weak" else
                 random_array(rng, (4,), dtypes[1]))]
    specs = [dtypes[0], 0.0 if dtypes[1] == "weak" else dtypes[1]]
    names = [n for n in BINARY if lowers(n, specs) and not (n == "pow" and dtypes == (I64, "weak"))]
    k = Kernel(make(), lambda b, x, y: [b.prim(n, x, y) for n in names])
    abstract = [Abstract((), s) if isinstance(s, np.dtype) else s for s in specs]
    rtols = {n: RTOL[np.dtype(ops.get(n).scalar_types(abstract, {}).result)] if n in INEXACT else 0.0 for n in names}
    for _ in range(N_CALLS):
        check_all(k, names, make(), rtols)
    if dtypes[1] != "weak":              # every pair of special values
        va, vb = (all_specials(d, (len(SPECIAL.get(d, [0, 1])),))[0].ravel() for d in dtypes)
        x, y = np.repeat(va, len(vb)), np.tile(vb, len(va))
        k = Kernel([x, y], lambda b, x, y: [b.prim(n, x, y) for n in names])
        check_all(k, names, [x, y], rtols)


def test_integer_pow_is_not_lowered_and_the_numpy_tier_keeps_its_error():
    x, e = np.arange(12).reshape(3, 4), np.arange(12).reshape(3, 4) % 4
    with pytest.raises(native.NotLowerable, match="integer power is not lowered"):
        Kernel([x, e], lambda b, x, e: b.prim("pow", x, e))
    k = Kernel([x.astype(F64), e], lambda b, x, e: b.prim("pow", x, e))     # a float base: lowered
    check_all(k, ["pow"], [x.astype(F64), e])
    check_all(k, ["pow"], [-x.astype(F64), -e])


def test_integer_division_edge_cases():
    # (-2**63 // -1 and -2**63 % -1: see test_int64_min_divided_by_minus_one_does_not_crash)
    x = np.array([7, -7, 7, -7, 0, -2 ** 63, -2 ** 63, 2 ** 63 - 1, 5, -5, 1, 0], np.int64).reshape(3, 4)
    y = np.array([2, 2, -2, -2, 0, 2, 1, -1, 0, 0, 2 ** 63 - 1, -2 ** 63], np.int64).reshape(3, 4)
    names = ["floor_divide", "remainder", "div", "mul", "add", "sub", "abs", "neg", "sign"]
    k = Kernel([x, y], lambda b, x, y: [b.prim(n, x, y) if ops.get(n).scalar.__code__.co_argcount > 2 else
                                        b.prim(n, x) for n in names])
    check_all(k, names, [x, y])
    check_all(k, names, [y, x])


def test_where_clip_astype():
    rng = np.random.default_rng(5)
    bounds = [(0.0, 1.0), (-0.5, None), (None, 0.25), (nan, 1.0), (-inf, inf), (1.0, 0.0)]

    def body(b, c, x, y, f, i, v):
        out = [b.prim("where", c, x, y), b.prim("where", c, x, 0.5), b.prim("where", b.prim("gt", x, 0.0), y, x),
               b.prim("where", c, f, x), b.prim("where", c, i, 2), b.prim("where", c, i, x), b.prim("where", v, x, y)]
        out += [b.prim("clip", x, lo=lo, hi=hi) for lo, hi in bounds]
        out += [b.prim("clip", f, lo=lo, hi=hi) for lo, hi in bounds]
        out += [b.prim("clip", i, lo=lo, hi=hi) for lo, hi in [(0, 5), (-3, None), (None, 2)]]
        out += [b.prim("astype", a, dtype=d) for a in (x, f) for d in (F64, F32, B)]
        out += [b.prim("astype", a, dtype=d) for a in (i, c) for d in (F64, F32, I64, B)]
        return out
    names = ["where"] * 7 + ["clip"] * 15 + ["astype"] * 14

    def make():
        return [rng.random((3, 4)) < 0.5, random_array(rng, (3, 4), F64), random_array(rng, (4,), F64),
                random_array(rng, (3, 1), F32), random_array(rng, (3, 4), I64), rng.random((4,)) < 0.5]
    k = Kernel(make(), body)
    for _ in range(N_CALLS):
        args = make()
        check_all(k, names, args)
    check_views_give_the_same(k, args)
    # float -> int64 where NumPy defines it (finite, in range)
    x = rng.uniform(-1e6, 1e6, (3, 4))
    x[0, :4] = [-0.0, 0.9, -0.9, 2.0 ** 62]
    k = Kernel([x, x.astype(F32)], lambda b, x, f: [b.prim("astype", x, dtype=I64), b.prim("astype", f, dtype=I64)])
    check_all(k, ["astype"] * 2, [x, x.astype(F32)])


@pytest.mark.parametrize("dtype", [F64, F32], ids=str)
def test_zero_d_and_empty_arrays(dtype):
    rng = np.random.default_rng(6)
    un = [n for n in UNARY if lowers(n, [dtype])]
    bi = [n for n in BINARY if lowers(n, [dtype, dtype])]
    rtols = {n: RTOL[dtype] for n in INEXACT}
    for shapes in [((), ()), ((0,), (0,)), ((2, 0), (0,)), ((2, 0), ()), ((1, 0), (3, 1))]:
        args = [np.asarray(random_array(rng, s or (1,), dtype).reshape(s)) for s in shapes]
        k = Kernel(args, lambda b, x, y: [b.prim(n, x) for n in un] + [b.prim(n, x, y) for n in bi])
        for _ in range(2 if shapes[0] else N_CALLS):
            args = [np.asarray(random_array(rng, s or (1,), dtype).reshape(s)) for s in shapes]
            check_all(k, un + bi, args, rtols)


def test_a_zero_d_bool_argument_runs_natively():
    k = Kernel([np.array(True)], lambda b, x: b.prim("logical_not", x))
    assert k.nat(np.array(True)) == np.False_
    assert k.nat.last_ok


def test_a_fused_chain_equals_the_numpy_tier():
    """One loop for a long elementwise chain with broadcasting and values used twice."""
    rng = np.random.default_rng(7)

    def body(b, x, y, s):
        t = b.prim("mul", b.prim("sub", x, y), s)
        u = b.prim("exp", b.prim("neg", b.prim("abs", t)))
        v = b.prim("log1p", u)
        w = b.prim("add", b.prim("maximum", t, 0.0), v)          # softplus(t)
        z = b.prim("where", b.prim("gt", t, 0.0), b.prim("sqrt", b.prim("abs", t)), b.prim("tanh", t))
        return [w, z, b.prim("mul", w, z), b.prim("div", w, b.prim("add", b.prim("mul", z, z), 1.0))]
    for dtype in (F64, F32):
        args = [random_array(rng, (3, 4), dtype, 0.2), random_array(rng, (4,), dtype, 0.2), 1.5]
        k = Kernel(args, body)
        for _ in range(N_CALLS):
            args = [random_array(rng, (3, 4), dtype, 0.2), random_array(rng, (4,), dtype, 0.2),
                    float(rng.standard_normal())]
            check_all(k, ["w", "z", "wz", "ratio"], args, dict.fromkeys(["w", "z", "wz", "ratio"], RTOL[dtype]))
        check_views_give_the_same(k, args)


# ---- 2. reductions ---------------------------------------------------------------------------------

REDUCTIONS = ["sum", "mean", "prod", "amax", "amin"]
AXES = [None, 0, 1, -1, (0, 1)]


def _reduction_ok(name, got, want, x, axis, keepdims):
    """amax/amin exactly (zeros of either sign); sum/mean/prod to the rounding of a different order
    (NumPy sums pairwise), nans at the same places."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (name, axis, keepdims, got, want)
    if name in ("amax", "amin"):
        np.testing.assert_array_equal(got, want, err_msg=f"{name} axis={axis} keepdims={keepdims}")
        return
    eps = np.finfo(x.dtype).eps
    n = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    with np.errstate(all="ignore"):
        if name == "prod":
            scale = np.abs(want) * (n + 1) * eps
        else:
            scale = np.sum(np.abs(x.astype(np.float64)), axis=axis, keepdims=keepdims) * (n + 1) * eps
            scale = scale / n if name == "mean" else scale
    assert np.array_equal(np.isnan(got), np.isnan(want)), (name, axis, keepdims, got, want)
    fin = np.isfinite(want)
    assert np.array_equal(got[~fin], want[~fin], equal_nan=True), (name, axis, keepdims, got, want)
    assert np.all(np.abs(got[fin].astype(np.float64) - want[fin]) <= scale[fin]), (name, axis, keepdims, got, want)


@pytest.mark.parametrize("dtype", [F64, F32], ids=str)
def test_reductions(dtype):
    rng = np.random.default_rng(8)
    cases = [(n, a, kd) for n in REDUCTIONS for a in AXES for kd in (False, True)]
    x = random_array(rng, (3, 4), dtype, 0.0)

    def body(b, x, y):
        out = [b.prim(n, x, axis=a, keepdims=kd) for n, a, kd in cases]
        xy = b.prim("mul", x, y)                     # a reduction of a fused Gen, of a transposed one
        xt = b.prim("transpose", xy, axes=(1, 0))
        out += [b.prim(n, xy, axis=a, keepdims=kd) for n, a, kd in cases]
        out += [b.prim(n, xt, axis=a, keepdims=kd) for n, a, kd in cases]
        return out
    k = Kernel([x, x[0]], body)
    for special in (0.0, 0.0, 0.3, 0.6):
        x, y = random_array(rng, (3, 4), dtype, special), random_array(rng, (4,), dtype, special)
        with np.errstate(all="ignore"):
            got = k.nat(x, y)
            assert k.nat.last_ok
            want = k.py(x, y)
            ref = interpret(k.fn, x, y)
            xy = x * y
        for j, (n, a, kd) in enumerate(cases * 3):
            src = (x, xy, xy.T)[j // len(cases)]
            _reduction_ok(n, got[j], want[j], src, a, kd)
            _reduction_ok(n, ref[j], want[j], src, a, kd)
    check_views_give_the_same(k, [x, y])


def test_sum_to():
    rng = np.random.default_rng(9)
    targets = [(4,), (1, 4), (3, 1), (1, 1), (), (3, 4)]
    x = random_array(rng, (3, 4), F64, 0.0)
    x3 = random_array(rng, (2, 3, 4), F32, 0.0)
    t3 = [(3, 4), (3, 1), (1, 4), (4,), (2, 1, 1), (2, 3, 1), ()]
    k = Kernel([x, x3], lambda b, x, x3: [b.prim("sum_to", x, shape=t) for t in targets] +
               [b.prim("sum_to", x3, shape=t) for t in t3] +
               [b.prim("sum_to", b.prim("exp", x3), shape=t) for t in t3])
    for _ in range(N_CALLS):
        x = random_array(rng, (3, 4), F64, 0.0)
        x3 = random_array(rng, (2, 3, 4), F32, 0.0)
        got, want, ref = k.run(x, x3)
        for g, w, r in zip(got, want, ref):
            np.testing.assert_allclose(g, w, rtol=1e-5 if np.asarray(w).dtype == F32 else 1e-14)
            assert np.asarray(g).dtype == np.asarray(w).dtype and np.shape(g) == np.shape(w)
            np.testing.assert_allclose(r, w, rtol=1e-5 if np.asarray(w).dtype == F32 else 1e-14)


def test_reductions_of_empty_arrays():
    e1, e2 = np.zeros((0,)), np.zeros((2, 0))
    cases = [("sum", None), ("sum", 0), ("prod", None), ("mean", None), ("sum", (0, 1)), ("prod", 1),
             ("mean", 1), ("sum", 0), ("amax", 0), ("amin", 0)]

    def body(b, x, y):
        return ([b.prim(n, x, axis=a, keepdims=False) for n, a in cases[:4]] +
                [b.prim(n, y, axis=a, keepdims=kd) for n, a in cases[4:] for kd in (False, True)] +
                [b.prim("sum_to", x, shape=()), b.prim("sum_to", y, shape=(0,)), b.prim("sum_to", y, shape=(1, 0)),
                 b.prim("sum_to", y, shape=(2, 0))])
    k = Kernel([e1, e2], body)
    with np.errstate(all="ignore"):
        got, want = k.nat(e1, e2), k.py(e1, e2)
    assert k.nat.last_ok
    for g, w in zip(got, want):
        assert_same(g, w, "a reduction of an empty array")
    assert got[0] == 0.0 and got[2] == 1.0 and math.isnan(got[3])
    # amax/amin of an empty array raise in NumPy: the native tier refuses to lower them (NotLowerable)
    for name, x, axis in [("amax", e1, None), ("amin", e1, 0), ("amax", e2, 1), ("amin", e2, None)]:
        with pytest.raises(native.NotLowerable, match="of an empty array raises"):
            Kernel([x], lambda b, x, name=name, axis=axis: b.prim(name, x, axis=axis, keepdims=False))
        with pytest.raises(ValueError, match="zero-size array"):      # as the NumPy tier does
            python_backend.compile_function(_one_prim(x, name, axis))(x)


def _one_prim(x, name, axis):
    p = Value(type_of_value(x), "a0")
    block = Block()
    with Builder(block) as b:
        b.return_(b.prim(name, p, axis=axis, keepdims=False))
    fn = Function("k", [p], block)
    verify(fn)
    return fn


def test_integer_reductions_and_other_dtypes_are_not_lowered():
    x = np.arange(12).reshape(3, 4)
    with pytest.raises(native.NotLowerable, match="int64 array is not lowered"):
        Kernel([x], lambda b, x: b.prim("sum", x, axis=0, keepdims=False))
    for dtype in ("int32", "uint8", "float16"):
        with pytest.raises(native.NotLowerable, match=f"arrays of {dtype} are not lowered"):
            Kernel([np.zeros(3, dtype)], lambda b, x: b.prim("add", x, x))


# ---- 3. views and indexing ------------------------------------------------------------------------

INDICES = [2, -1, (1, -2), (slice(None), 3), (slice(None, None, -1),), (slice(4, 0, -2), slice(None, None, 3)),
           (slice(1, None, 2), Ellipsis, slice(None, 2)), (None, 1), (Ellipsis, None, -3), (slice(None), None, 2),
           (-4, -5, -6), (Ellipsis,), (slice(10, 20),), (0, slice(None, None, -1), None, slice(-1, -7, -2)),
           (slice(-2, None), 0, slice(1, 2)), (slice(3, 1),), (1, 2, 3)]


def test_getitem_views_of_memory_and_of_generators():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((4, 5, 6))

    def body(b, x):
        g = b.prim("mul", x, 2.0)                        # a generator: indexed without memory
        return [b.prim("getitem", x, idx=i) for i in INDICES] + [b.prim("getitem", g, idx=i) for i in INDICES]
    k = Kernel([x], body)
    for _ in range(3):
        x = rng.standard_normal((4, 5, 6))
        got, want, ref = k.run(x)
        for j, (g, w, r) in enumerate(zip(got, want, ref)):
            assert_same(g, w, f"x[{INDICES[j % len(INDICES)]}]")
            assert_same(r, w, "interpreter")
            assert_same(w, (x if j < len(INDICES) else x * 2.0)[INDICES[j % len(INDICES)]], "NumPy")
    check_views_give_the_same(k, [x])


def test_shape_views():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 4))

    def body(b, x, v):
        g = b.prim("add", x, 1.0)
        t = b.prim("transpose", x, axes=(2, 0, 1))
        out = []
        for a in (x, g, t):
            out += [b.prim("transpose", a, axes=(1, 2, 0)), b.prim("transpose", a, axes=(2, 1, 0)),
                    b.prim("reshape", a, shape=(6, 4)), b.prim("reshape", a, shape=(24,)),
                    b.prim("reshape", a, shape=(4, -1)), b.prim("expand_dims", a, axis=1),
                    b.prim("expand_dims", a, axis=-1), b.prim("sum", b.prim("reshape", a, shape=(3, 8)), axis=0,
                                                              keepdims=False)]
        out += [b.prim("squeeze", b.prim("expand_dims", x, axis=0), axis=0),
                b.prim("squeeze", b.prim("getitem", x, idx=(slice(None), slice(0, 1))), axis=1),
                b.prim("squeeze", b.prim("getitem", g, idx=(slice(1, 2), None))),
                b.prim("broadcast_to", v, shape=(2, 3, 4)), b.prim("broadcast_to", v, shape=(5, 4)),
                b.prim("add", b.prim("broadcast_to", b.prim("getitem", v, idx=(None, slice(None))), shape=(3, 4)), x),
                b.prim("reshape", b.prim("getitem", t, idx=(slice(None), 1)), shape=(12,)),
                b.prim("reshape", b.prim("getitem", x, idx=1), shape=(12,)),
                b.prim("reshape", b.prim("exp", v), shape=(2, 2)),
                b.prim("reshape", b.prim("getitem", x, idx=(Ellipsis, slice(None, None, -1))), shape=(6, 4))]
        return out
    v = rng.standard_normal(4)
    k = Kernel([x, v], body)
    got, want, ref = k.run(x, v)
    for j, (g, w, r) in enumerate(zip(got, want, ref)):
        assert_same(g, w, f"shape output {j}", 1e-15)
        assert_same(r, w, "interpreter", 1e-15)
    check_views_give_the_same(k, [x, v])


def test_run_time_integer_indices_and_out_of_range():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 5))

    def body(b, x, i, j):
        g = b.prim("sin", x)
        return [b.prim("getitem", x, i, idx=(Dyn(0),)), b.prim("getitem", x, i, idx=(slice(None), Dyn(0))),
                b.prim("getitem", x, i, j, idx=(Dyn(0), Dyn(1))), b.prim("getitem", g, j, idx=(slice(1, None), Dyn(0))),
                b.prim("getitem", x, j, i, idx=(slice(None, None, -1), Dyn(1), None))]
    k = Kernel([x, 1, 2], body)
    for i, j in [(0, 0), (3, 4), (-1, -2), (-4, -5), (2, -3)]:
        got, want, ref = k.run(x, i, j)
        for n, (g, w, r) in enumerate(zip(got, want, ref)):
            assert_same(g, w, f"output {n} at i={i}, j={j}", 1e-15)
            assert_same(r, w, "interpreter", 1e-15)
    for i, j in [(4, 0), (-5, 0), (0, 5), (2, -6), (10 ** 6, 0)]:
        with pytest.raises(IndexError, match="out of bounds"):
            k.nat(x, i, j)
        assert not k.nat.last_ok                    # the native code reported it; NumPy raised
    k.nat(x, 1, 1)
    assert k.nat.last_ok
    # run-time indices into pull-form values (index_add / setitem over boxes, not computed yet)
    A = rng.standard_normal((4, 5))

    def pulled(b, A, i):
        p = b.prim("index_add", A, 1.0, idx=(slice(1, 3), slice(2, None)))
        q = b.prim("setitem", A, 0.0, idx=(slice(None), 0))
        return [b.prim("getitem", p, i, idx=(Dyn(0),)), b.prim("getitem", p, i, idx=(slice(None), Dyn(0))),
                b.prim("getitem", q, i, i, idx=(Dyn(0), Dyn(1))), b.prim("transpose", p, axes=(1, 0)),
                b.prim("mul", b.prim("getitem", p, i, idx=(Dyn(0), None)), b.prim("getitem", q, idx=(slice(None), None, 1)))]
    k = Kernel([A, 1], pulled)
    for i in range(-4, 4):
        got, want, ref = k.run(A, i)
        for n, (g, w, r) in enumerate(zip(got, want, ref)):
            assert_same(g, w, f"pulled output {n} at i={i}")
            assert_same(r, w, "interpreter")
    with pytest.raises(IndexError):
        k.nat(A, 4)


def gather_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i] * x[i - 1]
    return s


def test_run_time_index_in_a_real_function():
    x = np.linspace(-1.0, 2.0, 7)
    g = ad.value_and_grad(gather_loop, jit="always")
    want = ad.value_and_grad(gather_loop, jit="never")(x, 7)
    got = g(x, 7)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    with pytest.raises(IndexError):
        g(x, 9)
    if g.tier != "native":
        assert "native refused" in g.explain() and "internally" not in g.explain()


# ---- 4. scatter_add / index_add / setitem ------------------------------------------------------------

BOXES_1D = [(slice(1, None),), (slice(None, -1),), (slice(2, 5),), 3, -1]
NON_BOXES_1D = [(slice(None, None, 2),), (slice(None, None, -1),), (slice(5, 0, -2),)]
BOXES_2D = [(slice(None), 0), (slice(1, 3), slice(2, None)), (1,), (slice(None), slice(None)), (-1, -1),
            (slice(0, 1), slice(1, 3))]
NON_BOXES_2D = [(slice(None, None, 2), 1), (None, 1), (slice(None), slice(None, None, -2))]


def test_scatter_add_index_add_setitem():
    rng = np.random.default_rng(13)
    x, A = rng.standard_normal(7), rng.standard_normal((4, 5))

    def body(b, x, A):
        out = []
        for base, idxs in ((x, BOXES_1D + NON_BOXES_1D), (A, BOXES_2D + NON_BOXES_2D)):
            shape = tuple(base.type.shape)
            for idx in idxs:
                v = b.prim("exp", b.prim("getitem", base, idx=idx))
                out.append(b.prim("scatter_add", v, shape=shape, idx=idx))
                out.append(b.prim("index_add", base, v, idx=idx))
                out.append(b.prim("setitem", base, v, idx=idx))
                out.append(b.prim("index_add", b.prim("mul", base, 3.0), v, idx=idx))      # into a generator
                out.append(b.prim("setitem", base, 0.5, idx=idx))                             # a broadcast scalar
        return out
    k = Kernel([x, A], body)
    for _ in range(3):
        x, A = rng.standard_normal(7), rng.standard_normal((4, 5))
        x0, A0 = x.copy(), A.copy()
        got, want, ref = k.run(x, A)
        assert np.array_equal(x, x0) and np.array_equal(A, A0)        # the inputs are not written
        for j, (g, w, r) in enumerate(zip(got, want, ref)):
            assert_same(g, w, f"scatter output {j}", 1e-15)
            assert_same(r, w, "interpreter", 1e-15)
    check_views_give_the_same(k, [x, A])


def test_chains_and_overlapping_boxes():
    """The Rosenbrock adjoint's pattern: several index_adds / scatter_adds over overlapping boxes,
    summed; setitems over overlapping boxes (the last one wins)."""
    rng = np.random.default_rng(14)
    x, A = rng.standard_normal(8), rng.standard_normal((4, 5))

    def body(b, x, A):
        lo, hi = b.prim("getitem", x, idx=(slice(None, -1),)), b.prim("getitem", x, idx=(slice(1, None),))
        r = b.prim("sub", hi, b.prim("mul", lo, lo))
        g1 = b.prim("scatter_add", b.prim("mul", r, 200.0), shape=(8,), idx=(slice(1, None),))
        g2 = b.prim("scatter_add", b.prim("mul", b.prim("mul", r, lo), -400.0), shape=(8,), idx=(slice(None, -1),))
        g3 = b.prim("scatter_add", b.prim("sub", lo, 1.0), shape=(8,), idx=(slice(None, -1),))
        rosen = b.prim("add", b.prim("add", g1, g2), b.prim("mul", g3, 2.0))
        c = b.prim("index_add", x, lo, idx=(slice(1, None),))
        c = b.prim("index_add", c, hi, idx=(slice(None, -1),))
        c = b.prim("index_add", c, b.prim("getitem", x, idx=(slice(2, 6),)), idx=(slice(1, 5),))
        c = b.prim("setitem", c, 0.0, idx=(3,))
        c = b.prim("index_add", c, 1.0, idx=(3,))
        s = b.prim("setitem", A, 1.0, idx=(slice(None), slice(1, 4)))
        s = b.prim("setitem", s, b.prim("getitem", A, idx=(0,)), idx=(slice(0, 2),))
        s = b.prim("index_add", s, 2.0, idx=(slice(1, 3), slice(2, None)))
        s = b.prim("setitem", s, -1.0, idx=(slice(None), 0))
        s = b.prim("index_add", s, b.prim("getitem", A, idx=(slice(None), 1)), idx=(slice(None), 4))
        s2 = b.prim("index_add", s, 5.0, idx=(slice(None, None, 2), slice(None)))      # not a box, after boxes
        s3 = b.prim("setitem", s2, 7.0, idx=(slice(1, 2), slice(1, 2)))                # a box after a non-box
        many = A
        for k in range(12):          # many cells: more than MAX_CELLS, element by element
            many = b.prim("index_add", many, float(k), idx=(slice(k % 4, k % 4 + 1 + k % 2), slice(k % 5, None)))
        return [rosen, c, s, s2, s3, b.prim("sum", rosen, axis=None, keepdims=False),
                b.prim("mul", c, 2.0), many, b.prim("add", s3, s)]        # `s` used twice
    k = Kernel([x, A], body)
    for _ in range(3):
        x, A = rng.standard_normal(8), rng.standard_normal((4, 5))
        got, want, ref = k.run(x, A)
        for j, (g, w, r) in enumerate(zip(got, want, ref)):
            assert_same(g, w, f"chain output {j}", 1e-15)
            assert_same(r, w, "interpreter", 1e-15)


# ---- 5. whole gradients -----------------------------------------------------------------------------

def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def smoothing(x):
    d = x[:-2] - 2 * x[1:-1] + x[2:]
    return np.sum(d * d) + 0.5 * np.sum(x * x)


def softplus_loss(w, y):
    z = w * y
    return np.sum(np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z)))) / w.size


def log_sum_exp(x):
    m = np.mean(x)
    return m + np.log(np.sum(np.exp(x - m)))


def log_sum_exp_max(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def outer_penalty(x, y):
    return np.sum(np.tanh(x[:, None] * y[None, :]) ** 2) + np.mean(x.T)


def column_normalised(A):
    c = A - np.mean(A, axis=0, keepdims=True)
    return np.sum(c * c / (np.sum(c * c, axis=0) + 1.0))


def huber(x, y):
    r = x - y
    a = np.abs(r)
    return np.sum(np.where(a < 1.0, 0.5 * r * r, a - 0.5))


def stencil_2d(U):
    lap = U[1:-1, :-2] + U[1:-1, 2:] + U[:-2, 1:-1] + U[2:, 1:-1] - 4 * U[1:-1, 1:-1]
    return np.sum(lap ** 2) + np.sum(U[::2, ::-1] * U[1::2, :])


def with_setitems(x):
    y = x * 2.0
    y[1:3] = x[:2] ** 2
    y[::2] = y[::2] + x[::2]
    return np.sum(y * y)


def clipped(x):
    return np.sum(np.maximum(x, 0.0) * np.minimum(x, 1.0)) + np.sum(np.clip(x, -0.5, 0.5) ** 2)


def softmax_cross_entropy(z, y):
    e = np.exp(z - np.mean(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return -np.sum(y * np.log(p)) / z.shape[0]


def views_of_a_reduction(A):
    s = np.sum(A * A, axis=1)
    t = s.reshape(2, 2)
    return np.sum(t[:, ::-1] * t) + np.sum(t[::2] ** 3) + np.sum(s)


def centred_transpose(A):
    B = A.T
    c = np.sum(B, axis=1, keepdims=True)
    return np.sum((B - c)[::2, ::-1] ** 2) + np.sum(c[::-1] * c)


def strided_exp(x):
    y = np.exp(x)
    z = y[::2] + y[1::2]
    w = z[::-1] * y[:z.shape[0]]
    return np.sum(w * w) + np.sum(y[::3])


def mixed_matmul(W, x):
    h = np.tanh(W @ x)
    return np.sum(h * h + x[0])


GRAD_CASES = [(rosenbrock, lambda r: (r.standard_normal(9),)),
              (smoothing, lambda r: (r.standard_normal(11),)),
              (softplus_loss, lambda r: (r.standard_normal((3, 4)), np.sign(r.standard_normal((3, 4))))),
              (log_sum_exp, lambda r: (r.standard_normal(6) * 3,)),
              (outer_penalty, lambda r: (r.standard_normal(3), r.standard_normal(4))),
              (column_normalised, lambda r: (r.standard_normal((4, 3)),)),
              (huber, lambda r: (r.standard_normal(8) * 2, r.standard_normal(8))),
              (stencil_2d, lambda r: (r.standard_normal((6, 5)),)),
              (with_setitems, lambda r: (r.standard_normal(6),)),
              (clipped, lambda r: (r.standard_normal(9),)),
              (softmax_cross_entropy, lambda r: (r.standard_normal((3, 4)), np.eye(4)[[0, 2, 1]])),
              (views_of_a_reduction, lambda r: (r.standard_normal((4, 3)),)),
              (centred_transpose, lambda r: (r.standard_normal((4, 3)),)),
              (strided_exp, lambda r: (r.standard_normal(8),))]


@pytest.mark.parametrize("f, make", GRAD_CASES, ids=[c[0].__name__ for c in GRAD_CASES])
def test_whole_gradients_native_equal_numpy_tier_and_finite_differences(f, make):
    rng = np.random.default_rng(15)
    g = ad.value_and_grad(f, jit="always")
    ref = ad.value_and_grad(f, jit="never")
    for _ in range(3):
        args = make(rng)
        v, d = g(*args)
        assert g.tier == "native", g.explain()
        v2, d2 = ref(*args)
        assert ref.tier == "numpy"
        assert v == pytest.approx(v2, rel=1e-12)
        np.testing.assert_allclose(d, d2, rtol=1e-12, atol=1e-14)
        assert d.shape == args[0].shape and d.dtype == np.float64
        x = args[0]
        fd = np.zeros_like(x)
        for k in np.ndindex(x.shape):
            h = 1e-6 * max(1.0, abs(x[k]))
            hi, lo = x.copy(), x.copy()
            hi[k] += h
            lo[k] -= h
            fd[k] = (f(hi, *args[1:]) - f(lo, *args[1:])) / (2 * h)
        np.testing.assert_allclose(d, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f, make", GRAD_CASES, ids=[c[0].__name__ for c in GRAD_CASES])
def test_whole_gradients_in_float32(f, make):
    rng = np.random.default_rng(16)
    args = tuple(a.astype(np.float32) for a in make(rng))
    g = ad.value_and_grad(f, jit="always")
    v, d = g(*args)
    assert g.tier == "native", g.explain()
    v2, d2 = ad.value_and_grad(f, jit="never")(*args)
    assert d.dtype == np.float32 and d2.dtype == np.float32
    assert np.asarray(v).dtype == np.asarray(v2).dtype
    assert float(v) == pytest.approx(float(v2), rel=1e-5)
    np.testing.assert_allclose(d, d2, rtol=2e-5, atol=2e-6)


def test_fastmath_and_jit_on_arrays():
    x = np.random.default_rng(19).standard_normal(50)
    fast = ad.value_and_grad(rosenbrock, jit="always", fastmath=True)
    v, d = fast(x)
    v2, d2 = ad.value_and_grad(rosenbrock, jit="never")(x)
    assert fast.tier == "native"
    assert v == pytest.approx(v2, rel=1e-12)
    np.testing.assert_allclose(d, d2, rtol=1e-12, atol=1e-12)
    f = ad.jit(stencil_2d)
    U = np.random.default_rng(20).standard_normal((6, 5))
    assert f(U) == pytest.approx(stencil_2d(U), rel=1e-13)
    assert f.tier == "native", f.explain()


def test_log_sum_exp_shifted_by_its_max_agrees_with_the_numpy_tier():
    """amax's adjoint (extreme_weights) has no native lowering: the function stays on the NumPy tier
    and explain says why."""
    x = np.random.default_rng(18).standard_normal(6) * 3
    g = ad.value_and_grad(log_sum_exp_max, jit="always")
    v, d = g(x)
    v2, d2 = ad.value_and_grad(log_sum_exp_max, jit="never")(x)
    assert v == pytest.approx(v2, rel=1e-12)
    np.testing.assert_allclose(d, d2, rtol=1e-12)
    np.testing.assert_allclose(d, np.exp(x) / np.sum(np.exp(x)), rtol=1e-12)
    assert g.tier == "numpy" and "native refused: extreme_weights" in g.explain(), g.explain()


def test_matmul_and_elementwise_stay_on_the_numpy_tier_and_explain_names_matmul():
    rng = np.random.default_rng(17)
    W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    g = ad.value_and_grad(mixed_matmul, wrt=(0, 1), jit="always")
    v, (dW, dx) = g(W, x)
    assert g.tier == "numpy"
    assert "native refused: matmul" in g.explain()
    h = np.tanh(W @ x)
    assert v == pytest.approx(mixed_matmul(W, x), rel=1e-14)
    dh = 2 * h * (1 - h * h)
    np.testing.assert_allclose(dW, np.outer(dh, x), rtol=1e-12)
    np.testing.assert_allclose(dx, W.T @ dh + np.eye(4)[0] * 3, rtol=1e-12)


# ---- 6. fresh outputs, untouched inputs ----------------------------------------------------------------

def test_outputs_are_fresh_and_inputs_untouched():
    g = ad.value_and_grad(rosenbrock, jit="always")
    x = np.linspace(-1.0, 1.5, 6)
    _, d1 = g(x)
    assert g.tier == "native"
    keep = d1.copy()
    d1[:] = 99.0
    _, d2 = g(x)
    np.testing.assert_array_equal(d2, keep)
    assert not np.shares_memory(d1, d2)
    # a non-contiguous input: copied, not written
    wide = np.zeros(12)
    wide[::2] = x
    before = wide.copy()
    _, d3 = g(wide[::2])
    np.testing.assert_array_equal(d3, keep)
    np.testing.assert_array_equal(wide, before)
    assert g.tier == "native"
    # a kernel returning its argument, a view of it and an in-place-able update: new memory each call
    k = Kernel([x], lambda b, x: [x, b.prim("getitem", x, idx=(slice(1, None),)), b.prim("transpose", x, axes=(0,)),
                                  b.prim("setitem", x, 0.0, idx=(slice(0, 2),)), b.prim("index_add", x, 1.0, idx=(2,))])
    x0 = x.copy()
    r1 = k.nat(x)
    r2 = k.nat(x)
    np.testing.assert_array_equal(x, x0)
    for a, b_ in zip(r1, r2):
        assert not np.shares_memory(a, x) and not np.shares_memory(a, b_)
    np.testing.assert_array_equal(r1[3], np.r_[0.0, 0.0, x0[2:]])
    np.testing.assert_array_equal(r1[4], x0 + np.eye(6)[2])


def test_new_shapes_and_dtypes_specialise_again():
    """One grad called on several shapes and dtypes (n = 1 and 2: empty x[1:] / x[:-1] views)."""
    rng = np.random.default_rng(22)
    g = ad.value_and_grad(rosenbrock, jit="always")
    ref = ad.value_and_grad(rosenbrock, jit="never")
    for x in (rng.standard_normal(6), rng.standard_normal(9), rng.standard_normal(6).astype(np.float32),
              rng.standard_normal(6), rng.standard_normal(2), rng.standard_normal(1), rng.standard_normal(5)[::2]):
        (v, d), (v2, d2) = g(x), ref(x)
        assert g.tier == "native" and d.dtype == x.dtype and d.shape == x.shape
        tol = 1e-12 if x.dtype == np.float64 else 2e-5
        assert float(v) == pytest.approx(float(v2), rel=tol, abs=1e-300)
        np.testing.assert_allclose(d, d2, rtol=tol, atol=tol * 1e-2)


# ---- what these tests found: fixed ones (regressions), strict xfails for the rest ---------------------

_FPE_CHILD = """
import sys
import numpy as np
sys.path.insert(0, {root!r})
from tests.backends.test_native_arrays import Kernel
import adcompiler as ad
from tests.backends import test_native_arrays as T
x, y = np.array([-2 ** 63, 7], np.int64), np.array([-1, 2], np.int64)
k = Kernel([x, y], lambda b, x, y: [b.prim("floor_divide", x, y), b.prim("remainder", x, y)])
with np.errstate(all="ignore"):
    q, r = k.nat(x, y)
print(q.tolist(), r.tolist(), flush=True)
g = ad.value_and_grad(T.int_floor_divide, jit="always")
print(g(1.5, 7, 2), flush=True)
print(g(1.5, -2 ** 63, -1), flush=True)
"""


def int_floor_divide(x, n, m):
    return x * (n // m)


def test_int64_min_divided_by_minus_one_does_not_crash():
    """Found here, fixed in 639b790: sdiv/srem of -2**63 by -1 trapped (SIGFPE killed the process), also
    from a plain scalar function x * (n // m). Run in a child process: a regression kills it, not the run."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", _FPE_CHILD.format(root=root)], capture_output=True, text=True,
                         cwd=root, timeout=120, check=False)
    assert out.returncode == 0, f"the process died (returncode {out.returncode}): {out.stdout!r}"
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "[-9223372036854775808, 3] [0, 1]"           # NumPy: wraps, remainder 0
    assert lines[2] == repr((1.5 * 2 ** 63, float(2 ** 63)))          # Python ints: 2**63


@pytest.mark.parametrize("dtype", [F64, F32], ids=str)
def test_pow_with_a_weak_half_exponent(dtype):
    """Found here, fixed in 639b790: NumPy's power takes sqrt for a scalar exponent 0.5 ((-inf) ** 0.5 = nan,
    (-0.0) ** 0.5 = -0.0); the native tier computed C99 pow (inf, 0.0)."""
    x = np.array([-inf, -0.0, 4.0, -4.0, 0.0, inf, nan, 2.0], dtype)
    k = Kernel([x, 0.5], lambda b, x, e: [b.prim("pow", x, e), b.prim("pow", x, 2.0), b.prim("pow", x, -1.0)])
    check_all(k, ["pow"] * 3, [x, 0.5])
    check_all(k, ["pow"] * 3, [x, 0.25])
    check_all(k, ["pow"] * 3, [x, -0.5])


def clip_inf_bound(x):
    return np.sum(np.clip(x, 0.0, np.inf))


def clip_nan_bound(x):
    return np.sum(np.clip(x, np.nan, 1.0))


def test_numpy_tier_clip_with_an_inf_or_nan_bound():
    """Found here, fixed in 639b790: the NumPy tier's generated source wrote an inf/nan attribute (clip's
    lo/hi) as the bare name `inf`/`nan` (NameError); jit='always' ran natively."""
    x = np.array([-1.0, 2.0])
    for jit in ("always", "never"):
        g = ad.value_and_grad(clip_inf_bound, jit=jit)
        v, d = g(x)
        assert v == 2.0 and d.tolist() == [0.0, 1.0] and g.tier == {"always": "native", "never": "numpy"}[jit]
        g = ad.value_and_grad(clip_nan_bound, jit=jit)
        v, d = g(x)
        assert math.isnan(v) and np.isnan(d).all() == np.isnan(
            ad.value_and_grad(clip_nan_bound, jit="never")(x)[1]).all()
    k = Kernel([x], lambda b, x: [b.prim("clip", x, lo=nan, hi=1.0), b.prim("clip", x, lo=-inf, hi=None)])
    check_all(k, ["clip"] * 2, [x])


def test_interpreter_amax_of_an_empty_array_over_a_nonempty_axis():
    y = np.zeros((2, 0))
    fn = _one_prim(y, "amax", 0)
    assert python_backend.compile_function(fn)(y).shape == (0,)
    assert interpret(fn, y).shape == (0,)


def _in_place_into_a_view_of_a_shared_temporary(b, A):
    s = b.prim("sum", A, axis=0, keepdims=False)               # a temporary, read twice:
    w = b.prim("getitem", s, idx=(slice(1, None),))             # through a view used once ...
    u = b.prim("index_add", w, 1.0, idx=(slice(None, None, 2),))    # ... updated in place (not a box)
    t = b.prim("sum", A, axis=0, keepdims=True)                 # (1, 5)
    v = b.prim("getitem", t, idx=(0, slice(None, None, -2)))    # read while t is written through t1
    t1 = b.prim("index_add", b.prim("reshape", t, shape=(5,)), v, idx=(slice(None, None, 2),))
    return [b.prim("mul", s, 1.0), b.prim("mul", u, 1.0), b.prim("mul", t1, 1.0)]


def test_an_in_place_update_of_a_view_leaves_the_viewed_temporary_alone():
    A = np.arange(20.0).reshape(4, 5)
    k = Kernel([A], _in_place_into_a_view_of_a_shared_temporary)
    got, want, _ = k.run(A)
    # NumPy: s = [30, 34, 38, 42, 46]; u = [35, 38, 43, 46]; t1 = [76, 34, 76, 42, 76]
    # native: s = [30, 35, 38, 43, 46] (written through w); t1[4] = 122 (t[0] read after it was updated)
    for j, (g, w) in enumerate(zip(got, want)):
        assert_same(g, w, f"output {j}")
