"""NumPy functions that are compositions of primitives, written once for every kind of value.

Each function here takes its array arguments as values of any kind the table accepts
(ndarrays, Tensors, IR values: whatever `bind` dispatches on) and its other arguments as
plain Python values (axes, shapes, index arrays, spacings), and only calls primitives. So one
definition serves the compiler (library.py calls it on IR values inside a Builder), the
tracer (numpy_interop.py calls it on Tensors) and plain NumPy, and its derivative is the
chain rule over the primitives' VJP rules: no derivative formula lives here. Index arrays
and masks these functions build are constants of the shapes, never data.

The compositions are exact (the same floating-point operations as NumPy's, or a gather/
scatter of the same elements) except where a docstring says otherwise.
"""
from __future__ import annotations

import math
import string

import numpy as np

from .core import dtype_of, shape_of
from .elementwise import (absolute, add, div, eq, exp, log, log1p, lt, maximum, mul,
                          ne, neg, power, sin, sub, where, zeros_like)
from .indexing import getitem, scatter_add, setitem
from .joining import concatenate, stack
from .linalg import eigh_v, eigh_w, logabsdet, matmul, norm as _norm2, slogdet_sign, svd_s, svd_u, svd_vh
from .reductions import amax, amin, prod, sum_
from .scans import argpartition, argsort, cumsum as _cumsum
from .shape import astype, broadcast_to, copy, expand_dims, reshape, transpose

__all__ = []   # filled below: every public function


def _nd(x):
    return len(shape_of(x))


def _ax(axis, nd):
    """A non-negative axis, or NumPy's AxisError."""
    axis = int(axis)
    if not -nd <= axis < max(nd, 1) or (nd == 0 and axis not in (0, -1)):
        raise np.exceptions.AxisError(axis, nd)
    return axis % nd if nd else 0


def _along(axis, nd, part):
    """An index template selecting `part` on `axis` (everything on the other axes)."""
    return (slice(None),) * axis + (part,) + (slice(None),) * (nd - axis - 1)


def _take(x, axis, part):
    return getitem(x, idx=_along(axis, _nd(x), part))


def _as_tuple(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


# ---- axes ------------------------------------------------------------------------------

def moveaxis(a, source, destination):
    nd = _nd(a)
    src = [_ax(s, nd) for s in _as_tuple(source)]
    dst = [_ax(d, nd) for d in _as_tuple(destination)]
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return a if order == list(range(nd)) else transpose(a, axes=tuple(order))


def swapaxes(a, axis1, axis2):
    nd = _nd(a)
    axes = list(range(nd))
    i, j = _ax(axis1, nd), _ax(axis2, nd)
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, axes=tuple(axes))


def rollaxis(a, axis, start=0):
    nd = _nd(a)
    axis = _ax(axis, nd)
    if not -nd <= start <= nd:
        raise np.exceptions.AxisError(f"'start' arg requires {-nd} <= start < {nd + 1}, but {start} was passed in")
    start = start + nd if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start) if axis != start else a


# ---- rearranging -------------------------------------------------------------------------

def flip(m, axis=None):
    nd = _nd(m)
    axes = range(nd) if axis is None else [_ax(a, nd) for a in _as_tuple(axis)]
    idx = [slice(None)] * nd
    for a in axes:
        idx[a] = slice(None, None, -1)
    return getitem(m, idx=tuple(idx))


def flipud(m):
    if _nd(m) < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip(m, 0)


def fliplr(m):
    if _nd(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip(m, 1)


def rot90(m, k=1, axes=(0, 1)):
    nd = _nd(m)
    a0, a1 = (_ax(a, nd) for a in axes)
    if len(axes) != 2 or a0 == a1:
        raise ValueError("Axes must be different.")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(m, a1), axes=tuple(perm))
    return flip(transpose(m, axes=tuple(perm)), a1)


