"""The NumPy and `math` functions of issue 11's list, differentiated three ways: compiled
(fallback="never"), traced (fallback="always") and by central finite differences in
float64; and against torch's autograd where torch has the operation.

Each case is a small function of float arguments using one function in several argument
forms (axes, keywords, broadcasting, edge values); every float argument is differentiated.
"""
import math
import operator
import warnings

import numpy as np
import pytest

import adcompiler as ad

from .test_differential import _numerical as _fd

try:
    import torch
except ImportError:  # pragma: no cover - torch is the oracle in the dev venv
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
rng = np.random.default_rng(11)


def R(*shape):
    return rng.standard_normal(shape)


def P(*shape):
    return rng.uniform(0.5, 2.0, shape)


def U(*shape):
    return rng.uniform(-0.9, 0.9, shape)


W3 = np.array([0.3, -1.2, 2.0])          # weights: results are not symmetric in their elements


# ---- the cases (one function each; comments say what is exercised) -------------------------

def cross3(a, b):
    return np.sum(np.cross(a, b) * W3)


def cross_axes(a, b):                      # axisa/axisb/axisc, and a 2-vector (z = 0)
    c = np.cross(a, b, axisa=0, axisb=1, axisc=0)
    return np.sum(c * c) + np.sum(np.cross(a.T[:, :2], b) ** 2)


def cross_axis_2d(a, b):                   # axis=, and two 2-vectors (z only)
    return np.sum(np.cross(a, b.T, axis=0) ** 2) + np.sum(np.cross(a[:2].T, b[:, :2]))


def einsum_forms(a, b, v):
    return (np.einsum("ij,jk->ik", a, b).sum() + np.einsum("ij,jk", a, b)[0, 1] + np.einsum("ii", a @ b)
            + np.sum(np.einsum("...j,j->...", a, v) ** 2) + np.einsum("i,i", v, v) + np.einsum("ij->", a * a))


def einsum_batched(x, y):
    return np.sum(np.sin(np.einsum("bij,bjk->bik", x, y))) + np.sum(np.einsum("bii->b", x @ np.swapaxes(x, 1, 2)))


def kron_(a, b):
    return np.sum(np.sin(np.kron(a, b))) + np.sum(np.kron(a[0], b) ** 2)


def tensordot_(a, b):
    return (np.sum(np.tensordot(a, b) ** 2) + np.sum(np.sin(np.tensordot(a, b, axes=([1, 2], [0, 1]))))
            + np.sum(np.tensordot(b, a, axes=1)[0]) + np.sum(np.tensordot(a[0, 0], b[0, 0], axes=0)))


def logaddexp_(x, y):
    return np.sum(np.logaddexp(x, y) * W3) + np.sum(np.logaddexp2(x, y[0]))


def logaddexp_ties(x):                     # equal arguments: the gradient splits evenly
    return np.sum(np.logaddexp(x, x)) + np.sum(np.logaddexp2(x, x * 1.0))


def repeat_(x):
    return (np.sum(np.repeat(x, 2) * np.arange(12)) + np.sum(np.repeat(x, [1, 0, 2], axis=1) ** 2)
            + np.sum(x.repeat(3, axis=0)[:, 0] * np.arange(6)))


def gradient_(f):
    gx, gy = np.gradient(f)
    e2 = np.gradient(f, 0.5, axis=1, edge_order=2)
    xs = np.array([0.0, 0.3, 1.0, 1.1, 2.0])
    return np.sum(gx * gx) + np.sum(np.sin(gy)) + np.sum(e2 ** 3) + np.sum(np.gradient(f, xs, axis=1, edge_order=2))


def linspace_(s, e):
    return np.sum(np.linspace(s, e, 5) ** 2) + np.sum(np.linspace(s, e, 4, endpoint=False) * np.arange(4))


def linspace_arrays(s, e):
    return np.sum(np.sin(np.linspace(s, e, 6, axis=1)))


def inner_dot_(a, b, v):
    return (np.sum(np.inner(a, b) ** 2) + np.inner(v, v) + np.sum(np.dot(a, b.T)) + np.dot(v, v)
            + np.sum(np.dot(np.stack([a, a]), v) ** 2) + np.sum(a.dot(b.T) * 2) + np.vdot(a, a))


