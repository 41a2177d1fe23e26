"""In-place operations, version counters, views, detach / detach_ / .data,
and the errors torch raises for unsafe in-place use (issue 2, sections 4 and 6)."""
from __future__ import annotations

import numpy as np
import pytest

import adcompiler as torch

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
MODIFIED = r"one of the variables needed for gradient computation has been modified by an inplace operation"


# ---- version counters ---------------------------------------------------------------------

def test_version_counter_counts_inplace_ops():
    x = torch.zeros(3)
    assert x._version == 0
    x.add_(1)
    x.mul_(2)
    x[0] = 5.
    x += 1
    x.zero_()
    assert x._version == 5
    y = x + 1  # out-of-place: new tensor, new counter
    assert y._version == 0 and x._version == 5


def test_views_share_version_counter_with_base():
    x = torch.arange(6.)
    v = x.view(2, 3)
    s = x[1:4]
    t = v.t()
    v.mul_(2)
    assert x._version == v._version == s._version == t._version == 1
    s.zero_()
    assert x._version == 2 and t._version == 2
    assert x.tolist() == [0., 0., 0., 0., 8., 10.]


def test_detach_shares_memory_and_version_counter():
    x = torch.tensor([1., 2.], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert d.data_ptr() == x.data_ptr()
    d.add_(10)  # allowed on the detached tensor ...
    assert x.tolist() == [11., 12.]  # ... and seen by x
    assert x._version == d._version == 1


def test_backward_sees_inplace_change_through_detach():
    x = torch.tensor([1., 2.], requires_grad=True)
    h = x * 1
    y = h * h
    h.detach().zero_()
    with pytest.raises(RuntimeError, match=MODIFIED + r".* is at version 1; expected version 0 instead"):
        y.sum().backward()


def test_detach_of_nonleaf_stops_gradient():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = x * 3
    z = y.detach() * x
    z.sum().backward()
    assert x.grad.tolist() == [3., 6.]  # only the direct path


def test_detach_inplace():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = x * 2
    r = y.detach_()
    assert r is y and y.is_leaf and not y.requires_grad and y.grad_fn is None
    assert y.tolist() == [2., 4.]
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_data_is_untracked_and_not_versioned():
    x = torch.tensor([1., 2.], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.data_ptr() == x.data_ptr()
    d.mul_(2)  # through .data: no error, no version bump (torch's documented difference from detach)
    assert x.tolist() == [2., 4.] and x._version == 0 and x.requires_grad
    y = x * x
    x.data.add_(1)
    y.sum().backward()  # not detected: the gradient uses the new values, as in torch
    assert x.grad.tolist() == [6., 10.]


def test_data_setter_replaces_storage():
    x = torch.tensor([1., 2.], requires_grad=True)
    x.data = torch.tensor([5., 6., 7.])
    assert x.tolist() == [5., 6., 7.] and x.requires_grad and x.is_leaf
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2., 2., 2.]


# ---- in-place on leaves ----------------------------------------------------------------------

@pytest.mark.parametrize("op", [
    lambda x: x.add_(1), lambda x: x.sub_(1), lambda x: x.mul_(2), lambda x: x.div_(2), lambda x: x.zero_(),
    lambda x: x.fill_(1.), lambda x: x.copy_(torch.ones(2)), lambda x: x.clamp_(0, 1), lambda x: x.relu_(),
    lambda x: x.pow_(2), lambda x: x.exp_(), lambda x: x.neg_(), lambda x: x.__iadd__(1),
    lambda x: x.__imul__(2), lambda x: x.__isub__(1), lambda x: x.__itruediv__(2)],
    ids=["add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_", "clamp_", "relu_", "pow_", "exp_", "neg_",
         "+=", "*=", "-=", "/="])
def test_inplace_on_leaf_requiring_grad_errors(op):
    x = torch.tensor([1., 2.], requires_grad=True)
    with pytest.raises(RuntimeError, match=LEAF_INPLACE):
        op(x)
    assert x.tolist() == [1., 2.] and x._version == 0  # nothing was written


def test_setitem_on_leaf_requiring_grad_errors():
    x = torch.tensor([1., 2.], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"a (view of a )?leaf Variable that requires grad is being used in an "
                                           r"in-place operation."):
        x[0] = 5.


def test_inplace_on_view_of_leaf_errors():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an "
                                           "in-place operation."):
        x[1:].mul_(2)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        x.view(3).add_(1)