def roll(a, shift, axis=None):
    if axis is None:
        return reshape(roll(reshape(a, shape=(-1,)), shift, 0), shape=shape_of(a))
    nd = _nd(a)
    shifts = {}
    axes, amounts = _as_tuple(axis), _as_tuple(shift)
    for ax_, sh in np.broadcast(np.array(axes), np.array(amounts)):
        ax_ = _ax(ax_, nd)
        shifts[ax_] = shifts.get(ax_, 0) + int(sh)
    out = a
    for ax_, sh in shifts.items():
        n = shape_of(a)[ax_]
        if n and sh % n:
            out = _take(out, ax_, np.roll(np.arange(n), sh))
    return out


def atleast_1d(*arys):
    res = [reshape(a, shape=(1,)) if _nd(a) == 0 else a for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


def atleast_2d(*arys):
    def one(a):
        nd = _nd(a)
        return reshape(a, shape=(1, 1)) if nd == 0 else reshape(a, shape=(1,) + shape_of(a)) if nd == 1 else a
    res = [one(a) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


def atleast_3d(*arys):
    def one(a):
        s = shape_of(a)
        if len(s) == 0:
            return reshape(a, shape=(1, 1, 1))
        if len(s) == 1:
            return reshape(a, shape=(1,) + s + (1,))
        if len(s) == 2:
            return reshape(a, shape=s + (1,))
        return a
    res = [one(a) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


def tile(A, reps):
    reps = tuple(int(r) for r in _as_tuple(reps))
    s = shape_of(A)
    nd = max(len(s), len(reps))
    s = (1,) * (nd - len(s)) + s
    reps = (1,) * (nd - len(reps)) + reps
    x = reshape(A, shape=sum(((1, d) for d in s), ()))
    x = broadcast_to(x, shape=sum(((r, d) for r, d in zip(reps, s)), ()))
    return reshape(x, shape=tuple(r * d for r, d in zip(reps, s)))


def repeat(a, repeats, axis=None):
    if axis is None:
        a, axis = reshape(a, shape=(-1,)), 0
    axis = _ax(axis, _nd(a))
    n = shape_of(a)[axis]
    r = np.asarray(repeats)
    if r.ndim == 0:
        k = int(r)
        s = shape_of(a)
        x = expand_dims(a, axis=axis + 1)
        x = broadcast_to(x, shape=s[:axis + 1] + (k,) + s[axis + 1:])
        return reshape(x, shape=s[:axis] + (n * k,) + s[axis + 1:])
    return _take(a, axis, np.repeat(np.arange(n), r))


# ---- splitting and joining -----------------------------------------------------------------

def array_split(ary, indices_or_sections, axis=0):
    axis = _ax(axis, _nd(ary))
    n = shape_of(ary)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        each, extras = divmod(n, sections)
        sizes = [0] + extras * [each + 1] + (sections - extras) * [each]
        bounds = np.cumsum(sizes).tolist()
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    return [_take(ary, axis, slice(bounds[i], bounds[i + 1])) for i in range(len(bounds) - 1)]


def split(ary, indices_or_sections, axis=0):
    if isinstance(indices_or_sections, (int, np.integer)):
        n = shape_of(ary)[_ax(axis, _nd(ary))]
        if n % int(indices_or_sections):
            raise ValueError("array split does not result in an equal division")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    if _nd(ary) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if _nd(ary) > 1 else 0)


def vsplit(ary, indices_or_sections):
    if _nd(ary) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


def dsplit(ary, indices_or_sections):
    if _nd(ary) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


def hstack(tup, dtype=None, casting="same_kind"):
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(*arrs, axis=0 if _nd(arrs[0]) == 1 else 1)


def vstack(tup, dtype=None, casting="same_kind"):
    return concatenate(*[atleast_2d(a) for a in tup], axis=0)


def dstack(tup):
    return concatenate(*[atleast_3d(a) for a in tup], axis=2)


def column_stack(tup):
    return concatenate(*[reshape(a, shape=(-1, 1)) if _nd(a) < 2 else a for a in tup], axis=1)


def append(arr, values, axis=None):
    if axis is None:
        return concatenate(reshape(arr, shape=(-1,)), reshape(values, shape=(-1,)), axis=0)
    return concatenate(arr, values, axis=axis)


def select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    out = default
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = where(c, v, out)
    return out


def diff(a, n=1, axis=-1, prepend=None, append=None):
    nd = _nd(a)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _ax(axis, nd)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    parts = []
    for extra in (prepend, append):
        if extra is None:
            parts.append(None)
            continue
        s = list(shape_of(a))
        s[axis] = 1
        parts.append(broadcast_to(extra, shape=tuple(s)) if _nd(extra) == 0 else extra)
    if parts[0] is not None or parts[1] is not None:
        a = concatenate(*[p for p in (parts[0], a, parts[1]) if p is not None], axis=axis)
    for _ in range(n):
        a = sub(_take(a, axis, slice(1, None)), _take(a, axis, slice(None, -1)))
    return a


# ---- diagonals and triangles ------------------------------------------------------------

def diagonal(a, offset=0, axis1=0, axis2=1):
    """NumPy's diagonal (a copy, not a read-only view): a gather."""
    nd = _nd(a)
    if nd < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    a1, a2 = _ax(axis1, nd), _ax(axis2, nd)
    if a1 == a2:
        raise ValueError("axis1 and axis2 cannot be the same")
    x = moveaxis(a, (a1, a2), (nd - 2, nd - 1))
    r, c = shape_of(x)[-2:]
    k = max(0, min(r + min(offset, 0), c - max(offset, 0)))
    rows = np.arange(k) - min(offset, 0)
    cols = np.arange(k) + max(offset, 0)
    return getitem(x, idx=(Ellipsis, rows, cols))


def diag(v, k=0):
    nd = _nd(v)
    if nd == 1:
        n = shape_of(v)[0] + abs(k)
        i = np.arange(shape_of(v)[0])
        return scatter_add(v, idx=(i - min(k, 0), i + max(k, 0)), shape=(n, n))
    if nd == 2:
        return diagonal(v, k)
    raise ValueError("Input must be 1- or 2-d.")


def trace(a, offset=0, axis1=0, axis2=1):
    return sum_(diagonal(a, offset, axis1, axis2), axis=-1, keepdims=False)


def _tri_mask(shape, k, lower):
    r, c = shape[-2:]
    m = np.tri(r, c, k, dtype=bool)
    return m if lower else ~np.tri(r, c, k - 1, dtype=bool)


def tril(m, k=0):
    s = shape_of(m)
    if len(s) < 2:
        m = broadcast_to(m, shape=(s[0] if s else 1,) * 2)
    return where(_tri_mask(shape_of(m), k, True), m, zeros_like(m))


def triu(m, k=0):
    s = shape_of(m)
    if len(s) < 2:
        m = broadcast_to(m, shape=(s[0] if s else 1,) * 2)
    return where(_tri_mask(shape_of(m), k, False), m, zeros_like(m))


# ---- padding ------------------------------------------------------------------------------

def pad(array, pad_width, mode="constant", constant_values=0):
    """mode "constant": the array written into a constant one (setitem); "edge", "reflect",
    "symmetric", "wrap": a gather by NumPy's own padding of the indices."""
    nd = _nd(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (nd, 2)).tolist()
    if mode == "constant":
        values = np.broadcast_to(np.asarray(constant_values), (nd, 2))
        if np.ndim(constant_values) != 0 and len(set(values.ravel().tolist())) > 1:
            raise NotImplementedError("np.pad with different constant_values per side")
        fill = values.flat[0].item() if values.size else 0
        s = tuple(d + lo + hi for d, (lo, hi) in zip(shape_of(array), widths))
        base = np.full(s, fill, dtype=dtype_of(array))       # (NumPy casts the fill to the array's dtype)
        idx = tuple(slice(lo, lo + d) for d, (lo, _) in zip(shape_of(array), widths))
        return setitem(base, array, idx=idx)
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"np.pad(mode={mode!r})")
    out = array
    for ax_, (lo, hi) in enumerate(widths):
        if lo or hi:
            n = shape_of(array)[ax_]
            out = _take(out, ax_, np.pad(np.arange(n), (lo, hi), mode=mode))
    return out


# ---- products ------------------------------------------------------------------------------

def outer(a, b):
    return mul(reshape(a, shape=(-1, 1)), reshape(b, shape=(1, -1)))


def kron(a, b):
    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    x = reshape(a, shape=sum(((d, 1) for d in sa), ()))
    y = reshape(b, shape=sum(((1, d) for d in sb), ()))
    return reshape(mul(x, y), shape=tuple(i * j for i, j in zip(sa, sb)))


def tensordot(a, b, axes=2):
    na, nb = _nd(a), _nd(b)
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        if k < 0:
            raise ValueError("axes must be a non-negative integer")
        axa, axb = list(range(na - k, na)), list(range(k))
    else:
        axa, axb = (list(_as_tuple(x)) for x in axes)
    axa, axb = [_ax(i, na) for i in axa], [_ax(i, nb) for i in axb]
    sa, sb = shape_of(a), shape_of(b)
    if len(axa) != len(axb) or any(sa[i] != sb[j] for i, j in zip(axa, axb)):
        raise ValueError("shape-mismatch for sum")
    free_a = [i for i in range(na) if i not in axa]
    free_b = [j for j in range(nb) if j not in axb]
    m = math.prod(sa[i] for i in free_a)
    n = math.prod(sb[j] for j in free_b)
    k = math.prod(sa[i] for i in axa)
    x = reshape(transpose(a, axes=tuple(free_a + axa)), shape=(m, k))
    y = reshape(transpose(b, axes=tuple(axb + free_b)), shape=(k, n))
    return reshape(matmul(x, y), shape=tuple(sa[i] for i in free_a) + tuple(sb[j] for j in free_b))


def inner(a, b):
    if _nd(a) == 0 or _nd(b) == 0:
        return mul(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def dot(a, b):
    na, nb = _nd(a), _nd(b)
    if na == 0 or nb == 0:
        return mul(a, b)
    if nb <= 2 and na <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([-1], [max(nb - 2, 0)]))


def vdot(a, b):
    return matmul(reshape(a, shape=(-1,)), reshape(b, shape=(-1,)))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """np.cross for 2- and 3-vectors along any axes (a 2-vector's z is 0; two 2-vectors give
    the z component only, as NumPy 2 does, with a deprecation NumPy prints)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, axisa, -1)
    b = moveaxis(b, axisb, -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")

    def comp(x, i):
        return getitem(x, idx=(Ellipsis, i))
    a0, a1, b0, b1 = comp(a, 0), comp(a, 1), comp(b, 0), comp(b, 1)
    z = sub(mul(a0, b1), mul(a1, b0))
    if na == 2 and nb == 2:
        return z
    a2 = comp(a, 2) if na == 3 else None
    b2 = comp(b, 2) if nb == 3 else None
    if a2 is None:
        x, y = mul(a1, b2), neg(mul(a0, b2))
    elif b2 is None:
        x, y = neg(mul(a2, b1)), mul(a2, b0)
    else:
        x, y = sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2))
    out = stack(*_broadcast_all(x, y, z), axis=-1)
    return moveaxis(out, -1, axisc)


def _broadcast_all(*xs):
    shape = np.broadcast_shapes(*[shape_of(x) for x in xs])
    return [x if shape_of(x) == shape else broadcast_to(x, shape=shape) for x in xs]


def einsum(*args):
    """np.einsum in explicit or implicit mode, with `...`, or in the sublist form (operands and
    lists of axis numbers interleaved): repeated labels within an operand become diagonals
    first; the rest is the einsum primitive (ops/linalg.py)."""
    from .linalg import einsum as _einsum
    subscripts, operands = (args[0], args[1:]) if isinstance(args[0], str) else _einsum_sublists(args)
    spec, ops_ = _einsum_explicit(subscripts, operands)
    ins, out = spec.split("->")
    new_ins = []
    new_ops = []
    for labels, x in zip(ins.split(","), ops_):
        while len(set(labels)) != len(labels):
            c = next(ch for ch in labels if labels.count(ch) > 1)
            i = labels.index(c)
            j = labels.index(c, i + 1)
            x = diagonal(x, 0, i, j)
            labels = "".join(ch for k, ch in enumerate(labels) if k not in (i, j)) + c
        new_ins.append(labels)
        new_ops.append(x)
    return _einsum(*new_ops, spec=",".join(new_ins) + "->" + out)


def einsum_sublist_positions(n):
    """Which of n arguments of np.einsum's sublist form are operands (the rest are lists)."""
    return [k for k in range(n) if k % 2 == 0 and not (n % 2 == 1 and k == n - 1)]


def _einsum_sublists(args):
    ops_pos = einsum_sublist_positions(len(args))
    letters = string.ascii_letters

    def term(sub):
        return "".join("..." if s_ is Ellipsis else letters[int(s_)] for s_ in sub)
    terms = [term(args[k + 1]) for k in ops_pos]
    spec = ",".join(terms) + ("->" + term(args[-1]) if len(args) % 2 == 1 else "")
    return spec, [args[k] for k in ops_pos]


def _einsum_explicit(subscripts, operands):
    """subscripts with `...` spelled out in unused letters and the output made explicit."""
    s = subscripts.replace(" ", "")
    if "->" in s:
        ins, out = s.split("->")
    else:
        ins, out = s, None
    terms = ins.split(",")
    if len(terms) != len(operands):
        raise ValueError("more operands than subscripts" if len(operands) > len(terms) else
                         "fewer operands provided to einstein sum function than specified in the subscripts string")
    used = set(s) - set(".,->")
    free = [c for c in string.ascii_letters if c not in used]
    nell = 0
    for t, x in zip(terms, operands):
        if "..." in t:
            nell = max(nell, _nd(x) - (len(t) - 3))
    ell = "".join(free[:nell])
    new_terms = []
    for t, x in zip(terms, operands):
        if "..." in t:
            k = _nd(x) - (len(t) - 3)
            t = t.replace("...", ell[nell - k:] if k else "")
        if len(t) != _nd(x):
            raise ValueError("einstein sum subscripts string contains too many subscripts for operand")
        new_terms.append(t)
    if out is None:
        flat = "".join(new_terms)
        out = ell + "".join(sorted(c for c in set(flat) if flat.count(c) == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return ",".join(new_terms) + "->" + out, list(operands)


# ---- elementwise compositions ---------------------------------------------------------------

_LN2 = math.log(2.0)


def logaddexp(x1, x2):
    """log(exp(x1) + exp(x2)) as NumPy computes it: max + log1p(exp(-|x1 - x2|)); equal
    arguments (also infinite ones) give x + log 2. The gradient splits evenly on ties."""
    d = _tie_safe_difference(x1, x2)
    return add(maximum(x1, x2), log1p(exp(neg(absolute(d)))))


def logaddexp2(x1, x2):
    d = _tie_safe_difference(x1, x2)
    return add(maximum(x1, x2), mul(log1p(power(2.0, neg(absolute(d)))), 1.0 / _LN2))


def _tie_safe_difference(x1, x2):
    # where x1 == x2 the difference is 0 (inf - inf would be nan)
    return where(eq(x1, x2), 0.0, sub(x1, x2))


def fmax(x1, x2):
    """np.fmax: the maximum, or the operand that is not nan."""
    return where(ne(x2, x2), x1, where(ne(x1, x1), x2, maximum(x1, x2)))


def fmin(x1, x2):
    from .elementwise import minimum
    return where(ne(x2, x2), x1, where(ne(x1, x1), x2, minimum(x1, x2)))


def exp2(x):
    return power(2.0, x)


def log2(x):
    return div(log(x), _LN2)


def log10(x):
    return div(log(x), math.log(10.0))


def sinc(x):
    """sin(pi x) / (pi x), 1 at 0 (whose derivative, 0, is the limit)."""
    zero = eq(x, 0.0)
    px = mul(math.pi, where(zero, 1.0, x))
    return where(zero, 1.0, div(sin(px), px))


def degrees(x):
    return mul(x, 180.0 / math.pi)


def radians(x):
    return mul(x, math.pi / 180.0)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    dt = dtype_of(x)
    if dt.kind not in "fc":
        return x
    big = np.finfo(dt).max
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    x = where(ne(x, x), nan, x)
    x = where(eq(x, math.inf), posinf, x)
    return where(eq(x, -math.inf), neginf, x)


def real(val):
    _check_real(val, "real")
    return val


def real_if_close(a, tol=100):
    _check_real(a, "real_if_close")
    return a


def conjugate(x):
    _check_real(x, "conjugate")
    return copy(x)          # (a new array, as NumPy's ufunc; np.real is a view)


def imag(val):
    _check_real(val, "imag")
    return zeros_like(val)


def angle(z, deg=False):
    _check_real(z, "angle")
    return where(lt(z, 0.0), 180.0 if deg else math.pi, 0.0)


def _check_real(x, name):
    if dtype_of(x).kind == "c":
        raise NotImplementedError(f"np.{name} of a complex array (complex numbers are not differentiated)")


# ---- sorting, gathering, scans -------------------------------------------------------------

def take_along_axis(arr, indices, axis=-1):
    if axis is None:
        return take_along_axis(reshape(arr, shape=(-1,)), indices, 0)
    nd = _nd(arr)
    axis = _ax(axis, nd)
    if _nd(indices) != nd:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    shape = shape_of(arr)
    idx = []
    for i in range(nd):
        if i == axis:
            idx.append(indices)
        else:
            idx.append(np.arange(shape[i]).reshape((1,) * i + (-1,) + (1,) * (nd - i - 1)))
    return _gather(arr, idx)


def _gather(x, idx):
    """x[idx] where idx holds static parts and integer index values: arrays with data
    (ndarrays, Tensors: constants of the index template) or values known only when the code
    runs (IR values: dynamic parts of the template)."""
    from .indexing import Dyn
    dyn, template = [], []
    for p in idx:
        if isinstance(p, (slice, int, type(None))) or p is Ellipsis:
            template.append(p)
        elif hasattr(p, "__array__"):
            template.append(np.asarray(p))
        else:
            template.append(Dyn(len(dyn)))
            dyn.append(p)
    return getitem(x, *dyn, idx=tuple(template))


def take(a, indices, axis=None, mode=None):
    if mode not in (None, "raise"):
        raise NotImplementedError(f"np.take(mode={mode!r})")
    if axis is None:
        a, axis = reshape(a, shape=(-1,)), 0
    axis = _ax(axis, _nd(a))
    idx = indices if not isinstance(indices, (list, tuple)) else np.asarray(indices)
    if isinstance(idx, (int, np.integer)):
        idx = int(idx)
    return _gather(a, (slice(None),) * axis + (idx,))


def sort(a, axis=-1, kind=None, order=None, stable=None):
    if order is not None:
        raise NotImplementedError("np.sort(order=...) (structured arrays)")
    if axis is None:
        a, axis = reshape(a, shape=(-1,)), 0
    return take_along_axis(a, argsort(a, axis=axis), axis)


def partition(a, kth, axis=-1, kind="introselect", order=None):
    if order is not None:
        raise NotImplementedError("np.partition(order=...) (structured arrays)")
    if axis is None:
        a, axis = reshape(a, shape=(-1,)), 0
    return take_along_axis(a, argpartition(a, kth, axis=axis), axis)


def cumsum(a, axis=None, dtype=None):
    if dtype is not None:
        a = astype(a, dtype=np.dtype(dtype))
    if axis is None:
        a, axis = reshape(a, shape=(-1,)), 0
    return _cumsum(a, axis=_ax(axis, _nd(a)))


def cumprod(a, axis=None, dtype=None):
    """The products of the prefixes, each a `prod` over a triangular mask: exact gradients
    also where a has zeros (prod's rule divides by nothing), at O(n^2) cost along the axis."""
    if dtype is not None:
        a = astype(a, dtype=np.dtype(dtype))
    if axis is None:
        a, axis = reshape(a, shape=(-1,)), 0
    nd = _nd(a)
    axis = _ax(axis, nd)
    n = shape_of(a)[axis]
    x = moveaxis(a, axis, -1)
    mask = np.tri(n, n, dtype=bool)                      # mask[i, j]: j <= i
    rows = where(mask, expand_dims(x, axis=-2), 1.0)     # (..., i, j)
    return moveaxis(prod(rows, axis=-1, keepdims=False), -1, axis)


# ---- creation, differences ----------------------------------------------------------------

def linspace(start, stop, num=50, endpoint=True, axis=0):
    """NumPy's linspace (start + k * step, the last element `stop`), differentiable in start
    and stop."""
    num = int(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div_ = (num - 1) if endpoint else num
    delta = sub(stop, start)
    nd = _nd(delta)
    k = np.arange(num, dtype=np.result_type(dtype_of(delta), 1.0)).reshape((-1,) + (1,) * nd)
    y = add(mul(k, div(delta, float(div_)) if div_ > 0 else delta), start)
    if endpoint and num > 1:
        y = setitem(y, stop, idx=(-1,))
    return moveaxis(y, 0, axis) if axis != 0 else y


def gradient(f, *varargs, axis=None, edge_order=1):
    """np.gradient with scalar spacings or (static) coordinate arrays, edge_order 1 or 2; one
    array for one axis, else a tuple."""
    nd = _nd(f)
    axes = list(range(nd)) if axis is None else [_ax(a, nd) for a in _as_tuple(axis)]
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    outs = []
    for ax_, h in zip(axes, spacing):
        outs.append(_gradient_1(f, ax_, h, edge_order))
    return outs[0] if len(outs) == 1 else tuple(outs)


def _gradient_1(f, axis, h, edge_order):
    n = shape_of(f)[axis]
    if n < edge_order + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at least "
                         "(edge_order + 1) elements are required.")
    nd = _nd(f)

    def sl(a, b=None):
        return _take(f, axis, slice(a, b))

    def along(c):     # a coefficient per position along the axis, broadcast over the others
        return np.asarray(c).reshape((-1,) + (1,) * (nd - axis - 1))
    h = np.asarray(h, dtype=np.float64)
    if h.ndim == 0 or np.all(np.diff(h) == np.diff(h)[0]):
        dx = float(h) if h.ndim == 0 else float(np.diff(h)[0])
        mid = div(sub(sl(2), sl(None, -2)), 2.0 * dx)
        if edge_order == 1:
            first = div(sub(sl(1, 2), sl(0, 1)), dx)
            last = div(sub(sl(-1), sl(-2, -1)), dx)
        else:
            first = add(add(mul(-1.5 / dx, sl(0, 1)), mul(2.0 / dx, sl(1, 2))), mul(-0.5 / dx, sl(2, 3)))
            last = add(add(mul(0.5 / dx, sl(-3, -2)), mul(-2.0 / dx, sl(-2, -1))), mul(1.5 / dx, sl(-1)))
    else:
        if h.ndim != 1 or len(h) != n:
            raise ValueError("when 1d, distances must match the length of the corresponding dimension")
        d = np.diff(h)
        dx1, dx2 = d[:-1], d[1:]
        a = -dx2 / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
        mid = add(add(mul(along(a), sl(None, -2)), mul(along(b), sl(1, -1))), mul(along(c), sl(2)))
        if edge_order == 1:
            first = div(sub(sl(1, 2), sl(0, 1)), float(d[0]))
            last = div(sub(sl(-1), sl(-2, -1)), float(d[-1]))
        else:
            d1, d2 = d[0], d[1]
            a, b, c = -(2. * d1 + d2) / (d1 * (d1 + d2)), (d1 + d2) / (d1 * d2), -d1 / (d2 * (d1 + d2))
            first = add(add(mul(a, sl(0, 1)), mul(b, sl(1, 2))), mul(c, sl(2, 3)))
            d1, d2 = d[-2], d[-1]
            a, b, c = d2 / (d1 * (d1 + d2)), -(d2 + d1) / (d1 * d2), (2. * d2 + d1) / (d2 * (d1 + d2))
            last = add(add(mul(a, sl(-3, -2)), mul(b, sl(-2, -1))), mul(c, sl(-1)))
    return concatenate(first, mid, last, axis=axis)


# ---- np.linalg -------------------------------------------------------------------------------

def slogdet(a):
    return slogdet_sign(a), logabsdet(a)


def eigh(a, UPLO="L"):
    """np.linalg.eigh: (eigenvalues, eigenvectors) of the symmetric matrix NumPy reads from the
    UPLO triangle."""
    return eigh_w(a, UPLO=_uplo(UPLO)), eigh_v(a, UPLO=_uplo(UPLO))


def eigvalsh(a, UPLO="L"):
    return eigh_w(a, UPLO=_uplo(UPLO))


def _uplo(u):
    u = str(u).upper()
    if u not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return u


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """np.linalg.svd: (U, S, Vh), or S alone with compute_uv=False. With full_matrices (NumPy's
    default) U or Vh of a non-square matrix has columns no gradient is defined for: refused."""
    if hermitian:
        raise NotImplementedError("np.linalg.svd(hermitian=True)")
    if not compute_uv:
        return svd_s(a, uv=False)
    m, n = shape_of(a)[-2:]
    if full_matrices and m != n:
        raise NotImplementedError("np.linalg.svd(full_matrices=True) of a non-square matrix (the extra columns "
                                  "of U or Vh have no gradient): pass full_matrices=False")
    return svd_u(a), svd_s(a), svd_vh(a)


def norm(x, ord=None, axis=None, keepdims=False):
    """np.linalg.norm: vector norms of every order, the matrix norms "fro", "nuc", 1, -1, 2, -2,
    inf, -inf."""
    nd = _nd(x)
    if axis is None and ord is None:
        return _norm2(x, axis=None, keepdims=keepdims)
    if axis is None:
        axis = tuple(range(nd))
    axes = tuple(_ax(a, nd) for a in _as_tuple(axis))
    if len(axes) == 1:
        ax_ = axes[0]
        if ord is None or ord == 2:
            return _norm2(x, axis=ax_, keepdims=keepdims)
        if isinstance(ord, str):
            raise ValueError(f"Invalid norm order '{ord}' for vectors")
        if ord == math.inf:
            return amax(absolute(x), axis=ax_, keepdims=keepdims)
        if ord == -math.inf:
            return amin(absolute(x), axis=ax_, keepdims=keepdims)
        if ord == 0:
            return sum_(mul(ne(x, 0.0), 1.0), axis=ax_, keepdims=keepdims)
        if ord == 1:
            return sum_(absolute(x), axis=ax_, keepdims=keepdims)
        return power(sum_(power(absolute(x), float(ord)), axis=ax_, keepdims=keepdims), 1.0 / ord)
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError("Improper number of dimensions to norm." if len(axes) != 2 else "Duplicate axes given.")
    r, c = axes
    if ord in (None, "fro", "f"):
        return _norm2(x, axis=axes, keepdims=keepdims)
    if ord in (1, -1, math.inf, -math.inf):
        inner_ax, outer_ax = (r, c) if ord in (1, -1) else (c, r)
        s = sum_(absolute(x), axis=inner_ax, keepdims=True)
        red = amax if ord in (1, math.inf) else amin
        out = red(s, axis=outer_ax, keepdims=True)
        return out if keepdims else reshape(out, shape=tuple(d for i, d in enumerate(shape_of(out)) if i not in axes))
    if ord in (2, -2, "nuc"):
        sv = svd_s(moveaxis(x, (r, c), (-2, -1)), uv=False)
        out = (amax if ord == 2 else amin if ord == -2 else sum_)(sv, axis=-1, keepdims=False)
        if keepdims:
            for ax_ in sorted(axes):
                out = expand_dims(out, axis=ax_)
        return out
    raise ValueError("Invalid norm order for matrices.")


__all__ = sorted(n for n, v in dict(globals()).items()
                 if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == __name__)
