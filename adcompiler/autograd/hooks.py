"""Backward hooks on graph nodes and tensors, as torch's: what runs, in which order, with which checks.

A node's `_hooks` slot is None until something is registered on it; the engine
tests only that slot, so a graph without hooks costs nothing more. Once set it
holds a `NodeHooks`: tensor hooks per output (`Tensor.register_hook`), the
tensors that `retain_grad()`, node pre-hooks and post-hooks, post-accumulate
hooks (leaves), the forward traceback in anomaly mode, saved tensors that
went through `saved_tensors_hooks`, and the node's `metadata` dict.

Per node the engine runs, as torch does: tensor hooks (each sees the previous
one's result), then retain_grad (so `.grad` holds the hooked value), then the
node's pre-hooks, the node itself, its post-hooks. For a leaf's AccumulateGrad:
tensor hooks, pre-hooks, accumulation, post-accumulate hooks, post-hooks.
"""
from __future__ import annotations

import collections
import itertools
import traceback
import warnings
import weakref

import numpy as np

from ..ops.core import Abstract
from .anomaly_mode import ANOMALY, forward_stack
from .saved_hooks import SavedSlot, current_hooks

__all__ = ["RemovableHandle", "NodeHooks", "hooks_of", "run_tensor_hooks", "call_node", "accumulate", "on_record",
           "on_record_function"]


class RemovableHandle:
    """What a `register_*hook` returns: `.remove()` unregisters the hook (twice is harmless); also a
    context manager that removes it on exit."""

    _ids = itertools.count()

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(RemovableHandle._ids)
        extra = [] if extra_dict is None else extra_dict if isinstance(extra_dict, list) else [extra_dict]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)

    def remove(self):
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks_dict, fn, prepend=False, extra_dict=None):
    """Put `fn` into the OrderedDict `hooks_dict` (first if `prepend`); its handle, whose remove() also
    removes the hook's key from `extra_dict`."""
    handle = RemovableHandle(hooks_dict, extra_dict=extra_dict)
    hooks_dict[handle.id] = fn
    if prepend:
        hooks_dict.move_to_end(handle.id, last=False)
    return handle


class NodeHooks:
    """Everything registered on one node (see the module docstring)."""

    __slots__ = ("tensor", "retained", "pre", "post", "post_acc", "trace", "saved", "metadata")

    def __init__(self):
        self.tensor = None     # {output_nr: OrderedDict(id -> fn)}
        self.retained = None   # [(output_nr, weakref to tensor)]
        self.pre = None
        self.post = None
        self.post_acc = None
        self.trace = None      # anomaly mode: the forward stack that created the node
        self.saved = None      # SavedSlots of a PrimNode's saved values (saved_tensors_hooks)
        self.metadata = None   # the node's `metadata` dict, made on first use

    def dict_for(self, kind):
        d = getattr(self, kind)
        if d is None:
            d = collections.OrderedDict()
            setattr(self, kind, d)
        return d

    def tensor_dict(self, output_nr):
        if self.tensor is None:
            self.tensor = {}
        return self.tensor.setdefault(output_nr, collections.OrderedDict())


def hooks_of(node):
    h = node._hooks
    if h is None:
        h = node._hooks = NodeHooks()
    return h


def hook_name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


# ---- conversions: the engine moves ndarrays (Tensors under create_graph); hooks see Tensors ----
def _tensor(g):
    from ..tensor import Tensor
    return g if g is None or isinstance(g, Tensor) else Tensor._make(np.asarray(g))


def _raw(g, create_graph):
    from ..tensor import Tensor
    if g is None or create_graph or not isinstance(g, Tensor):
        return g
    return g._data


def _check_value(fn, old, new):
    from ..tensor import Tensor
    if new is None:
        return
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Tensor or None (got {type(new).__name__})")
    if old is not None and tuple(new.shape) != tuple(old.shape):
        raise RuntimeError(f"hook '{hook_name(fn)}' has changed the size of value")


def _check_tuple(fn, old, new):
    if not isinstance(new, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(new).__name__}'")
    if len(new) != len(old):
        raise RuntimeError(f"hook '{hook_name(fn)}' has returned an incorrect number of values (got {len(new)}, "
                           f"but expected {len(old)})")
    for o, n in zip(old, new):
        if o is None and n is not None:
            raise RuntimeError("can't replace a None gradient with a non-None value")
        _check_value(fn, o, n)


# ---- what the engine calls for a node whose `_hooks` is set ----------------------------------------
def run_tensor_hooks(node, hooks, g, create_graph):
    """Tensor hooks on the node's outputs, then retain_grad; returns the (possibly replaced) gradient."""
    if hooks.tensor:
        multi = node.n_outputs != 1
        g = list(g) if multi else g
        for nr, fns in hooks.tensor.items():
            gk = g[nr] if multi else g
            if gk is None or not fns:
                continue
            gt = _tensor(gk)
            for fn in list(fns.values()):
                new = fn(gt)
                _check_value(fn, gt, new)
                if new is not None:
                    gt = new
            gk = _raw(gt, create_graph)
            if multi:
                g[nr] = gk
            else:
                g = gk
    if hooks.retained:
        from .engine import retain
        retain(node, g, create_graph)
    return g


