"""Large elementwise kernels split over threads (`ad.jit(f, threads=2)`).

A function whose every op is elementwise over arrays of one shape S (scalars broadcast) computes
row r of its results from row r of its arguments alone. `threaded(native, fn, threads)` gives a
callable that, for C-contiguous arguments of at least MIN_ELEMENTS elements, allocates the whole
results and runs the kernel compiled for a block of rows on each block at once, one thread each (a
native call releases the GIL): every element is computed by the same code as in one call, so the
results are bitwise equal. Anything else — a view, another dtype, a small array, a kernel that
reports an error Python would raise — goes to the one-thread NativeFunction.

benchmarks/native_threads.py measured a 4M-element kernel on this 2-core machine at 1.58x with
two threads when the machine was idle, and 0.97x while another process was busy: opt-in only.
"""
from __future__ import annotations

import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...compiler.ir import clone, walk
from ...compiler.types import ArrayType

__all__ = ["MIN_ELEMENTS", "separable_shape", "threaded"]

MIN_ELEMENTS = 1 << 18        # below this a call's own cost outweighs a second thread
_pool_lock = threading.Lock()
_pools = {}


def separable_shape(fn):
    """The shape S when IR function `fn` computes row r of its results from row r of its arguments:
    straight-line elementwise primitives (with a scalar definition) and scalar constants, every
    array of shape S (rank ≥ 1), every result a new array the kernel writes. None otherwise."""
    shape = None
    made = set()
    for op in fn.body.ops:
        if op.regions:
            return None
        if op.name == "const":
            if not op.result.type.is_scalar:
                return None
        elif op.name in ("return", "tuple"):
            pass
        elif not (op.is_prim and op.prim.kind == "elementwise" and op.prim.scalar is not None):
            return None
        for v in list(op.operands) + list(op.results):
            t = v.type
            if op.name in ("return", "tuple") and t.is_tuple:
                continue
            if t.is_array:
                if shape is None:
                    shape = t.shape
                if t.shape != shape or not shape:
                    return None
            elif not t.is_scalar:
                return None
        if op.is_prim:
            made.update(id(r) for r in op.results)
    ret = fn.body.ops[-1].operands[0]
    tup = next((op for op in fn.body.ops if op.name == "tuple" and op.result is ret), None)
    outs = tup.operands if tup is not None else [ret]
    if shape is None or not all(v.type.is_array and id(v) in made for v in outs) or \
            not all(p.type.is_scalar or (p.type.is_array and p.type.shape == shape) for p in fn.params):
        return None
    return shape


def _retyped(fn, rows):
    """A copy of separable `fn` for a block of `rows` rows."""
    out = clone(fn)
    values = list(out.params) + [r for op in walk(out.body) for r in op.results]
    for v in values:
        if v.type.is_array:
            v.type = ArrayType(v.type.dtype, (rows,) + tuple(v.type.shape[1:]))
    return out


def threaded(native, fn, threads, compile_kernel):
    """`native` (a NativeFunction for separable IR function `fn`) calling its kernel on `threads`
    blocks of rows at once for large arguments; `compile_kernel(ir_fn)` compiles a block's kernel."""
    return _Threaded(native, fn, threads, separable_shape(fn), compile_kernel)


class _Threaded:
    def __init__(self, native, fn, threads, shape, compile_kernel):
        self.native, self.fn, self.threads, self.shape = native, fn, threads, shape
        self.fallback = native.fallback
        self._compile = compile_kernel
        self._blocks = None         # [(first row, NativeFunction for its length)]
        self.split_calls = 0
        self.last_ok = True

    @property
    def llvm_ir(self):
        return self.native.llvm_ir

    def _one(self, args):
        out = self.native(*args)
        self.last_ok = self.native.last_ok
        return out

    def _plan(self):
        n = self.shape[0]
        lengths = [n // self.threads + (k < n % self.threads) for k in range(self.threads)]
        kernels, blocks, start = {}, [], 0
        for length in lengths:
            if length not in kernels:
                kernels[length] = self._compile(_retyped(self.fn, length))
            blocks.append((start, kernels[length]))
            start += length
        return blocks

    def __call__(self, *args):
        params = self.native._params
        if len(args) != len(params) or self.shape[0] < self.threads or \
                int(np.prod(self.shape)) < MIN_ELEMENTS or not all(
                    (spec[0] == "array" and type(a) is np.ndarray and a.dtype == spec[1] and a.shape == self.shape
                     and a.flags.c_contiguous) or (spec[0] == "scalar" and type(a) in (int, float))
                    for spec, a in zip(params, args)):
            return self._one(args)
        if self._blocks is None:
            self._blocks = self._plan()
        outs = [np.empty(shape_, dtype) for dtype, shape_ in self.native._out_arrays]
        codes = [0] * len(self._blocks)

        def run(k):
            start, kernel = self._blocks[k]
            flat = [a.ctypes.data + start * a.strides[0] if isinstance(a, np.ndarray) else a for a in args]
            flat += [o.ctypes.data + start * o.strides[0] for o in outs]
            result = ctypes.create_string_buffer(8 * kernel._n_out)
            codes[k] = kernel._kernel(kernel._in.pack(*flat), ctypes.addressof(result))

        pool = _pool(self.threads - 1)
        pending = [pool.submit(run, k) for k in range(1, len(self._blocks))]
        run(0)
        for p in pending:
            p.result()
        if any(codes):
            return self._one(args)          # the one-thread call reports the error (or re-runs it)
        self.split_calls += 1
        self.last_ok = True
        vals = [outs[j] for j in self.native._arr_index]
        return tuple(vals) if self.native._is_tuple else vals[0]


def _pool(workers):
    with _pool_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="adcompiler-kernel")
        return pool
