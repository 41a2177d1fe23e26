"""optim.SGD / Adam / AdamW: hand-computed steps, param groups, zero_grad, state_dict, torch as an oracle."""

import numpy as np
import pytest

import adcompiler as ad
from adcompiler import nn, optim


def _param(values):
    return nn.Parameter(ad.tensor(values, dtype=ad.float64))


def test_sgd_plain_and_momentum_by_hand():
    p = _param([1.0, -2.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = ad.tensor([1.0, 2.0], dtype=ad.float64)
    opt.step()                           # buf = g; p -= 0.1 g
    assert p.tolist() == pytest.approx([0.9, -2.2])
    opt.step()                           # buf = 0.9 g + g = 1.9 g
    assert p.tolist() == pytest.approx([0.9 - 0.19, -2.2 - 0.38])


def test_sgd_weight_decay_and_nesterov_by_hand():
    p = _param([1.0])
    opt = optim.SGD([p], lr=0.5, momentum=0.5, weight_decay=0.1, nesterov=True)
    p.grad = ad.tensor([1.0], dtype=ad.float64)
    opt.step()                           # g = 1 + 0.1 = 1.1; buf = 1.1; d = 1.1 + 0.5 * 1.1 = 1.65
    assert p.item() == pytest.approx(1 - 0.5 * 1.65)


def test_adam_first_step_is_lr_times_sign():
    p = _param([1.0, 1.0, 1.0])
    opt = optim.Adam([p], lr=0.01)
    p.grad = ad.tensor([3.0, -0.5, 1e-3], dtype=ad.float64)
    opt.step()                           # m̂ = g, v̂ = g²: step = lr g / (|g| + eps)
    expected = [1 - 0.01 * g / (abs(g) + 1e-8) for g in (3.0, -0.5, 1e-3)]
    assert p.tolist() == pytest.approx(expected, rel=1e-12)
    assert opt.state[p]["step"] == 1


def test_param_groups_and_skipped_params():
    a, b, frozen = _param([1.0]), _param([1.0]), _param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b, frozen], "lr": 1.0}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    assert opt.param_groups[0]["momentum"] == 0
    (a + b).sum().backward()
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.0) and frozen.item() == 1.0
    opt.param_groups[0]["lr"] = 0.5      # a scheduler would do this
    opt.zero_grad()
    assert a.grad is None
    (a * 2).sum().backward()
    opt.step()
    assert a.item() == pytest.approx(-0.1)


def test_zero_grad_to_zeros():
    p = _param([1.0, 2.0])
    opt = optim.Adam([p])
    (p * p).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]


def test_closure_and_errors():
    p = _param([3.0])
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    assert p.item() == pytest.approx(3 - 0.25 * 6)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([p * 2], lr=0.1)


def test_state_dict_resumes_identically():
    def run(steps, resume_at=None):
        p = _param([1.0, -1.0])
        opt = optim.Adam([p], lr=0.1, amsgrad=True)
        for i in range(steps):
            if i == resume_at:
                saved = opt.state_dict()
                opt = optim.Adam([p], lr=0.1, amsgrad=True)
                opt.load_state_dict(saved)
            opt.zero_grad()
            (p ** 4).sum().backward()
            opt.step()
        return p.tolist()

    assert run(6) == run(6, resume_at=3)


def test_training_reduces_loss():
    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    x = ad.randn(32, 2)
    y = x[:, :1] * x[:, 1:]
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        loss = nn.MSELoss()(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.05)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_torch(name, kwargs, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4)).astype(dtype)
    b0 = rng.standard_normal(3).astype(dtype)
    x = rng.standard_normal((8, 4)).astype(dtype)

    def train(lib, opt_cls):
        w = lib.tensor(w0.copy(), requires_grad=True)
        b = lib.tensor(b0.copy(), requires_grad=True)
        opt = opt_cls([{"params": [w]}, {"params": [b], "lr": kwargs["lr"] / 2}], **kwargs)
        for _ in range(8):
            opt.zero_grad()
            ((lib.tensor(x) @ w.T + b).tanh() ** 2).sum().backward()
            opt.step()
        return w.detach().numpy(), b.detach().numpy()

    ours = train(ad, getattr(optim, name))
    theirs = train(torch, getattr(torch.optim, name))
    # float64: the update rules agree to rounding; float32: within 1e-6 after 8 steps
    tol = 1e-12 if dtype == "float64" else 1e-6
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 4)
