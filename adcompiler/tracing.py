"""The dynamic-tracing fallback of `adcompiler.grad`.

Runs the user's function on the eager engine: the differentiated arguments
become Tensors, NumPy calls reach the primitive table through the NumPy
protocols, and `math.*` functions named in the function's module are swapped
for versions that accept Tensors. A traced value that would silently leave the
graph (float(), int(), .item(), np.asarray, a C extension) raises
`TracingError` naming the user's line instead of losing the gradient.
"""
from __future__ import annotations

import builtins
import dis
import functools
import inspect
import logging
import math
import numbers
import os
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
        if what in ("float()", "int()", ".item()") and _formats_text(sys._getframe(1)):
            return   # "%.3f" % loss, logging.info("%f", loss): the number becomes text, never flows back
        raise TracingError(
            f"{what} on a traced value would lose its gradient ({user_location()}). Keep it as an array "
            f"expression (use np.* functions, not math.* or float()); comparisons such as `if x > 0:` are fine.")


def _formats_text(frame):
    """Whether the float()/int()/.item() at `frame` (Tensor.__float__ ...) only makes text: its
    caller runs the `%` operator (on a traced value, only str % and bytes % call float()), or
    formats the number at once in an f-string, or it is logging building a record's message."""
    conversion = False
    while frame is not None and frame.f_code in _CONVERSIONS:   # float() calls .item()
        frame, conversion = frame.f_back, True
    if frame is None or not conversion:
        return False
    if frame.f_code is logging.LogRecord.getMessage.__code__:
        return True
    i = frame.f_lasti
    instrs = list(dis.get_instructions(frame.f_code))
    j = max((k for k, ins in enumerate(instrs) if ins.offset <= i), default=None)   # f_lasti may be in a cache
    if j is None:
        return False
    if instrs[j].opname == "BINARY_OP" and instrs[j].arg == _NB_REMAINDER:
        return True
    # f"{float(loss):.3f}": the number goes straight into FORMAT_VALUE (after its format spec)
    if instrs[j].opname == "PRECALL" and j + 1 < len(instrs) and instrs[j + 1].opname == "CALL":
        j += 1   # a specialised PRECALL makes the call itself
    after = [ins.opname for ins in instrs[j + 1:j + 3]]
    return after[:1] == ["FORMAT_VALUE"] or after == ["LOAD_CONST", "FORMAT_VALUE"]


