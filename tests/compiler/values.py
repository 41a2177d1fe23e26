"""Argument values for corpus cases, drawn from their IR types (seeded)."""
import numpy as np

from adcompiler.compiler import parse_type


def sample(t, rng):
    if t.is_tuple:
        return tuple(sample(e, rng) for e in t.elems)
    if t.is_scalar:
        kind = t.dtype.kind
        return True if kind == "b" else 3 if kind in "iu" else float(rng.uniform(-1.0, 1.0))
    return rng.uniform(-1.0, 1.0, size=t.shape).astype(t.dtype)


def sample_args(case, seed=0):
    rng = np.random.default_rng(seed)
    return [case.values[name] if name in case.values else sample(parse_type(text), rng)
            for name, text in case.types.items()]
