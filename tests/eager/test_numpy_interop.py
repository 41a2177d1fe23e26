"""NumPy calls on Tensors are recorded in the graph (issue 2, section 3):
np.sin(t), np.sum(t), np.dot(a, b), np.maximum(t, 0), ... with correct
gradients; an unsupported NumPy function on a tensor that requires grad
raises a clear error naming the user's file and line."""
from __future__ import annotations

import os

import numpy as np
import pytest

import adcompiler as torch
from adcompiler.numpy_interop import UntraceableError

X = [0.5, -1.0, 2.0]


def _leaf(v=X):
    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("name,f,node,grad", [
    ("sin", lambda t: np.sin(t), "SinBackward0", lambda x: np.cos(x)),
    ("sum", lambda t: np.sum(t * t), "SumBackward0", lambda x: 2 * x),
    ("maximum", lambda t: np.maximum(t, 0), "MaximumBackward0", lambda x: (x > 0).astype(float)),
    ("dot", lambda t: np.dot(t, t), "DotBackward0", lambda x: 2 * x),
    ("exp", lambda t: np.exp(t), "ExpBackward0", np.exp),
    ("tanh", lambda t: np.tanh(t), "TanhBackward0", lambda x: 1 - np.tanh(x) ** 2),
    ("square", lambda t: np.square(t), "PowBackward0", lambda x: 2 * x),
    ("abs", lambda t: np.abs(t), "AbsBackward0", np.sign),
    ("mean", lambda t: np.mean(t ** 2), "MeanBackward0", lambda x: 2 * x / 3),
    ("clip", lambda t: np.clip(t, 0, 1), "ClampBackward1", lambda x: ((x >= 0) & (x <= 1)).astype(float)),
    ("where", lambda t: np.where(t > 0, t, 0.0), "WhereBackward0", lambda x: (x > 0).astype(float)),
    ("norm", lambda t: np.linalg.norm(t), "LinalgVectorNormBackward0", lambda x: x / np.linalg.norm(x)),
    ("outer", lambda t: np.outer(t, t), "MulBackward0", lambda x: 2 * x.sum() * np.ones(3)),
    ("matmul", lambda t: np.ones((2, 3)) @ t, "MvBackward0", lambda x: 2 * np.ones(3)),
    ("array * t", lambda t: np.array([1., 2., 3.]) * t, "MulBackward0", lambda x: np.array([1., 2., 3.])),
    ("stack", lambda t: np.stack([t, 2 * t]), "StackBackward0", lambda x: 3 * np.ones(3)),
    ("concatenate", lambda t: np.concatenate([t, t ** 2]), "CatBackward0", lambda x: 1 + 2 * x),
    ("log(abs)", lambda t: np.log(np.abs(t)), "LogBackward0", lambda x: 1 / x),
], ids=lambda v: v if isinstance(v, str) else "")
def test_numpy_function_recorded_with_correct_grad(name, f, node, grad):
    t = _leaf()
    y = f(t)
    assert isinstance(y, torch.Tensor) and y.requires_grad
    assert y.grad_fn.name() == node
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), grad(np.array(X)), rtol=1e-12)


def test_issue_examples_record_graph_nodes():
    t = _leaf()
    assert np.sin(t).grad_fn.name() == "SinBackward0"
    assert np.sum(t).grad_fn.name() == "SumBackward0"
    assert np.dot(t, t).grad_fn.name() == "DotBackward0"
    assert np.maximum(t, 0).grad_fn.name() == "MaximumBackward0"
    np.testing.assert_allclose(np.sin(t).detach().numpy(), np.sin(X))


def test_plain_numpy_code_traces_through_tensors():
    def model(w, x):  # written for NumPy arrays
        h = np.tanh(np.dot(x, w))
        return np.sum(h ** 2) / x.shape[0]

    x = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 1.5]])
    w0 = np.array([0.3, -0.2])
    w = torch.tensor(w0, requires_grad=True)
    loss = model(w, x)
    loss.backward()
    h = np.tanh(x @ w0)
    expected = (2 * h * (1 - h ** 2)) @ x / 3
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    assert loss.item() == pytest.approx(model(w0, x))  # the same code on arrays


def test_tensors_without_grad_run_unsupported_numpy_functions():
    t = torch.tensor([3., 1., 2.])
    s = np.sort(t)
    assert isinstance(s, torch.Tensor) and s.tolist() == [1., 2., 3.]
    assert np.cumsum(torch.tensor([1, 2, 3])).tolist() == [1, 3, 6]
    assert np.shape(t) == (3,) and np.ndim(t) == 1


def test_unsupported_numpy_function_on_grad_tensor_names_user_line():
    t = _leaf()
    line = None
    with pytest.raises(UntraceableError) as info:
        line = __import__("inspect").currentframe().f_lineno + 1
        np.median(t)
    msg = str(info.value)
    assert "np.median has no derivative rule" in msg
    assert f"{os.path.basename(__file__)}:{line}" in msg
    assert "autograd.Function" in msg  # and says what to do
    assert isinstance(info.value, TypeError)


def test_ufunc_method_and_out_on_grad_tensor_are_refused_clearly():
    t = _leaf()
    with pytest.raises(UntraceableError, match=r"np\.add\.reduce has no derivative rule .*test_numpy_interop\.py:\d+"):
        np.add.reduce(t)
    with pytest.raises(UntraceableError, match=r"np\.sin\(\.\.\., out=\.\.\.\) writes into a NumPy array.*"
                                               r"test_numpy_interop\.py:\d+.*Drop out="):
        np.sin(t, out=np.zeros(3))


def test_array_conversion_of_grad_tensor_refused():
    t = _leaf()
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        np.asarray(t)
    assert np.asarray(t.detach()).tolist() == X
    a = np.asarray(torch.tensor([1., 2.]))
    assert isinstance(a, np.ndarray) and a.dtype == np.float32


def test_numpy_scalars_and_arrays_mix_with_tensors():
    t = torch.tensor([1., 2.], requires_grad=True)
    assert (t * np.float64(2.0)).dtype == torch.float32  # a NumPy float is a Python float
    y = np.float64(3.0) * t
    assert isinstance(y, torch.Tensor) and y.grad_fn.name() == "MulBackward0"
    z = np.array([1., 2.]) + t  # float64 array: promotes, as a float64 tensor would
    assert isinstance(z, torch.Tensor) and z.dtype == torch.float64
    (y.sum() + z.sum()).backward()
    assert t.grad.tolist() == [4., 4.]
