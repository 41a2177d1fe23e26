"""Section 6 of issue 2: bad input raises torch's exception type and key words,
never a bare NumPy error from inside the engine. Shape errors name both shapes."""
from __future__ import annotations

import re

import numpy as np
import pytest

import adcompiler as torch

# (code, exception type, regex on the message) — the messages are torch 2.x's
CASES = [
    # broadcasting, in every binary op
    ("torch.zeros(2, 3) + torch.zeros(3, 2)", RuntimeError,
     r"^The size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 1$"),
    ("torch.zeros(2, 3) * torch.zeros(4)", RuntimeError,
     r"^The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1$"),
    ("torch.ones(2, 3) - torch.ones(2)", RuntimeError, r"size of tensor a \(3\) must match the size of tensor b \(2\)"),
    ("torch.ones(2, 3) / torch.ones(2)", RuntimeError, r"size of tensor a \(3\) must match the size of tensor b \(2\)"),
    ("torch.ones(2, 3) ** torch.ones(2)", RuntimeError, r"size of tensor a \(3\) must match the size of tensor b \(2\)"),
    ("torch.maximum(torch.ones(2, 3), torch.ones(2))", RuntimeError, r"size of tensor a \(3\) must match"),
    ("torch.ones(5, 2) > torch.ones(3, 2)", RuntimeError,
     r"size of tensor a \(5\) must match the size of tensor b \(3\) at non-singleton dimension 0"),
    ("torch.where(torch.zeros(3) > 0, torch.zeros(2), 0.)", RuntimeError,
     r"^The size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 0$"),
    # matmul: both shapes named
    ("torch.zeros(2, 3) @ torch.zeros(2, 3)", RuntimeError, r"^mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)$"),
    ("torch.zeros(3) @ torch.zeros(4)", RuntimeError,
     r"inconsistent tensor size, expected tensor \[3\] and src \[4\] to have the same number of elements"),
    ("torch.zeros(2, 3) @ torch.zeros(4)", RuntimeError, r"\(2x3 and 4x1\)"),  # torch: "mat (2x3), vec (4)"
    ("torch.mm(torch.zeros(2, 3), torch.zeros(2, 3))", RuntimeError, r"2x3 and 2x3"),
    ("torch.zeros(5, 2, 3) @ torch.zeros(4, 3, 2)", RuntimeError,
     r"^The size of tensor a \(5\) must match the size of tensor b \(4\) at non-singleton dimension 0$"),
    ("torch.zeros(3) @ torch.tensor(2.)", RuntimeError, r"both arguments to matmul need to be at least 1D"),
    ("torch.dot(torch.zeros(3), torch.zeros(2, 3))", RuntimeError, r"1D tensors expected, but got 1D and 2D tensors"),
    # cat / stack
    ("torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)])", RuntimeError,
     r"^Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1 in the "
     r"list.$"),
    ("torch.cat([torch.zeros(2, 3), torch.zeros(3)])", RuntimeError,
     r"^Tensors must have same number of dimensions: got 2 and 1$"),
    ("torch.cat([torch.zeros(2), torch.zeros(2)], dim=2)", IndexError,
     r"^Dimension out of range \(expected to be in range of \[-1, 0\], but got 2\)$"),
    ("torch.cat([])", ValueError, r"expected a non-empty list of Tensors"),
    ("torch.stack([torch.zeros(2), torch.zeros(3)])", RuntimeError,
     r"^stack expects each tensor to be equal size, but got \[2\] at entry 0 and \[3\] at entry 1$"),
    ("torch.stack([])", RuntimeError, r"^stack expects a non-empty TensorList$"),
    # reshape / view
    ("torch.zeros(2, 3).reshape(4)", RuntimeError, r"^shape '\[4\]' is invalid for input of size 6$"),
    ("torch.zeros(2, 3).reshape(-1, 4)", RuntimeError, r"^shape '\[-1, 4\]' is invalid for input of size 6$"),
    ("torch.zeros(2, 3).view(4)", RuntimeError, r"^shape '\[4\]' is invalid for input of size 6$"),
    ("torch.zeros(2, 3).view(-1, -1)", RuntimeError, r"^only one dimension can be inferred$"),
    ("torch.zeros(2, 3).t().view(6)", RuntimeError,
     r"^view size is not compatible with input tensor's size and stride \(at least one dimension spans across two "
     r"contiguous subspaces\). Use \.reshape\(\.\.\.\) instead\.$"),
    ("torch.zeros(2, 3).expand(3, 3)", RuntimeError,
     r"^The expanded size of the tensor \(3\) must match the existing size \(2\) at non-singleton dimension 0.  "
     r"Target sizes: \[3, 3\].  Tensor sizes: \[2, 3\]$"),
    ("torch.zeros(2, 3).permute(0)", RuntimeError,
     r"number of dimensions in the tensor input does not match the length of the desired ordering of dimensions "
     r"i.e. input.dim\(\) = 2 is not equal to len\(dims\) = 1"),
    ("torch.zeros(2, 3).permute(0, 0)", RuntimeError, r"^permute\(\): duplicate dims are not allowed.$"),
    # indexing
    ("torch.zeros(3)[3]", IndexError, r"^index 3 is out of bounds for dimension 0 with size 3$"),
    ("torch.zeros(3)[-4]", IndexError, r"^index -4 is out of bounds for dimension 0 with size 3$"),
    ("torch.zeros(2, 3)[0, 5]", IndexError, r"^index 5 is out of bounds for dimension 1 with size 3$"),
    ("torch.zeros(3)[torch.tensor([0, 3])]", IndexError, r"^index 3 is out of bounds for dimension 0 with size 3$"),
    ("torch.zeros(3)[[0, 5]]", IndexError, r"^index 5 is out of bounds for dimension 0 with size 3$"),
    ("torch.zeros(3)[0, 0]", IndexError, r"^too many indices for tensor of dimension 1$"),
    ("torch.zeros(3)[torch.tensor([True, False])]", IndexError,
     r"^The shape of the mask \[2\] at index 0 does not match the shape of the indexed tensor \[3\] at index 0$"),
    ("torch.zeros(3).__setitem__(5, 1.)", IndexError, r"^index 5 is out of bounds for dimension 0 with size 3$"),
    # dims
    ("torch.zeros(2, 3).sum(dim=2)", IndexError, r"^Dimension out of range \(expected to be in range of \[-2, 1\], "
                                                 r"but got 2\)$"),
    ("torch.zeros(2, 3).mean(dim=-3)", IndexError, r"but got -3\)$"),
    ("torch.zeros(2, 3).softmax(dim=2)", IndexError, r"^Dimension out of range"),
    ("torch.zeros(2, 3).log_softmax(5)", IndexError, r"^Dimension out of range"),
    ("torch.zeros(2, 3).max(dim=3)", IndexError, r"^Dimension out of range"),
    ("torch.zeros(2, 3).transpose(0, 2)", IndexError, r"^Dimension out of range \(expected to be in range of "
                                                      r"\[-2, 1\], but got 2\)$"),
    ("torch.zeros(2, 3).squeeze(3)", IndexError, r"^Dimension out of range"),
    ("torch.zeros(2, 3).unsqueeze(3)", IndexError, r"^Dimension out of range \(expected to be in range of \[-3, 2\], "
                                                   r"but got 3\)$"),
    ("torch.zeros(2, 3).flatten(0, 5)", IndexError, r"^Dimension out of range"),
    # dtype / value
    ("torch.tensor([1, 2]).mean()", RuntimeError,
     r"^mean\(\): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
     r"Got: Long$"),
    ("torch.tensor([1., 2.]).item()", RuntimeError, r"^a Tensor with 2 elements cannot be converted to Scalar$"),
    ("bool(torch.tensor([1, 2]))", RuntimeError, r"Boolean value of Tensor with more than one value is ambiguous"),
    ("len(torch.tensor(1.))", TypeError, r"^len\(\) of a 0-d tensor$"),
    ("torch.tensor([1, 2], requires_grad=True)", RuntimeError,
     r"(?i)^only Tensors of floating point (and complex )?dtype can require gradients$"),
    ("torch.tensor([1, 2]).sum().backward()", RuntimeError,
     r"^element 0 of tensors does not require grad and does not have a grad_fn$"),
    ("torch.clamp(torch.zeros(2))", RuntimeError, r"At least one of 'min' or 'max' must not be None"),
]

