"""IR values as primitive arguments: inside a Builder, calling a primitive or
a VJP rule of the table on IR values emits ops (how the reverse transform will
build adjoint code without a second copy of any derivative formula)."""
import numpy as np
import pytest

from adcompiler import ops
from adcompiler.compiler import Builder, Function, Value, parse_type, print_function, verify
from adcompiler.compiler.interpret import interpret


def body(fn):
    return [line.split("#")[0].rstrip() for line in print_function(fn).splitlines()[1:-1]]


def test_primitive_calls_on_ir_values_append_ops_with_types_from_the_table():
    x = Value(parse_type("f32[2,3]"), "x")
    with Builder() as b:
        y = ops.mul(x, 2.0)              # a weak Python scalar keeps f32
        s = ops.sum_(y, axis=1, keepdims=False)
    assert [op.name for op in b.block.ops] == ["const", "mul", "sum"]
    assert str(y.type) == "f32[2,3]" and str(s.type) == "f32[2]"
    assert s.shape == (2,) and s.dtype == np.float32


def test_ir_values_need_an_active_builder():
    x = Value(parse_type("f64"), "x")
    with pytest.raises(RuntimeError, match="inside `with Builder"):
        ops.sin(x)


def test_shape_errors_from_the_table_surface_as_unsupported():
    from adcompiler.compiler import UnsupportedSyntax
    a, c = Value(parse_type("f64[3]"), "a"), Value(parse_type("f64[4]"), "c")
    with Builder(), pytest.raises(UnsupportedSyntax, match="add: shape mismatch"):
        ops.add(a, c)


def test_adjoint_of_a_tiny_function_from_the_tables_vjp_rules():
    # f(x, y) = sum(sin(x) * y); build df/dx, df/dy from the VJP rules on IR values
    x, y = Value(parse_type("f64[3]"), "x"), Value(parse_type("f64"), "y")
    with Builder(loc=("f.py", 1, 0)) as b:
        a = ops.sin(x)
        m = ops.mul(a, y)
        s = ops.sum_(m, axis=None, keepdims=False)
        g = b.const(1.0)
        gm = ops.sum_.vjp_rule(0)(g, m, s, axis=None, keepdims=False)
        ga = ops.mul.vjp_rule(0)(gm, a, y, m)
        gy = ops.mul.vjp_rule(1)(gm, a, y, m)
        gx = ops.sin.vjp_rule(0)(ga, x, a)
        b.return_(b.tuple([gx, gy]))
    fn = verify(Function("grad_f", [x, y], b.block))
    assert body(fn) == [
        "  %0 = sin %x : f64[3]",
        "  %1 = mul %0, %y : f64[3]",
        "  %2 = sum %1 {axis=None, keepdims=False} : f64[]",
        "  %3 = const 1.0 : f64",
        "  %4 = reshape %3 {shape=(1,)} : f64[1]",
        "  %5 = broadcast_to %4 {shape=(3,)} : f64[3]",
        "  %6 = mul %5, %y : f64[3]",
        "  %7 = mul %5, %0 : f64[3]",
        "  %8 = sum_to %7 {shape=()} : f64[]",
        "  %9 = cos %x : f64[3]",
        "  %10 = mul %6, %9 : f64[3]",
        "  %11 = tuple %10, %8 : (f64[3], f64[])",
        "  return %11",
    ]
    xv, yv = np.array([0.1, 0.2, 0.3]), 1.7
    gx_v, gy_v = interpret(fn, xv, yv)
    np.testing.assert_allclose(gx_v, np.cos(xv) * yv)
    np.testing.assert_allclose(gy_v, np.sin(xv).sum())


def test_builder_regions_and_locations():
    c = Value(parse_type("bool"), "c")
    b = Builder(loc=("m.py", 7, 4))
    from adcompiler.compiler import Block, Op
    then, other = Block(), Block()
    with b.at(then):
        b.yield_([b.const(1.0)])
    with b.at(other), b.located(("m.py", 9, 0)):
        b.yield_([b.const(2.0)])
    op = b.add(Op("if", [c], [parse_type("f64")], regions=[then, other]))
    b.return_(op.result)
    fn = verify(Function("f", [c], b.block))
    assert interpret(fn, True) == 1.0 and interpret(fn, False) == 2.0
    assert op.loc == ("m.py", 7, 4) and other.ops[0].loc == ("m.py", 9, 0)
