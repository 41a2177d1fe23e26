"""Lists of unknown length: a loop appends to a list when the front end cannot preallocate it
(a `while` loop, a `for` loop with break/continue, an append under an `if` or in a nested loop),
and the list is read after the loop (np.stack, np.array, np.mean, sum(), len(), xs[k] ...).

The list is a tape in the IR and np.stack(xs) an array whose first extent is a symbol known only
when the code runs (compiler/lists.py). Each function here: compiled == traced == central
differences in float64, the IR interpreter on the adjoint == the generated code, one
specialisation for every list length; forward mode (jvp, hessian) compiled == eager == FD; what
needs the length at compile time is refused with the reason and the user's line."""
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.compiler import print_function, verify
from adcompiler.compiler.forward import forward
from adcompiler.compiler.frontend import compile_function
from adcompiler.compiler.gradient import adjoint_ir
from adcompiler.compiler.interpret import interpret
from adcompiler.compiler.passes import optimize
from adcompiler.compiler.passes.simplify import simplify
from adcompiler.compiler.reverse import reverse
from adcompiler.compiler.types import type_of_value

from .numeric import fd_grad


def grow_while(x):
    xs = []
    s = x
    while np.sum(s) < 10.0:
        s = s * 1.5
        xs.append(s)
    return np.sum(np.stack(xs) ** 2)


def grow_for_break(x):
    xs = []
    for i in range(10):
        if np.sum(x) * i > 6.0:
            break
        xs.append(x * i + 1.0)
    return np.sum(np.array(xs) * 2.0)


def grow_under_if(x):
    xs = []
    for i in range(6):
        v = np.sin(x * i)
        if np.sum(v) > 0:
            xs.append(v)
    return np.sum(np.stack(xs))


def grow_nested(x):
    xs = []
    for i in range(3):
        for j in range(i + 1):
            xs.append(x[j] * x[i])
    return np.sum(np.array(xs) ** 2)


def grow_prefix_items(x):
    xs = [x, x * 2.0]
    s = x
    while np.max(s) < 5.0:
        s = s + np.abs(x) + 0.5
        xs.append(s)
    a = np.stack(xs)
    return np.sum(a * a) + a[-1, 0] + a[0, 1]


def grow_scalars(x):
    out = []
    t = 0.0
    while t < 3.0:
        t = t + x[0] ** 2 + 0.25
        out.append(t * x[1])
    return np.mean(out) + sum(out) * 0.5


def grow_len_and_items(x):
    xs = []
    s = 1.0
    while s < 20.0:
        s = s * 2.0
        xs.append(x * s)
    n = len(xs)
    k = n // 2
    return np.sum(np.stack(xs)) / n + xs[-1][0] + xs[0][1] + np.sum(xs[k]) + np.sum(xs[2]) + \
        np.sum(np.stack(xs)[1:] ** 2)


def grow_rnn(x, W, U):
    h = np.zeros(3)
    hs = []
    t = 0
    while t < x.shape[0]:
        h = np.tanh(W @ h + U @ x[t])
        hs.append(h)
        if np.abs(h).sum() > 50:
            break
        t += 1
    H = np.stack(hs)
    return np.sum(H.mean(axis=0) ** 2) + np.sum(H[-1])


def grow_statistics(x):
    xs = []
    s = x
    while np.sum(s) < 30.0:
        s = s * 1.3 + 0.1
        if np.min(s) > 0.5:
            xs.append(s)
    A = np.array(xs)
    return np.std(A) + np.var(A, axis=0).sum() + np.max(A) + np.mean(A @ x)


def grow_continue(x):
    xs = []
    for i in range(8):
        if i % 3 == 0:
            continue
        xs.append(np.exp(x * 0.1 * i))
    return np.sum(np.stack(xs)) + len(xs)


def grow_two_lists(x):
    a, b = [], []
    s = x
    while np.sum(s) < 12.0:
        s = s + 1.0
        a.append(s)
        b.append(np.sum(s * x))
    return np.sum(np.stack(a) * 0.5) + np.sum(np.array(b))


def grow_matmul_reshape(x, W):
    xs = []
    v = x
    while np.linalg.norm(v) < 10.0:
        v = W @ v + x
        xs.append(v)
    H = np.stack(xs)
    t = 0.0
    for row in xs:
        t = t + np.sum(row * row)
    return np.sum((H @ W.T) ** 2) / H.shape[0] + np.sum(H.reshape(-1)) + np.sum(np.concatenate(xs)) + t