_CONVERSIONS = {Tensor.__float__.__code__, Tensor.__int__.__code__, Tensor.item.__code__}
_NB_REMAINDER = 6   # BINARY_OP's argument for %


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
        out = apply_prim(P.reshape, (self,), {"shape": tuple(int(s) for s in shape)})
        if out._data.size and not np.shares_memory(out._data, self._data):
            return out.copy()    # NumPy could not view (a reversed or strided array): a copy, writes stay in it
        return out

    def flatten(self):
        return self.reshape(-1).copy()

    def ravel(self):
        out = self.reshape(-1)
        # NumPy's ravel views only a C-contiguous array (reshape(-1) may view a strided one)
        return out if self._data.flags.c_contiguous else out.copy()

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

    # NumPy's methods that have the name of a torch method with other semantics, or none
    def repeat(self, repeats, axis=None):
        return np.repeat(self, repeats, axis)

    def swapaxes(self, axis1, axis2):
        return np.swapaxes(self, axis1, axis2)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return np.diagonal(self, offset, axis1, axis2)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        return np.trace(self, offset, axis1, axis2)

    def cumsum(self, axis=None, dtype=None, out=None):
        return np.cumsum(self, axis)

    def cumprod(self, axis=None, dtype=None, out=None):
        return np.cumprod(self, axis)

    def take(self, indices, axis=None, out=None, mode="raise"):
        return np.take(self, indices, axis)

    def conj(self):
        return np.conjugate(self)

    conjugate = conj

    def clip(self, a_min=None, a_max=None):
        return np.clip(self, a_min, a_max)

    @property
    def size(self):
        return int(self._data.size)

    def __getitem__(self, idx):
        res = Tensor.__getitem__(self, idx)
        if res._data.ndim == 0:
            parts = idx if isinstance(idx, tuple) else (idx,)
            if any(p is Ellipsis for p in parts):
                res._np_scalar = False    # x[...] is a 0-d array (a view)
            else:
                # NumPy: indexing every axis with an integer gives a scalar, a copy, not a view
                res._np_scalar = True
                if res._base is not None:
                    res._data = res._data.copy()
                    res._vc = [0]
                    res._base = None
        return res

    def __setitem__(self, idx, value):
        if self._np_scalar:
            raise TypeError(f"'{_scalar_type_name(self)}' object does not support item assignment "
                            f"({user_location()}); in NumPy this value is a scalar, not an array")
        self._check_not_argument("assigning into it")
        Tensor.__setitem__(self, idx, value)

    # NumPy's `a += b` writes into the array `a` names (every other name for it, and every view of
    # it, sees the change), but rebinds `a` when it is a NumPy scalar (np.float64), as Python does
    # for a float. The write is recorded in the graph like `out[i] = ...`.
    def _inplace_numpy(self, prim, other, symbol):
        if self._np_scalar:
            return _BINARY[symbol](self, other)
        o = other
        if isinstance(o, (list, tuple)):
            o = _np_array(o)
        elif not isinstance(o, (Tensor, np.ndarray, np.generic, numbers.Number)):
            return NotImplemented
        self._check_not_argument(f"`{symbol}=`")
        mine, theirs = self._data.shape, np.shape(o._data if isinstance(o, Tensor) else o)
        try:
            shape = np.broadcast_shapes(mine, theirs)
        except ValueError:
            raise ValueError(f"operands could not be broadcast together with shapes {_shape_str(mine)} "
                             f"{_shape_str(theirs)} ({user_location()})") from None
        if shape != mine:
            raise ValueError(f"non-broadcastable output operand with shape {_shape_str(mine)} doesn't match the "
                             f"broadcast shape {_shape_str(shape)} ({user_location()})")
        raw = o._data if isinstance(o, Tensor) else o
        result = np.result_type(self._data, raw)
        if symbol == "/" and result.kind in "biu":
            result = np.dtype(np.float64)
        if not np.can_cast(result, self._data.dtype, "same_kind"):
            raise TracingError(f"Cannot cast ufunc {_UFUNC_NAMES[symbol]!r} output from {result!r} to "
                               f"{self._data.dtype!r} with casting rule 'same_kind' ({user_location()})")
        if symbol == "@":
            return self._write_result(self @ o)
        return self._inplace(prim, (o,), {})

    def _write_result(self, value):
        if value._data.shape != self._data.shape:
            raise ValueError(f"non-broadcastable output operand with shape {_shape_str(self._data.shape)} doesn't "
                             f"match the broadcast shape {_shape_str(value._data.shape)} ({user_location()})")
        return self._inplace(P.setitem, (value,), {"idx": Ellipsis}, "CopySlices")

    def _check_not_argument(self, what):
        """NumPy would change the caller's array: say so instead of differentiating something else."""
        root = self._base if self._base is not None else self
        name = root.__dict__.get("_arg")
        if name is not None and (root.requires_grad or self.requires_grad):
            raise TracingError(
                f"{what} writes into the array passed as argument {name!r}, which grad differentiates with respect "
                f"to ({user_location()}). In NumPy this would change the caller's array. Work on a copy "
                f"(`{name} = {name}.copy()` first) or build a new array (`{name} = {name} + ...`).")

    def __iadd__(self, o):
        return self._inplace_numpy(P.add, o, "+")

    def __isub__(self, o):
        return self._inplace_numpy(P.sub, o, "-")

    def __imul__(self, o):
        return self._inplace_numpy(P.mul, o, "*")

    def __itruediv__(self, o):
        return self._inplace_numpy(P.div, o, "/")

    def __ipow__(self, o):
        return self._inplace_numpy(P.power, o, "**")

    def __ifloordiv__(self, o):
        return self._inplace_numpy(P.floor_divide, o, "//")

    def __imod__(self, o):
        return self._inplace_numpy(P.remainder, o, "%")

    def __imatmul__(self, o):
        return self._inplace_numpy(P.matmul, o, "@")

    def _inplace_logical(self, o, symbol):
        if self._np_scalar or self.requires_grad or (isinstance(o, Tensor) and o.requires_grad):
            return _BINARY[symbol](self, o)   # (a float array has no `&=`: NumPy raises, and so does this)
        self._check_not_argument(f"`{symbol}=`")
        if self._sticky:
            self._snapshot_savers()
        _BINARY_UFUNC[symbol](self._data, o._data if isinstance(o, Tensor) else o, out=self._data)
        self._bump()
        return self

    def __iand__(self, o):
        return self._inplace_logical(o, "&")

    def __ior__(self, o):
        return self._inplace_logical(o, "|")

    def __ixor__(self, o):
        return self._inplace_logical(o, "^")

    def __xor__(self, o):
        return TracedArray._make(np.asarray(self._data ^ (o._data if isinstance(o, Tensor) else o)))

    # Python protocols, in NumPy's words
    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError(f"len() of unsized object ({user_location()})")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError(f"iteration over a 0-d array ({user_location()})")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"The truth value of an array with more than one element is ambiguous. Use a.any() "
                             f"or a.all() ({user_location()})")
        return bool(self._data.reshape(()))

    # printing and formatting read the value; nothing flows back into the computation (NumPy's text)
    def __format__(self, spec):
        return format(self._data[()] if self._data.ndim == 0 else self._data, spec)

    def __str__(self):
        return str(self._data[()] if self._data.ndim == 0 else self._data)

    def tolist(self):
        check_escape(self, ".tolist()")
        return self._data.tolist()


