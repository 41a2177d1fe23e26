"""Custom differentiable operations: subclass `Function`, write static
`forward(ctx, ...)` and `backward(ctx, *grads)`, call `.apply(...)`.

The backward node is named after the class: as in torch, each Function class
gets a node class `<Name>Backward` (`ExpBackward` for `class Exp`), of which
`ctx` is an instance — `ctx` is the node itself. Grad mode is off inside forward.
"""
from __future__ import annotations

import numpy as np

from . import grad_mode, recording
from .graph import Node, _FREED_MSG, _modified_msg, edge_of
from .hooks import on_record_function
from .saved_hooks import SavedSlot, current_hooks

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx(Node):
    """The `ctx` of a custom Function, and its backward node."""

    __slots__ = ("fn_cls", "_saved", "_saved_versions", "_saved_slots", "needs_input_grad", "_non_diff",
                 "_tensor_positions", "n_outputs", "_freed", "_materialize", "__dict__")

    def __init__(self, fn_cls):
        self.fn_cls = fn_cls
        self._saved = ()
        self._saved_versions = ()
        self._non_diff = set()
        self._freed = False
        self._materialize = True
        self._saved_slots = None
        self._hooks = None
        self._next = ()
        self._nrs = None
        self.n_outputs = 1
        self.needs_input_grad = ()

    def name(self):
        return f"{self.fn_cls.__name__}Backward"

    def __repr__(self):
        return f"<adcompiler.autograd.function.{self.name()} object at {hex(id(self))}>"

    def save_for_backward(self, *tensors):
        pair = current_hooks()
        if pair is not None:  # saved_tensors_hooks: keep what pack returns; unpack at each saved_tensors
            self._saved_slots = tuple(None if t is None else SavedSlot(i, t, pair) for i, t in enumerate(tensors))
            self._saved, self._saved_versions = (), ()
            return
        self._saved = tensors
        self._saved_versions = tuple(t._vc[0] if t is not None else None for t in tensors)

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        if self._saved_slots is not None:
            return tuple(None if s is None else s.unpack() for s in self._saved_slots)
        for t, v in zip(self._saved, self._saved_versions):
            if t is not None and t._vc[0] != v:
                raise RuntimeError(_modified_msg(t, t._vc[0], v))
        return self._saved

    def mark_non_differentiable(self, *outputs):
        self._non_diff.update(id(o) for o in outputs)

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    def release(self):
        if self._saved or self._saved_slots:
            self._freed = True
            self._saved = ()
            self._saved_slots = None

    def apply(self, grads, create_graph):
        from ..tensor import Tensor
        from ..ops.core import unbroadcast
        if self.n_outputs == 1:
            grads = [grads]
        gts = []
        for g, shape_dtype in zip(grads, self._out_meta):
            if g is None:
                g = np.zeros(shape_dtype[0], shape_dtype[1]) if self._materialize else None
            gts.append(g if g is None or isinstance(g, Tensor) else Tensor._make(g))
        with grad_mode.set_grad_enabled(create_graph):
            res = self.fn_cls.backward(self, *gts)
        if not isinstance(res, tuple):
            res = (res,)
        n_in = len(self.needs_input_grad)
        if len(res) != n_in:
            if len(res) > n_in and all(r is None for r in res[n_in:]):
                res = res[:n_in]
            else:
                raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                                   f"(expected {n_in}, got {len(res)})")
        out = []
        for pos, meta in self._tensor_positions:
            r = res[pos]
            if r is None:
                out.append(None)
                continue
            r = r if isinstance(r, Tensor) else Tensor._make(np.asarray(r))
            if tuple(r.shape) != meta:
                try:
                    r = unbroadcast(r, meta)
                except ValueError:
                    raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index {pos} - got "
                                       f"{list(r.shape)} but expected shape compatible with {list(meta)}") from None
            out.append(r if create_graph else r._data)
        return out


class _FunctionMeta(type):
    """Gives each Function class its node class, `<Name>Backward` (as torch's FunctionMeta)."""

    def __init__(cls, name, bases, attrs):
        cls._backward_cls = type(f"{name}Backward", (FunctionCtx,), {"__module__": __name__})
        super().__init__(name, bases, attrs)


class Function(metaclass=_FunctionMeta):
    """Base class of custom autograd operations (see the module docstring)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        from ..tensor import Tensor
        ctx = cls._backward_cls(cls)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with grad_mode.no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        if not (grad_mode.is_grad_enabled() and any(ctx.needs_input_grad)):
            return outputs
        if recording.STATE.active:
            on_record_function(ctx)
        ctx._tensor_positions = [(i, tuple(a.shape)) for i, a in enumerate(args) if isinstance(a, Tensor)]
        edges = [edge_of(args[i]) for i, _ in ctx._tensor_positions]
        ctx._next = tuple(n for n, _ in edges)
        ctx._nrs = tuple(nr for _, nr in edges) if any(nr for _, nr in edges) else None
        ctx.n_outputs = len(outs)
        ctx._out_meta = [(tuple(o.shape), o._data.dtype) if isinstance(o, Tensor) else ((), np.float64)
                         for o in outs]
        wrapped = []
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        for nr, o in enumerate(outs):
            if not isinstance(o, Tensor):
                wrapped.append(o)
                continue
            if id(o) in ctx._non_diff:
                wrapped.append(o)
                continue
            if id(o) in inputs or o._grad_fn is not None or o._requires_grad:
                o = o.detach()
            if o._data.dtype.kind not in "fc":
                wrapped.append(o)
                continue
            o._grad_fn = ctx
            o._output_nr = nr
            wrapped.append(o)
        return wrapped[0] if single else tuple(wrapped)


def once_differentiable(fn):
    """Marks a backward as not differentiable twice (accepted for compatibility)."""
    return fn
