"""Fit the parameters of an ODE through a long explicit-Euler loop with the
compiled gradient, and compare its speed on the native tier (machine code),
the NumPy tier (generated Python) and the traced (eager) gradient.

    dx/dt = a*sin(x) - b*x*x,   x(0) = 0.5,   10,000 steps of dt = 0.001

Data: the trajectory from (a, b) = (1.3, 0.7), observed at 10 times; gradient
descent on the squared error recovers (a, b) starting from (1.0, 1.0).

Run: python examples/ode_fit.py [--steps N] [--iters K]
"""
import argparse
import math
import time
import warnings

import numpy as np

import adcompiler as ad

TRUE = (1.3, 0.7)
N_OBS = 10


def simulate(a, b, steps, dt):
    """The trajectory observed at N_OBS evenly spaced times."""
    x = 0.1
    obs = []
    stride = steps // N_OBS
    for i in range(steps):
        x = x + dt * (a * math.sin(x) - b * x * x)
        if (i + 1) % stride == 0:
            obs.append(x)
    return obs


def loss(a, b, obs, steps, dt):
    x = 0.1
    err = 0.0
    stride = steps // 10
    for i in range(steps):
        x = x + dt * (a * math.sin(x) - b * x * x)
        if (i + 1) % stride == 0:
            err = err + (x - obs[(i + 1) // stride - 1]) ** 2
    return err


def final_loss(a, b, x_target, steps, dt):
    """Squared error of the final state alone: numbers only, so it lowers to machine code."""
    x = 0.1
    for i in range(steps):
        x = x + dt * (a * math.sin(x) - b * x * x)
    return (x - x_target) ** 2


def fit(steps=10_000, iters=60, lr=0.05):
    dt = 10.0 / steps
    obs = np.array(simulate(*TRUE, steps, dt))
    g = ad.value_and_grad(loss, wrt=("a", "b"))
    a, b = 1.0, 1.0
    for k in range(iters):
        value, (da, db) = g(a, b, obs, steps, dt)
        a, b = a - lr * da, b - lr * db
        if k % max(1, iters // 5) == 0 or k == iters - 1:
            print(f"iter {k:4d}  loss {value:.3e}  a {a:.4f}  b {b:.4f}")
    return a, b, g


def time_gradients(steps):
    dt = 10.0 / steps
    obs = np.array(simulate(*TRUE, steps, dt))
    compiled = ad.grad(loss, wrt=("a", "b"))
    traced = ad.grad(loss, wrt=("a", "b"), fallback="always")
    compiled(1.0, 1.0, obs, steps, dt)          # compile once
    t0 = time.perf_counter()
    gc = compiled(1.0, 1.0, obs, steps, dt)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = traced(1.0, 1.0, obs, steps, dt)
    t2 = time.perf_counter()
    print(f"\ngradient of a {steps}-step loop: compiled {1e3 * (t1 - t0):.1f} ms, "
          f"traced {1e3 * (t2 - t1):.1f} ms ({(t2 - t1) / (t1 - t0):.0f}x slower); "
          f"agree: {all(math.isclose(p, q, rel_tol=1e-9) for p, q in zip(gc, gt))}")
    time_tiers(steps)
    return gc, gt


def _best_ms(g, args, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = g(*args)
        times.append(time.perf_counter() - t)
    return 1e3 * min(times), out


def time_tiers(steps):
    """The final-state loss (no array indexing) on each tier: native, NumPy, traced."""
    dt = 10.0 / steps
    args = (1.0, 1.0, simulate(*TRUE, steps, dt)[-1], steps, dt)
    native = ad.grad(final_loss, wrt=("a", "b"), jit="always")
    numpy_tier = ad.grad(final_loss, wrt=("a", "b"), jit="never")
    traced = ad.grad(final_loss, wrt=("a", "b"), fallback="always")
    native(*args), numpy_tier(*args)          # compile once
    t_native, gn = _best_ms(native, args)
    t_numpy, gp = _best_ms(numpy_tier, args)
    t_traced, gt = _best_ms(traced, args, repeat=1)
    agree = all(math.isclose(p, q, rel_tol=1e-9) for p, q in zip(gn, gt)) and gn == gp
    print(f"final-state loss, {steps} steps: native tier {t_native:.2f} ms ({native.tier}), "
          f"NumPy tier {t_numpy:.2f} ms ({t_numpy / t_native:.0f}x), traced {t_traced:.1f} ms "
          f"({t_traced / t_native:.0f}x); agree: {agree}")
    return gn, gp, gt


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--iters", type=int, default=60)
    args = ap.parse_args()
    a, b, g = fit(args.steps, args.iters)
    print(f"fitted a = {a:.4f}, b = {b:.4f} (true {TRUE[0]}, {TRUE[1]}); gradient mode: {g.mode}")
    time_gradients(args.steps)
