"""Joining primitives: concatenate (torch.cat) and stack, whose VJP rules slice
the cotangent back into the pieces."""
from __future__ import annotations

import numpy as np

from .core import Abstract, Primitive, dtype_of, shape_of
from .dims import shape_text
from .indexing import getitem


def _axis(axis, ndim):
    return axis % ndim if ndim else 0


def _cat_piece(i, g, *rest, axis=0):
    xs = rest[:-1]
    ax = _axis(axis, len(shape_of(xs[0])))
    start = sum(shape_of(x)[ax] for x in xs[:i])
    stop = start + shape_of(xs[i])[ax]
    return getitem(g, idx=(slice(None),) * ax + (slice(start, stop),))


def _stack_piece(i, g, *rest, axis=0):
    ax = _axis(axis, len(shape_of(g)))
    return getitem(g, idx=(slice(None),) * ax + (i,))


concatenate = Primitive("concatenate", lambda *xs, axis=0: np.concatenate(xs, axis=axis),
                        grad_fn="CatBackward0", kind="other", linear=True).defvjp_argnum(_cat_piece)
stack = Primitive("stack", lambda *xs, axis=0: np.stack(xs, axis=axis), kind="other",
                  linear=True).defvjp_argnum(_stack_piece)



def _joined_dtype(xs):
    return np.result_type(*[dtype_of(x) if hasattr(x, "dtype") else x for x in xs])


def _concatenate_dims(xs, params):
    shapes = [shape_of(x) for x in xs]
    ndim = len(shapes[0])
    if not ndim or any(len(sh) != ndim for sh in shapes):
        return None
    ax = _axis(params.get("axis", 0), ndim)
    out = list(shapes[0])
    for sh in shapes[1:]:
        for k in range(ndim):
            if k != ax and not sh[k] == out[k]:
                raise ValueError(f"all the input array dimensions except for the concatenation axis must match "
                                 f"exactly ({shape_text(shapes[0])} and {shape_text(sh)})")
        out[ax] = out[ax] + sh[ax]
    return Abstract(tuple(out), _joined_dtype(xs))


def _stack_dims(xs, params):
    shapes = [shape_of(x) for x in xs]
    if any(not sh == shapes[0] for sh in shapes[1:]):
        raise ValueError("all input arrays must have the same shape")
    ax = _axis(params.get("axis", 0), len(shapes[0]) + 1)
    out = list(shapes[0])
    out.insert(ax, len(xs))
    return Abstract(tuple(out), _joined_dtype(xs))


concatenate.dims_rule = _concatenate_dims
stack.dims_rule = _stack_dims

__all__ = ["concatenate", "stack"]
