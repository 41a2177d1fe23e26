"""Property tests of shape-generic specialisations (ops/dims.py, specialize.compile_shape_generic,
api.GradFunction._shape_generic_plan): one `ad.grad(f, jit="never")` object called at a sequence
of shapes must give, at every call, the traced gradient (`fallback="always"`; rtol 1e-10, atol
1e-12 times the gradient's largest magnitude), with its shape and dtype, and raise where the traced
path raises: the same exception type, or f's own where the eager engine's differs (it raises
torch's RuntimeError for np.max of no rows, and computes `a / X.shape[0]` at 0 rows).

Hypothesis generates programs `f(X, w, W, y, a, Z)` — a batch `X` (n, k), parameters `w` (k,) and
`W` (k, m), a batch vector `y` (n,), a float `a`, a second batch `Z` (p, k) — as Python source
written to a module in a temporary directory (the compiler reads source). Their statements are
typed by shape kind (NK, NM, N, K, M, KM, PK, S: a scalar) and draw on what shape-generic code
touches: elementwise chains broadcasting (n, k) against (k,) and (n,)[:, None], `X @ W`,
`... @ W.T`, `X @ Z.T`, reductions with axis/keepdims (sum, mean, max, min, var, std, cumsum),
the slices x[1:], x[:-1], x[:3], x[2:], x[::2], x[::-1], x[-1:0:-1], x[:, 0], x[-1], x[2], x[-3],
x[len(X) // 2:], x[:len(Z)], reshape(-1), reshape(len(X), -1), x[:, None, :] pairwise differences,
np.expand_dims, x.T, np.concatenate/stack/tile/broadcast_to/repeat, np.zeros/ones/arange/
linspace/eye of extents, writes `t[1:] = ...`, `t[:, 0] = ...` into new arrays, `X.shape[0]` /
`len(X)` as numbers (divisions, float(), Python arithmetic on them, branches and early returns
on them), loops over rows (`range(len(X))`, `for row in X`, `while i < len(X)`, which pin the
extent; `range(3)`, which needs 3 rows), programs valid only where n == k, and dead values.

Each program is called at a drawn sequence of shapes: A, then B (n changed, sometimes k, m or p
too, so they are symbols, or one symbol where n == k or n == p changed together), then more:
extents 0, 1, 2, equal to k or m, the earlier ones, 3..12, 40..900 (B sometimes 520..700, where
the NumPy tier writes into dead buffers); and sometimes a call that breaks an equality the program
may need (y's length != n, X's columns != w's length, W's rows != k). The arguments are
C-ordered, Fortran-ordered or strided views; the gradient is taken w.r.t. all of them or a few,
as grad or value_and_grad. For smooth programs at small shapes (a third of them) the compiled
gradient is also checked against central differences.

Variants: with buffers everywhere (REUSE_MIN_SIZE = 1), and with jit="auto" and each call made
five times (the hot signature gets its own specialisation, native where it lowers; every
repetition must equal the traced gradient). The default run is fast (40 + 25 + 10 examples,
derandomized); the `slow` ones run 400, 400 and 200.

Statistics (hypothesis `event()`, shown by --hypothesis-show-statistics, and a summary printed
at each test's end: `-rP` or `-s` shows it): how many programs had a shape-generic
specialisation serve calls, how many compiled per shape (and why the generic one was not kept:
pinned, or the exception compile_shape_generic raised), how many calls each served.

Findings are kept at the end as plain regression tests (fixed) and strict xfails (open).
"""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import adcompiler as ad
from tests.grad.test_properties import FAST, loaded

PATH_RTOL, PATH_ATOL = 1e-10, 1e-12       # compiled vs traced (atol scaled by the gradient's magnitude)
FD_H, FD_RTOL, FD_ATOL = 1e-6, 1e-5, 1e-6
FD_MAX_ELEMENTS = 80                      # finite differences only at small shapes
PARAMS = ("X", "w", "W", "y", "a", "Z")
WRT = (0, 1, 2, 3, 4, 5)

# ---- the program generator -----------------------------------------------------------------------

KINDS = ("NK", "NM", "N", "K", "M", "KM", "PK", "S")
ARRAY_KINDS = KINDS[:-1]
BASE = {"PK": "Z", "NK": "X", "K": "w", "KM": "W", "N": "y", "S": "a", "NM": "(X @ W)", "M": "(w @ W)"}
UNARY = ["np.tanh({0})", "np.sin({0})", "({0}) ** 2", "np.sqrt(({0}) ** 2 + 1.0)", "np.log1p(({0}) ** 2)",
         "np.exp(-({0}) ** 2)", "np.cos({0})", "0.5 * ({0})"]
BINARY = ["({0} + {1})", "({0} - {1})", "({0} * {1})", "({0} / (1.5 + np.cos({1})))"]
CONSTS = ["0.5", "1.5", "-0.75", "0.25"]


@dataclass(frozen=True)
class P:
    """A production: the kind it makes, its template over argument kinds, its features."""
    template: str
    args: tuple
    feats: tuple = ()


