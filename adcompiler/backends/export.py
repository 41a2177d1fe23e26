"""A generated adjoint as a standalone Python module that needs only NumPy.

`g.source` is the code the NumPy tier runs, but it calls names adcompiler puts in its
namespace: `prim.<name>` for primitives NumPy has no single function for, `Dyn(k)` in index
templates, `python_scalar(...)`, and constants (`_c0`) that the source only describes in a
comment. `export_module` writes the same function (same emitter, same code) into a module
that defines all of them:

- `import math` / `import numpy as np` (and `import base64` for large constants);
- constants at the top: an array of up to LITERAL_MAX elements as an `np.array([...], dtype=...)`
  literal (floats by `repr`, which round-trips every float64 and float32 value; inf and nan as
  `float('inf')`), a larger one (or one a literal does not reproduce bit for bit, e.g. a nan
  with a payload) as base64 of its bytes; each is checked here to give back the same bytes;
- helpers: the NumPy forward of each primitive the code calls, copied as source text from the
  primitive table (ops/) together with what it reads from its module (functions, classes,
  constants, `import`s of NumPy and the standard library). The helper *is* the table's code
  (tests compare its bytecode with the table's), so it cannot drift. A forward that reads
  something that cannot be written as source raises ExportError naming it.

The exported function has the generated adjoint's signature: the function's parameters, then
its hidden inputs (globals and closure cells the compiled gradient reads on each call), which
the caller passes. It is the fast variant only: where the compiled gradient retries a call in
its strict variant (Python raised ZeroDivisionError, OverflowError or ValueError in scalar code
of a derivative rule, where NumPy gives inf or nan), the exported function raises.
"""
from __future__ import annotations

import ast
import base64
import builtins
import dis
import functools
import inspect
import keyword
import linecache
import os
import struct
import symtable
import sys
import textwrap
import types

import numpy as np

from .. import ops
from ..ops.dims import Dim
from . import python as python_backend

__all__ = ["export_module", "gradient_module", "helper_source", "helper_name", "ExportError", "LITERAL_MAX"]

LITERAL_MAX = 1000      # constants with more elements are written as base64 of their bytes

_RUNTIME = {"Dyn": ("adcompiler.ops.indexing", "Dyn"),
            "python_scalar": ("adcompiler.compiler.pysemantics", "python_scalar")}


class ExportError(Exception):
    """The gradient cannot be written as a standalone module; the message says why."""


# ---- the table's code as source text -------------------------------------------------

def _code_objects(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _code_objects(c)


def _same_code(a, b):
    """Whether code objects `a` and `b` compile the same source (bytecode and constants)."""
    if a.co_code != b.co_code or a.co_names != b.co_names or len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) != isinstance(y, types.CodeType):
            return False
        if isinstance(x, types.CodeType) and not _same_code(x, y):
            return False
        if not isinstance(x, types.CodeType) and (type(x) is not type(y) or x != y):
            if not (isinstance(x, float) and x != x and y != y):
                return False
    return True


@functools.lru_cache(maxsize=64)
def _parsed_cached(path, size, mtime):
    text = "".join(linecache.getlines(path))
    return text, (ast.parse(text) if text else None)


def _parsed(path):
    """(text, AST) of a source file, parsed once per version of the file."""
    try:
        st = os.stat(path)
    except OSError:
        return "", None
    return _parsed_cached(path, st.st_size, st.st_mtime_ns)


def _lambda_source(fn):
    """The text of lambda `fn` in its file (the lambda expression alone): the innermost lambda
    whose span holds every source position of `fn`'s bytecode."""
    code = fn.__code__
    text, tree = _parsed(code.co_filename)
    spots = [(i.positions.lineno, i.positions.col_offset) for i in dis.get_instructions(code)
             if i.positions.lineno is not None and i.positions.col_offset is not None
             and (i.positions.col_offset, i.positions.end_col_offset) != (0, 0)]   # RESUME, RETURN_VALUE
    found = []
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Lambda) and all(
                (node.lineno, node.col_offset) <= spot < (node.end_lineno, node.end_col_offset) for spot in spots):
            found.append(node)
    if not found or not spots:
        raise ExportError(f"the source of {fn.__qualname__} ({code.co_filename}:{code.co_firstlineno}) "
                          f"was not found")
    node = min(found, key=lambda n: ((n.end_lineno - n.lineno), n.end_col_offset - n.col_offset))
    return ast.get_source_segment(text, node)


