"""Section 4 of issue 2: the autograd graph and its semantics, as PyTorch.

The grad_fn table holds, for each expression, the node name and next_functions
real PyTorch 2.x gives (re-checked against torch when it is installed)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import adcompiler as torch
from adcompiler.autograd.graph import Node


def _env(module):
    x = module.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
    v = module.tensor([1., -2., 3.], requires_grad=True)
    s = module.tensor(2.0, requires_grad=True)
    b = module.tensor([True, False, True])
    return {"torch": module, "x": x, "v": v, "s": s, "b": b, "np": np}


def _node_name(fn):
    return fn.name() if isinstance(fn, Node) else type(fn).__name__  # torch's name() spells C++ names


def _describe(r):
    if hasattr(r, "values") and hasattr(r, "indices") and not hasattr(r, "grad_fn"):
        r = r.values
    gf = r.grad_fn
    return _node_name(gf), [None if f is None else (_node_name(f), n) for f, n in gf.next_functions]


GRAD_FNS = [
    ('x + 1', 'AddBackward0', [('AccumulateGrad', 0), None]),
    ('x + x', 'AddBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('1 + x', 'AddBackward0', [('AccumulateGrad', 0), None]),
    ('x - 1', 'SubBackward0', [('AccumulateGrad', 0), None]),
    ('x - x', 'SubBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('1 - x', 'RsubBackward1', [('AccumulateGrad', 0)]),
    ('x * 2', 'MulBackward0', [('AccumulateGrad', 0), None]),
    ('x * x', 'MulBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('x / 2', 'DivBackward0', [('AccumulateGrad', 0), None]),
    ('x / x', 'DivBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('2 / x', 'MulBackward0', [('ReciprocalBackward0', 0), None]),
    ('-x', 'NegBackward0', [('AccumulateGrad', 0)]),
    ('x ** 2', 'PowBackward0', [('AccumulateGrad', 0)]),
    ('x ** s', 'PowBackward1', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('2 ** x', 'PowBackward2', [('AccumulateGrad', 0)]),
    ('x ** x', 'PowBackward1', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('x ** 0.5', 'PowBackward0', [('AccumulateGrad', 0)]),
    ('x.exp()', 'ExpBackward0', [('AccumulateGrad', 0)]),
    ('x.log()', 'LogBackward0', [('AccumulateGrad', 0)]),
    ('x.log1p()', 'Log1PBackward0', [('AccumulateGrad', 0)]),
    ('x.expm1()', 'Expm1Backward0', [('AccumulateGrad', 0)]),
    ('x.sqrt()', 'SqrtBackward0', [('AccumulateGrad', 0)]),
    ('x.rsqrt()', 'RsqrtBackward0', [('AccumulateGrad', 0)]),
    ('x.sin()', 'SinBackward0', [('AccumulateGrad', 0)]),
    ('x.cos()', 'CosBackward0', [('AccumulateGrad', 0)]),
    ('x.tan()', 'TanBackward0', [('AccumulateGrad', 0)]),
    ('x.tanh()', 'TanhBackward0', [('AccumulateGrad', 0)]),
    ('x.sigmoid()', 'SigmoidBackward0', [('AccumulateGrad', 0)]),
    ('x.relu()', 'ReluBackward0', [('AccumulateGrad', 0)]),
    ('x.abs()', 'AbsBackward0', [('AccumulateGrad', 0)]),
    ('x.sign()', 'SignBackward0', [('AccumulateGrad', 0)]),
    ('x.clamp(0, 2)', 'ClampBackward1', [('AccumulateGrad', 0)]),
    ('x.clamp(min=0)', 'ClampBackward1', [('AccumulateGrad', 0)]),
    ('x.clamp(max=1)', 'ClampBackward1', [('AccumulateGrad', 0)]),
    ('torch.maximum(x, v)', 'MaximumBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('torch.minimum(x, v)', 'MinimumBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('torch.where(b, v, 0.0)', 'WhereBackward0', [('AccumulateGrad', 0), None]),
    ('torch.where(b, v, v)', 'WhereBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('x.sum()', 'SumBackward0', [('AccumulateGrad', 0)]),
    ('x.sum(0)', 'SumBackward1', [('AccumulateGrad', 0)]),
    ('x.sum(dim=1, keepdim=True)', 'SumBackward1', [('AccumulateGrad', 0)]),
    ('x.mean()', 'MeanBackward0', [('AccumulateGrad', 0)]),
    ('x.mean(0)', 'MeanBackward1', [('AccumulateGrad', 0)]),
    ('x.prod()', 'ProdBackward0', [('AccumulateGrad', 0)]),
    ('x.prod(1)', 'ProdBackward1', [('AccumulateGrad', 0)]),
    ('x.var()', 'VarBackward0', [('AccumulateGrad', 0)]),
    ('x.var(0)', 'VarBackward0', [('AccumulateGrad', 0)]),
    ('x.std()', 'StdBackward0', [('AccumulateGrad', 0)]),
    ('x.std(1)', 'StdBackward0', [('AccumulateGrad', 0)]),
    ('x.max()', 'MaxBackward1', [('AccumulateGrad', 0)]),
    ('x.max(0).values', 'MaxBackward0', [('AccumulateGrad', 0)]),
    ('x.min(1).values', 'MinBackward0', [('AccumulateGrad', 0)]),
    ('x.amax(0)', 'AmaxBackward0', [('AccumulateGrad', 0)]),
    ('x.logsumexp(1)', 'LogsumexpBackward0', [('AccumulateGrad', 0)]),
    ('x.softmax(1)', 'SoftmaxBackward0', [('AccumulateGrad', 0)]),
    ('x.log_softmax(1)', 'LogSoftmaxBackward0', [('AccumulateGrad', 0)]),
    ('torch.softmax(x, dim=0)', 'SoftmaxBackward0', [('AccumulateGrad', 0)]),
    ('x @ v', 'MvBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('x @ x.T', 'MmBackward0', [('AccumulateGrad', 0), ('PermuteBackward0', 0)]),
    ('v @ v', 'DotBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('torch.matmul(x, v)', 'MvBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('torch.mm(x, x.t())', 'MmBackward0', [('AccumulateGrad', 0), ('TBackward0', 0)]),
    ('torch.dot(v, v)', 'DotBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('torch.outer(v, v)', 'MulBackward0', [('ViewBackward0', 0), ('AccumulateGrad', 0)]),
    ('torch.trace(x @ x.T)', 'TraceBackward0', [('MmBackward0', 0)]),
    ('x.norm()', 'LinalgVectorNormBackward0', [('AccumulateGrad', 0)]),
    ('v.norm()', 'LinalgVectorNormBackward0', [('AccumulateGrad', 0)]),
    ('x.T', 'PermuteBackward0', [('AccumulateGrad', 0)]),
    ('x.t()', 'TBackward0', [('AccumulateGrad', 0)]),
    ('x.transpose(0, 1)', 'TransposeBackward0', [('AccumulateGrad', 0)]),
    ('x.permute(1, 0)', 'PermuteBackward0', [('AccumulateGrad', 0)]),
    ('x.reshape(3, 2)', 'ViewBackward0', [('AccumulateGrad', 0)]),
    ('x.reshape(-1)', 'ViewBackward0', [('AccumulateGrad', 0)]),
    ('x.view(3, 2)', 'ViewBackward0', [('AccumulateGrad', 0)]),
    ('x.view(-1)', 'ViewBackward0', [('AccumulateGrad', 0)]),
    ('x.flatten()', 'ViewBackward0', [('AccumulateGrad', 0)]),
    ('x.squeeze()', 'SqueezeBackward0', [('AccumulateGrad', 0)]),
    ('x.unsqueeze(0)', 'UnsqueezeBackward0', [('AccumulateGrad', 0)]),
    ('x.unsqueeze(0).squeeze(0)', 'SqueezeBackward1', [('UnsqueezeBackward0', 0)]),
    ('x.unsqueeze(0).squeeze()', 'SqueezeBackward0', [('UnsqueezeBackward0', 0)]),
    ('x[0]', 'SelectBackward0', [('AccumulateGrad', 0)]),
    ('x[:, 1]', 'SelectBackward0', [('AccumulateGrad', 0)]),
    ('x[..., None]', 'UnsqueezeBackward0', [('AccumulateGrad', 0)]),
    ('x[:, ::2]', 'SliceBackward0', [('AccumulateGrad', 0)]),
    ('x[[0, 1], [1, 2]]', 'IndexBackward0', [('AccumulateGrad', 0)]),
    ('x[x > 2]', 'IndexBackward0', [('AccumulateGrad', 0)]),
    ('v[torch.tensor([0, 0, 2])]', 'IndexBackward0', [('AccumulateGrad', 0)]),
    ('torch.cat([x, x])', 'CatBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('torch.cat([x, x], dim=1)', 'CatBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('torch.stack([v, v])', 'StackBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('v.expand(2, 3)', 'ExpandBackward0', [('AccumulateGrad', 0)]),
    ('v.broadcast_to(2, 3)', 'ExpandBackward0', [('AccumulateGrad', 0)]),
    ('torch.broadcast_to(v, (2, 3))', 'ExpandBackward0', [('AccumulateGrad', 0)]),
    ('x.clone()', 'CloneBackward0', [('AccumulateGrad', 0)]),
    ('x.T.contiguous()', 'CloneBackward0', [('PermuteBackward0', 0)]),
    ('x.double()', 'ToCopyBackward0', [('AccumulateGrad', 0)]),
    ('x.to(torch.float64)', 'ToCopyBackward0', [('AccumulateGrad', 0)]),
    ('x.square()', 'PowBackward0', [('AccumulateGrad', 0)]),
    ('x.reciprocal()', 'ReciprocalBackward0', [('AccumulateGrad', 0)]),
    ('torch.exp(x)', 'ExpBackward0', [('AccumulateGrad', 0)]),
    ('x.sum() * 1', 'MulBackward0', [('SumBackward0', 0), None]),
    ('x.mean(dim=(0, 1))', 'MeanBackward1', [('AccumulateGrad', 0)]),
    ('x.sum(dim=[0, 1])', 'SumBackward1', [('AccumulateGrad', 0)]),
    ('torch.flatten(x)', 'ViewBackward0', [('AccumulateGrad', 0)]),
    ('x.neg()', 'NegBackward0', [('AccumulateGrad', 0)]),
    ('x.abs().sum()', 'SumBackward0', [('AbsBackward0', 0)]),
    ('x.div(2)', 'DivBackward0', [('AccumulateGrad', 0), None]),
    ('x.mul(v)', 'MulBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('x.sub(1)', 'SubBackward0', [('AccumulateGrad', 0), None]),
    ('x.pow(2)', 'PowBackward0', [('AccumulateGrad', 0)]),
    ('x.var(0, unbiased=False)', 'VarBackward0', [('AccumulateGrad', 0)]),
    ('torch.mean(x)', 'MeanBackward0', [('AccumulateGrad', 0)]),
    ('x.max(dim=1)', 'MaxBackward0', [('AccumulateGrad', 0)]),
    ('x.min()', 'MinBackward1', [('AccumulateGrad', 0)]),
    ('x.amin()', 'AminBackward0', [('AccumulateGrad', 0)]),
    ('v.dot(v)', 'DotBackward0', [('AccumulateGrad', 0), ('AccumulateGrad', 0)]),
    ('x.mT', 'TransposeBackward0', [('AccumulateGrad', 0)]),
    ('torch.log_softmax(x, 1)', 'LogSoftmaxBackward0', [('AccumulateGrad', 0)]),
    ('torch.sigmoid(x)', 'SigmoidBackward0', [('AccumulateGrad', 0)]),
    ('torch.relu(x)', 'ReluBackward0', [('AccumulateGrad', 0)]),
    ('torch.tanh(x)', 'TanhBackward0', [('AccumulateGrad', 0)]),
    ('torch.abs(x)', 'AbsBackward0', [('AccumulateGrad', 0)]),
    ('torch.sum(x, 1)', 'SumBackward1', [('AccumulateGrad', 0)]),
    ('x.expand_as(torch.zeros(2, 2, 3))', 'ExpandBackward0', [('AccumulateGrad', 0)]),
    ('x.view_as(torch.zeros(3, 2))', 'ViewBackward0', [('AccumulateGrad', 0)]),
    ('x.reshape_as(torch.zeros(6))', 'ViewBackward0', [('AccumulateGrad', 0)]),
]


@pytest.mark.parametrize("expr,name,nexts", GRAD_FNS, ids=[c[0] for c in GRAD_FNS])
def test_grad_fn_name_and_next_functions(expr, name, nexts):
    assert _describe(eval(expr, _env(torch))) == (name, nexts)


@pytest.mark.parametrize("expr,name,nexts", GRAD_FNS, ids=[c[0] for c in GRAD_FNS])
def test_grad_fn_table_is_real_torch(expr, name, nexts):
    real = pytest.importorskip("torch")
    assert _describe(eval(expr, _env(real))) == (name, nexts)


def test_grad_fn_repr_and_leaf_grad_fn():
    x = torch.tensor([1.], requires_grad=True)
    y = x * 2
    assert repr(y.grad_fn).startswith("<MulBackward0 object at 0x")
    assert x.grad_fn is None
    acc = y.grad_fn.next_functions[0][0]
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is x
    assert (x * 3).grad_fn.next_functions[0][0] is acc  # one AccumulateGrad per leaf, shared


def test_next_functions_walk_to_every_leaf():
    a = torch.tensor(1., requires_grad=True)
    b = torch.tensor(2., requires_grad=True)
    c = (a * b + a.exp()).sin()
    seen, stack = [], [c.grad_fn]
    while stack:
        n = stack.pop()
        seen.append(n.name())
        stack.extend(f for f, _ in n.next_functions if f is not None)
    assert sorted(seen) == sorted(["SinBackward0", "AddBackward0", "MulBackward0", "ExpBackward0",
                                   "AccumulateGrad", "AccumulateGrad", "AccumulateGrad"])


# ---- requires_grad ---------------------------------------------------------------------

def test_requires_grad_argument_attribute_and_method():
    x = torch.tensor([1., 2.])
    assert not x.requires_grad and x.is_leaf and x.grad is None
    x.requires_grad = True
    assert x.requires_grad and x.is_leaf
    x.requires_grad_(False)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.requires_grad and not y.is_leaf
    z = torch.tensor([1.]) * 2  # no input requires grad: a leaf without grad_fn
    assert z.is_leaf and z.grad_fn is None and not z.requires_grad


def test_requires_grad_propagates_if_any_input_requires_it():
    a = torch.tensor([1.], requires_grad=True)
    b = torch.tensor([2.])
    assert (a + b).requires_grad and (b + a).requires_grad and not (b + b).requires_grad
    assert not (a > 0).requires_grad  # comparisons are not differentiable
    assert not a.argmax().requires_grad


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match=r"(?i)only Tensors of floating point (and complex )?dtype can require "
                                           r"gradients"):
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)only Tensors of floating point"):
        torch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match=r"(?i)only Tensors of floating point"):
        torch.tensor([True]).requires_grad = True
    assert torch.tensor([1.], dtype=torch.float64, requires_grad=True).requires_grad


def test_only_leaves_may_change_requires_grad():
    y = torch.tensor([1., 2.], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"you can only change requires_grad flags of leaf variables\."):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match=r"you can only change requires_grad flags of leaf variables\."):
        y.requires_grad = False
    assert y.requires_grad_(True) is y  # asking for what it already has is fine


def test_backward_on_int_or_untracked_tensor():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        torch.tensor([1, 2]).sum().backward()
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        torch.tensor(2.0).backward()
    a = torch.tensor(1., requires_grad=True)
    with pytest.raises(RuntimeError, match="element 1 of tensors does not require grad"):
        torch.autograd.backward([a * 2, torch.tensor(1.)])


# ---- implicit gradient, gradient argument ---------------------------------------------

def test_implicit_gradient_only_for_scalars():
    x = torch.tensor([1., 2.], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x * 2)[1:].backward()  # one element is enough, as in torch
    assert x.grad.tolist() == [0., 2.]


def test_gradient_argument():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    (x ** 2).backward(torch.tensor([1., 0.1, 0.01]))
    np.testing.assert_allclose(x.grad.numpy(), [2., 0.4, 0.06], rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of "
                                           r"adcompiler.Size\(\[2\]\) and output\[0\] has a shape of "
                                           r"adcompiler.Size\(\[3\]\)"):
        (x * 2).backward(torch.ones(2))
    with pytest.raises(TypeError, match="gradients can be either Tensors or None"):
        (x * 2).backward([1., 1., 1.])
    x.grad = None
    (x * 2).backward(torch.ones(3, dtype=torch.float64))  # cast to the output's dtype, as torch
    assert x.grad.dtype == torch.float32 and x.grad.tolist() == [2., 2., 2.]


# ---- accumulation ------------------------------------------------------------------------

def test_accumulation_and_zero():
    x = torch.tensor([1., 2.], requires_grad=True)
    (x * 3).sum().backward()
    g = x.grad
    (x * x).sum().backward()
    assert x.grad.tolist() == [5., 7.]
    assert x.grad is g  # accumulated in place
    x.grad.zero_()
    assert x.grad.tolist() == [0., 0.]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3., 3.]
    x.grad = None
    (x ** 3).sum().backward()
    assert x.grad.tolist() == [3., 12.]


def test_grad_of_a_tensor_used_twice_is_summed():
    x = torch.tensor(3., requires_grad=True)
    y = x * x + x * 4 + x
    y.backward()
    assert x.grad.item() == 11.0


def test_grad_has_leaf_shape_and_dtype_after_broadcast():
    w = torch.tensor([[1.], [2.]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    y = (w * torch.ones(2, 3, dtype=torch.float64) + b).sum()
    y.backward()
    assert w.grad.shape == (2, 1) and w.grad.tolist() == [[3.], [3.]]
    assert b.grad.shape == () and b.grad.item() == 6.0
    assert w.grad.dtype == torch.float64


def test_grad_setter_checks():
    x = torch.tensor([1., 2.], requires_grad=True)
    x.grad = torch.tensor([0.5, 0.5])
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.5, 2.5]
    with pytest.raises(RuntimeError, match=r"attempting to assign a gradient of size '\[3\]' to a tensor of size "
                                           r"'\[2\]'"):
        x.grad = torch.zeros(3)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None"):
        x.grad = [1., 2.]


# ---- retain_grad ---------------------------------------------------------------------------

def test_retain_grad():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = x * 3
    z = y ** 2
    y.retain_grad()
    assert y.retains_grad and not z.retains_grad
    z.sum().backward()
    assert y.grad.tolist() == [6., 12.]
    assert x.grad.tolist() == [18., 36.]
    with pytest.warns(UserWarning, match="not a leaf Tensor is being accessed"):
        assert z.grad is None
    x.retain_grad()  # no-op on a leaf
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        torch.tensor([1.]).retain_grad()


def test_retained_grad_accumulates_across_backwards():
    x = torch.tensor(2., requires_grad=True)
    y = x * 1
    y.retain_grad()
    z = y * y
    z.backward(retain_graph=True)
    z.backward()
    assert y.grad.item() == 8.0 and x.grad.item() == 8.0


# ---- retain_graph / freed graph -----------------------------------------------------------

def test_second_backward_needs_retain_graph():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.clone()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1.numpy())
    with pytest.raises(RuntimeError, match=r"Trying to backward through the graph a second time \(or directly access "
                                           r"saved tensors after they have already been freed\).*Specify "
                                           r"retain_graph=True"):
        y.backward()


def test_graph_without_saved_tensors_can_be_rerun():
    # as in torch: only nodes that saved tensors complain (x + 1 saves nothing)
    x = torch.tensor([1., 2.], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2., 2.]


def test_autograd_grad_frees_graph_too():
    x = torch.tensor(2., requires_grad=True)
    y = x ** 3
    torch.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        torch.autograd.grad(y, x)


# ---- create_graph: higher order ---------------------------------------------------------

def test_create_graph_second_and_third_derivatives():
    x = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    y = x.sin() * x ** 2
    (d1,) = torch.autograd.grad(y, x, create_graph=True)
    (d2,) = torch.autograd.grad(d1, x, create_graph=True)
    (d3,) = torch.autograd.grad(d2, x)
    xv = 1.5
    np.testing.assert_allclose(d1.item(), np.cos(xv) * xv ** 2 + 2 * xv * np.sin(xv))
    np.testing.assert_allclose(d2.item(), -np.sin(xv) * xv ** 2 + 4 * xv * np.cos(xv) + 2 * np.sin(xv))
    np.testing.assert_allclose(d3.item(), -np.cos(xv) * xv ** 2 - 6 * xv * np.sin(xv) + 6 * np.cos(xv))
    assert d1.requires_grad and d2.requires_grad and not d3.requires_grad


def test_create_graph_backward_leaves_differentiable_grad():
    x = torch.tensor([1., 2.], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    g = x.grad.clone()
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [6., 12.]


def test_hessian_vector_product():
    A = torch.tensor([[2., 1.], [1., 3.]], dtype=torch.float64)
    x = torch.tensor([1., -1.], dtype=torch.float64, requires_grad=True)
    f = 0.5 * x @ A @ x + (x ** 4).sum()
    (g,) = torch.autograd.grad(f, x, create_graph=True)
    v = torch.tensor([1., 2.], dtype=torch.float64)
    (hv,) = torch.autograd.grad(g @ v, x)
    H = A.numpy() + np.diag(12 * x.detach().numpy() ** 2)
    np.testing.assert_allclose(hv.numpy(), H @ v.numpy())


def test_gradient_penalty_style_double_backward_into_grad():
    w = torch.tensor([0.5, -1.0], requires_grad=True)
    x = torch.tensor([2.0, 3.0], requires_grad=True)
    out = (w * x).sum() ** 2
    (gx,) = torch.autograd.grad(out, x, create_graph=True)
    penalty = (gx ** 2).sum()
    penalty.backward()
    # gx = 2 s w with s = w.x ; penalty = 4 s^2 |w|^2
    wv, xv = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    s = wv @ xv
    np.testing.assert_allclose(x.grad.numpy(), 8 * s * (wv @ wv) * wv, rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), 8 * s * (wv @ wv) * xv + 8 * s ** 2 * wv, rtol=1e-6)


# ---- autograd.grad ------------------------------------------------------------------------

def test_autograd_grad_returns_tuple_and_leaves_grad_alone():
    x = torch.tensor([1., 2.], requires_grad=True)
    w = torch.tensor([3., 4.], requires_grad=True)
    y = (x * w).sum()
    gx, gw = torch.autograd.grad(y, [x, w])
    assert gx.tolist() == [3., 4.] and gw.tolist() == [1., 2.]
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad


def test_autograd_grad_allow_unused():
    x = torch.tensor(1., requires_grad=True)
    z = torch.tensor(1., requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"appears to not have been used in the graph. Set allow_unused=True"):
        torch.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = torch.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gx.item() == 2.0 and gz is None
    gx, gz = torch.autograd.grad(y, [x, z], materialize_grads=True)
    assert gz.item() == 0.0


def test_autograd_grad_input_must_require_grad():
    x = torch.tensor(1., requires_grad=True)
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require grad"):
        torch.autograd.grad(x * 2, torch.tensor(1.))


def test_autograd_grad_outputs_weights():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    y = x ** 2
    (g,) = torch.autograd.grad(y, x, grad_outputs=torch.tensor([1., 10., 100.]))
    assert g.tolist() == [2., 40., 600.]
    # several outputs, one grad_output each: gradients add up
    a, b = x * 2, x.sum() * 3
    (g,) = torch.autograd.grad([a, b], x, grad_outputs=[torch.ones(3), torch.tensor(2.)])
    assert g.tolist() == [8., 8., 8.]


def test_autograd_grad_of_intermediate():
    x = torch.tensor([1., 2.], requires_grad=True)
    h = x * 3
    y = (h ** 2).sum()
    (gh,) = torch.autograd.grad(y, h)
    assert gh.tolist() == [6., 12.]
    assert x.grad is None


def test_autograd_backward_function():
    x = torch.tensor([1., 2.], requires_grad=True)
    y1, y2 = x * 2, (x ** 2).sum()
    torch.autograd.backward([y1, y2], [torch.tensor([1., 1.]), None])
    assert x.grad.tolist() == [4., 6.]
    torch.autograd.backward((x * 5).sum())
    assert x.grad.tolist() == [9., 11.]


def test_backward_inputs_restricts_accumulation():
    x = torch.tensor(1., requires_grad=True)
    w = torch.tensor(2., requires_grad=True)
    y = x * w
    y.backward(inputs=[w], retain_graph=True)
    assert w.grad.item() == 1.0 and x.grad is None
    y.backward(inputs=[x, w])
    assert x.grad.item() == 2.0 and w.grad.item() == 2.0
    h = x * 3
    (h * w).backward(inputs=[h], retain_graph=True)  # a non-leaf input gets .grad and retains it from now on
    assert h.retains_grad and h.grad.item() == 2.0
    assert x.grad.item() == 2.0  # untouched
    (h * w).backward(retain_graph=True)
    assert h.grad.item() == 4.0 and x.grad.item() == 8.0


def test_backward_through_a_shared_subgraph_runs_each_node_once():
    x = torch.tensor(2., requires_grad=True)
    a = x * x          # used by two branches
    b = a.exp() + a.sin()
    b.backward()
    expected = (np.exp(4.0) + np.cos(4.0)) * 4.0
    assert x.grad.item() == pytest.approx(expected, rel=1e-6)


def test_nonleaf_grad_warns_and_is_none():
    x = torch.tensor([1.], requires_grad=True)
    y = x * 2
    y.sum().backward()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert y.grad is None
    assert any("retain_grad" in str(m.message) for m in w)