def test_inplace_on_leaf_allowed_under_no_grad():
    x = torch.tensor([1., 2.], requires_grad=True)
    with torch.no_grad():
        x.add_(1)
        x.mul_(2)
        x[0] = 0.
        x -= 1
    assert x.tolist() == [-1., 5.] and x._version == 4
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    (x * x).sum().backward()
    assert x.grad.tolist() == [-2., 10.]


# ---- in-place on non-leaves: recorded --------------------------------------------------------

def test_inplace_ops_on_nonleaf_record_and_differentiate():
    x = torch.tensor([1., -2., 3.], requires_grad=True)
    h = x * 2
    h.add_(1)
    assert h.grad_fn.name() == "AddBackward0" and h._version == 1
    h.mul_(x)
    assert h.grad_fn.name() == "MulBackward0"
    h.sub_(torch.tensor([1., 1., 1.]), alpha=2)
    h.div_(2)
    h.relu_()
    assert h.grad_fn.name() == "ReluBackward0"
    # h = relu(((2x + 1) * x - 2) / 2)
    xv = np.array([1., -2., 3.])
    assert h.tolist() == pytest.approx(np.maximum(((2 * xv + 1) * xv - 2) / 2, 0).tolist())
    h.sum().backward()
    pre = ((2 * xv + 1) * xv - 2) / 2
    np.testing.assert_allclose(x.grad.numpy(), np.where(pre > 0, (4 * xv + 1) / 2, 0.0))


def test_inplace_names_as_torch():
    x = torch.tensor([1., 2.], requires_grad=True)
    names = {}
    for label, op in [("zero_", lambda h: h.zero_()), ("fill_", lambda h: h.fill_(3.)),
                      ("fill_t", lambda h: h.fill_(torch.tensor(3.))), ("copy_", lambda h: h.copy_(torch.ones(2))),
                      ("clamp_", lambda h: h.clamp_(0, 1)), ("exp_", lambda h: h.exp_()),
                      ("setitem", lambda h: h.__setitem__(0, 5.))]:
        h = x * 1
        op(h)
        names[label] = (h.grad_fn.name(), len(h.grad_fn.next_functions))
    assert names == {"zero_": ("ZeroBackward0", 1), "fill_": ("FillBackward2", 1), "fill_t": ("FillBackward3", 2),
                     "copy_": ("CopyBackwards", 2), "clamp_": ("ClampBackward1", 1), "exp_": ("ExpBackward0", 1),
                     "setitem": ("CopySlices", 2)}


def test_copy_fill_zero_gradients():
    x = torch.tensor([1., 2.], requires_grad=True)
    s = torch.tensor([5., 6.], requires_grad=True)
    h = x * 1
    h.copy_(s)
    (h * torch.tensor([2., 3.])).sum().backward()
    assert x.grad.tolist() == [0., 0.] and s.grad.tolist() == [2., 3.]
    x.grad = None
    h = x * 1
    h.fill_(3.)
    h.sum().backward()
    assert x.grad.tolist() == [0., 0.]


def test_setitem_gradients():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    w = torch.tensor(5., requires_grad=True)
    h = x * 1
    h[1] = w * 2
    assert h.tolist() == [1., 10., 3.] and h.grad_fn.name() == "CopySlices"
    (h * torch.tensor([1., 2., 3.])).sum().backward()
    assert x.grad.tolist() == [1., 0., 3.] and w.grad.item() == 4.0
    buf = torch.zeros(2, 2)
    buf[:, 0] = x[:2]  # a buffer that needs no grad picks up the graph
    assert buf.requires_grad and buf.grad_fn.name() == "CopySlices"
    x.grad = None
    buf.sum().backward()
    assert x.grad.tolist() == [1., 1., 0.]


