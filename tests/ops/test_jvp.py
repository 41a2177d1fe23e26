"""JVP (tangent) rules of the primitive table.

For every differentiable primitive, on the sample inputs of samples.py (float64):
- a JVP rule exists for every differentiable argument (explicit or derived: linear,
  multilinear, self-adjoint from the VJP rule) -- a new primitive without one fails here;
- `ops.jvp` agrees with central finite differences (J v, random v);
- it is the transpose of the VJP rules: <u, J v> = <J^T u, v> to 1e-12;
- the rules run on Tensors and give the values they give on ndarrays;
and at the boundaries (std at zero spread, prod with zeros, norm at 0, pow at 0, kinks)
the tangent is what the VJP rules give, never nan where they give a number; a few
primitives are checked against torch.func.jvp.
"""
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler import ops
from adcompiler.tensor import Tensor

from .samples import SAMPLES, sample_cases

try:
    import torch
except ImportError:  # pragma: no cover - torch is in the dev venv
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
DIFFERENTIABLE = sorted(ops.differentiable_primitives())


def _cases():
    return sample_cases(DIFFERENTIABLE)


CASES = list(_cases())


def _slots(args):
    """The differentiated arguments: the float64 arrays (as in test_table)."""
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype == np.float64]


def _directions(args, seed):
    rng = np.random.default_rng(seed)
    return {i: rng.standard_normal(np.shape(args[i])) for i in _slots(args)}


def _tangents(args, vs):
    return [vs.get(i) for i in range(len(args))]


def _forward(prim, args, params, vs, h):
    moved = [a + h * vs[i] if i in vs else a for i, a in enumerate(args)]
    return np.asarray(prim.impl(*moved, **params), dtype=np.float64)


def _vjp(prim, args, params, out, u, i):
    rule = prim.vjp_rule(i)
    g = None if rule is None else rule(u, *args, out, **params)
    return np.zeros(np.shape(args[i])) if g is None else np.broadcast_to(np.asarray(g), np.shape(args[i]))


def test_every_differentiable_primitive_has_samples():
    missing = [n for n in DIFFERENTIABLE if n not in SAMPLES]
    assert not missing, f"add sample inputs to tests/ops/samples.py for: {missing}"


def test_non_differentiable_primitives_have_no_jvp_rule():
    for name, prim in ops.registry.items():
        if not prim.differentiable:
            assert prim.jvp_rule(0) is None, name
            assert ops.jvp(prim, [np.ones(2)], [np.ones(2)], {}, np.ones(2)) is None, name


def test_how_rules_are_derived():
    """Which primitives derive their rules how (the table's flags), and which have explicit ones."""
    explicit = {n for n in DIFFERENTIABLE if ops.get(n).jvps is not None or ops.get(n).jvp_argnum is not None}
    assert {"amax", "amin", "cholesky", "det", "eigh_v", "eigh_w", "inv", "linear", "log_softmax", "logabsdet",
            "logsumexp", "max", "min", "norm", "pinv", "prod", "solve", "std", "svd_s", "svd_u", "svd_vh",
            "var"} <= explicit
    for n in ("sum", "mean", "reshape", "transpose", "broadcast_to", "sum_to", "getitem", "scatter_add", "index_add",
              "setitem", "concatenate", "stack", "cumsum", "trace", "copy", "astype"):
        assert ops.get(n).linear is not None and n not in explicit, n
    for n in DIFFERENTIABLE:
        p = ops.get(n)
        if p.kind == "elementwise":
            assert p.self_adjoint, n
    assert ops.get("mul").is_multilinear_in(1) and ops.get("matmul").is_multilinear_in(0)
    assert ops.get("where").is_linear_in(1) and not ops.get("where").is_linear_in(0)
    assert ops.get("solve").jvp_rule(1) is not None and ops.get("solve").is_linear_in(1)


@pytest.mark.parametrize("name,args,params", CASES)
def test_every_differentiable_argument_has_a_jvp_rule(name, args, params):
    prim = ops.get(name)
    for i in _slots(args):
        assert prim.jvp_rule(i) is not None, f"{name}: no JVP rule for argument {i} (defjvp, or a flag)"


def _jvp_cases():
    """Each case with each differentiated argument alone, and all of them together."""
    for c in CASES:
        name, args, params = c.values
        slots = _slots(args)
        subsets = [(i,) for i in slots] + ([tuple(slots)] if len(slots) > 1 else [])
        for s in subsets:
            yield pytest.param(name, args, params, s, id=f"{c.id}-{''.join(map(str, s))}")


