"""Sample inputs for every differentiable primitive of the table.

`SAMPLES[name](rng)` returns a list of (args, params) cases: float64 arrays
(differentiated), Python scalars and integer/bool arrays (held constant).
`NOT_SMOOTH` lists the primitives whose second derivative is not checked.
test_table.py fails for any differentiable primitive missing here, so a new
primitive is tested the day it is added.
"""
import numpy as np

from adcompiler.ops import Dyn


def _r(rng, *shape):
    return np.asarray(rng.standard_normal(shape))


def _pos(rng, *shape):
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def _unary(gen=_r, shapes=((3,), (2, 3), ())):
    return lambda rng: [((gen(rng, *s),), {}) for s in shapes]


def _binary(gen=_r):
    def make(rng):
        return [
            ((gen(rng, 2, 3), gen(rng, 2, 3)), {}),
            ((gen(rng, 2, 3), gen(rng, 3)), {}),
            ((gen(rng, 2, 1), gen(rng, 1, 3)), {}),
            ((gen(rng, 3), gen(rng)), {}),
            ((gen(rng, 3), 1.5), {}),
            ((1.5, gen(rng, 2, 2)), {}),
        ]
    return make


def _reduce(gen=_r, axes=(None, 0, 1, (0, 1), -1), extra=None):
    def make(rng):
        cases = []
        for axis in axes:
            for keep in (False, True):
                p = {"axis": axis, "keepdims": keep}
                p.update(extra or {})
                cases.append(((gen(rng, 3, 4),), p))
        cases.append(((gen(rng, 5),), dict({"axis": None, "keepdims": False}, **(extra or {}))))
        return cases
    return make


def _distinct(rng, *shape):
    """Values far apart, so max/min and their finite differences are well defined."""
    n = int(np.prod(shape)) if shape else 1
    return (rng.permutation(n) * 0.5 + rng.uniform(-0.1, 0.1, n)).reshape(shape)


def _matmul(rng):
    shapes = [((3,), (3,)), ((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 2, 3), (3, 4)),
              ((2, 2, 3), (2, 3, 2)), ((3,), (2, 3, 2)), ((2, 1, 2, 3), (3, 3, 2))]
    return [((_r(rng, *a), _r(rng, *b)), {}) for a, b in shapes]


def _linear(rng):
    return [((_r(rng, 4, 3), _r(rng, 2, 3), _r(rng, 2)), {}),
            ((_r(rng, 3), _r(rng, 2, 3), _r(rng, 2)), {}),
            ((_r(rng, 2, 4, 3), _r(rng, 2, 3), _r(rng, 2)), {})]


def _getitem(rng):
    x = _r(rng, 4, 5)
    return [
        ((x,), {"idx": 1}),
        ((x,), {"idx": (slice(1, 3),)}),
        ((x,), {"idx": (slice(None, None, 2), slice(1, None))}),
        ((x,), {"idx": (None, Ellipsis, 2)}),
        ((x,), {"idx": (np.array([0, 2, 2]),)}),
        ((x,), {"idx": (np.array([[True, False, True, False, False]] * 4),)}),
        ((x,), {"idx": (1, np.array([0, 4]))}),
        ((x, 2), {"idx": (Dyn(0),)}),
        ((x, 1, 3), {"idx": (slice(Dyn(0), Dyn(1)), -1)}),
    ]


def _scatter_add(rng):
    return [((_r(rng, 2, 5), ), {"idx": (slice(1, 3),), "shape": (4, 5)}),
            ((_r(rng, 3, 5), ), {"idx": (np.array([0, 2, 2]),), "shape": (4, 5)}),
            ((_r(rng, 5), 3), {"idx": (Dyn(0),), "shape": (4, 5)})]


def _index_add(rng):
    return [((_r(rng, 4, 5), _r(rng, 2, 5)), {"idx": (slice(1, 3),)}),
            ((_r(rng, 4, 5), _r(rng, 3, 5)), {"idx": (np.array([0, 2, 2]),)}),
            ((_r(rng, 4, 5), _r(rng, 5), 2), {"idx": (Dyn(0),)}),
            ((_r(rng, 6), _r(rng, 5)), {"idx": (slice(1, None),)})]


def _setitem(rng):
    return [((_r(rng, 4, 5), _r(rng, 2, 5)), {"idx": (slice(1, 3),)}),
            ((_r(rng, 4, 5), _r(rng, 5)), {"idx": (slice(0, 2),)}),
            ((_r(rng, 4, 5), 2.0), {"idx": (Ellipsis,)}),
            ((_r(rng, 4, 5), _r(rng, 2)), {"idx": (1, np.array([0, 3]))}),
            ((_r(rng, 4, 5), _r(rng, 5), 2), {"idx": (Dyn(0),)})]


