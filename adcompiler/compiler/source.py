"""Getting a function's own source as a libcst tree, with fast node positions.

`function_source(fn)` reads the source with inspect, dedents it, parses it
with libcst and records the (line, column) of every syntactic node in the
user's file coordinates. It is cached per code object, so specialising one
function for several signatures parses it once.

libcst's PositionProvider is accurate but slow (it records ranges for every
node through a generator-based context manager); `_PositionState` runs the
same code generation and keeps only start positions, about 4x faster.
"""
from __future__ import annotations

import inspect
import textwrap
import weakref

import libcst as cst
from libcst._nodes.internal import CodegenState

from .errors import UnsupportedSyntax


class FunctionSource:
    """A parsed function: its FunctionDef node, file, and node -> (line, col)."""
    __slots__ = ("node", "file", "positions", "line0", "col0")

    def __init__(self, node, file, positions, line0, col0):
        self.node, self.file = node, file
        self.positions, self.line0, self.col0 = positions, line0, col0

    def loc(self, node):
        """(file, line, col) of `node` in the user's file (col 0-based, as Python's)."""
        p = self.positions.get(node)
        if p is None:
            return (self.file, self.line0 + 1, self.col0)
        return (self.file, p[0] + self.line0, p[1] + self.col0)


class _Record:
    __slots__ = ("state", "node", "start_node", "pos")

    def __init__(self, state, node, start_node):
        self.state, self.node, self.start_node = state, node, start_node

    def __enter__(self):
        self.pos = (self.state.line, self.state.column)

    def __exit__(self, *exc):
        pos = self.state.positions
        pos[self.node] = pos[self.start_node] if self.start_node is not None else self.pos


class _PositionState(CodegenState):
    """Code generation that only tracks the start (line, col) of syntactic nodes."""

    def __init__(self, module):
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.line, self.column, self.positions = 1, 0, {}

    def add_indent_tokens(self):
        for t in self.indent_tokens:
            self.column += len(t)

    def add_token(self, value):
        n = value.count("\n")
        if n:
            self.line += n
            self.column = len(value) - value.rfind("\n") - 1
        else:
            self.column += len(value)

    def pop_trailing_newline(self):
        pass

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _Record(self, node, start_node)


def node_positions(module):
    """{node: (line, col)} for the syntactic nodes of a libcst Module (1-based lines)."""
    state = _PositionState(module)
    module._codegen(state)
    return state.positions


_cache = weakref.WeakKeyDictionary()   # code object -> FunctionSource (kept while the code lives)


def function_source(fn):
    """The parsed source of a Python function (cached per code object)."""
    code = getattr(fn, "__code__", None)
    hit = _cache.get(code) if code is not None else None
    if hit is not None:
        return hit
    name = getattr(fn, "__name__", repr(fn))
    file = code.co_filename if code else None
    line = code.co_firstlineno if code else None
    if code is None:
        raise UnsupportedSyntax(f"'{name}' is not a Python function (no source to compile)")
    if name == "<lambda>":
        raise UnsupportedSyntax("lambda functions are not supported (define the function with def)", file, line, 0)
    try:
        raw = inspect.getsource(fn)
    except (OSError, TypeError):
        raise UnsupportedSyntax(f"the source of '{name}' is not available", file, line, 0) from None
    first = raw.splitlines()[0] if raw else ""
    col0 = len(first) - len(first.lstrip())
    text = textwrap.dedent(raw)
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as e:
        raise UnsupportedSyntax(f"the source of '{name}' could not be parsed: {e.message}", file, line, 0) from None
    node = module.body[0] if module.body else None
    if not isinstance(node, cst.FunctionDef):
        raise UnsupportedSyntax(f"the source of '{name}' is not a def statement", file, line, 0)
    src = FunctionSource(node, file, node_positions(module), line - 1, col0)
    _cache[code] = src
    return src
