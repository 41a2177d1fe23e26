"""adcompiler.autograd.forward_ad against torch.autograd.forward_ad: dual levels, make_dual,
unpack_dual, tangents through chains of ops (the table's JVP rules on Tensors), what has no
tangent, the errors torch raises, and backward through primals and tangents."""
import numpy as np
import pytest

import sys

import adcompiler as ad
from adcompiler.autograd import forward_ad as fwad

torch = pytest.importorskip("torch")
tfwad = torch.autograd.forward_ad


def _run(lib, fw, fn, primals, tangents, dtype):
    with fw.dual_level():
        xs = [fw.make_dual(lib.tensor(p, dtype=dtype), lib.tensor(t, dtype=dtype)) for p, t in zip(primals, tangents)]
        out = fn(lib, *xs)
        outs = out if isinstance(out, tuple) else (out,)
        res = []
        for o in outs:
            p, t = fw.unpack_dual(o)
            res.append((p.detach().numpy(), None if t is None else t.detach().numpy()))
    return res


def _both(fn, shapes, seed=0, dtype="float64", rtol=1e-12):
    rng = np.random.default_rng(seed)
    primals = [rng.uniform(0.5, 1.5, s) for s in shapes]
    tangents = [rng.standard_normal(s) for s in shapes]
    ours = _run(ad, fwad, fn, primals, tangents, getattr(ad, dtype))
    theirs = _run(torch, tfwad, fn, primals, tangents, getattr(torch, dtype))
    for (p, t), (tp, tt) in zip(ours, theirs):
        assert p.dtype == tp.dtype
        np.testing.assert_allclose(p, tp, rtol=rtol, atol=rtol)
        if tt is None:
            assert t is None
        else:
            assert t is not None and t.dtype == tt.dtype and t.shape == tt.shape
            np.testing.assert_allclose(t, tt, rtol=rtol, atol=rtol)


def _linalg(lib):
    class NumPyLinalg:
        inv, det, solve = np.linalg.inv, np.linalg.det, np.linalg.solve

        @staticmethod
        def eye(a):
            return ad.tensor(np.eye(a.shape[0]), dtype=a.dtype)

    class TorchLinalg:
        inv, det, solve = torch.linalg.inv, torch.linalg.det, torch.linalg.solve

        @staticmethod
        def eye(a):
            return torch.eye(a.shape[0], dtype=a.dtype)

    return TorchLinalg if lib is torch else NumPyLinalg


