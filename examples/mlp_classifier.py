"""Train a small MLP classifier with adcompiler.nn and adcompiler.optim.

Uses scikit-learn's bundled 8x8 digits (1,797 images, 10 classes) when
scikit-learn is installed, otherwise a synthetic 3-arm spiral (2-D points,
3 classes: not linearly separable, so the hidden layers matter). Prints one
progress line per epoch and checks the stated held-out accuracy.

    python examples/mlp_classifier.py [--epochs N] [--dataset digits|spiral] [--per-class N]
"""
import argparse

import numpy as np

import adcompiler as ad
from adcompiler import nn, optim

TARGET = {"digits": 0.93, "spiral": 0.90}   # held-out accuracy this example promises


def load_digits():
    from sklearn.datasets import load_digits as _load
    d = _load()
    return d.data.astype(np.float32) / 16.0, d.target.astype(np.int64)


def make_spiral(per_class, classes=3, seed=0):
    """The classic 2-D spiral: `classes` arms of `per_class` noisy points each."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, per_class)
        theta = np.linspace(c * 4.0, (c + 1) * 4.0, per_class) + rng.normal(0, 0.2, per_class)
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ys.append(np.full(per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def split(x, y, test_fraction=0.25, seed=0):
    idx = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    te, tr = idx[:n_test], idx[n_test:]
    return (ad.tensor(x[tr]), ad.tensor(y[tr])), (ad.tensor(x[te]), ad.tensor(y[te]))


def accuracy(model, x, y):
    with ad.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["auto", "digits", "spiral"], default="auto")
    p.add_argument("--epochs", type=int, default=None, help="default: 30")
    p.add_argument("--per-class", type=int, default=300, help="spiral points per class")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    args = p.parse_args(argv)

    name = args.dataset
    if name == "auto":
        try:
            import sklearn  # noqa: F401
            name = "digits"
        except ImportError:
            name = "spiral"
    x, y = load_digits() if name == "digits" else make_spiral(args.per_class)
    epochs = args.epochs or 30
    (x_train, y_train), (x_test, y_test) = split(x, y)
    n_classes = int(y.max()) + 1
    print(f"dataset: {name}  ({len(x_train)} train / {len(x_test)} test, {x.shape[1]} features, {n_classes} classes)")

    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(x.shape[1], args.hidden), nn.ReLU(),
                          nn.Linear(args.hidden, args.hidden), nn.ReLU(),
                          nn.Linear(args.hidden, n_classes))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=0.01)
    order = np.random.default_rng(1)

    for epoch in range(1, epochs + 1):
        model.train()
        perm = order.permutation(len(x_train))
        total = 0.0
        for start in range(0, len(perm), args.batch_size):
            batch = perm[start:start + args.batch_size]
            xb, yb = x_train[batch], y_train[batch]
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        model.eval()
        print(f"epoch {epoch:3d}/{epochs}  loss {total / len(perm):.4f}  "
              f"train acc {accuracy(model, x_train, y_train):.3f}  test acc {accuracy(model, x_test, y_test):.3f}")

    acc = accuracy(model, x_test, y_test)
    print(f"\nheld-out accuracy {acc:.3f} (this example promises >= {TARGET[name]:.2f} at full size)")
    return name, acc


if __name__ == "__main__":
    name, acc = main()
    assert acc >= TARGET[name], f"accuracy {acc:.3f} is below the stated {TARGET[name]}"
