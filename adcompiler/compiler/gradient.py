"""The compiled path of `adcompiler.grad`: front end -> reverse -> passes -> Python.

`compile_value_and_grad(fn, values, wrt_names)` specialises `fn` on the types
of `values`, builds the adjoint IR, optimises it and compiles it with the
Python backend. Anything the compiler cannot handle raises `UnsupportedSyntax`
(the API then falls back to tracing).
"""
from __future__ import annotations

import os

import numpy as np

from .errors import UnsupportedSyntax
from .ir import verify
from .passes import optimize
from .passes.simplify import simplify
from .passes.dce import dce
from .passes.factor import factor
from .types import NONE, type_of_value

__all__ = ["compile_value_and_grad", "CompiledGrad", "UnsupportedSyntax", "adjoint_ir", "adjoint_ir_for_types"]


def _plain(v):
    from ..tensor import Tensor
    return v._data if isinstance(v, Tensor) else v


def _check_wrt(name, value):
    from ..tracing import check_float_argument
    v = _plain(value)
    check_float_argument(name, v)
    if not isinstance(v, (float, np.floating, np.ndarray)):
        raise UnsupportedSyntax(f"differentiating w.r.t. a {type(v).__name__} argument ({name!r}) is traced")


def adjoint_ir_for_types(fn, types, wrt_names, with_value=True, has_aux=False):
    """(forward IR, optimised adjoint IR) of `fn` specialised on IR `types` (name -> type)."""
    from .frontend import compile_function     # libcst, imported only when something is compiled
    from .reverse import prune_tapes, reverse
    fwd = compile_function(fn, types)
    out_t = fwd.result_type
    if has_aux:
        if not (out_t.is_tuple and len(out_t.elems) == 2):
            raise TypeError(f"grad(has_aux=True): {fn.__name__} must return a pair (scalar, aux), but returns "
                            f"{out_t}")
        out_t = out_t.elems[0]
    if out_t.is_tuple or not (out_t.is_scalar or out_t.is_array):
        where = f" ({os.path.basename(fwd.loc[0])}:{fwd.loc[1]})" if fwd.loc and fwd.loc[0] else ""
        if out_t == NONE:
            raise TypeError(f"grad: {fn.__name__} returned None; it must return a scalar (a float or a size-1 array) "
                            f"to differentiate{where}. Is a `return` statement missing?")
        hint = "; to return extra values too, use grad(..., has_aux=True) and return (loss, aux)" \
            if out_t.is_tuple else ""
        raise TypeError(f"grad: {fn.__name__} must return a scalar, but returns {'a tuple ' if out_t.is_tuple else ''}"
                        f"{out_t}{where}{hint}")
    if not (out_t.is_scalar or (out_t.is_array and int(np.prod(out_t.shape)) == 1)):
        raise TypeError(f"grad: {fn.__name__} must return a scalar, but returned an array of shape {out_t.shape}; "
                        f"reduce it (e.g. .sum()) or use has_aux=True for extra outputs")
    names = [p.hint for p in fwd.params]
    for n in wrt_names:
        t = fwd.params[names.index(n)].type
        if not ((t.is_scalar or t.is_array) and t.dtype.kind == "f"):
            raise TypeError(f"grad: argument {n!r} has type {t}; gradients are taken w.r.t. float inputs")
    adj = optimize(factor(simplify(reverse(fwd, [names.index(n) for n in wrt_names], with_value, has_aux))))
    if prune_tapes(adj):
        adj = dce(adj)  # forward values only the tapes kept alive
    verify(adj)
    return fwd, adj


def adjoint_ir(fn, values, wrt_names, with_value=True, has_aux=False):
    """(forward IR, optimised adjoint IR) of `fn` for these argument values."""
    for n in wrt_names:
        _check_wrt(n, values[n])
    return adjoint_ir_for_types(fn, {k: type_of_value(_plain(v)) for k, v in values.items()}, wrt_names,
                                with_value, has_aux)
