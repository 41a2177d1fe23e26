"""Soundness of the compiled path: in-place writes, aliases and views.

The compiler turns the user's in-place writes into functional updates; that is
only right when nothing reads the written memory through another name
afterwards. Each case here was silently miscompiled once. Every case must give
the plain-Python value and the finite-difference gradient, whichever path runs;
cases the memory analysis cannot prove safe must be refused (traced) with the
reason and line."""
import gc
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.compiler import UnsupportedSyntax, compile_function, parse_type
from adcompiler.compiler.frontend import Frontend

from .numeric import fd_grad
from . import soundness_targets as T

X = np.array([0.5, -1.5, 2.0])


def value_and_grad_any_path(f, x):
    g = ad.value_and_grad(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        v, d = g(x.copy())
    return g, v, d


def check(f, x=X, mode=None):
    g, v, d = value_and_grad_any_path(f, x)
    assert v == pytest.approx(f(x.copy()), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(d, fd_grad(lambda z: f(z.copy()), x), rtol=1e-6, atol=1e-8)
    if mode is not None:
        assert g.mode == mode, g.explain()
    return g


@pytest.mark.parametrize("f, reason", [
    (T.alias_written_in_loop, "'a' shares its data with 'b', which is read at line 14"),
    (T.alias_carried_out_of_loop, "'b' shares its data with 'a'"),
    (T.view_written_then_base_read, "'v' shares its data with 'a', which is read at line 55"),
])
def test_writes_through_an_alias_that_is_read_later_are_refused(f, reason):
    g = check(f, mode="traced")
    assert reason in g.explain()


@pytest.mark.parametrize("f, reason", [
    (T.array_augassign_alias, "'a' shares its data with 'b'"),
    (T.zero_d_alias, "'s' shares its data with 't'"),
    (T.alias_of_a_new_array_accumulated_in_loop, "'acc' shares its data with 'total'"),
])
def test_augmented_assignment_to_an_aliased_array_is_refused(f, reason):
    with pytest.raises(UnsupportedSyntax, match=reason):
        compile_function(f, [parse_type("f64[3]")])


def test_an_alias_of_the_callers_array_written_in_a_later_iteration_is_refused():
    with pytest.raises(UnsupportedSyntax, match="would modify an array the caller passed in") as e:
        compile_function(T.write_argument_in_loop_alias, [parse_type("f64[3]")])
    assert e.value.line == T.write_argument_in_loop_alias.__code__.co_firstlineno + 3


@pytest.mark.parametrize("f", [T.alias_from_previous_iteration, T.write_then_alias_unused, T.write_in_branch,
                               T.fill_in_loop])
def test_safe_writes_still_compile(f):
    check(f, mode="compiled")


def _churn(k):
    """Allocate and free objects so that ids of short-lived objects differ from run to run."""
    junk = [object() for _ in range(k)]
    del junk
    gc.collect()


@pytest.mark.parametrize("f", [T.alias_from_previous_iteration, T.write_in_branch, T.fill_in_loop,
                               T.alias_written_in_loop, T.zero_d_alias])
def test_the_decision_does_not_depend_on_memory_addresses(f):
    outcomes = set()
    keep = []
    for k in range(40):
        _churn(k * 37 % 101)
        keep.append([object() for _ in range(k % 7)])  # shift the allocator between attempts
        try:
            outcomes.add(str(Frontend().compile(f, [parse_type("f64[3]")])))
        except UnsupportedSyntax as e:
            outcomes.add("refused: " + str(e))
    assert len(outcomes) == 1, outcomes


@pytest.mark.parametrize("name", ["loss[v2]", "f(): pass\nimport os\ndef g", "lambda", "np", "2nd", "ünï"])
def test_a_function_name_never_reaches_the_generated_source_raw(name):
    def f(x):
        return np.sum(x * x)
    f.__name__ = name
    f.__qualname__ = name
    g = ad.grad(f)
    np.testing.assert_allclose(g(X), 2 * X)
    assert g.mode == "compiled", g.explain()
    header = g.source.splitlines()[0]
    assert header.startswith("def ") and header[4:header.index("(")].isidentifier()
    assert [line for line in g.source.splitlines() if not line.startswith(" ")] == [header]


# ---- numerics: the generated code follows the semantics of what the user wrote ------------------

@pytest.mark.parametrize("f, x", [(T.numpy_sin, np.inf), (T.math_sqrt, 0.0), (T.python_power, 0.0),
                                  (T.numpy_log_of_sum, np.array([1.0, 2.0, 3.0]))])
def test_derivatives_at_singular_points_are_numpys_inf_or_nan_as_traced(f, x):
    with np.errstate(all="ignore"):
        g = ad.grad(f)
        got = g(x)
        want = ad.grad(f, fallback="always")(x)
    assert g.mode == "compiled"
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert not np.all(np.isfinite(got))


def test_python_float_division_by_zero_raises_as_the_users_code_does():
    # (grad alone computes only what the gradient needs: d(x/0.0)/dx is NumPy's inf, as traced)
    g = ad.value_and_grad(T.python_division)
    with pytest.raises(ZeroDivisionError) as e:
        g(2.0)
    assert g.mode == "compiled"
    assert any("soundness_targets.py" in n and "x / 0.0" in n for n in getattr(e.value, "__notes__", []))
    with pytest.raises(ZeroDivisionError):
        T.python_division(2.0)


@pytest.mark.parametrize("f", [T.overwritten_in_loop, T.overwritten_in_branch, T.overwritten_in_while])
def test_an_overwritten_value_does_not_poison_the_gradient(f):
    x = np.array([0.0, 1.5, 2.0])   # sqrt'(0) is infinite, but s = sqrt(x[0]) never reaches the output
    with np.errstate(all="ignore"):
        g = ad.grad(f)
        got = g(x)
        traced = ad.grad(f, fallback="always")(x)
    assert g.mode == "compiled"
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, traced)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(got[1:], fd_grad(f, x)[1:], rtol=1e-6)


def test_a_reshape_to_the_wrong_size_is_refused_in_numpys_words():
    def bad(x):
        return np.sum(x.reshape(4))
    with pytest.raises(UnsupportedSyntax, match=r"cannot reshape array of size 3 into shape \(4,\)"):
        compile_function(bad, [parse_type("f64[3]")])
