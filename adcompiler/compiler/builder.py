"""Building IR: the `Builder` (insertion point + source location) and the
`bind` handler that makes IR values valid primitive arguments.

Inside `with Builder(block) as b:`, calling a primitive of the table on IR
values — `ops.mul(v, w)` or a VJP rule `prim.vjp_rule(0)(g, x, y, out)` —
appends ops to `b.block` and returns new Values. That is how the reverse-mode
transform emits adjoint code from the table's rules, with no second copy of a
derivative formula. Result types always come from `Primitive.abstract_eval`.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np

from .. import ops
from ..ops.dims import Dim
from .errors import UnsupportedSyntax
from .ir import Block, Op, Value
from .types import (NONE, ArrayType, ScalarType, TupleType, abstract_arg, from_abstract, type_of_value)

_local = threading.local()


def current_builder():
    """The innermost active Builder of this thread (or raise)."""
    stack = getattr(_local, "stack", None)
    if not stack:
        raise RuntimeError("IR values can only be used as primitive arguments inside `with Builder(...)`")
    return stack[-1]


class Builder:
    """Appends ops to `block` (the insertion point), stamping them with `loc`."""

    def __init__(self, block=None, loc=None):
        self.block = block if block is not None else Block()
        self.loc = loc

    def __enter__(self):
        if not hasattr(_local, "stack"):
            _local.stack = []
        _local.stack.append(self)
        return self

    def __exit__(self, *exc):
        _local.stack.pop()

    @contextmanager
    def at(self, block):
        """Temporarily insert into `block` (e.g. a region of an if/for/while)."""
        saved, self.block = self.block, block
        try:
            yield self
        finally:
            self.block = saved

    @contextmanager
    def located(self, loc):
        saved, self.loc = self.loc, loc
        try:
            yield self
        finally:
            self.loc = saved

    def add(self, op):
        if op.loc is None:
            op.loc = self.loc
        self.block.ops.append(op)
        return op

    # -- values ------------------------------------------------------------
    def const(self, value, hint=None):
        """A constant op; Python scalars stay weak (f64/i64/bool), NumPy values are arrays."""
        t = type_of_value(value)
        if isinstance(value, np.generic):
            value = np.asarray(value)
        if isinstance(t, TupleType):
            return self.tuple([self.const(v) for v in value], hint=hint)
        if not (t.is_scalar or t.is_array or t == NONE):
            raise TypeError(f"cannot make an IR constant of {type(value).__name__}")
        return self.add(Op("const", (), [t], {"value": value}, hints=[hint])).result

    def full(self, fill, type_, hint=None):
        return self.add(Op("full", (), [type_], {"value": fill}, hints=[hint])).result

    def zeros(self, type_, hint=None):
        """The zero of a type (a tuple of zeros for a tuple type, None for none/opaque)."""
        if type_.is_tuple:
            return self.tuple([self.zeros(t) for t in type_.elems], hint=hint)
        if type_.is_scalar:
            return self.const(type_.dtype.type(0).item(), hint=hint)
        if type_.is_array:
            return self.full(type_.dtype.type(0).item(), type_, hint=hint)
        return self.const(None, hint=hint)

    def value(self, x):
        """`x` as an IR Value (constants for Python scalars and NumPy values)."""
        return x if isinstance(x, Value) else self.const(x)

    def tuple(self, values, hint=None):
        values = [self.value(v) for v in values]
        return self.add(Op("tuple", values, [TupleType(v.type for v in values)], hints=[hint])).result

    def untuple(self, t, hints=None):
        return self.add(Op("untuple", [t], list(t.type.elems), hints=hints)).results

    def prim(self, prim, *args, hint=None, weak=True, **params):
        """Append a call of primitive `prim` (name or Primitive); the result type
        comes from the table's abstract_eval. A result of only weak-scalar
        arguments stays weak unless `weak=False` (NumPy functions return arrays)."""
        p = ops.get(prim) if isinstance(prim, str) else prim
        vals = [self.value(a) for a in args]
        for v in vals:
            if not (v.type.is_scalar or v.type.is_array):
                raise UnsupportedSyntax(f"{p.name}() got a value of type {v.type}")
        try:
            a = p.abstract_eval([abstract_arg(v.type) for v in vals], params)
        except Exception as e:   # a shape/dtype error NumPy would raise at run time
            raise UnsupportedSyntax(f"{p.name}: {_one_line(e)}") from None
        all_weak = all(v.type.is_scalar for v in vals)
        t = from_abstract(a, weak and all_weak)
        return self.add(Op(p.name, vals, [t], params, hints=[hint])).result

    # -- terminators -------------------------------------------------------
    def yield_(self, values):
        self.add(Op("yield", [self.value(v) for v in values]))

    def condition(self, c):
        self.add(Op("condition", [c]))

    def return_(self, v):
        self.add(Op("return", [self.value(v)]))


def _one_line(e):
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _bind_ir(prim, args, params):
    return current_builder().prim(prim, *args, **params)


ops.register_handler(Value, _bind_ir, 20)
ops.register_handler(Dim, _bind_ir, 19)     # a symbolic extent in a derivative rule's arithmetic (a const)


def fold(prim, values, params):
    """Evaluate `prim` on constant values with its NumPy forward (constant folding)."""
    with np.errstate(all="ignore"):
        return ops.get(prim).impl(*values, **params) if isinstance(prim, str) else prim.impl(*values, **params)


def const_value(result_type, raw):
    """A folded raw result as the constant for `result_type` (Python scalar when weak)."""
    if isinstance(result_type, ScalarType):
        return np.asarray(raw).astype(result_type.dtype).item()
    if isinstance(result_type, ArrayType):
        return np.asarray(raw, dtype=result_type.dtype).reshape(result_type.shape)
    return raw
