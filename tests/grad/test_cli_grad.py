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
