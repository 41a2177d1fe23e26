"""Functions for tests/grad/test_state.py: global state read by compiled code.

The tests change these globals between calls; each test restores them."""
import types

import numpy as np

Z = np.zeros(3)
Z1 = np.zeros(1)
CONFIG = {"l2": 0.1, "n": 2}
LR = [0.5]
LAM = 0.5
cfg = types.SimpleNamespace(lam=2.0, w=np.ones(3))
W = np.array([1.0, 2.0, 3.0])


def uses_global_array(x):
    return np.sum((x - Z) ** 2)


def uses_size_one_array(x):
    return np.sum(x * Z1)


def uses_dict_item(x):
    return np.sum(x ** 2) * CONFIG["l2"]


def uses_list_item(x):
    return np.sum(x) * LR[0]


def uses_attribute(x):
    return np.sum(x * cfg.w) * cfg.lam


def uses_scalar_global(x):
    return LAM * np.sum(x ** 2)


def scalar_decides_branch(x):
    if LAM > 1.0:
        return np.sum(x ** 3)
    return np.sum(x)


def dict_item_is_loop_bound(x):
    s = 0.0
    for i in range(CONFIG["n"]):
        s = s + np.sum(x) * i
    return s


def returns_global_times_one(w):
    return np.sum(w * W)


def with_default(x, scale=2.0):
    return np.sum(x) * scale


def helper(x):
    return x * 3.0


def calls_helper(x):
    return np.sum(helper(x))


def make_loss(batch):
    def loss(w):
        return np.sum((batch @ w) ** 2)
    return loss