JVP_CASES = list(_jvp_cases())


@pytest.mark.parametrize("name,args,params,which", JVP_CASES)
def test_jvp_matches_finite_differences(name, args, params, which):
    prim = ops.get(name)
    vs = {i: v for i, v in _directions(args, 7).items() if i in which}
    out = np.asarray(prim.impl(*args, **params))
    t = ops.jvp(prim, _tangents(args, vs), args, params, out)
    assert t is not None
    t = np.asarray(t)
    assert (t.shape, t.dtype) == (out.shape, out.dtype)
    h = 1e-6
    fd = (_forward(prim, args, params, vs, h) - _forward(prim, args, params, vs, -h)) / (2 * h)
    np.testing.assert_allclose(t, fd, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd).max(initial=0.0)))


@pytest.mark.parametrize("name,args,params,which", JVP_CASES)
def test_jvp_is_the_transpose_of_the_vjp(name, args, params, which):
    prim = ops.get(name)
    vs = {i: v for i, v in _directions(args, 11).items() if i in which}
    out = np.asarray(prim.impl(*args, **params))
    u = np.random.default_rng(13).standard_normal(out.shape)
    jv = np.asarray(ops.jvp(prim, _tangents(args, vs), args, params, out))
    forward = float(np.sum(u * jv))
    terms = [_vjp(prim, args, params, out, u, i) * v for i, v in vs.items()]
    reverse = float(sum(np.sum(x) for x in terms))
    # 1e-12 relative, as the issue asks (the two sums are computed by different formulas)
    scale = max(abs(forward), abs(reverse))
    assert abs(forward - reverse) <= 1e-12 * scale, (forward, reverse)


@pytest.mark.parametrize("name,args,params", CASES)
def test_jvp_rules_agree_on_arrays_and_tensors(name, args, params):
    """The same rules, run on Tensors (eager forward mode), give the ndarray values."""
    prim = ops.get(name)
    vs = _directions(args, 17)
    out = np.asarray(prim.impl(*args, **params))
    want = np.asarray(ops.jvp(prim, _tangents(args, vs), args, params, out))
    targs = [ad.tensor(a, dtype=ad.float64) if i in vs else a for i, a in enumerate(args)]
    touts = prim(*targs, **params)
    tvs = {i: ad.tensor(v, dtype=ad.float64) for i, v in vs.items()}
    got = ops.jvp(prim, _tangents(targs, tvs), targs, params, touts)
    assert isinstance(got, Tensor), type(got)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


# ---- the combining function -----------------------------------------------------------

def test_jvp_without_tangents_is_none():
    x = np.ones(3)
    assert ops.jvp(ops.sin, [None], [x], {}, np.sin(x)) is None
    assert ops.jvp(ops.sin, [], [x], {}) is None


def test_jvp_of_an_integer_result_is_none():
    x = np.array([1.5, 2.5])
    assert ops.jvp(ops.astype, [np.ones(2)], [x], {"dtype": np.int64}) is None


def test_jvp_broadcasts_and_casts_to_the_result():
    x, y = np.ones((2, 3)), np.full(3, 2.0)
    t = ops.jvp(ops.add, [None, np.ones(3)], [x, y], {})     # tangent of y alone, broadcast
    assert t.shape == (2, 3) and np.all(t == 1.0)
    x32 = np.ones(3, np.float32)
    t = ops.jvp(ops.mul, [np.ones(3), None], [x32, 3.0], {})  # a float64 tangent of a float32 result
    assert t.dtype == np.float32 and np.all(t == 3.0)
    t = ops.jvp(ops.astype, [np.ones(3)], [np.ones(3)], {"dtype": np.float32})
    assert t.dtype == np.float32


def test_jvp_computes_out_when_not_given():
    x = np.array([0.5, 1.0])
    np.testing.assert_allclose(ops.jvp(ops.sqrt, [np.ones(2)], [x]), 0.5 / np.sqrt(x))


def test_a_tangent_on_an_argument_without_a_rule_counts_as_zero():
    c = np.array([True, False])
    x, y = np.ones(2), np.zeros(2)
    t = ops.jvp(ops.where, [np.ones(2), np.ones(2), None], [c, x, y], {})
    np.testing.assert_array_equal(t, [1.0, 0.0])


