"""Nested functions and lambdas in compiled code.

`def` inside a function and `lambda` make a `Closure`: the syntax tree, the
defaults (evaluated where the function is defined, as Python does) and the
inline frame that defined it. A call inlines the body, like a call to a helper.

Python resolves a free variable of a closure when the closure runs: the value
the enclosing function's variable has at that moment. The inlined body reads
the defining frame's environment as it is at the call (the frame is suspended
there: the call is made by it, or by a helper it called). A closure called
after its defining frame has returned is refused, and so is a closure that
changes a variable of its enclosing function in place (x[0] = ..., append):
the inlined body works on its own bindings, so the change would be lost.
"""
from __future__ import annotations

import inspect

import libcst as cst

from .scan import assigned_names, statements
from .values import Undefined

_KINDS = inspect.Parameter


class Closure:
    """A nested function or lambda value (see the module docstring)."""
    __slots__ = ("node", "name", "signature", "ctx", "frame", "__weakref__")

    def __init__(self, node, name, signature, ctx, frame):
        self.node, self.name, self.signature, self.ctx, self.frame = node, name, signature, ctx, frame


def define(fe, node):
    """`def` or `lambda` at `node`: the Closure value."""
    is_lambda = isinstance(node, cst.Lambda)
    if not is_lambda:
        if node.decorators:
            fe.fail("decorated nested functions are not supported", node.decorators[0])
        if node.asynchronous is not None:
            fe.fail("async functions are not supported", node)
    name = "<lambda>" if is_lambda else node.name.value
    p = node.params
    if isinstance(p.star_arg, cst.Param) or p.star_kwarg is not None:
        fe.fail(f"'{name}': *args/**kwargs parameters are not supported", node)
    params = []
    for kind, group in ((_KINDS.POSITIONAL_ONLY, p.posonly_params), (_KINDS.POSITIONAL_OR_KEYWORD, p.params),
                        (_KINDS.KEYWORD_ONLY, p.kwonly_params)):
        for prm in group:
            default = _KINDS.empty if prm.default is None else fe.expr(prm.default)
            params.append(_KINDS(prm.name.value, kind, default=default))
    return Closure(node, name, inspect.Signature(params), fe.ctx, fe.frame_id())


def call(fe, clo, args, kwargs, node):
    """The value of calling `clo` with front-end values: its body inlined."""
    outer = fe.frame_env(clo.frame)
    if outer is None:
        fe.fail(f"calling '{clo.name}' after the function that defined it has returned is not supported", node)
    if any(c is clo for c in fe._stack):
        fe.fail(f"recursive call to '{clo.name}' is not supported", node)
    try:
        bound = clo.signature.bind(*args, **kwargs)
    except TypeError as e:
        fe.fail(f"bad call to '{clo.name}': {e}", node)
    bound.apply_defaults()
    body = None if isinstance(clo.node, cst.Lambda) else statements(clo.node.body)
    params = set(clo.signature.parameters)
    local = params | set(_local_names(clo.node, body))
    free = {n: v for n, v in outer.items() if not n.startswith("#") and n not in local}
    env = dict(free)
    for n in local - params:
        env[n] = Undefined(f"local variable '{n}' of '{clo.name}' is read before it is assigned")
    env.update(bound.arguments)
    defaulted = {n for n, prm in clo.signature.parameters.items()
                 if prm.default is not _KINDS.empty and n not in _given(clo.signature, args, kwargs)}
    first_write = len(fe.writes)
    saved = (fe.ctx, fe.env, fe.node)
    fe._callers.append(fe.env)
    fe.ctx, fe.env = clo.ctx, env
    fe._stack.append(clo)
    fe._frames.append(object())
    try:
        if body is None:
            result = fe.expr(clo.node.body)
        else:
            fe.block(body)
            result = fe.finish(clo.node)
        for _, n, wnode, ctx, _ in fe.writes[first_write:]:
            if n in defaulted and ctx is clo.ctx:
                fe.fail(f"'{clo.name}' writes into the default value of its parameter '{n}' (Python keeps that "
                        "change for the next call); this is not supported in compiled code", wnode)
        for n, v in free.items():
            if fe.env.get(n) is not v:
                fe.fail(f"'{clo.name}' changes '{n}' of its enclosing function in place; this is not supported "
                        "in compiled code (return the new value instead)", node)
        return result
    finally:
        fe._frames.pop()
        fe._stack.pop()
        fe._callers.pop()
        fe.ctx, fe.env, fe.node = saved


def _given(signature, args, kwargs):
    return set(signature.bind_partial(*args, **kwargs).arguments)


def _local_names(node, body):
    if body is None:
        return []
    return assigned_names(body, items=False)


__all__ = ["Closure", "define", "call"]
