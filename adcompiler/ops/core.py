"""The machinery of the primitive table: `Primitive`, the registry, and `bind`.

A primitive is defined once, here in ops/: its NumPy forward, one VJP rule per
differentiable argument (written in terms of other primitives), its JVP (tangent)
rules, a shape/dtype rule, and the name PyTorch gives its backward node.

JVP rules are written only where they cannot be derived (see `Primitive.jvp_rule`):
a primitive declared linear (`linear`, `multilinear`) gets its tangent by applying
itself to the tangent, and one whose Jacobian is self-adjoint (every elementwise
primitive, after broadcasting; `self_adjoint`) gets it from its VJP rule. `jvp`
combines the rules into the tangent of a result.

Applying a primitive (`bind`) dispatches on the kind of its arguments, like
JAX's `bind`: layers register a handler for their value type (the eager engine
for `Tensor`, the compiler for IR values) and the handler with the highest
priority among the arguments' types wins. With plain ndarrays and scalars no
handler matches and the NumPy forward runs directly. This is what lets one VJP
rule serve plain `backward()` (ndarrays), `create_graph=True` (Tensors) and the
source transform (IR values).

The table also describes kernels, so backends keep no name lists of their own:
each primitive has a `kind` (KINDS), says whether its result may share memory
with its first argument (`may_alias`), names the NumPy function that computes
it (`numpy_name`), and an elementwise primitive has its scalar math written once
against a math namespace each backend supplies (`scalar`; the protocol and the
Python namespace, the reference for every backend, are in ops/scalar.py).
"""
from __future__ import annotations

import numpy as np

from .dims import broadcast_shapes, has_dims, same_shape

from .scalar import ScalarTypes

__all__ = [
    "Primitive", "Abstract", "bind", "register_handler", "registry",
    "get", "unbroadcast", "shape_of", "dtype_of", "KINDS", "SCALAR_ARGS", "jvp",
]

registry: dict[str, "Primitive"] = {}
# what a primitive is:
#   elementwise -- each result element from the same-position elements of the (broadcast)
#                  operands: arithmetic, math functions, comparisons, where, clip, casts
#   reduction   -- combines elements along axes: sum, mean, prod, var, amax, argmax, sum_to ...
#   view        -- the elements of argument 0, rearranged (no arithmetic, shape known
#                  statically): reshape, transpose, squeeze, expand_dims, broadcast_to
#   index       -- indexing: getitem, setitem, scatter_add, index_add
#   linalg      -- matmul, linear, norm, trace, eye_like
#   other       -- the rest: concatenate, stack, softmax, log_softmax, helpers of rules
KINDS = ("elementwise", "reduction", "view", "index", "linalg", "other")
# how a scalar definition's operands are typed (see Primitive.scalar_types)
SCALAR_ARGS = ("result", "common", "bool", "own")

_handlers: dict[type, tuple[int, object]] = {}
_handler_cache: dict[type, tuple[int, object] | None] = {}
_MISS = object()


_INTERNED = {}


class Abstract:
    """A shape and dtype standing for a value that was not kept.

    The engine passes one to a VJP rule for an input the rule does not need by
    value (the rule may only ask for `.shape`, `.ndim`, `.dtype`).
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @classmethod
    def of(cls, arr):
        """The Abstract of an ndarray: interned per (shape, dtype), so a recorded op keeps no new
        object for it (fewer objects for Python's garbage collector to walk)."""
        key = (arr.shape, arr.dtype)
        a = _INTERNED.get(key)
        if a is None:
            if len(_INTERNED) > 4096:
                _INTERNED.clear()
            a = _INTERNED[key] = object.__new__(cls)
            a.shape = arr.shape
            a.dtype = arr.dtype
        return a

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self):
        return f"Abstract({self.shape}, {self.dtype})"


