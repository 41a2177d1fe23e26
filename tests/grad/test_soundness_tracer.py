"""Soundness of `grad` around the tracer: calls reach the function exactly as Python
passes them, `global` writes reach the module, traced NumPy code keeps NumPy's dtypes
and its aliasing (in-place `+=` writes into arrays, rebinds scalars), errors read like
NumPy's and name the user's line, and the specialisation cache is bounded.

Every function is written into a real module file (the compiler reads source; errors
name that file) and checked against plain NumPy and float64 central differences."""
from __future__ import annotations

import contextlib
import importlib.util
import inspect
import re
import sys
import textwrap
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler import api
from adcompiler.tracing import TracingError

SOURCE = '''
import math
import numpy as np
from math import sin

calls = 0
seen = []
n = 0


# ---- 1. arguments ------------------------------------------------------------
def kwargs_scale(x, **kw):
    return x * kw.get("s", 1.0)


def varargs_product(*xs):
    return xs[0] * xs[1]


def varargs_dot(*xs):
    return np.sum(xs[0] * xs[1])


def mixed(a, *rest, scale=1.0, **kw):
    total = a * scale
    for r in rest:
        total = total + np.sin(r) * a
    return total + kw.get("bias", 0.0) * a * a


def keyword_only(x, *, s=2.0):
    return np.sum(x * x) * s


def positional_only(x, /, y=3.0):
    return x * x * y


def two(x, y):
    return np.sum(x * y) + np.sum(np.sin(y))


# ---- 2. globals ----------------------------------------------------------------
def counted(x):
    global calls
    calls += 1
    return x * x


def counted_then_raises(x):
    global calls
    calls += 1
    raise ValueError("boom")


def helper_bumps(k):
    global n
    n += k


class Bumper:
    def bump(self):
        global n   # this method runs with the module's own globals, not the tracer's
        n += 100


def uses_helpers(x):
    global seen
    helper_bumps(1)
    Bumper().bump()
    out = np.zeros(2)          # the proxies still work: a TracedArray the assignment records into
    out[0] = sin(x)
    out[1] = math.exp(x)
    seen = seen + [n]
    return np.sum(out) * n


from numpy import zeros


def imported_zeros(x):
    out = zeros(2)             # `from numpy import zeros` makes a TracedArray too
    out[0] = x * x
    globals()["calls"] += 1    # globals() is the module's namespace
    return np.sum(out)


def deletes_global(x):
    global calls
    del calls  # LINE:deletes_global
    return x


# ---- 3. dtypes -----------------------------------------------------------------
def where_scale(x):
    return x * np.where(x > 10, 1.0, 0.1)


def dt_where(x):
    w = np.where(x > 10, 1.0, 0.1)
    return np.sum(x * w), w


def dt_list_array(x):
    c = np.array([1.0, 2.0]) * x
    return np.sum(c * c), c


def dt_clip(x):
    c = np.clip(x, 0.1, 0.5)
    return np.sum(c * x), c


def dt_python_float(x):
    c = x + 0.1
    return np.sum(c * c), c


def dt_numpy_float(x):
    c = x * np.float64(0.1)
    return np.sum(c * x), c


def dt_full_like(x):
    c = np.full_like(x, 0.1) * x
    return np.sum(c * x), c


def dt_where_array_scalar(x):
    c = np.where(x > 0, x, 0.1)
    return np.sum(c * x), c


def dt_maximum(x):
    c = np.maximum(x, 0.1) / 3.0
    return np.sum(c * x), c


def dt_scalar_chain(x):
    s = np.sum(x) * 0.1
    c = x * s
    return np.sum(c), c


# ---- 4. aliasing and in-place ------------------------------------------------------
def alias_add(x):
    a = x * 1.0
    b = a
    a += 1.0
    return np.sum(b * x)


def alias_zero_d(x):
    s = np.where(x[0] > 0, 1.0, np.sum(x))
    t = s
    s += 100.0
    return t * x[0]


def alias_numpy_scalar_sum(x):
    s = np.sum(x)
    t = s
    s += 100.0
    return t * x[0] + s


def alias_numpy_scalar_index(x):
    s = x[0]
    t = s
    s *= 3.0
    return t * x[1] + s


def alias_numpy_scalar_ufunc(x):
    s = np.sin(x[0]) * 2.0
    t = s
    s -= x[1]
    return t * s


def alias_zero_d_zeros(x):
    a = np.zeros(())
    b = a
    a += x[0] * x[1]
    return b * 2.0 + a


def alias_view_sees_write(x):
    a = x * 1.0
    v = a[1:]
    a += x
    return np.sum(v * x[1:])


def alias_write_through_view(x):
    a = x * 1.0
    v = a[:2]
    v *= 3.0
    return np.sum(a * x)


def alias_saved_then_written(x):
    a = x * 2.0
    y = np.exp(a)
    a += 1.0
    return np.sum(y * a)


def alias_ops(x):
    a = x * 1.0 + 2.0
    b = a
    a -= x
    a *= x
    a /= 1.5
    a **= 2.0
    return np.sum(b)


def alias_accumulate_in_loop(x):
    acc = np.zeros(3)
    total = acc
    for i in range(3):
        acc += x * x[i]
    return np.sum(total)


def alias_mask(x):
    m = x > 0
    m2 = m
    m &= x < 0.5
    return np.sum(np.where(m2, x * x, 0.0))


def augmented_subscripts(x):
    y = np.outer(x, x)
    r = y[0]
    y[0] += x               # a row: written through the view r as well
    y[1, 2] *= 3.0          # an element: a scalar read, multiplied, written back
    y[1:, 0] -= x[1:]
    y[2][1] /= 2.0
    return np.sum(y * y) + np.sum(r * x)


def python_float_rebinds(x):
    x += 1.0
    return x * x


def copyto_after_use(x):
    c = np.ones(3)
    y = x * c
    np.copyto(c, 5.0)
    return np.sum(y * c)


def writes_argument(x):
    x += 1.0  # LINE:writes_argument
    return np.sum(x)


def assigns_into_argument(x):
    x[0] = 2.0  # LINE:assigns_into_argument
    return np.sum(x)


def writes_argument_view(x):
    v = x[1:]
    v *= 2.0  # LINE:writes_argument_view
    return np.sum(x)


def int_array_plus_float(x):
    a = np.zeros(3, dtype=np.int64)
    a += x  # LINE:int_array_plus_float
    return np.sum(a * x)


def non_broadcastable_inplace(x):
    a = x * 1.0
    a += np.ones((2, 3))  # LINE:non_broadcastable_inplace
    return np.sum(a)


# ---- 6. errors --------------------------------------------------------------------
def returns_none(x):  # LINE:returns_none
    y = x * 2


def shape_mismatch(x):
    return np.sum(x + np.ones(4))  # LINE:shape_mismatch


def index_out_of_range(x):
    return x[5] * 2.0  # LINE:index_out_of_range


def too_many_indices(x):
    return x[0, 1] * 2.0  # LINE:too_many_indices


def bad_reshape(x):
    return np.sum(x.reshape(4))  # LINE:bad_reshape


# ---- 7. cache -----------------------------------------------------------------------
def cube_sum(x):
    return np.sum(x * x * x)
'''


