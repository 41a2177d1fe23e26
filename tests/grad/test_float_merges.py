"""A Python float and a float32 meeting where an `if` joins: Python keeps each as it is (the float in
double precision), so the compiler refuses a merge that would round the float (the tracer runs it)
and compiles the ones that cannot change a value. A loop carrying a Python float that becomes
float32 compiles: after one iteration Python's value is float32 too (the first iteration's
arithmetic may round differently in the last float32 bit)."""
import warnings

import numpy as np
import pytest

import adcompiler as ad


def branch(a, b):
    if b < 0.2:
        return a * 1.1
    return np.float32(a)


def loop_from_a_float(a, x):
    acc = a * 1.1                      # a Python float, then float32 after one iteration
    for i in range(3):
        acc = acc * 1.1 + x[i]
    return acc


def loop_from_zero(x):
    acc = 0.0                          # float32 holds 0.0 exactly: compiled
    for i in range(3):
        acc = acc + x[i] * x[i]
    return acc


def _run(f, *args, wrt=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        g = ad.value_and_grad(f, wrt=wrt)
        return g, g(*args)


def test_an_if_joining_a_float_and_a_float32_keeps_the_float():
    g, (value, _) = _run(branch, 2.0, 0.0, wrt=(0, 1))
    assert value == branch(2.0, 0.0) == 2.2
    assert g.mode == "traced" and "on one branch of the if" in g.explain()


def test_a_loop_starting_from_a_run_time_float_compiles_to_float32():
    x = np.array([0.1, 0.2, 0.3], np.float32)
    g, (value, grad) = _run(loop_from_a_float, 0.7, x)
    assert g.mode == "compiled"
    assert value == pytest.approx(float(loop_from_a_float(0.7, x)), rel=2e-7)
    h = 1e-3
    fd = (float(loop_from_a_float(0.7 + h, x)) - float(loop_from_a_float(0.7 - h, x))) / (2 * h)
    assert grad == pytest.approx(fd, rel=1e-3)


def test_a_loop_starting_from_an_exact_constant_compiles():
    x = np.array([0.1, 0.2, 0.3], np.float32)
    g, (value, grad) = _run(loop_from_zero, x)
    assert g.mode == "compiled"
    assert value == float(loop_from_zero(x))
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-6)
