"""IR of the functional transforms: jvp, vjp, hvp and a derivative of a gradient.

Each builder specialises `fn` on IR `types` (parameter name -> type), as
gradient.py does for grad, and returns `(forward IR, transformed IR)`; the
API (transforms.py at the package top) picks the tier that runs it.

- jvp: forward.py's transform: f_jvp(*params, *tangents) -> (value, value_dot).
- vjp: the reverse transform of `<f(params), ct>` with the cotangent `ct` as an
  extra parameter: f_vjp(*params, ct) -> (cotangent of each wrt param,).
- hvp: forward over reverse: the forward transform of f's adjoint (its tapes
  carry tangents), f_hvp(*params, x_dot) -> (grad, H x_dot).
- second_derivative: the same with the tangent seeded with 1.0 for a scalar
  parameter, shaped as a gradient (value, d/dy grad): what grad(grad(f)) compiles
  to when the inner adjoint keeps a tape (re-reading its Python would trace).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .builder import Builder
from .errors import UnsupportedSyntax
from .forward import forward
from .gradient import adjoint_ir_for_types
from .ir import Function, Op, Value, clone, replace_uses, verify
from .passes import optimize
from .passes.dce import dce
from .passes.factor import factor
from .passes.simplify import simplify
from .reverse import prune_tapes, reverse
from .types import is_float

__all__ = ["batched", "hvp_ir", "jvp_ir", "second_derivative_ir", "vjp_ir"]


def _front(fn, types):
    from .frontend import compile_function     # libcst, imported only when something is compiled
    return compile_function(fn, types)


def _indices(fwd, wrt_names):
    names = [p.hint for p in fwd.params]
    out = []
    for n in wrt_names:
        t = fwd.params[names.index(n)].type
        if not is_float(t):
            raise TypeError(f"argument {n!r} has type {t}; derivatives are taken w.r.t. float inputs")
        out.append(names.index(n))
    return out


def _finish(fn):
    fn = optimize(fn)
    verify(fn)
    return fn


def jvp_ir(fn, types, wrt_names):
    fwd = _front(fn, types)
    return fwd, _finish(forward(fwd, _indices(fwd, wrt_names)))


def vjp_ir(fn, types, wrt_names):
    fwd = _front(fn, types)
    wrt = _indices(fwd, wrt_names)
    out_t = fwd.result_type
    if not is_float(out_t):
        raise UnsupportedSyntax(f"vjp of a function returning {out_t} is traced (the compiled vjp takes one float "
                                "scalar or array result)")
    g = clone(fwd)
    ret = g.body.ops.pop()
    ct = Value(out_t, "ct")
    g.params.insert(len(g.user_params), ct)   # (the first parameter after the user's, as jvp's tangents)
    with Builder(g.body, loc=ret.loc) as b:
        prod = ops.mul(ret.operands[0], ct)
        b.return_(ops.sum_(prod) if out_t.is_array else prod)
    adj = optimize(factor(simplify(reverse(g, wrt, with_value=False))))
    if prune_tapes(adj):
        adj = dce(adj)
    verify(adj)
    return fwd, adj


def _adjoint(fn, types, wrt_name, irs=None):
    """f's optimised adjoint (gradient alone; `irs`: (forward IR, adjoint IR) already built), as a
    function whose hidden inputs (the last parameters) are marked."""
    fwd, adj = irs if irs is not None else adjoint_ir_for_types(fn, types, [wrt_name], with_value=False)
    marked = Function(adj.name, adj.params, adj.body, adj.loc)     # (read only: the adjoint is not changed)
    marked.guards, marked.hidden = fwd.guards, fwd.hidden
    return fwd, marked


def hvp_ir(fn, types, wrt_name):
    """f_hvp(*params, x_dot) -> (grad, H x_dot), a flat pair (what the native tier returns)."""
    fwd, adj = _adjoint(fn, types, wrt_name)
    names = [p.hint for p in adj.params]
    fw = forward(adj, [names.index(wrt_name)])
    ret = fw.body.ops.pop()
    with Builder(fw.body, loc=ret.loc) as b:
        grads, dots = b.untuple(ret.operands[0])
        b.return_(b.tuple(b.untuple(grads) + b.untuple(dots)))
    return fwd, _finish(fw)


_MAX_BATCHED_SEED = 4096     # w.r.t. an array of more elements: the identity seed would be too big


def second_derivative_ir(inner_fn, types, inner_wrt, outer_wrt, with_value, irs=None):
    """d/d`outer_wrt` of grad(inner_fn, inner_wrt) (a scalar gradient), compiled as forward over
    reverse: an IR function of inner_fn's parameters returning (inner gradient?, derivative) like an
    adjoint with `with_value`. W.r.t. a scalar the tangent is seeded with 1.0; w.r.t. an array with
    every basis vector at once (the tangent batched, batching.py): one sweep either way. `irs`: the
    inner gradient's (forward IR, adjoint IR), when it is compiled already."""
    fwd, adj = _adjoint(inner_fn, types, inner_wrt, irs)
    names = [p.hint for p in adj.params]
    y = adj.params[names.index(outer_wrt)]
    if not is_float(y.type):
        raise UnsupportedSyntax(f"{outer_wrt!r} is not a float")
    n = int(np.prod(y.type.shape, dtype=np.int64))
    scalar = y.type.is_scalar or y.type.shape == ()
    fw = forward(adj, [names.index(outer_wrt)])
    seed_at = len(adj.user_params)
    if not scalar:
        from .batching import Unbatchable, batch
        if n > _MAX_BATCHED_SEED:
            raise UnsupportedSyntax(f"a gradient of a gradient w.r.t. {outer_wrt!r} ({n} elements) through a tape")
        try:
            fw = batch(fw, [seed_at], n)
        except Unbatchable as e:
            raise UnsupportedSyntax(f"a gradient of a gradient w.r.t. the array {outer_wrt!r}: {e}") from None
    # the tangent parameter becomes the constant seed, and (grads, grads_dot) -> (grad?, grad_dot)
    seed = fw.params.pop(seed_at)
    if scalar:
        one = Op("full" if seed.type.is_array else "const", (), [seed.type], {"value": 1.0}, loc=fw.loc,
                 hints=[seed.hint])
    else:
        basis = np.eye(n, dtype=seed.type.dtype).reshape(seed.type.shape)
        one = Op("const", (), [seed.type], {"value": basis}, loc=fw.loc, hints=[seed.hint])
    fw.body.ops.insert(0, one)
    replace_uses(fw.body, {id(seed): one.result})
    ret = fw.body.ops.pop()
    with Builder(fw.body, loc=ret.loc) as b:
        grads, dots = b.untuple(ret.operands[0])
        (grad,) = b.untuple(grads)
        (dot,) = b.untuple(dots)
        if not (grad.type.is_scalar or int(np.prod(grad.type.shape)) == 1):
            raise UnsupportedSyntax("the inner gradient is an array")   # grad's own error, from the other path
        if not scalar:       # d grad / d y_k for k over y's elements, as an array of y's shape
            if int(np.prod(dot.type.shape, dtype=np.int64)) != n:   # it does not depend on y: the same for all k
                dot = ops.broadcast_to(ops.reshape(dot, shape=()) if dot.type.shape else dot, shape=(n,))
            dot = ops.reshape(dot, shape=tuple(y.type.shape))
        b.return_(b.tuple(([grad] if with_value else []) + [dot]))
    fw.name = inner_fn.__name__ + "_grad_grad"
    return fwd, _finish(fw)


def batched(irs, size):
    """(forward IR, the transformed IR with a batch axis of `size` on its tangent or cotangent
    parameter, the first after the user's). Raises batching.Unbatchable."""
    from .batching import batch
    fwd, ir = irs
    return fwd, _finish(batch(ir, [len(fwd.user_params)], size))
