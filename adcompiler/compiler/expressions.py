"""Expressions of the front end: names, literals, operators, calls, attributes
and subscripts, evaluated to front-end values (see values.py).

A mixin of `Frontend` (frontend.py), which holds the builder, the variable
environment and the control-flow machinery this module calls into.
"""
from __future__ import annotations

from .. import ops as _ops
from ..ops.dims import Dim

import functools
import math
import operator
import types as pytypes

import libcst as cst
import numpy as np

from . import closures, library, lists
from .errors import UnsupportedSyntax
from .ir import Value
from .types import F64, ArrayType, type_of_value, ScalarType, TupleType
from .values import BoundMethod, GrowList, ListBuffer, PyTuple, Static, Undefined
from ..ops import Dyn

_BINOPS = {  # libcst node type -> (primitive, python operator, symbol)
    cst.Add: ("add", operator.add, "+"), cst.Subtract: ("sub", operator.sub, "-"),
    cst.Multiply: ("mul", operator.mul, "*"), cst.Divide: ("div", operator.truediv, "/"),
    cst.Power: ("pow", operator.pow, "**"), cst.MatrixMultiply: ("matmul", operator.matmul, "@"),
    cst.FloorDivide: ("floor_divide", operator.floordiv, "//"), cst.Modulo: ("remainder", operator.mod, "%"),
    cst.BitAnd: ("logical_and", operator.and_, "&"), cst.BitOr: ("logical_or", operator.or_, "|"),
    cst.BitXor: (None, operator.xor, "^"), cst.LeftShift: (None, operator.lshift, "<<"),
    cst.RightShift: (None, operator.rshift, ">>"),
}
_AUGOPS = {
    cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide, cst.PowerAssign: cst.Power, cst.MatrixMultiplyAssign: cst.MatrixMultiply,
    cst.FloorDivideAssign: cst.FloorDivide, cst.ModuloAssign: cst.Modulo, cst.BitAndAssign: cst.BitAnd,
    cst.BitOrAssign: cst.BitOr, cst.BitXorAssign: cst.BitXor, cst.LeftShiftAssign: cst.LeftShift,
    cst.RightShiftAssign: cst.RightShift,
}
_CMPOPS = {
    cst.LessThan: ("lt", operator.lt), cst.LessThanEqual: ("le", operator.le),
    cst.GreaterThan: ("gt", operator.gt), cst.GreaterThanEqual: ("ge", operator.ge),
    cst.Equal: ("eq", operator.eq), cst.NotEqual: ("ne", operator.ne),
    cst.Is: (None, operator.is_), cst.IsNot: (None, operator.is_not),
    cst.In: (None, lambda a, b: a in b), cst.NotIn: (None, lambda a, b: a not in b),
}
_UNSUPPORTED_EXPR = {
    cst.SetComp: "set comprehensions are not supported", cst.DictComp: "dict comprehensions are not supported",
    cst.Dict: "dict displays are not supported", cst.Set: "set displays are not supported",
    cst.FormattedString: "f-strings are not supported", cst.NamedExpr: "assignment expressions (:=) are not supported",
    cst.Await: "await is not supported", cst.Yield: "yield is not supported (generators cannot be compiled)",
}
_PRIM_PYOP = {p: f for p, f, _ in _BINOPS.values() if p}
_SIMPLE = (cst.Name, cst.Integer, cst.Float, cst.Comparison, cst.UnaryOperation, cst.BinaryOperation,
           cst.BooleanOperation, cst.Attribute)
_MODULE_NAMES = {np: "np", math: "math", np.linalg: "np.linalg"}