def test_inplace_on_view_of_nonleaf_updates_base_graph():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    h = x * 1
    v = h[1:]
    v.mul_(10)
    assert h.tolist() == [1., 20., 30.] and v.tolist() == [20., 30.]
    assert h.grad_fn.name() == "CopySlices" and v.grad_fn.name() == "AsStridedBackward0"
    assert h._version == v._version == 1
    h.sum().backward()
    assert x.grad.tolist() == [1., 10., 10.]


def test_inplace_on_transposed_view_and_through_view_gradient():
    x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    h = x * 1
    t = h.t()
    t[0, 1] = 0.  # h[1, 0]
    t.mul_(torch.tensor([[1., 2.], [3., 4.]]))  # h.T *= m  ->  h *= m.T
    assert h.tolist() == [[1., 6.], [0., 16.]]
    (h * torch.tensor([[1., 1.], [1., 2.]])).sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [[1., 3.], [0., 8.]])
    v = h.view(4)
    v.add_(x.view(4))
    (v * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1. + 2., 3. + 4.], [0. + 1., 8. + 5.]])


def test_buffer_view_copy_from_grad_tensor():
    w = torch.tensor([5.], requires_grad=True)
    b = torch.zeros(3)
    b[1:2].copy_(w * 2)
    assert b.tolist() == [0., 10., 0.] and b.requires_grad and b.grad_fn.name() == "CopySlices"
    (b * torch.tensor([1., 7., 1.])).sum().backward()
    assert w.grad.tolist() == [14.]


# ---- saved tensors modified ----------------------------------------------------------------------

def test_modified_input_saved_for_backward():
    x = torch.tensor([1., 2.], requires_grad=True)
    h = x * 1
    y = h ** 2
    h.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED + r": \[adcompiler.FloatTensor \[2\]\], which is output 0 of "
                                                      r"Add, is at version 1; expected version 0 instead"):
        y.sum().backward()


def test_modified_output_saved_for_backward():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = x.exp()  # exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED + r".*output 0 of Exp, is at version 1; expected version 0"):
        y.sum().backward()


def test_twice_modified_reports_version_2():
    x = torch.tensor([1., 2.], requires_grad=True)
    h = x * 1
    y = h * h
    h.add_(1)
    h.add_(1)
    with pytest.raises(RuntimeError, match=r"is at version 2; expected version 0 instead"):
        y.sum().backward()


def test_inplace_after_inplace_that_saved_output():
    x = torch.tensor([1., -2., 3.], requires_grad=True)
    h = x * 1
    h.relu_()  # relu_ saves its result: h
    h.clamp_(max=2)
    with pytest.raises(RuntimeError, match=r"output 0 of Relu, is at version 2; expected version 1 instead"):
        h.sum().backward()
    x2 = torch.tensor([1., -2., 3.], requires_grad=True)
    h = x2 * 1
    h.clamp_(max=2)  # clamp saves its input (the snapshot), so relu_ after it is fine
    h.relu_()
    h.sum().backward()
    assert h.tolist() == [1., 0., 2.] and x2.grad.tolist() == [1., 0., 0.]


def test_modification_of_unsaved_input_is_fine():
    x = torch.tensor([1., 2.], requires_grad=True)
    h = x * 1
    y = h + 3  # add saves nothing
    h.mul_(100)
    y.sum().backward()
    assert x.grad.tolist() == [1., 1.]


def test_custom_function_saved_tensor_modified():
    class Twice(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * 2

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 2

    x = torch.tensor([1.], requires_grad=True)
    h = x * 1
    y = Twice.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match=r"is at version 1; expected version 0"):
        y.backward()


# ---- in-place shape/broadcast rules ------------------------------------------------------------------

def test_inplace_broadcast_errors_are_torch_errors():
    with pytest.raises(RuntimeError, match=r"output with shape \[2, 3\] doesn't match the broadcast shape "
                                           r"\[2, 2, 3\]"):
        torch.ones(2, 3).add_(torch.ones(2, 1, 3))
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
                                           r"non-singleton dimension 1"):
        torch.ones(2, 3).copy_(torch.ones(4))
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor but got tensor with 1 "
                                           "dimensions."):
        torch.ones(2).fill_(torch.ones(2))
    x = torch.ones(2, 3)
    x.add_(torch.tensor([1., 2., 3.]))  # broadcasting the other operand is fine
    assert x.tolist() == [[2., 3., 4.]] * 2