class Primitive:
    """One differentiable (or not) operation of the table.

    name       -- the table key; IR primitive calls and the compiler use it.
    impl       -- NumPy forward: impl(*arrays, **params) -> ndarray.
    vjps       -- per positional argument, rule(g, *args, out=..., **params)
                  returning the cotangent for that argument, or None when the
                  argument is not differentiable. Rules call primitives only.
    saves      -- indices of arguments the rules need by value; the others
                  reach the rules as `Abstract` (shape and dtype only).
    saves_out  -- whether the rules read `out`.
    grad_fn    -- PyTorch's node name, or a function (args, params) -> name.
    shape_rule -- (abstract args, params) -> Abstract; default: run `impl` on
                  zero-stride dummies of the right shape and dtype.
    differentiable -- False for comparisons, argmax, ...: no node is recorded.
    kind       -- what the primitive is, one of KINDS (required).
    may_alias  -- whether the result may share memory with argument 0 (a view, or the
                  argument itself: getitem with a basic index, reshape, sum_to when
                  there is nothing to sum ...); default: kind == "view". The memory
                  analysis asks this, never names.
    numpy_name -- the NumPy function computing the primitive: `np.<numpy_name>(*args,
                  **params)` has the values of `impl` (NumPy's floating-point warnings
                  aside), or None. Backends that spell primitives in NumPy use it.
    math_name  -- for an elementwise primitive, the function of Python's `math` module
                  computing it on floats (`math.<math_name>(*args)`: the same values inside
                  the domain, Python's ValueError/OverflowError where the scalar definition
                  gives nan or inf), or None. What the user's `math.*` calls lower to.
    scalar     -- for an elementwise primitive, its scalar math written once against a
                  math namespace: scalar(m, *operands, **params) (ops/scalar.py has the
                  protocol). None: no scalar definition.
    scalar_args -- per operand (or one for all), how the operands of `scalar` are typed:
                  "result" (converted to the result dtype), "common" (to NumPy's common
                  type of the operands and numeric params: comparisons), "bool" (a
                  condition), "own" (unchanged: astype). See `scalar_types`.
    scalar_kinds -- the NumPy kinds of compute dtype ("f", "i", "u", "b") the scalar
                  definition holds for; a backend refuses the others.
    jvps       -- (defjvp / defjvp_argnum) per positional argument, rule(t, *args, out=...,
                  **params) returning the tangent of the result caused by tangent `t` of
                  that argument (None: not differentiable). Rules call primitives only.
                  Only where no rule can be derived (see `jvp_rule`).
    linear     -- True (all arguments) or a tuple of argument indices the primitive is
                  linear in JOINTLY, the other arguments held fixed: f(a + b) = f(a) + f(b)
                  for those arguments together (add-like: concatenate, setitem(x, v),
                  index_add(acc, v), reshape, sum ...). The tangent is the primitive applied
                  to the tangents, zeros in the other linear slots.
    multilinear -- True (all arguments) or a tuple of indices the primitive is linear in
                  SEPARATELY, each with all other arguments fixed (mul, matmul, einsum): the
                  tangent for argument i is the primitive with argument i replaced by it.
    self_adjoint -- whether the Jacobian of the primitive with respect to each argument,
                  that argument broadcast to the result's shape, is self-adjoint (symmetric),
                  so the JVP rule is the VJP rule applied to the broadcast tangent. Default:
                  kind == "elementwise" (a diagonal Jacobian); also softmax, prod_others.
    monoid     -- for a reduction that folds its elements, one after another, with an elementwise
                  primitive: (that primitive's name, its identity, whether the result is then divided
                  by the count). sum: ("add", 0, False); mean: ("add", 0, True); prod: ("mul", 1,
                  False); amax: ("maximum", -inf, False) ... Backends that write reductions as loops
                  read it.
    """

    dims_rule = None    # shape rule for symbolic extents (ops/dims.py) where the dummies would pin them

    def __init__(self, name, impl, *, grad_fn=None, saves=(), saves_out=False,
                 shape_rule=None, differentiable=True, kind=None, may_alias=None, numpy_name=None,
                 math_name=None, scalar=None, scalar_args="result", scalar_kinds="f", doc="",
                 linear=None, multilinear=None, self_adjoint=None, monoid=None):
        if name in registry:
            raise ValueError(f"primitive {name!r} is defined twice")
        if kind not in KINDS:
            raise ValueError(f"primitive {name!r}: kind must be one of {KINDS}, not {kind!r}")
        if monoid is not None and kind != "reduction":
            raise ValueError(f"primitive {name!r}: only a reduction has a monoid")
        if (scalar is not None or math_name is not None) and kind != "elementwise":
            raise ValueError(f"primitive {name!r}: only elementwise primitives have a scalar definition")
        for tag in (scalar_args if isinstance(scalar_args, tuple) else (scalar_args,)):
            if tag not in SCALAR_ARGS:
                raise ValueError(f"primitive {name!r}: scalar_args must be among {SCALAR_ARGS}, not {tag!r}")
        self.name = name
        self.impl = impl
        self.vjps = None
        self.vjp_argnum = None
        self.jvps = None
        self.jvp_argnum = None
        self.linear = _arg_set(name, "linear", linear)
        self.multilinear = _arg_set(name, "multilinear", multilinear)
        self.self_adjoint = kind == "elementwise" if self_adjoint is None else bool(self_adjoint)
        self.saves = tuple(saves)
        self.saves_out = saves_out
        self._grad_fn = _camel(name) + "Backward0" if grad_fn is None else grad_fn
        self.shape_rule = shape_rule
        self.differentiable = differentiable
        self.kind = kind
        self.may_alias = kind == "view" if may_alias is None else bool(may_alias)
        self.numpy_name = numpy_name
        self.math_name = math_name
        self.scalar = scalar
        self.scalar_args = scalar_args
        self.scalar_kinds = scalar_kinds
        self.monoid = monoid
        self.__doc__ = doc or f"The `{name}` primitive."
        registry[name] = self

    def defvjp(self, *rules):
        """Register one VJP rule per positional argument (None: no gradient)."""
        self.vjps = rules
        return self

    def defvjp_argnum(self, rule):
        """Register one rule for all arguments: rule(argnum, g, *args, out, **params).

        For variadic primitives (cat, stack) and those whose trailing arguments
        are dynamic index parts."""
        self.vjp_argnum = rule
        return self

    def vjp_rule(self, i):
        """The VJP rule for argument `i` as rule(g, *args, out, **params), or None."""
        if self.vjps is not None:
            return self.vjps[i] if i < len(self.vjps) else None
        if self.vjp_argnum is not None:
            rule = self.vjp_argnum
            return lambda *a, **p: rule(i, *a, **p)
        return None

    def defjvp(self, *rules):
        """Register one JVP rule per positional argument: rule(t, *args, out, **params) -> the
        tangent of the result caused by tangent `t` of that argument (None: no tangent)."""
        self.jvps = rules
        return self

    def defjvp_argnum(self, rule):
        """Register one JVP rule for all arguments: rule(argnum, t, *args, out, **params)."""
        self.jvp_argnum = rule
        return self

    def is_linear_in(self, i):
        """Whether the primitive is linear in argument `i` jointly with the other `linear` ones."""
        return self.linear is True or (self.linear is not None and i in self.linear)

    def is_multilinear_in(self, i):
        return self.multilinear is True or (self.multilinear is not None and i in self.multilinear)

    def _explicit_jvp(self, i):
        if self.jvps is not None:
            return self.jvps[i] if i < len(self.jvps) else None
        if self.jvp_argnum is not None:
            rule = self.jvp_argnum
            return lambda *a, **p: rule(i, *a, **p)
        return None

    def jvp_rule(self, i):
        """The JVP rule for argument `i` as rule(t, *args, out, **params), or None (`out`, the
        primal result, positional after the arguments, as for VJP rules).

        The explicit rule (defjvp, defjvp_argnum) if there is one; else one derived:
          linear in i (jointly)  -> the primitive applied to t, zeros in the other linear slots;
          multilinear in i       -> the primitive with argument i replaced by t;
          self-adjoint Jacobian  -> the VJP rule applied to t and argument i, both broadcast
                                    to the result's shape (elementwise primitives: the
                                    Jacobian is diagonal after broadcasting);
                                    not for a primitive with explicit rules, where a None
                                    entry means the argument is not differentiable (a None
                                    entry for a `linear`/`multilinear` argument derives).
        None for a primitive that is not differentiable, or an argument without a rule.
        A rule may return a tangent of a smaller shape broadcastable to the result's, or of
        another float dtype: `jvp` broadcasts and casts."""
        if not self.differentiable:
            return None
        explicit = self._explicit_jvp(i)
        if explicit is not None:
            return explicit
        # (`out` comes last among the positional arguments, as for VJP rules)
        if self.is_linear_in(i):
            prim = self
            return lambda t, *rest, **params: _linear_jvp(prim, {i: t}, rest[:-1], params)
        if self.is_multilinear_in(i):
            prim = self
            return lambda t, *rest, **params: prim(*rest[:i], t, *rest[i + 1:-1], **params)
        if self.jvps is not None or self.jvp_argnum is not None:
            return None
        if self.self_adjoint:
            vjp = self.vjp_rule(i)
            if vjp is None:
                return None
            return lambda t, *rest, **params: _self_adjoint_jvp(vjp, i, t, rest[:-1], rest[-1], params)
        return None

    def grad_fn_name(self, args, params):
        gf = self._grad_fn
        if gf.__class__ is str:
            return gf
        return gf(args, params)

    def abstract_eval(self, args, params):
        """Shape and dtype of the result for arguments given as values or Abstracts."""
        if self.shape_rule is not None:
            return self.shape_rule(args, params)
        if self.dims_rule is not None and any(has_dims(shape_of(a)) for a in args):
            a = self.dims_rule(args, params)     # None: the dummies below (which pin the extents)
            if a is not None:
                return a
        if self.kind == "elementwise" and any(has_dims(shape_of(a)) for a in args):
            shape = broadcast_shapes(*(shape_of(a) for a in args))
            out = np.asarray(self.impl(*[np.zeros((), dtype_of(a)) if hasattr(a, "dtype") else a for a in args],
                                       **params))
            return Abstract(shape, out.dtype)
        dummies = [_dummy(a) for a in args]
        out = np.asarray(self.impl(*dummies, **params))
        return Abstract(out.shape, out.dtype)

    def scalar_types(self, args, params):
        """The dtypes of applying `scalar` to `args` (given as for `abstract_eval`: values
        or Abstracts with a dtype, a Python scalar for a weak operand), as a
        ScalarTypes(operands, compute, result): convert operand i to `operands[i]`, make the
        namespace for `compute`, and the value `scalar` returns has dtype `result`.

        Per `scalar_args`: "result" -> the result dtype; "common" -> NumPy's common type of
        all operands and the numeric params (weak Python scalars as NEP 50); "bool" -> bool;
        "own" -> the operand's own dtype. `compute` is the dtype of the first operand that is
        not a "bool" one (bool when all are)."""
        if self.scalar is None:
            raise TypeError(f"primitive {self.name!r} has no scalar definition")
        result = np.dtype(self.abstract_eval(args, params).dtype)
        tags = self.scalar_args if isinstance(self.scalar_args, tuple) else (self.scalar_args,) * len(args)
        if len(tags) != len(args):
            raise TypeError(f"{self.name}: {len(args)} operands for a scalar definition of {len(tags)}")
        common = None
        operands = []
        for a, tag in zip(args, tags):
            if tag == "result":
                operands.append(result)
            elif tag == "bool":
                operands.append(np.dtype(bool))
            elif tag == "own":
                operands.append(np.result_type(_weak_or_dtype(a)))
            else:
                if common is None:
                    numeric = [v for v in params.values() if isinstance(v, (int, float, np.number))
                               and not isinstance(v, bool)]
                    common = np.result_type(*[_weak_or_dtype(x) for x in args], *numeric)
                operands.append(common)
        compute = next((d for d, tag in zip(operands, tags) if tag != "bool"), np.dtype(bool))
        return ScalarTypes(tuple(operands), compute, result)

    def __call__(self, *args, **params):
        # bind(), inlined: this is on every op's path
        best = None
        cache = _handler_cache
        for a in args:
            h = cache.get(a.__class__, _MISS)
            if h is _MISS:
                h = _lookup(a.__class__)
            if h is not None and (best is None or h[0] > best[0]):
                best = h
        if best is None:
            return self.impl(*args, **params)
        return best[1](self, args, params)

    def __repr__(self):
        return f"<primitive {self.name}>"


