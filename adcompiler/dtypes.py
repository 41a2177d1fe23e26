"""Tensor dtypes: `adcompiler.float32` and friends, each wrapping a NumPy dtype.

They compare equal to themselves and to the NumPy dtype they wrap, print as
`adcompiler.float32`, and float32 is the default, as in torch.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DType", "float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool_",
           "to_numpy_dtype", "from_numpy_dtype", "get_default_dtype", "set_default_dtype"]


class DType:
    __slots__ = ("name", "np", "is_floating_point", "itemsize")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.itemsize = self.np.itemsize

    @property
    def dtype(self):  # lets np.dtype(adcompiler.float32) work
        return self.np

    def __repr__(self):
        return f"adcompiler.{self.name}"

    def __eq__(self, other):
        if isinstance(other, DType):
            return other.np == self.np
        try:
            return np.dtype(other) == self.np
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.np)


float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
float16 = DType("float16", np.float16)
int64 = DType("int64", np.int64)
int32 = DType("int32", np.int32)
int16 = DType("int16", np.int16)
int8 = DType("int8", np.int8)
uint8 = DType("uint8", np.uint8)
bool_ = DType("bool", np.bool_)

_BY_NP = {d.np: d for d in (float32, float64, float16, int64, int32, int16, int8, uint8, bool_)}
_default = [float32]


def to_numpy_dtype(d):
    if d is None:
        return None
    if isinstance(d, DType):
        return d.np
    if d is float:
        return _default[0].np
    if d is int:
        return np.dtype(np.int64)
    if d is bool:
        return np.dtype(np.bool_)
    return np.dtype(d)


def from_numpy_dtype(d):
    d = np.dtype(d)
    try:
        return _BY_NP[d]
    except KeyError:
        raise TypeError(f"adcompiler has no dtype for NumPy's {d}") from None


def get_default_dtype():
    return _default[0]


def set_default_dtype(d):
    d = from_numpy_dtype(to_numpy_dtype(d))
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d
