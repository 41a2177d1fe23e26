"""Shared helpers for the compiled-gradient benchmarks (benchmarks/grad_*.py).

Not a benchmark itself. Each benchmark gives a list of peers; a peer is
`(name, make)` where `make()` does any one-time work (building the gradient
function, jit compilation, a warm-up call) and returns a zero-argument callable
that computes the gradient. `make()` raising ImportError means "not installed".
"""
from __future__ import annotations

import os
import sys
import time


def _thread_limit(argv):
    """`--threads N` from the command line, applied before NumPy is imported (BLAS reads it at load)."""
    n = None
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            n = int(argv[i + 1])
        elif a.startswith("--threads="):
            n = int(a.split("=", 1)[1])
    if n is None:
        return None
    if "numpy" in sys.modules:
        print("warning: NumPy was imported before grad_common; --threads may not reach BLAS", file=sys.stderr)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    return n


# Importing this module applies `--threads N`: on a loaded machine a multi-threaded BLAS can be
# 10x slower than a single-threaded one (its threads wait for each other), so `--threads 1`
# gives steadier figures. Benchmarks import grad_common before NumPy for this reason.
THREADS = _thread_limit(sys.argv[1:])

# `--clock cpu` times with the process's CPU time instead of wall time: on a machine shared
# with other jobs, CPU time does not count the time this process waits for a core. Only
# meaningful when everything runs on one thread (`--threads 1`): CPU time sums all threads.
CLOCK = "cpu" if "--clock=cpu" in sys.argv or any(
    a == "--clock" and sys.argv[i + 2:i + 3] == ["cpu"] for i, a in enumerate(sys.argv[1:])) else "wall"
now = time.process_time if CLOCK == "cpu" else time.perf_counter

import numpy as np  # noqa: E402


