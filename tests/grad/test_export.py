"""`ad.export` / `adc grad --out`: the generated adjoint as a standalone module.

The backbone test exports every compiled corpus adjoint (the differential corpus, CASES) into one
directory and runs them all in ONE fresh interpreter (`python -I -S`: no site-packages, no
PYTHONPATH) whose sys.path holds the standard library, the exported files and a folder with only
NumPy in it; that interpreter first checks that adcompiler (and torch) cannot be imported. Results
are compared with the gradient adcompiler computes bit for bit: the exported file is the code the
NumPy tier runs (same emitter, same NumPy calls on the same inputs, in the same order), and NumPy's
results on one machine do not depend on the process (jit="never" keeps the native tier, whose libm
may differ in the last bit, out of it).
"""
import inspect
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler import ops
from adcompiler.backends import export as ex
from adcompiler.cli import main
from adcompiler.specialize import _like
from tests.compiler.values import sample_args

from .test_differential import CASES, _float_positions

_RUNNER = textwrap.dedent('''
    import importlib, pickle, sys
    numpy_only, here = sys.argv[1], sys.argv[2]
    sys.path[:0] = [numpy_only, here]
    for name in ("adcompiler", "torch", "libcst"):
        try:
            __import__(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"{name} is importable in the standalone interpreter")
    with open(f"{here}/inputs.pkl", "rb") as f:
        cases = pickle.load(f)
    results = []
    for module, func, args in cases:
        results.append(getattr(importlib.import_module(module), func)(*args))
    with open(f"{here}/results.pkl", "wb") as f:
        pickle.dump(results, f)
''')


def _bits(v):
    """A value as something == compares bit for bit (nan == nan, -0.0 != 0.0), type included."""
    if isinstance(v, tuple):
        return ("tuple",) + tuple(_bits(x) for x in v)
    if isinstance(v, np.ndarray):
        return ("ndarray", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, np.generic):
        return (type(v).__name__, v.tobytes())
    if isinstance(v, float):
        return ("float", struct.pack("<d", v))
    return (type(v).__name__, repr(v))


def _numpy_only_dir(tmp_path):
    """A folder holding NumPy (symlinks to the installed package and its bundled libraries) and nothing else."""
    d = tmp_path / "numpy_only"
    d.mkdir()
    site = os.path.dirname(os.path.dirname(np.__file__))
    for name in os.listdir(site):
        if name == "numpy" or name.startswith("numpy.libs"):
            os.symlink(os.path.join(site, name), d / name)
    return d


def _compiled_gradients():
    """(case, g, args) for every corpus case, with jit='never' so every call runs the NumPy tier."""
    out = []
    for case in CASES:
        args = sample_args(case, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ad.FallbackWarning)
            g = ad.grad(case.fn, wrt=_float_positions(args), jit="never")
            g(*args)
        out.append((case, g, args))
    return out