@pytest.fixture(scope="module")
def M(tmp_path_factory):
    name = "adc_soundness_target"
    path = tmp_path_factory.mktemp("soundness") / f"{name}.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(name, None)


def line_of(tag):
    for k, text in enumerate(SOURCE.splitlines(), 1):
        if text.rstrip().endswith(f"# LINE:{tag}"):
            return k
    raise KeyError(tag)


def where(tag):
    return re.escape(f"adc_soundness_target.py:{line_of(tag)}")


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        yield


def fd(f, x, h=1e-6):
    """Central differences of scalar f at x (float or float64 array), plain NumPy."""
    if isinstance(x, float):
        return (float(f(x + h)) - float(f(x - h))) / (2 * h)
    g = np.zeros(x.shape)
    for k in np.ndindex(x.shape):
        up, down = x.astype(np.float64).copy(), x.astype(np.float64).copy()
        up[k] += h
        down[k] -= h
        g[k] = (float(f(up)) - float(f(down))) / (2 * h)
    return g


BOTH = pytest.mark.parametrize("fallback", ["auto", "always"])


# =====================================================================================
# 1. *args / **kwargs / keyword-only / positional-only reach the function as Python passes them
# =====================================================================================
@BOTH
def test_kwargs_reach_the_function(M, fallback):
    with quiet():
        assert ad.grad(M.kwargs_scale, fallback=fallback)(2.0, s=3.0) == 3.0
        assert ad.grad(M.kwargs_scale, fallback=fallback)(2.0) == 1.0
        # a key of **kw by name: d(x*s)/ds = x
        assert ad.grad(M.kwargs_scale, wrt="s", fallback=fallback)(2.0, s=3.0) == 2.0
        v, g = ad.value_and_grad(M.kwargs_scale, wrt=(0, "s"), fallback=fallback)(2.0, s=3.0)
    assert v == M.kwargs_scale(2.0, s=3.0) == 6.0 and g == (3.0, 2.0)
    with pytest.raises(TypeError, match=r"wrt='s', but kwargs_scale was called without a keyword argument 's'"):
        with quiet():
            ad.grad(M.kwargs_scale, wrt="s", fallback=fallback)(2.0)


