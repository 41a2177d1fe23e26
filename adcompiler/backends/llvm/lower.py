"""Structured IR -> LLVM IR for the scalar subset (native tier I).

What lowers: functions whose parameters, results and every value are scalars
(Python floats/ints/bools, 0-d float64/float32/int64/bool), with `if`, `for`
(Python range semantics, any step sign), `while`, tuples feeding the result,
and tapes. Primitives lower through their scalar definition in the table
(`prim.scalar(m, *args, **params)`, with `m` the LLVM namespace of math.py);
a primitive without one, or an array value, raises `NotLowerable` naming the
op and the user's line.

The function is `i32 kernel(i8* in, i8* out)`: arguments and results are
8-byte slots (double, or int64 for integers and bools) of two buffers; the
return value is a status, nonzero where Python would have raised (the user's
own `x / 0.0` on Python floats, `math.sqrt(-1.0)`, an int overflow ...): the
caller then re-runs the call on the NumPy tier, which raises Python's error.
After an error the code runs on (with a harmless divisor) to its single exit,
where every tape buffer is freed; while loops stop at once.

Tapes: per tape, a stack pointer, a capacity and one buffer per pushed value,
in stack slots of the entry block; `tape_new` resets the pointer (a tape
re-created in every iteration of an outer loop reuses its allocation) and, for
a `for` loop's tape (its type's capacity: the trip count), reserves that many
entries, so pushes need no check; a `while` loop's tape doubles when full
(realloc); everything is freed at the exit.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ...compiler.ir import use_counts, walk
from ...compiler.types import ArrayType, ScalarType, abstract_arg
from ...compiler.pysemantics import MATH_PRIMS, on_python_scalars
from .abi import NotLowerable, Slot
from .arrays import Arr, ArrayLowering, Gen, is_array, storage_type
from .math import F32, F64, I1, I64, TYPES as _TYPES, LLVMMath, convert

__all__ = ["NotLowerable", "lower", "Slot"]

_I8P = ir.IntType(8).as_pointer()
_I32 = ir.IntType(32)


def lltype(t, loc=None):
    """The LLVM type of an IR scalar type (raise NotLowerable for anything else)."""
    if isinstance(t, (ScalarType, ArrayType)) and t.shape == ():
        ty = _TYPES.get(np.dtype(t.dtype).name)
        if ty is not None:
            return ty
    raise NotLowerable(f"a value of type {t} is not lowered (the native tier compiles scalar code)", loc)


def _slot(t):
    ty = lltype(t)
    if isinstance(t, ScalarType):
        kind = {"float64": "float", "int64": "int", "bool": "bool"}[np.dtype(t.dtype).name]
    else:
        kind = np.dtype(t.dtype).name
    return Slot("d" if ty in (F64, F32) else "q", kind)


class _Tape:
    __slots__ = ("top", "cap", "bufs", "types", "sized", "arrays")

    def __init__(self, top, cap, bufs, types, sized, arrays):
        self.top, self.cap, self.bufs, self.types = top, cap, bufs, types
        self.sized = sized     # the capacity is reserved when the tape is made (a for loop's trip count)
        self.arrays = arrays   # per pushed value: None for a scalar, the IR type of an array (an entry is a copy)


class _Lowering:
    def __init__(self, fn, name="kernel", strided=False):
        self.fn = fn
        self.strided = strided      # array arguments come with their strides (a view need not be copied)
        self.module = ir.Module(name=fn.name)
        from .jit import target_machine
        import llvmlite.binding as llvm
        target_machine()
        self.module.triple = llvm.get_process_triple()
        self.func = ir.Function(self.module, ir.FunctionType(_I32, [_I8P, _I8P]), name)
        self.func.args[0].name, self.func.args[1].name = "args", "results"
        self.entry = self.func.append_basic_block("entry")
        self.b = ir.IRBuilder(self.entry)
        self.env = {}
        self.tapes = {}
        self.in_slots, self.out_slots = [], []
        self.realloc = ir.Function(self.module, ir.FunctionType(_I8P, [_I8P, I64]), "realloc")
        self.free = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [_I8P]), "free")
        self.arrays = ArrayLowering(self)
        self.blocks = []        # the op lists being lowered, innermost last
        self.defined_in = {}    # id(IR value) -> id of the op list it is defined in (region arguments too)

    # ---- the function ---------------------------------------------------------------
    def run(self):
        b = self.b
        self.status = b.alloca(_I32, name="status")
        b.store(ir.Constant(_I32, 0), self.status)
        args = b.bitcast(self.func.args[0], I64.as_pointer())
        for p in self.fn.params:
            if is_array(p.type):
                kind = "ins" if self.strided else "in"
                slot = len(self.in_slots)
                self.in_slots.append(Slot("q", f"{kind}:{np.dtype(p.type.dtype).name}:{','.join(map(str, p.type.shape))}"))
                ptr = b.inttoptr(b.load(b.gep(args, [ir.Constant(I64, slot)])), storage_type(p.type.dtype).as_pointer())
                strides = None
                if self.strided:        # one slot per axis after the pointer: the stride in elements
                    strides = []
                    for _ in p.type.shape:
                        strides.append(b.load(b.gep(args, [ir.Constant(I64, len(self.in_slots))])))
                        self.in_slots.append(Slot("q", "stride"))
                self.env[id(p)] = Arr(ptr, p.type.shape, p.type.dtype, strides)
                continue
            try:
                slot = _slot(p.type)
            except NotLowerable:
                raise NotLowerable(f"parameter '{p.hint}': a value of type {p.type} is not lowered (the native tier "
                                   "compiles scalar code and arrays of floats, ints and bools)", self.fn.loc) from None
            self.in_slots.append(slot)
            self.env[id(p)] = self._load_slot(args, len(self.in_slots) - 1, p.type)
        self._declare_tapes()
        ret = self.fn.body.ops[-1]
        self._output_arrays(args, ret)
        # the entry block keeps the allocations (array buffers are allocated there once, so a loop
        # reuses them); the code starts in the next block, branched to once everything is lowered
        start = self.func.append_basic_block("start")
        self.alloc = ir.IRBuilder(self.entry)
        self.alloc.position_at_end(self.entry)
        b.position_at_end(start)
        self.block(self.fn.body.ops[:-1])
        self._store_results(ret)
        for tape in self.tapes.values():
            for buf in tape.bufs:
                b.call(self.free, [b.bitcast(b.load(buf), _I8P)])
        self.arrays.free_all()
        b.ret(b.load(self.status))
        self.alloc.branch(start)
        return self.module

    def _output_arrays(self, args, ret):
        """An input slot per array result: the glue allocates it and passes its data pointer; the
        values that end up there (through in-place index_add/setitem chains) are computed into it."""
        b = self.b
        value = ret.operands[0]
        items = self._result_values(value)
        self.out_arrays = []
        # an element read after a write into the same array moves before it, so the write can be in place
        # (the NumPy tier does the same; pure ops only, the IR's meaning does not change)
        from ..python import _reads_before_writes
        for block in [self.fn.body] + [r for o in walk(self.fn.body) for r in o.regions]:
            _reads_before_writes(block)
        uses = use_counts(self.fn.body)
        self.arrays.uses = uses
        # lowering order (pre-order) and, per value, the position of its last use: what is dead when
        self.order, self.last_use = {}, {}
        for k, o in enumerate(walk(self.fn.body)):
            self.order[id(o)] = k
            for v in o.operands:
                self.last_use[id(v)] = k
        defs = {id(r): op for op in walk(self.fn.body) for r in op.results}
        for v in items:
            if not is_array(v.type):
                continue
            k = len(self.in_slots)
            shape = ",".join(map(str, v.type.shape))
            self.in_slots.append(Slot("q", f"out:{np.dtype(v.type.dtype).name}:{shape}"))
            ptr = b.inttoptr(b.load(b.gep(args, [ir.Constant(I64, k)])), storage_type(v.type.dtype).as_pointer())
            dest = Arr(ptr, v.type.shape, v.type.dtype, owner=("out", len(self.out_arrays)))
            self.out_arrays.append((v, dest))
            while id(v) not in self.arrays.dest:
                self.arrays.dest[id(v)] = dest
                op = defs.get(id(v))
                if op is None or op.name not in ("index_add", "setitem") or uses.get(id(op.operands[0]), 0) != 1:
                    break
                v = op.operands[0]      # updated in place into the output: computed there from the start

    def _result_values(self, value):
        """The values a function returns (the parts of the tuple it builds, or the one value)."""
        if not value.type.is_tuple:
            return [value]
        for op in walk(self.fn.body):
            if op.name == "tuple" and op.result is value:
                return list(op.operands)
        raise NotLowerable("a tuple value that is not built in the function is not lowered", self.fn.loc)

    def _load_slot(self, base, k, t):
        b = self.b
        ptr = b.gep(base, [ir.Constant(I64, k)])
        ty = lltype(t)
        if ty in (F64, F32):
            v = b.load(b.bitcast(ptr, F64.as_pointer()))
            return v if ty == F64 else b.fptrunc(v, F32)
        v = b.load(ptr)
        return v if ty == I64 else b.icmp_unsigned("!=", v, ir.Constant(I64, 0))

    def _store_results(self, ret):
        b = self.b
        out = b.bitcast(self.func.args[1], I64.as_pointer())
        value = ret.operands[0]
        items = self._tuple_items(value)
        self.result_is_tuple = items is not None
        outs = iter(self.out_arrays)
        for k, v in enumerate(items if items is not None else [value]):
            if is_array(v.type):
                _, dest = next(outs)
                x = self.env[id(v)]
                if not (isinstance(x, Arr) and x.ptr is dest.ptr and x.strides == dest.strides and
                        isinstance(x.offset, int) and x.offset == 0):
                    self.arrays.materialize(x, into=dest)
                self.out_slots.append(Slot("q", f"arr:{dest.owner[1]}"))
                continue
            self.out_slots.append(_slot(v.type))
            x = self.env[id(v)]
            ptr = b.gep(out, [ir.Constant(I64, k)])
            ty = x.type
            if ty in (F64, F32):
                b.store(x if ty == F64 else b.fpext(x, F64), b.bitcast(ptr, F64.as_pointer()))
            else:
                b.store(x if ty == I64 else b.zext(x, I64), ptr)

    def _tuple_items(self, v):
        if not v.type.is_tuple:
            return None
        items = self.tuples.get(id(v))
        if items is None:
            raise NotLowerable("a tuple value that is not built in the function is not lowered", self.fn.loc)
        return items

    # ---- ops -----------------------------------------------------------------------
    def block(self, ops):
        self.blocks.append(id(ops))
        try:
            self._ops(ops)
        finally:
            self.blocks.pop()

    def _ops(self, ops):
        here = self.blocks[-1]
        for op in ops:
            self.position = self.order[id(op)]
            for r in op.results:
                self.defined_in[id(r)] = here
            if op.name in ("yield", "condition"):
                continue
            method = getattr(self, "op_" + op.name, None)
            if method is not None:
                method(op)
            elif op.is_prim:
                self.prim(op)
            else:
                raise NotLowerable(f"the op {op.name} is not lowered", op.loc)

    def value(self, v):
        try:
            return self.env[id(v)]
        except KeyError:
            raise NotLowerable(f"a value of type {v.type} is not lowered", None) from None

    def op_const(self, op):
        t = op.result.type
        if _is_none(t):
            self.env[id(op.result)] = None
            return
        if is_array(t):
            val = op.attrs["value"]
            if op.name == "full":
                c = ir.Constant(lltype(ScalarType(t.dtype)), float(val) if t.dtype.kind == "f" else int(val))
                self.env[id(op.result)] = Gen(t.shape, t.dtype, lambda idx, c=c: c)
            else:
                self.env[id(op.result)] = self.arrays.constant(val)
            return
        ty = lltype(t, op.loc)
        val = op.attrs["value"]
        if isinstance(val, np.ndarray):
            val = val.reshape(()).item()
        self.env[id(op.result)] = ir.Constant(ty, float(val) if ty in (F64, F32) else int(val))

    op_full = op_const

    def op_tuple(self, op):
        self.tuples[id(op.result)] = list(op.operands)
        for v in op.operands:
            self.value(v) if not _is_none(v.type) else None

    def op_untuple(self, op):
        items = self._tuple_items(op.operands[0])
        for r, v in zip(op.results, items):
            self.env[id(r)] = self.env.get(id(v))
            if id(v) in self.tuples:
                self.tuples[id(r)] = self.tuples[id(v)]

    def prim(self, op):
        prim = op.prim
        if any(is_array(v.type) for v in list(op.operands) + list(op.results)):
            self.env[id(op.result)] = self.arrays.settle(op.result, self.arrays.prim(op, [self.value(v)
                                                                                        for v in op.operands]))
            self.arrays.note_reads(op)
            return
        for v in list(op.operands) + list(op.results):
            lltype(v.type, op.loc)
        if prim.scalar is None:
            raise NotLowerable(f"{op.name} has no native lowering", op.loc)
        types = prim.scalar_types([abstract_arg(v.type) for v in op.operands], op.attrs)
        compute = np.dtype(types.compute)
        ty = _TYPES.get(compute.name)
        if ty is None or compute.kind not in prim.scalar_kinds:
            raise NotLowerable(f"{op.name} on {compute} is not lowered", op.loc)
        args = []
        for v, dt in zip(op.operands, types.operands):
            t = _TYPES.get(np.dtype(dt).name)
            if t is None:
                raise NotLowerable(f"{op.name} on {np.dtype(dt)} is not lowered", op.loc)
            args.append(self._cast(self.value(v), t))
        m = LLVMMath(self.b, ty, self.module)
        try:
            out = prim.scalar(m, *args, **op.attrs)
        except NotImplementedError as e:
            raise NotLowerable(f"{op.name}: {e} is not lowered", op.loc) from None
        out = self._cast(m.const(out) if not isinstance(out, ir.Value) else out, lltype(op.result.type))
        self.env[id(op.result)] = out
        if on_python_scalars(op):
            self._python_checks(op, args, out, m)

    def _cast(self, x, ty):
        return convert(self.b, x, ty)

    # ---- where Python raises: the user's own operations on Python scalars -------------------
    def _error_if(self, cond):
        b = self.b
        cur = b.load(self.status)
        b.store(b.select(cond, ir.Constant(_I32, 1), cur), self.status)

    def _python_checks(self, op, args, out, m):
        """Python's exceptions for the user's own scalar code (`x / 0.0`, `math.sqrt(-1.0)`, overflow)."""
        b, name = self.b, op.name
        is_float = m.is_float
        if name in ("div", "floor_divide", "remainder"):
            self._error_if(m.eq(args[1], 0))
            if name == "floor_divide" and not is_float and args[0].type == I64:   # -2**63 // -1: Python's big int
                self._error_if(b.and_(m.eq(args[0], -2 ** 63), m.eq(args[1], -1)))
        elif name in ("add", "sub", "mul") and not is_float and args[0].type == I64:
            iname = f"llvm.s{name}.with.overflow.i64"
            intr = self.module.globals.get(iname) or ir.Function(
                self.module, ir.FunctionType(ir.LiteralStructType([I64, I1]), [I64, I64]), iname)
            self._error_if(b.extract_value(b.call(intr, args[:2]), 1))
        elif name == "pow":
            if not is_float:
                raise NotLowerable("** on Python ints is not lowered", op.loc)
            x, y = args
            zero_neg = b.and_(m.eq(x, 0), m.lt(y, 0))
            complex_ = b.and_(m.lt(x, 0), m.ne(m.floor(y), y))
            finite = b.and_(m.logical_not(m.isnan(m.sub(x, x))), m.logical_not(m.isnan(m.sub(y, y))))
            overflow = b.and_(finite, m.isnan(m.sub(out, out)))
            self._error_if(b.or_(b.or_(zero_neg, complex_), overflow))
        elif name in MATH_PRIMS:
            # CPython's math module: a nan from a non-nan argument is a domain error (ValueError), an
            # infinity from finite arguments a pole or an overflow (ValueError / OverflowError)
            any_nan = finite_in = None
            for x in args:
                isnan = m.isnan(x)
                finite = m.logical_not(m.isnan(m.sub(x, x)))
                any_nan = isnan if any_nan is None else b.or_(any_nan, isnan)
                finite_in = finite if finite_in is None else b.and_(finite_in, finite)
            nan_out = m.isnan(out)
            inf_out = b.and_(m.logical_not(nan_out), m.isnan(m.sub(out, out)))
            self._error_if(b.or_(b.and_(nan_out, m.logical_not(any_nan)), b.and_(inf_out, finite_in)))
        elif name == "astype" and op.result.type.dtype.kind in "iu" and op.operands[0].type.dtype.kind == "f":
            x = self.value(op.operands[0])
            if x.type in (F64, F32):     # int(x): nan raises, beyond int64 Python's int is exact
                xm = LLVMMath(b, x.type, self.module)
                in_range = b.and_(xm.ge(x, xm.const(-2.0 ** 63)), xm.lt(x, xm.const(2.0 ** 63)))
                self._error_if(xm.logical_not(in_range))

    # ---- control flow ------------------------------------------------------------------------
    def _region(self, block, args):
        for a, v in zip(block.args, args):
            self.env[id(a)] = v
            self.defined_in[id(a)] = id(block.ops)
        self.block(block.ops)
        term = block.ops[-1]
        return [self.value(v) for v in term.operands]

    def op_if(self, op):
        b = self.b
        cond = self._cast(self.value(op.operands[0]), I1)
        then_bb = self.func.append_basic_block("then")
        else_bb = self.func.append_basic_block("else")
        merge = self.func.append_basic_block("endif")
        b.cbranch(cond, then_bb, else_bb)
        incoming = []
        bufs = {k: self.arrays.buffer(r.type) for k, r in enumerate(op.results) if is_array(r.type)}
        for bb, region in ((then_bb, op.regions[0]), (else_bb, op.regions[1])):
            b.position_at_end(bb)
            vals = self._region(region, [])
            self.arrays.assign([(bufs[k], vals[k]) for k in bufs], fresh=True)
            vals = [v if k in bufs else self._cast(v, lltype(r.type)) for k, (v, r) in enumerate(zip(vals, op.results))]
            incoming.append((vals, b.block))
            b.branch(merge)
        b.position_at_end(merge)
        for k, r in enumerate(op.results):
            if k in bufs:
                self.env[id(r)] = bufs[k]
                continue
            phi = b.phi(lltype(r.type, op.loc), name=r.hint or "")
            for vals, bb in incoming:
                phi.add_incoming(vals[k], bb)
            self.env[id(r)] = phi

    def op_for(self, op):
        b = self.b
        start, stop, step = (self._cast(self.value(v), I64) for v in op.operands[:3])
        inits = self._array_inits(op, [self.value(v) for v in op.operands[3:]])
        pre = b.block
        header = self.func.append_basic_block("for")
        body = self.func.append_basic_block("body")
        exit_ = self.func.append_basic_block("endfor")
        b.branch(header)
        b.position_at_end(header)
        i = b.phi(I64, name="i")
        i.add_incoming(start, pre)
        phis = self._carried(op, inits, pre)
        step_c = op.operands[2]
        sign = self._const_int(step_c)
        up = b.icmp_signed("<", i, stop)
        down = b.icmp_signed(">", i, stop)
        if sign is None:
            go = b.select(b.icmp_signed(">", step, ir.Constant(I64, 0)), up, down)
        else:
            go = up if sign > 0 else down
        b.cbranch(go, body, exit_)
        b.position_at_end(body)
        ys = self._region(op.regions[0], [i] + phis)
        self._close_loop(op, phis, ys, header, exit_, counter=(i, step))

    def _const_int(self, v):
        value = self.consts.get(id(v))
        return int(value) if isinstance(value, (int, np.integer)) else None

    def op_while(self, op):
        b = self.b
        inits = self._array_inits(op, [self.value(v) for v in op.operands])
        pre = b.block
        header = self.func.append_basic_block("while")
        body = self.func.append_basic_block("body")
        exit_ = self.func.append_basic_block("endwhile")
        b.branch(header)
        b.position_at_end(header)
        phis = self._carried(op, inits, pre)
        cond_region, body_region = op.regions
        c = self._region(cond_region, phis)[0]
        ok = b.icmp_signed("==", b.load(self.status), ir.Constant(_I32, 0))   # stop after an error
        b.cbranch(b.and_(self._cast(c, I1), ok), body, exit_)
        b.position_at_end(body)
        ys = self._region(body_region, phis)
        self._close_loop(op, phis, ys, header, exit_)

    def _array_inits(self, op, inits):
        """The initial values, a carried array's replaced by the buffer it lives in through the loop
        (allocated once, set to the initial value here)."""
        out = list(inits)
        for k, r in enumerate(op.results):
            if is_array(r.type):
                buf = self.arrays.buffer(r.type)
                self.arrays.assign([(buf, inits[k])], fresh=True)
                out[k] = buf
        return out

    def _carried(self, op, inits, pre):
        """One phi per carried scalar in the loop header, entered with its initial value (a carried
        array is its buffer, from _array_inits)."""
        phis = []
        for v, r in zip(inits, op.results):
            if is_array(r.type):
                phis.append(v)
                continue
            phi = self.b.phi(lltype(r.type, op.loc), name=r.hint or "")
            phi.add_incoming(self._cast(v, phi.type), pre)
            phis.append(phi)
        return phis

    def _close_loop(self, op, phis, ys, header, exit_, counter=None):
        """The back edge: the body's yields into the carried arrays' buffers and the phis (and the
        counter's step), then continue after the loop."""
        b = self.b
        self.arrays.assign([(buf, y) for buf, y in zip(phis, ys) if isinstance(buf, Arr)])
        if counter is not None:
            i, step = counter
            i.add_incoming(b.add(i, step), b.block)
        for phi, y in zip(phis, ys):
            if not isinstance(phi, Arr):
                phi.add_incoming(self._cast(y, phi.type), b.block)
        b.branch(header)
        b.position_at_end(exit_)
        for r, phi in zip(op.results, phis):
            self.env[id(r)] = phi

    # ---- tapes ---------------------------------------------------------------------------------
    def _declare_tapes(self):
        """Stack slots (entry block) for every tape: pointer, capacity, one buffer per pushed value."""
        self.tuples = {}
        self.consts = {id(op.result): op.attrs["value"] for op in walk(self.fn.body) if op.name == "const"}
        b = self.b
        for op in walk(self.fn.body):
            if op.name != "tape_new":
                continue
            elems = op.result.type.elems
            types = [storage_type(t.dtype) if is_array(t) else lltype(t, op.loc) for t in elems]
            top = b.alloca(I64, name="tape_top")
            cap = b.alloca(I64, name="tape_cap")
            b.store(ir.Constant(I64, 0), top)
            b.store(ir.Constant(I64, 0), cap)
            bufs = []
            for ty in types:
                buf = b.alloca(ty.as_pointer(), name="tape_buf")
                b.store(ir.Constant(ty.as_pointer(), None), buf)
                bufs.append(buf)
            self.tapes[id(op.result)] = _Tape(top, cap, bufs, types, op.result.type.capacity is not None,
                                              [t if is_array(t) else None for t in elems])

    def op_tape_new(self, op):
        """Reset the tape; a tape whose size is known (a for loop's trip count) reserves it now,
        so its pushes need no capacity check."""
        b = self.b
        tape = self.tapes[id(op.result)]
        b.store(ir.Constant(I64, 0), tape.top)
        capacity = op.result.type.capacity
        if capacity is None or not tape.bufs:
            return
        if capacity == "range":
            start, stop, step = (self._cast(self.value(v), I64) for v in op.operands)
            zero, one = ir.Constant(I64, 0), ir.Constant(I64, 1)
            up = b.sdiv(b.add(b.sub(stop, start), b.sub(step, one)), step)
            down = b.sdiv(b.sub(b.sub(start, stop), b.add(step, one)), b.neg(step))
            n = b.select(b.icmp_signed(">", step, zero), up, down)
            n = b.select(b.icmp_signed(">", n, zero), n, zero)
        else:
            n = ir.Constant(I64, capacity)
        self._grow(tape, n, b.icmp_signed(">", n, b.load(tape.cap)))

    def _grow(self, tape, new_cap, when):
        b = self.b
        with b.if_then(when, likely=False):
            for buf, ty, arr in zip(tape.bufs, tape.types, tape.arrays):
                size = 8 if ty in (F64, I64) else 4 if ty == F32 else 1
                if arr is not None:
                    size *= _count(arr)
                raw = b.call(self.realloc, [b.bitcast(b.load(buf), _I8P), b.mul(new_cap, ir.Constant(I64, size))])
                b.store(b.bitcast(raw, ty.as_pointer()), buf)
            b.store(new_cap, tape.cap)

    def op_tape_push(self, op):
        b = self.b
        tape = self.tapes[id(op.operands[0])]
        top = b.load(tape.top)
        if tape.bufs:
            if not tape.sized:     # a while loop's tape: double when full
                cap = b.load(tape.cap)
                self._grow(tape, b.add(b.mul(cap, ir.Constant(I64, 2)), ir.Constant(I64, 64)),
                           b.icmp_signed(">=", top, cap))
            for buf, ty, arr, v in zip(tape.bufs, tape.types, tape.arrays, op.operands[1:]):
                if arr is not None:     # an array: a copy in the entry's slice of the buffer
                    self.arrays.materialize(self.value(v), into=self._tape_entry(buf, top, arr))
                else:
                    b.store(self._cast(self.value(v), ty), b.gep(b.load(buf), [top]))
        b.store(b.add(top, ir.Constant(I64, 1)), tape.top)

    def _tape_entry(self, buf, top, t):
        b = self.b
        return Arr(b.gep(b.load(buf), [b.mul(top, ir.Constant(I64, _count(t)))]), t.shape, t.dtype)

    def op_tape_pop(self, op):
        b = self.b
        tape = self.tapes[id(op.operands[0])]
        top = b.sub(b.load(tape.top), ir.Constant(I64, 1))
        b.store(top, tape.top)
        for r, buf, arr in zip(op.results, tape.bufs, tape.arrays):
            # an array entry is read where it is (nothing pushes onto it again before it is used)
            self.env[id(r)] = self._tape_entry(buf, top, arr) if arr is not None else b.load(b.gep(b.load(buf), [top]))

    def op_tape_len(self, op):
        self.env[id(op.result)] = self.b.load(self.tapes[id(op.operands[0])].top)


def _count(t):
    return int(np.prod(t.shape, dtype=np.int64))


def _is_none(t):
    return str(t) == "none"


def lower(fn, strided=False):
    """(llvmlite Module, input slots, output slots, whether the result is a tuple) for IR function `fn`;
    with `strided`, array arguments are passed with their strides (views are not copied)."""
    low = _Lowering(fn, strided=strided)
    module = low.run()
    return module, low.in_slots, low.out_slots, low.result_is_tuple
