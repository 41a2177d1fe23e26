"""Minimal reproductions of what the state families of test_properties.py found: aliases,
views and in-place writes, 0-d arrays and NumPy scalars, module globals that change
between calls, keyword arguments.

The rule is the properties': whichever path `grad` takes (compiled, or traced after the
compiler refused), the value is the plain NumPy value (f run on copies of its arguments)
and the gradient is the central-difference one; when the compiler takes the function, the
compiled and traced gradients agree. Refusing (tracing, with a FallbackWarning) is fine.

Open bugs are xfail(strict=True), and the default runs of the properties keep away from
them (test_properties.KNOWN_STATE_BUGS names these tests): when one is fixed, pytest
reports XPASS as a failure -- remove the xfail here and the tag there. Fixed ones stay as
regression tests; each says what it did wrong and on which commit.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.compiler import UnsupportedSyntax

A = 0.7
X = np.array([0.1, 0.2, 0.3])


def _copied(kw):
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in kw.items()}


def _value(fn, a, x, kw):
    a = a.copy() if isinstance(a, np.ndarray) else a
    return float(np.asarray(fn(a, x.copy(), **_copied(kw))).reshape(()))


def _shifted(a, h):
    """a + h, of a's type (a 0-d array stays one)."""
    return np.array(a + h) if isinstance(a, np.ndarray) else a + h


def central_differences(fn, a, x, kw, h=1e-6):
    da = (_value(fn, _shifted(a, h), x, kw) - _value(fn, _shifted(a, -h), x, kw)) / (2 * h)
    dx = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        dx[j] = (_value(fn, a, x + e, kw) - _value(fn, a, x - e, kw)) / (2 * h)
    return da, dx


