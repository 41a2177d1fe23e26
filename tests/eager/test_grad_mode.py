"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode,
is_grad_enabled — as context managers, as decorators, and thread-local."""
from __future__ import annotations

import threading

import pytest

import adcompiler as torch


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    yield
    assert torch.is_grad_enabled(), "a test left grad mode off"


def _leaf():
    return torch.tensor([1., 2.], requires_grad=True)


def test_no_grad_block():
    x = _leaf()
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        y = x * 2
    assert torch.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert y.tolist() == [2., 4.]
    assert x.requires_grad  # the input keeps its flag


def test_enable_grad_inside_no_grad_and_nesting():
    x = _leaf()
    with torch.no_grad():
        with torch.enable_grad():
            y = x * 2
            assert torch.is_grad_enabled()
        assert not torch.is_grad_enabled()
        with torch.no_grad():
            pass
        assert not torch.is_grad_enabled()
    assert y.requires_grad and y.grad_fn.name() == "MulBackward0"


def test_no_grad_restores_on_exception():
    with pytest.raises(ValueError):
        with torch.no_grad():
            raise ValueError("boom")
    assert torch.is_grad_enabled()


def test_set_grad_enabled_as_call_and_context():
    x = _leaf()
    torch.set_grad_enabled(False)
    try:
        assert not torch.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        torch.set_grad_enabled(True)
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()
    with torch.no_grad():
        with torch.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not torch.is_grad_enabled()
    is_train = False
    with torch.set_grad_enabled(is_train):
        assert not torch.is_grad_enabled()


def test_decorators():
    @torch.no_grad()
    def infer(a):
        assert not torch.is_grad_enabled()
        return a * 2

    @torch.enable_grad()
    def train(a):
        return a * 2

    @torch.set_grad_enabled(False)
    def off(a):
        return a * 2

    @torch.inference_mode()
    def inf(a):
        return a * 2

    x = _leaf()
    assert not infer(x).requires_grad and infer(x).tolist() == [2., 4.]
    assert torch.is_grad_enabled()  # decorating does not switch the mode
    with torch.no_grad():
        assert train(x).requires_grad
    assert not off(x).requires_grad and not inf(x).requires_grad
    assert infer.__name__ == "infer"  # functools.wraps
    assert torch.is_grad_enabled()


def test_inference_mode():
    x = _leaf()
    with torch.inference_mode():
        assert not torch.is_grad_enabled() and torch.is_inference_mode_enabled()
        y = x * 2
    assert not y.requires_grad
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    with torch.inference_mode(False):
        assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_grad_mode_is_thread_local():
    """A no_grad in one thread does not affect another."""
    x = _leaf()
    results = {}
    inside = threading.Event()
    release = threading.Event()

    def holds_no_grad():
        with torch.no_grad():
            results["worker_enabled"] = torch.is_grad_enabled()
            results["worker_y"] = (x * 2).requires_grad
            inside.set()
            release.wait(5)

    t = threading.Thread(target=holds_no_grad)
    t.start()
    assert inside.wait(5)
    # the worker sits inside no_grad right now; this thread still records
    results["main_enabled"] = torch.is_grad_enabled()
    results["main_y"] = (x * 2).requires_grad
    release.set()
    t.join()
    assert results == {"worker_enabled": False, "worker_y": False, "main_enabled": True, "main_y": True}


def test_new_thread_starts_with_grad_enabled():
    seen = {}

    def worker():
        seen["enabled"] = torch.is_grad_enabled()
        seen["y"] = (torch.tensor([1.], requires_grad=True) * 2).requires_grad

    with torch.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == {"enabled": True, "y": True}


def test_backward_under_no_grad_still_computes():
    x = _leaf()
    y = (x ** 2).sum()
    with torch.no_grad():
        y.backward()
    assert x.grad.tolist() == [2., 4.]


def test_grad_mode_off_inside_backward_unless_create_graph():
    x = _leaf()
    y = (x ** 3).sum()
    y.backward()
    assert not x.grad.requires_grad
    x.grad = None
    y = (x ** 3).sum()
    y.backward(create_graph=True)
    assert x.grad.requires_grad
