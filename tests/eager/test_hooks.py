"""Tensor hooks, node hooks and grad_fn classes (issue 14; issue 11's grad_fn names), each scenario
run on adcompiler and on real torch: same values, same order of calls, same counts, same errors."""
from __future__ import annotations

import re

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.compiler.errors import UnsupportedSyntax
from tests.eager._compare import attempt, torch_or_skip, val
from tests.eager.test_autograd import GRAD_FNS, _env


# ---- scenarios: each takes the module (adcompiler or torch) and returns a log -----------------------------

def sc_leaf_hook_replaces_gradient(T):
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    h = x.register_hook(lambda g: log.append(("hook", val(g))) or g * 2)
    (x * 3).sum().backward()
    log.append(("grad", val(x.grad)))
    h.remove()
    h.remove()  # twice is harmless
    x.grad = None
    (x * 3).sum().backward()
    log.append(("after remove", val(x.grad)))
    return log


def sc_order_on_an_intermediate(T):
    """Tensor hooks in order (each sees the previous result), then retain_grad, then node pre-hooks, the
    node, its post-hooks."""
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    y = x * 3
    y.grad_fn.register_prehook(lambda go: log.append(("prehook", val(go))))
    y.retain_grad()
    y.register_hook(lambda g: log.append(("t1", val(g))) or g * 2)
    y.grad_fn.register_hook(lambda gi, go: log.append(("post", val(gi), val(go))))
    y.register_hook(lambda g: log.append(("t2", val(g))))
    y.sum().backward()
    log.append(("y.grad", val(y.grad)))
    log.append(("x.grad", val(x.grad)))
    return log


def sc_leaf_order_with_accumulate_grad_hooks(T):
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    acc = (x * 3).grad_fn.next_functions[0][0]
    acc.register_prehook(lambda go: log.append(("acc pre", val(go))))
    acc.register_hook(lambda gi, go: log.append(("acc post", val(gi), val(go))))
    x.register_post_accumulate_grad_hook(lambda p: log.append(("post accumulate", val(p.grad))))
    x.register_hook(lambda g: log.append(("tensor hook", val(g))))
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    log.append("autograd.grad:")
    log.append(val(T.autograd.grad((x * 3).sum(), x)))   # tensor hook only: nothing is accumulated
    return log


def sc_hooks_with_autograd_grad(T):
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    x.register_hook(lambda g: log.append(("x", val(g))) or g * 2)
    y = x * 3
    y.register_hook(lambda g: log.append(("y", val(g))) or g * 10)
    y.grad_fn.register_prehook(lambda go: log.append("y's node runs"))
    z = (y * y).sum()
    log.append(("dz/dy", val(T.autograd.grad(z, y, retain_graph=True))))
    log.append(("dz/dx", val(T.autograd.grad(z, x))))
    return log


def sc_hook_runs_once_with_the_summed_gradient(T):
    log = []
    x = T.tensor([1., -2.], requires_grad=True)
    y = x.sin()
    y.register_hook(lambda g: log.append(("y", val(g))))
    x.register_hook(lambda g: log.append(("x", val(g))))
    (y * y + y * 3 + y.exp()).sum().backward(retain_graph=False)
    log.append(val(x.grad))
    return log


def sc_retain_graph_runs_hooks_each_time(T):
    calls = []
    x = T.tensor([0.5], requires_grad=True)
    y = x.exp()
    y.register_hook(lambda g: calls.append("y"))
    y.grad_fn.register_hook(lambda gi, go: calls.append("node"))
    y.backward(retain_graph=True)
    y.backward()
    return calls, val(x.grad)


def sc_hook_registered_before_an_inplace_change(T):
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: log.append(("y", val(g))))
    y.mul_(3)
    y.sum().backward()
    log.append(val(x.grad))
    return log


def sc_hook_under_create_graph(T):
    x = T.tensor([1.5, -0.5], requires_grad=True)
    y = x ** 3
    y.register_hook(lambda g: g * x)           # a hook that is itself differentiable
    (gx,) = T.autograd.grad(y.sum(), x, create_graph=True)
    (ggx,) = T.autograd.grad(gx.sum(), x)
    return val(gx), val(ggx)


def sc_hook_errors(T):
    out = []
    x = T.tensor([1., 2.], requires_grad=True)
    out.append(attempt(lambda: T.tensor([1.]).register_hook(lambda g: g)))
    out.append(attempt(lambda: (x * 2).register_post_accumulate_grad_hook(lambda t: None)))
    out.append(attempt(lambda: T.tensor([1.]).register_post_accumulate_grad_hook(lambda t: None)))

    def changed_size(g):
        return g.sum()
    h = x.register_hook(changed_size)
    out.append(attempt(lambda: (x * 3).sum().backward()))
    h.remove()
    cases = [
        lambda y: y.grad_fn.register_hook(lambda gi, go: (gi[0], gi[0])),      # replaces a None
        lambda y: y.grad_fn.register_hook(lambda gi, go: (T.ones(2),)),        # wrong count
        lambda y: y.grad_fn.register_prehook(lambda go: (go[0], go[0])),
        lambda y: y.grad_fn.register_prehook(lambda go: go[0]),                # not a tuple
        lambda y: y.grad_fn.register_hook(lambda gi, go: 3),
        lambda y: y.grad_fn.register_prehook(lambda go: (T.ones(3),)),         # changed size
    ]
    for register in cases:
        y = x * 2
        register(y)
        out.append(attempt(lambda: y.sum().backward()))
    return out


