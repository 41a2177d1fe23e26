"""Flattening parameters into one vector and back (torch.nn.utils.parameters_to_vector)."""
from __future__ import annotations

from ... import functions
from ...autograd import grad_mode

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated (differentiable)."""
    return functions.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of `vec` into the parameters, in place."""
    pointer = 0
    with grad_mode.no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[pointer:pointer + n].reshape(p.shape))
            pointer += n
