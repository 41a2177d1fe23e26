"""`grad`, `value_and_grad` and `dump`: the compiler's public face.

`grad(f)` returns a `GradFunction`. On each call it specialises on the
arguments' types and tries the source-transforming compiler; when the
compiler cannot transform `f` it falls back to tracing on the eager engine
(policy `fallback="auto" | "never" | "always"`) and `explain()` says why.
"""
from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

from . import tracing

__all__ = ["grad", "value_and_grad", "dump", "GradFunction", "FallbackWarning"]

_FALLBACKS = ("auto", "never", "always")


class FallbackWarning(UserWarning):
    """`grad` is tracing a function because the compiler could not transform it."""


def _compiler():
    """The compiler's entry point, or None when it is not available in this build."""
    try:
        from .compiler import gradient
    except ImportError:
        return None
    return gradient


def signature_key(value):
    """What a compiled gradient is specialised on: dtype and shape for arrays, kind for scalars."""
    from .tensor import Tensor
    if isinstance(value, Tensor):
        return ("tensor", value._data.dtype.str, value._data.shape)
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape)
    if isinstance(value, str):
        return ("str", value)  # compiled as a constant: each string its own specialisation
    if isinstance(value, (bool, np.bool_)):
        return ("bool",)
    if isinstance(value, (int, np.integer)):
        return ("int",)
    if isinstance(value, (float, np.floating)):
        return ("float",)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(signature_key(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, signature_key(value[k])) for k in sorted(value, key=repr))
    return ("object", type(value).__qualname__)


