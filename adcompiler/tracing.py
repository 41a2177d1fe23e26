"""The dynamic-tracing fallback of `adcompiler.grad`.

Runs the user's function on the eager engine: the differentiated arguments
become Tensors, NumPy calls reach the primitive table through the NumPy
protocols, and `math.*` functions named in the function's module are swapped
for versions that accept Tensors. A traced value that would silently leave the
graph (float(), int(), .item(), np.asarray, a C extension) raises
`TracingError` naming the user's line instead of losing the gradient.
"""
from __future__ import annotations

import functools
import math
import sys
import threading
import types

import numpy as np

from . import ops as P
from .autograd import engine, grad_mode
from .numpy_interop import user_location
from .tensor import Tensor, _flatten_list, apply_prim

__all__ = ["TracingError", "trace_value_and_grad", "tracing_active", "check_escape", "check_float_argument"]


class TracingError(TypeError):
    """A traced value reached something that would lose its gradient."""


class _State(threading.local):
    depth = 0


_state = _State()


def tracing_active():
    return _state.depth > 0


def check_escape(t, what):
    """Raise if a traced, grad-requiring tensor is about to become a plain number/array."""
    if _state.depth > 0 and t.requires_grad:
        raise TracingError(
            f"{what} on a traced value would lose its gradient ({user_location()}). Keep it as an array "
            f"expression (use np.* functions, not math.* or float()); comparisons such as `if x > 0:` are fine.")


# (`adcompiler.tensor` the attribute is the factory function; the module is in sys.modules)
sys.modules["adcompiler.tensor"]._escape_hook = check_escape


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


