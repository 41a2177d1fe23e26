"""IR types: weak Python scalars, arrays of known dtype and shape, tuples, tapes, none, opaque.

A Python float/int/bool is a *weak* scalar (`f64`, `i64`, `bool`): like NumPy 2
(NEP 50) it takes the dtype of an array it meets. A NumPy scalar or 0-d array
is a strong 0-d array (`f64[]`). Arrays carry their full shape (`f32[3,4]`):
the compiler specialises on the argument types, like `jax.jit`.

A tape (`tape<i64, f64[3]; range>`) is the stack an adjoint's forward sweep
pushes a loop's values onto, one entry per iteration, and its reverse sweep
pops (see reverse.py).

`abstract_arg` turns a type into what the primitive table's `abstract_eval`
takes, so the table alone decides every result type.
"""
from __future__ import annotations

import ast
import re

import numpy as np

from .. import ops
from ..ops.dims import Dim, same_shape

_SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "int64": "i64", "int32": "i32",
          "int16": "i16", "int8": "i8", "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
          "bool": "bool", "complex128": "c128", "complex64": "c64"}
_LONG = {v: k for k, v in _SHORT.items()}


def dtype_name(dtype):
    """The short name of a dtype: float64 -> f64."""
    d = np.dtype(dtype)
    return _SHORT.get(d.name, d.name)


def parse_dtype(name):
    try:
        return np.dtype(_LONG.get(name, name))
    except TypeError:
        raise ValueError(f"unknown dtype {name!r}") from None


class Type:
    """Base of the IR types; instances are immutable and compare by value."""
    __slots__ = ()
    is_array = is_scalar = is_tuple = is_tape = False

    def __repr__(self):
        return f"<type {self}>"


class ScalarType(Type):
    """A Python scalar (weak type): f64 (float), i64 (int), bool."""
    __slots__ = ("dtype",)
    is_scalar = True
    shape = ()
    ndim = 0

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __eq__(self, o):
        return isinstance(o, ScalarType) and o.dtype == self.dtype

    def __hash__(self):
        return hash(("s", self.dtype))

    def __str__(self):
        return dtype_name(self.dtype)


class ArrayType(Type):
    """An ndarray (or NumPy scalar, as 0-d) of known dtype and shape."""
    __slots__ = ("dtype", "shape")
    is_array = True

    def __init__(self, dtype, shape):
        self.dtype = np.dtype(dtype)
        self.shape = tuple(d if isinstance(d, Dim) else int(d) for d in shape)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        """The number of elements (a Dim where an extent is symbolic)."""
        n = 1
        for d in self.shape:
            n = n * d
        return n

    def __eq__(self, o):
        return isinstance(o, ArrayType) and o.dtype == self.dtype and same_shape(o.shape, self.shape)

    def __hash__(self):
        return hash(("a", self.dtype, self.shape))

    def __str__(self):
        return f"{dtype_name(self.dtype)}[{','.join(map(str, self.shape))}]"


class TupleType(Type):
    """A Python tuple of values of the element types."""
    __slots__ = ("elems",)
    is_tuple = True

    def __init__(self, elems):
        self.elems = tuple(elems)

    def __eq__(self, o):
        return isinstance(o, TupleType) and o.elems == self.elems

    def __hash__(self):
        return hash(("t", self.elems))

    def __str__(self):
        inner = ", ".join(map(str, self.elems))
        return f"({inner},)" if len(self.elems) == 1 else f"({inner})"


RANGE = "range"


class TapeType(Type):
    """A tape: a stack whose entries each hold one value of every type of `elems`, in order
    (what one `tape_push` pushes and one `tape_pop` pops).

    `capacity` bounds the number of entries, where it is known when the tape is made:
      None     unknown (a `while` loop's tape grows as it is pushed)
      an int   known at compile time (a `for` loop with constant bounds)
      "range"  len(range(start, stop, step)) of the `tape_new` op's three operands: the trip
               count of the `for` loop the tape is made for, known on entry to it.
    Text: `tape<i64, f64>`, `tape<f64[3]; 10>`, `tape<i64, f64; range>`, `tape<>`."""
    __slots__ = ("elems", "capacity")
    is_tape = True

    def __init__(self, elems, capacity=None):
        self.elems = tuple(elems)
        if not (capacity is None or capacity == RANGE or (type(capacity) is int and capacity >= 0)):
            raise ValueError(f"bad tape capacity {capacity!r}")
        self.capacity = capacity

    def with_elems(self, elems):
        return TapeType(elems, self.capacity)

    def __eq__(self, o):
        return isinstance(o, TapeType) and o.elems == self.elems and o.capacity == self.capacity

    def __hash__(self):
        return hash(("tape", self.elems, self.capacity))

    def __str__(self):
        inner = ", ".join(map(str, self.elems))
        if self.capacity is not None:
            inner += f"; {self.capacity}"
        return f"tape<{inner}>"


class _Singleton(Type):
    __slots__ = ()
    text = ""

    def __eq__(self, o):
        return type(o) is type(self)

    def __hash__(self):
        return hash(self.text)

    def __str__(self):
        return self.text


class NoneType(_Singleton):
    """The value None."""
    __slots__ = ()
    text = "none"


class OpaqueType(_Singleton):
    """A Python object passed through untouched (no operation may use it)."""
    __slots__ = ()
    text = "opaque"