@BOTH
def test_varargs_positions_index_the_call_like_argnums(M, fallback):
    f = M.varargs_product
    with quiet():
        assert ad.grad(f, fallback=fallback)(2.0, 5.0) == 5.0
        assert ad.grad(f, wrt=1, fallback=fallback)(2.0, 5.0) == 2.0
        assert ad.grad(f, wrt=-1, fallback=fallback)(2.0, 5.0) == 2.0
        # a negative position counts from the end of the call, also onto a named parameter
        assert ad.grad(M.mixed, wrt=-2, fallback=fallback)(0.5, 0.25) == ad.grad(M.mixed, fallback=fallback)(0.5, 0.25)
        assert ad.grad(M.mixed, wrt=-1, fallback=fallback)(0.5, 0.25) == pytest.approx(np.cos(0.25) * 0.5, rel=1e-15)
        assert ad.grad(f, wrt=(0, 1), fallback=fallback)(2.0, 5.0) == (5.0, 2.0)
        assert ad.grad(f, wrt="xs", fallback=fallback)(2.0, 5.0) == (5.0, 2.0)   # the whole tuple
        x = np.array([0.5, -1.0])
        np.testing.assert_array_equal(ad.grad(M.varargs_dot, wrt=1, fallback=fallback)(x, x * 3.0), x)
    with pytest.raises(ValueError, match=r"wrt=2 is out of range: varargs_product was called with 2 positional"):
        with quiet():
            ad.grad(f, wrt=2, fallback=fallback)(2.0, 5.0)
    with pytest.raises(ValueError, match=r"wrt names 'xs' and also one of its elements"):
        ad.grad(f, wrt=("xs", 0))


def test_varargs_function_traces_with_a_reason(M):
    g = ad.grad(M.varargs_product)
    with pytest.warns(ad.FallbackWarning, match=r"\*args/\*\*kwargs parameters are not supported \('xs'\)"):
        assert g(2.0, 5.0) == 5.0
    assert g.mode == "traced" and "'xs'" in g.explain()
    with pytest.raises(Exception, match=r"\*args/\*\*kwargs parameters are not supported"):
        ad.grad(M.varargs_product, fallback="never")(2.0, 5.0)