def add_common_arguments(ap):
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for BLAS, torch and XLA (default: each library's own default)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (default) or this process's CPU time (use with --threads 1 on a busy machine)")


def set_torch_threads(torch):
    if THREADS:
        torch.set_num_threads(THREADS)


def thread_note():
    threads = f"threads: {THREADS} (--threads)" if THREADS else "threads: each library's default"
    return threads + ("; clock: process CPU time" if CLOCK == "cpu" else "; clock: wall")


def best_of(fn, repeat, budget=5.0):
    """Best wall time of `fn()` over `repeat` calls (fewer when a slow peer exceeds `budget` seconds, at least 2)."""
    times = []
    out = None
    start = now()
    for i in range(repeat):
        t = now()
        out = fn()
        times.append(now() - t)
        if i >= 1 and now() - start > budget:
            break
    return min(times), out, len(times)


def forward_time(fn, repeat, rounds=3):
    """Best time of the plain forward function, over `rounds` rounds of best-of-`repeat`."""
    return min(best_of(fn, repeat)[0] for _ in range(rounds))


def _leaves(tree):
    if isinstance(tree, (tuple, list)):
        for t in tree:
            yield from _leaves(t)
    else:
        yield np.asarray(tree, dtype=np.float64)


def max_rel_diff(a, b):
    """Largest |a - b| over all leaves, relative to the largest |a| of that leaf."""
    worst = 0.0
    la, lb = list(_leaves(a)), list(_leaves(b))
    if len(la) != len(lb):
        return float("inf")
    for x, y in zip(la, lb):
        if x.shape != y.shape:
            return float("inf")
        scale = max(float(np.max(np.abs(x))) if x.size else 0.0, 1e-300)
        worst = max(worst, float(np.max(np.abs(x - y))) / scale if x.size else 0.0)
    return worst


def run_peers(peers, repeat, rtol, budget=6.0, rounds=3, ref_name="adcompiler compiled"):
    """Time every peer; check each peer's gradient against `ref_name`'s. Returns ({name: s}, {name: runs}).

    The peers are timed in `rounds` interleaved rounds of best-of-`repeat` and the best time
    is kept, so a burst of load from other processes does not land on one peer only."""
    fns, outs = {}, {}
    for name, make in peers:
        try:
            fns[name] = make()
        except ImportError as e:
            print(f"  {name:28s} not installed ({e.name or e})")
        except Exception as e:  # a peer that cannot run this workload is reported, not fatal
            msg = str(e).splitlines()[0] if str(e) else ""
            print(f"  {name:28s} FAILED to build: {type(e).__name__}: {msg}")
    results = {name: float("inf") for name in fns}
    runs = {name: 0 for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t, out, n = best_of(fn, repeat, budget / rounds)
            results[name] = min(results[name], t)
            runs[name] += n
            outs[name] = out
    ref = outs.get(ref_name)
    if ref is not None:
        for name, out in outs.items():
            if name == ref_name:
                continue
            d = max_rel_diff(ref, out)
            if not d <= rtol:
                print(f"  {name:28s} DISAGREES with {ref_name} (max relative diff {d:.3g} > {rtol:g})")
            else:
                print(f"  {name:28s} agrees with {ref_name} (max relative diff {d:.2g})")
    return results, runs, fns


def peak_memory(fns, names=("adcompiler compiled", "hand-written NumPy")):
    """Peak memory (tracemalloc, which sees NumPy's buffers) of one call of each named peer, in MiB."""
    import tracemalloc
    print("\npeak memory of one call (tracemalloc; NumPy buffers included)")
    for name in names:
        if name not in fns:
            continue
        tracemalloc.start()
        tracemalloc.reset_peak()
        out = fns[name]()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del out
        print(f"  {name:28s} {peak / 2 ** 20:8.1f} MiB")


def check_raw_dtypes(g, args):
    """Warn when the generated adjoint computes a gradient in another dtype than its input
    (the API casts the result back, which hides the cost of computing in float64)."""
    try:
        cg = g._last.compiled
        values = dict(zip(cg.param_names, args))
        raw = cg.compiled.func(*[values[n] for n in cg.param_names])[1:]
    except Exception:  # internals moved: skip the diagnostic
        return
    for name, r in zip(cg.wrt_names, raw):
        want = getattr(values[name], "dtype", None)
        got = getattr(r, "dtype", None)
        if want is not None and got is not None and want != got:
            print(f"  note: the generated adjoint computes d{name} in {got} for a {want} input "
                  f"(the API casts it back)")


def print_table(title, results, runs, base_name, unit="ms"):
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    base = results.get(base_name)
    print(f"\n{title}")
    for name, t in results.items():
        ratio = f"{t / base:7.2f}x {base_name}" if base else ""
        print(f"  {name:28s} {t * scale:10.3f} {unit}  {ratio}   (best of {runs[name]} runs)")


def compile_time(make_grad, call, fn, values, wrt, repeat=5):
    """(first-call s, steady-state s, compile s, gradient) of a freshly made adcompiler gradient.

    A throw-away function is compiled first so that module imports (libcst, ...) are not
    counted. first - steady is what a user sees on the first call; with large arrays it
    also holds first-touch costs of fresh memory, so `compile s` times
    `compile_value_and_grad(fn, values, wrt)` alone (parse and front-end caches cleared)."""
    import adcompiler as ad
    from adcompiler.compiler import frontend, source
    from adcompiler.specialize import compile_value_and_grad
    ad.grad(_warm)(1.0)
    g = make_grad()
    t = now()
    call(g)
    first = now() - t
    steady, _, _ = best_of(lambda: call(g), repeat)
    comp = float("inf")
    for _ in range(3):
        for mod in (source, frontend):
            getattr(mod, "_cache", {}).clear()
        t = now()
        compile_value_and_grad(fn, values, wrt)
        comp = min(comp, now() - t)
    return first, steady, comp, g


def _warm(x):
    return x * x + 1.0


def print_adcompiler_summary(results, forward_s, first_s, steady_s, compile_s, mode, base_name, target_ratio):
    """The adcompiler targets: time vs `base_name`, gradient/forward, compile time."""
    t = results.get("adcompiler compiled")
    print("\nadcompiler targets")
    print(f"  mode: {mode}")
    if t is not None and base_name in results:
        r = t / results[base_name]
        print(f"  compiled / {base_name}: {r:.2f}x   (target <= {target_ratio}x: {'met' if r <= target_ratio else 'MISSED'})")
    if t is not None:
        r = t / forward_s
        print(f"  gradient / forward: {r:.2f}x   (forward {forward_s * 1e3:.3f} ms; target <= 3: "
              f"{'met' if r <= 3 else 'MISSED'})")
    c = first_s - steady_s
    print(f"  compile time: {compile_s * 1e3:.1f} ms   (compile_value_and_grad, best of 3, caches cleared; "
          f"target <= 50 ms for 30 lines: {'met' if compile_s <= 0.05 else 'MISSED'})")
    print(f"  first call - steady call: {c * 1e3:.1f} ms   (first call {first_s * 1e3:.1f} ms, steady "
          f"{steady_s * 1e3:.3f} ms; includes compile and first-touch costs)")


def profile_generated(g, args, repeat=5, top=12):
    """Per-statement cost of the generated adjoint `g.source` (top-level statements; a loop counts as one).

    Runs the function body statement by statement in its own namespace and prints the
    most expensive lines with their share of the total."""
    import ast
    compiled = g._last.compiled.compiled
    func = compiled.func
    tree = ast.parse(compiled.source)
    fdef = tree.body[0]
    params = [a.arg for a in fdef.args.args]
    stmts = []
    for node in fdef.body:
        if isinstance(node, ast.Return):
            break
        code = compile(ast.Module([node], []), compiled.filename, "exec")
        stmts.append((ast.get_source_segment(compiled.source, node).splitlines()[0], code))
    best = [float("inf")] * len(stmts)
    for _ in range(repeat):
        ns = dict(func.__globals__)
        ns.update(zip(params, args))
        for i, (_, code) in enumerate(stmts):
            t = now()
            exec(code, ns)
            best[i] = min(best[i], now() - t)
    total = sum(best)
    print(f"\nprofile of the generated adjoint: {total * 1e3:.3f} ms over {len(stmts)} statements (best of {repeat}"
          f" per statement); the costliest:")
    if any(line.lstrip().startswith(("for ", "while ")) for line, _ in stmts):
        print("  (statements run one by one at module level, where names are dict look-ups: a loop costs more "
              "here than inside the function; compare loops with each other)")
    order = sorted(range(len(stmts)), key=lambda i: -best[i])[:top]
    for i in order:
        print(f"  {best[i] * 1e3:9.3f} ms {100 * best[i] / total:5.1f}%  {stmts[i][0].strip()}")
    return list(zip([s for s, _ in stmts], best))
