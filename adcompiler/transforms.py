"""The functional transforms: jvp, vjp, jacfwd, jacrev, jacobian, hessian, hvp (JAX's API).

Each is compiled per argument signature where the compiler can: `jvp` by the
forward-mode transform of the IR (compiler/forward.py), `vjp` by the reverse
transform of <f(x), ct>, `hvp` and `hessian` forward over reverse (through the
adjoint's tapes, so loops stay compiled). Jacobians and Hessians run as one
sweep with a batched tangent (cotangent) where the IR batches
(compiler/batching.py), else one sweep per basis vector; `vectorize=False` asks
for the latter (less memory). `explain()` says which path ran and why. What the
compiler cannot handle runs on the eager engine with the same table of
derivative rules (torch.autograd.functional's double-vjp trick for jvp), with a
FallbackWarning under fallback="auto".

Arguments are positional; `argnums` (an int or a tuple of ints) picks the ones
to differentiate, as in JAX. Results are NumPy arrays or floats shaped as JAX's:
a Jacobian has shape out.shape + x.shape, a Hessian x.shape + x.shape.
"""
from __future__ import annotations

import collections
import threading
import warnings
import weakref

import numpy as np

from .ops import stop_gradient
from .ops.dims import Unbacked

__all__ = ["hessian", "hvp", "jacfwd", "jacobian", "jacrev", "jvp", "stop_gradient", "vjp"]

_FALLBACKS = ("auto", "never", "always")
_CACHE_SIZE = 32
_plans = weakref.WeakKeyDictionary()      # function -> {(kind, wrt, signature): _Plan}
_lock = threading.Lock()


class _Plan:
    __slots__ = ("compiled", "error", "reason", "unbatchable")

    def __init__(self, compiled, reason=None, error=None, unbatchable=False):
        self.compiled, self.reason, self.error, self.unbatchable = compiled, reason, error, unbatchable


def _fn_name(fn):
    return getattr(fn, "__name__", "the function")


def _check(fn, fallback):
    if fallback not in _FALLBACKS:
        raise ValueError(f"fallback must be one of {_FALLBACKS}, not {fallback!r}")
    if not callable(fn):
        raise TypeError(f"expected a function, got {type(fn).__name__}")


def _params(fn, n):
    """The names of fn's first `n` positional parameters (the compiler specialises by name)."""
    import inspect
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    ps = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(ps) != len(sig.parameters) or len(ps) != n:
        return None
    return [p.name for p in ps]


def _plan(fn, kind, argnums, args, fallback, size=None):
    """The compiled IR of transform `kind` of `fn` for these arguments (on its tiers), or the reason
    there is none. With `size`, the tangent (cotangent) has a leading batch axis of that size."""
    from .api import signature_key
    names = _params(fn, len(args))
    key = (kind, argnums, size, fallback, tuple(signature_key(a) for a in args))   # "never" must not reuse a fallback
    try:
        with _lock:
            cache = _plans.setdefault(fn, collections.OrderedDict())
    except TypeError:
        cache = collections.OrderedDict()
    plan = cache.get(key)
    if plan is not None and (plan.compiled is None or plan.compiled.forward_ir.guards_hold()):
        return plan
    plan = _make_plan(fn, kind, argnums, args, names, fallback, size)
    with _lock:
        cache[key] = plan
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return plan