def grow_only_through_list(x):
    # the carried s reaches the result only through the list: its loop must still be reversed
    xs = []
    s = x
    k = 0
    while k < 4:
        s = np.sin(s) + x
        xs.append(s * 2.0)
        k += 1
    return np.sum(np.stack(xs))


def grow_inactive_items_between(x):
    xs = [x * 3.0]
    k = 0
    while k < 3:
        xs.append(np.ones(3) * k)
        if k == 1:
            xs.append(x ** 2)
        k += 1
    return np.sum(np.stack(xs) * np.arange(1.0, 4.0))


def grow_in_an_outer_loop(x):
    # a new list each iteration: the reverse sweep makes it again while it recomputes the iteration
    total = 0.0
    for i in range(3):
        xs = []
        s = x * (i + 1)
        while np.sum(s) < 10.0:
            s = s * 1.5
            xs.append(s)
        total = total + np.sum(np.stack(xs) ** 2) / len(xs)
    return total


def _collect(x):
    xs = []
    s = x
    while np.sum(s) < 10.0:
        s = np.sin(s) + s * 1.5
        xs.append(s)
    return xs


def grow_in_a_helper(x):
    xs = _collect(x)
    ys = []
    for v in xs:              # a preallocated list of the run-time length
        ys.append(np.cos(v))
    n = len(xs)
    return np.sum(np.stack(ys)) + np.sum(xs[n - 1]) + sum([np.sum(v * v) for v in xs])


def grow_in_a_branch(x):
    # the list becomes one of unknown length before the if, so both branches have it
    xs = [x]
    if np.sum(x) > 0:
        s = x
        while np.sum(s) < 10.0:
            s = s * 1.5
            xs.append(s)
    return np.sum(np.stack(xs) ** 2)


R = np.random.default_rng(7)
CASES = [
    (grow_while, (np.array([0.7, 1.1, 0.9]),)),
    (grow_for_break, (np.array([0.3, 0.2, 0.4]),)),
    (grow_under_if, (np.array([0.5, -0.4, 0.9, 0.2]),)),
    (grow_nested, (np.array([0.5, -1.5, 0.75]),)),
    (grow_prefix_items, (np.array([0.3, 0.65, 0.2]),)),
    (grow_scalars, (np.array([0.4, 0.7]),)),
    (grow_len_and_items, (np.array([0.3, -0.8, 0.5]),)),
    (grow_rnn, (R.normal(size=(5, 2)), R.normal(size=(3, 3)) * 0.5, R.normal(size=(3, 2)))),
    (grow_statistics, (np.array([0.8, 1.2, 0.9]),)),
    (grow_continue, (np.array([0.1, -0.5, 0.9]),)),
    (grow_two_lists, (np.array([0.2, 0.7, 0.4]),)),
    (grow_matmul_reshape, (np.array([0.6, 0.8, 0.7]), R.normal(size=(3, 3)) * 0.4 + np.eye(3))),
    (grow_only_through_list, (np.array([0.2, 0.5, -0.3]),)),
    (grow_inactive_items_between, (np.array([0.2, 0.5, -0.3]),)),
    (grow_in_an_outer_loop, (np.array([0.5, 0.5, 0.2]),)),
    (grow_in_a_helper, (np.array([0.4, 0.3, 0.6]),)),
    (grow_in_a_branch, (np.array([0.4, 0.3, 0.6]),)),
]
IDS = [f.__name__ for f, _ in CASES]


def _grad(f, args, **kw):
    return ad.grad(f, wrt=tuple(range(len(args))), **kw)


@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_compiled_equals_traced_and_finite_differences(f, args):
    g = _grad(f, args)
    got = g(*args)
    assert g.mode == "compiled", g.explain()
    traced = _grad(f, args, fallback="always")(*args)
    value, _ = ad.value_and_grad(f, wrt=tuple(range(len(args))))(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-14)
    for k, (a, b) in enumerate(zip(got, traced)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"argument {k}: compiled vs traced")
        fd = fd_grad(lambda z: f(*args[:k], z.reshape(args[k].shape), *args[k + 1:]), args[k].ravel())
        np.testing.assert_allclose(a, fd.reshape(args[k].shape), rtol=1e-6, atol=1e-8,
                                   err_msg=f"argument {k}: compiled vs finite differences")


