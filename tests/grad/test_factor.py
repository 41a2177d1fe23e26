"""The pass that factors a common cotangent out of an adjoint's sums of products."""
import math

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.compiler import parse_function, print_function
from adcompiler.compiler.interpret import interpret
from adcompiler.compiler.passes import dce
from adcompiler.compiler.passes.factor import factor

SUM_OF_PRODUCTS = """func @f(%g: f64, %a: f64, %b: f64, %x: f64, %acc: f64) -> f64 {
  %0 = mul %g, %a : f64
  %1 = neg %g : f64
  %2 = mul %1, %x : f64
  %3 = mul %2, %b : f64
  %4 = add %acc, %0 : f64
  %5 = add %4, %3 : f64
  return %5
}
"""


def test_the_shared_factor_is_taken_out_once():
    fn = parse_function(SUM_OF_PRODUCTS)
    out = dce(factor(parse_function(SUM_OF_PRODUCTS)))
    text = print_function(out)
    # acc + g*(a - x*b): g multiplies once, and the sum's result is an add of x and that product
    assert text.count("mul %g") == 1, text
    rng = np.random.default_rng(0)
    for _ in range(50):
        args = [float(v) for v in rng.normal(size=5)]
        g, a, b, x, acc = args
        assert interpret(out, *args) == pytest.approx(acc + g * a - g * x * b, rel=1e-14, abs=1e-14)
        assert interpret(out, *args) == pytest.approx(interpret(fn, *args), rel=1e-14, abs=1e-14)


def test_a_sum_without_a_shared_factor_is_left_alone():
    src = SUM_OF_PRODUCTS.replace("%0 = mul %g, %a", "%0 = mul %b, %a")    # acc + b*a - g*x*b
    src = src.replace("%3 = mul %2, %b", "%3 = neg %2")                      # acc + b*a + g*x
    before = print_function(parse_function(src))
    assert print_function(dce(factor(parse_function(src)))) == before


def test_the_users_own_sums_keep_their_rounding():
    def f(a, x, y):
        return a * x + a * y    # a*(x+y) would round differently for these values

    a, x, y = 0.7, 0.6, 0.1
    assert a * x + a * y != a * (x + y)
    value, grads = ad.value_and_grad(f, wrt=(0, 1, 2), fallback="never")(a, x, y)
    assert value == a * x + a * y
    assert grads == pytest.approx((x + y, a, a), rel=1e-15)


def scalar_loop(a, b, x0, n):
    x = x0
    for i in range(n):
        x = x + 0.01 * (a * math.sin(x) - b * x * x)
    return x


def test_the_loop_carried_cotangent_is_one_multiply_from_the_next():
    g = ad.value_and_grad(scalar_loop, wrt=("a", "b", "x0"), fallback="never", jit="never")
    value, grads = g(1.0, 0.5, 0.3, 200)
    src = g.source
    assert "dx = dx * " in src, src
    h = 1e-6
    for k, name in enumerate(("a", "b", "x0")):
        args = [1.0, 0.5, 0.3]
        up, dn = list(args), list(args)
        up[k] += h
        dn[k] -= h
        fd = (scalar_loop(*up, 200) - scalar_loop(*dn, 200)) / (2 * h)
        assert grads[k] == pytest.approx(fd, rel=1e-7), name


def test_a_term_without_the_shared_factor_keeps_its_own_sign():
    # g*a + g*b + (-u)*v: the last term is kept as it is, its negation counted once
    src = """func @f(%g: f64, %a: f64, %b: f64, %u: f64, %v: f64) -> f64 {
  %0 = mul %g, %a : f64
  %1 = mul %g, %b : f64
  %2 = neg %u : f64
  %3 = mul %2, %v : f64
  %4 = add %0, %1 : f64
  %5 = add %4, %3 : f64
  return %5
}
"""
    fn = parse_function(src)
    out = dce(factor(parse_function(src)))
    assert print_function(out).count("mul %g") == 1
    rng = np.random.default_rng(1)
    for _ in range(50):
        args = [float(v) for v in rng.normal(size=5)]
        g, a, b, u, v = args
        assert interpret(out, *args) == pytest.approx(g * a + g * b - u * v, rel=1e-13, abs=1e-14)
        assert interpret(out, *args) == pytest.approx(interpret(fn, *args), rel=1e-13, abs=1e-14)
