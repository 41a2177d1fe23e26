"""Functions for tests/grad/test_soundness.py: in-place writes, aliases and views.

The compiler reads their source, so they live in a real module."""
import math

import numpy as np


def alias_written_in_loop(x):
    a = x * 1.0
    b = a
    for i in range(1):
        a[0] = 0.0
    return np.sum(b * x)


def alias_from_previous_iteration(x):
    a = np.zeros(3)
    out = 0.0
    for i in range(2):
        a[0] = 5.0
        out = out + np.sum(a * x)
        a = x * 2.0
    return out


def alias_carried_out_of_loop(x):
    a = x * 1.0
    b = a
    for i in range(2):
        b = a
        a = a * 1.0
    b[1] = 0.0
    return np.sum(a * x) + np.sum(b)


def zero_d_alias(x):
    s = np.where(x[0] > 0.0, 1.0, np.sum(x))
    t = s
    s += 100.0
    return t * x[1]


def array_augassign_alias(x):
    a = x * 1.0
    b = a
    a += 1.0
    return np.sum(b * x)


def view_written_then_base_read(x):
    a = x * 2.0
    v = a[1:]
    v[0] = 0.0
    return np.sum(a * x)


def write_then_alias_unused(x):
    a = x * 2.0
    b = a
    s = np.sum(b)
    a[0] = 1.0
    return np.sum(a * x) + s


def write_in_branch(x):
    y = x * 1.0
    if x[0] > 0:
        y[1] = 3.0 * x[2]
    return np.sum(y * y)


def fill_in_loop(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x[i] * x[i]
    return np.sum(y)


def write_argument_in_loop_alias(x):
    a = np.zeros(3)
    for i in range(2):
        a[0] = 5.0
        a = x
    return np.sum(a)


def numpy_sin(x):
    return np.sin(x) * 2.0


def python_division(x):
    return x / 0.0


def math_sqrt(x):
    return math.sqrt(x) + x


def python_power(x):
    return x ** 0.5


def numpy_log_of_sum(x):
    return np.log(np.sum(x) - 6.0)


def overwritten_in_loop(x):
    s = np.sqrt(x[0])
    for i in range(3):
        s = x[1] * i
    return s


def overwritten_in_branch(x):
    s = np.sqrt(x[0])
    if x[1] > 0.0:
        s = x[1] * 2.0
    return s + x[2]


def overwritten_in_while(x):
    s = np.sqrt(x[0])
    k = 0
    while k < 2:
        s = x[1] * k
        k = k + 1
    return s


def alias_of_a_new_array_accumulated_in_loop(x):
    acc = np.zeros(3)
    total = acc
    for i in range(3):
        acc += x * x[i]
    return np.sum(total)