@BOTH
def test_mixed_signature_matches_finite_differences(M, fallback):
    f = M.mixed
    args = (0.7, 0.3, -1.1)
    kw = {"scale": 2.0, "bias": 0.5}
    with quiet():
        da = ad.grad(f, fallback=fallback)(*args, **kw)
        dr1 = ad.grad(f, wrt=2, fallback=fallback)(*args, **kw)
        dbias = ad.grad(f, wrt="bias", fallback=fallback)(*args, **kw)
        dscale = ad.grad(f, wrt="scale", fallback=fallback)(*args, **kw)
        value, _ = ad.value_and_grad(f, fallback=fallback)(*args, **kw)
    assert value == pytest.approx(f(*args, **kw), rel=1e-15)
    assert da == pytest.approx(fd(lambda a: f(a, 0.3, -1.1, **kw), 0.7), rel=1e-8)
    assert dr1 == pytest.approx(fd(lambda r: f(0.7, 0.3, r, **kw), -1.1), rel=1e-8)
    assert dbias == pytest.approx(fd(lambda b: f(*args, scale=2.0, bias=b), 0.5), rel=1e-8)
    assert dscale == pytest.approx(fd(lambda s: f(*args, scale=s, bias=0.5), 2.0), rel=1e-8)


def test_keyword_only_with_default_compiles_and_traces(M):
    x = np.array([1.0, -2.0])
    for fallback in ("auto", "always"):
        g = ad.grad(M.keyword_only, fallback=fallback)
        np.testing.assert_array_equal(g(x), 2 * x * 2.0)
        np.testing.assert_array_equal(g(x, s=3.0), 2 * x * 3.0)
        assert g.mode == ("compiled" if fallback == "auto" else "traced")
        gs = ad.grad(M.keyword_only, wrt="s", fallback=fallback)
        assert gs(x, s=3.0) == 5.0
    with pytest.raises(ValueError, match=r"wrt=1 is out of range: keyword_only takes 1 positional argument\(s\) "
                                         r"\(x\); keyword-only argument\(s\) \(s\) are chosen by name"):
        ad.grad(M.keyword_only, wrt=1)


def test_positional_only_and_plain_functions_unchanged(M):
    for fallback in ("auto", "always"):
        g = ad.grad(M.positional_only, fallback=fallback)
        assert g(2.0) == 12.0 and g(2.0, 5.0) == 20.0
        assert ad.grad(M.positional_only, wrt="y", fallback=fallback)(2.0, 5.0) == 4.0
    g = ad.grad(M.positional_only)
    g(2.0)
    assert g.mode == "compiled"
    x, y = np.array([0.1, 0.2]), np.array([1.5, -0.5])
    g2 = ad.grad(M.two, wrt=1)
    np.testing.assert_allclose(g2(x, y), x + np.cos(y), rtol=1e-15)
    np.testing.assert_allclose(g2(x, y=y), x + np.cos(y), rtol=1e-15)
    assert g2.mode == "compiled" and g2.wrt_names == ("y",)


# =====================================================================================
# 2. `global` writes reach the module
# =====================================================================================
def test_global_increment_reaches_the_module(M):
    M.calls = 0
    g = ad.grad(M.counted, fallback="always")
    assert g(2.0) == 4.0 and g(3.0) == 6.0
    assert M.calls == 2
    g2 = ad.grad(M.counted)
    with pytest.warns(ad.FallbackWarning, match="global statements are not supported"):
        assert g2(1.5) == 3.0
    assert g2.mode == "traced" and M.calls == 3


def test_global_write_reaches_the_module_when_the_function_raises(M):
    M.calls = 10
    with pytest.raises(ValueError, match="boom"):
        ad.grad(M.counted_then_raises, fallback="always")(2.0)
    assert M.calls == 11


def test_globals_are_read_live_and_helpers_share_them(M):
    M.n, M.seen = 0, []
    x = 0.3
    g = ad.grad(M.uses_helpers, fallback="always")
    # first call: n = 0 + 1 (helper, traced globals) + 100 (method, module globals) = 101
    assert g(x) == pytest.approx(101 * (np.cos(x) + np.exp(x)), rel=1e-14)
    assert M.n == 101 and M.seen == [101]
    assert g(x) == pytest.approx(202 * (np.cos(x) + np.exp(x)), rel=1e-14)
    assert M.n == 202 and M.seen == [101, 202]


