"""Tensor factories (tensor, zeros, ones, arange, randn, ...) and the random seed."""
from __future__ import annotations

import numpy as np

from . import dtypes
from .tensor import Tensor, _flatten_list, to_array

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "zeros_like", "ones_like", "full", "full_like",
           "empty", "empty_like", "eye", "arange", "linspace", "rand", "randn", "randint", "rand_like", "randn_like",
           "manual_seed", "seed"]

_gen = [np.random.default_rng()]


def _rng():
    return _gen[0]


def manual_seed(seed):
    """Seed the generator behind rand/randn/randint and nn's initialisers."""
    _gen[0] = np.random.default_rng(int(seed))
    return _gen[0]


def seed():
    s = int(np.random.SeedSequence().entropy % (2 ** 63))
    manual_seed(s)
    return s


def _finish(arr, dtype, requires_grad, float_default=True):
    npd = dtypes.to_numpy_dtype(dtype)
    if npd is not None:
        arr = arr.astype(npd, copy=False)
    elif float_default and arr.dtype.kind == "f":
        arr = arr.astype(dtypes.get_default_dtype().np, copy=False)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    shape = tuple(int(s) for s in size)
    for d in shape:
        if d < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {d}: {list(shape)}")
    return shape


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (float data becomes float32 unless it is a float64 ndarray)."""
    if isinstance(data, Tensor):
        data = data._data
    keep = isinstance(data, np.ndarray) or isinstance(data, np.generic)
    try:
        arr = np.array(to_array(data), copy=True)
    except ValueError:
        raise ValueError(_ragged(data)) from None
    if arr.dtype.kind not in "biuf":
        leaf = next(_flatten_list(data), None) if isinstance(data, (list, tuple)) else data
        raise TypeError(f"new(): invalid data type '{type(leaf).__name__}'")
    if arr.dtype == np.float64 and isinstance(data, (list, tuple)):
        # as torch: a NumPy float64 scalar inside the list makes the tensor float64
        keep = any(isinstance(v, np.float64) for v in _flatten_list(data))
    if arr.dtype == np.float16 and dtype is None:
        keep = True
    return _finish(arr, dtype, requires_grad, float_default=not keep)


def _ragged(data, dim=0):
    """torch's message for a nested list whose rows differ in length."""
    rows = [r for r in data if isinstance(r, (list, tuple))]
    if rows and len(rows) != len(data):
        return f"expected sequence of length {len(data[0]) if isinstance(data[0], (list, tuple)) else 0} at dim " \
               f"{dim + 1} (got {len(rows[0]) if not isinstance(data[0], (list, tuple)) else 0})"
    for r in rows[1:]:
        if len(r) != len(rows[0]):
            return f"expected sequence of length {len(rows[0])} at dim {dim + 1} (got {len(r)})"
    for r in rows:
        msg = _ragged(r, dim + 1)
        if msg:
            return msg
    return "" if dim else "could not make a tensor of this nested sequence"


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and dtype is None:
        return data
    if isinstance(data, np.ndarray) and dtype is None:
        return Tensor._make(data)
    return tensor(data, dtype=dtype)


def from_numpy(arr):
    """A tensor sharing memory with the ndarray `arr`."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    return Tensor._make(arr)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    return _finish(np.zeros(_shape(size), dtypes.to_numpy_dtype(dtype) or dtypes.get_default_dtype().np), None,
                   requires_grad, float_default=False)


def ones(*size, dtype=None, requires_grad=False, device=None):
    return _finish(np.ones(_shape(size), dtypes.to_numpy_dtype(dtype) or dtypes.get_default_dtype().np), None,
                   requires_grad, float_default=False)


def empty(*size, dtype=None, requires_grad=False, device=None):
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None:
        dtype = dtypes.get_default_dtype() if isinstance(fill_value, float) else \
            dtypes.bool_ if isinstance(fill_value, bool) else dtypes.int64
    return _finish(np.full(_shape((size,)), fill_value, dtypes.to_numpy_dtype(dtype)), None, requires_grad,
                   float_default=False)


def _like(x, fn, dtype, requires_grad):
    d = dtypes.to_numpy_dtype(dtype) or x._data.dtype
    return _finish(fn(x._data.shape, d), None, requires_grad, float_default=False)


def zeros_like(x, dtype=None, requires_grad=False):
    return _like(x, np.zeros, dtype, requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    return _like(x, np.ones, dtype, requires_grad)


def empty_like(x, dtype=None, requires_grad=False):
    return _like(x, np.zeros, dtype, requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False):
    return _like(x, lambda s, d: np.full(s, fill_value, d), dtype, requires_grad)


def rand_like(x, dtype=None, requires_grad=False):
    return _like(x, lambda s, d: _rng().random(s).astype(d), dtype, requires_grad)


def randn_like(x, dtype=None, requires_grad=False):
    return _like(x, lambda s, d: _rng().standard_normal(s).astype(d), dtype, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    return _finish(np.eye(n, m, dtype=dtypes.to_numpy_dtype(dtype) or dtypes.get_default_dtype().np), None,
                   requires_grad, float_default=False)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    is_float = any(isinstance(v, float) for v in (start, end, step))
    arr = np.arange(start, end, step)
    if dtype is None:
        arr = arr.astype(dtypes.get_default_dtype().np if is_float else np.int64)
    return _finish(arr, dtype, requires_grad, float_default=False)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    if int(steps) < 0:
        raise RuntimeError("number of steps must be non-negative")
    return _finish(np.linspace(start, end, int(steps)), dtype, requires_grad)


def rand(*size, dtype=None, requires_grad=False, generator=None, device=None):
    return _finish(_rng().random(_shape(size)), dtype, requires_grad)


def randn(*size, dtype=None, requires_grad=False, generator=None, device=None):
    return _finish(_rng().standard_normal(_shape(size)), dtype, requires_grad)


def randint(low, high=None, size=(), dtype=None, requires_grad=False, device=None):
    if high is None:
        low, high = 0, low
    return _finish(_rng().integers(low, high, size=tuple(size)), dtype or dtypes.int64, requires_grad)
