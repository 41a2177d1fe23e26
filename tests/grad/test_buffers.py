"""The NumPy tier's reuse of dead temporaries (out= buffers, backends/python.py `_Buffers`): with
the size threshold at 1 so every corpus function's arrays qualify, the generated code with buffers
returns exactly what the code without them returns, leaves the arguments alone, and never returns
a buffer it will write again."""
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends import python as python_backend
from tests.compiler.values import sample_args

from .test_differential import CASES, _float_positions

@pytest.fixture
def reuse_everything(monkeypatch):
    monkeypatch.setattr(python_backend, "REUSE_MIN_SIZE", 1)


def _same(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True) and np.shape(a) == np.shape(b)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_buffers_change_nothing_but_memory(case, reuse_everything):
    args = sample_args(case, 0)
    wrt = _float_positions(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        g = ad.value_and_grad(case.fn, wrt=wrt, jit="never")
        g(*args)
    if g.mode != "compiled":
        pytest.skip("traced")
    compiled = g._last.compiled
    params = [n for n in compiled.param_names]
    call_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in call_args]
    plain = compiled.compiled.plain(*call_args, *compiled.forward_ir.hidden_values())
    reused = compiled.compiled.func(*call_args, *compiled.forward_ir.hidden_values())
    assert _same(plain, reused), compiled.source
    assert all(_same(a, b) for a, b in zip(before, call_args)), "an argument was written"
    again = compiled.compiled.func(*call_args, *compiled.forward_ir.hidden_values())
    assert _same(reused, again), "a returned array was overwritten by the next call"
    assert len(params) == len(args)


def test_some_corpus_functions_do_use_buffers(reuse_everything):
    used = 0
    for case in CASES:
        args = sample_args(case, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ad.FallbackWarning)
            g = ad.value_and_grad(case.fn, wrt=_float_positions(args), jit="never")
            g(*args)
        used += g.mode == "compiled" and "out=" in g.source
    assert used >= 10, used


def test_rosenbrock_takes_fewer_fresh_arrays():
    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    x = np.random.default_rng(0).normal(size=5000)
    g = ad.grad(rosen, jit="never")
    got = g(x)
    assert g.source.count("out=") >= 4, g.source
    assert "dx[:-1] += " in g.source and "dx[1:] += " in g.source, g.source   # accumulated in place
    xm = x[:-1]
    d = x[1:] - xm * xm
    want = np.zeros_like(x)
    want[:-1] = -400 * d * xm - 2 * (1 - xm)
    want[1:] += 200 * d
    np.testing.assert_allclose(got, want, rtol=1e-12)


W16 = np.random.default_rng(3).normal(size=(16, 16)) * 0.3


def rnn(x):
    h = np.zeros(16)
    hs = []
    for t in range(x.shape[0]):
        h = np.tanh(W16 @ h + x[t])
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def test_writes_in_loops_run_in_place_and_agree_with_the_functional_code():
    x = np.random.default_rng(4).normal(size=(40, 16))
    g = ad.value_and_grad(rnn, jit="never")
    value, grad = g(x)
    src = g.source
    assert "] = h_" in src, src                    # forward: one row written per step
    assert ".copy()" in src and "] = 0.0" in src, src                             # adjoint: in place too
    compiled = g._last.compiled
    plain = compiled.compiled.plain(x, *compiled.forward_ir.hidden_values())
    assert plain[0] == value and np.array_equal(plain[1], grad)
    traced_value, traced = ad.value_and_grad(rnn, fallback="always")(x)
    np.testing.assert_allclose(grad, traced, rtol=1e-12, atol=1e-14)
