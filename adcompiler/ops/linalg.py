"""Linear-algebra primitives: matmul (1-D, 2-D and batched), linear (x @ w.T + b),
trace and the vector/Frobenius norm, with their VJP rules."""
from __future__ import annotations

import numpy as np

from .core import Abstract, Primitive, dtype_of, shape_of, unbroadcast
from .elementwise import div, eq, mul, where
from .reductions import expand_back
from .shape import expand_dims, squeeze, swap_last2


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
    _check_matmul(np.broadcast_to(0.0, sa), np.broadcast_to(0.0, sb))
    out = np.matmul(np.broadcast_to(np.zeros((), args[0].dtype), sa), np.broadcast_to(np.zeros((), args[1].dtype), sb))
    return Abstract(np.shape(out), np.asarray(out).dtype)


matmul = Primitive("matmul", _matmul, grad_fn=_matmul_name, saves=(0, 1), shape_rule=_matmul_shape, kind="linalg")


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


def _trace(x):
    if np.ndim(x) != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {np.ndim(x)}")
    return np.asarray(np.trace(x))


trace = Primitive("trace", _trace, shape_rule=lambda a, p: Abstract((), a[0].dtype), kind="linalg")
eye_like = Primitive("eye_like", lambda x: np.eye(*shape_of(x), dtype=dtype_of(x)), differentiable=False,
                     kind="linalg")
trace.defvjp(lambda g, x, out: mul(g, eye_like(x)))


def _norm(x, axis=None, keepdims=False):
    x = np.asarray(x)
    return np.asarray(np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)))


norm = Primitive("norm", _norm, grad_fn="LinalgVectorNormBackward0", saves=(0,), saves_out=True, kind="linalg")


def _norm_vjp(g, x, out, axis=None, keepdims=False):
    # x / norm, and 0 where the norm is 0 (the zero vector: 0 is the subgradient, as torch).
    # The inner `where` keeps 0 / 0 out of the discarded branch, so the rule's own derivative
    # (a second derivative) is not nan there either.
    zero = eq(out, 0.0)
    scale = where(zero, 0.0, div(g, where(zero, 1.0, out)))
    return mul(expand_back(scale, shape_of(x), axis, keepdims), x)


norm.defvjp(_norm_vjp)

__all__ = ["matmul", "linear", "trace", "eye_like", "norm"]
