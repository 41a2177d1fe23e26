"""`grad`, `value_and_grad` and `dump`: the compiler's public face.

`grad(f)` returns a `GradFunction`. On each call it specialises on the
arguments' types and tries the source-transforming compiler; when the
compiler cannot transform `f` it falls back to tracing on the eager engine
(policy `fallback="auto" | "never" | "always"`) and `explain()` says why.
"""
from __future__ import annotations

import collections
import functools
import inspect
import threading
import types
import warnings

import numpy as np

from . import tracing
from .numpy_interop import user_location
from .ops.dims import Unbacked
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "dump", "export", "GradFunction", "FallbackWarning", "SPECIALISATION_CACHE_SIZE"]

_FALLBACKS = ("auto", "never", "always")
_JITS = ("auto", "never", "always")


def _auto_calls():
    from .specialize import AUTO_CALLS
    return AUTO_CALLS

# How many argument signatures one GradFunction keeps compiled; the least recently used one is
# dropped beyond that (a function called with ever new shapes must not keep every specialisation).
SPECIALISATION_CACHE_SIZE = 32
SHAPE_GENERIC = True    # a second array shape of one dtype/rank pattern compiles a shape-generic specialisation


class FallbackWarning(UserWarning):
    """`grad` is tracing a function because the compiler could not transform it."""


def _compiler():
    """The compiler's entry point, or None when it is not available in this build."""
    try:
        from . import specialize as gradient
    except ImportError:
        return None
    return gradient


_FLOAT, _INT = ("float",), ("int",)


def signature_key(value):
    """What a compiled gradient is specialised on: dtype and shape for arrays, kind for scalars."""
    t = type(value)
    if t is float:
        return _FLOAT
    if t is int:
        return _INT
    if t is np.ndarray:
        return ("array", value.dtype.str, value.shape)
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


def _plain_value(v):
    return v._data if isinstance(v, Tensor) else v


def _is_array_value(v):
    return isinstance(v, (np.ndarray, Tensor))


def _pattern_key(value):
    """signature_key without the extents ≥ 2 of an array (which a shape-generic specialisation
    may keep symbolic); 0 and 1 stay, as they broadcast differently."""
    if _is_array_value(value):
        v = _plain_value(value)
        return ("array" if isinstance(value, np.ndarray) else "tensor", v.dtype.str,
                tuple(d if d < 2 else -1 for d in v.shape))
    return signature_key(value)