def test_imported_numpy_names_and_globals_dict(M):
    M.calls = 0
    assert ad.grad(M.imported_zeros, fallback="always")(3.0) == 6.0
    assert M.calls == 1


def test_deleting_a_global_is_refused_clearly(M):
    M.calls = 5
    with pytest.raises(TracingError, match=rf"`del calls` of a global is not supported while tracing "
                                           rf"\({where('deletes_global')}\)"):
        ad.grad(M.deletes_global, fallback="always")(1.0)
    assert M.calls == 5


# =====================================================================================
# 3. traced NumPy code keeps NumPy's dtypes
# =====================================================================================
def test_where_with_python_floats_is_float64(M):
    g = ad.grad(M.where_scale, fallback="always")(2.0)
    assert g == 0.1   # exactly: float64, not 0.10000000149 (float32)
    assert g == ad.grad(M.where_scale)(2.0)
    assert g == pytest.approx(fd(M.where_scale, 2.0), rel=1e-9)


DTYPE_CASES = [
    ("dt_where", np.float64), ("dt_list_array", np.float32), ("dt_list_array", np.float64),
    ("dt_clip", np.float32), ("dt_clip", np.float64), ("dt_python_float", np.float32),
    ("dt_numpy_float", np.float32), ("dt_full_like", np.float32), ("dt_where_array_scalar", np.float32),
    ("dt_maximum", np.float32), ("dt_scalar_chain", np.float32), ("dt_scalar_chain", np.float64),
]


@pytest.mark.parametrize("name,dtype", DTYPE_CASES)
def test_traced_intermediates_have_numpys_dtype(M, name, dtype):
    f = getattr(M, name)
    x = np.array([0.3, 0.7], dtype=dtype)
    _, want = f(x)                                   # plain NumPy
    (value, got), dx = ad.value_and_grad(f, has_aux=True, fallback="always")(x)
    assert got.dtype == want.dtype, f"{name}: traced {got.dtype}, NumPy {want.dtype}"
    np.testing.assert_array_equal(got, want)
    assert dx.dtype == dtype
    if dtype == np.float64:
        np.testing.assert_allclose(dx, fd(lambda v: f(v)[0], x), rtol=1e-8)
        assert value == f(x)[0]
    else:   # the float32 computation, differentiated: agrees with float64 differences to float32 accuracy
        np.testing.assert_allclose(dx, fd(lambda v: f(v.astype(dtype))[0], x.astype(np.float64), h=1e-3),
                                   rtol=2e-3)


def test_python_scalar_with_float32_array_stays_float32(M):
    x = np.array([0.25, 0.5], dtype=np.float32)
    (_, c), dx = ad.value_and_grad(M.dt_python_float, has_aux=True, fallback="always")(x)
    assert c.dtype == np.float32 and dx.dtype == np.float32
    np.testing.assert_array_equal(dx, 2 * (x + np.float32(0.1)))


# =====================================================================================
# 4. aliasing and in-place updates follow NumPy
# =====================================================================================
ALIAS_CASES = ["alias_add", "alias_zero_d", "alias_numpy_scalar_sum", "alias_numpy_scalar_index",
               "alias_numpy_scalar_ufunc", "alias_zero_d_zeros", "alias_view_sees_write",
               "alias_write_through_view", "alias_saved_then_written", "alias_ops", "alias_accumulate_in_loop",
               "alias_mask", "copyto_after_use", "augmented_subscripts"]


# Compiler bugs found while writing these tests (both fixed since, by the memory analysis and reshape's shape
# rule): an in-place accumulation into an aliased array in a loop compiled to value 0 and gradient 0, and a
# reshape to the wrong size failed deep in the adjoint. Listed here as xfails while they are open.
COMPILER_BUGS = {}