def _prods():
    out = {k: [] for k in KINDS}

    def add(kind, template, args, *feats):
        out[kind].append(P(template, tuple(args), feats))

    for kind in KINDS:
        for u in UNARY:
            add(kind, u, [kind])
        for b in BINARY:
            add(kind, b, [kind, kind])
    add("S", "np.abs({0})", ["S"], "kink")
    # (n, k)
    add("NK", "({0} + {1})", ["NK", "K"], "broadcast")
    add("NK", "({0} * {1})", ["NK", "K"], "broadcast")
    add("NK", "({1} - {0})", ["NK", "K"], "broadcast")
    add("NK", "({0} / (1.0 + {1} ** 2))", ["NK", "K"], "broadcast")
    add("NK", "({0} * {1})", ["NK", "S"])
    add("NK", "({0} * {1}[:, None])", ["NK", "N"], "x[:, None]")
    add("NK", "({1}[None, :] - {0})", ["NK", "K"], "x[None, :]")
    add("NK", "({0} @ {1}.T)", ["NM", "KM"], "matmul", "W.T")
    add("NK", "({0} - np.mean({0}, axis=1, keepdims=True))", ["NK"], "keepdims")
    add("NK", "({0} - np.max({0}, axis=0, keepdims=True))", ["NK"], "keepdims", "kink")
    add("NK", "np.maximum({0}, {1})", ["NK", "K"], "kink")
    add("NK", "np.where({0} > 0.0, {0}, 0.1 * {0})", ["NK"], "np.where", "kink")
    add("NK", "({0} / X.shape[0])", ["NK"], "shape as number")
    add("NK", "({0} * (1.0 / len(X)))", ["NK"], "len as number")
    add("NK", "{0}[::-1]", ["NK"], "slice ::-1")
    add("NK", "np.concatenate([{0}[1:], {0}[:1]], axis=0)", ["NK"], "concatenate")
    add("NK", "(np.cumsum({0}, axis=0) / X.shape[0])", ["NK"], "cumsum", "shape as number")
    add("NK", "({0}.T * {1}).T", ["NK", "N"], "x.T")
    add("NK", "{0}.reshape(-1).reshape(len(X), -1)", ["NK"], "reshape")
    add("NK", "({0} - np.var({0}, axis=0, keepdims=True))", ["NK"], "var", "keepdims")
    # (n, m)
    add("NM", "({0} @ {1})", ["NK", "KM"], "matmul")
    add("NM", "({0} + {1})", ["NM", "M"], "broadcast")
    add("NM", "({0} - np.max({0}, axis=1, keepdims=True))", ["NM"], "keepdims", "kink")
    add("NM", "({0} * {1}[:, None])", ["NM", "N"], "x[:, None]")
    # (n,)
    add("N", "np.sum({0}, axis=1)", ["NK"], "sum axis")
    add("N", "np.mean({0}, axis=1)", ["NK"], "mean axis")
    add("N", "np.max({0}, axis=1)", ["NK"], "max axis", "kink")
    add("N", "({0} @ {1})", ["NK", "K"], "matmul")
    add("N", "{0}[:, 0]", ["NK"], "x[:, 0]")
    add("N", "{0}[:, -1]", ["NK"], "x[:, 0]")
    add("N", "np.var({0}, axis=1)", ["NK"], "var")
    add("N", "np.sum({0}, axis=1)", ["NM"], "sum axis")
    add("N", "({0} @ {1})", ["NM", "M"], "matmul")
    add("N", "({0} * {1})", ["N", "S"])
    add("N", "np.concatenate([{0}[1:], {0}[:1]])", ["N"], "concatenate")
    add("N", "{0}[::-1]", ["N"], "slice ::-1")
    add("N", "(np.cumsum({0}) / len(X))", ["N"], "cumsum", "len as number")
    add("N", "np.where({0} > {1}, {0}, {1})", ["N", "N"], "np.where", "kink")
    # (k,)
    add("K", "np.sum({0}, axis=0)", ["NK"], "sum axis")
    add("K", "np.mean({0}, axis=0)", ["NK"], "mean axis")
    add("K", "np.max({0}, axis=0)", ["NK"], "max axis", "kink")
    add("K", "np.var({0}, axis=0)", ["NK"], "var")
    add("K", "np.std({0}, axis=0)", ["NK"], "std")
    add("K", "{0}[-1]", ["NK"], "x[-1]")
    add("K", "{0}[0]", ["NK"], "x[0]")
    add("K", "({0}.T @ {1})", ["NK", "N"], "matmul", "x.T")
    add("K", "({0} @ {1})", ["N", "NK"], "matmul")
    add("K", "np.sum({0}[1:] * {0}[:-1], axis=0)", ["NK"], "slice 1: :-1")
    add("K", "np.mean({0}[::2], axis=0)", ["NK"], "slice ::2")
    add("K", "np.sum({0}[:3], axis=0)", ["NK"], "slice :3")
    add("K", "np.sum({0}[2:], axis=0)", ["NK"], "slice 2:")
    add("K", "({0} @ {1})", ["KM", "M"], "matmul")
    add("K", "np.maximum({0}, {1})", ["K", "S"], "kink")
    add("K", "np.mean({0}, axis=0, keepdims=True)[0]", ["NK"], "keepdims")
    add("K", "np.sum({0}, axis=1)", ["KM"], "sum axis")
    # (m,)
    add("M", "np.sum({0}, axis=0)", ["NM"], "sum axis")
    add("M", "np.mean({0}, axis=0)", ["NM"], "mean axis")
    add("M", "({0} @ {1})", ["K", "KM"], "matmul")
    add("M", "{0}[-1]", ["NM"], "x[-1]")
    # (k, m)
    add("KM", "({0}.T @ {1})", ["NK", "NM"], "matmul", "x.T")
    add("KM", "({0} * {1}[:, None])", ["KM", "K"], "x[:, None]")
    add("KM", "({0} + {1})", ["KM", "M"], "broadcast")
    # scalars
    for kind in ARRAY_KINDS:
        add("S", "np.sum({0})", [kind], "sum")
        add("S", "np.mean({0})", [kind], "mean")
        add("S", "np.sum({0} ** 2)", [kind], "sum")
        add("S", "np.max({0})", [kind], "max", "kink")
    add("S", "({0} @ {1})", ["N", "N"], "matmul")
    add("S", "({0} @ {1})", ["K", "K"], "matmul")
    add("S", "np.sum({0}.reshape(-1) * {1}.reshape(-1))", ["NK", "NK"], "reshape(-1)")
    add("S", "np.sum({0}.T @ {0})", ["NK"], "matmul", "x.T")
    add("S", "({0} / X.shape[0])", ["S"], "shape as number")
    add("S", "({0} / len(X))", ["S"], "len as number")
    add("S", "(np.sum({0}) / {0}.size)", ["NK"], "size as number")
    add("S", "np.var({0})", ["N"], "var")
    add("S", "np.std({0})", ["NK"], "std")
    add("S", "np.sum({0}[1:] - {0}[:-1])", ["N"], "slice 1: :-1")
    add("S", "{0}[-1]", ["N"], "x[-1]")
    add("S", "{0}[0]", ["K"], "x[0]")
    add("S", "(np.sum(({0}[:, None, :] - {0}[None, :, :]) ** 2) / len(X) ** 2)", ["NK"], "pairwise x[:, None, :]",
        "len as number")
    add("S", "(float(X.shape[0]) * 0.01 * {0})", ["S"], "float(shape) pins")
    add("S", "np.sum(np.expand_dims({0}, 0) * {1})", ["K", "NK"], "expand_dims")
    add("S", "np.sum({0}[len(X) // 2:])", ["N"], "slice len(X) // 2:")
    add("S", "np.sum({0}[:len(X) - 1])", ["N"], "slice :len(X) - 1")
    add("S", "np.sum({0}[:, ::2])", ["NK"], "slice :, ::2")
    # shapes made from extents, more slices and reshapes, methods, arrays of other shapes reduced at once
    add("NK", "({0} * np.arange(len(X))[:, None] / len(X))", ["NK"], "np.arange(len(X))")
    add("NK", "({0} + np.ones_like({0}) * {1})", ["NK", "S"], "ones_like")
    add("NK", "({0} - {0}.mean(axis=0))", ["NK"], "method .mean")
    add("NK", "({0} * np.mean({0}, axis=0, keepdims=True))", ["NK"], "keepdims")
    add("NK", "np.clip({0}, -0.5, 0.8)", ["NK"], "clip", "kink")
    add("NK", "{0}.reshape(-1, 1).reshape(X.shape)", ["NK"], "reshape")
    add("NK", "np.concatenate([{0}[-1:], {0}[:-1]], axis=0)", ["NK"], "concatenate")
    add("NK", "({0} @ ({1}.T @ {1}) / len(X))", ["NK", "NK"], "matmul", "x.T")
    add("N", "np.diag({0} @ {0}.T)", ["NK"], "diag", "matmul")
    add("N", "({0} * np.ones(len(X)))", ["N"], "np.ones(len(X))")
    add("N", "({0} * np.linspace(0.0, 1.0, len(X)))", ["N"], "np.linspace")
    add("N", "np.sum({0}, axis=-1)", ["NK"], "sum axis")
    add("N", "({0}).max(axis=1)", ["NM"], "method .max", "kink")
    add("N", "({0}[:, 0] - {0}[:, 1])", ["NK"], "x[:, 0]")
    add("N", "np.cumsum({0}[::-1])[::-1]", ["N"], "cumsum", "slice ::-1")
    add("K", "np.sum({0}[:len(X) // 2], axis=0)", ["NK"], "slice :len(X) // 2")
    add("K", "np.sum({0}[1:-1], axis=0)", ["NK"], "slice 1:-1")
    add("K", "np.sum({0}[-3:], axis=0)", ["NK"], "slice -3:")
    add("K", "np.sum({0}[::3], axis=0)", ["NK"], "slice ::3")
    add("K", "np.sum({0}[::-2], axis=0)", ["NK"], "slice ::-2")
    add("K", "np.sum({0}[-1:0:-1], axis=0)", ["NK"], "slice -1:0:-1")
    add("K", "np.min({0}, axis=0)", ["NK"], "min axis", "kink")
    add("K", "np.stack([{0}[0], {0}[-1]]).sum(axis=0)", ["NK"], "stack")
    add("K", "np.einsum('ij,i->j', {0}, {1})", ["NK", "N"], "einsum")
    add("K", "np.var({0}, axis=0, ddof=1)", ["NK"], "var ddof")
    add("S", "np.sum(np.concatenate([{0}, {1}], axis=0) ** 2)", ["NK", "NK"], "concatenate")
    add("S", "np.sum(({0} @ {0}.T) * np.eye(len(X)))", ["NK"], "np.eye(len(X))", "matmul")
    add("S", "np.sum({0}.reshape(X.shape[1], -1) ** 2)", ["NK"], "reshape(k, -1)")
    add("S", "np.sum({0}.reshape(len(X) * X.shape[1]))", ["NK"], "reshape(n * k)")
    add("S", "(np.max({0}) - np.min({0}))", ["N"], "max", "kink")
    add("S", "np.sum({0}, axis=(0, 1))", ["NK"], "sum axis")
    add("S", "np.trace({0}.T @ {0})", ["NK"], "trace", "matmul")
    add("S", "np.sum({0}[:-2] * {0}[2:])", ["N"], "slice :-2 2:")
    add("S", "({0} * (W.shape[1] + len(y)) / (len(X) + 1))", ["S"], "shape arithmetic")
    add("S", "({0} / max(len(X), 3))", ["S"], "max(len(X), 3)")
    add("S", "np.sum({0}.T.reshape(-1) * {0}.reshape(-1))", ["NK"], "x.T reshape")
    add("S", "np.sum(np.outer({0}, {1}))", ["N", "K"], "outer")
    add("S", "np.mean(np.abs({0}))", ["NK"], "kink")
    # integer, fancy and boolean indexing, arrays built to an extent
    add("K", "{0}[2]", ["NK"], "x[2]")
    add("K", "{0}[-3]", ["NK"], "x[-3]")
    add("S", "np.sum({0}[[0, -1]])", ["NK"], "x[[0, -1]]")
    add("K", "{0}[np.argmax({1})]", ["NK", "N"], "x[np.argmax(y)]")
    add("NK", "np.tile({0}, (len(X), 1))", ["K"], "np.tile")
    add("NK", "np.broadcast_to({0}, X.shape)", ["K"], "np.broadcast_to")
    add("NK", "({0} + np.zeros((len(X), X.shape[1])))", ["NK"], "np.zeros(shape)")
    add("N", "np.repeat({0}, 2)[::2]", ["N"], "np.repeat")
    # Python arithmetic on extents that is not an integer expression of them (computed at run time)
    for e in ["1.0 / len(X)", "len(X) ** 2 / 100.0", "X.shape[0] / W.shape[1]", "(len(X) - 1) / len(X)",
              "len(X) // 2 * 1.5", "len(X) * len(Z) / 50.0", "2.0 ** -len(X)", "min(len(X), len(Z)) / 3",
              "np.log(len(X) + 1.0)"]:
        add("S", f"({{0}} * ({e}))", ["S"], "extent arithmetic at run time")
    add("NK", "({0} * (1.0 / X.shape[0]))", ["NK"], "extent arithmetic at run time")
    add("N", "({0} / len(X) ** 2)", ["N"], "extent arithmetic at run time")
    # Z (p, k): a second batch extent, against X's
    add("PK", "({0} * {1})", ["PK", "K"], "broadcast")
    add("PK", "({0} - np.mean({0}, axis=0))", ["PK"], "mean axis")
    add("K", "np.mean({0}, axis=0)", ["PK"], "Z")
    add("K", "np.max({0}, axis=0)", ["PK"], "Z", "kink")
    add("K", "{0}[-1]", ["PK"], "Z")
    add("N", "np.sum({0} @ {1}.T, axis=1)", ["NK", "PK"], "X @ Z.T")
    add("S", "(np.sum(({0} @ {1}.T) ** 2) / len(Z))", ["NK", "PK"], "X @ Z.T")
    add("S", "np.sum(np.max({0} @ {1}.T, axis=0))", ["NK", "PK"], "X @ Z.T", "kink")
    add("S", "np.sum(np.mean({0} @ {1}.T, axis=1))", ["NK", "PK"], "X @ Z.T")
    add("NK", "({0} @ ({1}.T @ {1}) / len(Z))", ["NK", "PK"], "Z.T @ Z")
    add("S", "np.sum(np.exp(-np.sum(({0}[:, None, :] - {1}[None, :, :]) ** 2, axis=-1)))", ["NK", "PK"],
        "rbf kernel X, Z")
    add("N", "(np.exp(-np.sum(({0}[:, None, :] - {1}[None, :, :]) ** 2, axis=-1)) @ np.ones(len(Z)))",
        ["NK", "PK"], "rbf kernel X, Z", "np.ones(len(Z))")
    add("S", "np.sum({0}[:len(Z)] * {1}[:len(X)])", ["NK", "PK"], "slice by the other extent")
    add("S", "(np.sum({0}) * len(X) / (len(X) + len(Z)))", ["PK"], "shape arithmetic")
    # valid only where n == k (or one is 1): a shape-generic specialisation must not serve n != k
    add("S", "np.sum({0} * {1})", ["N", "K"], "needs n == k")
    add("S", "np.sum({0} + {0}.T)", ["NK"], "needs n == k")
    add("S", "np.sum({0} @ {0})", ["NK"], "needs n == k", "matmul")
    add("N", "({0} + {1})", ["N", "K"], "needs n == k")
    return out


