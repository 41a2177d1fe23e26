"""Derivative rules of the table at the boundary of their domain.

A rule written as a formula (1 / (2 sqrt(v)), x ** (y - 1), prod / x, out * log(x))
can turn a finite derivative into nan at the boundary (0 / 0, 0 * inf). Each case
here pins the value the rule must give there, on every path that runs the rule:

- compiled: `ad.grad(f)` (and it must have compiled: `g.mode == "compiled"`),
- traced: `ad.grad(f, fallback="always")`,
- eager: Tensors with `requires_grad=True` and `.backward()`,
- torch, where torch has the op and its answer is right,
- one-sided finite differences, where f is differentiable from that side (central
  differences where f is symmetric about the point, as std about all-equal values).

The expected values are what is mathematically right; where torch differs (it gives
nan where the true answer is finite, or a finite number where the value is infinite)
the test says so and checks ours.
"""
import warnings

import numpy as np
import pytest

import adcompiler as ad

try:
    import torch
except ImportError:  # pragma: no cover - torch is the oracle in the dev venv
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
INF, NAN = np.inf, np.nan


# ---- the paths -----------------------------------------------------------------

def compiled_grad(f, *args, wrt=0):
    g = ad.grad(f, wrt=wrt)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("error", ad.FallbackWarning)
        d = g(*args)
    assert g.mode == "compiled", g.explain()
    return np.asarray(d)


def traced_grad(f, *args, wrt=0):
    g = ad.grad(f, wrt=wrt, fallback="always")
    with np.errstate(all="ignore"):
        d = g(*args)
    assert g.mode == "traced"
    return np.asarray(d)


def eager_grad(fn, x):
    t = ad.tensor(np.asarray(x, dtype=np.float64), dtype=ad.float64, requires_grad=True)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "Degrees of freedom <= 0", "Mean of empty slice"
        fn(t).backward()
    return t.grad.numpy()


def torch_grad(fn, x):
    t = torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn(t).backward()
    return t.grad.numpy()


