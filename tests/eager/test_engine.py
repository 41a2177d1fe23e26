"""Section 5 of issue 2: the backward engine is iterative (a million-op chain
backpropagates without RecursionError) and releases the graph (no memory
growth across training steps; nodes are freed after backward)."""
from __future__ import annotations

import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import adcompiler as torch


def _chain(n):
    x0 = torch.tensor(0.5, requires_grad=True)
    x = x0
    for _ in range(n):
        x = x + 1.0
    return x0, x


def _deep_chain_backward(n):
    x0, x = _chain(n)
    assert n > sys.getrecursionlimit()
    assert x.grad_fn.name() == "AddBackward0"
    x.backward()
    assert x.item() == 0.5 + n
    assert x0.grad.item() == 1.0


def test_chain_of_200k_ops_backpropagates():
    _deep_chain_backward(200_000)


@pytest.mark.slow
def test_chain_of_a_million_ops_backpropagates():
    _deep_chain_backward(1_000_000)


def test_deep_chain_with_saved_tensors_and_autograd_grad():
    x0 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    x = x0
    for _ in range(20_000):
        x = x * 1.0001  # saves its inputs
    (g,) = torch.autograd.grad(x, x0)
    assert g.item() == pytest.approx(1.0001 ** 20_000, rel=1e-9)


def test_deep_chain_create_graph():
    x0 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    x = x0
    for _ in range(5_000):
        x = x + 0.001 * x * x0
    (g,) = torch.autograd.grad(x, x0, create_graph=True)
    (h,) = torch.autograd.grad(g, x0)
    # finite-difference check of the second derivative
    def f(v):
        y = v
        for _ in range(5_000):
            y = y + 0.001 * y * v
        return y
    eps = 1e-4
    fd = (f(1 + eps) - 2 * f(1.0) + f(1 - eps)) / eps ** 2
    assert h.item() == pytest.approx(fd, rel=1e-4)


def test_deep_nested_function_graph_is_freed_without_recursion():
    # dropping a 200k-node graph must not overflow the C stack through recursive deallocation
    _x0, x = _chain(200_000)
    ref = weakref.ref(x.grad_fn)
    del x
    gc.collect()
    assert ref() is None


def test_graph_nodes_are_freed_after_backward():
    w = torch.tensor([1., 2.], requires_grad=True)
    y = (w.exp() * w).sum()
    node = weakref.ref(y.grad_fn)
    inner = weakref.ref(y.grad_fn.next_functions[0][0])
    y.backward()
    del y
    assert node() is None and inner() is None  # freed by reference counting alone
    assert w.grad is not None


def test_saved_tensors_released_after_backward():
    w = torch.tensor(np.ones(1000), requires_grad=True)
    h = w.exp()
    y = (h * w).sum()
    mul = y.grad_fn.next_functions[0][0]
    assert mul.name() == "MulBackward0"
    y.backward()
    assert mul.freed and mul.args is None  # its saved inputs are gone
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_leaf_does_not_keep_graph_alive():
    w = torch.tensor([1., 2.], requires_grad=True)
    y = (w * 3).sum()
    node = weakref.ref(y.grad_fn)
    del y
    assert node() is None  # w holds its AccumulateGrad weakly; nothing points back to the graph


def _train_steps(n, w, b, x, t, lr=0.01):
    for i in range(n):
        rows = slice((i % 4) * 8, (i % 4) * 8 + 8)
        xb, tb = x[rows], t[rows]  # views of the data tensors
        h = xb @ w + b
        h.view(-1).mul_(1.5)  # an in-place op through a view of a non-leaf
        pred = h.tanh()
        loss = ((pred - tb) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return loss.item()


def test_no_memory_growth_across_1000_training_steps():
    torch.manual_seed(0)
    x = torch.randn(32, 8)
    t = torch.randn(32, 1)
    w = torch.randn(8, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    first = _train_steps(20, w, b, x, t)  # warm up caches
    gc.collect()
    tracemalloc.start()
    try:
        snap0 = tracemalloc.get_traced_memory()[0]
        last = _train_steps(1000, w, b, x, t)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - snap0
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"memory grew by {grown} bytes over 1000 steps"
    assert last < first  # and it trained
    assert len(x.__dict__.get("_views", ())) == 0  # the batch views it handed out are all gone


def test_no_node_survives_training_steps():
    from adcompiler.autograd.graph import PrimNode
    w = torch.randn(4, requires_grad=True)
    refs = []
    for _ in range(50):
        loss = (w.sin() * w).sum()
        stack = [loss.grad_fn]
        while stack:  # every node of this step's graph
            n = stack.pop()
            if isinstance(n, PrimNode):
                refs.append(weakref.ref(n))
                stack.extend(f for f, _ in n.next_functions if f is not None)
        loss.backward()
    del loss, n, stack
    assert len(refs) == 150 and all(r() is None for r in refs)


def test_retained_graph_is_freed_when_dropped():
    w = torch.tensor([1., 2.], requires_grad=True)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    node = weakref.ref(y.grad_fn)
    del y
    assert node() is None