def _shape_str(shape):
    return str(tuple(shape)).replace(" ", "") if len(shape) != 1 else f"({shape[0]},)"


def _scalar_type_name(t):
    return f"numpy.{t._data.dtype.name}"


_BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
           "**": lambda a, b: a ** b, "//": lambda a, b: a // b, "%": lambda a, b: a % b, "@": lambda a, b: a @ b,
           "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b}
_BINARY_UFUNC = {"&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor}
_UFUNC_NAMES = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "**": "power",
                "//": "floor_divide", "%": "remainder", "@": "matmul"}


def _traced(arr):
    return TracedArray._make(np.asarray(arr))


def _np_array(obj, dtype=None, copy=True, **kw):
    if isinstance(obj, Tensor):
        out = obj.astype(dtype) if dtype is not None else obj
        if obj._np_scalar:
            copy = True   # np.asarray(np.float64(1.0)) is a new 0-d array
        if copy:
            out = out.copy()
            out._np_scalar = False
        return out
    if isinstance(obj, (list, tuple)) and any(isinstance(v, Tensor) for v in _flatten_list(obj)):
        parts = [_np_array(v, dtype) if isinstance(v, (list, tuple)) else v for v in obj]
        parts = [p if isinstance(p, Tensor) else _traced(np.asarray(p, dtype=dtype or np.float64)) for p in parts]
        return np.stack(parts)
    return _traced(np.array(obj, dtype=dtype, **kw))


def _creator(fn):
    @functools.wraps(fn)
    def make(*args, **kwargs):
        out = fn(*args, **kwargs)
        return out if isinstance(out, Tensor) else _traced(out)   # (np.linspace of traced endpoints)
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
    for name in _TAKES_ARRAY_LIKE:
        setattr(mod, name, _lists_as_arrays(getattr(np, name), first=True))
    for name in _TAKES_SEQUENCE:
        setattr(mod, name, _lists_as_arrays(getattr(np, name), first=False))
    return mod


# NumPy functions whose first argument is one array-like (np.mean([x, y])) or a sequence of them
# (np.stack([[x[0], x[1]], ...])). NumPy's dispatch does not look inside a list, so a list holding
# traced values would be converted with np.asarray (losing the gradient): it is stacked first.
_TAKES_ARRAY_LIKE = ("sum", "mean", "std", "var", "prod", "max", "min", "amax", "amin", "argmax", "argmin",
                     "average", "cumsum", "cumprod", "ptp", "median", "nansum", "nanmean", "diff", "sort")
_TAKES_SEQUENCE = ("stack", "concatenate", "vstack", "hstack", "column_stack", "dstack")


def _holds_traced(obj):
    return isinstance(obj, (list, tuple)) and any(isinstance(v, Tensor) for v in _flatten_list(obj))


