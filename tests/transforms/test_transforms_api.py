"""ad.jvp, vjp, jacfwd, jacrev, jacobian, hessian, hvp and stop_gradient: compiled through loops,
while, break and early return (not traced), equal to the eager engine and finite differences;
grad(grad(f)) through a loop's tape compiled; the native tier runs forward mode; clear errors."""
import math
import warnings

import numpy as np
import pytest

import adcompiler as ad


def loop_fn(x, n):
    s = 0.0
    for i in range(n):
        if s < 3.0:
            s = s + np.sin(x[i % 3]) * x[0]
        else:
            s = s * 0.5
    k = 0
    while s > 0.1 and k < 5:
        s = s * np.cos(s)
        k += 1
    return s + np.sum(x * x)


def break_fn(x):
    s = 0.0
    for i in range(6):
        s = s + np.tanh(x[i % 3] * s + x[1])
        if s > 1.5:
            break
    return s * x[2]


def early_return(x):
    s = x[0]
    for i in range(5):
        s = s * x[1] + np.exp(-s * s)
        if s > 10.0:
            return s
    return s * x[2] + x[0] * x[1]


def vector_out(x):
    h = x
    for i in range(3):
        h = np.tanh(h * x[0] + 0.1)
    return h * x


def scalar_loop(a, b):
    x = 0.5
    for i in range(200):
        x = x + 0.01 * (a * math.sin(x) - b * x * x)
    return x


X = np.array([0.3, 1.2, -0.7])


def _fd_jac(f, x, h=1e-6):
    cols = []
    for e in np.eye(x.size):
        cols.append((np.asarray(f(x + h * e.reshape(x.shape))) - np.asarray(f(x - h * e.reshape(x.shape)))) / (2 * h))
    return np.stack(cols, axis=-1)


def _fd_hess(f, x):
    g = ad.grad(f)
    return _fd_jac(lambda y: g(y), x)




@pytest.mark.parametrize("f", ["loop7", "break_fn", "early_return"])
def test_hessian_and_jvp_through_control_flow(f):
    fn = globals()[f] if f != "loop7" else _loop7
    with warnings.catch_warnings():
        warnings.simplefilter("error", ad.FallbackWarning)
        h = ad.hessian(fn)
        H = h(X)
        assert h.mode == "compiled", h.explain()
        assert "forward over reverse" in h.explain()
        out, dot = ad.jvp(fn, (X,), (np.array([1.0, -0.5, 0.25]),))
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, _fd_hess(fn, X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, ad.hessian(fn, fallback="always")(X), rtol=1e-9, atol=1e-12)
    v = np.array([1.0, -0.5, 0.25])
    np.testing.assert_allclose(out, fn(X), rtol=1e-14)
    np.testing.assert_allclose(dot, (fn(X + 1e-6 * v) - fn(X - 1e-6 * v)) / 2e-6, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ad.hvp(fn)(X, v), H @ v, rtol=1e-10, atol=1e-12)


def _loop7(x):
    return loop_fn(x, 7)


def test_jacobians_of_a_vector_function_agree():
    jf, jr, j = ad.jacfwd(vector_out), ad.jacrev(vector_out), ad.jacobian(vector_out)
    a, b, c = jf(X), jr(X), j(X)
    assert a.shape == (3, 3)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a, _fd_jac(vector_out, X), rtol=1e-6, atol=1e-8)
    for t in (jf, jr, j):
        assert t.mode == "compiled" and "batched sweep of 3" in t.explain(), t.explain()
    np.testing.assert_allclose(ad.jacfwd(vector_out, fallback="always")(X), a, rtol=1e-10, atol=1e-12)


def test_jacobian_picks_the_mode_with_fewer_sweeps():
    def wide(x):            # 3 inputs -> 1 output: reverse mode
        return np.sum(np.sin(x))
    j = ad.jacobian(wide)
    np.testing.assert_allclose(j(X), np.cos(X), rtol=1e-14)
    assert "reverse" in j.explain()
    j = ad.jacobian(vector_out)   # 3 -> 3: forward
    j(X)
    assert "forward" in j.explain()


def test_vjp_matches_jacrev_rows():
    out, vjp_fn = ad.vjp(vector_out, X)
    np.testing.assert_allclose(out, vector_out(X), rtol=1e-14)
    J = ad.jacrev(vector_out)(X)
    u = np.array([0.5, -1.0, 2.0])
    (ct,) = vjp_fn(u)
    np.testing.assert_allclose(ct, u @ J, rtol=1e-12)
    with pytest.raises(ValueError, match="cotangent has shape"):
        vjp_fn(np.ones(4))


def test_jvp_several_arguments_and_scalars():
    def f(x, w, c):
        return np.sum(np.tanh(x * w)) * c
    x, w = np.array([0.1, 0.2]), np.array([1.5, -0.5])
    out, dot = ad.jvp(f, (x, w, 2.0), (np.ones(2), np.zeros(2), 1.0))
    eps = 1e-6
    fd = (f(x + eps, w, 2.0 + eps) - f(x - eps, w, 2.0 - eps)) / (2 * eps)
    np.testing.assert_allclose(dot, fd, rtol=1e-6)
    out_e, dot_e = ad.jvp(f, (x, w, 2.0), (np.ones(2), np.zeros(2), 1.0), fallback="always")
    np.testing.assert_allclose(dot, dot_e, rtol=1e-12)


