"""Linear-algebra primitives: matmul (1-D, 2-D and batched), linear (x @ w.T + b),
trace, the vector/Frobenius norm, and np.linalg's inv, solve, det, slogdet,
cholesky and pinv (batched over leading axes, as NumPy), with their VJP rules and
JVP rules (matmul and einsum are multilinear, trace linear, solve linear in b: their
tangents are derived; the decompositions' tangents are the classical forward formulas).

Forwards are NumPy's, so a singular or non-positive-definite matrix raises NumPy's
LinAlgError (the paths add the user's line)."""
from __future__ import annotations

import numpy as np

from .core import Abstract, Primitive, dtype_of, shape_of, unbroadcast
from .dims import broadcast_shapes, has_dims, shape_text
from .elementwise import add, div, eq, mul, neg, sub, where
from .reductions import expand_back, weighted_sum
from .shape import broadcast_to, expand_dims, reshape, squeeze, swap_last2


def _matmul_name(args, params):
    na, nb = len(shape_of(args[0])), len(shape_of(args[1]))
    if na == 1 and nb == 1:
        return "DotBackward0"
    if na == 2 and nb == 2:
        return "MmBackward0"
    if na == 2 and nb == 1:
        return "MvBackward0"
    if na == 1:
        return "SqueezeBackward4"
    return "UnsafeViewBackward0"


def _check_matmul(a, b):
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) == 0 or len(sb) == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{len(sa)}D and {len(sb)}D")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        if len(sa) == 1 and len(sb) == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{ka}] and src [{kb}] "
                               "to have the same number of elements, but got "
                               f"{ka} and {kb} elements respectively")
        a2 = "x".join(map(str, sa if len(sa) > 1 else (1,) + sa))
        b2 = "x".join(map(str, sb if len(sb) > 1 else sb + (1,)))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a2} and {b2})")


def _matmul(a, b):
    _check_matmul(a, b)
    return np.asarray(np.matmul(a, b))


def _matmul_shape(args, params):
    sa, sb = shape_of(args[0]), shape_of(args[1])
    if has_dims(sa) or has_dims(sb):
        return _matmul_shape_symbolic(args, sa, sb)
    _check_matmul(np.broadcast_to(0.0, sa), np.broadcast_to(0.0, sb))
    out = np.matmul(np.broadcast_to(np.zeros((), args[0].dtype), sa), np.broadcast_to(np.zeros((), args[1].dtype), sb))
    return Abstract(np.shape(out), np.asarray(out).dtype)


def _matmul_shape_symbolic(args, sa, sb):
    if len(sa) == 0 or len(sb) == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D")
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if not sa[-1] == kb:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({shape_text(sa)} and {shape_text(sb)})")
    batch = broadcast_shapes(sa[:-2], sb[:-2])
    shape = tuple(batch) + tuple(sa[-2:-1]) + tuple(sb[-1:] if len(sb) > 1 else ())
    dtype = np.matmul(np.zeros((1, 1), args[0].dtype), np.zeros((1, 1), args[1].dtype)).dtype
    return Abstract(shape, dtype)


matmul = Primitive("matmul", _matmul, grad_fn=_matmul_name, saves=(0, 1), shape_rule=_matmul_shape, kind="linalg",
                   multilinear=True)


def _matmul_da(g, a, b, out):
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 1 and nb == 1:
        return mul(g, b)
    if nb == 1:                      # (..., n, k) @ (k,) -> (..., n)
        return mul(expand_dims(g, axis=-1), b)
    if na == 1:                      # (k,) @ (..., k, m) -> (..., m)
        return unbroadcast(squeeze(matmul(b, expand_dims(g, axis=-1)), axis=-1), shape_of(a))
    return unbroadcast(matmul(g, swap_last2(b)), shape_of(a))


def _matmul_db(g, a, b, out):
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 1 and nb == 1:
        return mul(g, a)
    if nb == 1:
        return unbroadcast(squeeze(matmul(swap_last2(a), expand_dims(g, axis=-1)), axis=-1), shape_of(b))
    if na == 1:
        return mul(expand_dims(a, axis=-1), expand_dims(g, axis=-2))
    return unbroadcast(matmul(swap_last2(a), g), shape_of(b))


matmul.defvjp(_matmul_da, _matmul_db)


def _linear(x, w, b):
    _check_matmul(x, np.swapaxes(w, -1, -2))
    return np.asarray(np.matmul(x, np.swapaxes(w, -1, -2)) + b)


