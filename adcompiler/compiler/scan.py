"""Syntactic questions about statement lists, answered before they are compiled:
which names a loop body assigns, whether it contains break/continue/return,
and whether a branch always leaves (return/break/continue as its last step)."""
from __future__ import annotations

import libcst as cst

_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_LOOPS = (cst.For, cst.While)


def target_names(t, out, items=True):
    """Names bound by an assignment target (x, (a, b), and x[i] -> x unless not `items`)."""
    if isinstance(t, cst.Name):
        out.append(t.value)
    elif isinstance(t, (cst.Tuple, cst.List)):
        for e in t.elements:
            target_names(e.value, out, items)
    elif isinstance(t, cst.StarredElement):
        target_names(t.value, out, items)
    elif isinstance(t, cst.Subscript) and items:
        target_names(t.value, out, items)
    return out


def assigned_names(stmts, items=True):
    """Names assigned anywhere in `stmts` (nested blocks included, nested scopes not), in order;
    with items=False, not those only written into (x[i] = ...): a function's local variables."""
    out = []
    for n in _walk(stmts, skip_loops=False):
        if isinstance(n, cst.Assign):
            for t in n.targets:
                target_names(t.target, out, items)
        elif isinstance(n, (cst.AugAssign, cst.AnnAssign)):
            target_names(n.target, out, items)
        elif isinstance(n, cst.For):
            target_names(n.target, out, items)
        elif isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            out.append(n.name.value)
    return list(dict.fromkeys(out))


def contains(stmts, kinds, skip_loops):
    """Whether a statement of one of `kinds` occurs in `stmts` (not looking into
    nested loops when skip_loops, e.g. for break/continue)."""
    return any(isinstance(n, kinds) for n in _walk(stmts, skip_loops))


def _walk(stmts, skip_loops):
    """Statements (small ones included) in `stmts` and their nested blocks, pre-order."""
    stack = list(reversed(stmts))
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, _SCOPES) or (skip_loops and isinstance(n, _LOOPS)):
            continue
        kids = []
        for field in ("body", "orelse", "handlers", "finalbody"):
            c = getattr(n, field, None)
            if c is None:
                continue
            if isinstance(c, (list, tuple)):
                kids.extend(c)
            elif isinstance(c, cst.CSTNode):
                kids.append(c)
        stack.extend(reversed(kids))


def statements(suite):
    """The statements of a block as a flat list (small statements of a line split out)."""
    out = []
    body = suite.body if isinstance(suite, (cst.IndentedBlock, cst.SimpleStatementSuite)) else suite
    for s in body:
        if isinstance(s, cst.SimpleStatementLine):
            out.extend(s.body)
        else:
            out.append(s)
    return out


def always_exits(stmts):
    """Whether running `stmts` always ends in return/break/continue/raise."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (cst.Return, cst.Break, cst.Continue, cst.Raise)):
        return True
    if isinstance(last, cst.If) and last.orelse is not None:
        return always_exits(statements(last.body)) and always_exits(else_statements(last))
    return False


def else_statements(node):
    """The statements of an if's else part: [elif If] or the else block's statements."""
    if node.orelse is None:
        return []
    if isinstance(node.orelse, cst.If):
        return [node.orelse]
    return statements(node.orelse.body)
