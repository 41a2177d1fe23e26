"""A list of unknown length: the gradient of an RNN that runs until its state saturates (a `while`
loop with a data-dependent exit, `hs.append(h)`, then `np.stack(hs)`), w.r.t. its two weight
matrices. Compiled by adcompiler (the list is a tape whose stack has a run-time length), beside
the same function traced on the eager engine (what `grad` did for it before), torch eager and a
hand-written NumPy adjoint. JAX has no peer here: reverse-mode through a `lax.while_loop` is not
supported. Medians over interleaved rounds. Run by hand:

    python benchmarks/growable_list.py [--steps 200] [--hidden 32] [--repeat 15]
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import grad_common  # noqa: F401  (first: applies --threads before NumPy loads BLAS)
import numpy as np
from grad_common import add_common_arguments, now

import adcompiler as ad


def rnn_loss(W, U, xs, limit):
    h = np.zeros(W.shape[0])
    hs = []
    t = 0
    while t < xs.shape[0] and np.sum(h * h) < limit:
        h = np.tanh(W @ h + U @ xs[t])
        hs.append(h)
        t += 1
    H = np.stack(hs)
    return np.sum(H.mean(axis=0) ** 2) + np.sum(H[-1])


def hand_grad(W, U, xs, limit):
    """The adjoint written by hand: the forward loop keeps the states, the reverse loop walks back."""
    h = np.zeros(W.shape[0])
    hs = [h]
    t = 0
    while t < xs.shape[0] and np.sum(h * h) < limit:
        h = np.tanh(W @ h + U @ xs[t])
        hs.append(h)
        t += 1
    H = np.stack(hs[1:])
    n = H.shape[0]
    dH = np.broadcast_to(2.0 * H.mean(axis=0) / n, H.shape).copy()
    dH[-1] += 1.0
    dW, dU, dh = np.zeros_like(W), np.zeros_like(U), np.zeros(W.shape[0])
    for k in range(n - 1, -1, -1):
        dh = dh + dH[k]
        da = dh * (1.0 - hs[k + 1] ** 2)
        dW += np.outer(da, hs[k])
        dU += np.outer(da, xs[k])
        dh = W.T @ da
    return dW, dU


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200, help="length of the input sequence")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--repeat", type=int, default=15, help="interleaved rounds")
    add_common_arguments(p)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    W = rng.standard_normal((a.hidden, a.hidden)) * 0.3 / np.sqrt(a.hidden)
    U = rng.standard_normal((a.hidden, 8)) * 0.3
    xs = rng.standard_normal((a.steps, 8))
    h, energy = np.zeros(a.hidden), []
    for x in xs:
        h = np.tanh(W @ h + U @ x)
        energy.append(np.sum(h * h))
    limit = max(energy[:int(0.6 * a.steps)]) + 1e-9   # the loop stops after ~60% of the sequence
    args = (W, U, xs, limit)

    compiled = ad.grad(rnn_loss, wrt=(0, 1), jit="never")
    traced = ad.grad(rnn_loss, wrt=(0, 1), fallback="always")
    peers = {"adcompiler compiled": lambda: compiled(*args), "adcompiler traced (before)": lambda: traced(*args),
             "hand-written NumPy adjoint": lambda: hand_grad(*args)}
    try:
        import torch
        tW, tU, txs = (torch.tensor(v, requires_grad=k < 2) for k, v in enumerate((W, U, xs)))

        def torch_grad():
            h = torch.zeros(a.hidden, dtype=torch.float64)
            hs, t = [], 0
            while t < txs.shape[0] and float(torch.sum(h * h).detach()) < limit:
                h = torch.tanh(tW @ h + tU @ txs[t])
                hs.append(h)
                t += 1
            H = torch.stack(hs)
            return torch.autograd.grad(torch.sum(H.mean(0) ** 2) + torch.sum(H[-1]), (tW, tU))
        peers["torch eager"] = torch_grad
    except ImportError:
        warnings.warn("torch is not installed: its column is skipped")

    want = compiled(*args)
    assert compiled.mode == "compiled", compiled.explain()
    for name, fn in peers.items():
        got = [np.asarray(g.detach() if hasattr(g, "detach") else g) for g in fn()]
        if not all(np.allclose(x, y, rtol=1e-9, atol=1e-12) for x, y in zip(got, want)):
            print(f"DISAGREES: {name}")
    times = {name: [] for name in peers}
    for _ in range(a.repeat):
        for name, fn in peers.items():
            t = now()
            fn()
            times[name].append(now() - t)
    h, length = np.zeros(a.hidden), 0
    while length < a.steps and np.sum(h * h) < limit:
        h = np.tanh(W @ h + U @ xs[length])
        length += 1
    base = statistics.median(times["adcompiler compiled"])
    print(f"RNN gradient w.r.t. W ({a.hidden}x{a.hidden}) and U, a while loop of {length} steps (of {a.steps}) "
          f"appending to a list, float64, medians of {a.repeat} interleaved rounds")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"  {name:28s} {m * 1e3:8.3f} ms  ({m / base:5.2f}x adcompiler compiled)")


if __name__ == "__main__":
    main()
