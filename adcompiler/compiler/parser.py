"""Parser for the IR text form written by `printer.print_function`.

Tests and bug reports hold IR as text; `parse_function(print_function(f))`
gives back an equivalent function (print -> parse -> print is the identity).
"""
from __future__ import annotations

import re

import numpy as np

from .. import ops
from .attrs import parse_attrs, parse_literal
from .errors import IRParseError
from .ir import STRUCTURAL, Block, Function, Op, Value
from .types import parse_type, split_top

_FUNC = re.compile(r"^func @(\w+)\((.*)\) -> (.+) \{$")
_IF = re.compile(r"^if (%[\w.]+)$")
_FOR = re.compile(r"^for (%[\w.]+) = (%[\w.]+) to (%[\w.]+) step (%[\w.]+)(?: iter\((.*)\))?$")
_WHILE = re.compile(r"^while \((.*)\)$")
_FUSED = re.compile(r"^fused @(\w+)\((.*)\)$")
_DO = re.compile(r"^\} do \((.*)\) \{$")
_LOC = re.compile(r"^(.+):(\d+)$")


def _split_comment(line):
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i].strip(), line[i + 1:].strip()
    return line.strip(), ""


class _Parser:
    def __init__(self, text):
        self.lines = text.splitlines()
        self.values = {}
        self.active = set()
        self.lineno = 0

    def fail(self, msg):
        raise IRParseError(msg, self.lineno)

    # -- names -------------------------------------------------------------
    def use(self, name):
        name = name.strip()
        try:
            return self.values[name]
        except KeyError:
            self.fail(f"unknown value {name}")

    def uses(self, text):
        return [self.use(n) for n in split_top(text) if n.strip()]

    def define(self, name, value):
        name = name.strip()
        if not name.startswith("%"):
            self.fail(f"expected a value name, got {name!r}")
        if name in self.values:
            self.fail(f"value {name} is defined twice")
        base = name[1:].split(".")[0]
        value.hint = None if base.isdigit() else base
        self.values[name] = value
        return value

    def define_all(self, names, values):
        if len(names) != len(values):
            self.fail(f"{len(names)} names for {len(values)} values")
        for n, v in zip(names, values):
            self.define(n, v)

    # -- lines -------------------------------------------------------------
    def meta(self, comment):
        loc, active = None, []
        for part in (p.strip() for p in comment.split("|")):
            if part.startswith("active:"):
                active = [a.strip() for a in part[len("active:"):].split(",")]
            elif _LOC.match(part):
                m = _LOC.match(part)
                loc = (m.group(1), int(m.group(2)), 0)
        self.active.update(active)
        return loc

    def parse(self):
        stack = []      # (block, op, region index)
        fn = None
        for self.lineno, raw in enumerate(self.lines, 1):
            code, comment = _split_comment(raw)
            if not code:
                continue
            loc = self.meta(comment)
            if fn is None:
                fn = self.header(code, loc)
                stack.append((fn.body, None))
                continue
            if not stack:
                self.fail("text after the end of the function")
            block, op = stack[-1]
            if code == "}":
                stack.pop()
                continue
            if code == "} else {":
                if op is None or op.name != "if":
                    self.fail("'else' outside an if")
                stack[-1] = (op.regions[1], op)
                continue
            m = _DO.match(code)
            if m:
                if op is None or op.name != "while":
                    self.fail("'do' outside a while")
                body = op.regions[1]
                self.define_all(_names(m.group(1)), body.args)
                stack[-1] = (body, op)
                continue
            new = self.op(code, loc, block)
            block.ops.append(new)
            if new.regions:
                stack.append((new.regions[0], new))
        if fn is None:
            self.fail("no function")
        if stack:
            self.fail("unclosed region at the end of the text")
        for name in self.active:
            self.use(name).active = True
        return fn

    def header(self, code, loc):
        m = _FUNC.match(code)
        if not m:
            self.fail("expected 'func @name(...) -> type {'")
        params = []
        for p in split_top(m.group(2)):
            if not p.strip():
                continue
            pname, _, ptype = p.partition(":")
            params.append(self.define(pname, Value(self._type(ptype))))
        return Function(m.group(1), params, Block(), loc)

    def _type(self, text):
        try:
            return parse_type(text)
        except ValueError as e:
            self.fail(str(e))

    def op(self, code, loc, block):
        lhs, eq, rhs = code.partition(" = ") if re.match(r"^%[\w.]+(, %[\w.]+)* = ", code) else ("", "", code)
        names = _names(lhs)
        opening = rhs.endswith("{")
        if opening:
            rhs = rhs[:-1].rstrip()
        types = []
        if " : " in rhs:
            rhs, _, ttext = rhs.rpartition(" : ")
            types = [self._type(t) for t in split_top(ttext)]
        if len(types) != len(names):
            self.fail(f"{len(names)} results but {len(types)} types")
        kind, _, rest = rhs.partition(" ")
        if kind in ("yield", "condition", "return"):
            return Op(kind, self.uses(rest), loc=loc)
        if opening:
            return self.region_op(kind, rhs, names, types, loc)
        if kind in ("const", "full"):
            value = self.const(rest, types[0]) if kind == "const" else self.literal(rest)
            op = Op(kind, (), types, {"value": value}, loc=loc)
        else:
            operands, attrs = rest, {}
            brace = rest.find("{")
            if brace >= 0:
                operands, attrs = rest[:brace], self.attrs(rest[brace:])
            op = Op(kind, self.uses(operands), types, attrs, loc=loc)
            if kind not in STRUCTURAL and kind not in ops.registry:
                self.fail(f"unknown op {kind!r}")
        self.define_all(names, op.results)
        return op

    def attrs(self, text):
        try:
            return parse_attrs(text)
        except (ValueError, SyntaxError) as e:
            self.fail(f"bad attributes {text!r}: {e}")

    def literal(self, text):
        try:
            return parse_literal(text)
        except (ValueError, SyntaxError) as e:
            self.fail(f"bad constant {text!r}: {e}")

    def const(self, text, type_):
        v = self.literal(text)
        if type_.is_array:
            return np.asarray(v, dtype=type_.dtype).reshape(type_.shape)
        return v

    def region_op(self, kind, rhs, names, types, loc):
        if kind == "if":
            m = _IF.match(rhs)
            if not m:
                self.fail("expected 'if %cond ... {'")
            op = Op("if", [self.use(m.group(1))], types, regions=[Block(), Block()], loc=loc)
        elif kind == "for":
            m = _FOR.match(rhs)
            if not m:
                self.fail("expected 'for %i = %a to %b step %c [iter(...)] ... {'")
            carried = _pairs(m.group(5) or "")
            inits = [self.use(v) for _, v in carried]
            index_type = parse_type("i64")
            body = Block([index_type] + types)
            op = Op("for", [self.use(m.group(k)) for k in (2, 3, 4)] + inits, types, regions=[body], loc=loc)
            self.define_all([m.group(1)] + [a for a, _ in carried], body.args)
        elif kind == "while":
            m = _WHILE.match(rhs)
            if not m:
                self.fail("expected 'while (...) ... {'")
            carried = _pairs(m.group(1))
            cond, body = Block(types), Block(types)
            op = Op("while", [self.use(v) for _, v in carried], types, regions=[cond, body], loc=loc)
            self.define_all([a for a, _ in carried], cond.args)
        elif kind == "fused":
            m = _FUSED.match(rhs)
            if not m:
                self.fail("expected 'fused @name(%p = %v, ...) ... {'")
            bound = _pairs(m.group(2))
            operands = [self.use(v) for _, v in bound]
            body = Block([v.type for v in operands])
            op = Op("fused", operands, types, {"name": m.group(1)}, regions=[body], loc=loc)
            self.define_all([a for a, _ in bound], body.args)
        else:
            self.fail(f"{kind!r} has no regions")
        self.define_all(names, op.results)
        return op


def _names(text):
    return [n.strip() for n in text.split(",") if n.strip()]


def _pairs(text):
    out = []
    for part in _names(text):
        a, _, v = part.partition("=")
        out.append((a.strip(), v.strip()))
    return out


def parse_function(text):
    """Parse the text form of one function (see printer.py) into a Function."""
    return _Parser(text).parse()
