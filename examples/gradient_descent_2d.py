"""Gradient descent on the 2-D function f(x, y) = x² + 10·y² for several learning rates.

Too small a rate crawls, a good one converges, one above 2/20 = 0.1 diverges
along y (the curvature there is 20). Writes a PNG of the paths when matplotlib
is installed, and always prints a convergence table.

    python examples/gradient_descent_2d.py [--steps 50] [--png gd_paths.png] [--no-plot]
"""
import argparse

import adcompiler as ad

LEARNING_RATES = (0.01, 0.05, 0.09, 0.105)
START = (-4.0, 1.5)


def f(p):
    return p[0] ** 2 + 10 * p[1] ** 2


def descend(lr, steps):
    """The path of plain gradient descent from START: a list of (x, y, f)."""
    p = ad.tensor(START, dtype=ad.float64, requires_grad=True)
    path = []
    for _ in range(steps):
        loss = f(p)
        path.append((p[0].item(), p[1].item(), loss.item()))
        loss.backward()
        with ad.no_grad():
            p -= lr * p.grad
        p.grad.zero_()
    path.append((p[0].item(), p[1].item(), f(p).item()))
    return path


def plot(paths, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    xs, ys = np.meshgrid(np.linspace(-4.5, 4.5, 200), np.linspace(-2.5, 2.5, 200))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.contour(xs, ys, xs ** 2 + 10 * ys ** 2, levels=20, cmap="Greys", linewidths=0.5)
    for lr, path in paths.items():
        pts = np.array([(x, y) for x, y, _ in path])
        keep = np.all(np.abs(pts) < 10, axis=1)
        ax.plot(pts[keep, 0], pts[keep, 1], ".-", label=f"lr={lr}")
    ax.set_xlim(-4.5, 4.5)
    ax.set_ylim(-2.5, 2.5)
    ax.legend()
    ax.set_title("gradient descent on x² + 10y²")
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--png", default="gd_paths.png")
    p.add_argument("--no-plot", action="store_true")
    args = p.parse_args(argv)

    paths = {lr: descend(lr, args.steps) for lr in LEARNING_RATES}
    print(f"{'lr':>7} | {'f(start)':>9} | {'f(end)':>11} | result")
    print("-" * 46)
    results = {}
    for lr, path in paths.items():
        end = path[-1][2]
        verdict = "diverged" if end > path[0][2] else "converged" if end < 1e-3 else "slow"
        results[lr] = (end, verdict)
        print(f"{lr:>7} | {path[0][2]:>9.3f} | {end:>11.4g} | {verdict}")

    if not args.no_plot:
        try:
            plot(paths, args.png)
            print(f"\nwrote {args.png}")
        except ImportError:
            print("\n(matplotlib is not installed: no plot; `pip install matplotlib` to get one)")
    return results


if __name__ == "__main__":
    main()