linear = Primitive("linear", _linear, saves=(0, 1), kind="linalg",
                   grad_fn=lambda a, p: "AddmmBackward0" if len(shape_of(a[0])) == 2 else "ViewBackward0")
linear.defvjp(lambda g, x, w, b, out: _matmul_da(g, x, swap_last2(w), out),
              lambda g, x, w, b, out: swap_last2(_matmul_db(g, x, swap_last2(w), out)),
              lambda g, x, w, b, out: unbroadcast(g, shape_of(b)))
# x @ w.T + b: linear in x and in w (each with b's term dropped), and b's tangent as it is
linear.defjvp(lambda t, x, w, b, out: linear(t, w, 0.0),
              lambda t, x, w, b, out: linear(x, t, 0.0),
              lambda t, x, w, b, out: t)


def _trace(x):
    if np.ndim(x) != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {np.ndim(x)}")
    return np.asarray(np.trace(x))


trace = Primitive("trace", _trace, shape_rule=lambda a, p: Abstract((), a[0].dtype), kind="linalg", linear=True)
eye_like = Primitive("eye_like", lambda x: np.eye(*shape_of(x), dtype=dtype_of(x)), differentiable=False,
                     kind="linalg")
trace.defvjp(lambda g, x, out: mul(g, eye_like(x)))


def _norm(x, axis=None, keepdims=False):
    x = np.asarray(x)
    return np.asarray(np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)))


norm = Primitive("norm", _norm, grad_fn="LinalgVectorNormBackward0", saves=(0,), saves_out=True, kind="linalg")


def _over_norm(v, out):
    # v / norm, and 0 where the norm is 0 (the zero vector: 0 is the subgradient, as torch).
    # The inner `where` keeps 0 / 0 out of the discarded branch, so the rule's own derivative
    # (a second derivative) is not nan there either.
    zero = eq(out, 0.0)
    return where(zero, 0.0, div(v, where(zero, 1.0, out)))


def _norm_vjp(g, x, out, axis=None, keepdims=False):
    return mul(expand_back(_over_norm(g, out), shape_of(x), axis, keepdims), x)


def _norm_jvp(t, x, out, axis=None, keepdims=False):
    return _over_norm(weighted_sum(t, x, axis, keepdims), out)


norm.defvjp(_norm_vjp).defjvp(_norm_jvp)

# ---- np.linalg -----------------------------------------------------------------

def _square_shape(args, params):
    s = shape_of(args[0])
    if len(s) < 2 or s[-1] != s[-2]:
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
    return s


def _float_of(x):
    return np.result_type(dtype_of(x), np.float64) if dtype_of(x).kind not in "fc" else dtype_of(x)


def _mT(x):
    return swap_last2(x)


def _scalar_times_matrix(g, m):
    """g[..., None, None] * m: a cotangent per matrix of a batch times a matrix per matrix."""
    return mul(expand_dims(expand_dims(g, axis=-1), axis=-1), m)


inv = Primitive("inv", lambda a: np.asarray(np.linalg.inv(a)), grad_fn="LinalgInvExBackward0", saves_out=True,
                kind="linalg", numpy_name="linalg.inv",
                shape_rule=lambda a, p: Abstract(_square_shape(a, p), _float_of(a[0])))
# d(A^-1) = -A^-1 dA A^-1
inv.defvjp(lambda g, a, out: neg(matmul(_mT(out), matmul(g, _mT(out)))))
inv.defjvp(lambda t, a, out: neg(matmul(out, matmul(t, out))))


def _solve_shape(args, params):
    sa, sb = _square_shape(args, params), shape_of(args[1])
    if len(sb) == 1:
        if sb[0] != sa[-1]:
            raise ValueError(f"solve: a {sa} and b {sb} do not match")
        out = sa[:-1]
    else:
        if sb[-2] != sa[-1]:
            raise ValueError(f"solve: a {sa} and b {sb} do not match")
        out = np.broadcast_shapes(sa[:-2], sb[:-2]) + sb[-2:]
    return Abstract(out, np.result_type(_float_of(args[0]), _float_of(args[1])))


solve = Primitive("solve", lambda a, b: np.asarray(np.linalg.solve(a, b)), grad_fn="LinalgSolveExBackward0",
                  saves=(0,), saves_out=True, kind="linalg", numpy_name="linalg.solve", shape_rule=_solve_shape,
                  linear=(1,))


