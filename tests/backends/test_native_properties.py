"""Property tests of the native tier on generated scalar programs (see native_programs.py).

For each generated `f(a, b, n)` and inputs away from its branch boundaries and kinks:

* `value_and_grad(f, wrt=(0, 1), jit="always")` must run on the native tier (`g.tier`), and
* its value and gradient must equal the NumPy tier's (`jit="never"`) and the IR interpreter's
  on the same adjoint IR (compiler/interpret.py) to 1e-12 relative (bitwise where both call
  the same libm; NumPy's own float64 sin/exp/... may differ in the last ulp),
* the value must be what f itself returns, and the gradient must match central finite
  differences in float64 (Richardson-extrapolated); for a program with float32 values, the
  differences are taken of its float64 twin (np.float32 -> np.float64), to float32 accuracy.

"Risky" programs hold operations that raise in Python for some inputs (math domain errors,
division and modulo by zero, overflow); where f raises, the native call must raise the same
exception type, naming f's line (it re-runs the call on the NumPy tier); where f does not, the
native call must not fall back, and must agree with f, with the NumPy tier and with the
interpreter (inf and nan included).

The default run is short; `@pytest.mark.slow` variants generate more and deeper programs (the
risky one also on inf, nan, 1e308 and 5e-324). A survey mode counts outcomes (native and right,
refused with the reasons, wrong with the comparisons that failed) without stopping at a failure:

    python -m tests.backends.test_native_properties --examples 300 [--risky [--special]] [--depth 3] [--all]

Bugs found by these properties are reduced to minimal functions below (strict xfail while open).
"""
from __future__ import annotations

import math
import pathlib
import sys
import tempfile
import traceback
import types
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption

import adcompiler as ad
from adcompiler.compiler.interpret import interpret

from ..grad.test_properties import (
    loaded,  # writes a program's module to a folder and imports it
)
from . import native_property_bugs as bugs
from .native_programs import OPEN_BUGS, Config, programs, risky_inputs, smooth_inputs

TIER_RTOL = 1e-12            # native vs NumPy tier vs interpreter vs f itself (float64)
F32_RTOL = 1e-6              # a float32 result rounded differently (a few float32 ulps)
FD_RTOL, FD_ATOL = 1e-5, 1e-6
F32_FD_RTOL, F32_FD_ATOL = 2e-3, 2e-4   # a float32 program's gradient vs its float64 twin's differences
MIN_MARGIN = 1e-4            # distance of every branch condition and kink from its boundary
MAX_VALUE = 1e3
MAX_GRAD = 1e4
FD_STEPS = (1e-6, 1e-5, 1e-4)

