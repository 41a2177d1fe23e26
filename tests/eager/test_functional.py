"""adcompiler.autograd.functional against torch.autograd.functional: the same values (1e-10 in float64),
the same structure of results (tuples vs Tensors), the same requires_grad, the same errors; Jacobians
and Hessians also against central finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.autograd import functional as F

from ._compare import attempt

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

RNG = np.random.default_rng(12)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal(4)
C = RNG.standard_normal((2, 3))
S = np.array(0.7)


def t(m, a, requires_grad=False):
    return m.tensor(np.array(a, dtype=np.float64), dtype=m.float64, requires_grad=requires_grad)


def fn_module(m):
    return ad if m is F else torch


# Test functions: (name, f(m) -> callable, inputs as arrays (a tuple means a tuple of Tensors), scalar output?)
FUNCS = [
    ("elementwise", lambda m: lambda x: x.sin() * x.exp() + x * x, A, False),
    ("matmul_two_inputs", lambda m: lambda w, x: (w @ x).tanh(), (A, B), False),
    ("reduction_scalar", lambda m: lambda x: (x ** 3).sum() * x.mean() + x.exp().sum(dim=1).log().sum(), A, True),
    ("two_inputs_scalar", lambda m: lambda w, x: ((w @ x).sin() ** 2).sum() + (x * x * x).sum(), (A, B), True),
    ("multi_output", lambda m: lambda w, x: (w * w.cos(), (w @ x).sum(), x.exp()), (A, B), False),
    ("one_tuple_input", lambda m: lambda x: (x.exp() * x).sum(dim=0), (C,), False),
    ("scalar_input", lambda m: lambda s: (s.sin() * s * s), S, True),
    ("softmax_like", lambda m: lambda x: (x.exp() / x.exp().sum()).log().max(), B, True),
]
ALL = [pytest.param(f, x, sc, id=name) for name, f, x, sc in FUNCS]
SCALAR = [pytest.param(f, x, sc, id=name) for name, f, x, sc in FUNCS if sc]


def inputs_for(m, x, requires_grad=False):
    if isinstance(x, tuple):
        return tuple(t(m, a, requires_grad) for a in x)
    return t(m, x, requires_grad)


def like(m, x, seed):
    """A vector shaped like the arrays `x` (same tuple structure)."""
    rng = np.random.default_rng(seed)
    if isinstance(x, tuple):
        return tuple(t(m, rng.standard_normal(np.shape(a))) for a in x)
    return t(m, rng.standard_normal(np.shape(x)))


def output_arrays(f, x):
    """The function's outputs on torch, as arrays with the same tuple structure."""
    out = f(torch)(*(inputs_for(torch, x) if isinstance(x, tuple) else (inputs_for(torch, x),)))
    if isinstance(out, tuple):
        return tuple(o.detach().numpy() for o in out)
    return out.detach().numpy()


def assert_same(ours, theirs, path="result", requires_grad=True):
    """Same nesting (tuple vs Tensor), same shapes, dtypes, requires_grad, and values to 1e-10."""
    if isinstance(theirs, (tuple, list)):  # torch's forward-mode jacobian gives lists
        assert type(ours) is type(theirs) and len(ours) == len(theirs), f"{path}: {type(ours)} vs {type(theirs)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{path}[{k}]", requires_grad)
        return
    assert isinstance(theirs, torch.Tensor), f"{path}: torch gave {type(theirs)}"
    assert isinstance(ours, ad.Tensor), f"{path}: {type(ours)} instead of a Tensor"
    assert tuple(ours.shape) == tuple(theirs.shape), f"{path}: shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], path
    if requires_grad:
        assert ours.requires_grad == theirs.requires_grad, f"{path}: requires_grad {ours.requires_grad}"
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-10, err_msg=path)


def both(call, requires_grad=True):
    """call(functional_module, tensor_module) on adcompiler and on torch, compared."""
    ours, theirs = call(F, ad), call(TF, torch)
    assert_same(ours, theirs, requires_grad=requires_grad)
    return ours


def args(m, x, requires_grad=False):
    return inputs_for(m, x, requires_grad)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("f,x,scalar", ALL)
