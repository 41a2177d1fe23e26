"""The native tier (backends/llvm) against the NumPy tier, the IR interpreter and finite
differences, on scalar code: loops, branches, tapes and their edge cases."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends import llvm as native
from adcompiler.compiler.gradient import adjoint_ir
from adcompiler.compiler.interpret import interpret

from . import native_cases as C

CASES = [
    (C.scalar_loop, (1.3, 0.7, 0.5, 200), (0, 1, 2)),
    (C.scalar_loop, (1.3, 0.7, 0.5, 0), (0, 1, 2)),        # zero trips
    (C.scalar_loop, (1.3, 0.7, 0.5, 1), (0, 1, 2)),        # one trip
    (C.negative_step, (0.3, 9), (0,)),
    (C.negative_step, (0.3, -1), (0,)),                     # zero trips, negative step
    (C.data_dependent_while, (0.2, 3.0), (0, 1)),
    (C.data_dependent_while, (5.0, 3.0), (0, 1)),           # the while never runs
    (C.break_continue_return, (0.9, 20), (0,)),
    (C.break_continue_return, (0.1, 20), (0,)),
    (C.early_return, (0.5, 1.7), (0, 1)),
    (C.early_return, (0.5, 0.9), (0, 1)),
    (C.nested_loops, (0.4, 5, 4), (0,)),                    # inner tapes re-made in each outer step
    (C.branchy, (2.0, 1.0), (0, 1)),
    (C.branchy, (-0.5, 1.0), (0, 1)),
    (C.branchy, (0.5, 1.0), (0, 1)),
    (C.int_arithmetic, (0.7, 17), (0,)),
    (C.int_arithmetic, (0.7, -17), (0,)),
    (C.numpy_scalars, (0.3, 1.2), (0, 1)),
]


def _ids(case):
    f, args, _ = case
    return f"{f.__name__}{args}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_native_equals_numpy_tier_interpreter_and_finite_differences(case):
    f, args, wrt = case
    native_g = ad.value_and_grad(f, wrt=wrt, jit="always")
    numpy_g = ad.value_and_grad(f, wrt=wrt, jit="never")
    v1, g1 = native_g(*args)
    assert native_g.tier == "native", native_g.explain()
    v2, g2 = numpy_g(*args)
    assert numpy_g.tier == "numpy"
    np.testing.assert_allclose([v1, *g1], [v2, *g2], rtol=1e-12, atol=0)
    # the IR interpreter, the reference every backend is checked against
    values = dict(zip(f.__code__.co_varnames, args))
    names = [f.__code__.co_varnames[k] for k in wrt]
    _, adj = adjoint_ir(f, values, names)
    ref = interpret(adj, *args)
    np.testing.assert_allclose([v1, *g1], [float(r) for r in ref], rtol=1e-12, atol=1e-300)
    # finite differences
    for k, gk in zip(wrt, g1):
        h = 1e-6 * max(1.0, abs(args[k]))
        hi, lo = list(args), list(args)
        hi[k] += h
        lo[k] -= h
        assert gk == pytest.approx((f(*hi) - f(*lo)) / (2 * h), rel=1e-5, abs=1e-7)


def test_float32_scalars_stay_float32():
    g = ad.value_and_grad(C.float32_scalar, wrt=(0, 1), jit="always")
    v, (da, db) = g(np.float32(1.5), np.float32(2.0))
    v2, (da2, db2) = ad.value_and_grad(C.float32_scalar, wrt=(0, 1), jit="never")(np.float32(1.5), np.float32(2.0))
    assert g.tier == "native"
    assert (v, da, db) == (v2, da2, db2)
    assert v == C.float32_scalar(np.float32(1.5), np.float32(2.0))     # float32 arithmetic, not float64


def test_a_million_step_tape():
    g = ad.grad(C.long_tape, jit="always")
    got = g(0.8, 1_000_000)
    assert g.tier == "native"
    assert got == pytest.approx(ad.grad(C.long_tape, jit="never")(0.8, 1_000_000), rel=1e-12)


@pytest.mark.parametrize("f, args, error", [
    (C.python_division, (1.0, 0.0), ZeroDivisionError),
    (C.python_sqrt, (-1.0,), ValueError),
])
def test_where_python_raises_the_call_reruns_and_raises_pythons_error(f, args, error):
    g = ad.value_and_grad(f, jit="always")
    g(*[abs(a) + 1.0 for a in args])           # compiles the native code on a harmless input
    assert g.tier == "native"
    with pytest.raises(error):
        g(*args)
    with pytest.raises(error):
        f(*args)


def test_int_overflow_runs_with_pythons_big_ints():
    g = ad.value_and_grad(C.python_int_overflow, jit="always")
    n = 3_000_000_000                          # n ** 3 overflows int64; Python's int does not
    v, d = g(2.0, n)
    assert v == C.python_int_overflow(2.0, n) and d == (n ** 3) % 7
    v, d = g(2.0, 10)
    assert g.tier == "native" and d == 1000 % 7


def test_what_does_not_lower_stays_on_the_numpy_tier_and_explain_says_why():
    def f(x):
        return np.sum((x @ x) * x)
    g = ad.grad(f, jit="always")
    np.testing.assert_allclose(g(np.ones(3)), [9.0, 9.0, 9.0])
    assert g.tier == "numpy"
    assert "native refused: matmul on arrays has no native lowering" in g.explain()
    assert g.llvm_ir is None


def test_auto_moves_to_native_after_a_few_calls():
    g = ad.grad(C.scalar_loop, wrt=(0, 1))
    tiers = []
    for _ in range(6):
        g(1.3, 0.7, 0.5, 10)
        tiers.append(g.tier)
    assert tiers[0] == "numpy" and tiers[-1] == "native", tiers


def _loop_headers(text):
    """{label: number of phis} of the loop headers (labels for/while) in LLVM IR text."""
    headers, label = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.endswith(":") and not line.startswith(" "):
            label = stripped[:-1].strip('"')
            if label.split(".")[0] in ("for", "while"):
                headers[label] = 0
        elif label in headers and " = phi " in stripped:
            headers[label] += 1
    return headers


def test_llvm_ir_has_one_loop_with_a_phi_per_carried_value():
    _, adj = adjoint_ir(C.scalar_loop, {"a": 1.3, "b": 0.7, "x0": 0.5, "n": 10}, ["a", "b"])
    headers = _loop_headers(native.llvm_ir(adj))
    assert list(headers.values()) == [2, 4], headers   # forward: the counter and x; reverse: counter, dx, da, db
    opt = native.llvm_ir(adj, opt=3)
    assert "define" in opt and "@llvm.sin.f64" in opt and "@llvm.cos.f64" in opt


# ---- the disk cache ---------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import sys, json
    sys.path.insert(0, {root!r})
    import adcompiler as ad
    from adcompiler.backends.llvm import cache, shared
    from tests.backends import native_cases as C
    g = ad.grad(C.scalar_loop, wrt=(0, 1), jit="always")
    out = g(1.3, 0.7, 0.5, 100)
    print(json.dumps({{"tier": g.tier, "out": list(out), "stats": cache.stats, "lib": shared.stats,
                      "llvmlite": "llvmlite.binding" in sys.modules}}))
""")


