"""Scalar functions for the native tier's tests: loops, branches, tapes and their edge cases.

Each takes floats (and ints for trip counts); the tests differentiate them w.r.t. the floats."""
import math

import numpy as np


def scalar_loop(a, b, x0, n):
    x = x0
    for i in range(n):
        x = x + 0.01 * (a * math.sin(x) - b * x * x)
    return x


def negative_step(a, n):
    s = 0.0
    for i in range(n, 0, -2):
        s = s + a * i + math.cos(s * 0.1)
    return s


def data_dependent_while(a, b):
    x = a
    k = 0
    while x < b and k < 1000:
        x = x * 1.1 + 0.01
        k = k + 1
    return x * a


def break_continue_return(a, n):
    s = 0.0
    for i in range(n):
        if i % 3 == 1:
            continue
        s = s + a * math.exp(-0.1 * i)
        if s > 5.0:
            break
    return s * a


def early_return(a, b):
    for i in range(10):
        a = a * b
        if a > 2.0:
            return a + i
    return a * 0.5


def nested_loops(a, n, m):
    s = a
    for i in range(n):
        t = s
        for j in range(m):
            t = t * 0.9 + math.sin(a * j)
        s = s + 0.1 * t
    return s


def branchy(a, b):
    if a > b:
        c = a * a - b
    elif a < 0.0:
        c = -a * math.exp(b)
    else:
        c = math.log1p(a * a) + b
    return c * math.tanh(b)


def int_arithmetic(a, n):
    q = n // 3
    r = n % 3
    m = (-n) // 4
    s = (-n) % 4
    return a * (q + 10 * r + 100 * m + 1000 * s)


def numpy_scalars(a, b):
    x = np.float64(a) * np.sin(b)
    y = np.sqrt(x * x + 1.0)
    return y / (1.0 + np.exp(-x))


def float32_scalar(a, b):
    x = np.float32(0.5) * a
    return x * b + np.float32(0.25)


def long_tape(a, n):
    x = 0.5
    for i in range(n):
        x = x + 1e-6 * a * math.cos(x)
    return x


def python_division(a, b):
    return a / b


def python_sqrt(a):
    return math.sqrt(a) * 2.0


def python_int_overflow(a, n):
    k = n * n * n
    return a * (k % 7)


def weighted_sum(a, n):
    s = 0.0
    for i in range(n):
        s = s + a * i * 0.5
    return s


SCALE = 3.0


def uses_global_scale(a):
    return a * SCALE
