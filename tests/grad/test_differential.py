"""Every corpus function differentiated three ways: compiled, traced, and
central finite differences (float64). Compiled and traced agree to 1e-9
relative; finite differences to their accuracy; at least 90% compile."""
import warnings

import numpy as np
import pytest

import adcompiler as ad
from tests.compiler.values import sample_args
from tests.corpus import load

from .corpus_extra import CASES as EXTRA

CASES = [c for c in load() if not c.name.startswith("grad_")] + EXTRA


def _float_positions(args):
    return tuple(i for i, a in enumerate(args)
                 if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f"))


def _numerical(fn, args, i, h=1e-6):
    """d fn / d args[i] by central differences, shaped like args[i]."""
    x = args[i]
    if isinstance(x, float):
        up, down = list(args), list(args)
        up[i], down[i] = x + h, x - h
        return (fn(*up) - fn(*down)) / (2 * h)
    g = np.zeros(x.shape)
    for k in np.ndindex(x.shape):
        up, down = x.astype(np.float64).copy(), x.astype(np.float64).copy()
        up[k] += h
        down[k] -= h
        a_up, a_down = list(args), list(args)
        a_up[i], a_down[i] = up.astype(x.dtype), down.astype(x.dtype)
        g[k] = (float(fn(*a_up)) - float(fn(*a_down))) / (2 * h)
    return g


def _grads(case, seed=0, fallback="auto"):
    args = sample_args(case, seed)
    wrt = _float_positions(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        g = ad.grad(case.fn, wrt=wrt, fallback=fallback)
        res = g(*args)
    return g, args, wrt, res


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_compiled_traced_and_finite_differences_agree(case):
    g, args, wrt, compiled = _grads(case)
    _, _, _, traced = _grads(case, fallback="always")
    f32 = any(getattr(a, "dtype", None) == np.float32 for a in args)
    for i, c, t in zip(wrt, compiled, traced):
        assert type(c) is type(t) and np.shape(c) == np.shape(args[i])
        np.testing.assert_allclose(c, t, rtol=1e-5 if f32 else 1e-9, atol=1e-6 if f32 else 1e-12)
        if not f32:
            np.testing.assert_allclose(c, _numerical(case.fn, args, i), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_mode_is_as_expected(case):
    g, *_ = _grads(case)
    assert g.mode == getattr(case, "expect", "compiled"), g.explain()


def test_corpus_size_and_compiled_share():
    assert len(CASES) >= 60
    compiled = sum(getattr(c, "expect", "compiled") == "compiled" for c in CASES)
    assert compiled / len(CASES) >= 0.9


def test_second_seed_agrees_too():
    """A different argument draw reuses the specialisation and still agrees."""
    for case in CASES[::7]:
        g, args, wrt, compiled = _grads(case, seed=3)
        _, _, _, traced = _grads(case, seed=3, fallback="always")
        for c, t in zip(compiled, traced):
            np.testing.assert_allclose(c, t, rtol=1e-5, atol=1e-6)
