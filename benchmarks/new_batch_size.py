"""The cost of a call with a new batch size: a compiled gradient of an MLP loss (grad_mlp.loss) called with
batch sizes it has not seen, with shape-generic specialisations (the default: from the second
shape on, one specialisation whose batch extent is a symbol serves every size) and without
(`adcompiler.api.SHAPE_GENERIC = False`: one specialisation compiled per shape, as before), beside
a cached call and `jax.jit(jax.grad)`, which compiles once per shape. Medians over fresh sizes,
peers interleaved. Run by hand:

    python benchmarks/new_batch_size.py [--sizes 20]
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import grad_common  # noqa: F401  (first: applies --threads before NumPy loads BLAS)
import numpy as np
from grad_common import add_common_arguments, now
from grad_mlp import loss as mlp_loss

import adcompiler as ad
from adcompiler import api


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, default=20, help="new batch sizes timed per variant")
    add_common_arguments(p)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    W1, b1 = rng.standard_normal((64, 32)), rng.standard_normal(32)
    W2, b2 = rng.standard_normal((32, 10)), rng.standard_normal(10)

    def args(n):
        return W1, b1, W2, b2, rng.standard_normal((n, 64)), np.eye(10)[rng.integers(0, 10, n)]

    g_generic = ad.grad(mlp_loss, wrt=(0, 1, 2, 3), jit="never")
    g_per_shape = ad.grad(mlp_loss, wrt=(0, 1, 2, 3), jit="never")
    jgrad = None
    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)

        def jloss(W1, b1, W2, b2, X, Y):     # grad_mlp.loss in jax.numpy
            h = jnp.tanh(X @ W1 + b1)
            z = h @ W2 + b2
            m = jnp.max(z, axis=1, keepdims=True)
            lse = m + jnp.log(jnp.sum(jnp.exp(z - m), axis=1, keepdims=True))
            return -jnp.sum(Y * (z - lse)) / X.shape[0]
        jgrad = jax.jit(jax.grad(jloss, argnums=(0, 1, 2, 3)))
    except ImportError:
        warnings.warn("jax is not installed: its column is skipped")

    def timed(fn, *xs):
        t = now()
        out = fn(*xs)
        if jgrad is not None and fn is jgrad:
            out[0].block_until_ready()
        return now() - t

    for n in (30, 31):                       # warm-up: the first shape, then the generic specialisation
        api.SHAPE_GENERIC = True
        g_generic(*args(n))
        api.SHAPE_GENERIC = False
        g_per_shape(*args(n))
        if jgrad is not None:
            jgrad(*args(n))[0].block_until_ready()
    variants = {"adcompiler, shape-generic": (g_generic, True), "adcompiler, one per shape": (g_per_shape, False)}
    if jgrad is not None:
        variants["jax.jit(grad)"] = (jgrad, True)
    first = {name: [] for name in variants}
    again = {name: [] for name in variants}
    for k in range(a.sizes):
        xs = args(40 + 7 * k)                  # a size no variant has seen
        for name, (fn, generic) in variants.items():
            api.SHAPE_GENERIC = generic
            first[name].append(timed(fn, *xs))
            again[name].append(timed(fn, *xs))
    api.SHAPE_GENERIC = True
    print(f"MLP loss gradient 64-32-10, float64, {a.sizes} new batch sizes (40 ... {40 + 7 * (a.sizes - 1)}), "
          f"medians of the first call at each size and of the second")
    for name in variants:
        f, s = statistics.median(first[name]), statistics.median(again[name])
        print(f"  {name:28s} first call {f * 1e3:8.3f} ms, second {s * 1e3:7.3f} ms  (first/second {f / s:6.1f}x)")
    print(f"  specialisations compiled: shape-generic {g_generic._compiles}, one per shape {g_per_shape._compiles}")


if __name__ == "__main__":
    main()
