"""More NumPy and `math` functions for the compiler: new elementwise primitives of the
table (np.sinh, math.erf ...) and the compositions in ops/composites.py (np.cross,
np.einsum, np.pad, np.linalg.norm ...), registered in library.py's tables.

A composite runs on the front end's IR values inside the Builder, so it emits the same
primitives it calls on ndarrays and Tensors; array-likes become arrays as NumPy makes them
(a Python number a 0-d float64 array, a list display a stacked array), the other
arguments must be known at compile time.
"""
from __future__ import annotations

import inspect
import math
import operator

import numpy as np

from ..ops import composites as C
from . import library as L
from .errors import UnsupportedSyntax
from .ir import Value
from .lists import as_array
from .values import GrowList, PyTuple, Static

__all__ = []

# ---- elementwise primitives ----------------------------------------------------------------

for _prim, _np_fns, _math_fns in [
        ("sinh", [np.sinh], [math.sinh]), ("cosh", [np.cosh], [math.cosh]),
        ("arcsin", [np.arcsin], [math.asin]), ("arccos", [np.arccos], [math.acos]),
        ("arctan", [np.arctan], [math.atan]), ("arcsinh", [np.arcsinh], [math.asinh]),
        ("arccosh", [np.arccosh], [math.acosh]), ("arctanh", [np.arctanh], [math.atanh]),
        ("erf", [], [math.erf]), ("erfc", [], [math.erfc]), ("lgamma", [], [math.lgamma]),
        ("gamma", [], [math.gamma]), ("floor", [np.floor], []), ("ceil", [np.ceil], []), ("trunc", [np.trunc], []),
        ("rint", [np.rint], []), ("abs", [np.fabs], [])]:
    if _np_fns:
        L._unary(_prim, *_np_fns)
    if _math_fns:
        L._unary(_prim, *_math_fns, python=True)

for _prim, _np_fn, _math_fn in [("arctan2", np.arctan2, math.atan2), ("hypot", np.hypot, math.hypot),
                                ("copysign", np.copysign, math.copysign)]:
    L._binary(_prim, _np_fn)
    L._binary(_prim, _math_fn, python=True)
L._binary("remainder", np.remainder, np.mod)
L._binary("floor_divide", np.floor_divide)


def _operator(prim):
    """operator.add & co.: the same as the operator in the source."""
    def lower(fe, a, b):
        return fe.binop(prim, a, b)
    return lower


for _prim, _fn in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul), ("div", operator.truediv),
                   ("pow", operator.pow), ("remainder", operator.mod), ("floor_divide", operator.floordiv),
                   ("matmul", operator.matmul)]:
    L.lowering(_fn)(_operator(_prim))


@L.lowering(operator.neg)
def _neg(fe, a):
    return fe.prim("neg", a)


# ---- running a composite -------------------------------------------------------------------

def _array(fe, x):
    """An array-like argument as an array Value (NumPy's np.asarray)."""
    if isinstance(x, GrowList):
        return as_array(fe, x)
    if isinstance(x, PyTuple):
        items = [_array(fe, i) for i in x.items]
        if not items:
            fe.fail(f"{fe.callee_name} of an empty list")
        return fe.prim("stack", *items, axis=0, weak=False)
    if isinstance(x, Static) and isinstance(x.raw, (list, tuple)):
        x = Static(np.asarray(x.value), fresh=True)      # a literal list of numbers
    v = fe.val(x)
    if v.type.is_tuple:                                   # a tuple value (a helper's result)
        return fe.prim("stack", *[_array(fe, i) for i in fe.items(v)], axis=0, weak=False)
    if v.type.is_scalar:
        v = fe.prim("astype", v, dtype=v.type.dtype, weak=False)
    if not v.type.is_array:
        fe.fail(f"{fe.callee_name} needs arrays, got a value of type {v.type}")
    return v


def _arrays(fe, seq):
    """A sequence of array-likes: a list or tuple, or an array (its rows, as NumPy iterates)."""
    if isinstance(seq, PyTuple):
        return [_array(fe, i) for i in seq.items]
    v = fe.val(seq)
    if v.type.is_array and v.type.ndim > 0:
        return [fe.prim("getitem", v, idx=i) for i in range(v.type.shape[0])]
    return [_array(fe, i) for i in fe.items(seq)]


