"""Saved-tensor hooks, save_on_cpu and checkpoint(use_reentrant=False) built on them (issue 14), each
scenario run on adcompiler and on real torch."""
from __future__ import annotations

import numpy as np
import pytest

import adcompiler as ad
from tests.eager._compare import attempt, torch_or_skip, val


def _logging_hooks(T, log):
    def pack(t):
        log.append(("pack", val(t)))
        return ("packed", t)

    def unpack(p):
        log.append(("unpack", val(p[1])))
        return p[1]
    return T.autograd.graph.saved_tensors_hooks(pack, unpack)


def sc_pack_and_unpack_per_saved_tensor(T):
    """Ops that save the same tensors in both libraries: exp and tanh their result, sin its input, a product
    of two tensors that require grad both factors, matmul both operands."""
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    w = T.tensor([3., 4.], requires_grad=True)
    with _logging_hooks(T, log):
        parts = [x.exp(), x.sin(), T.tanh(x), x * w, (x @ w).reshape(1)]
    packs = sorted(map(str, log))
    log.clear()
    sum(p.sum() for p in parts).backward()
    return len(packs), packs, sorted(map(str, log)), val(x.grad, 3), val(w.grad, 3)


def sc_hooks_change_the_saved_values(T):
    """What unpack returns is what backward uses (here: a value rounded through float16)."""
    x = T.tensor([0.1234567, 1.7654321], requires_grad=True)
    with T.autograd.graph.saved_tensors_hooks(lambda t: t.detach().to(T.float16), lambda p: p.to(T.float32)):
        y = x.sin()
    y.sum().backward()
    return val(x.grad, 6)


def sc_custom_function(T):
    class Mul(T.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ctx.saved_tensors          # each access unpacks again
            return g * b, g * a
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    with _logging_hooks(T, log):
        y = Mul.apply(x, T.tensor([3., 4.]))
    log.append("backward")
    y.sum().backward()
    return log, val(x.grad)


def sc_errors_and_nesting(T):
    out = []
    x = T.tensor([1., 2.], requires_grad=True)
    with T.autograd.graph.saved_tensors_hooks(lambda t: t, lambda p: 3):
        y = x.exp()
    out.append(attempt(lambda: y.sum().backward()))
    with T.autograd.graph.saved_tensors_hooks(lambda t: t, lambda p: p):
        y = x.exp()
    y.sum().backward()
    out.append(attempt(lambda: y.sum().backward()))
    with T.autograd.graph.disable_saved_tensors_hooks("no hooks in here"):
        out.append(attempt(lambda: T.autograd.graph.saved_tensors_hooks(lambda t: t, lambda p: p).__enter__()))
    log = []
    with T.autograd.graph.saved_tensors_hooks(lambda t: log.append("outer") or t, lambda p: p):
        with T.autograd.graph.saved_tensors_hooks(lambda t: log.append("inner") or t, lambda p: p):
            y = x.exp()
        z = y.sin()
    (z.sum()).backward()
    out.append((log, val(x.grad)))
    return out


def sc_save_on_cpu_and_double_backward(T):
    x = T.tensor([0.5, -1.5], requires_grad=True)
    with T.autograd.graph.save_on_cpu():
        y = (x.sin() * x).exp()
    (gx,) = T.autograd.grad(y.sum(), x, create_graph=True)
    (ggx,) = T.autograd.grad(gx.sum(), x)
    return val(gx), val(ggx)


# ---- checkpoint(use_reentrant=False) -----------------------------------------------------------------

def _layers(T):
    T.manual_seed(0)
    lin1, lin2 = T.nn.Linear(3, 4), T.nn.Linear(4, 2)
    with T.no_grad():
        lin1.weight.copy_(T.tensor(np.linspace(-1, 1, 12).reshape(4, 3), dtype=T.float32))
        lin1.bias.copy_(T.tensor([0.1, -0.2, 0.3, 0.0]))
        lin2.weight.copy_(T.tensor(np.linspace(0.5, -0.5, 8).reshape(2, 4), dtype=T.float32))
        lin2.bias.zero_()
    return lin1, lin2


def sc_checkpoint_closure_hooks_and_counts(T):
    from importlib import import_module
    checkpoint = import_module(f"{T.__name__}.utils.checkpoint").checkpoint
    lin1, lin2 = _layers(T)
    runs, hooked = [], []

    def block(h):
        runs.append(1)
        a = lin1(h).tanh()
        a.register_hook(lambda g: hooked.append(val(g)))
        return lin2(a)             # lin2 is reached only through the closure
    x = T.tensor([[1., 2., 3.], [0.5, -1., 0.]], requires_grad=True)
    out = checkpoint(block, x, use_reentrant=False)
    log = [("runs after forward", len(runs)), ("grad_fn", out.grad_fn.name())]
    loss = (out ** 2).sum()
    gx, gw2 = T.autograd.grad(loss, [x, lin2.weight], retain_graph=True)
    log += [("runs after grad", len(runs)), ("hook", hooked[:]), val(gx), val(gw2)]
    loss.backward()
    log += [("runs after backward", len(runs)), ("hook calls", len(hooked)), val(lin1.weight.grad), val(x.grad)]
    return log


def sc_checkpoint_different_number_saved(T):
    from importlib import import_module
    checkpoint = import_module(f"{T.__name__}.utils.checkpoint").checkpoint
    calls = []

    def fn(h):
        calls.append(1)
        return h.exp() if len(calls) == 1 else h + 1     # a non-deterministic function
    x = T.tensor([1., 2.], requires_grad=True)
    out = checkpoint(fn, x, use_reentrant=False)
    err = attempt(lambda: out.sum().backward())
    return err.splitlines()[:3]


def sc_checkpoint_double_backward(T):
    from importlib import import_module
    checkpoint = import_module(f"{T.__name__}.utils.checkpoint").checkpoint
    x = T.tensor([0.5, -1.0, 2.0], requires_grad=True)
    out = checkpoint(lambda t: (t.sin() * t).exp(), x, use_reentrant=False)
    (g,) = T.autograd.grad(out.sum(), x, create_graph=True)
    (gg,) = T.autograd.grad(g.sum(), x)
    return val(g), val(gg)


def sc_hooks_are_thread_local(T):
    import threading
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    started, done = threading.Event(), threading.Event()

    def other():
        started.wait()
        log.append(("recorded in the other thread", x.exp().grad_fn is not None))
        done.set()
    th = threading.Thread(target=other)
    th.start()
    with T.autograd.graph.saved_tensors_hooks(lambda t: log.append("pack") or t, lambda p: p):
        started.set()
        done.wait()
    th.join()
    return log


SCENARIOS = [sc_checkpoint_double_backward, sc_hooks_are_thread_local, sc_pack_and_unpack_per_saved_tensor, sc_hooks_change_the_saved_values, sc_custom_function,
             sc_errors_and_nesting, sc_save_on_cpu_and_double_backward, sc_checkpoint_closure_hooks_and_counts,
             sc_checkpoint_different_number_saved]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__[3:] for s in SCENARIOS])
