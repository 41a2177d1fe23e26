"""Backward from several threads into one shared leaf: every contribution reaches `.grad`
(torch's AccumulateGrad is atomic; a lost update here is a silently wrong gradient)."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import adcompiler as ad

THREADS = 8


@pytest.fixture
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads as often as possible: races show every run
    yield
    sys.setswitchinterval(old)


def _run_threads(work):
    barrier = threading.Barrier(THREADS)
    errors = []

    def run(k):
        try:
            barrier.wait()
            work(k)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("size", [3, 20000])   # small: the None check races; large: NumPy drops the GIL in +=
def test_concurrent_backward_into_one_leaf_loses_nothing(fast_switching, size):
    rounds = 30 if size > 100 else 150
    steps = 4
    w = ad.tensor(np.zeros(size), dtype=ad.float64, requires_grad=True)
    # k-th thread contributes (k + 1) per step: exact in float64
    expected = float(steps * sum(k + 1 for k in range(THREADS)))
    for r in range(rounds):
        w.grad = None

        def work(k):
            for _ in range(steps):
                (w * float(k + 1)).sum().backward()

        _run_threads(work)
        assert w.grad is not None
        np.testing.assert_array_equal(w.grad.numpy(), np.full(size, expected), err_msg=f"round {r}")


def test_torch_loses_nothing_either(fast_switching):
    """The oracle: the same program on real torch gives the exact sum."""
    torch = pytest.importorskip("torch")    # (with CI set, tests/conftest.py refuses to run without torch)
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def work(k):
        for _ in range(4):
            (w * float(k + 1)).sum().backward()

    for _ in range(5):
        w.grad = None
        _run_threads(work)
        assert w.grad.tolist() == [4.0 * 36] * 3


def test_concurrent_backward_with_inputs(fast_switching):
    """backward(inputs=...) accumulates under the same lock, and every thread's graph reaches the
    one AccumulateGrad node of the leaf (created once, also when threads race to create it)."""
    for _ in range(40):
        w = ad.tensor([1.0, 2.0], dtype=ad.float64, requires_grad=True)   # a fresh leaf: no node yet

        def work(k):
            for _ in range(3):
                (w * 2.0).sum().backward(inputs=[w])

        _run_threads(work)
        assert w.grad.tolist() == [2.0 * 3 * THREADS] * 2


def test_concurrent_backward_into_a_retained_grad(fast_switching):
    w = ad.tensor([1.0, 2.0], dtype=ad.float64, requires_grad=True)
    h = w * 1.0
    h.retain_grad()
    for _ in range(40):
        h.grad = None

        def work(k):
            for _ in range(3):
                (h * 3.0).sum().backward(retain_graph=True)

        _run_threads(work)
        assert h.grad.tolist() == [3.0 * 3 * THREADS] * 2