def test_inplace_keeps_dtype():
    x = torch.tensor([1, 2, 3])
    x.mul_(2)
    assert x.dtype == torch.int64 and x.tolist() == [2, 4, 6]
    f = torch.tensor([1., 2.])
    f.add_(torch.tensor([1., 1.], dtype=torch.float64))
    assert f.dtype == torch.float32


def test_expanded_tensor_cannot_be_written():
    e = torch.tensor([1., 2.]).expand(3, 2)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single "
                                           "memory location"):
        e.add_(1)


# ---- other views of a storage that is modified in place --------------------------------------------

def test_view_taken_before_inplace_on_base_sees_new_graph():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    h = x * 1
    v = h[0:2]
    h.mul_(3)
    assert v.tolist() == [3., 6.] and v.grad_fn.name() == "AsStridedBackward0"
    (v * 1).sum().backward()
    assert x.grad.tolist() == [3., 3., 0.]  # through the mul_, as torch (it used to be [1, 1, 0])


def test_sibling_views_follow_each_other():
    x = torch.tensor([1., 2., 3., 4.], requires_grad=True)
    w = torch.tensor(2., requires_grad=True)
    h = x * 1
    a, b = h[:3], h[1:]
    a.mul_(w)           # b overlaps a: b's values and graph change too
    assert b.tolist() == [4., 6., 4.]
    b.sum().backward()
    assert x.grad.tolist() == [0., 2., 2., 1.] and w.grad.item() == 5.0


def _views_scenario(x, w, sc, module=torch):
    h = x.t().clone() if sc & 1 else x * 1
    a = h[1:, 1::2] if sc & 2 else h.T[::2]
    b = a[0] if sc & 4 else (a.reshape(-1) if a.is_contiguous() else a[:, 0])
    c = h.view(-1) if h.is_contiguous() else h[0]
    b.mul_(w[:b.shape[0]])
    c.add_(w[0] * 2)
    if sc & 8:
        a.pow_(2)
    else:
        a.sub_(w[1])
    h.mul_(w[2])
    weights = module.arange(12., dtype=module.float64).reshape(h.shape)
    return (h * weights).sum() + (a * a).sum() + b.sum() + (c ** 3).sum()


@pytest.mark.parametrize("sc", range(16))
def test_inplace_through_overlapping_views_gradcheck(sc):
    """Views of views, transposed and strided views, a non-contiguous base: finite differences agree."""
    rng = np.random.default_rng(sc)
    shape = (4, 3) if sc & 1 else (3, 4)
    x = torch.tensor(rng.standard_normal(shape), requires_grad=True)
    w = torch.tensor(rng.standard_normal(4) + 2.0, requires_grad=True)
    assert torch.autograd.gradcheck(lambda u, v: _views_scenario(u, v, sc), (x, w))


@pytest.mark.parametrize("sc", [0, 3, 6, 13])
def test_inplace_through_views_matches_torch(sc):
    real = pytest.importorskip("torch")
    rng = np.random.default_rng(sc)
    shape = (4, 3) if sc & 1 else (3, 4)
    x0, w0 = rng.standard_normal(shape), rng.standard_normal(4) + 2.0
    ours = [torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)]
    _views_scenario(*ours, sc).backward()
    theirs = [real.tensor(x0, requires_grad=True), real.tensor(w0, requires_grad=True)]
    _views_scenario(*theirs, sc, module=real).backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)


def test_detach_inplace_of_a_view_is_refused():
    x = torch.tensor([1., 2.], requires_grad=True)
    v = (x * 1)[:1]
    with pytest.raises(RuntimeError, match=r"Can't detach views in-place. Use detach\(\) instead."):
        v.detach_()


def test_view_whose_storage_was_replaced_is_left_alone():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    h = x * 1
    v = h[1:]
    v.data = torch.tensor([7., 8.])  # no longer shares h's memory
    h.mul_(2)
    assert h.tolist() == [2., 4., 6.] and v.tolist() == [7., 8.]
    h.sum().backward()
    assert x.grad.tolist() == [2., 2., 2.]