def test_vjp_jvp_match_torch(f, x, scalar, create_graph):
    out = output_arrays(f, x)
    both(lambda FF, m: FF.vjp(f(m), args(m, x), like(m, out, 1), create_graph=create_graph))
    both(lambda FF, m: FF.jvp(f(m), args(m, x), like(m, x, 2), create_graph=create_graph))
    # inputs that require grad: with create_graph the results stay connected to them
    both(lambda FF, m: FF.vjp(f(m), args(m, x, True), like(m, out, 3), create_graph=create_graph))
    both(lambda FF, m: FF.jvp(f(m), args(m, x, True), like(m, x, 4), create_graph=create_graph))
    if scalar:
        both(lambda FF, m: FF.vjp(f(m), args(m, x), create_graph=create_graph))  # v omitted: a single 1


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("f,x,scalar", ALL)
def test_jacobian_matches_torch(f, x, scalar, vectorize, create_graph):
    both(lambda FF, m: FF.jacobian(f(m), args(m, x), create_graph=create_graph, vectorize=vectorize))
    both(lambda FF, m: FF.jacobian(f(m), args(m, x, True), create_graph=create_graph, vectorize=vectorize))


@pytest.mark.parametrize("f,x,scalar", ALL)
def test_jacobian_forward_mode_matches_torch(f, x, scalar):
    both(lambda FF, m: FF.jacobian(f(m), args(m, x), vectorize=True, strategy="forward-mode"))
    both(lambda FF, m: FF.jacobian(f(m), args(m, x, True), vectorize=True, strategy="forward-mode"))


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("f,x,scalar", SCALAR)
def test_hessian_hvp_vhp_match_torch(f, x, scalar, create_graph):
    both(lambda FF, m: FF.hessian(f(m), args(m, x), create_graph=create_graph))
    both(lambda FF, m: FF.hessian(f(m), args(m, x, True), create_graph=create_graph, vectorize=True))
    both(lambda FF, m: FF.hvp(f(m), args(m, x), like(m, x, 5), create_graph=create_graph))
    both(lambda FF, m: FF.vhp(f(m), args(m, x), like(m, x, 6), create_graph=create_graph))
    both(lambda FF, m: FF.hvp(f(m), args(m, x, True), like(m, x, 7), create_graph=create_graph))
    both(lambda FF, m: FF.vhp(f(m), args(m, x, True), like(m, x, 8), create_graph=create_graph))


@pytest.mark.parametrize("f,x,scalar", SCALAR)
def test_hessian_forward_over_reverse_matches_torch(f, x, scalar):
    # torch's result requires grad here, through a leaf of its own making (not the inputs); ours does not
    both(lambda FF, m: FF.hessian(f(m), args(m, x), vectorize=True, outer_jacobian_strategy="forward-mode"),
         requires_grad=False)


def test_scalar_input_without_v():
    f = FUNCS[6][1]
    both(lambda FF, m: FF.jvp(f(m), t(m, S)))
    both(lambda FF, m: FF.hvp(f(m), t(m, S)))
    both(lambda FF, m: FF.vhp(f(m), t(m, S)))
    both(lambda FF, m: FF.hessian(f(m), t(m, S)))


def test_independent_input_and_constant_output_give_zeros():
    # y does not reach the output; the second output does not depend on any input
    def g(m):
        return lambda x, y: (x.sin(), m.ones(2, dtype=m.float64))
    both(lambda FF, m: FF.vjp(g(m), (t(m, B), t(m, C)), (t(m, B), t(m, [1.0, 2.0]))))
    both(lambda FF, m: FF.jvp(g(m), (t(m, B), t(m, C)), (t(m, B), t(m, C))))
    both(lambda FF, m: FF.jacobian(g(m), (t(m, B), t(m, C))))
    both(lambda FF, m: FF.jacobian(g(m), (t(m, B), t(m, C)), vectorize=True))
    both(lambda FF, m: FF.hessian(lambda x, y: (x ** 3).sum(), (t(m, B), t(m, C))))
    both(lambda FF, m: FF.hessian(lambda x: (2 * x).sum(), t(m, B)))  # linear: a zero Hessian
    both(lambda FF, m: FF.jvp(lambda x: x, t(m, B), t(m, B)))  # identity