def check_any_path(fn, a=A, x=X, g=None, **kw):
    """Assert the rule above for fn(a, x, **kw), differentiated w.r.t. a and x; returns the
    `grad` object (pass it back as `g` to call the same one again)."""
    want = _value(fn, a, x, kw)
    fd_a, fd_x = central_differences(fn, a, x, kw)
    g = g or ad.value_and_grad(fn, wrt=(0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        value, (da, dx) = g(np.copy(a) if isinstance(a, np.ndarray) else a, x.copy(), **_copied(kw))
    tvalue, (tda, tdx) = ad.value_and_grad(fn, wrt=(0, 1), fallback="always")(
        np.copy(a) if isinstance(a, np.ndarray) else a, x.copy(), **_copied(kw))
    np.testing.assert_allclose(tvalue, want, rtol=1e-12, err_msg="traced value")
    np.testing.assert_allclose(tda, fd_a, rtol=1e-5, atol=1e-6, err_msg="traced d/da")
    np.testing.assert_allclose(tdx, fd_x, rtol=1e-5, atol=1e-6, err_msg="traced d/dx")
    np.testing.assert_allclose(value, want, rtol=1e-12, err_msg=f"{g.mode} value")
    np.testing.assert_allclose(da, fd_a, rtol=1e-5, atol=1e-6, err_msg=f"{g.mode} d/da")
    np.testing.assert_allclose(dx, fd_x, rtol=1e-5, atol=1e-6, err_msg=f"{g.mode} d/dx")
    if g.mode == "compiled":
        np.testing.assert_allclose(da, tda, rtol=1e-9, atol=1e-12, err_msg="compiled vs traced d/da")
        np.testing.assert_allclose(dx, tdx, rtol=1e-9, atol=1e-12, err_msg="compiled vs traced d/dx")
    return g


def check_compiled_if_taken(fn, a=A, x=X):
    """If the compiler takes fn, its value and gradient are the plain and central-difference ones."""
    want = _value(fn, a, x, {})
    fd_a, fd_x = central_differences(fn, a, x, {})
    try:
        value, (da, dx) = ad.value_and_grad(fn, wrt=(0, 1), fallback="never")(a, x.copy())
    except UnsupportedSyntax:
        return
    np.testing.assert_allclose(value, want, rtol=1e-12, err_msg="compiled value")
    np.testing.assert_allclose(da, fd_a, rtol=1e-5, atol=1e-6, err_msg="compiled d/da")
    np.testing.assert_allclose(dx, fd_x, rtol=1e-5, atol=1e-6, err_msg="compiled d/dx")


def check_traced(fn, a=A, x=X, **kw):
    """The traced path alone gives the plain value and the central-difference gradient."""
    want = _value(fn, a, x, kw)
    fd_a, fd_x = central_differences(fn, a, x, kw)
    value, (da, dx) = ad.value_and_grad(fn, wrt=(0, 1), fallback="always")(a, x.copy(), **_copied(kw))
    np.testing.assert_allclose(value, want, rtol=1e-12, err_msg="traced value")
    np.testing.assert_allclose(da, fd_a, rtol=1e-5, atol=1e-6, err_msg="traced d/da")
    np.testing.assert_allclose(dx, fd_x, rtol=1e-5, atol=1e-6, err_msg="traced d/dx")


# ---- fixed (92af37b): the compiler read a 0-d view y[i, ...] as a copy -------------------------
#
# y[1, ...] and y[..., 1] are 0-d *views* of y in NumPy (y[1] is a copy, a NumPy scalar). Before
# 92af37b the compiler compiled these as copies: a write through the view does not reach y, a write to y
# does not reach the view. At a=0.7, x=[0.1, 0.2, 0.3] (the traced path is right):
#   zero_d_view_written:      value 0.7546, d/da 2.156, d/dx [0.098, 1.176, 0.294];
#                             compiled 0.0686, 0.196, [0.098, 0.196, 0.294] (the write is lost)
#   zero_d_view_set:          value 0.2891, d/da 1.512, d/dx [0.098, 0, 0.294];
#                             compiled 0.0686, 0.196, [0.098, 0.196, 0.294]
#   zero_d_view_scaled:       value 0.058604, d/da 0.19488, d/dx [0.098, 0.09604, 0.294];
#                             compiled 0.0686, 0.196, [0.098, 0.196, 0.294]
#   zero_d_view_of_written_base: value 0.98, d/da 2.8, d/dx [0, 0, 0];
#                             compiled 0.098, 0.28, [0, 0.49, 0] (s keeps y's old element)
#   zero_d_view_of_x_written: value 0.2901, d/da 1.372, d/dx [0.2, 0.4, 0];
#                             compiled 0.14, 0, [0.2, 0.4, 0.6] (x[2] is not overwritten); this one
#                             writes into the argument x, so the tracer raises (see below): it
#                             only checks the compiled path
# (y[1:2].reshape(()) is a view the compiler does see, and refuses.)

def zero_d_view_written(a, x):
    y = x * a
    s = y[1, ...]
    s += a
    return np.sum(y * y)


def zero_d_view_set(a, x):
    y = x * a
    s = y[1, ...]
    s[...] = a * a
    return np.sum(y * y)


def zero_d_view_scaled(a, x):
    y = x * a
    s = y[..., 1]
    s *= a
    return np.sum(y * y)


def zero_d_view_of_written_base(a, x):
    y = x * a
    s = y[..., 1]
    y[1] = 2.0 * a
    return s * a


def zero_d_view_by_reshape(a, x):
    y = x * a
    s = y[1:2].reshape(())
    s += a
    return np.sum(y * y)


def zero_d_view_of_x_written(a, x):
    s = x[..., 2]
    s[...] = a * a
    return np.sum(x * x)


# fixed: y[i, ...] / y[..., i] (0-d views) were compiled as copies, so writes through them or to y were
# lost (ops.indexing.copies_on_index: an Ellipsis makes a 0-d view)


@pytest.mark.parametrize("fn", [zero_d_view_written,
                                zero_d_view_set,
                                zero_d_view_scaled,
                                zero_d_view_of_written_base,
                                zero_d_view_by_reshape])
def test_compiled_zero_d_view(fn):
    check_any_path(fn)


def test_compiled_zero_d_view_of_an_argument():
    check_compiled_if_taken(zero_d_view_of_x_written)


# fixed in the tracer by 05be68e (before, y[1, ...], y[..., 1] and y[1:2].reshape(()) were copies
# when traced, too: the same wrong numbers as the compiled ones above)
@pytest.mark.parametrize("fn", [zero_d_view_written, zero_d_view_set, zero_d_view_scaled,
                                zero_d_view_of_written_base, zero_d_view_by_reshape])
def test_traced_zero_d_view(fn):
    check_traced(fn)


# ---- fixed (issue 11): grad raised on a function that writes into an array argument -----------
#
# NumPy runs these (they change the caller's array); value and gradient are well defined
# (w.r.t. the values passed in). The compiler refuses them; the tracer now runs the function on
# the caller's array as NumPy does (tracing._as_argument). Before, grad raised on both paths:
#   write_into_x:        value 0.62, d/da 1.4, d/dx [0, 0.4, 0.6]; TracingError "assigning into it
#                        writes into the array passed as argument 'x', which grad differentiates..."
#                        (at 05e52f9: RuntimeError "a leaf Variable that requires grad is being used
#                        in an in-place operation.")
#   write_through_alias_of_x: value 0.0686, d/da 0.196, d/dx [0.098, 0.196, 0.294]; TracingError
#                        "`*=` writes into the array passed as argument 'x'..." (at 05e52f9: traced,
#                        silently wrong: 0.14, 0, [0.2, 0.4, 0.6])
#   scale_0d_a_in_place (a = np.array(0.7), a 0-d array): value 1.135390, d/da 0.313890, d/dx [1, 1, 1];
#                        TracingError "`*=` writes into the array passed as argument 'a'..."
# A keyword argument written in place: see the next test.

def write_into_x(a, x):
    x[0] = a
    return np.sum(x * x)


def write_through_alias_of_x(a, x):
    y = x
    y *= a
    return np.sum(x * x)


def scale_0d_a_in_place(a, x):
    a *= np.cos(a)
    return a + np.sum(x)


@pytest.mark.parametrize("fn, a", [(write_into_x, A), (write_through_alias_of_x, A),
                                   (scale_0d_a_in_place, np.array(A))])
def test_writing_into_an_argument(fn, a):
    check_any_path(fn, a=a)


def test_writing_into_an_argument_changes_the_callers_array_as_numpy_does():
    x, want = X.copy(), X.copy()
    value = write_into_x(A, want)
    got, (da, dx) = ad.value_and_grad(write_into_x, wrt=(0, 1), fallback="always")(A, x)
    np.testing.assert_array_equal(x, want)
    assert got == value and da == pytest.approx(2 * A)
    np.testing.assert_allclose(dx, [0.0, 2 * X[1], 2 * X[2]])
    frozen = X.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ad.grad(write_into_x, wrt=1, fallback="always")(A, frozen)


# ---- open: the tracer cannot write a traced value into a plain ndarray ----------------------
#
# An array the tracer did not make -- computed from module globals only, or passed as a keyword
# argument -- is a plain ndarray; writing a traced value into it in place raises, though the
# compiler takes the first two (so only functions that are also refused fail under
# fallback='auto'). At a=0.7, x=[0.1, 0.2, 0.3]:
#   add_into_an_array_of_globals: value 23.4486, d/da 3.596, d/dx [1.498, 2.996, 5.894];
#                        traced: UntraceableError "np.add(..., out=...) writes into a NumPy array, so
#                        the gradient through it would be lost"
#   setitem_into_an_array_of_globals: value 20.49, d/da 1.4, d/dx [0, 0, 0];
#                        traced: ValueError "setting an array element with a sequence."
#   write_into_keyword (t=np.array(1.3)): value 1.380921, d/da 1, d/dx [1.142404, 1.119716, 0.794039];
#                        both paths: UntraceableError "np.subtract(..., out=...) writes into a NumPy
#                        array, ..." (the compiler refuses: t is the caller's array)

GLOBAL_W = np.array([0.5, 1.0, 2.0])


def add_into_an_array_of_globals(a, x):
    v = GLOBAL_W * 2.0
    v += x * a
    return np.sum(v * v)


def setitem_into_an_array_of_globals(a, x):
    v = GLOBAL_W * 2.0
    v[0] = a
    return np.sum(v * v)


def write_into_keyword(a, x, *, t=0.5):
    t -= 0.5 * x[2]
    return np.sum(np.sin(x * t)) + a


@pytest.mark.xfail(reason="traced: writing a traced value into a plain ndarray (made from globals, or a keyword "
                          "argument) raises UntraceableError/ValueError", strict=True)
@pytest.mark.parametrize("fn, kw", [(add_into_an_array_of_globals, {}), (setitem_into_an_array_of_globals, {}),
                                    (write_into_keyword, {"t": np.array(1.3)})])
def test_traced_write_into_an_untraced_array(fn, kw):
    check_any_path(fn, **kw)


# ---- open: the tracer cannot take np.float64() of a traced value ---------------------------
#
# np.float64(s) is a NumPy scalar with s's value; the compiler differentiates it (value 0.294,
# d/da 0.84, d/dx [0.49, 0.49, 0.49]), the tracer raises TracingError "converting to a NumPy
# array (np.asarray, or assigning into an ndarray) on a traced value would lose its gradient".
# So any function that also needs tracing fails.

def np_float64_of_traced(a, x):
    s = np.float64(np.sum(x) * a)
    return s * a


@pytest.mark.xfail(reason="traced: np.float64(traced value) raises TracingError (the compiler takes it)",
                   strict=True)
def test_traced_np_float64_of_a_traced_value():
    check_traced(np_float64_of_traced)


# ---- open: the tracer makes ravel() of a non-contiguous array a view -----------------------
#
# y[::-1].ravel() is a copy in NumPy (ravel copies when it must); the tracer returns a view, so
# the write reaches y. Plain: value 0.0686, d/da 0.196, d/dx [0.098, 0.196, 0.294]; traced
# (also under fallback='auto': the compiler refuses) 0.5145, 1.47, [0.098, 0.196, 0].

def ravel_of_reversed_view(a, x):
    y = x * a
    r = y[::-1]
    q = r.ravel()
    q[0] = a
    return np.sum(y * y)


# fixed: ravel()/reshape() of a non-contiguous array was a view when traced (NumPy copies), so writes
# into it changed the base (a wrong number under fallback='auto', since the compiler refuses it)
def test_traced_ravel_of_a_non_contiguous_array_is_a_copy():
    check_any_path(ravel_of_reversed_view)


# ---- open: the tracer fails on ndarray.view() ---------------------------------------------
#
# y.view() is a view of all of y; traced it raises RuntimeError "shape '[]' is invalid for input of
# size 3" (torch's Tensor.view(*shape) with no shape), on both paths. Plain: value 0.539,
# d/da 1.54, d/dx [0.098, 0, 0.294].

def view_method(a, x):
    y = x * a
    q = y.view()
    q[1] = a
    return np.sum(y * y)


@pytest.mark.xfail(reason="traced: ndarray.view() with no argument raises RuntimeError (torch's view(*shape))",
                   strict=True)
def test_traced_view_method():
    check_any_path(view_method)


# ---- fixed (92af37b; broken since 9dd2d3f): the adjoint of a matmul masked by its cotangent's zeros
#
# 9dd2d3f masked the result of a derivative rule where the cotangent may be zero on some path (a
# branch not taken), to keep 0 * inf from becoming nan. For an elementwise op that is right; for
# M @ x it is not: the cotangent of v = M @ x is nonzero only at v[1], and masking x's cotangent
# M.T @ e1 with that pattern kept only its element 1. With MAT below, at a=0.7, x=[0.1, 0.2, 0.3]
# (d/da = 0 everywhere):
#   index_of_a_matmul_in_a_branch:       d/dx = MAT[1] = [-0.239, 0.127, -0.395]; compiled [0, 0.127, 0]
#   index_of_a_matmul_in_a_loop_branch:  the same (the branch is `if i == 1` in a range(3) loop)
#   index_of_a_vecmat_in_a_branch:       d/dx = MAT[:, 1] = [-0.499, 0.127, 0.179]; compiled [0, 0.127, 0]
#   matmul_partly_overwritten_after_an_early_return: d/dx = MAT[2] + MAT.sum(0) = [-1.600, -0.014,
#                                        0.141]; compiled [-1.199, -0.193, 0.141] (MAT[2] kept element 2)
# (values are right; the traced path is right.) Found by the default strategies of the kwargs and
# alias families, 2 programs in 300 each.

MAT = np.array([[-0.559, -0.499, 0.340], [-0.239, 0.127, -0.395], [-0.401, 0.179, 0.098]])


def index_of_a_matmul_in_a_branch(a, x):
    v = MAT @ x
    if a > 0.0:
        return v[1]
    return 0.5


def index_of_a_matmul_in_a_loop_branch(a, x):
    t = 0.5
    for i in range(3):
        v = MAT @ x
        if i == 1:
            t = t + v[1]
    return t


def index_of_a_vecmat_in_a_branch(a, x):
    v = x @ MAT
    if a > 0.0:
        return v[1]
    return 0.5


def matmul_partly_overwritten_after_an_early_return(a, x):
    v = MAT @ x
    w = MAT @ x
    if a > 1.0:
        return 0.5
    v[:2] = 0.0
    return np.sum(v) + np.sum(w)


# fixed: a cotangent zero on some path masked the adjoint of a matmul elementwise (d/dx kept one element);
# masks are now only for elementwise primitives whose contribution has the cotangent's shape
@pytest.mark.parametrize("fn", [index_of_a_matmul_in_a_branch, index_of_a_matmul_in_a_loop_branch,
                                index_of_a_vecmat_in_a_branch, matmul_partly_overwritten_after_an_early_return])
def test_compiled_matmul_adjoint_under_a_branch(fn):
    check_any_path(fn)


# ---- fixed (92af37b): the memory analysis failed on a helper writing into its argument in a loop
#
# helper_write_in_a_loop: before 92af37b the compiler raised KeyError: <Op setitem> (memory.py,
# exclusive(), via may_run_after/unsafe_write); under fallback='auto' grad traced with a FallbackWarning "the
# compiler failed internally (KeyError: <Op setitem>); please report this". The traced answer is
# right (value 2.583306, d/da 13.502869, d/dx [0, 3.896765, 4.536165] at a=0.3, x=[0.1, 0.2, 0.3]).
# Without the loop, or with v[0] = s written inline, it compiles or is refused normally.

def _put_first(v, s):
    v[0] = s


def helper_write_in_a_loop(a, x):
    v = np.sin(x) + a
    for i in range(2):
        _put_first(v, a)
        a = a + v @ v
    return a


# fixed: KeyError <Op setitem> in the memory analysis (writes recorded in a loop body's discarded first
# conversion); now refused: the caller reads v after the helper wrote into it
def test_helper_writing_into_its_argument_in_a_loop_compiles_or_is_refused():
    check_compiled_if_taken(helper_write_in_a_loop, a=0.3)


# ---- fixed (05be68e): augmented assignment wrote through no alias when traced ---------------
#
# Before 05be68e the tracer ran `c += v` (and -=, *=) as `c = c + v`, so another name of the same
# memory -- an alias, a view, a 0-d array -- kept the old values; the compiler refuses these,
# so grad gave the traced, wrong, numbers. E.g. augmented_assignment_through_an_alias: value
# 3.9086, d/da 1.396, d/dx [1.498, 1.596, 1.694]; traced 0.0686, 0.196, [0.098, 0.196, 0.294].

def augmented_assignment_through_an_alias(a, x):
    b = x * a
    c = b
    c += 1.0
    return np.sum(b * b)


def augmented_assignment_through_a_view(a, x):
    y = x * a
    q = y[1:]
    q *= a
    return np.sum(y * y)


def augmented_assignment_to_an_alias_bound_in_a_branch(a, x):
    y = x * a
    q = y * 1.0
    if a > 0.0:
        q = y
    q += a
    return np.sum(y * y)


def augmented_assignment_to_a_0d_array_alias(a, x):
    s = np.where(a > 0.0, np.sum(x), 1.0)    # a 0-d array: `s *= a` changes it in place
    t = s
    s *= a
    return t + a


def augmented_assignment_to_a_0d_array_copy_alias(a, x):
    s = np.array(np.sum(x))
    t = s
    s -= a
    return t * a


def augmented_assignment_to_np_asarray_of_a_0d_array(a, x):
    s = np.where(a > 0.0, np.sum(x), 1.0)
    t = np.asarray(s)                         # s itself
    s += a
    return t * a


def augmented_assignment_to_a_0d_alias_in_a_loop(a, x):
    s = np.where(a > 0.0, np.sum(x), 1.0)
    for i in range(2):
        t = s
        s += a
    return t * a


def augmented_assignment_to_a_reshaped_view(a, x):
    y = a * np.ones(4) + x[0]
    q = y.reshape(-1)
    q -= 0.25 * a
    return np.sum(np.tanh(y)) + np.sum(np.tanh(q))


@pytest.mark.parametrize("fn", [augmented_assignment_through_an_alias, augmented_assignment_through_a_view,
                                augmented_assignment_to_an_alias_bound_in_a_branch,
                                augmented_assignment_to_a_0d_array_alias,
                                augmented_assignment_to_a_0d_array_copy_alias,
                                augmented_assignment_to_np_asarray_of_a_0d_array,
                                augmented_assignment_to_a_0d_alias_in_a_loop,
                                augmented_assignment_to_a_reshaped_view])
def test_augmented_assignment_writes_through_an_alias(fn):
    check_any_path(fn)


# ---- fixed (1017905, memory analysis): aliases made in a branch or an earlier iteration -------
#
# Before 1017905 the compiler looked only at the names bound at the write, so an alias made in
# one branch of an if, or in the previous iteration of a loop, was missed and these compiled to
# wrong gradients; e.g. alias_bound_in_a_branch: value 9.0637, d/da 0.182, d/dx [0, 0.196,
# 0.294]; compiled 0.0686, 0.196, [0.098, 0.196, 0.294]. (alias_augmented_in_the_next_iteration,
# refused since 1017905, was then traced wrong until 05be68e: see above.)

def alias_bound_in_a_branch(a, x):
    y = x * a
    if a > 0.0:
        q = y
    else:
        q = y * 1.0
    q[0] = 3.0
    return np.sum(y * y)


def alias_bound_in_the_previous_iteration(a, x):
    y = x * a
    q = y * 1.0
    for i in range(2):
        q[0] = q[0] + a
        q = y
    return np.sum(y * y)


def alias_bound_in_the_previous_iteration_of_a_while(a, x):
    y = x * a
    k = 0
    q = y * 1.0
    while k < 2:
        k = k + 1
        q[1] = a
        q = y
    return np.sum(y * y)


def alias_carried_out_of_a_loop(a, x):
    y = x * a
    q = y * 1.0
    for i in range(2):
        q = y
    q[0] = 3.0
    return np.sum(y * y)


def alias_augmented_in_the_next_iteration(a, x):
    y = x * a
    q = y * 1.0
    for i in range(2):
        q += a
        q = y
    return np.sum(y * y)


@pytest.mark.parametrize("fn", [alias_bound_in_a_branch, alias_bound_in_the_previous_iteration,
                                alias_bound_in_the_previous_iteration_of_a_while, alias_carried_out_of_a_loop,
                                alias_augmented_in_the_next_iteration])
def test_compiled_alias_bound_in_a_branch_or_an_earlier_iteration(fn):
    check_any_path(fn)


# ---- fixed (8706bc4): module globals changed between calls ------------------------------------
#
# Before 8706bc4 the first call's compiled gradient was reused after the global state changed:
# * a global array of one value was folded into the code (x * Z with Z all zeros became
#   x * 0.0, x * O with O all ones became x), so `Z[:] = 3.0` was not seen:
#   zeros_global_changed_in_place after Z[:] = 3.0: value 2.5, d/da 1, d/dx [3, 3, 3];
#   compiled 0.7, 1, [3, 3, 3] (the value still used Z = 0);
# * dict items, list items and attributes were read once, as constants:
#   after CONFIG["l2"] = 3.0: value 1.12, d/dx [0.6, 1.2, 1.8]; compiled 0.714, [0.02, 0.04, 0.06].

ZEROS = np.zeros(3)
ONES = np.ones(3)
HALVES = np.full(3, 0.5)
CONFIG = {"l2": 0.1, "w": np.array([0.5, 1.0, 2.0])}
LR = [0.1]
LAM = 0.5


class _Params:
    def __init__(self, w):
        self.w = w


OBJ = _Params(0.3)


def zeros_global(a, x):
    return np.sum(x * ZEROS) + a


def ones_global(a, x):
    return np.sum(x * ONES) * a


def halves_global(a, x):
    return np.sum(x * HALVES) * a


def dict_item_global(a, x):
    return np.sum(x ** 2) * CONFIG["l2"] + a


def dict_array_global(a, x):
    return np.sum(np.sin(x * CONFIG["w"])) * a


def list_item_global(a, x):
    return np.sum(x ** 2) * LR[0] * a


def attribute_global(a, x):
    return np.sum(x ** 2) * OBJ.w * a


def rebound_global(a, x):
    return np.sum(x * a) * LAM


@pytest.fixture
def restore_globals():
    """Put the globals above back as they were (the same objects, their old contents)."""
    arrays = {"ZEROS": ZEROS.copy(), "ONES": ONES.copy(), "HALVES": HALVES.copy()}
    config, lr, lam, w = copy.deepcopy(CONFIG), list(LR), LAM, OBJ.w
    yield
    for name, value in arrays.items():
        globals()[name][...] = value
    CONFIG.clear()
    CONFIG.update(config)
    LR[:] = lr
    OBJ.w = w
    globals()["LAM"] = lam


def _change(what):
    g = globals()
    if what == "ZEROS[:] = 3.0":
        ZEROS[:] = 3.0
    elif what == "ONES[:] = 2.0":
        ONES[:] = 2.0
    elif what == "HALVES[1] = 3.0":
        HALVES[1] = 3.0
    elif what == 'CONFIG["l2"] = 3.0':
        CONFIG["l2"] = 3.0
    elif what == 'CONFIG["w"][:] = 0.25':
        CONFIG["w"][:] = 0.25
    elif what == 'CONFIG["w"] = np.ones(3)':
        CONFIG["w"] = np.ones(3)
    elif what == "LR[0] = 0.7":
        LR[0] = 0.7
    elif what == "OBJ.w = 1.5":
        OBJ.w = 1.5
    elif what == "LAM = 2.0":
        g["LAM"] = 2.0
    else:
        raise ValueError(what)


@pytest.mark.parametrize("fn, change", [
    (zeros_global, "ZEROS[:] = 3.0"), (ones_global, "ONES[:] = 2.0"), (halves_global, "HALVES[1] = 3.0"),
    (dict_item_global, 'CONFIG["l2"] = 3.0'), (dict_array_global, 'CONFIG["w"][:] = 0.25'),
    (dict_array_global, 'CONFIG["w"] = np.ones(3)'), (list_item_global, "LR[0] = 0.7"),
    (attribute_global, "OBJ.w = 1.5"), (rebound_global, "LAM = 2.0")])
def test_global_changed_between_calls(fn, change, restore_globals):
    g = check_any_path(fn)
    _change(change)
    check_any_path(fn, g=g)


# ---- fixed (05be68e): *args and **kwargs when traced ------------------------------------------
#
# The compiler refuses *args/**kwargs; before 05be68e the tracer then called f(a=..., x=..., kw={...}),
# so inside f kw was {"kw": {...}} and kw.get("s", 1.0) was always 1.0 (with s=0.3: value 0.126,
# d/dx [0.21, 0.21, 0.21]; traced 0.42, [0.7, 0.7, 0.7]), and f(a, x, *rest) raised TypeError
# "got an unexpected keyword argument 'rest'".

def var_keyword(a, x, **kw):
    return np.sum(x * kw.get("s", 1.0)) * a


def keyword_only_and_var_keyword(a, x, *, s=1.0, **kw):
    return np.sum(np.sin(x * s)) * a * kw.get("t", 0.5)


def var_positional(a, x, *rest):
    return np.sum(x) * a * (rest[0] if rest else 1.0)


@pytest.mark.parametrize("fn, kw", [(var_keyword, {"s": 0.3}), (var_keyword, {}),
                                    (keyword_only_and_var_keyword, {"s": 0.3, "t": 2.0}),
                                    (keyword_only_and_var_keyword, {"t": -1})])
def test_var_keyword_arguments(fn, kw):
    check_any_path(fn, **kw)


def test_var_positional_arguments():
    want = var_positional(A, X.copy(), 2.0)
    for fallback in ("auto", "always"):
        g = ad.value_and_grad(var_positional, wrt=(0, 1), fallback=fallback)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ad.FallbackWarning)
            value, (da, dx) = g(A, X.copy(), 2.0)
        np.testing.assert_allclose(value, want, rtol=1e-12)
        np.testing.assert_allclose(da, 2.0 * np.sum(X), rtol=1e-12)
        np.testing.assert_allclose(dx, [2.0 * A] * 3, rtol=1e-12)


def keyword_flag(a, x, *, s=1.0, flag=False):
    if flag:
        return np.sum(x * s) * a
    return np.sum(x * x) * a * s


def test_keywords_change_between_calls():
    """The same grad object, called with other keyword values (and types) each time."""
    g = None
    for kw in ({}, {"s": 0.3}, {"s": 2}, {"s": np.float64(-0.4)}, {"s": np.array(1.3)}, {"flag": True},
               {"flag": True, "s": -1.2}, {"flag": False, "s": 0.75}):
        g = check_any_path(keyword_flag, g=g, **kw)