_NUMPY_WORDS = ("operands could not be broadcast", "axis", "array", "ndarray", "numpy", "newaxis")


@pytest.mark.parametrize("code,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_torch_error(code, exc, pattern):
    with pytest.raises(Exception) as info:
        eval(code, {"torch": torch, "np": np})
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    msg = str(info.value)
    assert re.search(pattern, msg), msg
    assert not any(w in msg for w in _NUMPY_WORDS), f"NumPy wording leaked: {msg}"


_TORCH_SPELLS_DIFFERENTLY = {
    "torch.zeros(2, 3) @ torch.zeros(4)",  # torch: "size mismatch, got input (2), mat (2x3), vec (4)"
    "torch.tensor([1, 2], requires_grad=True)",  # torch 2.13 dropped "and complex"; both accepted above
    "torch.zeros(3)[-4]", "torch.zeros(3).__setitem__(5, 1.)",
}


@pytest.mark.parametrize("code,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_error_table_matches_real_torch(code, exc, pattern):
    real = pytest.importorskip("torch")
    with pytest.raises(Exception) as info:
        eval(code, {"torch": real, "np": np})
    assert isinstance(info.value, exc)
    if code not in _TORCH_SPELLS_DIFFERENTLY:
        assert re.search(pattern, str(info.value).replace("torch.", "adcompiler.")), str(info.value)


def test_inplace_shape_errors_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"output with shape \[2, 3\] doesn't match the broadcast shape \[2, 2, 3\]"):
        torch.ones(2, 3).mul_(torch.ones(2, 1, 3))
    x = torch.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(2\)"):
        x += torch.ones(2)
    assert x._version == 0  # nothing written


def test_errors_on_grad_requiring_inputs_leave_no_graph():
    a = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="must match the size"):
        a + torch.ones(3, 2)
    (a * 2).sum().backward()  # the engine is still usable
    assert a.grad.tolist() == [[2., 2., 2.]] * 2


def test_backward_on_integer_result():
    x = torch.tensor([1., 2.], requires_grad=True)
    idx = x.argmax()
    assert idx.dtype == torch.int64 and not idx.requires_grad
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        idx.backward()
    with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point"):
        idx.requires_grad_()
