"""The native tier: IR compiled to machine code through llvmlite (see docs/native.md).

    compile(fn, fallback)  -> NativeFunction (callable like the NumPy tier's function),
                              or raises NotLowerable(reason, loc)
    llvm_ir(fn, opt=0)     -> the LLVM IR text, before (opt=0) or after optimisation
    assembly(fn)           -> the machine code as assembly text

Scalar code and straight-line array code lower (lower.py, arrays.py); `fallback` is the NumPy tier's
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

LOWERING_VERSION = 3     # 2: position-independent code (it may be linked into a shared library); 3: arrays
_KERNEL = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)


class NativeFunction:
    """Machine code for one IR function: call it with the IR function's arguments."""

    def __init__(self, fn, module_text, keep, address, in_slots, out_slots, is_tuple, fallback, fastmath=False,
                 opt=3, strided=False):
        self.name = fn.name
        self.fastmath = fastmath
        self._ir_fn = fn
        self._opt, self._strided = opt, strided
        self._llvm_ir = module_text    # None when the code came from the cache
        self._keep = keep              # the MCJIT engine or library holding the machine code
        self._kernel = _KERNEL(address)
        self._in = struct.Struct("<" + "".join(s.code for s in in_slots))
        self._out = struct.Struct("<" + "".join(s.code for s in out_slots))
        self._convert = [_converter(s.kind) for s in out_slots]
        self._arr_index = [int(s.kind[4:]) if s.kind.startswith("arr:") else None for s in out_slots]
        self._is_tuple = is_tuple
        self._n_out = len(out_slots)
        self.fallback = fallback
        self.calls = self.fallbacks = 0
        self.last_ok = True            # whether the last call ran natively (not re-run on the fallback)
        # per parameter: ("scalar",), ("bool",), or ("array", dtype, shape, number of stride slots after
        # the pointer: 0 for the C-contiguous kernel); results arrays are allocated here and filled
        self._params, k = [], 0
        while k < len(in_slots) and not in_slots[k].kind.startswith("out:"):
            kind = in_slots[k].kind
            if kind.startswith(("in:", "ins:")):
                dtype, shape = _array_kind(kind)
                n = len(shape) if kind.startswith("ins:") else 0
                self._params.append(("array", dtype, shape, n))
                k += 1 + n
            else:
                self._params.append(("bool",) if kind == "bool" else ("scalar",))
                k += 1
        self._has_arrays = any(p[0] == "array" for p in self._params)
        self._out_arrays = [_array_kind(s.kind) for s in in_slots if s.kind.startswith("out:")]
        # a NumPy bool (np.True_, a 0-d bool array) has no __index__: struct cannot pack it as it is
        self._bools = [k for k, p in enumerate(self._params) if p[0] == "bool"]
        self._variant = None           # the kernel taking strided arrays, compiled on the first strided call

    def __call__(self, *args):
        keep = outs = None
        if self._bools and len(args) == len(self._params):
            args = list(args)
            for k in self._bools:
                if not isinstance(args[k], bool):
                    try:
                        args[k] = bool(args[k])
                    except (TypeError, ValueError):
                        pass      # not a truth value: packing fails below and the NumPy tier answers
        if self._has_arrays or self._out_arrays:
            flat, held, outs = self._marshal(args)
            if flat is _STRIDED:
                return self._call_strided(args)
            if flat is None:
                return self._fallback(args)
            keep, args = args, flat
        try:
            packed = self._in.pack(*args)
        except (struct.error, TypeError, ValueError):
            return self._fallback(args if keep is None else keep)    # e.g. an int beyond int64: Python's semantics
        out = ctypes.create_string_buffer(8 * self._n_out)
        if self._kernel(packed, ctypes.addressof(out)):
            return self._fallback(args if keep is None else keep)
        self.calls += 1
        self.last_ok = True
        vals = [c(v) if c is not None else outs[j] for c, j, v in zip(self._convert, self._arr_index,
                                                                       self._out.unpack(out.raw))]
        return tuple(vals) if self._is_tuple else vals[0]

    def _marshal(self, args):
        """(the arguments with data pointers (and, for the strided kernel, strides in elements) for
        arrays, what must stay alive through the call, the output arrays). The C-contiguous kernel
        asks for the strided one (_STRIDED) when an argument is a view; an array of another dtype (or
        with strides that are not whole elements) is copied first; one of another shape (never, for a
        specialisation) runs the fallback."""
        if len(args) != len(self._params):
            return None, None, None
        flat, held = [], []
        for spec, a in zip(self._params, args):
            if spec[0] != "array":
                flat.append(a)
                continue
            _, dtype, shape, n = spec
            if not (type(a) is np.ndarray and a.dtype == dtype):
                a = np.ascontiguousarray(a, dtype=dtype)
            if a.shape != shape:
                return None, None, None
            if n:
                if any(st % a.itemsize for st in a.strides):
                    a = np.ascontiguousarray(a)
                flat.append(a.ctypes.data)
                flat.extend(st // a.itemsize for st in a.strides)
            else:
                if not a.flags.c_contiguous:
                    if self._variant is not False:
                        return _STRIDED, None, None
                    a = np.ascontiguousarray(a)
                flat.append(a.ctypes.data)
            held.append(a)
        outs = [np.empty(shape, dtype) for dtype, shape in self._out_arrays]
        flat += [o.ctypes.data for o in outs]
        return flat, (args, held), outs     # `held` keeps the copies made here alive through the call

    def _call_strided(self, args):
        """A call with a strided view among the arguments: on the kernel that reads the strides
        (compiled once, on the first such call), so the view is not copied."""
        if self._variant is None:
            try:
                self._variant = compile(self._ir_fn, self.fallback, self._opt, self.fastmath, strided=True)
            except Exception:        # (NotLowerable cannot happen: the same IR lowered) copy the views instead
                self._variant = False
        if self._variant is False:
            return self(*args)
        out = self._variant(*args)
        self.last_ok = self._variant.last_ok
        return out

    @property
    def llvm_ir(self):
        """The kernel's LLVM IR (before optimisation)."""
        if self._llvm_ir is None:
            from .lower import lower
            self._llvm_ir = _module_text(lower(self._ir_fn, self._strided)[0], self.fastmath)
        return self._llvm_ir

    def _fallback(self, args):
        self.fallbacks += 1
        self.last_ok = False
        return self.fallback(*args)


_STRIDED = object()      # _marshal: this call needs the strided kernel

# a result slot's kind -> the Python or NumPy type it comes back as ("arr:k": the k-th output array)
_CONVERT = {"float": float, "int": int, "bool": bool,
            **{k: np.dtype(k).type for k in ("float64", "float32", "int64", "bool")}}


def _array_kind(kind):
    """(dtype, shape) of an array slot's kind "in:float64:3,4" / "ins:..." / "out:float64:3,4"."""
    _, dtype, shape = kind.split(":")
    return np.dtype(dtype), tuple(int(d) for d in shape.split(",") if d)


def _converter(kind):
    return None if kind.startswith("arr:") else _CONVERT[kind]


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


def compile(fn, fallback, opt=3, fastmath=False, strided=False):
    """A NativeFunction for IR function `fn` (NotLowerable if it has something without a lowering).
    Machine code comes from the disk caches when an entry for the same IR and host exists: a shared
    library (no LLVM at all), else object code (no optimiser). `fastmath` allows reassociation and
    fused multiply-adds (see jit.fast_math)."""
    from ...compiler.printer import print_function
    ir_text = print_function(fn)
    options = (LOWERING_VERSION, package_fingerprint(), opt, *(("fastmath",) if fastmath else ()),
               *(("strided",) if strided else ()))
    lib_key = shared.key_for(ir_text, *options)
    hit = shared.load(lib_key)
    if hit is not None:
        meta, handle, address = hit
        return NativeFunction(fn, None, handle, address, *_slots(meta), meta["tuple"], fallback, fastmath, opt, strided)
    import llvmlite
    from . import jit
    key = cache.key_for(ir_text, *options, llvmlite.__version__, *jit.host_key())
    text = None
    hit = cache.load(key)
    if hit is not None:
        meta, obj = hit
    else:
        from .lower import lower
        module, in_slots, out_slots, is_tuple = lower(fn, strided)
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
                          fallback, fastmath, opt, strided)


def _slots(meta):
    return [[Slot(*s) for s in meta[k]] for k in ("in", "out")]
