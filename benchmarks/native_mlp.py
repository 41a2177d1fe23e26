"""The MLP of grad_mlp.py (784-512-10, batch 512, float32, loss + gradient) on the native tier's
partly-native path: native kernels for the elementwise and softmax regions, NumPy (BLAS) for the
matmuls and NumPy's vectorised tanh/exp, side by side with the NumPy tier, torch eager, jax.jit and
hand-written NumPy. Interleaved rounds, medians and min-max, ratios to torch; the gradient /
forward ratio of the native path (forward: ad.jit(loss)).

    python benchmarks/native_mlp.py [--threads 1] [--rounds 9]
"""
import argparse
import os
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import grad_common  # noqa: E402,F401  (first: --threads reaches BLAS before NumPy loads)
from grad_common import add_common_arguments  # noqa: E402
from grad_mlp import loss, loss_and_grad_numpy, make_inputs, make_jax, make_torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=10)
    add_common_arguments(ap)
    args = ap.parse_args()
    import adcompiler as ad
    inputs = make_inputs(512)
    native = ad.value_and_grad(loss, wrt=(0, 1, 2, 3), jit="always")
    numpy_tier = ad.value_and_grad(loss, wrt=(0, 1, 2, 3), jit="never")
    forward = ad.jit(loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native(*inputs), numpy_tier(*inputs), forward(*inputs)
    print(native.explain())
    peers = {"adcompiler native regions": lambda: native(*inputs), "adcompiler NumPy tier": lambda: numpy_tier(*inputs)}
    for name, make in (("torch eager", make_torch), ("jax.jit(value_and_grad)", make_jax)):
        try:
            peers[name] = make(inputs)
        except ImportError:
            print(f"{name}: not installed")
    peers["hand-written NumPy"] = lambda: loss_and_grad_numpy(*inputs)
    peers["forward (ad.jit)"] = lambda: forward(*inputs)
    try:
        peers["torch forward (no_grad)"] = _torch_forward(inputs)
    except ImportError:
        pass
    times = {k: [] for k in peers}
    for _ in range(args.rounds):
        for k, f in peers.items():
            t = time.perf_counter()
            for _ in range(args.repeat):
                f()
            times[k].append((time.perf_counter() - t) / args.repeat * 1e3)
    base = statistics.median(times["torch eager"]) if "torch eager" in times else None
    print(f"MLP 784-512-10, batch 512, float32, loss + gradient (threads: {grad_common.THREADS or 'default'}; "
          f"{args.rounds} interleaved rounds)")
    for k, ts in times.items():
        med = statistics.median(ts)
        ratio = f"{med / base:5.2f}x torch" if base else ""
        print(f"  {k:28s} median {med:7.3f} ms  min {min(ts):7.3f}  max {max(ts):7.3f}  {ratio}")
    g, f = statistics.median(times["adcompiler native regions"]), statistics.median(times["forward (ad.jit)"])
    print(f"  gradient / forward (native regions): {g / f:.2f}")
    if "torch forward (no_grad)" in times:
        tg, tf = statistics.median(times["torch eager"]), statistics.median(times["torch forward (no_grad)"])
        print(f"  gradient / forward (torch eager): {tg / tf:.2f}")


def _torch_forward(args):
    import torch
    W1, b1, W2, b2, X, Y = (torch.from_numpy(a) for a in args)

    def run():
        with torch.no_grad():
            h = torch.tanh(X @ W1 + b1)
            z = h @ W2 + b2
            m = torch.amax(z, dim=1, keepdim=True)
            lse = m + torch.log(torch.sum(torch.exp(z - m), dim=1, keepdim=True))
            return (-torch.sum(Y * (z - lse)) / X.shape[0]).item()
    run()
    return run


if __name__ == "__main__":
    main()
