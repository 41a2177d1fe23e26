"""Every corpus function: golden IR text, print -> parse -> print round trip,
structural verification, and the IR computing what Python computes (before and
after the pass pipeline). Regenerate goldens with ADC_UPDATE_GOLDEN=1."""
import os
import pathlib

import numpy as np
import pytest

from adcompiler.compiler import compile_function, optimize, parse_function, parse_type, print_function, verify
from adcompiler.compiler.interpret import interpret
from tests.corpus import load

from .values import sample_args

GOLDEN = pathlib.Path(__file__).parent / "golden"
CASES = load()


def compiled(case):
    return compile_function(case.fn, {k: parse_type(v) for k, v in case.types.items()})


def test_corpus_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_golden_ir(case):
    text = print_function(compiled(case))
    path = GOLDEN / f"{case.name}.ir"
    if os.environ.get("ADC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}; run with ADC_UPDATE_GOLDEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_round_trip(case):
    for fn in (compiled(case), optimize(compiled(case))):
        text = print_function(fn)
        again = parse_function(text)
        verify(again)
        assert print_function(again) == text


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_ir_computes_what_python_computes(case):
    ir = compiled(case)
    verify(ir)
    opt = optimize(ir)
    verify(opt)
    for seed in (0, 1, 2):
        args = sample_args(case, seed)
        want = case.fn(*args)
        for fn in (ir, opt, parse_function(print_function(ir))):
            got = interpret(fn, *args, *ir.hidden_values())   # the globals the function reads
            np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-6)
            assert np.shape(got) == np.shape(want)