def _solve_db(g, a, b, out):
    # x = A^-1 b, so b's cotangent is A^-T g (g a vector per matrix of a batch when b is 1-D)
    if len(shape_of(b)) == 1:
        gb = squeeze(solve(_mT(a), expand_dims(g, axis=-1)), axis=-1)
    else:
        gb = solve(_mT(a), g)
    return unbroadcast(gb, shape_of(b))


def _solve_da(g, a, b, out):
    # dx = -A^-1 dA x, so A's cotangent is -(A^-T g) x^T
    if len(shape_of(b)) == 1:
        gb = squeeze(solve(_mT(a), expand_dims(g, axis=-1)), axis=-1)
        ga = neg(mul(expand_dims(gb, axis=-1), expand_dims(out, axis=-2)))
    else:
        ga = neg(matmul(solve(_mT(a), g), _mT(out)))
    return unbroadcast(ga, shape_of(a))


def _solve_jvp_a(t, a, b, out):
    # dx = -A^-1 dA x (x a vector per matrix of a batch when b is 1-D)
    if len(shape_of(b)) == 1:
        return neg(squeeze(solve(a, matmul(t, expand_dims(out, axis=-1))), axis=-1))
    return neg(solve(a, matmul(t, out)))


solve.defvjp(_solve_da, _solve_db)
solve.defjvp(_solve_jvp_a, None)   # linear in b: its tangent is solve(a, tb)

det = Primitive("det", lambda a: np.asarray(np.linalg.det(a)), grad_fn="LinalgDetBackward0", saves=(0,),
                saves_out=True, kind="linalg", numpy_name="linalg.det",
                shape_rule=lambda a, p: Abstract(_square_shape(a, p)[:-2], _float_of(a[0])))


def _inv_trace_weights(a):
    """A^-T: tr(A^-1 dA) = sum(A^-T * dA), the weights of dA in log|det A|'s derivative."""
    return _mT(inv(a))


def _weighted_trace(t, a):
    return weighted_sum(t, _inv_trace_weights(a), (-2, -1), False)


# d det A = det A tr(A^-1 dA): the cotangent is g det(A) A^-T (NumPy's LinAlgError for a singular A)
det.defvjp(lambda g, a, out: _scalar_times_matrix(mul(g, out), _inv_trace_weights(a)))
det.defjvp(lambda t, a, out: mul(out, _weighted_trace(t, a)))

logabsdet = Primitive("logabsdet", lambda a: np.asarray(np.linalg.slogdet(a)[1]), grad_fn="LinalgSlogdetBackward0",
                      saves=(0,), kind="linalg",
                      shape_rule=lambda a, p: Abstract(_square_shape(a, p)[:-2], _float_of(a[0])))
logabsdet.defvjp(lambda g, a, out: _scalar_times_matrix(g, _inv_trace_weights(a)))
logabsdet.defjvp(lambda t, a, out: _weighted_trace(t, a))
slogdet_sign = Primitive("slogdet_sign", lambda a: np.asarray(np.linalg.slogdet(a)[0]), differentiable=False,
                         kind="linalg", shape_rule=lambda a, p: Abstract(_square_shape(a, p)[:-2], _float_of(a[0])))


def _tril_mask(n, k=0):
    return np.tri(n, n, k, dtype=bool)


def _tril(x, k=0):
    return where(_tril_mask(shape_of(x)[-1], k), x, 0.0)


cholesky = Primitive("cholesky", lambda a: np.asarray(np.linalg.cholesky(a)), grad_fn="LinalgCholeskyExBackward0",
                     saves_out=True, kind="linalg", numpy_name="linalg.cholesky",
                     shape_rule=lambda a, p: Abstract(_square_shape(a, p), _float_of(a[0])))


def _cholesky_vjp(g, a, out):
    # torch's symmetric cotangent S = L^-T Phi(L^T G) L^-1 (Phi: the lower triangle, diagonal
    # halved, mirrored). NumPy's cholesky reads only the lower triangle of A, so the derivative
    # of what it computes is S's lower triangle with the off-diagonal doubled: 2 tril(S) - diag(S)
    # (what finite differences see; it equals torch's wherever A is parametrised symmetric).
    n = shape_of(a)[-1]
    m = _tril(matmul(_mT(out), g))
    phi = mul(0.5, add(m, _mT(_tril(m, -1))))
    y = solve(_mT(out), phi)                   # L^-T Phi
    s = _mT(solve(_mT(out), _mT(y)))           # L^-T Phi L^-1
    return where(_tril_mask(n), mul(where(np.eye(n, dtype=bool), 1.0, 2.0), s), 0.0)