def test_results_are_differentiable_with_create_graph():
    """create_graph=True: a second derivative taken through the result equals torch's."""
    def run(FF, m):
        w, x = t(m, A, True), t(m, B, True)
        f = FUNCS[3][1](m)
        v = t(m, B, True)
        _, hv = FF.hvp(f, (w, x), (t(m, A), v), create_graph=True)
        H = FF.hessian(f, (w, x), create_graph=True)
        J = FF.jacobian(FUNCS[1][1](m), (w, x), create_graph=True)
        _, vj = FF.vjp(FUNCS[1][1](m), (w, x), t(m, C[0], True), create_graph=True)
        _, jv = FF.jvp(FUNCS[1][1](m), (w, x), (t(m, A), v), create_graph=True)
        total = ((hv[1] ** 2).sum() + (H[0][1] * H[0][1].cos()).sum() + H[1][1].sum() + (J[0] ** 2).sum()
                 + (vj[0] * vj[1].sum()).sum() + (jv * jv).sum())
        return m.autograd.grad(total, (w, x, v))
    both(run)


def test_forward_mode_results_are_differentiable_like_torchs():
    """torch's forward-mode jacobian (and forward-over-reverse hessian) of inputs requiring grad can be
    differentiated again; so can ours, with the same numbers."""
    def run(FF, m):
        x = t(m, B, True)
        H = FF.hessian(lambda x: (x.sin() * x * x).sum(), x, vectorize=True, outer_jacobian_strategy="forward-mode")
        J = FF.jacobian(lambda x: x.sin() * x * x, x, vectorize=True, strategy="forward-mode")
        return m.autograd.grad((H * H).sum() + (J * J.cos()).sum(), x)
    both(run)


def test_user_tensors_untouched():
    w, x = t(ad, A, True), t(ad, B, True)
    F.hessian(FUNCS[3][1](ad), (w, x))
    F.jacobian(FUNCS[1][1](ad), (w, x), create_graph=True)
    F.vjp(FUNCS[1][1](ad), (w, x), t(ad, C[0]))
    assert w.grad is None and x.grad is None and w.is_leaf


def test_no_grad_context_does_not_stop_the_transforms():
    def run(FF, m):
        with m.no_grad():
            return (FF.jacobian(FUNCS[0][1](m), t(m, A)), FF.hessian(FUNCS[2][1](m), t(m, A)),
                    FF.jvp(FUNCS[0][1](m), t(m, A), t(m, A))[1], FF.vhp(FUNCS[2][1](m), t(m, A), t(m, A))[1])
    both(run)


# ---- finite differences (float64, central, no torch involved)

def _fd_jacobian(f, x, eps=1e-6):
    """d f(x).flat / d x.flat by central differences, f on arrays."""
    x = np.array(x, dtype=np.float64)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = eps
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))).reshape(-1) / (2 * eps))
    return np.stack(cols, axis=-1)