def _arg_set(name, flag, value):
    if value is None or value is False:
        return None
    if value is True:
        return True
    try:
        return frozenset(int(i) for i in value)
    except TypeError:
        raise ValueError(f"primitive {name!r}: {flag} must be True or a tuple of argument indices") from None


_PY_SCALARS = (bool, int, float, complex)


def _zero_for(prim, a):
    """A zero standing for argument `a` in a linear slot without a tangent: a weak 0.0 for an
    elementwise primitive (broadcasting supplies the shape) or a Python scalar, else zeros
    shaped like `a` (the zeros_like primitive: it runs on every kind of value)."""
    if isinstance(a, _PY_SCALARS) or prim.kind == "elementwise":
        return 0.0
    from .elementwise import zeros_like
    return zeros_like(a)


def _linear_jvp(prim, tangents, args, params):
    """The tangent of a primitive jointly linear in its `linear` arguments: the primitive
    applied to the tangents (a dict index -> tangent), zeros in the other linear slots."""
    full = [tangents[j] if j in tangents else _zero_for(prim, a) if prim.is_linear_in(j) else a
            for j, a in enumerate(args)]
    return prim(*full, **params)


def _self_adjoint_jvp(vjp, i, t, args, out, params):
    """J t for a self-adjoint J: the VJP rule with t, and argument i, broadcast to the result's
    shape (then the rule's unbroadcast to argument i's shape is the identity)."""
    from .shape import broadcast_to
    shape = shape_of(out)
    if not same_shape(shape_of(t), shape):
        t = broadcast_to(t, shape=shape)
    a = args[i]
    if not same_shape(shape_of(a), shape):
        args = args[:i] + (broadcast_to(a, shape=shape),) + args[i + 1:]
    return vjp(t, *args, out, **params)


