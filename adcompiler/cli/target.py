"""Naming a function and its argument types on the command line, shared by the commands
that compile one: `FILE::FUNC`, `--arg NAME=TYPE` and `--wrt NAME`."""
from __future__ import annotations

import importlib.util
import os
import sys

from ._registry import CLIError

__all__ = ["load_function", "parse_arg_specs", "wrt_names"]


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
            out[name] = parse_type(text)
        except ValueError:
            raise CLIError(f"bad --arg {spec!r}: types are f64, i64, bool, f32[3,4], (f64, i64), "
                           "none, opaque (array shapes must be given in full)") from None
    missing = [p for p, v in params.items() if p not in out and v.default is inspect.Parameter.empty]
    if missing:
        raise CLIError(f"missing --arg for parameter {missing[0]!r} (e.g. --arg {missing[0]}=f64[3])")
    return out


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
