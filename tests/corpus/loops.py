"""Loops: for over range / arrays / enumerate / zip, while, break, continue,
return inside loops, nested loops, loop-carried arrays."""
import math

import numpy as np

from . import case


@case(x="f64[5]", n="i64", values={"n": 4})
def for_range(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc + x[i] * x[i]
    return acc


@case(x="f64[6]")
def for_range_step(x):
    acc = 0.0
    for i in range(1, 6, 2):
        acc += x[i]
    for j in range(5, 0, -2):
        acc -= x[j] * 0.5
    return acc


@case(x="f64[4,3]")
def for_rows(x):
    total = np.zeros(3)
    for row in x:
        total = total + row * row
    return total.sum()


@case(x="f64[4]", y="f64[4]")
def for_zip_enumerate(x, y):
    s = 0.0
    for i, (a, b) in enumerate(zip(x, y)):
        s = s + a * b * i
    return s


@case(a="f64", b="f64")
def scalar_ode(a, b):
    x = 0.5
    for _ in range(100):
        x = x + 0.01 * (a * math.sin(x) - b * x * x)
    return x


@case(x="f64", values={"x": 37.0})
def while_loop(x):
    k = 0
    while x > 1.0:
        x = x / 2.0
        k += 1
    return x + k


@case(x="f64[5]")
def for_break(x):
    s = 0.0
    for i in range(5):
        if x[i] > 0.5:
            break
        s = s + x[i]
    return s


@case(x="f64[5]")
def for_continue(x):
    s = 0.0
    for v in x:
        if v < 0:
            continue
        s = s + v * v
    return s


@case(x="f64[5]")
def return_in_loop(x):
    for i in range(5):
        if x[i] > 0.9:
            return x[i] * 10.0
    return x.sum()


@case(x="f64[3,4]")
def nested_loops(x):
    s = 0.0
    for i in range(3):
        for j in range(4):
            s = s + x[i, j] * (i + 1) * (j + 1)
    return s


@case(x="f64[5]")
def loop_setitem(x):
    out = np.zeros(5)
    for i in range(5):
        out[i] = x[i] * 2.0 + 1.0
    return (out * x).sum()


@case(x="f64", values={"x": 0.3})
def while_break(x):
    i = 0
    while i < 100:
        x = x * 1.5
        if x > 10.0:
            break
        i = i + 1
    return x


@case(x="f64[4]")
def loop_array_carried(x):
    y = x
    for _ in range(3):
        y = np.tanh(y) * 0.5 + x
    return y.sum()


@case(x="f64[4]", values=None)
def while_continue(x):
    i = 0
    s = 0.0
    while i < 4:
        i += 1
        if x[i - 1] < 0:
            continue
        s += x[i - 1]
    return s


@case(x="f64[3]")
def loop_over_tuple(x):
    total = 0.0
    for scale in (1.0, 2.0, 3.0):
        total = total + (x * scale).sum()
    return total


@case(x="f64", values={"x": 0.7})
def while_true_break(x):
    while True:
        x = x * 2.0
        if x > 10.0:
            break
    return x