class TracedArray(Tensor):
    """What the tracer runs NumPy code on: a Tensor whose methods follow NumPy
    (`x.std()` is the population std, `x.max(axis=0)`, `x.copy()`, `x.size`),
    and whose op results stay TracedArrays."""

    _sticky = True

    def _red(self, prim, axis, keepdims, **extra):
        return apply_prim(prim, (self,), dict({"axis": _axis(axis), "keepdims": bool(keepdims)}, **extra))

    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return self._red(P.sum_, axis, keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return self._red(P.mean, axis, keepdims)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False):
        return self._red(P.prod, axis, keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return self._red(P.var, axis, keepdims, correction=ddof)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return self._red(P.std, axis, keepdims, correction=ddof)

    def max(self, axis=None, out=None, keepdims=False):
        return self._red(P.amax, axis, keepdims)

    def min(self, axis=None, out=None, keepdims=False):
        return self._red(P.amin, axis, keepdims)

    def argmax(self, axis=None, out=None, keepdims=False):
        return self._red(P.argmax, axis, keepdims)

    def argmin(self, axis=None, out=None, keepdims=False):
        return self._red(P.argmin, axis, keepdims)

    def copy(self):
        return apply_prim(P.copy, (self,), {})

    def astype(self, dtype):
        return apply_prim(P.astype, (self,), {"dtype": np.dtype(dtype)})

    def reshape(self, *shape, order="C"):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return apply_prim(P.reshape, (self,), {"shape": tuple(int(s) for s in shape)})

    def flatten(self):
        return self.reshape(-1).copy()

    def ravel(self):
        return self.reshape(-1)

    def transpose(self, *axes):
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return np.transpose(self, axes or None)

    @property
    def T(self):
        return np.transpose(self)

    def squeeze(self, axis=None):
        return apply_prim(P.squeeze, (self,), {"axis": axis})

    def dot(self, other):
        return np.dot(self, other)

    def clip(self, a_min=None, a_max=None):
        return np.clip(self, a_min, a_max)

    @property
    def size(self):
        return int(self._data.size)

    def __getitem__(self, idx):
        res = Tensor.__getitem__(self, idx)
        if res._data.ndim == 0 and res._base is not None:
            # NumPy: indexing every axis with an integer gives a copy, not a view
            res._data = res._data.copy()
            res._vc = [0]
            res._base = None
        return res

    # `a += b` rebinds `a` to a new value, as the compiler reads it (and as `y[0] += 1` needs)
    def __iadd__(self, o):
        return self + o

    def __isub__(self, o):
        return self - o

    def __imul__(self, o):
        return self * o

    def __itruediv__(self, o):
        return self / o

    def __ipow__(self, o):
        return self ** o

    def tolist(self):
        check_escape(self, ".tolist()")
        return self._data.tolist()


def _traced(arr):
    return TracedArray._make(np.asarray(arr))


def _np_array(obj, dtype=None, copy=True, **kw):
    if isinstance(obj, Tensor):
        out = obj.astype(dtype) if dtype is not None else obj
        return out.copy() if copy else out
    if isinstance(obj, (list, tuple)) and any(isinstance(v, Tensor) for v in _flatten_list(obj)):
        parts = [_np_array(v, dtype) if isinstance(v, (list, tuple)) else v for v in obj]
        parts = [p if isinstance(p, Tensor) else _traced(np.asarray(p, dtype=dtype or np.float64)) for p in parts]
        return np.stack(parts)
    return _traced(np.array(obj, dtype=dtype, **kw))


def _creator(fn):
    @functools.wraps(fn)
    def make(*args, **kwargs):
        return _traced(fn(*args, **kwargs))
    return make


def _creator_like(fn):
    @functools.wraps(fn)
    def make(a, *args, **kwargs):
        return _traced(fn(a._data if isinstance(a, Tensor) else a, *args, **kwargs))
    return make


def _proxy_numpy_module():
    """numpy, except that arrays made inside traced code are TracedArrays, so
    `out = np.zeros(n); out[i] = x[i]` records the assignment in the graph."""
    class _NumpyProxy(types.ModuleType):
        def __getattr__(self, name):  # submodules NumPy loads lazily (np.fft, np.random ...)
            return getattr(np, name)

    mod = _NumpyProxy("numpy")
    mod.__dict__.update({k: v for k, v in vars(np).items() if not k.startswith("__")})
    for name in ("zeros", "ones", "empty", "full", "eye", "identity", "arange", "linspace"):
        setattr(mod, name, _creator(getattr(np, name)))
    for name in ("zeros_like", "ones_like", "empty_like", "full_like"):
        setattr(mod, name, _creator_like(getattr(np, name)))
    mod.array = _np_array
    mod.asarray = lambda obj, dtype=None, **kw: _np_array(obj, dtype, copy=False)
    mod.asanyarray = mod.asarray
    return mod


_NUMPY_MODULE = _proxy_numpy_module()


def _math_fn(name, method):
    real = getattr(math, name)

    @functools.wraps(real)
    def fn(x, *rest):
        if isinstance(x, Tensor) or any(isinstance(r, Tensor) for r in rest):
            return method(x, *rest)
        return real(x, *rest)
    return fn


def _pow(x, y):
    return x ** y


_MATH = {
    "sin": lambda x: x.sin(), "cos": lambda x: x.cos(), "tan": lambda x: x.tan(), "exp": lambda x: x.exp(),
    "log": lambda x, *b: x.log() if not b else x.log() / math.log(b[0]), "log1p": lambda x: x.log1p(),
    "expm1": lambda x: x.expm1(), "sqrt": lambda x: x.sqrt(), "tanh": lambda x: x.tanh(), "fabs": lambda x: x.abs(),
    "pow": _pow,
}
_MATH_PROXIES = {name: _math_fn(name, m) for name, m in _MATH.items()}


def _proxy_math_module():
    mod = types.ModuleType("math")
    mod.__dict__.update({k: v for k, v in vars(math).items() if not k.startswith("__")})
    mod.__dict__.update(_MATH_PROXIES)
    return mod


_MATH_MODULE = _proxy_math_module()


def _rebind(fn, globs):
    new = types.FunctionType(fn.__code__, globs, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__dict__.update(fn.__dict__)
    return new


def traceable(fn):
    """`fn` with `math`/`numpy` and `from math import ...` names in its module
    swapped for Tensor-aware versions; module-level helpers are rebound the same way."""
    if not isinstance(fn, types.FunctionType):
        return fn
    g = fn.__globals__
    globs = dict(g)
    for k, v in g.items():
        if v is math:
            globs[k] = _MATH_MODULE
        elif v is np:
            globs[k] = _NUMPY_MODULE
        elif getattr(v, "__name__", None) in _MATH_PROXIES and v is getattr(math, v.__name__, None):
            globs[k] = _MATH_PROXIES[v.__name__]
    for k, v in g.items():
        if isinstance(v, types.FunctionType) and v.__globals__ is g:
            globs[k] = _rebind(v, globs)
    return _rebind(fn, globs)


def check_float_argument(name, x):
    """The error either path of `grad` gives for an int or a non-float array to differentiate."""
    if isinstance(x, (bool, np.bool_)) or isinstance(x, (int, np.integer)):
        raise TypeError(f"grad: argument {name!r} is {type(x).__name__} {x!r}; gradients are taken w.r.t. float "
                        f"inputs — pass {float(x)!r} instead")
    if isinstance(x, np.ndarray) and x.dtype.kind != "f":
        raise TypeError(f"grad: argument {name!r} has dtype {x.dtype}; gradients need float arrays")


def _to_leaf(x, name, nested):
    if isinstance(x, Tensor):
        if nested and x.requires_grad:
            return x  # an outer trace differentiates through this one

        if not x.is_floating_point():
            raise TypeError(f"grad: argument {name!r} is an integer tensor; gradients need float inputs")
        return x.detach().requires_grad_(True)
    check_float_argument(name, x)
    if isinstance(x, (float, np.floating)):
        return TracedArray._make(np.array(x, dtype=np.float64)).requires_grad_(True)
    if not isinstance(x, (np.ndarray, list, tuple)):
        raise TypeError(f"grad: argument {name!r} is a {type(x).__name__}; gradients are taken w.r.t. float "
                        f"numbers and arrays")
    arr = np.asarray(x)
    check_float_argument(name, arr)
    return TracedArray._make(arr).requires_grad_(True)


def _like_input(g, x):
    """A gradient with the type of its input: float for float, ndarray for ndarray, Tensor for Tensor."""
    if isinstance(x, Tensor):
        return g if g is not None else Tensor._make(np.zeros_like(x._data))
    arr = g._data if g is not None else np.zeros(np.shape(x))
    if isinstance(x, (float, np.floating)) and not isinstance(x, np.ndarray):
        return float(arr)
    return np.asarray(arr, dtype=np.asarray(x).dtype).reshape(np.shape(x))


def scalar_output(out, fn_name):
    """Check that a function's output is a scalar; return it as a Tensor or float."""
    if isinstance(out, Tensor):
        if out.numel() != 1:
            raise TypeError(f"grad: {fn_name} must return a scalar, but returned an array of shape "
                            f"{tuple(out.shape)}; reduce it (e.g. .sum()) or use has_aux=True for extra outputs")
        return out.reshape(()) if out.ndim else out
    if isinstance(out, (float, int, np.number)) or (isinstance(out, np.ndarray) and out.size == 1):
        return float(np.asarray(out).reshape(()))
    if isinstance(out, np.ndarray):
        raise TypeError(f"grad: {fn_name} must return a scalar, but returned an array of shape {out.shape}")
    raise TypeError(f"grad: {fn_name} must return a scalar (float or size-1 array), but returned "
                    f"{type(out).__name__}")


def _plain(x):
    """Aux outputs leave the tracer as NumPy values."""
    if isinstance(x, Tensor):
        return x.detach()._data
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def trace_value_and_grad(fn, bound_args, wrt_names, has_aux=False, fn_name="f"):
    """Value and gradients of fn at `bound_args` (a name -> value dict) w.r.t. `wrt_names`.

    Returns (value, {name: gradient shaped like the argument}, aux)."""
    from .pytree import flatten, unflatten
    traced_args = dict(bound_args)
    nested = tracing_active()
    leaves_by_name = {}
    for name in wrt_names:
        leaves, td = flatten(bound_args[name])
        tleaves = [_to_leaf(v, name, nested) for v in leaves]
        leaves_by_name[name] = (leaves, tleaves, td)
        traced_args[name] = unflatten(td, tleaves)
    run = traceable(fn)
    _state.depth += 1
    try:
        with grad_mode.enable_grad():
            result = run(**traced_args)
    finally:
        _state.depth -= 1
    aux = None
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"grad(has_aux=True): {fn_name} must return a pair (scalar, aux)")
        result, aux = result
    out = scalar_output(result, fn_name)
    all_leaves = [t for name in wrt_names for t in leaves_by_name[name][1]]
    if isinstance(out, Tensor) and out.requires_grad:
        grads = engine.grad([out], all_leaves, allow_unused=True, create_graph=nested)
    else:
        grads = [None] * len(all_leaves)
    if nested and isinstance(out, Tensor):
        value = out
    else:
        value = float(out.detach()._data) if isinstance(out, Tensor) else out
    result_grads = {}
    k = 0
    for name in wrt_names:
        leaves, tleaves, td = leaves_by_name[name]
        gs = [_like_input(grads[k + i], leaves[i]) for i in range(len(leaves))]
        k += len(leaves)
        result_grads[name] = unflatten(td, gs)
    return value, result_grads, _plain(aux)
