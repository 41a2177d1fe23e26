"""The IR is a contract every backend compiles: exactly typed, printable, parseable, runnable.

Over every adjoint the test corpus produces (tests/corpus, tests/grad/corpus_extra.py,
tests/grad/targets.py):
- `verify` (structure and types) holds after the reverse transform and after each pass;
- print -> parse -> print is the identity, tapes included;
- the reference interpreter runs it (tapes included, every value checked against its type)
  and agrees with the Python backend's generated function and with finite differences.
Then the typing rules one by one, on hand-written IR that breaks them."""
import numpy as np
import pytest

from adcompiler.backends import python as python_backend
from adcompiler.compiler import parse_function, parse_type, print_function, verify
from adcompiler.compiler.frontend import compile_function
from adcompiler.compiler.interpret import Tape, interpret
from adcompiler.compiler.ir import walk
from adcompiler.compiler.passes import optimize
from adcompiler.compiler.passes.dce import dce
from adcompiler.compiler.passes.simplify import simplify
from adcompiler.compiler.reverse import prune_tapes, reverse
from adcompiler.compiler.types import F64, I64, RANGE, ArrayType, TapeType, TupleType, type_of_value
from tests.compiler.values import sample_args
from tests.corpus import load
from tests.grad import targets as T
from tests.grad.corpus_extra import CASES as EXTRA

_X = np.array([0.3, -0.7, 1.1])


class _Target:
    """A function of tests/grad/targets.py with argument values (those the compiler takes)."""

    def __init__(self, name, fn, has_aux=False, **values):
        self.name, self.fn, self.values, self.has_aux = f"targets.{name}", fn, values, has_aux

    def __repr__(self):
        return self.name


TARGETS = [
    _Target("quad", T.quad, x=_X, y=0.5), _Target("scalar", T.scalar, a=0.4, b=2.0),
    _Target("tensor_in", T.tensor_in, x=_X), _Target("divide", T.divide, x=_X),
    _Target("iterate_copy_while_mutating", T.iterate_copy_while_mutating, a=1.5, x=_X),
    _Target("smooth", T.smooth, x=0.7), _Target("looped", T.looped, x=0.7),
    _Target("vector_energy", T.vector_energy, x=_X),
    _Target("with_tuple_aux", T.with_tuple_aux, has_aux=True, x=_X),
    _Target("with_mode_mean", T.with_mode, x=_X, mode="mean", weights=None),
    _Target("with_mode_weights", T.with_mode, x=_X, mode="sum", weights=2.0 * _X),
]


def _values(case):
    if isinstance(case, _Target):
        return dict(case.values)
    return dict(zip(case.types, sample_args(case, 0)))


def _is_float(v):
    return isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype.kind == "f")


def _stages(case):
    """(values, wrt names, forward IR, [(stage name, adjoint IR)]) as the compiled path makes them
    (compiler/gradient.py)."""
    values = _values(case)
    wrt = [n for n, v in values.items() if _is_float(v)]
    has_aux = getattr(case, "has_aux", False)
    types = {n: parse_type(case.types[n]) if hasattr(case, "types") else type_of_value(v) for n, v in values.items()}
    fwd = compile_function(case.fn, types)
    names = [p.hint for p in fwd.params]
    raw = reverse(fwd, [names.index(n) for n in wrt], True, has_aux)
    simple = simplify(raw)
    opt = optimize(simple)
    stages = [("reverse", raw), ("simplify", simple), ("optimize", opt)]
    if prune_tapes(opt):
        stages.append(("prune_tapes", dce(opt)))
    return values, wrt, fwd, stages


CASES = ([c for c in load() if any(_is_float(v) for v in _values(c).values())]
         + [c for c in EXTRA if getattr(c, "expect", "compiled") == "compiled"] + TARGETS)
_CACHE = {}


def adjoint(case):
    if case.name not in _CACHE:
        _CACHE[case.name] = _stages(case)
    return _CACHE[case.name]


