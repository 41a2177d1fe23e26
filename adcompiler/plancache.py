"""The disk cache of compiled gradients: a new process that calls a gradient compiled before (by
any process) skips libcst, the front end and the passes.

Key: sha256 of the entry format, a fingerprint of adcompiler's own source files, the Python and
NumPy versions, the function's module, name and code object (its bytecode, constants and line
numbers), and the specialisation (argument types, the arguments differentiated, value/aux flags).

Entry: the forward and adjoint IR, pickled without their guards and hidden inputs, and those in
portable form — each `Ref`'s root named by where it is found from the function (its globals, a
closure cell, a module, a helper function it calls), each value compiled in by identity named by
what it is (a code object or function by a hash of its code, a module by name, a NumPy function by
module and name). A loaded entry is used only when every guard holds for the objects of this
process; otherwise the function is compiled as usual and the entry is replaced. A function with a
constant that cannot be named this way (an arbitrary object compiled in by identity) is not stored.
The store itself (atomic writes, checksums, ADCOMPILER_CACHE=0) is diskcache.py.
"""
from __future__ import annotations

import hashlib
import pickle
import sys
import types
import weakref

import numpy as np

from .diskcache import DiskStore, package_fingerprint

__all__ = ["load", "store", "stats"]

_FORMAT = 1
_STORE = DiskStore("grad", b"ADCGRAD1\n", ".pkl")
stats = _STORE.stats
stats["stale"] = 0
_PLAIN_SIGNATURES = frozenset({"array", "tensor", "float", "int", "bool", "str", "tuple", "list"})


_CODE_FIELDS = ("co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_filename", "co_name",
                "co_qualname", "co_firstlineno", "co_linetable", "co_exceptiontable", "co_argcount",
                "co_posonlyargcount", "co_kwonlyargcount", "co_flags")


def _code_hash(code):
    """A fingerprint of a code object that is the same in every process (marshal's bytes are not:
    they depend on reference counts at the time of the call)."""
    h = hashlib.sha256()

    def const(k):
        if isinstance(k, types.CodeType):
            feed(k)
        elif isinstance(k, (tuple, frozenset)):
            h.update(f"<{type(k).__name__}:{len(k)}>".encode())
            for x in (k if isinstance(k, tuple) else sorted(k, key=repr)):
                const(x)
        else:
            h.update(f"{type(k).__name__}:{k!r}\0".encode())

    def feed(c):
        for name in _CODE_FIELDS:
            h.update(f"{name}={getattr(c, name, None)!r}\0".encode())
        for k in c.co_consts:
            const(k)

    feed(code)
    return h.hexdigest()


def _plain(sig):
    """Whether an api.signature_key says all the compiled code depends on (no object arguments)."""
    if not sig or sig[0] not in _PLAIN_SIGNATURES:
        return False
    return all(_plain(s) for s in sig[1:]) if sig[0] in ("tuple", "list") else True


def key(fn, signature, paths, with_value, has_aux):
    """The entry's key, or None when this call is not cached (not a plain function, or an argument
    whose compiled form may depend on more than its type)."""
    if not isinstance(fn, types.FunctionType) or not all(_plain(s) for _, s in signature):
        return None
    h = hashlib.sha256()
    for part in (_FORMAT, package_fingerprint(), sys.version, np.__version__, fn.__module__, fn.__qualname__,
                 _code_hash(fn.__code__), repr(signature), repr(paths), with_value, has_aux):
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


# ---- portable guards and hidden inputs ---------------------------------------------------------

def _function_parts(f):
    """(root object, part) pairs a function's Refs may start from."""
    yield weakref.ref(f), "weak"
    yield f.__globals__, "globals"
    for i, cell in enumerate(f.__closure__ or ()):
        yield cell, ("cell", i)


def _portable_root(root, fn, helpers):
    target = root() if isinstance(root, weakref.ref) else root
    for base, f in [(None, fn)] + [(r, h) for h, r in helpers.values()]:
        for obj, part in _function_parts(f):
            if (obj() if isinstance(obj, weakref.ref) else obj) is target:
                return ("fn", base, part)
    if isinstance(root, dict):
        name = root.get("__name__")
        mod = sys.modules.get(name) if isinstance(name, str) else None
        if mod is not None and getattr(mod, "__dict__", None) is root:
            return ("module", name)
    return None


def _portable_ref(ref, fn, helpers):
    root = _portable_root(ref.root, fn, helpers)
    return None if root is None else (root, ref.steps)


def _portable_expected(v):
    from .compiler.external import snapshot
    if isinstance(v, types.CodeType):
        return ("code", _code_hash(v))
    if isinstance(v, types.FunctionType):
        return ("function", _code_hash(v.__code__))
    if isinstance(v, types.ModuleType):
        return ("module", v.__name__)
    snap = snapshot(v)
    if _no_identity(snap):
        return ("value", snap)
    mod, name = getattr(v, "__module__", None), getattr(v, "__qualname__", None) or getattr(v, "__name__", None)
    if isinstance(mod, str) and isinstance(name, str) and _named(mod, name) is v:
        return ("named", mod, name)
    if isinstance(v, np.ufunc) and getattr(np, v.__name__, None) is v:
        return ("named", "numpy", v.__name__)
    return None


