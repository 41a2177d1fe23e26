"""Would threads pay for large elementwise native kernels on this machine? A fused elementwise
kernel (`ad.jit`, native) over n float64 elements, called once on the whole arrays, against the
same kernel called on the two halves from two threads at once (a native call releases the GIL,
so this is what a `threads=2` option could at best give). Interleaved rounds, medians.

    python benchmarks/native_threads.py [--n 4000000] [--rounds 15]
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

import adcompiler as ad


def kernel(x, y):
    return (x * x * 0.5 + 3.0 * x - 1.0) * y + x / (1.0 + y * y)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4_000_000)
    p.add_argument("--rounds", type=int, default=15)
    a = p.parse_args()
    f = ad.jit(kernel)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(a.n), rng.standard_normal(a.n)
    h = a.n // 2
    whole = f(x, y)
    halves = [f(x[:h], y[:h]), f(x[h:], y[h:])]
    assert f.tier == "native", f.explain()
    np.testing.assert_array_equal(np.concatenate(halves), whole)

    def two_threads():
        other = threading.Thread(target=f, args=(x[h:], y[h:]))
        other.start()
        f(x[:h], y[:h])
        other.join()

    one, two = [], []
    for _ in range(a.rounds):
        t = time.perf_counter()
        f(x, y)
        one.append(time.perf_counter() - t)
        t = time.perf_counter()
        two_threads()
        two.append(time.perf_counter() - t)
    m1, m2 = statistics.median(one), statistics.median(two)
    print(f"fused elementwise kernel, n = {a.n:,} float64, {a.rounds} interleaved rounds (medians)")
    print(f"  one call, one thread       {m1 * 1e3:7.3f} ms")
    print(f"  two halves, two threads    {m2 * 1e3:7.3f} ms   ({m1 / m2:.2f}x speed-up)")


if __name__ == "__main__":
    main()
