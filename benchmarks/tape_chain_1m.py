"""A 1,000,000-op chain on the eager engine: forward (recording) and backward
timed separately, adcompiler side by side with torch eager. Run by hand (it
takes a few minutes and a few GB of memory):

    python benchmarks/tape_chain_1m.py [--ops N] [--rounds R]

The workload is tape_overhead.py's elementwise chain (mul, add, sin, mul, tanh
on a length-16 float64 vector). Each run is a fresh process of its own that
imports only its own library, warms up on a short chain, then records the
whole chain and runs backward once; the peers' processes alternate. Reported:
the median and the min-max of forward, backward and their sum, and the ratio
of the medians (target: forward + backward <= torch).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tape_overhead import IMPORTS, chain

N_DEFAULT = 1_000_000


def worker(peer, n):
    mod = __import__(IMPORTS[peer])
    x0 = np.linspace(-1, 1, 16)
    for m in (1000, n):  # warm-up, then the timed run
        x = mod.tensor(x0, requires_grad=True)
        t0 = time.perf_counter()
        y = chain(x, m).sum()
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        g = x.grad.numpy()
        del y
    print(json.dumps({"forward": t1 - t0, "backward": t2 - t1, "grad": g.tolist()}))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=N_DEFAULT)
    ap.add_argument("--rounds", type=int, default=3, help="processes per peer, interleaved")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.ops)
    peers = []
    for p in ("adcompiler", "torch eager"):
        try:
            __import__(IMPORTS[p])
            peers.append(p)
        except ImportError:
            print(f"{p:20s} not installed")
    res = {p: [] for p in peers}
    for r in range(args.rounds):
        for p in peers:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", p, "--ops", str(args.ops)],
                                 capture_output=True, text=True, check=True).stdout
            res[p].append(json.loads(out.strip().splitlines()[-1]))
            print(f"  round {r + 1} {p:12s} forward {res[p][-1]['forward']:6.2f} s  "
                  f"backward {res[p][-1]['backward']:6.2f} s", flush=True)
    ref = np.asarray(res[peers[0]][0]["grad"])
    for p in peers[1:]:
        g = np.asarray(res[p][0]["grad"])
        if not np.allclose(g, ref, rtol=1e-9):
            print(f"{p:20s} DISAGREES with adcompiler (max diff {np.max(np.abs(g - ref)):.3g})")
    print(f"\n{args.ops:,}-op elementwise chain, length-16 float64; {args.rounds} fresh processes per peer, interleaved")
    print(f"  {'':12s} {'forward':>24s} {'backward':>24s} {'forward + backward':>24s}")
    print(f"  {'':12s}" + f" {'median (min-max), s':>24s}" * 3)
    med = {}
    for p in peers:
        cols = []
        for key in ("forward", "backward", "total"):
            v = np.array([r["forward"] + r["backward"] if key == "total" else r[key] for r in res[p]])
            med[p, key] = np.median(v)
            cols.append(f"{np.median(v):6.2f} ({v.min():5.2f}-{v.max():5.2f})")
        print(f"  {p:12s}" + "".join(f" {c:>24s}" for c in cols))
    if "torch eager" in peers and "adcompiler" in peers:
        print("  ratio of medians adcompiler / torch: " + ", ".join(
            f"{k} {med['adcompiler', k] / med['torch eager', k]:.2f}x" for k in ("forward", "backward", "total")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