def _global_names(source):
    """Names `source` (a module-level def, class or `_f = lambda ...`) reads as globals."""
    out = set()
    top = symtable.symtable(source, "<export>", "exec")
    stack = list(top.get_children())
    while stack:
        t = stack.pop()
        stack.extend(t.get_children())
        for sym in t.get_symbols():
            if sym.is_referenced() and (sym.is_global() or (t.get_type() == "class" and not sym.is_assigned()
                                                           and not sym.is_local())):
                out.add(sym.get_name())
    for sym in top.get_symbols():   # the module level of the snippet: a lambda's default values ...
        if sym.is_referenced() and not sym.is_assigned() and not sym.is_imported():
            out.add(sym.get_name())
    return sorted(out)


_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"math", "cmath", "operator", "functools",
                                                               "itertools", "warnings", "numbers"}


def _importable(module_name):
    root = module_name.split(".")[0]
    return root == "numpy" or root in _STDLIB


class _Helpers:
    """Module-level definitions (imports, constants, functions, classes) in dependency order."""

    def __init__(self):
        self.imports = {}      # name -> import line
        self.defs = {}         # name -> source text (ordered: dependencies first)
        self.owner = {}        # name -> the object it defines (one name, one object)
        self._busy = set()

    def _claim(self, name, obj, why):
        if hasattr(builtins, name):
            raise ExportError(f"{why}: the table's code defines {name!r}, the name of a built-in")
        had = self.owner.get(name, _MISSING)
        if had is not _MISSING and had is not obj and not (isinstance(obj, (int, float, str)) and had == obj):
            raise ExportError(f"{why}: two different definitions are called {name!r} in the table's modules")
        self.owner[name] = obj
        return had is not _MISSING

    def value(self, name, v, why, scope=None):
        """Make `name` mean `v` at module level (or raise ExportError); `scope`: the globals of the
        module that defines `name` (a memo whose name says so, `_CACHE = {}`, is written as its
        source starts it, empty, when what it holds now cannot be written)."""
        if isinstance(v, types.ModuleType):
            if not _importable(v.__name__):
                raise ExportError(f"{why}: reads module {v.__name__} (only NumPy and the standard library are "
                                  f"available to the exported module)")
            if self._claim(name, v, why):
                return
            mod = v.__name__
            self.imports[name] = f"import {mod}" if name == mod else f"import {mod} as {name}"
            return
        if isinstance(v, (types.FunctionType, type)):
            module = getattr(v, "__module__", "") or ""
            if module.split(".")[0] == "adcompiler":
                return self.function(name, v, why)
            if _importable(module) and getattr(sys.modules.get(module), v.__qualname__, None) is v:
                if not self._claim(name, v, why):
                    self.imports[name] = f"from {module} import {v.__qualname__} as {name}"
                return
            raise ExportError(f"{why}: reads {name} ({module}.{v.__qualname__}), which is not in NumPy or the "
                              f"standard library")
        spelled = _numpy_spelling(v)
        if spelled is not None:
            if not self._claim(name, v, why):
                self.value("np", np, why)
                self.defs[name] = f"{name} = {spelled}"
            return
        if isinstance(v, struct.Struct):
            if not self._claim(name, v, why):
                self.value("struct", struct, why)
                self.defs[name] = f"{name} = struct.Struct({v.format!r})"
            return
        text = _python_literal(v)
        if text is None and scope is not None and "cache" in name.lower():
            text = _assigned_literal(scope, name)
            text = text if text in ("{}", "[]", "dict()", "list()", "set()") else None
        if text is None:
            raise ExportError(f"{why}: reads {name} (a {type(v).__name__}), which export cannot write as source")
        if not self._claim(name, v, why):
            self.defs[name] = f"{name} = {text}"

    def function(self, name, fn, why):
        """Define function or class `fn` under `name`, after what it reads."""
        if id(fn) in self._busy:
            return
        if self._claim(name, fn, why):
            return
        own = _own_name(fn)
        if own != name and own != "<lambda>" and not getattr(fn, "__closure__", None):
            self._claim(own, fn, why)          # the def binds its own name too (a closure's, inside its maker)
        self._busy.add(id(fn))
        try:
            if isinstance(fn, type):
                source = textwrap.dedent(inspect.getsource(fn))
                scope, cells = vars(sys.modules[fn.__module__]), {}
            else:
                source = _lambda_source(fn) if own == "<lambda>" else textwrap.dedent(inspect.getsource(fn))
                scope, cells = fn.__globals__, _cells(fn)
            if source.lstrip().startswith("@"):
                raise ExportError(f"{why}: {fn.__qualname__} is decorated")
            snippet = f"_f = {source}" if own == "<lambda>" else source
            for dep in _global_names(snippet):
                if dep in cells or dep == name and scope.get(dep) is fn:
                    continue
                if dep in scope:
                    self.value(dep, scope[dep], why, scope)
                elif not hasattr(builtins, dep):
                    raise ExportError(f"{why}: {fn.__qualname__} reads {dep}, which is not defined")
            for cell, v in cells.items():   # a closure's cells: module-level values the maker binds
                self.value(f"_{name}_{cell}", v, why)
            self.defs[name] = _definition(name, fn, source, cells)
        finally:
            self._busy.discard(id(fn))

    def text(self):
        return list(self.imports.values()), list(self.defs.values())


