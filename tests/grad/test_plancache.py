"""The disk cache of compiled gradients: a new process skips the front end, and never loads an
entry whose function, helpers or compiled-in globals changed."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_CHILD = textwrap.dedent("""
    import sys, json
    sys.path.insert(0, {root!r}); sys.path.insert(0, {moddir!r})
    import numpy as np
    import adcompiler as ad
    from adcompiler import plancache
    import usermod
    g = ad.value_and_grad(usermod.f, wrt=0, jit={jit!r}, fallback="never")
    value, grad = g(*{args})
    print(json.dumps({{"value": value, "grad": np.asarray(grad).tolist(), "mode": g.mode, "tier": g.tier,
                      "stats": plancache.stats, "libcst": "libcst" in sys.modules}}))
""")


def _run(tmp_path, source, args="(0.7,)", jit="never", env=None):
    moddir = tmp_path / "mod"
    moddir.mkdir(exist_ok=True)
    (moddir / "usermod.py").write_text(textwrap.dedent(source))
    for pyc in moddir.glob("__pycache__/*"):
        pyc.unlink()
    full_env = dict(os.environ, ADCOMPILER_CACHE_DIR=str(tmp_path / "cache"), **(env or {}))
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=ROOT, moddir=str(moddir), jit=jit, args=args)],
                         env=full_env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


LOOP = """
    import math
    N = 5
    def helper(x):
        return math.sin(x) * x
    def f(x):
        s = 0.0
        for i in range(N):
            s = s + helper(x) * i
        return s
"""


def _expected(n, x, fn=lambda x: np.sin(x) * x, dfn=lambda x: np.cos(x) * x + np.sin(x)):
    k = sum(range(n))
    return fn(x) * k, dfn(x) * k


def test_a_second_process_loads_the_compiled_gradient_without_the_front_end(tmp_path):
    first = _run(tmp_path, LOOP)
    second = _run(tmp_path, LOOP)
    assert first["stats"]["writes"] == 1 and first["stats"]["hits"] == 0
    assert second["stats"]["hits"] == 1 and second["stats"]["writes"] == 0
    assert first["mode"] == second["mode"] == "compiled"
    assert (second["value"], second["grad"]) == (first["value"], first["grad"])
    assert (second["value"], second["grad"]) == pytest.approx(_expected(5, 0.7), rel=1e-14)
    assert not second["libcst"], "a cached gradient must not import libcst"


def test_an_edited_function_or_helper_is_compiled_again(tmp_path):
    _run(tmp_path, LOOP)
    edited = _run(tmp_path, LOOP.replace("s = s + helper(x) * i", "s = s + helper(x) * i * 2"))
    assert edited["stats"]["hits"] == 0 and edited["stats"]["writes"] == 1
    assert (edited["value"], edited["grad"]) == pytest.approx(tuple(2 * v for v in _expected(5, 0.7)), rel=1e-14)
    helper = _run(tmp_path, LOOP.replace("math.sin(x) * x", "math.cos(x) * x"))
    assert helper["stats"]["hits"] == 0 and helper["stats"]["stale"] == 1
    assert (helper["value"], helper["grad"]) == pytest.approx(
        _expected(5, 0.7, lambda x: np.cos(x) * x, lambda x: -np.sin(x) * x + np.cos(x)), rel=1e-14)


def test_a_global_compiled_in_as_a_constant_that_changed_is_not_loaded(tmp_path):
    _run(tmp_path, LOOP)
    changed = _run(tmp_path, LOOP.replace("N = 5", "N = 7"))
    assert changed["stats"]["hits"] == 0 and changed["stats"]["stale"] == 1
    assert (changed["value"], changed["grad"]) == pytest.approx(_expected(7, 0.7), rel=1e-14)
    back = _run(tmp_path, LOOP)      # the entry for N = 5 was replaced: compiled again, right again
    assert (back["value"], back["grad"]) == pytest.approx(_expected(5, 0.7), rel=1e-14)


def test_globals_read_on_each_call_come_from_the_new_process(tmp_path):
    src = """
        import numpy as np
        W = np.array([1.0, 2.0, 3.0])
        def f(x):
            return np.sum(W * x * x)
    """
    _run(tmp_path, src, args="(np.ones(3),)")
    again = _run(tmp_path, src.replace("[1.0, 2.0, 3.0]", "[4.0, 5.0, 6.0]"), args="(np.ones(3),)")
    assert again["stats"]["hits"] == 1       # W is a hidden input: read on each call, not compiled in
    assert again["value"] == 15.0 and again["grad"] == [8.0, 10.0, 12.0]


def test_a_corrupt_entry_is_ignored_and_rebuilt(tmp_path):
    _run(tmp_path, LOOP)
    (entry,) = list((tmp_path / "cache" / "grad").glob("*/*.pkl"))
    data = entry.read_bytes()
    entry.write_bytes(data[:-10] + b"0123456789")
    again = _run(tmp_path, LOOP)
    assert again["stats"]["rejected"] == 1 and again["stats"]["writes"] == 1
    assert (again["value"], again["grad"]) == pytest.approx(_expected(5, 0.7), rel=1e-14)
    off = _run(tmp_path, LOOP, env={"ADCOMPILER_CACHE": "0"})
    assert off["stats"]["hits"] == off["stats"]["writes"] == 0


def test_the_native_tier_from_the_cache_in_a_new_process(tmp_path):
    first = _run(tmp_path, LOOP, jit="always")
    second = _run(tmp_path, LOOP, jit="always")
    assert first["tier"] == second["tier"] == "native"
    assert second["stats"]["hits"] == 1 and not second["libcst"]
    assert (second["value"], second["grad"]) == (first["value"], first["grad"])


def test_importing_adcompiler_imports_neither_libcst_nor_llvmlite():
    code = "import sys, adcompiler; print(sorted(m for m in ('libcst', 'llvmlite') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_a_function_loaded_from_bytecode_finds_the_entry_its_source_made(tmp_path):
    # the first process compiles usermod from source (and writes its .pyc), the next ones load the
    # .pyc: the same function must find the same entry (a code object's marshal bytes differ)
    env = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(tmp_path / "pyc")}
    moddir = tmp_path / "mod"
    first = _run(tmp_path, LOOP, env=env)
    second = _child_keep_pyc(tmp_path, moddir, env)
    third = _child_keep_pyc(tmp_path, moddir, env)
    assert first["stats"]["writes"] == 1
    assert second["stats"]["hits"] == 1 and third["stats"]["hits"] == 1, (second, third)


def _child_keep_pyc(tmp_path, moddir, env):
    full_env = dict(os.environ, ADCOMPILER_CACHE_DIR=str(tmp_path / "cache"), **env)
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=ROOT, moddir=str(moddir), jit="never",
                                                            args="(0.7,)")],
                         env=full_env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])
