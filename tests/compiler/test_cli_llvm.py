"""`adc llvm`: the native tier's LLVM IR (forward or adjoint, before or after LLVM's pipeline),
its assembly, one-line errors with exit 2 (what is not lowered, with the user's line), and the
native kernels of the array regions of a function that does not lower whole.

The loop structure is checked through the phis of each loop header (the target of a back
edge, found with dominators on the printed CFG): the lowering emits one phi per carried
value, and LLVM's pipeline keeps the loop-invariant parameters out of them. The tests on
arithmetic skip while the primitive table has no scalar definition for an op they use.
"""
import re
import textwrap

import pytest

pytest.importorskip("llvmlite")

from adcompiler.cli import main  # noqa: E402

# No primitive at all: lowers whichever primitives have scalar definitions.
ROTATE = """\
def rotate(x, y, z, n):
    for i in range(n):
        x, y, z = y, z, x
    return x
"""
ROTATE_ARGS = ["--arg", "x=f64", "--arg", "y=f64", "--arg", "z=f64", "--arg", "n=i64"]

# Scalar loops: with + - * only, and with math.sin (a Python-float op that can raise, so the
# kernel also carries a status).
EULER = """\
def euler(a, x0, n):
    x = x0
    for i in range(n):
        x = x + 0.01 * (a * x - x * x)
    return x
"""
EULER_SIN = """\
import math


def euler(a, x0, n):
    x = x0
    for i in range(n):
        x = x + 0.01 * (a * math.sin(x) - x * x)
    return x
"""
EULER_ARGS = ["--arg", "a=f64", "--arg", "x0=f64", "--arg", "n=i64"]

ARRAYS = """\
import numpy as np


def takes(x, v):
    return x * (v @ v)


def makes(x):
    v = (np.ones((3, 3)) * x) @ np.ones(3)
    return x * v[0]


def with_try(x):
    try:
        return x
    except ValueError:
        return x
"""


