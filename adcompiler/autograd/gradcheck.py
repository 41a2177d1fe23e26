"""gradcheck / gradgradcheck: compare autograd's Jacobian with central finite
differences (use float64 inputs), as torch.autograd.gradcheck does."""
from __future__ import annotations

import numpy as np

from .engine import grad as autograd_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """The analytical and numerical Jacobians differ."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _outputs(func, inputs):
    from ..tensor import Tensor
    outs = _as_tuple(func(*inputs))
    return [o for o in outs if isinstance(o, Tensor)]


def _numerical(func, inputs, i, eps):
    """d(outputs)/d(inputs[i]) by central differences; one matrix per output."""
    x = inputs[i]
    data = x._data
    flat = data.reshape(-1) if data.flags.c_contiguous else None
    if flat is None:
        raise ValueError("gradcheck needs contiguous inputs")
    # grad mode stays on: func may itself differentiate (gradgradcheck)
    base = _outputs(func, inputs)
    jac = [np.zeros((data.size, o.numel())) for o in base]
    for k in range(data.size):
        orig = flat[k].item()
        flat[k] = orig + eps
        plus = [o._data.astype(np.float64).reshape(-1).copy() for o in _outputs(func, inputs)]
        flat[k] = orig - eps
        minus = [o._data.astype(np.float64).reshape(-1).copy() for o in _outputs(func, inputs)]
        flat[k] = orig
        for j in range(len(base)):
            jac[j][k] = (plus[j] - minus[j]) / (2 * eps)
    return jac


def _analytical(func, inputs, diff_idx):
    from ..tensor import Tensor
    outs = _outputs(func, inputs)
    jacs = {(i, j): np.zeros((inputs[i].numel(), o.numel())) for i in diff_idx for j, o in enumerate(outs)}
    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for k in range(o.numel()):
            onehot = np.zeros(o.numel(), dtype=o._data.dtype)
            onehot[k] = 1.0
            gs = autograd_grad([o], [inputs[i] for i in diff_idx], [Tensor._make(onehot.reshape(o.shape))],
                               retain_graph=True, allow_unused=True)
            for i, g in zip(diff_idx, gs):
                if g is not None:
                    jacs[(i, j)][:, k] = g._data.reshape(-1)
    return jacs, len(outs)


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored):
    """True when autograd's gradients of `func` at `inputs` match finite differences."""
    from ..tensor import Tensor
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them "
                         "have requires_grad=True.")
    analytical, n_out = _analytical(func, inputs, diff_idx)
    for i in diff_idx:
        numerical = _numerical(func, inputs, i, eps)
        for j in range(n_out):
            a, n = analytical[(i, j)], numerical[j]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                dt = inputs[i]._data.dtype  # shown in the input's dtype, as torch does
                raise GradcheckError(f"Jacobian mismatch for output {j} with respect to input {i},\n"
                                     f"numerical:{_fmt(n, dt)}\nanalytical:{_fmt(a, dt)}\n")
    return True


def _fmt(m, dtype):
    from ..tensor import Tensor
    return repr(Tensor._make(m.astype(dtype)))


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  **_ignored):
    """gradcheck of the first derivative: checks second derivatives of `func`."""
    from ..tensor import Tensor
    from ..factories import _rng
    inputs = _as_tuple(inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if grad_outputs is None:
        outs = _outputs(func, inputs)
        grad_outputs = tuple(Tensor._make(_rng().standard_normal(o.shape).astype(o._data.dtype)).requires_grad_()
                             for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_derivative(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = _outputs(func, ins)
        d = [x for x in ins if isinstance(x, Tensor) and x.requires_grad]
        gs = autograd_grad(outs, d, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    del diff
    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
