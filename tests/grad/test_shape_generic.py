"""Shape-generic specialisations (ops/dims.py, specialize.compile_shape_generic): on the second
shape of one dtype/rank pattern the compiler keeps the extents that changed as symbols, and that
one specialisation serves every later shape its guards admit. Every gradient it gives must equal
the traced one (and finite differences); a call its guards do not admit gets its own."""
import re
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.compiler import parse_type
from tests.compiler.values import sample
from tests.corpus import Case, load

from .corpus_extra import CASES as EXTRA


def fd_grad(f, x, h=1e-6):
    """Central finite differences of scalar f at the float64 array x (any rank)."""
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        out[k] = (f(up) - f(down)) / (2 * h)
    return out

rng = np.random.default_rng(0)


def mlp_loss(W1, b1, W2, X, y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2
    z = z - np.max(z, axis=1, keepdims=True)
    lp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(lp * y, axis=1))


W1, b1, W2 = rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal((4, 3))


def batch(n):
    return rng.standard_normal((n, 6)), np.eye(3)[rng.integers(0, 3, n)]


def traced(fn, args, wrt):
    return ad.grad(fn, wrt=wrt, fallback="always")(*args)


def test_a_new_batch_size_reuses_one_specialisation():
    g = ad.grad(mlp_loss, wrt=(0, 1, 2), jit="never")
    sizes = [8, 9, 12, 40, 9, 3, 100]
    for k, n in enumerate(sizes):
        args = (W1, b1, W2, *batch(n))
        got = g(*args)
        for a, b in zip(got, traced(mlp_loss, args, (0, 1, 2))):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        if k >= 1:
            assert g._last.compiled.shape_env is not None, g.explain()
    assert g._compiles == 2                 # the first shape's own, then one for every other size
    assert "shape-generic: n0 = X.shape[0]" in g.explain()
    assert "_n0 = X.shape[0]" in g.source


def test_the_shape_generic_gradient_matches_finite_differences():
    g = ad.grad(mlp_loss, wrt=0, jit="never")
    g(W1, b1, W2, *batch(5))
    X, y = batch(7)
    got = g(W1, b1, W2, X, y)
    assert g._last.compiled.shape_env is not None
    np.testing.assert_allclose(got, fd_grad(lambda w: mlp_loss(w, b1, W2, X, y), W1), rtol=1e-6, atol=1e-8)


def test_extents_the_guards_exclude_get_their_own_specialisation():
    g = ad.grad(mlp_loss, wrt=(0, 1, 2), jit="never")
    g(W1, b1, W2, *batch(8))
    g(W1, b1, W2, *batch(9))
    generic = g._last
    assert generic.compiled.shape_env is not None
    # 1 broadcasts unlike any other extent; 4 equals an extent the compiler compared with (W2's)
    for n in (1, 4):
        args = (W1, b1, W2, *batch(n))
        got = g(*args)
        assert g._last is not generic
        for a, b in zip(got, traced(mlp_loss, args, (0, 1, 2))):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_a_static_extent_that_changes_is_not_taken_for_the_generic_one():
    g = ad.grad(mlp_loss, wrt=0, jit="never")
    g(W1, b1, W2, *batch(8))
    g(W1, b1, W2, *batch(9))
    generic = g._last
    W1b, b1b = rng.standard_normal((6, 5)), rng.standard_normal(5)
    W2b = rng.standard_normal((5, 3))
    args = (W1b, b1b, W2b, *batch(9))
    np.testing.assert_allclose(g(*args), traced(mlp_loss, args, 0), rtol=1e-12)
    assert g._last is not generic


def test_equal_extents_are_one_symbol_and_a_call_where_they_differ_is_not_admitted():
    def weighted(x, w):
        return np.sum(x * w)
    g = ad.grad(weighted, jit="never")
    g(np.ones(3), np.ones(3))
    g(np.ones(5), np.arange(5.0))
    generic = g._last
    assert generic.compiled.shape_env is not None
    np.testing.assert_allclose(g(np.ones(7), np.arange(7.0)), np.arange(7.0))
    assert g._last is generic
    with pytest.raises(ValueError):           # NumPy's broadcasting error, as the function itself raises
        g(np.ones(7), np.arange(6.0))