def _child(cache_dir, extra_env=None):
    import json
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, ADCOMPILER_CACHE_DIR=str(cache_dir), **(extra_env or {}))
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=root)], env=env, capture_output=True, text=True,
                         check=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


NO_LINKER = {"PATH": ""}     # no cc/ld: the object-code cache alone


def test_a_second_process_loads_the_kernel_as_a_library_without_llvm(tmp_path):
    first = _child(tmp_path)
    second = _child(tmp_path)
    assert first["tier"] == second["tier"] == "native" and first["out"] == second["out"]
    assert first["stats"]["writes"] == 1 and len(list(tmp_path.glob("native-lib/*/*.lib"))) == 1  # linked
    assert second["lib"]["hits"] == 1 and second["stats"] == {"hits": 0, "misses": 0, "writes": 0, "rejected": 0}
    assert first["llvmlite"] and not second["llvmlite"]


def test_a_second_process_loads_the_object_code_from_the_cache(tmp_path):
    first = _child(tmp_path, NO_LINKER)
    second = _child(tmp_path, NO_LINKER)
    assert first["tier"] == second["tier"] == "native"
    assert first["stats"]["writes"] == 1 and first["stats"]["hits"] == 0 and first["lib"]["writes"] == 0
    assert second["stats"]["hits"] == 1 and second["stats"]["writes"] == 0
    assert first["out"] == second["out"]


