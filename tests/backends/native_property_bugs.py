"""Minimal functions of the bugs the native property tests found (test_native_properties.py)."""
import math

import numpy as np


def factor_sign(a):
    return a + math.sin(math.cos(a) * math.cos(a)) + math.sin(math.cos(math.sin(a)))


def float_floordiv(a, b):
    return a // 0.3 + b // -0.7


def float_mod(a, b):
    return a % 0.7 + b % -0.7


def math_cos_of_float32(a):
    g = np.sqrt(np.float32(a) * np.float32(a) + np.float32(0.5))
    return a + math.cos(g)


def float32_after_abs_of_an_int(a, n):
    return abs(n) * 0.125 + np.float32(a)


def int_division_after_abs(a, n):
    return a * (abs(n) // n)


def float32_gradient_through_abs(a):
    g = np.float32(a)
    s = math.sqrt(abs(a) + 0.25)
    return a + math.sin(s) + g


def sqrt_of_a_numpy_scalar(a):
    return math.sqrt(np.float64(a)) + a


def log_of_a_float32(a):
    return math.log(np.float32(a)) + a


def int_of_a_float(a):
    return a * int(a * 1e30 * 1e30 * 1e30)


def math_pow(a, b):
    return math.pow(a, b)


def dead_log(a, b):
    t = math.log(b)  # noqa: F841
    return a * 2.0


def dead_continue(a, b):
    for i in range(3):
        a = a * 1.5
        if math.sqrt(b) > 1.0:
            continue
    return a


def dead_int_division(a, n):
    k = n // 0  # noqa: F841
    return a


def builtin_max_min(a, b):
    return max(a, b) + min(a, b)


def float32_math(a):
    x = np.float32(a)
    return np.sin(x) + np.cos(x) * np.exp(x * np.float32(0.25)) + np.tanh(x) * np.log(x * x + np.float32(0.5))


def float32_sin(a):
    return np.sin(np.float32(a))


def float32_cos(a):
    return np.cos(np.float32(a))


def float32_exp(a):
    return np.exp(np.float32(a))


def float32_tanh(a):
    return np.tanh(np.float32(a))


def float32_log(a):
    return np.log(np.float32(a))


def returns_a_float_or_a_float32(a, b):
    if b < 0.2:
        return a * 1.1
    return np.float32(a)


def augassign_numpy_scalar(a):
    a = np.sin(a)
    s = a
    a += 0.1
    return a + s
