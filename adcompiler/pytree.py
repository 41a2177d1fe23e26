"""Nested arguments (tuples, lists, dicts of arrays and numbers) as flat leaves.

`flatten(x) -> (leaves, treedef)` and `unflatten(treedef, leaves)` let the
gradient API take and return structures of the same shape as the user's
arguments, as JAX does.
"""
from __future__ import annotations

__all__ = ["flatten", "unflatten", "TreeDef"]


class TreeDef:
    """The structure of a nested value: a kind, its children and dict keys."""

    __slots__ = ("kind", "children", "keys")

    def __init__(self, kind, children=(), keys=None):
        self.kind = kind
        self.children = children
        self.keys = keys

    def __eq__(self, other):
        return (isinstance(other, TreeDef) and self.kind == other.kind and self.keys == other.keys
                and self.children == other.children)

    def __hash__(self):
        return hash((self.kind, self.children, self.keys))

    def __repr__(self):
        return f"TreeDef({self.kind}, {self.children}, {self.keys})"


_LEAF = TreeDef("leaf")


def flatten(x):
    """Leaves of `x` in a fixed order, and its structure."""
    leaves = []
    return leaves, _flatten(x, leaves)


def _flatten(x, leaves):
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return TreeDef("tuple", tuple(_flatten(v, leaves) for v in x))
    if isinstance(x, list):
        return TreeDef("list", tuple(_flatten(v, leaves) for v in x))
    if isinstance(x, dict):
        keys = tuple(sorted(x, key=repr))
        return TreeDef("dict", tuple(_flatten(x[k], leaves) for k in keys), keys)
    leaves.append(x)
    return _LEAF


def unflatten(treedef, leaves):
    it = iter(leaves)
    out = _unflatten(treedef, it)
    return out


def _unflatten(td, it):
    if td.kind == "leaf":
        return next(it)
    children = [_unflatten(c, it) for c in td.children]
    if td.kind == "tuple":
        return tuple(children)
    if td.kind == "list":
        return children
    return dict(zip(td.keys, children))
