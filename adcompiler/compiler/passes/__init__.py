"""Passes over the IR, each a function IR -> IR that leaves its input untouched.

    constant_fold(fn)     fold primitives of constants (by the table's impl), if on a constant
    cse(fn)               common-subexpression elimination, scoped by regions
    dce(fn)               dead ops, dead if results and dead loop-carried values
    activity(fn, wrt)     marks values that depend on `wrt` AND reach the output
    fuse(fn, accept)      runs of ops one native kernel can compute -> `fused` ops (not in
                          the pipeline: a backend runs it, `adc ir --fuse` shows it)

`PIPELINE` is the order `optimize` (and `adc ir --after`) runs them in.
"""
from .activity import activity, active_values
from .constfold import constant_fold
from .cse import cse
from .dce import dce
from .fuse import fuse

PIPELINE = [("fold", constant_fold), ("cse", cse), ("dce", dce)]
PASSES = dict(PIPELINE)


def optimize(fn, until=None):
    """Run the pipeline (up to and including the pass named `until`)."""
    for name, p in PIPELINE:
        fn = p(fn)
        if name == until:
            break
    return fn


__all__ = ["activity", "active_values", "constant_fold", "cse", "dce", "fuse", "optimize", "PIPELINE", "PASSES"]
