"""`ad.jit(f)`: a plain function compiled for its argument types, without any derivative.

Each argument signature is compiled once (as `grad` does: the front end, the passes, guards on
what was compiled in) and runs on the native tier where the function lowers, else on the NumPy
tier's generated code. A function the compiler cannot handle runs as the Python it is —
with a one-time FallbackWarning saying why under fallback="auto", an error under "never".
"""
from __future__ import annotations

import collections
import functools
import inspect
import threading
import warnings

__all__ = ["jit", "JitFunction"]

_FALLBACKS = ("auto", "never")
_CACHE_SIZE = 32


class _Plan:
    __slots__ = ("compiled", "reason")

    def __init__(self, compiled, reason):
        self.compiled, self.reason = compiled, reason


class JitFunction:
    """A function compiled per argument signature; call it like the function.

    `tier` ("native", "numpy" or "python") says what ran last, `explain()` why, `source` the
    generated NumPy-tier code and `llvm_ir` the native kernel of the last signature."""

    def __init__(self, fn, *, fallback="auto", fastmath=False, threads=None):
        from .api import _check_python_function
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be one of {_FALLBACKS}, not {fallback!r}")
        if threads is not None and (type(threads) is not int or threads < 1):
            raise ValueError(f"threads must be a positive int or None, not {threads!r}")
        self.threads = threads
        if not callable(fn):
            raise TypeError(f"jit expects a function, got {type(fn).__name__}")
        _check_python_function(fn)
        self.fn, self.fallback, self.fastmath = fn, fallback, bool(fastmath)
        self._sig = inspect.signature(fn)
        self._cache = collections.OrderedDict()
        self._lock = threading.Lock()
        self._last = None
        self._warned = False
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args, **kwargs):
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.fn.__name__}(): {e}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        plan = self._plan(values)
        self._last = plan
        if plan.compiled is None:
            if self.fallback == "auto" and not self._warned:
                from .api import FallbackWarning
                self._warned = True
                warnings.warn(f"adcompiler.jit: running {self.fn.__name__} as Python instead of compiling it: "
                              f"{plan.reason}", FallbackWarning, stacklevel=2)
            return self.fn(*args, **kwargs)
        return plan.compiled.run(values)

    def _plan(self, values):
        from .api import signature_key
        key = tuple((n, signature_key(v)) for n, v in values.items())
        with self._lock:
            plan = self._cache.get(key)
        if plan is not None and (plan.compiled is None or plan.compiled.forward_ir.guards_hold()):
            return plan
        plan = self._make_plan(values, key)
        with self._lock:
            self._cache[key] = plan
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return plan

    def _make_plan(self, values, key):
        from .compiler.errors import UnsupportedSyntax
        from .specialize import CompiledForward
        kinds = inspect.Parameter
        reason = None
        if any(p.kind in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD) for p in self._sig.parameters.values()):
            reason = "*args/**kwargs parameters are not supported"
        elif any(sig[0] in ("tensor", "object", "dict") for _, sig in key):
            reason = "Tensor, dict and object arguments run as Python (the compiled code takes numbers and arrays)"
        if reason is None:
            try:
                return _Plan(CompiledForward(self.fn, values, jit="always", fastmath=self.fastmath,
                                             threads=self.threads), None)
            except UnsupportedSyntax as e:
                if self.fallback == "never":
                    raise
                reason = str(e)
        elif self.fallback == "never":
            raise UnsupportedSyntax(reason)
        return _Plan(None, reason)

    @property
    def tier(self):
        """"native", "numpy" or "python" for the last call (None before the first)."""
        if self._last is None:
            return None
        return "python" if self._last.compiled is None else self._last.compiled.tier

    def explain(self):
        if self._last is None:
            return f"{self.fn.__name__}: not called yet; jit specialises on the first call's argument types"
        c = self._last.compiled
        if c is None:
            return f"{self.fn.__name__}: runs as Python, because {self._last.reason}"
        if c.native is not None and c.native_note:
            return f"{self.fn.__name__}: compiled (native tier for the array regions: {c.native_note})"
        if c.native is not None:
            return f"{self.fn.__name__}: compiled (native tier: machine code through LLVM{c.threads_note})"
        return f"{self.fn.__name__}: compiled (NumPy tier; native refused: {c.native_reason})"

    @property
    def source(self):
        c = self._last.compiled if self._last is not None else None
        return None if c is None else c.source

    @property
    def llvm_ir(self):
        c = self._last.compiled if self._last is not None else None
        return None if c is None or c.native is None else c.native.llvm_ir


def jit(fn=None, *, fallback="auto", fastmath=False, threads=None):
    """Compile `fn` (no derivative) per argument signature, to native code where it lowers.
    Usable as `jit(f)`, `@jit` and `@jit(fastmath=True)`. `threads=2`: a purely elementwise function
    runs its kernel on blocks of rows in that many threads at once for arrays of 2**18 elements or
    more (backends/llvm/threads.py; results bitwise equal to one thread)."""
    if fn is None:
        return lambda f: JitFunction(f, fallback=fallback, fastmath=fastmath, threads=threads)
    return JitFunction(fn, fallback=fallback, fastmath=fastmath, threads=threads)
