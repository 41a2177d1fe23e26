"""The native tier: IR compiled to machine code through llvmlite (see docs/native.md).

    compile(fn, fallback)  -> NativeFunction (callable like the NumPy tier's function),
                              or raises NotLowerable(reason, loc)
    llvm_ir(fn, opt=0)     -> the LLVM IR text, before (opt=0) or after optimisation
    assembly(fn)           -> the machine code as assembly text

Only the scalar subset lowers today (lower.py); `fallback` is the NumPy tier's
function for the same IR, which a call re-runs on when the native code reports
that Python would have raised.
"""
from __future__ import annotations

import ctypes
import struct

import numpy as np

from . import cache, jit
from .lower import NotLowerable, Slot, lower

__all__ = ["compile", "llvm_ir", "assembly", "NotLowerable", "NativeFunction", "LOWERING_VERSION"]

LOWERING_VERSION = 1
_KERNEL = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)


class NativeFunction:
    """Machine code for one IR function: call it with the IR function's arguments."""

    def __init__(self, fn, module_text, engine, in_slots, out_slots, is_tuple, fallback, fastmath=False):
        self.name = fn.name
        self.fastmath = fastmath
        self._ir_fn = fn
        self._llvm_ir = module_text    # None when the code came from the cache
        self._engine = engine          # keeps the machine code alive
        self._kernel = _KERNEL(engine.get_function_address("kernel"))
        self._in = struct.Struct("<" + "".join(s.code for s in in_slots))
        self._out = struct.Struct("<" + "".join(s.code for s in out_slots))
        self._convert = [_CONVERT[s.kind] for s in out_slots]
        self._is_tuple = is_tuple
        self._n_out = len(out_slots)
        self.fallback = fallback
        self.calls = self.fallbacks = 0
        self.last_ok = True            # whether the last call ran natively (not re-run on the fallback)

    def __call__(self, *args):
        try:
            packed = self._in.pack(*args)
        except (struct.error, TypeError, ValueError):
            return self._fallback(args)    # e.g. an int beyond int64: Python's semantics
        out = ctypes.create_string_buffer(8 * self._n_out)
        if self._kernel(packed, ctypes.addressof(out)):
            return self._fallback(args)
        self.calls += 1
        self.last_ok = True
        vals = [c(v) for c, v in zip(self._convert, self._out.unpack(out.raw))]
        return tuple(vals) if self._is_tuple else vals[0]

    @property
    def llvm_ir(self):
        """The kernel's LLVM IR (before optimisation)."""
        if self._llvm_ir is None:
            self._llvm_ir = _module_text(lower(self._ir_fn)[0], self.fastmath)
        return self._llvm_ir

    def _fallback(self, args):
        self.fallbacks += 1
        self.last_ok = False
        return self.fallback(*args)


# a result slot's kind -> the Python or NumPy type it comes back as
_CONVERT = {"float": float, "int": int, "bool": bool,
            **{k: np.dtype(k).type for k in ("float64", "float32", "int64", "bool")}}


def _module_text(module, fastmath):
    return jit.fast_math(str(module)) if fastmath else str(module)


def llvm_ir(fn, opt=0, fastmath=False):
    """The LLVM IR of `fn`'s kernel, before optimisation (opt=0) or after the pipeline at `opt`."""
    module, *_ = lower(fn)
    if opt <= 0:
        return _module_text(module, fastmath)
    mod = jit.parse(_module_text(module, fastmath))
    jit.optimize(mod, opt)
    return str(mod)


def assembly(fn, opt=3, fastmath=False):
    module, *_ = lower(fn)
    mod = jit.parse(_module_text(module, fastmath))
    jit.optimize(mod, opt)
    return jit.assembly(mod)


def compile(fn, fallback, opt=3, fastmath=False):
    """A NativeFunction for IR function `fn` (NotLowerable if it has something without a lowering).
    Object code comes from the disk cache when an entry for the same IR and host exists.
    `fastmath` allows reassociation and fused multiply-adds (see jit.fast_math)."""
    from ...compiler.printer import print_function
    import llvmlite
    key = cache.key_for(print_function(fn), LOWERING_VERSION, opt, llvmlite.__version__, *jit.host_key(),
                        *(("fastmath",) if fastmath else ()))
    hit = cache.load(key)
    if hit is not None:
        meta, obj = hit
        slots = [[Slot(*s) for s in meta[k]] for k in ("in", "out")]
        return NativeFunction(fn, None, jit.engine_from_object(obj), *slots, meta["tuple"], fallback, fastmath)
    module, in_slots, out_slots, is_tuple = lower(fn)
    text = _module_text(module, fastmath)
    mod = jit.parse(text)
    jit.optimize(mod, opt)
    obj = jit.target_machine().emit_object(mod)
    cache.store(key, {"in": [[s.code, s.kind] for s in in_slots], "out": [[s.code, s.kind] for s in out_slots],
                      "tuple": is_tuple}, obj)
    return NativeFunction(fn, text, jit.engine_from_object(obj), in_slots, out_slots, is_tuple, fallback, fastmath)
