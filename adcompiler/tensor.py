"""Tensor: an ndarray with PyTorch's autograd semantics.

Every operation on Tensors applies a primitive of the table (adcompiler.ops)
through `bind`; the handler registered here runs the NumPy forward and, when
grad mode is on and an input requires grad, records a `PrimNode`. In-place
operations, views and version counters follow torch's rules.
"""
from __future__ import annotations

import collections
import numbers
import re
import weakref
import warnings

import numpy as np

from . import _format, dtypes
from . import ops as P
from .autograd import engine, grad_mode
from .autograd.graph import PrimNode, accumulate_node, moved, named
from .autograd.hooks import add_hook, hooks_of, on_record
from .autograd.recording import STATE as _recording
from .ops.core import register_handler
from .ops.indexing import is_advanced

__all__ = ["Tensor", "Size", "apply_prim", "type_name", "to_array"]

_F64 = np.dtype(np.float64)
_VC0 = (0,)  # the version counter of a tensor never modified, viewed or watched (see Tensor._counter)
_escape_hook = None  # set by adcompiler.tracing: raises when a traced value would leave the graph
_AxisError = np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError
_state = grad_mode._state


class Size(tuple):
    """A tensor's shape: a tuple that prints as `adcompiler.Size([2, 3])`."""

    def __repr__(self):
        return f"adcompiler.Size({list(self)})"

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n


def _return_type(name):
    """torch.return_types.max and friends: a (values, indices) named tuple printed as torch prints it."""
    base = collections.namedtuple(name, ["values", "indices"])

    def __repr__(self):
        return f"adcompiler.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    return type(name, (base,), {"__slots__": (), "__repr__": __repr__})


MaxResult = _return_type("max")
MinResult = _return_type("min")

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "int64": "LongTensor",
               "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}


def type_name(t):
    return "adcompiler." + _TYPE_NAMES.get(t._data.dtype.name, "Tensor")


def _unwrap(a):
    return a._data if isinstance(a, Tensor) else a


def apply_prim(prim, args, params, name=None):
    """Run `prim` on Tensor arguments; record a node when gradients are needed."""
    raw = []
    record = False
    cls = Tensor
    enabled = _state.enabled and prim.differentiable
    for a in args:  # one pass: the arrays, whether to record, and the result's class
        if isinstance(a, Tensor):
            raw.append(a._data)
            if a._sticky:
                cls = a.__class__
            if enabled and not record and (a._grad_fn is not None or a._requires_grad):
                record = True
        else:
            raw.append(a)
    try:
        out = prim.impl(*raw, **params)
    except (ValueError, IndexError) as e:  # never a bare NumPy error: say it as torch does
        if cls._sticky:
            raise numpy_error(e) from None  # traced NumPy code: NumPy's words, and the user's line
        raise torch_error(prim.name, raw, params, e) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if out.dtype is _F64:
        r0 = raw[0]
        if not (r0.__class__ is np.ndarray and r0.dtype is _F64) and not cls._sticky:
            out = _demote_f64(out, raw, params)  # (traced NumPy code keeps NumPy's dtypes)
    res = cls._make(out)
    if cls._sticky and out.ndim == 0:
        res._np_scalar = _numpy_returns_scalar(prim, args)
    obase = out.base
    if obase is not None and args:
        a0 = args[0]
        if isinstance(a0, Tensor):
            base = raw[0]
            if obase is base or (base.base is not None and obase is base.base):
                res._vc = a0._counter()
                root = res._base = a0._base if a0._base is not None else a0
                if root._grad_fn is not None or not root._requires_grad:
                    _register_view(root, res)  # its grad_fn follows later in-place changes of root
    if record:
        if cls._sticky and prim.saves_out:
            res._counter()  # (traced NumPy code: Tensor._snapshot_savers compares counters)
        res._grad_fn = node = PrimNode(prim, args, params, out, res, name or prim.grad_fn_name(args, params), Tensor)
        if _recording.active:  # anomaly mode or saved-tensor hooks
            on_record(node, prim, args, res)
        if cls._sticky:
            _register_savers(node, prim, args, res)
    return res


def _any_sticky(args):
    for a in args:
        if isinstance(a, Tensor) and a._sticky:
            return True
    return False


# What NumPy returns for a 0-d result: a 0-d ndarray for these, a scalar (np.float64) for ufuncs,
# reductions, dot/matmul/norm and the like; a method of a scalar returns a scalar. It matters to
# the tracer: `a += b` writes into a 0-d array but rebinds a scalar.
_ZERO_D_ARRAY = frozenset({"where", "broadcast_to"})
_LIKE_ARGUMENT = frozenset({"reshape", "transpose", "squeeze", "expand_dims", "copy", "astype", "getitem",
                            "sum_to"})


def _numpy_returns_scalar(prim, args):
    name = prim.name
    if name in _ZERO_D_ARRAY:
        return False
    if name in _LIKE_ARGUMENT:
        a0 = args[0] if args else None
        return isinstance(a0, Tensor) and a0._np_scalar
    return True


