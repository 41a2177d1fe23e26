"""The one flag the tape tests per recorded op for anything beyond the node itself.

`STATE.active` is false unless anomaly mode is on or a `saved_tensors_hooks`
block is open in some thread, so the usual tape pays a single attribute test;
when it is true, the recorder calls `hooks.on_record` (forward stack for
anomaly mode, saved tensors through the pack hook).
"""
from __future__ import annotations

import threading

__all__ = ["STATE"]


class _State:
    def __init__(self):
        self.active = False
        self.anomaly = False
        self.open_hooks = 0  # saved_tensors_hooks blocks open, all threads together
        self._lock = threading.Lock()

    def update(self, anomaly=None, hooks_delta=0):
        with self._lock:
            if anomaly is not None:
                self.anomaly = anomaly
            self.open_hooks += hooks_delta
            self.active = self.anomaly or self.open_hooks > 0


STATE = _State()