PRODUCTIONS = _prods()


@dataclass
class Prog:
    lines: list
    feats: set = field(default_factory=set)

    @property
    def source(self):
        body = "\n".join("    " + ln for ln in self.lines)
        return f"import numpy as np\n\n\ndef f(X, w, W, y, a, Z):\n{body}\n"

    def __repr__(self):       # hypothesis prints a falsifying example with this
        return "Prog(source=\n" + self.source + ")"


def expr(draw, scope, kind, depth, feats):
    """An expression of shape kind `kind` over the names in `scope` (kind -> names)."""
    leaves = list(scope.get(kind, ()))
    if kind == "S":
        leaves += CONSTS
    if depth <= 0 or (leaves and draw(st.integers(0, 3)) == 0):
        return draw(st.sampled_from(leaves)) if leaves else BASE[kind]
    p = draw(st.sampled_from(PRODUCTIONS[kind]))
    feats.update(p.feats)
    text = p.template.format(*(expr(draw, scope, k, depth - 1, feats) for k in p.args))
    return text if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]) else f"({text})"


def _balanced(text):
    """Whether `text` has no bracket that closes before it opened (so "(" + text + ")" is one group)."""
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if depth < 0:
            return False
    return depth == 0


ROW_LOOPS = [
    ["{acc} = 0.0", "for i in range(len(X)):", "    {acc} = {acc} + np.tanh(X[i] @ w) * 0.5"],
    ["{acc} = 0.0", "for row in X:", "    {acc} = {acc} + np.sum(np.sin(row) * w)"],
    ["{acc} = 0.0", "for i in range(X.shape[0] - 1):", "    {acc} = {acc} + (X[i + 1] - X[i]) @ w"],
    ["{acc} = 0.0", "for i in range(len(y)):", "    {acc} = {acc} + y[i] * a * (i + 1) / len(y)"],
    ["{acc} = 0.0", "for i in range(3):", "    {acc} = {acc} + X[i] @ w * (i + 1)"],
    ["{acc} = 0.0", "for i in range(min(len(X), 3)):", "    {acc} = {acc} + np.sum(X[-1 - i] ** 2)"],
    ["{acc} = 0.0", "i = 0", "while i < len(X):", "    {acc} = {acc} + np.sin(y[i])", "    i = i + 2"],
]
SETITEMS = [("NK", "1:", "NK", "[:-1]"), ("NK", ":, 0", "N", ""), ("NK", "-1", "K", ""),
            ("NK", "::2", "NK", "[::2]"), ("N", ":-1", "N", "[1:]"), ("N", "len(X) // 2:", "N", "[len(X) // 2:]"),
            ("NK", "2:", "NK", "[:-2]")]
