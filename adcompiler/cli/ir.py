"""`adc ir`: print the IR of a function, optionally after passes, with activity, or fused."""
from __future__ import annotations

import sys

from ._registry import CLIError, command
from .target import load_function, parse_arg_specs, shape_env, wrt_names


def _add_arguments(p):
    from ..compiler.passes import PIPELINE
    p.add_argument("target", metavar="FILE::FUNC", help="the function, as path/to/file.py::name")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=TYPE",
                   help="type of a parameter: f64, i64, bool (Python scalars), f64[3,4], f32[] (arrays), "
                        "(f64, f64[2]) (tuples); repeat for each parameter without a default")
    p.add_argument("--after", choices=[n for n, _ in PIPELINE], metavar="PASS",
                   help="print after running the passes up to PASS: " + ", ".join(n for n, _ in PIPELINE))
    p.add_argument("--wrt", action="append", default=[], metavar="NAME",
                   help="mark the values active for derivatives with respect to these parameters")
    p.add_argument("--fuse", action="store_true",
                   help="print after the fusion pass: each run of ops one native kernel can compute is a `fused` op")


def run(args):
    from ..compiler import UnsupportedSyntax, activity, compile_function, fuse, optimize, print_function
    fn = load_function(args.target)
    types = parse_arg_specs(args.arg, fn)
    try:
        ir = compile_function(fn, types)
    except UnsupportedSyntax as e:
        raise CLIError(str(e)) from None
    if args.after:
        ir = optimize(ir, until=args.after)
    if args.wrt:
        ir = activity(ir, wrt_names(args.wrt, types))
    if args.fuse:
        ir = fuse(ir)
    sys.stdout.write(print_function(ir))
    env = shape_env(types)
    if env is not None:
        sys.stdout.write(f"# symbolic extents: {env.describe()}\n")
    return 0


run.add_arguments = _add_arguments
command("ir", "Print a function's typed SSA IR (optionally after passes, with activity, or fused).")(run)
