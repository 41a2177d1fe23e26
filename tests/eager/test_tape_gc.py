"""Issue 13: the eager tape and Python's cyclic garbage collector.

A recorded op keeps as few objects as the GC tracks (the node and its tuple of
child nodes), nodes and tensors form no reference cycles (the graph is freed
by reference counting alone), nothing grows over training steps; and the
saved-tensor bookkeeping that makes this possible (a saved tensor kept as its
array, its version read on the node that produced it) keeps torch's checks.
These are counts, not timers (benchmarks/tape_overhead.py times it)."""
from __future__ import annotations

import gc
import re
import weakref

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.autograd.graph import Node, children

torch = pytest.importorskip("torch")


def _chain(mod, x, n):
    """tape_overhead.py's workload, with a few more primitives."""
    for i in range(n // 8):
        x = x * 1.0001
        x = x + 0.01
        x = x.sin()
        x = x * x if i % 7 == 0 else x * 0.999
        x = x.tanh()
        x = x - 0.5
        x = x.exp()
        x = x / 3.0
    return x


def _tracked_after_collect():
    gc.collect()
    return gc.get_objects()


def test_a_recorded_op_keeps_about_one_gc_tracked_object():
    x = ad.tensor(np.linspace(-1, 1, 16), requires_grad=True)
    _chain(ad, x, 800).sum().backward()  # warm up (shape keys, node classes)
    n = 8000
    enabled = gc.isenabled()
    gc.disable()  # (the test's own: counts must not move while it records)
    try:
        before = _tracked_after_collect()
        n0 = len(before)
        t0 = sum(1 for o in before if type(o) is ad.Tensor)
        del before
        y = _chain(ad, x, n)
        after = _tracked_after_collect()
        per_op = (len(after) - n0) / n
        tensors = sum(1 for o in after if type(o) is ad.Tensor) - t0
        nodes = sum(1 for o in after if issubclass(type(o), Node))
        del after
    finally:
        if enabled:
            gc.enable()
    # the node, and a tuple of child nodes only for an op with more than one tensor input (x * x here)
    assert per_op <= 1.05, f"{per_op:.2f} GC-tracked objects per recorded op"
    assert tensors <= 2, f"{tensors} intermediate tensors kept alive by the graph"
    assert nodes >= n
    y.sum().backward()
    assert x.grad is not None


def _nodes(root):
    seen, stack = {id(root): root}, [root]
    while stack:
        node = stack.pop()
        for c in children(node):
            if c is not None and id(c) not in seen:
                seen[id(c)] = c
                stack.append(c)
    return [weakref.ref(n) for n in seen.values()]


@pytest.mark.parametrize("backward", [True, False])
def test_every_node_is_freed_by_reference_counting_alone(backward):
    x = ad.tensor(np.linspace(-1, 1, 16), requires_grad=True)
    w = ad.tensor(np.ones(16), requires_grad=True)
    enabled = gc.isenabled()
    gc.disable()  # no collector: only reference counting may free the graph (no cycles)
    try:
        h = _chain(ad, x * w, 4000)
        v = h[2:5]  # a view of a non-leaf, and a node that saves its input
        y = (h.sum() + (v * v).sum())
        refs = _nodes(y.grad_fn)
        assert len(refs) > 4000
        if backward:
            y.backward()
        del y, h, v
        alive = sum(1 for r in refs if r() is not None)
    finally:
        if enabled:
            gc.enable()
    # the leaves' AccumulateGrad nodes live on while something registered on them (nothing here)
    assert alive == 0, f"{alive} nodes outlived the graph's output"


def test_no_gc_tracked_object_accumulates_over_1000_training_steps():
    ad.manual_seed(0)
    model = ad.nn.Sequential(ad.nn.Linear(8, 16), ad.nn.Tanh(), ad.nn.Linear(16, 1))
    opt = ad.optim.Adam(model.parameters(), lr=1e-3)
    x = ad.randn(32, 8)
    t = ad.randn(32, 1)

    def steps(n):
        for i in range(n):
            xb, tb = x[(i % 4) * 8:(i % 4) * 8 + 8], t[(i % 4) * 8:(i % 4) * 8 + 8]
            h = model[0](xb)
            h.mul_(0.5)  # an in-place op on a saved non-leaf's successor
            loss = ((model[2](model[1](h)) - tb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    first = steps(30)  # warm-up
    gc.collect()
    n0 = len(gc.get_objects())
    last = steps(1000)
    gc.collect()
    grown = len(gc.get_objects()) - n0
    assert grown <= 0, f"{grown} more GC-tracked objects after 1000 steps"
    assert last < first


# ---- the saved-tensor bookkeeping keeps torch's checks ---------------------------------------------

MODIFIED = "modified by an inplace operation"


def _message(mod, build):
    x = mod.tensor([1., 2., 3.], requires_grad=True)
    y = build(mod, x)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    msg = str(info.value)
    # (torch's CopySlices node calls itself torch::autograd::CopySlices, adcompiler's CopySlices)
    return re.sub(r"torch::autograd::|torch\.|adcompiler\.", "", msg.split(" Hint:")[0])


def _after_add_(mod, x):
    h = x * 2
    y = h.sin()  # saves h, which its own grad_fn produced
    h.add_(1)
    return y


def _through_a_view(mod, x):
    h = x * 2
    y = h.exp() * h
    h[1:].mul_(3)
    return y


def _detach_then_write(mod, x):
    h = x * 2
    y = h.cos()
    h.detach_()
    h.add_(1)
    return y


def _write_through_detached(mod, x):
    h = x.exp()
    y = h * h
    h.detach().zero_()
    return y


def _saved_output(mod, x):
    h = (x * 2).tanh()  # tanh saves its output
    y = h + 1.0
    h.add_(1)
    return y


def _counter_after_recording(mod, x):
    h = x * 2
    y = h.sin()
    v = h.view(3)  # h gets its version counter only now, after sin saved it
    v.add_(1)
    return y


@pytest.mark.parametrize("build", [_after_add_, _through_a_view, _detach_then_write, _write_through_detached,
                                   _saved_output, _counter_after_recording])
def test_modified_saved_tensor_is_caught_as_torch(build):
    assert _message(ad, build) == _message(torch, build)


def test_unmodified_saved_tensors_and_a_view_pass():
    for mod in (ad, torch):
        x = mod.tensor([1., 2., 3.], dtype=mod.float64, requires_grad=True)
        h = x * 2
        y = h.sin() * h
        v = h.view(3)  # a counter made after recording, no write
        (y.sum() + v.sum()).backward()
        if mod is ad:
            got = x.grad.numpy().copy()
        else:
            assert np.allclose(got, x.grad.numpy(), rtol=1e-12)


def test_second_order_through_saved_arrays_as_torch():
    res = []
    for mod in (ad, torch):
        x = mod.tensor([0.3, -0.7, 1.1], dtype=mod.float64, requires_grad=True)
        h = x * 1.5 + 0.2
        y = (h.sin() * h).tanh() * h
        (g,) = mod.autograd.grad(y.sum(), x, create_graph=True)
        (hx,) = mod.autograd.grad((g * g).sum(), x)
        res.append((g.detach().numpy().copy(), hx.numpy().copy()))
    assert np.allclose(res[0][0], res[1][0], rtol=1e-12)
    assert np.allclose(res[0][1], res[1][1], rtol=1e-12)
