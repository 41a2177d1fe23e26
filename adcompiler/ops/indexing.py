"""Indexing primitives: `getitem` (basic and advanced indices), its adjoint
`scatter_add` into zeros, and the functional `setitem` that slice assignment
lowers to, with their VJP rules. All are linear in their array arguments (jointly:
setitem(x, v), index_add(acc, v)), which gives their JVP rules.

An index is a static template (`idx`): ints, slices, None, Ellipsis, integer
or boolean arrays. Parts only known at run time (a loop counter in compiled
code) stand in the template as `Dyn(k)` and arrive as the k-th extra argument.
"""
from __future__ import annotations

import numpy as np

from .core import Abstract, Primitive, dtype_of, shape_of, unbroadcast
from .dims import Dim, broadcast_shapes, shape_text
from .shape import reshape


def _dtype_or_weak(a):
    """The dtype of an array-like argument; a Python scalar stays weak (NumPy 2 promotion)."""
    return a if isinstance(a, (int, float, bool)) else np.dtype(a.dtype)


class Dyn:
    """Placeholder in an index template for the k-th dynamic index argument."""

    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __repr__(self):
        return f"Dyn({self.k})"

    def __eq__(self, other):
        return isinstance(other, Dyn) and other.k == self.k

    def __hash__(self):
        return hash(("Dyn", self.k))


def _sub(v, dyn):
    if isinstance(v, Dyn):
        d = dyn[v.k]
        return int(d) if np.ndim(d) == 0 and np.issubdtype(np.asarray(d).dtype, np.integer) else np.asarray(d)
    if isinstance(v, slice):
        return slice(_sub(v.start, dyn), _sub(v.stop, dyn), _sub(v.step, dyn))
    return v


def resolve(idx, dyn):
    """The concrete NumPy index for a template and its dynamic parts."""
    if not dyn:
        return idx
    if isinstance(idx, tuple):
        return tuple(_sub(v, dyn) for v in idx)
    return _sub(idx, dyn)


def is_advanced(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(p, (np.ndarray, list)) or (isinstance(p, Dyn)) for p in parts)


