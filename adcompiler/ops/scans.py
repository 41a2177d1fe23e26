"""Orderings and scans: argsort and argpartition (not differentiable: sorted values are a
gather by them, see composites.sort), and cumsum, whose VJP is the reversed cumulative sum."""
from __future__ import annotations

import numpy as np

from .core import Abstract, Primitive, dtype_of, shape_of
from .indexing import getitem


def _int_shape(args, params):
    return Abstract(shape_of(args[0]), np.dtype(np.intp))


argsort = Primitive("argsort", lambda x, axis=-1, kind=None: np.asarray(np.argsort(x, axis=axis, kind=kind)),
                    differentiable=False, kind="other", numpy_name="argsort", shape_rule=_int_shape)
argpartition = Primitive("argpartition", lambda x, kth, axis=-1: np.asarray(np.argpartition(x, kth, axis=axis)),
                         differentiable=False, kind="other", shape_rule=_int_shape)


def _cumsum_shape(args, params):
    dt = dtype_of(args[0])
    return Abstract(shape_of(args[0]), np.dtype(np.int_) if dt.kind in "bi" else np.dtype(np.uint) if
                    dt.kind == "u" else dt)


def _reverse(x, axis):
    ax = axis % len(shape_of(x))
    return getitem(x, idx=(slice(None),) * ax + (slice(None, None, -1),))


cumsum = Primitive("cumsum", lambda x, axis: np.asarray(np.cumsum(x, axis=axis)), kind="other",
                   numpy_name="cumsum", shape_rule=_cumsum_shape, linear=True)
cumsum.defvjp(lambda g, x, out, axis: _reverse(cumsum(_reverse(g, axis), axis=axis), axis))

__all__ = ["argsort", "argpartition", "cumsum"]
