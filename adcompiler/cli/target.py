"""Naming a function and its argument types on the command line, shared by the commands
that compile one: `FILE::FUNC`, `--arg NAME=TYPE` and `--wrt NAME`."""
from __future__ import annotations

import importlib.util
import os
import re
import sys

from ._registry import CLIError

__all__ = ["load_function", "parse_arg_specs", "shape_env", "wrt_names"]


def load_function(target):
    """'path/to/file.py::func' -> the function object (CLIError when it cannot be found)."""
    path, sep, name = target.rpartition("::")
    if not sep or not path or not name:
        raise CLIError(f"expected path/to/file.py::function, got {target!r}")
    if not os.path.isfile(path):
        raise CLIError(f"no such file: {path}")
    try:
        module = _import_file(os.path.abspath(path))
    except Exception as e:
        raise CLIError(f"cannot import {path}: {type(e).__name__}: {e}") from None
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        raise CLIError(f"no function {name!r} in {path}")
    return fn


def _import_file(path):
    """Import a file; inside a package (folders with __init__.py) as its dotted
    module, so relative imports work; else as a standalone module."""
    parts = [os.path.splitext(os.path.basename(path))[0]]
    folder = os.path.dirname(path)
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parts.insert(0, os.path.basename(folder))
        folder = os.path.dirname(folder)
    if len(parts) > 1:
        if folder not in sys.path:
            sys.path.insert(0, folder)
        return importlib.import_module(".".join(parts))
    name = "_adc_user_" + parts[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def parse_arg_specs(specs, fn):
    """['x=f64[3]', 'n=i64'] -> {name: IR type}, checked against fn's parameters."""
    import inspect

    from ..compiler.types import parse_type
    params = inspect.signature(fn).parameters
    out = {}
    for spec in specs or ():
        name, eq, text = spec.partition("=")
        name = name.strip()
        if not eq or not name:
            raise CLIError(f"bad --arg {spec!r}: expected NAME=TYPE, e.g. x=f64[3] or n=i64")
        if name not in params:
            raise CLIError(f"bad --arg {spec!r}: {fn.__name__}() has no parameter {name!r}")
        try:
            out[name] = _symbolic_array(name, text, out) or parse_type(text)
        except ValueError:
            raise CLIError(f"bad --arg {spec!r}: types are f64, i64, bool, f32[3,4], f64[:, 4] or f64[n, 4] "
                           "(extents of any size; one name, one extent), (f64, i64), none, opaque") from None
    missing = [p for p, v in params.items() if p not in out and v.default is inspect.Parameter.empty]
    if missing:
        raise CLIError(f"missing --arg for parameter {missing[0]!r} (e.g. --arg {missing[0]}=f64[3])")
    return out


_SYMBOLIC = re.compile(r"^([a-z][a-z0-9]*)\[([0-9a-zA-Z_:,\s]*[a-zA-Z_:][0-9a-zA-Z_:,\s]*)\]$")
_HINT = 1009      # the value a symbolic extent is compiled with: decisions on it become guards


def _symbolic_array(name, text, earlier):
    """`f64[:, 4]` / `f64[n, 4]` -> an array type whose `:` extents are symbols (ops/dims.py; a
    name such as `n` is one symbol wherever it appears), one ShapeEnv for all the --arg types of a
    command; None for any other text."""
    m = _SYMBOLIC.match(text.strip())
    if not m:
        return None
    from ..compiler.types import ArrayType, parse_dtype
    from ..ops.dims import ShapeEnv
    env = shape_env(earlier) or ShapeEnv()
    named = env.cli_names
    dims = []
    for axis, d in enumerate(p.strip() for p in m.group(2).split(",")):
        if d.isdigit():
            dims.append(int(d))
        elif d == ":" or d.isidentifier():
            sym = named.get(d) if d != ":" else None
            if sym is None:
                sym = env.symbol(_HINT + 2 * len(env.symbols), [(name, axis)])
                if d != ":":
                    named[d] = sym
            else:
                env.symbols[sym.expr[1]].append((name, axis))
            dims.append(sym)
        else:
            raise ValueError(text)
    return ArrayType(parse_dtype(m.group(1)), dims)


def shape_env(types):
    """The ShapeEnv of the symbolic extents among `types` (name -> IR type), or None."""
    from ..ops.dims import Dim
    for t in types.values():
        for d in getattr(t, "shape", ()) if getattr(t, "is_array", False) else ():
            if isinstance(d, Dim):
                return d.env
    return None


def wrt_names(specs, types, default_first=False):
    """--wrt values (repeatable, comma-separated) -> parameter names, each given with --arg;
    with `default_first`, no --wrt means the first parameter."""
    names = [w for spec in specs or () for w in spec.split(",") if w]
    if default_first:
        names = names or [next(iter(types), None)]
    bad = [w for w in names if w not in types]
    if bad:
        raise CLIError(f"--wrt {bad[0]!r} is not a parameter given with --arg")
    return names
