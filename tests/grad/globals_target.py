"""A module whose globals a test rebinds (kept apart from targets.py so tests stay independent)."""
import numpy as np

W = np.array([1.0, 2.0, 3.0])
SCALE = 2.0


def loss(x):
    return np.sum((x * W) ** 2) * SCALE


def make(c):
    def f(x):
        return np.sum(np.sin(x) * c)
    return f


TABLE = np.array([1.0, 2.0, 3.0])


def squared_table(x):
    return np.sum(x * TABLE ** 2)   # TABLE ** 2 must not be folded: TABLE may change in place