def _make_plan(fn, kind, argnums, args, names, fallback, size):
    if fallback == "always":
        return _Plan(None, "fallback='always' was requested")
    from .compiler.errors import UnsupportedSyntax
    reason = None
    if names is None:
        reason = "the compiled transforms take functions of positional parameters only"
    elif any(not isinstance(a, (float, int, np.ndarray, np.floating, np.integer)) or isinstance(a, bool)
             for a in args):
        reason = "the compiled transforms take numbers and NumPy arrays"
    if reason is not None:
        if fallback == "never":
            raise UnsupportedSyntax(reason)
        return _Plan(None, reason)
    from .compiler import transforms as ct
    from .compiler.types import type_of_value
    from .specialize import CompiledTransform
    types = {n: type_of_value(a) for n, a in zip(names, args)}
    wrt = [names[i] for i in argnums]
    try:
        if kind == "jvp":
            irs, how = ct.jvp_ir(fn, types, wrt), "forward mode"
        elif kind == "vjp":
            irs, how = ct.vjp_ir(fn, types, wrt), "reverse mode"
        else:
            irs, how = ct.hvp_ir(fn, types, wrt[0]), "forward over reverse"
        if size is not None:
            from .compiler.batching import Unbatchable
            try:
                irs = ct.batched(irs, size)
            except Unbatchable as e:
                return _Plan(None, f"one sweep per basis vector: the batched sweep has {e}", unbatchable=True)
            how += f", one batched sweep of {size}"
        return _Plan(CompiledTransform(*irs, how))
    except (UnsupportedSyntax, Unbacked) as e:   # Unbacked: a step needs a list's run-time length
        if isinstance(e, Unbacked):
            code = getattr(fn, "__code__", None)
            e = UnsupportedSyntax(f"{e} (in the transform's code)", *((code.co_filename, code.co_firstlineno)
                                                                     if code is not None else ()))
        if fallback == "never":
            raise e from None
        return _Plan(None, str(e), e)
    except TypeError:
        raise
    except Exception as e:   # a compiler defect: the eager engine still gives the right answer
        if fallback == "never":
            raise
        first = str(e).splitlines()[0] if str(e) else ""
        return _Plan(None, f"the compiler failed internally ({type(e).__name__}: {first}); please report this "
                           f"with the function's source", e)


class _Runner:
    """Runs one transform of `fn`, compiled or eager, and remembers what ran for explain()."""

    def __init__(self, fn, fallback, what):
        _check(fn, fallback)
        self.fn, self.fallback, self.what = fn, fallback, what
        self.last = None
        self.warned = False
        self.sweeps = 0
        self.batch_note = None    # why the last Jacobian took one sweep per basis vector
        self.vectorize = True     # Jacobians in one batched sweep where the IR batches
        self.plain = None         # ad.jit(fn), for the plain value where a transform needs it

    def plan(self, kind, argnums, args):
        plan = _plan(self.fn, kind, argnums, args, self.fallback)
        self.last = plan
        if plan.compiled is None and self.fallback == "auto" and plan.error is not None and not self.warned:
            from .api import FallbackWarning
            self.warned = True
            warnings.warn(f"adcompiler.{self.what}: running {_fn_name(self.fn)} on the eager engine instead of "
                          f"compiling it: {plan.reason}", FallbackWarning, stacklevel=4)
        return plan

    # -- the three compiled kernels ------------------------------------------------
    def jvp(self, args, argnums, tangents):
        plan = self.plan("jvp", argnums, args)
        if plan.compiled is not None:
            out, dot = plan.compiled.run(list(args) + [np.asarray(t, dtype=_dtype(args[i])) if _is_array(args[i])
                                                       else float(t) for i, t in zip(argnums, tangents)])
            return out, dot
        from . import eager_transforms
        return eager_transforms.jvp(self.fn, args, argnums, tangents)

    def vjp_call(self, args, argnums, ct):
        plan = self.plan("vjp", argnums, args)
        if plan.compiled is not None:
            return plan.compiled.run(list(args) + [ct])
        from . import eager_transforms
        return eager_transforms.vjp(self.fn, args, argnums, ct)

    def hvp(self, args, argnum, v):
        plan = self.plan("hvp", (argnum,), args)
        if plan.compiled is not None:
            _, hv = plan.compiled.run(list(args) + [v])
            return hv
        from . import eager_transforms
        return eager_transforms.hvp(self.fn, args, argnum, v)

    def batched(self, kind, args, argnums, basis):
        """The transform on a stack of tangents (cotangents) `basis` in one sweep: (out, results
        with a leading axis), or None when the IR does not batch (or is not compiled)."""
        if self.fallback == "always" or len(basis) < 2 or not self.vectorize:
            return None
        plan = _plan(self.fn, kind, argnums, args, self.fallback, size=len(basis))
        if plan.compiled is None:
            if plan.unbatchable:
                self.batch_note = plan.reason
            return None
        self.last = plan
        self.batch_note = None
        return plan.compiled.run(list(args) + [basis])

    def explain(self):
        if self.last is None:
            return f"{self.what}({_fn_name(self.fn)}): not called yet; it specialises on the first call's arguments"
        c = self.last.compiled
        sweeps = f"; {self.sweeps} sweeps (one per basis vector) on the last call" if self.sweeps else ""
        if self.sweeps and self.batch_note:
            sweeps += f" ({self.batch_note})"
        if c is None:
            return f"{self.what}({_fn_name(self.fn)}): eager engine, because {self.last.reason}{sweeps}"
        tier = "native tier" if c.native is not None else "NumPy tier"
        return f"{self.what}({_fn_name(self.fn)}): compiled ({c.how}, {tier}){sweeps}"

    @property
    def mode(self):
        if self.last is None:
            return None
        return "compiled" if self.last.compiled is not None else "eager"

    @property
    def source(self):
        c = self.last.compiled if self.last is not None else None
        return None if c is None else c.source


