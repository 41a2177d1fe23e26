"""The native tier: IR compiled to machine code through llvmlite (see docs/native.md).

    compile(fn, fallback)  -> NativeFunction (callable like the NumPy tier's function),
                              or raises NotLowerable(reason, loc)
    llvm_ir(fn, opt=0)     -> the LLVM IR text, before (opt=0) or after optimisation
    assembly(fn)           -> the machine code as assembly text

Only the scalar subset lowers today (lower.py); `fallback` is the NumPy tier's
function for the same IR, which a call re-runs on when the native code reports
that Python would have raised. llvmlite is imported only when something must be
lowered or compiled: a kernel found as a cached shared library (shared.py) is
opened with ctypes alone.
"""
from __future__ import annotations

import ctypes
import struct

import numpy as np

from ...diskcache import package_fingerprint
from . import cache, shared
from .abi import NotLowerable, Slot

__all__ = ["compile", "llvm_ir", "assembly", "NotLowerable", "NativeFunction", "LOWERING_VERSION"]

LOWERING_VERSION = 2     # 2: position-independent code (it may be linked into a shared library)
_KERNEL = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)


class NativeFunction:
    """Machine code for one IR function: call it with the IR function's arguments."""

    def __init__(self, fn, module_text, keep, address, in_slots, out_slots, is_tuple, fallback, fastmath=False):
        self.name = fn.name
        self.fastmath = fastmath
        self._ir_fn = fn
        self._llvm_ir = module_text    # None when the code came from the cache
        self._keep = keep              # the MCJIT engine or library holding the machine code
        self._kernel = _KERNEL(address)
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
            from .lower import lower
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
    from . import jit
    return jit.fast_math(str(module)) if fastmath else str(module)


def llvm_ir(fn, opt=0, fastmath=False):
    """The LLVM IR of `fn`'s kernel, before optimisation (opt=0) or after the pipeline at `opt`."""
    from . import jit
    from .lower import lower
    module, *_ = lower(fn)
    if opt <= 0:
        return _module_text(module, fastmath)
    mod = jit.parse(_module_text(module, fastmath))
    jit.optimize(mod, opt)
    return str(mod)


def assembly(fn, opt=3, fastmath=False):
    from . import jit
    from .lower import lower
    module, *_ = lower(fn)
    mod = jit.parse(_module_text(module, fastmath))
    jit.optimize(mod, opt)
    return jit.assembly(mod)


def compile(fn, fallback, opt=3, fastmath=False):
    """A NativeFunction for IR function `fn` (NotLowerable if it has something without a lowering).
    Machine code comes from the disk caches when an entry for the same IR and host exists: a shared
    library (no LLVM at all), else object code (no optimiser). `fastmath` allows reassociation and
    fused multiply-adds (see jit.fast_math)."""
    from ...compiler.printer import print_function
    ir_text = print_function(fn)
    options = (LOWERING_VERSION, package_fingerprint(), opt, *(("fastmath",) if fastmath else ()))
    lib_key = shared.key_for(ir_text, *options)
    hit = shared.load(lib_key)
    if hit is not None:
        meta, handle, address = hit
        return NativeFunction(fn, None, handle, address, *_slots(meta), meta["tuple"], fallback, fastmath)
    import llvmlite
    from . import jit
    key = cache.key_for(ir_text, *options, llvmlite.__version__, *jit.host_key())
    text = None
    hit = cache.load(key)
    if hit is not None:
        meta, obj = hit
    else:
        from .lower import lower
        module, in_slots, out_slots, is_tuple = lower(fn)
        text = _module_text(module, fastmath)
        mod = jit.parse(text)
        jit.optimize(mod, opt)
        obj = jit.target_machine().emit_object(mod)
        meta = {"in": [[s.code, s.kind] for s in in_slots], "out": [[s.code, s.kind] for s in out_slots],
                "tuple": is_tuple}
        cache.store(key, meta, obj)
    shared.store_soon(lib_key, meta, obj)
    engine = jit.engine_from_object(obj)
    return NativeFunction(fn, text, engine, engine.get_function_address("kernel"), *_slots(meta), meta["tuple"],
                          fallback, fastmath)


def _slots(meta):
    return [[Slot(*s) for s in meta[k]] for k in ("in", "out")]
