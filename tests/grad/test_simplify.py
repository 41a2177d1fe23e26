"""The algebraic simplification pass run on adjoints."""
from adcompiler.compiler import parse_function, print_function
from adcompiler.compiler.interpret import interpret
from adcompiler.compiler.passes import dce
from adcompiler.compiler.passes.simplify import simplify

SRC = """func @f(%x: f64, %b: f64) -> (f64, f64, f64, f64) {
  %one = const 1.0 : f64
  %zero = const 0.0 : f64
  %0 = mul %one, %x : f64
  %1 = div %one, %b : f64
  %2 = sub %zero, %x : f64
  %3 = add %x, %zero : f64
  %4 = tuple %0, %1, %2, %3 : (f64, f64, f64, f64)
  return %4
}
"""


def test_identities_are_removed_but_not_their_mirror_images():
    fn = parse_function(SRC)
    out = dce(simplify(fn))
    text = print_function(out)
    assert "mul" not in text and "add" not in text      # 1*x -> x, x+0 -> x
    assert "div" in text and "sub" in text              # 1/b and 0-x are not identities
    assert interpret(out, 3.0, 4.0) == interpret(fn, 3.0, 4.0) == (3.0, 0.25, -3.0, 3.0)