def copies_on_index(idx, result_ndim):
    """Whether NumPy answers `x[idx]` with a new array rather than a view of x: a scalar
    element (every axis indexed by an integer, and no Ellipsis: `y[i, ...]` is a 0-d view),
    or an advanced (array) index."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    return (result_ndim == 0 and not any(p is Ellipsis for p in parts)) or _has_array(idx)


def _has_array(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


def _getitem_name(args, params):
    idx = params["idx"]
    parts = idx if isinstance(idx, tuple) else (idx,)
    if _has_array(idx):
        return "IndexBackward0"
    kinds = [type(p) for p in parts if p is not Ellipsis]
    if not kinds:
        return "AliasBackward0"
    if all(k is type(None) for k in kinds):
        return "UnsqueezeBackward0"
    last = [p for p in parts if p is not None and p is not Ellipsis][-1]
    return "SliceBackward0" if isinstance(last, slice) else "SelectBackward0"


def _getitem(x, *dyn, idx):
    return np.asarray(np.asarray(x)[resolve(idx, dyn)])


# may alias: a basic index gives a view of x (copies_on_index says when NumPy copies)
getitem = Primitive("getitem", _getitem, grad_fn=_getitem_name, kind="index", may_alias=True, linear=(0,))


def _getitem_dims(args, params):
    """x[idx] for a basic index of constant ints and slices when x has symbolic extents (None
    otherwise): each decision on an extent (is the index in range, where a slice is cut) a guard."""
    parts = params["idx"] if isinstance(params["idx"], tuple) else (params["idx"],)
    if any(shape_of(a) != () or np.dtype(dtype_of(a)).kind not in "iu" for a in args[1:]):
        return None      # an index array: the result's shape is the array's
    if not all(p is None or p is Ellipsis or _const_int(p) or isinstance(p, Dyn) or (
            isinstance(p, slice) and all(v is None or _const_int(v) or isinstance(v, Dim) for v in (p.start, p.stop))
            and (p.step is None or _const_int(p.step)))
            for p in parts):
        return None
    shape = shape_of(args[0])
    used = [p for p in parts if p is not None and p is not Ellipsis]
    ellipses = sum(p is Ellipsis for p in parts)
    if ellipses > 1 or len(used) > len(shape):
        return None
    out, axis = [], 0
    for p in parts:
        if p is None:
            out.append(1)
        elif p is Ellipsis:
            k = len(shape) - len(used)
            out.extend(shape[axis:axis + k])
            axis += k
        elif isinstance(p, slice):
            out.append(_slice_length(shape[axis], p))
            axis += 1
        elif isinstance(p, Dyn):         # an integer read at run time: NumPy checks its range there
            axis += 1
        else:
            n = shape[axis]
            if not (p < n if p >= 0 else n >= -p):
                raise IndexError(f"index {p} is out of bounds for axis {axis} with size {n}")
            axis += 1
    out.extend(shape[axis:])
    return Abstract(tuple(out), dtype_of(args[0]))


def _const_int(p):
    return isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_))


def _slice_length(n, s):
    """len(range(n)[s]) for extents and bounds that may be symbolic (each decision a guard)."""
    step = 1 if s.step is None else int(s.step)
    start, stop = s.start, s.stop
    if step < 0:                     # (pins whatever is symbolic)
        n, start, stop = int(n), None if start is None else int(start), None if stop is None else int(stop)
    if not any(isinstance(v, Dim) for v in (n, start, stop)):
        return len(range(*slice(start, stop, step).indices(n)))
    start = _clamp(0 if start is None else start, n)
    stop = n if stop is None else _clamp(stop, n)
    length = stop - start
    if length < 0:
        return 0
    return (length + step - 1) // step    # 0 where length is 0


def _clamp(i, n):
    """Index i of an axis of symbolic extent n, clamped to [0, n] as slice bounds are (decided as
    n >= i: where the extent's lower bound settles that, no guard is needed)."""
    if i < 0:
        j = n + i
        return j if j >= 0 else 0
    return i if n >= i else n


getitem.dims_rule = _getitem_dims


def _scatter_add(g, *dyn, idx, shape):
    z = np.zeros(shape, dtype=np.result_type(g, 1.0))
    real = resolve(idx, dyn)
    if _has_array(real):
        np.add.at(z, real, g)  # an index array may repeat positions: accumulate
    else:
        z[real] = g            # a basic index names each position once (and is ~30x faster)
    return z


scatter_add = Primitive("scatter_add", _scatter_add, grad_fn="IndexPutBackward0", kind="index", linear=(0,),
                        shape_rule=lambda a, p: Abstract(p["shape"], np.result_type(_dtype_or_weak(a[0]), 1.0)))


def _index_add(acc, g, *dyn, idx):
    out = np.array(acc, dtype=np.result_type(acc, g), copy=True)
    real = resolve(idx, dyn)
    if _has_array(real):
        np.add.at(out, real, g)
    else:
        out[real] += g
    return out


# acc + scatter_add(g, idx): what adjoints of indexing accumulate into (in place when the backend may)
index_add = Primitive("index_add", _index_add, grad_fn="IndexAddBackward0", kind="index", linear=(0, 1),
                      shape_rule=lambda a, p: Abstract(shape_of(a[0]), np.result_type(
                          _dtype_or_weak(a[0]), _dtype_or_weak(a[1]))))


def _setitem(x, v, *dyn, idx):
    out = np.array(x, copy=True)
    out[resolve(idx, dyn)] = v
    return out


def _setitem_shape(args, params):
    x, v = args[0], args[1]
    try:
        region = getitem.abstract_eval([Abstract(shape_of(x), dtype_of(x)), *args[2:]], params).shape
    except IndexError:
        region = None      # (NumPy raises it where the write runs)
    vshape = _fitted(shape_of(v), len(region)) if region is not None else None
    if region is not None and not broadcast_shapes(vshape, region) == tuple(region):
        raise ValueError(f"could not broadcast input array from shape {shape_text(shape_of(v))} into shape "
                         f"{shape_text(region)}")
    return Abstract(shape_of(x), _dtype_or_weak(x) if not isinstance(x, (int, float, bool)) else np.result_type(x))


def _fitted(vshape, ndim):
    """The shape NumPy broadcasts a value of `vshape` from when it writes it into `ndim` axes: its
    leading 1s beyond those dropped."""
    vshape = tuple(vshape)
    while len(vshape) > ndim and vshape[0] == 1:
        vshape = vshape[1:]
    return vshape


def _value_cotangent(gr, v):
    """The cotangent of the value written, from the cotangent of the region it was written into."""
    vshape = shape_of(v)
    fitted = _fitted(vshape, len(shape_of(gr)))
    out = unbroadcast(gr, fitted)
    return out if fitted == tuple(vshape) else reshape(out, shape=tuple(vshape))


setitem = Primitive("setitem", _setitem, grad_fn="CopySlices", kind="index", linear=(0, 1),
                    shape_rule=_setitem_shape)


def _dyn_none(n):
    return (None,) * n


getitem.defvjp_argnum(
    lambda i, g, x, *rest, idx: scatter_add(g, *rest[:-1], idx=idx, shape=shape_of(x)) if i == 0 else None)
scatter_add.defvjp_argnum(
    lambda i, g, gx, *rest, idx, shape: getitem(g, *rest[:-1], idx=idx) if i == 0 else None)
index_add.defvjp_argnum(
    lambda i, g, acc, v, *rest, idx: (
        g if i == 0 else _value_cotangent(getitem(g, *rest[:-1], idx=idx), v) if i == 1 else None))
setitem.defvjp_argnum(
    lambda i, g, x, v, *rest, idx: (
        setitem(g, 0.0, *rest[:-1], idx=idx) if i == 0
        else _value_cotangent(getitem(g, *rest[:-1], idx=idx), v) if i == 1 else None))

__all__ = ["Dyn", "getitem", "scatter_add", "index_add", "setitem", "resolve", "is_advanced", "copies_on_index"]
