"""NumPy calls on Tensors: `np.sin(t)`, `np.sum(t)`, `np.dot(a, b)` ... are
recorded in the graph by routing `__array_ufunc__` / `__array_function__` to
the primitive table. This is what lets the tracer run plain NumPy code.

A NumPy function with no primitive behind it raises a clear error naming the
user's line when a gradient would be lost; on Tensors that need no gradient it
simply runs on the data.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from . import ops as P
from .ops import composites as C

__all__ = ["array_ufunc", "array_function", "user_location", "UntraceableError"]

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class UntraceableError(TypeError):
    """A traced value reached something that has no derivative rule."""


def user_location():
    """'file.py:LINE' of the innermost stack frame outside adcompiler and NumPy."""
    f = sys._getframe(1)
    while f is not None:
        fn = os.path.abspath(f.f_code.co_filename)
        if not fn.startswith(_PKG_DIR) and "numpy" not in fn.split(os.sep)[-3:-1] and \
                not fn.startswith("<__array_function__"):
            return f"{os.path.basename(fn)}:{f.f_lineno}"
        f = f.f_back
    return "<unknown>"


_UFUNCS = {
    np.add: P.add, np.subtract: P.sub, np.multiply: P.mul, np.true_divide: P.div, np.negative: P.neg,
    np.power: P.power, np.remainder: P.remainder, np.floor_divide: P.floor_divide, np.float_power: P.power, np.exp: P.exp, np.log: P.log, np.log1p: P.log1p,
    np.expm1: P.expm1, np.sqrt: P.sqrt, np.sin: P.sin, np.cos: P.cos, np.tan: P.tan, np.tanh: P.tanh,
    np.absolute: P.absolute, np.sign: P.sign, np.maximum: P.maximum, np.minimum: P.minimum,
    np.reciprocal: P.reciprocal, np.matmul: P.matmul,
    np.equal: P.eq, np.not_equal: P.ne, np.less: P.lt, np.less_equal: P.le, np.greater: P.gt,
    np.greater_equal: P.ge, np.logical_and: P.logical_and, np.logical_or: P.logical_or,
    np.logical_not: P.logical_not,
    np.sinh: P.sinh, np.cosh: P.cosh, np.arcsin: P.arcsin, np.arccos: P.arccos, np.arctan: P.arctan,
    np.arcsinh: P.arcsinh, np.arccosh: P.arccosh, np.arctanh: P.arctanh, np.arctan2: P.arctan2, np.hypot: P.hypot,
    np.copysign: P.copysign, np.floor: P.floor, np.ceil: P.ceil, np.trunc: P.trunc, np.rint: P.rint,
    np.fabs: P.absolute,
}

# ufuncs that are compositions of primitives (ops/composites.py)
_UFUNC_COMPOSITES = {
    np.logaddexp: C.logaddexp, np.logaddexp2: C.logaddexp2, np.exp2: C.exp2, np.log2: C.log2, np.log10: C.log10,
    np.degrees: C.degrees, np.rad2deg: C.degrees, np.radians: C.radians, np.deg2rad: C.radians,
    np.conjugate: C.conjugate, np.fmax: C.fmax, np.fmin: C.fmin,
}


def _tensor_cls():
    from .tensor import Tensor
    return Tensor


def _needs_grad(values):
    T = _tensor_cls()
    return any(isinstance(v, T) and v.requires_grad for v in values)


def _raw(v):
    T = _tensor_cls()
    if isinstance(v, T):
        return v._data
    if isinstance(v, (list, tuple)):
        return type(v)(_raw(x) for x in v)
    return v


def _wrap(out):
    T = _tensor_cls()
    if isinstance(out, np.ndarray):
        return T._make(out)
    if isinstance(out, tuple):
        return tuple(_wrap(o) for o in out)
    if isinstance(out, list):
        return [_wrap(o) for o in out]
    return out


def _untraceable(what):
    return UntraceableError(
        f"{what} has no derivative rule in adcompiler's primitive table, so the gradient through it would be lost "
        f"({user_location()}). Use an operation from the table (see docs/api.md), or wrap the computation in an "
        f"adcompiler.autograd.Function with your own backward.")


def array_ufunc(ufunc, method, inputs, kwargs):
    from .tensor import apply_prim
    if method == "__call__" and not kwargs.get("out") and ufunc in _UFUNCS:
        kw = {k: v for k, v in kwargs.items() if k not in ("out",)}
        if not kw:
            return apply_prim(_UFUNCS[ufunc], tuple(inputs), {})
    if method == "__call__" and ufunc is np.square and not kwargs:
        return apply_prim(P.power, (inputs[0], 2), {})
    if method == "__call__" and ufunc in _UFUNC_COMPOSITES and not kwargs:
        return _run(_UFUNC_COMPOSITES[ufunc], f"np.{ufunc.__name__}", *inputs)
    if _needs_grad(inputs):
        if kwargs.get("out") is not None and method == "__call__" and ufunc in _UFUNCS:
            raise UntraceableError(
                f"np.{ufunc.__name__}(..., out=...) writes into a NumPy array, so the gradient through it would be "
                f"lost ({user_location()}). Drop out= and use the returned Tensor.")
        raise _untraceable(f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
    written = _tensors(kwargs.get("out")) + (_tensors(inputs[:1]) if method == "at" else [])
    kwargs = {k: _raw(v) for k, v in kwargs.items()}
    with _writing(written):
        return _wrap(getattr(ufunc, method)(*[_raw(i) for i in inputs], **kwargs))


# NumPy functions that write into an argument (by position or keyword)
_WRITERS = {np.copyto: ("dst", 0), np.put: ("a", 0), np.place: ("arr", 0), np.putmask: ("a", 0),
            np.fill_diagonal: ("a", 0), np.put_along_axis: ("arr", 0)}


def _tensors(values):
    T = _tensor_cls()
    if values is None:
        return []
    if isinstance(values, T):
        return [values]
    if isinstance(values, (tuple, list)):
        return [v for v in values if isinstance(v, T)]
    return []


class _writing:
    """NumPy is about to write into these Tensors' storage behind the graph's back (`out=`,
    np.copyto ...): recorded ops that saved the old values keep a copy (NumPy semantics: they
    already ran), and the version counters move so nothing stale is read silently."""

    def __init__(self, tensors):
        self.tensors = tensors

    def __enter__(self):
        for t in self.tensors:
            if t.requires_grad:
                raise UntraceableError(
                    f"NumPy would write into an array that is part of the gradient computation here, behind "
                    f"the graph's back, so its gradient would be lost ({user_location()}). Assign with "
                    f"`a[...] = value` or build a new array instead.")
        for t in self.tensors:
            if t._sticky:
                t._snapshot_savers()

    def __exit__(self, *exc):
        for t in self.tensors:
            t._bump()
        return False


def _axis_kw(kwargs, pos_axis=None):
    axis = kwargs.pop("axis", pos_axis)
    return tuple(axis) if isinstance(axis, list) else axis


def _reduction(prim):
    def impl(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
        from .tensor import apply_prim
        if out is not None or kw.get("where") is not None:
            return None
        axis = tuple(axis) if isinstance(axis, list) else axis
        x = a.to(dtype) if dtype is not None and hasattr(a, "to") else a
        return apply_prim(prim, (x,), {"axis": axis, "keepdims": bool(keepdims)})
    return impl


def _var_like(prim):
    def impl(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
        from .tensor import apply_prim
        axis = tuple(axis) if isinstance(axis, list) else axis
        return apply_prim(prim, (a,), {"axis": axis, "correction": ddof, "keepdims": bool(keepdims)})
    return impl


def _extreme(prim):
    def impl(a, axis=None, out=None, keepdims=False, **kw):
        from .tensor import apply_prim
        if kw.get("initial") is not None or kw.get("where") is not None:
            return None
        axis = tuple(axis) if isinstance(axis, list) else axis
        return apply_prim(prim, (a,), {"axis": axis, "keepdims": bool(keepdims)})
    return impl


def _apply(prim, *args, **params):
    from .tensor import apply_prim
    return apply_prim(prim, args, params)


def _transpose(a, axes=None):
    nd = np.ndim(_raw(a))
    axes = tuple(range(nd - 1, -1, -1)) if axes is None else tuple(x % nd for x in axes)
    return _apply(P.transpose, a, axes=axes)


def _clip(a, a_min=None, a_max=None, out=None, **kw):
    T = _tensor_cls()
    lo = kw.pop("min", a_min)
    hi = kw.pop("max", a_max)
    if isinstance(lo, (T, np.ndarray)) or isinstance(hi, (T, np.ndarray)):
        out_ = a
        if lo is not None:
            out_ = _apply(P.maximum, out_, lo)
        if hi is not None:
            out_ = _apply(P.minimum, out_, hi)
        return out_
    return _apply(P.clip, a, lo=lo, hi=hi)


def _squeeze(a, axis=None):
    return _apply(P.squeeze, a, axis=axis)


def _np_copy(a, **kw):
    out = _apply(P.copy, a)
    if isinstance(out, _tensor_cls()):
        out._np_scalar = False   # np.copy gives an array, also of a scalar
    return out


def _zeros_like(a, dtype=None, *args, **kw):
    T = _tensor_cls()
    return T._make(np.zeros_like(_raw(a), dtype=dtype))


def _ones_like(a, dtype=None, *args, **kw):
    T = _tensor_cls()
    return T._make(np.ones_like(_raw(a), dtype=dtype))


_FUNCTIONS = {
    np.sum: _reduction(P.sum_), np.mean: _reduction(P.mean), np.prod: _reduction(P.prod),
    np.var: _var_like(P.var), np.std: _var_like(P.std),
    np.max: _extreme(P.amax), np.min: _extreme(P.amin), np.amax: _extreme(P.amax), np.amin: _extreme(P.amin),
    np.argmax: lambda a, axis=None, out=None, keepdims=False: _apply(P.argmax, a, axis=axis, keepdims=keepdims),
    np.argmin: lambda a, axis=None, out=None, keepdims=False: _apply(P.argmin, a, axis=axis, keepdims=keepdims),
    np.matmul: lambda a, b, **kw: _apply(P.matmul, a, b),
    np.transpose: _transpose, np.reshape: lambda a, shape=None, order="C", **kw: _apply(
        P.reshape, a, shape=tuple(np.atleast_1d(kw.get("newshape", shape)).tolist())),
    np.squeeze: _squeeze, np.expand_dims: lambda a, axis: _apply(P.expand_dims, a, axis=axis),
    np.broadcast_to: lambda a, shape, subok=False: _apply(P.broadcast_to, a, shape=tuple(np.atleast_1d(shape).tolist())),
    np.ravel: lambda a, order="C": _apply(P.reshape, a, shape=(-1,)),
    np.concatenate: lambda arrays, axis=0, out=None, **kw: _apply(P.concatenate, *arrays, axis=axis),
    np.stack: lambda arrays, axis=0, out=None, **kw: _apply(P.stack, *arrays, axis=axis),
    np.where: lambda c, x=None, y=None: _apply(P.where, c, x, y) if x is not None else None,
    np.clip: _clip, np.copy: _np_copy,
    np.zeros_like: _zeros_like, np.ones_like: _ones_like,
}

def _arrayish(x):
    """An array-like argument of a composite: Tensors as they are, a list holding Tensors
    stacked (as np.asarray would, keeping the graph), anything else np.asarray."""
    from .tensor import _flatten_list
    T = _tensor_cls()
    if isinstance(x, T) or x is None:
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(v, T) for v in _flatten_list(x)):
        return _apply(P.stack, *[_arrayish(v) for v in x], axis=0)
    return np.asarray(x)


def _run(fn, name, *args, **kwargs):
    """A composite on Tensors; its own errors (bad axes, shapes, an unsupported mode) name the
    user's line."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise UntraceableError(f"{name}: {e} ({user_location()})") from None
    except (ValueError, TypeError, IndexError) as e:
        if user_location() in str(e):
            raise
        try:
            err = type(e)(f"{e} ({user_location()})")
        except Exception:
            raise e from None
        raise err from None