SHAPE_CONDITIONS = ["X.shape[0] > 4", "len(X) == len(w)", "X.shape[0] % 2 == 0", "len(y) >= 3",
                    "X.shape[0] * 2 < W.shape[1] + 9"]


@st.composite
def programs(draw, max_depth=2):
    feats = set()
    scope = {"NK": ["X"], "K": ["w"], "KM": ["W"], "N": ["y"], "S": ["a"], "PK": ["Z"]}
    lines = []
    count = [0]

    def name():
        count[0] += 1
        return f"t{count[0]}"

    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from(["assign"] * 6 + ["loop", "branch", "setitem"]))
        if what == "assign":
            kind = draw(st.sampled_from(KINDS))
            t = name()
            lines.append(f"{t} = {expr(draw, scope, kind, draw(st.integers(1, max_depth)), feats)}")
            scope.setdefault(kind, []).append(t)
        elif what == "setitem":      # writes into a new array through slices of the batch axis
            t = name()
            kind, target, value_kind, take = draw(st.sampled_from(SETITEMS))
            lines += [f"{t} = np.zeros_like({'X' if kind == 'NK' else 'y'})",
                      f"{t}[{target}] = {expr(draw, scope, value_kind, max_depth - 1, feats)}{take}"]
            feats.add(f"setitem {t}[{target}]".replace(t, "t"))
            scope[kind].append(t)
        elif what == "loop":
            t = name()
            loop = draw(st.sampled_from(ROW_LOOPS))
            lines += [ln.format(acc=t) for ln in loop]
            feats.add("loop over rows (pins)")
            scope["S"].append(t)
        else:
            t = name()
            cond = draw(st.sampled_from(SHAPE_CONDITIONS))
            lines += [f"if {cond}:", f"    {t} = {expr(draw, scope, 'S', max_depth, feats)}", "else:",
                      f"    {t} = {expr(draw, scope, 'S', max_depth, feats)}"]
            feats.add("branch on a shape")
            scope["S"].append(t)
            if draw(st.integers(0, 4)) == 0:      # an early return on a shape (of every value made: no dead code)
                lines += [f"if {draw(st.sampled_from(SHAPE_CONDITIONS))}:",
                          f"    return {' + '.join(_made(scope) + [expr(draw, scope, 'S', max_depth, feats)])}"]
                feats.add("early return on a shape")
    # the result: every value made (no dead code: the compiler drops dead array ops, which may not
    # raise as Python would — see the regression tests below), plus one more scalar expression
    last = expr(draw, scope, "S", max_depth, feats)
    made = _made(scope)
    if len(made) > 1 and draw(st.integers(0, 3)) == 0:    # a dead value (which still raises where f raises)
        made.pop(draw(st.integers(0, len(made) - 1)))
        feats.add("dead code")
    lines.append("return " + " + ".join(made + [last]))
    return Prog(lines, feats)


