"""State outside the function: the compiled gradient reads globals, closure variables,
attributes and container items when it runs (hidden inputs), and recompiles when a value
it compiled in as a constant changes (guards). Each case gave a stale gradient once."""
import numpy as np
import pytest

import adcompiler as ad

from .numeric import fd_grad
from . import state_targets as S

X = np.array([1.0, 2.0, 3.0])


@pytest.fixture(autouse=True)
def restore_state():
    saved = dict(Z=S.Z.copy(), Z1=S.Z1.copy(), CONFIG=dict(S.CONFIG), LR=list(S.LR), LAM=S.LAM,
                 lam=S.cfg.lam, cfg_w=S.cfg.w.copy(), helper=S.helper, defaults=S.with_default.__defaults__)
    yield
    S.Z[:] = saved["Z"]
    S.Z1[:] = saved["Z1"]
    S.CONFIG.clear()
    S.CONFIG.update(saved["CONFIG"])
    S.LR[:] = saved["LR"]
    S.LAM, S.cfg.lam, S.cfg.w, S.helper = saved["LAM"], saved["lam"], saved["cfg_w"], saved["helper"]
    S.with_default.__defaults__ = saved["defaults"]


def _times_five(x):
    return x * 5.0


def _mutations():
    return [
        ("uses_global_array", lambda: S.Z.__setitem__(slice(None), 1.0), False),
        ("uses_global_array", lambda: setattr(S, "Z", np.full(3, 2.0)), False),
        ("uses_size_one_array", lambda: S.Z1.__setitem__(0, 5.0), False),
        ("uses_dict_item", lambda: S.CONFIG.__setitem__("l2", 3.0), False),
        ("uses_list_item", lambda: S.LR.__setitem__(0, 0.7), False),
        ("uses_attribute", lambda: setattr(S.cfg, "lam", 5.0), False),
        ("uses_attribute", lambda: S.cfg.w.__setitem__(0, -4.0), False),
        ("uses_scalar_global", lambda: setattr(S, "LAM", 2.0), False),
        ("scalar_decides_branch", lambda: setattr(S, "LAM", 2.0), True),
        ("dict_item_is_loop_bound", lambda: S.CONFIG.__setitem__("n", 4), True),
        ("calls_helper", lambda: setattr(S, "helper", _times_five), True),
    ]


@pytest.mark.parametrize("name, mutate, recompiles", _mutations(), ids=lambda v: v if isinstance(v, str) else "")
def test_changed_state_is_seen_by_the_next_call(name, mutate, recompiles):
    f = getattr(S, name)
    g = ad.grad(f)
    np.testing.assert_allclose(g(X), fd_grad(f, X), rtol=1e-6, atol=1e-8)
    assert g.mode == "compiled", g.explain()
    first = g._last
    mutate()
    np.testing.assert_allclose(g(X), fd_grad(f, X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g(X), ad.grad(f, fallback="always")(X), rtol=1e-12)
    # values read as hidden inputs need no new compile; constants compiled in do
    assert (g._last is not first) == recompiles


def test_hidden_inputs_are_parameters_of_the_generated_code():
    g = ad.grad(S.uses_dict_item)
    g(X)
    assert "def uses_dict_item_grad(x, CONFIG_l2):" in g.source


def test_a_changed_default_or_body_recompiles():
    g = ad.grad(S.calls_helper)
    g(X)
    S.helper.__defaults__ = None  # unchanged: no recompile
    first = g._last
    g(X)
    assert g._last is first

    def other(x):
        return x * 7.0
    code = S.helper.__code__
    S.helper.__code__ = other.__code__
    try:
        np.testing.assert_allclose(g(X), [7.0, 7.0, 7.0])
        assert g._last is not first
    finally:
        S.helper.__code__ = code


def test_a_returned_gradient_is_never_the_users_array():
    w = np.ones(3)
    g = ad.grad(S.returns_global_times_one)
    gw = g(w)
    assert not np.shares_memory(gw, S.W)
    gw *= 0.5
    np.testing.assert_array_equal(S.W, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(g(w), [1.0, 2.0, 3.0])


def test_a_type_change_of_a_hidden_input_recompiles():
    g = ad.grad(S.uses_scalar_global)
    g(X)
    first = g._last
    S.LAM = np.float32(2.0)
    np.testing.assert_allclose(g(X), 2.0 * 2 * X)
    assert g._last is not first


def test_caches_do_not_keep_closures_or_their_data_alive():
    import gc
    import weakref
    w = np.ones(3)
    refs = []
    for step in range(5):
        batch = np.full((50, 3), float(step))
        refs.append(weakref.ref(batch))
        loss = S.make_loss(batch)
        g = ad.grad(loss)
        np.testing.assert_allclose(g(w), 2 * batch.T @ (batch @ w))
        assert g.mode == "compiled"
        del batch, loss, g
    gc.collect()
    assert [r() for r in refs] == [None] * 5


def test_the_front_end_keeps_a_bounded_number_of_specialisations():
    from adcompiler.compiler import frontend
    g = ad.grad(S.uses_scalar_global, jit="always")     # (jit="always": one specialisation per shape)
    for n in range(1, frontend._PER_FUNCTION + 10):
        g(np.ones(n))
    assert len(frontend._cache[S.uses_scalar_global]) == frontend._PER_FUNCTION


@pytest.mark.parametrize("fallback", ["auto", "always"])
def test_a_changed_default_of_the_function_itself_is_used(fallback):
    g = ad.grad(S.with_default, fallback=fallback)
    np.testing.assert_allclose(g(X), [2.0, 2.0, 2.0])
    S.with_default.__defaults__ = (5.0,)
    np.testing.assert_allclose(g(X), [5.0, 5.0, 5.0])