def test_jointly_linear_primitives_apply_once():
    """concatenate with every tangent given is one concatenate of the tangents."""
    seen = []
    xs = [np.ones(2), np.zeros(3)]
    ts = [np.full(2, 2.0), np.full(3, 3.0)]
    orig = ops.concatenate.impl
    ops.concatenate.impl = lambda *a, **k: seen.append(len(a)) or orig(*a, **k)
    try:
        t = ops.jvp(ops.concatenate, ts, xs, {"axis": 0}, np.zeros(5))
    finally:
        ops.concatenate.impl = orig
    np.testing.assert_array_equal(t, [2, 2, 3, 3, 3])
    assert seen == [2]


def test_explicit_rules_override_flags_and_derive_none_entries_of_linear_arguments():
    p = ops.Primitive("_jvp_test_prim", lambda x, y: x * y, kind="other", multilinear=(1,))
    try:
        p.defvjp(lambda g, x, y, out: g * y, lambda g, x, y, out: g * x)
        p.defjvp(lambda t, x, y, out: np.full(np.shape(out), 42.0), None)
        x, y = np.ones(2), np.full(2, 3.0)
        assert np.all(p.jvp_rule(0)(np.ones(2), x, y, x * y) == 42.0)
        assert np.all(p.jvp_rule(1)(np.ones(2), x, y, x * y) == 1.0)   # derived: p(x, t)
        p.defjvp(lambda t, x, y, out: t * y)
        assert p.jvp_rule(1) is not None         # flagged multilinear: still derived
        q = ops.Primitive("_jvp_test_prim2", lambda x, y: x * y, kind="other")
        q.defvjp(lambda g, x, y, out: g * y, lambda g, x, y, out: g * x)
        q.defjvp(lambda t, x, y, out: t * y, None)
        assert q.jvp_rule(1) is None             # an explicit None: not differentiable
    finally:
        ops.registry.pop("_jvp_test_prim", None)
        ops.registry.pop("_jvp_test_prim2", None)


# ---- boundaries: the tangent is what the VJP rules give -----------------------------------

def _jacobian_via_vjp(prim, args, params, i):
    out = np.asarray(prim.impl(*args, **params))
    rows = []
    for k in range(out.size):
        u = np.zeros(out.size)
        u[k] = 1.0
        rows.append(_vjp(prim, args, params, out, u.reshape(out.shape), i).ravel())
    return np.array(rows).reshape(out.shape + np.shape(args[i]))


def _check_against_vjp(prim, args, params, i, v):
    with np.errstate(all="ignore"):
        jac = _jacobian_via_vjp(prim, args, params, i)
        want = np.tensordot(jac, v, axes=np.ndim(v)) if np.ndim(v) else jac * v
        tangents = [None] * len(args)
        tangents[i] = v
        got = np.asarray(ops.jvp(prim, tangents, args, params))
    assert np.all(np.isfinite(want)), want
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    return got


BOUNDARIES = [
    ("std", (np.full(4, 1.5),), {"axis": None, "correction": 0}),
    ("std", (np.full(4, 1.5),), {"axis": None, "correction": 1}),
    ("std", (np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]),), {"axis": 1, "correction": 1}),
    ("std", (np.array([[2.0], [3.0]]),), {"axis": 1, "correction": 0, "keepdims": True}),
    ("var", (np.full(3, -2.0),), {"axis": 0, "correction": 1}),
    ("prod", (np.array([0.0, 2.0, 3.0]),), {}),
    ("prod", (np.array([0.0, 0.0, 3.0]),), {}),
    ("prod", (np.array([[0.0, 2.0], [0.0, 0.0], [1.5, 2.0]]),), {"axis": 1}),
    ("prod", (np.zeros(4),), {"axis": 0, "keepdims": True}),
    ("norm", (np.zeros(3),), {}),
    ("norm", (np.array([[0.0, 0.0], [3.0, 4.0]]),), {"axis": 1}),
    ("pow", (np.array([0.0, 0.0, 1.0]), 2.0), {}),
    ("pow", (np.array([0.0, 2.0]), 0.0), {}),
    ("pow", (np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])), {}),
    ("pow", (0.0, np.array([0.0, 1.0, 2.5])), {}),
    ("relu", (np.array([0.0, -0.0, 1.0, -1.0]),), {}),
    ("abs", (np.array([0.0, -0.0, 1.0, -1.0]),), {}),
    ("hypot", (np.array([0.0, 3.0]), np.array([0.0, 4.0])), {}),
    ("maximum", (np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])), {}),
    ("amax", (np.array([1.0, 3.0, 3.0, 2.0]),), {}),
    ("max", (np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]),), {"axis": 1}),
    ("clip", (np.array([-1.0, 0.0, 1.0, 2.0]),), {"lo": -1.0, "hi": 1.0}),
    ("copysign", (np.array([0.0, 1.0]), np.array([-1.0, 1.0])), {}),
    ("sqrt", (np.array([1e-300, 4.0]),), {}),
    ("logsumexp", (np.array([-np.inf, 0.0, 1.0]),), {}),
    ("softmax", (np.array([-np.inf, 0.0, 1.0]),), {"axis": 0}),
]