def _made(scope):
    """Every value the program made, as terms of a scalar sum."""
    return [t if kind == "S" else f"0.1 * np.sum({t})" for kind, names in scope.items() for t in names
            if t not in PARAMS]


# ---- shapes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    n: int
    k: int
    m: int
    ny: int = None      # y's length (None: n)
    kx: int = None      # X's columns (None: k)
    kW: int = None      # W's rows (None: k)
    label: str = ""
    p: int = 3          # Z's rows: a second batch extent

    def shapes(self):
        n, k = self.n, self.k
        return {"X": (n, self.kx if self.kx is not None else k), "w": (k,),
                "W": (self.kW if self.kW is not None else k, self.m), "y": (self.ny if self.ny is not None else n,),
                "Z": (self.p, k)}


@st.composite
def shape_plans(draw):
    k = draw(st.integers(2, 4))
    m = draw(st.integers(2, 3))
    n_a = draw(st.sampled_from([2, 3, 4, 5, 6, 8, k]))
    change_k = draw(st.sampled_from([False, False, False, True]))
    k_b = draw(st.sampled_from([v for v in (2, 3, 4, 5) if v != k])) if change_k else k
    if change_k and draw(st.booleans()):     # n == k at both calls: one symbol for both
        n_a, n_b = k, k_b
    else:
        n_b = draw(st.sampled_from([v for v in (2, 3, 4, 5, 7, 9, 12, k_b, 600) if (v, k_b) != (n_a, k)]))
        if n_b == 600:      # compiled at >= 2048 elements: the NumPy tier writes into dead buffers (out=)
            n_b = draw(st.integers(520, 700))
    m_b = draw(st.sampled_from([m] * 5 + [m + 2]))     # sometimes W's columns are a symbol too
    # Z's rows: unchanged (static), changed (a second symbol), or changed to n_b (one symbol with n)
    p_a = draw(st.sampled_from([2, 3, 5, n_a]))
    p_b = draw(st.sampled_from([p_a, p_a, n_b, 4 if p_a != 4 else 6]))
    calls = [Call(n_a, k, m, label="A", p=p_a), Call(n_b, k_b, m_b, label="B", p=p_b)]
    for _ in range(draw(st.integers(3, 6))):
        which = draw(st.sampled_from(["1", "2", "k", "m", "a", "b", "small", "small", "big", "0"]))
        kk = draw(st.sampled_from([k_b, k_b, k_b, k, 5]))
        m = draw(st.sampled_from([m_b, m_b, m_b, m_b + 1]))
        n = {"1": 1, "2": 2, "k": kk, "m": m, "a": n_a, "b": n_b, "0": 0}.get(which)
        if n is None:
            n = draw(st.integers(3, 12)) if which == "small" else draw(st.sampled_from([40, 200, 530, 900]))
        p = draw(st.sampled_from([p_b, p_b, n, 1, 2, 7]))
        calls.append(Call(n, kk, m, label=which, p=p))
    if draw(st.sampled_from([False, False, True])):    # a call breaking an equality
        how = draw(st.sampled_from(["ny", "kx", "kW"]))
        base = calls[-1]
        n, kk, p = max(base.n, 2), base.k, base.p
        bad = {"ny": Call(n, kk, m, ny=n + 1, p=p), "kx": Call(n, kk, m, kx=kk + 1, p=p),
               "kW": Call(n, kk, m, kW=kk + 1, p=p)}[how]
        calls.insert(draw(st.integers(1, len(calls))), Call(**{**bad.__dict__, "label": "breaks " + how}))
    return calls


def arguments(call, seed):
    r = np.random.default_rng(seed)
    s = call.shapes()
    args = [0.8 * r.standard_normal(s["X"]), r.standard_normal(s["w"]), 0.7 * r.standard_normal(s["W"]),
            r.standard_normal(s["y"]), float(r.uniform(-1, 1)), 0.8 * r.standard_normal(s["Z"])]
    layout = seed % 4        # the arrays as given, Fortran-ordered, or strided views into larger ones
    if layout == 1:
        args[0], args[2] = np.asfortranarray(args[0]), np.asfortranarray(args[2])
    elif layout == 2:
        args[0] = np.repeat(args[0], 2, axis=1)[:, ::2]
        args[3] = np.repeat(args[3], 3)[::3]
    return tuple(args)


# ---- checks --------------------------------------------------------------------------------------

STATS = Counter()


def run(g, args):
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return g(*args), None
    except Exception as e:       # noqa: BLE001 - the compiled call must raise where the traced one does
        return None, e


def assert_same_gradients(names, got, want, what):
    assert len(got) == len(want) == len(names), what
    for name, a, b in zip(names, got, want):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, f"{what}: d/d{name} has shape {a.shape}, traced {b.shape}"
        assert a.dtype == b.dtype, f"{what}: d/d{name} has dtype {a.dtype}, traced {b.dtype}"
        finite = np.abs(b[np.isfinite(b)])
        scale = max(1.0, float(finite.max()) if finite.size else 1.0)
        np.testing.assert_allclose(a, b, rtol=PATH_RTOL, atol=PATH_ATOL * scale, err_msg=f"{what}: d/d{name}")


