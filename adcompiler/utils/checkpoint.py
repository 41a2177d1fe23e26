"""Activation checkpointing, as torch.utils.checkpoint: trade compute for memory.

`checkpoint(fn, *args, use_reentrant=False)` (the default, and torch's
recommendation) records `fn`'s graph as usual but inside a
`saved_tensors_hooks` block whose pack hook keeps a numbered placeholder
instead of each saved tensor. The first time backward needs one of them, `fn`
runs again on the same arguments (random-number state restored), and that
run's saved tensors fill the placeholders. The graph is the ordinary one, so
gradients reach everything `fn` uses, closures included, also through
`autograd.grad`; tensor and node hooks inside `fn` work.

`use_reentrant=True` is torch's older variant: an `autograd.Function`
(`CheckpointFunctionBackward`) that runs `fn` without recording and, in its
backward, recomputes and differentiates `fn` with a nested engine call.
Gradients reach the tensor arguments and the parameters of `fn` when it is a
Module or a Module's bound method as Function inputs; other leaves that `fn`
closes over are accumulated into their `.grad` during the recomputation, so
they are not seen by `autograd.grad` and `backward(inputs=...)`.
"""
from __future__ import annotations

import numpy as np

from .. import factories
from ..autograd import Function, engine, grad_mode
from ..autograd.graph import AccumulateGrad, saved_tensors_hooks
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError"]


class CheckpointError(RuntimeError):
    """The recomputation did not save what the original forward saved."""


def _module_params(fn):
    from ..nn.module import Module
    owner = fn if isinstance(fn, Module) else getattr(fn, "__self__", None)
    if isinstance(owner, Module):
        return [p for p in owner.parameters() if p.requires_grad]
    return []


class CheckpointFunction(Function):
    """apply(fn, rng_state, n_args, *args, *params, [anchor]) -> fn(*args), recomputed in backward."""

    @staticmethod
    def forward(ctx, fn, rng_state, n_args, *inputs):
        ctx.fn = fn
        ctx.rng_state = rng_state
        ctx.n_args = n_args
        ctx.save_for_backward(*[x if isinstance(x, Tensor) else None for x in inputs])
        ctx.plain = [None if isinstance(x, Tensor) else x for x in inputs]
        return fn(*inputs[:n_args])

    @staticmethod
    def backward(ctx, *grad_outputs):
        saved = ctx.saved_tensors
        inputs = [ctx.plain[i] if t is None else t for i, t in enumerate(saved)]
        args = [_detached(x) for x in inputs[:ctx.n_args]]
        with _rng_restored(ctx.rng_state), grad_mode.enable_grad():
            outputs = ctx.fn(*args)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        explicit = args + list(inputs[ctx.n_args:])
        wanted = [x for x in explicit if isinstance(x, Tensor) and x.requires_grad]
        captured = _captured_leaves([o for o, _ in pairs], {id(x) for x in wanted})
        grads = {}
        if pairs and (wanted or captured):
            # retain_graph: the walk may reach the outer graph through a closed-over non-leaf; keep it intact
            got = engine.grad([o for o, _ in pairs], wanted + captured, [g for _, g in pairs], retain_graph=True,
                              allow_unused=True)
            grads = {id(x): g for x, g in zip(wanted + captured, got)}
            for leaf in captured:
                _accumulate(leaf, grads[id(leaf)])
        return (None, None, None) + tuple(grads.get(id(x)) if isinstance(x, Tensor) else None for x in explicit)


def _detached(x):
    if not isinstance(x, Tensor):
        return x
    d = x.detach()
    return d.requires_grad_(x.requires_grad)


def _captured_leaves(outputs, known):
    """Leaves requiring grad that the recomputed graph reaches, other than `known` (iterative walk)."""
    found = []
    seen = set()
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, AccumulateGrad):
            if id(node.variable) not in known:
                found.append(node.variable)
            continue
        stack.extend(child for child, _ in node.next_functions if child is not None)
    return found