def _is_array(x):
    return isinstance(x, np.ndarray)


def _dtype(x):
    return x.dtype if isinstance(x, np.ndarray) else np.float64


def _argnums(argnums, n):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -n <= i < n:
            raise ValueError(f"argnums {argnums!r} out of range for {n} positional arguments")
    return single, tuple(i % n for i in nums)


def _is_float(a):
    return isinstance(a, (float, np.floating)) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _check_float(args, nums, what):
    for i in nums:
        a = args[i]
        if not _is_float(a):
            raise TypeError(f"{what}: argument {i} is {type(a).__name__}"
                            f"{' of dtype ' + str(a.dtype) if isinstance(a, np.ndarray) else ''}; derivatives "
                            f"are taken w.r.t. float numbers and float arrays")


# ---- jvp and vjp --------------------------------------------------------------------

def jvp(fn, primals, tangents, *, fallback="auto"):
    """(fn(*primals), J·tangents): the Jacobian-vector product (jax.jvp).

    `primals` and `tangents` are tuples of the same length; a tangent has its primal's shape
    (a float for a float), and the output tangent the output's type. Computed in one forward-mode
    sweep."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    nums = tuple(i for i, p in enumerate(primals) if _is_float(p))
    for i, (p, t) in enumerate(zip(primals, tangents)):
        if i not in nums and t is not None:
            raise TypeError(f"jvp: argument {i} is {type(p).__name__}"
                            f"{' of dtype ' + str(p.dtype) if isinstance(p, np.ndarray) else ''}; tangents are "
                            f"taken w.r.t. float numbers and float arrays (give None as its tangent)")
    for i in nums:
        if np.shape(tangents[i]) != np.shape(primals[i]):
            raise ValueError(f"jvp: tangent {i} has shape {np.shape(tangents[i])}, its primal "
                             f"{np.shape(primals[i])}")
    r = _Runner(fn, fallback, "jvp")
    out, dot = r.jvp(primals, nums, [tangents[i] for i in nums])
    return out, _like_output(dot, out)


def _like_output(dot, out):
    """The tangent with the type of a scalar output (np.sin(a) is a NumPy float; both paths computed its
    tangent as a 0-d array)."""
    if isinstance(dot, np.ndarray) and dot.shape == () and not isinstance(out, np.ndarray):
        if isinstance(out, np.floating):
            return out.dtype.type(dot)
        if isinstance(out, float):
            return float(dot)
    return dot


def vjp(fn, *primals, fallback="auto"):
    """(fn(*primals), vjp_fn) with vjp_fn(ct) -> the cotangents of the primals, a tuple
    (jax.vjp); `ct` has the output's shape."""
    _check_float(primals, range(len(primals)), "vjp")
    r = _Runner(fn, fallback, "vjp")
    nums = tuple(range(len(primals)))
    out = _call_plain(r, primals)

    def vjp_fn(ct):
        if np.shape(ct) != np.shape(out):
            raise ValueError(f"vjp: the cotangent has shape {np.shape(ct)}, the output {np.shape(out)}")
        ct = np.asarray(ct, dtype=np.asarray(out).dtype) if isinstance(out, np.ndarray) else float(ct)
        return tuple(r.vjp_call(primals, nums, ct))
    vjp_fn.explain = r.explain
    return out, vjp_fn