def test_jvp_of_an_integer_argument_takes_none():
    def f(x, n):
        return x * n
    assert ad.jvp(f, (2.0, 3), (1.0, None))[1] == 3.0
    with pytest.raises(TypeError, match="give None as its tangent"):
        ad.jvp(f, (2.0, 3), (1.0, 1))
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        ad.jvp(lambda x: x, (np.ones(2),), (np.ones(3),))


def test_second_derivative_through_a_tape_is_compiled():
    def f(x, y):
        s = 0.0
        for i in range(5):
            s = s + math.sin(x * s + y) + x * y
        return s
    gxx = ad.grad(ad.grad(f, 0), 0)
    gxy = ad.grad(ad.grad(f, 0), 1)
    g0 = ad.grad(f, 0)
    e = 1e-6
    np.testing.assert_allclose(gxx(0.7, 0.3), (g0(0.7 + e, 0.3) - g0(0.7 - e, 0.3)) / (2 * e), rtol=1e-6)
    np.testing.assert_allclose(gxy(0.7, 0.3), (g0(0.7, 0.3 + e) - g0(0.7, 0.3 - e)) / (2 * e), rtol=1e-6)
    for g in (gxx, gxy):
        assert g.mode == "compiled" and "forward over reverse" in g.explain(), g.explain()
        assert "tape" in g.source
    v, d = ad.value_and_grad(ad.grad(f, 0), 1)(0.7, 0.3)
    assert v == pytest.approx(g0(0.7, 0.3), rel=1e-14)
    assert d == pytest.approx(gxy(0.7, 0.3), rel=1e-14)


def test_forward_mode_runs_on_the_native_tier():
    from adcompiler.compiler import transforms as ct
    from adcompiler.compiler.types import type_of_value
    from adcompiler.specialize import CompiledTransform
    types = {"a": type_of_value(1.0), "b": type_of_value(1.0)}
    for irs, args in ((ct.jvp_ir(scalar_loop, types, ["a", "b"]), [1.3, 0.7, 1.0, 0.5]),
                      (ct.hvp_ir(scalar_loop, types, "a"), [1.3, 0.7, 1.0])):
        c = CompiledTransform(*irs, "test", jit="always")
        assert c.native is not None, c.native_reason
        native = c.run(args)
        assert c.tier == "native"
        numpy = c.compiled(*args)
        np.testing.assert_allclose(np.asarray(native, dtype=object).tolist(), np.asarray(numpy, dtype=object).tolist())
    e = 1e-6
    _, dot = ad.jvp(scalar_loop, (1.3, 0.7), (1.0, 0.5))
    fd = (scalar_loop(1.3 + e, 0.7 + 0.5 * e) - scalar_loop(1.3 - e, 0.7 - 0.5 * e)) / (2 * e)
    assert dot == pytest.approx(fd, rel=1e-6)


def test_stop_gradient_compiled_traced_and_eager():
    def f(x, y):
        s = 0.0
        for i in range(3):
            s = s + ad.stop_gradient(x * s) * y + x * y
        return s + ad.stop_gradient(np.sum(x)) * x

    def fa(x):
        return np.sum(ad.stop_gradient(x) * x)
    g = ad.grad(f)
    assert g(0.7, 0.3) == pytest.approx(ad.grad(f, fallback="always")(0.7, 0.3), rel=1e-14)
    assert g(0.7, 0.3) == pytest.approx(0.3 * 3 + 0.7, rel=1e-14)   # only x*y and the last x count
    assert g.mode == "compiled"
    np.testing.assert_allclose(ad.grad(fa)(np.array([1.0, 2.0])), [1.0, 2.0])
    assert ad.jvp(f, (0.7, 0.3), (1.0, 0.0))[1] == pytest.approx(1.6, rel=1e-14)
    t = ad.tensor([1.0, 2.0], requires_grad=True)
    (ad.stop_gradient(t) * t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [1.0, 2.0])
    assert ad.stop_gradient(2.5) == 2.5


def test_eager_fallback_warns_and_agrees():
    def uses_object(x):
        d = {"k": x}
        return np.sum(np.sin(d["k"])) * 2.0
    with pytest.warns(ad.FallbackWarning):
        H = ad.hessian(uses_object)(X)
    np.testing.assert_allclose(H, np.diag(-2.0 * np.sin(X)), rtol=1e-12, atol=1e-14)


def test_hessian_argument_errors():
    with pytest.raises(TypeError, match="float"):
        ad.hessian(lambda x, n: x * n, 1)(1.0, 3)
    with pytest.raises(ValueError, match="out of range"):
        ad.jacfwd(vector_out, 2)(X)


def test_second_derivative_wrt_an_array_through_a_tape_is_one_compiled_sweep():
    def f(a, x):
        s = 0.0
        for i in range(3):
            s = s + math.sin(a * s) + np.sum(np.tanh(x * a))
        return s
    g = ad.grad(ad.grad(f, 0), 1)
    x = np.array([0.3, -0.2, 0.5])
    d = g(0.7, x)
    assert g.mode == "compiled" and "forward over reverse" in g.explain(), g.explain()
    g0, e = ad.grad(f, 0), 1e-6
    fd = np.array([(g0(0.7, x + e * v) - g0(0.7, x - e * v)) / (2 * e) for v in np.eye(3)])
    np.testing.assert_allclose(d, fd, rtol=1e-6)
    eager = ad.grad(ad.grad(f, 0, fallback="always"), 1, fallback="always")(0.7, x)
    np.testing.assert_allclose(d, eager, rtol=1e-10)
