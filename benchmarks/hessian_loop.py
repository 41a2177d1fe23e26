"""Hessian of a 100-parameter function with a loop, side by side:

- adcompiler `ad.hessian(f)` (compiled: forward over reverse through the loop's tape)
- `jax.jit(jax.hessian(f))` (forward over reverse, vmapped)
- `torch.autograd.functional.hessian(f, x, vectorize=True)` (eager)

The function: ten steps of h = tanh(0.9 h + 0.1 roll(h, 1) + 0.05), summing h·h; written
once in NumPy for adcompiler and transcribed for jax.numpy and torch. Interleaved rounds; medians
and min-max, ratios to adcompiler's median. Checks that every peer's Hessian agrees.

    python benchmarks/hessian_loop.py [--n 100] [--steps 10] [--rounds 7]
"""
import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

STEPS = 10


def f(x):
    h = x
    s = 0.0
    for i in range(STEPS):
        h = np.tanh(0.9 * h + 0.1 * np.roll(h, 1) + 0.05)
        s = s + np.sum(h * h * x)
    return s


def make_adcompiler(x):
    import adcompiler as ad
    hf = ad.hessian(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ad.FallbackWarning)
        hf(x)
    assert hf.mode == "compiled", hf.explain()
    return lambda: hf(x), hf


def make_jax(x):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def fj(x):
        h = x
        s = 0.0
        for i in range(STEPS):
            h = jnp.tanh(0.9 * h + 0.1 * jnp.roll(h, 1) + 0.05)
            s = s + jnp.sum(h * h * x)
        return s
    hj = jax.jit(jax.hessian(fj))
    xj = jnp.asarray(x)
    hj(xj).block_until_ready()
    return lambda: np.asarray(hj(xj).block_until_ready())


def make_torch(x):
    import torch
    torch.set_num_threads(1)

    def ft(x):
        h = x
        s = 0.0
        for i in range(STEPS):
            h = torch.tanh(0.9 * h + 0.1 * torch.roll(h, 1) + 0.05)
            s = s + torch.sum(h * h * x)
        return s
    xt = torch.tensor(x)
    return lambda: torch.autograd.functional.hessian(ft, xt, vectorize=True).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    x = np.random.default_rng(0).standard_normal(args.n) * 0.5
    peers = {}
    run, hf = make_adcompiler(x)
    peers["adcompiler hessian"] = run
    print(hf.explain())
    for name, make in (("jax.jit(jax.hessian)", make_jax), ("torch functional.hessian(vectorize)", make_torch)):
        try:
            peers[name] = make(x)
        except ImportError:
            print(f"{name}: not installed")
    ref = peers["adcompiler hessian"]()
    for name, fn in peers.items():
        d = np.max(np.abs(fn() - ref)) / np.max(np.abs(ref))
        if d > 1e-9:
            print(f"{name}: DISAGREES (max rel diff {d:.2e})")
    times = {name: [] for name in peers}
    for _ in range(args.rounds):
        for name, fn in peers.items():
            t = time.perf_counter()
            for _ in range(args.repeat):
                fn()
            times[name].append((time.perf_counter() - t) / args.repeat * 1e3)
    base = statistics.median(times["adcompiler hessian"])
    print(f"Hessian of a {args.n}-parameter function with a {STEPS}-step loop "
          f"({args.rounds} interleaved rounds, ms per Hessian)")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:40s} median {med:8.3f}  min {min(ts):8.3f}  max {max(ts):8.3f}  "
              f"ratio {med / base:6.2f}x adcompiler")


if __name__ == "__main__":
    main()
