"""Each example in examples/ runs as a script at a small size and prints what it promises."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_example(name, *args, cwd=None):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_linear_regression_recovers_line():
    out = run_example("linear_regression.py", "--epochs", "60", "--samples", "50")
    w, b = map(float, re.search(r"fitted: w = ([-\d.]+), b = ([-\d.]+)", out).groups())
    assert abs(w - 2) < 0.05 and abs(b - 1) < 0.05


def test_gradient_descent_table(tmp_path):
    out = run_example("gradient_descent_2d.py", "--steps", "40", "--png", str(tmp_path / "gd.png"))
    rows = dict(re.findall(r"^\s*([\d.]+) \|.*\| (converged|slow|diverged)$", out, flags=re.M))
    assert rows == {"0.01": "slow", "0.05": "slow", "0.09": "converged", "0.105": "diverged"}
    try:
        import matplotlib  # noqa: F401
        assert (tmp_path / "gd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    except ImportError:
        assert "matplotlib is not installed" in out


def test_mlp_classifier_spiral_small():
    out = run_example("mlp_classifier.py", "--dataset", "spiral", "--epochs", "12", "--per-class", "80")
    epochs = re.findall(r"^epoch\s+(\d+)/12\s+loss", out, flags=re.M)
    assert epochs == [str(i) for i in range(1, 13)]            # a progress line per epoch
    acc = float(re.search(r"held-out accuracy ([\d.]+)", out).group(1))
    assert acc >= 0.85


def test_mlp_classifier_digits():
    pytest.importorskip("sklearn")
    out = run_example("mlp_classifier.py", "--dataset", "digits", "--epochs", "5")
    assert float(re.search(r"held-out accuracy ([\d.]+)", out).group(1)) >= 0.9


def test_custom_function():
    out = run_example("custom_function.py")
    assert "gradcheck(Exp) = True" in out and "gradcheck(LegendreP3) = True" in out
    assert "P3'(x)            = tensor([ 0.3750,  6.0000, 28.5000])" in out
    assert "grad_fn=<LegendreP3Backward>" in out


def test_higher_order():
    out = run_example("higher_order.py")
    assert "x³ at x=2: first 12, second 12, third 6" in out
    assert "[ 802., -400.]" in out and "gradgradcheck(sin(t)·t) = True" in out


def test_graph_picture(tmp_path):
    out = run_example("graph_picture.py", "--out-dir", str(tmp_path), "--order")
    assert out.count("digraph {") == 2
    assert '"0.weight\\n (4, 3)"' in out and "AddmmBackward0" in out and "(step 1)" in out
    assert "wrote" in out or "apt-get install graphviz" in out


def test_gradient_flow():
    out = run_example("gradient_flow.py", "--depth", "5", "--width", "8", "--batch", "16")
    rows = re.findall(r"^\s+(\d+) \|\s+([\d.e+-]+) \|\s+([\d.e+-]+) \|\s+([\d.e+-]+)$", out, flags=re.M)
    assert [r[0] for r in rows] == ["0", "2", "4", "6", "8"] * 2      # one row per Linear layer, two networks
    assert all(float(v) > 0 for r in rows for v in r[1:])
    assert "hooks agree with .grad" in out