def _cases(names):
    return [pytest.param(fb, n, marks=pytest.mark.xfail(strict=True, reason=COMPILER_BUGS[(fb, n)]))
            if (fb, n) in COMPILER_BUGS else pytest.param(fb, n) for fb in ("auto", "always") for n in names]


@pytest.mark.parametrize("fallback,name", _cases(ALIAS_CASES))
def test_in_place_updates_follow_numpy(M, name, fallback):
    f = getattr(M, name)
    x = np.array([0.4, 0.9, -0.6])
    with quiet():
        value, dx = ad.value_and_grad(f, fallback=fallback)(x)
    assert value == pytest.approx(float(f(x.copy())), rel=1e-14)
    np.testing.assert_allclose(dx, fd(lambda v: f(v.copy()), x), rtol=1e-7, atol=1e-9)


def test_alias_examples_by_hand(M):
    x = np.array([1.0, 2.0])
    # b is a: sum((x + 1) * x) -> 2x + 1
    np.testing.assert_array_equal(ad.grad(M.alias_add, fallback="always")(x), 2 * x + 1)
    # t is s, a 0-d array: t = 101 after the write, d/dx (101 * x0) = [101, 0]
    np.testing.assert_array_equal(ad.grad(M.alias_zero_d, fallback="always")(x), [101.0, 0.0])
    # s = np.sum(x) is a scalar: s += 100 rebinds, t keeps sum(x): t*x0 + s
    np.testing.assert_array_equal(ad.grad(M.alias_numpy_scalar_sum, fallback="always")(x), [x[0] + 3 + 1, 1 + 1])


def test_python_float_argument_rebinds(M):
    assert ad.grad(M.python_float_rebinds, fallback="always")(2.0) == 6.0
    assert ad.grad(M.python_float_rebinds)(2.0) == 6.0


@pytest.mark.parametrize("name", ["writes_argument", "assigns_into_argument", "writes_argument_view"])
def test_writing_into_the_differentiated_argument_follows_numpy(M, name):
    """As in NumPy, the write changes the caller's array; the gradient is w.r.t. the values passed in."""
    f = getattr(M, name)
    x = np.array([1.0, 2.0, 3.0])
    plain = x.copy()
    want = f(plain)
    with quiet():
        value, dx = ad.value_and_grad(f, fallback="always")(x)
    assert value == pytest.approx(float(want), rel=1e-14)
    np.testing.assert_array_equal(x, plain)
    np.testing.assert_allclose(dx, fd(lambda v: f(v.copy()), np.array([1.0, 2.0, 3.0])), rtol=1e-7, atol=1e-9)


def test_in_place_casting_and_broadcasting_errors_read_like_numpy(M):
    x = np.array([0.5, 1.5, 2.5])
    with pytest.raises(TypeError) as plain:
        M.int_array_plus_float(x)
    with pytest.raises(TracingError) as traced:
        ad.grad(M.int_array_plus_float, fallback="always")(x)
    assert str(traced.value) == f"{plain.value} (adc_soundness_target.py:{line_of('int_array_plus_float')})"
    with pytest.raises(ValueError) as plain:
        M.non_broadcastable_inplace(x)
    with pytest.raises(ValueError) as traced:
        ad.grad(M.non_broadcastable_inplace, fallback="always")(x)
    assert str(traced.value) == f"{plain.value} (adc_soundness_target.py:{line_of('non_broadcastable_inplace')})"


# =====================================================================================
# 6. clear errors, in NumPy's words, at the user's line
# =====================================================================================
@BOTH
def test_returning_none_says_so(M, fallback):
    with pytest.raises(TypeError, match=rf"grad: returns_none returned None; it must return a scalar .*"
                                        rf"\({where('returns_none')}\)\. Is a `return` statement missing\?"):
        with quiet():
            ad.grad(M.returns_none, fallback=fallback)(2.0)