def numpy_error(exc):
    """`exc`, NumPy's own error, with the user's file:line added (the tracer runs NumPy code)."""
    from .numpy_interop import user_location
    msg = f"{str(exc).rstrip()} ({user_location()})"
    try:
        return type(exc)(msg)
    except Exception:
        return ValueError(msg) if isinstance(exc, ValueError) else IndexError(msg)


def _register_savers(node, prim, args, res):
    """Traced NumPy code may later write into an array this node saved: note the node on the
    array's storage so the write can hand it a copy first (see Tensor._snapshot_savers)."""
    saved = [args[i] for i in prim.saves if i < len(args) and isinstance(args[i], Tensor)]
    if prim.saves_out:
        saved.append(res)
    for t in saved:
        if t._sticky:
            root = t._base if t._base is not None else t
            savers = root.__dict__.get("_savers")
            if savers is None:
                savers = root.__dict__["_savers"] = weakref.WeakSet()
            savers.add(node)


def _register_view(root, view):
    views = root.__dict__.get("_views")
    if views is None:
        views = root.__dict__["_views"] = weakref.WeakValueDictionary()
    views[id(view)] = view


def _demote_f64(out, raw, params):
    """Torch keeps float32 when an integer tensor meets a Python float (np.float64 is one); NumPy would give
    float64. An explicit conversion (`.double()`, `.to(float64)`) keeps what it asked for."""
    if params.get("dtype") is not None:
        return out
    for r in raw:
        if isinstance(r, np.ndarray) and r.dtype == _F64:
            return out
    return out.astype(dtypes.get_default_dtype().np)


# ---- torch-style errors for what NumPy refuses -------------------------------------
_BROADCASTING = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "eq", "ne", "lt", "le", "gt",
                 "ge", "logical_and", "logical_or", "setitem", "clip"}


def broadcast_error(shapes):
    """torch's message for the first pair of `shapes` that do not broadcast (None if they all do)."""
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            sa, sb = shapes[i], shapes[j]
            n = max(len(sa), len(sb))
            for k in range(1, n + 1):
                da = sa[-k] if k <= len(sa) else 1
                db = sb[-k] if k <= len(sb) else 1
                if da != db and da != 1 and db != 1:
                    return RuntimeError(f"The size of tensor a ({da}) must match the size of tensor b ({db}) at "
                                        f"non-singleton dimension {n - k}")
    return None


def dim_error(dim, ndim):
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    return IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")


def wrap_dim(dim, ndim):
    """`dim` as a non-negative axis of an `ndim`-D tensor, or torch's IndexError."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise dim_error(dim, ndim)
    return dim % n


def torch_error(name, raw, params, exc):
    """The exception torch raises where NumPy raised `exc` running primitive `name` on `raw`."""
    shapes = [tuple(np.shape(r)) for r in raw if isinstance(r, (np.ndarray, np.generic, numbers.Number))]
    if isinstance(exc, _AxisError):
        return dim_error(exc.axis, exc.ndim)
    if name in _BROADCASTING or (name == "matmul" and min(map(len, shapes)) > 2):
        if name == "matmul":  # the batch dimensions must broadcast
            shapes = [s[:-2] for s in shapes]
        err = broadcast_error(shapes)
        if err is not None:
            return err
    if name == "concatenate":
        nd = {len(s) for s in shapes}
        if len(nd) > 1:
            return RuntimeError(f"Tensors must have same number of dimensions: got {len(shapes[0])} and "
                                f"{next(len(s) for s in shapes if len(s) != len(shapes[0]))}")
        ax = params.get("axis", 0) % max(len(shapes[0]), 1)
        for k, s in enumerate(shapes[1:], 1):
            for d, (x, y) in enumerate(zip(shapes[0], s)):
                if d != ax and x != y:
                    return RuntimeError(f"Sizes of tensors must match except in dimension {ax}. Expected size {x} "
                                        f"but got size {y} for tensor number {k} in the list.")
    if name == "stack" and not shapes:
        return RuntimeError("stack expects a non-empty TensorList")
    if name == "reshape":
        size = int(np.prod(shapes[0], dtype=np.int64)) if shapes else 1
        return RuntimeError(f"shape '{list(params['shape'])}' is invalid for input of size {size}")
    if name in ("getitem", "setitem") and isinstance(exc, IndexError):
        msg = str(exc)
        if msg.startswith("too many indices"):
            return IndexError(f"too many indices for tensor of dimension {len(shapes[0])}")
        m = re.search(r"along axis (\d+); size of axis is (\d+) but size of corresponding boolean axis is (\d+)", msg)
        if m:
            ax, have, mask = m.groups()
            return IndexError(f"The shape of the mask [{mask}] at index {ax} does not match the shape of the "
                              f"indexed tensor [{have}] at index {ax}")
        return IndexError(msg.replace("for axis", "for dimension").replace("array", "tensor"))
    listed = ", ".join(str(list(s)) for s in shapes)
    return RuntimeError(f"{name}: {exc} (argument shapes: {listed})")


def _tensor_handler(prim, args, params):
    return apply_prim(prim, args, params)


def to_array(x, dtype=None):
    """An ndarray for a Tensor, array, list or scalar (Tensors inside lists too)."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)) and any(isinstance(v, Tensor) for v in _flatten_list(x)):
        x = _map_nested(x)
    return np.asarray(x, dtype=dtype)