FAST = settings(max_examples=40, deadline=None, derandomize=True, print_blob=True, database=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
SLOW = settings(FAST, max_examples=300)


class Rejected(Exception):
    """The inputs are near a non-smooth point of the program, or f blows up there (not a failure)."""


class Refused(Exception):
    """The native tier did not run the program (the generator should stay inside its subset)."""


class Wrong(AssertionError):
    """A disagreement: `labels` say which comparisons failed."""

    def __init__(self, labels, details):
        super().__init__("\n".join(details))
        self.labels = labels


# ---- running a program ---------------------------------------------------------------------------

def _python(f, a, b, n):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(a, b, n)


def _decisions(mod, a, b, n):
    mod._TRACE.clear()
    value = _python(mod.f_probe, a, b, n)
    return float(value), list(mod._TRACE)


def _check_smooth(mod, a, b, n, margin):
    """f's value at (a, b, n), or Rejected when a margin is small, a decision changes under a
    finite-difference step, or f is large or not finite there."""
    try:
        value, trace = _decisions(mod, a, b, n)
    except (ArithmeticError, ValueError) as e:
        raise Rejected(f"f raises {type(e).__name__}") from None
    if not (math.isfinite(value) and abs(value) < MAX_VALUE):
        raise Rejected("|f| too large")
    if any(m < margin for m, _ in trace):
        raise Rejected("near a branch boundary or kink")
    plain = float(_python(mod.f, a, b, n))
    assert plain == value or math.isnan(plain) and math.isnan(value), "the probe copy disagrees with f"
    sides = [s for _, s in trace]
    for h in FD_STEPS:
        for pa, pb in ((a + h, b), (a - h, b), (a, b + h), (a, b - h)):
            try:
                if [s for _, s in _decisions(mod, pa, pb, n)[1]] != sides:
                    raise Rejected("a decision changes within a finite-difference step")
            except (ArithmeticError, ValueError):
                raise Rejected("f raises near the point") from None
    return value


def _central(f, a, b, n, h):
    fa = (float(_python(f, a + h, b, n)) - float(_python(f, a - h, b, n))) / (2 * h)
    fb = (float(_python(f, a, b + h, n)) - float(_python(f, a, b - h, n))) / (2 * h)
    return fa, fb


def finite_differences(f, a, b, n, h=1e-5):
    """Central differences at h and h/2, Richardson-extrapolated (error O(h^4))."""
    (a1, b1), (a2, b2) = _central(f, a, b, n, h), _central(f, a, b, n, h / 2)
    return (4 * a2 - a1) / 3, (4 * b2 - b1) / 3


def _run(g, a, b, n):
    """[value, da, db]; Refused when the compiler traced f."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ad.FallbackWarning)
        try:
            v, (da, db) = g(a, b, n)
        except ad.FallbackWarning as w:
            raise Refused(f"traced: {str(w).split(': ', 2)[-1][:120]}") from None
    return [v, da, db]


def _refusal(g):
    c = g._last.compiled
    if c.native_reason is not None:
        return f"native refused: {c.native_reason.split(' (')[0]}"
    return "the native code reported an error Python does not raise (it re-ran on the NumPy tier)"


def _close(got, want, rtol, atol=0.0):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return bool(np.all((got == want) | (np.isnan(got) & np.isnan(want))
                       | (np.abs(got - want) <= atol + rtol * np.abs(want))))


def _bitwise(got, want):
    return all(np.float64(x).tobytes() == np.float64(y).tobytes() for x, y in zip(got, want))


def check_program(program, a, b, n, directory, stats=None):
    """Check one program at one input; raises Rejected, Refused or Wrong. `stats` (a Counter)
    gets whether the tiers agreed bitwise."""
    note(program.source)
    margin = MIN_MARGIN * (10 if program.f32 else 1)
    with loaded(program, directory) as mod:
        value = _check_smooth(mod, a, b, n, margin)
        g = ad.value_and_grad(mod.f, wrt=(0, 1), jit="always")
        native = _run(g, a, b, n)
        if g.tier != "native":
            raise Refused(_refusal(g))
        numpy_tier = _run(ad.value_and_grad(mod.f, wrt=(0, 1), jit="never"), a, b, n)
        interpreted = [float(v) for v in interpret(g._last.compiled.ir, a, b, n)]
        if program.f32:
            with loaded(types.SimpleNamespace(source=program.twin_source()), directory) as twin:
                fd = finite_differences(twin.f, a, b, n)
        else:
            fd = finite_differences(mod.f, a, b, n)
    if not all(abs(d) < MAX_GRAD for d in fd):
        raise Rejected("|gradient| too large")
    failures, details = [], []

    def compare(label, ok, got, want):
        if not ok:
            failures.append(label)
            details.append(f"{label}: got {got}, want {want}")

    compare("native vs NumPy tier", _close(native, numpy_tier, TIER_RTOL), native, numpy_tier)
    compare("native vs interpreter", _close(native, interpreted, TIER_RTOL), native, interpreted)
    compare("native value vs f", _close(native[0], float(value), TIER_RTOL), native[0], float(value))
    rtol, atol = (F32_FD_RTOL, F32_FD_ATOL) if program.f32 else (FD_RTOL, FD_ATOL)
    compare("native vs finite differences", _close(native[1:], fd, rtol, atol), native[1:], fd)
    if failures:
        raise Wrong(failures, details)
    if stats is not None:
        stats["bitwise == NumPy tier" if _bitwise(native, numpy_tier) else "within 1e-12 of NumPy tier"] += 1
        stats["bitwise == interpreter" if _bitwise(native, interpreted) else "within 1e-12 of interpreter"] += 1
    return program.feats


def _user_line(exc, filename):
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


def check_risky(program, a, b, n, directory, stats=None):
    """Where f raises, the native call raises the same type naming f's line; elsewhere it runs
    natively and agrees with f and the NumPy tier (inf and nan included)."""
    note(program.source)
    with loaded(program, directory) as mod:
        try:
            value, error = float(_python(mod.f, a, b, n)), None
        except (ArithmeticError, ValueError) as e:
            value, error = None, e
        g = ad.value_and_grad(mod.f, wrt=(0, 1), jit="always")
        numpy_g = ad.value_and_grad(mod.f, wrt=(0, 1), jit="never")
        if error is None:
            native = _run(g, a, b, n)
            if g.tier != "native":
                if g._last.compiled.native is None:
                    raise Refused(_refusal(g))
                raise Wrong(["native error where Python raises none"],
                            [f"the native code reported an error at {(a, b, n)}; f returned {value}"])
            numpy_tier = _run(numpy_g, a, b, n)
            interpreted = [float(v) for v in interpret(g._last.compiled.ir, a, b, n)]
            failures = []
            if not _close(native[0], value, TIER_RTOL):
                failures.append(f"native value vs f: {native[0]} != {value}")
            if not _close(native, interpreted, TIER_RTOL):
                failures.append(f"native vs interpreter: {native} != {interpreted}")
            if not _close(native, numpy_tier, TIER_RTOL):
                failures.append(f"native vs NumPy tier: {native} != {numpy_tier}")
            if failures:
                raise Wrong([f.split(":")[0] for f in failures], failures)
            if stats is not None:
                stats["f returned"] += 1
            return "returned"
        line = _user_line(error, mod.__file__)
        try:
            _run(g, a, b, n)
        except (ArithmeticError, ValueError) as e:
            got = e
        else:
            got = None
        if g._last.compiled.native is None:
            raise Refused(_refusal(g))
        if got is None:
            raise Wrong(["native returned where f raises"],
                        [f"f raised {type(error).__name__}: {error} (line {line}); the native call returned"])
        failures = []
        if type(got) is not type(error):
            failures.append(f"exception type: native raised {type(got).__name__}: {got}, f raised "
                            f"{type(error).__name__}: {error}")
        where = f"{pathlib.Path(mod.__file__).name}:{line}:"
        if not any(where in note_ for note_ in getattr(got, "__notes__", ())):
            failures.append(f"exception line: f raised at {where} the native call's notes say "
                            f"{getattr(got, '__notes__', None)}")
        if failures:
            raise Wrong([f.split(":")[0] for f in failures], failures)
        if stats is not None:
            stats[f"f raised {type(error).__name__}"] += 1
        return "raised"


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return tmp_path_factory.mktemp("native_progs")


def _property(check, case, directory):
    program, (a, b, n) = case
    try:
        out = check(program, a, b, n, directory)
    except Rejected as e:
        event(f"rejected: {e}")
        assume(False)
    except Refused as e:
        raise AssertionError(f"the native tier did not run a generated program: {e}") from None
    if isinstance(out, str):
        event(out)
    else:
        for feat in sorted(out):
            event(feat)


@st.composite
def cases(draw, cfg=None):
    cfg = cfg or Config()
    program = draw(programs(cfg))
    return program, draw(risky_inputs(cfg.special) if cfg.risky else smooth_inputs())


# ---- the properties --------------------------------------------------------------------------------

@FAST
@given(case=cases())
def test_native_equals_numpy_tier_interpreter_python_and_finite_differences(case, progdir):
    _property(check_program, case, progdir)


@settings(FAST, max_examples=20)
@given(case=cases(Config(risky=True)))
def test_native_raises_where_python_raises(case, progdir):
    _property(check_risky, case, progdir)


@pytest.mark.slow
@SLOW
@given(case=cases(Config(max_depth=3)))
def test_native_equals_numpy_tier_interpreter_python_and_finite_differences_many(case, progdir):
    _property(check_program, case, progdir)


@pytest.mark.slow
@settings(SLOW, max_examples=200)
@given(case=cases(Config(risky=True, max_depth=3, special=True)))
def test_native_raises_where_python_raises_many(case, progdir):
    _property(check_risky, case, progdir)


FEATURES = {"for", "negative step", "while", "while data exit", "while True", "break", "continue", "early return",
            "early return in loop", "nested loop", "if", "elif", "else", "ifexp", "augassign", "bool var", "bool logic",
            "bool*float", "int //,%", "int/float", "int()", "float()", "float32", "f32->float", "abs", "max", "min",
            "div", "pow", "neg", "math.sin", "math.cos", "math.tan", "math.tanh", "math.exp", "math.expm1", "math.log",
            "math.log1p", "math.sqrt", "math.pow", "np.sin", "np.exp", "float //", "float %", "math of float32"}
RISKY_FEATURES = {"risky", "ZeroDivisionError", "ValueError", "OverflowError"}


def test_generator_produces_every_construct():
    """Every construct the generator promises comes out of it (generation only), as valid Python."""
    seen = set()

    @settings(max_examples=150, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(programs(Config(risky=True)))
    def collect(program):
        seen.update(program.feats)
        compile(program.source, "<generated>", "exec")
        compile(program.twin_source(), "<generated>", "exec")

    collect()
    assert FEATURES | RISKY_FEATURES <= seen, f"never generated: {sorted((FEATURES | RISKY_FEATURES) - seen)}"
    assert not seen & OPEN_BUGS


def test_float32_math_functions_are_within_a_few_ulps_of_numpy():
    """Not generated: the native tier's float32 sin/cos/exp/tanh/log (libm's sinf ...) round differently
    from NumPy's own float32 loops (up to 3 ulps measured), so a float32 transcendental cannot match f,
    which runs NumPy, bitwise; this bounds the difference on each and on a combination."""
    xs = np.random.default_rng(0).uniform(-4.0, 4.0, 200)
    ulps = {}
    for f in (bugs.float32_sin, bugs.float32_cos, bugs.float32_exp, bugs.float32_tanh, bugs.float32_log):
        g = ad.value_and_grad(f, jit="always")
        worst = 0
        for x in xs:
            x = abs(x) + 0.1 if f is bugs.float32_log else x
            got, want = np.float32(g(x)[0]), f(x)
            assert g.tier == "native"
            worst = max(worst, abs(int(got.view(np.int32)) - int(want.view(np.int32))))
        ulps[f.__name__] = worst
    assert max(ulps.values()) <= 4, ulps
    g = ad.value_and_grad(bugs.float32_math, jit="always")
    for x in xs[:50]:
        assert g(x)[0] == pytest.approx(float(bugs.float32_math(x)), rel=1e-6, abs=1e-6)
        assert g.tier == "native"


# ---- the survey ------------------------------------------------------------------------------------

def survey(examples, risky=False, max_depth=2, avoid=OPEN_BUGS, special=False, seed=None, directory=None):
    """Check `examples` generated programs without stopping at a failure: a Counter of outcomes
    (native / rejected / refused with reasons / wrong with the comparisons that failed), and the
    failing programs by label."""
    counts, failures = Counter(), {}
    directory = directory or tempfile.mkdtemp(prefix="adc_native_survey_")
    check = check_risky if risky else check_program

    @settings(max_examples=examples, deadline=None, derandomize=seed is None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=cases(Config(risky=risky, max_depth=max_depth, avoid=frozenset(avoid), special=special)))
    def run(case):
        program, (a, b, n) = case
        counts["generated"] += 1
        try:
            check(program, a, b, n, directory, stats=counts)
        except Rejected as e:
            counts[f"rejected: {e}"] += 1
            raise UnsatisfiedAssumption() from None
        except Refused as e:
            counts["refused"] += 1
            counts[f"refused: {e}"] += 1
            return
        except Wrong as e:
            counts["wrong"] += 1
            for label in e.labels:
                counts[f"wrong: {label}"] += 1
            failures.setdefault(tuple(e.labels), []).append((program, (a, b, n), str(e)))
            return
        except Exception as e:  # noqa: BLE001  (a crash in the compiler, the native code or the checker)
            counts["wrong"] += 1
            label = f"crash: {type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''}"
            counts[label] += 1
            failures.setdefault((label,), []).append((program, (a, b, n), traceback.format_exc(limit=-4)))
            return
        counts["native"] += 1

    run()
    return counts, failures


def _main(argv):
    import argparse
    parser = argparse.ArgumentParser(description=survey.__doc__)
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--risky", action="store_true", help="programs that raise in Python for some inputs")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--special", action="store_true", help="risky inputs include inf, nan, 1e308, 5e-324")
    parser.add_argument("--all", action="store_true", help="also generate what hits an open bug (OPEN_BUGS)")
    parser.add_argument("--show", type=int, default=1, help="failing programs to print per kind of failure")
    args = parser.parse_args(argv)
    counts, failures = survey(args.examples, risky=args.risky, max_depth=args.depth,
                               avoid=frozenset() if args.all else OPEN_BUGS, special=args.special)
    checked = counts["native"] + counts["refused"] + counts["wrong"]
    print(f"generated {counts['generated']}, checked {checked}: native (right) {counts['native']}, "
          f"refused {counts['refused']}, wrong {counts['wrong']}")
    for key, v in sorted(counts.items()):
        if ":" in key or key.startswith(("bitwise", "within", "f ")):
            print(f"  {v:5d}  {key}")
    for labels, items in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        print(f"\n== {len(items)} x {', '.join(labels)}")
        for program, inputs, detail in sorted(items, key=lambda it: len(it[0].source))[:args.show]:
            print(program.function_source("f"))
            print(f"# inputs (a, b, n) = {inputs}")
            print("# " + detail.replace("\n", "\n# "))


if __name__ == "__main__":
    _main(sys.argv[1:])


# ---- bugs found, reduced ---------------------------------------------------------------------------
#
# Each is a minimal function in native_property_bugs.py (a file: the compiler reads sources).
# Open ones are strict xfail, and the generator keeps away from them (OPEN_BUGS); the fixed ones
# (0f4da90) stay as regression tests.


@pytest.mark.parametrize("jit", ["always", "never"])
def test_factoring_a_cotangent_sum_keeps_the_sign_of_a_negated_term(jit):
    """passes/factor.py gave a term without the common factor its product's sign twice (1 + (-u)*v
    became 1 - (-u)*v): a wrong gradient on every tier."""
    f, a, h = bugs.factor_sign, 0.3, 1e-6
    got = ad.grad(f, jit=jit)(a)
    assert got == pytest.approx((f(a + h) - f(a - h)) / (2 * h), rel=1e-7)


def test_float_floor_division_and_modulo_run_native():
    """llvm.copysign was declared with one operand: float // and % did not verify, so jit='always'
    traced them."""
    for f in (bugs.float_floordiv, bugs.float_mod):
        g = ad.value_and_grad(f, wrt=(0, 1), jit="always")
        with warnings.catch_warnings():
            warnings.simplefilter("error", ad.FallbackWarning)
            got = g(-0.7, 0.3)
        assert g.tier == "native", g.explain()
        assert got == ad.value_and_grad(f, wrt=(0, 1), jit="never")(-0.7, 0.3)
        assert got[0] == f(-0.7, 0.3)


def test_float_modulo_under_auto_tiering_does_not_raise():
    """... and under jit='auto' that RuntimeError reached the user on the call that moved to native."""
    g = ad.value_and_grad(bugs.float_mod, wrt=(0, 1))
    for _ in range(6):
        assert g(-0.7, 0.3) == (bugs.float_mod(-0.7, 0.3), (1.0, 1.0))


@pytest.mark.parametrize("jit", ["always", "never"])
def test_math_function_of_a_float32_value_computes_in_float64(jit):
    """math.cos of a float32 value was computed in float32; Python's math converts to a double first."""
    v, _ = ad.value_and_grad(bugs.math_cos_of_float32, jit=jit)(0.0)
    assert v == bugs.math_cos_of_float32(0.0)