def test_a_corrupt_or_truncated_entry_is_rebuilt(tmp_path):
    _child(tmp_path, NO_LINKER)
    (entry,) = list(tmp_path.glob("native/*/*.o"))
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])
    again = _child(tmp_path, NO_LINKER)
    assert again["stats"]["rejected"] == 1 and again["stats"]["writes"] == 1 and again["tier"] == "native"
    entry.write_bytes(data[:-10] + b"0123456789")   # same length, wrong bytes: the checksum fails
    again = _child(tmp_path, NO_LINKER)
    assert again["stats"]["rejected"] == 1 and again["tier"] == "native"
    _child(tmp_path)                                # with a linker: a library entry too
    (lib,) = list(tmp_path.glob("native-lib/*/*.lib"))
    lib.write_bytes(lib.read_bytes()[:-10] + b"0123456789")
    again = _child(tmp_path)
    assert again["lib"]["rejected"] == 1 and again["stats"]["hits"] == 1 and again["tier"] == "native"
    assert again["out"] == _child(tmp_path)["out"]


def test_an_unwritable_or_disabled_cache_still_works(tmp_path):
    blocker = tmp_path / "a-file"          # the cache folder cannot be made inside a file (even as root,
    blocker.write_text("")                 # where a read-only folder would still be writable)
    out = _child(blocker / "cache")
    assert out["tier"] == "native" and out["stats"]["writes"] == 0 and out["lib"]["writes"] == 0
    off = _child(tmp_path / "off", {"ADCOMPILER_CACHE": "0"})
    assert off["tier"] == "native" and off["stats"] == {"hits": 0, "misses": 0, "writes": 0, "rejected": 0}
    assert off["lib"] == off["stats"]
    assert not (tmp_path / "off").exists()


def test_concurrent_writers_leave_one_good_entry(tmp_path):
    import json
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, ADCOMPILER_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD.format(root=root)], env=env, cwd=root,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    assert all(o["tier"] == "native" for o in outs) and outs[0]["out"] == outs[1]["out"]
    assert len(list(tmp_path.glob("native/*/*.o"))) == 1 and len(list(tmp_path.glob("native-lib/*/*.lib"))) == 1
    assert not list(tmp_path.glob("native*/*/.tmp-*")) and not list(tmp_path.glob("native*/*/.load-*"))
    assert _child(tmp_path)["lib"]["hits"] == 1


def test_the_cache_key_changes_with_the_ir():
    from adcompiler.backends.llvm.cache import key_for
    a = key_for("func @f(%x: f64) {  # a.py:1\n  %0 = sin %x : f64\n}", 1)
    b = key_for("func @f(%x: f64) {  # b.py:9\n  %0 = sin %x : f64\n}", 1)
    c = key_for("func @f(%x: f64) {\n  %0 = cos %x : f64\n}", 1)
    d = key_for("func @f(%x: f64) {\n  %0 = sin %x : f64\n}", 2)
    assert a == b and len({a, c, d}) == 3


# ---- fastmath ----------------------------------------------------------------------------------

def test_fastmath_reassociates_only_where_asked_and_stays_close():
    strict = ad.value_and_grad(C.weighted_sum, jit="always")
    fast = ad.value_and_grad(C.weighted_sum, jit="always", fastmath=True)
    numpy_tier = ad.value_and_grad(C.weighted_sum, jit="never")
    ref = numpy_tier(0.3, 1001)
    got_strict, got_fast = strict(0.3, 1001), fast(0.3, 1001)
    assert strict.tier == fast.tier == "native"
    assert got_strict == ref                                 # bit for bit without fastmath
    assert got_fast == pytest.approx(ref, rel=1e-12)         # reassociated: the last bits may differ
    assert "reassoc contract" in fast.llvm_ir and "reassoc" not in strict.llvm_ir
    assert "nnan" not in fast.llvm_ir and "ninf" not in fast.llvm_ir


def test_fastmath_keeps_pythons_errors():
    g = ad.grad(C.python_sqrt, jit="always", fastmath=True)
    with pytest.raises(ValueError, match="math domain error"):
        g(-1.0)
    assert g(4.0) == pytest.approx(0.5)           # d(2*sqrt(a))/da = 1/sqrt(a)


# ---- ad.jit: the forward alone -----------------------------------------------------------------

