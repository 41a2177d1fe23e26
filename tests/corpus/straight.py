"""Straight-line NumPy: arithmetic, broadcasting, reductions, shapes, indexing."""
import math

import numpy as np

from . import case

SCALE = 0.5                      # a module-level constant
WEIGHTS = np.array([1.0, -2.0, 0.5])


@case(x="f64[3]", y="f64[3]")
def arithmetic(x, y):
    z = x * y + 2.0
    w = z / (y * y + 1.0) - x ** 2
    return np.sum(-w)


@case(x="f64", y="f64")
def scalar_math(x, y):
    a = math.sin(x) * math.exp(y)
    b = math.sqrt(x * x + 1.0) + abs(y)
    return a / b + math.log(b)


@case(x="f64[4,3]", b="f64[3]")
def broadcasting(x, b):
    return (x + b).mean()


@case(x="f64[4,3]")
def reductions(x):
    s = x.sum(axis=0)
    m = np.max(x, axis=1, keepdims=True)
    return s.sum() + m.sum() + x.var(ddof=1) + np.std(x)


@case(x="f64[4,3]")
def shapes(x):
    n, m = x.shape
    y = x.reshape(m, n).T
    z = np.transpose(y.T).copy()
    return (z * x).sum() + n + x.ndim + len(x)


@case(x="f64[5]")
def indexing(x):
    head = x[0] + x[-1]
    mid = x[1:4].sum()
    return head * mid + x[::2].sum()


@case(x="f64[5]", v="f64")
def slice_update(x, v):
    y = x.copy()
    y[1:3] = v
    y[0] += 2.0
    return (y * y).sum()


@case(a="f64[2,3]", b="f64[3,4]")
def matmul(a, b):
    c = a @ b
    return np.tanh(c).sum() + np.dot(a[0], b[:, 0])


@case(x="f64[3]")
def globals_and_constants(x):
    return np.sum(WEIGHTS * x) * SCALE + math.pi


@case(x="f64[3]", y="f64[3]")
def tuple_unpacking(x, y):
    a, b = x, y
    a, b = b, a * 2.0
    (c, d), e = (a, b), 3.0
    return (c - d).sum() * e


@case(x="f64[3]")
def augmented(x):
    t = 1.0
    t += x.sum()
    t *= 2.0
    t -= 0.5
    t /= 3.0
    t **= 2
    return t


@case(x="f64", y="f64")
def comparisons(x, y):
    a = float(x < y)
    b = float(0.0 < x <= 1.0)
    c = float(not (x == y))
    d = float(x > 0.5 and y < 0.5)
    return a + b + c + d


@case(x="f64[3]")
def unary_and_builtins(x):
    m = max(x.sum(), 0.5)
    n = min(1.0, -x.sum())
    return -abs(m) + n + sum(x) + float(len(x)) + int(2.7)


@case(x="f64[2,3]")
def numpy_functions(x):
    a = np.exp(x) + np.log1p(x * x) + np.sqrt(np.abs(x))
    b = np.maximum(x, 0.0) + np.minimum(x, 0.1) + np.clip(x, -0.5, 0.5)
    c = np.where(x > 0, x, -x)
    d = np.concatenate([x, x], axis=0).sum() + np.stack([x, x]).mean()
    return a.sum() + b.sum() + c.sum() + d + np.linalg.norm(x)


@case(x="f32[3]", y="f64")
def float32(x, y):
    z = x * y + 1.0
    return z.sum()


@case(x="f64[2,3]")
def softmax(x):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    p = e / e.sum(axis=1, keepdims=True)
    return -np.log(p[:, 0]).mean()


@case(x="f64[3]", y="f64")
def conditional_expression(x, y):
    s = x.sum()
    a = s if s > 0 else -s
    b = 2.0 if y > 100.0 else 3.0
    return a * b