def one_sided_fd(f, x, side, h=1e-7):
    """(f(x + side h e_i) - f(x)) / (side h) for each i."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = side * h
        out[i] = (f(x + e) - f(x)) / (side * h)
    return out


def central_fd(f, x, h=1e-6):
    return (one_sided_fd(f, x, 1, h) + one_sided_fd(f, x, -1, h)) / 2


def same(actual, expected):
    """Equal values, nan where nan is expected, infinities with their sign."""
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=1e-12, atol=1e-12)


def both_paths(f, args, expected, wrt=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "Degrees of freedom <= 0", "Mean of empty slice"
        same(compiled_grad(f, *args, wrt=wrt), expected)
        same(traced_grad(f, *args, wrt=wrt), expected)


def eager_hessian(fn, x):
    t = ad.tensor(np.asarray(x, dtype=np.float64), dtype=ad.float64, requires_grad=True)
    with np.errstate(all="ignore"):
        (g,) = ad.autograd.grad(fn(t), [t], create_graph=True)
        rows = [ad.autograd.grad(g[i], [t], retain_graph=True)[0].numpy() for i in range(t.shape[0])]
    return np.array(rows)


def torch_hessian(fn, x):
    return torch.autograd.functional.hessian(fn, torch.tensor(np.asarray(x, dtype=np.float64))).numpy()


# ---- std and var: zero standard deviation ------------------------------------------

def std_all(x):
    return np.std(x)


def std_ddof1(x):
    return np.std(x, ddof=1)


def std_rows(x):
    return np.sum(np.std(x, axis=1))


def std_cols_keepdims(x):
    return np.sum(np.std(x, axis=0, keepdims=True))


def std_two_axes(x):
    return np.sum(np.std(x, axis=(0, 2)))


def test_std_of_a_python_float_is_zero_on_every_path():
    # std of one number is identically 0: its derivative is 0 (was nan: 0 / (2 sqrt(0)));
    # the compiled path compiles it (a Python-scalar argument used to be refused by the shape rule)
    both_paths(std_all, (3.5,), 0.0)
    assert ad.grad(std_all)(3.5) == 0.0
    same(eager_grad(lambda t: t.std(correction=0), 3.5), 0.0)
    same(one_sided_fd(std_all, 3.5, +1), 0.0)
    same(one_sided_fd(std_all, 3.5, -1), 0.0)


@needs_torch
def test_std_of_a_python_float_matches_torch():
    same(torch_grad(lambda t: torch.std(t, correction=0), 3.5), 0.0)


# (f, x, the same on a Tensor, the same in torch): std is identically 0 in each
IDENTICALLY_ZERO = [
    (std_all, np.array([7.0]), lambda t: t.std(correction=0), lambda t: torch.std(t, correction=0)),
    (std_rows, np.array([[1.0], [5.0]]), lambda t: t.std(dim=1, correction=0).sum(),
     lambda t: torch.std(t, dim=1, correction=0).sum()),
    (std_cols_keepdims, np.array([[1.0, 2.0, 3.0]]), lambda t: t.std(dim=0, keepdim=True, correction=0).sum(),
     lambda t: torch.std(t, dim=0, keepdim=True, correction=0).sum()),
    (std_two_axes, np.arange(3.0).reshape(1, 3, 1), lambda t: t.std(dim=(0, 2), correction=0).sum(),
     lambda t: torch.std(t, dim=(0, 2), correction=0).sum()),
]


@pytest.mark.parametrize("f, x, eager, torch_fn", IDENTICALLY_ZERO,
                         ids=["one-element", "axis-of-length-1", "axis-0-of-length-1-keepdims", "two-axes-of-length-1"])
def test_std_over_one_element_has_zero_gradient(f, x, eager, torch_fn):
    zeros = np.zeros(x.shape)
    both_paths(f, (x,), zeros)
    same(eager_grad(eager, x), zeros)
    same(one_sided_fd(f, x, +1), zeros)
    same(one_sided_fd(f, x, -1), zeros)
    if torch is not None:
        same(torch_grad(torch_fn, x), zeros)


@pytest.mark.parametrize("f, x, expected, eager, torch_fn", [
    (std_all, np.array([2.0, 2.0, 2.0]), np.zeros(3), lambda t: t.std(correction=0),
     lambda t: torch.std(t, correction=0)),
    (std_ddof1, np.array([2.0, 2.0]), np.zeros(2), lambda t: t.std(), lambda t: torch.std(t)),
    # the mask is per reduced value: the row with spread keeps its gradient
    (std_rows, np.array([[1.0, 1.0], [1.0, 3.0]]), np.array([[0.0, 0.0], [-0.5, 0.5]]),
     lambda t: t.std(dim=1, correction=0).sum(), lambda t: torch.std(t, dim=1, correction=0).sum()),
], ids=["all-equal", "all-equal-ddof1", "one-row-all-equal"])
def test_std_of_all_equal_values_has_zero_gradient(f, x, expected, eager, torch_fn):
    # std is a norm of x - mean: at all-equal values it has a cone point; 0 is its
    # subgradient (torch, HIPS autograd), and the central difference (std is even about it)
    both_paths(f, (x,), expected)
    same(eager_grad(eager, x), expected)
    np.testing.assert_allclose(central_fd(f, x), expected, atol=1e-6)
    if torch is not None:
        same(torch_grad(torch_fn, x), expected)


def w_times_std(x, w):
    return w * np.std(x)


def test_std_mixed_second_derivative_at_zero_std_is_zero():
    # d/dw of d(w std(x))/dx = d std/dx = 0 at all-equal x; the rule's inner `where` keeps
    # 0 / 0 out of its own derivative (torch gives nan here)
    x = ad.tensor([2.0, 2.0, 2.0], dtype=ad.float64, requires_grad=True)
    w = ad.tensor(3.0, dtype=ad.float64, requires_grad=True)
    (gx,) = ad.autograd.grad(w * x.std(correction=0), [x], create_graph=True)
    same(gx.detach().numpy(), np.zeros(3))
    (gw,) = ad.autograd.grad(gx.sum(), [w])
    same(gw.numpy(), 0.0)


# ---- var and std with N - ddof <= 0 ---------------------------------------------------

def var_ddof1(x):
    return np.var(x, ddof=1)


def var_ddof3(x):
    return np.var(x, ddof=3)


def var_rows_ddof2(x):
    return np.sum(np.var(x, axis=1, ddof=2))


def std_ddof2(x):
    return np.std(x, ddof=2)


@pytest.mark.parametrize("f, x, expected, eager", [
    # var = S / 0: nan where S == 0 (one element), the gradient 2 (x - mean) / 0 is nan (torch: nan);
    # this raised ZeroDivisionError
    (var_ddof1, np.array([2.0]), [NAN], lambda t: t.var()),
    # S > 0: var is inf and the gradient +-inf; it was the finite 2 (x - mean) / (N - ddof) = [1, -1]
    (var_ddof3, np.array([1.0, 2.0]), [-INF, INF], lambda t: t.var(correction=3)),
    (var_rows_ddof2, np.array([[1.0, 2.0], [5.0, 5.0]]), [[-INF, INF], [NAN, NAN]],
     lambda t: t.var(dim=1, correction=2).sum()),
    (std_ddof2, np.array([1.0, 2.0]), [NAN, NAN], lambda t: t.std(correction=2)),
], ids=["var-one-element-ddof1", "var-ddof-above-N", "var-rows-ddof-N", "std-ddof-N"])
def test_var_and_std_without_degrees_of_freedom_have_no_finite_gradient(f, x, expected, eager):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = f(x)
    assert not np.isfinite(value)
    both_paths(f, (x,), expected)
    same(eager_grad(eager, x), expected)


@needs_torch
def test_var_without_degrees_of_freedom_is_not_finite_in_torch_either():
    # torch's full reduction gives +inf (sign dropped) or nan, like ours up to the sign; along a
    # dim it gives the finite 2 (x - mean) / (N - correction) for an infinite var, which we do not copy
    g = torch_grad(lambda t: torch.var(t, correction=3), [1.0, 2.0])
    assert not np.isfinite(g).any()
    same(torch_grad(lambda t: torch.var(t), [2.0]), [NAN])
    same(torch_grad(lambda t: torch.std(t, correction=2), [1.0, 2.0]), [NAN, NAN])


# ---- prod with zeros ---------------------------------------------------------------------

def prod_all(x):
    return np.prod(x)


def prod_rows(x):
    return np.sum(np.prod(x, axis=1))


@pytest.mark.parametrize("f, x, expected, eager, torch_fn", [
    (prod_all, np.array([0.0, 2.0, 3.0]), [6.0, 0.0, 0.0], lambda t: t.prod(), torch.prod if torch else None),
    (prod_all, np.array([0.0, 0.0, 3.0]), [0.0, 0.0, 0.0], lambda t: t.prod(), torch.prod if torch else None),
    (prod_rows, np.array([[0.0, 2.0, 5.0], [3.0, 0.0, 0.0]]), [[10.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
     lambda t: t.prod(dim=1).sum(), lambda t: torch.prod(t, dim=1).sum()),
], ids=["one-zero", "two-zeros", "rows"])
def test_prod_gradient_with_zeros_does_not_divide_by_them(f, x, expected, eager, torch_fn):
    both_paths(f, (x,), expected)
    same(eager_grad(eager, x), expected)
    np.testing.assert_allclose(central_fd(f, x), expected, atol=1e-6)  # prod is a polynomial
    if torch is not None:
        same(torch_grad(torch_fn, x), expected)


def prod_grad_weighted(x):
    return np.sum(ad.grad(prod_all, fallback="always")(x) * np.array([1.0, 10.0, 100.0]))


@pytest.mark.parametrize("x, hessian", [
    ([0.0, 2.0, 3.0], [[0.0, 3.0, 2.0], [3.0, 0.0, 0.0], [2.0, 0.0, 0.0]]),
    ([0.0, 0.0, 3.0], [[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
    ([0.0, 0.0, 0.0], np.zeros((3, 3))),
])
def test_prod_second_derivative_with_zeros_is_exact(x, hessian):
    # d2 prod / dxi dxj = prod of the others (was (prod_others - ...) / x_j: nan at zeros)
    same(eager_hessian(lambda t: t.prod(), x), hessian)
    same(traced_grad(prod_grad_weighted, np.array(x)), np.array(hessian) @ [1.0, 10.0, 100.0])
    if torch is not None:
        same(torch_hessian(torch.prod, x), hessian)


def test_prod_third_derivative_with_zeros_is_exact():
    # d3 prod(x0..x3) / dx0 dx1 dx2 = x3, whatever the zeros
    x = ad.tensor([0.0, 0.0, 0.0, 5.0], dtype=ad.float64, requires_grad=True)
    (g,) = ad.autograd.grad(x.prod(), [x], create_graph=True)
    (h0,) = ad.autograd.grad(g[0], [x], create_graph=True)
    (t01,) = ad.autograd.grad(h0[1], [x])
    same(t01.numpy(), [0.0, 0.0, 5.0, 0.0])


# ---- pow at a zero base --------------------------------------------------------------------

Y = np.array([0.0, 1.0, 2.0, 0.5, -1.0])


def pow_array_exponent(x):
    return np.sum(x ** Y)


def pow_scalar_exponent(x, y):
    return x ** y


def pow_zero_base(y):
    return np.sum(0.0 ** y)


def pow_zero_base_array(y):
    return np.sum(np.zeros(3) ** y)


def test_pow_dx_where_the_exponent_is_zero():
    # x ** 0 is 1 for every x: d/dx is 0 at x == 0 (was 0 * 0 ** -1 = nan, torch: 0);
    # x ** 1 -> 1, x ** 2 -> 0, x ** 0.5 -> inf, x ** -1 -> -inf (as torch)
    x = np.zeros(5)
    expected = [0.0, 1.0, 0.0, INF, -INF]
    both_paths(pow_array_exponent, (x,), expected)
    same(eager_grad(lambda t: (t ** ad.tensor(Y, dtype=ad.float64)).sum(), x), expected)
    # from the right (x ** y is not real for x < 0 and non-integer y)
    fd = [one_sided_fd(lambda v, y=y: v[0] ** y, [0.0], +1)[0] for y in Y[:3]]
    np.testing.assert_allclose(fd, [0.0, 1.0, 0.0], atol=1e-6)
    if torch is not None:
        same(torch_grad(lambda t: (t ** torch.tensor(Y)).sum(), x), expected)


def test_pow_dx_with_a_run_time_zero_exponent():
    # y is an argument, not a constant: the rule takes the array path (the compiled code
    # evaluated 0.0 ** -1.0 there: ZeroDivisionError)
    both_paths(pow_scalar_exponent, (0.0, 0.0), 0.0)
    both_paths(pow_scalar_exponent, (0.0, 1.0), 1.0)
    both_paths(pow_scalar_exponent, (0.0, 2.0), 0.0)
    both_paths(pow_scalar_exponent, (2.0, 0.0), 0.0)


def test_pow_dy_at_a_zero_base():
    # d(0 ** y)/dy: 0 for y > 0 (0 ** y is 0 there), 0 at y == 0 and -inf for y < 0 (torch);
    # the Python-number base gave nan for y < 0
    y = np.array([2.0, 0.0, -1.0])
    expected = [0.0, 0.0, -INF]
    both_paths(pow_zero_base, (y,), expected)
    both_paths(pow_zero_base_array, (y,), expected)
    same(eager_grad(lambda t: (0.0 ** t).sum(), y), expected)
    same(eager_grad(lambda t: (ad.zeros(3, dtype=ad.float64) ** t).sum(), y), expected)
    same(one_sided_fd(lambda v: 0.0 ** v[0], [2.0], +1), [0.0])
    same(one_sided_fd(lambda v: 0.0 ** v[0], [2.0], -1), [0.0])
    if torch is not None:
        same(torch_grad(lambda t: (0.0 ** t).sum(), y), expected)
        same(torch_grad(lambda t: (torch.zeros(3, dtype=torch.float64) ** t).sum(), y), expected)


def pow_zero_base_dy(y):
    return np.sum(ad.grad(pow_zero_base_array, fallback="always")(y))


def test_pow_second_derivatives_at_a_zero_base():
    # 0 ** y is identically 0 for y > 0, so d2/dy2 = 0 (torch: nan); x ** 0 is identically 1,
    # so d2/dx2 = 0 at x = 0
    y = np.array([2.0, 0.5, 3.0])
    same(eager_hessian(lambda t: (ad.zeros(3, dtype=ad.float64) ** t).sum(), y), np.zeros((3, 3)))
    same(traced_grad(pow_zero_base_dy, y), np.zeros(3))
    same(eager_hessian(lambda t: (t ** ad.tensor([0.0, 1.0, 3.0], dtype=ad.float64)).sum(), [0.0, 0.0, 0.0]),
         np.zeros((3, 3)))


# ---- norm at the zero vector ---------------------------------------------------------------

def norm_all(x):
    return np.linalg.norm(x)


def norm_rows(x):
    return np.sum(np.linalg.norm(x, axis=1))


@pytest.mark.parametrize("f, x, expected, eager, torch_fn", [
    (norm_all, np.zeros(3), np.zeros(3), lambda t: t.norm(), lambda t: torch.linalg.norm(t)),
    (norm_rows, np.array([[0.0, 0.0], [3.0, 4.0]]), [[0.0, 0.0], [0.6, 0.8]], lambda t: t.norm(dim=1).sum(),
     lambda t: torch.linalg.norm(t, dim=1).sum()),
], ids=["zero-vector", "one-zero-row"])
def test_norm_at_the_zero_vector_has_zero_gradient(f, x, expected, eager, torch_fn):
    both_paths(f, (x,), expected)
    same(eager_grad(eager, x), expected)
    np.testing.assert_allclose(central_fd(f, x), expected, atol=1e-6)
    if torch is not None:
        same(torch_grad(torch_fn, x), expected)


def test_norm_of_a_python_float_zero():
    both_paths(norm_all, (0.0,), 0.0)


def test_norm_second_derivative_at_the_zero_vector_is_zero():
    # |x| has a cone point at 0: its gradient there is the subgradient 0, and its second
    # derivative takes the convention of abs (whose second derivative every AD system gives as 0
    # at the kink) and of torch's std at all-equal values (a scaled norm of x - mean, same below).
    # It was nan: the rule's discarded branch x / 0 was differentiated (torch's norm: nan too).
    same(eager_hessian(lambda t: t.norm(), [0.0, 0.0]), np.zeros((2, 2)))
    same(eager_hessian(lambda t: t.std(correction=0), [2.0, 2.0, 2.0]), np.zeros((3, 3)))
    if torch is not None:
        same(torch_hessian(lambda t: torch.std(t, correction=0), [2.0, 2.0, 2.0]), np.zeros((3, 3)))
    # d/dw of d(w |x|)/dx = d|x|/dx = 0 at x = 0 (torch: 0)
    x = ad.tensor([0.0, 0.0], dtype=ad.float64, requires_grad=True)
    w = ad.tensor(2.0, dtype=ad.float64, requires_grad=True)
    with np.errstate(all="ignore"):
        (gx,) = ad.autograd.grad(w * x.norm(), [x], create_graph=True)
        (gw,) = ad.autograd.grad(gx.sum(), [w])
    same(gw.numpy(), 0.0)
    if torch is not None:
        tx = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        tw = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        (tgx,) = torch.autograd.grad(tw * torch.linalg.norm(tx), [tx], create_graph=True)
        same(torch.autograd.grad(tgx.sum(), [tw])[0].numpy(), 0.0)


# ---- rules that were already right at their boundary (guards) --------------------------------

def abs_(x):
    return np.sum(np.abs(x))


def maximum_tie(x):
    return np.sum(np.maximum(x, 1.0))


def sqrt_(x):
    return np.sum(np.sqrt(x))


def log_(x):
    return np.sum(np.log(x))


def mean_empty_axis(x):
    return np.sum(np.mean(x, axis=1))


@pytest.mark.parametrize("f, x, expected, eager, torch_fn", [
    # |x| at 0: the subgradient 0 (torch)
    (abs_, np.array([0.0, -2.0]), [0.0, -1.0], lambda t: t.abs().sum(), lambda t: t.abs().sum()),
    # a tie splits the gradient (torch)
    (maximum_tie, np.array([1.0, 2.0]), [0.5, 1.0], lambda t: t.maximum(ad.tensor(1.0, dtype=ad.float64)).sum(),
     lambda t: torch.maximum(t, torch.tensor(1.0, dtype=torch.float64)).sum()),
    # sqrt and log at 0: the derivative is +inf (the one-sided limit; torch)
    (sqrt_, np.array([0.0, 4.0]), [INF, 0.25], lambda t: t.sqrt().sum(), lambda t: t.sqrt().sum()),
    (log_, np.array([0.0, 2.0]), [INF, 0.5], lambda t: t.log().sum(), lambda t: t.log().sum()),
], ids=["abs", "maximum-tie", "sqrt", "log"])
def test_rules_already_right_at_their_boundary(f, x, expected, eager, torch_fn):
    both_paths(f, (x,), expected)
    same(eager_grad(eager, x), expected)
    if torch is not None:
        same(torch_grad(torch_fn, x), expected)


def test_mean_over_an_empty_axis():
    x = np.zeros((2, 0))
    both_paths(mean_empty_axis, (x,), np.zeros((2, 0)))
    same(eager_grad(lambda t: t.mean(dim=1).sum(), x), np.zeros((2, 0)))


def scalar_log(x):
    return np.log(x)


def scalar_sqrt_pow(x):
    return x ** 0.5


@pytest.mark.parametrize("f", [scalar_log, scalar_sqrt_pow])
def test_compiled_derivative_at_a_python_float_zero_is_inf(f):
    # the rules' 1.0 / x and x ** -0.5 on Python floats: inf as NumPy and torch, not ZeroDivisionError
    same(traced_grad(f, 0.0), INF)
    same(compiled_grad(f, 0.0), INF)
