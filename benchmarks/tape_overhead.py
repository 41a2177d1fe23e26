"""Tape overhead: forward + backward of a 10,000-op elementwise chain on a
length-16 float64 vector, in microseconds per op, adcompiler's eager engine
side by side with torch eager. Run by hand:

    python benchmarks/tape_overhead.py [--ops N] [--rounds R] [--repeat K] [--heap M1,M2] [--all]

Conditions, because Python's cyclic garbage collector makes the cost of a
recorded op depend on what else the process holds:

- **alone**: each peer in a fresh process of its own that imports only its own
  library; the rounds alternate processes (adcompiler, torch, adcompiler, ...).
- **heap**: one process that imports both libraries (torch alone brings some
  170,000 objects the GC tracks) and also holds M million small container
  objects (as a real program holds its data); the peers alternate inside it.
  By default M = 0 and M = 3.

Every timed run is one forward + backward. Reported: the median of all runs,
the spread (interquartile range and min-max) and the ratio of the medians
(target: adcompiler <= 1.0x torch in both conditions). Never only the best run:
the best hides the garbage collector's pauses. `--all` adds HIPS autograd and a
hand-written NumPy reverse sweep to the heap condition.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

N_DEFAULT = 10_000


def chain(x, n):
    """The workload: cycles through mul, add, sin, mul by a constant, tanh."""
    for i in range(n // 5):
        x = x * 1.0001
        x = x + 0.01
        x = x.sin() if hasattr(x, "sin") else np.sin(x)
        x = x * x if i % 7 == 0 else x * 0.999
        x = x.tanh() if hasattr(x, "tanh") else np.tanh(x)
    return x


def run_adcompiler(x0, n):
    import adcompiler as ad
    x = ad.tensor(x0, requires_grad=True)
    y = chain(x, n).sum()
    y.backward()
    return x.grad.numpy()


def run_torch(x0, n):
    import torch
    x = torch.tensor(x0, requires_grad=True)
    y = chain(x, n).sum()
    y.backward()
    return x.grad.numpy()


def run_hips(x0, n):
    import autograd
    import autograd.numpy as anp

    def f(x):
        for i in range(n // 5):
            x = x * 1.0001
            x = x + 0.01
            x = anp.sin(x)
            x = x * x if i % 7 == 0 else x * 0.999
            x = anp.tanh(x)
        return anp.sum(x)
    return autograd.grad(f)(x0)


def run_numpy(x0, n):
    """Hand-written reverse sweep: forward keeps what backward needs."""
    tape = []
    x = x0
    for i in range(n // 5):
        x = x * 1.0001
        x = x + 0.01
        tape.append(("sin", x))
        x = np.sin(x)
        if i % 7 == 0:
            tape.append(("sq", x))
            x = x * x
        else:
            x = x * 0.999
            tape.append(("c", None))
        x = np.tanh(x)
        tape.append(("tanh", x))
    g = np.ones_like(x)
    for kind, v in reversed(tape):
        if kind == "tanh":
            g = g * (1 - v * v)
        elif kind == "sq":
            g = g * 2 * v
        elif kind == "c":
            g = g * 0.999
        else:
            g = g * np.cos(v) * 1.0001
    return g


PEERS = {"adcompiler": run_adcompiler, "torch eager": run_torch, "HIPS autograd": run_hips,
         "hand-written NumPy": run_numpy}
IMPORTS = {"adcompiler": "adcompiler", "torch eager": "torch", "HIPS autograd": "autograd",
           "hand-written NumPy": "numpy"}


def build_heap(millions):
    """M million small container objects, all tracked by the cyclic GC (a program's data)."""
    heap = []
    for i in range(int(millions * 1_000_000) // 4):
        heap.append(([i], {"k": i}, (i, [i])))
    return heap


def worker(args):
    """Runs in a process of its own; prints one JSON object: {peer: [seconds, ...]} and GC facts."""
    import gc
    peers = args.worker.split(",")
    for p in peers:
        __import__(IMPORTS[p])
    for m in args.imports.split(",") if args.imports else ():
        __import__(m)
    heap = build_heap(float(args.heap)) if float(args.heap) else None
    x0 = np.linspace(-1, 1, 16)
    ref = None
    disagree = {}
    for p in peers:
        out = PEERS[p](x0, args.ops)  # warm-up (and agreement check)
        if ref is None:
            ref = out
        elif not np.allclose(out, ref, rtol=1e-9):
            disagree[p] = float(np.max(np.abs(out - ref)))
    times = {p: [] for p in peers}
    collections = {p: [0, 0, 0] for p in peers}
    current = [None]

    def count(phase, info):
        if phase == "start" and current[0] is not None:
            collections[current[0]][info["generation"]] += 1
    gc.callbacks.append(count)
    for _ in range(args.rounds):
        for p in peers:
            for _ in range(args.repeat):
                current[0] = p
                t = time.perf_counter()
                PEERS[p](x0, args.ops)
                times[p].append(time.perf_counter() - t)
                current[0] = None
    gc.callbacks.remove(count)
    print(json.dumps({"times": times, "collections": collections, "disagree": disagree,
                      "tracked": len(gc.get_objects()), "heap": len(heap) * 7 if heap else 0}))
    return 0


def spawn(peers, ops, rounds, repeat, heap=0.0, imports=""):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", ",".join(peers), "--ops", str(ops),
           "--rounds", str(rounds), "--repeat", str(repeat), "--heap", str(heap), "--imports", imports]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def stats(ts, ops):
    us = np.asarray(ts) / ops * 1e6
    q1, med, q3 = np.percentile(us, [25, 50, 75])
    return {"median": med, "q1": q1, "q3": q3, "min": us.min(), "max": us.max(), "n": len(us)}


def report(title, times, ops, extra=""):
    print(f"\n{title}{extra}")
    base = stats(times["torch eager"], ops)["median"] if "torch eager" in times else None
    print(f"  {'':20s} {'median':>8s} {'IQR':>17s} {'min-max':>17s}  runs  ratio of medians")
    for name, ts in times.items():
        s = stats(ts, ops)
        ratio = f"{s['median'] / base:5.2f}x torch" if base else ""
        print(f"  {name:20s} {s['median']:8.2f} {s['q1']:7.2f} - {s['q3']:7.2f} {s['min']:7.2f} - {s['max']:7.2f}"
              f"  {s['n']:4d}  {ratio}")
    print("  (microseconds per op)")


def available(names):
    ok = []
    for name in names:
        try:
            __import__(IMPORTS[name])
        except ImportError:
            print(f"{name:20s} not installed")
            continue
        ok.append(name)
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=N_DEFAULT)
    ap.add_argument("--rounds", type=int, default=6, help="interleaved rounds (processes per peer when alone)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per peer per round")
    ap.add_argument("--heap", default="0,3", help="millions of extra objects in the heap conditions (comma-separated; "
                                                 "0: only the two libraries' own objects)")
    ap.add_argument("--all", action="store_true", help="also HIPS autograd and hand-written NumPy (heap condition)")
    ap.add_argument("--only", choices=["alone", "heap"], help="run one condition only")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--imports", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    peers = available(["adcompiler", "torch eager"] + (["HIPS autograd", "hand-written NumPy"] if args.all else []))
    head = f"{args.ops}-op elementwise chain, length-16 float64, forward + backward"
    if args.only != "heap":
        times = {p: [] for p in peers[:2]}
        objs, coll = {}, {p: np.zeros(3, int) for p in times}
        for _ in range(args.rounds):
            for p in times:
                r = spawn([p], args.ops, 1, args.repeat)
                times[p] += r["times"][p]
                objs[p] = r["tracked"]
                coll[p] += r["collections"][p]
        report(f"{head}\nALONE: each peer in a fresh process of its own ({args.rounds} processes x "
               f"{args.repeat} runs, interleaved)", times, args.ops,
               "".join(f"\n  GC-tracked objects in the {p} process: {n:,}" for p, n in objs.items())
               + "\n  GC collections (gen 0/1/2) during the timed runs: "
               + ", ".join(f"{p} {c[0]}/{c[1]}/{c[2]}" for p, c in coll.items()))
    for heap in (float(h) for h in args.heap.split(",")) if args.only != "alone" else ():
        r = spawn(peers, args.ops, args.rounds, args.repeat, heap, "adcompiler,torch")
        for p, d in r["disagree"].items():
            print(f"{p:20s} DISAGREES with adcompiler (max diff {d:.3g})")
        coll = ", ".join(f"{p} {c[0]}/{c[1]}/{c[2]}" for p, c in r["collections"].items())
        report(f"{head}\nHEAP: one process importing adcompiler and torch and holding {heap:g} million other "
               f"objects ({r['tracked']:,} GC-tracked), peers interleaved ({args.rounds} rounds x {args.repeat} runs)",
               r["times"], args.ops, f"\n  GC collections (gen 0/1/2) during the timed runs: {coll}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
