"""The eager paths of the functional transforms (transforms.py): the user's NumPy function run
by the tracer on Tensors, differentiated by the engine (torch.autograd.functional's methods).

Used where the compiler refuses the function; the derivative rules are the table's either way.
"""
from __future__ import annotations

import numpy as np

from . import tracing
from .autograd import engine, functional, grad_mode
from .tensor import Tensor

__all__ = ["hvp", "jvp", "vjp"]


def _setup(fn, args, nums):
    """(leaves, f): leaves for args[nums], and f(*leaves) -> fn's output as a Tensor."""
    leaves = [tracing._to_leaf(args[i], f"argument {i}", False) for i in nums]
    run = tracing.traceable(fn)

    def f(*ls):
        a = list(args)
        for i, leaf, orig in zip(nums, ls, leaves):
            a[i] = _traced(leaf, orig)
        out = run(*a)
        return out if isinstance(out, Tensor) else Tensor._make(np.asarray(out, dtype=np.float64))
    return leaves, f


def _traced(t, leaf):
    """`t` (a Tensor the functional API made from `leaf`) as a TracedArray connected to it, so the
    user's NumPy code sees NumPy methods (`x.max(axis=1)`); a float argument stays a scalar."""
    if not isinstance(t, tracing.TracedArray):
        t = t + tracing.TracedArray._make(np.zeros((), t._data.dtype))
    if leaf.__dict__.get("_np_scalar"):
        t._np_scalar = True
    return t


def _plain(t, like):
    arr = t.detach()._data if isinstance(t, Tensor) else np.asarray(t)
    if not isinstance(like, np.ndarray) and np.ndim(arr) == 0:
        return float(arr)
    return np.array(arr, dtype=np.asarray(like).dtype if isinstance(like, np.ndarray) else arr.dtype)


class _Tracing:
    def __enter__(self):
        tracing._state.depth += 1

    def __exit__(self, *exc):
        tracing._state.depth -= 1


def jvp(fn, args, nums, tangents):
    leaves, f = _setup(fn, args, nums)
    v = tuple(Tensor._make(np.array(t, dtype=leaf._data.dtype).reshape(leaf.shape)) for t, leaf in zip(tangents, leaves))
    with _Tracing():
        out, dot = functional.jvp(f, tuple(leaves), v)
    return _plain(out, out._data), _plain(dot, out._data)


def vjp(fn, args, nums, ct):
    leaves, f = _setup(fn, args, nums)
    with _Tracing(), grad_mode.enable_grad():
        out = f(*leaves)
        if not out.requires_grad:
            grads = [None] * len(leaves)
        else:
            grads = engine.grad([out], leaves, [Tensor._make(np.asarray(ct, dtype=out._data.dtype))],
                                allow_unused=True)
    return tuple(_plain(g, args[i]) if g is not None else _plain(np.zeros(np.shape(args[i])), args[i])
                 for g, i in zip(grads, nums))


def hvp(fn, args, i, v):
    leaves, f = _setup(fn, args, (i,))
    vt = Tensor._make(np.array(v, dtype=leaves[0]._data.dtype).reshape(leaves[0].shape))
    with _Tracing():
        _, hv = functional.hvp(f, leaves[0], vt)
    return _plain(hv, args[i])