def test_every_corpus_adjoint_runs_standalone_and_agrees_bitwise(tmp_path):
    work = tmp_path / "exported"
    work.mkdir()
    cases, expected, expected_grads, hidden = [], [], [], 0
    for k, (case, g, args) in enumerate(_compiled_gradients()):
        if g.mode != "compiled":
            assert getattr(case, "expect", "compiled") == "traced", case
            continue
        c = g._last.compiled
        module = f"case_{k}"
        ad.export(g, work / f"{module}.py")
        values = g._bind(args, {})
        inputs = [values[n] for n in c.param_names] + c.forward_ir.hidden_values()
        hidden += bool(c.forward_ir.hidden)
        cases.append((module, ex.python_backend.identifier(c.ir.name), pickle.loads(pickle.dumps(inputs))))
        expected.append(c.compiled.func(*inputs))                 # the NumPy tier's code, in this process
        got = g(*args)
        expected_grads.append((got if isinstance(got, tuple) else (got,), [values[n] for n in c.wrt_names]))
    assert len(cases) >= 60 and hidden >= 3      # the corpus has adjoints with hidden inputs
    with open(work / "inputs.pkl", "wb") as f:
        pickle.dump(cases, f)
    (work / "run.py").write_text(_RUNNER)
    done = subprocess.run([sys.executable, "-I", "-S", str(work / "run.py"), str(_numpy_only_dir(tmp_path)),
                           str(work)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(work / "results.pkl", "rb") as f:
        results = pickle.load(f)
    assert len(results) == len(cases)
    for (module, _, _), got, want, (grads, wrt_values) in zip(cases, results, expected, expected_grads):
        assert _bits(got) == _bits(want), module
        # ... and, converted as grad converts it, exactly what the user's grad(...) returned
        for d, x, g in zip(got[len(got) - len(wrt_values):], wrt_values, grads):
            assert _bits(_like(d, x, fresh=False)) == _bits(g), module


def test_a_constant_module_round_trips_every_bit():
    specials = np.array([0.1, -0.0, np.inf, -np.inf, np.nan, 5e-324, np.finfo(float).max, 1 / 3])
    arrays = [specials, np.array([0.1, -0.0, np.inf, np.nan, 1e-45, 1 / 3, 3.4e38], np.float32), np.arange(-3, 3, dtype=np.int64) * 2 ** 40,
              np.array([True, False]), np.float64(2.5) * np.ones(()), np.zeros((0, 3)),
              np.linspace(0, 1, ex.LITERAL_MAX + 1).reshape(-1, 7) if (ex.LITERAL_MAX + 1) % 7 == 0
              else np.linspace(0, 1, ex.LITERAL_MAX + 1)]
    nan_payload = np.array([np.frombuffer(struct.pack("<Q", 0x7FF8000000000123), np.float64)[0], 1.0])
    for a in arrays + [nan_payload]:
        text, b64 = ex._array_literal(a)
        back = eval(text, {"np": np, "base64": ex.base64, "float": float})
        assert back.dtype == a.dtype and back.shape == a.shape and back.tobytes() == a.tobytes()
        assert b64 == (a.size > ex.LITERAL_MAX or a is nan_payload), text[:80]
    assert ex._array_literal(specials)[0].startswith("np.array([0.1, -0.0, float('inf'), ")
    with pytest.raises(ex.ExportError, match="complex128 cannot be written"):
        ex._array_literal(np.array([1j]))


def _bytecode(code):
    """A code object's instructions and constants, nested code objects compared the same way."""
    consts = tuple(_bytecode(c) if inspect.iscode(c) else (type(c).__name__, repr(c)) for c in code.co_consts)
    return code.co_code, code.co_names, code.co_varnames, consts


@pytest.mark.parametrize("name", sorted(ops.registry))
def test_each_helper_is_the_tables_own_forward(name):
    """The exported helper of every primitive is the table's code, not a copy that could drift:
    compiled standalone (NumPy only), it has the table's bytecode, and gives the table's values."""
    call, imports, defs = ex.helper_source(name)
    ns = {}
    exec(compile("\n".join(imports) + "\n\n" + "\n\n\n".join(defs) + "\n", f"<helper {name}>", "exec"), ns)
    impl, helper = ops.registry[name].impl, ns[call]
    if not inspect.isfunction(impl):        # a NumPy function itself (np.add ...)
        assert helper is impl
        return
    assert _bytecode(helper.__code__) == _bytecode(impl.__code__)
    assert not any((getattr(v, "__module__", None) or "").startswith("adcompiler") for v in ns.values())


def test_all_helpers_fit_in_one_module():
    """No two definitions the table's forwards read share a name, so any adjoint's helpers can be
    written side by side."""
    h = ex._Helpers()
    for name, p in ops.registry.items():
        h.value(ex.helper_name(name), p.impl, name)
    imports, defs = h.text()
    exec("\n".join(imports) + "\n\n" + "\n\n\n".join(defs), {})


@pytest.mark.parametrize("name,args,params", [
    ("sum_to", (np.arange(24.0).reshape(2, 3, 4),), {"shape": (3, 1)}),
    ("scatter_add", (np.array([1.5, -2.0]), np.array([3, 3])), {"idx": (ops.indexing.Dyn(0),), "shape": (5,)}),
    ("erf", (np.array([-1.0, 0.0, 0.3, 6.0], np.float32),), {}),
    ("std", (np.arange(12.0).reshape(3, 4),), {"axis": 1, "correction": 0}),
])
def test_helpers_compute_the_tables_values(name, args, params):
    call, imports, defs = ex.helper_source(name)
    ns = {}
    exec("\n".join(imports) + "\n\n" + "\n\n\n".join(defs), ns)
    own = dict(params, idx=(ns["Dyn"](0),)) if "idx" in params else params   # the module's own Dyn class
    got, want = ns[call](*args, **own), ops.registry[name].impl(*args, **params)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def _module(tmp_path, g, name="m"):
    path = ad.export(g, tmp_path / f"{name}.py")
    ns = {"__name__": name}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    return path.read_text(), ns


SCALE = np.array([0.5, -2.0, 3.0])


def _uses_a_global(x, y):
    return np.sum(np.tanh(x * SCALE) * y) + y * y


def test_hidden_inputs_become_parameters_and_the_docstring_says_so(tmp_path):
    g = ad.value_and_grad(_uses_a_global, wrt=(0, 1), jit="never")
    x = np.array([0.3, -0.7, 1.1])
    value, (dx, dy) = g(x, 0.4)
    text, ns = _module(tmp_path, g)
    fn = ns["_uses_a_global_grad"]
    assert list(inspect.signature(fn).parameters) == ["x", "y", "SCALE"]
    assert "SCALE: f64[3] -- a hidden input: the value of `SCALE`" in ns["__doc__"]
    assert "-> (the function's value, d/dx, d/dy)" in ns["__doc__"]
    v, gx, gy = fn(x, 0.4, SCALE)
    assert v == value and np.array_equal(gx, dx) and float(gy) == dy
    assert "prim." not in text and "Dyn(" not in text and "python_scalar" not in text


def _indexing_loop(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc + x[i] * x[(i + 1) % 4]
    return acc


def test_index_templates_and_helpers_are_defined_in_the_module(tmp_path):
    g = ad.grad(_indexing_loop, jit="never")
    x = np.array([0.3, -0.7, 1.1, 2.0])
    want = g(x, 4)
    assert "prim." in g.source and "Dyn(" in g.source
    text, ns = _module(tmp_path, g)
    assert "prim." not in text and "class Dyn:" in text and "def _scatter_add(" in text
    assert np.array_equal(ns["_indexing_loop_grad"](x, 4)[0], want)


def test_constants_are_defined_at_the_top(tmp_path):
    w = np.array([0.1, 1 / 3, -0.0, 2.5])

    def f(x):
        return np.sum(x * np.array([0.1, 1 / 3, -0.0, 2.5]))

    g = ad.grad(f, jit="never")
    want = g(np.ones(4))
    text, ns = _module(tmp_path, g)
    assert "# constants:" not in text and "_c0 = np.array([" in text
    got = ns["f_grad"](np.ones(4))[0]
    assert np.array_equal(np.broadcast_to(got, (4,)), want) and np.array_equal(want, w)


def test_export_refuses_a_traced_or_uncalled_gradient(tmp_path):
    def f(x):
        try:
            return np.sum(x * x)
        except ValueError:
            return 0.0

    g = ad.grad(f)
    with pytest.raises(ValueError, match="not been called yet"):
        ad.export(g, tmp_path / "f.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        g(np.ones(3))
    assert g.mode == "traced"
    with pytest.raises(ValueError, match="is traced, not compiled, so there is no generated source.*try"):
        ad.export(g, tmp_path / "f.py")
    assert not (tmp_path / "f.py").exists()
    with pytest.raises(TypeError, match="result of adcompiler.grad"):
        ad.export(f, tmp_path / "f.py")


def test_cli_grad_out_writes_the_module(tmp_path, capsys):
    src = tmp_path / "model.py"
    src.write_text("import numpy as np\nW = np.linspace(0.1, 1.3, 4)\n\n\n"
                   "def f(x, y):\n    return np.sum(np.tanh(x * W) ** 2) + y * x[1]\n")
    out = tmp_path / "f_grad.py"
    assert main(["grad", f"{src}::f", "--arg", "x=f64[4]", "--arg", "y=f64", "--wrt", "x", "--wrt", "y",
                 "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    ns = {}
    exec(compile(out.read_text(), str(out), "exec"), ns)
    x, w = np.array([0.2, -0.4, 0.9, 1.5]), np.linspace(0.1, 1.3, 4)
    value, dx, dy = ns["f_grad"](x, 0.7, w)
    t = np.tanh(x * w)
    assert value == pytest.approx(np.sum(t ** 2) + 0.7 * x[1], rel=1e-15)
    want = 2 * t * (1 - t * t) * w
    want[1] += 0.7
    np.testing.assert_allclose(dx, want, rtol=1e-14)
    assert float(dy) == x[1]