class GradFunction:
    """The gradient of a function; call it like the function.

    Attributes: `mode` ("compiled" or "traced", for the last call's signature),
    `explain()` (why), `source` (the generated adjoint, compiled mode)."""

    def __init__(self, fn, wrt=0, *, fallback="auto", has_aux=False, return_value=False, jit="auto",
                 fastmath=False):
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be one of {_FALLBACKS}, not {fallback!r}")
        if jit not in _JITS:
            raise ValueError(f"jit must be one of {_JITS}, not {jit!r}")
        self.jit = jit
        self.fastmath = bool(fastmath)
        if not callable(fn):
            raise TypeError(f"grad expects a function, got {type(fn).__name__}")
        _check_python_function(fn)
        self.fn = fn
        self.fallback = fallback
        self.has_aux = has_aux
        self.return_value = return_value
        self._sig = inspect.signature(fn)
        self._defaults = (getattr(fn, "__defaults__", None), getattr(fn, "__kwdefaults__", None))
        self._params = [p for p in self._sig.parameters.values()
                        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        kinds = inspect.Parameter
        self._positional = [p.name for p in self._params if p.kind is not kinds.KEYWORD_ONLY]
        self._var_positional = next((p.name for p in self._sig.parameters.values()
                                     if p.kind is kinds.VAR_POSITIONAL), None)
        self._var_keyword = next((p.name for p in self._sig.parameters.values()
                                  if p.kind is kinds.VAR_KEYWORD), None)
        self._wrt, self._tuple_out = self._resolve_wrt(wrt)
        self._static_paths = tuple(w[1] for w in self._wrt) if all(w[0] == "name" for w in self._wrt) else None
        self.wrt_names = tuple(self._label(w) for w in self._wrt)
        self._cache = collections.OrderedDict()   # signature -> _Plan, least recently used first
        self._generic = {}      # dtype/rank pattern -> first shapes seen, a shape-generic _Plan, or False
        self._generic_hits = {}  # signature -> calls the shape-generic specialisation served
        self._cache_lock = threading.Lock()
        self._compiles = 0      # specialisations compiled
        self._recompiles = 0    # ... of them because a guard (a global compiled in as a constant) changed
        self._evictions = 0     # specialisations dropped from the full cache
        self._last = None
        self._warned = False
        functools.update_wrapper(self, fn, updated=())

    # ---- argument handling -------------------------------------------------
    def _resolve_wrt(self, wrt):
        """What to differentiate with respect to, as ("name", parameter) or, resolved at each call,
        ("pos", i) for a position in *args and ("kw", key) for a key of **kwargs.

        Positions index the positional arguments of the call, as JAX's argnums: the named positional
        parameters first, then what *args collects."""
        names = [p.name for p in self._params]
        positional = self._positional
        items = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
        out = []
        for w in items:
            if isinstance(w, bool) or not isinstance(w, (int, str)):
                raise TypeError(f"grad: wrt must be an argument position or name, got {w!r}")
            if isinstance(w, int):
                if 0 <= w < len(positional) or (self._var_positional is None and -len(positional) <= w < 0):
                    out.append(("name", positional[w]))
                elif self._var_positional is not None:
                    out.append(("pos", w))   # which argument this is depends on the call
                else:
                    kw_only = [n for n in names if n not in positional]
                    hint = (f"; keyword-only argument(s) ({', '.join(kw_only)}) are chosen by name, "
                            f"e.g. wrt={kw_only[0]!r}") if kw_only else ""
                    raise ValueError(f"grad: wrt={w} is out of range: {self._fn_name()} takes {len(positional)} "
                                     f"positional argument(s) ({', '.join(positional)}){hint}")
            elif w in names or w in (self._var_positional, self._var_keyword):
                out.append(("name", w))
            elif self._var_keyword is not None:
                out.append(("kw", w))   # an argument **kwargs collects
            else:
                raise ValueError(f"grad: {self._fn_name()} has no argument named {w!r} "
                                 f"(arguments: {', '.join(names)})")
        whole = {w[1] for w in out if w[0] == "name"}
        for kind, w in out:
            part_of = self._var_positional if kind == "pos" else self._var_keyword if kind == "kw" else None
            if part_of in whole:
                raise ValueError(f"grad: wrt names {part_of!r} and also one of its elements ({w!r}); "
                                 f"choose one of them")
        return tuple(out), isinstance(wrt, (tuple, list))

    def _label(self, w):
        kind, v = w
        if kind == "name":
            return v
        if kind == "kw":
            return f"{self._var_keyword}[{v!r}]"
        if v >= 0:
            return f"{self._var_positional}[{v - len(self._positional)}]"
        return f"positional argument {v}"

    def _wrt_paths(self, values):
        """Where the differentiated arguments are in this call's `values`: a parameter name, or
        (name of *args, index) / (name of **kwargs, key)."""
        if self._static_paths is not None:
            return self._static_paths
        paths = []
        for kind, w in self._wrt:
            if kind == "name":
                paths.append(w)
            elif kind == "pos":
                rest = values.get(self._var_positional, ())
                n = len(self._positional) + len(rest)
                i = w + n if w < 0 else w
                if not 0 <= i < n:
                    raise ValueError(f"grad: wrt={w} is out of range: {self._fn_name()} was called with {n} "
                                     f"positional argument(s)")
                k = len(self._positional)
                paths.append(self._positional[i] if i < k else (self._var_positional, i - k))
            else:
                if w not in values.get(self._var_keyword, {}):
                    raise TypeError(f"grad: wrt={w!r}, but {self._fn_name()} was called without a keyword "
                                    f"argument {w!r}")
                paths.append((self._var_keyword, w))
        return tuple(paths)

    def _fn_name(self):
        if isinstance(self.fn, GradFunction):
            return f"grad({self.fn._fn_name()})"
        return getattr(self.fn, "__name__", "the function")

    def _bind(self, args, kwargs):
        """The call as a parameter name -> value dict (defaults applied; *args a tuple, **kwargs a dict),
        which is what the compiler specialises on; `tracing` rebuilds the call from it exactly."""
        defaults = (getattr(self.fn, "__defaults__", None), getattr(self.fn, "__kwdefaults__", None))
        if defaults[0] is not self._defaults[0] or defaults[1] is not self._defaults[1]:
            self._sig, self._defaults = inspect.signature(self.fn), defaults   # f.__defaults__ = (...) later
        if not kwargs and len(args) == len(self._params) == len(self._positional) and \
                self._var_positional is None and self._var_keyword is None:
            return dict(zip(self._positional, args))     # every parameter given by position: no binding
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self._fn_name()}(): {e}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    # ---- the two paths -------------------------------------------------------
    def _plan(self, values, paths=None):
        """The compiled gradient for these argument types, or the reason there is none."""
        if paths is None:
            paths = self._wrt_paths(values)
        key = (paths, tuple((n, signature_key(v)) for n, v in values.items()))
        with self._cache_lock:
            plan = self._cache.get(key)
            if plan is not None:
                self._cache.move_to_end(key)
        stale = plan is not None and (
            plan.compiled is not None and not plan.compiled.forward_ir.guards_hold())
        # one shape the shape-generic specialisation serves often: its own, which the native tier can take
        hot = plan is not None and not stale and plan.compiled is not None and \
            plan.compiled.shape_env is not None and self._hot_shape(key)
        if plan is None or stale or hot:
            plan = None if stale or hot else self._shape_generic_plan(values, paths)
            compiled_now = plan is None
            if compiled_now:
                plan = self._make_plan(values, paths)  # new types, or a global compiled in as a constant was rebound
            with self._cache_lock:
                if compiled_now and plan.compiled is not None:
                    self._compiles += 1
                    self._recompiles += bool(stale)
                self._cache[key] = plan
                self._cache.move_to_end(key)
                while len(self._cache) > SPECIALISATION_CACHE_SIZE:
                    self._cache.popitem(last=False)
                    self._evictions += 1
        self._last = plan
        return plan

    def _hot_shape(self, key):
        """Whether the shape-generic specialisation has served this exact signature more than
        _auto_calls() times (with jit="auto": then it gets its own, which may go native)."""
        if self.jit != "auto":
            return False
        with self._cache_lock:
            n = self._generic_hits[key] = self._generic_hits.get(key, 0) + 1
            if len(self._generic_hits) > 4 * SPECIALISATION_CACHE_SIZE:
                self._generic_hits.clear()
        return n > _auto_calls()

    def _shape_generic_plan(self, values, paths):
        """On a new shape: a shape-generic specialisation whose guards this call satisfies, or — on
        the second shape of one dtype/rank pattern — a new one, symbolic in the extents that changed
        (specialize.compile_shape_generic). None: compile for this shape as usual."""
        shapes = {n: np.shape(_plain_value(v)) for n, v in values.items() if _is_array_value(v)}
        if not SHAPE_GENERIC or not shapes or self.fallback == "always" or self.jit == "always" or \
                isinstance(self.fn, GradFunction):
            return None
        pattern = (paths, tuple((n, _pattern_key(v)) for n, v in values.items()))
        with self._cache_lock:
            entry = self._generic.get(pattern)
        if entry is None:     # the first shape of this pattern: specialise on it
            with self._cache_lock:
                self._generic[pattern] = shapes
            return None
        if entry is False:
            return None
        if isinstance(entry, _Plan):
            env = entry.compiled.shape_env
            return entry if env.holds(shapes) and entry.compiled.forward_ir.guards_hold() else None
        dynamic = [(n, a) for n, s in shapes.items() for a, d in enumerate(s) if d != entry[n][a]]
        gradient = _compiler()
        try:
            compiled = gradient.compile_shape_generic(self.fn, values, paths, dynamic, has_aux=self.has_aux,
                                                      with_value=self.return_value, fastmath=self.fastmath,
                                                      previous=entry)
            generic = not compiled.shape_env.pinned() >= set(compiled.shape_env.symbols)
        except Exception:          # not generic here: this shape gets its own specialisation
            generic = False
        with self._cache_lock:
            self._generic[pattern] = _Plan(compiled, None) if generic else False
            if generic:
                self._compiles += 1
        return self._generic[pattern] or None

    def _make_plan(self, values, paths):
        if self.fallback == "always":
            return _Plan(None, "fallback='always' was requested")
        gradient = _compiler()
        if gradient is None:
            reason = "the source-transforming compiler is not available in this build"
            if self.fallback == "never":
                raise RuntimeError(f"grad(fallback='never'): {reason}")
            return _Plan(None, reason)
        if any(not isinstance(p, str) for p in paths):
            e = gradient.UnsupportedSyntax(
                f"*args/**kwargs parameters are not supported "
                f"({', '.join(repr(p[0]) for p in dict.fromkeys(p for p in paths if not isinstance(p, str)))})",
                *_definition(self.fn))
            if self.fallback == "never":
                raise e
            return _Plan(None, str(e), error=e)
        try:
            compiled = gradient.compile_value_and_grad(self.fn, values, paths, has_aux=self.has_aux,
                                                       with_value=self.return_value, jit=self.jit,
                                                       fastmath=self.fastmath)
        except (gradient.UnsupportedSyntax, Unbacked) as e:   # Unbacked: a step needs a list's run-time length
            if isinstance(e, Unbacked):
                e = gradient.UnsupportedSyntax(f"{e} (in the gradient's code)", *_definition(self.fn))
            if self.fallback == "never":
                raise e from None
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
        paths = self._wrt_paths(values)
        plan = self._plan(values, paths)
        if plan.compiled is not None:
            value, grads, aux = plan.compiled.run(values)
        else:
            if self.fallback == "auto" and not self._warned and plan.error is not None and \
                    not isinstance(self.fn, GradFunction):  # grad of grad is meant to trace
                self._warned = True
                warnings.warn(f"adcompiler.grad: tracing {self._fn_name()} instead of compiling it: {plan.reason}",
                              FallbackWarning, stacklevel=2)
            value, grads, aux = tracing.trace_value_and_grad(self.fn, values, paths, self.has_aux,
                                                             self._fn_name(), signature=self._sig)
        g = tuple(grads[p] for p in paths) if self._tuple_out else grads[paths[0]]
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
        """Why the last call was compiled or traced, and how often this gradient was (re)compiled."""
        if self._last is None:
            return f"{self._fn_name()}: not called yet; the compiler specialises on the first call's argument types"
        if self._last.compiled is not None:
            return (f"{self._fn_name()}: compiled ({self._last.compiled.how}; {self._tier_story()})"
                    f"{self._cache_story()}")
        return f"{self._fn_name()}: traced on the eager engine, because {self._last.reason}{self._cache_story()}"

    def _tier_story(self):
        c = self._last.compiled
        if c.native is not None and c.tier == "native" and c.native_note:
            return f"native tier for the array regions: {c.native_note}"
        if c.native is not None and c.tier == "native":
            return "native tier: machine code through LLVM"
        if c.native is not None:
            return "NumPy tier for this call: the native code reported an error Python raises, so it re-ran here"
        if c.shape_env is not None and self.jit == "auto":
            return (f"NumPy tier; a shape this specialisation serves more than {_auto_calls()} times gets its "
                    f"own, which the native tier can take")
        if c.native_reason is not None:
            return f"NumPy tier; native refused: {c.native_reason}"
        if self.jit == "never":
            return "NumPy tier; jit='never'"
        return f"NumPy tier; the native tier is tried after {_auto_calls()} calls or one slow call"

    @property
    def tier(self):
        """"native" or "numpy" for the last compiled call (None when traced or not called)."""
        if self._last is None or self._last.compiled is None:
            return None
        return self._last.compiled.tier

    @property
    def llvm_ir(self):
        """The native tier's LLVM IR of the last call's specialisation (compiling it if needed;
        None when traced, not called, or not lowerable — explain() says why)."""
        if self._last is None or self._last.compiled is None:
            return None
        native = self._last.compiled.try_native()
        return None if native is None else native.llvm_ir

    def _cache_story(self):
        """' (3 specialisations compiled, 1 recompile after a guard changed, ...)', or '' when there is
        nothing to tell (one specialisation, never dropped)."""
        parts = []
        if self._compiles > 1 or self._recompiles:
            parts.append(f"{self._compiles} specialisation{'s' if self._compiles != 1 else ''} compiled")
        if self._recompiles:
            parts.append(f"{self._recompiles} recompile{'s' if self._recompiles != 1 else ''} after a guard "
                         f"changed (a global or closure value the compiled code depends on changed)")
        if self._evictions:
            parts.append(f"{self._evictions} least recently used specialisation"
                         f"{'s' if self._evictions != 1 else ''} dropped (the cache keeps "
                         f"{SPECIALISATION_CACHE_SIZE}; each new argument shape or dtype is a new one)")
        return f" ({', '.join(parts)})" if parts else ""

    @property
    def source(self):
        """The generated adjoint source of the last call (None when traced or not yet called)."""
        if self._last is None or self._last.compiled is None:
            return None
        return self._last.compiled.source

    def __repr__(self):
        return f"<adcompiler.grad of {self._fn_name()} wrt={self.wrt_names} mode={self.mode}>"


