"""Constructs the compiler takes since issue 11: literal tuple shapes, nested
functions, closures and lambdas, fancy indexing and run-time boolean masks in
assignments; and the errors for what a gradient cannot be taken of (a tuple or
None returned). Each compiled function: compiled == traced == central
differences (float64), and the compiled path is the one taken."""
import functools

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.compiler import UnsupportedSyntax, compile_function, parse_type

from .test_lists import X, check      # compiled == traced == central differences, and the mode taken

SCALE = np.array([1.0, 2.0, 3.0])


# ---- literal tuple shapes ---------------------------------------------------------------

def zeros_of_a_literal_shape(x):
    z = np.zeros((4, 3)) + np.ones(shape=[4, 1]) * 2.0
    z[1] = x
    e = np.full((2, len(x)), 0.5)
    return np.sum(z * z) + np.sum(e * x) + np.sum(np.eye(3)[:, 1] * x)


def test_literal_tuple_shapes():
    check(zeros_of_a_literal_shape)


# ---- nested functions, closures, lambdas ----------------------------------------------------

def nested_def_reads_the_enclosing_variable_at_the_call(x):
    s = 2.0

    def sq(v, k=3.0):
        return v * v * s + k
    s = np.sum(x)              # Python reads s when sq runs, not when it is defined
    return np.sum(sq(x) + sq(x[::-1], k=1.0))


def apply_twice(f, v):
    return f(f(v))


def lambda_passed_to_a_helper(x):
    w = x * 0.5
    return np.sum(apply_twice(lambda v: np.sin(v) * w, x))


def closure_defined_in_a_loop(x):
    acc = 0.0
    for i in range(3):
        f = lambda v: v * x[i]
        acc = acc + np.sum(f(x))
    return acc


def nested_closures_and_keyword_only(x):
    def outer(a, *, b=2.0):
        def inner(c):
            return a * c + b
        return inner(x) * inner(a)
    return np.sum(outer(x[0], b=x[1]))


def closure_over_a_module_global(x):
    def scaled(v):
        return v * SCALE
    return np.sum(scaled(x) ** 2)


@pytest.mark.parametrize("f", [nested_def_reads_the_enclosing_variable_at_the_call, lambda_passed_to_a_helper,
                               closure_defined_in_a_loop, nested_closures_and_keyword_only,
                               closure_over_a_module_global])
def test_nested_functions_and_lambdas(f):
    check(f)


def test_a_closure_over_a_global_sees_the_global_change_between_calls():
    global SCALE
    g = ad.grad(closure_over_a_module_global)
    saved = SCALE
    try:
        np.testing.assert_allclose(g(X), 2 * X * SCALE ** 2)
        SCALE = np.array([3.0, 1.0, 0.5])
        np.testing.assert_allclose(g(X), 2 * X * SCALE ** 2)
        SCALE[0] = 7.0          # in place, too
        np.testing.assert_allclose(g(X), 2 * X * SCALE ** 2)
        assert g.mode == "compiled", g.explain()
    finally:
        SCALE = saved


def closure_writes_into_the_enclosing_array(x):
    y = x * 2.0

    def inner(v):
        y[0] = v
    inner(x[1])
    return np.sum(y * y)


def closure_escapes(x):
    def make(s):
        return lambda v: v * s
    return np.sum(make(x)(x))


def recursive_closure(x):
    def power(v, n):
        return v if n == 1 else v * power(v, n - 1)
    return np.sum(power(x, 3))


@pytest.mark.parametrize("f, reason", [
    (closure_writes_into_the_enclosing_array, "'inner' changes 'y' of its enclosing function in place"),
    (closure_escapes, "calling '<lambda>' after the function that defined it has returned is not supported"),
    (recursive_closure, "recursive call to 'power' is not supported"),
])
def test_closures_the_compiler_refuses_are_traced_with_the_reason(f, reason):
    g = check(f, mode="traced")
    assert reason in g.explain() and "test_compiler_coverage.py:" in g.explain()


