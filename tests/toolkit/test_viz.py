"""viz.make_dot: DOT contents, names and shapes, saved tensors, backward order, rendering via Graphviz."""
import re
import stat
import sys

import pytest

import adcompiler as ad
from adcompiler import nn
from adcompiler.viz import Digraph, GraphvizNotFound, backward_order, make_dot


def _labels(source):
    return re.findall(r'\[label="([^"]*)"', source)


def _edges(source):
    return re.findall(r"^\t(\w+) -> (\w+)", source, flags=re.M)


def _node_ids(source):
    return dict((label, nid) for nid, label in re.findall(r'^\t(\w+) \[label="([^"]*)"', source, flags=re.M))


def test_tutorial_graph():
    # the tutorial: y = 2*x; z = 3+x; r = y+z; make_dot(r)
    x = ad.tensor([1.0], requires_grad=True)
    r = 2 * x + (3 + x)
    src = make_dot(r, params={"x": x}).source
    assert src.startswith("digraph {") and src.rstrip().endswith("}")
    assert sorted(_labels(src)) == sorted(["\\n (1)", "AddBackward0", "MulBackward0", "AddBackward0",
                                           "AccumulateGrad", "x\\n (1)"])
    ids = _node_ids(src)
    edges = set(_edges(src))
    assert (ids["x\\n (1)"], ids["AccumulateGrad"]) in edges
    assert (ids["AccumulateGrad"], ids["MulBackward0"]) in edges
    assert len(edges) == 6     # x->Acc, Acc->Mul, Acc->Add(3+x), Mul->Add, Add->Add, root->output


def test_parameters_named_with_shapes():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = model(ad.randn(5, 3)).pow(2).mean()
    src = make_dot(loss, params=dict(model.named_parameters())).source
    labels = _labels(src)
    for name, shape in [("0.weight", "(4, 3)"), ("0.bias", "(4)"), ("2.weight", "(2, 4)"), ("2.bias", "(2)")]:
        assert f"{name}\\n {shape}" in labels
    assert labels.count("AccumulateGrad") == 4
    assert {"MeanBackward0", "PowBackward0", "AddmmBackward0", "ReluBackward0"} <= set(labels)
    unnamed = make_dot(loss).source                   # without params: leaves are labelled by shape only
    assert "\\n (4, 3)" in _labels(unnamed)


def test_show_saved_lists_what_nodes_keep():
    x = ad.tensor([2.0, 3.0], requires_grad=True)
    y = (x.exp() * x).sum()
    src = make_dot(y, show_saved=True).source
    assert "saved result\\n (2)" in _labels(src)                 # exp keeps its output
    assert _labels(src).count("saved input 0\\n (2)") + _labels(src).count("saved input 1\\n (2)") == 2  # mul
    assert "fillcolor=orange" in src
    y.backward()
    assert "orange" not in make_dot(y, show_saved=True).source  # freed after backward


def test_show_order_is_a_valid_backward_schedule():
    x = ad.tensor([2.0, 3.0], requires_grad=True)
    y = (x ** 2 + 3 * x).sum()
    order = backward_order([y])
    assert [n.name() for n in order] == ["SumBackward0", "AddBackward0", "MulBackward0", "PowBackward0",
                                         "AccumulateGrad"]
    position = {n: i for i, n in enumerate(order)}
    for n in order:
        for child, _ in n.next_functions:
            if child is not None:
                assert position[child] > position[n]    # every node runs after all that feed it gradient
    src = make_dot(y, show_order=True).source
    assert "SumBackward0\\n(step 1)" in src and "AccumulateGrad\\n(step 5)" in src


def test_several_outputs_and_leaf_output():
    x = ad.tensor(1.0, requires_grad=True)
    src = make_dot([x * 2, x.exp()]).source
    assert src.count("fillcolor=darkolivegreen1") == 2 and _labels(src).count("AccumulateGrad") == 1
    assert "fillcolor=lightblue" in make_dot(x, params={"x": x}).source
    with pytest.raises(TypeError):
        make_dot(3.0)


def test_deep_graph_without_recursion():
    x = ad.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0
    src = make_dot(y, show_order=True).source
    assert src.count("MulBackward0") == 20000


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


@pytest.fixture
def fake_dot(monkeypatch, tmp_path):
    """A stand-in `dot` on PATH that records its arguments and writes a tiny SVG."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "dot"
    script.write_text(f"#!{sys.executable}\n"
                      "import sys\n"
                      "src = sys.stdin.read()\n"
                      "open(sys.argv[0] + '.args', 'w').write(' '.join(sys.argv[1:]))\n"
                      "sys.stdout.write('<svg>' + str(src.count('->')) + ' edges</svg>')\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bindir))
    return script


def test_render_without_graphviz_explains_the_install(no_dot, tmp_path):
    dot = make_dot(ad.tensor(1.0, requires_grad=True).exp())
    with pytest.raises(GraphvizNotFound) as e:
        dot.render(tmp_path / "g.svg")
    msg = str(e.value)
    assert "apt-get install graphviz" in msg and "pip install graphviz` is not enough" in msg
    assert dot._repr_svg_() is None
    assert not (tmp_path / "g.svg").exists()


def test_render_runs_dot(fake_dot, tmp_path):
    dot = make_dot(ad.tensor(1.0, requires_grad=True).exp())
    out = dot.render(tmp_path / "g.png")
    assert open(out, "rb").read() == b"<svg>3 edges</svg>"
    assert open(str(fake_dot) + ".args").read() == "-Tpng"
    dot.render(tmp_path / "g.svg")
    assert open(str(fake_dot) + ".args").read() == "-Tsvg"
    assert dot._repr_svg_() == "<svg>3 edges</svg>"
    with pytest.raises(ValueError, match="unknown format"):
        dot.pipe("jpeg")


def test_save_writes_source(tmp_path):
    dot = Digraph("digraph {\n}\n")
    dot.save(tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == "digraph {\n}\n"