def _run_pre(node, hooks, g, create_graph):
    fns = list(hooks.pre.values()) if hooks.pre else ()
    if not fns:
        return g
    multi = node.n_outputs != 1
    outs = tuple(_tensor(x) for x in (g if multi else (g,)))
    for fn in fns:
        new = fn(outs)
        if new is not None:
            _check_tuple(fn, outs, new)
            outs = new
    outs = [_raw(x, create_graph) for x in outs]
    return outs if multi else outs[0]


def _visible(node):
    """Positions of the engine's per-edge gradients that torch shows (next_functions' entries)."""
    from .graph import children
    hide = node.hidden_edge
    return [i for i in range(len(children(node))) if i != hide]


def _run_post(node, hooks, grads, g, create_graph):
    fns = list(hooks.post.values()) if hooks.post else ()
    if not fns:
        return grads
    from .graph import children
    pos = _visible(node)
    grads = list(grads) if grads is not None else [None] * len(children(node))
    ins = tuple(_tensor(grads[i]) for i in pos)
    outs = tuple(_tensor(x) for x in (g if node.n_outputs != 1 else (g,)))
    for fn in fns:
        new = fn(ins, outs)
        if new is not None:
            _check_tuple(fn, ins, new)
            ins = new
    for i, x in zip(pos, ins):
        grads[i] = _raw(x, create_graph)
    return grads


def call_node(node, hooks, g, create_graph, anomaly, retain_graph):
    """Run `node` (not a leaf) on its incoming gradient `g` with its pre- and post-hooks and, in anomaly
    mode, the NaN check and the forward traceback of a failing node."""
    try:
        if hooks is not None:
            g = _run_pre(node, hooks, g, create_graph)
            if hooks.saved:
                grads = node.apply_saved(g, create_graph, hooks.saved)
                if not retain_graph:
                    hooks.saved = None  # what pack returned is freed with the rest of what the node saved
            else:
                grads = node.apply(g, create_graph)
        else:
            grads = node.apply(g, create_graph)
        if anomaly is not None and anomaly.check_nan:
            _check_nan(node, grads)
        if hooks is not None:
            grads = _run_post(node, hooks, grads, g, create_graph)
    except Exception as e:
        if anomaly is not None:
            _explain(node, hooks, e)
        raise
    return grads


def accumulate(node, hooks, g, create_graph):
    """A leaf's AccumulateGrad with hooks: pre-hooks, accumulation, post-accumulate hooks, post-hooks."""
    g = _run_pre(node, hooks, g, create_graph)
    if g is None:
        return
    node.accumulate(g, create_graph)
    if hooks.post_acc:
        for fn in list(hooks.post_acc.values()):
            fn(node.variable)
    if hooks.post:
        outs = (_tensor(g),)
        for fn in list(hooks.post.values()):
            new = fn((), outs)
            if new is not None:
                _check_tuple(fn, (), new)


# ---- anomaly mode --------------------------------------------------------------------------------
def _check_nan(node, grads):
    if grads is None:
        return
    for k, i in enumerate(_visible(node)):
        gi = grads[i]
        if gi is None:
            continue
        data = getattr(gi, "_data", gi)
        if np.isnan(data).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {k}th output.")


def format_trace(frames):
    return "".join(traceback.format_list(frames))


def _explain(node, hooks, exc):
    """torch's anomaly-mode warning for a failing node, and a note on the error naming the user's line."""
    trace = hooks.trace if hooks is not None else None
    if trace is None:
        warnings.warn(f"Error detected in {node.name()}. No forward pass information available. Enable detect "
                      "anomaly during forward pass for more information.", UserWarning, stacklevel=4)
        return
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                  f"{format_trace(trace)}", UserWarning, stacklevel=4)
    last = trace[-1]
    exc.add_note(f"{node.name()} was created by the forward call at {last.filename}:{last.lineno}: "
                 f"{(last.line or '').strip()}")


# ---- at record time (recording.STATE.active) -------------------------------------------------------
def on_record(node, prim, args, res):
    """`node` was just recorded for `prim(*args) -> res`: keep the forward stack in anomaly mode; pass
    the values it saved through this thread's pack hook (the node then keeps only what pack returned)."""
    if ANOMALY.enabled:
        hooks_of(node).trace = forward_stack()
    pair = current_hooks()
    if pair is None:
        return
    tensor_type = type(res)
    slots = []
    kept = None
    for i in prim.saves:
        if i < len(args) and isinstance(args[i], tensor_type):
            slots.append(SavedSlot(i, args[i], pair))
            if kept is None:
                kept = list(node.args)
            kept[i] = Abstract.of(args[i]._data)
    if prim.saves_out:
        slots.append(SavedSlot(None, res, pair, history=False))
        node.out_data = None
    if kept is not None:
        node.args = tuple(kept)
    node.saved_versions = ()
    node._nl = 0
    if slots:
        hooks_of(node).saved = slots


def on_record_function(ctx):
    """A custom Function's node `ctx` was just recorded (its saved tensors are packed by
    save_for_backward itself)."""
    if ANOMALY.enabled:
        hooks_of(ctx).trace = forward_stack()
