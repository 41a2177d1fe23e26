"""`adc ir`: the good path (IR, passes, activity) and one-line errors with exit 2."""
import pathlib

import pytest

from adcompiler.cli import main

CORPUS = pathlib.Path(__file__).parent.parent / "corpus"
LOOPS = f"{CORPUS / 'loops.py'}"


def run(capsys, *argv):
    code = main(["ir", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_the_ir(capsys):
    code, out, err = run(capsys, f"{LOOPS}::for_range", "--arg", "x=f64[5]", "--arg", "n=i64")
    assert code == 0 and err == ""
    assert out.startswith("func @for_range(%x: f64[5], %n: i64) -> f64[] {")
    assert "%acc = for %i = %0 to %n step %1 iter(%acc.1 = %3) : f64[] {" in out


def test_after_a_pass_and_activity(capsys):
    code, out, _ = run(capsys, f"{LOOPS}::scalar_ode", "--arg", "a=f64", "--arg", "b=f64", "--after", "dce",
                       "--wrt", "a")
    assert code == 0
    assert "func @scalar_ode(%a: f64, %b: f64) -> f64 {" in out and "| active: %a" in out
    assert "astype" not in out          # folded into a constant
    code, out2, _ = run(capsys, f"{LOOPS}::scalar_ode", "--arg", "a=f64", "--arg", "b=f64", "--wrt", "b")
    assert "| active: %b" in out2.splitlines()[0]


def test_symbolic_extents(capsys, tmp_path):
    src = tmp_path / "fit.py"
    src.write_text("import numpy as np\n\ndef loss(W, X, y):\n    return np.mean((np.tanh(X @ W) - y) ** 2)"
                   " + np.sum(X[1:] - X[:-1])\n")
    code, out, _ = run(capsys, f"{src}::loss", "--arg", "W=f64[4,3]", "--arg", "X=f64[n,4]", "--arg", "y=f64[n,3]")
    assert code == 0
    assert "func @loss(%W: f64[4,3], %X: f64[n0,4], %y: f64[n0,3])" in out
    assert ": f64[(n0 - 1),4]" in out and "# symbolic extents: n0 = X.shape[0]; valid while n0 >= 2" in out
    code, out, err = run(capsys, f"{src}::loss", "--arg", "W=f64[4,3]", "--arg", "X=f64[:,4]", "--arg", "y=f64[:,3]")
    assert code == 2 and "cannot be broadcast" in err      # two `:` are two extents


@pytest.mark.parametrize("argv,message", [
    (["/nonexistent/file.py::f"], "no such file: /nonexistent/file.py"),
    ([f"{LOOPS}"], "expected path/to/file.py::function"),
    ([f"{LOOPS}::nope"], "no function 'nope' in"),
    ([f"{LOOPS}::for_range", "--arg", "x=f64[:-1]", "--arg", "n=i64"], "bad --arg 'x=f64[:-1]'"),
    ([f"{LOOPS}::for_range", "--arg", "x"], "bad --arg 'x': expected NAME=TYPE"),
    ([f"{LOOPS}::for_range", "--arg", "q=f64"], "has no parameter 'q'"),
    ([f"{LOOPS}::for_range", "--arg", "x=f64[5]"], "missing --arg for parameter 'n'"),
    ([f"{LOOPS}::for_range", "--arg", "x=f64[5]", "--arg", "n=i64", "--wrt", "z"], "--wrt 'z' is not a parameter"),
    ([f"{pathlib.Path(__file__).parent / 'unsupported_cases.py'}::try_except", "--arg", "x=f64"],
     "try/except is not supported (unsupported_cases.py:"),
])
def test_errors_are_one_line_with_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and err.startswith("adc ir: error: ")


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["ir", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for flag in ("--arg NAME=TYPE", "--after PASS", "--wrt NAME", "FILE::FUNC"):
        assert flag in out