def jvp(prim, tangents, args, params=None, out=None):
    """The tangent of `prim(*args, **params)` for `tangents` of its arguments.

    tangents -- one per argument (a shorter sequence: the rest are None); None means the
                argument has no tangent (zero). Values of any kind (ndarrays, Tensors, IR
                values): only primitives run on them.
    out      -- the primal result (computed here when None).
    Returns the sum of the rules' tangents, broadcast to the result's shape and cast (astype)
    to its dtype; None when no tangent is given, the primitive is not differentiable, no
    rule gives a tangent, or the result is not floating point (an integer or boolean result
    has no tangent, as in torch). A given tangent on an argument without a rule counts as
    zero (a where's condition, the dynamic parts of an index). No primitive of the table
    returns a tuple; tuple-valued functions (slogdet, svd, eigh) are one primitive per part.
    """
    if not prim.differentiable:
        return None
    params = {} if params is None else params
    given = {i: t for i, t in enumerate(tangents) if t is not None and i < len(args)}
    if not given:
        return None
    if out is None:
        out = prim(*args, **params)
    out_dtype = dtype_of(out)
    if out_dtype.kind not in "fc":
        return None
    total = None
    if prim.linear is not None:
        lin = {i: t for i, t in given.items() if prim.is_linear_in(i) and prim._explicit_jvp(i) is None}
        if len(lin) > 1:   # jointly linear: one application for all of them
            total = _linear_jvp(prim, lin, args, params)
            given = {i: t for i, t in given.items() if i not in lin}
    for i, t in given.items():
        rule = prim.jvp_rule(i)
        if rule is None:
            continue
        r = rule(t, *args, out, **params)
        if r is None:
            continue
        if total is None:
            total = r
        else:
            from .elementwise import add
            total = add(total, r)
    if total is None:
        return None
    shape = shape_of(out)
    if shape_of(total) != shape:
        from .shape import broadcast_to
        total = broadcast_to(total, shape=shape)
    if dtype_of(total) != out_dtype:
        from .shape import astype
        total = astype(total, dtype=out_dtype)
    return total