def test_jit_runs_a_plain_function_natively_and_agrees_with_python():
    f = ad.jit(C.scalar_loop)
    for args in [(1.3, 0.7, 0.5, 100), (0.2, 1.1, -0.4, 0), (1.0, 0.5, 0.3, 7)]:
        assert f(*args) == C.scalar_loop(*args)       # no fast-math: bit for bit
    assert f.tier == "native" and "compiled (native tier" in f.explain()
    assert "define" in f.llvm_ir and "def scalar_loop" in f.source
    g = ad.jit(C.int_arithmetic)
    assert g(1.5, -7) == C.int_arithmetic(1.5, -7) and g.tier == "native"


def test_jit_keeps_pythons_errors_and_falls_back_where_it_cannot_lower():
    f = ad.jit(C.python_division)
    assert f(1.0, 4.0) == 0.25
    with pytest.raises(ZeroDivisionError):
        f(1.0, 0.0)

    def uses_matmul(a, w):
        return np.sum(a @ w)

    g = ad.jit(uses_matmul)
    a, w = np.ones((2, 3)), np.arange(3.0)
    assert g(a, w) == uses_matmul(a, w) and g.tier == "numpy" and "native refused" in g.explain()


def test_jit_copies_arrays_it_did_not_make_and_runs_what_it_refuses_as_python():
    def ident(x):
        return x

    f = ad.jit(ident)
    x = np.arange(3.0)
    y = f(x)
    np.testing.assert_array_equal(y, x)
    y[0] = 99.0
    assert x[0] == 0.0

    def with_try(x):
        try:
            return x + 1
        except ValueError:
            return 0.0

    g = ad.jit(with_try)
    with pytest.warns(ad.FallbackWarning, match="try/except"):
        assert g(1.0) == 2.0
    assert g.tier == "python"
    from adcompiler.compiler import UnsupportedSyntax
    with pytest.raises(UnsupportedSyntax, match="try/except"):
        ad.jit(with_try, fallback="never")(1.0)


def test_jit_sees_a_global_changed_between_calls():
    f = ad.jit(C.uses_global_scale)
    assert f(2.0) == C.uses_global_scale(2.0)
    C.SCALE = 5.0
    try:
        assert f(2.0) == C.uses_global_scale(2.0) == 10.0
    finally:
        C.SCALE = 3.0


# ---- every corpus function: native where it lowers, and then equal to the other tiers -------------

def _corpus():
    from tests.grad.test_differential import CASES as corpus
    return corpus


def _corpus_on_the_native_tier():
    """(case, args, wrt, the value_and_grad with jit="always", its result) for each corpus function."""
    import warnings
    from tests.compiler.values import sample_args
    from tests.grad.test_differential import _float_positions
    for case in _corpus():
        args = sample_args(case, 0)
        wrt = _float_positions(args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ad.FallbackWarning)
            g = ad.value_and_grad(case.fn, wrt=wrt, jit="always")
            got = g(*args)
        yield case, args, wrt, g, got


def test_every_corpus_function_that_lowers_agrees_with_the_numpy_tier_and_the_interpreter():
    native_count = refused = 0
    for case, args, wrt, g, got in _corpus_on_the_native_tier():
        if g.mode != "compiled":
            continue
        if g.tier != "native":
            refused += 1
            assert "native refused" in g.explain() and "internally" not in g.explain(), g.explain()
            continue
        native_count += 1
        want = ad.value_and_grad(case.fn, wrt=wrt, jit="never")(*args)
        np.testing.assert_allclose(np.hstack([np.ravel(got[0]), *map(np.ravel, got[1])]),
                                   np.hstack([np.ravel(want[0]), *map(np.ravel, want[1])]), rtol=1e-12, atol=0)
        compiled = g._last.compiled
        ref = interpret(compiled.ir, *[args[i] for i in range(len(args))], *compiled.forward_ir.hidden_values())
        np.testing.assert_allclose(np.hstack([np.ravel(r) for r in ref]),
                                   np.hstack([np.ravel(got[0]), *map(np.ravel, got[1])]), rtol=1e-12, atol=1e-300)
    assert native_count >= 3 and refused >= 10, (native_count, refused)


# ---- functions that lower only in part: native kernels for the array regions, NumPy glue -----------

