"""Python lists of traced values: list displays, tuples and comprehensions given to
np.sum/mean/std/var/stack/array and builtin sum(), and lists appended to in a loop
(an RNN). Each function: compiled == traced == central differences (float64), and
the compiled path is the one taken; what cannot be compiled is refused with the
reason and the user's line, and still gives the right number by tracing."""
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.compiler import UnsupportedSyntax, compile_function, parse_type

from .numeric import fd_grad

X = np.array([0.5, -1.5, 2.0])
M = np.array([[0.5, -1.5], [2.0, 0.3], [0.1, 0.7]])
W = np.array([[0.3, -0.2], [0.1, 0.4]])


def check(f, x=X, mode="compiled"):
    g = ad.value_and_grad(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        v, d = g(x.copy())
    tv, td = ad.value_and_grad(f, fallback="always")(x.copy())
    want = f(x.copy())
    fd = fd_grad(lambda z: f(z.reshape(x.shape)), x.ravel()).reshape(x.shape)
    assert g.mode == mode, g.explain()
    for value, grad, path in ((v, d, g.mode), (tv, td, "traced")):
        np.testing.assert_allclose(value, want, rtol=1e-12, err_msg=f"{path} value")
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8, err_msg=f"{path} gradient")
    np.testing.assert_allclose(d, td, rtol=1e-10, atol=1e-12, err_msg="compiled vs traced")
    return g


# ---- reductions of lists, tuples and comprehensions --------------------------------------

def mean_of_list(x):
    return np.mean([x, x + 2])


def std_of_tuple(x):
    return np.std((x[0], x[1] * 3, 2.0)) + np.var([x[0], x[2]], ddof=1)


def sum_of_list_of_0d(x):
    return np.sum([x[0], x[1] * 2, x[2]]) + np.max([x[0], x[1]]) + np.prod((x[0], x[2]))


def builtin_sum_of_generator(x):
    w = x * 0.5 + 1.0
    return sum(w[i] * x[i] for i in range(3))


def builtin_sum_of_comprehension(x):
    return sum([v ** 2 for v in x]) + sum([x[i] * x[j] for i in range(3) for j in range(i)])


def comprehension_with_static_if(x):
    return np.sum(np.stack([x[i] * i for i in range(3) if i != 1]))


def comprehension_over_enumerate_and_zip(x):
    a = [v * k for k, v in enumerate(x)]
    b = [u * v for u, v in zip(x, a)]
    return np.mean(np.array(b)) + sum(a)


def array_of_nested_lists(x):
    return np.sum(np.array([[x[0], x[1]], [x[2], 1.0]]) ** 2)


def concatenate_lists_of_0d(x):
    return np.sum(np.concatenate([[x[0], x[1]], x[1:]]) ** 2)


def sum_of_tuple_value(x):
    t = (x[0], x[1] * x[2])
    return sum(t) + np.mean(t)


@pytest.mark.parametrize("f", [mean_of_list, std_of_tuple, sum_of_list_of_0d, builtin_sum_of_generator,
                               builtin_sum_of_comprehension, comprehension_with_static_if,
                               comprehension_over_enumerate_and_zip, array_of_nested_lists,
                               concatenate_lists_of_0d, sum_of_tuple_value])
def test_lists_of_traced_values(f):
    check(f)


def concatenate_0d(x):
    return np.sum(np.concatenate([x[0], x[1]]))