def finite_differences(fn, args, h=FD_H):
    out = []
    for i, v in enumerate(args):
        if isinstance(v, float):
            up, down = list(args), list(args)
            up[i], down[i] = v + h, v - h
            out.append((fn(*up) - fn(*down)) / (2 * h))
            continue
        d = np.zeros_like(v)
        for j in np.ndindex(v.shape):
            up, down = v.copy(), v.copy()
            up[j] += h
            down[j] -= h
            d[j] = (fn(*args[:i], up, *args[i + 1:]) - fn(*args[:i], down, *args[i + 1:])) / (2 * h)
        out.append(d)
    return out


def why_not_generic(mod, calls, seeds):
    """Why the second call's shape-generic specialisation was not kept: "pinned" (every symbol
    fixed by a guard), or the exception compile_shape_generic raised."""
    from adcompiler.specialize import compile_shape_generic
    a, b = arguments(calls[0], seeds[0]), arguments(calls[1], seeds[1])
    values = dict(zip(PARAMS, b))
    first = {n: np.shape(v) for n, v in zip(PARAMS, a) if isinstance(v, np.ndarray)}
    dynamic = [(n, ax) for n, v in values.items() if isinstance(v, np.ndarray)
               for ax, d in enumerate(v.shape) if d != first[n][ax]]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            c = compile_shape_generic(mod.f, values, PARAMS, dynamic)
    except Exception as e:      # noqa: BLE001
        first = str(e).splitlines()[0] if str(e) else ""
        return f"{type(e).__name__}: {first.split(' (adc_prop_')[0][:100]}"
    env = c.shape_env
    return "pinned" if env.pinned() >= set(env.symbols) else "kept, but no call it served returned"


def check(program, calls, seed, fd, directory, wrt=WRT, with_value=False, jit="never", repeat=1):
    """`jit="auto"`, `repeat` > 1: each call made `repeat` times, so a signature the shape-generic
    specialisation served more than 3 times gets its own (which may go native)."""
    note(program.source)
    note("calls: " + ", ".join(f"{c.label}={c.shapes()}" for c in calls))
    note(f"wrt={wrt}, with_value={with_value}")
    seeds = [seed + i for i in range(len(calls))]
    names = [PARAMS[i] for i in wrt]
    make = ad.value_and_grad if with_value else ad.grad
    with loaded(program, directory) as mod:
        g = make(mod.f, wrt=wrt, jit=jit)
        traced = make(mod.f, wrt=wrt, fallback="always")
        served, fd_done = 0, False
        for i, (call, s) in enumerate(zip(calls, seeds)):
            args = arguments(call, s)
            earlier, generic_before = [], False
            for _ in range(repeat - 1):
                earlier.append(run(g, args))
                generic_before |= _generic(g)
            got, err = run(g, args)
            want, want_err = run(traced, args)
            what = f"call {i} ({call.label}) at {call.shapes()}"
            if want_err is not None or err is not None:
                # the traced path is the reference, and f itself where the two differ: the eager engine
                # raises torch's RuntimeError for an empty max (f: NumPy's ValueError), and computes
                # a / X.shape[0] at X.shape[0] == 0 (f: Python's ZeroDivisionError)
                _, plain_err = run(mod.f, args)
                kinds = type(err), type(want_err), type(plain_err)
                assert kinds[0] in kinds[1:], \
                    f"{what}: compiled raised {err!r}, traced raised {want_err!r}, f raises {plain_err!r}"
                assert all(type(e) is type(err) for _, e in earlier), f"{what}: repetitions differ: {earlier!r}"
                STATS["calls raising alike" if err is not None else "calls computing where the traced path raises"] += 1
                if kinds[0] is not kinds[1]:
                    STATS[f"calls where the traced path ({kinds[1].__name__}) differs from f "
                          f"({kinds[2].__name__}) and compiled is like f"] += 1
                continue
            for k, (e_got, e_err) in enumerate(earlier):
                assert e_err is None, f"{what}, repetition {k}: compiled raised {e_err!r}, later not"
                if with_value:
                    e_got = e_got[1]
                assert_same_gradients(names, e_got, want[1] if with_value else want, f"{what}, repetition {k}")
            if with_value:
                np.testing.assert_allclose(got[0], want[0], rtol=PATH_RTOL, atol=PATH_ATOL * max(1.0, abs(want[0])),
                                           err_msg=f"{what}: value")
                got, want = got[1], want[1]
            assert_same_gradients(names, got, want, what)
            generic = _generic(g)
            served += generic or generic_before
            if generic and "out=" in g.source:
                STATS["calls of a shape-generic specialisation writing into buffers (out=)"] += 1
            STATS["calls"] += 1
            if g.tier == "native":
                STATS["calls on the native tier (jit='auto')"] += 1
            STATS["calls served by a shape-generic specialisation"] += generic or generic_before
            if g._last.compiled is None:
                STATS["calls traced (compiler refused)"] += 1
                reason = g._last.reason.split(" (adc_prop_")[0][:110]
                STATS[f"traced because: {reason}"] += 1
                event(f"traced because: {reason}")
            if fd and generic and not fd_done and "kink" not in program.feats and sum(np.size(v) for v in args) <= FD_MAX_ELEMENTS and \
                    all(np.all(np.isfinite(np.asarray(v))) for v in want):
                with np.errstate(all="ignore"):
                    value = float(mod.f(*args))
                    fdg = finite_differences(lambda *xs: float(mod.f(*xs)), args)
                if np.isfinite(value) and abs(value) < 1e3 and all(np.all(np.abs(v) < 1e4) for v in fdg):
                    for name, a, b in zip(names, got, [fdg[i] for i in wrt]):
                        np.testing.assert_allclose(a, b, rtol=FD_RTOL, atol=FD_ATOL * max(1.0, abs(value)),
                                                   err_msg=f"{what}: d/d{name} vs central differences")
                    fd_done = True
                    STATS["finite-difference checks"] += 1
                    event("checked against finite differences")
        STATS["programs"] += 1
        if g._last is not None and g._last.compiled is None and g.mode == "traced":
            kind = "traced (the compiler refused it)"
        elif served:
            kind = "a shape-generic specialisation served calls"
        else:
            kind = "per shape only"
        STATS[kind] += 1
        event(kind)
        event(f"calls served by the shape-generic specialisation: {min(served, 5)}{'+' if served >= 5 else ''}")
        if not served and kind == "per shape only":
            why = why_not_generic(mod, calls, seeds)
            STATS[f"not generic: {why}"] += 1
            event(f"not generic: {why}")
        for feat in sorted(program.feats):
            event(feat)


