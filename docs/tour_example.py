"""The function that docs/compiler-tour.md follows through the compiler.

Reproduce every listing of the tour from the repository root:

    adc ir   docs/tour_example.py::damped --arg x=f64 --arg a=f64 --arg steps=i64
    adc ir   docs/tour_example.py::damped --arg x=f64 --arg a=f64 --arg steps=i64 --after dce
    adc ir   docs/tour_example.py::damped --arg x=f64 --arg a=f64 --arg steps=i64 --after dce --wrt x
    adc grad docs/tour_example.py::damped --arg x=f64 --arg a=f64 --arg steps=i64 --wrt x --ir
    adc grad docs/tour_example.py::damped --arg x=f64 --arg a=f64 --arg steps=i64 --wrt x --wrt a
"""
import numpy as np


def damped(x, a, steps):
    y = x
    for i in range(steps):
        # which branch runs depends on the value of y: the adjoint must remember it
        if y * y > 1.0:
            y = y - a * (y * y)
        else:
            y = np.sin(y) + a * x
    return y * y