def trace_(a):
    t = a.reshape(2, 3, 3)
    return np.trace(a) + np.trace(a, 1) + np.sum(np.trace(t, axis1=1, axis2=2) ** 2) + a[:2].trace(offset=-1)


def norms(x):
    return (np.linalg.norm(x) + np.linalg.norm(x, axis=1).sum() + np.linalg.norm(x, 1, axis=0).sum()
            + np.linalg.norm(x[0], np.inf) + np.linalg.norm(x[0], -np.inf) + np.linalg.norm(x[1], 3)
            + np.linalg.norm(x, "fro") + np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf)
            + np.linalg.norm(x, -1) + np.linalg.norm(x[0], 0) + np.sum(np.linalg.norm(x, axis=1, keepdims=True)))


def splits(x):
    a, b, c = np.split(x, 3)
    d, e = np.array_split(x, 2, axis=1)
    f, g = np.hsplit(x, [1])
    h, i = np.vsplit(x[:2], 2)
    (j, k) = np.dsplit(np.stack([x, x * x], axis=2), 2)
    return (np.sum(a * W3[0]) + np.sum(b ** 2) + np.sum(np.sin(c)) + np.sum(d * 3) + np.sum(e ** 3) + np.sum(f)
            + np.sum(g * g) + np.sum(h - i) + np.sum(j * k))


def pinv_(a):
    return np.sum(np.linalg.pinv(a) * np.reshape(np.arange(6), (2, 3)))


def diff_(x):
    return (np.sum(np.diff(x) ** 2) + np.sum(np.diff(x, n=2, axis=0)) + np.sum(np.diff(x, prepend=0.5) ** 3)
            + np.sum(np.sin(np.diff(x[0], append=x[1, :1]))))


def axes_(x):
    return (np.sum(np.swapaxes(x, 0, 2)[0] * np.arange(2)) + np.sum(np.moveaxis(x, 0, -1)[1] ** 2)
            + np.sum(np.rollaxis(x, 2)[0, 1] ** 3) + np.sum(x.swapaxes(1, 2)[1, 2] * 3))


def triangles(a):
    return np.sum(np.triu(a) ** 2) + np.sum(np.tril(a, -1) * np.arange(4)) + np.sum(np.sin(np.triu(a, 1)))


def pads(x):
    return (np.sum(np.pad(x, 1) ** 2) + np.sum(np.pad(x, ((1, 2), (0, 1)), constant_values=1.5) ** 2)
            + np.sum(np.pad(x, 2, mode="reflect") * np.arange(7)) + np.sum(np.pad(x, (1, 2), mode="edge") ** 2)
            + np.sum(np.pad(x, 1, mode="symmetric") ** 3) + np.sum(np.pad(x, (2, 0), mode="wrap") * 2.0))


def diags(a, v):
    return (np.sum(np.diag(a) ** 2) + np.sum(np.diag(a, 1)) + np.sum(np.diag(v, -1) @ a[:4, :4])
            + np.sum(np.diagonal(a.reshape(2, 2, 4), 0, 1, 2) ** 2) + np.sum(a.diagonal(offset=-1) ** 3))


def atleast(x, s):
    a, b = np.atleast_1d(s, x)
    return np.sum(np.atleast_2d(x) * np.arange(3)) + np.sum(np.atleast_3d(x) ** 2) + np.sum(a * b) + s * 0.0


def tile_(x):
    return np.sum(np.tile(x, 2) * np.arange(6)) + np.sum(np.tile(x, (2, 1)) ** 2)


def sorts(x):
    return (np.sum(np.sort(x) * np.arange(6)) + np.sum(np.sort(x.reshape(2, 3), axis=0) * np.reshape(np.arange(6), (2, 3)))
            + np.sum(np.partition(x, 2)[:3] * np.array([1.0, 2.0, 3.0])) + np.sum(np.sort(x, axis=None)[-1]))


def hyperbolic(x, u):
    return np.sum(np.sinh(x) + np.cosh(x) + np.arcsinh(x) + np.arctan(x) + np.arcsin(u) + np.arccos(u)
                  + np.arctanh(u) + np.arccosh(1.5 + x * x) + np.sinc(x) + np.arctan2(x, u) + np.hypot(x, u))


