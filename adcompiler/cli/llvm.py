"""`adc llvm`: the LLVM IR the native tier (backends/llvm) makes of a function or of its
adjoint, before or after LLVM's pipeline, or the machine code."""
from __future__ import annotations

import os
import sys

from ._registry import CLIError, command
from .target import load_function, parse_arg_specs, wrt_names

OPT_LEVELS = (0, 1, 2, 3)
ASM_OPT = 3   # --asm without --opt: the machine code the native tier runs


def _add_arguments(p):
    p.add_argument("target", metavar="FILE::FUNC", help="the function, as path/to/file.py::name")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=TYPE",
                   help="type of a parameter: f64, i64, bool (Python scalars), f64[] (0-d arrays); "
                        "repeat for each parameter without a default")
    p.add_argument("--grad", action="store_true", help="the generated adjoint instead of the function itself")
    p.add_argument("--wrt", action="append", default=[], metavar="NAME",
                   help="with --grad: differentiate with respect to these parameters (default: the first)")
    p.add_argument("--opt", type=int, choices=OPT_LEVELS, metavar="LEVEL",
                   help="after LLVM's pipeline at LEVEL 0-3 (default: 0, the IR as lowered; with --asm, 3)")
    p.add_argument("--asm", action="store_true", help="print the machine code (assembly) instead of LLVM IR")


def _ir_function(args):
    """The IR function the native tier would compile: the forward function, or with --grad its adjoint."""
    from ..compiler import UnsupportedSyntax
    fn = load_function(args.target)
    types = parse_arg_specs(args.arg, fn)
    if not args.grad:
        if args.wrt:
            raise CLIError("--wrt is for --grad (which adjoint to print)")
        from ..compiler.frontend import compile_function
        try:
            return compile_function(fn, types)
        except UnsupportedSyntax as e:
            raise CLIError(str(e)) from None
    from ..compiler.gradient import adjoint_ir_for_types
    wrt = wrt_names(args.wrt, types, default_first=True)
    try:
        return adjoint_ir_for_types(fn, types, wrt)[1]
    except (UnsupportedSyntax, TypeError) as e:
        raise CLIError(f"cannot compile the gradient: {e}") from None


def run(args):
    ir_fn = _ir_function(args)
    try:
        from ..backends import llvm as native
    except ImportError as e:
        raise CLIError(f"the native tier needs llvmlite: {e}") from None
    opt = args.opt if args.opt is not None else (ASM_OPT if args.asm else 0)
    def emit(fn):
        return native.assembly(fn, opt=opt) if args.asm else native.llvm_ir(fn, opt=opt)
    try:
        text = emit(ir_fn)
    except native.NotLowerable as whole:
        text = _regions(ir_fn, emit, whole, native)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


class _Shown:
    """A kernel as `adc llvm` shows it (outline() wants something with a name)."""

    def __init__(self, fn, text):
        self.name, self.fn, self.text = fn.name, fn, text


def _regions(ir_fn, emit, whole, native):
    """The function's array regions that become native kernels (backends/llvm/outline.py), each
    with its code, and what stays NumPy; or the refusal when no region does."""
    from ..backends.llvm.outline import outline
    try:
        done = outline(ir_fn, lambda kfn: _Shown(kfn, emit(kfn)))
    except native.NotLowerable:
        raise CLIError(f"not lowered: {_with_location(whole, ir_fn)}") from None
    out = [f"; {ir_fn.name} does not lower whole ({whole.reason}); {done.summary()}"]
    for k in done.kernels:
        loc = k.fn.loc
        out.append(f"\n; ---- kernel {k.name}" + (f" ({os.path.basename(loc[0])}:{loc[1]})" if loc and loc[0] else "")
                   + f": {len(k.fn.params)} inputs, computes what line(s) "
                   + ", ".join(sorted({str(o.loc[1]) for o in k.fn.body.ops if o.loc}, key=int)) + " compute")
        out.append(k.text)
    return "\n".join(out)


def _with_location(e, ir_fn):
    """The reason, ending with the user's file:line (the function's own line when the backend gives none)."""
    loc = getattr(ir_fn, "loc", None)
    if getattr(e, "loc", None) is not None or not loc or not loc[0]:
        return str(e)
    return f"{e} ({os.path.basename(loc[0])}:{loc[1]})"


run.add_arguments = _add_arguments
command("llvm", "Print the native tier's LLVM IR (or, with --asm, machine code) of a function or its adjoint.")(run)
