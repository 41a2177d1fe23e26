"""`adc graph`: DOT on stdout, --out files, and one-line errors (exit 2) for anything not allowed."""
import pytest

from adcompiler.cli import main


def run(capsys, *argv):
    code = main(["graph", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dot_to_stdout(capsys):
    code, out, err = run(capsys, "x**2 + 3*x", "--var", "x=2.0,3.0")
    assert code == 0 and err == ""
    assert out.startswith("digraph {")
    for label in ("AddBackward0", "PowBackward0", "MulBackward0", "AccumulateGrad", 'x\\n (2)'):
        assert label in out


def test_functions_methods_and_several_vars(capsys):
    code, out, _ = run(capsys, "sin(x) * y + x.sum() + exp(-y)", "--var", "x=1,2", "--var", "y=0.5", "--order")
    assert code == 0
    for label in ("SinBackward0", "ExpBackward0", "SumBackward0", "NegBackward0", 'y\\n ()', "(step 1)"):
        assert label in out


def test_out_dot_file(capsys, tmp_path):
    path = tmp_path / "g.dot"
    code, out, _ = run(capsys, "tanh(x)", "--var", "x=1", "--out", str(path))
    assert code == 0 and out == f"wrote {path}\n"
    assert "TanhBackward0" in path.read_text()


@pytest.mark.parametrize("expr,words", [
    ("x + __import__('os')", "function '__import__' is not allowed"),
    ("x.__class__", "Attribute is not allowed"),
    ("(lambda: 1)()", "Lambda is not allowed"),
    ("x if x else x", "IfExp is not allowed"),
    ("open('f')", "function 'open' is not allowed"),
    ("y + 1", "unknown name 'y'; define it with --var y=VALUE"),
    ("x +", "cannot parse expression"),
    ("9**9**9 * x", "failed"),
    ("2 + 3", "does not depend on any --var input"),
])
def test_bad_expressions_exit_2_with_one_line(capsys, expr, words):
    code, out, err = run(capsys, expr, "--var", "x=1")
    assert code == 2 and out == ""
    assert words in err and err.count("\n") == 1 and err.startswith("adc graph: error: ")


def test_bad_var_and_missing_graphviz(capsys, monkeypatch, tmp_path):
    code, _, err = run(capsys, "x", "--var", "x=a,b")
    assert code == 2 and "values must be numbers" in err
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run(capsys, "x*2", "--var", "x=1", "--out", str(tmp_path / "g.svg"))
    assert code == 2 and "apt-get install graphviz" in err and "--out graph.dot" in err and err.count("\n") == 1