def _weak_or_dtype(a):
    """A Python scalar stays a value (weak in NumPy's promotion); anything else is its dtype."""
    if isinstance(a, (bool, int, float)):
        return a
    return np.dtype(a.dtype)


def _camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def _dummy(a):
    if isinstance(a, Abstract):
        return np.broadcast_to(np.zeros((), a.dtype), a.shape)
    if hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, np.ndarray):
        return np.broadcast_to(np.zeros((), np.dtype(a.dtype)), tuple(a.shape))
    return a


def register_handler(value_type, handler, priority):
    """Route `bind` calls that have a `value_type` argument to `handler`.

    handler(prim, args, params) -> result. Among the arguments' types, the
    handler with the highest priority wins (the compiler's IR values outrank
    Tensors, which outrank ndarrays).
    """
    _handlers[value_type] = (priority, handler)
    _handler_cache.clear()


def _lookup(t):
    try:
        return _handler_cache[t]
    except KeyError:
        found = None
        for base in t.__mro__:
            if base in _handlers:
                found = _handlers[base]
                break
        _handler_cache[t] = found
        return found


def bind(prim, *args, **params):
    """Apply `prim` to `args`, dispatching on the kind of the arguments (see Primitive.__call__)."""
    return prim(*args, **params)


def get(name):
    """The primitive called `name`; a KeyError names the known ones."""
    try:
        return registry[name]
    except KeyError:
        raise KeyError(f"no primitive named {name!r}; known: {', '.join(sorted(registry))}") from None


def shape_of(x):
    """The shape of a value of any kind (scalar, ndarray, Tensor, Abstract, IR value)."""
    s = getattr(x, "shape", None)
    return () if s is None else tuple(s)


def dtype_of(x):
    d = getattr(x, "dtype", None)
    if d is None:
        return np.result_type(x)
    return np.dtype(d)


def unbroadcast(g, shape):
    """Sum `g` down to `shape`, undoing NumPy broadcasting (no-op when equal)."""
    if shape_of(g) == tuple(shape):
        return g
    from . import shape as _shape_ops  # the sum_to primitive lives with the shape ops
    return _shape_ops.sum_to(g, shape=tuple(shape))