def _lists_as_arrays(fn, first):
    @functools.wraps(fn)
    def call(a, *args, **kwargs):
        if first and _holds_traced(a):
            a = _np_array(a, copy=False)
        elif not first and isinstance(a, (list, tuple)) and any(_holds_traced(p) for p in a):
            a = [_np_array(p, copy=False) if _holds_traced(p) else p for p in a]
        try:
            return fn(a, *args, **kwargs)
        except (ValueError, TypeError) as e:
            if ".py:" in str(e):
                raise
            raise type(e)(f"{e} ({user_location()})") from None   # NumPy's error, naming the user's line
    return call


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
# the table's primitives and compositions for the rest of `math` (a 0-d array for a float, as above)
_MATH.update({name: (lambda prim: lambda *xs: apply_prim(prim, xs, {}))(prim) for name, prim in [
    ("sinh", P.sinh), ("cosh", P.cosh), ("asin", P.arcsin), ("acos", P.arccos), ("atan", P.arctan),
    ("asinh", P.arcsinh), ("acosh", P.arccosh), ("atanh", P.arctanh), ("erf", P.erf), ("erfc", P.erfc),
    ("lgamma", P.lgamma), ("gamma", P.gamma), ("atan2", P.arctan2), ("hypot", P.hypot), ("copysign", P.copysign)]})
_MATH.update({"log2": P.composites.log2, "log10": P.composites.log10, "degrees": P.composites.degrees,
              "radians": P.composites.radians})
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
    new.__module__ = fn.__module__
    new.__qualname__ = fn.__qualname__
    return new


# NumPy names imported on their own (`from numpy import zeros`) that must make TracedArrays
_NUMPY_NAMES = {id(getattr(np, name)): getattr(_NUMPY_MODULE, name)
                for name in ("zeros", "ones", "empty", "full", "eye", "identity", "arange", "linspace", "zeros_like",
                             "ones_like", "empty_like", "full_like", "array", "asarray", "asanyarray")}


class _TracedGlobals(dict):
    """The globals a traced function runs with.

    Reads see the module's globals as they are now (not a copy), with `numpy`, `math` and math
    functions swapped for the Tensor-aware proxies and module-level functions rebound to these
    globals. Python stores `global` assignments straight into this dict (STORE_GLOBAL bypasses
    `__setitem__`), so every write is passed on to the module at the next global read and when the
    function returns or raises (`flush`): the module sees `global calls; calls += 1`."""

    __slots__ = ("_real", "_helpers", "_builtins")

    def __init__(self, real):
        super().__init__()
        b = real.get("__builtins__", builtins)
        dict.__setitem__(self, "__builtins__", b)
        self._real = real
        self._helpers = {}
        self._builtins = vars(b) if isinstance(b, types.ModuleType) else b

    def flush(self):
        """Pass the function's `global` writes on to the module."""
        if dict.__len__(self) > 1:
            pending = [(k, v) for k, v in dict.items(self) if k != "__builtins__"]
            b = dict.__getitem__(self, "__builtins__")
            dict.clear(self)
            dict.__setitem__(self, "__builtins__", b)
            for k, v in pending:
                self._real[k] = v

    def _swap(self, key, v):
        # (type(v), not isinstance: a lazy proxy's __class__ or __getattr__ may raise anything, and
        # Python's own global lookup never touches the object)
        if v is np:
            return _NUMPY_MODULE
        if v is math:
            return _MATH_MODULE
        kind = type(v)
        if issubclass(kind, types.FunctionType):
            if v.__globals__ is self._real:   # a helper of the same module: traced the same way
                h = self._helpers.get(key)
                if h is None or h[0] is not v:
                    _refuse_del_global(v.__code__)
                    h = self._helpers[key] = (v, _rebind(v, self))
                return h[1]
            return _NUMPY_NAMES.get(id(v), v) if (getattr(v, "__module__", None) or "").startswith("numpy") else v
        if issubclass(kind, types.BuiltinFunctionType):
            proxy = _MATH_PROXIES.get(v.__name__)
            if proxy is not None and v is getattr(math, v.__name__, None):
                return proxy
        return _NUMPY_NAMES.get(id(v), v)

    def __getitem__(self, key):
        self.flush()
        real = self._real
        if key in real:
            return self._swap(key, real[key])
        return self._builtins[key]   # (what Python's global lookup would find next; KeyError: NameError)

    def get(self, key, default=None):
        self.flush()
        try:
            return self._swap(key, self._real[key])
        except KeyError:
            return default

    def __contains__(self, key):
        self.flush()
        return key in self._real

    def __setitem__(self, key, value):
        self.flush()
        self._real[key] = value

    def __delitem__(self, key):
        self.flush()
        del self._real[key]

    def setdefault(self, key, default=None):
        self.flush()
        return self._real.setdefault(key, default)

    def pop(self, key, *default):
        self.flush()
        return self._real.pop(key, *default)

    def keys(self):
        self.flush()
        return self._real.keys()

    def values(self):
        self.flush()
        return [self._swap(k, v) for k, v in self._real.items()]

    def items(self):
        self.flush()
        return [(k, self._swap(k, v)) for k, v in self._real.items()]

    def __iter__(self):
        self.flush()
        return iter(list(self._real))

    def __len__(self):
        self.flush()
        return len(self._real)


