"""Custom autograd.Function (issue 2, section 4) and gradcheck / gradgradcheck."""
from __future__ import annotations

import re

import numpy as np
import pytest

import adcompiler as torch
from adcompiler.autograd import Function, gradcheck, gradgradcheck


class Exp(Function):
    @staticmethod
    def forward(ctx, i):
        result = i.exp()
        ctx.save_for_backward(result)
        ctx.grad_enabled_in_forward = torch.is_grad_enabled()
        ctx.result_requires_grad = result.requires_grad
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


class MulAdd(Function):
    """Several inputs (two tensors, a float, a flag) and two outputs."""

    @staticmethod
    def forward(ctx, a, b, k, flag):
        ctx.save_for_backward(a, b)
        ctx.k = k
        return a * b * k, a + b

    @staticmethod
    def backward(ctx, g1, g2):
        a, b = ctx.saved_tensors
        ga = g1 * b * ctx.k + g2 if ctx.needs_input_grad[0] else None
        gb = g1 * a * ctx.k + g2 if ctx.needs_input_grad[1] else None
        return ga, gb, None, None


class Argsort2(Function):
    """A differentiable output and an integer one marked non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        order = np.argsort(x.detach().numpy())
        ctx.order = order
        idx = torch.tensor(order)
        ctx.mark_non_differentiable(idx)
        return x[torch.tensor(order)], idx

    @staticmethod
    def backward(ctx, g, g_idx):
        assert g_idx is None or not g_idx.any()
        out = torch.zeros(g.shape, dtype=g.dtype)
        out[torch.tensor(ctx.order)] = g
        return out


def test_exp_function_name_graph_and_grad():
    x = torch.tensor([0., 1.], requires_grad=True)
    y = Exp.apply(x)
    assert repr(y) == "tensor([1.0000, 2.7183], grad_fn=<ExpBackward>)"
    assert y.grad_fn.name() == "ExpBackward"
    assert re.fullmatch(r"<adcompiler\.autograd\.function\.ExpBackward object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert type(y.grad_fn.next_functions[0][0]).__name__ == "AccumulateGrad"
    assert not y.is_leaf and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0., 1.]), rtol=1e-6)


def test_grad_mode_is_off_inside_forward():
    x = torch.tensor([0., 1.], requires_grad=True)
    y = Exp.apply(x)
    assert y.grad_fn.grad_enabled_in_forward is False
    assert y.grad_fn.result_requires_grad is False
    assert torch.is_grad_enabled()


def test_saved_tensors_freed_after_backward():
    x = torch.tensor([1.], requires_grad=True)
    y = Exp.apply(x)
    y.backward(retain_graph=True)
    assert len(y.grad_fn.saved_tensors) == 1
    y.backward()
    assert x.grad.item() == pytest.approx(2 * np.e)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_multiple_inputs_outputs_needs_input_grad_and_none_grads():
    a = torch.tensor([1., 2.], requires_grad=True)
    b = torch.tensor([3., 4.])
    p, q = MulAdd.apply(a, b, 2.0, True)
    assert p.tolist() == [6., 16.] and q.tolist() == [4., 6.]
    assert p.grad_fn is q.grad_fn and p.grad_fn.name() == "MulAddBackward"
    assert p.grad_fn.needs_input_grad == (True, False, False, False)
    assert [(None if f is None else type(f).__name__) for f, _ in p.grad_fn.next_functions] == ["AccumulateGrad", None]
    (p.sum() + q.sum()).backward()
    assert a.grad.tolist() == [7., 9.] and b.grad is None


def test_only_one_output_used_gets_zero_for_the_other():
    a = torch.tensor([1., 2.], requires_grad=True)
    b = torch.tensor([3., 4.], requires_grad=True)
    p, q = MulAdd.apply(a, b, 2.0, False)
    q.sum().backward()  # g1 arrives as zeros (materialized), as in torch
    assert a.grad.tolist() == [1., 1.] and b.grad.tolist() == [1., 1.]


def test_mark_non_differentiable():
    x = torch.tensor([3., 1., 2.], requires_grad=True)
    vals, idx = Argsort2.apply(x)
    assert vals.tolist() == [1., 2., 3.] and idx.tolist() == [1, 2, 0]
    assert vals.requires_grad and not idx.requires_grad and idx.grad_fn is None
    (vals * torch.tensor([1., 10., 100.])).sum().backward()
    assert x.grad.tolist() == [100., 1., 10.]


def test_backward_returning_none_gives_no_gradient():
    class Cut(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return None

    x = torch.tensor([2.], requires_grad=True)
    (Cut.apply(x) + x).backward()
    assert x.grad.tolist() == [1.]


def test_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = torch.tensor([2.], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"function BadBackward returned an incorrect number of gradients "
                                           r"\(expected 1, got 2\)"):
        Bad.apply(x).backward()


def test_no_graph_when_not_needed():
    with torch.no_grad():
        y = Exp.apply(torch.tensor([1.], requires_grad=True))
    assert not y.requires_grad and y.grad_fn is None
    y = Exp.apply(torch.tensor([1.]))
    assert not y.requires_grad and y.grad_fn is None


def test_returning_an_input_gives_a_new_tensor():
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = torch.tensor([2.], requires_grad=True)
    y = Ident.apply(x)
    assert y is not x and y.grad_fn.name() == "IdentBackward" and x.is_leaf
    y.backward()
    assert x.grad.tolist() == [3.]


def test_custom_function_double_backward():
    x = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    y = Exp.apply(x)
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    (h,) = torch.autograd.grad(g, x)
    assert g.item() == pytest.approx(np.exp(1.5)) and h.item() == pytest.approx(np.exp(1.5))


def test_custom_function_in_a_larger_graph():
    x = torch.tensor([0.5, -0.25], dtype=torch.float64, requires_grad=True)
    y = (Exp.apply(x * 2) * x).sum()
    y.backward()
    xv = np.array([0.5, -0.25])
    np.testing.assert_allclose(x.grad.numpy(), np.exp(2 * xv) * (2 * xv + 1))


# ---- gradcheck ----------------------------------------------------------------------------

class WrongExp(Function):
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i.exp()

    @staticmethod
    def backward(ctx, g):
        (i,) = ctx.saved_tensors
        return g * i.exp() * 1.1


def test_gradcheck_passes_for_correct_functions():
    torch.manual_seed(0)
    a = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(Exp.apply, (a,)) is True
    assert gradcheck(lambda u, v: (u * v, u.sin(), (u @ v).tanh()), (a, b)) is True
    assert gradcheck(lambda u, v: MulAdd.apply(u, v, 3.0, True), (a, b), eps=1e-6, atol=1e-5, rtol=1e-3) is True
    assert torch.autograd.gradcheck(lambda u: u.softmax(0), a)  # a single tensor is accepted too


def test_gradcheck_mismatch_message():
    inp = torch.tensor([0.5, 1.], dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        gradcheck(WrongExp.apply, (inp,))
    msg = str(info.value)
    assert msg.startswith("Jacobian mismatch for output 0 with respect to input 0,\nnumerical:tensor([[1.6487, 0.0000],\n")
    assert "analytical:tensor([[1.8136, 0.0000],\n        [0.0000, 2.9901]], dtype=adcompiler.float64)" in msg
    assert isinstance(info.value, torch.autograd.GradcheckError)


def test_gradcheck_names_the_wrong_input():
    a = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to input 1"):
        gradcheck(lambda u, v: u + WrongExp.apply(v), (a, b))


def test_gradcheck_raise_exception_false():
    inp = torch.tensor([0.5, 1.], dtype=torch.float64, requires_grad=True)
    assert gradcheck(WrongExp.apply, (inp,), raise_exception=False) is False


def test_gradcheck_tolerances():
    inp = torch.tensor([0.5, 1.], dtype=torch.float64, requires_grad=True)
    # a 10% error passes when rtol allows it
    assert gradcheck(WrongExp.apply, (inp,), rtol=0.2) is True
    # float32 central differences are too coarse for the default tolerances, as in torch
    f32 = torch.tensor([1.], requires_grad=True)
    assert gradcheck(lambda t: t * 2, (f32,), raise_exception=False) is False
    assert gradcheck(lambda t: t * 2, (f32,), eps=1e-2, atol=1e-3) is True


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="gradcheck expects at least one input tensor to require gradient, but none "
                                         "of them have requires_grad=True."):
        gradcheck(lambda t: t * 2, (torch.tensor([1.], dtype=torch.float64),))


def test_gradgradcheck():
    x = torch.tensor([0.3, -0.7], dtype=torch.float64, requires_grad=True)
    assert gradgradcheck(lambda t: (t ** 3).sin(), (x,)) is True
    assert gradgradcheck(Exp.apply, (x,)) is True

    class WrongSecond(Function):  # right first derivative, wrong second (its backward is not differentiable
        @staticmethod            # through the graph: it uses a constant)
        def forward(ctx, i):
            ctx.save_for_backward(i)
            return i ** 2

        @staticmethod
        def backward(ctx, g):
            (i,) = ctx.saved_tensors
            return g * 2 * i.detach()

    assert gradcheck(WrongSecond.apply, (x,)) is True
    assert gradgradcheck(WrongSecond.apply, (x,), raise_exception=False) is False
    with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradgradcheck(WrongSecond.apply, (x,))
