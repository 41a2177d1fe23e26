"""nn.utils.clip_grad_norm_ / clip_grad_value_ and parameters_to_vector."""
import math

import numpy as np
import pytest

import adcompiler as ad
from adcompiler import nn


def _with_grads(*grads):
    ps = []
    for g in grads:
        p = nn.Parameter(ad.zeros(len(g)))
        p.grad = ad.tensor(g)
        ps.append(p)
    return ps


def test_clip_grad_norm_scales_and_returns_total():
    ps = _with_grads([3.0, 0.0], [0.0, 4.0])        # total 2-norm 5
    total = nn.utils.clip_grad_norm_(ps, max_norm=1.0)
    assert isinstance(total, ad.Tensor) and total.item() == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    assert ps[0].grad.tolist() == pytest.approx([3 * scale, 0.0])
    assert ps[1].grad.tolist() == pytest.approx([0.0, 4 * scale])


def test_clip_grad_norm_below_max_leaves_grads():
    ps = _with_grads([0.3, 0.4])
    assert nn.utils.clip_grad_norm_(ps, max_norm=10).item() == pytest.approx(0.5)
    assert ps[0].grad.tolist() == pytest.approx([0.3, 0.4])


def test_clip_grad_norm_other_norms_and_no_grads():
    ps = _with_grads([3.0, -7.0], [2.0])
    assert nn.utils.clip_grad_norm_(ps, 100, norm_type=1).item() == pytest.approx(12.0)
    assert nn.utils.clip_grad_norm_(ps, 100, norm_type=math.inf).item() == pytest.approx(7.0)
    assert nn.utils.clip_grad_norm_([nn.Parameter(ad.zeros(2))], 1.0).item() == 0.0
    bad = _with_grads([math.inf])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    ps = _with_grads([-3.0, 0.5, 2.0])
    assert nn.utils.clip_grad_value_(ps, 1.0) is None
    assert ps[0].grad.tolist() == [-1.0, 0.5, 1.0]


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,), (2, 2)]]
    for norm_type in (2.0, 1.0, 3.0, math.inf):
        ours = _with_grads(*[g.reshape(-1).tolist() for g in grads])
        theirs = [torch.nn.Parameter(torch.zeros(g.size)) for g in grads]
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g.reshape(-1))
        a = nn.utils.clip_grad_norm_(ours, 0.5, norm_type=norm_type)
        b = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type=norm_type)
        assert a.item() == pytest.approx(b.item(), rel=1e-5)
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_parameters_to_vector_round_trip():
    m = nn.Linear(2, 3)
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert vec.shape == (9,)
    nn.utils.vector_to_parameters(ad.arange(9.0), m.parameters())
    assert m.weight.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]] and m.bias.tolist() == [6.0, 7.0, 8.0]
