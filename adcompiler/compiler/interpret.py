"""A reference interpreter for the IR: runs a Function on NumPy values with the
table's forward implementations. Tests use it to check that the IR computes
what the Python function computes (before and after passes)."""
from __future__ import annotations

import numpy as np

from .. import ops


def interpret(fn, *args):
    """Run `fn` (an IR Function) on run-time arguments (its hidden inputs are read here
    when not given); returns its result."""
    if fn.hidden and len(args) == len(fn.params) - len(fn.hidden):
        args = tuple(args) + tuple(fn.hidden_values())
    if len(args) != len(fn.params):
        raise TypeError(f"{fn.name} takes {len(fn.params)} arguments, got {len(args)}")
    env = {id(p): a for p, a in zip(fn.params, args)}
    return _run(fn.body, env)[0]


def _run(block, env):
    for op in block.ops:
        name = op.name
        vals = [env[id(v)] for v in op.operands]
        if name in ("yield", "condition", "return"):
            return vals
        if name == "const":
            out = [op.attrs["value"]]
        elif name == "full":
            t = op.result.type
            fill = op.attrs["value"]
            out = [np.full(t.shape, fill, t.dtype) if t.is_array else t.dtype.type(fill).item()]
        elif name == "tuple":
            out = [tuple(vals)]
        elif name == "untuple":
            out = list(vals[0])
        elif name == "if":
            out = _region(op.regions[0 if vals[0] else 1], [], env)
        elif name == "for":
            carried = vals[3:]
            for i in range(int(vals[0]), int(vals[1]), int(vals[2])):
                carried = _region(op.regions[0], [i] + carried, env)
            out = carried
        elif name == "while":
            carried = vals
            cond, body = op.regions
            while _region(cond, carried, env)[0]:
                carried = _region(body, carried, env)
            out = carried
        else:
            with np.errstate(all="ignore"):
                out = [ops.get(name).impl(*vals, **op.attrs)]
            if op.result.type.is_scalar:
                out = [np.asarray(out[0]).item()]
        for r, v in zip(op.results, out):
            env[id(r)] = v
    raise ValueError("block without terminator")


def _region(block, args, env):
    for a, v in zip(block.args, args):
        env[id(a)] = v
    return _run(block, env)
