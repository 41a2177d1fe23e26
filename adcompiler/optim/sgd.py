"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov (torch.optim.SGD)."""
from __future__ import annotations

from .optimizer import Optimizer, check_non_negative

__all__ = ["SGD"]


class SGD(Optimizer):
    """p -= lr * d, where d is the (decayed) gradient, or its momentum buffer, or the Nesterov look-ahead.

    As torch: g = grad + weight_decay * p; buf = g on the first step, else
    buf = momentum * buf + (1 - dampening) * g; d = g + momentum * buf (nesterov)
    or buf; without momentum d = g.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
        check_non_negative("learning rate", lr)
        check_non_negative("momentum value", momentum)
        check_non_negative("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, p, grad, state, group):
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.clone().detach()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(grad, alpha=-group["lr"])
