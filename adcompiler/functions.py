"""Module-level tensor functions, as in `torch.*`: `adcompiler.exp(x)`,
`adcompiler.matmul(a, b)`, `adcompiler.cat([...])` ... Each delegates to the
Tensor method or applies a table primitive; none knows a derivative."""
from __future__ import annotations

import numpy as np

from . import ops as P
from .tensor import Tensor, apply_prim, to_array

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos",
           "tan", "tanh", "sigmoid", "relu", "abs", "sign", "clamp", "clip", "maximum", "minimum", "where", "sum",
           "mean", "prod", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp", "softmax",
           "log_softmax", "matmul", "mm", "dot", "outer", "trace", "norm", "transpose", "permute", "t", "reshape",
           "squeeze", "unsqueeze", "flatten", "broadcast_to", "cat", "concat", "stack", "allclose", "isclose",
           "equal", "square", "reciprocal", "numel", "clone", "is_tensor", "detach", "eq", "ne", "lt", "le", "gt",
           "ge"]


def _t(x):
    return x if isinstance(x, Tensor) else Tensor._make(to_array(x))


def _method(name):
    def fn(x, *args, **kwargs):
        return getattr(_t(x), name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"Module-level form of `Tensor.{name}`."
    return fn


for _name in ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs",
              "sign", "neg", "clamp", "clip", "sum", "mean", "prod", "var", "std", "amax", "amin", "argmax",
              "argmin", "logsumexp", "softmax", "log_softmax", "trace", "norm", "transpose", "permute", "t",
              "reshape", "squeeze", "unsqueeze", "flatten", "broadcast_to", "square", "reciprocal", "numel", "clone",
              "detach", "dot", "mm", "matmul"]:
    globals()[_name] = _method(_name)


def add(a, b, alpha=1):
    return _t(a).add(b, alpha=alpha)


def sub(a, b, alpha=1):
    return _t(a).sub(b, alpha=alpha)


def mul(a, b):
    return _t(a) * b


def div(a, b):
    return _t(a) / b


def pow(a, b):
    return a ** b if isinstance(a, Tensor) else _t(a) ** b if not isinstance(b, Tensor) else b.__rpow__(a)


def eq(a, b):
    return _t(a) == b


def ne(a, b):
    return _t(a) != b


def lt(a, b):
    return _t(a) < b


def le(a, b):
    return _t(a) <= b


def gt(a, b):
    return _t(a) > b


def ge(a, b):
    return _t(a) >= b


def maximum(a, b):
    return apply_prim(P.maximum, (a, b), {})


def minimum(a, b):
    return apply_prim(P.minimum, (a, b), {})


def max(x, dim=None, keepdim=False):
    return _t(x).max(dim, keepdim)


def min(x, dim=None, keepdim=False):
    return _t(x).min(dim, keepdim)


def where(condition, x, y):
    return apply_prim(P.where, (condition, x, y), {})


def outer(a, b):
    a, b = _t(a), _t(b)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {a.ndim}-D" if a.ndim != 1 else
                           f"outer: Expected 1-D argument vec2, but got {b.ndim}-D")
    return a.reshape(-1, 1) * b


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("adcompiler.cat(): expected a non-empty list of Tensors")
    return apply_prim(P.concatenate, tuple(tensors), {"axis": dim})


concat = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shapes = {tuple(_t(x).shape) for x in tensors}
    if len(shapes) > 1:
        s = [list(_t(x).shape) for x in tensors]
        raise RuntimeError(f"stack expects each tensor to be equal size, but got {s[0]} at entry 0 and "
                           f"{next(x for x in s if x != s[0])} at entry {next(i for i, x in enumerate(s) if x != s[0])}")
    return apply_prim(P.stack, tuple(tensors), {"axis": dim})


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(to_array(a), to_array(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._make(np.isclose(to_array(a), to_array(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    a, b = to_array(a), to_array(b)
    return a.shape == b.shape and bool(np.all(a == b))


def is_tensor(x):
    return isinstance(x, Tensor)