def _cholesky_jvp(t, a, out):
    # NumPy reads A's lower triangle, so A moves by the symmetric S = tril(t) + tril(t, -1)^T;
    # dL = L Phi(L^-1 S L^-T), Phi: the lower triangle with the diagonal halved.
    n = shape_of(a)[-1]
    s = add(_tril(t), _mT(_tril(t, -1)))
    y = solve(out, s)                          # L^-1 S
    x = _mT(solve(out, _mT(y)))                # L^-1 S L^-T
    return matmul(out, where(_tril_mask(n), mul(where(np.eye(n, dtype=bool), 0.5, 1.0), x), 0.0))


cholesky.defvjp(_cholesky_vjp).defjvp(_cholesky_jvp)

pinv = Primitive("pinv", lambda a: np.asarray(np.linalg.pinv(a)), grad_fn="LinalgPinvBackward0", saves=(0,),
                 saves_out=True, kind="linalg", numpy_name="linalg.pinv",
                 shape_rule=lambda a, p: Abstract(shape_of(a[0])[:-2] + shape_of(a[0])[-2:][::-1], _float_of(a[0])))


def _pinv_vjp(g, a, out):
    # Golub & Pereyra (constant rank): with P = pinv(A),
    # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P, so
    # gA = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)
    p, pt, gt = out, _mT(out), _mT(g)
    t1 = neg(matmul(pt, matmul(g, pt)))
    u = matmul(gt, matmul(p, pt))              # G^T P P^T
    t2 = sub(u, matmul(a, matmul(p, u)))
    v = matmul(matmul(pt, p), gt)              # P^T P G^T
    t3 = sub(v, matmul(matmul(v, p), a))
    return add(t1, add(t2, t3))


def _pinv_jvp(t, a, out):
    # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P (Golub & Pereyra)
    p, pt, tt = out, _mT(out), _mT(t)
    t1 = neg(matmul(p, matmul(t, p)))
    u = matmul(matmul(p, pt), tt)              # P P^T dA^T
    t2 = sub(u, matmul(matmul(u, a), p))
    v = matmul(tt, matmul(pt, p))              # dA^T P^T P
    t3 = sub(v, matmul(p, matmul(a, v)))
    return add(t1, add(t2, t3))


pinv.defvjp(_pinv_vjp).defjvp(_pinv_jvp)

# ---- singular value decomposition ------------------------------------------------------
# np.linalg.svd(a, full_matrices=False) as three primitives, one per output (each runs the
# decomposition; their VJPs are the parts of Townsend's formula for the cotangent of that output).
# A degenerate singular value makes the U and Vh cotangents inf/nan, as torch's.

def _svd_shape(args, params, which):
    s = shape_of(args[0])
    m, n = s[-2:]
    k = min(m, n)
    shape = {"u": s[:-2] + (m, k), "s": s[:-2] + (k,), "vh": s[:-2] + (k, n)}[which]
    return Abstract(shape, _float_of(args[0]))


svd_u = Primitive("svd_u", lambda a: np.asarray(np.linalg.svd(a, full_matrices=False)[0]), grad_fn="LinalgSvdBackward0",
                  saves=(0,), kind="linalg", shape_rule=lambda a, p: _svd_shape(a, p, "u"))
svd_s = Primitive("svd_s", lambda a, uv=True: np.asarray(
    np.linalg.svd(a, full_matrices=False)[1] if uv else np.linalg.svd(a, compute_uv=False)),
    grad_fn="LinalgSvdBackward0", saves=(0,), kind="linalg", shape_rule=lambda a, p: _svd_shape(a, p, "s"))
svd_vh = Primitive("svd_vh", lambda a: np.asarray(np.linalg.svd(a, full_matrices=False)[2]),
                   grad_fn="LinalgSvdBackward0", saves=(0,), kind="linalg", shape_rule=lambda a, p: _svd_shape(a, p, "vh"))


def _svd_f(s):
    """F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it."""
    s2 = mul(s, s)
    d = sub(expand_dims(s2, axis=-2), expand_dims(s2, axis=-1))
    k = shape_of(s)[-1]
    eye = np.eye(k, dtype=bool)
    return where(eye, 0.0, div(1.0, where(eye, 1.0, d)))