class ExpressionMixin:
    # ---- names -----------------------------------------------------------
    def lookup(self, name, node):
        v = self.env.get(name)
        if v is None:
            try:
                value, ref = self.ctx.lookup_global(name)
            except KeyError:
                self.fail(f"name '{name}' is not defined", node)
            return Static(value) if ref is None else self.external(value, ref, node)
        if isinstance(v, Undefined):
            self.fail(v.reason, node)
        if isinstance(v, (lists.ListProbe, lists.Appending)):
            self.fail(f"reading the list '{name}' inside the loop that appends to it is not supported (keep the "
                      "value you need in a variable of its own)", node)
        return v

    def live_constant(self, array, node):
        """An array made outside the function (a default argument, an item of a container compiled
        in) as a constant the generated code reads when it runs, never folded, so an in-place
        change to it is seen."""
        self.b.loc = self.loc(node)
        v = self.b.const(array)
        self.b.block.ops[-1].attrs["live"] = True
        return v

    # ---- dispatch --------------------------------------------------------
    def expr(self, node):
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            self.fail(_UNSUPPORTED_EXPR.get(type(node), f"{_describe(node)} is not supported"), node)
        return method(node)

    def expr_Name(self, node):
        return self.lookup(node.value, node)

    def expr_Integer(self, node):
        return Static(node.evaluated_value)

    expr_Float = expr_Integer
    expr_Imaginary = expr_Integer

    def expr_SimpleString(self, node):
        return Static(node.evaluated_value)

    def expr_ConcatenatedString(self, node):
        return Static(node.evaluated_value)

    def expr_Ellipsis(self, node):
        return Static(Ellipsis)

    def expr_Tuple(self, node):
        return PyTuple(self._elements(node))

    def expr_List(self, node):
        return PyTuple(self._elements(node), is_list=True)

    def expr_Lambda(self, node):
        return closures.define(self, node)

    def expr_ListComp(self, node):
        return lists.comprehension(self, node)

    expr_GeneratorExp = expr_ListComp

    def _elements(self, node):
        out = []
        for e in node.elements:
            if isinstance(e, cst.StarredElement):
                self.fail("starred expressions are not supported", e)
            out.append(self.expr(e.value))
        return out

    # ---- operators -------------------------------------------------------
    def expr_BinaryOperation(self, node):
        left, right = self.expr(node.left), self.expr(node.right)
        return self.binop_node(type(node.operator), left, right, node)

    def binop_node(self, op_type, left, right, node):
        prim, pyop, sym = _BINOPS[op_type]
        if isinstance(left, Static) and isinstance(right, Static):
            if prim is not None and _extent_at_run_time(pyop, left.value, right.value):
                self.node = node
                return self.prim(prim, left, right)
            # an operator on arrays known at compile time makes a new array, which the code may write into
            return self.static_call(pyop, [left.value, right.value], {}, node, fresh=True)
        if isinstance(left, PyTuple) and isinstance(right, PyTuple) and sym == "+":
            return PyTuple(left.items + right.items)
        if prim is None:
            self.fail(f"the operator {sym} on run-time values is not supported (no primitive for it)", node)
        if prim in ("logical_and", "logical_or"):
            for v in (left, right):
                if self.type_of(v).dtype != np.bool_:
                    self.fail(f"the operator {sym} is supported on booleans only", node)
        self.node = node
        return self.binop(prim, left, right)

    def binop(self, prim, left, right):
        if isinstance(left, Static) and isinstance(right, Static):
            return self.static_call(_PRIM_PYOP[prim], [left.value, right.value], {}, self.node)
        return self.prim(prim, left, right)

    def expr_UnaryOperation(self, node):
        x = self.expr(node.expression)
        op = type(node.operator)
        if isinstance(x, Static):
            fn = {cst.Minus: operator.neg, cst.Plus: operator.pos, cst.Not: operator.not_,
                  cst.BitInvert: operator.invert}[op]
            return self.static_call(fn, [x.value], {}, node)
        self.node = node
        if op is cst.Plus:
            return x
        if op is cst.Minus:
            return self.prim("neg", x)
        if op is cst.Not:
            return self.prim("logical_not", self.truth(x, node))
        if self.type_of(x).dtype == np.bool_:
            return self.prim("logical_not", x)
        self.fail("the operator ~ on integers is not supported", node)

    def expr_Comparison(self, node):
        left = self.expr(node.left)
        result = None
        for k, comp in enumerate(node.comparisons):
            right = self.expr(comp.comparator)
            prim, pyop = _CMPOPS[type(comp.operator)]
            if isinstance(left, Static) and isinstance(right, Static):
                part = self.static_call(pyop, [left.value, right.value], {}, node)
            elif prim is None:
                part = self._identity_test(type(comp.operator), left, right, node)
            else:
                self.node = node
                part = self.prim(prim, left, right)
            result = part if result is None else self._and(result, part, node)
            left = right
        return result

    def _identity_test(self, op, left, right, node):
        if op in (cst.Is, cst.IsNot):
            # a run-time value is never None unless its type is none
            lt, rt = (self.type_of(v) for v in (left, right))
            same = str(lt) == "none" and str(rt) == "none"
            if not (isinstance(left, Static) and left.value is None or isinstance(right, Static) and right.value is None):
                self.fail("'is' between run-time values is not supported", node)
            return Static(same if op is cst.Is else not same)
        self.fail("'in' on run-time values is not supported", node)

    def _and(self, a, b, node):
        if isinstance(a, Static):
            return b if a.value else a
        if isinstance(b, Static):
            return a if b.value else b
        self.node = node
        return self.prim("logical_and", a, b)

    def expr_BooleanOperation(self, node):
        left = self.expr(node.left)
        is_and = isinstance(node.operator, cst.And)
        if isinstance(left, Static):
            # Python semantics: `a and b` is b when a is true, else a
            return self.expr(node.right) if bool(left.value) == is_and else left
        lt = self.type_of(left)
        if lt.dtype == np.bool_ and isinstance(node.right, _SIMPLE) and _is_simple(node.right):
            right = self.expr(node.right)
            if isinstance(right, Static) or self.type_of(right).dtype == np.bool_:
                if isinstance(right, Static):
                    return self._and(left, right, node) if is_and else (left if not right.value else right)
                self.node = node
                return self.prim("logical_and" if is_and else "logical_or", left, right)
        # short-circuit: evaluate the right side only when Python would
        cond = self.truth(left, node)
        then_fn = (lambda: [self.expr(node.right)]) if is_and else (lambda: [left])
        else_fn = (lambda: [left]) if is_and else (lambda: [self.expr(node.right)])
        return self.if_values(cond, then_fn, else_fn, node)

    def expr_IfExp(self, node):
        test = self.expr(node.test)
        if isinstance(test, Static):
            return self.expr(node.body if test.value else node.orelse)
        cond = self.truth(test, node)
        return self.if_values(cond, lambda: [self.expr(node.body)], lambda: [self.expr(node.orelse)], node)

    # ---- attributes ------------------------------------------------------
    def expr_Attribute(self, node):
        name = node.attr.value
        if name == "append" and isinstance(node.value, cst.Name):
            obj = self.env.get(node.value.value)
            if isinstance(obj, (lists.ListProbe, lists.Appending, ListBuffer, GrowList)) or \
                    isinstance(obj, PyTuple) and obj.is_list:
                return BoundMethod(obj, "append")
        obj = self.expr(node.value)
        if isinstance(obj, Static):
            try:
                got = getattr(obj.raw, name)
            except AttributeError:
                self.fail(f"'{_static_name(obj.raw)}' has no attribute '{name}'", node)
            if obj.ref is not None:   # read on every call, or guarded (external.py)
                return self.external(got, obj.ref.attr(name))
            return Static(got)
        if isinstance(obj, Value) and obj.type.is_array or isinstance(obj, Value) and obj.type.is_scalar:
            self.node = node
            got = library.array_attribute(self, obj, name)
            if got is not None:
                return got
            if name in library.METHODS:
                return BoundMethod(obj, name)
            self.fail(f"the array attribute or method '.{name}' is not supported", node)
        self.fail(f"attribute '.{name}' of a value of type {self.type_of(obj)} is not supported", node)

    # ---- calls -----------------------------------------------------------
    def expr_Call(self, node):
        func = self.expr(node.func)
        args, kwargs = [], {}
        for a in node.args:
            if a.star:
                self.fail(f"calls with {a.star}arguments are not supported", a)
            v = self.expr(a.value)
            if a.keyword is not None:
                kwargs[a.keyword.value] = v
            else:
                args.append(v)
        return self.call(func, args, kwargs, node)

    def call(self, func, args, kwargs, node):
        if isinstance(func, BoundMethod) and func.name == "append":
            if len(args) != 1 or kwargs:
                self.fail("list.append() takes exactly one argument", node)
            self.env[node.func.value.value] = lists.append(self, func.obj, args[0], node)
            return Static(None)
        if isinstance(func, closures.Closure):
            return closures.call(self, func, args, kwargs, node)
        if isinstance(func, BoundMethod):
            self.callee, self.callee_name = None, f".{func.name}()"
            return self._lower(library.METHODS[func.name], [func.obj] + args, kwargs, node)
        if not isinstance(func, Static):
            self.fail("calling a run-time value is not supported", node)
        fn = func.value
        name = _static_name(fn)
        self.callee, self.callee_name = fn, name
        if library.is_known(fn) or _is_library(fn) or fn in _PURE_BUILTINS:
            # a literal tuple or list of constants, np.zeros((4, 3)), is a constant itself; a list of
            # arrays from outside the function is its items, each read when the code runs
            args = [self._open_container(_constant_display(a)) for a in args]
            kwargs = {k: self._open_container(_constant_display(v)) for k, v in kwargs.items()}
        all_static = all(isinstance(a, Static) for a in args) and all(isinstance(v, Static) for v in kwargs.values())
        if library.is_known(fn) or _is_library(fn):
            if all_static:
                return self.static_call(fn, [a.value for a in args], {k: v.value for k, v in kwargs.items()}, node,
                                        fresh=id(fn) in library.STATIC_ONLY)
            if id(fn) in library.STATIC_ONLY and library.LOWERINGS.get(id(fn)) is None:
                self.fail(f"{name}() needs arguments known at compile time (array shapes must be static)", node)
            lower = library.LOWERINGS.get(id(fn))
            if lower is None:
                self.fail(f"{name}() is not supported by the compiler (no primitive for it)", node)
            return self._lower(lower, args, kwargs, node)
        if fn is print:
            self.fail("print() is not supported in compiled functions", node)
        if fn is map or fn is functools.reduce:
            return self._map_reduce(fn, args, kwargs, node)
        if fn is range:
            self.fail("range() is only supported as the iterable of a for loop", node)
        if fn in (enumerate, zip, reversed):
            self.fail(f"{fn.__name__}() is only supported as the iterable of a for loop", node)
        if fn is tuple or fn is list:
            if len(args) == 1 and isinstance(args[0], ListBuffer):
                return PyTuple(lists.rows(self, args[0]), is_list=fn is list)
            if len(args) == 1 and isinstance(args[0], PyTuple):
                return PyTuple(args[0].items, is_list=fn is list)
            if len(args) == 1 and isinstance(args[0], Value) and args[0].type.is_tuple:
                return PyTuple(self.unpack(args[0], len(args[0].type.elems), node))
        if isinstance(fn, pytypes.FunctionType):
            return self.inline(fn, args, kwargs, node)
        if isinstance(fn, (type, pytypes.BuiltinFunctionType)) and all_static and fn in _PURE_BUILTINS:
            return self.static_call(fn, [a.value for a in args], {k: v.value for k, v in kwargs.items()}, node)
        if isinstance(fn, _ops.Primitive):  # a table primitive called directly (as generated adjoints do)
            params = {k: self.static(v, f"{fn.name}'s parameter {k}") for k, v in kwargs.items()}
            return self.prim(fn.name, *args, **params)
        from ..api import GradFunction
        if isinstance(fn, GradFunction):
            self.fail(f"calling a gradient function (grad of {fn.fn.__name__ if hasattr(fn.fn, '__name__') else name}) "
                      "inside compiled code is not supported", node)
        self.fail(f"calling {name} is not supported", node)

    def _map_reduce(self, fn, args, kwargs, node):
        """map(f, xs, ...) and functools.reduce(f, xs[, init]) over iterables of a length known at
        compile time: unrolled calls of f (a lambda, nested function or helper)."""
        name = "map" if fn is map else "functools.reduce"
        if kwargs or len(args) < 2 or fn is not map and len(args) > 3:
            self.fail(f"bad call to {name}()", node)
        f = args[0]
        columns = [self._static_length_items(a, name, node) for a in (args[1:] if fn is map else args[1:2])]
        call = lambda *xs: self.call(f, list(xs), {}, node)   # noqa: E731
        if fn is map:
            return PyTuple([call(*xs) for xs in zip(*columns)], is_list=True)
        items = list(columns[0])
        acc = args[2] if len(args) == 3 else items.pop(0) if items else self.fail(
            "reduce() of an empty iterable with no initial value", node)
        for item in items:
            acc = call(acc, item)
        return acc

    def _static_length_items(self, x, what, node):
        if isinstance(x, ListBuffer):
            return lists.rows(self, x)
        it = self._iterate_value(x, node)
        if isinstance(it, list):
            return it
        if it.length is None or not all(isinstance(b, Static) for b in (it.start, it.step)):
            self.fail(f"{what}() needs an iterable whose length is known at compile time", node)
        return [it.item(Static(it.start.value + k * it.step.value)) for k in range(it.length)]

    def _open_container(self, x):
        """A list or tuple read from outside the function that holds arrays, as a PyTuple of its
        items read through their own Refs (an array changed in place is seen on the next call; the
        container's length and items' identity are guarded)."""
        if not (isinstance(x, Static) and x.ref is not None and isinstance(x.raw, (list, tuple))
                and _holds_array(x.raw)):
            return x
        items = x.value   # guarded
        return PyTuple([self._open_container(self.external(v, x.ref.item(k))) for k, v in enumerate(items)],
                       is_list=isinstance(items, list))

    def _lower(self, lower, args, kwargs, node):
        self.node = node
        args = [None if isinstance(a, Static) and a.value is None else a for a in args]
        kwargs = {k: None if isinstance(v, Static) and v.value is None else v for k, v in kwargs.items()}
        try:
            return lower(self, *args, **kwargs)
        except TypeError as e:
            if isinstance(e, UnsupportedSyntax):
                raise
            self.fail(f"bad call to {self.callee_name}: {e}", node)

    def static_call(self, fn, args, kwargs, node, fresh=False):
        """Run a pure function at compile time on static arguments."""
        try:
            with np.errstate(all="ignore"):
                out = fn(*args, **kwargs)
        except Exception as e:
            self.fail(f"{_static_name(fn)}: {type(e).__name__}: {e}", node)
        return Static(out, fresh=fresh and isinstance(out, np.ndarray))

    # ---- subscripts ------------------------------------------------------
    def expr_Subscript(self, node):
        if isinstance(node.value, cst.Name) and isinstance(self.env.get(node.value.value),
                                                           (lists.Appending, lists.ListProbe)):
            return lists.read_appending(self, self.env[node.value.value], self.index(node), node)
        base = self.expr(node.value)
        parts, dyn = self.index(node)
        if isinstance(base, GrowList):      # an item or a slice of the stacked items
            self.node = node
            if not (isinstance(parts, (int, np.integer, slice)) or isinstance(parts, Dyn)):
                self.fail("a list can only be indexed with an integer or a slice", node)
            if isinstance(parts, slice):
                self.fail(f"a slice of the list '{base.name}' (whose length is known only at run time) is a list; "
                          f"slice the array instead: np.stack({base.name})[...]", node)
            if isinstance(parts, (int, np.integer)) and parts not in (0, -1):
                dyn, parts = [self.val(Static(int(parts)))], Dyn(0)    # NumPy checks its range when it runs
            return self.prim("getitem", lists.as_array(self, base), *dyn, idx=parts)
        if isinstance(base, ListBuffer):
            self.node = node
            if isinstance(parts, slice):
                return ListBuffer(self.prim("getitem", base.array, idx=parts), len(range(base.length)[parts]))
            if not (isinstance(parts, (int, np.integer)) or isinstance(parts, Dyn)):
                self.fail("a list can only be indexed with an integer or a slice", node)
            if isinstance(parts, (int, np.integer)) and not -base.length <= parts < base.length:
                self.fail("IndexError: list index out of range", node)
            return self.prim("getitem", base.array, *dyn, idx=parts)
        if (isinstance(base, Static) and base.ref is not None and not dyn and isinstance(base.raw, (dict, list, tuple))
                and isinstance(parts, (int, str))):
            try:
                got = base.raw[parts]
            except Exception as e:
                self.fail(f"{type(e).__name__}: {e}", node)
            return self.external(got, base.ref.item(parts))
        if isinstance(base, Static) and not dyn:
            return self.static_call(operator.getitem, [base.value, parts], {}, node)
        if isinstance(base, PyTuple) or isinstance(base, Static) and isinstance(base.value, (tuple, list)):
            if dyn:
                self.fail("indexing a tuple with a run-time index is not supported", node)
            items = base.items if isinstance(base, PyTuple) else [Static(v) for v in base.value]
            got = self.static_call(operator.getitem, [items, parts], {}, node).value
            return PyTuple(got) if isinstance(got, list) else got
        v = self.val(base)
        if v.type.is_tuple:
            if dyn or not isinstance(parts, int):
                self.fail("a tuple can only be indexed with a constant integer", node)
            return self.unpack(v, len(v.type.elems), node)[parts]
        self.node = node
        return self.prim("getitem", v, *dyn, idx=parts)

    def index(self, node):
        """The static index template of a subscript and its run-time parts."""
        dyn = []
        parts = [self._index_part(e, dyn) for e in node.slice]
        single = len(parts) == 1 and node.slice[0].comma == cst.MaybeSentinel.DEFAULT
        return (parts[0] if single else tuple(parts)), dyn

    def _index_part(self, elem, dyn):
        s = elem.slice
        if isinstance(s, cst.Slice):
            bounds = []
            for b in (s.lower, s.upper, s.step):
                if b is None:
                    bounds.append(None)
                    continue
                v = self.expr(b)
                if not isinstance(v, Static):
                    self.fail("slice bounds must be known at compile time (the result's shape would depend on "
                              "a run-time value)", b)
                bounds.append(v.value)
            return slice(*bounds)
        v = _constant_display(self.expr(s.value))
        if isinstance(v, Static):
            x = v.value
            return np.asarray(x) if isinstance(x, list) else x
        if isinstance(v, (PyTuple, ListBuffer)):   # x[[i, j]]: an index array
            v = lists.as_array(self, v)
        v = self.val(v)
        if v.type.dtype == np.bool_:
            self.fail("indexing with a boolean mask computed at run time is not supported: the result's shape "
                      "depends on the data (use np.where(mask, x, 0), or x[mask] = v with a scalar v)", s.value)
        if v.type.dtype.kind not in "iu":
            self.fail(f"an index must be an integer, not {v.type}", s.value)
        dyn.append(v)
        return Dyn(len(dyn) - 1)

    # ---- helpers for lowerings --------------------------------------------
    def static(self, x, what):
        if not isinstance(x, (Static, PyTuple, Value, BoundMethod, Undefined)):
            return x    # a lowering's own default
        if isinstance(x, Static):
            return x.value
        if isinstance(x, PyTuple) and all(isinstance(i, Static) for i in x.items):
            return tuple(i.value for i in x.items)
        self.fail(f"{what} must be known at compile time", self.node)

    def items(self, seq):
        if isinstance(seq, PyTuple):
            return [self.val(lists.as_array(self, i)) for i in seq.items]
        if isinstance(seq, ListBuffer):
            return lists.rows(self, seq)
        v = self.val(seq)
        if v.type.is_tuple:
            return self.unpack(v, len(v.type.elems), self.node)
        self.fail("expected a list or tuple of arrays", self.node)

    def check_scalar(self, v):
        if v.type.is_array and v.type.size != 1:
            self.fail(f"{self.callee_name} needs a scalar, got an array of type {v.type}", self.node)

    def to_weak(self, v):
        """Retype a just-made scalar result as a Python scalar (math.*, float(), ...)."""
        if v.type.is_array and v.type.shape == ():
            v.type = ScalarType(F64.dtype if v.type.dtype.kind == "f" else v.type.dtype)
        return v

    def type_of(self, x):
        if isinstance(x, Value):
            return x.type
        if isinstance(x, Static):
            return type_of_value(x.raw)
        if isinstance(x, PyTuple):
            return TupleType(self.type_of(i) for i in x.items)
        if isinstance(x, ListBuffer):
            return TupleType([ArrayType(x.array.type.dtype, x.array.type.shape[1:])] * x.length)
        if isinstance(x, GrowList):
            self.fail(f"the list '{x.name}' has a length known only at run time; read it as an array "
                      f"(np.stack({x.name}))", self.node)
        if isinstance(x, closures.Closure):
            self.fail(f"the function '{x.name}' is not a value with a type (only call it)", self.node)
        self.fail("a method is not a value", self.node)