def logs(x):
    return np.sum(np.log2(x) + np.log10(x) + np.exp2(x) + np.expm1(x) + np.log1p(x) + np.hypot(x, 2.0))


def angles(x):
    return np.sum(np.degrees(x) + np.radians(x) * 2 + np.deg2rad(x) ** 2 + np.rad2deg(x) ** 2)


def linalg_(a, b):
    spd = a @ a.T + 3 * np.eye(3)
    L = np.linalg.cholesky(spd)
    sign, logdet = np.linalg.slogdet(a)
    return (np.sum(np.linalg.solve(a, b)) + np.sum(np.linalg.solve(a, b[:, 0]) ** 2) + np.sum(np.linalg.inv(a) ** 2)
            + np.linalg.det(a) + sign * logdet + np.sum(L * np.reshape(np.arange(9), (3, 3))) + np.linalg.det(spd))


def einsum_sublists(a, b):                 # np.einsum(a, [0, 1], b, [1, 2], [0, 2])
    return np.sum(np.einsum(a, [0, 1], b, [1, 2], [0, 2]) ** 2) + np.sum(np.einsum(a, [0, 1], [1, 0]) * a.T * a.T)


def nan_aware(x, y):                       # fmax/fmin take the operand that is not nan
    z = np.where(x > 0.5, np.nan, y)
    return np.sum(np.fmax(x, z) ** 2) + np.sum(np.fmin(z, x * 2.0) * W3) + np.sum(np.real_if_close(x))


def remainders(x, y):
    return np.sum(np.remainder(x, 1.5) * W3) + np.sum(np.mod(x, y) ** 2) + np.sum(operator.mul(x, y))


def rows_of_an_array(x):                   # NumPy iterates over an array's first axis
    return np.sum(np.column_stack(x) * np.reshape(np.arange(6), (3, 2))) + np.sum(np.vstack(x) ** 2)


def svds(a, b):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    uu, ss, vvh = np.linalg.svd(b)
    # sign-invariant functions of U and Vh (a singular vector's sign is arbitrary)
    return (np.sum(s * W3[:2]) + np.sum((u * u) @ np.arange(2)) + np.sum((vh * vh)[1]) + np.sum(ss ** 2)
            + np.sum(np.abs(uu[:, 0] * vvh[0])) + np.sum(np.linalg.svd(a, compute_uv=False) ** 3)
            + np.linalg.norm(a, 2) + np.linalg.norm(b, "nuc") + np.linalg.norm(b, -2))


def eighs(a):
    w, v = np.linalg.eigh(a)
    wu, vu = np.linalg.eigh(a, UPLO="U")
    # sign-invariant functions of the eigenvectors
    return (np.sum(w * W3) + np.sum((v * v) @ np.arange(3)) + np.sum(np.linalg.eigvalsh(a) ** 2)
            + np.sum(wu ** 3) + np.sum(np.abs(vu[:, 0])))


def roundings(x):
    return np.sum(np.floor(x) * x + np.ceil(x) * x ** 2 + np.fabs(x) + np.rint(x) * x + np.trunc(x))


def scans(x):
    return (np.sum(np.cumsum(x) * np.arange(6)) + np.sum(np.cumsum(x.reshape(2, 3), axis=1) ** 2)
            + np.sum(np.cumprod(x) * np.arange(6)) + np.sum(x.reshape(2, 3).cumprod(axis=0) ** 2))


def cumprod_zeros(x):                      # exact at zeros (no division)
    return np.sum(np.cumprod(x * np.array([1.0, 0.0, 1.0, 1.0])) * np.arange(4))


def joins(x, y):
    return (np.sum(np.column_stack([x, y]) * np.reshape(np.arange(6), (3, 2))) + np.sum(np.append(x, y) ** 2)
            + np.sum(np.append(np.stack([x, y]), np.stack([y, x]), axis=1) * 2.0)
            + np.sum(np.select([x > 0, y > 0], [x, y * 2], default=-1.0) ** 2))


