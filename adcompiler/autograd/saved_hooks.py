"""Saved-tensor hooks, as torch.autograd.graph: saved_tensors_hooks(pack, unpack),
save_on_cpu, disable_saved_tensors_hooks.

Inside a `saved_tensors_hooks(pack, unpack)` block, each tensor a recorded
node saves for backward (the table's `saves`/`saves_out`, or a custom
Function's `save_for_backward`) goes through `pack` when it is recorded, and
the node keeps only what `pack` returned; backward calls `unpack` on it when
the node runs (a custom Function: at each `ctx.saved_tensors`). The hooks are
thread-local and the innermost block wins.

An in-place change of a saved tensor after it was packed is still caught when
`unpack` returns the same storage (torch does not check there); a copy made by
`pack` is used as it is.
"""
from __future__ import annotations

import threading

from . import recording

__all__ = ["saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks", "current_hooks", "SavedSlot"]


class _Local(threading.local):
    def __init__(self):
        self.stack = []
        self.disabled = None  # the error message while hooks are disabled


_local = _Local()


def current_hooks():
    """The innermost (pack, unpack) pair of this thread, or None."""
    stack = _local.stack
    return stack[-1] if stack else None


class saved_tensors_hooks:
    """Context manager: tensors saved for backward inside it go through `pack_hook(tensor) -> anything`,
    and `unpack_hook(packed) -> Tensor` gives them back in backward."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _local.disabled is not None:
            raise RuntimeError(_local.disabled)
        _local.stack.append((self.pack_hook, self.unpack_hook))
        recording.STATE.update(hooks_delta=1)
        return self

    def __exit__(self, *exc):
        _local.stack.pop()
        recording.STATE.update(hooks_delta=-1)
        return False


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are kept in CPU memory: on this CPU-only engine they are kept as they are."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        super().__init__(lambda t: (t.device, t.cpu()), lambda packed: packed[1])


class disable_saved_tensors_hooks:
    """Inside it, opening a `saved_tensors_hooks` block raises RuntimeError(error_message)."""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        self.prev = _local.disabled
        _local.disabled = self.error_message
        return self

    def __exit__(self, *exc):
        _local.disabled = self.prev
        return False


class SavedSlot:
    """One packed saved tensor: what `pack` returned, and enough of the tensor's autograd identity to
    give the unpacked value its history back (as torch's SavedVariable does)."""

    __slots__ = ("index", "packed", "unpack_hook", "vc", "version", "grad_fn", "output_nr", "requires_grad", "acc")

    def __init__(self, index, t, pair, history=True):
        pack, self.unpack_hook = pair
        self.index = index
        self.vc = t._counter()
        self.version = self.vc[0]
        if history:
            self.grad_fn, self.output_nr, self.requires_grad, self.acc = (t._grad_fn, t._output_nr,
                                                                         t._requires_grad, t._acc)
        else:  # a node's own output: its history is the node itself (no reference cycle through here)
            self.grad_fn, self.output_nr, self.requires_grad, self.acc = None, 0, False, None
        self.packed = pack(t)

    def unpack(self, owner=None):
        """The unpacked tensor, with the saved tensor's history (`owner`, the node, for its own output);
        raises if its storage was changed in place since it was saved."""
        from ..tensor import Tensor
        from .graph import _modified_msg
        t = self.unpack_hook(self.packed)
        if not isinstance(t, Tensor):
            raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                            f"{type(t).__name__}")
        r = Tensor._make(t._data, self.grad_fn if self.index is not None else owner)
        r._output_nr, r._requires_grad, r._acc, r._vc = self.output_nr, self.requires_grad, self.acc, t._vc
        if t._vc is self.vc and self.vc[0] != self.version:
            raise RuntimeError(_modified_msg(r, self.vc[0], self.version))
        return r
