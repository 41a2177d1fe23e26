"""`adc graph EXPR --var x=2.0,3.0 [--out graph.svg]`: draw the backward graph of an expression.

The expression is parsed with `ast` and evaluated by a small interpreter that
allows only numbers, the variables given with --var, arithmetic operators,
calls of whitelisted adcompiler functions (`sin(x)`, `exp(x)`, ...) and
whitelisted Tensor methods (`x.sum()`); nothing else of Python is reachable.
Without --out the DOT text goes to stdout; a .dot/.gv path saves the DOT
text; .svg/.png/.pdf paths are rendered with Graphviz.
"""
from __future__ import annotations

import ast
import operator

from ._registry import CLIError, command

__all__ = ["evaluate", "parse_vars", "FUNCTIONS"]

FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "abs",
             "sign", "sum", "mean", "prod", "max", "min", "norm", "square", "reciprocal", "maximum", "minimum",
             "softmax", "log_softmax", "logsumexp", "dot", "matmul", "outer", "clamp", "pow", "var", "std")
METHODS = FUNCTIONS + ("t", "reshape", "flatten", "unsqueeze", "squeeze", "transpose", "permute")

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow, ast.MatMult: operator.matmul}
_UNOPS = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def parse_vars(specs):
    """["x=2.0,3.0", "y=1"] -> {"x": tensor([2., 3.], requires_grad=True), "y": tensor(1., requires_grad=True)}."""
    import adcompiler as ad
    out = {}
    for spec in specs or ():
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise CLIError(f"--var expects NAME=VALUE[,VALUE...], got {spec!r}")
        try:
            nums = [float(v) for v in values.split(",")]
        except ValueError:
            raise CLIError(f"--var {name}: values must be numbers separated by commas, got {values!r}") from None
        data = nums[0] if len(nums) == 1 else nums
        out[name] = ad.tensor(data, dtype=ad.float64, requires_grad=True)
    return out


def evaluate(expr, variables):
    """Evaluate `expr` over `variables` (name -> Tensor) with the restricted interpreter; CLIError if not allowed."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise CLIError(f"cannot parse expression {expr!r}: {e.msg} (column {e.offset})") from None
    try:
        return _Evaluator(variables).visit(tree.body)
    except CLIError:
        raise
    except Exception as e:  # an error of the computation itself (shapes, domains)
        raise CLIError(f"evaluating {expr!r} failed: {e}") from None


class _Evaluator(ast.NodeVisitor):
    def __init__(self, variables):
        self.vars = variables

    def generic_visit(self, node):
        raise CLIError(f"{type(node).__name__} is not allowed in an expression (column {node.col_offset + 1}); use "
                       f"numbers, --var names, + - * / ** @, and functions like sin(x), exp(x), x.sum()")

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id not in self.vars:
            known = ", ".join(sorted(self.vars)) or "none"
            raise CLIError(f"unknown name {node.id!r}; define it with --var {node.id}=VALUE (defined: {known})")
        return self.vars[node.id]

    def visit_BinOp(self, node):
        op = _BINOPS.get(type(node.op))
        if op is None:
            return self.generic_visit(node.op)
        left, right = self.visit(node.left), self.visit(node.right)
        if op is operator.pow and isinstance(left, int) and isinstance(right, int):
            left = float(left)  # `9**9**9` overflows at once instead of computing a huge integer
        return op(left, right)

    def visit_UnaryOp(self, node):
        op = _UNOPS.get(type(node.op))
        if op is None:
            return self.generic_visit(node.op)
        return op(self.visit(node.operand))

    def visit_Call(self, node):
        import adcompiler as ad
        f = node.func
        if isinstance(f, ast.Name):
            if f.id not in FUNCTIONS:
                raise CLIError(f"function {f.id!r} is not allowed; allowed: {', '.join(FUNCTIONS)}")
            target = getattr(ad, f.id)
        elif isinstance(f, ast.Attribute):
            if f.attr not in METHODS:
                raise CLIError(f"method {f.attr!r} is not allowed; allowed: {', '.join(METHODS)}")
            target = getattr(self.visit(f.value), f.attr)
        else:
            return self.generic_visit(f)
        args = [self.visit(a) for a in node.args]
        kwargs = {}
        for k in node.keywords:
            if k.arg is None:
                return self.generic_visit(k)
            kwargs[k.arg] = self.visit(k.value)
        return target(*args, **kwargs)

    def visit_Tuple(self, node):  # only as arguments, e.g. x.permute((1, 0))
        return tuple(self.visit(e) for e in node.elts)


def _add_arguments(p):
    p.add_argument("expression", help='an expression such as "x**2 + 3*x" or "sin(x) * y"')
    p.add_argument("--var", action="append", default=[], metavar="NAME=V[,V...]",
                   help="an input that requires grad: one number (0-d) or a comma-separated vector; repeatable")
    p.add_argument("--out", help="write here: .svg/.png/.pdf (needs Graphviz) or .dot/.gv (DOT text)")
    p.add_argument("--saved", action="store_true", help="also show the tensors each node saved for backward")
    p.add_argument("--order", action="store_true", help="number the nodes in the order backward runs them")


def _flags(add_arguments):
    """Attach `add_arguments` to a run function before @command registers it (it reads the attribute then)."""
    def attach(run):
        run.add_arguments = add_arguments
        return run
    return attach


@command("graph", help="draw the backward graph of an expression over named inputs (Graphviz DOT)")
@_flags(_add_arguments)
def run(args):
    from ..tensor import Tensor
    from ..viz import GraphvizNotFound, make_dot
    variables = parse_vars(args.var)
    result = evaluate(args.expression, variables)
    if not isinstance(result, Tensor) or not result.requires_grad:
        raise CLIError(f"{args.expression!r} does not depend on any --var input, so it has no backward graph")
    dot = make_dot(result, params=variables, show_saved=args.saved, show_order=args.order)
    if not args.out:
        print(dot.source, end="")
        return 0
    try:
        if args.out.lower().endswith((".dot", ".gv")):
            dot.save(args.out)
        else:
            dot.render(args.out)
    except (GraphvizNotFound, OSError, ValueError, RuntimeError) as e:
        hint = " (or write the DOT text with --out graph.dot)" if isinstance(e, GraphvizNotFound) else ""
        raise CLIError(f"{e}{hint}") from None
    print(f"wrote {args.out}")
    return 0