def test_the_corpus_gives_many_adjoints_with_tapes():
    made = [adjoint(c) for c in CASES]
    assert len(made) >= 75
    with_tapes = [m for m in made if any(op.name == "tape_new" for op in walk(m[3][-1][1].body))]
    assert len(with_tapes) >= 20


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_adjoint_verifies_after_every_stage(case):
    made = adjoint(case)
    _, _, fwd, stages = made
    verify(fwd)
    for stage, fn in stages:
        try:
            verify(fn)
        except ValueError as e:
            raise AssertionError(f"after {stage}: {e}\n{print_function(fn)}") from None


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_adjoint_round_trips_through_text(case):
    made = adjoint(case)
    for _, fn in made[3]:
        text = print_function(fn)
        again = parse_function(text)
        verify(again)
        assert print_function(again) == text


def _tapes_agree_with_their_loops(fn):
    """Each tape is pushed what its type lists, a for loop's tape has the loop's trip count as
    capacity (static or its bounds), a while loop's none."""
    loops = {}
    for op in walk(fn.body):
        if op.name in ("for", "while"):
            for inner in op.regions[-1].ops:
                if inner.name == "tape_push":
                    loops[id(inner.operands[0])] = op
    for op in walk(fn.body):
        if op.name == "tape_new":
            t = op.result.type
            loop = loops.get(id(op.result))
            assert loop is not None, "a tape nothing pushes onto"
            if loop.name == "while":
                assert t.capacity is None
            elif t.capacity == RANGE:
                assert op.operands == loop.operands[:3]
            else:
                assert isinstance(t.capacity, int)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_interpreter_python_backend_and_finite_differences_agree(case):
    made = adjoint(case)
    values, wrt, fwd, stages = made
    adj = stages[-1][1]
    _tapes_agree_with_their_loops(adj)
    args = list(values.values()) + fwd.hidden_values()
    got = interpret(adj, *args, check_types=True)
    again = interpret(parse_function(print_function(adj)), *args, check_types=True)
    generated = python_backend.compile_function(adj)(*args)
    k = 2 if getattr(case, "has_aux", False) else 1          # (value, aux?, *grads)
    assert len(got) == len(generated) == k + len(wrt)
    f32 = any(getattr(v, "dtype", None) == np.float32 for v in values.values())
    for a, b, c in zip(_leaves(got), _leaves(generated), _leaves(again)):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_allclose(a, b, rtol=1e-6 if f32 else 1e-12, atol=1e-7 if f32 else 1e-14)
    if f32:
        return
    for name, g in zip(wrt, got[k:]):
        want = _numerical(case, values, name)
        np.testing.assert_allclose(np.broadcast_to(g, np.shape(want)), want, rtol=1e-5, atol=1e-6,
                                   err_msg=f"d/d{name}")
    value = case.fn(*values.values())
    np.testing.assert_allclose(got[0], value[0] if k == 2 else value, rtol=1e-12)


def _leaves(x):
    if isinstance(x, tuple):
        return [leaf for e in x for leaf in _leaves(e)]
    return [np.asarray(x, dtype=float)]


def _numerical(case, values, name, h=1e-6):
    def f(v):
        out = case.fn(*{**values, name: v}.values())
        return float(np.asarray(out[0] if getattr(case, "has_aux", False) else out).reshape(()))
    x = values[name]
    if isinstance(x, float):
        return (f(x + h) - f(x - h)) / (2 * h)
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        g[i] = (f(up) - f(down)) / (2 * h)
    return g


# ---- the tape type ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["tape<>", "tape<i64>", "tape<i64, f64[3]; range>", "tape<f64; 10>", "tape<; 0>",
                                  "tape<(f64, i64[2]), f32[]>"])
def test_tape_type_text_round_trips(text):
    t = parse_type(text)
    assert isinstance(t, TapeType) and str(t) == text and parse_type(str(t)) == t


def test_tape_type_equality_and_fields():
    t = TapeType([I64, ArrayType(np.float64, (3,))], RANGE)
    assert t.elems == (I64, ArrayType(np.float64, (3,))) and t.capacity == RANGE and t.is_tape
    assert t == parse_type("tape<i64, f64[3]; range>") and hash(t) == hash(parse_type(str(t)))
    assert t != TapeType(t.elems) and t != TapeType(t.elems, 3) and t != TupleType(t.elems)
    assert t.with_elems([F64]) == TapeType([F64], RANGE)
    assert parse_type("(tape<i64, f64>, f64)") == TupleType([TapeType([I64, F64]), F64])
    for bad in ("tape<f64; -1>", "tape<f64; many>", "tape<f6>"):
        with pytest.raises(ValueError):
            parse_type(bad)