def rearranging(x):
    return (np.sum(np.roll(x, 2) * np.reshape(np.arange(6), (2, 3))) + np.sum(np.roll(x, -1, axis=1) ** 2 * x)
            + np.sum(np.rot90(x) * np.reshape(np.arange(6), (3, 2))) + np.sum(np.rot90(x, 3) ** 2 * np.reshape(np.arange(6), (3, 2)))
            + np.sum(np.flip(x) * x) + np.sum(np.flipud(x) * np.arange(3)) + np.sum(np.fliplr(x) ** 3))


def gathers(x):
    idx = np.array([[0, 2], [1, 1]])
    return (np.sum(np.take(x, [0, 2, 2], axis=1) ** 2) + np.sum(np.take(x, [5, 0])) + x.take(3)
            + np.sum(np.take_along_axis(x, idx, axis=1) ** 2) + np.sum(np.outer(x[0], x[1]) ** 2))


def take_by_argsort(x):                    # run-time indices
    order = np.argsort(x)
    return np.sum(np.take(x, order) * np.arange(4)) + np.sum(np.take_along_axis(x, order[::-1], axis=0) * W3[0])


def nans(x):
    y = np.nan_to_num(np.log(x - 0.9))
    return np.sum(y) + np.sum(np.nan_to_num(x, nan=0.0, posinf=1.0))


def complex_parts(x):
    return np.sum(np.real(x) ** 2 + np.imag(x) + np.conjugate(x) * 3 + np.angle(x) + np.conj(x) ** 2)


def math_scalar(x, y):
    return (math.erf(x) + math.erfc(y) + math.sinh(x) + math.cosh(y) + math.tanh(x) + math.asin(x / 3)
            + math.acos(y / 3) + math.atan(x) + math.atan2(x, y) + math.hypot(x, y) + math.log1p(y)
            + math.expm1(x) + math.log2(y) + math.log10(y) + math.gamma(y) + math.lgamma(y + 0.5)
            + math.fabs(x - 2.0) + math.copysign(x, -1.0) + math.degrees(x) + math.radians(y))


def black_scholes(s, k, t, r, sigma):
    d1 = (math.log(s / k) + (r + 0.5 * sigma ** 2) * t) / (sigma * math.sqrt(t))
    d2 = d1 - sigma * math.sqrt(t)

    def cdf(z):
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    return s * cdf(d1) - k * math.exp(-r * t) * cdf(d2)


def gp_likelihood(ls, y):
    x = np.linspace(0.0, 1.0, 5)
    d = x[:, None] - x[None, :]
    k = np.exp(-0.5 * d * d / (ls * ls)) + 0.1 * np.eye(5)
    L = np.linalg.cholesky(k)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * np.dot(y, alpha) + np.sum(np.log(np.diag(L)))


CASES = [
    (cross3, (R(4, 3), R(3))), (cross_axes, (R(3, 4), R(4, 3))), (cross_axis_2d, (R(3, 2), R(2, 3))),
    (einsum_forms, (R(3, 3), R(3, 3), R(3))), (einsum_batched, (R(2, 3, 3), R(2, 3, 2))),
    (kron_, (R(2, 2), R(3))), (tensordot_, (R(2, 3, 4), R(3, 4, 2))), (logaddexp_, (R(3), R(2, 3))),
    (logaddexp_ties, (R(3),)), (repeat_, (R(2, 3),)), (gradient_, (R(4, 5),)),
    (linspace_, (0.3, 1.7)), (linspace_arrays, (R(2), R(2))), (inner_dot_, (R(2, 3), R(4, 3), R(3))),
    (trace_, (R(3, 6),)), (norms, (R(3, 4),)), (splits, (R(3, 3),)), (pinv_, (R(3, 2),)),
    (diff_, (R(3, 4),)), (axes_, (R(2, 3, 4),)), (triangles, (R(3, 4),)), (pads, (R(2, 3),)),
    (diags, (R(4, 4), R(3))), (atleast, (R(3), 0.7)), (tile_, (R(3),)), (sorts, (R(6),)),
    (hyperbolic, (R(3), U(3))), (logs, (P(4),)), (angles, (R(3),)), (linalg_, (R(3, 3) + 3 * np.eye(3), R(3, 2))),
    (svds, (R(4, 2), R(3, 3))), (eighs, (R(3, 3),)), (einsum_sublists, (R(2, 3), R(3, 4))), (nan_aware, (U(3), R(3))),
    (remainders, (rng.uniform(0.1, 1.4, 3) + np.array([0.0, 1.5, 3.0]), rng.uniform(2.0, 2.5, 3))),
    (rows_of_an_array, (R(2, 3),)), (roundings, (rng.uniform(-3, 3, 5) + 0.05,)), (scans, (R(6),)), (cumprod_zeros, (R(4),)),
    (joins, (R(3), R(3))), (rearranging, (R(2, 3),)), (gathers, (R(2, 3),)), (take_by_argsort, (R(4),)),
    (nans, (P(4),)), (complex_parts, (R(4),)), (math_scalar, (0.7, 1.3)),
    (black_scholes, (100.0, 95.0, 0.5, 0.03, 0.2)), (gp_likelihood, (0.4, R(5))),
]