@pytest.mark.parametrize("name,args,params", BOUNDARIES, ids=[f"{b[0]}-{k}" for k, b in enumerate(BOUNDARIES)])
def test_boundary_tangents_are_the_vjp_ones(name, args, params):
    prim = ops.get(name)
    rng = np.random.default_rng(3)
    for i in _slots(args):
        for v in (rng.standard_normal(np.shape(args[i])), np.ones(np.shape(args[i]))):
            _check_against_vjp(prim, args, params, i, v)


def test_std_at_zero_spread_is_zero_not_nan():
    t = ops.jvp(ops.std, [np.array([1.0, -2.0, 0.5])], [np.full(3, 7.0)], {"axis": None, "correction": 1})
    assert t == 0.0


# ---- torch.func.jvp ---------------------------------------------------------------------------

def _torch_jvp(fn, xs, vs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, t = torch.func.jvp(fn, tuple(torch.tensor(x) for x in xs), tuple(torch.tensor(v) for v in vs))
    return t.numpy()


def _ours(name, xs, vs, **params):
    return np.asarray(ops.jvp(ops.get(name), list(vs), list(xs), params))


def _sym(a):
    return a + a.T


TORCH_CASES = [
    ("sin", lambda x: torch.sin(x), {}, [(3,)]),
    ("pow", lambda x, y: torch.pow(x, y), {}, [(2, 3), (3,)]),
    ("softmax", lambda x: torch.softmax(x, dim=-1), {"axis": -1}, [(2, 4)]),
    ("log_softmax", lambda x: torch.log_softmax(x, dim=0), {"axis": 0}, [(3, 2)]),
    ("logsumexp", lambda x: torch.logsumexp(x, dim=1), {"axis": 1}, [(3, 4)]),
    ("std", lambda x: torch.std(x, dim=0, correction=1), {"axis": 0, "correction": 1}, [(4, 3)]),
    ("var", lambda x: torch.var(x, correction=0), {"correction": 0}, [(5,)]),
    ("norm", lambda x: torch.linalg.vector_norm(x, dim=1, keepdim=True), {"axis": 1, "keepdims": True}, [(3, 4)]),
    ("prod", lambda x: torch.prod(x, dim=1), {"axis": 1}, [(3, 4)]),
    ("cumsum", lambda x: torch.cumsum(x, dim=1), {"axis": 1}, [(2, 4)]),
    ("matmul", lambda a, b: a @ b, {}, [(2, 3, 4), (4, 2)]),
    ("inv", lambda a: torch.linalg.inv(a), {}, "square"),
    ("det", lambda a: torch.linalg.det(a), {}, "square"),
    ("pinv", lambda a: torch.linalg.pinv(a), {}, [(4, 3)]),
    ("svd_s", lambda a: torch.linalg.svdvals(a), {}, [(4, 3)]),
    ("solve", lambda a, b: torch.linalg.solve(a, b), {}, "solve"),
    ("cholesky", lambda a: torch.linalg.cholesky(a), {}, "spd"),
    ("eigh_w", lambda a: torch.linalg.eigvalsh(a), {}, "sym"),
]


@needs_torch
@pytest.mark.parametrize("name,fn,params,shapes", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_against_torch_func_jvp(name, fn, params, shapes):
    rng = np.random.default_rng(5)
    if shapes == "square":
        xs, vs = [rng.standard_normal((3, 3)) + 3 * np.eye(3)], [rng.standard_normal((3, 3))]
    elif shapes == "solve":
        xs = [rng.standard_normal((3, 3)) + 3 * np.eye(3), rng.standard_normal((3, 2))]
        vs = [rng.standard_normal((3, 3)), rng.standard_normal((3, 2))]
    elif shapes in ("spd", "sym"):
        a = rng.standard_normal((3, 3))
        # torch differentiates along symmetric directions (it reads the whole matrix); so do we
        xs, vs = [a @ a.T + 3 * np.eye(3)], [_sym(rng.standard_normal((3, 3)))]
    else:
        xs = [rng.uniform(0.5, 2.0, s) for s in shapes]
        vs = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(_ours(name, xs, vs, **params), _torch_jvp(fn, xs, vs), rtol=1e-10, atol=1e-12)


@needs_torch
def test_prod_with_zeros_against_torch():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, 3.0]])
    v = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_allclose(_ours("prod", [x], [v], axis=1), _torch_jvp(lambda a: torch.prod(a, 1), [x], [v]),
                               rtol=1e-12, atol=1e-12)