def _definition(fn):
    """(file, line) where `fn` is defined, or (None, None)."""
    code = getattr(inspect.unwrap(fn) if not isinstance(fn, functools.partial) else fn.func, "__code__", None)
    if code is None:
        return None, None
    return code.co_filename, code.co_firstlineno


def _is_python_callable(fn):
    if isinstance(fn, (types.FunctionType, GradFunction)):
        return True
    if isinstance(fn, types.MethodType):
        return _is_python_callable(fn.__func__)
    if isinstance(fn, functools.partial):
        return _is_python_callable(fn.func)
    if isinstance(fn, type):
        return False
    return isinstance(getattr(type(fn), "__call__", None), types.FunctionType)  # an object with a Python __call__


def _check_python_function(fn):
    """grad reads (or traces) Python code: a NumPy ufunc, a built-in or another C function has none."""
    if _is_python_callable(fn):
        return
    name = getattr(fn, "__name__", None) or type(fn).__name__
    module = getattr(fn, "__module__", None) or ""
    if isinstance(fn, np.ufunc) or module == "numpy" or module.startswith("numpy."):
        what, shown = "a NumPy function", f"np.{name}"
    elif isinstance(fn, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        what, shown = "a built-in function", f"{module}.{name}" if module and module != "builtins" else name
    elif isinstance(fn, type):
        what, shown = "a class", name
    else:
        what, shown = f"a {type(fn).__name__} object", name
    raise TypeError(f"grad: {shown} is {what}, not a Python function, so grad has no Python code to differentiate "
                    f"({user_location()}). Wrap it in a def: `def f(x): return {shown}(x)` and use grad(f)")


class _Plan:
    __slots__ = ("compiled", "reason", "error")

    def __init__(self, compiled, reason, error=None):
        self.compiled = compiled
        self.reason = reason
        self.error = error


def grad(fn=None, wrt=0, *, fallback="auto", has_aux=False, jit="auto", fastmath=False):
    """The gradient of scalar function `fn` w.r.t. argument(s) `wrt` (position, name or tuple).

    Usable as `grad(f)`, `grad(f, wrt=1)`, `@grad` and `@grad(wrt=("w", "b"))`. `jit` picks the
    tier a compiled gradient runs on: "auto" (native machine code after a few calls, where it
    lowers), "always" (native from the first call) or "never" (the generated NumPy code).
    `fastmath=True` lets the native tier reassociate floating-point sums and products and fuse
    multiply-adds (results then differ from the NumPy tier in the last bits; nan and inf checks stay)."""
    opts = dict(fallback=fallback, has_aux=has_aux, jit=jit, fastmath=fastmath)
    if fn is None:
        return lambda f: GradFunction(f, wrt, **opts)
    if isinstance(fn, (int, str, tuple, list)) and not callable(fn):
        raise TypeError("grad: pass the function first, or use grad(wrt=...) as a decorator")
    return GradFunction(fn, wrt, **opts)


def value_and_grad(fn=None, wrt=0, *, fallback="auto", has_aux=False, jit="auto", fastmath=False):
    """Like `grad`, but the call returns (value, gradient)."""
    opts = dict(fallback=fallback, has_aux=has_aux, return_value=True, jit=jit, fastmath=fastmath)
    if fn is None:
        return lambda f: GradFunction(f, wrt, **opts)
    return GradFunction(fn, wrt, **opts)


def dump(g, file=None):
    """Print what `g` runs: the generated adjoint source, or the reason it is traced."""
    if not isinstance(g, GradFunction):
        raise TypeError(f"dump expects the result of adcompiler.grad, got {type(g).__name__}")
    print(g.source if g.source is not None else g.explain(), file=file)


def export(g, path):
    """Write the generated adjoint of `g`'s last call as a standalone Python module at `path`, one
    that runs with NumPy alone: NumPy and math calls, helpers copied from the primitive table for
    what NumPy has no single function for, constants defined exactly at the top. Its function has
    the generated adjoint's signature (hidden inputs, the globals it reads on each call, become
    trailing parameters; the module's docstring lists them). Returns `path`."""
    if not isinstance(g, GradFunction):
        raise TypeError(f"export expects the result of adcompiler.grad, got {type(g).__name__}")
    if g._last is None:
        raise ValueError(f"export: {g._fn_name()} has not been called yet; a gradient is compiled for the "
                         f"argument types of a call, so call it once with arguments like the ones you will use")
    if g._last.compiled is None:
        raise ValueError(f"export: {g._fn_name()} is traced, not compiled, so there is no generated source to "
                         f"export (the tracer records the operations anew on each call); it is traced because "
                         f"{g._last.reason}")
    from .backends.export import gradient_module
    c = g._last.compiled
    text = gradient_module(c.fn, c.forward_ir, c.ir, c.wrt_names, with_value=c.with_value, has_aux=c.has_aux)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
