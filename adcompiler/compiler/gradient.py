"""The compiled path of `adcompiler.grad`: front end -> reverse -> passes -> Python.

`compile_value_and_grad(fn, values, wrt_names)` specialises `fn` on the types
of `values`, builds the adjoint IR, optimises it and compiles it with the
Python backend. Anything the compiler cannot handle raises `UnsupportedSyntax`
(the API then falls back to tracing).
"""
from __future__ import annotations

import numpy as np

from ..backends import python as python_backend
from .errors import UnsupportedSyntax
from .frontend import compile_function
from .ir import verify, walk
from .memory import Memory
from .passes import optimize
from .passes.simplify import simplify
from .passes.dce import dce
from .reverse import prune_tapes, reverse
from .types import type_of_value

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
    fwd = compile_function(fn, types)
    out_t = fwd.result_type
    if has_aux:
        if not (out_t.is_tuple and len(out_t.elems) == 2):
            raise TypeError(f"grad(has_aux=True): {fn.__name__} must return a pair (scalar, aux), but returns "
                            f"{out_t}")
        out_t = out_t.elems[0]
    if not (out_t.is_scalar or (out_t.is_array and int(np.prod(out_t.shape)) == 1)):
        raise TypeError(f"grad: {fn.__name__} must return a scalar, but returned an array of shape {out_t.shape}; "
                        f"reduce it (e.g. .sum()) or use has_aux=True for extra outputs")
    names = [p.hint for p in fwd.params]
    for n in wrt_names:
        t = fwd.params[names.index(n)].type
        if not ((t.is_scalar or t.is_array) and t.dtype.kind == "f"):
            raise TypeError(f"grad: argument {n!r} has type {t}; gradients are taken w.r.t. float inputs")
    adj = optimize(simplify(reverse(fwd, [names.index(n) for n in wrt_names], with_value, has_aux)))
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


class CompiledGrad:
    """A compiled (value and) gradient function for one argument signature."""

    def __init__(self, fn, values, wrt_names, with_value=True, has_aux=False):
        self.fn = fn
        self.with_value = with_value
        self.has_aux = has_aux
        self.forward_ir, self.ir = adjoint_ir(fn, values, wrt_names, with_value, has_aux)
        self.param_names = [p.hint for p in self.forward_ir.user_params]
        self.wrt_names = list(wrt_names)
        self.compiled = python_backend.compile_function(self.ir)
        self.source = self.compiled.source
        # which returned gradients are arrays made anew on each call (the others are copied: a gradient
        # must never be the user's own array, a global, or a constant of the generated code)
        out = self.ir.return_op.operands[0]
        made = next(op for op in walk(self.ir.body) if out in op.results)
        mem = Memory(self.ir)
        k = int(with_value) + int(has_aux)
        self._fresh = [made.name == "tuple" and mem.new_each_call(v) for v in made.operands[k:]] \
            if made.name == "tuple" else [False] * len(wrt_names)

    def run(self, values):
        from ..tensor import Tensor
        from .. import tracing
        k = int(self.with_value) + int(self.has_aux)   # (value?, aux?, *grads)
        aux = None
        if tracing.tracing_active() and any(isinstance(v, Tensor) and v.requires_grad for v in values.values()):
            # differentiated again (grad of grad): run the generated code on the outer tracer's Tensors
            out = tracing.traceable(self.compiled.func)(*[values[n] for n in self.param_names],
                                                        *self.forward_ir.hidden_values())
            if self.has_aux:
                aux = out[k - 1]
            return (out[0] if self.with_value else None), dict(zip(self.wrt_names, out[k:])), aux
        args = [_plain(values[n]) for n in self.param_names] + self.forward_ir.hidden_values()
        out = self.compiled(*args)
        result = {}
        for name, g, fresh in zip(self.wrt_names, out[k:], self._fresh):
            result[name] = _like(g, values[name], fresh)
        value = float(np.asarray(out[0]).reshape(())) if self.with_value else None
        if self.has_aux:
            aux = out[k - 1]
        return value, result, aux


def _like(g, x, fresh):
    """Gradient `g` with the type, dtype and shape of argument `x`; a copy unless `fresh` (the
    memory analysis proved the generated code made it on this call)."""
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return Tensor._make(_array_like(g, x._data, fresh))
    if isinstance(x, np.ndarray):
        return _array_like(g, x, fresh)
    return float(g)


def _array_like(g, x, fresh):
    if fresh and isinstance(g, np.ndarray) and g.dtype == x.dtype and g.shape == x.shape and g.flags.owndata:
        return g
    return np.array(np.broadcast_to(g, x.shape), dtype=x.dtype)


def compile_value_and_grad(fn, values, wrt_names, has_aux=False, with_value=True):
    from ..api import GradFunction
    if isinstance(fn, GradFunction):
        fn = _generated_gradient(fn, values)
    return CompiledGrad(fn, values, wrt_names, with_value, has_aux)


def _generated_gradient(inner, values):
    """grad(grad(f)): a plain function returning the inner gradient, which the front end reads
    like user code (it inlines the generated adjoint of f)."""
    if inner.has_aux or inner.return_value or inner._tuple_out:
        raise UnsupportedSyntax("a gradient of a value_and_grad, has_aux or several-argument gradient is traced "
                                "through the generated adjoint code")
    plan = inner._plan(values)
    if plan.compiled is None:
        raise UnsupportedSyntax(f"the inner gradient is itself traced ({plan.reason})")
    if plan.compiled.forward_ir.hidden:
        names = ", ".join(h.ref.text() for h in plan.compiled.forward_ir.hidden)
        raise UnsupportedSyntax(f"the generated gradient of {inner._fn_name()} reads {names} from outside the "
                                "function on each call; a gradient of it is traced through it")
    func = plan.compiled.compiled.func
    params = plan.compiled.param_names
    name = f"{func.__name__}_0"
    source = f"def {name}({', '.join(params)}):\n    return {func.__name__}({', '.join(params)})[0]\n"
    namespace = {func.__name__: func}
    python_backend.register_and_exec(source, name, namespace)
    wrapper = namespace[name]
    try:
        compile_function(wrapper, {k: type_of_value(_plain(v)) for k, v in values.items()})
    except UnsupportedSyntax as e:
        why = ("it keeps a tape for a loop (a Python list)" if any(op.name == "tape_new" for op in walk(
            plan.compiled.ir.body)) else e.reason)
        raise UnsupportedSyntax(f"the generated gradient of {inner._fn_name()} cannot be compiled again "
                                f"({why}); a gradient of a gradient is traced through it") from None
    return wrapper
