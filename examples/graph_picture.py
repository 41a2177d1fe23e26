"""Draw backward graphs with adcompiler.viz.make_dot (the torchviz picture).

Prints the Graphviz DOT text; when the Graphviz `dot` program is installed it
also renders SVG files (`--out-dir`), otherwise says how to install it.

    python examples/graph_picture.py [--out-dir .] [--order] [--saved]
"""
import argparse
import os

import adcompiler as ad
from adcompiler import nn
from adcompiler.viz import GraphvizNotFound, make_dot


def tutorial_graph(show_order=False, show_saved=False):
    """The tutorial's graph: r = 2x + (3 + x)."""
    x = ad.tensor([1.0], requires_grad=True)
    y = 2 * x
    z = 3 + x
    r = y + z
    return make_dot(r, params={"x": x}, show_order=show_order, show_saved=show_saved)


def mlp_graph(show_order=False, show_saved=False):
    """A two-layer MLP's loss, with the parameters labelled by name."""
    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    loss = nn.MSELoss()(model(ad.randn(5, 3)), ad.zeros(5, 1))
    return make_dot(loss, params=dict(model.named_parameters()), show_order=show_order, show_saved=show_saved)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", default=".")
    p.add_argument("--order", action="store_true", help="number nodes in backward order")
    p.add_argument("--saved", action="store_true", help="show tensors saved for backward")
    args = p.parse_args(argv)
    graphs = {"tutorial_graph": tutorial_graph(args.order, args.saved), "mlp_graph": mlp_graph(args.order, args.saved)}
    for name, dot in graphs.items():
        print(f"# {name}\n{dot.source}")
        try:
            print("wrote", dot.render(os.path.join(args.out_dir, name + ".svg")))
        except GraphvizNotFound as e:
            print(f"(no picture: {e})")
    return graphs


if __name__ == "__main__":
    main()