def run(capsys, *argv):
    code = main(["llvm", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def src(tmp_path):
    def write(text, name="f.py"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


_LABEL = re.compile(r'^"?([\w.\-]+)"?:')
_PHI = re.compile(r'^\s*%"?[\w.\-]+"?\s*=\s*phi\s+(.*?)\s*\[')
_TARGET = re.compile(r'label %"?([\w.\-]+)"?')


def loop_headers(text, function="kernel"):
    """[(label, [phi type, ...])] of the loop headers of `function` (targets of a back edge:
    an edge P -> H where H dominates P), in text order."""
    start = re.search(rf'define .*@"?{function}"?\(', text).start()
    body = text[start:text.index("\n}", start)]
    order, phis, succs = [], {}, {}
    for line in body.splitlines()[1:]:
        m = _LABEL.match(line)
        if m or (not order and line.strip() and line.strip() != "{"):
            order.append(m.group(1) if m else "<entry>")      # the entry block may have no label
            phis[order[-1]], succs[order[-1]] = [], []
            if m:
                continue
        if not order:
            continue
        m = _PHI.match(line)
        if m:
            phis[order[-1]].append(m.group(1))
        else:
            succs[order[-1]] += _TARGET.findall(line)
    preds = {b: [p for p in order if b in succs[p]] for b in order}
    dom = {b: set(order) for b in order}
    dom[order[0]] = {order[0]}
    changed = True
    while changed:
        changed = False
        for b in order[1:]:
            new = set(order) if not preds[b] else set.intersection(*(dom[p] for p in preds[b]))
            new = new | {b}
            if new != dom[b]:
                dom[b], changed = new, True
    return [(h, phis[h]) for h in order if any(h in dom[p] for p in preds[h])]


def doubles(types):
    """How many doubles the phis carry (a <2 x double> phi carries two)."""
    n = 0
    for t in types:
        if t == "double":
            n += 1
        m = re.fullmatch(r"<(\d+) x double>", t)
        if m:
            n += int(m.group(1))
    return n


def test_forward_ir_before_optimisation_has_a_phi_per_carried_value(capsys, src):
    code, out, err = run(capsys, f"{src(ROTATE)}::rotate", *ROTATE_ARGS)
    assert code == 0 and err == ""
    assert re.search(r'define i32 @"?kernel"?\(', out)
    # one loop: its header carries the counter and x, y, z (the lowering emits exactly these phis)
    [(_label, types)] = loop_headers(out)
    assert sorted(types) == ["double", "double", "double", "i64"]


def test_opt_runs_llvms_pipeline(capsys, src):
    path = f"{src(ROTATE)}::rotate"
    _, before, _ = run(capsys, path, *ROTATE_ARGS)
    code, after, err = run(capsys, path, *ROTATE_ARGS, "--opt", "3")
    assert code == 0 and err == ""
    assert after != before and re.search(r"define .*@kernel\(", after)
    assert "alloca" in before and "alloca" not in after      # the status slot lives in registers
    code, explicit0, _ = run(capsys, path, *ROTATE_ARGS, "--opt", "0")
    assert code == 0 and explicit0 == before


def test_grad_prints_the_adjoints_kernel(capsys, src):
    code, out, err = run(capsys, f"{src(ROTATE)}::rotate", *ROTATE_ARGS, "--grad", "--wrt", "y")
    assert code == 0 and err == ""
    assert re.search(r'define i32 @"?kernel"?\(', out)
    # the forward sweep (counter, x, y, z) and the reverse sweep (counter, dx, dy, dz)
    headers = loop_headers(out)
    assert len(headers) == 2
    assert all(doubles(types) == 3 and "i64" in types for _label, types in headers)


def test_asm_prints_machine_code(capsys, src):
    path = f"{src(ROTATE)}::rotate"
    code, out, err = run(capsys, path, *ROTATE_ARGS, "--asm")
    assert code == 0 and err == ""
    assert "kernel:" in out and re.search(r"^\s+ret", out, re.M) and "define" not in out
    code, out0, _ = run(capsys, path, *ROTATE_ARGS, "--asm", "--opt", "0")
    assert code == 0 and "kernel:" in out0 and re.search(r"^\s+ret", out0, re.M)
    code, outg, _ = run(capsys, path, *ROTATE_ARGS, "--asm", "--grad")
    assert code == 0 and "kernel:" in outg


@pytest.mark.parametrize("argv,message", [
    (["takes", "--arg", "x=f64", "--arg", "v=f64[3]"], "not lowered: matmul on arrays has no native lowering"),
    (["makes", "--arg", "x=f64"], "not lowered: matmul on arrays has no native lowering"),
    (["takes", "--arg", "x=f64", "--arg", "v=f64[3]", "--grad"], "not lowered: "),
    (["takes", "--arg", "x=f64"], "missing --arg for parameter 'v'"),
    (["takes", "--arg", "x=f64", "--arg", "v=f64[3]", "--wrt", "x"], "--wrt is for --grad"),
    (["takes", "--arg", "x=f64", "--arg", "v=f64", "--grad", "--wrt", "q"], "--wrt 'q' is not a parameter"),
    (["with_try", "--arg", "x=f64"], "try/except is not supported (arrays.py:14:4)"),
    (["with_try", "--arg", "x=f64", "--grad"], "cannot compile the gradient: try/except is not supported"),
])
def test_errors_are_one_line_with_exit_2(capsys, src, argv, message):
    path = src(ARRAYS, "arrays.py")
    code, out, err = run(capsys, f"{path}::{argv[0]}", *argv[1:])
    assert code == 2 and out == ""
    assert err.startswith("adc llvm: error: ") and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize("name,line", [("takes", 5), ("makes", 9)])
def test_not_lowered_names_the_users_line(capsys, src, name, line):
    path = src(ARRAYS, "arrays.py")
    argv = ["--arg", "x=f64"] + (["--arg", "v=f64[3]"] if name == "takes" else [])
    code, _out, err = run(capsys, f"{path}::{name}", *argv)
    assert code == 2 and err.rstrip().endswith(f"(arrays.py:{line})")


def test_bad_opt_level_is_a_usage_error(capsys, src):
    with pytest.raises(SystemExit) as e:
        main(["llvm", f"{src(ROTATE)}::rotate", *ROTATE_ARGS, "--opt", "4"])
    assert e.value.code == 2 and "--opt" in capsys.readouterr().err


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["llvm", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for flag in ("FILE::FUNC", "--arg NAME=TYPE", "--grad", "--wrt NAME", "--opt LEVEL", "--asm"):
        assert flag in out


def test_listed_in_adc_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "llvm" in capsys.readouterr().out


# ---- arithmetic: needs the primitive table's scalar definitions (add, sub, mul, sin; neg, cos for the adjoint)

def require_lowering(capsys, *argv):
    code, _out, err = run(capsys, *argv)
    if code == 2 and "has no native lowering" in err:
        pytest.skip(f"the native tier does not lower this arithmetic yet: {err.strip()}")
    assert code == 0, err


@pytest.fixture(params=[EULER, EULER_SIN], ids=["arith", "sin"])
def euler(capsys, src, request):
    path = f"{src(request.param)}::euler"
    require_lowering(capsys, path, *EULER_ARGS)
    return path


def test_scalar_loop_forward(capsys, euler):
    code, out, _ = run(capsys, euler, *EULER_ARGS)
    [(_label, types)] = loop_headers(out)
    assert sorted(types) == ["double", "i64"]                 # the counter and x; a stays outside
    code, out, err = run(capsys, euler, *EULER_ARGS, "--opt", "3")
    assert code == 0 and err == ""
    headers = loop_headers(out)
    assert headers                                            # LLVM may unroll it into a main loop and a remainder
    assert all(doubles(types) == 1 for _label, types in headers)    # each carries x only
    assert "alloca" not in out


def test_scalar_loop_adjoint(capsys, euler):
    require_lowering(capsys, euler, *EULER_ARGS, "--grad", "--wrt", "a")     # the adjoint also needs neg (and cos)
    code, out, err = run(capsys, euler, *EULER_ARGS, "--grad", "--wrt", "a")
    assert code == 0 and err == ""
    # forward sweep (counter, x) then reverse sweep (counter, dx, da), the tape freed at the exit
    assert [doubles(types) for _label, types in loop_headers(out)] == [1, 2]
    assert re.search(r"call void @\"?free\"?\(", out)
    code, out, err = run(capsys, euler, *EULER_ARGS, "--grad", "--wrt", "a", "--opt", "3")
    assert code == 0 and err == ""
    carried = [doubles(types) for _label, types in loop_headers(out)]
    assert 1 in carried and 2 in carried and set(carried) <= {1, 2}
    code, out, _ = run(capsys, euler, *EULER_ARGS, "--grad", "--wrt", "a", "--asm")
    assert code == 0 and re.search(r"^\s+ret", out, re.M)


MLP = """\
import numpy as np


def loss(W, b, X):
    h = np.tanh(X @ W + b)
    return np.sum(h * h)
"""


def test_a_function_that_lowers_in_part_shows_its_kernels(capsys, src):
    path = src(MLP, "mlp.py")
    code, out, err = run(capsys, f"{path}::loss", "--arg", "W=f64[30,20]", "--arg", "b=f64[20]",
                         "--arg", "X=f64[64,30]", "--grad", "--wrt", "W")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("; loss_grad does not lower whole (matmul on arrays has no native lowering)")
    # tanh over 64 x 20 elements stays NumPy too (a libm call per element would be slower than NumPy's loop)
    assert "native kernels for the array code" in first and "kept as NumPy: matmul at line 5; tanh at line 5" in first
    assert "; ---- kernel loss_grad_k0 (mlp.py:5)" in out and 'define i32 @"kernel"' in out
