"""Shape primitives: reshape, transpose, squeeze/expand_dims, broadcast_to and
its adjoint sum_to, copy and dtype casts, with their VJP rules. All are linear:
their tangent is the primitive applied to the tangent (`linear=True`).

The views (kind "view") are the elements of their argument rearranged; sum_to is
a reduction (over the broadcast axes) that returns its argument itself when
there is nothing to sum, so it may alias too. copy and astype are elementwise."""
from __future__ import annotations

import numpy as np

from .core import Abstract, Primitive, shape_of
from .dims import broadcast_shapes, has_dims, shape_text


def _first_shape(args, params, shape):
    return Abstract(shape, np.dtype(args[0].dtype) if hasattr(args[0], "dtype") else np.result_type(args[0]))


def _contiguous(x):
    data = getattr(x, "_data", x)
    return not isinstance(data, np.ndarray) or data.flags.c_contiguous


def _reshape_impl(x, shape):
    return np.reshape(x, shape)


def _resolve_shape(old, shape):
    """`shape` with its -1 worked out, as NumPy would."""
    if has_dims(old) or has_dims(shape):
        return _resolve_symbolic(old, shape)
    n = int(np.prod(old, dtype=np.int64))
    shape = tuple(int(s) for s in shape)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        shape = tuple(n // known if s == -1 and known else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != n or shape.count(-1) > 1:
        raise ValueError(f"cannot reshape array of size {n} into shape {tuple(shape)}")
    return shape


def _resolve_symbolic(old, shape):
    n = _product(old)
    shape = tuple(shape)
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in shape:
        known = _product(s for s in shape if not (isinstance(s, int) and s == -1))
        if not known:
            raise ValueError(f"cannot reshape array of size {n} into shape {shape}")
        shape = tuple(n // known if isinstance(s, int) and s == -1 else s for s in shape)
    if not _product(shape) == n:
        raise ValueError(f"cannot reshape array of size {n} into shape {tuple(map(str, shape))}")
    return shape


def _product(dims):
    n = 1
    for d in dims:
        n = n * d
    return n


reshape = Primitive(
    "reshape", _reshape_impl,
    grad_fn=lambda a, p: "ViewBackward0" if _contiguous(a[0]) else "UnsafeViewBackward0", kind="view",
    numpy_name="reshape", linear=True,
    shape_rule=lambda a, p: _first_shape(a, p, _resolve_shape(shape_of(a[0]), p["shape"])))
reshape.defvjp(lambda g, x, out, shape: reshape(g, shape=shape_of(x)))


def inverse_permutation(axes):
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a] = i
    return tuple(inv)


transpose = Primitive(
    "transpose", lambda x, axes: np.transpose(x, axes), grad_fn="PermuteBackward0", kind="view",
    numpy_name="transpose", linear=True,
    shape_rule=lambda a, p: _first_shape(a, p, tuple(shape_of(a[0])[i] for i in p["axes"])))
transpose.defvjp(lambda g, x, out, axes: transpose(g, axes=inverse_permutation(axes)))


def swap_last2(x):
    """x with its last two axes swapped (a batched matrix transpose)."""
    n = len(shape_of(x))
    return transpose(x, axes=tuple(range(n - 2)) + (n - 1, n - 2))


squeeze = Primitive(
    "squeeze", lambda x, axis=None: np.squeeze(x, axis=axis),
    grad_fn=lambda a, p: "SqueezeBackward0" if p.get("axis") is None else "SqueezeBackward1", kind="view",
    numpy_name="squeeze", linear=True)
squeeze.defvjp(lambda g, x, out, axis=None: reshape(g, shape=shape_of(x)))

expand_dims = Primitive("expand_dims", lambda x, axis: np.expand_dims(x, axis), grad_fn="UnsqueezeBackward0",
                        kind="view", numpy_name="expand_dims", linear=True)
expand_dims.defvjp(lambda g, x, out, axis: reshape(g, shape=shape_of(x)))



def _axes(axis, ndim):
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = sorted(int(a) % ndim if -ndim <= int(a) < ndim else ndim for a in axes)
    if out and out[-1] >= ndim or len(set(out)) != len(out):
        raise ValueError(f"axis {axis} is out of bounds or repeated for an array of dimension {ndim}")
    return out


def _expand_dims_dims(args, params):
    shape = list(shape_of(args[0]))
    axes = _axes(params["axis"], len(shape) + (len(params["axis"]) if isinstance(params["axis"], tuple) else 1))
    for a in axes:
        shape.insert(a, 1)
    return Abstract(tuple(shape), args[0].dtype)


def _squeeze_dims(args, params):
    shape = shape_of(args[0])
    axis = params.get("axis")
    axes = range(len(shape)) if axis is None else _axes(axis, len(shape))
    drop = [a for a in axes if shape[a] == 1]      # (on an extent like n0 - 1: a guard)
    if axis is not None and len(drop) != len(axes):
        raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return Abstract(tuple(d for a, d in enumerate(shape) if a not in drop), args[0].dtype)


expand_dims.dims_rule = _expand_dims_dims
squeeze.dims_rule = _squeeze_dims

def _broadcast_to_shape(args, params):
    shape = tuple(params["shape"])
    if not broadcast_shapes(shape_of(args[0]), shape) == shape:
        raise ValueError(f"operands could not be broadcast together with remapped shapes [original->remapped]: "
                         f"{shape_text(shape_of(args[0]))} and requested shape {shape_text(shape)}")
    return _first_shape(args, params, shape)


broadcast_to = Primitive(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape), grad_fn="ExpandBackward0", kind="view",
    numpy_name="broadcast_to", linear=True, shape_rule=_broadcast_to_shape)