def test_numpy_tier_keeps_float32_after_abs_of_a_python_scalar():
    """The NumPy tier wrote abs(n) of a Python int as np.abs(n), a NumPy int64: the float32 sum after
    it became float64, not f's float32."""
    got = ad.value_and_grad(bugs.float32_after_abs_of_an_int, jit="never")(0.1, 3)
    native = ad.value_and_grad(bugs.float32_after_abs_of_an_int, jit="always")(0.1, 3)
    want = bugs.float32_after_abs_of_an_int(0.1, 3)
    assert native[0] == float(want)      # the native tier is right
    assert got[0] == float(want)


def test_numpy_tier_raises_zero_division_after_abs_of_an_int():
    """... and NumPy's int // 0 is 0: the re-run after the native code reported Python's
    ZeroDivisionError returned a number."""
    f = bugs.int_division_after_abs
    with pytest.raises(ZeroDivisionError):
        f(1.0, 0)
    g = ad.value_and_grad(f, jit="always")
    g(1.0, 2)
    assert g.tier == "native"
    with pytest.raises(ZeroDivisionError):
        g(1.0, 0)


def test_numpy_tier_keeps_the_ir_types_of_float32_gradients():
    """The NumPy tier's np.sign(a) of a Python float was a np.float64, so abs's float32 cotangent times
    it was float64 where the IR (and the native tier) has float32."""
    f = bugs.float32_gradient_through_abs
    g = ad.value_and_grad(f, jit="always")
    native = g(2.0)
    assert native[1] == float(interpret(g._last.compiled.ir, 2.0)[1])
    assert ad.value_and_grad(f, jit="never")(2.0) == native