def _accumulate(leaf, g):
    if g is None:
        return
    leaf.grad = g.clone() if leaf.grad is None else leaf.grad + g


class _rng_restored:
    """Run a block with the random generator in `state` (None: untouched), then put the current state back."""

    def __init__(self, state):
        self.state = state

    def __enter__(self):
        if self.state is not None:
            bitgen = factories._rng().bit_generator
            self.current = bitgen.state
            bitgen.state = self.state

    def __exit__(self, *exc):
        if self.state is not None:
            factories._rng().bit_generator.state = self.current


def checkpoint(function, *args, use_reentrant=False, preserve_rng_state=True, **kwargs):
    """Call `function(*args, **kwargs)` without keeping its intermediate values; recompute them in backward.

    Returns what `function` returns; gradients equal those of calling it
    directly (see the module docstring for the two variants).
    """
    if not grad_mode.is_grad_enabled():
        return function(*args, **kwargs)
    state = factories._rng().bit_generator.state if preserve_rng_state else None
    if not use_reentrant:
        frame = _Frame(function, args, kwargs, state)
        with saved_tensors_hooks(frame.pack, frame.unpack):
            return function(*args, **kwargs)
    if kwargs:
        fn = function
        function = lambda *a: fn(*a, **kwargs)  # noqa: E731
    params = _module_params(function)
    extra = list(params)
    if not any(isinstance(a, Tensor) and a.requires_grad for a in list(args) + extra):
        # nothing explicit requires grad, but the function may close over parameters: an anchor keeps a node
        extra.append(Tensor._make(np.zeros(())).requires_grad_())
    return CheckpointFunction.apply(function, state, len(args), *args, *extra)


class _Frame:
    """One non-reentrant checkpointed call: the forward's pack hook numbers the saved tensors; the first
    unpack recomputes them all. Each recomputed value is handed out once and then dropped (a second
    backward through a retained graph recomputes again)."""

    def __init__(self, fn, args, kwargs, rng_state):
        self.fn, self.args, self.kwargs, self.rng_state = fn, args, kwargs, rng_state
        self.meta = []     # (shape, dtype) of each tensor saved by the forward
        self.values = {}

    def pack(self, tensor):
        self.meta.append(_meta(tensor))
        return len(self.meta) - 1

    def unpack(self, index):
        if index not in self.values:
            self._recompute()
        return self.values.pop(index)

    def _recompute(self):
        values = []

        def keep(t):
            values.append(t.detach())

        with _rng_restored(self.rng_state), grad_mode.enable_grad(), saved_tensors_hooks(keep, _no_unpack):
            self.fn(*self.args, **self.kwargs)
        if len(values) != len(self.meta):
            raise CheckpointError("torch.utils.checkpoint: A different number of tensors was saved during the "
                                  "original forward and recomputation.\n"
                                  f"Number of tensors saved during forward: {len(self.meta)}\n"
                                  f"Number of tensors saved during recomputation: {len(values)}.")
        differ = [f"tensor at position {i}:\nsaved metadata: {m}\nrecomputed metadata: {_meta(v)}\n"
                  for i, (m, v) in enumerate(zip(self.meta, values)) if _meta(v) != m]
        if differ:
            raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors have different "
                                  "metadata than during the forward pass.\n" + "".join(differ))
        self.values = dict(enumerate(values))


def _meta(t):
    return {"shape": tuple(t.shape), "dtype": t.dtype}


def _no_unpack(packed):
    raise RuntimeError("checkpoint: a graph recorded during recomputation was differentiated")


def checkpoint_sequential(functions, segments, input, use_reentrant=False, preserve_rng_state=True):
    """Run a Sequential (or list of modules) in `segments` checkpointed chunks; the last chunk runs normally."""
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(len(functions) // segments, 1)
    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        chunk = functions[start:end]
        input = checkpoint(_run_chunk(chunk), input, preserve_rng_state=preserve_rng_state)
    return _run_chunk(functions[end:])(input)


def _run_chunk(chunk):
    def run(x):
        for f in chunk:
            x = f(x)
        return x
    return run