def test_jacobian_against_finite_differences():
    f = FUNCS[0][1](ad)
    J = F.jacobian(f, t(ad, A)).numpy().reshape(A.size, A.size)
    fd = _fd_jacobian(lambda a: f(t(ad, a)).numpy(), A)
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-8)
    g = FUNCS[1][1](ad)
    Jw, Jx = F.jacobian(g, (t(ad, A), t(ad, B)), vectorize=True)
    np.testing.assert_allclose(Jw.numpy().reshape(3, -1), _fd_jacobian(lambda a: g(t(ad, a), t(ad, B)).numpy(), A),
                               rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(Jx.numpy(), _fd_jacobian(lambda b: g(t(ad, A), t(ad, b)).numpy(), B),
                               rtol=1e-7, atol=1e-8)
    Jf = F.jacobian(g, (t(ad, A), t(ad, B)), vectorize=True, strategy="forward-mode")
    np.testing.assert_allclose(Jf[1].numpy(), Jx.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f,x,scalar", SCALAR)
def test_hessian_against_finite_differences_of_the_gradient(f, x, scalar):
    """H = d(grad)/dx by finite differences of the engine's gradient; H is symmetric."""
    xs = x if isinstance(x, tuple) else (x,)
    sizes = [np.size(a) for a in xs]
    flat = np.concatenate([np.reshape(a, -1) for a in xs])

    def gradient(z):
        parts, k = [], 0
        for a, n in zip(xs, sizes):
            parts.append(t(ad, z[k:k + n].reshape(np.shape(a)), True))
            k += n
        return np.concatenate([g.numpy().reshape(-1) for g in ad.autograd.grad(f(ad)(*parts), parts)])

    fd = _fd_jacobian(gradient, flat)
    H = F.hessian(f(ad), inputs_for(ad, x))
    H = H if isinstance(H, tuple) else ((H,),)
    full = np.block([[H[i][j].numpy().reshape(sizes[i], sizes[j]) for j in range(len(xs))] for i in range(len(xs))])
    np.testing.assert_allclose(full, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(full, full.T, rtol=1e-12, atol=1e-12)


# ---- errors: the same type and message as torch (torch.Size is adcompiler.Size here)

def same_error(call):
    ours, theirs = attempt(lambda: call(F, ad)), attempt(lambda: call(TF, torch))
    assert isinstance(theirs, str), f"torch raised nothing: {theirs}"
    assert ours == theirs.replace("torch.", "adcompiler."), f"\nours:  {ours}\ntorch: {theirs}"


def _elementwise(m):
    return lambda x: x.sin()


ERRORS = {
    # v shape and structure
    "vjp_v_shape": lambda FF, m: FF.vjp(_elementwise(m), t(m, B), t(m, A)),
    "vjp_v_tuple_shape": lambda FF, m: FF.vjp(lambda x, y: (x * 2, y), (t(m, B), t(m, S)), (t(m, B), t(m, B))),
    "vjp_v_tuple_length": lambda FF, m: FF.vjp(lambda x, y: (x * 2, y), (t(m, B), t(m, S)), (t(m, B),)),
    "vjp_v_single_for_tuple": lambda FF, m: FF.vjp(_elementwise(m), t(m, B), (t(m, B), t(m, B))),
    "vjp_v_none": lambda FF, m: FF.vjp(_elementwise(m), t(m, B)),
    "jvp_v_shape": lambda FF, m: FF.jvp(_elementwise(m), t(m, B), t(m, A)),
    "jvp_v_tuple_shape": lambda FF, m: FF.jvp(lambda x, y: x * y, (t(m, B), t(m, B)), (t(m, B), t(m, A))),
    "jvp_v_none": lambda FF, m: FF.jvp(_elementwise(m), t(m, B)),
    "hvp_v_shape": lambda FF, m: FF.hvp(lambda x: (x ** 3).sum(), t(m, B), t(m, A)),
    "hvp_v_none": lambda FF, m: FF.hvp(lambda x: (x ** 3).sum(), t(m, B)),
    "vhp_v_shape": lambda FF, m: FF.vhp(lambda x: (x ** 3).sum(), t(m, B), t(m, A)),
    "vhp_v_not_tensor": lambda FF, m: FF.vhp(lambda x: (x ** 3).sum(), t(m, B), [1.0, 2.0, 3.0, 4.0]),
    # inputs and outputs that are not Tensors
    "inputs_list": lambda FF, m: FF.jacobian(_elementwise(m), [t(m, B)]),
    "inputs_tuple_with_float": lambda FF, m: FF.vjp(lambda x, y: x * y, (t(m, B), 2.0), t(m, B)),
    "output_list": lambda FF, m: FF.jacobian(lambda x: [x, x], t(m, B)),
    "output_float": lambda FF, m: FF.jvp(lambda x: 1.0, t(m, B), t(m, B)),
    "hessian_output_float": lambda FF, m: FF.hessian(lambda x: 1.0, t(m, B)),
    "vjp_scalar_output_vector_v": lambda FF, m: FF.vjp(lambda x: x.sum(), t(m, B), t(m, B)),
    # scalar-output functions
    "hessian_vector_output": lambda FF, m: FF.hessian(_elementwise(m), t(m, B)),
    "hessian_tuple_output": lambda FF, m: FF.hessian(lambda x: (x.sum(), x.sum()), t(m, B)),
    "hvp_vector_output": lambda FF, m: FF.hvp(_elementwise(m), t(m, B), t(m, B)),
    "vhp_tuple_output": lambda FF, m: FF.vhp(lambda x: (x.sum(),), t(m, B), t(m, B)),
    # options
    "strategy": lambda FF, m: FF.jacobian(_elementwise(m), t(m, B), strategy="central"),
    "hessian_strategy": lambda FF, m: FF.hessian(lambda x: x.sum(), t(m, B), outer_jacobian_strategy="fwd"),
    "forward_create_graph": lambda FF, m: FF.jacobian(_elementwise(m), t(m, B), create_graph=True,
                                                      strategy="forward-mode"),
    "forward_strict": lambda FF, m: FF.jacobian(_elementwise(m), t(m, B), strict=True, vectorize=True,
                                                strategy="forward-mode"),
    "forward_not_vectorized": lambda FF, m: FF.jacobian(_elementwise(m), t(m, B), strategy="forward-mode"),
    "vectorize_strict": lambda FF, m: FF.jacobian(_elementwise(m), t(m, B), strict=True, vectorize=True),
    # strict=True
    "strict_vjp_independent_input": lambda FF, m: FF.vjp(lambda x, y: x.sin(), (t(m, B), t(m, B)), t(m, B),
                                                         strict=True),
    "strict_vjp_constant_output": lambda FF, m: FF.vjp(lambda x: m.ones(4, dtype=m.float64), t(m, B), t(m, B),
                                                       strict=True),
    "strict_jvp_independent_input": lambda FF, m: FF.jvp(lambda x, y: x.sin(), (t(m, B), t(m, B)),
                                                         (t(m, B), t(m, B)), strict=True),
    "strict_jvp_linear_create_graph": lambda FF, m: FF.jvp(lambda x: 3 * x, t(m, B), t(m, B), strict=True,
                                                           create_graph=True),
    "strict_vjp_linear_create_graph": lambda FF, m: FF.vjp(lambda x: 3 * x, t(m, B), t(m, B), strict=True,
                                                           create_graph=True),
    "strict_jacobian_independent_input": lambda FF, m: FF.jacobian(lambda x, y: x.sin(), (t(m, B), t(m, B)),
                                                                   strict=True),
    "strict_jacobian_constant_output": lambda FF, m: FF.jacobian(lambda x: (x.sin(), m.ones(2)), t(m, B),
                                                                 strict=True),
    "strict_jacobian_linear_create_graph": lambda FF, m: FF.jacobian(lambda x, y: (x.sin(), 2 * y),
                                                                     (t(m, B), t(m, B)), strict=True,
                                                                     create_graph=True),
    "strict_hessian_linear": lambda FF, m: FF.hessian(lambda x: (2 * x).sum(), t(m, B), strict=True),
    "strict_hessian_independent": lambda FF, m: FF.hessian(lambda x, y: (x ** 3).sum(), (t(m, B), t(m, B)),
                                                           strict=True),
    "strict_hessian_quadratic_create_graph": lambda FF, m: FF.hessian(lambda x: (x * x).sum(), t(m, B),
                                                                      strict=True, create_graph=True),
    "strict_hvp_linear": lambda FF, m: FF.hvp(lambda x: (2 * x).sum(), t(m, B), t(m, B), strict=True),
    "strict_hvp_independent": lambda FF, m: FF.hvp(lambda x, y: (x ** 3).sum(), (t(m, B), t(m, B)),
                                                   (t(m, B), t(m, B)), strict=True),
    "strict_vhp_linear": lambda FF, m: FF.vhp(lambda x: (2 * x).sum(), t(m, B), t(m, B), strict=True),
    "strict_vhp_independent": lambda FF, m: FF.vhp(lambda x, y: (x ** 3).sum(), (t(m, B), t(m, B)),
                                                   (t(m, B), t(m, B)), strict=True),
    "strict_vhp_quadratic_create_graph": lambda FF, m: FF.vhp(lambda x: (x * x).sum(), t(m, B), t(m, B),
                                                              strict=True, create_graph=True),
    "strict_constant_scalar": lambda FF, m: FF.hvp(lambda x: m.ones((), dtype=m.float64), t(m, B), t(m, B),
                                                   strict=True),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    same_error(ERRORS[name])


def test_strict_accepts_what_torch_accepts():
    f = FUNCS[3][1]
    both(lambda FF, m: FF.hessian(f(m), (t(m, A), t(m, B)), strict=True))
    both(lambda FF, m: FF.hvp(f(m), (t(m, A), t(m, B)), like(m, (A, B), 9), strict=True))
    both(lambda FF, m: FF.jacobian(FUNCS[1][1](m), (t(m, A), t(m, B)), strict=True, create_graph=True))
    both(lambda FF, m: FF.jvp(FUNCS[1][1](m), (t(m, A), t(m, B)), like(m, (A, B), 10), strict=True))


def test_exported_like_torch():
    import adcompiler.autograd as autograd
    assert autograd.functional is F
    assert F.__all__ == TF.__all__