_PURE_BUILTINS = {abs, min, max, sum, len, float, int, bool, round, tuple, list, range, isinstance, divmod, pow,
                  slice}


def _holds_array(v):
    if isinstance(v, np.ndarray):
        return True
    return isinstance(v, (list, tuple)) and any(_holds_array(i) for i in v)


def _constant_display(x):
    if isinstance(x, PyTuple) and x.items:
        items = [_constant_display(i) for i in x.items]
        if all(isinstance(i, Static) for i in items):
            values = [i.value for i in items]
            return Static(values if x.is_list else tuple(values))
    return x


def _is_simple(node):
    if isinstance(node, (cst.Name, cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Attribute):
        return _is_simple(node.value)
    if isinstance(node, cst.Comparison):
        return _is_simple(node.left) and all(_is_simple(c.comparator) for c in node.comparisons)
    if isinstance(node, cst.UnaryOperation):
        return _is_simple(node.expression)
    if isinstance(node, (cst.BinaryOperation, cst.BooleanOperation)):
        return _is_simple(node.left) and _is_simple(node.right)
    return False


def _is_library(fn):
    mod = getattr(fn, "__module__", None) or ""
    return isinstance(fn, np.ufunc) or mod.startswith("numpy") or mod == "math"


def _static_name(obj):
    if isinstance(obj, pytypes.ModuleType):
        return _MODULE_NAMES.get(obj, obj.__name__)
    name = getattr(obj, "__name__", None)
    if name is None:
        return type(obj).__name__
    mod = getattr(obj, "__module__", None)
    if isinstance(obj, np.ufunc) or (mod or "").startswith("numpy"):
        return f"np.{name}"
    if mod == "math":
        return f"math.{name}"
    return name


def _describe(node):
    name = type(node).__name__
    return {"Subscript": "this subscript"}.get(name, f"the expression {name}")


_INT_CLOSED = frozenset({operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod})


def _extent_at_run_time(pyop, a, b):
    """Whether `a pyop b` on a symbolic extent (ops/dims.py) is computed by the code at run time:
    what is not an integer expression of extents (`1.0 / len(x)`, `n ** 2`)."""
    if not (isinstance(a, Dim) or isinstance(b, Dim)):
        return False
    ints = all(isinstance(v, (int, Dim)) and not isinstance(v, bool) for v in (a, b))
    return not (ints and pyop in _INT_CLOSED)