def _sum_to(x, shape):
    x = np.asarray(x)
    shape = tuple(shape)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and x.shape[i + lead] != 1)
    if axes:
        x = np.sum(x, axis=axes, keepdims=True)
    return x.reshape(shape) if x.shape != shape else x


sum_to = Primitive("sum_to", _sum_to, grad_fn="SumBackward1", kind="reduction", linear=True,
                   may_alias=True,  # the argument itself when there is nothing to sum
                   shape_rule=lambda a, p: _first_shape(a, p, tuple(p["shape"])))
broadcast_to.defvjp(lambda g, x, out, shape: sum_to(g, shape=shape_of(x)) if shape_of(g) != shape_of(x) else g)
sum_to.defvjp(lambda g, x, out, shape: broadcast_to(g, shape=shape_of(x)))

copy = Primitive("copy", lambda x: np.array(x, copy=True), grad_fn="CloneBackward0", kind="elementwise",
                 numpy_name="array", scalar=lambda m, x: x, scalar_kinds="fiub", linear=True)
copy.defvjp(lambda g, x, out: g)


def _stop_gradient(x):
    return x if isinstance(x, (bool, int, float)) else np.array(x, copy=True)


# a copy with no derivative (jax.lax.stop_gradient; torch's detach, without the shared memory):
# nothing is recorded for it, no adjoint or tangent flows through it
stop_gradient = Primitive("stop_gradient", _stop_gradient, kind="elementwise", differentiable=False,
                          numpy_name="array", scalar=lambda m, x: x, scalar_kinds="fiub",
                          doc="`x` as a constant: no derivative flows through it (compiled, traced and eager).")

astype = Primitive("astype", lambda x, dtype: np.asarray(x).astype(dtype), grad_fn="ToCopyBackward0",
                   shape_rule=lambda a, p: Abstract(shape_of(a[0]), p["dtype"]), kind="elementwise",
                   scalar=lambda m, x, dtype: m.cast(x, dtype), scalar_args="own", scalar_kinds="fiub",
                   linear=True)  # between floats; a cast to an integer has no tangent (ops.jvp)
astype.defvjp(lambda g, x, out, dtype: astype(g, dtype=x.dtype))

__all__ = ["reshape", "transpose", "swap_last2", "squeeze", "expand_dims", "broadcast_to", "sum_to",
           "stop_gradient",
           "copy", "astype", "inverse_permutation"]
