"""Module backward hooks (register_full_backward_hook / _pre_hook), built as torch builds them.

Around a hooked module's forward, the tensor arguments and the tensor outputs
each pass through an identity `BackwardHookFunction`. When the gradients of
the outputs arrive at the output identity node, the backward pre-hooks see
(and may replace) them; when the gradients of the inputs leave the input
identity node, the backward hooks see grad_input and grad_output and may
replace grad_input. Non-tensor arguments and outputs appear as None.
"""
from __future__ import annotations

import sys
import warnings

from ..autograd import Function, grad_mode
from ..autograd.anomaly_mode import PACKAGE_DIR
from ..tensor import Tensor

__all__ = ["BackwardHook", "BackwardHookFunction"]


class BackwardHookFunction(Function):
    """Identity on its tensor arguments; its node is where module backward hooks attach."""

    @staticmethod
    def forward(ctx, *args):
        ctx.mark_non_differentiable(*[a for a in args if not a.requires_grad])
        return args

    @staticmethod
    def backward(ctx, *grads):
        return grads


def _user_level():
    """The `stacklevel` that makes a warning point at the first caller outside adcompiler."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def _with_none(indices, values, size):
    res = [None] * size
    for i, v in zip(indices, values):
        res[i] = v
    return tuple(res)


class BackwardHook:
    """The backward hooks of one call of `module` (hook lists taken at the call, as torch)."""

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = -1
        self.input_index = self.output_index = None

    def _wrap(self, args, hook):
        """Pass the tensors of `args` through BackwardHookFunction and register `hook` on its node;
        (new args, positions of the tensors), or (args, None) when no gradient will flow."""
        index = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not (grad_mode.is_grad_enabled() and any(args[i].requires_grad for i in index)):
            return args, None
        new = BackwardHookFunction.apply(*[args[i] for i in index])
        node = next(t.grad_fn for t in new if t.grad_fn is not None)
        node.register_hook(hook)
        out = list(args)
        for i, t in zip(index, new):
            out[i] = t
        return tuple(out), index

    def setup_input_hook(self, args):
        res, self.input_index = self._wrap(args, self._input_hook)
        self.n_inputs = len(args)
        return res

    def setup_output_hook(self, result):
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        res, self.output_index = self._wrap(outs, self._output_hook)
        self.n_outputs = len(outs)
        return res[0] if single else res

    def _output_hook(self, grad_inputs, grad_outputs):
        self.grad_outputs = _with_none(self.output_index, grad_outputs, self.n_outputs)
        for hook in self.user_pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is None:
                continue
            if len(new) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, got {len(new)}, "
                                   f"but expected {len(self.grad_outputs)}")
            self.grad_outputs = new
        grad_outputs = self.grad_outputs
        if self.input_index is None:  # no input requires grad: the hooks fire here, with grad_input all None
            warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                          "outputs since no inputs require gradients.", UserWarning, stacklevel=_user_level())
            grad_input = (None,) * self.n_inputs
            for hook in self.user_hooks:
                res = hook(self.module, grad_input, self.grad_outputs)
                if res is not None and not (isinstance(res, tuple) and all(r is None for r in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                       "return None or None for all gradients.")
            self.grad_outputs = None
        return tuple(grad_outputs[i] for i in self.output_index)

    def _input_hook(self, grad_inputs, grad_outputs):
        if self.grad_outputs is None:  # the gradient reached the inputs without passing the outputs
            return None
        res = _with_none(self.input_index, grad_inputs, self.n_inputs)
        for hook in self.user_hooks:
            new = hook(self.module, res, self.grad_outputs)
            if new is None:
                continue
            if len(new) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(new)}, but "
                                   f"expected {len(res)}")
            res = new
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_index)
