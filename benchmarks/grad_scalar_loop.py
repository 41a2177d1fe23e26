"""Scalar loop: x = x + 0.01*(a*math.sin(x) - b*x*x) for 10,000 steps, gradient
of the final x w.r.t. (a, b), side by side: adcompiler's compiled gradient, a
hand-written pure-Python adjoint, tangent-ad, torch eager and HIPS autograd
(each skipped when not installed). Run by hand:

    python benchmarks/grad_scalar_loop.py [--steps 10000] [--repeat 10] [--profile]

tangent-ad does not know `math.sin`, so its copy of the loop calls `np.sin` on
Python floats (slower per step than math.sin: part of its figure is that).

Targets (issue 4): compiled <= 2x the hand-written Python adjoint; compiled
gradient / forward <= 3; compile time reported (first call minus steady-state
call)."""
from __future__ import annotations

import argparse
import math
import sys

import grad_common  # noqa: F401  (first: applies --threads before NumPy loads BLAS)
import numpy as np
from grad_common import (add_common_arguments, compile_time, forward_time, print_adcompiler_summary, print_table,
                         profile_generated, run_peers, set_torch_threads, thread_note)


def loop(a, b, x0, n):
    x = x0
    for i in range(n):
        x = x + 0.01 * (a * math.sin(x) - b * x * x)
    return x


def loop_adjoint(a, b, x0, n):
    """What a person writes by hand: forward keeps every x, the reverse loop runs backwards."""
    xs = [0.0] * n
    x = x0
    for i in range(n):
        xs[i] = x
        x = x + 0.01 * (a * math.sin(x) - b * x * x)
    dx, da, db = 1.0, 0.0, 0.0
    for i in range(n - 1, -1, -1):
        xi = xs[i]
        c = 0.01 * dx
        da += c * math.sin(xi)
        db -= c * xi * xi
        dx += c * (a * math.cos(xi) - 2.0 * b * xi)
    return x, (da, db)


def make_adcompiler(a, b, x0, n):
    import adcompiler as ad
    g = ad.grad(loop, wrt=(0, 1))
    g(a, b, x0, n)
    if g.mode != "compiled":
        print(f"  adcompiler: NOT compiled: {g.explain()}")
    return lambda: g(a, b, x0, n)


def make_hand(a, b, x0, n):
    return lambda: loop_adjoint(a, b, x0, n)[1]


def make_tangent(a, b, x0, n):
    import tangent

    def loop_np(a, b, x0, n):
        x = x0
        for i in range(n):
            x = x + 0.01 * (a * np.sin(x) - b * x * x)
        return x
    g = tangent.grad(loop_np, wrt=(0, 1), verbose=0)
    g(a, b, x0, n)
    return lambda: tuple(float(v) for v in g(a, b, x0, n))


def make_torch(a, b, x0, n):
    import torch
    set_torch_threads(torch)

    def run():
        ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        x = torch.tensor(x0, dtype=torch.float64)
        for i in range(n):
            x = x + 0.01 * (ta * torch.sin(x) - tb * x * x)
        x.backward()
        return ta.grad.item(), tb.grad.item()
    run()
    return run


def make_hips(a, b, x0, n):
    import autograd
    import autograd.numpy as anp

    def f(a, b):
        x = x0
        for i in range(n):
            x = x + 0.01 * (a * anp.sin(x) - b * x * x)
        return x
    g = autograd.grad(f, argnum=(0, 1))
    g(a, b)
    return lambda: tuple(float(v) for v in g(a, b))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--profile", action="store_true",
                    help="print the cost of each top-level statement of the generated adjoint (a loop is one)")
    add_common_arguments(ap)
    args = ap.parse_args(argv)
    a, b, x0, n = 1.3, 0.7, 0.5, args.steps

    import adcompiler as ad
    first, steady, comp, g = compile_time(lambda: ad.grad(loop, wrt=(0, 1)), lambda g: g(a, b, x0, n), loop,
                                          dict(a=a, b=b, x0=x0, n=n), ["a", "b"])
    forward = forward_time(lambda: loop(a, b, x0, n), args.repeat)

    peers = [("adcompiler compiled", lambda: make_adcompiler(a, b, x0, n)),
             ("hand-written Python adjoint", lambda: make_hand(a, b, x0, n)),
             ("tangent-ad", lambda: make_tangent(a, b, x0, n)),
             ("torch eager", lambda: make_torch(a, b, x0, n)),
             ("HIPS autograd", lambda: make_hips(a, b, x0, n))]
    print(f"scalar loop, {n} steps, gradient w.r.t. (a, b); {thread_note()}")
    results, runs, fns = run_peers(peers, args.repeat, rtol=1e-9)
    print_table(f"scalar loop x = x + 0.01*(a*sin(x) - b*x*x), {n} steps, d x / d(a, b) (3 rounds x best of up to "
                f"{args.repeat})", results, runs, "hand-written Python adjoint")
    print(f"  {'(forward only, Python)':28s} {forward * 1e3:10.3f} ms")
    print_adcompiler_summary(results, forward, first, steady, comp, g.mode, "hand-written Python adjoint", 2)
    if "tangent-ad" in results and "adcompiler compiled" in results:
        print(f"  tangent-ad / compiled: {results['tangent-ad'] / results['adcompiler compiled']:.1f}x   "
              f"(issue expects >= 10x)")
    if args.profile and g.mode == "compiled":
        profile_generated(g, (a, b, x0, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
