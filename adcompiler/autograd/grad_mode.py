"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode.

The flag is thread-local, as in PyTorch: a `no_grad` block in one thread does
not switch off recording in another. Each is a context manager and a decorator.
"""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


class _State(threading.local):
    enabled = True
    inference = False


_state = _State()


def is_grad_enabled():
    return _state.enabled


def is_inference_mode_enabled():
    return _state.inference


class _Mode:
    """Base of the grad-mode context managers; also usable as decorators."""

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self):
        return ()

    def __enter__(self):
        self._prev = (_state.enabled, _state.inference)
        self._set()
        return self

    def __exit__(self, *exc):
        _state.enabled, _state.inference = self._prev
        return False


class no_grad(_Mode):
    """Operations inside do not record a graph; results do not require grad."""

    def _set(self):
        _state.enabled = False


class enable_grad(_Mode):
    """Switch recording back on inside a no_grad block."""

    def _set(self):
        _state.enabled = True


class inference_mode(_Mode):
    """Like no_grad (and what torch.inference_mode means for a NumPy engine)."""

    def __init__(self, mode=True):
        self.mode = mode

    def _args(self):
        return (self.mode,)

    def _set(self):
        if self.mode:
            _state.enabled = False
            _state.inference = True


class set_grad_enabled(_Mode):
    """set_grad_enabled(False) switches recording off at once (it is a call), and
    as a context manager restores the previous mode on exit."""

    def __init__(self, mode):
        self._prev = (_state.enabled, _state.inference)
        self.mode = bool(mode)
        _state.enabled = self.mode

    def _args(self):
        return (self.mode,)

    def _set(self):
        _state.enabled = self.mode

    def __enter__(self):
        return self  # the mode was already set by the call; _prev holds the old one

    def __call__(self, fn):
        # used as a decorator: the call in __init__ must not stick
        _state.enabled, _state.inference = self._prev
        return super().__call__(fn)