def mean_over_rows(x):
    return np.sum(x) / x.shape[0] + np.mean(x[1:] - x[:-1]) + np.sum(x.T @ x)


def loop_over_rows(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sum(x[i] ** 2) * (i + 1)
    return s


@pytest.mark.parametrize("fn", [mean_over_rows, loop_over_rows])
def test_shapes_in_the_users_arithmetic_and_loops_stay_right(fn):
    g = ad.grad(fn, jit="never")
    for n in (3, 4, 6, 2, 9, 4):
        x = rng.standard_normal((n, 3))
        np.testing.assert_allclose(g(x), traced(fn, (x,), 0), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(g(x), fd_grad(fn, x), rtol=1e-6, atol=1e-8)


def test_a_pinned_extent_compiles_per_shape():
    g = ad.grad(loop_over_rows, jit="never")
    for n in (3, 4, 5):
        g(rng.standard_normal((n, 3)))
    assert g._last.compiled.shape_env is None        # range(x.shape[0]) needs the number itself
    assert g._compiles == 3


def test_jit_always_keeps_one_native_specialisation_per_shape():
    g = ad.grad(mlp_loss, wrt=0, jit="always")
    g(W1, b1, W2, *batch(8))
    g(W1, b1, W2, *batch(9))
    assert g._last.compiled.shape_env is None


def test_a_shape_generic_specialisation_says_why_it_is_not_native():
    g = ad.grad(mlp_loss, wrt=0)
    g(W1, b1, W2, *batch(8))
    g(W1, b1, W2, *batch(9))
    assert g.llvm_ir is None
    assert "shape-generic specialisation runs on the NumPy tier" in g._last.compiled.native_reason


def test_grad_of_grad_with_a_shape_generic_inner_gradient():
    def f(x):
        return np.sum(np.sin(x) * x)
    inner = ad.grad(f)
    gg = ad.grad(lambda x: np.sum(inner(x) ** 2))
    for n in (3, 4, 5):
        x = rng.standard_normal(n)
        q = np.cos(x) * x + np.sin(x)                # inner(x)
        want = 2 * q * (2 * np.cos(x) - x * np.sin(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ad.FallbackWarning)
            np.testing.assert_allclose(gg(x), want, rtol=1e-12)


# ---- the corpus at three shapes -----------------------------------------------------------------

CASES = [c for c in load() if not c.name.startswith("grad_")] + EXTRA
_ARRAY = re.compile(r"^([a-z0-9]+)\[([0-9,\s]*)\]$")


def _resized(case, extra):
    """The case's types with every extent d ≥ 2 made d + extra (equal extents stay equal)."""
    types = {}
    for name, text in case.types.items():
        m = _ARRAY.match(text.replace(" ", ""))
        if m and m.group(2) and name not in case.values:
            dims = [int(d) for d in m.group(2).split(",") if d]
            text = f"{m.group(1)}[{','.join(str(d + extra if d >= 2 else d) for d in dims)}]"
        types[name] = text
    return Case(case.fn, types, case.values)


def _args(case, seed):
    r = np.random.default_rng(seed)
    return [case.values[n] if n in case.values else sample(parse_type(t), r) for n, t in case.types.items()]


def _floats(args):
    return tuple(i for i, a in enumerate(args)
                 if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f"))


def _run(g, args):
    try:
        return g(*args), None
    except Exception as e:        # noqa: BLE001 - the compiled call must raise where the traced one does
        return None, type(e)


GENERIC = []


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_corpus_at_three_shapes_equals_the_traced_gradient(case):
    wrt = _floats(_args(case, 0))
    if not wrt:
        pytest.skip("nothing to differentiate")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = ad.grad(case.fn, wrt=wrt, jit="never")
        for extra in (0, 1, 3, 1):
            args = _args(_resized(case, extra), extra)
            got, err = _run(g, args)
            want, want_err = _run(ad.grad(case.fn, wrt=wrt, fallback="always"), args)
            assert err == want_err, (extra, err, want_err)
            if want_err is None:
                f32 = any(getattr(a, "dtype", None) == np.float32 for a in args)
                for a, b in zip(got, want):
                    np.testing.assert_allclose(a, b, rtol=1e-5 if f32 else 1e-10, atol=1e-6 if f32 else 1e-12)
        if g._last is not None and g._last.compiled is not None and g._last.compiled.shape_env is not None:
            GENERIC.append(case.name)


def test_a_shape_called_often_gets_its_own_specialisation_which_goes_native():
    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    g = ad.grad(rosen)                               # jit="auto"
    g(rng.standard_normal(300))
    x = rng.standard_normal(400)
    for k in range(8):
        got = g(x)
        np.testing.assert_allclose(got, traced(rosen, (x,), 0), rtol=1e-12)
        if k < 3:
            assert g._last.compiled.shape_env is not None
    assert g._last.compiled.shape_env is None
    assert g.tier == "native", g.explain()


def batch_norm_loss(x, gamma):
    mu = np.mean(x, axis=0)
    sd = np.std(x, axis=0) + 1e-3
    v = np.var(x, axis=0, ddof=1)
    return np.sum(((x - mu) / sd * gamma) ** 2) + np.sum(v)


def test_mean_var_and_std_over_the_batch_stay_generic():
    g = ad.grad(batch_norm_loss, wrt=(0, 1), jit="never")
    gamma = rng.standard_normal(4)
    for k, n in enumerate((5, 6, 9, 2, 30)):
        x = rng.standard_normal((n, 4))
        got = g(x, gamma)
        for a, b in zip(got, traced(batch_norm_loss, (x, gamma), (0, 1))):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
        if k:
            assert g._last.compiled.shape_env is not None, g.explain()
    np.testing.assert_allclose(got[1], fd_grad(lambda gm: batch_norm_loss(x, gm), gamma), rtol=1e-6)


def test_extents_that_differed_before_are_not_one_symbol_because_they_are_equal_now():
    def f(x):
        return np.sum(np.tanh(x) * 2.0)
    g = ad.grad(f, jit="never")
    g(np.ones((3, 5)))
    g(np.ones((7, 7)))                    # equal now, but 3 != 5 before: two symbols
    generic = g._last
    assert len(generic.compiled.shape_env.symbols) == 2
    x = rng.standard_normal((8, 9))
    np.testing.assert_allclose(g(x), 2.0 / np.cosh(x) ** 2, rtol=1e-12)
    assert g._last is generic


def stacked_and_joined(x, w):
    parts = np.concatenate([x, x[1:] * 2.0], axis=0)          # n + (n - 1) rows
    rows = np.stack([x[0], x[-1]])
    return np.sum(parts @ w) + np.sum(rows ** 2) + np.sum(parts[x.shape[0]:] ** 3)


def test_concatenate_stack_and_slices_at_symbolic_bounds_stay_generic():
    g = ad.grad(stacked_and_joined, wrt=(0, 1), jit="never")
    w = rng.standard_normal(3)
    for k, n in enumerate((4, 5, 8, 11, 2)):     # (at 2, 2 n - 1 == 3 == w's extent: its own specialisation)
        x = rng.standard_normal((n, 3))
        for a, b in zip(g(x, w), traced(stacked_and_joined, (x, w), (0, 1))):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
        if 0 < k < 4:
            assert g._last.compiled.shape_env is not None, g.explain()
    np.testing.assert_allclose(g(x, w)[0], fd_grad(lambda v: stacked_and_joined(v, w), x), rtol=1e-6, atol=1e-8)


def squeezed_rows(x, c):
    return np.sum(np.squeeze(x[1:]) ** 2 * c)     # at n == 2, np.squeeze makes (n - 1, k) a (k,)


def test_squeeze_of_an_extent_that_may_be_one_is_guarded():
    g = ad.grad(squeezed_rows, wrt=(0, 1), jit="never")
    c = rng.standard_normal(3)
    g(rng.standard_normal((4, 3)), c)
    g(rng.standard_normal((5, 3)), c)
    generic = g._last
    assert generic.compiled.shape_env is not None
    x = rng.standard_normal((2, 3))                # x[1:] has one row: np.squeeze drops it
    for a, b in zip(g(x, c), traced(squeezed_rows, (x, c), (0, 1))):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert g._last is not generic
