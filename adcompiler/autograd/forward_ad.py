"""Eager forward-mode AD with dual tensors, as torch.autograd.forward_ad.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        y_primal, y_tangent = forward_ad.unpack_dual(y)

Inside a dual level every primitive applied to a dual tensor computes its result as
usual (the eager engine: autograd records it when gradients are needed) and its
tangent with the table's JVP rules (`ops.jvp`) run on Tensors -- no derivative
formula lives here. A dual tensor is a `Tensor` of the subclass `DualTensor` that
carries its tangent and the level it belongs to; when the level ends, tangents are
gone (`unpack_dual` gives None), as in torch. One level at a time (torch: "Nested
forward mode AD is not supported").

How tangents reach every op without touching the engine: Tensor methods call
`tensor.apply_prim` directly (not `bind`), so while a level is active the
`apply_prim` of adcompiler's modules and `Tensor._inplace` are replaced by wrappers
that add the tangent (and are put back when the level ends; nothing is replaced
outside a level).

Differences from torch: an in-place op on a dual tensor gives it a new tangent
rather than writing into the tangent tensor it was given; an in-place op on a view
of a dual tensor does not update the base's tangent.
"""
from __future__ import annotations

import collections
import itertools
import sys

import numpy as np

from .. import ops
from ..tensor import Tensor
from ..tensor import apply_prim as _apply_prim      # the engine's, with no tangents

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual", "UnpackedDualTensor",
           "DualTensor"]

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])

_inplace = Tensor._inplace
_generations = itertools.count(1)
_current = None         # the active level's generation (a fresh number per level), or None
_busy = False           # computing a tangent: the ops of the JVP rules carry no tangents themselves
_patched = []           # (module, name, original) replaced while a level is active


class DualTensor(Tensor):
    """A Tensor with a tangent at a dual level (in its __dict__: `_fw_gen`, `_fw_tangent`).
    No slots of its own, so a Tensor made by the engine becomes one by a class change."""

    __slots__ = ()

    def __repr__(self):
        base = super().__repr__()
        t = _tangent_of(self)
        if t is None or not base.endswith(")"):
            return base
        return f"{base[:-1]}, tangent={t!r})"

    __str__ = __repr__


def _tangent_of(a, gen=None):
    """The tangent of `a` at the active level (None for a non-dual value, or one of a level that ended)."""
    if not isinstance(a, DualTensor):
        return None
    d = a.__dict__
    if d.get("_fw_gen") != (_current if gen is None else gen) or _current is None:
        return None
    return d.get("_fw_tangent")


def _set_tangent(t, tangent, gen):
    if t.__class__ is Tensor:
        t.__class__ = DualTensor
    elif not isinstance(t, DualTensor):
        return t        # another subclass (a traced array): no tangent
    t.__dict__["_fw_gen"] = gen
    t.__dict__["_fw_tangent"] = tangent
    return t


def _as_tensor(v):
    return v if isinstance(v, Tensor) else Tensor._make(np.asarray(v))


def _jvp(prim, tangents, args, params, out):
    global _busy
    _busy = True
    try:
        t = ops.jvp(prim, tangents, args, params, out)
    finally:
        _busy = False
    return None if t is None else _as_tensor(t)


def _dual_apply_prim(prim, args, params, name=None):
    """apply_prim, and the tangent of the result when an argument is dual at the active level."""
    gen = _current
    if _busy or gen is None or not prim.differentiable:
        return _apply_prim(prim, args, params, name)
    tangents = None
    for i, a in enumerate(args):
        if isinstance(a, DualTensor):
            t = _tangent_of(a, gen)
            if t is not None:
                if tangents is None:
                    tangents = [None] * len(args)
                tangents[i] = t
    out = _apply_prim(prim, args, params, name)
    if tangents is None:
        return out
    t = _jvp(prim, tangents, args, params, out)
    return out if t is None else _set_tangent(out, t, gen)


def _dual_inplace(self, prim, others, params, name=None):
    """Tensor._inplace, and the tangent of the new value (computed at the old one)."""
    global _busy
    gen = _current
    if _busy or gen is None:
        return _inplace(self, prim, others, params, name)
    tangents = [_tangent_of(self, gen)] + [_tangent_of(o, gen) for o in others]
    if all(t is None for t in tangents):
        return _inplace(self, prim, others, params, name)
    old = Tensor._make(self._data.copy())
    t = _jvp(prim, tangents, (old,) + tuple(others), params, None) if prim.differentiable else None
    _busy = True
    try:
        _inplace(self, prim, others, params, name)
    finally:
        _busy = False
    if t is None:
        if isinstance(self, DualTensor):
            self.__dict__.pop("_fw_tangent", None)
            self.__dict__.pop("_fw_gen", None)
        return self
    if t.dtype != self.dtype:
        t = _apply_prim(ops.astype, (t,), {"dtype": self._data.dtype})
    return _set_tangent(self, t, gen)


def _install():
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("adcompiler") and getattr(mod, "apply_prim", None) is _apply_prim:
            _patched.append((mod, "apply_prim", _apply_prim))
            mod.apply_prim = _dual_apply_prim
    _patched.append((Tensor, "_inplace", _inplace))
    Tensor._inplace = _dual_inplace


def _uninstall():
    while _patched:
        owner, name, original = _patched.pop()
        setattr(owner, name, original)


# ---- torch.autograd.forward_ad's functions ------------------------------------------------

def enter_dual_level():
    """Start a dual level (its index, 0: one level at a time)."""
    global _current
    if _current is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _install()
    _current = next(_generations)
    return 0


def exit_dual_level(*, level=None):
    """End the dual level: every tangent made in it is gone."""
    global _current
    if _current is None:
        raise RuntimeError("Dual level must be a positive number.")
    if level is not None and level != 0:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    _current = None
    _uninstall()


class dual_level:
    """Context manager for a dual level: `with dual_level(): ...` (enter gives the level, 0)."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False


def _check_level(level, what):
    if level is not None and (level != 0 or _current is None):
        raise RuntimeError(f"Invalid level given to {what}")


def make_dual(tensor, tangent, *, level=None):
    """A view of `tensor` carrying `tangent` (same shape, floating point) at the active level."""
    if _current is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    _check_level(level, "_make_dual")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"make_dual(): argument 'tensor' must be Tensor, not {type(tensor).__name__}")
    if not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual(): argument 'tangent' must be Tensor, not {type(tangent).__name__}")
    if tensor._data.dtype.kind not in "fc":
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if tangent._data.dtype.kind not in "fc":
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if _tangent_of(tensor) is not None:
        raise RuntimeError("Making a dual Tensor based on a Tensor that already has a forward gradient at the same "
                           "level 0 is not supported.")
    view = _apply_prim(ops.getitem, (tensor,), {"idx": Ellipsis}, "ViewBackward0")
    if tangent._data.dtype != tensor._data.dtype:
        tangent = _apply_prim(ops.astype, (tangent,), {"dtype": tensor._data.dtype})
    return _set_tangent(view, tangent, _current)


def unpack_dual(tensor, *, level=None):
    """(primal, tangent): a view of `tensor` without its tangent, and the tangent at the active
    level (None when `tensor` is not dual there, or the level ended)."""
    _check_level(level, "_fw_primal")
    t = _tangent_of(tensor)
    if t is None:
        return UnpackedDualTensor(tensor, None)
    primal = _apply_prim(ops.getitem, (tensor,), {"idx": Ellipsis}, "AliasBackward0")
    return UnpackedDualTensor(primal, t)
