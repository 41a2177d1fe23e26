"""Gradient flow through a small MLP, measured with hooks.

Three kinds of hooks watch one backward pass, without changing the model:
- a forward hook on each Linear layer registers a tensor hook on the layer's
  output (`out.register_hook`): the norm of dLoss/d(output) per layer;
- a full backward hook on each Linear layer (`register_full_backward_hook`):
  the norm of dLoss/d(input) as the gradient leaves the layer;
- a post-accumulate-grad hook on each weight: the norm of `weight.grad` once
  it is accumulated.
It prints one row per layer, for a sigmoid and a tanh network of the same
depth (the sigmoid one shows the vanishing gradient), and checks that what
the hooks saw equals `.grad` after backward.

    python examples/gradient_flow.py [--depth N] [--width N] [--batch N]
"""
import argparse

import numpy as np

import adcompiler as ad
from adcompiler import nn


def make_mlp(depth, width, activation):
    ad.manual_seed(0)
    layers = [nn.Linear(4, width), activation()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), activation()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def watch(model):
    """Register the hooks; returns (rows keyed by layer name, handles)."""
    rows = {}
    handles = []
    for name, layer in model.named_modules():
        if not isinstance(layer, nn.Linear):
            continue
        row = rows[name] = {}

        def on_forward(module, args, out, row=row):
            out.register_hook(lambda g: row.__setitem__("d output", g.norm().item()))

        def on_backward(module, grad_input, grad_output, row=row):
            row["d input"] = grad_input[0].norm().item()

        def on_accumulated(weight, row=row):
            row["weight.grad"] = weight.grad.norm().item()

        handles += [layer.register_forward_hook(on_forward), layer.register_full_backward_hook(on_backward),
                    layer.weight.register_post_accumulate_grad_hook(on_accumulated)]
    return rows, handles


def run(activation, depth, width, batch):
    model = make_mlp(depth, width, activation)
    rng = np.random.default_rng(1)
    x = ad.tensor(rng.normal(size=(batch, 4)).astype(np.float32), requires_grad=True)
    y = ad.tensor(np.sin(x.detach().numpy().sum(axis=1, keepdims=True)))
    rows, handles = watch(model)
    loss = nn.MSELoss()(model(x), y)
    loss.backward()
    for h in handles:
        h.remove()
    # the hooks saw exactly what backward left in .grad
    for name, row in rows.items():
        assert np.isclose(row["weight.grad"], model.get_submodule(name).weight.grad.norm().item())
    assert np.isclose(rows["0"]["d input"], x.grad.norm().item(), rtol=1e-5)
    print(f"{activation.__name__} network, {depth} Linear layers of width {width}, loss {loss.item():.4f}")
    print(f"  {'layer':>5} | {'|dL/d output|':>13} | {'|dL/d input|':>12} | {'|weight.grad|':>13}")
    for name, row in rows.items():
        print(f"  {name:>5} | {row['d output']:13.3e} | {row['d input']:12.3e} | {row['weight.grad']:13.3e}")
    first, last = rows["0"]["weight.grad"], rows[str(2 * depth - 2)]["weight.grad"]
    print(f"  first layer / last layer weight-gradient norm: {first / last:.2e}")
    return first / last


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args(argv)
    ratios = {act: run(act, args.depth, args.width, args.batch) for act in (nn.Sigmoid, nn.Tanh)}
    print("hooks agree with .grad")
    if ratios[nn.Sigmoid] < ratios[nn.Tanh]:
        print("the sigmoid network's first layers get relatively smaller gradients (vanishing gradient)")


if __name__ == "__main__":
    main()
