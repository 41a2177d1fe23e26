"""utils.checkpoint: same gradients as without, lower peak memory, RNG replay."""
import tracemalloc

import numpy as np
import pytest

import adcompiler as ad
from adcompiler import nn
from adcompiler.utils.checkpoint import checkpoint, checkpoint_sequential


def _stack(depth=4, width=6):
    ad.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.Tanh()) for _ in range(depth)])


def _grads(model, *extra):
    return [p.grad.numpy().copy() for p in model.parameters()] + [t.grad.numpy().copy() for t in extra]


def _reference(model, x):
    model.zero_grad()
    x.grad = None
    (model(x) ** 2).sum().backward()
    return _grads(model, x)


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("reentrant,node", [(False, "TanhBackward0"), (True, "CheckpointFunctionBackward")])
def test_checkpointed_modules_give_the_same_gradients(reentrant, node):
    model = _stack()
    x = ad.randn(3, 6, requires_grad=True)
    ref = _reference(model, x)
    model.zero_grad()
    x.grad = None
    h = x
    for block in model:
        h = checkpoint(block, h, use_reentrant=reentrant)
    assert h.grad_fn.name() == node   # as torch's two variants
    (h ** 2).sum().backward()
    _assert_same(_grads(model, x), ref)


def test_closure_over_parameters_and_input_without_grad():
    model = _stack()
    x = ad.randn(3, 6)
    model.zero_grad()
    (model(x) ** 2).sum().backward()
    ref = _grads(model)
    model.zero_grad()
    h = checkpoint(lambda t: model[1](model[0](t)), x)    # parameters reached only through the closure
    (model[3](model[2](h)) ** 2).sum().backward()
    _assert_same(_grads(model), ref)
    model.zero_grad()
    (checkpoint_sequential(model, 2, x) ** 2).sum().backward()
    _assert_same(_grads(model), ref)


def test_several_inputs_outputs_and_non_tensor_arguments():
    a = ad.tensor([1.0, 2.0], requires_grad=True)
    b = ad.tensor([3.0, -1.0], requires_grad=True)

    def f(u, v, scale):
        return (u * v * scale).sin(), u.exp()

    s, e = checkpoint(f, a, b, 2.0)
    (s.sum() + e.sum()).backward()
    x, y = a.detach().numpy(), b.detach().numpy()
    np.testing.assert_allclose(a.grad.numpy(), np.cos(x * y * 2) * y * 2 + np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), np.cos(x * y * 2) * x * 2, rtol=1e-6)


def test_autograd_grad_through_checkpointed_module():
    model = _stack(depth=2)
    x = ad.randn(2, 6, requires_grad=True)
    out = checkpoint(model, x)
    gx, gw = ad.autograd.grad(out.sum(), [x, model[0][0].weight])
    assert all(p.grad is None for p in model.parameters())      # grad() leaves .grad alone
    rx, rw = ad.autograd.grad(model(x).sum(), [x, model[0][0].weight])
    np.testing.assert_array_equal(gx.numpy(), rx.numpy())
    np.testing.assert_array_equal(gw.numpy(), rw.numpy())


def test_random_state_is_replayed_in_the_recomputation():
    x = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def noisy(t):
        return t * ad.randn(3)

    ad.manual_seed(7)
    out = checkpoint(noisy, x)
    noise = out.detach() / x.detach()
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), noise.numpy(), rtol=1e-6)


def test_no_grad_mode_just_calls():
    x = ad.ones(2, requires_grad=True)
    with ad.no_grad():
        out = checkpoint(lambda t: t * 2, x)
    assert out.grad_fn is None and out.tolist() == [2.0, 2.0]


def _peak(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_lower_peak_memory_on_a_deep_stack():
    depth, width, batch = 48, 64, 512       # activations (128 KiB each) dominate the weights (16 KiB)
    ad.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear(width, width), nn.Tanh()) for _ in range(depth)]
    x = ad.randn(batch, width, requires_grad=True)

    def plain():
        h = x
        for b in blocks:
            h = b(h)
        h.sum().backward()

    def checkpointed():
        h = x
        for i in range(0, depth, 6):
            h = checkpoint(nn.Sequential(*blocks[i:i + 6]), h)
        h.sum().backward()

    for b in blocks:
        b.zero_grad()
    plain_peak = _peak(plain)
    ref = [p.grad.numpy().copy() for b in blocks for p in b.parameters()]
    for b in blocks:
        b.zero_grad()
    ckpt_peak = _peak(checkpointed)
    for r, p in zip(ref, [p for b in blocks for p in b.parameters()]):
        np.testing.assert_allclose(p.grad.numpy(), r, rtol=1e-5, atol=1e-6)
    activation = batch * width * 4
    # plain keeps one activation per block (tanh's output is also the next linear's saved input): ~48;
    # checkpointing keeps the 8 segment inputs plus one segment's 6 during its recomputation
    assert plain_peak > 40 * activation
    assert ckpt_peak < 0.5 * plain_peak, (plain_peak, ckpt_peak)
