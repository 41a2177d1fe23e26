"""Anomaly detection, as torch.autograd.detect_anomaly / set_detect_anomaly.

While it is on, every recorded node keeps the forward stack that created it,
and backward checks each node's results for NaN: the first one that produces
a NaN raises RuntimeError("Function 'SqrtBackward0' returned nan values in its
0th output."), after a warning that shows the forward traceback (the user's
file:line). The flag is global, as in torch. Off (the default), nothing is
recorded and the engine tests one local per node.
"""
from __future__ import annotations

import functools
import os
import sys
import traceback
import warnings

from . import recording

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class _Anomaly:
    enabled = False
    check_nan = True


ANOMALY = _Anomaly()


def is_anomaly_enabled():
    return ANOMALY.enabled


def is_anomaly_check_nan_enabled():
    return ANOMALY.check_nan


def _set(enabled, check_nan):
    ANOMALY.enabled = bool(enabled)
    ANOMALY.check_nan = bool(check_nan)
    recording.STATE.update(anomaly=ANOMALY.enabled)


def forward_stack():
    """The caller's stack without the frames inside adcompiler at its top (source lines are read only
    if the stack is shown)."""
    frames = traceback.StackSummary.extract(traceback.walk_stack(sys._getframe(1)), lookup_lines=False)
    frames.reverse()
    end = len(frames)
    while end > 1 and frames[end - 1].filename.startswith(PACKAGE_DIR):
        end -= 1
    return frames[:end]


class _Mode:
    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    def __exit__(self, *exc):
        _set(*self.prev)
        return False


class detect_anomaly(_Mode):
    """Context manager (and decorator) that turns anomaly detection on inside its block."""

    def __init__(self, check_nan=True):
        self._args = (check_nan,)
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only "
                      "be enabled for debugging.", UserWarning, stacklevel=2)

    def __enter__(self):
        self.prev = (ANOMALY.enabled, ANOMALY.check_nan)
        _set(True, self.check_nan)
        return self


class set_detect_anomaly(_Mode):
    """`set_detect_anomaly(True)` turns anomaly detection on at once (it is a call); as a context
    manager it restores the previous mode on exit."""

    def __init__(self, mode, check_nan=True):
        self._args = (mode, check_nan)
        self.prev = (ANOMALY.enabled, ANOMALY.check_nan)
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __call__(self, fn):
        _set(*self.prev)  # used as a decorator: the call in __init__ must not stick
        return super().__call__(fn)
