"""ad.jit(f, threads=2): a purely elementwise kernel run on blocks of rows in two threads at once
(backends/llvm/threads.py) gives results bitwise equal to one thread, and everything else goes to
the one-thread kernel."""
import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends.llvm import threads as th

rng = np.random.default_rng(0)


def poly(x, y, a):
    return (x * x * 0.5 + a * x - 1.0) * y + x / (1.0 + y * y)


def two_results(x, y):
    return np.maximum(x, y) * 2.0, x * y - 1.0


def with_a_sum(x, y):
    return x * y + np.sum(x)


def native(f):
    return f._last.compiled.native


@pytest.mark.parametrize("shape", [(1001, 263), (300_001,), (3, 100_000)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_split_kernels_are_bitwise_one_kernel(shape, dtype):
    x, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    one, two = ad.jit(poly), ad.jit(poly, threads=2)
    want = one(x, y, 3.0)
    got = two(x, y, 3.0)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, poly(x, y, 3.0), rtol=1e-6 if dtype == np.float32 else 1e-15)
    assert two.tier == "native" and native(two).split_calls == 1
    assert "2 threads for arrays of 262,144 elements or more" in two.explain()


def test_several_results_and_three_threads():
    x, y = rng.standard_normal((999, 301)), rng.standard_normal((999, 301))
    got = ad.jit(two_results, threads=3)(x, y)
    want = ad.jit(two_results)(x, y)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_small_strided_or_other_dtype_arguments_run_on_one_thread():
    f = ad.jit(poly, threads=2)
    x, y = rng.standard_normal((600, 600)), rng.standard_normal((600, 600))
    f(x, y, 1.5)
    assert native(f).split_calls == 1
    small = rng.standard_normal((10, 10))
    np.testing.assert_allclose(f(small, small, 1.5), poly(small, small, 1.5), rtol=1e-15)
    view = x.T                              # another layout: the one-thread kernel (strided variant)
    np.testing.assert_allclose(f(view, y, 1.5), poly(view, y, 1.5), rtol=1e-15)
    assert native(f).split_calls == 1


def test_a_function_that_is_not_purely_elementwise_is_not_split():
    x, y = rng.standard_normal(400_000), rng.standard_normal(400_000)
    f = ad.jit(with_a_sum, threads=2)
    np.testing.assert_allclose(f(x, y), x * y + np.sum(x), rtol=1e-12)
    assert "threads=2 not used: the function is not purely elementwise" in f.explain()


def test_separable_shape_reads_the_ir():
    from adcompiler.compiler.frontend import compile_function
    from adcompiler.compiler.types import parse_type
    t = parse_type("f64[5,4]")
    assert th.separable_shape(compile_function(poly, [t, t, parse_type("f64")])) == (5, 4)
    assert th.separable_shape(compile_function(with_a_sum, [t, t])) is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_threads_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="threads must be a positive int or None"):
        ad.jit(poly, threads=bad)
