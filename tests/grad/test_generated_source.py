"""Golden generated adjoints: readability regressions show up in review.
Regenerate with ADC_UPDATE_GOLDEN=1 (and read the diff)."""
import os
import pathlib

import numpy as np
import pytest

import adcompiler as ad

from . import corpus_extra as C
from . import targets as T

GOLDEN = pathlib.Path(__file__).parent / "golden"
FUNCTIONS = {
    "divide": (T.divide, (np.array([1.0, 2.0]),), 0),
    "quad": (T.quad, (np.array([1.0, 2.0]), 3.0), (0, 1)),
    "helper_in_loop": (C.helper_in_loop, (np.array([0.5, -1.0, 2.0, 0.1]), 1.5), (0, 1)),
    "scalar_ode": (C.scalar_ode, (1.0, 2.0), (0, 1)),
    "elif_chain": (C.elif_chain, (np.array([0.1, 0.2, 0.3, 0.4]),), 0),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_generated_source_matches_golden(name):
    fn, args, wrt = FUNCTIONS[name]
    g = ad.grad(fn, wrt=wrt)
    g(*args)
    assert g.mode == "compiled"
    path = GOLDEN / f"{name}.py.txt"
    if os.environ.get("ADC_UPDATE_GOLDEN"):
        path.write_text(g.source)
    assert path.exists(), f"no golden file {path.name}; run with ADC_UPDATE_GOLDEN=1"
    assert g.source == path.read_text()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_generated_source_is_readable(name):
    """User names, one statement per line, source-line comments, no dead code."""
    fn, args, wrt = FUNCTIONS[name]
    g = ad.grad(fn, wrt=wrt)
    g(*args)
    lines = g.source.splitlines()
    assert lines[0].startswith(f"def {fn.__name__}_grad(")
    assert any(line.strip().startswith("# ") and ".py:" in line for line in lines)
    assert all(";" not in line for line in lines)
    params = lines[0][lines[0].index("(") + 1:lines[0].index(")")].split(", ")
    wrt_names = [params[w] for w in (wrt if isinstance(wrt, tuple) else (wrt,))]
    assert all(f"d{p}" in g.source for p in wrt_names), "adjoints are named d<variable>"
    assigned = [line.split(" = ")[0].strip() for line in lines if " = " in line and not line.strip().startswith("#")]
    for name_ in {a for a in assigned if a.isidentifier()}:
        uses = sum(line.count(name_) for line in lines)
        assert uses >= 2, f"{name_} is assigned but never used (dead code)"
