"""Native kernels for the array regions of a function the native tier cannot lower whole.

A gradient with a matmul (BLAS through NumPy), an advanced index or a linalg call cannot become
one native kernel. `outline(fn)` runs the fusion pass (compiler/passes/fuse.py), which groups the
runs of ops a kernel can compute (elementwise chains, reductions, basic indexing, loops over array
elements ...) into `fused` ops, with this backend's cost rule as its `accept`; it then compiles
each `fused` op's region as an IR function of its own and returns a copy of `fn` in which each
compiled one is a `native_call` op, and each that does not lower is inlined back: the NumPy tier's
generated code then calls the kernels between its NumPy statements ("NumPy glue"). `explain()`
lists the kernels and what stayed NumPy, and why.

A kernel's results are arrays it allocates on each call (the NativeFunction glue), so the memory
analysis sees them as fresh; a kernel that reports an error Python would raise re-runs its run of
ops on the NumPy tier, which raises it.
"""
from __future__ import annotations

from ...compiler.ir import Block, Function, Op, clone, replace_uses, walk
from ...compiler.passes.fuse import MIN_ELEMENTS, fuse, fusible, size
from .abi import NotLowerable

__all__ = ["MIN_ELEMENTS", "Outlined", "outline"]


class Outlined:
    """The result of `outline`: the host IR (with native_call ops), the kernels and a summary."""

    def __init__(self, host, kernels, kept):
        self.host, self.kernels, self.kept = host, kernels, kept

    def summary(self):
        parts = [f"{len(self.kernels)} native kernel{'s' if len(self.kernels) != 1 else ''} for the array "
                 f"code, NumPy for the rest"]
        if self.kept:
            parts.append("kept as NumPy: " + "; ".join(self.kept[:4]) + (" ..." if len(self.kept) > 4 else ""))
        return ": ".join(parts[:1]) + ("; " + parts[1] if len(parts) > 1 else "")


def cost_rule(fn):
    """`accept` for the fusion pass: an elementwise op over LIBM_ELEMENTS or more that calls libm per
    element stays NumPy (NumPy's loops for tanh, exp, log ... are vectorised)."""
    from .arrays import LIBM_ELEMENTS
    from .math import per_element_call
    consts = {id(o.result): o.attrs["value"] for o in walk(fn.body) if o.name == "const"}

    def accept(op):
        if not (op.is_prim and op.prim.kind == "elementwise"):
            return True
        return size(op.result.type) < LIBM_ELEMENTS or not per_element_call(op, consts)
    return accept


def outline(fn, compile_kernel):
    """An Outlined for IR function `fn` (not changed), or NotLowerable when no run of it is worth a
    kernel. `compile_kernel(ir_fn)` compiles one run (raising NotLowerable)."""
    accept = cost_rule(fn)
    host = fuse(fn, accept, MIN_ELEMENTS)      # this module's MIN_ELEMENTS: tests lower it
    kernels, kept, ops, mapping = [], [], [], {}
    for op in host.body.ops:
        if op.name != "fused":
            ops.append(op)
            continue
        region = op.regions[0]
        try:
            kernel = compile_kernel(_kernel_function(f"{fn.name}_k{len(kernels)}", region, op.loc))
        except NotLowerable as e:
            kept.append(f"a run of {len(region.ops) - 1} ops at line {op.loc[1] if op.loc else '?'} ({e.reason})")
            ops += region.ops[:-1]           # back into the host: the NumPy tier runs them
            mapping.update((id(a), v) for a, v in zip(region.args, op.operands))
            mapping.update((id(r), y) for r, y in zip(op.results, region.ops[-1].operands))
            continue
        call = Op("native_call", op.operands, [r.type for r in op.results],
                  {"kernel": kernel, "tuple": len(op.results) > 1}, loc=op.loc, hints=[r.hint for r in op.results])
        mapping.update((id(r), new) for r, new in zip(op.results, call.results))
        ops.append(call)
        kernels.append(kernel)
    if not kernels:
        raise NotLowerable("no part of the function is worth a native kernel")
    host.body.ops = ops
    replace_uses(host.body, mapping)
    kept += [f"{op.name} at line {op.loc[1] if op.loc else '?'}" for op in fn.body.ops[:-1]
             if op.is_prim and not fusible(op, accept)]
    return Outlined(host, kernels, kept)


def _kernel_function(name, region, loc):
    """An IR function computing what a `fused` op's region computes (a copy: the region is not changed)."""
    body = Block()
    body.ops = region.ops[:-1]
    outs = region.ops[-1].operands
    if len(outs) == 1:
        ret = Op("return", [outs[0]], loc=loc)
    else:
        from ...compiler.types import TupleType
        tup = Op("tuple", outs, [TupleType(v.type for v in outs)], loc=loc)
        body.ops.append(tup)
        ret = Op("return", [tup.result], loc=loc)
    body.ops.append(ret)
    return clone(Function(name, region.args, body, loc))
