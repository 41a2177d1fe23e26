"""The native tier on the scalar loop x = x + 0.01*(a*sin(x) - b*x*x), n steps, d x / d(a, b).

Peers, side by side in one process, interleaved rounds, medians and min-max:

- adcompiler native tier (`grad(..., jit="always")`)
- adcompiler NumPy tier (`jit="never"`)
- a hand-written C adjoint (forward keeps x in a buffer, reverse loop), built now with `cc -O2`
- numba.njit running the same hand-written adjoint
- jax.jit(grad) with lax.fori_loop

Also: cold compile time to native (fresh process, cache off) and a cached new process's time to
its first native call (fresh process, warm cache), medians of several processes.

    python benchmarks/native_scalar_loop.py [--steps 10000] [--rounds 7] [--processes 5]
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def loop(a, b, x0, n):
    x = x0
    for i in range(n):
        x = x + 0.01 * (a * math.sin(x) - b * x * x)
    return x


C_SOURCE = r"""
#include <math.h>
#include <stdlib.h>
void adjoint(double a, double b, double x0, long n, double *out) {
    double *xs = malloc(sizeof(double) * (n > 0 ? n : 1));
    double x = x0;
    for (long i = 0; i < n; i++) { xs[i] = x; x = x + 0.01 * (a * sin(x) - b * x * x); }
    double dx = 1.0, da = 0.0, db = 0.0;
    for (long i = n - 1; i >= 0; i--) {
        double xi = xs[i], c = 0.01 * dx;
        da += c * sin(xi);
        db -= c * xi * xi;
        dx += c * (a * cos(xi) - 2.0 * b * xi);
    }
    free(xs);
    out[0] = x; out[1] = da; out[2] = db;
}
"""


def make_c():
    d = tempfile.mkdtemp(prefix="adc-bench-")
    src, lib = os.path.join(d, "adj.c"), os.path.join(d, "adj.so")
    with open(src, "w") as f:
        f.write(C_SOURCE)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, src, "-lm"], check=True)
    fn = ctypes.CDLL(lib).adjoint
    fn.argtypes = [ctypes.c_double, ctypes.c_double, ctypes.c_double, ctypes.c_long, ctypes.POINTER(ctypes.c_double)]
    out = (ctypes.c_double * 3)()

    def run(a, b, x0, n):
        fn(a, b, x0, n, out)
        return out[1], out[2]
    return run


def make_numba():
    import numba

    @numba.njit(cache=False)
    def adjoint(a, b, x0, n):
        xs = np.empty(max(n, 1))
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
        return da, db
    return adjoint


def make_jax(n):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def f(a, b, x0):
        return jax.lax.fori_loop(0, n, lambda i, x: x + 0.01 * (a * jnp.sin(x) - b * x * x), x0)
    g = jax.jit(jax.grad(f, argnums=(0, 1)))

    def run(a, b, x0, n_):
        da, db = g(a, b, x0)
        return float(da), float(db)
    return run


def make_adc(jit):
    import adcompiler as ad
    g = ad.grad(loop, wrt=(0, 1), jit=jit)
    return g


def timed(fn, args, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        ts.append(time.perf_counter() - t)
    return min(ts)


def child(mode, steps):
    """Run in a fresh process: the time from `import adcompiler` to the first native result."""
    t0 = time.perf_counter()
    import adcompiler as ad
    t1 = time.perf_counter()
    g = ad.grad(loop, wrt=(0, 1), jit="always")
    g(1.3, 0.7, 0.5, steps)
    t2 = time.perf_counter()
    from adcompiler import plancache
    from adcompiler.backends.llvm import cache, shared
    print(json.dumps({"import": t1 - t0, "first_call": t2 - t1, "tier": g.tier,
                      "stats": {"grad": plancache.stats, "object": cache.stats, "library": shared.stats},
                      "imported": [m for m in ("libcst", "llvmlite.binding") if m in sys.modules]}))


def processes(n, env, steps):
    out = []
    for _ in range(n):
        r = subprocess.run([sys.executable, __file__, "--child", "x", "--steps", str(steps)], env=env,
                           capture_output=True, text=True, check=True)
        out.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=20, help="calls per round (the best of them is the round's time)")
    ap.add_argument("--processes", type=int, default=5)
    ap.add_argument("--child", default=None)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.steps)
        return 0
    n = args.steps
    a, b, x0 = 1.3, 0.7, 0.5
    peers = {}
    for name, make in [("adcompiler native", lambda: make_adc("always")), ("adcompiler NumPy tier",
                       lambda: make_adc("never")), ("C adjoint (cc -O2)", make_c), ("numba.njit adjoint", make_numba),
                       ("jax.jit(grad) fori_loop", lambda: make_jax(n))]:
        try:
            peers[name] = make()
        except Exception as e:   # a peer that is not installed or cannot build is reported, not fatal
            print(f"  {name:26s} unavailable: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    ref = peers["adcompiler NumPy tier"](a, b, x0, n)
    for name, fn in peers.items():
        got = fn(a, b, x0, n)
        diff = max(abs(float(u) - float(v)) / max(abs(float(v)), 1e-300) for u, v in zip(got, ref))
        print(f"  {name:26s} agrees with the NumPy tier to {diff:.1e} relative")
    g = peers.get("adcompiler native")
    if g is not None:
        print(f"  adcompiler native tier ran: {g.tier}")
    times = {name: [] for name in peers}
    for _ in range(args.rounds):          # interleaved: a burst of load hits every peer alike
        for name, fn in peers.items():
            times[name].append(timed(fn, (a, b, x0, n), args.repeat if "NumPy" not in name else 3))
    base = statistics.median(times["C adjoint (cc -O2)"]) if "C adjoint (cc -O2)" in times else None
    print(f"\nscalar loop, {n} steps, d x / d(a, b): median over {args.rounds} interleaved rounds (min-max)")
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = f"{med / base:6.2f}x C" if base else ""
        print(f"  {name:26s} {med * 1e3:9.3f} ms  ({min(ts) * 1e3:.3f}-{max(ts) * 1e3:.3f})  {ratio}")
    if g is not None:
        native = g._last.compiled.native
        small = timed(lambda: native(a, b, x0, 1), (), 2000) if native else float("nan")
        print(f"  native call overhead (n=1, kernel only): {small * 1e6:.2f} us")

    with tempfile.TemporaryDirectory() as d:
        # as a user's Python runs: bytecode of adcompiler's modules cached (written by a first process)
        env = dict(os.environ, ADCOMPILER_CACHE_DIR=d, PYTHONDONTWRITEBYTECODE="",
                   PYTHONPYCACHEPREFIX=os.path.join(d, "pyc"))
        processes(1, dict(env, ADCOMPILER_CACHE="0"), n)
        cold = processes(args.processes, dict(env, ADCOMPILER_CACHE="0"), n)
        processes(1, env, n)                              # fill the cache
        warm = processes(args.processes, env, n)
    for label, runs in (("cold (cache off)", cold), ("cached new process", warm)):
        fc = [r["first_call"] for r in runs]
        imp = [r["import"] for r in runs]
        print(f"  {label:22s} first native call {statistics.median(fc) * 1e3:7.1f} ms median "
              f"({min(fc) * 1e3:.1f}-{max(fc) * 1e3:.1f}); import adcompiler {statistics.median(imp) * 1e3:.0f} ms; "
              f"tier {runs[0]['tier']}; imported {runs[-1]['imported'] or 'neither libcst nor llvmlite'}")
        print(f"  {'':22s} caches {runs[-1]['stats']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