_MISSING = object()


def _own_name(fn):
    """The name a function's or class's source binds (a function's __name__ may have been changed)."""
    return fn.__name__ if isinstance(fn, type) else fn.__code__.co_name


def _cells(fn):
    if not fn.__closure__:
        return {}
    try:
        return {n: c.cell_contents for n, c in zip(fn.__code__.co_freevars, fn.__closure__)}
    except ValueError:
        raise ExportError(f"{fn.__qualname__} has an empty closure cell") from None


def _definition(name, fn, source, cells):
    """`source` (a def, class or lambda of `fn`) as a module-level definition of `name`."""
    own = _own_name(fn)
    is_lambda = own == "<lambda>"
    if not cells:
        if is_lambda:
            return f"{name} = {source}"
        return source.rstrip() + ("" if own == name else f"\n\n\n{name} = {own}")
    body = [f"    {c} = _{name}_{c}" for c in cells]
    body += textwrap.indent(f"_f = {source}" if is_lambda else source.rstrip(), "    ").splitlines()
    body.append(f"    return {'_f' if is_lambda else own}")
    return f"def _make_{name}():\n" + "\n".join(body) + f"\n\n\n{name} = _make_{name}()"


def _numpy_spelling(v):
    """`np.<name>` (or np.linalg.<name>) for a NumPy function, ufunc or type; None otherwise."""
    if isinstance(v, np.dtype):
        return f"np.dtype({v.str!r})"
    if isinstance(v, (str, int, float, bool, tuple, list, dict, type(None))):
        return None
    for attr in (getattr(v, "__name__", None), getattr(v, "name", None)):
        if isinstance(attr, str):
            for path, ns in (("np", np), ("np.linalg", np.linalg), ("np.fft", np.fft)):
                if getattr(ns, attr, None) is v:
                    return f"{path}.{attr}"
    return None


