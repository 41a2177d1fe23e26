"""The primitive table: every differentiable operation, defined once.

`registry` maps each primitive's name to its `Primitive` (forward, VJP and JVP
rules, shape rule, torch node name, and what it is for backends: kind, may_alias,
numpy_name, scalar definition). Importing this package fills it; nothing here
imports the engine or the compiler — they register `bind` handlers instead.
The scalar math protocol and the Python namespace (the oracle) are in scalar.py;
NumPy functions that only combine primitives (np.cross, np.pad ...) are in composites.py.
"""
from .core import (KINDS, Abstract, Primitive, bind, dtype_of, get, jvp, register_handler, registry, shape_of,
                   unbroadcast)
from .scalar import PythonMath, ScalarTypes, python_math
from .elementwise import (absolute, add, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, ceil, clip,
                          clip_mask, copysign, cos, cosh, div, eq, erf, erfc, exp, expm1, floor, floor_divide, gamma,
                          ge, gt, hypot, le, lgamma, log, log1p, logical_and, logical_not, logical_or, lt, maximum,
                          maximum_weight, minimum, mul, ne, neg, ones_like, polygamma, pow_zero_base_mask, power,
                          reciprocal, relu, remainder, rint, rsqrt, sigmoid, sign, sin, sinh, sqrt, sub, tan, tanh,
                          trunc, where, zeros_like)
from .indexing import Dyn, getitem, index_add, scatter_add, setitem
from .joining import concatenate, stack
from .linalg import (cholesky, det, eigh_v, eigh_w, einsum, eye_like, inv, linear, logabsdet, matmul, norm, pinv, slogdet_sign, solve,
                     svd_s, svd_u, svd_vh, trace)
from .reductions import (amax, amin, argmax, argmin, extreme_weights, log_softmax, logsumexp, max_, mean, min_, prod,
                         prod_others, softmax, std, sum_, var)
from .scans import argpartition, argsort, cumsum
from .shape import (astype, broadcast_to, copy, expand_dims, reshape, squeeze, stop_gradient, sum_to, swap_last2,
                    transpose)
from . import composites


def differentiable_primitives():
    """The primitives that have VJP and JVP rules, by name."""
    return {n: p for n, p in registry.items() if p.differentiable}
