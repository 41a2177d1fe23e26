"""Pictures of the backward graph, in the style of torchviz's `make_dot`.

    dot = make_dot(loss, params=dict(model.named_parameters()))
    print(dot.source)                 # Graphviz DOT text, always available
    dot.render("graph.svg")           # needs the Graphviz `dot` program

Nodes: the output tensors (green), the backward nodes by their grad_fn name
(`MulBackward0`, `AccumulateGrad`, ...), the leaves under their AccumulateGrad
(blue; named from `params`, with their shape), optionally the tensors each
node saved for backward (orange, `show_saved`) and the order in which the
engine runs the nodes (`show_order`). The walk over `next_functions` is
iterative, so a graph of any depth can be drawn.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np

from .autograd.graph import AccumulateGrad
from .tensor import Tensor

__all__ = ["make_dot", "Digraph", "GraphvizNotFound", "backward_order"]

INSTALL_HINT = ("the Graphviz `dot` program was not found on PATH. Install the program itself: "
                "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
                "`conda install graphviz`; `pip install graphviz` is not enough (it installs only Python bindings). "
                "The DOT text is available without it as `.source`.")

_FORMATS = ("svg", "png", "pdf")


class GraphvizNotFound(RuntimeError):
    """Raised by `render` when the Graphviz `dot` executable is not installed."""


class Digraph:
    """DOT source plus rendering: `.source`, `.render(path, format)`, `.save(path)`, `_repr_svg_()`."""

    def __init__(self, source):
        self.source = source

    def __str__(self):
        return self.source

    def __repr__(self):
        return f"<adcompiler.viz.Digraph with {self.source.count(' -> ')} edges>"

    def pipe(self, format="svg"):
        """The rendered picture as bytes (runs `dot -T<format>`)."""
        if format not in _FORMATS:
            raise ValueError(f"unknown format {format!r}; use one of {', '.join(_FORMATS)}")
        exe = shutil.which("dot")
        if exe is None:
            raise GraphvizNotFound(INSTALL_HINT)
        proc = subprocess.run([exe, f"-T{format}"], input=self.source.encode(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"dot failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def render(self, path, format=None):
        """Write the picture to `path`; the format comes from `format` or the file suffix (svg by default).

        Raises GraphvizNotFound, saying how to install Graphviz, when `dot` is missing.
        """
        if format is None:
            suffix = os.path.splitext(str(path))[1].lstrip(".").lower()
            format = suffix if suffix in _FORMATS else "svg"
        data = self.pipe(format)
        with open(path, "wb") as f:
            f.write(data)
        return str(path)

    def save(self, path):
        """Write the DOT source to `path` (needs no Graphviz)."""
        with open(path, "w") as f:
            f.write(self.source)
        return str(path)

    def _repr_svg_(self):
        # notebooks: an SVG when Graphviz is installed; None lets them fall back to the text repr
        try:
            return self.pipe("svg").decode()
        except GraphvizNotFound:
            return None


def _shape_str(shape):
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _walk(roots):
    """Every node reachable from `roots` through next_functions, in discovery order (iterative DFS)."""
    order, seen = [], set()
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(reversed([c for c, _ in node.next_functions if c is not None]))
    return order


def backward_order(roots):
    """The nodes in the order adcompiler's engine runs them from `roots` (its dependency-count schedule)."""
    roots = [r.grad_fn if isinstance(r, Tensor) else r for r in roots]
    roots = [r for r in roots if r is not None]
    deps = {}
    for node in _walk(roots):
        for child, _ in node.next_functions:
            if child is not None:
                deps[child] = deps.get(child, 0) + 1
    ready = [n for n in dict.fromkeys(roots) if deps.get(n, 0) == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child, _ in node.next_functions:
            if child is not None:
                deps[child] -= 1
                if deps[child] == 0:
                    ready.append(child)
    return order


def _saved_values(node):
    """(label, shape) of what `node` keeps for backward, read from the node (empty once freed)."""
    out = []
    prim = getattr(node, "prim", None)
    if prim is not None and not getattr(node, "freed", False):
        for i, a in enumerate(node.args or ()):
            if i in prim.saves and isinstance(a, (Tensor, np.ndarray)):
                out.append((f"saved input {i}", np.shape(a._data if isinstance(a, Tensor) else a)))
        if getattr(node, "out_data", None) is not None:
            out.append(("saved result", np.shape(node.out_data)))
    for i, t in enumerate(getattr(node, "_saved", None) or ()):
        if isinstance(t, Tensor):
            out.append((f"saved tensor {i}", tuple(t.shape)))
    return out


def make_dot(var, params=None, show_saved=False, show_order=False):
    """The backward graph of `var` (a Tensor or a sequence of Tensors) as a `Digraph`.

    params: {name: tensor} used to label leaves (e.g. dict(model.named_parameters())).
    show_saved: also draw what each node saved for backward.
    show_order: number the nodes in the order backward runs them.
    """
    outputs = list(var) if isinstance(var, (list, tuple)) else [var]
    for o in outputs:
        if not isinstance(o, Tensor):
            raise TypeError(f"make_dot expects Tensors, got {type(o).__name__}")
    names = {id(t): name for name, t in (params or {}).items()}
    ids = {}

    def nid(obj):
        return ids.setdefault(id(obj), f"n{len(ids)}")

    lines = ["digraph {", '\tgraph [size="12,12"]',
             "\tnode [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 shape=box style=filled]"]

    def leaf_label(t):
        name = names.get(id(t), "")
        return f"{name}\n {_shape_str(t.shape)}"

    roots = [o.grad_fn for o in outputs if o.grad_fn is not None]
    for o in outputs:
        if o.grad_fn is None:  # a leaf given as the output
            lines.append(f"\t{nid(o)} [label={_quote(leaf_label(o))} fillcolor=lightblue]")
            continue
        lines.append(f"\t{nid(o)} [label={_quote(leaf_label(o))} fillcolor=darkolivegreen1]")
    step = {n: i + 1 for i, n in enumerate(backward_order(roots))} if show_order else {}
    for node in _walk(roots):
        label = node.name()
        if node in step:
            label += f"\n(step {step[node]})"
        lines.append(f"\t{nid(node)} [label={_quote(label)}]")
        if isinstance(node, AccumulateGrad):
            v = node.variable
            lines.append(f"\t{nid(v)} [label={_quote(leaf_label(v))} fillcolor=lightblue]")
            lines.append(f"\t{nid(v)} -> {nid(node)}")
        if show_saved:
            for k, (what, shape) in enumerate(_saved_values(node)):
                sid = f"{nid(node)}_s{k}"
                lines.append(f"\t{sid} [label={_quote(what + chr(10) + ' ' + _shape_str(shape))} fillcolor=orange]")
                lines.append(f"\t{sid} -> {nid(node)} [dir=none style=dashed]")
        for child, _ in node.next_functions:
            if child is not None:
                lines.append(f"\t{nid(child)} -> {nid(node)}")
    for o in outputs:
        if o.grad_fn is not None:
            lines.append(f"\t{nid(o.grad_fn)} -> {nid(o)} [style=dashed]")
    lines.append("}")
    return Digraph("\n".join(lines) + "\n")