def test_pruned_tapes_keep_their_types_in_sync():
    """prune_tapes drops what no pop is read for; the tape's element list follows."""
    pruned = [m[3][-1][1] for m in map(adjoint, CASES) if m[3][-1][0] == "prune_tapes"]
    assert pruned
    for fn in pruned:
        for op in walk(fn.body):
            if op.name == "tape_push":
                assert tuple(v.type for v in op.operands[1:]) == op.operands[0].type.elems


def test_interpreter_tapes_respect_their_capacity():
    t = Tape(capacity=1)
    t.push([1.0])
    with pytest.raises(RuntimeError, match="capacity"):
        t.push([2.0])
    assert t.pop(1) == [1.0] and len(t) == 0
    with pytest.raises(RuntimeError, match="empty"):
        t.pop(1)


_LOOP = """\
func @f(%x: f64, %n: i64) -> f64 {
  %0 = const 0 : i64
  %1 = const 1 : i64
  %tape = tape_new %0, %n, %1 : tape<i64, f64; range>
  %y = for %i = %0 to %n step %1 iter(%y.1 = %x) : f64 {
    tape_push %tape, %i, %y.1
    %2 = mul %y.1, %y.1 : f64
    yield %2
  }
  %k = tape_len %tape : i64
  %s = for %j = %0 to %k step %1 iter(%s.1 = %y) : f64 {
    %i.1, %y.2 = tape_pop %tape : i64, f64
    %3 = add %s.1, %y.2 : f64
    yield %3
  }
  return %s
}
"""


def test_interpreter_runs_tapes():
    fn = verify(parse_function(_LOOP))
    # y: 1.5 -> 2.25 -> 5.0625; s = 5.0625 + 2.25 + 1.5
    assert interpret(fn, 1.5, 2, check_types=True) == 5.0625 + 2.25 + 1.5
    assert interpret(fn, 1.5, 0, check_types=True) == 1.5
    src = python_backend.compile_function(fn)
    assert src(1.5, 2) == 5.0625 + 2.25 + 1.5


def test_interpreter_checks_values_against_types():
    fn = verify(parse_function("""\
func @f(%x: f64[]) -> f64[] {
  %0 = const 2.0 : f64
  %1 = mul %x, %0 : f64[]
  return %1
}
"""))
    assert interpret(fn, np.float64(1.5), check_types=True) == 3.0
    with pytest.raises(TypeError, match="f64"):
        interpret(fn, np.float32(1.5), check_types=True)   # the argument is not what the type says


# ---- the typing rules, one by one --------------------------------------------------------------

def _broken(old, new, text=_LOOP):
    assert old in text
    return parse_function(text.replace(old, new, 1))


@pytest.mark.parametrize("old, new, message", [
    # a loop's init, carried argument, yield and result have one type: weak f64 is not f64[]
    ("%x: f64, %n", "%x: f64[], %n", "init #0 has type f64\\[\\], expected f64"),
    ("    %2 = mul %y.1, %y.1 : f64\n    yield %2",
     "    %2 = mul %y.1, %y.1 : f64\n    %c = astype %2 {dtype=dtype('float32')} : f32[]\n    yield %c",
     "yield #0 has type f32\\[\\], expected f64"),
    # tapes: pushed and popped what the type says; a 'range' capacity takes the bounds
    ("tape_push %tape, %i, %y.1", "tape_push %tape, %y.1", "pushes \\(f64\\)"),
    ("%i.1, %y.2 = tape_pop %tape : i64, f64", "%i.1, %y.2 = tape_pop %tape : f64, f64", "pops \\(f64, f64\\)"),
    ("tape_new %0, %n, %1 : tape<i64, f64; range>", "tape_new : tape<i64, f64; range>", "start, stop, step"),
    ("tape_new %0, %n, %1 : tape<i64, f64; range>", "tape_new %0, %n, %1 : tape<i64, f64; 3>", "no operands"),
    ("%k = tape_len %tape : i64", "%k = tape_len %tape : f64", "tape_len"),
    # a tape is only used by tape ops
    ("%3 = add %s.1, %y.2 : f64", "%3 = add %s.1, %tape : f64", "is a tape"),
])
def test_verify_rejects(old, new, message):
    with pytest.raises(ValueError, match=message):
        verify(_broken(old, new))


