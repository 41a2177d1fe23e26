"""nn.Parameter and nn.Module: registration, traversal, modes, freezing, state_dict, printing."""
import pytest

import adcompiler as ad
from adcompiler import nn


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(4, 2)
        self.register_buffer("steps", ad.zeros(1))
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_parameter_requires_grad_and_repr():
    p = nn.Parameter(ad.tensor([1.0, 2.0]))
    assert p.requires_grad and p.is_leaf and isinstance(p, ad.Tensor)
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert repr(nn.Parameter(ad.tensor([1.0]), requires_grad=False)) == "Parameter containing:\ntensor([1.])"
    assert repr(p * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"   # results are plain tensors


def test_parameter_shares_storage_with_data():
    t = ad.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    t[0] = 5.0
    assert p.tolist() == [5.0, 2.0]


def test_registration_and_traversal_order():
    m = TwoLayer()
    assert [n for n, _ in m.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [type(x).__name__ for x in m.modules()] == ["TwoLayer", "Linear", "Tanh", "Linear"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert [n for n, _ in m.named_buffers()] == ["steps"]
    assert sum(p.numel() for p in m.parameters()) == 3 * 4 + 4 + 4 * 2 + 2
    assert m.note == "plain attribute"
    assert list(m.parameters(recurse=False)) == []


def test_shared_parameter_listed_once():
    shared = nn.Linear(2, 2)
    m = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]


def test_assignment_rules():
    m = TwoLayer()
    with pytest.raises(TypeError, match="cannot assign 'adcompiler.FloatTensor' as parameter 'weight'"):
        m.fc1.weight = ad.zeros(4, 3)
    m.fc1.bias = None
    assert [n for n, _ in m.fc1.named_parameters()] == ["weight"]
    del m.fc2
    assert [n for n, _ in m.named_children()] == ["fc1", "act"]
    with pytest.raises(AttributeError, match="'TwoLayer' object has no attribute 'fc2'"):
        m.fc2

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ad.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_call_runs_forward_and_backward_fills_grads():
    # the tutorial: layer = nn.Linear(3, 4); Y = layer(X); Y.sum().backward()
    layer = nn.Linear(3, 4)
    assert layer.weight.requires_grad and layer.bias.requires_grad
    X = ad.randn(8, 3)
    layer(X).sum().backward()
    assert layer.weight.grad.shape == (4, 3) and layer.bias.grad.shape == (4,)
    assert layer.bias.grad.tolist() == [8.0] * 4                    # d(sum)/db = batch size
    assert ad.allclose(layer.weight.grad, X.sum(0).expand(4, 3), atol=1e-5)


def test_freezing_a_layer():
    m = TwoLayer()
    for p in m.fc1.parameters():
        p.requires_grad = False
    m(ad.randn(5, 3)).sum().backward()
    assert m.fc1.weight.grad is None and m.fc1.bias.grad is None
    assert m.fc2.weight.grad is not None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_zero_grad_modes():
    m = TwoLayer()
    m(ad.randn(2, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert m.fc1.weight.grad.abs().sum().item() == 0.0
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_train_eval():
    m = TwoLayer()
    assert m.training and m.fc1.training
    assert m.eval() is m
    assert not m.training and not m.fc1.training and not m.act.training
    m.train()
    assert m.fc2.training


def test_state_dict_round_trip():
    ad.manual_seed(0)
    a, b = TwoLayer(), TwoLayer()
    sd = a.state_dict()
    assert list(sd) == ["steps", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]   # torch's order
    assert not any(v.requires_grad for v in sd.values())
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = ad.randn(2, 3)
    assert ad.equal(a(x), b(x))
    assert b.fc1.weight.requires_grad       # still a trainable parameter after loading


def test_load_state_dict_strict_errors():
    m = nn.Linear(3, 2)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict({"weight": ad.zeros(3, 3), "foo": ad.zeros(1)})
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Linear:")
    assert 'Missing key(s) in state_dict: "bias".' in msg
    assert 'Unexpected key(s) in state_dict: "foo".' in msg
    assert "size mismatch for weight: copying a param with shape" in msg
    before = m.weight.clone()
    keys = m.load_state_dict({"weight": ad.ones(2, 3), "foo": ad.zeros(1)}, strict=False)
    assert keys.missing_keys == ["bias"] and keys.unexpected_keys == ["foo"]
    assert m.weight.tolist() == [[1.0] * 3] * 2 and not ad.equal(before, m.weight)


def test_repr_like_torch():
    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Tanh()), nn.Linear(3, 1, bias=False))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Tanh()\n"
        "  )\n"
        "  (3): Linear(in_features=3, out_features=1, bias=False)\n"
        ")")


def test_sequential_indexing_and_module_list():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and isinstance(seq[1], nn.ReLU)
    assert len(seq[:2]) == 2
    with pytest.raises(IndexError):
        seq[3]
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    owner = nn.Module()
    owner.layers = ml
    assert len(list(owner.parameters())) == 6
    assert [n for n, _ in owner.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]


def test_to_double_converts_parameters():
    m = nn.Linear(2, 2).double()
    assert m.weight.dtype == ad.float64 and m.weight.requires_grad
    out = m(ad.randn(3, 2, dtype=ad.float64))
    assert out.dtype == ad.float64