CHAINS = {
    "elementwise": (lambda L, x: (x.sin() * x.exp() + x ** 2 / (1 + x.tanh())).sqrt(), [(3, 4)]),
    "binary_broadcast": (lambda L, x, y: L.maximum(x * y - y, x) + L.where(x > 1.0, x, y).relu(), [(2, 3), (3,)]),
    "reductions": (lambda L, x: (x.sum(dim=1), x.mean(), x.prod(dim=0), x.std(dim=1), x.var(),
                                 x.amax(dim=1), x.max(dim=0).values, x.logsumexp(dim=1)), [(3, 4)]),
    "normalisations": (lambda L, x: (L.softmax(x, dim=1), x.log_softmax(dim=0), x.norm()), [(3, 4)]),
    # (ours through NumPy's functions on Tensors: the interop's path)
    "linear_algebra": (lambda L, a, b: ((a @ b).tanh() @ b.t(), _linalg(L).inv(a @ a.t() + 3 * _linalg(L).eye(a)),
                                        _linalg(L).det(a @ a.t()), _linalg(L).solve(a + 3 * _linalg(L).eye(a), b)),
                       [(3, 3), (3, 3)]),
    "shapes_and_indexing": (lambda L, x, y: (L.cat([x, y], dim=0)[1:, ::2].reshape(-1), L.stack([x, y]).transpose(0, 2),
                                             x[0], x[:, None].expand(2, 3, 3).sum(1), x.unsqueeze(0).squeeze(0).clone()),
                            [(2, 3), (2, 3)]),
    "clamp_abs_pow": (lambda L, x, y: (x.clamp(0.7, 1.2) * (x - 1).abs() + x ** y + 2.0 ** x), [(4,), (4,)]),
    "float32": (lambda L, x: (x * 3.0).exp().sum(dim=0), [(2, 3)]),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_values_and_tangents_as_torch(name):
    fn, shapes = CHAINS[name]
    if name == "float32":
        _both(fn, shapes, dtype="float32", rtol=1e-5)
    else:
        _both(fn, shapes)


def test_tangent_is_none_for_non_dual_and_non_differentiable_results():
    with fwad.dual_level():
        p = ad.tensor([1.0, 2.0, 3.0], dtype=ad.float64)
        x = fwad.make_dual(p, ad.ones(3, dtype=ad.float64))
        assert fwad.unpack_dual(p).tangent is None
        assert fwad.unpack_dual(p).primal is p
        assert fwad.unpack_dual(p * 3).tangent is None
        assert fwad.unpack_dual(x.argmax()).tangent is None
        assert fwad.unpack_dual(x > 1).tangent is None
        assert fwad.unpack_dual(x.to(ad.int64)).tangent is None
        assert fwad.unpack_dual(x.detach()).tangent is None
        t32 = fwad.unpack_dual(x.float()).tangent
        assert t32.dtype == ad.float32


def test_make_dual_keeps_the_tangent_and_unpack_gives_a_view():
    p, t = ad.tensor([1.0, 2.0], dtype=ad.float64), ad.tensor([3.0, 4.0], dtype=ad.float64)
    with fwad.dual_level() as level:
        assert level == 0
        x = fwad.make_dual(p, t)
        primal, tangent = fwad.unpack_dual(x)
        assert tangent is t
        assert primal._base is p and np.shares_memory(primal.numpy(), p.numpy())
        assert "tangent=" in repr(x)
    assert fwad.unpack_dual(x).tangent is None


def test_tangents_are_gone_after_the_level():
    with fwad.dual_level():
        x = fwad.make_dual(ad.tensor([1.0, 2.0], dtype=ad.float64), ad.ones(2, dtype=ad.float64))
        y = x.sin()
    assert fwad.unpack_dual(y).tangent is None
    assert fwad.unpack_dual(y * 2).tangent is None
    with fwad.dual_level():     # a new level does not see the old tangents
        assert fwad.unpack_dual(y).tangent is None


def test_nothing_is_replaced_outside_a_level():
    tensor_mod = sys.modules["adcompiler.tensor"]
    original_apply, original_inplace = tensor_mod.apply_prim, ad.Tensor._inplace
    with pytest.raises(ZeroDivisionError):
        with fwad.dual_level():
            assert tensor_mod.apply_prim is not original_apply
            1 / 0
    assert tensor_mod.apply_prim is original_apply and ad.Tensor._inplace is original_inplace
    import adcompiler.functions as functions
    assert functions.apply_prim is original_apply


def _errors(lib, fw):
    msgs = []

    def catch(f):
        try:
            f()
            msgs.append(None)
        except Exception as e:   # noqa: BLE001 - comparing what each library raises
            msgs.append((type(e).__name__, str(e).replace("torch.", "").replace("adcompiler.", "")))

    f64 = lib.float64
    p = lib.tensor([1.0, 2.0, 3.0], dtype=f64)
    catch(lambda: fw.make_dual(p, lib.ones(3, dtype=f64)))                           # no level
    with fw.dual_level():
        catch(lambda: fw.enter_dual_level())                                          # nested
        catch(lambda: fw.make_dual(p, lib.ones(2, dtype=f64)))                        # size
        catch(lambda: fw.make_dual(lib.tensor([1, 2]), lib.tensor([1, 2])))           # integer primal
        catch(lambda: fw.make_dual(p, lib.tensor([1, 2, 3])))                         # integer tangent
        x = fw.make_dual(p, lib.ones(3, dtype=f64))
        catch(lambda: fw.make_dual(x, lib.ones(3, dtype=f64)))                        # already dual
        catch(lambda: fw.unpack_dual(x, level=5))
        catch(lambda: fw.make_dual(p, lib.ones(3, dtype=f64), level=5))
    catch(lambda: fw.exit_dual_level())                                               # no level
    return msgs


def test_errors_as_torch():
    ours, theirs = _errors(ad, fwad), _errors(torch, tfwad)
    assert ours == theirs


def test_backward_through_primal_and_tangent_as_torch():
    """Reverse over forward: the tangent of f at x along v is differentiable in x (a Hessian-vector
    product), and the primal's gradient is the usual one."""
    def run(lib, fw):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        v = lib.tensor([1.0, 2.0, -1.0], dtype=lib.float64)
        with fw.dual_level():
            d = fw.make_dual(x, v)
            y = (d.sin() * d).sum() + (d ** 3).prod()
            p, t = fw.unpack_dual(y)
            (gp,) = lib.autograd.grad(p, [x], retain_graph=True)
            (gt,) = lib.autograd.grad(t, [x])
        return p.detach().numpy(), t.detach().numpy(), gp.numpy(), gt.numpy()

    for a, b in zip(run(ad, fwad), run(torch, tfwad)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_in_place_ops_update_the_tangent():
    def run(lib, fw):
        with fw.dual_level():
            x = fw.make_dual(lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64),
                             lib.tensor([1.0, 0.5, -1.0], dtype=lib.float64))
            y = fw.make_dual(lib.tensor([2.0, -1.0, 0.5], dtype=lib.float64),
                             lib.tensor([0.0, 1.0, 2.0], dtype=lib.float64))
            x.mul_(y)
            x[0] = 5.0
            x[1:] += y[1:] ** 2
            p = lib.ones(3, dtype=lib.float64)
            p.add_(x)
            return [np.array(v.detach().numpy()) for v in (*fw.unpack_dual(x), *fw.unpack_dual(p))]

    for a, b in zip(run(ad, fwad), run(torch, tfwad)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_module_is_exported():
    import subprocess
    code = ("import adcompiler as ad\n"
            "with ad.autograd.forward_ad.dual_level():\n"
            "    x = ad.autograd.forward_ad.make_dual(ad.tensor([1.0]), ad.tensor([2.0]))\n"
            "    print(ad.autograd.forward_ad.unpack_dual(x * 3).tangent.item())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "6.0"
    assert ad.autograd.forward_ad is fwad