def run(fe, fn, *args, python=False, **params):
    """`fn(*args, **params)` (a composite) emitting IR at the user's line; lists and tuples it
    returns become PyTuples. With python=True the result is a Python scalar (math.*)."""
    with fe.b, fe.b.located(fe.loc(fe.node)):
        try:
            out = fn(*args, **params)
        except UnsupportedSyntax as e:
            if e.file is None:
                fe.fail(e.reason)
            raise
        except (ValueError, TypeError, IndexError, NotImplementedError) as e:
            fe.fail(f"{fe.callee_name}: {type(e).__name__}: {e}")
    if isinstance(out, (list, tuple)):
        return PyTuple(out, is_list=isinstance(out, list))
    if python:
        out = fe.val(out)
        fe.check_scalar(out)
        return fe.to_weak(out)
    return out if isinstance(out, Value) else Static(out)


def _composite(fn, *np_fns, methods=(), arrays=1, array_kw=()):
    """Lower np_fns (and array methods) to composite `fn`: its first `arrays` positional
    parameters and the keywords `array_kw` are arrays, the rest compile-time values."""
    names = list(inspect.signature(fn).parameters)

    def lower(fe, *args, **kwargs):
        vals = [_array(fe, a) for a in args[:arrays]]
        rest = [fe.static(a, f"{fe.callee_name}'s argument {names[k] if k < len(names) else k}")
                for k, a in enumerate(args[arrays:], start=arrays)]
        kw = {k: _array(fe, v) if k in array_kw else fe.static(v, f"{fe.callee_name}'s argument {k}")
              for k, v in kwargs.items()}
        return run(fe, fn, *vals, *rest, **kw)
    L.lowering(*np_fns, methods=methods)(lower)


for _fn, _np_fns, _methods, _n, *_kw in [
        (C.cross, [np.cross], (), 2), (C.kron, [np.kron], (), 2), (C.tensordot, [np.tensordot], (), 2),
        (C.logaddexp, [np.logaddexp], (), 2), (C.logaddexp2, [np.logaddexp2], (), 2),
        (C.repeat, [np.repeat], ("repeat",), 1), (C.inner, [np.inner], (), 2), (C.dot, [np.dot], ("dot",), 2),
        (C.vdot, [np.vdot], (), 2), (C.outer, [np.outer], (), 2), (C.trace, [np.trace], ("trace",), 1),
        (C.norm, [np.linalg.norm], (), 1), (C.array_split, [np.array_split], (), 1), (C.split, [np.split], (), 1),
        (C.hsplit, [np.hsplit], (), 1), (C.vsplit, [np.vsplit], (), 1), (C.dsplit, [np.dsplit], (), 1),
        (C.diff, [np.diff], (), 1, ("prepend", "append")), (C.swapaxes, [np.swapaxes], ("swapaxes",), 1), (C.rollaxis, [np.rollaxis], (), 1),
        (C.moveaxis, [np.moveaxis], (), 1), (C.triu, [np.triu], (), 1), (C.tril, [np.tril], (), 1),
        (C.pad, [np.pad], (), 1), (C.diag, [np.diag], (), 1), (C.diagonal, [np.diagonal], ("diagonal",), 1),
        (C.tile, [np.tile], (), 1), (C.sort, [np.sort], (), 1), (C.partition, [np.partition], (), 1),
        (C.exp2, [np.exp2], (), 1), (C.log2, [np.log2], (), 1), (C.log10, [np.log10], (), 1),
        (C.degrees, [np.degrees, np.rad2deg], (), 1), (C.radians, [np.radians, np.deg2rad], (), 1),
        (C.sinc, [np.sinc], (), 1), (C.cumsum, [np.cumsum], ("cumsum",), 1),
        (C.cumprod, [np.cumprod], ("cumprod",), 1), (C.append, [np.append], (), 2), (C.roll, [np.roll], (), 1),
        (C.rot90, [np.rot90], (), 1), (C.flip, [np.flip], (), 1), (C.flipud, [np.flipud], (), 1),
        (C.fliplr, [np.fliplr], (), 1), (C.nan_to_num, [np.nan_to_num], (), 1), 
        (C.real, [np.real], (), 1), (C.imag, [np.imag], (), 1), (C.conjugate, [np.conjugate, np.conj],
                                                                  ("conjugate", "conj"), 1),
        (C.angle, [np.angle], (), 1), (C.slogdet, [np.linalg.slogdet], (), 1),
        (C.gradient, [np.gradient], (), 1), (C.svd, [np.linalg.svd], (), 1), (C.fmax, [np.fmax], (), 2),
        (C.fmin, [np.fmin], (), 2), (C.eigh, [np.linalg.eigh], (), 1), (C.eigvalsh, [np.linalg.eigvalsh], (), 1), (C.real_if_close, [np.real_if_close], (), 1)]:
    _composite(_fn, *_np_fns, methods=_methods, arrays=_n, array_kw=_kw[0] if _kw else ())

