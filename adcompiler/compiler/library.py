"""How calls to NumPy, `math` and Python builtins (and array methods and
properties) lower to primitives of the table.

Each lowering takes the front end and the call's arguments (front-end values:
Value / Static / PyTuple) with the library function's own parameter names, so
Python's argument binding checks the call. A call whose arguments are all
static runs at compile time instead (see `Frontend.call`). Composite lowerings
(np.square, clip with run-time bounds) only combine primitives; no derivative is
written here. library_numpy.py adds more functions, most of them compositions from
ops/composites.py.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import ops as _ops
from ..ops.dims import Dim
from .ir import Value
from .pysemantics import python_scalar
from . import lists
from .lists import as_array, stack_nested
from .values import GrowList, ListBuffer, PyTuple, Static

LOWERINGS = {}     # id(python callable) -> lowering(fe, *args, **kwargs)
CALLABLES = {}     # id(python callable) -> the callable (keeps ids valid)
METHODS = {}       # array method name -> lowering (the array is the first argument)
STATIC_ONLY = set()  # ids of creation functions: arguments must be static (unless a lowering is registered)


def lowering(*fns, methods=(), static_only=False):
    def deco(lower):
        for fn in fns:
            LOWERINGS[id(fn)] = lower
            CALLABLES[id(fn)] = fn
            if static_only:
                STATIC_ONLY.add(id(fn))
        for m in methods:
            METHODS[m] = lower
        return lower
    return deco


def is_known(fn):
    return id(fn) in LOWERINGS


# ---- elementwise -------------------------------------------------------------

def _unary(prim, *fns, methods=(), python=False):
    def lower(fe, x, *rest, **kw):
        if rest or kw:
            fe.fail(f"{fe.callee_name} with more than one argument is not supported")
        if python:
            return _python_math(fe, prim, x)
        return fe.prim(prim, x, weak=python)
    lowering(*fns, methods=methods)(lower)


@lowering(python_scalar)
def _python_scalar(fe, x):
    """Generated code read back (grad of grad): a Python scalar stays one."""
    v = fe.val(x)
    return fe.to_weak(v) if v.type.is_scalar or v.type.shape == () else v


def _python_math(fe, prim, x):
    """math.<fn>(x): Python converts x to a float first (a NumPy float32 is widened, an int made a
    float) and computes in double, raising where the result would be nan or infinite."""
    xv = fe.val(x)
    fe.check_scalar(xv)
    if not (xv.type.is_scalar and xv.type.dtype == np.float64):
        xv = fe.to_weak(fe.prim("astype", xv, dtype=np.dtype(np.float64), weak=False))
    return fe.to_weak(fe.prim(prim, xv, weak=True))


for _prim, _np_fns, _math_fns in [
        ("sin", [np.sin], [math.sin]), ("cos", [np.cos], [math.cos]), ("tan", [np.tan], [math.tan]),
        ("exp", [np.exp], [math.exp]), ("log", [np.log], [math.log]), ("log1p", [np.log1p], [math.log1p]),
        ("expm1", [np.expm1], [math.expm1]), ("sqrt", [np.sqrt], [math.sqrt]), ("tanh", [np.tanh], [math.tanh]),
        ("abs", [np.abs], [math.fabs]), ("sign", [np.sign], []), ("neg", [np.negative], []),
        ("reciprocal", [np.reciprocal], [])]:
    _unary(_prim, *_np_fns)
    if _math_fns:
        _unary(_prim, *_math_fns, python=True)


@lowering(builtins.abs)
def _abs(fe, x):
    return fe.prim("abs", x)


def _binary(prim, *fns, python=False):
    def lower(fe, x, y):
        v = fe.prim(prim, x, y, weak=python)
        return fe.to_weak(v) if python and not v.type.shape else v
    lowering(*fns)(lower)


for _prim, _fns in [("add", [np.add]), ("sub", [np.subtract]), ("mul", [np.multiply]),
                    ("div", [np.divide, np.true_divide]), ("pow", [np.power]), ("maximum", [np.maximum]),
                    ("minimum", [np.minimum]), ("matmul", [np.matmul]), ("eq", [np.equal]), ("ne", [np.not_equal]),
                    ("lt", [np.less]), ("le", [np.less_equal]), ("gt", [np.greater]), ("ge", [np.greater_equal]),
                    ("logical_and", [np.logical_and]), ("logical_or", [np.logical_or])]:
    _binary(_prim, *_fns)
_binary("pow", math.pow, builtins.pow, python=True)


@lowering(np.logical_not)
def _logical_not(fe, x):
    return fe.prim("logical_not", x)


@lowering(np.square)
def _square(fe, x):
    return fe.prim("mul", x, x)


@lowering(np.where)
def _where(fe, condition, x=None, y=None):
    if x is None or y is None:
        fe.fail("np.where with one argument is not supported (its shape depends on the data)")
    return fe.prim("where", condition, x, y)


@lowering(np.clip, methods=("clip",))
def _clip(fe, a, a_min=None, a_max=None):
    lo, hi = (None if b is None or (isinstance(b, Static) and b.value is None) else b for b in (a_min, a_max))
    if all(b is None or isinstance(b, Static) for b in (lo, hi)):
        return fe.prim("clip", a, lo=None if lo is None else lo.value, hi=None if hi is None else hi.value)
    out = a
    if lo is not None:
        out = fe.prim("maximum", out, lo)
    if hi is not None:
        out = fe.prim("minimum", out, hi)
    return out


# ---- reductions --------------------------------------------------------------

def _axis(fe, axis):
    a = fe.static(axis, "axis")
    return tuple(a) if isinstance(a, list) else a


def _reduction(prim, *fns, methods=()):
    def lower(fe, a, axis=None, dtype=None, out=None, keepdims=False):
        if out is not None or dtype is not None:
            fe.fail(f"{fe.callee_name}(dtype=/out=) is not supported")
        return fe.prim(prim, as_array(fe, a), axis=_axis(fe, axis), keepdims=bool(fe.static(keepdims, "keepdims")), weak=False)
    lowering(*fns, methods=methods)(lower)


_reduction("sum", np.sum, methods=("sum",))
_reduction("mean", np.mean, methods=("mean",))
_reduction("prod", np.prod, methods=("prod",))
_reduction("amax", np.max, np.amax, methods=("max",))
_reduction("amin", np.min, np.amin, methods=("min",))


def _arg_reduction(prim, fn):
    def lower(fe, a, axis=None, out=None, keepdims=False):
        return fe.prim(prim, as_array(fe, a), axis=_axis(fe, axis), keepdims=bool(fe.static(keepdims, "keepdims")), weak=False)
    lowering(fn, methods=(prim,))(lower)


_arg_reduction("argmax", np.argmax)
_arg_reduction("argmin", np.argmin)


def _moment(prim, fn):
    def lower(fe, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return fe.prim(prim, as_array(fe, a), axis=_axis(fe, axis), correction=fe.static(ddof, "ddof"),
                       keepdims=bool(fe.static(keepdims, "keepdims")), weak=False)
    lowering(fn, methods=(prim,))(lower)


_moment("var", np.var)
_moment("std", np.std)


@lowering(builtins.sum)
def _builtin_sum(fe, iterable, start=Static(0)):
    if isinstance(iterable, Value) and iterable.type.is_tuple:
        iterable = PyTuple(fe.b.untuple(iterable))
    if isinstance(iterable, (ListBuffer, GrowList)):
        iterable = as_array(fe, iterable)
    if isinstance(iterable, PyTuple):
        acc = start
        for item in iterable.items:
            acc = fe.binop("add", acc, item)
        return acc
    v = fe.val(iterable)
    if not v.type.is_array or v.type.ndim == 0:
        fe.fail("sum() of a non-iterable value")
    s = fe.prim("sum", v, axis=0, keepdims=False)
    return s if isinstance(start, Static) and start.value == 0 else fe.binop("add", start, s)


def _builtin_extreme(prim_pair, reduce_prim):
    def lower(fe, *args):
        if len(args) == 1:
            v = fe.val(args[0])
            if not v.type.is_array or v.type.ndim == 0:
                fe.fail(f"{fe.callee_name}() of a non-iterable value")
            return fe.prim(reduce_prim, v, axis=0, keepdims=False)
        acc = args[0]
        for a in args[1:]:
            if fe.type_of(acc).shape == () and fe.type_of(a).shape == ():
                # Python's: the first of the largest (max(1.0, nan) is 1.0, max(nan, 1.0) nan)
                better = fe.prim("gt" if prim_pair == "maximum" else "lt", a, acc)
                acc = fe.prim("where", better, a, acc)
            else:
                acc = fe.prim(prim_pair, acc, a)
        return acc
    return lower


lowering(builtins.max)(_builtin_extreme("maximum", "amax"))
lowering(builtins.min)(_builtin_extreme("minimum", "amin"))


@lowering(builtins.len)
def _len(fe, obj):
    if isinstance(obj, PyTuple):
        return Static(len(obj.items))
    if isinstance(obj, ListBuffer):
        return Static(obj.length)
    if isinstance(obj, GrowList):
        return lists.length(fe, obj)
    t = fe.type_of(obj)
    if t.is_tuple:
        return Static(len(t.elems))
    if not t.is_array or not t.shape:
        fe.fail("len() of an unsized value")
    return Static(t.shape[0])


# ---- conversions -------------------------------------------------------------

def _convert(dtype, python):
    def lower(fe, x=Static(0)):
        v = fe.val(x)
        t = v.type
        if python:
            if t.is_array and t.size != 1:
                fe.fail(f"{fe.callee_name}() of an array with {t.size} elements")
            if t.is_array and t.shape:
                v = fe.prim("reshape", v, shape=())
            if t.is_scalar and t.dtype == np.dtype(dtype):
                return v
            return fe.to_weak(fe.prim("astype", v, dtype=np.dtype(dtype)))
        return fe.prim("astype", v, dtype=np.dtype(dtype), weak=False)
    return lower


lowering(builtins.float)(_convert(np.float64, True))
lowering(builtins.int)(_convert(np.int64, True))
lowering(builtins.bool)(_convert(np.bool_, True))
lowering(np.float64)(_convert(np.float64, False))
lowering(np.float32)(_convert(np.float32, False))


@lowering(methods=("astype",))
def _astype(fe, x, dtype):
    return fe.prim("astype", x, dtype=np.dtype(fe.static(dtype, "dtype")), weak=False)


@lowering(methods=("item",))
def _item(fe, x):
    t = fe.type_of(x)
    return _convert(np.int64 if t.dtype.kind in "iu" else np.bool_ if t.dtype.kind == "b" else np.float64, True)(fe, x)


@lowering(np.array, np.asarray)
def _array(fe, obj, dtype=None, copy=True):
    v = fe.val(as_array(fe, obj))
    if dtype is not None:
        dt = np.dtype(fe.static(dtype, "dtype"))
        if v.type.dtype != dt:
            return fe.prim("astype", v, dtype=dt, weak=False)
    if not v.type.is_array:
        return fe.prim("astype", v, dtype=v.type.dtype, weak=False)
    if fe.callee is np.array and fe.static(copy, "copy"):
        return fe.prim("copy", v)
    return v


@lowering(_ops.stop_gradient)
def _stop_gradient(fe, x):
    return fe.prim("stop_gradient", x, weak=True)


@lowering(np.copy, methods=("copy",))
def _copy(fe, a):
    return fe.prim("copy", a)


# ---- shapes ------------------------------------------------------------------

def _shape_args(fe, args, what):
    if len(args) == 1:
        s = fe.static(args[0], what)
        return (s,) if isinstance(s, (int, Dim)) else tuple(s)
    return tuple(fe.static(a, what) for a in args)


@lowering(np.reshape)
def _np_reshape(fe, a, newshape=None, shape=None):
    s = newshape if newshape is not None else shape
    return fe.prim("reshape", a, shape=_shape_args(fe, [s], "shape"))


@lowering(methods=("reshape",))
def _reshape_method(fe, a, *shape):
    return fe.prim("reshape", a, shape=_shape_args(fe, shape, "shape"))


@lowering(methods=("flatten", "ravel"))
def _flatten(fe, a):
    return fe.prim("reshape", a, shape=(-1,))


@lowering(np.ravel)
def _np_ravel(fe, a):
    return fe.prim("reshape", a, shape=(-1,))


def transpose(fe, a, axes=None):
    v = fe.val(a)
    axes = tuple(reversed(range(v.type.ndim))) if axes is None else tuple(axes)
    return fe.prim("transpose", v, axes=axes)


@lowering(np.transpose)
def _np_transpose(fe, a, axes=None):
    return transpose(fe, a, None if axes is None else _shape_args(fe, [axes], "axes"))


@lowering(methods=("transpose",))
def _transpose_method(fe, a, *axes):
    return transpose(fe, a, _shape_args(fe, axes, "axes") if axes else None)


@lowering(np.squeeze, methods=("squeeze",))
def _squeeze(fe, a, axis=None):
    return fe.prim("squeeze", a, axis=_axis(fe, axis))


@lowering(np.expand_dims)
def _expand_dims(fe, a, axis):
    return fe.prim("expand_dims", a, axis=_axis(fe, axis))


@lowering(np.broadcast_to)
def _broadcast_to(fe, array, shape):
    return fe.prim("broadcast_to", array, shape=_shape_args(fe, [shape], "shape"))


@lowering(np.concatenate)
def _concatenate(fe, arrays, axis=0):
    if isinstance(arrays, GrowList) and fe.static(axis, "axis") == 0:
        t = as_array(fe, arrays).type
        if t.ndim < 2:
            fe.fail("np.concatenate of 0-d items: zero-dimensional arrays cannot be concatenated")
        return fe.prim("reshape", as_array(fe, arrays), shape=(t.shape[0] * t.shape[1],) + t.shape[2:])
    if isinstance(arrays, ListBuffer) and arrays.array.type.ndim > 1 and fe.static(axis, "axis") == 0:
        t = arrays.array.type
        return fe.prim("reshape", as_array(fe, arrays), shape=(t.shape[0] * t.shape[1],) + t.shape[2:])
    return fe.prim("concatenate", *fe.items(arrays), axis=fe.static(axis, "axis"), weak=False)


@lowering(np.stack)
def _stack(fe, arrays, axis=0):
    if isinstance(arrays, GrowList):
        if fe.static(axis, "axis") != 0:
            fe.fail(f"np.stack of the list '{arrays.name}' (whose length is known only at run time) along axis "
                    f"{fe.static(axis, 'axis')} is not supported (stack along axis 0 and transpose)")
        return fe.prim("copy", as_array(fe, arrays))
    if isinstance(arrays, ListBuffer) and fe.static(axis, "axis") == 0:
        return fe.prim("copy", as_array(fe, arrays))
    return fe.prim("stack", *fe.items(arrays), axis=fe.static(axis, "axis"), weak=False)


# ---- creation (compile-time arrays) -------------------------------------------

def _like(fill):
    def lower(fe, a, *rest, dtype=None, **kw):
        t = fe.type_of(a)
        dt = np.dtype(fe.static(dtype, "dtype")) if dtype is not None else t.dtype
        value = fe.static(rest[0], "fill value") if fill is None else fill
        return Static(np.full(t.shape, value, dtype=dt), fresh=True)
    return lower


lowering(np.zeros_like, np.empty_like)(_like(0))
lowering(np.ones_like)(_like(1))
lowering(np.full_like)(_like(None))

for _fn in (np.zeros, np.ones, np.full, np.empty, np.eye, np.identity, np.arange, np.linspace):
    lowering(_fn, static_only=True)(None)


# ---- array attributes ----------------------------------------------------------

def array_attribute(fe, v, name):
    """`x.shape`, `x.T`, ... on an IR array value (or None if not an attribute we know)."""
    t = v.type
    if name == "shape":
        return Static(t.shape)
    if name == "ndim":
        return Static(len(t.shape))
    if name == "size":
        return Static(int(np.prod(t.shape, dtype=np.int64)))
    if name == "dtype":
        return Static(t.dtype)
    if name == "T":
        return transpose(fe, v)
    return None


__all__ = ["LOWERINGS", "METHODS", "STATIC_ONLY", "is_known", "array_attribute", "Value"]

from . import library_numpy  # noqa: E402,F401  (more NumPy/math functions; registers into the tables above)
