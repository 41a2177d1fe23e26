"""More differentiation targets for the three-way tests (compiled, traced,
finite differences), beyond the front end's corpus: broadcasting, if/elif on
data, carried arrays, break, early return, helpers in loops, a small MLP, and
functions the compiler must hand to the tracer (recursion, try/except)."""
import math

import numpy as np

from tests.corpus import Case

CASES = []
_W = np.array([[0.5, -0.3, 0.8], [0.1, 0.9, -0.4], [-0.7, 0.2, 0.6], [0.3, -0.5, 0.1]])


def case(values=None, expect="compiled", **types):
    def deco(fn):
        c = Case(fn, types, values or {})
        c.expect = expect
        CASES.append(c)
        return fn
    return deco


@case(x="f64[3]", y="f64[4]")
def broadcast_outer(x, y):
    return np.sum(np.tanh(x[:, None] * y[None, :]))


@case(x="f64[4]")
def elif_chain(x):
    s = np.sum(x)
    if s > 1.0:
        r = s * s
    elif s > -1.0:
        r = np.sin(s) * 3.0
    else:
        r = -s
    return r + np.sum(x * x)


@case(x="f64[3]")
def while_carried_array(x):
    y = x
    k = 0
    while k < 4:
        y = np.tanh(y) + 0.5 * x
        k = k + 1
    return np.sum(y * y)


@case(x="f64[5]")
def break_on_data(x):
    s = 0.0
    for i in range(5):
        s = s + x[i] * x[i]
        if s > 1.5:
            break
    return s


@case(x="f64[4]")
def early_return_in_loop(x):
    acc = 1.0
    for i in range(4):
        acc = acc * (1.0 + 0.5 * np.tanh(x[i]))
        if acc > 1.8:
            return acc * 2.0
    return acc


def _smooth_step(v, w):
    if v > 0:
        return v * w
    return np.sin(v) * w


@case(x="f64[4]", w="f64")
def helper_in_loop(x, w):
    total = 0.0
    for i in range(4):
        total = total + _smooth_step(x[i], w)
    return total


@case(w1="f64[4,3]", x="f64[5,4]")
def small_mlp(w1, x):
    h = np.tanh(x @ w1)
    logits = h @ _W.T
    m = np.max(logits, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(logits - m), axis=1)) + m[:, 0]
    return np.mean(lse - logits[:, 0])


@case(x="f64[6]")
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@case(x="f64[4]")
def slice_update_in_loop(x):
    y = np.zeros(4)
    for i in range(1, 4):
        y[i] = y[i - 1] * 0.5 + x[i] * x[i - 1]
    return np.sum(y)


@case(x="f64[3]", a="f64")
def nested_while_in_for(x, a):
    s = 0.0
    for i in range(3):
        v = x[i]
        n = 0
        while n < 2:
            v = v * a + 0.1
            n = n + 1
        s = s + v
    return s


@case(x="f64[3,4]")
def moments(x):
    return np.sum(np.var(x, axis=0)) + np.std(x) + np.mean(x, axis=1).sum()


@case(x="f64[5]")
def relu_where(x):
    return np.sum(np.where(x > 0.1, x * x, 0.1 * x)) + np.sum(np.maximum(x, 0.0))


@case(x="f64[4]")
def norm_and_dot(x):
    return np.linalg.norm(x) + np.dot(x, x[::-1])


@case(a="f64", b="f64")
def scalar_ode(a, b):
    x = 0.5
    for i in range(50):
        x = x + 0.01 * (a * math.sin(x) - b * x * x)
    return x


@case(x="f64[3]")
def alternating_mod(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            s = s + x[i // 2] * x[i // 2]
        else:
            s = s - (x[i // 2] % 1.5)
    return s


def _power(x, n):
    if n == 0:
        return 1.0
    return x * _power(x, n - 1)


@case(x="f64", n="i64", values={"n": 3}, expect="traced")
def recursive_power(x, n):
    return _power(x, n) + x


@case(x="f64[3]", expect="traced")
def with_try(x):
    try:
        y = np.sum(x * x)
    except ValueError:
        y = 0.0
    return y


# ---- issue 11: lists, comprehensions, closures, literal shapes, index lists -----------------------

_U = np.array([[0.3, -0.2], [0.1, 0.4]])


@case(x="f64[4,2]")
def rnn_hidden_states(x):
    h = np.zeros((2,))
    hs = []
    for t in range(x.shape[0]):
        h = np.tanh(_U @ h + x[t])
        hs.append(h)
    return np.sum(np.stack(hs) ** 2) + np.mean(np.array(hs)[-1])


@case(x="f64[3]")
def reductions_of_lists(x):
    return np.mean([x, x + 2]) + np.std((x[0], x[1] * 3.0, 2.0)) + sum(x[i] * x[2 - i] for i in range(3))


@case(x="f64[3]")
def closure_and_lambda(x):
    s = np.sum(x)

    def scaled(v, k=2.0):
        return v * s * k
    twice = lambda f, v: f(f(v))  # noqa: E731
    return np.sum(twice(scaled, x)) + np.sum(np.zeros((2, 3)) + x[[2, 0, 1]])
