"""State outside the function: how compiled code reads it, and when it must recompile.

A compiled function may read globals, closure variables, attributes of objects
and items of dicts and lists. Each such read is a `Ref`: a root (a module's
globals, a closure cell, a function) and the steps to the value. The front end
turns it into one of

- a *hidden input*: an extra parameter of the IR function whose value the
  caller reads through the Ref on every call (arrays, and numbers used only as
  run-time operands), so `Z[:] = 1`, `CONFIG["l2"] = 3.0` or `LR[0] = 0.7` are
  seen by the next call without recompiling; its type is checked on each call;
- a *guard*: a value compiled in as a constant (a module, a helper function, a
  number that decides a shape, a loop bound or a branch) is checked on each
  call — by identity for objects, by value for numbers, strings and containers
  of them — and a change recompiles the specialisation.
"""
from __future__ import annotations

import types

import numpy as np

from .types import ArrayType, ScalarType, type_of_value

__all__ = ["Ref", "Guard", "Hidden", "snapshot", "guard_for", "is_stable_module"]

_GONE = object()
# modules whose attributes are taken as fixed (np.sin is not rebound at run time)
STABLE_MODULES = frozenset({"numpy", "math", "numpy.linalg", "builtins"})


class Ref:
    """Where a value outside the function lives: `root` then `steps`, each ("item", key),
    ("attr", name), ("cell", variable name) or ("weak", None) (the root is a weak reference,
    so a cached guard does not keep a function alive). Equal Refs name the same place."""
    __slots__ = ("root", "steps")

    def __init__(self, root, steps):
        self.root, self.steps = root, tuple(steps)

    def item(self, key):
        return Ref(self.root, self.steps + (("item", key),))

    def attr(self, name):
        return Ref(self.root, self.steps + (("attr", name),))

    def read(self):
        """The current value, or _GONE when the place no longer exists."""
        x = self.root
        try:
            for kind, key in self.steps:
                x = x[key] if kind == "item" else getattr(x, key) if kind == "attr" else \
                    x.cell_contents if kind == "cell" else x()
                if x is None and kind == "weak":
                    return _GONE
        except (KeyError, IndexError, AttributeError, ValueError, TypeError):
            return _GONE
        return x

    def key(self):
        return (id(self.root), self.steps)

    def __eq__(self, o):
        return isinstance(o, Ref) and o.root is self.root and o.steps == self.steps

    def __hash__(self):
        return hash(self.key())

    def text(self):
        """A readable name: CONFIG['l2'], cfg.lam."""
        out = ""
        for kind, key in self.steps:
            out += f"[{key!r}]" if kind == "item" and out else f".{key}" if kind == "attr" else \
                "" if kind == "weak" else str(key)
        return out or "<closure value>"

    def hint(self):
        """An identifier-like hint for a hidden parameter: CONFIG_l2, cfg_lam."""
        parts = [str(k) for kind, k in self.steps if kind != "weak"]
        text = "_".join(parts) or "closure"
        return "".join(c if c.isalnum() or c == "_" else "_" for c in text)


class Guard:
    """A value compiled in as a constant, checked before each call (compile_checks): by identity
    ("is"), by value ("eq", `expected` a snapshot), or that no such name exists ("absent")."""
    __slots__ = ("ref", "mode", "expected")

    def __init__(self, ref, mode, expected):
        self.ref, self.mode, self.expected = ref, mode, expected   # mode: "is", "eq" or "absent"

    def __repr__(self):
        return f"<guard {self.ref.text()} {self.mode}>"


class Hidden:
    """A hidden input: the value at `ref`, read on every call; `ok(v)` checks it has the type compiled for."""
    __slots__ = ("ref", "type")

    def __init__(self, ref, type_):
        self.ref, self.type = ref, type_

    def ok(self, v):
        t = self.type
        if isinstance(t, ArrayType):
            return isinstance(v, (np.ndarray, np.generic)) and v.dtype == t.dtype and np.shape(v) == t.shape
        if isinstance(t, ScalarType):
            return type_of_value(v) == t
        return False


def snapshot(v):
    """A copy of `v` to compare by value later: numbers and strings as they are, containers
    recursively, anything else (arrays, objects, functions) by identity."""
    if isinstance(v, (bool, int, float, complex, str, bytes, type(None), np.generic)):
        return (type(v), v)
    if isinstance(v, (tuple, list)):
        return (type(v), tuple(snapshot(x) for x in v))
    if isinstance(v, dict):
        return (dict, tuple(s for k, x in v.items() for s in (snapshot(k), snapshot(x))))
    if isinstance(v, range):
        return (range, (v.start, v.stop, v.step))
    return ("id", v)


def same(a, b):
    """Whether two snapshots are equal (nan equals nan; objects by identity)."""
    if a[0] == "id" or b[0] == "id":
        return a[0] == b[0] and a[1] is b[1]
    if a[0] is not b[0]:
        return False
    x, y = a[1], b[1]
    if a[0] in (tuple, list, dict):
        return len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
    try:
        return bool(x == y) or (x != x and y != y)
    except Exception:
        return False


def guard_for(ref, value):
    """The guard for `value` compiled in as a constant: identity for objects, value otherwise."""
    snap = snapshot(value)
    return Guard(ref, "is", value) if snap[0] == "id" else Guard(ref, "eq", snap)


def is_stable_module(v):
    return isinstance(v, types.ModuleType) and v.__name__ in STABLE_MODULES


def compile_checks(guards, hidden):
    """One Python function `check()` -> bool for all `guards` and the types of all `hidden`
    inputs (generated once per specialisation: it runs before every call)."""
    env = {"same": same, "snapshot": snapshot, "_GONE": _GONE}
    lines = ["def check():", "    try:"]
    for k, g in enumerate(guards):
        expr = _expr(g.ref, k, env)
        if g.mode == "absent":
            env[f"r{k}"], env[f"n{k}"] = g.ref.root, g.ref.steps[-1][1]
            lines.append(f"        if n{k} in r{k}: return False")
            continue
        env[f"e{k}"] = g.expected
        test = f"({expr}) is not e{k}" if g.mode == "is" else f"not same(snapshot({expr}), e{k})"
        lines.append(f"        if {test}: return False")
    for k, h in enumerate(hidden):
        env[f"h{k}"] = h
        lines.append(f"        if not h{k}.ok({_expr(h.ref, f'h{k}r', env)}): return False")
    lines += ["    except Exception:", "        return False", "    return True"]
    exec("\n".join(lines), env)
    return env["check"]


def _expr(ref, tag, env):
    """Python text reading `ref` (its root and keys bound in `env` under names made from `tag`)."""
    env[f"r{tag}"] = ref.root
    text = f"r{tag}"
    for j, (kind, key) in enumerate(ref.steps):
        if kind == "item":
            env[f"k{tag}_{j}"] = key
            text += f"[k{tag}_{j}]"
        elif kind == "attr":
            text = f"getattr({text}, {key!r})"
        elif kind == "cell":
            text += ".cell_contents"
        else:
            text = f"{text}()"
    return text