def _generic(g):
    """Whether g's last call ran a shape-generic specialisation."""
    return g._last is not None and g._last.compiled is not None and g._last.compiled.shape_env is not None


def summary():
    n = STATS["programs"]
    lines = [f"shape-generic property test: {n} programs"]
    for key, v in sorted(STATS.items(), key=lambda kv: (-kv[1], kv[0])):
        if key != "programs":
            lines.append(f"  {key}: {v}" + (f" ({100 * v / n:.0f}% of programs)" if key in (
                "a shape-generic specialisation served calls", "per shape only",
                "traced (the compiler refused it)") and n else ""))
    return "\n".join(lines)


@st.composite
def cases(draw, max_depth=2):
    return (draw(programs(max_depth)), draw(shape_plans()), draw(st.integers(0, 2 ** 16)),
            draw(st.sampled_from([False, False, True])),
            draw(st.sampled_from([WRT, WRT, WRT, (0,), (2,), (1, 2), (5,), (0, 5)])), draw(st.booleans()))


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return tmp_path_factory.mktemp("shape_generic_progs")


@pytest.fixture
def buffers_everywhere(monkeypatch):
    """The NumPy tier writes every elementwise result it can into a dead buffer (out=), not only
    those of ≥ 2,048 elements, so the shape-generic code's buffers are exercised at every size."""
    from adcompiler.backends import python as python_backend
    monkeypatch.setattr(python_backend, "REUSE_MIN_SIZE", 1)


@pytest.fixture
def summary_printed():
    """The statistics of one property test, printed on stdout when it ends (-s, or -rP)."""
    STATS.clear()
    yield
    print("\n" + summary())


# (the fixtures are set up once per test, not per example, which is what these want)
PROPS = settings(FAST, max_examples=40, suppress_health_check=list(FAST.suppress_health_check) +
                 [HealthCheck.function_scoped_fixture])


def _check(case, directory, **kw):
    program, calls, seed, fd, wrt, with_value = case
    check(program, calls, seed, fd, directory, wrt, with_value, **kw)


@PROPS
@given(case=cases(3))
def test_one_gradient_at_many_shapes_equals_the_traced_one(case, progdir, summary_printed):
    _check(case, progdir)


@settings(PROPS, max_examples=25)
@given(case=cases(3))
def test_one_gradient_at_many_shapes_equals_the_traced_one_with_buffers(case, progdir, buffers_everywhere,
                                                                        summary_printed):
    _check(case, progdir)


@settings(PROPS, max_examples=10)
@given(case=cases(3))
def test_each_shape_called_often_gets_its_own_specialisation_equal_to_the_traced_one(case, progdir, summary_printed):
    """jit="auto", each call made 5 times: a signature the shape-generic specialisation served more
    than 3 times gets its own, which may go native; every repetition equals the traced gradient."""
    _check(case, progdir, jit="auto", repeat=5)


@pytest.mark.slow
@settings(PROPS, max_examples=200)
@given(case=cases(3))
def test_each_shape_called_often_gets_its_own_specialisation_equal_to_the_traced_one_many(case, progdir,
                                                                                          summary_printed):
    _check(case, progdir, jit="auto", repeat=5)


@pytest.mark.slow
@settings(PROPS, max_examples=400)
@given(case=cases(3))
def test_one_gradient_at_many_shapes_equals_the_traced_one_many(case, progdir, summary_printed):
    _check(case, progdir)


@pytest.mark.slow
@settings(PROPS, max_examples=400)
@given(case=cases(3))
def test_one_gradient_at_many_shapes_equals_the_traced_one_with_buffers_many(case, progdir, buffers_everywhere,
                                                                             summary_printed):
    _check(case, progdir)


# ---- findings kept as regression tests ----------------------------------------------------------

def dead_max(X, a):
    t = np.max(X, axis=0)        # noqa: F841 - unused; raises on an empty X (NumPy: ValueError)
    return a * np.sum(X)


# found by the property test, fixed in f98713d: dead-code elimination dropped the unused np.max, so at
# X.shape[0] == 0 the compiled gradient was returned where f raises ValueError (the traced one RuntimeError)
def test_an_unused_reduction_that_raises_on_an_empty_batch_raises_compiled():
    X = np.zeros((0, 2))
    with pytest.raises(ValueError):
        dead_max(X, 0.5)
    with pytest.raises(RuntimeError):
        ad.grad(dead_max, wrt=(0, 1), fallback="always")(X, 0.5)
    with pytest.raises((ValueError, RuntimeError)):
        ad.grad(dead_max, wrt=(0, 1), jit="never")(X, 0.5)


def dead_loop(X, a):
    for i in range(3):
        t = X[i]                 # noqa: F841 - unused; X[2] raises IndexError when X has 2 rows
    return a * np.sum(X)


# found by the property test (a loop before an early return on a shape), fixed in f98713d: the unused
# loop was dropped, so at X.shape[0] == 2 the compiled gradient was returned where f raises IndexError
def test_an_unused_loop_that_indexes_out_of_bounds_raises_compiled():
    X = np.ones((2, 2))
    with pytest.raises(IndexError):
        dead_loop(X, 0.5)
    with pytest.raises(IndexError):
        ad.grad(dead_loop, wrt=(0, 1), fallback="always")(X, 0.5)
    with pytest.raises(IndexError):
        ad.grad(dead_loop, wrt=(0, 1), jit="never")(X, 0.5)


def max_of_batch_plus_weights(X, W):
    return np.sum(np.max(X, axis=0)) + np.sum(W)


def rows_plus_weights(X, W):
    t = 0.0
    for i in range(3):
        t = t + np.sum(X[i])
    return t + np.sum(W)


def column_written(X, W):
    t = np.zeros_like(W)
    t[:, 0] = X                  # X of 3 elements into a column of 2: ValueError
    return np.sum(t)


# found by the property test with wrt=(2,) and wrt=(0,): the gradient w.r.t. W does not need the part of f only
# the value needs, and it was dropped with the exception it raises (grad(f, wrt=W) returned a gradient where f,
# the traced gradient and value_and_grad raise); the first two fixed in f98713d, the third by the setitem shape
# rule's check that the value fits
@pytest.mark.parametrize("fn, X, W, error", [
    pytest.param(max_of_batch_plus_weights, np.ones((0, 2)), np.ones(3), ValueError, id="np.max of an empty batch"),
    pytest.param(rows_plus_weights, np.ones((2, 2)), np.ones(3), IndexError, id="X[2] of two rows in a loop"),
    pytest.param(column_written, np.ones(3), np.ones((2, 2)), ValueError, id="a setitem the gradient does not need")])
