"""Reductions (sum, mean, prod, var, std, max/min, argmax, logsumexp) and the
normalisations that reduce internally (softmax, log_softmax), with VJP and JVP rules.

sum and mean are linear (their tangent is themselves applied to the tangent). The
others' cotangent is the broadcast cotangent times weights w (one per input element):
the weights are computed by one helper that the VJP (expand_back(g) * w) and the JVP
(sum(t * w) over the reduced axes) share, so the boundary cases (std at zero spread,
prod with zeros) are handled once. softmax's Jacobian is symmetric (self_adjoint)."""
from __future__ import annotations

import math

import numpy as np

from .core import Abstract, Primitive, dtype_of, shape_of, unbroadcast
from .dims import Dim
from .elementwise import div, eq, exp, mul, sub, where
from .shape import broadcast_to, reshape


def normalize_axis(axis, ndim):
    """`axis` as a sorted tuple of non-negative ints (None: every axis)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {a})")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def reduced_shape(shape, axis, keepdims):
    axes = normalize_axis(axis, len(shape))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def count(shape, axis):
    """How many elements each reduced value covers."""
    n = 1
    for i in normalize_axis(axis, len(shape)):
        n *= shape[i] if shape else 1
    return n


def as_float(n):
    """A count as a float for division (a symbolic extent stays one: the compiler reads it at run time)."""
    return n if isinstance(n, Dim) else float(n)


def expand_back(g, shape, axis, keepdims):
    """Broadcast a reduced cotangent back to the shape of the reduced input."""
    if not keepdims:
        g = reshape(g, shape=reduced_shape(shape, axis, True))
    return broadcast_to(g, shape=tuple(shape))


def _reduction_rule(impl):
    def rule(args, params):
        x = args[0]
        shp = shape_of(x)
        keep = params.get("keepdims", False)
        axis = params.get("axis")
        out_shape = reduced_shape(shp, axis, keep)
        small = np.ones((2,) * len(shp), dtype=dtype_of(x))  # x may be a Python scalar (the compiler's weak scalars)
        dtype = np.asarray(impl(small, **params)).dtype
        return Abstract(out_shape, dtype)
    return rule


def _name(base):
    """SumBackward0 for a full reduction, SumBackward1 for one over dims."""
    return lambda args, params: f"{base}Backward{0 if params.get('axis') is None else 1}"


def _reduction(name, impl, grad_fn, **kw):
    return Primitive(name, impl, grad_fn=grad_fn, shape_rule=_reduction_rule(impl), kind="reduction", **kw)


def _np_reduce(fn):
    def impl(x, axis=None, keepdims=False, **kw):
        return np.asarray(fn(x, axis=_ax(axis), keepdims=keepdims, **kw))
    return impl


def _ax(axis):
    return tuple(axis) if isinstance(axis, list) else axis


sum_ = _reduction("sum", _np_reduce(np.sum), _name("Sum"), numpy_name="sum", linear=True, monoid=("add", 0, False))
mean = _reduction("mean", _np_reduce(np.mean), _name("Mean"), numpy_name="mean", linear=True,
                  monoid=("add", 0, True))
prod = _reduction("prod", _np_reduce(np.prod), _name("Prod"), saves=(0,), numpy_name="prod", monoid=("mul", 1, False))
var = _reduction("var", lambda x, axis=None, correction=1, keepdims=False: np.asarray(
    np.var(x, axis=_ax(axis), ddof=correction, keepdims=keepdims)), "VarBackward0", saves=(0,))
std = _reduction("std", lambda x, axis=None, correction=1, keepdims=False: np.asarray(
    np.std(x, axis=_ax(axis), ddof=correction, keepdims=keepdims)), "StdBackward0", saves=(0,), saves_out=True)
logsumexp = _reduction("logsumexp", lambda x, axis=None, keepdims=False: _logsumexp(x, axis, keepdims),
                       "LogsumexpBackward0", saves=(0,), saves_out=True)


def _logsumexp(x, axis, keepdims):
    x = np.asarray(x)
    m = np.max(x, axis=_ax(axis), keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        s = np.log(np.sum(np.exp(x - m), axis=_ax(axis), keepdims=True)) + m
    return s if keepdims else np.asarray(np.squeeze(s, axis=normalize_axis(axis, x.ndim)))


sum_.defvjp(lambda g, x, out, axis=None, keepdims=False: expand_back(g, shape_of(x), axis, keepdims))
mean.defvjp(lambda g, x, out, axis=None, keepdims=False: div(
    expand_back(g, shape_of(x), axis, keepdims), as_float(count(shape_of(x), axis))))


def weighted_sum(t, w, axis, keepdims):
    """The tangent of a reduction whose cotangent is expand_back(g) * w: sum(t * w) over `axis`."""
    return sum_(mul(t, w), axis=axis, keepdims=keepdims)


prod.defvjp(lambda g, x, out, axis=None, keepdims=False: mul(
    expand_back(g, shape_of(x), axis, keepdims), prod_others(x, axis=axis)))
prod.defjvp(lambda t, x, out, axis=None, keepdims=False: weighted_sum(t, prod_others(x, axis=axis), axis, keepdims))


def dof(shape, axis, correction):
    """The divisor of var/std: N - correction, clamped at 0 as the NumPy and torch forwards do."""
    n = count(shape, axis) - correction
    if isinstance(n, Dim):       # a symbolic extent: the compiler divides by it at run time
        return n if n > 0 else 0.0
    return max(float(n), 0.0)


def _var_weights(x, axis, correction):
    # 2 (x - mean) / dof. With dof <= 0 the forward is S / 0 (inf, or nan where every x equals
    # the mean): the scale is inf, so the cotangent is +-inf, or nan where x == mean.
    d = dof(shape_of(x), axis, correction)
    scale = div(2.0, d) if isinstance(d, Dim) else 2.0 / d if d > 0 else math.inf
    return mul(scale, sub(x, mean(x, axis=axis, keepdims=True)))


def _var_vjp(g, x, out, axis=None, correction=1, keepdims=False):
    return mul(expand_back(g, shape_of(x), axis, keepdims), _var_weights(x, axis, correction))


def _var_jvp(t, x, out, axis=None, correction=1, keepdims=False):
    return weighted_sum(t, _var_weights(x, axis, correction), axis, keepdims)


def _over_twice_std(v, out):
    # std = sqrt(var): a var (co)tangent v is v / (2 std), except where std == 0 (a single
    # element, an axis of length 1, all-equal values), where std is a norm at its cone point
    # and 0 is the subgradient (torch, HIPS autograd). The double `where` keeps 0 / 0 out of
    # both branches, so neither the result nor its own derivative is nan.
    zero = eq(out, 0.0)
    return where(zero, 0.0, div(v, mul(2.0, where(zero, 1.0, out))))


def _std_vjp(g, x, out, axis=None, correction=1, keepdims=False):
    return _var_vjp(_over_twice_std(g, out), x, out, axis=axis, correction=correction, keepdims=keepdims)


def _std_jvp(t, x, out, axis=None, correction=1, keepdims=False):
    return _over_twice_std(_var_jvp(t, x, out, axis=axis, correction=correction, keepdims=keepdims), out)


def _logsumexp_weights(x, out, axis, keepdims):
    return exp(sub(x, expand_back(out, shape_of(x), axis, keepdims)))


var.defvjp(_var_vjp).defjvp(_var_jvp)
std.defvjp(_std_vjp).defjvp(_std_jvp)
logsumexp.defvjp(lambda g, x, out, axis=None, keepdims=False: mul(
    expand_back(g, shape_of(x), axis, keepdims), _logsumexp_weights(x, out, axis, keepdims)))
logsumexp.defjvp(lambda t, x, out, axis=None, keepdims=False: weighted_sum(
    t, _logsumexp_weights(x, out, axis, keepdims), axis, keepdims))


def _prod_others(x, *vs, axis=None):
    """Product of all other elements along `axis`, exact when x has zeros; with direction
    arguments v1..vr, its r-th directional derivative D^r[v1, ..., vr] (see prod_others).

    No division: prefix and suffix products (left[j] = prod_{k<j}, right[j] = prod_{k>j}),
    computed, when there are directions, over truncated polynomials in t1..tr with ts^2 = 0
    (each element is x_k + t1 v1_k + ... + tr vr_k; hyper-dual numbers), whose t1...tr
    coefficient is the derivative."""
    x = np.asarray(x)
    dt = np.result_type(x, *vs) if vs else x.dtype
    if x.ndim == 0:
        return np.asarray(np.ones_like(x, dtype=dt) if not vs else np.zeros_like(x, dtype=dt))
    if x.size == 0:
        return np.zeros(x.shape, dt)
    axes = normalize_axis(axis, x.ndim)
    keep = x.ndim - len(axes)
    moved_axes = tuple(range(keep, x.ndim))

    def flat(a):
        m = np.moveaxis(np.broadcast_to(np.asarray(a, dtype=dt), x.shape), axes, moved_axes)
        return m.reshape(m.shape[:keep] + (-1,))

    fx = flat(x)
    moved_shape = np.moveaxis(x, axes, moved_axes).shape
    if not vs:
        ones = np.ones(fx.shape[:-1] + (1,), dtype=dt)
        left = np.cumprod(np.concatenate([ones, fx[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, fx[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        res = left * right
    else:
        r = len(vs)
        full = (1 << r) - 1
        zero = np.zeros_like(fx)
        elem = [fx] + [zero] * full          # element k: component[mask] is the t^mask coefficient
        for s_, v in enumerate(vs):
            elem[1 << s_] = flat(v)
        left = _hd_exclusive_scan(elem, r)
        right = [c[..., ::-1] for c in _hd_exclusive_scan([c[..., ::-1] for c in elem], r)]
        res = sum(left[m] * right[full ^ m] for m in range(full + 1))
    return np.moveaxis(res.reshape(moved_shape), moved_axes, axes)


def _hd_mul(a, b, r):
    """Product of two hyper-dual numbers (lists of 2^r component arrays indexed by subset mask)."""
    out = []
    for S in range(1 << r):
        acc = None
        T = S
        while True:
            term = a[T] * b[S ^ T]
            acc = term if acc is None else acc + term
            if T == 0:
                break
            T = (T - 1) & S
        out.append(acc)
    return out


def _hd_exclusive_scan(elem, r):
    """prod_{k<j} elem[k] for each j along the last axis (Hillis-Steele: log2(n) steps)."""
    n = elem[0].shape[-1]
    acc = [np.array(c) for c in elem]
    shift = 1
    while shift < n:
        prod_ = _hd_mul([c[..., shift:] for c in acc], [c[..., :-shift] for c in acc], r)
        for c, p_ in zip(acc, prod_):
            c[..., shift:] = p_
        shift *= 2
    one = [np.ones_like(elem[0][..., :1])] + [np.zeros_like(elem[0][..., :1])] * ((1 << r) - 1)
    return [np.concatenate([o, c[..., :-1]], axis=-1) for o, c in zip(one, acc)]


def _prod_others_shape(args, params):
    return Abstract(shape_of(args[0]), np.result_type(*[dtype_of(a) for a in args]))


# prod_others(x, axis) is what the gradient of prod multiplies its cotangent with. Its
# derivatives: out_j = prod_{k != j} x_k (over j's group along `axis`) has
#   d^r out_j / dx_i1 ... dx_ir = prod_{k not in {j, i1, ..., ir}} x_k   (indices distinct, else 0),
# a tensor symmetric in (j, i1, ..., ir). prod_others(x, v1, ..., vr, axis) contracts it with the
# directions v1..vr, so by that symmetry its VJPs are prod_others again with the cotangent as one
# more direction (for x) or in place of the direction it is taken for (for vs): exact at zeros at
# every order, never prod / x_j. Rules read the directions by value (up to 7 of them).
# (the Jacobian is symmetric in (j, i) as well, so the JVP rules are the VJP rules: self_adjoint)
prod_others = Primitive("prod_others", _prod_others, saves=tuple(range(8)), shape_rule=_prod_others_shape,
                        kind="other", self_adjoint=True)
prod_others.defvjp_argnum(lambda i, g, x, *rest, axis=None: (
    prod_others(x, *rest[:-1], g, axis=axis) if i == 0 else
    unbroadcast(prod_others(x, *rest[:i - 1], *rest[i:-1], g, axis=axis), shape_of(rest[i - 1]))))

# ---- max / min ---------------------------------------------------------------

def _extreme_weights(x, out, axis=None, keepdims=False, ties="even", largest=True):
    """Where the gradient of a max/min goes: split evenly among ties (torch's
    max() and amax) or all to the first extreme element (torch's max(dim))."""
    x = np.asarray(x)
    axes = normalize_axis(axis, x.ndim)
    o = np.asarray(out)
    if not keepdims:
        o = o.reshape(reduced_shape(x.shape, axis, True))
    hit = x == o
    dt = np.result_type(x.dtype, np.float32) if x.dtype.kind != "f" else x.dtype
    if ties == "even":
        w = hit.astype(dt)
        return w / np.sum(w, axis=axes, keepdims=True)
    assert len(axes) == 1, "first-occurrence ties are for a single dim"
    first = np.argmax(hit, axis=axes[0])
    w = np.zeros(x.shape, dt)
    np.put_along_axis(w, np.expand_dims(first, axes[0]), 1, axis=axes[0])
    return w


def _extreme_weights_shape(args, params):
    x = args[0]
    dt = np.dtype(dtype_of(x))
    return Abstract(shape_of(x), np.result_type(dt, np.float32) if dt.kind != "f" else dt)


extreme_weights = Primitive("extreme_weights", _extreme_weights, differentiable=False, kind="other",
                            shape_rule=_extreme_weights_shape)


def _make_extreme(name, fn, largest, torch_base, amax):
    def impl(x, axis=None, keepdims=False):
        x = np.asarray(x)
        if x.size == 0 and (axis is None or any(x.shape[a] == 0 for a in np.atleast_1d(_ax(axis)))):
            # an extreme over no elements (over a non-empty axis of an empty array it is empty, as NumPy)
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        return np.asarray(fn(x, axis=_ax(axis), keepdims=keepdims))

    if amax:
        grad_fn = f"{torch_base}Backward0"
    else:
        grad_fn = lambda a, p: f"{torch_base}Backward{1 if p.get('axis') is None else 0}"
    prim = _reduction(name, impl, grad_fn, saves=(0,), saves_out=True, numpy_name=fn.__name__,
                      monoid=("maximum", -np.inf, False) if largest else ("minimum", np.inf, False))

    def weights(x, out, axis, keepdims):
        ties = "even" if amax or axis is None else "first"
        return extreme_weights(x, out, axis=axis, keepdims=keepdims, ties=ties, largest=largest)

    def rule(g, x, out, axis=None, keepdims=False):
        return mul(expand_back(g, shape_of(x), axis, keepdims), weights(x, out, axis, keepdims))

    def jvp_rule(t, x, out, axis=None, keepdims=False):
        return weighted_sum(t, weights(x, out, axis, keepdims), axis, keepdims)

    return prim.defvjp(rule).defjvp(jvp_rule)


max_ = _make_extreme("max", np.max, True, "Max", amax=False)
min_ = _make_extreme("min", np.min, False, "Min", amax=False)
amax = _make_extreme("amax", np.max, True, "Amax", amax=True)
amin = _make_extreme("amin", np.min, False, "Amin", amax=True)
argmax = _reduction("argmax", lambda x, axis=None, keepdims=False: np.asarray(
    np.argmax(x, axis=axis, keepdims=keepdims)), None, differentiable=False, numpy_name="argmax")
argmin = _reduction("argmin", lambda x, axis=None, keepdims=False: np.asarray(
    np.argmin(x, axis=axis, keepdims=keepdims)), None, differentiable=False, numpy_name="argmin")

# ---- softmax family ----------------------------------------------------------

def _softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    x = np.asarray(x)
    return x - _logsumexp(x, axis, True)


def _same_shape(args, params):
    return Abstract(shape_of(args[0]), np.asarray(_softmax(np.zeros((1,), args[0].dtype))).dtype)


# softmax's Jacobian diag(s) - s s^T is symmetric: its JVP rule is its VJP rule (self_adjoint)
softmax = Primitive("softmax", _softmax, saves_out=True, shape_rule=_same_shape, kind="other", self_adjoint=True)
log_softmax = Primitive("log_softmax", _log_softmax, grad_fn="LogSoftmaxBackward0", saves_out=True,
                        shape_rule=_same_shape, kind="other")
softmax.defvjp(lambda g, x, out, axis=-1: mul(out, sub(g, sum_(mul(g, out), axis=axis, keepdims=True))))
log_softmax.defvjp(lambda g, x, out, axis=-1: sub(g, mul(exp(out), sum_(g, axis=axis, keepdims=True))))
# the Jacobian I - 1 s^T (s = exp(out)) is not symmetric: t - (s . t), the transpose of the VJP's g - s sum(g)
log_softmax.defjvp(lambda t, x, out, axis=-1: sub(t, sum_(mul(exp(out), t), axis=axis, keepdims=True)))

__all__ = ["sum_", "mean", "prod", "var", "std", "logsumexp", "max_", "min_", "amax", "amin",
           "argmax", "argmin", "softmax", "log_softmax", "normalize_axis", "reduced_shape",
           "expand_back", "count", "prod_others", "extreme_weights", "weighted_sum"]