def _composite(fn, arrays=1, array_kw=()):
    name = f"np.{fn.__name__}"

    def impl(*args, **kwargs):
        args = [_arrayish(a) for a in args[:arrays]] + list(args[arrays:])
        kwargs = {k: _arrayish(v) if k in array_kw else v for k, v in kwargs.items()}
        return _run(fn, name, *args, **kwargs)
    return impl


def _no_out(fn):
    def impl(*args, out=None, **kwargs):
        return None if out is not None else fn(*args, **kwargs)
    return impl


def _take(a, indices, axis=None, out=None, mode=None):
    if out is not None:
        return None
    idx = indices if isinstance(indices, _tensor_cls()) else np.asarray(indices)
    return _run(C.take, "np.take", _arrayish(a), _raw(idx) if not _needs_grad([idx]) else idx, axis, mode)


def _take_along_axis(arr, indices, axis=-1):
    return _run(C.take_along_axis, "np.take_along_axis", _arrayish(arr), _raw(indices), axis)


def _einsum(*args, optimize=False, **kw):
    if kw:
        return None
    if isinstance(args[0], str):
        return _run(C.einsum, "np.einsum", args[0], *[_arrayish(o) for o in args[1:]])
    ops_pos = C.einsum_sublist_positions(len(args))
    return _run(C.einsum, "np.einsum", *[_arrayish(a) if k in ops_pos else a for k, a in enumerate(args)])