def _assigned_literal(scope, name):
    """The source text of `name = <literal>` at the top level of the module of `scope`, or None."""
    path = scope.get("__file__")
    text, tree = _parsed(path) if path else ("", None)
    if tree is None:
        return None
    found = None
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                if found is not None:
                    return None                 # assigned twice: the runtime value decides
                found = node.value
    if found is None:
        return None
    try:
        ast.literal_eval(found)
    except ValueError:
        return None
    return ast.get_source_segment(text, found)


def _python_literal(v):
    """Source text for a plain Python constant that evaluates back to an equal value, or None."""
    if isinstance(v, float):
        return python_backend._literal(v)
    if v is None or isinstance(v, (bool, int, str, bytes)):
        return repr(v)
    if isinstance(v, (tuple, list, frozenset, set)):
        items = [_python_literal(x) for x in v]
        if any(t is None for t in items):
            return None
        if isinstance(v, tuple):
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(v, list):
            return "[" + ", ".join(items) + "]"
        return f"{type(v).__name__}([{', '.join(items)}])"
    if isinstance(v, dict):
        items = [(_python_literal(k), _python_literal(x)) for k, x in v.items()]
        if any(a is None or b is None for a, b in items):
            return None
        return "{" + ", ".join(f"{a}: {b}" for a, b in items) + "}"
    return None


def helper_name(name):
    """The exported module's name for primitive `name`'s helper (not a builtin's name)."""
    return f"{name}_" if hasattr(builtins, name) or keyword.iskeyword(name) else name


def helper_source(name):
    """(helper's name, [import lines], [definitions]) for primitive `name`'s NumPy forward:
    the table's own code; ExportError when it reads something that cannot be written as source."""
    h = _Helpers()
    impl = ops.registry[name].impl
    call = helper_name(name)
    h.value(call, impl, f"primitive {name!r}")
    imports, defs = h.text()
    return call, imports, defs


# ---- constants ---------------------------------------------------------------------

def _array_literal(a):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ExportError(f"a constant of dtype {a.dtype} cannot be written as source")
    dtype = f"np.{a.dtype.name}" if a.dtype.isnative and hasattr(np, a.dtype.name) else f"np.dtype({a.dtype.str!r})"
    if a.size <= LITERAL_MAX:
        text = f"np.array({_nested(a.tolist())}, dtype={dtype})"
        if a.size == 0:
            text = f"np.zeros({a.shape!r}, dtype={dtype})"
        if _same_bytes(_eval_constant(text), a):
            return text, False
    data = base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")
    text = (f"np.frombuffer(base64.b64decode({data!r}), dtype=np.dtype({a.dtype.str!r}))"
            f".reshape({a.shape!r}).copy()")
    if not _same_bytes(_eval_constant(text), a):
        raise ExportError(f"a constant of shape {a.shape} and dtype {a.dtype} does not round-trip")
    return text, True


def _nested(x):
    if isinstance(x, list):
        return "[" + ", ".join(_nested(v) for v in x) + "]"
    return python_backend._literal(x)


def _eval_constant(text):
    return eval(text, {"np": np, "base64": base64, "float": float, "__builtins__": {}})