def _call_plain(r, args):
    """r.fn(*args), compiled when it compiles (ad.jit, made once per runner), else as Python."""
    from .jitted import JitFunction
    if r.plain is None:
        r.plain = JitFunction(r.fn, fallback="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return r.plain(*args)


# ---- Jacobians and Hessians ------------------------------------------------------------

class Transformed:
    """A derivative function made by jacfwd, jacrev, jacobian, hessian or hvp; call it like
    `fn`. `explain()` says whether it ran compiled and how many sweeps it took, `mode` is
    "compiled" or "eager" (the last call), `source` the generated code of the last call."""

    def __init__(self, fn, argnums, fallback, what, impl, vectorize=True):
        self._r = _Runner(fn, fallback, what)
        self._r.vectorize = bool(vectorize)
        self.argnums = argnums
        self._impl = impl
        self.__name__ = f"{what}({_fn_name(fn)})"
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args):
        return self._impl(self._r, self.argnums, args)

    def explain(self):
        return self._r.explain()

    @property
    def mode(self):
        return self._r.mode

    @property
    def source(self):
        return self._r.source

    def __repr__(self):
        return f"<{self.__name__}>"


def _basis(x):
    n = int(np.size(x))
    if isinstance(x, np.ndarray):
        eye = np.eye(n, dtype=x.dtype)
        return [e.reshape(x.shape) for e in eye]
    return [1.0]


def _stack_columns(cols, out_shape, x_shape, dtype):
    """Columns d out / d x_k (k over x's elements) as an array of shape out.shape + x.shape."""
    if not cols:
        return np.zeros(tuple(out_shape) + tuple(x_shape), dtype)
    a = np.stack([np.asarray(c, dtype=dtype) for c in cols], axis=-1)
    res = a.reshape(tuple(out_shape) + tuple(x_shape))
    return res if res.shape else float(res)


def _jacfwd_impl(r, argnums, args):
    single, nums = _argnums(argnums, len(args))
    _check_float(args, nums, "jacfwd")
    jacs = []
    r.sweeps = 0
    for i in nums:
        basis = _basis(args[i])
        done = r.batched("jvp", args, (i,), np.stack(basis)) if isinstance(args[i], np.ndarray) else None
        if done is not None:
            out, dots = done
            jacs.append(_from_batch_axis(dots, np.shape(out), np.shape(args[i])))
            continue
        cols, out = [], None
        for e in basis:
            out, dot = r.jvp(args, (i,), [e])
            cols.append(dot)
            r.sweeps += 1
        if out is None:
            out = _call_plain(r, args)
        jacs.append(_stack_columns(cols, np.shape(out), np.shape(args[i]), _result_dtype(out, args[i])))
    return jacs[0] if single else tuple(jacs)


def _with_batch_axis(a, size, shape):
    """A batched sweep's result with its batch axis: a result that does not depend on the batched
    tangent came out without one (the same for every basis vector)."""
    a = np.asarray(a)
    return np.broadcast_to(a, (size,) + tuple(shape)) if a.shape == tuple(shape) else a


def _from_batch_axis(stacked, out_shape, x_shape):
    """Results of a batched sweep (basis vector k of x first) as out.shape + x.shape."""
    a = _with_batch_axis(stacked, int(np.prod(x_shape, dtype=int)), out_shape)
    a = np.moveaxis(a, 0, -1).reshape(tuple(out_shape) + tuple(x_shape))
    return np.array(a) if a.shape else float(a)


def _result_dtype(out, x):
    return np.result_type(np.asarray(out).dtype, _dtype(x))


def _jacrev_impl(r, argnums, args):
    single, nums = _argnums(argnums, len(args))
    _check_float(args, nums, "jacrev")
    out = _call_plain(r, args)
    rows = {i: [] for i in nums}
    r.sweeps = 0
    if isinstance(out, np.ndarray) and out.size > 1:
        done = r.batched("vjp", args, nums, np.stack(_basis(out)))
        if done is not None:
            return _unpack([np.array(_with_batch_axis(c, out.size, np.shape(args[i]))).reshape(
                tuple(np.shape(out)) + tuple(np.shape(args[i]))) for i, c in zip(nums, done)], single)
    for e in _basis(out) if np.size(out) else []:
        cts = r.vjp_call(args, nums, e if isinstance(out, np.ndarray) else 1.0)
        r.sweeps += 1
        for i, c in zip(nums, cts):
            rows[i].append(np.asarray(c))
    jacs = []
    for i in nums:
        shape = tuple(np.shape(out)) + tuple(np.shape(args[i]))
        if rows[i]:
            j = np.stack(rows[i], axis=0).reshape(shape)
        else:
            j = np.zeros(shape, _result_dtype(out, args[i]))
        jacs.append(j if j.shape else float(j))
    return _unpack(jacs, single)


