"""Array values in native kernels (native tier II, first part): loops over static shapes.

An array value (rank >= 1; 0-d arrays are scalars in registers) is lowered as one of

- `Arr`: memory — an element pointer, an element offset and static strides (in elements): a
  parameter (the glue hands over C-contiguous data), a constant, a temporary the kernel
  allocates, an output array the glue allocated, or a view of one of those (basic indexing,
  transpose, reshape of contiguous memory: no copy);
- `Gen`: not computed yet — a function from an index (one i64 per axis) to the element, emitted
  where the element is needed. Elementwise primitives, broadcasting, basic indexing of a `Gen`
  and `broadcast_to` make `Gen`s, so a chain of elementwise operations becomes one loop over its
  iteration space with no temporaries (fusion by construction). A `Gen` is computed into memory
  ("materialised") when it is used more than once (not to recompute it), reduced along an axis,
  scattered, or returned — the latter straight into the output array the glue passes in.

Reductions with a monoid in the table (sum, mean, prod, amax, amin ...) and sum_to are sequential loops, in index order; with
fastmath=True LLVM may reassociate and vectorise them. `scatter_add`/`index_add`/`setitem` with a
static basic index write through a view of the accumulator, updated in place when nothing else
reads it (its only use), else into a copy. Arrays in `if`/loop regions and on tapes, advanced
indices and dynamic slice bounds raise NotLowerable: such functions stay on the NumPy tier.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ... import ops
from ...compiler.types import abstract_arg
from .abi import NotLowerable
from .math import I1, I64, TYPES, LLVMMath, convert, per_element_call

__all__ = ["Arr", "ArrayLowering", "Gen", "is_array", "storage_type"]

_I8 = ir.IntType(8)
_I8P = _I8.as_pointer()


def is_array(t):
    return (t.is_array or t.is_scalar) and len(t.shape) > 0


def storage_type(dtype):
    """The LLVM type of one element in memory (a NumPy bool is a byte)."""
    name = np.dtype(dtype).name
    if name == "bool":
        return _I8
    ty = TYPES.get(name)
    if ty is None:
        raise NotLowerable(f"arrays of {np.dtype(dtype)} are not lowered")
    return ty


def _contiguous(shape):
    strides, s = [], 1
    for d in reversed(shape):
        strides.append(s)
        s *= d
    return tuple(reversed(strides))


class Arr:
    """Array memory: element (k0, k1, ...) is at ptr[offset + sum(k_i * strides_i)]."""
    __slots__ = ("dtype", "offset", "owner", "ptr", "shape", "strides")

    def __init__(self, ptr, shape, dtype, strides=None, offset=0, owner=None):
        self.ptr, self.shape, self.dtype = ptr, tuple(shape), np.dtype(dtype)
        self.strides = _contiguous(self.shape) if strides is None else tuple(strides)
        self.offset = offset
        self.owner = owner          # ("temp", n) / ("out", k) for memory this kernel may write, else None

    @property
    def contiguous(self):
        return tuple(self.strides) == _contiguous(self.shape) or int(np.prod(self.shape)) <= 1


class Gen:
    """An array not in memory: `at(idx)` emits its element at index `idx` (i64 values); `cost`
    estimates the instructions that takes (what recomputing it at every use would cost)."""
    __slots__ = ("at", "cost", "dtype", "shape")

    def __init__(self, shape, dtype, at, cost=1):
        self.shape, self.dtype, self.at, self.cost = tuple(shape), np.dtype(dtype), at, cost


class Pull:
    """The result of scatter_add / index_add / setitem over static boxes, not computed yet ("pull
    form"): element j is `base[j]` (or 0), then, in order, each contribution whose box holds j
    adds its element (or replaces the value, for setitem and scatter_add's assignment). Computed
    cell by cell — the boxes' edges split the index space into cells where the same contributions
    apply — so each loop is a plain elementwise loop: no store-to-load dependency, no branches."""
    __slots__ = ("base", "contribs", "dtype", "shape")

    def __init__(self, shape, dtype, base, contribs):
        self.shape, self.dtype, self.base, self.contribs = tuple(shape), np.dtype(dtype), base, list(contribs)


_ARRAYS = (Arr, Gen, Pull)
LIBM_ELEMENTS = 256         # an array op this big with a libm call per element stays NumPy (see math.per_element_call)
MATERIALIZE_COST = 24       # a value used twice is computed into memory when its elements cost more than this
MAX_CELLS = 64


class ArrayLowering:
    """The array part of a kernel's lowering; `low` is the _Lowering (builder, module, status)."""

    def __init__(self, low):
        self.low = low
        self.temps = []            # malloc'd buffers, freed at the exit
        self.n_temps = 0
        self.malloc = ir.Function(low.module, ir.FunctionType(_I8P, [I64]), "malloc")
        self.uses = {}
        self.dest = {}             # id(IR value) -> Arr of the output array it is computed into
        self.reads = {}            # id(IR value) -> owners of the buffers its lazy (Gen/Pull) form reads

    @property
    def b(self):
        return self.low.b

    # ---- element access -------------------------------------------------------------
    def _offset(self, arr, idx):
        b = self.b
        off = arr.offset if isinstance(arr.offset, ir.Value) else ir.Constant(I64, int(arr.offset))
        for k, s in zip(idx, arr.strides):
            if isinstance(s, ir.Value):          # a run-time stride (an argument passed as a strided view)
                off = b.add(off, b.mul(k, s))
            elif s:
                off = b.add(off, b.mul(k, ir.Constant(I64, s)) if s != 1 else k)
        return off

    def _times(self, n, s):
        """n * stride s: a Python int for a static stride, an i64 value for a run-time one."""
        return self.b.mul(ir.Constant(I64, n), s) if isinstance(s, ir.Value) else n * s

    def load(self, arr, idx):
        v = self.b.load(self.b.gep(arr.ptr, [self._offset(arr, idx)]))
        return self.b.icmp_unsigned("!=", v, ir.Constant(_I8, 0)) if arr.dtype == np.bool_ else v

    def store(self, arr, idx, v):
        if arr.dtype == np.bool_:
            v = self.b.zext(convert(self.b, v, I1), _I8)
        else:
            v = convert(self.b, v, TYPES[arr.dtype.name])
        self.b.store(v, self.b.gep(arr.ptr, [self._offset(arr, idx)]))

    def as_gen(self, x, dtype=None):
        if isinstance(x, Gen):
            return x
        if isinstance(x, Arr):
            return Gen(x.shape, x.dtype, lambda idx, a=x: self.load(a, idx))
        if isinstance(x, Pull):
            return self._pull_gen(x)
        return Gen((), dtype, lambda idx, v=x: v, 0)       # a scalar register

    def _pull_gen(self, p):
        """A Pull read element by element: each contribution's element is loaded at an index clamped
        into its box (always in bounds) and selected where j is inside the box."""
        b = self.b
        ty = TYPES[p.dtype.name]
        base = self.as_gen(p.base) if p.base is not None else None
        contribs = [(box, self.broadcast(g, tuple(n for _, n in box if n is not None)), mode)
                    for box, g, mode in p.contribs]

        def at(idx):
            v = convert(b, base.at(idx), ty) if base is not None else ir.Constant(ty, 0)
            m = LLVMMath(b, ty, self.low.module)
            for box, g, mode in contribs:
                inside, local = None, []
                for j, (lo, n) in zip(idx, box):
                    rel = b.sub(j, ir.Constant(I64, lo))
                    ok = b.icmp_unsigned("<", rel, ir.Constant(I64, n if n is not None else 1))
                    inside = ok if inside is None else b.and_(inside, ok)
                    if n is not None:
                        local.append(b.select(ok, rel, ir.Constant(I64, 0)))
                c = convert(b, g.at(local), ty)
                v = b.select(inside, c if mode == "set" else m.add(v, c), v)
            return v
        cost = (base.cost if base is not None else 0) + sum(g.cost + 4 for _, g, _ in contribs)
        return Gen(p.shape, p.dtype, at, cost)

    def broadcast(self, g, shape):
        """Gen `g` read at the indices of `shape` (NumPy's broadcasting: right-aligned, size 1 repeats)."""
        g = self.as_gen(g)
        if g.shape == tuple(shape):
            return g
        lead = len(shape) - len(g.shape)
        zero = ir.Constant(I64, 0)

        def at(idx):
            return g.at([zero if d == 1 and shape[lead + k] != 1 else idx[lead + k] for k, d in enumerate(g.shape)])
        return Gen(shape, g.dtype, at, g.cost)

    # ---- loops ---------------------------------------------------------------------------
    def loop(self, n, body, carried=()):
        """for i in range(n): vals = body(i, *vals) — one counted loop (the vectoriser's shape), with
        `carried` values as phis; returns their values after the loop."""
        low, b = self.low, self.b
        n = n if isinstance(n, ir.Value) else ir.Constant(I64, int(n))
        pre = b.block
        header = low.func.append_basic_block("nest")
        inner = low.func.append_basic_block("nest.body")
        done = low.func.append_basic_block("nest.end")
        b.branch(header)
        b.position_at_end(header)
        i = b.phi(I64, name="k")
        i.add_incoming(ir.Constant(I64, 0), pre)
        phis = []
        for v in carried:
            phi = b.phi(v.type)
            phi.add_incoming(v, pre)
            phis.append(phi)
        b.cbranch(b.icmp_signed("<", i, n), inner, done)
        b.position_at_end(inner)
        new = body(i, *phis)
        for phi, v in zip(phis, new or ()):
            phi.add_incoming(v, b.block)
        i.add_incoming(b.add(i, ir.Constant(I64, 1)), b.block)
        b.branch(header)
        b.position_at_end(done)
        return phis

    def nest(self, shape, body, carried=(), idx=()):
        """Loops over `shape` (the last axis innermost): vals = body(idx, *vals) at every index."""
        if len(idx) == len(shape):
            return body(list(idx), *carried)
        return self.loop(shape[len(idx)], lambda i, *vals: self.nest(shape, body, vals, idx + (i,)), carried)

    # ---- memory --------------------------------------------------------------------------
    def temp(self, shape, dtype):
        """A buffer of its own for one value: allocated once, in the entry block (a loop reuses it in
        every iteration), freed at the exit."""
        alloc = self.low.alloc
        size = max(int(np.prod(shape, dtype=np.int64)), 1) * np.dtype(dtype).itemsize
        raw = alloc.call(self.malloc, [ir.Constant(I64, size)])
        self.temps.append(raw)
        self.n_temps += 1
        return Arr(alloc.bitcast(raw, storage_type(dtype).as_pointer()), shape, dtype, owner=("temp", self.n_temps))

    def buffer(self, t):
        """The buffer of an array carried through a loop or merged at an if (IR type `t`)."""
        return self.temp(tuple(t.shape), t.dtype)

    def assign(self, pairs, fresh=False):
        """Set each buffer of `pairs` (buffer, value) to its value, as if all at once. At a loop's
        back edge the values may read the buffers (the carried arrays of this iteration), so any
        value that may — a generator, or a view of one of the buffers — is first computed into a
        staging buffer; a value already in its buffer (updated in place) is left as it is. With
        `fresh` (a loop's initial values, an if's results) nothing reads the buffers yet."""
        dests = {id(buf.ptr) for buf, _ in pairs}
        todo = []
        for buf, v in pairs:
            if isinstance(v, Arr) and v.ptr is buf.ptr and v.strides == buf.strides and \
                    isinstance(v.offset, int) and v.offset == buf.offset:
                continue
            if not fresh and (not isinstance(v, Arr) or id(v.ptr) in dests):
                v = self.materialize(v, into=self.temp(buf.shape, buf.dtype))
            todo.append((buf, v))
        for buf, v in todo:
            self.materialize(v, into=buf)

    def free_all(self):
        for raw in self.temps:
            self.b.call(self.low.free, [raw])

    def materialize(self, x, into=None):
        """`x` in memory: an Arr as it is, a Gen computed into `into` (or a new temporary)."""
        if isinstance(x, Arr) and into is None:
            return x
        out = into if into is not None else self.temp(x.shape, x.dtype)
        if isinstance(x, Pull) and self._materialize_cells(x, out):
            return out
        g = self.as_gen(x)
        self.nest(g.shape, lambda idx: self.store(out, idx, g.at(idx)))
        return out

    def _materialize_cells(self, p, out):
        """Compute Pull `p` into `out` one cell at a time (see Pull); False when there are too many
        cells (the caller then computes it element by element)."""
        cuts = []
        for ax, n in enumerate(p.shape):
            edges = {0, n}
            for box, _, _ in p.contribs:
                lo, length = box[ax]
                edges.update((lo, lo + (length if length is not None else 1)))
            cuts.append(sorted(e for e in edges if 0 <= e <= n))
        cells = 1
        for c in cuts:
            cells *= max(len(c) - 1, 1)
        if cells > MAX_CELLS:
            return False
        ty = TYPES[p.dtype.name]
        base = self.as_gen(p.base) if p.base is not None else None
        contribs = [(box, self.broadcast(g, tuple(n for _, n in box if n is not None)), mode)
                    for box, g, mode in p.contribs]
        b = self.b

        def cells_from(ax, lows, highs):
            if ax == len(p.shape):
                emit(lows, highs)
                return
            for lo, hi in zip(cuts[ax], cuts[ax][1:]):
                if hi > lo:
                    cells_from(ax + 1, lows + [lo], highs + [hi])

        def emit(lows, highs):
            active = [(box, g, mode) for box, g, mode in contribs
                      if all(blo <= lo and hi <= blo + (n if n is not None else 1)
                             for (blo, n), lo, hi in zip(box, lows, highs))]

            def body(k):
                idx = [b.add(ki, ir.Constant(I64, lo)) if lo else ki for ki, lo in zip(k, lows)]
                v = convert(b, base.at(idx), ty) if base is not None else ir.Constant(ty, 0)
                m = LLVMMath(b, ty, self.low.module)
                for box, g, mode in active:
                    local = [b.sub(j, ir.Constant(I64, blo)) if blo else j
                             for j, (blo, n) in zip(idx, box) if n is not None]
                    c = convert(b, g.at(local), ty)
                    v = c if mode == "set" else m.add(v, c)
                self.store(out, idx, v)
            self.nest([hi - lo for lo, hi in zip(lows, highs)], body)
        cells_from(0, [], [])
        return True

    def settle(self, value, x):
        """Keep `x`, the lowered IR `value`, as it is, or compute it into memory now when it is used
        more than once and recomputing it at each use would cost more than a load."""
        if isinstance(x, Pull):
            if self.uses.get(id(value), 0) > 1:
                return self.materialize(x)
            return x
        if isinstance(x, Gen) and x.shape and self.uses.get(id(value), 0) > 1 and x.cost > MATERIALIZE_COST:
            return self.materialize(x)
        return x

    def constant(self, value):
        value = np.ascontiguousarray(value)
        ty = storage_type(value.dtype)
        flat = value.ravel()
        init = [int(v) for v in flat.astype(np.uint8)] if value.dtype == np.bool_ else (
            [float(v) for v in flat] if value.dtype.kind == "f" else [int(v) for v in flat])
        arrty = ir.ArrayType(ty, max(len(init), 1))
        g = ir.GlobalVariable(self.low.module, arrty, name=f"const.{len(self.low.module.globals)}")
        g.global_constant = True
        g.linkage = "internal"
        g.initializer = ir.Constant(arrty, init or [ir.Constant(ty, 0)])
        return Arr(self.b.bitcast(g, ty.as_pointer()), value.shape, value.dtype)

    # ---- indexing ------------------------------------------------------------------------
    def _index_plan(self, shape, idx, dyn, loc):
        """A basic index as (result shape, per-input-axis (kind, value): ("int", i64) or ("slice",
        start, step)), and where new axes (None) go: a list over result axes of input axis or None."""
        parts = list(idx) if isinstance(idx, tuple) else [idx]
        if any(isinstance(p, (np.ndarray, list)) for p in parts):
            raise NotLowerable("an advanced (array) index is not lowered", loc)
        ellipses = [k for k, p in enumerate(parts) if p is Ellipsis]
        if len(ellipses) > 1:
            raise NotLowerable("an index with two Ellipses", loc)
        n_real = sum(p is not None and p is not Ellipsis for p in parts)
        if ellipses:
            k = ellipses[0]
            parts[k:k + 1] = [slice(None)] * (len(shape) - n_real)
        parts += [slice(None)] * (len(shape) - sum(p is not None for p in parts))
        axes, out_shape, result_axes = [], [], []
        ax = 0
        for p in parts:
            if p is None:
                out_shape.append(1)
                result_axes.append(None)
                continue
            n = shape[ax]
            if isinstance(p, ops.indexing.Dyn):
                v = dyn[p.k]
                if not isinstance(v, ir.Value) or v.type != I64:
                    raise NotLowerable("an index with an array or non-integer part", loc)
                axes.append(("int", self._wrap_index(v, n)))
            elif isinstance(p, (int, np.integer)) and not isinstance(p, bool):
                p = int(p)
                if not -n <= p < n:
                    raise NotLowerable("an index out of bounds", loc)
                axes.append(("int", ir.Constant(I64, p % n)))
            elif isinstance(p, slice) and all(s is None or isinstance(s, (int, np.integer)) for s in
                                              (p.start, p.stop, p.step)):
                start, stop, step = p.indices(n)
                length = len(range(start, stop, step))
                axes.append(("slice", start, step))
                out_shape.append(length)
                result_axes.append(ax)
            else:
                raise NotLowerable("an advanced index or a slice with run-time bounds", loc)
            ax += 1
        return tuple(out_shape), axes, result_axes

    def _wrap_index(self, i, n):
        """A run-time index: negative counts from the end; out of range is IndexError (status)."""
        b = self.b
        zero, nn = ir.Constant(I64, 0), ir.Constant(I64, n)
        j = b.select(b.icmp_signed("<", i, zero), b.add(i, nn), i)
        bad = b.or_(b.icmp_signed("<", j, zero), b.icmp_signed(">=", j, nn))
        self.low._error_if(bad)
        return b.select(bad, zero, j)      # the code runs on to its exit after an error: stay in bounds

    def view(self, arr, plan):
        out_shape, axes, result_axes = plan
        b = self.b
        off = arr.offset if isinstance(arr.offset, ir.Value) else ir.Constant(I64, int(arr.offset))
        in_strides = {}
        for ax, (a, s) in enumerate(zip(axes, arr.strides)):
            if a[0] == "int":
                off = b.add(off, b.mul(a[1], s if isinstance(s, ir.Value) else ir.Constant(I64, s)))
            else:
                start = self._times(a[1], s)
                off = b.add(off, start if isinstance(start, ir.Value) else ir.Constant(I64, start))
                in_strides[ax] = self._times(a[2], s)
        strides = [0 if r is None else in_strides[r] for r in result_axes]
        return Arr(arr.ptr, out_shape, arr.dtype, strides, off, arr.owner)

    def index_gen(self, g, plan):
        out_shape, axes, result_axes = plan
        pos = {r: k for k, r in enumerate(result_axes) if r is not None}
        b = self.b

        def at(idx):
            src = []
            for ax, a in enumerate(axes):
                if a[0] == "int":
                    src.append(a[1])
                else:
                    k = idx[pos[ax]]
                    src.append(b.add(ir.Constant(I64, a[1]), b.mul(k, ir.Constant(I64, a[2]))))
            return g.at(src)
        return Gen(out_shape, g.dtype, at, g.cost + 1)

    # ---- primitives ----------------------------------------------------------------------
    def prim(self, op, vals):
        """Lower primitive `op` with lowered operands `vals` (Arr, Gen or scalar registers); the
        result is an Arr, a Gen, or a scalar register for a 0-d result."""
        name, kind = op.name, op.prim.kind
        method = getattr(self, "p_" + name, None)
        if method is not None:
            return method(op, vals)
        if kind == "elementwise" and op.prim.scalar is not None:
            return self.elementwise(op, vals)
        if op.prim.monoid is not None:
            return self.reduce(op, vals)
        raise NotLowerable(f"{name} on arrays has no native lowering", op.loc)

    def elementwise(self, op, vals):
        low = self.low
        prim = op.prim
        types = prim.scalar_types([abstract_arg(v.type) for v in op.operands], op.attrs)
        compute = np.dtype(types.compute)
        ty = TYPES.get(compute.name)
        if ty is None or compute.kind not in prim.scalar_kinds:
            raise NotLowerable(f"{op.name} on {compute} is not lowered", op.loc)
        out_t = op.result.type
        shape = tuple(out_t.shape)
        size = int(np.prod(shape, dtype=np.int64))
        calls_libm = per_element_call(op, self.low.consts)
        if size >= LIBM_ELEMENTS and calls_libm:
            raise NotLowerable(f"{op.name} over {size} elements: NumPy's vectorised loop is faster than a libm call "
                               f"per element", op.loc)
        res_ty = TYPES.get(np.dtype(out_t.dtype).name)
        gens = []
        for x, dt in zip(vals, types.operands):
            t = TYPES.get(np.dtype(dt).name)
            if t is None:
                raise NotLowerable(f"{op.name} on {np.dtype(dt)} is not lowered", op.loc)
            gens.append((self.broadcast(x, shape) if isinstance(x, _ARRAYS) else None, x, t))
        attrs = op.attrs
        scalar_exponent = op.name == "pow" and gens[0][0] is not None and gens[1][0] is None

        def at(idx):
            args = [convert(low.b, g.at(idx) if g is not None else x, t) for g, x, t in gens]
            m = LLVMMath(low.b, ty, low.module)
            try:
                r = prim.scalar(m, *args, **attrs)
            except NotImplementedError as e:
                raise NotLowerable(f"{op.name}: {e} is not lowered", op.loc) from None
            if scalar_exponent and m.is_float:    # NumPy's power takes sqrt for an array ** a scalar 0.5
                r = m.select(m.eq(args[1], 0.5), m.sqrt(args[0]), r)
            return convert(low.b, m.const(r) if not isinstance(r, ir.Value) else r, res_ty)
        if not shape:
            return at([])
        # a libm call per element costs about as much as a dozen arithmetic instructions
        cost = (12 if calls_libm else 1) + sum(g.cost for g, _, _ in gens if g is not None)
        return Gen(shape, out_t.dtype, at, cost)

    def _reduced(self, in_shape, axis, keepdims):
        axes = tuple(range(len(in_shape))) if axis is None else tuple(
            a % len(in_shape) for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
        return axes

    def reduce(self, op, vals, axes=None, out_shape=None):
        """A sequential reduction over `axes` of operand 0 (index order), into a scalar register
        or a temporary of the result's shape."""
        x = self.as_gen(vals[0])
        if x.dtype.kind != "f":
            raise NotLowerable(f"{op.name} of a {x.dtype} array is not lowered", op.loc)
        if axes is None:
            axes = self._reduced(x.shape, op.attrs.get("axis"), op.attrs.get("keepdims", False))
        out_t = op.result.type
        out_shape = tuple(out_t.shape) if out_shape is None else out_shape
        count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
        combine_name, identity, averages = ops.get(op.name).monoid
        if count == 0 and not np.isfinite(identity):
            raise NotLowerable(f"{op.name} of an empty array raises", op.loc)
        kept = [a for a in range(len(x.shape)) if a not in axes]
        ty = TYPES[np.dtype(out_t.dtype).name]
        combine = ops.get(combine_name).scalar
        low = self.low

        def reduce_at(out_idx):
            # out_idx indexes the kept axes (keepdims axes already dropped)
            red_shape = [x.shape[a] for a in axes]

            def body(ridx, acc):
                full = [None] * len(x.shape)
                for a, k in zip(axes, ridx):
                    full[a] = k
                for a, k in zip(kept, out_idx):
                    full[a] = k
                m = LLVMMath(low.b, ty, low.module)
                return [combine(m, acc, convert(low.b, x.at(full), ty))]
            (r,) = self.nest(red_shape, body, [ir.Constant(ty, float(identity))])
            if averages:
                r = low.b.fdiv(r, ir.Constant(ty, float(count)))
            return r
        if not out_shape:
            return reduce_at([])
        out = self.temp(out_shape, out_t.dtype)
        kept_shape = [x.shape[a] for a in kept]
        keep_pos = self._kept_positions(out_shape, kept, len(x.shape))
        if kept and kept[-1] == len(x.shape) - 1:
            # the last axis is kept (a column sum, db = dz.sum(axis=0)): walk x in memory order and
            # accumulate into the result, whose inner loop then runs along contiguous memory; each
            # result element still adds its terms in index order
            def out_at(full):
                return self._out_index([full[a] for a in kept], keep_pos, len(out_shape))
            init = ir.Constant(ty, float(identity))
            self.nest(kept_shape, lambda kidx: self.store(out, self._out_index(kidx, keep_pos, len(out_shape)), init))

            def accumulate(full):
                m = LLVMMath(low.b, ty, low.module)
                o = out_at(full)
                self.store(out, o, combine(m, convert(low.b, self.load(out, o), ty), convert(low.b, x.at(full), ty)))
            self.nest(x.shape, accumulate)
            if averages:
                self.nest(kept_shape, lambda kidx: self._scale(out, self._out_index(kidx, keep_pos, len(out_shape)),
                                                               ty, count))
            return out
        self.nest(kept_shape, lambda kidx: self.store(out, self._out_index(kidx, keep_pos, len(out_shape)),
                                                       reduce_at(kidx)))
        return out

    def _scale(self, out, idx, ty, count):
        self.store(out, idx, self.low.b.fdiv(convert(self.low.b, self.load(out, idx), ty), ir.Constant(ty, float(count))))

    @staticmethod
    def _kept_positions(out_shape, kept, ndim):
        """Where the kept axes `kept` of an `ndim`-axis input sit among the result's axes: in order when
        the reduced ones are dropped, else (keepdims 1s; sum_to's target, leading axes summed away)
        at their own axis, less the leading axes the result lacks."""
        if len(out_shape) == len(kept):
            return list(range(len(kept)))
        return [a - (ndim - len(out_shape)) for a in kept]

    @staticmethod
    def _out_index(kidx, keep_pos, ndim):
        zero = ir.Constant(I64, 0)
        full = [zero] * ndim
        for p, k in zip(keep_pos, kidx):
            full[p] = k
        return full

    def p_sum_to(self, op, vals):
        x = self.as_gen(vals[0])
        target = tuple(op.attrs["shape"])
        lead = len(x.shape) - len(target)
        axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(target) if d == 1 and x.shape[lead + i] != 1)
        if not axes:
            return vals[0] if x.shape == target else self.p_reshape(op, vals)
        fake = _Renamed(op, "sum")
        return self.reduce(fake, vals, axes=axes, out_shape=target)

    def p_getitem(self, op, vals):
        x, dyn = vals[0], vals[1:]
        plan = self._index_plan(tuple(op.operands[0].type.shape), op.attrs["idx"], dyn, op.loc)
        if isinstance(x, Arr):
            v = self.view(x, plan)
        else:
            v = self.index_gen(self.as_gen(x), plan)
        if not v.shape:                       # an element: a scalar register
            return self.load(v, []) if isinstance(v, Arr) else v.at([])
        return v

    def p_broadcast_to(self, op, vals):
        return self.broadcast(self.as_gen(vals[0], op.operands[0].type.dtype), tuple(op.attrs["shape"]))

    def p_reshape(self, op, vals):
        x = vals[0]
        shape = tuple(op.result.type.shape)
        if not isinstance(x, _ARRAYS):          # a 0-d value as (1, 1, ...)
            return Gen(shape, op.operands[0].type.dtype, lambda idx: x, 0)
        if isinstance(x, Pull):
            x = self.materialize(x)
        if isinstance(x, Gen) and [d for d in x.shape if d != 1] == [d for d in shape if d != 1]:
            src = [k for k, d in enumerate(x.shape) if d != 1]
            dst = [k for k, d in enumerate(shape) if d != 1]
            zero = ir.Constant(I64, 0)

            def at(idx, g=x):
                full = [zero] * len(g.shape)
                for s, d in zip(src, dst):
                    full[s] = idx[d]
                return g.at(full)
            return Gen(shape, x.dtype, at, x.cost) if shape else at([])
        arr = self.materialize(x) if not (isinstance(x, Arr) and x.contiguous) else x
        if not arr.contiguous:
            arr = self.materialize(self.as_gen(arr))
        out = Arr(arr.ptr, shape, arr.dtype, None, arr.offset, arr.owner)
        return out if shape else self.load(out, [])

    p_squeeze = p_reshape
    p_expand_dims = p_reshape

    def p_transpose(self, op, vals):
        x = vals[0]
        n = len(op.operands[0].type.shape)
        axes = op.attrs.get("axes")
        axes = tuple(range(n - 1, -1, -1)) if axes is None else tuple(a % n for a in axes)
        shape = tuple(op.result.type.shape)
        if isinstance(x, Arr):
            return Arr(x.ptr, shape, x.dtype, [x.strides[a] for a in axes], x.offset, x.owner)

        x = self.as_gen(x)

        def at(idx, g=x):
            src = [None] * n
            for k, a in enumerate(axes):
                src[a] = idx[k]
            return g.at(src)
        return Gen(shape, x.dtype, at, x.cost)

    def note_reads(self, op):
        """Record which buffers the lazy result of `op` (a Gen or a Pull, computed later) reads: those
        of its operands in memory, and what its lazy operands read."""
        x = self.low.env.get(id(op.result))
        if not isinstance(x, (Gen, Pull)):
            return
        reads = set()
        for v in op.operands:
            y = self.low.env.get(id(v))
            if isinstance(y, Arr) and y.owner is not None:
                reads.add(y.owner)
            reads |= self.reads.get(id(v), frozenset())
        self.reads[id(op.result)] = frozenset(reads)

    def _writable(self, acc_val, acc):
        """Whether the index_add/setitem now being lowered may write into `acc`'s memory: this kernel
        owns it, this is `acc`'s last use (an element read from it before, `y[i - 1]`, is in a
        register already), and every other value that holds or lazily reads that memory is dead —
        defined in this same block (not an outer one, which a loop reads again in its next
        iteration) with its last use already behind."""
        low = self.low
        here = low.blocks[-1] if low.blocks else None
        if not (isinstance(acc, Arr) and acc.owner is not None and acc.contiguous and
                low.last_use.get(id(acc_val)) == low.position and low.defined_in.get(id(acc_val)) == here):
            return False
        for vid, x in low.env.items():
            if vid == id(acc_val):
                continue
            holds = (isinstance(x, Arr) and x.owner == acc.owner) or acc.owner in self.reads.get(vid, ())
            if holds and not (low.defined_in.get(vid) == here and low.last_use.get(vid, -1) < low.position):
                return False
        return True

    def _accumulator(self, op, acc_val, acc):
        """The memory an index_add/setitem writes: the accumulator itself when nothing else reads
        it (see _writable), else a copy (into the output when there is one)."""
        dest = self.dest.get(id(op.result))
        if self._writable(acc_val, acc) and (dest is None or acc.owner == dest.owner):
            return acc
        return self.materialize(self.as_gen(acc), into=dest)

    def _scatter(self, op, out, g_val, plan, add):
        target = self.view(out, plan)
        g = self.broadcast(g_val, target.shape)

        def body(idx):
            v = g.at(idx)
            if add:
                ty = TYPES[out.dtype.name]
                m = LLVMMath(self.b, ty, self.low.module)
                v = m.add(convert(self.b, self.load(target, idx), ty), convert(self.b, v, ty))
            self.store(target, idx, v)
        if not target.shape:
            body([])
        else:
            self.nest(target.shape, body)

    @staticmethod
    def _box(plan):
        """A basic index as a box — per axis (first index, length), length None for an integer
        index — when it is one (static, unit steps, no new axes), else None."""
        out_shape, axes, result_axes = plan
        if None in result_axes:
            return None
        box, lengths = [], iter(out_shape)
        for a in axes:
            if a[0] == "int":
                if not isinstance(a[1], ir.Constant):
                    return None
                box.append((int(a[1].constant), None))
            elif a[2] != 1:
                return None
            else:
                box.append((a[1], next(lengths)))
        return box

    def p_scatter_add(self, op, vals):
        g, dyn = vals[0], vals[1:]
        shape = tuple(op.attrs["shape"])
        plan = self._index_plan(shape, op.attrs["idx"], dyn, op.loc)
        box = self._box(plan)
        if box is not None:
            return Pull(shape, op.result.type.dtype, None, [(box, g, "set")])
        out = self.dest.get(id(op.result)) or self.temp(shape, op.result.type.dtype)
        zero = ir.Constant(TYPES[np.dtype(op.result.type.dtype).name], 0)
        self.nest(shape, lambda idx: self.store(out, idx, zero))
        plan = self._index_plan(shape, op.attrs["idx"], dyn, op.loc)
        self._scatter(op, out, g, plan, add=True)
        return out

    def _into(self, op, vals, add):
        acc, v, dyn = vals[0], vals[1], vals[2:]
        if not isinstance(acc, _ARRAYS):
            raise NotLowerable(f"{op.name} into a 0-d array is not lowered", op.loc)
        shape = tuple(op.operands[0].type.shape)
        plan = self._index_plan(shape, op.attrs["idx"], dyn, op.loc)
        box = self._box(plan)
        if box is not None:
            new = (box, v, "add" if add else "set")
            if isinstance(acc, Pull):
                return Pull(shape, op.result.type.dtype, acc.base, acc.contribs + [new])
            return Pull(shape, op.result.type.dtype, acc, [new])
        if isinstance(acc, Pull):
            acc = self.materialize(acc)
        out = self._accumulator(op, op.operands[0], acc)
        self._scatter(op, out, v, plan, add=add)
        return out

    def p_index_add(self, op, vals):
        return self._into(op, vals, add=True)

    def p_setitem(self, op, vals):
        return self._into(op, vals, add=False)


class _Renamed:
    """An op seen as another reduction (sum_to is a sum over some axes)."""

    def __init__(self, op, name):
        self.name, self.attrs, self.result, self.loc, self.operands = name, {}, op.result, op.loc, op.operands

