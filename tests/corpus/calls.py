"""Calls: inlined helpers, keyword and default arguments, closures, helpers
with control flow and tuple results."""
import numpy as np

from . import case


def _square(v):
    return v * v


def _affine(v, w=2.0, b=0.5):
    return v * w + b


def _stats(v):
    return v.mean(), v.std()


def _relu_sum(v):
    if v.sum() > 0:
        return v.sum()
    return 0.0 * v.sum()


def _make_scaled(k):
    def scaled(v):
        return v * k
    return scaled


_triple = _make_scaled(3.0)


@case(x="f64[3]")
def helper_call(x):
    return _square(x).sum()


@case(x="f64[3]")
def keyword_defaults(x):
    return _affine(x).sum() + _affine(x, b=1.0).sum() + _affine(x, 3.0).sum()


@case(x="f64[4]")
def tuple_result(x):
    m, s = _stats(x)
    return m + s


@case(x="f64[3]")
def helper_with_branch(x):
    return _relu_sum(x) + _relu_sum(-x)


@case(x="f64[3]")
def closure_constant(x):
    return _triple(x).sum()


@case(x="f64[3]", scale="f64")
def default_argument(x, scale=2.0):
    return (x * scale).sum()


@case(w="f64[3,2]", b="f64[2]", x="f64[4,3]")
def mlp_layer(w, b, x):
    h = np.tanh(x @ w + b)
    return _square(h).mean()


@case(params="(f64[3], f64)", x="f64[3]")
def tuple_argument(params, x):
    w, b = params
    return (w * x).sum() + b
