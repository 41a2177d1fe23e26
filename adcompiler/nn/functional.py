"""Stateless layer functions, as torch.nn.functional.

Each is a composition of table primitives (through Tensor methods), so its
gradient comes from the table; nothing here knows a derivative.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import ops
from ..tensor import Tensor, type_name

__all__ = ["linear", "relu", "tanh", "sigmoid", "softmax", "log_softmax", "mse_loss", "nll_loss", "cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")


def linear(input, weight, bias=None):
    """input @ weight.T + bias (AddmmBackward0 for a 2-D input with a bias, like torch)."""
    if bias is None:
        return input @ weight.t()
    return ops.linear(input, weight, bias)


def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def _along(method, input, dim, dtype):
    """input.<method>(dim), with torch's implicit-dim choice (and its deprecation warning) when dim is None."""
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {method} has been deprecated. Change the call to include "
                      "dim=X as an argument.", UserWarning, stacklevel=3)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return getattr(input, method)(dim)


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along `dim`."""
    return _along("softmax", input, dim, dtype)


def log_softmax(input, dim=None, dtype=None):
    """log(softmax(x)) along `dim`, computed stably."""
    return _along("log_softmax", input, dim, dtype)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum, or elementwise) squared error."""
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", UserWarning, stacklevel=2)
    return _reduce((input - target) ** 2, reduction)


def _classes_last(input):
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C); (N, C) unchanged."""
    if input.ndim == 1:
        return input.unsqueeze(0)
    if input.ndim == 2:
        return input
    perm = (0,) + tuple(range(2, input.ndim)) + (1,)
    return input.permute(*perm).reshape(-1, input.shape[1])


def _scalar_type(arr):
    """torch's scalar-type word for an array's dtype: Float, Double, Long, ..."""
    return type_name(Tensor._make(arr))[len("adcompiler."):-len("Tensor")]


def _check_target(input, target):
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_scalar_type(t)}"
                           " (class indices), or a floating-point target of the input's shape (class probabilities)")
    batch = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if t.shape != batch:
        raise ValueError(f"Expected input batch_size ({input.shape[0] if input.ndim > 1 else 1}) to match target "
                         f"batch_size ({t.shape[0] if t.ndim else 1}).")
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    flat = t.reshape(-1)
    bad = flat[(flat < 0) | (flat >= n_classes)]
    if bad.size:
        raise IndexError(f"Target {int(bad[0])} is out of bounds.")
    return flat


def nll_loss(input, target, reduction="mean"):
    """Negative log-likelihood of class indices `target` under log-probabilities `input` (classes on dim 1)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    flat = _check_target(input, target)
    logp = _classes_last(input)
    picked = -logp[np.arange(flat.size), flat]
    if reduction == "none":
        shape = tuple(target.shape)
        return picked.reshape(shape) if shape != tuple(picked.shape) else picked
    return _reduce(picked, reduction)


def cross_entropy(input, target, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits `input` (classes on dim 1) against class indices, or class probabilities
    of the input's shape; label_smoothing mixes the target with the uniform distribution."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    dim = 0 if input.ndim == 1 else 1
    logp = input.log_softmax(dim)
    if isinstance(target, Tensor) and target.is_floating_point() and tuple(target.shape) == tuple(input.shape):
        n_classes = input.shape[dim]
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        return _reduce(-(logp * target).sum(dim), reduction)
    nll = nll_loss(logp, target, reduction="none")
    if label_smoothing:
        n_classes = input.shape[dim]
        smooth = -logp.mean(dim)
        nll = nll * (1 - label_smoothing) + smooth * label_smoothing
    return _reduce(nll, reduction)
