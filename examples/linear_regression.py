"""Fit y = 2x + 1 with nn.Linear, nn.MSELoss and optim.SGD, and check that w ≈ 2, b ≈ 1.

    python examples/linear_regression.py [--epochs 200] [--samples 100]
"""
import argparse

import adcompiler as ad
from adcompiler import nn, optim


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.1)
    args = p.parse_args(argv)

    ad.manual_seed(42)
    x = ad.randn(args.samples, 1)
    y = 2 * x + 1 + ad.randn(args.samples, 1) * 0.1      # noisy data on the line y = 2x + 1

    model = nn.Linear(1, 1)
    loss_fn = nn.MSELoss()
    opt = optim.SGD(model.parameters(), lr=args.lr)

    for epoch in range(args.epochs):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (epoch + 1) % max(args.epochs // 5, 1) == 0:
            print(f"epoch {epoch + 1:4d}  loss {loss.item():.5f}  "
                  f"w {model.weight.item():.4f}  b {model.bias.item():.4f}")

    w, b = model.weight.item(), model.bias.item()
    print(f"\nfitted: w = {w:.4f}, b = {b:.4f}   (true: w = 2, b = 1)")
    assert abs(w - 2) < 0.05 and abs(b - 1) < 0.05, "linear regression did not recover w = 2, b = 1"
    return w, b


if __name__ == "__main__":
    main()
