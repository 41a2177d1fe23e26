"""`adc grad` (print the generated adjoint of a function, or with --out write it as a standalone
module) and `adc explain`
(say whether `grad` compiles it or traces it, and why)."""
from __future__ import annotations

import sys

from ._registry import CLIError, command
from .target import load_function, parse_arg_specs, shape_env, wrt_names


def _add_arguments(p):
    p.add_argument("target", metavar="FILE::FUNC", help="the function, as path/to/file.py::name")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=TYPE",
                   help="type of a parameter: f64, i64, bool (Python scalars), f64[3,4], f32[] (arrays); "
                        "repeat for each parameter without a default")
    p.add_argument("--wrt", action="append", default=[], metavar="NAME",
                   help="differentiate with respect to these parameters (default: the first)")


def _build(args):
    from ..compiler.gradient import adjoint_ir_for_types
    fn = load_function(args.target)
    types = parse_arg_specs(args.arg, fn)
    wrt = wrt_names(args.wrt, types, default_first=True)
    return fn, types, wrt, adjoint_ir_for_types


def run_grad(args):
    from ..backends.python import emit_source
    from ..compiler import UnsupportedSyntax, print_function
    fn, types, wrt, build = _build(args)
    try:
        _fwd, adj = build(fn, types, wrt)
    except (UnsupportedSyntax, TypeError) as e:
        raise CLIError(f"cannot compile the gradient: {e}") from None
    env = shape_env(types)
    if env is not None:
        adj.read_shape_symbols(env)
    if args.out:
        from ..backends.export import ExportError, gradient_module
        if args.ir or args.fuse:
            raise CLIError("--out writes the standalone Python module; it does not go with --ir or --fuse")
        try:
            text = gradient_module(fn, _fwd, adj, wrt, with_value=True)
        except ExportError as e:
            raise CLIError(f"cannot export the gradient: {e}") from None
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.out}: {adj.name}({', '.join(p.hint for p in adj.params)}) -> (value, "
              f"{', '.join('d' + w for w in wrt)}), standalone (NumPy only)")
        return 0
    if args.fuse:
        from ..compiler import fuse
        adj = fuse(adj)
    sys.stdout.write(print_function(adj) if args.ir or args.fuse else emit_source(adj)[0])
    if env is not None:
        sys.stdout.write(f"# symbolic extents: {env.describe()}\n")
    return 0


def _add_grad_arguments(p):
    _add_arguments(p)
    p.add_argument("--ir", action="store_true", help="print the adjoint's IR instead of its Python source")
    p.add_argument("--fuse", action="store_true", help="print the adjoint's IR after the fusion pass: each run of "
                   "ops one native kernel can compute is a `fused` op")
    p.add_argument("--out", metavar="FILE.py", help="write the adjoint as a standalone module (needs only NumPy: "
                   "helpers and constants defined in it) instead of printing it")


def run_explain(args):
    from ..compiler import UnsupportedSyntax
    fn, types, wrt, build = _build(args)
    try:
        build(fn, types, wrt)
    except UnsupportedSyntax as e:
        print(f"{fn.__name__}: traced (dynamic tracing on the eager engine)\n  reason: {e}")
        return 0
    except TypeError as e:
        raise CLIError(str(e)) from None
    print(f"{fn.__name__}: compiled (reverse-mode source transformation), wrt {', '.join(wrt)}")
    return 0


run_grad.add_arguments = _add_grad_arguments
run_explain.add_arguments = _add_arguments
command("grad", "Print the generated reverse-mode adjoint (Python source, or --ir) of a function.")(run_grad)
command("explain", "Say whether grad compiles a function or traces it, and why.")(run_explain)
