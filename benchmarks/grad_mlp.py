"""2-layer MLP: loss and gradient w.r.t. (W1, b1, W2, b2) of a tanh MLP with
softmax cross-entropy, batch 512, 784-512-10, float32, side by side:
adcompiler's compiled value_and_grad, hand-written NumPy, torch eager,
jax.jit(value_and_grad) and HIPS autograd (each skipped when not installed).
Run by hand:

    python benchmarks/grad_mlp.py [--batch 512] [--repeat 20]

Targets (issue 4): compiled <= 1.2x hand-written NumPy; compiled gradient /
forward <= 3; compile time reported (first call minus steady-state call)."""
from __future__ import annotations

import argparse
import sys

import grad_common  # noqa: F401  (first: applies --threads before NumPy loads BLAS)
import numpy as np
from grad_common import (add_common_arguments, check_raw_dtypes, compile_time, forward_time, peak_memory,
                         print_adcompiler_summary, print_table, profile_generated, run_peers, set_torch_threads,
                         thread_note)


def loss(W1, b1, W2, b2, X, Y):
    """The loss as a user writes it in NumPy; Y is one-hot."""
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) / X.shape[0]


def loss_and_grad_numpy(W1, b1, W2, b2, X, Y):
    """What a person writes by hand (uses that every row of Y sums to 1)."""
    n = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    m = np.max(z, axis=1, keepdims=True)
    e = np.exp(z - m)
    s = np.sum(e, axis=1, keepdims=True)
    value = -np.sum(Y * (z - m - np.log(s))) / n
    dz = (e / s - Y) / n
    dW2 = h.T @ dz
    db2 = dz.sum(axis=0)
    dh = dz @ W2.T
    da = dh * (1 - h * h)
    dW1 = X.T @ da
    db1 = da.sum(axis=0)
    return value, (dW1, db1, dW2, db2)


def make_adcompiler(args):
    import adcompiler as ad
    vg = ad.value_and_grad(loss, wrt=(0, 1, 2, 3))
    vg(*args)
    if vg.mode != "compiled":
        print(f"  adcompiler: NOT compiled: {vg.explain()}")
    return lambda: vg(*args)


def make_numpy(args):
    return lambda: loss_and_grad_numpy(*args)


def make_torch(args):
    import torch
    set_torch_threads(torch)
    W1, b1, W2, b2, X, Y = (torch.from_numpy(a) for a in args)

    def run():
        params = [p.detach().requires_grad_() for p in (W1, b1, W2, b2)]
        w1, c1, w2, c2 = params
        h = torch.tanh(X @ w1 + c1)
        z = h @ w2 + c2
        m = torch.amax(z, dim=1, keepdim=True)
        lse = m + torch.log(torch.sum(torch.exp(z - m), dim=1, keepdim=True))
        value = -torch.sum(Y * (z - lse)) / X.shape[0]
        value.backward()
        return value.item(), tuple(p.grad.numpy() for p in params)
    run()
    return run


def make_jax(args):
    import jax
    import jax.numpy as jnp

    def f(W1, b1, W2, b2, X, Y):
        h = jnp.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        m = jnp.max(z, axis=1, keepdims=True)
        lse = m + jnp.log(jnp.sum(jnp.exp(z - m), axis=1, keepdims=True))
        return -jnp.sum(Y * (z - lse)) / X.shape[0]
    vg = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2, 3)))
    jargs = [jnp.asarray(a) for a in args]
    jax.block_until_ready(vg(*jargs))

    def run():
        v, gs = jax.block_until_ready(vg(*jargs))
        return float(v), tuple(np.asarray(g) for g in gs)
    return run


def make_hips(args):
    import autograd
    import autograd.numpy as anp

    def f(W1, b1, W2, b2, X, Y):
        h = anp.tanh(anp.dot(X, W1) + b1)
        z = anp.dot(h, W2) + b2
        m = anp.max(z, axis=1, keepdims=True)
        lse = m + anp.log(anp.sum(anp.exp(z - m), axis=1, keepdims=True))
        return -anp.sum(Y * (z - lse)) / X.shape[0]
    vg = autograd.value_and_grad(lambda p: f(*p, *args[4:]))
    vg(tuple(args[:4]))
    return lambda: vg(tuple(args[:4]))


def make_inputs(batch, n_in=784, n_hidden=512, n_out=10, seed=0):
    r = np.random.default_rng(seed)
    f32 = np.float32
    W1 = (r.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)).astype(f32)
    b1 = (0.1 * r.standard_normal(n_hidden)).astype(f32)
    W2 = (r.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)).astype(f32)
    b2 = (0.1 * r.standard_normal(n_out)).astype(f32)
    X = r.standard_normal((batch, n_in)).astype(f32)
    Y = np.eye(n_out, dtype=f32)[r.integers(0, n_out, batch)]
    return W1, b1, W2, b2, X, Y


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--profile", action="store_true", help="print the cost of each line of the generated adjoint")
    add_common_arguments(ap)
    args = ap.parse_args(argv)
    inputs = make_inputs(args.batch)

    import adcompiler as ad
    names = ["W1", "b1", "W2", "b2", "X", "Y"]
    first, steady, comp, vg = compile_time(lambda: ad.value_and_grad(loss, wrt=(0, 1, 2, 3)), lambda g: g(*inputs),
                                           loss, dict(zip(names, inputs)), names[:4])
    forward = forward_time(lambda: loss(*inputs), args.repeat)

    peers = [("adcompiler compiled", lambda: make_adcompiler(inputs)),
             ("hand-written NumPy", lambda: make_numpy(inputs)),
             ("torch eager", lambda: make_torch(inputs)),
             ("jax.jit(value_and_grad)", lambda: make_jax(inputs)),
             ("HIPS autograd", lambda: make_hips(inputs))]
    print(f"MLP loss+gradient, batch {args.batch}, 784-512-10, tanh, softmax cross-entropy, float32; {thread_note()}")
    results, runs, fns = run_peers(peers, args.repeat, rtol=1e-4)
    print_table(f"MLP batch {args.batch} float32, loss + gradient w.r.t. (W1, b1, W2, b2) (3 rounds x best of up to "
                f"{args.repeat})", results, runs, "hand-written NumPy")
    print(f"  {'(forward only, NumPy)':28s} {forward * 1e3:10.3f} ms")
    peak_memory(fns)
    check_raw_dtypes(vg, inputs)
    print_adcompiler_summary(results, forward, first, steady, comp, vg.mode, "hand-written NumPy", 1.2)
    if args.profile and vg.mode == "compiled":
        profile_generated(vg, inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
