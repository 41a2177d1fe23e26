"""The native tier on the property tests' random array programs (tests/grad/test_properties.py:
f(a, x) with a vector x, loops, while, break, early return, branches, reductions, indexing, a
matmul with a constant): the gradient on the native tier — the whole function where it lowers,
else its array regions as kernels called from the NumPy tier's code — equals the NumPy tier's
(the same IR; the NumPy tier is checked against the eager engine and finite differences there)."""
import warnings

import numpy as np
import pytest
from hypothesis import event, given, settings

import adcompiler as ad
from adcompiler.backends.llvm import outline
from tests.grad.test_properties import FAST, assume_smooth, cases, loaded

RTOL, ATOL = 1e-9, 1e-12      # libm vs NumPy's own transcendental functions, amplified by loops


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return tmp_path_factory.mktemp("native_array_progs")


@pytest.fixture(scope="module")
def outline_everything():
    """Small arrays: outline their regions anyway (the threshold keeps tiny ones on NumPy)."""
    saved, outline.MIN_ELEMENTS = outline.MIN_ELEMENTS, 0
    yield
    outline.MIN_ELEMENTS = saved


def check_native(program, a, x, directory):
    with loaded(program, directory) as mod:
        assume_smooth(mod, a, x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ad.FallbackWarning)
            want_g = ad.value_and_grad(mod.f, wrt=(0, 1), jit="never")
            want = want_g(a, x.copy())
            if want_g.mode != "compiled":
                event("traced")
                return
            g = ad.value_and_grad(mod.f, wrt=(0, 1), jit="always")
            got = g(a, x.copy())
        text = g.explain()
        event("native, whole function" if "machine code" in text else
              "native array regions" if "array regions" in text else "NumPy tier")
        assert "internally" not in text, text
        np.testing.assert_allclose(got[0], want[0], rtol=RTOL, atol=ATOL, err_msg="value")
        assert isinstance(got[1][0], float) and got[1][1].shape == x.shape
        np.testing.assert_allclose(got[1][0], want[1][0], rtol=RTOL, atol=ATOL, err_msg="d/da")
        np.testing.assert_allclose(got[1][1], want[1][1], rtol=RTOL, atol=ATOL, err_msg="d/dx")


@settings(FAST, max_examples=25)
@given(case=cases())
def test_native_equals_the_numpy_tier_on_random_array_programs(case, progdir, outline_everything):
    check_native(*case, progdir)


@pytest.mark.slow
@settings(FAST, max_examples=300)
@given(case=cases(max_depth=3))
def test_native_equals_the_numpy_tier_on_random_array_programs_many(case, progdir, outline_everything):
    check_native(*case, progdir)