# ---- fancy indexing and masks ---------------------------------------------------------------

def index_array_constant(x):
    return np.sum(x[np.array([0, 2, 2])] ** 2)


def index_list(x):
    return np.sum(x[[1, 2, 1]] * x[[0, 0, 2]])


def index_list_of_run_time_ints(x):
    i = np.argmax(x)
    return np.sum(x[[i, 0, i]] ** 2)


def assign_through_a_run_time_mask(x):
    y = x * 2.0
    y[y < 0] = 0.0
    y[x > 1.0] = x[0] * 3
    return np.sum(y * x)


@pytest.mark.parametrize("f", [index_array_constant, index_list, index_list_of_run_time_ints,
                               assign_through_a_run_time_mask])
def test_fancy_indexing_and_mask_assignment(f):
    check(f)


def read_through_a_run_time_mask(x):
    return np.sum(x[x > 0] ** 2)


def assign_an_array_through_a_mask(x):
    y = x * 2.0
    y[y > 0] = x[:2]
    return np.sum(y * x)


def test_a_run_time_mask_read_is_refused_with_the_reason_and_traced():
    with pytest.raises(UnsupportedSyntax, match="boolean mask computed at run time is not supported: the result's "
                                                "shape depends on the data") as e:
        compile_function(read_through_a_run_time_mask, [parse_type("f64[3]")])
    assert e.value.line == read_through_a_run_time_mask.__code__.co_firstlineno + 1
    check(read_through_a_run_time_mask, mode="traced")
    with pytest.raises(UnsupportedSyntax, match=r"x\[mask\] = v with a boolean mask computed at run time needs a "
                                                "scalar v"):
        compile_function(assign_an_array_through_a_mask, [parse_type("f64[3]")])
    check(assign_an_array_through_a_mask, mode="traced")   # NumPy takes it (two items are true)


# ---- what grad cannot differentiate ----------------------------------------------------------

def returns_a_tuple(x):
    return np.sum(x), x


def returns_nothing(x):
    np.sum(x)


@pytest.mark.parametrize("fallback", ["auto", "never"])
def test_returning_a_tuple_says_has_aux(fallback):
    with pytest.raises(TypeError, match=r"must return a scalar, but returns a tuple \(f64\[\], f64\[3\]\) "
                                        r"\(test_compiler_coverage.py:\d+\); to return extra values too, use "
                                        r"grad\(..., has_aux=True\)"):
        ad.grad(returns_a_tuple, fallback=fallback)(X)
    with pytest.raises(TypeError, match="has_aux=True"):
        ad.grad(returns_a_tuple, fallback="always")(X)
    v, aux = ad.grad(returns_a_tuple, has_aux=True)(X)
    np.testing.assert_allclose(v, np.ones(3))


@pytest.mark.parametrize("fallback", ["auto", "never", "always"])
def test_returning_none_says_so(fallback):
    line = returns_nothing.__code__.co_firstlineno
    with pytest.raises(TypeError, match=rf"returns_nothing returned None; it must return a scalar .*"
                                        rf"\(test_compiler_coverage.py:{line}\)"):
        ad.grad(returns_nothing, fallback=fallback)(X)


def closure_writes_into_its_default(x):
    def bump(v, acc=np.zeros(3)):
        acc += v
        return np.sum(acc * v)
    return bump(x) + bump(x)       # Python: the second call sees the first call's write


def test_a_closure_writing_into_its_default_value_is_refused():
    g = check(closure_writes_into_its_default, mode="traced")
    assert "writes into the default value of its parameter 'acc'" in g.explain()


def map_and_reduce_with_lambdas(x):
    squares = list(map(lambda v: v * v, x))
    pairs = map(lambda a, b: a * b, x, squares)
    return functools.reduce(lambda acc, v: acc + np.sin(v), pairs, 0.0) + functools.reduce(lambda a, b: a * b, x)


def test_map_and_functools_reduce_with_lambdas():
    check(map_and_reduce_with_lambdas)