def sc_node_hook_replaces_grad_inputs(T):
    x = T.tensor([1., 2.], requires_grad=True)
    w = T.tensor([3., 4.], requires_grad=True)
    y = x * w
    y.grad_fn.register_hook(lambda gi, go: (gi[0] * 0, gi[1] + 1))
    y.grad_fn.register_prehook(lambda go: (go[0] * 2,))
    y.sum().backward()
    return val(x.grad), val(w.grad)


def sc_grad_inputs_follow_next_functions(T):
    """Post-hooks see one grad_input per entry of next_functions (none for a Python number)."""
    x = T.tensor([1., 2.], requires_grad=True)
    c = T.tensor([5., 6.])
    seen = []
    for y in (x ** 2, 2 ** x, 1 - x, x + 1, x * c, T.where(x > 1, x, c)):
        y.grad_fn.register_hook(lambda gi, go: seen.append((len(gi), tuple(g is None for g in gi), val(go))))
        y.sum().backward()
    return seen


def sc_handles(T):
    log = []
    x = T.tensor([1.], requires_grad=True)
    h1 = x.register_hook(lambda g: log.append("a"))
    h2 = x.register_hook(lambda g: log.append("b"))
    with x.register_hook(lambda g: log.append("c")):
        (x * 1).backward()
    log.append("|")
    h1.remove()
    (x * 1).backward()
    log.append("|")
    h2.remove()
    (x * 1).backward()
    return log, type(h1.id).__name__, h1.id != h2.id


def _custom(T):
    class Square(T.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    class Split(T.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, a * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 3
    return Square, Split


def sc_custom_function_nodes(T):
    Square, Split = _custom(T)
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    y = Square.apply(x)
    log.append((type(y.grad_fn).__name__, y.grad_fn.name()))
    y.grad_fn.register_prehook(lambda go: log.append(("pre", val(go))))
    y.grad_fn.register_hook(lambda gi, go: log.append(("post", val(gi), val(go))) or (gi[0] + 100,))
    y.register_hook(lambda g: log.append(("tensor", val(g))))
    y.sum().backward()
    log.append(val(x.grad))
    a, b = Split.apply(x)
    a.register_hook(lambda g: log.append(("a", val(g))) or g * 10)
    b.register_hook(lambda g: log.append(("b", val(g))))
    a.grad_fn.register_hook(lambda gi, go: log.append(("split post", val(gi), val(go))))
    x.grad = None
    (a.sum() + 2 * b.sum()).backward()
    log.append(val(x.grad))
    return log


def sc_backward_with_inputs_runs_the_leaf_hooks(T):
    log = []
    x = T.tensor([1., 2.], requires_grad=True)
    w = T.tensor([3., 4.], requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda p: log.append(("x post accumulate", val(p.grad))))
    w.register_post_accumulate_grad_hook(lambda p: log.append(("w post accumulate", val(p.grad))))
    x.register_hook(lambda g: log.append(("x hook", val(g))) or g * 2)
    acc = (x * 1).grad_fn.next_functions[0][0]
    acc.register_prehook(lambda go: log.append("x acc pre"))
    acc.register_hook(lambda gi, go: log.append("x acc post"))
    (x * w).sum().backward(inputs=[x])
    return log, val(x.grad), val(w.grad)


def sc_node_metadata(T):
    x = T.tensor([1.], requires_grad=True)
    y = x * 2
    empty = dict(y.grad_fn.metadata)
    y.grad_fn.metadata["layer"] = "first"
    y.backward()
    return empty, y.grad_fn.metadata, (x * 3).grad_fn.next_functions[0][0].metadata, val(x.grad)


SCENARIOS = [sc_node_metadata, sc_backward_with_inputs_runs_the_leaf_hooks, sc_leaf_hook_replaces_gradient, sc_order_on_an_intermediate, sc_leaf_order_with_accumulate_grad_hooks,
             sc_hooks_with_autograd_grad, sc_hook_runs_once_with_the_summed_gradient,
             sc_retain_graph_runs_hooks_each_time, sc_hook_registered_before_an_inplace_change,
             sc_hook_under_create_graph, sc_hook_errors, sc_node_hook_replaces_grad_inputs,
             sc_grad_inputs_follow_next_functions, sc_handles, sc_custom_function_nodes]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__[3:] for s in SCENARIOS])
