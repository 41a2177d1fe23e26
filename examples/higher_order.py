"""Higher-order derivatives: differentiate a gradient again with create_graph=True.

    python examples/higher_order.py
"""
import adcompiler as ad
from adcompiler.autograd import grad, gradgradcheck


def derivatives_of_cube():
    """d/dx, d²/dx², d³/dx³ of x³ at x = 2: 12, 12, 6."""
    x = ad.tensor(2.0, requires_grad=True)
    y = x ** 3
    (dy,) = grad(y, x, create_graph=True)
    (d2y,) = grad(dy, x, create_graph=True)
    (d3y,) = grad(d2y, x)
    return dy.item(), d2y.item(), d3y.item()


def hessian(f, x):
    """The Hessian of scalar f at vector x, one row per second backward."""
    x = x.detach().requires_grad_()
    (g,) = grad(f(x), x, create_graph=True)
    rows = [grad(g[i], x, retain_graph=True)[0] for i in range(x.numel())]
    return ad.stack(rows)


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def main():
    d1, d2, d3 = derivatives_of_cube()
    print(f"x³ at x=2: first {d1:g}, second {d2:g}, third {d3:g}")
    assert (d1, d2, d3) == (12.0, 12.0, 6.0)

    p = ad.tensor([1.0, 1.0], dtype=ad.float64)
    H = hessian(rosenbrock, p)
    print("Hessian of Rosenbrock at (1, 1):\n", H)
    # by hand: [[2 - 400(y - 3x²), -400x], [-400x, 200]] = [[802, -400], [-400, 200]]
    assert H.tolist() == [[802.0, -400.0], [-400.0, 200.0]]

    # gradient-of-gradient-norm: the quantity gradient penalties use
    w = ad.tensor([0.5, -1.5], dtype=ad.float64, requires_grad=True)
    (g,) = grad((w ** 4).sum(), w, create_graph=True)
    (g.pow(2).sum()).backward()   # d/dw sum((4w³)²) = 96 w⁵
    print("d/dw |∇(w⁴)|² =", w.grad, " (96 w⁵)")
    assert ad.allclose(w.grad, 96 * w.detach() ** 5)

    ok = gradgradcheck(lambda t: (t.sin() * t).sum(), (ad.randn(3, dtype=ad.float64, requires_grad=True),))
    print("gradgradcheck(sin(t)·t) =", ok)
    assert ok
    return (d1, d2, d3), H


if __name__ == "__main__":
    main()