_IF = """\
func @g(%x: f64[3]) -> f64[] {
  %s = sum %x {axis=None, keepdims=False} : f64[]
  %0 = const 0.0 : f64
  %c = gt %s, %0 : bool[]
  %r = if %c : f64[] {
    %1 = mul %s, %s : f64[]
    yield %1
  } else {
    %2 = const 1.0 : f64[]
    yield %2
  }
  return %r
}
"""


def test_verify_accepts_the_well_typed_if():
    fn = verify(parse_function(_IF))
    assert interpret(fn, np.array([1.0, 2.0, -1.0]), check_types=True) == 4.0


@pytest.mark.parametrize("old, new, message", [
    ("%2 = const 1.0 : f64[]", "%2 = const 1.0 : f64", "else branch's yield #0 has type f64, expected f64\\[\\]"),
    ("%r = if %c : f64[]", "%r = if %s : f64[]", "condition has type f64\\[\\], expected bool"),
    ("%0 = const 0.0 : f64", "%0 = const 0 : f64", "does not fit its type f64"),
    # a primitive's result type is the table's
    ("%s = sum %x {axis=None, keepdims=False} : f64[]", "%s = sum %x {axis=None, keepdims=False} : f32[]",
     "sum.*result type f32\\[\\] but the table gives f64\\[\\] for \\(f64\\[3\\]\\)"),
    ("%c = gt %s, %0 : bool[]", "%c = gt %s, %0 : bool[3]", "the table gives bool\\[\\]"),
])
def test_verify_rejects_if(old, new, message):
    with pytest.raises(ValueError, match=message):
        verify(_broken(old, new, _IF))


def test_for_bounds_are_integer_scalars():
    text = """\
func @b(%x: f64, %n: i64) -> f64 {
  %0 = const 0 : i64
  %1 = const 1 : i64
  %y = for %i = %0 to %n step %1 iter(%y.1 = %x) : f64 {
    yield %y.1
  }
  return %y
}
"""
    assert interpret(verify(parse_function(text)), 0.5, 3, check_types=True) == 0.5
    with pytest.raises(ValueError, match="step has type f64"):
        verify(_broken("%1 = const 1 : i64", "%1 = const 1.0 : f64", text))
    with pytest.raises(ValueError, match="stop has type f64"):
        verify(_broken("%n: i64", "%n: f64", text))


def test_a_while_condition_is_a_bool():
    text = """\
func @h(%x: f64) -> f64 {
  %y = while (%y.1 = %x) : f64 {
    %0 = const 2.0 : f64
    %1 = lt %y.1, %0 : bool
    condition %1
  } do (%y.2) {
    %2 = const 1.0 : f64
    %3 = add %y.2, %2 : f64
    yield %3
  }
  return %y
}
"""
    assert interpret(verify(parse_function(text)), 0.5, check_types=True) == 2.5
    with pytest.raises(ValueError, match="condition"):
        verify(_broken("condition %1", "condition %0", text))


def test_weak_seed_meets_a_0d_loop_value_through_a_cast():
    """The seed of an f64[] result is a Python 1.0; the reverse loop carries f64[] adjoints, so
    the transform converts the seed (astype, folded to a 0-d constant) where it enters."""
    case = next(c for c in CASES if c.name == "loops.for_range")
    _, _, _, stages = adjoint(case)
    raw = stages[0][1]
    loops = [op for op in raw.body.ops if op.name == "for"]
    rev = loops[-1]
    assert [str(v.type) for v in rev.operands[3:]] == [str(r.type) for r in rev.results]
    casts = [op for op in raw.body.ops if op.name == "astype"]
    assert casts and str(casts[0].operands[0].type) == "f64" and str(casts[0].result.type) == "f64[]"
