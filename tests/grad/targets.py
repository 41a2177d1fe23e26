"""Functions the API tests differentiate (in a real file, for inspect.getsource)."""
import math

import numpy as np


def quad(x, y):
    return np.sum(x * x) * y + 3.0 * y


def scalar(a, b=2.0):
    return a * a * b + math.sin(a)


def with_aux(x):
    loss = np.sum(x ** 2)
    return loss, {"norm": np.sqrt(loss), "n": 3}


def vector_out(x):
    return x * 2.0


def needs_tracing(x):
    try:
        return np.sum(np.sin(x))
    except ValueError:
        return 0.0


def loses_gradient(x):
    try:
        y = float(np.sum(x))   # leaves the graph: must raise, naming this line
    except ValueError:
        y = 0.0
    return y * 2.0


def unknown_numpy(x):
    try:
        pass
    finally:
        pass
    return np.sum(np.median(x))


def structured(params, x):
    w, b = params["w"], params["b"]
    return np.sum(np.tanh(x @ w + b))


def tensor_in(x):
    return (x * x).sum()


def divide(x):
    return np.sum(x / (1.0 + x * x))


def iterate_while_mutating(a, x):
    v = x * a
    t = 0.0
    for e in v:
        v[2] = e * 2.0   # NumPy's loop sees this write on its next step
        t = t + e
    return t + np.sum(v)


def iterate_copy_while_mutating(a, x):
    v = x * a
    t = 0.0
    for e in v.copy():
        v[2] = e * 2.0
        t = t + e
    return t + np.sum(v)


def smooth(x):
    return x ** 3 * math.exp(-0.5 * x) + math.sin(2.0 * x)


def looped(x):
    y = x
    for i in range(5):
        y = y - 0.1 * math.sin(y) * x
    return y * y


def vector_energy(x):
    return np.sum(np.cos(x) * x ** 2) + np.sum(x[1:] * x[:-1])


def with_tuple_aux(x):
    loss = np.sum(x ** 2)
    return loss, (np.sqrt(loss), x * 2.0)


def view_used_then_written(a, x):
    v = x * a
    w = v[1:]              # a view: NumPy's w sees the later write
    s = np.sum(w * w)      # ... but this product was computed before it
    v[1] = 5.0
    return s + np.sum(w) + np.sum(v)


def with_mode(x, mode="sum", weights=None):
    if weights is not None:
        x = x * weights
    if mode == "sum":
        return np.sum(x * x)
    return np.mean(x * x)


class Model:
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return np.sum((x @ self.w) ** 2)
