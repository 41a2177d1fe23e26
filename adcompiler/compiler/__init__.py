"""The source-transforming compiler: Python source -> typed structured SSA IR -> passes.

Entry points:
    compile_function(fn, arg_types) -> Function   specialise on IR types (cached)
    compile_for_args(fn, *args, **kw) -> Function  specialise on run-time values
    print_function(fn) / parse_function(text)      the IR text form
    Builder                                        emit IR (also via ops.* on IR values)
    optimize, constant_fold, cse, dce, activity    passes (IR -> IR); fuse: kernel regions
    UnsupportedSyntax                              what the front end cannot compile
"""
import importlib

# where each public name lives: imported on first use, so that loading a cached gradient (which
# needs ir and types, not the front end, the parser or libcst) stays fast
_HOME = {
    "Builder": "builder", "current_builder": "builder", "IRParseError": "errors", "UnsupportedSyntax": "errors",
    "compile_for_args": "frontend", "compile_function": "frontend",
    "Block": "ir", "Function": "ir", "Op": "ir", "Value": "ir", "clone": "ir", "verify": "ir", "walk": "ir",
    "parse_function": "parser", "activity": "passes", "active_values": "passes", "constant_fold": "passes",
    "cse": "passes", "dce": "passes", "fuse": "passes", "optimize": "passes", "print_function": "printer",
    "ArrayType": "types", "NoneType": "types", "OpaqueType": "types", "ScalarType": "types", "TupleType": "types",
    "parse_type": "types", "type_of_value": "types",
}
__all__ = list(_HOME)


def __getattr__(name):
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOME))
