"""Eager functional transforms: vjp, jvp, jacobian, hessian, hvp, vhp (torch.autograd.functional).

Each takes a function of Tensors and the point to differentiate at, and returns
derivatives shaped like torch's: a single Tensor where the user gave a single
Tensor, a tuple where a tuple. Everything is built on the engine's `grad`, so
the table's VJP rules are the only derivatives used:

- vjp: one backward pass.
- jvp and hvp: the double-vjp trick, as torch does. The vjp `g(u) = J^T u` is
  linear in the cotangent `u`; differentiating it with respect to `u` against
  `v` gives `J v`.
- jacobian: one backward pass per output element (reverse mode). There is no
  batched backward in the engine, so `vectorize=True` runs the same loop and
  gives the same numbers. `strategy="forward-mode"` (only with `vectorize=True`,
  as in torch) computes one column per input element with the jvp above.
- hessian: the jacobian of the jacobian (computed with `create_graph=True`).
"""
from __future__ import annotations

from . import grad_mode
from .engine import grad as _grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tensor_cls():
    from ..tensor import Tensor
    return Tensor


def _as_tuple(x, arg_name, fn_name):
    """(was it a tuple, x as a tuple), refusing anything but a Tensor or a tuple of Tensors."""
    Tensor = _tensor_cls()
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but the"
                            f" {where} has type {type(el)}.")
    return is_tuple, items


def _unpack(res, was_tuple):
    """Undo _as_tuple on a result: `was_tuple` is one flag, or (outer, inner) flags for a nested result."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        if not inner:
            res = type(res)(el[0] for el in res)
        return res if outer else res[0]
    return res if was_tuple else res[0]


def _prepare(inputs, create_graph, need_graph):
    """Fresh tensors to differentiate with respect to. With create_graph, an input that requires grad
    stays connected to its graph (through a view), so the result can be differentiated w.r.t. it."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(need_graph)
                 for t in inputs)


def _finish(tensors, create_graph):
    Tensor = _tensor_cls()
    if isinstance(tensors[0], Tensor):
        return tensors if create_graph else tuple(t.detach() for t in tensors)
    return tuple(_finish(t, create_graph) for t in tensors)


def _validate_v(v, other, other_is_tuple):
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.size() != el_other.size():
            prefix = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {el_other.size()} but got {el_v.size()}.")


def _check_v_none(inputs):
    if len(inputs) != 1 or inputs[0].nelement() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is a single "
                           "Tensor with a single element.")


_STRICT_MESSAGES = {
    "hessian": ("The hessian of the user-provided function with respect to input {i} is independent of the input. "
                "This is not allowed in strict mode. You should ensure that your function is thrice differentiable "
                "and that the hessian depends on the inputs."),
    "jacobian": ("While computing the hessian, found that the jacobian of the user-provided function with respect "
                 "to input {i} is independent of the input. This is not allowed in strict mode. You should ensure "
                 "that your function is twice differentiable and that the jacobian depends on the inputs (this would "
                 "be violated by a linear function for example)."),
    "grad_inputs": ("The gradient with respect to input {i} is independent of the inputs of the user-provided "
                    "function. This is not allowed in strict mode."),
    "outputs": ("Output {i} of the user-provided function does not require gradients. The outputs must be computed "
                "in a differentiable manner from the input when running in strict mode."),
}


def _check_requires_grad(tensors, kind, strict):
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is not "
                               "allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_STRICT_MESSAGES[kind].format(i=i))


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """`grad` over the outputs that require grad; None for every input when none does."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain_graph,
                 create_graph=create_graph, allow_unused=True)


_ZERO_STRICT_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in strict mode.",
    "back_trick": ("The gradient with respect to the input is independent of entry {i} in the grad_outputs when using "
                   "the double backward trick to compute forward mode gradients. This is not allowed in strict mode."),
    "double_back": ("The jacobian of the user-provided function is independent of input {i}. This is not allowed in "
                    "strict mode."),
    "double_back_trick": ("The hessian of the user-provided function is independent of entry {i} in the grad_jacobian. "
                          "This is not allowed in strict mode as it prevents from using the double backward trick to "
                          "replace forward mode AD."),
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """Zeros for the gradients the engine left out (None), or torch's strict-mode error."""
    from ..factories import zeros_like
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_ZERO_STRICT_MESSAGES[stage].format(i=i))
            g = zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. This is not "
                               "allowed in strict mode when create_graph=True.")
        res.append(g)
    return tuple(res)