def _flatten_list(x):
    for v in x:
        if isinstance(v, (list, tuple)):
            yield from _flatten_list(v)
        else:
            yield v


def _map_nested(x):
    return [(_map_nested(v) if isinstance(v, (list, tuple)) else (v.item() if isinstance(v, Tensor) else v)) for v in x]


def _scalar_or_tensor(other):
    if isinstance(other, (Tensor, numbers.Number)):
        return other
    if isinstance(other, np.ndarray):
        return Tensor._make(other)
    if isinstance(other, (list, tuple)):
        return Tensor._make(to_array(other))
    return NotImplemented


def _dims(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        return tuple(args[0])
    return tuple(args)


def _index(idx):
    """A torch-style index with Tensors/lists turned into NumPy index arrays."""
    if isinstance(idx, tuple):
        return tuple(_index_part(i) for i in idx)
    return _index_part(idx)


def _index_part(i):
    if isinstance(i, Tensor):
        if i.ndim == 0 and i._data.dtype.kind in "iu":
            return int(i._data)
        return i._data
    if isinstance(i, list):
        return np.asarray([_index_part(v) for v in i])
    return i


class Tensor:
    """A NumPy-backed tensor that records operations for reverse-mode autodiff."""

    __slots__ = ("_data", "_grad_fn", "_requires_grad", "_grad", "_vc", "_base", "_acc", "_retains_grad",
                 "_name", "__weakref__", "__dict__")
    __array_priority__ = 1000
    _sticky = False  # results of ops on a sticky subclass keep its class (the tracer's TracedArray)
    _np_scalar = False  # (TracedArray) a value plain NumPy would hold as a scalar (np.float64), not an array
    _output_nr = 0  # which output of a multi-output grad_fn this is (custom Functions)

    def __init__(self, data, requires_grad=False, dtype=None):
        arr = to_array(data, dtype=dtypes.to_numpy_dtype(dtype))
        if dtype is None and arr.dtype == _F64 and not isinstance(data, np.ndarray):
            arr = arr.astype(dtypes.get_default_dtype().np)
        self._data = arr
        self._grad_fn = None
        self._requires_grad = False
        self._grad = None
        self._vc = _VC0
        self._base = None
        self._acc = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, grad_fn=None):
        t = object.__new__(cls)
        t._data = data
        t._grad_fn = grad_fn
        t._requires_grad = False
        t._grad = None
        t._vc = _VC0
        t._base = None
        t._acc = None
        t._retains_grad = False
        return t

    # ---- autograd attributes -------------------------------------------------
    @property
    def requires_grad(self):
        return self._grad_fn is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        if self._grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self):
        return self._grad_fn is None

    @property
    def grad_fn(self):
        fn = self._grad_fn
        return named(fn) if fn is not None else None

    @property
    def grad(self):
        if self._grad_fn is not None and not self._retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if tuple(value.shape) != tuple(self.shape):
                raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of "
                                   f"size '{list(self.shape)}'. Please ensure that the gradient and the tensor are "
                                   f"the same size")
        self._grad = value

    @property
    def retains_grad(self):
        return self._retains_grad

    def retain_grad(self):
        if self._grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        self._retains_grad = True
        self._grad_fn.register_retained(self)

    def _hooked_node(self):
        """The node a hook on this tensor goes to: its grad_fn, or (a leaf) its AccumulateGrad, which the
        tensor then keeps alive so that its hooks stay registered."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            return self._grad_fn
        acc = accumulate_node(self)
        self.__dict__["_hooked_acc"] = acc
        return acc

    def register_hook(self, hook):
        """`hook(grad) -> Tensor or None` runs each time the gradient w.r.t. this tensor is computed; a
        Tensor it returns replaces the gradient. Returns a handle whose `.remove()` unregisters it."""
        node = self._hooked_node()
        return add_hook(hooks_of(node).tensor_dict(self._output_nr if self._grad_fn is not None else 0), hook)

    def register_post_accumulate_grad_hook(self, hook):
        """(leaves) `hook(tensor) -> None` runs after the gradient was accumulated into `tensor.grad`."""
        if self.requires_grad and self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        node = self._hooked_node()
        return add_hook(hooks_of(node).dict_for("post_acc"), hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor w.r.t. graph leaves into their `.grad`."""
        engine.backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
                        inputs=inputs)

    def detach(self):
        """The same storage and version counter, out of the graph; in-place ops on it are allowed (and are
        seen by backward through the version counter)."""
        t = Tensor._make(self._data)
        t._vc = self._counter()
        return t

    def detach_(self):
        if self._base is not None and self.requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        old_fn = self._grad_fn
        if old_fn is not None:
            self._counter()  # the nodes that saved this tensor keep seeing its later in-place changes
        self._grad_fn = None
        moved(old_fn, self)
        self._requires_grad = False
        return self

    @property
    def data(self):
        return Tensor._make(self._data)

    @data.setter
    def data(self, value):
        self._data = to_array(value)

    @property
    def _version(self):
        return self._vc[0]

    def _counter(self):
        """The version counter as a shareable list (a tensor starts with the shared, immutable
        `_VC0`: one fewer object per result for the garbage collector, until it is needed). The node
        that produced this tensor gets it too: the nodes that saved this tensor check its version there
        (see PrimNode)."""
        vc = self._vc
        if vc is _VC0:
            vc = self._vc = [0]
            fn = self._grad_fn
            if fn is not None and fn.out_id == id(self) and fn.out_vc is None:
                fn.out_vc = vc
        return vc

    def _bump(self):
        self._counter()[0] += 1

    # ---- basic properties ----------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[dim]

    @property
    def dtype(self):
        return dtypes.from_numpy_dtype(self._data.dtype)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    @property
    def is_floating_point_(self):
        return self._data.dtype.kind == "f"

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    @property
    def device(self):
        return "cpu"

    def element_size(self):
        return self._data.itemsize

    def item(self):
        if _escape_hook is not None and self.requires_grad:
            _escape_hook(self, ".item()")
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self, force=False):
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def data_ptr(self):
        return int(self._data.__array_interface__["data"][0])

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        res = apply_prim(P.copy, (self,), {})  # copy keeps the layout (like clone); make it row-major
        res._data = np.ascontiguousarray(res._data)
        return res

    def clone(self):
        return apply_prim(P.copy, (self,), {})

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[dim]

    def cpu(self):
        return self

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self):
        if _escape_hook is not None and self.requires_grad:
            _escape_hook(self, "float()")
        return float(self.item())

    def __int__(self):
        if _escape_hook is not None and self.requires_grad:
            _escape_hook(self, "int()")
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self):
        d = self._data
        default = dtypes.get_default_dtype().np
        if d.size == 0:
            show = d.dtype != default
        else:
            show = d.dtype not in (default, np.dtype(np.int64), np.dtype(np.bool_))
        return _format.tensor_repr(d, repr(self.dtype), show,
                                   self._grad_fn.name() if self._grad_fn is not None else None,
                                   self._requires_grad)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:  # torch formats a 0-d tensor as its Python number: f"{t}" == "14.0"
            return format(self.item(), spec)
        return format(repr(self), spec)

    # ---- dtype conversion ----------------------------------------------------
    def to(self, *args, dtype=None, **kwargs):
        for a in args:
            if isinstance(a, (dtypes.DType, type, np.dtype)):
                dtype = a
        if dtype is None:
            return self
        npd = dtypes.to_numpy_dtype(dtype)
        if npd == self._data.dtype:
            return self
        return apply_prim(P.astype, (self,), {"dtype": npd})

    def type(self, dtype=None):
        if dtype is None:
            return type_name(self)
        return self.to(dtype)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def bool(self):
        return self.to(dtypes.bool_)

    # ---- arithmetic ------------------------------------------------------------
    def _binary(self, prim, other, reverse=False):
        other = _scalar_or_tensor(other)
        if other is NotImplemented:
            return NotImplemented
        return apply_prim(prim, (other, self) if reverse else (self, other), {})

    def __add__(self, o):
        return self._binary(P.add, o)

    def __radd__(self, o):
        return self._binary(P.add, o)  # commutative: `1 + x` is recorded as x + 1, as in torch

    def __sub__(self, o):
        return self._binary(P.sub, o)

    def __rsub__(self, o):
        return self._binary(P.sub, o, True)

    def __mul__(self, o):
        return self._binary(P.mul, o)

    def __rmul__(self, o):
        return self._binary(P.mul, o)

    def __truediv__(self, o):
        return self._binary(P.div, o)

    def __rtruediv__(self, o):
        if isinstance(o, numbers.Number):
            return apply_prim(P.mul, (apply_prim(P.reciprocal, (self,), {}), o), {})
        return self._binary(P.div, o, True)

    def __pow__(self, o):
        return self._binary(P.power, o)

    def __rpow__(self, o):
        return self._binary(P.power, o, True)

    def __matmul__(self, o):
        return self._binary(P.matmul, o)

    def __rmatmul__(self, o):
        return self._binary(P.matmul, o, True)

    def __neg__(self):
        return apply_prim(P.neg, (self,), {})

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __floordiv__(self, o):
        return self._binary(P.floor_divide, o)

    def __rfloordiv__(self, o):
        return self._binary(P.floor_divide, o, True)

    def __mod__(self, o):
        return self._binary(P.remainder, o)

    def __rmod__(self, o):
        return self._binary(P.remainder, o, True)

    def _compare(self, prim, o):
        o = _scalar_or_tensor(o)
        if o is NotImplemented:
            return NotImplemented
        return apply_prim(prim, (self, o), {})

    def __eq__(self, o):
        return self._compare(P.eq, o)

    def __ne__(self, o):
        return self._compare(P.ne, o)

    def __lt__(self, o):
        return self._compare(P.lt, o)

    def __le__(self, o):
        return self._compare(P.le, o)

    def __gt__(self, o):
        return self._compare(P.gt, o)

    def __ge__(self, o):
        return self._compare(P.ge, o)

    def __and__(self, o):
        return self._compare(P.logical_and, o) if self._data.dtype == np.bool_ else \
            Tensor._make(np.asarray(self._data & _unwrap(o)))

    def __or__(self, o):
        return self._compare(P.logical_or, o) if self._data.dtype == np.bool_ else \
            Tensor._make(np.asarray(self._data | _unwrap(o)))

    def __invert__(self):
        return apply_prim(P.logical_not, (self,), {}) if self._data.dtype == np.bool_ else \
            Tensor._make(np.asarray(~self._data))

    # ---- elementwise methods ----------------------------------------------------
    def _unary(self, prim):
        return apply_prim(prim, (self,), {})

    def exp(self):
        return self._unary(P.exp)

    def log(self):
        return self._unary(P.log)

    def log1p(self):
        return self._unary(P.log1p)

    def expm1(self):
        return self._unary(P.expm1)

    def sqrt(self):
        return self._unary(P.sqrt)

    def rsqrt(self):
        return self._unary(P.rsqrt)

    def sin(self):
        return self._unary(P.sin)

    def cos(self):
        return self._unary(P.cos)

    def tan(self):
        return self._unary(P.tan)

    def tanh(self):
        return self._unary(P.tanh)

    def sigmoid(self):
        return self._unary(P.sigmoid)

    def relu(self):
        return self._unary(P.relu)

    def abs(self):
        return self._unary(P.absolute)

    def sign(self):
        return self._unary(P.sign)

    def neg(self):
        return self._unary(P.neg)

    def reciprocal(self):
        return self._unary(P.reciprocal)

    def square(self):
        return self ** 2

    def pow(self, exponent):
        return self.__pow__(exponent)

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def matmul(self, other):
        return self @ other

    def dot(self, other):
        if self.ndim != 1 or _unwrap(other).ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {self.ndim}D and {_unwrap(other).ndim}D tensors")
        return self @ other

    def mm(self, other):
        if self.ndim != 2 or _unwrap(other).ndim != 2:
            raise RuntimeError("self must be a matrix")
        return self @ other

    def clamp(self, min=None, max=None):
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                out = apply_prim(P.maximum, (out, min), {})
            if max is not None:
                out = apply_prim(P.minimum, (out, max), {})
            return out
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        return apply_prim(P.clip, (self,), {"lo": min, "hi": max})

    clip = clamp

    def maximum(self, other):
        return apply_prim(P.maximum, (self, other), {})

    def minimum(self, other):
        return apply_prim(P.minimum, (self, other), {})

    def where(self, condition, other):
        return apply_prim(P.where, (condition, self, other), {})

    # ---- reductions ------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None, axis=None):
        x = self.to(dtype) if dtype is not None else self
        if x._data.dtype.kind in "bu" or (x._data.dtype.kind == "i" and x._data.dtype != np.int64):
            x = x.to(dtypes.int64)
        return apply_prim(P.sum_, (x,), {"axis": _axis(dim if axis is None else axis), "keepdims": keepdim})

    def mean(self, dim=None, keepdim=False, dtype=None, axis=None):
        if self._data.dtype.kind != "f" and dtype is None:
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                               f"or complex dtype. Got: {type_name(self)[11:-6]}")
        x = self.to(dtype) if dtype is not None else self
        return apply_prim(P.mean, (x,), {"axis": _axis(dim if axis is None else axis), "keepdims": keepdim})

    def prod(self, dim=None, keepdim=False):
        return apply_prim(P.prod, (self,), {"axis": _axis(dim), "keepdims": keepdim})

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return apply_prim(P.var, (self,), {"axis": _axis(dim), "correction": _correction(unbiased, correction),
                                             "keepdims": keepdim})

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return apply_prim(P.std, (self,), {"axis": _axis(dim), "correction": _correction(unbiased, correction),
                                             "keepdims": keepdim})

    def _extreme(self, prim, argprim, result, dim, keepdim):
        if isinstance(dim, Tensor):
            return apply_prim(P.maximum if prim is P.max_ else P.minimum, (self, dim), {})
        if dim is None:
            return apply_prim(prim, (self,), {"axis": None, "keepdims": False})
        values = apply_prim(prim, (self,), {"axis": int(dim), "keepdims": keepdim})
        indices = apply_prim(argprim, (self,), {"axis": int(dim), "keepdims": keepdim})
        return result(values, indices)

    def max(self, dim=None, keepdim=False):
        return self._extreme(P.max_, P.argmax, MaxResult, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return self._extreme(P.min_, P.argmin, MinResult, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return apply_prim(P.amax, (self,), {"axis": _axis(dim) if dim != () else None, "keepdims": keepdim})

    def amin(self, dim=(), keepdim=False):
        return apply_prim(P.amin, (self,), {"axis": _axis(dim) if dim != () else None, "keepdims": keepdim})

    def argmax(self, dim=None, keepdim=False):
        return apply_prim(P.argmax, (self,), {"axis": dim, "keepdims": keepdim})

    def argmin(self, dim=None, keepdim=False):
        return apply_prim(P.argmin, (self,), {"axis": dim, "keepdims": keepdim})

    def logsumexp(self, dim, keepdim=False):
        return apply_prim(P.logsumexp, (self,), {"axis": _axis(dim), "keepdims": keepdim})

    def softmax(self, dim):
        return apply_prim(P.softmax, (self,), {"axis": dim})

    def log_softmax(self, dim):
        return apply_prim(P.log_softmax, (self,), {"axis": dim})

    def norm(self, p="fro", dim=None, keepdim=False):
        if p in ("fro", 2, 2.0):
            return apply_prim(P.norm, (self,), {"axis": _axis(dim), "keepdims": keepdim})
        if p in (1, 1.0):
            return self.abs().sum(dim=dim, keepdim=keepdim)
        if p == float("inf"):
            return self.abs().amax(dim=dim if dim is not None else (), keepdim=keepdim)
        return (self.abs() ** p).sum(dim=dim, keepdim=keepdim) ** (1.0 / p)

    def all(self, dim=None):
        return Tensor._make(np.asarray(np.all(self._data, axis=dim)))

    def any(self, dim=None):
        return Tensor._make(np.asarray(np.any(self._data, axis=dim)))

    def trace(self):
        return apply_prim(P.trace, (self,), {})

    # ---- shape ---------------------------------------------------------------
    def reshape(self, *shape):
        shape = _check_shape(_dims(shape))
        return apply_prim(P.reshape, (self,), {"shape": shape})

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (dtypes.DType, np.dtype)):
            raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
        shape = _check_shape(_dims(shape))
        if not self._data.flags.c_contiguous:
            try:
                np.asarray(self._data).view().shape = shape
            except (AttributeError, ValueError):
                raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                                   "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") \
                    from None
        try:
            np.empty(self._data.size, dtype=np.bool_).reshape(shape)
        except ValueError:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {self._data.size}") from None
        return apply_prim(P.reshape, (self,), {"shape": shape}, name="ViewBackward0")

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s = self._data.shape
        start, end = wrap_dim(start_dim, len(s)), wrap_dim(end_dim, len(s))
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if start == end:
            return self
        new = s[:start] + (int(np.prod(s[start:end + 1])),) + s[end + 1:]
        return self.reshape(new)

    def permute(self, *dims):
        dims = tuple(wrap_dim(d, self.ndim) for d in _dims(dims))
        if len(dims) != self.ndim:
            raise RuntimeError(f"permute(): number of dimensions in the tensor input does not match the length of "
                               f"the desired ordering of dimensions i.e. input.dim() = {self.ndim} is not equal to "
                               f"len(dims) = {len(dims)}")
        if len(set(dims)) != len(dims):
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        return apply_prim(P.transpose, (self,), {"axes": dims}, name="PermuteBackward0")

    def transpose(self, dim0, dim1):
        axes = list(range(self.ndim))
        d0, d1 = wrap_dim(dim0, self.ndim), wrap_dim(dim1, self.ndim)
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return apply_prim(P.transpose, (self,), {"axes": tuple(axes)}, name="TransposeBackward0")

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        if self.ndim < 2:
            return self
        return apply_prim(P.transpose, (self,), {"axes": (1, 0)}, name="TBackward0")

    @property
    def T(self):
        if self.ndim < 2:
            return self
        return apply_prim(P.transpose, (self,), {"axes": tuple(range(self.ndim - 1, -1, -1))},
                          name="PermuteBackward0")

    @property
    def mT(self):
        return apply_prim(P.transpose, (self,), {"axes": tuple(range(self.ndim - 2)) + (self.ndim - 1, self.ndim - 2)},
                          name="TransposeBackward0")

    def squeeze(self, dim=None):
        if dim is not None:
            dims = _dims((dim,)) if not isinstance(dim, int) else (dim,)
            dims = tuple(wrap_dim(d, self.ndim) for d in dims)
            dims = tuple(d for d in dims if self.ndim and self._data.shape[d] == 1)
            return apply_prim(P.squeeze, (self,), {"axis": dims if len(dims) != 1 else dims[0]},
                              name="SqueezeBackward1")
        return apply_prim(P.squeeze, (self,), {"axis": None})

    def unsqueeze(self, dim):
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-self.ndim - 1}, {self.ndim}], "
                             f"but got {dim})")
        return apply_prim(P.expand_dims, (self,), {"axis": dim % (self.ndim + 1)})

    def expand(self, *sizes):
        sizes = _dims(sizes)
        lead = len(sizes) - self.ndim
        shape = tuple(self._data.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        if lead < 0:
            raise RuntimeError(f"expand(adcompiler.{type_name(self)[11:]}{{{list(self._data.shape)}}}, size={list(sizes)}): "
                               f"the number of sizes provided ({len(sizes)}) must be greater or equal to the number "
                               f"of dimensions in the tensor ({self.ndim})")
        for i, have in enumerate(self._data.shape):
            want = shape[i + lead]
            if have != want and have != 1:
                raise RuntimeError(f"The expanded size of the tensor ({want}) must match the existing size ({have}) "
                                   f"at non-singleton dimension {i + lead}.  Target sizes: {list(sizes)}.  "
                                   f"Tensor sizes: {list(self._data.shape)}")
        return apply_prim(P.broadcast_to, (self,), {"shape": shape})

    def expand_as(self, other):
        return self.expand(other.shape)

    def broadcast_to(self, *shape):
        return self.expand(*shape)

    # ---- indexing ------------------------------------------------------------
    def __getitem__(self, idx):
        idx = _index(idx)
        parts = idx if isinstance(idx, tuple) else (idx,)
        if not is_advanced(idx) and not any(p is Ellipsis for p in parts):
            idx = parts + (Ellipsis,)  # x[0] of a vector is then a 0-d view (NumPy would copy a scalar out)
        return apply_prim(P.getitem, (self,), {"idx": idx})

    def __setitem__(self, idx, value):
        idx = _index(idx)
        value = value if isinstance(value, Tensor) else _unwrap(value)
        self._inplace(P.setitem, (value,), {"idx": idx})

    # ---- in-place ------------------------------------------------------------
    def _check_inplace(self):
        if not _state.enabled:
            return
        if self._grad_fn is None and self._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        base = self._base
        if base is not None and base._grad_fn is None and base._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                               "operation.")

    def _inplace(self, prim, others, params, name=None):
        """Apply `prim(self, *others)` and write the result into self's storage."""
        self._check_inplace()
        if self._sticky:
            self._snapshot_savers()
        record = _state.enabled and prim.differentiable and (
            self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others))
        if record:
            # the node sees self's value before the write: a snapshot with self's autograd identity
            data = self._data.copy() if 0 in prim.saves else self._data
            old = (self.__class__ if self._sticky else Tensor)._make(data, self._grad_fn)
            old._acc = self._acc
            old._output_nr = self._output_nr
            res = apply_prim(prim, (old,) + tuple(others), params, name)
            self._write(res._data)
            self._bump()
            node = res._grad_fn
            old_fn = self._grad_fn
            if not others or not prim.saves_out:
                # self is the node's output now: a unary op's rule reads its saved output, so later in-place
                # writes are caught (binary ones like div_ read it only for the other operand, so torch does
                # not track it there); nodes that save self check its version on this node
                node.out_vc, node.out_version, node.out_id = self._vc, self._vc[0], id(self)
            if self._base is not None:
                self._rebase_view(res)
            else:
                self._grad_fn = node
                self._output_nr = 0
            moved(old_fn, self)
            self._refresh_views()
            return self
        raw = [self._data] + [_unwrap(o) for o in others]
        try:
            out = prim.impl(*raw, **params)
        except (ValueError, IndexError) as e:
            if self._sticky:
                raise numpy_error(e) from None
            raise torch_error(prim.name, raw, params, e) from None
        self._write(out)
        self._bump()
        return self

    def _snapshot_savers(self):
        root = self._base if self._base is not None else self
        savers = root.__dict__.pop("_savers", None)
        for node in list(savers or ()):
            node.snapshot_saved(root, Tensor)

    def _refresh_views(self):
        """After an in-place op changed the graph of the storage self lives in, every other live view of it
        reads from the new graph (torch regenerates their grad_fn the same way, as AsStridedBackward0)."""
        root = self._base if self._base is not None else self
        views = root.__dict__.get("_views")
        if not views:
            return
        for v in list(views.values()):
            if v is not self and v._base is root:  # (a view may have been made independent since)
                idx = _view_index(root._data, v._data)
                if idx is not None:
                    old_fn = v._grad_fn
                    v._grad_fn = apply_prim(P.getitem, (root,), {"idx": idx}, name="AsStridedBackward0")._grad_fn
                    v._output_nr = 0
                    moved(old_fn, v)

    def _rebase_view(self, res):
        """After an in-place op on a view, as torch's CopySlices: the base becomes `base with the view's
        elements replaced by res`, and the view a selection of that new base."""
        base = self._base
        idx = _view_index(base._data, self._data)
        if idx is None:  # no longer shares base's memory: an ordinary tensor
            self._grad_fn, self._output_nr = res._grad_fn, 0
            return
        old_base = Tensor._make(base._data, base._grad_fn)
        old_base._acc, old_base._requires_grad, old_base._output_nr = base._acc, base._requires_grad, base._output_nr
        old_fn = base._grad_fn
        base._grad_fn = apply_prim(P.setitem, (old_base, res), {"idx": idx}, name="CopySlices")._grad_fn
        base._output_nr = 0
        moved(old_fn, base)
        self._grad_fn = apply_prim(P.getitem, (base,), {"idx": idx}, name="AsStridedBackward0")._grad_fn
        self._output_nr = 0

    def _write(self, values):
        if self._data.flags.writeable:
            try:
                np.copyto(self._data, values, casting="unsafe")
            except ValueError:
                mine, theirs = self._data.shape, np.shape(values)
                raise broadcast_error([mine, theirs]) or RuntimeError(
                    f"output with shape {list(mine)} doesn't match the broadcast shape {list(theirs)}") from None
        elif self._sticky:   # traced NumPy code: a broadcast_to view
            from .numpy_interop import user_location
            raise ValueError(f"output array is read-only ({user_location()})")
        else:
            raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to "
                               "a single memory location. Please clone() the tensor before performing the "
                               "operation.")

    def _inplace_binary(self, prim, other):
        other = _scalar_or_tensor(other)
        if other is NotImplemented:
            return NotImplemented
        return self._inplace(prim, (other,), {})

    def add_(self, other, alpha=1):
        return self._inplace_binary(P.add, other * alpha if alpha != 1 else other)

    def sub_(self, other, alpha=1):
        return self._inplace_binary(P.sub, other * alpha if alpha != 1 else other)

    def mul_(self, other):
        return self._inplace_binary(P.mul, other)

    def div_(self, other):
        return self._inplace_binary(P.div, other)

    def pow_(self, other):
        return self._inplace_binary(P.power, other)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    __ipow__ = pow_

    def clamp_(self, min=None, max=None):
        return self._inplace(P.clip, (), {"lo": min, "hi": max})

    clip_ = clamp_

    def relu_(self):
        return self._inplace(P.relu, (), {})

    def exp_(self):
        return self._inplace(P.exp, (), {})

    def neg_(self):
        return self._inplace(P.neg, (), {})

    def zero_(self):
        return self._inplace(P.setitem, (0,), {"idx": Ellipsis}, "ZeroBackward0")

    def fill_(self, value):
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                               f"dimensions.")
        return self._inplace(P.setitem, (value,), {"idx": Ellipsis},
                             "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")

    def copy_(self, src):
        src = src if isinstance(src, Tensor) else Tensor._make(to_array(src))
        return self._inplace(P.setitem, (src,), {"idx": Ellipsis}, "CopyBackwards")

    def normal_(self, mean=0.0, std=1.0):
        from .factories import _rng
        self._check_inplace()
        self._write(_rng().normal(mean, std, self._data.shape))
        self._bump()
        return self

    def uniform_(self, a=0.0, b=1.0):
        from .factories import _rng
        self._check_inplace()
        self._write(_rng().uniform(a, b, self._data.shape))
        self._bump()
        return self

    # ---- NumPy interop -------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        if _escape_hook is not None and self.requires_grad:
            _escape_hook(self, "converting to a NumPy array (np.asarray, or assigning into an ndarray)")
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return self._data if dtype is None else self._data.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .numpy_interop import array_ufunc
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .numpy_interop import array_function
        return array_function(func, args, kwargs)