def _where(rng):
    return [((rng.random((2, 3)) > 0.5, _r(rng, 2, 3), _r(rng, 2, 3)), {}),
            ((rng.random((2, 3)) > 0.5, _r(rng, 3), 0.0), {}),
            ((rng.random(3) > 0.5, 1.0, _r(rng, 2, 3)), {})]


def _clip(rng):
    x = rng.uniform(-2, 2, (3, 4))
    x[np.abs(np.abs(x) - 1) < 0.05] = 0.3  # keep away from the kinks
    return [((x,), {"lo": -1.0, "hi": 1.0}), ((x,), {"lo": -1.0, "hi": None}), ((x,), {"lo": None, "hi": 0.5 + 1e-3})]


def _away_from_zero(rng, *shape):
    x = rng.uniform(0.3, 2.0, shape)
    return np.asarray(x * rng.choice([-1.0, 1.0], shape))


def _pow(rng):
    return [((_pos(rng, 2, 3), 3.0), {}), ((_pos(rng, 2, 3), 2), {}), ((_pos(rng, 3), -1.5), {}),
            ((2.0, _r(rng, 2, 3)), {}), ((_pos(rng, 2, 3), _r(rng, 3)), {}), ((_pos(rng, 2, 3), 0.5), {}),
            # exponents with exact 0 and 1 (the rule's where-branches)
            ((_pos(rng, 2, 3), np.array([0.0, 1.0, 2.5])), {})]


def _with_zeros(rng, *shape):
    """Random values with exact zeros (prod's derivatives must not divide by them)."""
    x = _r(rng, *shape)
    x.flat[::3] = 0.0
    return x


def _prod(rng):
    return _reduce(_pos)(rng) + [((_with_zeros(rng, 3, 4),), {"axis": 1, "keepdims": False}),
                                 ((_with_zeros(rng, 5),), {"axis": None, "keepdims": False})]


def _prod_others(rng):
    # prod_others(x, v1, ..., vr): the r-th directional derivative of the products of the others
    return [((_pos(rng, 3, 4),), {"axis": None}), ((_pos(rng, 3, 4),), {"axis": 1}),
            ((_with_zeros(rng, 3, 4),), {"axis": 1}),
            ((_with_zeros(rng, 3, 4), _r(rng, 3, 4)), {"axis": 0}),
            ((_r(rng, 5), _r(rng, 5), _r(rng, 5)), {"axis": None})]


def _join(rng):
    return [((_r(rng, 2, 3), _r(rng, 1, 3), _r(rng, 3, 3)), {"axis": 0}),
            ((_r(rng, 2, 3), _r(rng, 2, 2)), {"axis": 1}),
            ((_r(rng, 2, 3), _r(rng, 2, 2)), {"axis": -1})]


def _stack(rng):
    return [((_r(rng, 2, 3), _r(rng, 2, 3)), {"axis": 0}), ((_r(rng, 3), _r(rng, 3), _r(rng, 3)), {"axis": 1}),
            ((_r(rng, 3), _r(rng, 3)), {"axis": -1})]


def _unit(rng, *shape):
    return np.asarray(rng.uniform(-0.9, 0.9, shape))


def _above_one(rng, *shape):
    return np.asarray(rng.uniform(1.2, 3.0, shape))


def _away_from_integers(rng, *shape):
    """Values at least 0.1 from every integer (floor, ceil, rint jump there; rint at the halves)."""
    x = rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.4, shape) * rng.choice([1.0, 3.0], shape)
    return np.asarray(x, dtype=np.float64)


def _gamma_args(rng, *shape):
    """Positive and negative non-integers (gamma and lgamma have poles at 0, -1, -2 ...)."""
    x = rng.uniform(0.3, 4.0, shape) * rng.choice([1.0, -1.0], shape)
    x = np.where(np.abs(x - np.round(x)) < 0.15, x + 0.3, x)
    return np.asarray(x)