class GradFunction:
    """The gradient of a function; call it like the function.

    Attributes: `mode` ("compiled" or "traced", for the last call's signature),
    `explain()` (why), `source` (the generated adjoint, compiled mode)."""

    def __init__(self, fn, wrt=0, *, fallback="auto", has_aux=False, return_value=False):
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be one of {_FALLBACKS}, not {fallback!r}")
        if not callable(fn):
            raise TypeError(f"grad expects a function, got {type(fn).__name__}")
        self.fn = fn
        self.fallback = fallback
        self.has_aux = has_aux
        self.return_value = return_value
        self._sig = inspect.signature(fn)
        self._params = [p for p in self._sig.parameters.values()
                        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        self.wrt_names, self._tuple_out = self._resolve_wrt(wrt)
        self._cache = {}
        self._last = None
        self._warned = False
        functools.update_wrapper(self, fn, updated=())

    # ---- argument handling -------------------------------------------------
    def _resolve_wrt(self, wrt):
        names = [p.name for p in self._params]
        items = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
        out = []
        for w in items:
            if isinstance(w, bool) or not isinstance(w, (int, str)):
                raise TypeError(f"grad: wrt must be an argument position or name, got {w!r}")
            if isinstance(w, int):
                if not -len(names) <= w < len(names):
                    raise ValueError(f"grad: wrt={w} is out of range: {self._fn_name()} takes {len(names)} "
                                     f"argument(s) ({', '.join(names)})")
                out.append(names[w])
            else:
                if w not in names:
                    raise ValueError(f"grad: {self._fn_name()} has no argument named {w!r} "
                                     f"(arguments: {', '.join(names)})")
                out.append(w)
        return tuple(out), isinstance(wrt, (tuple, list))

    def _fn_name(self):
        if isinstance(self.fn, GradFunction):
            return f"grad({self.fn._fn_name()})"
        return getattr(self.fn, "__name__", "the function")

    def _bind(self, args, kwargs):
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self._fn_name()}(): {e}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    # ---- the two paths -------------------------------------------------------
    def _plan(self, values):
        """The compiled gradient for these argument types, or the reason there is none."""
        key = tuple((n, signature_key(v)) for n, v in values.items())
        plan = self._cache.get(key)
        if plan is None or (plan.compiled is not None and not plan.compiled.forward_ir.guards_hold()):
            plan = self._make_plan(values)  # new types, or a global compiled in as a constant was rebound
            self._cache[key] = plan
        self._last = plan
        return plan

    def _make_plan(self, values):
        if self.fallback == "always":
            return _Plan(None, "fallback='always' was requested")
        gradient = _compiler()
        if gradient is None:
            reason = "the source-transforming compiler is not available in this build"
            if self.fallback == "never":
                raise RuntimeError(f"grad(fallback='never'): {reason}")
            return _Plan(None, reason)
        try:
            compiled = gradient.compile_value_and_grad(self.fn, values, self.wrt_names, has_aux=self.has_aux,
                                                       with_value=self.return_value)
        except gradient.UnsupportedSyntax as e:
            if self.fallback == "never":
                raise
            return _Plan(None, str(e), error=e)
        except TypeError:
            raise  # the user's mistake (non-float wrt, non-scalar output): same answer when traced
        except Exception as e:  # a compiler defect: the tracer still gives the right answer
            if self.fallback == "never":
                raise
            reason = (f"the compiler failed internally ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                      f"please report this with the function's source")
            return _Plan(None, reason, error=e)
        return _Plan(compiled, None)

    def __call__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        plan = self._plan(values)
        if plan.compiled is not None:
            value, grads, aux = plan.compiled.run(values)
        else:
            if self.fallback == "auto" and not self._warned and plan.error is not None and \
                    not isinstance(self.fn, GradFunction):  # grad of grad is meant to trace
                self._warned = True
                warnings.warn(f"adcompiler.grad: tracing {self._fn_name()} instead of compiling it: {plan.reason}",
                              FallbackWarning, stacklevel=2)
            value, grads, aux = tracing.trace_value_and_grad(self.fn, values, self.wrt_names, self.has_aux,
                                                             self._fn_name())
        g = tuple(grads[n] for n in self.wrt_names) if self._tuple_out else grads[self.wrt_names[0]]
        if self.return_value:
            return ((value, aux), g) if self.has_aux else (value, g)
        return (g, aux) if self.has_aux else g

    # ---- inspection ----------------------------------------------------------
    @property
    def mode(self):
        """"compiled" or "traced" for the most recent call ("unknown" before the first call)."""
        if self._last is None:
            return "unknown"
        return "compiled" if self._last.compiled is not None else "traced"

    def explain(self):
        """Why the last call was compiled or traced."""
        if self._last is None:
            return f"{self._fn_name()}: not called yet; the compiler specialises on the first call's argument types"
        if self._last.compiled is not None:
            return f"{self._fn_name()}: compiled (reverse-mode source transformation)"
        return f"{self._fn_name()}: traced on the eager engine, because {self._last.reason}"

    @property
    def source(self):
        """The generated adjoint source of the last call (None when traced or not yet called)."""
        if self._last is None or self._last.compiled is None:
            return None
        return self._last.compiled.source

    def __repr__(self):
        return f"<adcompiler.grad of {self._fn_name()} wrt={self.wrt_names} mode={self.mode}>"


class _Plan:
    __slots__ = ("compiled", "reason", "error")

    def __init__(self, compiled, reason, error=None):
        self.compiled = compiled
        self.reason = reason
        self.error = error


def grad(fn=None, wrt=0, *, fallback="auto", has_aux=False):
    """The gradient of scalar function `fn` w.r.t. argument(s) `wrt` (position, name or tuple).

    Usable as `grad(f)`, `grad(f, wrt=1)`, `@grad` and `@grad(wrt=("w", "b"))`."""
    if fn is None:
        return lambda f: GradFunction(f, wrt, fallback=fallback, has_aux=has_aux)
    if isinstance(fn, (int, str, tuple, list)) and not callable(fn):
        raise TypeError("grad: pass the function first, or use grad(wrt=...) as a decorator")
    return GradFunction(fn, wrt, fallback=fallback, has_aux=has_aux)


def value_and_grad(fn=None, wrt=0, *, fallback="auto", has_aux=False):
    """Like `grad`, but the call returns (value, gradient)."""
    if fn is None:
        return lambda f: GradFunction(f, wrt, fallback=fallback, has_aux=has_aux, return_value=True)
    return GradFunction(fn, wrt, fallback=fallback, has_aux=has_aux, return_value=True)


def dump(g, file=None):
    """Print what `g` runs: the generated adjoint source, or the reason it is traced."""
    if not isinstance(g, GradFunction):
        raise TypeError(f"dump expects the result of adcompiler.grad, got {type(g).__name__}")
    print(g.source if g.source is not None else g.explain(), file=file)