def test_same_as_torch(scenario):
    real = torch_or_skip()
    assert scenario(ad) == scenario(real)


# ---- fixed values (hold without torch) ---------------------------------------------------------------------

def test_hook_values_against_the_chain_rule():
    x = ad.tensor([0.3, -1.2], dtype=ad.float64, requires_grad=True)
    y = x.sin()
    y.register_hook(lambda g: g * 2)
    (y * y).sum().backward()
    xv = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * np.sin(xv)) * np.cos(xv), rtol=1e-12)
    assert sc_leaf_hook_replaces_gradient(ad) == [("hook", [3.0, 3.0]), ("grad", [6.0, 6.0]),
                                                  ("after remove", [3.0, 3.0])]


def test_no_hooks_no_node_state():
    x = ad.tensor([1., 2.], requires_grad=True)
    y = (x * 2).exp()
    assert y.grad_fn._hooks is None and y.grad_fn.next_functions[0][0]._hooks is None
    y.sum().backward()


def test_leaf_hooks_survive_the_graph():
    """A leaf's hooks live on its AccumulateGrad, which the leaf keeps while it has hooks."""
    import gc
    x = ad.tensor([1.], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(1))
    gc.collect()
    for _ in range(3):
        (x * 2).backward()
    assert calls == [1, 1, 1]


# ---- grad_fn classes (issue 11) ------------------------------------------------------------------------

@pytest.mark.parametrize("expr,name,nexts", GRAD_FNS, ids=[c[0] for c in GRAD_FNS])
def test_grad_fn_class_is_named_as_torch(expr, name, nexts):
    r = eval(expr, _env(ad))
    if hasattr(r, "values") and hasattr(r, "indices") and not hasattr(r, "grad_fn"):
        r = r.values
    node = r.grad_fn
    assert type(node).__name__ == node.name() == name
    assert re.fullmatch(rf"<{name} object at 0x[0-9a-f]+>", repr(node))
    again = eval(expr, _env(ad))
    again = again.values if not hasattr(again, "grad_fn") else again
    assert type(again.grad_fn) is type(node)   # one class per name


def test_custom_function_node_class():
    Square, _ = _custom(ad)
    y = Square.apply(ad.tensor([1.], requires_grad=True))
    assert type(y.grad_fn).__name__ == "SquareBackward" == y.grad_fn.name()
    assert type(y.grad_fn) is type(Square.apply(ad.tensor([2.], requires_grad=True)).grad_fn)
    assert isinstance(y.grad_fn, ad.autograd.FunctionCtx)


def test_custom_function_node_class_is_torch_s():
    real = torch_or_skip()
    for T in (ad, real):
        Square, _ = _custom(T)
        y = Square.apply(T.tensor([1.], requires_grad=True))
        assert type(y.grad_fn).__name__ == "SquareBackward"
        assert re.fullmatch(r"<\w+\.autograd\.function\.SquareBackward object at 0x[0-9a-f]+>", repr(y.grad_fn))


# ---- the compiled path ---------------------------------------------------------------------------------

def _hooked(x):
    y = np.sin(x)
    y.register_hook(lambda g: g * 2)
    return np.sum(y * y)


def test_grad_of_a_function_with_a_tensor_hook_traces_and_keeps_the_hook():
    g = ad.grad(_hooked)
    x0 = np.array([0.3, -1.2])
    with pytest.warns(ad.FallbackWarning, match="register_hook"):
        got = g(x0)
    np.testing.assert_allclose(got, 2 * (2 * np.sin(x0)) * np.cos(x0), rtol=1e-12)
    assert "traced" in g.explain() and "register_hook" in g.explain()
    with pytest.raises(UnsupportedSyntax, match=r"'\.register_hook' is not supported \(test_hooks\.py:\d+"):
        ad.grad(_hooked, fallback="never")(x0)


def _sin_squared(t):
    return np.sum(np.sin(t) ** 2)


@pytest.mark.parametrize("fallback", ["auto", "always"])   # compiled, and traced
def test_a_hook_on_an_argument_is_not_run_by_grad_as_torch_func_grad(fallback):
    x0 = np.array([0.3, -1.2])
    calls = []
    x = ad.tensor(x0, requires_grad=True)
    x.register_hook(lambda g: calls.append(1) or g * 2)
    got = ad.grad(_sin_squared, fallback=fallback)(x)
    np.testing.assert_allclose(np.asarray(got), 2 * np.sin(x0) * np.cos(x0), rtol=1e-12)
    assert calls == []
    real = torch_or_skip()
    xt = real.tensor(x0, requires_grad=True)
    xt.register_hook(lambda g: calls.append(1) or g * 2)
    ref = real.func.grad(lambda t: (t.sin() ** 2).sum())(xt)
    np.testing.assert_allclose(ref.detach().numpy(), np.asarray(got), rtol=1e-12)
    assert calls == []
