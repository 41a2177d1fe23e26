"""A reference interpreter for the IR: runs a Function on NumPy values with the
table's forward implementations. Tests use it to check that the IR computes
what the Python function computes (before and after passes), and it runs
adjoints (tapes included), so it is the oracle every backend is checked against.

Values are what the types say: a weak scalar (`f64`, `i64`, `bool`) is a Python
float/int/bool, an array type an ndarray (or NumPy scalar, for 0-d), a tuple a
tuple, a tape a `Tape`. With `check_types=True` every value an op makes is checked
against its IR type (dtype and shape exactly), and tapes against their capacity.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ops.dims import Dim, value_of
from .types import RANGE

_PY = {"f": float, "i": int, "u": int, "b": bool}


class Tape:
    """A tape at run time: a stack of entries (tuples of the pushed values), at most
    `capacity` of them when the tape's type gives one."""
    __slots__ = ("entries", "capacity")

    def __init__(self, capacity=None):
        self.entries = []
        self.capacity = capacity

    def push(self, values):
        if self.capacity is not None and len(self.entries) >= self.capacity:
            raise RuntimeError(f"tape_push beyond the tape's capacity {self.capacity}")
        self.entries.append(tuple(values))

    def pop(self, n):
        if not self.entries:
            raise RuntimeError("tape_pop from an empty tape")
        entry = self.entries.pop()
        if len(entry) != n:
            raise RuntimeError(f"tape_pop of {n} values from an entry of {len(entry)}")
        return list(entry)

    def __len__(self):
        return len(self.entries)

    def __repr__(self):
        return f"<Tape {len(self.entries)}/{self.capacity}>"


def interpret(fn, *args, check_types=False):
    """Run `fn` (an IR Function) on run-time arguments (its hidden inputs are read here
    when not given); returns its result."""
    if fn.hidden and len(args) == len(fn.params) - len(fn.hidden):
        args = tuple(args) + tuple(fn.hidden_values())
    if len(args) != len(fn.params):
        raise TypeError(f"{fn.name} takes {len(fn.params)} arguments, got {len(args)}")
    env = {id(p): a for p, a in zip(fn.params, args)}
    run = _Run(check_types)
    for sym, (k, axis) in fn.shape_symbols.items():     # a shape-generic function's extents (ops/dims.py)
        run.symbols[sym] = np.shape(args[k])[axis]
    return run.block(fn.body, env)[0]


class _Run:
    def __init__(self, check_types):
        self.check = check_types
        self.symbols = {}     # symbolic extents (ops/dims.py) -> their values in this run

    def concrete(self, x):
        """`x` (an attribute, a shape) with the symbolic extents in it replaced by their values."""
        if isinstance(x, Dim):
            return value_of(x, self.symbols)
        if isinstance(x, dict):
            return {k: self.concrete(v) for k, v in x.items()}
        if isinstance(x, (tuple, list)):
            return type(x)(self.concrete(i) for i in x)
        if isinstance(x, slice):
            return slice(self.concrete(x.start), self.concrete(x.stop), self.concrete(x.step))
        return x

    def block(self, block, env):
        for op in block.ops:
            name = op.name
            vals = [env[id(v)] for v in op.operands]
            if name in ("yield", "condition", "return"):
                return vals
            if name == "const":
                out = [self.concrete(op.attrs["value"])]
            elif name == "full":
                t = op.result.type
                fill = op.attrs["value"]
                out = [np.full(self.concrete(t.shape), fill, t.dtype) if t.is_array else t.dtype.type(fill).item()]
            elif name == "tuple":
                out = [tuple(vals)]
            elif name == "untuple":
                out = list(vals[0])
            elif name == "if":
                out = self.region(op.regions[0 if vals[0] else 1], [], env)
            elif name == "for":
                carried = vals[3:]
                for i in range(int(vals[0]), int(vals[1]), int(vals[2])):
                    carried = self.region(op.regions[0], [i] + carried, env)
                out = carried
            elif name == "while":
                carried = vals
                cond, body = op.regions
                while self.region(cond, carried, env)[0]:
                    carried = self.region(body, carried, env)
                out = carried
            elif name == "fused":
                out = self.region(op.regions[0], vals, env)
            elif name == "tape_new":
                cap = op.result.type.capacity
                out = [Tape(len(range(*(int(v) for v in vals))) if cap == RANGE else cap)]
            elif name == "tape_push":
                vals[0].push(vals[1:-1] if "list" in op.attrs else vals[1:])
                out = []
            elif name == "tape_stack":
                out = [np.stack([e[op.attrs.get("field", 0)] for e in vals[0].entries])]
                self.symbols[op.result.type.shape[0].expr[1]] = len(vals[0])
            elif name == "tape_pop":
                out = vals[0].pop(len(op.results))
            elif name == "tape_len":
                out = [len(vals[0])]
            else:
                with np.errstate(all="ignore"):
                    out = [ops.get(name).impl(*vals, **(self.concrete(op.attrs) if self.symbols else op.attrs))]
                t = op.result.type
                if t.is_scalar:
                    out = [np.asarray(out[0]).item()]
                elif t.is_array and not isinstance(out[0], (np.ndarray, np.generic)):
                    out = [np.asarray(out[0])]
            for r, v in zip(op.results, out):
                if self.check:
                    _check_value(v, r.type, op, self)
                env[id(r)] = v
        raise ValueError("block without terminator")

    def region(self, block, args, env):
        for a, v in zip(block.args, args):
            if self.check:
                _check_value(v, a.type, None, self)
            env[id(a)] = v
        return self.block(block, env)


def _check_value(v, t, op, run):
    if _fits(v, t, run):
        return
    what = f"{op.name} made" if op is not None else "a block argument got"
    raise TypeError(f"{what} {type(v).__name__} {getattr(v, 'dtype', '')}{list(np.shape(v)) if _arrayish(v) else ''}"
                    f" for a value of type {t}")


def _arrayish(v):
    return isinstance(v, (np.ndarray, np.generic))


def _fits(v, t, run):
    if t.is_scalar:
        return type(v) is _PY[t.dtype.kind]
    if t.is_array:
        return _arrayish(v) and v.dtype == t.dtype and v.shape == run.concrete(tuple(t.shape))
    if t.is_tuple:
        return isinstance(v, tuple) and len(v) == len(t.elems) and all(_fits(x, e, run) for x, e in zip(v, t.elems))
    if t.is_tape:
        return isinstance(v, Tape)
    return True