@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_the_interpreter_on_the_adjoint_ir_equals_the_generated_code(f, args):
    names = f.__code__.co_varnames[:len(args)]
    values = dict(zip(names, args))
    _, adj = adjoint_ir(f, values, names)
    interpreted = interpret(adj, *args, check_types=True)
    compiled = ad.value_and_grad(f, wrt=tuple(range(len(args))))(*args)
    np.testing.assert_allclose(interpreted[0], compiled[0], rtol=1e-14)
    for a, b in zip(interpreted[1:], compiled[1]):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_the_ir_verifies_after_every_stage_and_prints(f, args):
    types = [type_of_value(a) for a in args]
    fwd = compile_function(f, types)
    verify(fwd)
    assert "tape_stack" in print_function(fwd)
    raw = reverse(fwd, list(range(len(args))))
    simple = simplify(raw)
    opt = optimize(simple)
    for stage, fn in (("reverse", raw), ("simplify", simple), ("optimize", opt)):
        try:
            verify(fn)
        except ValueError as e:
            raise AssertionError(f"after {stage}: {e}\n{print_function(fn)}") from None
    assert "len_" in print_function(opt)
    tangents = forward(fwd, list(range(len(args))))
    verify(tangents)


def test_one_specialisation_serves_every_list_length():
    g = ad.grad(grow_while)
    lengths = set()
    for x in (np.array([0.7, 1.1, 0.9]), np.array([3.0, 3.0, 3.5]), np.array([0.1, 0.1, 0.2]),
              np.array([1.5, 2.0, 2.5])):
        s, n = x, 0
        while np.sum(s) < 10.0:
            s, n = s * 1.5, n + 1
        lengths.add(n)
        np.testing.assert_allclose(g(x), ad.grad(grow_while, fallback="always")(x), rtol=1e-12)
        np.testing.assert_allclose(g(x), fd_grad(grow_while, x), rtol=1e-6)
        assert g.mode == "compiled"
    assert len(lengths) == 4
    assert g._compiles == 1, g.explain()


def test_both_branches_of_an_if_see_the_list():
    g = ad.grad(grow_in_a_branch)
    for x in (np.array([0.4, 0.3, 0.6]), np.array([-0.4, 0.3, -0.6]), np.array([2.0, 3.0, 1.0])):
        np.testing.assert_allclose(g(x), ad.grad(grow_in_a_branch, fallback="always")(x), rtol=1e-12)
        np.testing.assert_allclose(g(x), fd_grad(grow_in_a_branch, x), rtol=1e-6)
        assert g.mode == "compiled"
    assert g._compiles == 1


def test_a_new_array_shape_is_served_by_a_shape_generic_specialisation_too():
    g = ad.grad(grow_while)
    for n in (3, 4, 6, 9):
        x = np.linspace(0.5, 1.0, n)
        np.testing.assert_allclose(g(x), ad.grad(grow_while, fallback="always")(x), rtol=1e-12)
    assert "shape-generic" in g.explain() and g._compiles == 2, g.explain()


def test_the_generated_code_reads_like_the_users_loop():
    g = ad.grad(grow_while)
    g(np.array([0.7, 1.1, 0.9]))
    src = g.source
    assert "xs.append(s_1)" in src and "np.stack(xs)" in src and "_len_xs = " in src, src
    assert re.search(r"ds_1 = \w+\[n_xs_1\]", src), src    # each item's cotangent: its row of the stack's


