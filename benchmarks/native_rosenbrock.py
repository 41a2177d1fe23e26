"""The native tier on array code: the Rosenbrock gradient, side by side in one process.

Peers (interleaved rounds; medians and min-max of per-call times, ratios of medians):

- adcompiler native (`grad(rosen, jit="always")`: one fused kernel, the slice adjoints in pull form)
- adcompiler NumPy tier (`jit="never"`)
- jax.jit(jax.grad(rosen))
- a hand-written C adjoint (pull form), built now with `cc -O3 -march=native`
- hand-written NumPy (benchmarks/grad_rosenbrock.py's rosen_grad_numpy)

Also: the gradient / forward time ratio (`ad.jit(rosen)` native vs the native gradient), and with
`--scaling` the native tier, the NumPy tier, jax and C at n = 1e4 ... 1e7 (the ratio to C must not
grow with n).

    python benchmarks/native_rosenbrock.py [--n 1000000] [--rounds 9] [--scaling]
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from grad_rosenbrock import rosen, rosen_grad_numpy  # noqa: E402

C_SOURCE = r"""
void rosen_grad(const double *x, double *g, long n) {
    /* pull form: g[i] gathers the terms of x[i-1], x[i], x[i+1]; the ends peeled */
    if (n < 2) { for (long i = 0; i < n; i++) g[i] = 0.0; return; }
    g[0] = -400.0 * x[0] * (x[1] - x[0] * x[0]) - 2.0 * (1.0 - x[0]);
    for (long i = 1; i < n - 1; i++) {
        double xm = x[i - 1], xi = x[i], xp = x[i + 1];
        g[i] = 200.0 * (xi - xm * xm) - 400.0 * xi * (xp - xi * xi) - 2.0 * (1.0 - xi);
    }
    g[n - 1] = 200.0 * (x[n - 1] - x[n - 2] * x[n - 2]);
}
"""


def make_c():
    d = tempfile.mkdtemp(prefix="adc-bench-")
    src, lib = os.path.join(d, "rosen.c"), os.path.join(d, "rosen.so")
    with open(src, "w") as f:
        f.write(C_SOURCE)
    subprocess.run(["cc", "-O3", "-march=native", "-shared", "-fPIC", "-o", lib, src], check=True)
    fn = ctypes.CDLL(lib).rosen_grad
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]

    def grad(x):
        g = np.empty_like(x)
        fn(x.ctypes.data, g.ctypes.data, x.size)
        return g
    return grad


def make_jax():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    jg = jax.jit(jax.grad(lambda x: jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)))

    def grad(x, _cache={}):
        xj = _cache.get(id(x))
        if xj is None:
            _cache.clear()
            xj = _cache[id(x)] = jnp.asarray(x)
        return jg(xj).block_until_ready()
    return grad


def peers():
    import adcompiler as ad
    native = ad.grad(rosen, jit="always")
    numpy_tier = ad.grad(rosen, jit="never")
    out = {"adcompiler native": native, "adcompiler NumPy tier": numpy_tier, "hand-written NumPy": rosen_grad_numpy}
    try:
        out["jax.jit(grad)"] = make_jax()
    except ImportError:
        print("jax: not installed")
    try:
        out["C -O3 -march=native"] = make_c()
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"C: no compiler ({e})")
    return out, native


def measure(fns, x, rounds, repeat, check=True):
    ref = np.asarray(fns["adcompiler native"](x))
    for name, f in (fns.items() if check else ()):
        d = np.max(np.abs(np.asarray(f(x)) - ref)) / np.max(np.abs(ref))
        if d > 1e-12:
            print(f"  {name}: DISAGREES (max rel diff {d:.1e})")
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            t = time.perf_counter()
            for _ in range(repeat):
                f(x)
            times[name].append((time.perf_counter() - t) / repeat * 1e3)
    return times


def report(times, base):
    b = statistics.median(times[base])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:28s} median {med:9.3f} ms  min {min(ts):9.3f}  max {max(ts):9.3f}   {med / b:6.2f}x {base}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--scaling", action="store_true")
    args = ap.parse_args()
    fns, native = peers()
    x = np.random.default_rng(0).standard_normal(args.n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native(x)
    print(native.explain())
    print(f"Rosenbrock gradient, n = {args.n:.0e}, float64 ({args.rounds} interleaved rounds)")
    times = measure(fns, x, args.rounds, repeat=5)
    base = "jax.jit(grad)" if "jax.jit(grad)" in times else "adcompiler native"
    report(times, base)

    import adcompiler as ad
    fwd = ad.jit(rosen)
    fwd(x)
    ft = measure({"adcompiler native": lambda x: native(x), "forward (ad.jit, native)": fwd}, x, args.rounds, 5,
                 check=False)
    print(f"  gradient / forward: {statistics.median(ft['adcompiler native']) / statistics.median(ft['forward (ad.jit, native)']):.2f} "
          f"(forward {fwd.tier})")

    if args.scaling:
        print("scaling (median ms; ratio to C):")
        keep = {k: v for k, v in fns.items() if k in ("adcompiler native", "adcompiler NumPy tier", "jax.jit(grad)",
                                                       "C -O3 -march=native")}
        for n in (10_000, 100_000, 1_000_000, 10_000_000):
            xs = np.random.default_rng(1).standard_normal(n)
            rounds = max(3, args.rounds // (2 if n >= 10_000_000 else 1))
            t = measure(keep, xs, rounds, repeat=max(1, min(50, 2_000_000 // n)))
            c = statistics.median(t["C -O3 -march=native"]) if "C -O3 -march=native" in t else None
            row = "  ".join(f"{k.replace('adcompiler ', '')}: {statistics.median(v):8.3f}"
                            + (f" ({statistics.median(v) / c:4.2f}x)" if c else "") for k, v in t.items())
            print(f"  n = {n:.0e}: {row}")


if __name__ == "__main__":
    main()