@needs_torch
def test_amax_ties_split_evenly_as_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    v = np.random.default_rng(4).standard_normal(x.shape)
    np.testing.assert_allclose(_ours("amax", [x], [v], axis=1),
                               _torch_jvp(lambda a: torch.amax(a, 1), [x], [v]), rtol=1e-12)


@pytest.mark.parametrize("name,args,params", CASES)
def test_jvp_rules_run_on_ir_values(name, args, params):
    """The same rules on IR values (what compiler/forward.py does) build a verified function
    whose interpretation gives the ndarray values."""
    from adcompiler.compiler import Builder, Function, Value, parse_type, verify
    from adcompiler.compiler.interpret import interpret

    prim = ops.get(name)
    vs = _directions(args, 19)
    want = np.asarray(ops.jvp(prim, _tangents(args, vs), args, params, np.asarray(prim.impl(*args, **params))))

    def typed(a, hint):
        return Value(parse_type(f"f64[{','.join(map(str, np.shape(a)))}]"), hint)

    xs = {i: typed(args[i], f"x{i}") for i in vs}
    ts = {i: typed(args[i], f"t{i}") for i in vs}
    with Builder() as b:
        iargs = [xs.get(i, a) for i, a in enumerate(args)]
        out = prim(*iargs, **params)
        t = ops.jvp(prim, _tangents(iargs, ts), iargs, params, out)
        b.return_(t)
    fn = verify(Function(f"{name}_jvp", [*xs.values(), *ts.values()], b.block))
    got = interpret(fn, *[args[i] for i in xs], *[vs[i] for i in ts])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


TORCH_BOUNDARIES = [
    ("std", lambda x: x.std(), {"axis": None, "correction": 1}, np.ones(3)),
    ("std", lambda x: x.std(dim=1, correction=0), {"axis": 1, "correction": 0}, np.array([[2.0, 2.0], [1.0, 3.0]])),
    ("norm", lambda x: torch.linalg.vector_norm(x), {}, np.zeros(3)),
    ("prod", lambda x: x.prod(), {}, np.array([0.0, 0.0, 2.0])),
    ("relu", torch.relu if torch else None, {}, np.array([0.0, -1.0, 1.0])),
    ("abs", torch.abs if torch else None, {}, np.array([0.0, -1.0, 1.0])),
    ("sqrt", torch.sqrt if torch else None, {}, np.array([0.0, 0.0, 4.0])),
]


@needs_torch
@pytest.mark.parametrize("name,fn,params,x", TORCH_BOUNDARIES, ids=[f"{c[0]}-{k}" for k, c in enumerate(TORCH_BOUNDARIES)])
def test_boundaries_against_torch_func_jvp(name, fn, params, x):
    v = np.linspace(-1.0, 1.0, x.size).reshape(x.shape)     # (a 0 in the sqrt case: 0 / 0 = nan, as torch)
    with np.errstate(all="ignore"):
        ours = _ours(name, [x], [v], **params)
    np.testing.assert_allclose(ours, _torch_jvp(fn, [x], [v]), rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("y", [0.0, 2.0, 0.5])
def test_pow_at_zero_against_torch_func_jvp(y):
    x, v = np.array([0.0, 0.0, 1.5]), np.array([1.0, -2.0, 0.5])
    with np.errstate(all="ignore"):
        ours = _ours("pow", [x, y], [v, None])
    np.testing.assert_allclose(ours, _torch_jvp(lambda a: a ** y, [x], [v]), rtol=1e-12, atol=1e-12)
    ys = np.array([0.0, 1.0, 2.0])            # the exponent's tangent at x == 0
    dy = np.array([1.0, 1.0, 1.0])
    np.testing.assert_allclose(_ours("pow", [x, ys], [None, dy]),
                               _torch_jvp(lambda b: torch.tensor(x) ** b, [ys], [dy]), rtol=1e-12, atol=1e-12)
