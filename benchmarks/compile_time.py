"""Compile time of the front end + passes for a 50-line function.

Run: python benchmarks/compile_time.py
Prints the median time of: libcst parse + positions (once per function), the
front end on a parsed function (once per signature), and the pass pipeline
(fold, cse, dce, activity). Target: front end + passes < 20 ms.
"""
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/benchmarks/", 1)[0])

from adcompiler.compiler import activity, optimize, parse_type  # noqa: E402
from adcompiler.compiler import frontend, source  # noqa: E402


def _helper(v, w=0.5):
    return np.tanh(v) * w + v * (1.0 - w)


def model(x, w, b, steps):
    """A 50-line function: layers, a data-dependent branch, loops, a helper."""
    h = x @ w + b
    h = _helper(h)
    n, m = h.shape
    total = 0.0
    for i in range(n):
        row = h[i]
        if row.sum() > 0:
            total = total + (row * row).sum()
        else:
            total = total - row.mean()
    acc = np.zeros(m)
    for row in h:
        acc = acc + np.exp(-row * row)
    scale = 1.0
    k = 0
    while k < steps:
        scale = scale * 0.9 + 0.1 * np.sin(scale)
        k += 1
        if scale < 0.2:
            break
    s = 0.0
    for j, (a, c) in enumerate(zip(acc, b)):
        if a > c * j:
            s = s + a * c
        else:
            s = s - a * c
    z = h - h.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    loss = lse.mean() + 0.01 * (w * w).sum()
    if loss > 10.0:
        loss = 10.0 + np.log(loss - 9.0)
    reg = 0.0
    for p in (w, b):
        reg = reg + np.abs(p).sum()
    y = h.copy()
    y[0] = 0.0
    out = loss + total * 0.001 + s * scale + reg * 1e-4
    out = out + y.sum() * 0.0
    q = np.maximum(h, 0.0).sum() / (n * m)
    out = out + q if q > 0.5 else out - q
    t = out
    for _ in range(3):
        t = t * 0.5 + out * 0.5
    u = np.sqrt(t * t + 1.0)
    v = np.log1p(u) - np.expm1(-u)
    if v > u:
        t = t + v * 0.001
    return t


TYPES = [parse_type("f64[8,16]"), parse_type("f64[16,4]"), parse_type("f64[4]"), parse_type("i64")]


def _median_ms(fn, repeat=40):
    """Median and best of `repeat` runs, in ms (the best is the figure on a busy machine)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def main():
    import inspect
    lines = len(inspect.getsource(model).splitlines())

    def parse():
        source._cache.clear()
        source.function_source(model)
        source.function_source(_helper)

    def front():
        frontend._cache.clear()
        return frontend.Frontend().compile(model, TYPES)

    ir = front()
    parse_ms = _median_ms(parse)
    front_ms = _median_ms(front)
    passes_ms = _median_ms(lambda: activity(optimize(ir), ["w", "b"]))
    n_ops = sum(1 for _ in __import__("adcompiler.compiler.ir", fromlist=["walk"]).walk(ir.body))
    print(f"function: {lines} lines, {n_ops} IR ops                  median    best")
    rows = [("libcst parse + positions (once per function)", parse_ms),
            ("front end on parsed source (once per signature)", front_ms),
            ("passes (fold, cse, dce, activity)", passes_ms),
            ("front end + passes, source cached", [a + b for a, b in zip(front_ms, passes_ms)]),
            ("front end + passes, cold (incl. parse)", [a + b + c for a, b, c in zip(parse_ms, front_ms, passes_ms)])]
    for label, (med, best) in rows:
        print(f"{label:<50} {med:6.2f} ms {best:6.2f} ms")


if __name__ == "__main__":
    main()