_DEL_GLOBAL_CHECKED = {}


def _refuse_del_global(code):
    """`del` of a global cannot reach the module from the tracer's globals (Python deletes from the
    dict the function runs with): a clear error instead of a NameError that is not the user's."""
    if code in _DEL_GLOBAL_CHECKED:
        return
    import dis
    for ins in dis.get_instructions(code):
        if ins.opname == "DELETE_GLOBAL":
            line = ins.positions.lineno if getattr(ins, "positions", None) else code.co_firstlineno
            raise TracingError(f"`del {ins.argval}` of a global is not supported while tracing "
                               f"({os.path.basename(code.co_filename)}:{line}); assign None to it instead")
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _refuse_del_global(const)
    if len(_DEL_GLOBAL_CHECKED) > 4096:
        _DEL_GLOBAL_CHECKED.clear()
    _DEL_GLOBAL_CHECKED[code] = True


def traceable(fn):
    """`fn` running with `math`/`numpy` and `from math import ...` names of its module swapped for
    Tensor-aware versions; module-level helpers it calls are traced the same way. Writes to the
    module's globals (`global n; n += 1`) reach the module, also when `fn` raises."""
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return types.MethodType(traceable(fn.__func__), fn.__self__)
    if not isinstance(fn, types.FunctionType):
        return fn
    _refuse_del_global(fn.__code__)
    globs = _TracedGlobals(fn.__globals__)
    run = _rebind(fn, globs)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        finally:
            globs.flush()
    return call


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
        leaf = TracedArray._make(np.array(x, dtype=np.float64)).requires_grad_(True)
        leaf._np_scalar = True   # `x += 1` rebinds x, as for the caller's float
        return leaf
    if not isinstance(x, (np.ndarray, list, tuple)):
        raise TypeError(f"grad: argument {name!r} is a {type(x).__name__}; gradients are taken w.r.t. float "
                        f"numbers and arrays")
    arr = np.asarray(x)
    check_float_argument(name, arr)
    if arr is x:
        arr = arr.copy()   # the function runs on the caller's array (see _as_argument); the leaf keeps the values
    leaf = TracedArray._make(arr).requires_grad_(True)
    leaf._arg = name
    return leaf


def _as_argument(leaf, x):
    """What the traced function gets for the argument `x` whose gradient is taken at `leaf`.

    An ndarray argument is the caller's own memory, as in NumPy: `x[0] = ...` in the function
    changes the caller's array, every view of it sees the write, and the gradient is w.r.t. the
    values passed in (the leaf holds a copy of them; the function works on a copy node of it whose
    storage is the caller's array)."""
    if not isinstance(x, np.ndarray) or isinstance(x, Tensor) or leaf.__dict__.get("_arg") is None:
        return leaf
    with grad_mode.enable_grad():
        work = apply_prim(P.copy, (leaf,), {})
    work._data = x     # (a read-only array stays read-only: a write raises NumPy's error)
    return work


def _like_input(g, x):
    """A gradient with the type of its input: float for float, ndarray for ndarray, Tensor for Tensor."""
    if isinstance(x, Tensor):
        return g if g is not None else Tensor._make(np.zeros_like(x._data))
    arr = g._data if g is not None else np.zeros(np.shape(x))
    if isinstance(x, (float, np.floating)) and not isinstance(x, np.ndarray):
        return float(arr)
    return np.asarray(arr, dtype=np.asarray(x).dtype).reshape(np.shape(x))