def _same_bytes(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ---- the module ----------------------------------------------------------------------

def export_module(fn, doc):
    """The text of a standalone module defining IR function `fn` (an adjoint) under its name,
    with `doc` (a paragraph or several) as the module docstring."""
    used = {}

    def prim_ref(name):
        used.setdefault(name, None)
        return helper_name(name)

    python_backend.emit_source(fn, prim_ref=prim_ref)           # which primitives it calls
    helpers = _Helpers()
    for name in used:
        helpers.value(helper_name(name), ops.registry[name].impl, f"primitive {name!r}")
    source, consts = python_backend.emit_source(fn, prim_ref=prim_ref,
                                                reserved=set(helpers.owner) | set(_RUNTIME), entry_check=True)
    for name, (module, attr) in _RUNTIME.items():
        if f"{name}(" in source:
            helpers.function(name, getattr(__import__(module, fromlist=[attr]), attr), f"{name}()")
    lines = source.splitlines()
    if len(lines) > 1 and lines[1].startswith("    # constants: "):
        del lines[1]                                              # defined at the top of the module
    const_lines, needs_b64 = [], False
    for k, v in consts.items():
        text, b64 = _array_literal(v)
        needs_b64 |= b64
        const_lines.append(f"{k} = {text}")
    clash = (set(consts) | {python_backend.identifier(fn.name)}) & set(helpers.owner)
    if clash:
        raise ExportError(f"constant and helper names clash: {', '.join(sorted(clash))}")
    imports, defs = helpers.text()
    top = ["import math", "import numpy as np"] + (["import base64"] if needs_b64 else [])
    top += [i for i in imports if i not in ("import math", "import numpy as np")]
    out = ['"""' + doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').rstrip() + '\n"""', ""]
    out += top + [""]
    if const_lines:
        out += ["# constants of the generated code, exact to the bit"] + const_lines + [""]
    if defs:
        out += ["", "# helpers: the NumPy forward of primitives NumPy has no single function for, copied from",
                "# adcompiler's primitive table (adcompiler/ops/)", ""]
        for d in defs:
            out += [d, "", ""]
    else:
        out += [""]
    out += lines
    return "\n".join(out).rstrip() + "\n"


def gradient_module(fn, forward_ir, adjoint_ir, wrt, with_value=False, has_aux=False):
    """The standalone module of the adjoint of user function `fn`: `adjoint_ir` (from `forward_ir`,
    differentiated with respect to the parameters named in `wrt`), with a docstring saying what
    its function takes and returns."""
    from .. import __version__
    name = python_backend.identifier(adjoint_ir.name)
    n_user = len(adjoint_ir.params) - len(forward_ir.hidden)
    params = [p.hint for p in adjoint_ir.params]
    where = ""
    code = getattr(fn, "__code__", None)
    if code is not None:
        where = f" ({code.co_filename}:{code.co_firstlineno})"
    returns = (["the function's value"] if with_value else []) + (["aux"] if has_aux else []) + \
        [f"d/d{w}" for w in wrt]
    lines = [f"The gradient of {getattr(fn, '__qualname__', name)}{where}, exported by adcompiler {__version__}.",
             "", "Runs with NumPy alone (no adcompiler):", "",
             f"    {name}({', '.join(params)}) -> ({', '.join(returns)}{',' if len(returns) == 1 else ''})", "",
             "Parameters, with the types this gradient was compiled for (other shapes or dtypes need a",
             "new export):"]
    for k, p in enumerate(adjoint_ir.params):
        line = f"    {p.hint}: {p.type}"
        if k >= n_user:
            h = forward_ir.hidden[k - n_user]
            line += (f" -- a hidden input: the value of `{h.ref.text()}`, which {getattr(fn, '__name__', 'the function')} "
                     f"reads from outside itself (a global or a closure variable); adcompiler reads it on each "
                     f"call, here the caller passes it")
        lines.append(line)
    env = next((d.env for p in adjoint_ir.params if p.type.is_array for d in p.type.shape if isinstance(d, Dim)), None)
    if env is not None:
        lines += ["", "Symbolic extents, read from the arguments on each call (a call outside these conditions",
                  f"needs a new export): {env.describe()}"]
    lines += ["", "The gradients come back as the generated code computes them: a float argument's gradient may",
              "be a NumPy scalar, an array's may be broadcast or of a wider dtype; adcompiler.grad returns",
              "float(d) and np.array(np.broadcast_to(d, x.shape), dtype=x.dtype).",
              "",
              "Everything adcompiler compiled in as a constant (literals, and module globals and closure",
              "values it checks on each call and recompiles for when they change) is frozen here at its value",
              "at export time. Where adcompiler's gradient re-runs a call with NumPy's inf/nan semantics",
              "(Python raised ZeroDivisionError, OverflowError or ValueError in a derivative rule's scalar",
              "code), this function raises."]
    return export_module(adjoint_ir, "\n".join(lines))

