"""The NumPy tier's reuse of dead temporaries (out= buffers) on the Rosenbrock gradient, n = 1e6,
side by side in one process, interleaved rounds, medians and min-max:

- adcompiler's compiled gradient (NumPy tier) as it runs: large elementwise results written into
  dead temporaries of the same call;
- the same gradient generated without buffers (every statement a fresh 8 MB array);
- hand-written NumPy (fresh temporaries) and hand-written NumPy with out= buffers kept across
  calls (the target of the Python-path speed issue: the NumPy tier within 1.2x of it).

    python benchmarks/numpy_tier_buffers.py [--n 1000000] [--rounds 9]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grad_rosenbrock import rosen, rosen_grad_numpy as hand  # noqa: E402  (the function and the hand-written gradient)


def rosen_again(x):          # rosen once more, compiled a second time without buffers
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def hand_out(x, bufs={}):
    if not bufs or bufs["d"].size != x.size - 1:
        bufs.update(d=np.empty(x.size - 1), t=np.empty(x.size - 1), u=np.empty(x.size - 1))
    d, t, u = bufs["d"], bufs["t"], bufs["u"]
    xm = x[:-1]
    np.multiply(xm, xm, out=t)
    np.subtract(x[1:], t, out=d)
    g = np.zeros_like(x)
    np.multiply(d, xm, out=t)
    np.multiply(t, -400, out=t)
    np.subtract(1, xm, out=u)
    np.multiply(u, 2, out=u)
    np.subtract(t, u, out=g[:-1])
    np.multiply(d, 200, out=t)
    g[1:] += t
    return g


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args(argv)
    import adcompiler as ad
    from adcompiler.backends import python as python_backend
    x = np.random.default_rng(0).normal(size=args.n)
    with_buffers = ad.grad(rosen, jit="never")
    with_buffers(x)
    saved, python_backend.REUSE_MIN_SIZE = python_backend.REUSE_MIN_SIZE, 10 ** 15
    try:
        without = ad.grad(rosen_again, jit="never")
        without(x)
    finally:
        python_backend.REUSE_MIN_SIZE = saved
    want = hand(x)
    for name, g in (("buffers", with_buffers), ("no buffers", without)):
        np.testing.assert_allclose(g(x), want, rtol=1e-12)
    print(f"out= in the generated code: {with_buffers.source.count('out=')} statements")
    peers = {"adcompiler NumPy tier": with_buffers, "  ... without buffers": without, "hand NumPy": hand,
             "hand NumPy with out=": hand_out}
    times = {k: [] for k in peers}
    for _ in range(args.rounds):
        for k, f in peers.items():
            t = time.perf_counter()
            f(x)
            times[k].append(time.perf_counter() - t)
    base = statistics.median(times["hand NumPy with out="])
    print(f"Rosenbrock gradient, n = {args.n}: median of {args.rounds} interleaved rounds (min-max)")
    for k, ts in times.items():
        med = statistics.median(ts)
        print(f"  {k:24s} {med * 1e3:8.2f} ms  ({min(ts) * 1e3:.2f}-{max(ts) * 1e3:.2f})  {med / base:5.2f}x hand out=")
    print("peak memory of one call (tracemalloc, arrays made during the call; the out= version's kept buffers "
          "counted too):")
    import tracemalloc
    kept = sum(b.nbytes for b in hand_out.__defaults__[0].values())
    peaks = {}
    for k, f in peers.items():
        tracemalloc.start()
        f(x)
        peaks[k] = tracemalloc.get_traced_memory()[1] + (kept if k == "hand NumPy with out=" else 0)
        tracemalloc.stop()
    for k, v in peaks.items():
        print(f"  {k:24s} {v / 2 ** 20:8.1f} MiB  {v / peaks['hand NumPy with out=']:5.2f}x hand out=")
    return 0


if __name__ == "__main__":
    sys.exit(main())
