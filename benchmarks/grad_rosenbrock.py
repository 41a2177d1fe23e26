"""Rosenbrock gradient: the vector Rosenbrock function on n = 1e6 float64,
gradient only, side by side: adcompiler's compiled gradient, a hand-written
NumPy gradient, torch eager, HIPS autograd, jax.jit(jax.grad) and tangent-ad
(each skipped when not installed). Run by hand:

    python benchmarks/grad_rosenbrock.py [--n 1000000] [--repeat 10]

Targets (issue 4): compiled <= 1.2x hand-written NumPy; compiled gradient /
forward <= 3; compile time reported (first call minus steady-state call)."""
from __future__ import annotations

import argparse
import sys

import grad_common  # noqa: F401  (first: applies --threads before NumPy loads BLAS)
import numpy as np
from grad_common import (add_common_arguments, check_raw_dtypes, compile_time, forward_time, peak_memory,
                         print_adcompiler_summary, print_table, profile_generated, run_peers, set_torch_threads,
                         thread_note)


def rosen(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_grad_numpy(x):
    """What a person writes by hand."""
    xm = x[:-1]
    d = x[1:] - xm * xm
    g = np.zeros_like(x)
    g[:-1] = -400 * d * xm - 2 * (1 - xm)
    g[1:] += 200 * d
    return g


def make_adcompiler(x):
    import adcompiler as ad
    g = ad.grad(rosen)
    g(x)
    if g.mode != "compiled":
        print(f"  adcompiler: NOT compiled: {g.explain()}")
    return lambda: g(x)


def make_numpy(x):
    return lambda: rosen_grad_numpy(x)


def make_torch(x):
    import torch
    set_torch_threads(torch)

    def run():
        t = torch.from_numpy(x).requires_grad_()
        y = torch.sum(100 * (t[1:] - t[:-1] ** 2) ** 2 + (1 - t[:-1]) ** 2)
        y.backward()
        return t.grad.numpy()
    run()
    return run


def make_hips(x):
    import autograd
    import autograd.numpy as anp

    def f(x):
        return anp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    g = autograd.grad(f)
    g(x)
    return lambda: g(x)


def make_jax(x):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def f(x):
        return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    g = jax.jit(jax.grad(f))
    xj = jnp.asarray(x)
    g(xj).block_until_ready()

    def run():
        return np.asarray(g(xj).block_until_ready())
    return run


def make_tangent(x):
    import tangent
    g = tangent.grad(rosen)
    g(x)
    return lambda: g(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--profile", action="store_true", help="print the cost of each line of the generated adjoint")
    add_common_arguments(ap)
    args = ap.parse_args(argv)
    x = np.random.default_rng(0).uniform(-2, 2, args.n)

    import adcompiler as ad
    first, steady, comp, g = compile_time(lambda: ad.grad(rosen), lambda g: g(x), rosen, {"x": x}, ["x"])
    forward = forward_time(lambda: rosen(x), args.repeat)

    peers = [("adcompiler compiled", lambda: make_adcompiler(x)),
             ("hand-written NumPy", lambda: make_numpy(x)),
             ("torch eager", lambda: make_torch(x)),
             ("HIPS autograd", lambda: make_hips(x)),
             ("jax.jit(grad)", lambda: make_jax(x)),
             ("tangent-ad", lambda: make_tangent(x))]
    print(f"Rosenbrock gradient, n={args.n}, float64; {thread_note()}")
    results, runs, fns = run_peers(peers, args.repeat, rtol=1e-9)
    print_table(f"Rosenbrock n={args.n} float64, gradient (3 rounds x best of up to {args.repeat})", results, runs,
                "hand-written NumPy")
    print(f"  {'(forward only, NumPy)':28s} {forward * 1e3:10.3f} ms")
    peak_memory(fns)
    check_raw_dtypes(g, (x,))
    print_adcompiler_summary(results, forward, first, steady, comp, g.mode, "hand-written NumPy", 1.2)
    if args.profile and g.mode == "compiled":
        profile_generated(g, (x,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