def _spd(rng, n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _square(rng, n, batch=()):
    return rng.standard_normal(batch + (n, n)) + 3 * np.eye(n)


def _einsum(rng):
    r = lambda *s: _r(rng, *s)
    return [((r(2, 3), r(3, 4)), {"spec": "ij,jk->ik"}), ((r(2, 3), r(3, 4), r(4)), {"spec": "ij,jk,k->i"}),
            ((r(2, 3),), {"spec": "ij->"}), ((r(3), r(4)), {"spec": "i,j->ij"}),
            ((r(2, 3, 4), r(2, 4, 5)), {"spec": "bij,bjk->bik"}), ((r(2, 3), r(3)), {"spec": "ij,j->"}),
            ((r(2, 1, 3), r(2, 4, 3)), {"spec": "ijk,ijk->ik"}), ((r(3, 4), r(4, 3)), {"spec": "ij,ji->"})]


def _svd_cases(rng):
    # random matrices: distinct singular values, away from 0 (U and Vh are smooth there)
    return [((_r(rng, 3, 3),), {}), ((_r(rng, 4, 2),), {}), ((_r(rng, 2, 4),), {}), ((_r(rng, 2, 3, 2),), {})]


def _eigh_cases(rng):
    # any matrix (NumPy reads one triangle); random ones have distinct eigenvalues
    return [((_r(rng, 3, 3),), {"UPLO": "L"}), ((_r(rng, 3, 3),), {"UPLO": "U"}), ((_r(rng, 2, 2, 2),), {"UPLO": "L"})]


SAMPLES = {
    "add": _binary(), "sub": _binary(), "mul": _binary(), "div": _binary(_pos),
    "maximum": _binary(_distinct), "minimum": _binary(_distinct), "pow": _pow,
    # floor(x / y) is constant over each sample's range, away from the jumps
    "remainder": lambda rng: [((rng.uniform(2.2, 2.8, (2, 3)), rng.uniform(2.9, 3.0, 3)), {}),
                              ((rng.uniform(2.1, 2.9, (4,)), 1.0), {}), ((5.3, rng.uniform(1.4, 1.7, (3,))), {})],
    "neg": _unary(), "reciprocal": _unary(_pos), "exp": _unary(), "log": _unary(_pos), "log1p": _unary(_pos),
    "expm1": _unary(), "sqrt": _unary(_pos), "rsqrt": _unary(_pos), "sin": _unary(), "cos": _unary(),
    "tan": _unary(lambda rng, *s: np.asarray(rng.uniform(-1.2, 1.2, s))), "tanh": _unary(), "sigmoid": _unary(),
    "relu": _unary(_away_from_zero), "abs": _unary(_away_from_zero), "sign": _unary(_away_from_zero),
    "where": _where, "clip": _clip,
    "sum": _reduce(), "mean": _reduce(), "prod": _prod, "var": _reduce(extra={"correction": 1}),
    "std": _reduce(extra={"correction": 0}), "logsumexp": _reduce(),
    "max": lambda rng: [((_distinct(rng, 3, 4),), {"axis": None, "keepdims": False}),
                        ((_distinct(rng, 3, 4),), {"axis": 1, "keepdims": False}),
                        ((_distinct(rng, 3, 4),), {"axis": 0, "keepdims": True})],
    "min": lambda rng: [((_distinct(rng, 3, 4),), {"axis": None, "keepdims": False}),
                        ((_distinct(rng, 3, 4),), {"axis": -1, "keepdims": False})],
    "amax": _reduce(_distinct, axes=(None, 0, (0, 1))), "amin": _reduce(_distinct, axes=(None, 1)),
    "softmax": lambda rng: [((_r(rng, 3, 4),), {"axis": -1}), ((_r(rng, 3, 4),), {"axis": 0}),
                            ((_r(rng, 5),), {"axis": 0})],
    "log_softmax": lambda rng: [((_r(rng, 3, 4),), {"axis": -1}), ((_r(rng, 3, 4),), {"axis": 0})],
    "prod_others": _prod_others,
    "matmul": _matmul, "linear": _linear,
    "trace": lambda rng: [((_r(rng, 3, 3),), {}), ((_r(rng, 2, 4),), {})],
    "norm": lambda rng: [((_r(rng, 3, 4),), {"axis": None, "keepdims": False}),
                         ((_r(rng, 3, 4),), {"axis": 1, "keepdims": True}), ((_r(rng, 5),), {})],
    "reshape": lambda rng: [((_r(rng, 2, 3),), {"shape": (3, 2)}), ((_r(rng, 2, 3),), {"shape": (-1,)}),
                            ((_r(rng, 6),), {"shape": (1, 2, 3)})],
    "transpose": lambda rng: [((_r(rng, 2, 3),), {"axes": (1, 0)}), ((_r(rng, 2, 3, 4),), {"axes": (2, 0, 1)})],
    "squeeze": lambda rng: [((_r(rng, 1, 3, 1),), {"axis": None}), ((_r(rng, 1, 3, 1),), {"axis": 0}),
                            ((_r(rng, 1, 3, 1),), {"axis": (0, 2)})],
    "expand_dims": lambda rng: [((_r(rng, 2, 3),), {"axis": 0}), ((_r(rng, 2, 3),), {"axis": -1})],
    "broadcast_to": lambda rng: [((_r(rng, 3),), {"shape": (2, 3)}), ((_r(rng, 2, 1),), {"shape": (2, 4)}),
                                 ((_r(rng),), {"shape": (2, 2)})],
    "sum_to": lambda rng: [((_r(rng, 2, 3),), {"shape": (3,)}), ((_r(rng, 2, 3),), {"shape": (2, 1)}),
                           ((_r(rng, 4, 2, 3),), {"shape": (1, 3)}), ((_r(rng, 2, 3),), {"shape": ()})],
    "copy": _unary(), "astype": lambda rng: [((_r(rng, 2, 3),), {"dtype": np.float64})],
    "getitem": _getitem, "scatter_add": _scatter_add, "index_add": _index_add, "setitem": _setitem,
    "concatenate": _join, "stack": _stack,
    "sinh": _unary(), "cosh": _unary(), "arcsin": _unary(_unit), "arccos": _unary(_unit), "arctan": _unary(),
    "arcsinh": _unary(), "arccosh": _unary(_above_one), "arctanh": _unary(_unit),
    "arctan2": _binary(_away_from_zero), "hypot": _binary(_away_from_zero),
    "copysign": lambda rng: [((_away_from_zero(rng, 2, 3), _r(rng, 2, 3)), {}), ((_away_from_zero(rng, 3), -2.0), {}),
                             ((_away_from_zero(rng, 2, 3), _r(rng, 3)), {})],
    "erf": _unary(), "erfc": _unary(), "lgamma": _unary(_gamma_args), "gamma": _unary(_gamma_args),
    "polygamma": lambda rng: [((_gamma_args(rng, 2, 3),), {"n": 0}), ((_pos(rng, 4),), {"n": 1}),
                              ((_gamma_args(rng, 3),), {"n": 2})],
    "floor": _unary(_away_from_integers), "ceil": _unary(_away_from_integers),
    "trunc": _unary(_away_from_integers), "rint": _unary(_away_from_integers),
    "einsum": _einsum, "cumsum": lambda rng: [((_r(rng, 5),), {"axis": 0}), ((_r(rng, 3, 4),), {"axis": 1}),
                                              ((_r(rng, 3, 4),), {"axis": -2})],
    "inv": lambda rng: [((_square(rng, 3),), {}), ((_square(rng, 2, (2,)),), {})],
    "det": lambda rng: [((_square(rng, 3),), {}), ((_square(rng, 2, (3,)),), {}), ((_r(rng, 1, 1) + 2,), {})],
    "logabsdet": lambda rng: [((_square(rng, 3),), {}), ((-_square(rng, 2, (2,)),), {})],
    "solve": lambda rng: [((_square(rng, 3), _r(rng, 3)), {}), ((_square(rng, 3), _r(rng, 3, 2)), {}),
                          ((_square(rng, 3, (2,)), _r(rng, 3)), {}), ((_square(rng, 3, (2,)), _r(rng, 2, 3, 2)), {}),
                          ((_square(rng, 3), _r(rng, 2, 3, 2)), {})],
    "cholesky": lambda rng: [((_spd(rng, 3),), {}), ((_spd(rng, 2, (2,)),), {})],
    "svd_u": lambda rng: _svd_cases(rng), "svd_s": lambda rng: _svd_cases(rng) + [((_r(rng, 3, 2),), {"uv": False})],
    "svd_vh": lambda rng: _svd_cases(rng),
    "eigh_w": lambda rng: _eigh_cases(rng), "eigh_v": lambda rng: _eigh_cases(rng),
    "pinv": lambda rng: [((_r(rng, 3, 2),), {}), ((_r(rng, 2, 4),), {}), ((_square(rng, 3),), {}),
                         ((_r(rng, 2, 3, 2),), {})],
}

# Second derivatives are not checked where the first derivative has kinks or jumps.
NOT_SMOOTH = {"remainder", "relu", "abs", "sign", "clip", "maximum", "minimum", "max", "min", "amax", "amin",
              "floor", "ceil", "trunc", "rint", "copysign"}


def sample_cases(names):
    """pytest params (name, args, params) of every sample of the primitives `names` that have samples,
    each primitive's random draws seeded by its name (crc32: the same draws in every process, where
    hash() of a str changes with PYTHONHASHSEED)."""
    import zlib

    import pytest
    for name in names:
        if name not in SAMPLES:
            continue
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        for k, (args, params) in enumerate(SAMPLES[name](rng)):
            yield pytest.param(name, args, params, id=f"{name}-{k}")
