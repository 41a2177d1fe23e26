"""Helpers for scenarios run on adcompiler and on real torch: a scenario takes the module (`adcompiler`
or `torch`) and returns a log of plain values, and the two logs must be equal."""
from __future__ import annotations

import pytest


def val(v, digits=4):
    """A tensor (or nested tuple/list of them, or None) as rounded plain lists."""
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        return tuple(val(x, digits) for x in v)
    if isinstance(v, (int, float, str)):
        return v
    return [round(float(a), digits) for a in v.detach().reshape(-1).tolist()]


def attempt(fn):
    """fn()'s result, or its exception as "TypeName: message"."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the scenario logs what is raised
        return f"{type(e).__name__}: {e}"


def torch_or_skip():
    return pytest.importorskip("torch")