def test_same_as_torch(scenario):
    real = torch_or_skip()
    assert scenario(ad) == scenario(real)


# ---- fixed values and where adcompiler is deliberately stricter -------------------------------------------

def test_hooks_give_the_same_gradients_as_without():
    x = ad.tensor([0.3, -0.7, 1.1], dtype=ad.float64, requires_grad=True)

    def f():
        return ((x.sin() * x).exp() @ x.tanh()).sum()
    (ref,) = ad.autograd.grad(f(), x)
    with ad.autograd.graph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda p: p):
        y = f()
    (got,) = ad.autograd.grad(y, x)
    np.testing.assert_array_equal(got.numpy(), ref.numpy())


def test_packed_node_keeps_no_tensor():
    x = ad.tensor([1., 2.], requires_grad=True)
    with ad.autograd.graph.saved_tensors_hooks(lambda t: None, lambda p: p):
        y = x.sin()
    node = y.grad_fn
    assert not any(isinstance(a, ad.Tensor) for a in node.args) and node.out_data is None


def test_inplace_change_of_a_saved_tensor_is_still_caught():
    """torch does not check versions once hooks are used (it backpropagates the new value); adcompiler still
    raises when unpack returns the same storage, and uses a copy that pack made as it is."""
    x = ad.tensor([1., 2.], requires_grad=True)
    with ad.autograd.graph.save_on_cpu():
        y = x.exp()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*output 0 of Exp"):
        y.sum().backward()
    with ad.autograd.graph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda p: p):
        y = x.exp()
    y.mul_(2)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1., 2.]), rtol=1e-6)


def test_checkpoint_recomputation_with_other_metadata_is_refused():
    from adcompiler.utils.checkpoint import CheckpointError, checkpoint
    calls = []

    def fn(h):
        calls.append(1)
        return h.sin() if len(calls) == 1 else h.sum().sin()
    out = checkpoint(fn, ad.tensor([1., 2.], requires_grad=True))
    with pytest.raises(CheckpointError, match="different metadata"):
        out.sum().backward()


def test_no_hooks_open_no_cost_flag():
    from adcompiler.autograd.recording import STATE
    assert not STATE.active
    with ad.autograd.graph.save_on_cpu():
        assert STATE.active
    assert not STATE.active
