"""nn.Module forward and backward hooks (issue 14), each scenario run on adcompiler and on real torch:
arguments the hooks see, what their return values replace, order, counts, handles, errors."""
from __future__ import annotations

import warnings

import pytest

import adcompiler as ad
from tests.eager._compare import attempt, torch_or_skip, val


def _linear(T):
    lin = T.nn.Linear(3, 2)
    with T.no_grad():
        lin.weight.copy_(T.tensor([[1., 2., 3.], [-1., 0.5, 2.]]))
        lin.bias.copy_(T.tensor([0.1, -0.2]))
    return lin


def sc_what_each_hook_sees_and_replaces(T):
    lin = _linear(T)
    log = []
    handles = [
        lin.register_forward_pre_hook(lambda m, a: log.append(("pre", val(a)))),
        lin.register_forward_hook(lambda m, a, o: log.append(("fwd", val(a), val(o)))),
        lin.register_full_backward_pre_hook(lambda m, go: log.append(("bw pre", val(go)))),
        lin.register_full_backward_hook(lambda m, gi, go: log.append(("bw", val(gi), val(go)))),
    ]
    x = T.tensor([[1., 2., 3.]], requires_grad=True)
    (lin(x) * T.tensor([[1., 2.]])).sum().backward()
    log.append(("grads", val(x.grad), val(lin.weight.grad)))
    handles += [
        lin.register_forward_pre_hook(lambda m, a: a[0] * 2),                 # not a tuple: wrapped
        lin.register_forward_hook(lambda m, a, o: o + 1),
        lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 10,)),
        lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 3,), prepend=True),
    ]
    x.grad = None
    y = lin(x)
    (y * T.tensor([[1., 2.]])).sum().backward()
    log.append(("replaced", val(y), val(x.grad)))
    for h in handles:
        h.remove()
    n = len(log)
    x.grad = None
    lin(x).sum().backward()
    log.append(("after remove", len(log) - n, val(x.grad)))
    return log


def sc_no_input_requires_grad(T):
    lin = _linear(T)
    log = []
    lin.register_full_backward_hook(lambda m, gi, go: log.append((val(gi), val(go))))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        lin(T.tensor([[1., 2., 3.]])).sum().backward()
    return log, [str(m.message)[:70] for m in w]


def sc_kwargs_hooks(T):
    class Scale(T.nn.Module):
        def forward(self, a, scale=1.0):
            return a * scale
    log = []
    m = Scale()
    m.register_forward_pre_hook(lambda mod, a, kw: (a, {"scale": kw.get("scale", 1.0) * 5}), with_kwargs=True)
    m.register_forward_hook(lambda mod, a, kw, out: log.append(("kw", kw)), with_kwargs=True)
    log.append(val(m(T.tensor([1., 2.]), scale=2.0)))
    bad = Scale()
    bad.register_forward_pre_hook(lambda mod, a, kw: 3, with_kwargs=True)
    log.append(attempt(lambda: bad(T.ones(2))))
    return log


def sc_wrong_counts(T):
    x = T.ones(1, 2, requires_grad=True)
    out = []
    m = T.nn.Linear(2, 2)
    m.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    out.append(attempt(lambda: m(x).sum().backward()))
    m = T.nn.Linear(2, 2)
    m.register_full_backward_pre_hook(lambda m, go: (go[0], go[0]))
    out.append(attempt(lambda: m(x).sum().backward()))
    m = T.nn.Linear(2, 2)
    m.register_full_backward_hook(lambda m, gi, go: (T.ones(2, 2),))
    m.register_full_backward_hook(lambda m, gi, go: None)
    out.append(attempt(lambda: m(T.ones(1, 2)).sum().backward()))   # no input requires grad
    return out


def sc_order_through_a_sequential(T):
    T.manual_seed(0)
    seq = T.nn.Sequential(T.nn.Linear(2, 3), T.nn.Tanh(), T.nn.Linear(3, 1))
    log = []
    for i, layer in enumerate(seq):
        layer.register_full_backward_pre_hook(lambda m, go, i=i: log.append(("bw pre", i)))
        layer.register_full_backward_hook(lambda m, gi, go, i=i: log.append(("bw", i, len(gi), len(go))))
        layer.register_forward_hook(lambda m, a, o, i=i: log.append(("fwd", i)))
    seq.register_forward_pre_hook(lambda m, a: log.append("seq pre"))
    seq(T.ones(4, 2, requires_grad=True)).sum().backward()
    return log


def sc_several_inputs_and_outputs(T):
    class Two(T.nn.Module):
        def forward(self, a, k, b):
            return a * b * k, a + b
    log = []
    t = Two()
    t.register_full_backward_hook(lambda m, gi, go: log.append((val(gi), val(go))))
    a = T.tensor([1., 2.], requires_grad=True)
    o1, o2 = t(a, 2.0, T.tensor([3., 4.]))
    (o1.sum() * 2).backward()
    return log, val(a.grad)


def sc_hook_lists_are_taken_at_the_call(T):
    lin = _linear(T)
    log = []
    h = lin.register_full_backward_hook(lambda m, gi, go: log.append("bw"))
    y = lin(T.ones(1, 3, requires_grad=True))
    h.remove()                                      # after the forward: this backward still calls it
    y.sum().backward()
    lin(T.ones(1, 3, requires_grad=True)).sum().backward()
    return log


SCENARIOS = [sc_what_each_hook_sees_and_replaces, sc_no_input_requires_grad, sc_kwargs_hooks, sc_wrong_counts,
             sc_order_through_a_sequential, sc_several_inputs_and_outputs, sc_hook_lists_are_taken_at_the_call]


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__[3:] for s in SCENARIOS])
def test_same_as_torch(scenario):
    real = torch_or_skip()
    assert scenario(ad) == scenario(real)


def test_backward_hook_values_against_the_chain_rule():
    lin = _linear(ad)
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((gi[0].tolist(), go[0].tolist())))
    x = ad.tensor([[1., 2., 3.]], requires_grad=True)
    (lin(x) * ad.tensor([[1., 2.]])).sum().backward()
    # grad_output is the upstream [1, 2]; grad_input is W^T [1, 2]
    assert seen == [([[-1.0, 3.0, 7.0]], [[1.0, 2.0]])]
    assert x.grad.tolist() == [[-1.0, 3.0, 7.0]]


def test_only_a_module_with_backward_hooks_wraps_its_call():
    lin = _linear(ad)
    x = ad.ones(1, 3, requires_grad=True)
    assert lin(x).grad_fn.name() != "BackwardHookFunctionBackward"
    h = lin.register_full_backward_hook(lambda m, gi, go: None)
    assert lin(x).grad_fn.name() == "BackwardHookFunctionBackward"
    h.remove()
    assert lin(x).grad_fn.name() != "BackwardHookFunctionBackward"