def _float_positions(args):
    return tuple(i for i, a in enumerate(args) if isinstance(a, float) or getattr(a, "dtype", None) == np.float64)


def _grads(fn, args, fallback):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)     # np.cross of 2-vectors
        g = ad.grad(fn, wrt=_float_positions(args), fallback=fallback)
        return g(*args), g


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")   # (nans: log of negatives)
@pytest.mark.parametrize("fn,args", CASES, ids=[c[0].__name__ for c in CASES])
def test_compiled_traced_and_finite_differences_agree(fn, args):
    compiled, g = _grads(fn, args, "never")
    assert g.mode == "compiled"
    traced, _ = _grads(fn, args, "always")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for i, c, t in zip(_float_positions(args), compiled, traced):
            assert type(c) is type(t) and np.shape(c) == np.shape(args[i])
            np.testing.assert_allclose(c, t, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(c, _fd(fn, args, i), rtol=1e-5, atol=1e-6)


# ---- torch as the oracle -----------------------------------------------------------------

def _t(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def t_cross(a, b):
    return np.sum(np.cross(a, b) ** 2)


def t_einsum(a, b):
    return np.sum(np.einsum("bij,bjk->bik", a, b) ** 2)


def t_einsum_trace(a):
    return np.einsum("ii", a)


def t_kron(a, b):
    return np.sum(np.sin(np.kron(a, b)))


def t_tensordot(a, b):
    return np.sum(np.tensordot(a, b, axes=([1, 2], [0, 1])) ** 2)


def t_logaddexp(a, b):
    return np.sum(np.logaddexp(a, b) * W3) + np.sum(np.logaddexp2(a, b) * W3 ** 2)


def t_repeat(a):
    return np.sum(np.repeat(a, 2, axis=1) ** 3)


def t_diff(a):
    return np.sum(np.diff(a, axis=0) ** 2)


def t_triangles(a):
    return np.sum(np.tril(a, -1) ** 2 + np.triu(a) ** 3)


def t_tile(a):
    return np.sum(np.tile(a, (2, 2)) * np.reshape(np.arange(24), (4, 6)))


def t_sort(a):
    return np.sum(np.sort(a, axis=1) * np.arange(4))


def t_cumsum(a):
    return np.sum(np.cumsum(a, axis=1) ** 2) + np.sum(np.cumprod(a, axis=1) ** 2)


def t_math(a):
    return np.sum(np.sinh(a) + np.cosh(a) + np.arcsinh(a) + np.arctan(a))


def t_unit_math(a):
    return np.sum(np.arcsin(a) + np.arccos(a) + np.arctanh(a) + np.sinc(a))


def t_atan2_hypot(a, b):
    return np.sum(np.arctan2(a, b) + np.hypot(a, b))


def t_det_inv(a):
    return np.linalg.det(a) + np.sum(np.linalg.inv(a) ** 2) + np.linalg.slogdet(a)[1]


def t_solve(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


def t_pinv(a):
    return np.sum(np.linalg.pinv(a) ** 2)


def t_cholesky(b):                          # a symmetric parametrisation: NumPy reads only the lower triangle
    return np.sum(np.linalg.cholesky(b @ b.T + 3 * np.eye(3)) ** 2)


def t_pad(a):
    return np.sum(np.pad(a, ((1, 2), (0, 1))) ** 2 * 1.5 + 0.0) + np.sum(np.pad(a, 1, mode="reflect") ** 3)


def t_roll_flip(a):
    return np.sum(np.roll(a, 1, axis=0) * a) + np.sum(np.flip(a, 1) * np.arange(4))


def t_norms(a):
    return np.sum(np.linalg.norm(a, 3, axis=1)) + np.linalg.norm(a, np.inf) + np.linalg.norm(a, 1)


def t_svd(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(s ** 2 * W3) + np.sum((u @ vh) ** 2 * np.arange(4)) + np.linalg.norm(a, "nuc")


def t_eigh(b):                             # a symmetric parametrisation (NumPy reads one triangle)
    w, v = np.linalg.eigh(b + b.T)
    return np.sum(w * W3) + np.sum((v * v) * np.reshape(np.arange(9), (3, 3)))


def t_diagonal(a):
    return np.trace(a, 1) + np.sum(np.diagonal(a, -1) ** 2)


F64 = torch.float64 if torch is not None else None
TORCH = [
    # (our function, torch's, arguments): the same scalar
    (t_cross, lambda a, b: (torch.linalg.cross(a, b) ** 2).sum(), (R(4, 3), R(4, 3))),
    (t_einsum, lambda a, b: (torch.einsum("bij,bjk->bik", a, b) ** 2).sum(), (R(2, 3, 4), R(2, 4, 2))),
    (t_einsum_trace, lambda a: torch.einsum("ii", a), (R(3, 3),)),
    (t_kron, lambda a, b: torch.sin(torch.kron(a, b)).sum(), (R(2, 3), R(2, 2))),
    (t_tensordot, lambda a, b: (torch.tensordot(a, b, dims=([1, 2], [0, 1])) ** 2).sum(), (R(2, 3, 4), R(3, 4, 2))),
    (t_logaddexp, lambda a, b: (torch.logaddexp(a, b) * torch.tensor(W3)).sum()
     + (torch.logaddexp2(a, b) * torch.tensor(W3) ** 2).sum(), (R(3), R(3))),
    (t_repeat, lambda a: (torch.repeat_interleave(a, 2, dim=1) ** 3).sum(), (R(2, 3),)),
    (t_diff, lambda a: (torch.diff(a, dim=0) ** 2).sum(), (R(3, 4),)),
    (t_triangles, lambda a: (torch.tril(a, -1) ** 2 + torch.triu(a) ** 3).sum(), (R(3, 4),)),
    (t_tile, lambda a: (torch.tile(a, (2, 2)) * torch.arange(24.0, dtype=F64).reshape(4, 6)).sum(), (R(2, 3),)),
    (t_sort, lambda a: (torch.sort(a, dim=1).values * torch.arange(4.0, dtype=F64)).sum(), (R(3, 4),)),
    (t_cumsum, lambda a: (torch.cumsum(a, 1) ** 2).sum() + (torch.cumprod(a, 1) ** 2).sum(), (R(3, 4),)),
    (t_math, lambda a: (torch.sinh(a) + torch.cosh(a) + torch.asinh(a) + torch.atan(a)).sum(), (R(5),)),
    (t_unit_math, lambda a: (torch.asin(a) + torch.acos(a) + torch.atanh(a) + torch.sinc(a)).sum(), (U(5),)),
    (t_atan2_hypot, lambda a, b: (torch.atan2(a, b) + torch.hypot(a, b)).sum(), (R(4), R(4))),
    (t_det_inv, lambda a: torch.linalg.det(a) + (torch.linalg.inv(a) ** 2).sum() + torch.linalg.slogdet(a)[1],
     (R(3, 3) + 3 * np.eye(3),)),
    (t_solve, lambda a, b: (torch.linalg.solve(a, b) ** 2).sum(), (R(2, 3, 3) + 3 * np.eye(3), R(2, 3, 2))),
    (t_pinv, lambda a: (torch.linalg.pinv(a) ** 2).sum(), (R(4, 2),)),
    (t_cholesky, lambda b: (torch.linalg.cholesky(b @ b.T + 3 * torch.eye(3, dtype=F64)) ** 2).sum(), (R(3, 3),)),
    (t_pad, lambda a: (torch.nn.functional.pad(a, (0, 1, 1, 2)) ** 2 * 1.5).sum()
     + (torch.nn.functional.pad(a[None], (1, 1, 1, 1), mode="reflect")[0] ** 3).sum(), (R(3, 4),)),
    (t_roll_flip, lambda a: (torch.roll(a, 1, 0) * a).sum() + (torch.flip(a, (1,)) * torch.arange(4.0, dtype=F64)).sum(),
     (R(3, 4),)),
    (t_norms, lambda a: torch.linalg.vector_norm(a, 3, dim=1).sum() + torch.linalg.matrix_norm(a, float("inf"))
     + torch.linalg.matrix_norm(a, 1), (R(3, 4),)),
    (t_svd, lambda a: (torch.linalg.svdvals(a) ** 2 * torch.tensor(W3)).sum()
     + ((lambda usv: (usv[0] @ usv[2]) ** 2)(torch.linalg.svd(a, full_matrices=False)) * torch.arange(4.0, dtype=F64)).sum()
     + torch.linalg.matrix_norm(a, "nuc"), (R(3, 4),)),
    (t_eigh, lambda b: (torch.linalg.eigh(b + b.T)[0] * torch.tensor(W3)).sum()
     + (torch.linalg.eigh(b + b.T)[1] ** 2 * torch.arange(9.0, dtype=F64).reshape(3, 3)).sum(), (R(3, 3),)),
    (t_diagonal, lambda a: torch.diagonal(a, 1).sum() + (torch.diagonal(a, -1) ** 2).sum(), (R(4, 4),)),
]


@needs_torch
@pytest.mark.parametrize("k", range(len(TORCH)), ids=[c[0].__name__ for c in TORCH])
def test_against_torch(k):
    np_fn, torch_fn, args = TORCH[k]
    ours = ad.grad(np_fn, wrt=tuple(range(len(args))), fallback="never")(*args)
    ts = [_t(a) for a in args]
    want = torch.autograd.grad(torch_fn(*ts), ts)
    for o, w in zip(ours, want):
        np.testing.assert_allclose(o, w.numpy(), rtol=1e-9, atol=1e-12)


# ---- the native tier ------------------------------------------------------------------

def scalar_loop(x, y):
    s = 0.0
    for i in range(3):
        s = s + math.erf(x * i) + math.erfc(y) + math.atan2(x, y) + math.hypot(x, y) + math.copysign(x, -y)
        s = s + math.sinh(x) + math.cosh(y) + math.asin(x / 3) + math.acos(x / 3) + math.atan(y)
        s = s + math.asinh(x) + math.acosh(y + 1.0) + math.atanh(x / 3) + math.lgamma(y + i) + math.gamma(y)
    return s


def test_math_functions_lower_to_the_native_tier():
    """The new math namespace methods are libm calls in the native tier (its forward; the
    derivative of lgamma and gamma, polygamma, has no libm function: that gradient stays on
    the NumPy tier)."""
    j = ad.jit(scalar_loop)
    assert j(0.7, 1.3) == pytest.approx(scalar_loop(0.7, 1.3), rel=1e-14) and j.tier == "native"
    g = ad.grad(smooth_scalar_loop, wrt=(0, 1), jit="always", fallback="never")
    native = g(0.7, 1.3)
    assert g.tier == "native"
    numpy_tier = ad.grad(smooth_scalar_loop, wrt=(0, 1), jit="never", fallback="never")(0.7, 1.3)
    np.testing.assert_allclose(native, numpy_tier, rtol=1e-13)
    np.testing.assert_allclose(native, [_fd(smooth_scalar_loop, (0.7, 1.3), i) for i in (0, 1)], rtol=1e-6)


def smooth_scalar_loop(x, y):
    s = 0.0
    for i in range(3):
        s = s + math.erf(x * i) + math.erfc(y) + math.atan2(x, y) + math.hypot(x, y) + math.copysign(x, -y)
        s = s + math.sinh(x) + math.cosh(y) + math.asin(x / 3) + math.acos(x / 3) + math.atan(y)
        s = s + math.asinh(x) + math.acosh(y + 1.0) + math.atanh(x / 3)
    return s


# ---- errors ----------------------------------------------------------------------------

def not_pd(a):
    return np.sum(np.linalg.cholesky(a))


def singular_inv(a):
    return np.sum(np.linalg.inv(a))


def bad_cross(a, b):
    return np.sum(np.cross(a, b))


def bad_einsum(a):
    return np.einsum("ij,jk->ik", a)


@pytest.mark.parametrize("fallback", ["never", "always"])
def test_linalg_errors_are_numpys_and_name_the_line(fallback):
    g = ad.grad(not_pd, fallback=fallback)
    with pytest.raises(np.linalg.LinAlgError, match=r"test_numpy_coverage.py:\d+"):
        g(-np.eye(3))
    g = ad.grad(singular_inv, fallback=fallback)
    with pytest.raises(np.linalg.LinAlgError, match=r"test_numpy_coverage.py:\d+"):
        g(np.zeros((2, 2)))


@pytest.mark.parametrize("fallback", ["never", "always"])
def test_bad_shapes_name_the_line(fallback):
    with pytest.raises(Exception, match=r"(?s)cross.*test_numpy_coverage.py:\d+"):
        ad.grad(bad_cross, wrt=(0, 1), fallback=fallback)(R(3, 4), R(3, 4))
    with pytest.raises(Exception, match=r"test_numpy_coverage.py:\d+"):
        ad.grad(bad_einsum, fallback=fallback)(R(2, 2))


def math_domain(x):
    return math.asin(x) * 0.0 + 1.0


def math_pole(x):
    return math.gamma(x) + math.lgamma(x) * x


@pytest.mark.parametrize("jit", ["never", "always"])
def test_math_functions_raise_pythons_errors_in_compiled_code(jit):
    """The user's math.* on Python floats raise where Python raises (the value is dead here)."""
    with pytest.raises(ValueError, match="math domain error"):
        ad.grad(math_domain, fallback="never", jit=jit)(2.0)
    with pytest.raises(ValueError, match="math domain error"):
        ad.grad(math_pole, fallback="never", jit=jit)(0.0)
    assert ad.grad(math_pole, fallback="never", jit=jit)(2.5) == pytest.approx(_fd(math_pole, (2.5,), 0), rel=1e-6)


def svd_full(a):
    return np.sum(np.linalg.svd(a)[0])


def pad_mean(a):
    return np.sum(np.pad(a, 1, mode="mean"))


@pytest.mark.parametrize("fallback", ["never", "always"])
def test_unsupported_forms_are_refused_clearly(fallback):
    with pytest.raises(Exception, match=r"full_matrices=True.*non-square.*test_numpy_coverage.py:\d+"):
        ad.grad(svd_full, fallback=fallback)(R(3, 2))
    with pytest.raises(Exception, match=r"np.pad\(mode='mean'\).*test_numpy_coverage.py:\d+"):
        ad.grad(pad_mean, fallback=fallback)(R(3, 2))


# ---- the docs' list ---------------------------------------------------------------------

def test_docs_list_is_what_both_paths_support():
    """Every function docs/api.md lists is lowered by the compiler and handled by the tracer."""
    import pathlib
    import re
    from adcompiler import numpy_interop, tracing
    from adcompiler.compiler import library
    text = (pathlib.Path(__file__).parents[2] / "docs" / "api.md").read_text()
    listed = text.split("<!-- supported-functions -->")[1].split("<!-- /supported-functions -->")[0]
    names = re.findall(r"`((?:np|math)\.[a-z_0-9.]+)`", listed)
    assert len(names) > 130
    missing = []
    for name in names:
        module, *path = name.split(".")
        fn = np if module == "np" else math
        for p in path:
            fn = getattr(fn, p)
        if name in ("np.zeros", "np.ones", "np.full", "np.eye", "np.arange"):
            continue        # creation: constants
        compiled = library.is_known(fn)
        if module == "math":
            traced = path[0] in tracing._MATH
        else:
            traced = (fn in numpy_interop._UFUNCS or fn in numpy_interop._UFUNC_COMPOSITES or fn is np.square
                      or fn in numpy_interop._FUNCTIONS or name in ("np.array", "np.asarray", "np.linspace"))
        if not (compiled and traced):
            missing.append((name, compiled, traced))
    assert not missing