@pytest.mark.parametrize("f, arg", [(bugs.sqrt_of_a_numpy_scalar, -1.0), (bugs.log_of_a_float32, 0.0)])
@pytest.mark.parametrize("jit", ["always", "never"])
def test_math_domain_error_on_a_numpy_scalar_raises(f, arg, jit):
    """math.sqrt/math.log of a NumPy scalar raise ValueError in Python; the compiled gradient returned
    nan / -inf."""
    with pytest.raises(ValueError):
        f(arg)
    with pytest.raises(ValueError):
        ad.value_and_grad(f, jit=jit)(arg)


@pytest.mark.parametrize("jit", ["always", "never"])
@pytest.mark.parametrize("arg", [1.0, 1e300])
def test_int_of_a_large_float(jit, arg):
    """int() of a float beyond int64 is a Python int (of inf, OverflowError); the native tier gave 0,
    the NumPy tier -2**63."""
    g = ad.value_and_grad(bugs.int_of_a_float, jit=jit)
    try:
        want = bugs.int_of_a_float(arg)
    except OverflowError:
        with pytest.raises(OverflowError):
            g(arg)
    else:
        assert g(arg)[0] == float(want)


@pytest.mark.xfail(strict=True, reason="math.pow raises ValueError at (0, -1) and (-8, 0.5); the compiled "
                                       "gradient raises ZeroDivisionError and TypeError (it is lowered as **)")