def test_an_empty_list_raises_numpys_error_as_the_function_does():
    x = np.array([20.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="need at least one array to stack"):
        grow_while(x)
    g = ad.grad(grow_while)
    g(np.array([0.7, 1.1, 0.9]))
    with pytest.raises(ValueError, match="need at least one array to stack"):
        g(x)


def test_native_tier_refuses_with_the_reason_and_the_numpy_tier_answers():
    g = ad.grad(grow_rnn, wrt=(1, 2), jit="always")
    args = CASES[IDS.index("grow_rnn")][1]
    got = g(*args)
    assert "NumPy tier; native refused: " in g.explain(), g.explain()
    for a, b in zip(got, ad.grad(grow_rnn, wrt=(1, 2), fallback="always")(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("f, args", [c for c in CASES if len(c[1]) == 1],
                         ids=[f.__name__ for f, a in CASES if len(a) == 1])
def test_forward_mode_jvp_and_hessian_compile(f, args):
    x = args[0]
    v = np.linspace(-1.0, 1.0, x.size).reshape(x.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ad.FallbackWarning)
        value, tangent = ad.jvp(f, (x,), (v,))
        hess = ad.hessian(f)(x)
    np.testing.assert_allclose(value, f(x), rtol=1e-14)
    fd_t = (f(x + 1e-6 * v) - f(x - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(tangent, fd_t, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tangent, np.sum(ad.grad(f)(x) * v), rtol=1e-10, atol=1e-12)
    g = ad.grad(f, fallback="always")
    fd_h = np.stack([(g(x + 1e-6 * e) - g(x - 1e-6 * e)) / 2e-6 for e in np.eye(x.size)])
    np.testing.assert_allclose(hess, fd_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hess, ad.hessian(f, fallback="always")(x), rtol=1e-9, atol=1e-10)


def test_the_exported_adjoint_runs_with_numpy_alone(tmp_path):
    x = np.array([0.3, 0.65, 0.2])
    g = ad.grad(grow_prefix_items)
    want = g(x)
    path = ad.export(g, tmp_path / "grow_grad.py")
    script = ("import sys, numpy as np\nsys.modules['adcompiler'] = None\n"
              f"sys.path.insert(0, {str(tmp_path)!r})\nfrom grow_grad import grow_prefix_items_grad as g\n"
              "for x in ([0.3, 0.65, 0.2], [0.1, 0.15, 0.1], [2.0, 1.0, 3.0]):\n"
              "    print(repr(g(np.array(x))[-1].tolist()))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    rows = [eval(line) for line in out.stdout.splitlines()]
    np.testing.assert_allclose(rows[0], want, rtol=1e-14)
    for row, x in zip(rows[1:], ([0.1, 0.15, 0.1], [2.0, 1.0, 3.0])):
        np.testing.assert_allclose(row, ad.grad(grow_prefix_items, fallback="always")(np.array(x)), rtol=1e-12)
    assert path.exists()


# ---- what is refused (traced, with the reason and the line) ---------------------------------

def read_inside_the_loop(x):
    xs = []
    s = x
    while np.sum(s) < 10.0:
        s = s * 1.5
        xs.append(s)
        m = np.mean(np.stack(xs))
    return m


def first_read_under_an_if(x):
    xs = []
    s = x
    while np.sum(s) < 10.0:
        s = s * 1.5
        xs.append(s)
    if xs:
        return np.sum(np.stack(xs))
    return np.sum(x)


def changed_in_place_after_append(x):
    xs = []
    s = x * 1.0
    while np.sum(s) < 10.0:
        s = s * 1.5
        xs.append(s)
        s[0] = s[0] + 1.0
    return np.sum(np.stack(xs))


def append_after_read(x):
    xs = []
    s = x
    while np.sum(s) < 10.0:
        s = s * 1.5
        xs.append(s)
    a = np.stack(xs)
    xs.append(x)
    return np.sum(a) + np.sum(np.stack(xs))


def list_concatenation(x):
    xs = _collect(x)
    return np.sum(np.stack(xs + [x]))


def shape_needed_at_compile_time(x):
    xs = _collect(x)
    return np.sum(np.stack(xs) + np.ones((4, 3)))


def items_of_two_shapes(x):
    xs = []
    s = x
    while np.sum(s) < 10.0:
        s = s * 1.5
        xs.append(s)
        xs.append(s[:2])
    return np.sum(np.stack(xs))


@pytest.mark.parametrize("f, reason", [
    (read_inside_the_loop, "the list 'xs', whose length is known only at run time, is read here inside an if or "
                           "a loop"),
    (first_read_under_an_if, "read it where it was made"),
    (changed_in_place_after_append, "'s' shares its data with 'xs'"),
    (append_after_read, "appending to 'xs' after it was read as an array (line"),
    (list_concatenation, "but not used as a Python list here"),
    (shape_needed_at_compile_time, "where len_xs is the length of the list 'xs', known only when the code runs"),
    (items_of_two_shapes, "the items appended to 'xs' have different shapes"),
])
def test_refused_with_the_reason_and_traced_right(f, reason):
    x = np.array([0.7, 1.1, 0.9])
    g = ad.grad(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        try:
            want = ad.grad(f, fallback="always")(x)
        except Exception as e:       # f itself raises (broadcasting, two shapes): so must the gradient
            with pytest.raises(type(e)):
                g(x)
        else:
            np.testing.assert_allclose(g(x), want, rtol=1e-12)
    assert g.mode == "traced"
    assert reason in g.explain(), g.explain()
    assert "test_growable_lists.py:" in g.explain(), g.explain()