def scalar_output(out, fn_name, fn=None):
    """Check that a function's output is a scalar; return it as a Tensor or float."""
    if out is None:
        code = getattr(inspect.unwrap(fn), "__code__", None) if fn is not None else None
        where = f" ({os.path.basename(code.co_filename)}:{code.co_firstlineno})" if code is not None else ""
        raise TypeError(f"grad: {fn_name} returned None; it must return a scalar (a float or a size-1 array) to "
                        f"differentiate{where}. Is a `return` statement missing?")
    if isinstance(out, Tensor):
        if out.numel() != 1:
            raise TypeError(f"grad: {fn_name} must return a scalar, but returned an array of shape "
                            f"{tuple(out.shape)}; reduce it (e.g. .sum()) or use has_aux=True for extra outputs")
        return out.reshape(()) if out.ndim else out
    if isinstance(out, (float, int, np.number)) or (isinstance(out, np.ndarray) and out.size == 1):
        return float(np.asarray(out).reshape(()))
    if isinstance(out, np.ndarray):
        raise TypeError(f"grad: {fn_name} must return a scalar, but returned an array of shape {out.shape}")
    aux = "; to return extra values too, use grad(..., has_aux=True) and return (loss, aux)" \
        if isinstance(out, tuple) else ""
    raise TypeError(f"grad: {fn_name} must return a scalar (float or size-1 array), but returned "
                    f"{type(out).__name__}{aux}")


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


def _label(path):
    return path if isinstance(path, str) else f"{path[0]}[{path[1]!r}]"


def _get(values, path):
    if isinstance(path, str):
        return values[path]
    name, key = path
    return values[name][key]


def _set(values, path, value):
    if isinstance(path, str):
        values[path] = value
        return
    name, key = path
    container = values[name]
    if isinstance(container, dict):
        container = dict(container)
        container[key] = value
    else:
        container = list(container)
        container[key] = value
        container = tuple(container)
    values[name] = container


def _call(run, values, signature):
    """Call `run` with `values` (parameter name -> value) exactly as Python passed them: *args as
    positional arguments, **kwargs as keywords, positional-only parameters by position."""
    if signature is None:
        return run(**values)
    bound = inspect.BoundArguments(signature, dict(values))
    return run(*bound.args, **bound.kwargs)


def trace_value_and_grad(fn, bound_args, wrt_names, has_aux=False, fn_name="f", signature=None):
    """Value and gradients of fn at `bound_args` (a parameter name -> value dict) w.r.t. `wrt_names`.

    Each of `wrt_names` is a parameter name, or (name, index) / (name, key) for one argument of a
    *args tuple / **kwargs dict. With `signature` (fn's), the call is rebuilt exactly as Python
    would make it. Returns (value, {wrt: gradient shaped like the argument}, aux)."""
    from .pytree import flatten, unflatten
    traced_args = dict(bound_args)
    nested = tracing_active()
    leaves_by_name = {}
    paths = list(dict.fromkeys(wrt_names))
    for path in paths:
        leaves, td = flatten(_get(bound_args, path))
        tleaves = [_to_leaf(v, _label(path), nested) for v in leaves]
        leaves_by_name[path] = (leaves, tleaves, td)
        _set(traced_args, path, unflatten(td, [_as_argument(t, v) for t, v in zip(tleaves, leaves)]))
    run = traceable(fn)
    _state.depth += 1
    try:
        with grad_mode.enable_grad():
            result = _call(run, traced_args, signature)
    finally:
        _state.depth -= 1
    aux = None
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"grad(has_aux=True): {fn_name} must return a pair (scalar, aux)")
        result, aux = result
    out = scalar_output(result, fn_name, fn)
    all_leaves = [t for path in paths for t in leaves_by_name[path][1]]
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
    for path in paths:
        leaves, tleaves, td = leaves_by_name[path]
        # differentiated again (grad of grad): a gradient that depends on the outer trace's inputs stays a
        # Tensor of that trace, whatever the type of its argument, or the outer derivative would be lost
        gs = [grads[k + i] if nested and isinstance(grads[k + i], Tensor) and grads[k + i].requires_grad
              else _like_input(grads[k + i], leaves[i]) for i in range(len(leaves))]
        k += len(leaves)
        result_grads[path] = unflatten(td, gs)
    return value, result_grads, _plain(aux)