def test_concatenate_of_0d_values_is_numpys_error_on_both_paths():
    with pytest.raises(ValueError, match=r"zero-dimensional arrays cannot be concatenated \(test_lists.py:\d+\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ad.FallbackWarning)
            ad.grad(concatenate_0d)(X)


def comprehension_with_dynamic_if(x):
    return sum([v for v in x if v > 0])


def test_a_comprehension_with_a_run_time_if_is_refused_and_traced():
    with pytest.raises(UnsupportedSyntax, match="comprehension's `if` on a run-time value") as e:
        compile_function(comprehension_with_dynamic_if, [parse_type("f64[3]")])
    assert e.value.line == comprehension_with_dynamic_if.__code__.co_firstlineno + 1
    check(comprehension_with_dynamic_if, mode="traced")


# ---- append in a loop ------------------------------------------------------------------

def rnn(x):
    h = np.zeros(2)
    hs = []
    for t in range(3):
        h = np.tanh(W @ h + x[t])
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def rnn_outputs_as_array(x):
    h = np.zeros(2)
    ys = []
    for t in range(len(x)):
        h = np.tanh(W @ h + x[t])
        ys.append(np.sum(h * h))
    return np.mean(np.array(ys)) + ys[-1] + len(ys)


def prefix_and_reads_in_the_loop(x):
    hs = [x[0] * 0.5]
    for t in range(1, 3):
        hs.append(np.sin(x[t]) * hs[0])
        hs.append(hs[-1] * 2.0)
    return np.mean(np.array(hs)) + sum(hs).sum() + len(hs)


def strided_range_and_scalars(x):
    h = 0.0
    out = []
    for i in range(5, -1, -2):
        h = h * 0.5 + x[i // 2, 0]
        out.append(h)
        out.append(h * h)
    return np.sum(np.array(out)) + out[-1] + out[1] * 2


def list_used_after_the_loop(x):
    hs = []
    for row in x:
        hs.append(row * 2.0)
    hs.append(x[0])
    total = 0.0
    for h in hs:
        total = total + np.sum(h ** 2)
    a, b, c, d = hs
    return total + np.sum(np.concatenate(hs)) + np.sum(hs[1:][0] * d) + np.sum(list(hs)[2]) + np.sum(sum(hs))


def two_loops_append_to_one_list(x):
    hs = []
    for i in range(2):
        hs.append(x[i] * x[i])
    for i in range(3):
        hs.append(np.cos(x[i]))
    return np.sum(np.stack(hs, axis=0) * np.arange(1.0, 6.0)[:, None])


def append_under_an_if(x):
    hs = [x[0]]
    for t in range(3):
        if np.sum(x[t]) > 0:
            hs.append(x[t] * 2.0)
    return np.sum(np.stack(hs))


def append_in_a_while_loop(x):
    hs = []
    t = 0
    while t < 3:
        hs.append(x[t] * 3.0)
        t += 1
    return np.sum(np.stack(hs) ** 2)


@pytest.mark.parametrize("f", [rnn, rnn_outputs_as_array, prefix_and_reads_in_the_loop, strided_range_and_scalars,
                               list_used_after_the_loop, two_loops_append_to_one_list,
                               append_under_an_if, append_in_a_while_loop])
def test_append_in_a_loop(f):
    check(f, M)     # under an if or in a while loop: a list of unknown length (test_growable_lists.py)


def test_the_appended_list_is_one_preallocated_array():
    g = ad.grad(rnn)
    g(M)
    assert "np.zeros((3, 2), np.float64)" in g.source, g.source
    code = [line for line in g.source.splitlines() if not line.strip().startswith("#")]
    assert not any("hs.append" in line or "np.stack" in line for line in code), g.source  # no list at run time


# ---- appends the compiler refuses (the right number by tracing) ---------------------------

def same_array_appended_each_iteration(x):
    h = np.zeros(2)
    hs = []
    for t in range(3):
        h[...] = np.tanh(x[t])
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def list_with_two_names(x):
    hs = []
    ys = hs
    for t in range(3):
        hs.append(x[t])
    return np.sum(np.stack(ys) ** 2)


def list_passed_to_a_helper_that_appends(x):
    hs = []
    _append_squares(hs, x)
    return np.sum(np.stack(hs))


def _append_squares(out, x):
    for t in range(3):
        out.append(x[t] ** 2)


@pytest.mark.parametrize("f, reason", [
    (same_array_appended_each_iteration, "'h' shares its data with 'hs'"),
    (list_with_two_names, "appending to 'hs', which 'ys' also refers to"),
    (list_passed_to_a_helper_that_appends, "appending to 'out', which 'hs' of a calling function also refers to"),
])
def test_appends_that_cannot_be_compiled_are_refused_with_the_reason(f, reason):
    g = check(f, M, mode="traced")
    assert reason in g.explain()
    assert "test_lists.py:" in g.explain()


def rnn_with_states_as_aux(x):
    h = np.zeros(2)
    hs = []
    for t in range(3):
        h = np.tanh(W @ h + x[t])
        hs.append(h)
    return np.sum(np.stack(hs) ** 2), hs


def test_an_appended_list_returned_as_aux_is_its_items():
    g = ad.grad(rnn_with_states_as_aux, has_aux=True)
    d, aux = g(M)
    _, want = rnn_with_states_as_aux(M)
    assert g.mode == "compiled", g.explain()
    assert len(aux) == 3
    for a, w in zip(aux, want):
        np.testing.assert_allclose(a, w, rtol=1e-14)
    np.testing.assert_allclose(d, ad.grad(rnn, fallback="always")(M), rtol=1e-12)


# ---- a list of arrays from outside the function: read when the code runs ---------------------------

ROWS = [np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0, -1.0])]


def mean_of_a_global_list(x):
    return np.sum(np.mean(ROWS, axis=0) * x) + sum(ROWS)[0] * x[0] + np.sum(np.stack(ROWS) @ x)


def test_a_global_list_of_arrays_changed_between_calls():
    g = ad.grad(mean_of_a_global_list)
    saved = [r.copy() for r in ROWS]
    try:
        for change in (lambda: None, lambda: ROWS[0].__setitem__(0, 10.0), lambda: ROWS.append(np.ones(3)),
                       lambda: ROWS.__setitem__(1, np.array([0.5, 0.5, 0.5]))):
            change()
            got = g(X)
            assert g.mode == "compiled", g.explain()
            np.testing.assert_allclose(got, ad.grad(mean_of_a_global_list, fallback="always")(X), rtol=1e-12)
            np.testing.assert_allclose(got, fd_grad(mean_of_a_global_list, X), rtol=1e-7)
    finally:
        ROWS[:] = saved


def stack_of_a_list_no_iteration_appended_to(x):
    hs = []
    for t in range(0):
        hs.append(x[t])
    return np.sum(np.stack(hs))


def test_an_empty_appended_list_is_refused_and_numpys_error_raised():
    with pytest.raises(UnsupportedSyntax, match="this list is empty here"):
        compile_function(stack_of_a_list_no_iteration_appended_to, [parse_type("f64[3,2]")])
    with pytest.raises(ValueError, match=r"need at least one array to stack \(test_lists.py:\d+\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ad.FallbackWarning)
            ad.grad(stack_of_a_list_no_iteration_appended_to)(M)


# ---- long comprehensions become loops -----------------------------------------------------------

V = np.linspace(-1.0, 1.5, 60)


def long_comprehensions(x):
    a = np.array([np.sin(x[i]) * x[59 - i] for i in range(60)])
    return np.sum(a ** 2) + sum(v * v for v in x) + np.mean([(x[i], x[i] * 2.0)[1] for i in range(40)])


def test_a_long_comprehension_is_one_loop_not_unrolled():
    g = check(long_comprehensions, V)
    ir = compile_function(long_comprehensions, [parse_type("f64[60]")])
    assert [op.name for op in ir.body.ops].count("for") == 3
    assert len(ir.body.ops) < 80, len(ir.body.ops)
    assert g.mode == "compiled"