def _single_scalar_output(outputs, is_tuple, fn_name):
    if is_tuple or not isinstance(outputs[0], _tensor_cls()):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].nelement() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs` (torch.autograd.functional.vjp).

    `v` is shaped like the output; it may be omitted when the output has a single element.
    """
    with grad_mode.enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _prepare(v, create_graph, need_graph=False)
            _validate_v(v, outputs, outputs_tuple)
        elif len(outputs) != 1 or outputs[0].nelement() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single Tensor "
                               "with a single element.")
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "back")
    return (_unpack(_finish(outputs, create_graph), outputs_tuple),
            _unpack(_finish(res, create_graph), inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product at `inputs` (torch.autograd.functional.jvp).

    `v` is shaped like the input; it may be omitted when the input has a single element.
    Computed with the double-vjp trick (two backward passes).
    """
    from ..factories import zeros_like
    with grad_mode.enable_grad():
        inputs_tuple, inputs, v = _inputs_and_v(inputs, v, create_graph, "jvp")
        outputs = func(*inputs)
        outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        # u -> J^T u, kept differentiable in the cotangent u
        cotangents = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, cotangents, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        res = _autograd_grad(grad_inputs, cotangents, v, create_graph=create_graph)
        res = _fill_in_zeros(res, outputs, strict, create_graph, "back_trick")
    return (_unpack(_finish(outputs, create_graph), outputs_tuple),
            _unpack(_finish(res, create_graph), outputs_tuple))


def _jacfwd(func, inputs, strict, vectorize):
    """The Jacobian one column at a time: a jvp with each standard basis vector of the inputs."""
    from ..factories import zeros, zeros_like
    from ..functions import stack
    if strict:
        raise RuntimeError('adcompiler.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` '
                           'are not supported together (yet). Please either set `strict=False` or '
                           '`strategy="reverse-mode"`.')
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
                                  "only implemented for `vectorize=True`.")
    # as torch's forward mode: the result is differentiable w.r.t. inputs that require grad
    create_graph = grad_mode.is_grad_enabled() and any(t.requires_grad for t in inputs)
    columns = [[] for _ in inputs]  # columns[j][k]: tuple over outputs of d out / d inputs[j].flat[k]
    outputs = outputs_tuple = None
    for j, x in enumerate(inputs):
        for k in range(x.nelement()):
            tangents = tuple(zeros_like(t) for t in inputs)
            tangents[j].view(-1)[k] = 1
            out, col = jvp(func, inputs, tangents, create_graph=create_graph)
            outputs_tuple, outputs = isinstance(out, tuple), (out if isinstance(out, tuple) else (out,))
            columns[j].append(col if isinstance(col, tuple) else (col,))
    if outputs is None:  # no input has an element: no jvp ran, call func for the outputs' structure
        with grad_mode.no_grad():
            outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
    jac = []
    for i, out in enumerate(outputs):
        row = []
        for j, x in enumerate(inputs):
            cols = [c[i] for c in columns[j]]
            if cols:
                block = stack(cols, dim=-1).reshape(tuple(out.shape) + tuple(x.shape))
            else:  # an input with no elements
                block = zeros(tuple(out.shape) + tuple(x.shape), dtype=out.dtype)
            row.append(block)
        jac.append(row)
    return _unpack(jac, (outputs_tuple, inputs_tuple))  # lists, not tuples: torch's forward mode returns lists


