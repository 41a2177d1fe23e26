"""The Python backend's in-place accumulation is only used where it is invisible."""
import numpy as np

from adcompiler.backends.python import compile_function
from adcompiler.compiler.builder import Builder
from adcompiler.compiler.ir import Block, Function, Op, Value, verify
from adcompiler.compiler.types import ArrayType, ScalarType
from adcompiler.ops import Dyn

F3 = ArrayType(np.float64, (3,))
I64 = ScalarType(np.int64)


def _loop_function(acc_inside):
    """for i in range(3): r = index_add(acc, g[i], i) -- with acc made inside or outside the loop."""
    g = Value(F3, "g")
    body = Block()
    b = Builder(body)
    with b:
        z = b.full(0.0, F3, hint="z")            # used once: inside the loop
        init = b.full(0.0, F3, hint="init")
        loop = Op("for", [b.const(0), b.const(3), b.const(1), init], [F3], hints=["r"])
        blk = Block([I64, F3], ["i", "r"])
        loop.regions.append(blk)
        with b.at(blk):
            i = blk.args[0]
            acc = b.full(0.0, F3, hint="fresh") if acc_inside else z
            gi = b.prim("getitem", g, i, idx=(Dyn(0),))
            b.yield_([b.prim("index_add", acc, gi, i, idx=(Dyn(0),))])
        b.add(loop)
        b.return_(loop.results[0])
    return verify(Function("f", [g], body))


def test_accumulator_from_outside_a_loop_is_not_written_in_place():
    fn = _loop_function(acc_inside=False)
    code = compile_function(fn)
    assert "+=" not in code.source and "prim.index_add(" in code.source
    # functional meaning: only the last iteration's result survives
    np.testing.assert_array_equal(code(np.array([1.0, 2.0, 3.0])), [0.0, 0.0, 3.0])


def test_fresh_accumulator_in_the_same_block_is_written_in_place():
    fn = _loop_function(acc_inside=True)
    code = compile_function(fn)
    assert "fresh[i] += " in code.source
    np.testing.assert_array_equal(code(np.array([1.0, 2.0, 3.0])), [0.0, 0.0, 3.0])