class LiteralType(Type):
    """A string argument, specialised on its value: the front end binds it as a compile-time
    constant (like a mode flag `mode="mean"`), so a new string compiles a new specialisation."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, o):
        return isinstance(o, LiteralType) and o.value == self.value

    def __hash__(self):
        return hash(("lit", self.value))

    def __str__(self):
        return f"lit{self.value!r}"


F64, I64, BOOL = ScalarType(np.float64), ScalarType(np.int64), ScalarType(np.bool_)
NONE, OPAQUE = NoneType(), OpaqueType()

_PY_SCALAR_TYPES = {bool: BOOL, int: I64, float: F64}


def type_of_value(v):
    """The IR type of a run-time argument value (what the compiler specialises on)."""
    t = _PY_SCALAR_TYPES.get(type(v))
    if t is not None:
        return t
    if isinstance(v, Dim):
        return I64       # an extent of a shape-generic specialisation: an int read at run time
    if isinstance(v, (np.ndarray, np.generic)):
        return ArrayType(v.dtype, np.shape(v))
    if v is None:
        return NONE
    if isinstance(v, str):
        return LiteralType(v)
    if isinstance(v, tuple):
        return TupleType(type_of_value(x) for x in v)
    if hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, type):
        return ArrayType(np.dtype(v.dtype), tuple(v.shape))   # array-likes such as Tensor
    return OPAQUE


def is_float(t):
    """Whether values of type `t` can carry derivatives (floating scalars and arrays)."""
    return (t.is_array or t.is_scalar) and t.dtype.kind in "fc"


_SAMPLE = {"f": 0.0, "i": 0, "u": 0, "b": False, "c": 0j}


def abstract_arg(t):
    """What `Primitive.abstract_eval` takes for a value of type `t`: a Python
    sample for a weak scalar (so NumPy's weak promotion applies), else an Abstract."""
    if t.is_scalar:
        return _SAMPLE[t.dtype.kind]
    if t.is_array:
        return ops.Abstract(t.shape, t.dtype)
    raise TypeError(f"a value of type {t} cannot be a primitive argument")


def from_abstract(a, weak):
    """The IR type of an `abstract_eval` result; `weak` keeps a Python-scalar result weak."""
    if weak and a.shape == () and a.dtype.kind in "fiub":
        return ScalarType(_weak_dtype(a.dtype))
    return ArrayType(a.dtype, a.shape)


def _weak_dtype(d):
    return {"f": np.float64, "i": np.int64, "u": np.int64, "b": np.bool_}[d.kind]


_ARRAY_RE = re.compile(r"^([a-z][a-z0-9]*)\[([0-9,\s]*)\]$")


def parse_type(text):
    """Parse the text form of a type: f64, f32[3,4], (f64, i64[2]), tape<i64, f64; range>, none,
    opaque, lit'mean'."""
    s = text.strip()
    if s.startswith("tape<") and s.endswith(">"):
        inner, _, cap = s[5:-1].partition(";")
        cap = cap.strip()
        if cap and cap != RANGE and not cap.isdigit():
            raise ValueError(f"bad tape capacity in {text!r}")
        elems = [parse_type(p) for p in split_top(inner, ",") if p.strip()]
        return TapeType(elems, None if not cap else cap if cap == RANGE else int(cap))
    if s.startswith("lit") and len(s) > 4 and s[3] in "'\"":
        try:
            value = ast.literal_eval(s[3:])
        except (ValueError, SyntaxError):
            raise ValueError(f"bad type {text!r}") from None
        if isinstance(value, str):
            return LiteralType(value)
    if s.startswith("(") and s.endswith(")"):
        inner = s[1:-1].strip()
        parts = [p for p in split_top(inner, ",") if p.strip()] if inner else []
        return TupleType(parse_type(p) for p in parts)
    if s == "none":
        return NONE
    if s == "opaque":
        return OPAQUE
    m = _ARRAY_RE.match(s)
    if m:
        dims = [d for d in m.group(2).replace(" ", "").split(",") if d]
        return ArrayType(parse_dtype(m.group(1)), tuple(int(d) for d in dims))
    if s in ("f64", "i64", "bool"):
        return ScalarType(parse_dtype(s))
    raise ValueError(f"bad type {text!r}")


def split_top(s, sep=","):
    """Split `s` at `sep` outside brackets (also a tape's <...>) and quotes."""
    out, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return out


def unify(a, b, allow_broadcast=False):
    """The type both `a` and `b` convert to without loss (a loop variable or an
    if result seen with both types), or None. Scalars unify by NumPy promotion
    (weak with weak stays weak); a scalar unifies with an array of another
    shape only when `allow_broadcast` (a loop known to run at least once)."""
    if a == b:
        return a
    if a.is_tuple and b.is_tuple and len(a.elems) == len(b.elems):
        elems = [unify(x, y, allow_broadcast) for x, y in zip(a.elems, b.elems)]
        return None if None in elems else TupleType(elems)
    if not ((a.is_scalar or a.is_array) and (b.is_scalar or b.is_array)):
        return None
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
        return None
    if a.is_scalar and b.is_scalar:
        return ScalarType(np.result_type(a.dtype, b.dtype))
    dtype = np.result_type(*(abstract_arg(t) if t.is_scalar else t.dtype for t in (a, b)))
    if a.shape == b.shape:
        return ArrayType(dtype, a.shape)
    if allow_broadcast and (a.shape == () or b.shape == ()):
        return ArrayType(dtype, a.shape or b.shape)
    return None
