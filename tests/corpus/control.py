"""Branches: if/elif/else on data and on shapes, early return, nested branches."""
import numpy as np

from . import case


@case(x="f64")
def if_else(x):
    if x > 0.0:
        y = x * 2.0
    else:
        y = -x
    return y + 1.0


@case(x="f64")
def if_elif_else(x):
    if x > 0.5:
        r = x
    elif x > -0.5:
        r = x * x
    else:
        r = -x
    return r


@case(x="f64[3]")
def if_without_else(x):
    y = x * 1.0
    if x.sum() > 0:
        y = y * 2.0
    return y.sum()


@case(x="f64[3]")
def early_return(x):
    if x.sum() > 0:
        return x.sum()
    y = x * x
    return y.sum()


@case(x="f64")
def early_return_both(x):
    if x > 0:
        return x
    else:
        return -x


@case(x="f64[3]", y="f64[2,3]")
def shape_dispatch(x, y):
    total = 0.0
    for a in (x, y):
        if a.ndim == 2:
            total = total + a.sum(axis=1).sum()
        else:
            total = total + a.sum()
    return total


@case(x="f64", y="f64")
def nested_if(x, y):
    r = 0.0
    if x > 0:
        if y > 0:
            r = x * y
        else:
            r = x - y
    else:
        r = y
    return r


@case(x="f64[3]", flag="bool")
def bool_argument(x, flag):
    if flag:
        return x.sum()
    return x.prod()


@case(x="f64[3]")
def if_in_expression_types(x):
    s = x.sum()
    y = 1 if s > 0 else 2.5
    return s * y


@case(x="f64")
def return_inside_nested_if(x):
    if x > 0:
        if x > 1:
            return x * 3.0
        x = x + 1.0
    return x * 2.0
