"""The fusion pass (compiler/passes/fuse.py) on IR compiled from small functions: which runs become
`fused` ops, that the fused IR verifies, prints, parses back and computes what the unfused IR
computes, and how the llvm backend's outline() compiles each `fused` op or inlines it back."""
import numpy as np
import pytest

from adcompiler.cli import main
from adcompiler.compiler import compile_function, cse, dce, fuse, parse_function, parse_type, print_function, verify
from adcompiler.compiler.gradient import adjoint_ir_for_types
from adcompiler.compiler.interpret import interpret
from adcompiler.compiler.ir import walk
from adcompiler.compiler.passes.fuse import MIN_ELEMENTS


def rosen(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def two_chains(W, x):
    h = np.sin(x * 2.0 + 1.0)
    z = h @ W
    return np.sum((z - 0.5) ** 2)


def view_into_matmul(W, x):
    h = x * 2.0 + 1.0
    z = h.T @ W
    return np.sum(z * z)


def chain(x):
    a = x * 2.0
    b = np.sin(a)
    return np.sum(b * b + a)


def looped(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(x * x) * 0.5 - s * 0.1
    return s


def types(**specs):
    return {k: parse_type(v) for k, v in specs.items()}


def forward(fn, **specs):
    return compile_function(fn, types(**specs))


def adjoint(fn, wrt, **specs):
    return adjoint_ir_for_types(fn, types(**specs), wrt)[1]


def fused_ops(fn):
    return [op for op in fn.body.ops if op.name == "fused"]


def top_level(fn):
    return [op.name for op in fn.body.ops]


def random_args(fn, seed=0):
    r = np.random.default_rng(seed)
    out = []
    for p in fn.params:
        t = p.type
        if t.is_array:
            out.append(r.standard_normal(t.shape).astype(t.dtype))
        elif t.dtype.kind == "i":
            out.append(3)
        else:
            out.append(float(r.standard_normal()))
    return out


def assert_same_values(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_values(x, y)
        return
    assert np.shape(a) == np.shape(b)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


CASES = {
    "rosen": lambda: forward(rosen, x="f64[1000]"),
    "rosen_grad": lambda: adjoint(rosen, ["x"], x="f64[1000]"),
    "two_chains_grad": lambda: adjoint(two_chains, ["W", "x"], W="f64[300,20]", x="f64[64,300]"),
    "view_into_matmul_grad": lambda: adjoint(view_into_matmul, ["W"], W="f64[300,20]", x="f64[300,64]"),
    "chain_f32": lambda: forward(chain, x="f32[512]"),
    "looped_grad": lambda: adjoint(looped, ["x"], x="f64[4]", n="i64"),
}


def test_a_rosenbrock_gradient_is_one_kernel_forward_and_adjoint():
    for ir, rest in ((CASES["rosen"](), ["return"]), (CASES["rosen_grad"](), ["tuple", "return"])):
        fused = fuse(ir)
        assert top_level(fused) == ["fused", *rest], print_function(fused)
        assert fused_ops(fused)[0].attrs["name"] == f"{ir.name}_k0"
        assert len(fused_ops(fused)[0].results) == (1 if rest == ["return"] else 2)     # value (and dx)


def test_a_matmul_between_two_elementwise_chains_gives_two_kernels_around_it():
    fused = fuse(forward(two_chains, W="f64[300,20]", x="f64[64,300]"))
    assert top_level(fused) == ["fused", "matmul", "fused", "return"]
    assert [op.attrs["name"] for op in fused_ops(fused)] == ["two_chains_k0", "two_chains_k1"]
    assert not any(o.name == "matmul" for op in fused_ops(fused) for o in walk(op.regions[0]))
    k0, k1 = fused_ops(fused)
    assert fused.body.ops[1].operands[0] is k0.result      # the matmul reads the first kernel's result
    assert k1.operands[0] is fused.body.ops[1].result


def test_a_view_the_matmul_reads_stays_outside_the_kernels():
    for ir in (forward(view_into_matmul, W="f64[300,20]", x="f64[300,64]"), CASES["view_into_matmul_grad"]()):
        fused = fuse(ir)
        outside = [op.name for op in fused.body.ops if op.name != "fused"]
        assert "transpose" in outside, print_function(fused)
        assert not any(o.name == "transpose" for op in fused_ops(fused) for o in walk(op.regions[0]))


def test_accept_leaves_an_op_out_and_splits_the_run():
    ir = forward(chain, x="f64[1000]")
    assert top_level(fuse(ir)) == ["fused", "return"]
    asked = []

    def no_sin(op):
        asked.append(op.name)
        return op.name != "sin"
    split = fuse(ir, accept=no_sin)
    assert top_level(split) == ["fused", "sin", "fused", "return"]
    assert "sin" in asked and "return" not in asked          # asked only about what the table allows
    verify(split)
    assert_same_values(interpret(split, *random_args(split)), interpret(ir, *random_args(ir)))


def test_small_arrays_without_a_loop_are_not_fused():
    for ir in (forward(rosen, x="f64[10]"), adjoint(rosen, ["x"], x="f64[10]"),
               forward(two_chains, W="f64[3,2]", x="f64[4,3]")):
        assert print_function(fuse(ir)) == print_function(ir)
    assert MIN_ELEMENTS == 256
    assert len(fused_ops(fuse(forward(rosen, x="f64[10]"), min_elements=0))) == 1


def test_a_loop_is_worth_a_kernel_at_any_size():
    fused = fuse(CASES["looped_grad"]())
    assert fused_ops(fused) and any(o.name == "for" for op in fused_ops(fused) for o in walk(op.regions[0]))


def test_unsupported_dtypes_stay_out():
    ir = forward(chain, x="f16[1000]")
    assert not fused_ops(fuse(ir))


@pytest.mark.parametrize("name", list(CASES))
def test_the_fused_ir_verifies_and_computes_what_the_unfused_ir_computes(name):
    ir = CASES[name]()
    before = print_function(ir)
    fused = fuse(ir)
    assert print_function(ir) == before                       # the input is not changed
    assert fused_ops(fused), print_function(fused)
    verify(fused)
    for op in fused_ops(fused):                               # each region reads only its arguments
        inner = {id(a) for a in op.regions[0].args} | {id(r) for o in walk(op.regions[0]) for r in o.results}
        inner |= {id(a) for o in walk(op.regions[0]) for r in o.regions for a in r.args}
        assert all(id(v) in inner for o in walk(op.regions[0]) for v in o.operands)
    for seed in range(3):
        args = random_args(ir, seed)
        assert_same_values(interpret(fused, *args, check_types=True), interpret(ir, *args))
    assert print_function(fuse(ir)) == print_function(fused)  # deterministic


@pytest.mark.parametrize("name", list(CASES))
def test_fused_ir_prints_parses_back_and_survives_cse_and_dce(name):
    fused = fuse(CASES[name]())
    text = print_function(fused)
    assert print_function(parse_function(text)) == text
    args = random_args(fused)
    want = interpret(fused, *args)
    for p in (cse, dce):
        out = p(fused)
        verify(out)
        assert_same_values(interpret(out, *args), want)


def test_dce_drops_an_unread_result_of_a_fused_op_and_the_arguments_only_it_needed():
    fused = parse_function("""
func @f(%x: f64[300], %y: f64[300]) -> f64[300] {
  %a, %b = fused @f_k0(%x.1 = %x, %y.1 = %y) : f64[300], f64[300] {
    %a.1 = sin %x.1 : f64[300]
    %b.1 = cos %y.1 : f64[300]
    yield %a.1, %b.1
  }
  return %a
}
""")
    verify(fused)
    out = dce(fused)
    verify(out)
    op = fused_ops(out)[0]
    assert len(op.results) == 1 and len(op.operands) == 1 and "cos" not in print_function(out)


def test_verify_refuses_a_fused_region_that_reads_from_outside():
    fused = fuse(forward(rosen, x="f64[1000]"))
    op = fused_ops(fused)[0]
    region = op.regions[0]
    first = region.ops[0]
    first.operands[0] = fused.params[0]                      # the outer %x instead of the argument
    with pytest.raises(ValueError, match="outside the region"):
        verify(fused)


def test_outline_compiles_each_fused_op_or_inlines_it_back():
    """outline() on the fused IR, with kernels compiled by the NumPy tier (no LLVM needed): the host
    calls them; a kernel refused puts its ops back into the host."""
    from adcompiler.backends import python as python_backend
    from adcompiler.backends.llvm.abi import NotLowerable
    from adcompiler.backends.llvm.outline import outline
    ir = CASES["two_chains_grad"]()
    args = random_args(ir)
    want = interpret(ir, *args)
    names = []

    class Kernel:                                             # what the host's native_call expects
        def __init__(self, kfn):
            self.name, self.run = kfn.name, python_backend.compile_function(kfn)

        def __call__(self, *args):
            return self.run(*args)

    def compile_kernel(kfn):
        names.append(kfn.name)
        verify(kfn)
        return Kernel(kfn)
    done = outline(ir, compile_kernel)
    assert len(done.kernels) == len(names) >= 2 and names[0] == f"{ir.name}_k0"
    assert not any(op.name == "fused" for op in walk(done.host.body))
    assert_same_values(python_backend.compile_function(done.host)(*args), want)

    def refuse_the_first(kfn):
        if kfn.name.endswith("_k0") and not refused:
            refused.append(kfn.name)
            raise NotLowerable("refused for the test")
        return Kernel(kfn)
    refused = []
    done = outline(ir, refuse_the_first)
    assert refused and any("refused for the test" in k for k in done.kept), done.kept
    assert not any(op.name == "fused" for op in walk(done.host.body))
    assert_same_values(python_backend.compile_function(done.host)(*args), want)


def test_adc_ir_and_adc_grad_print_the_fused_ir(capsys, tmp_path):
    src = tmp_path / "model.py"
    src.write_text("import numpy as np\n\n\ndef rosen(x):\n"
                   "    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)\n")
    assert main(["ir", f"{src}::rosen", "--arg", "x=f64[1000]", "--fuse"]) == 0
    out = capsys.readouterr().out
    assert "%0 = fused @rosen_k0(%x.1 = %x) : f64[] {" in out and "yield " in out
    assert main(["grad", f"{src}::rosen", "--arg", "x=f64[1000]", "--fuse"]) == 0
    out = capsys.readouterr().out
    assert "fused @rosen_grad_k0(%x.1 = %x) : f64[], f64[1000] {" in out
    assert main(["ir", f"{src}::rosen", "--arg", "x=f64[10]", "--fuse"]) == 0
    assert "fused" not in capsys.readouterr().out


def test_fusing_a_shape_generic_function_records_no_guard_on_its_extents(capsys, tmp_path):
    """Sizes decide only whether a run is worth a kernel, which changes no number: a symbolic extent
    counts with its current value, without pinning it."""
    src = tmp_path / "model.py"
    src.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(np.sin(x * 2.0 + 1.0) ** 2)\n")
    guards = []
    for extra in ([], ["--fuse"]):
        assert main(["ir", f"{src}::f", "--arg", "x=f64[:,4]", *extra]) == 0
        out = capsys.readouterr().out
        guards.append([line for line in out.splitlines() if line.startswith("# symbolic extents")])
    assert guards[0] and guards[0] == guards[1]