def _no_identity(snap):
    """Whether a snapshot (external.snapshot) holds values only, no object compared by identity."""
    kind, val = snap
    if kind == "id":
        return False
    return all(_no_identity(s) for s in val) if kind in (tuple, list, dict) else True


def _named(mod, name):
    obj = sys.modules.get(mod)
    for part in name.split("."):
        obj = getattr(obj, part, None)
    return obj


def _portable(fwd):
    """(guards, hidden) of the forward IR in portable form, or None if one cannot be."""
    fn_ref = next((g.ref for g in fwd.guards if g.ref.steps == (("weak", None), ("attr", "__code__"))), None)
    fn = fn_ref.root() if fn_ref is not None else None
    if fn is None:
        return None
    helpers = {}        # id(helper function) -> (function, portable ref to where it is found)
    guards = []
    pending = list(fwd.guards)
    while pending:      # a helper's own guards name it through the guard that found it
        progress, left = False, []
        for g in pending:
            ref = _portable_ref(g.ref, fn, helpers)
            if ref is None:
                left.append(g)
                continue
            progress = True
            if g.mode == "is":
                exp = _portable_expected(g.expected)
                if exp is None:
                    return None
                if isinstance(g.expected, types.FunctionType) and g.expected is not fn:
                    helpers.setdefault(id(g.expected), (g.expected, ref))
            elif g.mode == "eq":
                if not _no_identity(g.expected):
                    return None
                exp = ("value", g.expected)
            else:
                exp = ("absent",)
            guards.append((ref, g.mode, exp))
        if not progress:
            return None
        pending = left
    hidden = []
    for h in fwd.hidden:
        ref = _portable_ref(h.ref, fn, helpers)
        if ref is None:
            return None
        hidden.append((ref, h.type))
    return guards, hidden


def _resolve_root(root, fn):
    from .compiler.external import Ref
    if root[0] == "module":
        mod = sys.modules.get(root[1])
        if mod is None:
            raise LookupError(root[1])
        return mod.__dict__
    _, base, part = root
    f = fn if base is None else _resolve(base, fn, Ref).read()
    if not isinstance(f, types.FunctionType):
        raise LookupError("helper")
    if part == "weak":
        return weakref.ref(f)
    if part == "globals":
        return f.__globals__
    return (f.__closure__ or ())[part[1]]


def _resolve(portable_ref, fn, Ref):
    root, steps = portable_ref
    return Ref(_resolve_root(root, fn), steps)


def _live(entry_guards, entry_hidden, fn):
    """Guards and hidden inputs for this process, or None where a compiled-in value is not what
    it was (another code object, another module ...)."""
    from .compiler.external import _GONE, Guard, Hidden, Ref, same, snapshot
    guards = []
    for pref, mode, exp in entry_guards:
        ref = _resolve(pref, fn, Ref)
        if mode == "is":
            v = ref.read()
            kind = exp[0]
            if v is _GONE or not (
                    kind == "code" and isinstance(v, types.CodeType) and _code_hash(v) == exp[1]
                    or kind == "function" and isinstance(v, types.FunctionType) and _code_hash(v.__code__) == exp[1]
                    or kind == "module" and isinstance(v, types.ModuleType) and v.__name__ == exp[1]
                    or kind == "named" and _named(exp[1], exp[2]) is v
                    or kind == "value" and same(snapshot(v), exp[1])):
                return None
            guards.append(Guard(ref, "is", v))
        elif mode == "eq":
            guards.append(Guard(ref, "eq", exp[1]))
        else:
            guards.append(Guard(ref, "absent", None))
    hidden = tuple(Hidden(_resolve(pref, fn, Ref), t) for pref, t in entry_hidden)
    return tuple(guards), hidden


# ---- the store ---------------------------------------------------------------------------------

def store(k, forward_ir, adjoint_ir):
    """Write the entry for key `k` (nothing when a guard is not portable or pickling fails)."""
    portable = _portable(forward_ir)
    if portable is None:
        return False
    saved = [(f, f.guards, f.hidden, f._check) for f in (forward_ir, adjoint_ir)]
    try:
        for f, *_ in saved:
            f.guards, f.hidden, f._check = (), (), None
        payload = pickle.dumps((portable, forward_ir, adjoint_ir, len(saved[0][2])), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    finally:
        for f, g, h, c in saved:
            f.guards, f.hidden, f._check = g, h, c
    return _STORE.store(k, {"format": _FORMAT}, payload)


def load(k, fn):
    """(forward IR, adjoint IR) for key `k` whose guards hold in this process, or None."""
    entry = _STORE.load(k)
    if entry is None:
        return None
    try:
        (guards, hidden), forward_ir, adjoint_ir, n_hidden = pickle.loads(entry[1])
        live = _live(guards, hidden, fn)
    except Exception:
        stats["hits"] -= 1
        stats["rejected"] += 1
        return None
    if live is not None and len(live[1]) == n_hidden:
        for f in (forward_ir, adjoint_ir):
            f.guards, f.hidden, f._check = live[0], live[1], None
        if forward_ir.guards_hold():
            return forward_ir, adjoint_ir
    stats["hits"] -= 1          # found, but made for another world: a global or helper changed
    stats["stale"] += 1
    return None
