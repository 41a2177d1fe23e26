"""jvp, hessian, jacfwd and jacrev of every corpus function: compiled (forward mode, forward over
reverse) against the eager engine and central finite differences in float64."""
import warnings

import numpy as np
import pytest

import adcompiler as ad
from tests.compiler.values import sample_args
from tests.grad.test_differential import CASES, _float_positions, _numerical

F64 = [c for c in CASES if "f32" not in "".join(c.types.values())]


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        return fn(*args)


def _fd_directional(fn, args, tangents, h=1e-6):
    up = [a + h * t if t is not None else a for a, t in zip(args, tangents)]
    down = [a - h * t if t is not None else a for a, t in zip(args, tangents)]
    return (np.asarray(fn(*up), dtype=float) - np.asarray(fn(*down), dtype=float)) / (2 * h)


def _tangents(args, seed):
    rng = np.random.default_rng(seed + 100)
    pos = _float_positions(args)
    return [(rng.standard_normal(np.shape(a)) if isinstance(a, np.ndarray) else float(rng.standard_normal()))
            if i in pos else None for i, a in enumerate(args)]


@pytest.mark.parametrize("case", F64, ids=repr)
def test_jvp_compiled_eager_and_finite_differences_agree(case):
    args = sample_args(case, 0)
    if not _float_positions(args):
        pytest.skip("no float argument")
    ts = _tangents(args, 0)
    out, dot = _quiet(ad.jvp, case.fn, tuple(args), tuple(ts))
    out_e, dot_e = _quiet(lambda: ad.jvp(case.fn, tuple(args), tuple(ts), fallback="always"))
    np.testing.assert_allclose(np.asarray(out, float), np.asarray(case.fn(*args), float), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(dot, float), np.asarray(dot_e, float), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(dot, float), _fd_directional(case.fn, args, ts), rtol=1e-5, atol=1e-6)


def _small_float_arg(args):
    pos = [i for i in _float_positions(args) if np.size(args[i]) <= 12]
    return pos[0] if pos else None


@pytest.mark.parametrize("case", F64, ids=repr)
def test_hessian_is_symmetric_and_the_derivative_of_the_gradient(case):
    args = sample_args(case, 1)
    i = _small_float_arg(args)
    if i is None:
        pytest.skip("no small float argument")
    h = ad.hessian(case.fn, i)
    H = _quiet(h, *args)
    x = args[i]
    n = int(np.size(x))
    Hm = np.asarray(H, float).reshape(n, n)
    np.testing.assert_allclose(Hm, Hm.T, rtol=1e-8, atol=1e-10)
    g = ad.grad(case.fn, wrt=i)

    def gi(*a):
        return np.asarray(_quiet(g, *a), float)
    fd = np.stack([np.ravel(_fd_directional(gi, args, [e.reshape(np.shape(x)) if k == i else None
                                                        for k in range(len(args))]))
                   for e in np.eye(n)], axis=-1)
    np.testing.assert_allclose(Hm, fd, rtol=1e-4, atol=1e-5)
    He = _quiet(ad.hessian(case.fn, i, fallback="always"), *args)
    np.testing.assert_allclose(Hm, np.asarray(He, float).reshape(n, n), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", F64, ids=repr)
def test_jacfwd_equals_jacrev(case):
    args = sample_args(case, 2)
    i = _small_float_arg(args)
    if i is None:
        pytest.skip("no small float argument")
    jf = _quiet(ad.jacfwd(case.fn, i), *args)
    jr = _quiet(ad.jacrev(case.fn, i), *args)
    np.testing.assert_allclose(np.asarray(jf, float), np.asarray(jr, float), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.ravel(jf), np.ravel(_numerical(case.fn, args, i)), rtol=1e-5, atol=1e-6)


def test_most_corpus_functions_transform_compiled():
    compiled = 0
    for case in F64:
        args = sample_args(case, 0)
        if not _float_positions(args):
            continue
        h = ad.jacfwd(case.fn, _float_positions(args)[0])
        _quiet(h, *args)
        compiled += h.mode == "compiled"
    assert compiled >= 0.85 * len(F64), compiled


@pytest.mark.parametrize("case", F64, ids=repr)
def test_one_batched_sweep_equals_one_sweep_per_basis_vector(case):
    args = sample_args(case, 3)
    i = _small_float_arg(args)
    if i is None or not isinstance(args[i], np.ndarray):
        pytest.skip("no small float array argument")
    for make in (ad.jacfwd, ad.jacrev, ad.hessian):
        batched, single = make(case.fn, i), make(case.fn, i, vectorize=False)
        a, b = _quiet(batched, *args), _quiet(single, *args)
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=1e-14)
        if single.mode == "compiled":
            assert "sweeps" in single.explain(), single.explain()


def test_most_corpus_jacobians_and_hessians_are_one_batched_sweep():
    batched = total = 0
    for case in F64:
        args = sample_args(case, 3)
        i = _small_float_arg(args)
        if i is None or not isinstance(args[i], np.ndarray) or np.size(args[i]) < 2:
            continue
        for make in (ad.jacfwd, ad.hessian):
            t = make(case.fn, i)
            _quiet(t, *args)
            if t.mode == "compiled":
                total += 1
                batched += "batched sweep" in t.explain()
    assert total >= 40 and batched >= 0.8 * total, (batched, total)


def test_transforms_on_the_native_tier_equal_their_numpy_tier():
    """After a few calls ("auto") the transforms' IR — batched tangents, forward over reverse — runs on
    the native tier (whole or its array regions): the same numbers as the first, NumPy-tier call."""
    native = total = 0
    for case in F64:
        args = sample_args(case, 1)
        i = _small_float_arg(args)
        if i is None or not isinstance(args[i], np.ndarray):
            continue
        for make in (ad.hessian, ad.jacfwd):
            t = make(case.fn, i)
            first = np.asarray(_quiet(t, *args), float)
            for _ in range(4):
                last = np.asarray(_quiet(t, *args), float)
            compiled = t._r.last.compiled
            if compiled is None:
                continue
            total += 1
            native += compiled.tier == "native"
            np.testing.assert_allclose(last, first, rtol=1e-12, atol=1e-14, err_msg=f"{case.name} {make.__name__}")
    assert total >= 40 and native >= 0.6 * total, (native, total)