def _linalg(prim):
    return lambda *args: _apply(prim, *[_arrayish(a) for a in args])


def _stacked(fn):
    return lambda *arys: _run(fn, f"np.{fn.__name__}", *[_arrayish(a) for a in arys])


def _sequence(fn):
    return lambda tup, *args, **kw: _run(fn, f"np.{fn.__name__}", [_arrayish(a) for a in tup], *args, **kw)


def _select(condlist, choicelist, default=0):
    return _run(C.select, "np.select", [_arrayish(c) for c in condlist], [_arrayish(c) for c in choicelist],
                _arrayish(default) if not isinstance(default, (int, float)) else default)


def _gradient(f, *varargs, axis=None, edge_order=1):
    if _needs_grad(varargs):
        return None     # differentiable spacings: not supported (the gradient through them would be lost)
    return _run(C.gradient, "np.gradient", _arrayish(f), *[_raw(v) for v in varargs], axis=axis,
                edge_order=edge_order)


def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, **kw):
    if retstep or dtype is not None or kw:
        return None
    return _run(C.linspace, "np.linspace", _arrayish(start), _arrayish(stop), num, endpoint, axis)


_FUNCTIONS.update({
    np.cross: _composite(C.cross, 2), np.kron: _composite(C.kron, 2), np.tensordot: _composite(C.tensordot, 2),
    np.repeat: _composite(C.repeat), np.inner: _composite(C.inner, 2), np.dot: _no_out(_composite(C.dot, 2)),
    np.vdot: _composite(C.vdot, 2), np.outer: _no_out(_composite(C.outer, 2)), np.trace: _no_out(_composite(C.trace)),
    np.linalg.norm: _composite(C.norm), np.split: _composite(C.split), np.array_split: _composite(C.array_split),
    np.hsplit: _composite(C.hsplit), np.vsplit: _composite(C.vsplit), np.dsplit: _composite(C.dsplit),
    np.diff: _composite(C.diff, 1, ("prepend", "append")), np.swapaxes: _composite(C.swapaxes),
    np.rollaxis: _composite(C.rollaxis), np.moveaxis: _composite(C.moveaxis), np.triu: _composite(C.triu),
    np.tril: _composite(C.tril), np.pad: _composite(C.pad), np.diag: _composite(C.diag),
    np.diagonal: _composite(C.diagonal), np.tile: _composite(C.tile), np.sort: _composite(C.sort),
    np.partition: _composite(C.partition), np.sinc: _composite(C.sinc), np.cumsum: _no_out(_composite(C.cumsum)),
    np.cumprod: _no_out(_composite(C.cumprod)), np.append: _composite(C.append, 2), np.roll: _composite(C.roll),
    np.rot90: _composite(C.rot90), np.flip: _composite(C.flip), np.flipud: _composite(C.flipud),
    np.fliplr: _composite(C.fliplr), np.nan_to_num: _composite(C.nan_to_num), np.real: _composite(C.real),
    np.imag: _composite(C.imag), np.angle: _composite(C.angle), np.linalg.slogdet: _composite(C.slogdet),
    np.linalg.svd: _composite(C.svd),
    np.linalg.eigh: _composite(C.eigh), np.linalg.eigvalsh: _composite(C.eigvalsh), np.real_if_close: _composite(C.real_if_close),
    np.take: _take, np.take_along_axis: _take_along_axis, np.einsum: _einsum,
    np.linalg.inv: _linalg(P.inv), np.linalg.det: _linalg(P.det), np.linalg.cholesky: _linalg(P.cholesky),
    np.linalg.pinv: _linalg(P.pinv), np.linalg.solve: _linalg(P.solve),
    np.atleast_1d: _stacked(C.atleast_1d), np.atleast_2d: _stacked(C.atleast_2d),
    np.atleast_3d: _stacked(C.atleast_3d), np.column_stack: _sequence(C.column_stack),
    np.hstack: _sequence(C.hstack), np.vstack: _sequence(C.vstack), np.dstack: _sequence(C.dstack), np.select: _select,
    np.gradient: _gradient, np.linspace: _linspace,
    np.argsort: lambda a, axis=-1, kind=None, order=None, stable=None: None if order is not None else _apply(
        P.argsort, a, axis=axis, kind="stable" if stable else kind),
    np.argpartition: lambda a, kth, axis=-1, kind="introselect", order=None: None if order is not None else _apply(
        P.argpartition, a, kth=kth, axis=axis),
})

_SHAPE_ONLY = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj}


def array_function(func, args, kwargs):
    impl = _FUNCTIONS.get(func)
    if impl is not None:
        res = impl(*args, **kwargs)
        if res is not None:
            return res
    if func in _SHAPE_ONLY:
        return func(*_raw(args), **kwargs)
    flat = list(args) + list(kwargs.values())
    flat += [v for a in args if isinstance(a, (list, tuple)) for v in a]
    if _needs_grad(flat):
        module = (getattr(func, "__module__", None) or "numpy").replace("numpy", "np", 1)
        module = "np" if module.startswith("np._core") or module.startswith("np.core") else module
        raise _untraceable(f"{module}.{func.__name__}" + ("" if impl is None else " with these arguments"))
    written = []
    if func in _WRITERS:
        name, pos = _WRITERS[func]
        written = _tensors([kwargs.get(name, args[pos] if len(args) > pos else None)])
    written += _tensors(kwargs.get("out"))
    with _writing(written):
        return _wrap(func(*_raw(list(args)), **{k: _raw(v) for k, v in kwargs.items()}))
