"""`adc grad`, `adc explain`, and `adc ir` on the examples."""
import pathlib

import pytest

from adcompiler.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
ODE = f"{ROOT}/examples/ode_fit.py::loss"
ODE_ARGS = ["--arg", "a=f64", "--arg", "b=f64", "--arg", "obs=f64[10]", "--arg", "steps=i64", "--arg", "dt=f64"]
EXTRA = f"{ROOT}/tests/grad/corpus_extra.py"


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_grad_prints_the_generated_adjoint(capsys):
    code, out, err = run(capsys, "grad", ODE, *ODE_ARGS, "--wrt", "a,b")
    assert code == 0 and err == ""
    assert out.startswith("def loss_grad(a, b, obs, steps, dt):")
    assert "tape.append((i, x))" in out and "return (err, da, db)" in out
    compile(out, "<adc grad>", "exec")


def test_grad_ir_flag_prints_adjoint_ir(capsys):
    code, out, _ = run(capsys, "grad", ODE, *ODE_ARGS, "--wrt", "a", "--ir")
    assert code == 0 and out.startswith("func @loss_grad(") and "tape_pop" in out


def test_explain_compiled_and_traced(capsys):
    code, out, _ = run(capsys, "explain", ODE, *ODE_ARGS, "--wrt", "a")
    assert code == 0 and out.strip() == "loss: compiled (reverse-mode source transformation), wrt a"
    code, out, _ = run(capsys, "explain", f"{EXTRA}::with_try", "--arg", "x=f64[3]")
    assert code == 0
    assert "with_try: traced" in out and "try/except is not supported (corpus_extra.py:" in out


@pytest.mark.parametrize("argv, message", [
    (["grad", f"{EXTRA}::nope", "--arg", "x=f64"], "no function 'nope'"),
    (["grad", f"{ROOT}/nowhere.py::f"], "no such file"),
    (["grad", ODE, *ODE_ARGS, "--wrt", "zz"], "--wrt 'zz' is not a parameter"),
    (["grad", ODE, *ODE_ARGS, "--wrt", "steps"], "gradients are taken w.r.t. float inputs"),
    (["grad", f"{EXTRA}::with_try", "--arg", "x=f64[3]"], "cannot compile the gradient: try/except"),
])
def test_errors_are_one_line_with_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_ir_works_on_an_example_and_marks_activity(capsys):
    code, out, _ = run(capsys, "ir", ODE, *ODE_ARGS, "--wrt", "a,b")
    assert code == 0 and out.startswith("func @loss(") and "| active: %a, %b" in out


def test_grad_out_with_symbolic_extents_runs_at_any_batch_size(capsys, tmp_path):
    import subprocess
    import sys

    import numpy as np

    import adcompiler as ad
    src = tmp_path / "fit.py"
    src.write_text("import numpy as np\n\ndef loss(W, X, y):\n    return np.mean((np.tanh(X @ W) - y) ** 2)"
                   " + np.sum(X[1:] * X[:-1])\n")
    out_file = tmp_path / "fit_grad.py"
    code, out, err = run(capsys, "grad", f"{src}::loss", "--arg", "W=f64[4,3]", "--arg", "X=f64[n,4]",
                         "--arg", "y=f64[n,3]", "--wrt", "W,X", "--out", str(out_file))
    assert code == 0, err
    text = out_file.read_text()
    assert "_n0 = X.shape[0]" in text and "Symbolic extents" in text
    ns = {}
    exec(compile(text, str(out_file), "exec"), ns)
    spec = __import__("importlib.util").util.spec_from_file_location("fit", src)
    mod = __import__("importlib.util").util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(1)
    W = rng.standard_normal((4, 3))
    for n in (2, 5, 11):
        X, y = rng.standard_normal((n, 4)), rng.standard_normal((n, 3))
        value, dW, dX = ns["loss_grad"](W, X, y)
        want = ad.grad(mod.loss, wrt=(0, 1), fallback="always")(W, X, y)
        np.testing.assert_allclose(value, mod.loss(W, X, y), rtol=1e-13)
        np.testing.assert_allclose(dW, want[0], rtol=1e-12)
        np.testing.assert_allclose(dX, want[1], rtol=1e-12)
    with pytest.raises(ValueError, match="compiled for W: f64.4,3., X: f64.n0,4., y: f64.n0,3.; valid while n0 >= 2"):
        ns["loss_grad"](W, np.ones((1, 4)), np.ones((1, 3)))        # 1 broadcasts: not this function's
    with pytest.raises(ValueError, match="compiled for"):
        ns["loss_grad"](W, np.ones((5, 4)), np.ones((6, 3)))        # n is one extent
    # the module needs nothing but NumPy
    run_it = subprocess.run([sys.executable, "-c", f"import sys; sys.modules['adcompiler'] = None; "
                             f"exec(open({str(out_file)!r}).read()); import numpy as np; "
                             f"print(loss_grad(np.ones((4, 3)), np.ones((7, 4)), np.ones((7, 3)))[2].shape)"],
                            capture_output=True, text=True)
    assert run_it.returncode == 0 and run_it.stdout.strip() == "(7, 4)", run_it.stderr
