"""The source-transforming compiler: Python source -> typed structured SSA IR -> passes.

Entry points:
    compile_function(fn, arg_types) -> Function   specialise on IR types (cached)
    compile_for_args(fn, *args, **kw) -> Function  specialise on run-time values
    print_function(fn) / parse_function(text)      the IR text form
    Builder                                        emit IR (also via ops.* on IR values)
    optimize, constant_fold, cse, dce, activity    passes (IR -> IR)
    UnsupportedSyntax                              what the front end cannot compile
"""
from .builder import Builder, current_builder
from .errors import IRParseError, UnsupportedSyntax
from .ir import Block, Function, Op, Value, clone, verify, walk
from .parser import parse_function
from .passes import activity, active_values, constant_fold, cse, dce, optimize
from .printer import print_function
from .types import (ArrayType, NoneType, OpaqueType, ScalarType, TupleType, parse_type, type_of_value)

__all__ = ["Builder", "current_builder", "IRParseError", "UnsupportedSyntax", "compile_for_args",
           "compile_function", "Block", "Function", "Op", "Value", "clone", "verify", "walk", "parse_function",
           "activity", "active_values", "constant_fold", "cse", "dce", "optimize", "print_function", "ArrayType",
           "NoneType", "OpaqueType", "ScalarType", "TupleType", "parse_type", "type_of_value"]


def __getattr__(name):
    # the front end imports libcst (~150 ms): only when something must be compiled
    if name in ("compile_for_args", "compile_function"):
        from . import frontend
        return getattr(frontend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
