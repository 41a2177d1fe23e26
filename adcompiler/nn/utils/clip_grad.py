"""Gradient clipping, as torch.nn.utils: clip_grad_norm_ and clip_grad_value_.

Both change `.grad` in place and record nothing in the graph.
"""
from __future__ import annotations

import math

from ... import functions
from ...autograd import grad_mode
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The `norm_type`-norm of all `tensors` together, as a 0-d Tensor (0 for none)."""
    from ...factories import tensor
    norm_type = float(norm_type)
    tensors = list(tensors)
    if not tensors:
        return tensor(0.0)
    with grad_mode.no_grad():
        norms = [g.norm(p=norm_type) for g in tensors]
        total = functions.stack(norms).norm(p=norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their total norm is at most `max_norm`.

    Returns the total norm before clipping (a 0-d Tensor). As torch, the scale
    is max_norm / (total + 1e-6), clamped at 1.
    """
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    with grad_mode.no_grad():
        coef = (float(max_norm) / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with grad_mode.no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
