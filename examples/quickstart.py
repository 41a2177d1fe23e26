"""The README's demo: eager gradients with PyTorch's semantics, then the compiler.

Run: python examples/quickstart.py
"""
import numpy as np

import adcompiler as ad


def eager_demo():
    print("== Eager autograd (PyTorch semantics) ==")
    x = ad.tensor([2.0, 3.0], requires_grad=True)
    y = x ** 2 + 3 * x
    z = y.sum()
    z.backward()
    print("x      =", x)
    print("y      =", y)
    print("z      =", z)
    print("dz/dx  =", x.grad, "  # 2x + 3")

    w = ad.tensor(2.0, requires_grad=True)
    (dw,) = ad.autograd.grad(w ** 3, w, create_graph=True)
    (d2w,) = ad.autograd.grad(dw, w)
    print("d/dw w^3 =", dw, "  d2/dw2 =", d2w)
    return x.grad


def compiled_demo():
    """Differentiates plain NumPy source with `ad.grad` and prints the generated adjoint."""
    def loss(w, x, y):
        pred = np.tanh(x @ w)
        return np.mean((pred - y) ** 2)

    g = ad.grad(loss)
    rng = np.random.default_rng(0)
    w, x, y = rng.standard_normal(3), rng.standard_normal((5, 3)), rng.standard_normal(5)
    print("\n== Compiled gradient of plain NumPy code ==")
    dw = g(w, x, y)
    print("dloss/dw =", dw)
    print("mode:", g.mode, "-", g.explain())
    print("\nThe generated adjoint:\n")
    print(g.source)
    return dw


if __name__ == "__main__":
    eager_demo()
    compiled_demo()