for _prim, _fn in [("inv", np.linalg.inv), ("det", np.linalg.det), ("cholesky", np.linalg.cholesky),
                   ("pinv", np.linalg.pinv)]:
    def _linalg(fe, a, _prim=_prim):
        return fe.prim(_prim, _array(fe, a), weak=False)
    L.lowering(_fn)(_linalg)


@L.lowering(np.linalg.solve)
def _solve(fe, a, b):
    return fe.prim("solve", _array(fe, a), _array(fe, b), weak=False)


def _index_values(fe, x):
    """Indices: a run-time integer array, or a compile-time one."""
    if isinstance(x, Value):
        if x.type.dtype.kind not in "iu":
            fe.fail(f"{fe.callee_name}: indices must be integers, not {x.type}")
        return x
    v = fe.static(x, "indices")
    return np.asarray(v) if isinstance(v, (list, tuple)) else v


@L.lowering(np.take, methods=("take",))
def _take(fe, a, indices, axis=None, out=None, mode=None):
    if out is not None:
        fe.fail("np.take(out=...) is not supported")
    return run(fe, C.take, _array(fe, a), _index_values(fe, indices), fe.static(axis, "axis"), fe.static(mode, "mode"))


@L.lowering(np.take_along_axis)
def _take_along_axis(fe, arr, indices, axis=-1):
    return run(fe, C.take_along_axis, _array(fe, arr), _index_values(fe, indices), fe.static(axis, "axis"))


@L.lowering(np.argsort, methods=("argsort",))
def _argsort(fe, a, axis=-1, kind=None, order=None, stable=None):
    if order is not None:
        fe.fail("np.argsort(order=...) is not supported")
    kind = "stable" if fe.static(stable, "stable") else fe.static(kind, "kind")
    return fe.prim("argsort", _array(fe, a), axis=fe.static(axis, "axis"), kind=kind, weak=False)


@L.lowering(np.argpartition, methods=("argpartition",))
def _argpartition(fe, a, kth, axis=-1, kind="introselect", order=None):
    return fe.prim("argpartition", _array(fe, a), kth=fe.static(kth, "kth"), axis=fe.static(axis, "axis"), weak=False)


@L.lowering(np.einsum)
def _einsum(fe, *args, **kwargs):
    if set(kwargs) - {"optimize"}:
        fe.fail(f"np.einsum({', '.join(kwargs)}=...) is not supported")
    if isinstance(args[0], Static) and isinstance(args[0].raw, str):
        return run(fe, C.einsum, args[0].value, *[_array(fe, o) for o in args[1:]])
    ops_pos = C.einsum_sublist_positions(len(args))        # np.einsum(a, [0, 1], b, [1, 2], [0, 2])
    return run(fe, C.einsum, *[_array(fe, a) if k in ops_pos else fe.static(a, "an einsum sublist")
                               for k, a in enumerate(args)])


def _stacked(fn, *np_fns):
    def lower(fe, *arys):
        return run(fe, fn, *[_array(fe, a) for a in arys])
    L.lowering(*np_fns)(lower)


_stacked(C.atleast_1d, np.atleast_1d)
_stacked(C.atleast_2d, np.atleast_2d)
_stacked(C.atleast_3d, np.atleast_3d)


def _sequence(fn, np_fn):
    def lower(fe, tup, dtype=None, casting=Static("same_kind")):
        if dtype is not None:
            fe.fail(f"{fe.callee_name}(dtype=...) is not supported")
        return run(fe, fn, _arrays(fe, tup))
    L.lowering(np_fn)(lower)


for _fn, _np_fn in [(C.column_stack, np.column_stack), (C.hstack, np.hstack), (C.vstack, np.vstack),
                    (C.dstack, np.dstack)]:
    _sequence(_fn, _np_fn)


@L.lowering(np.select)
def _select(fe, condlist, choicelist, default=Static(0)):
    return run(fe, C.select, _arrays(fe, condlist), _arrays(fe, choicelist), fe.val(default))


@L.lowering(np.linspace)
def _linspace(fe, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    if fe.static(retstep, "retstep") or dtype is not None:
        fe.fail("np.linspace(retstep=/dtype=) of run-time endpoints is not supported")
    return run(fe, C.linspace, _array(fe, start), _array(fe, stop), fe.static(num, "num"),
               fe.static(endpoint, "endpoint"), fe.static(axis, "axis"))


def _math(fn, *math_fns):
    def lower(fe, *args):
        return run(fe, fn, *[fe.val(a) for a in args], python=True)
    L.lowering(*math_fns)(lower)


_math(C.log2, math.log2)
_math(C.log10, math.log10)
_math(C.degrees, math.degrees)
_math(C.radians, math.radians)