def _svd_du(g, a, out):
    u, s, vh = svd_u(a), svd_s(a), svd_vh(a)
    utg = matmul(_mT(u), g)
    j = mul(_svd_f(s), sub(utg, _mT(utg)))
    inner = mul(j, expand_dims(s, axis=-2))                       # J S
    rest = div(sub(g, matmul(u, utg)), expand_dims(s, axis=-2))    # (I - U U^T) gU S^-1
    return add(matmul(matmul(u, inner), vh), matmul(rest, vh))


def _svd_ds(g, a, out, uv=True):
    u, vh = svd_u(a), svd_vh(a)
    return matmul(mul(u, expand_dims(g, axis=-2)), vh)


def _svd_dvh(g, a, out):
    u, s, vh = svd_u(a), svd_s(a), svd_vh(a)
    v = _mT(vh)
    vtg = matmul(vh, _mT(g))                                      # V^T gV with gV = g^T
    k_ = mul(_svd_f(s), sub(vtg, _mT(vtg)))
    inner = mul(expand_dims(s, axis=-1), k_)                      # S K
    rest = div(sub(g, matmul(matmul(g, v), vh)), expand_dims(s, axis=-1))   # S^-1 gV^T (I - V V^T)
    return add(matmul(matmul(u, inner), vh), matmul(u, rest))


# Tangents (Townsend): with dP = U^T dA V,
#   dS = diag(dP),
#   dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1,
#   dV = V (F o (S dP + dP^T S)) + (I - V V^T) dA^T U S^-1.

def _svd_jvp_s(t, a, out, uv=True):
    u, vh = svd_u(a), svd_vh(a)
    return weighted_sum(u, matmul(t, _mT(vh)), -2, False)        # diag(U^T dA V)


def _svd_jvp_u(t, a, out):
    u, s, vh = svd_u(a), svd_s(a), svd_vh(a)
    tv = matmul(t, _mT(vh))                                       # dA V
    dp = matmul(_mT(u), tv)
    inner = mul(_svd_f(s), add(mul(dp, expand_dims(s, axis=-2)), mul(expand_dims(s, axis=-1), _mT(dp))))
    rest = div(sub(tv, matmul(u, dp)), expand_dims(s, axis=-2))
    return add(matmul(u, inner), rest)


def _svd_jvp_vh(t, a, out):
    u, s, vh = svd_u(a), svd_s(a), svd_vh(a)
    tu = matmul(_mT(t), u)                                        # dA^T U
    dpt = matmul(vh, tu)                                          # dP^T
    inner = mul(_svd_f(s), add(mul(expand_dims(s, axis=-1), _mT(dpt)), mul(dpt, expand_dims(s, axis=-2))))
    rest = div(sub(tu, matmul(_mT(vh), dpt)), expand_dims(s, axis=-2))
    return _mT(add(matmul(_mT(vh), inner), rest))


svd_u.defvjp(_svd_du).defjvp(_svd_jvp_u)
svd_s.defvjp(_svd_ds).defjvp(_svd_jvp_s)
svd_vh.defvjp(_svd_dvh).defjvp(_svd_jvp_vh)


# ---- symmetric eigendecomposition -------------------------------------------------------
# np.linalg.eigh(a, UPLO) as two primitives, eigenvalues and eigenvectors. NumPy reads one
# triangle of `a` (UPLO "L": the lower one), so the derivative of what it computes is the
# symmetric-perturbation cotangent G = V (diag(gw) + F o (V^T gV)) V^T folded onto that triangle
# (G + G^T off the diagonal, G on it). F[i, j] = 1 / (w_j - w_i): repeated eigenvalues give inf/nan.

def _eigh_shape(args, params, vectors):
    s = _square_shape(args, params)
    return Abstract(s if vectors else s[:-1], _float_of(args[0]))


eigh_w = Primitive("eigh_w", lambda a, UPLO="L": np.asarray(np.linalg.eigh(a, UPLO)[0]),
                   grad_fn="LinalgEighBackward0", saves=(0,), kind="linalg",
                   shape_rule=lambda a, p: _eigh_shape(a, p, False))
eigh_v = Primitive("eigh_v", lambda a, UPLO="L": np.asarray(np.linalg.eigh(a, UPLO)[1]),
                   grad_fn="LinalgEighBackward0", saves=(0,), saves_out=True, kind="linalg",
                   shape_rule=lambda a, p: _eigh_shape(a, p, True))