def _view_index(base, view):
    """For `view`, an ndarray sharing `base`'s memory: a tuple of index arrays, shaped like the view, that
    selects the view's elements from `base` (works for any strides, as torch's as_strided does)."""
    if base.ndim == 0:
        return Ellipsis
    item = base.itemsize
    offset = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // item

    def storage_offsets(shape, strides, start):
        off = np.full(shape, start, dtype=np.int64)
        for k, (n, st) in enumerate(zip(shape, strides)):
            off += (np.arange(n, dtype=np.int64) * (st // item)).reshape((n,) + (1,) * (len(shape) - k - 1))
        return off

    base_off = storage_offsets(base.shape, base.strides, 0).ravel()
    order = np.argsort(base_off, kind="stable")
    view_off = storage_offsets(view.shape, view.strides, offset)
    pos = np.searchsorted(base_off[order], view_off)
    if pos.size and (pos.max() >= order.size or np.any(base_off[order[pos]] != view_off)):
        return None  # not (or no longer) inside base's memory
    return np.unravel_index(order[pos], base.shape)


def _check_shape(shape):
    """A view/reshape target with at most one -1 and no other negative size."""
    if sum(1 for d in shape if d == -1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for d in shape:
        if d < -1:
            raise RuntimeError(f"invalid shape dimension {d}")
    return shape


def _axis(dim):
    if isinstance(dim, list):
        return tuple(dim)
    return dim


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


register_handler(Tensor, _tensor_handler, priority=10)
