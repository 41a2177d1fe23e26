"""Linear's initialisation, layers, functional and losses: hand-computed values, and torch where installed."""
import math

import numpy as np
import pytest

import adcompiler as ad
from adcompiler import nn
from adcompiler.nn import functional as F


def test_linear_init_bounds_and_seeding():
    ad.manual_seed(3)
    a = nn.Linear(16, 200)
    ad.manual_seed(3)
    b = nn.Linear(16, 200)
    assert ad.equal(a.weight, b.weight) and ad.equal(a.bias, b.bias)
    bound = 1 / math.sqrt(16)
    w = a.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound     # U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01                      # std of that uniform
    assert np.abs(a.bias.detach().numpy()).max() <= bound
    assert a.weight.dtype == ad.float32


def test_linear_forward_values_and_node_names():
    lin = nn.Linear(2, 2)
    with ad.no_grad():
        lin.weight.copy_(ad.tensor([[1.0, 2.0], [3.0, 4.0]]))
        lin.bias.copy_(ad.tensor([0.5, -0.5]))
    y = lin(ad.tensor([[1.0, 1.0]]))
    assert y.tolist() == [[3.5, 6.5]]
    assert y.grad_fn.name() == "AddmmBackward0"
    nobias = nn.Linear(2, 2, bias=False)
    assert nobias.bias is None and [n for n, _ in nobias.named_parameters()] == ["weight"]
    assert nobias(ad.ones(1, 2)).grad_fn.name() == "MmBackward0"


def test_activations_by_hand():
    x = ad.tensor([-1.0, 0.0, 2.0])
    assert nn.ReLU()(x).tolist() == [0.0, 0.0, 2.0]
    assert ad.allclose(nn.Tanh()(x), ad.tensor([math.tanh(-1), 0.0, math.tanh(2)]))
    assert ad.allclose(nn.Sigmoid()(x), ad.tensor([1 / (1 + math.e), 0.5, 1 / (1 + math.exp(-2))]))
    assert ad.allclose(F.softmax(ad.tensor([0.0, math.log(3.0)]), dim=0), ad.tensor([0.25, 0.75]))
    assert ad.allclose(F.log_softmax(ad.tensor([0.0, 0.0]), dim=0), ad.tensor([-math.log(2)] * 2))


def test_mse_loss_by_hand():
    pred = ad.tensor([1.0, 2.0, 4.0], requires_grad=True)
    target = ad.tensor([1.0, 0.0, 1.0])
    loss = nn.MSELoss()(pred, target)
    assert loss.item() == pytest.approx((0 + 4 + 9) / 3)
    loss.backward()
    assert ad.allclose(pred.grad, ad.tensor([0.0, 4 / 3, 2.0]))            # 2 (p - t) / n
    assert nn.MSELoss(reduction="sum")(pred, target).item() == 13.0
    assert nn.MSELoss(reduction="none")(pred, target).tolist() == [0.0, 4.0, 9.0]
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(pred, ad.tensor([1.0]))
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        nn.MSELoss(reduction="avg")


def test_cross_entropy_by_hand():
    logits = ad.tensor([[0.0, 0.0], [math.log(3.0), 0.0]], requires_grad=True)
    target = ad.tensor([0, 1])
    loss = nn.CrossEntropyLoss()(logits, target)
    expected = (math.log(2) + math.log(4)) / 2                            # -log(1/2), -log(1/4)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # (softmax - onehot) / N
    assert ad.allclose(logits.grad, ad.tensor([[-0.25, 0.25], [0.375, -0.375]]))
    none = F.cross_entropy(logits, target, reduction="none")
    assert none.shape == (2,) and none[1].item() == pytest.approx(math.log(4), rel=1e-6)
    assert F.cross_entropy(logits, target, reduction="sum").item() == pytest.approx(2 * expected, rel=1e-6)
    assert F.cross_entropy(ad.tensor([0.0, 0.0, 0.0]), ad.tensor(2)).item() == pytest.approx(math.log(3), rel=1e-6)


def test_cross_entropy_errors():
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        F.cross_entropy(ad.zeros(2, 3), ad.tensor([0, 5]))
    with pytest.raises(ValueError, match="to match target batch_size"):
        F.cross_entropy(ad.zeros(2, 3), ad.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float "):
        F.cross_entropy(ad.zeros(2, 3), ad.tensor([0.0, 1.0]).reshape(2))


def _copy_linear(src, dst_torch, torch):
    with torch.no_grad():
        dst_torch.weight.copy_(torch.tensor(src.weight.detach().numpy()))
        dst_torch.bias.copy_(torch.tensor(src.bias.detach().numpy()))


def test_mlp_forward_backward_matches_torch():
    torch = pytest.importorskip("torch")
    ad.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 7), nn.Sigmoid(), nn.Linear(7, 3), nn.Tanh())
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 7), torch.nn.Sigmoid(),
                                 torch.nn.Linear(7, 3), torch.nn.Tanh())
    for a, b in zip([m for m in ours if isinstance(m, nn.Linear)],
                    [m for m in theirs if isinstance(m, torch.nn.Linear)]):
        _copy_linear(a, b, torch)
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    y = np.array([0, 2, 1, 1, 0, 2])
    loss_a = nn.CrossEntropyLoss()(ours(ad.tensor(x)), ad.tensor(y))
    loss_b = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y))
    loss_a.backward()
    loss_b.backward()
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-5)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 5, 3)])
def test_cross_entropy_matches_torch(reduction, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    target_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, 5, size=target_shape)
    a = ad.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    la = F.cross_entropy(a, ad.tensor(t), reduction=reduction)
    lb = torch.nn.functional.cross_entropy(b, torch.tensor(t), reduction=reduction)
    np.testing.assert_allclose(la.detach().numpy(), lb.detach().numpy(), rtol=1e-10)
    la.sum().backward()
    lb.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cross_entropy_probabilities_and_smoothing_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    p = rng.random((4, 3))
    p /= p.sum(1, keepdims=True)
    t = np.array([0, 2, 1, 2])
    got = F.cross_entropy(ad.tensor(x), ad.tensor(p)).item()
    assert got == pytest.approx(torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p)).item())
    got = F.cross_entropy(ad.tensor(x), ad.tensor(t), label_smoothing=0.1).item()
    ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), label_smoothing=0.1).item()
    assert got == pytest.approx(ref)


def test_softmax_modules_and_implicit_dim_warning():
    x = ad.tensor([[0.0, math.log(3.0)]])
    assert ad.allclose(nn.Softmax(dim=1)(x), ad.tensor([[0.25, 0.75]]))
    assert ad.allclose(nn.LogSoftmax(dim=1)(x), ad.tensor([[math.log(0.25), math.log(0.75)]]))
    assert repr(nn.LogSoftmax(dim=1)) == "LogSoftmax(dim=1)"
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        assert ad.allclose(F.softmax(x), ad.tensor([[0.25, 0.75]]))     # 2-D: dim 1, as torch


def test_register_checks_types():
    m = nn.Module()
    with pytest.raises(TypeError, match="cannot assign 'Tensor' object to parameter 'p'"):
        m.register_parameter("p", ad.zeros(1))
    with pytest.raises(KeyError, match="buffer name can.+t contain"):
        m.register_buffer("a.b", ad.zeros(1))
    m.register_buffer("running", ad.zeros(2), persistent=False)
    assert list(m.state_dict()) == [] and [n for n, _ in m.named_buffers()] == ["running"]
