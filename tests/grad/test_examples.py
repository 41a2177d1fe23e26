"""The compiler's examples run at small size and do what they say."""
import importlib.util
import pathlib
import warnings

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quickstart_prints_eager_and_compiled_gradients(capsys):
    q = _load("quickstart")
    grad = q.eager_demo()
    assert grad.tolist() == [7.0, 9.0]
    dw = q.compiled_demo()
    out = capsys.readouterr().out
    assert "dz/dx  = tensor([7., 9.])" in out and "d2/dw2 = tensor(12.)" in out
    assert "mode: compiled" in out and "def loss_grad(w, x, y):" in out
    rng = np.random.default_rng(0)
    w, x, y = rng.standard_normal(3), rng.standard_normal((5, 3)), rng.standard_normal(5)
    pred = np.tanh(x @ w)
    want = x.T @ (2 * (pred - y) / 5 * (1 - pred ** 2))
    np.testing.assert_allclose(dw, want, rtol=1e-12)


def test_ode_fit_recovers_parameters_and_compiled_matches_traced(capsys):
    ode = _load("ode_fit")
    a, b, g = ode.fit(steps=500, iters=150, lr=0.05)
    assert g.mode == "compiled"
    assert a == pytest.approx(1.3, abs=1e-3) and b == pytest.approx(0.7, abs=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled, traced = ode.time_gradients(500)
    np.testing.assert_allclose(compiled, traced, rtol=1e-9)
    assert "agree: True" in capsys.readouterr().out


def test_ode_fit_final_state_loss_runs_native_and_agrees_with_the_other_tiers(capsys):
    ode = _load("ode_fit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native, numpy_tier, traced = ode.time_tiers(300)
    assert native == numpy_tier
    np.testing.assert_allclose(native, traced, rtol=1e-9)
    out = capsys.readouterr().out
    assert "(native)" in out and "agree: True" in out


def test_newton_hessian_converges_quadratically_with_a_compiled_hessian():
    ex = _load("newton_hessian")
    x, history, gd = ex.main()
    np.testing.assert_allclose(x, 1.0, atol=1e-12)
    assert history[2] < 1e-8 < history[0] and gd > 1e-3
    import adcompiler as ad
    h = ad.hessian(ex.energy)
    H = h(x)
    assert h.mode == "compiled" and "batched sweep of 20" in h.explain()
    eps = 1e-6
    g = ad.grad(ex.energy)
    fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(ex.N)], axis=-1)
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-6)