def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) / X.shape[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_function_with_matmul_runs_its_array_regions_native_and_says_so(dtype):
    r = np.random.default_rng(0)
    args = [r.standard_normal((30, 20)) / 5, r.standard_normal(20) / 10, r.standard_normal((20, 10)) / 5,
            r.standard_normal(10) / 10, r.standard_normal((64, 30)), np.eye(10)[r.integers(0, 10, 64)]]
    args = [a.astype(dtype) for a in args]
    g = ad.value_and_grad(mlp_loss, wrt=(0, 1, 2, 3), jit="always")
    got = g(*args)
    assert g.tier == "native"
    text = g.explain()
    assert "native tier for the array regions" in text and "kept as NumPy: matmul at line" in text, text
    assert "_k0(" in g._last.compiled.native.host.source
    want = ad.value_and_grad(mlp_loss, wrt=(0, 1, 2, 3), jit="never")(*args)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got[0], want[0], rtol=rtol)
    for a, b in zip(got[1], want[1]):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-7 if dtype == np.float32 else 1e-15)
    again = g(*args)                      # a second call: fresh results, same values
    assert again[1][0] is not got[1][0]
    np.testing.assert_array_equal(again[1][0], got[1][0])


def test_every_corpus_function_that_lowers_in_part_agrees_with_the_numpy_tier(monkeypatch):
    from adcompiler.backends.llvm import outline
    monkeypatch.setattr(outline, "MIN_ELEMENTS", 0)     # the corpus's arrays are small: outline them anyway
    partial = 0
    for case, args, wrt, g, got in _corpus_on_the_native_tier():
        if g.mode != "compiled" or "array regions" not in g.explain():
            continue
        want = ad.value_and_grad(case.fn, wrt=wrt, jit="never")(*args)
        partial += 1
        assert g.tier == "native"
        for a, b in zip([got[0], *got[1]], [want[0], *want[1]]):
            assert np.shape(a) == np.shape(b)
            np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=1e-15)
    assert partial >= 10, partial


def tanh_layer(x, w):
    return np.sum(np.tanh(x * w) * x + x * x)


def test_a_large_array_op_with_a_libm_call_per_element_stays_numpy():
    """NumPy's tanh, exp, log ... are vectorised loops; a native kernel would call libm per element."""
    from adcompiler.backends.llvm import outline
    x, w = np.linspace(-1, 1, 4096), np.full(4096, 0.5)
    g = ad.grad(tanh_layer, jit="always")
    d = g(x, w)
    text = g.explain()
    assert "kept as NumPy: tanh at line" in text, text            # the rest is native around it
    np.testing.assert_allclose(d, ad.grad(tanh_layer, jit="never")(x, w), rtol=1e-14)
    small = ad.grad(tanh_layer, jit="always")
    small(x[:16], w[:16])
    assert small.tier == "native" and "machine code" in small.explain()   # 16 elements: all native
    assert outline.MIN_ELEMENTS == 256


def test_jit_of_a_function_with_matmul_runs_its_array_regions_native():
    r = np.random.default_rng(1)
    args = [r.standard_normal((30, 20)) / 5, r.standard_normal(20) / 10, r.standard_normal((20, 10)) / 5,
            r.standard_normal(10) / 10, r.standard_normal((64, 30)), np.eye(10)[r.integers(0, 10, 64)]]
    j = ad.jit(mlp_loss)
    assert j(*args) == pytest.approx(mlp_loss(*args), rel=1e-12)
    assert j.tier == "native" and "native tier for the array regions" in j.explain(), j.explain()


def rosen_for_views(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_views_run_on_the_kernel_that_reads_strides():
    """A strided argument (every other element, reversed, a column of a matrix) is read where it is,
    on a second kernel compiled for strided arrays on the first such call, not copied."""
    big = np.random.default_rng(4).standard_normal((3, 400))
    g = ad.grad(rosen_for_views, jit="always")
    want = ad.grad(rosen_for_views, jit="never")
    contiguous = np.ascontiguousarray(big[0, ::2])
    np.testing.assert_array_equal(g(contiguous), want(contiguous))
    native = g._last.compiled.native
    assert native._variant is None                       # nothing strided seen yet
    column = np.ascontiguousarray(big[:, :200].T)[:, 1]          # (200,), a stride of 3 elements
    for view in (big[1, ::2], big[2, ::-2], column, big.T[::2, 0]):
        assert view.shape == (200,) and not view.flags.c_contiguous
        np.testing.assert_array_equal(g(view), want(np.ascontiguousarray(view)))
        assert g.tier == "native"
    assert isinstance(native._variant, type(native)) and native._variant._strided
    assert native._variant.calls >= 2