def test_a_gradient_of_some_arguments_raises_where_f_raises(fn, X, W, error):
    with pytest.raises(error):
        fn(X, W)
    with pytest.raises(error):
        ad.grad(fn, wrt=1, fallback="always")(X, W)
    with pytest.raises(error):
        ad.value_and_grad(fn, wrt=1, jit="never")(X, W)
    with pytest.raises(error):
        ad.grad(fn, wrt=1, jit="never")(X, W)


def dead_broadcast_to(X, w):
    t = np.broadcast_to(w, X.shape)     # noqa: F841 - unused; raises where X has other than len(w) columns
    return np.sum(X ** 2)


def unneeded_broadcast_to(X, w):
    return np.sum(X ** 2) + 0.0 * np.sum(np.broadcast_to(w, X.shape))


# found by the property test (a dead value, a call with X's columns != len(w)): np.broadcast_to's shapes were
# not checked at compile time, so an unused one was dropped; its shape rule checks them now
@pytest.mark.parametrize("fn, wrt", [(dead_broadcast_to, (0, 1)), (unneeded_broadcast_to, 0)],
                         ids=["unused", "not needed by the gradient w.r.t. X"])
def test_a_broadcast_to_that_cannot_broadcast_raises_compiled(fn, wrt):
    X, w = np.ones((2, 3)), np.ones(2)
    with pytest.raises(ValueError):
        fn(X, w)
    with pytest.raises(ValueError):
        ad.grad(fn, wrt=wrt, fallback="always")(X, w)
    with pytest.raises(ValueError):
        ad.grad(fn, wrt=wrt, jit="never")(X, w)


def dead_column_write(X, v):
    t = np.zeros_like(X)
    t[:, 0] = v                  # unused; v of 2 elements into a column of 1 row: ValueError
    return np.sum(X ** 2)


# found by the property test at n == 1 (t[:, 0] = y + w, a dead value): the setitem shape rule checks the value fits
def test_an_unused_setitem_whose_value_does_not_fit_raises_compiled():
    X, v = np.ones((1, 2)), np.ones(2)
    with pytest.raises(ValueError):
        dead_column_write(X, v)
    with pytest.raises(ValueError):
        ad.grad(dead_column_write, wrt=(0, 1), fallback="always")(X, v)
    with pytest.raises(ValueError):
        ad.grad(dead_column_write, wrt=(0, 1), jit="never")(X, v)


def column_from_a_row(X, y):
    t = X * 1.0
    t[:, 0] = y                  # y of shape (1, 2) into a column of 2: NumPy drops the leading 1
    return np.sum(t ** 2)


# found while minimising a property-test case: both paths' adjoint raised "cannot reshape array of size 1 into
# shape (1,2)" where f runs (NumPy drops the value's leading 1s; the value's cotangent now does too)
def test_a_setitem_whose_value_has_a_leading_one_is_differentiated():
    X, y = np.ones((2, 2)), np.full((1, 2), 3.0)
    assert column_from_a_row(X, y) == 20.0
    gX, gy = ad.grad(column_from_a_row, wrt=(0, 1), jit="never")(X, y)
    np.testing.assert_array_equal(gX, [[0.0, 2.0], [0.0, 2.0]])
    np.testing.assert_array_equal(gy, [[6.0, 6.0]])


def _rdiv(x):
    return np.sum(x) * (1.0 / len(x))


def _fmul(x):
    return np.sum(x) * (0.5 * len(x))


def _pow(x):
    return np.sum(x) / len(x) ** 2


def _arange(x):
    return np.sum(x * np.arange(len(x))[:, None])


def _diag(x):
    return np.sum(np.diag(x @ x.T))


def _reshape(x):
    return np.sum(x.reshape(len(x) * x.shape[1]) ** 2)


def _abs(x):
    return np.sum(x) * abs(len(x) - 5)


def _npsqrt(x):
    return np.sum(x) * np.sqrt(len(x))


def _trace(x):
    return np.trace(x @ x.T)


_PER_SHAPE = pytest.mark.xfail(strict=True, reason="not a wrong number: np.arange, np.diag and np.trace divide a "
                                                   "Dim by an int, abs(Dim) and np.sqrt(Dim) are TypeErrors, so "
                                                   "compile_shape_generic raises and these compile per shape")


# found by the property test (compile_shape_generic raised TypeError, so each shape compiled anew); 1.0 / len(x),
# 0.5 * len(x), len(x) ** 2 and reshape(n * k) fixed in f98713d
@pytest.mark.parametrize("fn", [_rdiv, _fmul, _pow, _reshape] + [
    pytest.param(f, marks=_PER_SHAPE) for f in (_arange, _diag, _trace, _abs, _npsqrt)], ids=lambda f: f.__name__)
def test_arithmetic_on_extents_stays_shape_generic(fn):
    g = ad.grad(fn, jit="never")
    r = np.random.default_rng(1)
    for n in (4, 5, 6):
        x = r.standard_normal((n, 3))
        np.testing.assert_allclose(g(x), ad.grad(fn, fallback="always")(x), rtol=1e-12)
    assert g._last.compiled.shape_env is not None, g.explain()


def write_into_a_where_of_scalars(a, x):
    s = np.where(a < 0.0, a, 0.5)     # a 0-d array made from Python floats
    s[...] = np.sum(x * x)
    return np.sin(s) + a * np.sum(x)


def test_a_setitem_into_an_array_made_from_python_scalars_compiles():
    # the setitem shape rule's value check asked for the dtype of a weak scalar's sample (0.0) and refused
    # the write (found by tests/transforms' state programs: the Hessian fell back to the eager engine)
    g = ad.grad(write_into_a_where_of_scalars, 1, jit="never")
    x = np.array([0.3, -0.2, 0.5])
    got = g(1.0, x)
    assert g.mode == "compiled", g.explain()
    h = 1e-6
    fd = [(write_into_a_where_of_scalars(1.0, x + h * e) - write_into_a_where_of_scalars(1.0, x - h * e)) / (2 * h)
          for e in np.eye(3)]
    np.testing.assert_allclose(got, fd, rtol=1e-7)