@pytest.mark.parametrize("args", [(0.0, -1.0), (-8.0, 0.5)])
@pytest.mark.parametrize("jit", ["always", "never"])
def test_math_pow_raises_pythons_error(args, jit):
    with pytest.raises(ValueError):
        bugs.math_pow(*args)
    with pytest.raises(ValueError):
        ad.value_and_grad(bugs.math_pow, jit=jit)(*args)


@pytest.mark.parametrize("f, args, error", [(bugs.dead_log, (1.0, -1.0), ValueError),
                                            (bugs.dead_continue, (1.0, -1.0), ValueError),
                                            (bugs.dead_int_division, (1.0, 3), ZeroDivisionError)])
@pytest.mark.parametrize("jit", ["always", "never"])
def test_a_dead_operation_that_raises_in_python(f, args, error, jit):
    """An unused operation (or one deciding only a `continue` at the end of a loop body) was removed,
    so the gradient returned where f raises."""
    with pytest.raises(error):
        f(*args)
    with pytest.raises(error):
        ad.value_and_grad(f, jit=jit)(*args)


@pytest.mark.parametrize("jit", ["always", "never"])
def test_builtin_max_and_min_of_nan_are_pythons(jit):
    """builtins max/min were np.maximum/np.minimum, which propagate nan; Python's max(1.0, nan) is 1.0."""
    want = bugs.builtin_max_min(1.0, math.nan)
    assert want == 2.0
    assert ad.value_and_grad(bugs.builtin_max_min, jit=jit)(1.0, math.nan)[0] == want


@pytest.mark.parametrize("jit", ["always", "never"])
def test_returns_of_a_float_and_a_float32_keep_the_float(jit):
    # fixed: the merge would round the Python float, so the compiler refuses it (the tracer keeps it)
    f = bugs.returns_a_float_or_a_float32
    assert ad.value_and_grad(f, wrt=(0, 1), jit=jit)(2.0, 0.0)[0] == f(2.0, 0.0) == 2.2


@pytest.mark.xfail(strict=True, reason="an augmented assignment to a NumPy scalar (immutable: `a += 0.1` rebinds "
                                       "a) is refused as an in-place change of data another name shares")
def test_augmented_assignment_to_a_numpy_scalar_compiles():
    g = ad.value_and_grad(bugs.augassign_numpy_scalar, jit="always")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        got = g(0.3)
    assert got[0] == bugs.augassign_numpy_scalar(0.3)
    assert g.mode == "compiled", g.explain()
