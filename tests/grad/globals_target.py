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