def _vectorized_layout(rows, outputs, inputs, reached):
    """The blocks as torch's batched sweep lays them out: per input, one stack over the elements of
    all outputs (zeros expanded when no output reaches that input), split by output."""
    from ..factories import zeros_like
    from ..functions import stack
    numels = [out.nelement() for out in outputs]
    per_input = []
    for j, x in enumerate(inputs):
        if reached[j]:
            per_input.append(stack([g for rs in rows for g in rs[j]], dim=0))
        else:
            per_input.append(zeros_like(x).expand((sum(numels),) + tuple(x.shape)))
    jac, start = [], 0
    for out, n in zip(outputs, numels):
        jac.append(tuple(block[start:start + n].view(tuple(out.size()) + tuple(x.size()))
                         for block, x in zip(per_input, inputs)))
        start += n
    return tuple(jac)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of `func` at `inputs` (torch.autograd.functional.jacobian).

    `jac[i][j]` has shape `outputs[i].shape + inputs[j].shape`; a single Tensor input or output
    removes that level of the tuple. One backward pass per output element; `vectorize=True`
    gives the same result the same way (the engine has no batched backward).
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('adcompiler.autograd.functional.jacobian: `create_graph=True` and '
                                      '`strategy="forward-mode"` are not supported together (yet). Please either set '
                                      '`create_graph=False` or `strategy="reverse-mode"`.')
        return _jacfwd(func, inputs, strict, vectorize)

    from ..factories import zeros_like
    from ..functions import stack
    with grad_mode.enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError("adcompiler.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                               "supported together. Please either set `strict=False` or `vectorize=False`.")
        rows = [[[] for _ in inputs] for _ in outputs]  # rows[i][j][k]: d outputs[i].flat[k] / d inputs[j]
        reached = [False] * len(inputs)
        for i, out in enumerate(outputs):
            flat = out.reshape(-1)
            for k in range(out.nelement()):
                vj = _autograd_grad((flat[k],), inputs, retain_graph=True, create_graph=create_graph)
                for j, (g, x) in enumerate(zip(vj, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is independent of input "
                                               f"{j}. This is not allowed in strict mode.")
                        g = zeros_like(x)
                    else:
                        reached[j] = True
                        if strict and create_graph and not g.requires_grad:
                            # torch's message names the output index here
                            raise RuntimeError(f"The jacobian of the user-provided function is independent of input "
                                               f"{i}. This is not allowed in strict mode when create_graph=True.")
                    rows[i][j].append(g)
        if vectorize:
            jac = _vectorized_layout(rows, outputs, inputs, reached)
        else:
            jac = tuple(tuple(stack(r, dim=0).view(tuple(out.size()) + tuple(x.size())) for r, x in zip(rs, inputs))
                        for rs, out in zip(rows, outputs))
        jac = _finish(tuple(jac), create_graph)
        return _unpack(jac, (outputs_tuple, inputs_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of the scalar function `func` at `inputs` (torch.autograd.functional.hessian).

    `hes[i][j]` has shape `inputs[i].shape + inputs[j].shape`: the jacobian of the gradient.
    """
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*inp):
        out = func(*inp)
        out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        if out_tuple or not isinstance(out, _tensor_cls()):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.nelement() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(scalar_func, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _unpack(res, (inputs_tuple, inputs_tuple))


def _inputs_and_v(inputs, v, create_graph, fn_name):
    """(inputs was a tuple, the inputs to differentiate w.r.t., v as a tuple or None), checked as torch
    checks them for jvp, vhp and hvp (v shaped like the inputs; omitted only for one element)."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare(inputs, create_graph, need_graph=True)
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _prepare(v, create_graph, need_graph=False)
        _validate_v(v, inputs, inputs_tuple)
    else:
        _check_v_none(inputs)
    return inputs_tuple, inputs, v


def _gradient_of_scalar(func, inputs, strict, fn_name):
    """(outputs was a tuple, the outputs, their gradient w.r.t. inputs kept differentiable) for vhp/hvp."""
    outputs = func(*inputs)
    outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    _single_scalar_output(outputs, outputs_tuple, fn_name)
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict)
    return outputs_tuple, outputs, jac


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar `func` (torch.autograd.functional.vhp)."""
    with grad_mode.enable_grad():
        inputs_tuple, inputs, v = _inputs_and_v(inputs, v, create_graph, "vhp")
        outputs_tuple, outputs, jac = _gradient_of_scalar(func, inputs, strict, "vhp")
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "double_back")
    return (_unpack(_finish(outputs, create_graph), outputs_tuple),
            _unpack(_finish(res, create_graph), inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar `func` (torch.autograd.functional.hvp), by the double-vjp trick."""
    from ..factories import zeros_like
    with grad_mode.enable_grad():
        inputs_tuple, inputs, v = _inputs_and_v(inputs, v, create_graph, "hvp")
        outputs_tuple, outputs, jac = _gradient_of_scalar(func, inputs, strict, "hvp")
        # u -> H^T u = H u, kept differentiable in u
        grad_jac = tuple(zeros_like(t, requires_grad=True) for t in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict)  # sic: torch checks jac again here
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "double_back_trick")
    return (_unpack(_finish(outputs, create_graph), outputs_tuple),
            _unpack(_finish(res, create_graph), inputs_tuple))