def test_grad_of_a_numpy_or_builtin_function_says_wrap_it():
    line = inspect.currentframe().f_lineno + 2
    with pytest.raises(TypeError) as e:
        ad.grad(np.sin)
    msg = str(e.value)
    assert "np.sin is a NumPy function, not a Python function" in msg
    assert f"test_soundness_tracer.py:{line}" in msg and "def f(x): return np.sin(x)" in msg
    with pytest.raises(TypeError, match=r"math.sin is a built-in function, not a Python function.*def f\(x\)"):
        ad.grad(__import__("math").sin)
    with pytest.raises(TypeError, match=r"np.sum is a NumPy function"):
        ad.value_and_grad(np.sum)
    assert ad.grad(lambda x: np.sin(x), fallback="always")(0.0) == 1.0


@pytest.mark.parametrize("fallback,name", _cases(["shape_mismatch", "index_out_of_range", "too_many_indices",
                                                   "bad_reshape"]))
def test_numpy_errors_while_tracing_read_like_numpy(M, name, fallback):
    f = getattr(M, name)
    x = np.ones(3)
    with pytest.raises((ValueError, IndexError)) as plain:
        f(x)
    with pytest.raises(type(plain.value)) as traced:
        with quiet():
            ad.grad(f, fallback=fallback)(x)
    msg = str(traced.value)
    assert msg == f"{str(plain.value).rstrip()} (adc_soundness_target.py:{line_of(name)})"
    assert "tensor" not in msg


# =====================================================================================
# 7. the specialisation cache is an LRU
# =====================================================================================
def _cube_sum_by_elements(x):
    s = 0.0
    for i in range(x.shape[0]):      # the trip count pins the extent: one specialisation per shape
        s = s + x[i] ** 3
    return s


def test_specialisation_cache_is_bounded():
    size = api.SPECIALISATION_CACHE_SIZE
    g = ad.grad(_cube_sum_by_elements)
    extra = 8
    for n in range(1, size + extra + 1):
        x = np.linspace(0.1, 1.0, n)
        np.testing.assert_allclose(g(x), 3 * x * x, rtol=1e-15)
    assert len(g._cache) == size
    assert g.mode == "compiled"
    assert f"{size + extra} specialisations compiled" in g.explain()
    assert f"{extra} least recently used specialisations dropped (the cache keeps {size}" in g.explain()
    last = g._last
    g(np.linspace(0.1, 1.0, size + extra))          # most recent: reused
    assert g._last is last
    g(np.linspace(0.1, 1.0, extra + 1))              # the oldest kept one: reused, becomes the newest
    assert len(g._cache) == size and f"{size + extra} specialisations compiled" in g.explain()
    g(np.linspace(0.1, 1.0, 1))                      # evicted long ago: compiled again
    assert f"{size + extra + 1} specialisations compiled" in g.explain()
    assert len(g._cache) == size
    g(np.linspace(0.1, 1.0, extra + 1))              # was made newest above, so still cached
    assert f"{size + extra + 1} specialisations compiled" in g.explain()


def test_explain_counts_recompiles_after_a_guard_changed(tmp_path):
    path = tmp_path / "adc_guard_target.py"
    path.write_text(textwrap.dedent("""
        import numpy as np
        W = np.array([1.0, 2.0])

        def f(x):
            return np.sum(x * W)
    """))
    spec = importlib.util.spec_from_file_location("adc_guard_target", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    g = ad.grad(mod.f)
    x = np.array([1.0, 1.0])
    np.testing.assert_array_equal(g(x), [1.0, 2.0])
    assert g.explain().startswith("f: compiled (reverse-mode source transformation") and "specialisation" not in \
        g.explain()
    mod.W = np.array([3.0, 4.0], dtype=np.float32)   # a new dtype: the specialisation's guard fails
    np.testing.assert_array_equal(g(x), [3.0, 4.0])
    assert g.mode == "compiled"
    assert "2 specialisations compiled, 1 recompile after a guard changed" in g.explain()
