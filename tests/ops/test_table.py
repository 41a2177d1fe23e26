"""Sweep over the primitive table: every differentiable primitive is
gradchecked (float64, several shapes incl. broadcasting), gradgradchecked
when smooth, and its shape rule is checked against the real forward."""
import numpy as np
import pytest

import adcompiler as ad
from adcompiler import ops
from adcompiler.autograd import gradcheck, gradgradcheck
from adcompiler.tensor import apply_prim

from .samples import NOT_SMOOTH, SAMPLES, sample_cases

DIFFERENTIABLE = sorted(ops.differentiable_primitives())


def _cases():
    return sample_cases(DIFFERENTIABLE)


def _is_diff_arg(a):
    return isinstance(a, np.ndarray) and a.dtype == np.float64


def _as_function(name, args, params):
    """f(*tensors) applying the primitive, with the float64 arrays as the differentiable inputs."""
    prim = ops.get(name)
    slots = [i for i, a in enumerate(args) if _is_diff_arg(a)]

    def f(*tensors):
        full = list(args)
        for i, t in zip(slots, tensors):
            full[i] = t
        return apply_prim(prim, tuple(full), params)

    inputs = tuple(ad.tensor(args[i], dtype=ad.float64, requires_grad=True) for i in slots)
    return f, inputs


def test_every_differentiable_primitive_has_samples():
    missing = [n for n in DIFFERENTIABLE if n not in SAMPLES]
    assert not missing, f"add sample inputs to tests/ops/samples.py for: {missing}"


def test_every_differentiable_primitive_has_a_vjp_rule_per_argument():
    for name in DIFFERENTIABLE:
        prim = ops.get(name)
        assert prim.vjps is not None or prim.vjp_argnum is not None, name


@pytest.mark.parametrize("name,args,params", list(_cases()))
def test_gradcheck(name, args, params):
    f, inputs = _as_function(name, args, params)
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name,args,params", [c for c in _cases() if c.values[0] not in NOT_SMOOTH])
def test_gradgradcheck(name, args, params):
    f, inputs = _as_function(name, args, params)
    assert gradgradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name,args,params", list(_cases()))
def test_shape_rule_matches_forward(name, args, params):
    prim = ops.get(name)
    out = np.asarray(prim.impl(*args, **params))
    abstract = [ops.Abstract(np.shape(a), a.dtype) if isinstance(a, np.ndarray) else a for a in args]
    got = prim.abstract_eval(abstract, params)
    assert (tuple(got.shape), got.dtype) == (out.shape, out.dtype)


@pytest.mark.parametrize("name,args,params", list(_cases()))
def test_vjp_rules_agree_on_arrays_and_tensors(name, args, params):
    """The same rule, run on ndarrays (plain backward) and on Tensors (create_graph), gives one answer."""
    f, inputs = _as_function(name, args, params)
    out = f(*inputs)
    g = ad.tensor(np.random.default_rng(1).standard_normal(out.shape), dtype=ad.float64)
    plain = ad.autograd.grad(out, inputs, g, retain_graph=True, allow_unused=True)
    graph = ad.autograd.grad(out, inputs, g, create_graph=True, allow_unused=True)
    for a, b in zip(plain, graph):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_unbroadcast_is_identity_on_equal_shapes():
    g = np.ones((2, 3))
    assert ops.unbroadcast(g, (2, 3)) is g
    np.testing.assert_array_equal(ops.unbroadcast(g, (3,)), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(ops.unbroadcast(g, (2, 1)), [[3.0], [3.0]])


def test_bind_dispatches_to_highest_priority_handler():
    class Low:
        shape = ()

    class High:
        shape = ()

    seen = []
    ops.register_handler(Low, lambda p, a, k: seen.append(("low", p.name)) or "low", priority=1)
    ops.register_handler(High, lambda p, a, k: seen.append(("high", p.name)) or "high", priority=50)
    try:
        assert ops.mul(Low(), 2.0) == "low"
        assert ops.mul(Low(), High()) == "high"
        assert ops.mul(np.array(2.0), 3.0) == 6.0
    finally:
        ops.core._handlers.pop(Low)
        ops.core._handlers.pop(High)
        ops.core._handler_cache.clear()
    assert seen == [("low", "mul"), ("high", "mul")]


def test_primitive_names_are_unique_and_documented():
    with pytest.raises(ValueError, match="defined twice"):
        ops.Primitive("mul", np.multiply)
    with pytest.raises(KeyError, match="no primitive named 'nope'"):
        ops.get("nope")