def _fold_onto_triangle(g, uplo):
    n = shape_of(g)[-1]
    lower = _tril_mask(n)
    tri = lower if uplo == "L" else lower.T
    both = add(g, where(np.eye(n, dtype=bool), 0.0, _mT(g)))
    return where(tri, both, 0.0)


def _sym_from_triangle(t, uplo):
    """The symmetric matrix eigh sees when the triangle `uplo` of A moves by t's: that
    triangle mirrored (the transpose of _fold_onto_triangle)."""
    n = shape_of(t)[-1]
    lower = _tril_mask(n)
    half = where(lower if uplo == "L" else lower.T, t, 0.0)
    return add(half, _mT(where(np.eye(n, dtype=bool), 0.0, half)))


def _eigh_gaps(w):
    """F[i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it."""
    n = shape_of(w)[-1]
    eye = np.eye(n, dtype=bool)
    return where(eye, 0.0, div(1.0, where(eye, 1.0, sub(expand_dims(w, axis=-2), expand_dims(w, axis=-1)))))


def _eigh_dw(g, a, out, UPLO="L"):
    v = eigh_v(a, UPLO=UPLO)
    return _fold_onto_triangle(matmul(mul(v, expand_dims(g, axis=-2)), _mT(v)), UPLO)


def _eigh_dv(g, a, out, UPLO="L"):
    w, v = eigh_w(a, UPLO=UPLO), out
    inner = mul(_eigh_gaps(w), matmul(_mT(v), g))
    return _fold_onto_triangle(matmul(matmul(v, inner), _mT(v)), UPLO)


# tangents: with S the symmetric perturbation, dw = diag(V^T S V) and dV = V (F o (V^T S V))
def _eigh_jvp_w(t, a, out, UPLO="L"):
    v = eigh_v(a, UPLO=UPLO)
    return weighted_sum(v, matmul(_sym_from_triangle(t, UPLO), v), -2, False)


def _eigh_jvp_v(t, a, out, UPLO="L"):
    w, v = eigh_w(a, UPLO=UPLO), out
    return matmul(v, mul(_eigh_gaps(w), matmul(_mT(v), matmul(_sym_from_triangle(t, UPLO), v))))


eigh_w.defvjp(_eigh_dw).defjvp(_eigh_jvp_w)
eigh_v.defvjp(_eigh_dv).defjvp(_eigh_jvp_v)


# ---- einsum ------------------------------------------------------------------------

def _einsum_impl(*operands, spec):
    return np.asarray(np.einsum(spec, *operands))


def _einsum_vjp(i, g, *rest, spec):
    """The cotangent of operand i: g contracted with the other operands onto operand i's
    labels; labels only operand i has (summed in the forward) are broadcast back, and
    size-1 axes NumPy broadcast are summed."""
    operands = rest[:-1]
    ins, out = spec.split("->")
    terms = ins.split(",")
    mine = terms[i]
    others = [t for k, t in enumerate(terms) if k != i]
    seen = set(out).union(*others) if others else set(out)
    kept = "".join(c for c in mine if c in seen)
    gx = einsum(g, *[x for k, x in enumerate(operands) if k != i], spec=",".join([out] + others) + "->" + kept)
    x_shape = shape_of(operands[i])
    if kept != mine:
        gx = reshape(gx, shape=tuple(shape_of(gx)[kept.index(c)] if c in kept else 1 for c in mine))
    full = tuple(max(a, b) for a, b in zip(shape_of(gx), x_shape))
    if shape_of(gx) != full:
        gx = broadcast_to(gx, shape=full)
    return unbroadcast(gx, x_shape)


# `spec` is explicit ("ij,jk->ik"), without `...` and without a label repeated within an operand
# (composites.einsum spells those out and takes the diagonals first)
einsum = Primitive("einsum", _einsum_impl, saves=tuple(range(32)), kind="linalg", grad_fn="EinsumBackward0",
                   multilinear=True)
einsum.defvjp_argnum(_einsum_vjp)

__all__ = ["matmul", "linear", "trace", "eye_like", "norm", "einsum", "inv", "solve", "det", "logabsdet", "slogdet_sign",
           "cholesky", "pinv", "svd_u", "svd_s", "svd_vh", "eigh_w", "eigh_v"]