def _unpack(jacs, single):
    return jacs[0] if single else tuple(jacs)


def _jacobian_impl(r, argnums, args):
    """Forward mode when the differentiated inputs have no more elements than the output, else
    reverse (each sweep gives one column, resp. row)."""
    _, nums = _argnums(argnums, len(args))
    n_in = sum(int(np.size(args[i])) for i in nums)
    n_out = int(np.size(_call_plain(r, args)))
    return (_jacfwd_impl if n_in <= n_out else _jacrev_impl)(r, argnums, args)


def _hessian_impl(r, argnums, args):
    if not isinstance(argnums, int):
        raise ValueError("hessian: argnums must be one int (the Hessian w.r.t. one argument)")
    _, (i,) = _argnums(argnums, len(args))
    _check_float(args, (i,), "hessian")
    x = args[i]
    cols = []
    r.sweeps = 0
    if isinstance(x, np.ndarray):
        done = r.batched("hvp", args, (i,), np.stack(_basis(x)))
        if done is not None:
            _, hv = done
            return _from_batch_axis(hv, np.shape(x), np.shape(x))
    for e in _basis(x):
        cols.append(r.hvp(args, i, e))
        r.sweeps += 1
    return _stack_columns(cols, np.shape(x), np.shape(x), _dtype(x))


def _hvp_impl(r, argnums, args):
    if not isinstance(argnums, int):
        raise ValueError("hvp: argnums must be one int")
    if not args:
        raise TypeError("hvp(f)(*args, v): the vector v is missing")
    *args, v = args
    args = tuple(args)
    _, (i,) = _argnums(argnums, len(args))
    _check_float(args, (i,), "hvp")
    if np.shape(v) != np.shape(args[i]):
        raise ValueError(f"hvp: v has shape {np.shape(v)}, argument {i} {np.shape(args[i])}")
    v = np.asarray(v, dtype=args[i].dtype) if isinstance(args[i], np.ndarray) else float(v)
    r.sweeps = 1
    hv = r.hvp(args, i, v)
    return hv if isinstance(args[i], np.ndarray) else float(hv)


def jacfwd(fn, argnums=0, *, fallback="auto", vectorize=True):
    """The Jacobian of `fn` w.r.t. argument(s) `argnums` by forward mode: one compiled tangent
    sweep per input element. Shape: out.shape + x.shape (jax.jacfwd)."""
    return Transformed(fn, argnums, fallback, "jacfwd", _jacfwd_impl, vectorize)


def jacrev(fn, argnums=0, *, fallback="auto", vectorize=True):
    """The Jacobian of `fn` w.r.t. argument(s) `argnums` by reverse mode: one compiled cotangent
    sweep per output element. Shape: out.shape + x.shape (jax.jacrev)."""
    return Transformed(fn, argnums, fallback, "jacrev", _jacrev_impl, vectorize)


def jacobian(fn, argnums=0, *, fallback="auto", vectorize=True):
    """The Jacobian, by forward mode when the inputs have no more elements than the output, else
    by reverse mode (fewer sweeps either way)."""
    return Transformed(fn, argnums, fallback, "jacobian", _jacobian_impl, vectorize)


def hessian(fn, argnums=0, *, fallback="auto", vectorize=True):
    """The Hessian of a scalar `fn` w.r.t. argument `argnums`, forward over reverse: one compiled
    Hessian-vector product per element of the argument. Shape: x.shape + x.shape."""
    return Transformed(fn, argnums, fallback, "hessian", _hessian_impl, vectorize)


def hvp(fn, argnums=0, *, fallback="auto"):
    """hvp(f)(*args, v): the Hessian of scalar `f` w.r.t. argument `argnums`, times v, in one
    forward-over-reverse sweep (no Hessian is formed)."""
    return Transformed(fn, argnums, fallback, "hvp", _hvp_impl)
