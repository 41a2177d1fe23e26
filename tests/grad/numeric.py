"""Numerical helpers shared by the gradient tests."""
import numpy as np


def fd_grad(f, x, h=1e-6):
    """Central finite differences of scalar f at the float64 array x."""
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out
