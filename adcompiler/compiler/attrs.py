"""Text form of static values: op attributes (axis=0, idx=(slice(None, 3), Dyn(0)))
and constants. `format_literal` and `parse_literal` are inverses."""
from __future__ import annotations

import ast
import math

import numpy as np

from ..ops import Dyn
from ..ops.dims import Dim


def format_literal(v):
    """Python-like text for a static value (round-trips through parse_literal)."""
    if v is None or v is True or v is False or v is Ellipsis:
        return "..." if v is Ellipsis else repr(v)
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return _float(float(v))
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(format_literal(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ", ".join(format_literal(x) for x in v) + "]"
    if isinstance(v, slice):
        parts = [v.start, v.stop] + ([v.step] if v.step is not None else [])
        return "slice(" + ", ".join(format_literal(x) for x in parts) + ")"
    if isinstance(v, Dyn):
        return f"Dyn({v.k})"
    if isinstance(v, np.dtype):
        return f"dtype({v.name!r})"
    if isinstance(v, np.ndarray):
        return f"array({format_literal(v.tolist())}, {v.dtype.name!r})"
    if isinstance(v, Dim):        # a symbolic extent, by its expression (printed, not parsed back)
        return str(v)
    raise TypeError(f"cannot write {type(v).__name__} {v!r} in IR text")


def _float(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def format_attrs(attrs):
    """`{axis=0, keepdims=False}` (sorted keys), or '' when empty."""
    if not attrs:
        return ""
    return "{" + ", ".join(f"{k}={format_literal(attrs[k])}" for k in sorted(attrs)) + "}"


def parse_literal(text):
    return _eval(ast.parse(text.strip(), mode="eval").body)


def parse_attrs(text):
    """Inverse of format_attrs: '{axis=0}' -> {'axis': 0}."""
    text = text.strip()
    if not text:
        return {}
    assert text[0] == "{" and text[-1] == "}", text
    call = ast.parse(f"_({text[1:-1]})", mode="eval").body
    return {kw.arg: _eval(kw.value) for kw in call.keywords}


_NAMES = {"inf": math.inf, "nan": math.nan, "None": None, "True": True, "False": False}


def _eval(node):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_eval(e) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_eval(a) for a in node.args]
        name = node.func.id
        if name == "slice":
            return slice(*args)
        if name == "Dyn":
            return Dyn(*args)
        if name == "dtype":
            return np.dtype(*args)
        if name == "array":
            return np.array(args[0], dtype=args[1])
    raise ValueError(f"not a literal: {ast.unparse(node)}")
