"""The stable text form of the IR (MLIR-like), one op per line:

    func @f(%x: f64[3], %n: i64) -> f64 {          # model.py:3
      %0 = const 0.0 : f64                          # model.py:4
      %acc.1 = for %i = %1 to %n step %2 iter(%acc.2 = %0) : f64 {   # model.py:5
        %3 = sum %x {axis=None, keepdims=False} : f64[]
        ...
        yield %acc.3
      }
      return %acc.1
    }

A `fused` op (passes/fuse.py) names its kernel and binds its block arguments
to its operands: `%a, %b = fused @f_k0(%x.1 = %x, %w.1 = %w) : f64[9], f64 {`.

Values keep the user's variable names (`%acc.2` is the third `acc`),
temporaries are numbered (`%3`). The trailing comment gives the source line
and, after activity analysis, the active values the line defines.
`parser.parse_function` reads this text back.
"""
from __future__ import annotations

import os

import numpy as np

from .attrs import format_attrs, format_literal

_PAD = 48


class Namer:
    """Gives every value a unique printed name in order of first appearance."""

    def __init__(self):
        self.names = {}
        self.counts = {}
        self.temps = 0

    def __call__(self, v):
        n = self.names.get(id(v))
        if n is None:
            if v.hint:
                k = self.counts.get(v.hint, 0)
                self.counts[v.hint] = k + 1
                n = f"%{v.hint}" if k == 0 else f"%{v.hint}.{k}"
            else:
                n = f"%{self.temps}"
                self.temps += 1
            self.names[id(v)] = n
        return n


def format_const(value, type_):
    if type_.is_array:
        return format_literal(np.asarray(value).tolist())
    return format_literal(value)


def print_function(fn):
    """The text form of `fn`."""
    name = Namer()
    lines = []

    def emit(depth, code, loc=None, defined=()):
        comment = _comment(loc, defined, name)
        text = "  " * depth + code
        lines.append(f"{text.ljust(_PAD)}  # {comment}" if comment else text)

    params = ", ".join(f"{name(p)}: {p.type}" for p in fn.params)
    emit(0, f"func @{fn.name}({params}) -> {fn.result_type} {{", fn.loc, fn.params)
    _print_block(fn.body, 1, emit, name)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _comment(loc, defined, name):
    parts = []
    if loc is not None and loc[0] is not None:
        parts.append(f"{os.path.basename(loc[0])}:{loc[1]}")
    active = [name(v) for v in defined if v.active]
    if active:
        parts.append("active: " + ", ".join(active))
    return " | ".join(parts)


def _results(op, name):
    return ", ".join(name(r) for r in op.results)


def _types(values):
    return ", ".join(str(v.type) for v in values)


def _print_block(block, depth, emit, name):
    for op in block.ops:
        _print_op(op, depth, emit, name)


def _print_op(op, depth, emit, name):
    args = ", ".join(name(v) for v in op.operands)
    lhs = f"{_results(op, name)} = " if op.results else ""
    rtypes = f" : {_types(op.results)}" if op.results else ""
    kind = op.name
    if kind in ("yield", "condition", "return"):
        emit(depth, f"{kind} {args}".rstrip(), op.loc)
    elif kind in ("const", "full"):
        emit(depth, f"{lhs}{kind} {format_const(op.attrs['value'], op.result.type)}{rtypes}", op.loc, op.results)
    elif kind == "if":
        emit(depth, f"{lhs}if {args}{rtypes} {{", op.loc, op.results)
        _print_block(op.regions[0], depth + 1, emit, name)
        emit(depth, "} else {")
        _print_block(op.regions[1], depth + 1, emit, name)
        emit(depth, "}")
    elif kind == "for":
        body = op.regions[0]
        start, stop, step = (name(v) for v in op.operands[:3])
        iv = name(body.args[0])
        carried = ", ".join(f"{name(a)} = {name(v)}" for a, v in zip(body.args[1:], op.operands[3:]))
        it = f" iter({carried})" if carried else ""
        emit(depth, f"{lhs}for {iv} = {start} to {stop} step {step}{it}{rtypes} {{", op.loc,
             op.results + body.args)
        _print_block(body, depth + 1, emit, name)
        emit(depth, "}")
    elif kind == "while":
        cond, body = op.regions
        carried = ", ".join(f"{name(a)} = {name(v)}" for a, v in zip(cond.args, op.operands))
        emit(depth, f"{lhs}while ({carried}){rtypes} {{", op.loc, op.results + cond.args)
        _print_block(cond, depth + 1, emit, name)
        emit(depth, f"}} do ({', '.join(name(a) for a in body.args)}) {{", None, body.args)
        _print_block(body, depth + 1, emit, name)
        emit(depth, "}")
    elif kind == "fused":
        body = op.regions[0]
        params = ", ".join(f"{name(a)} = {name(v)}" for a, v in zip(body.args, op.operands))
        emit(depth, f"{lhs}fused @{op.attrs['name']}({params}){rtypes} {{", op.loc, op.results + body.args)
        _print_block(body, depth + 1, emit, name)
        emit(depth, "}")
    else:   # primitive call, tuple, untuple
        parts = [kind] + [p for p in (args, format_attrs(op.attrs)) if p]
        emit(depth, lhs + " ".join(parts) + rtypes, op.loc, op.results)
