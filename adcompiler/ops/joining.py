"""Joining primitives: concatenate (torch.cat) and stack, whose VJP rules slice
the cotangent back into the pieces."""
from __future__ import annotations

import numpy as np

from .core import Primitive, shape_of
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

__all__ = ["concatenate", "stack"]
