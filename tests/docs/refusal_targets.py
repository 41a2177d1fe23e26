"""Functions that make the compiler refuse with each message docs/concepts.md quotes in its
list of reasons to trace (test_refusal_list.py checks both directions)."""
import numpy as np


def fact(x, n):
    return x if n <= 1 else x * fact(x, n - 1)


def recursion(x):
    return np.sum(fact(x, 3))


def lambda_after_return(x):
    def make(s):
        return lambda v: v * s
    return np.sum(make(x)(x))


def closure_writes_enclosing(x):
    y = x * 2.0

    def inner(v):
        y[0] = v
    inner(x[1])
    return np.sum(y)


def read_under_if(x):
    hs = [x]
    while np.sum(hs[0]) < 10.0:
        hs.append(x * 2.0)
    if np.sum(x) > 0:
        return np.sum(np.stack(hs))
    return 0.0


def append_after_read(x):
    hs = []
    for t in range(3):
        if np.sum(x) > t:
            hs.append(x * t)
    a = np.stack(hs)
    hs.append(x)
    return np.sum(a)


def length_needed(x):
    hs = []
    for t in range(3):
        if np.sum(x) > t:
            hs.append(x * t)
    return np.sum(np.stack(hs) + np.ones((3, 3)))


def append_with_two_names(x):
    hs = []
    ys = hs
    for t in range(3):
        hs.append(x * t)
    return np.sum(np.stack(ys))


class _Proxy:
    @property
    def __class__(self):
        raise RuntimeError("outside of application context")


current_app = _Proxy()


def uninspectable_global(x):
    return np.sum(x) if current_app is not None else 0.0


def no_primitive(x):
    return np.median(x).sum()


# message quoted in docs/concepts.md -> (function, its argument types)
TARGETS = {
    "recursive call to 'fact' is not supported": (recursion, ["f64[3]"]),
    "calling '<lambda>' after the function that defined it has returned": (lambda_after_return, ["f64[3]"]),
    "'inner' changes 'y' of its enclosing function in place": (closure_writes_enclosing, ["f64[3]"]),
    "the list 'hs', whose length is known only at run time, is read here inside an if or a loop":
        (read_under_if, ["f64[3]"]),
    "appending to 'hs' after it was read as an array": (append_after_read, ["f64[3]"]),
    "where len_hs is the length of the list 'hs', known only when the code runs": (length_needed, ["f64[3]"]),
    "appending to 'hs', which 'ys' also refers to": (append_with_two_names, ["f64[3]"]),
    "'current_app' cannot be inspected at compile time": (uninspectable_global, ["f64[3]"]),
    "np.median() is not supported by the compiler (no primitive for it)": (no_primitive, ["f64[3]"]),
}
