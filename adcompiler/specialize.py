"""A compiled gradient for one argument signature, and the backend it runs on.

The compiler (compiler/gradient.py) returns IR: the forward function and its
adjoint. This module, on the API's side of the line, turns that IR into
something to call: the Python/NumPy tier (backends/python.py) always, and the
native tier (backends/llvm) when `jit` asks for it — "always" at once, "auto"
after a few calls or one slow call, "never" not at all. A function the native
tier cannot lower stays on the NumPy tier, and `native_reason` says why.
"""
from __future__ import annotations

import time

import numpy as np

from . import plancache, tracing
from .compiler.errors import UnsupportedSyntax
from .compiler.gradient import adjoint_ir
from .compiler.ir import walk
from .compiler.memory import Memory
from .compiler.types import ArrayType, type_of_value
from .tensor import Tensor

__all__ = ["CompiledGrad", "CompiledTransform", "compile_value_and_grad", "UnsupportedSyntax", "JIT_MODES"]

JIT_MODES = ("auto", "never", "always")
AUTO_CALLS = 3          # "auto": try the native tier from this call on ...
AUTO_SLOW = 0.005       # ... or after one call slower than this (seconds)


class _Tiers:
    """One compiled IR function on its tiers: the NumPy tier's generated code (`compiled`) and,
    when `jit` asks for it and the IR lowers, the native tier's machine code."""
    shape_env = None    # a shape-generic specialisation's symbols and guards (compile_shape_generic)

    def _init_tiers(self, ir, jit, fastmath, threads=None):
        self.jit = jit
        self.fastmath = fastmath
        self.threads = threads         # ad.jit(threads=): split a large elementwise kernel over threads
        self.threads_note = ""
        self._compiled = None          # the NumPy tier's code, made when first needed
        self.native = None             # the native tier's function, once compiled
        self.native_reason = None      # why there is none (NotLowerable), once tried
        self.native_note = None        # what is native when only the array regions are (outline.py)
        self.calls = 0
        self.tier = None               # "native" or "numpy": what ran last
        self._slow = False             # the last call took longer than AUTO_SLOW
        self._runner = None            # the native function once it runs; None: the NumPy tier

    @property
    def compiled(self):
        """The NumPy tier (backends/python.py): generated on first use, so a function that runs
        native from a cached entry never generates or imports it."""
        if self._compiled is None:
            from .backends import python as python_backend
            self._compiled = python_backend.compile_function(self.ir)
        return self._compiled

    @property
    def source(self):
        return self.compiled.source

    def _numpy_tier(self, *args):
        return self.compiled(*args)

    def try_native(self):
        """Compile the native tier once; a NotLowerable reason is kept and not retried."""
        if self.native is not None or self.native_reason is not None:
            return self.native
        if self.shape_env is not None:
            self.native_reason = ("a shape-generic specialisation runs on the NumPy tier (the native tier "
                                  "compiles one specialisation per shape)")
            return None
        from .backends import llvm
        try:
            self.native = llvm.compile(self.ir, self._numpy_tier, fastmath=self.fastmath)
        except llvm.NotLowerable as e:
            self.native = self._partly_native(llvm, e)
            if self.native is None:
                self.native_reason = str(e)
                return None
        except Exception as e:   # a defect of the native tier: the NumPy tier's answer is still right
            first = str(e).splitlines()[0] if str(e) else ""
            self.native_reason = (f"the native tier failed internally ({type(e).__name__}: {first}); please "
                                  f"report this with the function's source")
            return None
        if self.threads and self.threads > 1:
            self._split_over_threads(llvm)
        self._runner = self.native
        return self.native

    def _split_over_threads(self, llvm):
        from .backends.llvm.threads import MIN_ELEMENTS, separable_shape, threaded
        if self.native_note is not None or separable_shape(self.ir) is None:
            self.threads_note = f"; threads={self.threads} not used: the function is not purely elementwise"
            return
        self.native = threaded(self.native, self.ir, self.threads,
                               lambda kfn: llvm.compile(kfn, self._numpy_tier, fastmath=self.fastmath))
        self.threads_note = f"; {self.threads} threads for arrays of {MIN_ELEMENTS:,} elements or more"

    def _partly_native(self, llvm, whole):
        """The NumPy tier's code calling native kernels for the function's array regions (outline.py),
        or None when no region is worth one; `native_note` says what became native."""
        from .backends import python as python_backend
        from .backends.llvm.outline import outline

        def compile_kernel(kfn):
            return llvm.compile(kfn, python_backend.compile_function(kfn), fastmath=self.fastmath)
        try:
            done = outline(self.ir, compile_kernel)
        except llvm.NotLowerable:
            return None
        host = python_backend.compile_function(done.host)
        self.native_note = f"{done.summary()} (the whole function: {whole.reason})"
        return _PartlyNative(host, done.kernels)

    def _call(self, args):
        runner = self._runner
        self.calls += 1
        if runner is None and self.jit == "auto" and self.native_reason is None and self.calls > 1:
            if self.calls > AUTO_CALLS or self._slow:
                runner = self.try_native()
        if runner is None:
            runner = self.compiled
        t = time.perf_counter()
        out = runner(*args)
        self._slow = time.perf_counter() - t > AUTO_SLOW
        self.tier = "native" if runner is self.native and runner.last_ok else "numpy"
        return out


class _PartlyNative:
    """Generated NumPy code that calls native kernels for its array regions; callable like a
    NativeFunction (`last_ok`: the last call's kernels all ran natively)."""

    def __init__(self, host, kernels):
        self.host, self.kernels = host, kernels

    def __call__(self, *args):
        return self.host(*args)

    @property
    def last_ok(self):
        return all(k.last_ok for k in self.kernels)

    @property
    def llvm_ir(self):
        return "\n".join(k.llvm_ir for k in self.kernels)


class CompiledGrad(_Tiers):
    """A compiled (value and) gradient function for one argument signature, on its tiers."""

    def __init__(self, fn, values, wrt_names, with_value=True, has_aux=False, jit="auto", ir=None, fastmath=False):
        self.fn = fn
        self.with_value = with_value
        self.has_aux = has_aux
        self.how = "reverse-mode source transformation"
        self.forward_ir, self.ir = ir or adjoint_ir(fn, values, wrt_names, with_value, has_aux)
        self.param_names = [p.hint for p in self.forward_ir.user_params]
        self.wrt_names = list(wrt_names)
        self._init_tiers(self.ir, jit, fastmath)
        # which returned gradients are arrays made anew on each call (the others are copied: a gradient
        # must never be the user's own array, a global, or a constant of the generated code)
        out = self.ir.return_op.operands[0]
        made = next(op for op in walk(self.ir.body) if out in op.results)
        mem = Memory(self.ir)
        k = int(with_value) + int(has_aux)
        self._fresh = [made.name == "tuple" and mem.new_each_call(v) for v in made.operands[k:]] \
            if made.name == "tuple" else [False] * len(wrt_names)
        if jit == "always":
            self.try_native()

    def run(self, values):
        k = int(self.with_value) + int(self.has_aux)   # (value?, aux?, *grads)
        aux = None
        if tracing.tracing_active() and any(isinstance(v, Tensor) and v.requires_grad for v in values.values()):
            # differentiated again (grad of grad): run the generated code on the outer tracer's Tensors
            out = tracing.traceable(self.compiled.plain)(*[values[n] for n in self.param_names],
                                                        *self.forward_ir.hidden_values())
            if self.has_aux:
                aux = out[k - 1]
            return (out[0] if self.with_value else None), dict(zip(self.wrt_names, out[k:])), aux
        args = [_plain(values[n]) for n in self.param_names] + self.forward_ir.hidden_values()
        out = self._call(args)
        result = {}
        for name, g, fresh in zip(self.wrt_names, out[k:], self._fresh):
            result[name] = _like(g, values[name], fresh)
        value = float(np.asarray(out[0]).reshape(())) if self.with_value else None
        if self.has_aux:
            aux = out[k - 1]
        return value, result, aux


class CompiledForward(_Tiers):
    """`ad.jit(f)` for one argument signature: the forward function alone, on its tiers."""

    def __init__(self, fn, values, jit="always", fastmath=False, threads=None):
        from .compiler.frontend import compile_function
        from .compiler.passes import optimize
        self.fn = fn
        self.ir = self.forward_ir = optimize(compile_function(fn, {k: type_of_value(_plain(v))
                                                                   for k, v in values.items()}))
        self.param_names = [p.hint for p in self.ir.user_params]
        self._init_tiers(self.ir, jit, fastmath, threads)
        out = self.ir.return_op.operands[0]
        mem = Memory(self.ir)
        made = next((op for op in walk(self.ir.body) if out in op.results), None)
        parts = made.operands if made is not None and made.name == "tuple" else [out]
        self._fresh = [mem.new_each_call(v) for v in parts]
        self._is_tuple = made is not None and made.name == "tuple"
        if jit == "always":
            self.try_native()

    def run(self, values):
        out = self._call([_plain(values[n]) for n in self.param_names] + self.forward_ir.hidden_values())
        parts = out if self._is_tuple else (out,)
        # an array the generated code did not make on this call (an argument, a global, a constant) is
        # returned as a copy, so the caller's writes into it cannot reach anything else
        parts = tuple(np.array(p) if isinstance(p, np.ndarray) and not fresh else p
                      for p, fresh in zip(parts, self._fresh))
        return parts if self._is_tuple else parts[0]


class CompiledTransform(_Tiers):
    """A functional transform (transforms.py: jvp, vjp, hvp) of one argument signature: the IR the
    compiler built for it on its tiers. `how` names the transform ("forward mode" ...)."""

    def __init__(self, forward_ir, ir, how, jit="auto", fastmath=False):
        self.forward_ir, self.ir, self.how = forward_ir, ir, how
        self._init_tiers(ir, jit, fastmath)
        if jit == "always":
            self.try_native()

    def run(self, args):
        """The generated code's result for these positional arguments, every array in it a copy
        (the result may hold an argument or a constant of the code)."""
        return _copy_arrays(self._call(list(args) + self.forward_ir.hidden_values()))


def _copy_arrays(x):
    if isinstance(x, tuple):
        return tuple(_copy_arrays(p) for p in x)
    return np.array(x) if isinstance(x, np.ndarray) else x


def _plain(v):
    return v._data if isinstance(v, Tensor) else v


def _like(g, x, fresh):
    """Gradient `g` with the type, dtype and shape of argument `x`; a copy unless `fresh` (the
    memory analysis proved the generated code made it on this call)."""
    if isinstance(x, Tensor):
        return Tensor._make(_array_like(g, x._data, fresh))
    if isinstance(x, np.ndarray):
        return _array_like(g, x, fresh)
    return float(g)


def _array_like(g, x, fresh):
    if fresh and isinstance(g, np.ndarray) and g.dtype == x.dtype and g.shape == x.shape and g.flags.owndata:
        return g
    return np.array(np.broadcast_to(g, x.shape), dtype=x.dtype)


def compile_value_and_grad(fn, values, wrt_names, has_aux=False, with_value=True, jit="auto", fastmath=False):
    from .api import GradFunction, signature_key
    if isinstance(fn, GradFunction):
        irs = _gradient_of_gradient(fn, values, wrt_names, with_value, has_aux)
        if irs is not None:
            compiled = CompiledGrad(fn, values, wrt_names, with_value, has_aux, jit, ir=irs, fastmath=fastmath)
            compiled.how = "forward over reverse: the forward-mode transform of the inner adjoint's IR"
            return compiled
        fn = _generated_gradient(fn, values)
    key = plancache.key(fn, tuple((n, signature_key(v)) for n, v in values.items()), tuple(wrt_names),
                        with_value, has_aux)
    cached = plancache.load(key, fn) if key is not None else None
    if cached is not None:
        return CompiledGrad(fn, values, wrt_names, with_value, has_aux, jit, ir=cached, fastmath=fastmath)
    compiled = CompiledGrad(fn, values, wrt_names, with_value, has_aux, jit, fastmath=fastmath)
    if key is not None:
        plancache.store(key, compiled.forward_ir, compiled.ir)
    return compiled


def compile_shape_generic(fn, values, wrt_names, dynamic, has_aux=False, with_value=True, fastmath=False,
                          previous=None):
    """A CompiledGrad for every call whose argument shapes satisfy its guards (`.shape_env`, see
    ops/dims.py): the extents in `dynamic` ((parameter, axis) pairs, each ≥ 2 in `values`) are
    symbols — one per distinct value, as equal extents are usually one quantity (a batch size),
    unless they differed in `previous` (parameter -> shape of an earlier call) — and the rest stay
    as in `values`. The NumPy tier's code is built at once and the environment
    frozen; the native tier compiles per shape, so this specialisation stays on the NumPy tier.
    Raises UnsupportedSyntax (or whatever the compiler raises) where it cannot be built."""
    from .compiler.gradient import _check_wrt, adjoint_ir_for_types
    from .ops.dims import ShapeEnv
    for n in wrt_names:
        _check_wrt(n, values[n])
    env = ShapeEnv()
    groups = {}
    for name, axis in dynamic:
        before = previous[name][axis] if previous and name in previous else None
        groups.setdefault((int(np.shape(_plain(values[name]))[axis]), before), []).append((name, axis))
    symbol = {}
    for (value, _), sources in groups.items():
        d = env.symbol(value, sources)
        symbol.update((src, d) for src in sources)
    types = {}
    for name, v in values.items():
        t = type_of_value(_plain(v))
        if t.is_array:
            env.static[name] = tuple(None if (name, a) in symbol else d for a, d in enumerate(t.shape))
            t = ArrayType(t.dtype, [symbol.get((name, a), d) for a, d in enumerate(t.shape)])
        types[name] = t
    fwd, adj = adjoint_ir_for_types(fn, types, wrt_names, with_value, has_aux)
    adj.read_shape_symbols(env)
    compiled = CompiledGrad(fn, values, wrt_names, with_value, has_aux, "never", ir=(fwd, adj), fastmath=fastmath)
    code = compiled.compiled
    code.strict, code.plain           # every variant of the code before the guards are final
    env.frozen = True
    compiled.shape_env = env
    compiled.how += f"; shape-generic: {env.describe()}"
    return compiled


def _gradient_of_gradient(inner, values, wrt_names, with_value, has_aux):
    """grad(grad(f)) w.r.t. one float argument, as forward over reverse on f's adjoint IR
    (compiler/transforms.py; an array argument's basis vectors in one batched sweep): loops with
    tapes stay compiled. None where that does not apply (the generated gradient is then read as
    user code)."""
    from .api import GradFunction
    if has_aux or len(wrt_names) != 1 or isinstance(inner.fn, GradFunction) or inner.has_aux or \
            inner.return_value or inner._tuple_out or len(inner.wrt_names) != 1:
        return None
    name = wrt_names[0]
    v = _plain(values.get(name)) if isinstance(name, str) else None
    if not (isinstance(v, (float, np.floating)) or (isinstance(v, np.ndarray) and v.dtype.kind == "f")):
        return None
    plan = inner._plan(values)
    if plan.compiled is None or plan.compiled.shape_env is not None:
        return None
    from .compiler.transforms import second_derivative_ir
    try:
        return second_derivative_ir(inner.fn, {k: type_of_value(_plain(x)) for k, x in values.items()},
                                    inner.wrt_names[0], name, with_value,
                                    irs=(plan.compiled.forward_ir, plan.compiled.ir))
    except UnsupportedSyntax:
        return None


def _generated_gradient(inner, values):
    """grad(grad(f)): a plain function returning the inner gradient, which the front end reads
    like user code (it inlines the generated adjoint of f)."""
    if inner.has_aux or inner.return_value or inner._tuple_out:
        raise UnsupportedSyntax("a gradient of a value_and_grad, has_aux or several-argument gradient is traced "
                                "through the generated adjoint code")
    plan = inner._plan(values)
    if plan.compiled is None:
        raise UnsupportedSyntax(f"the inner gradient is itself traced ({plan.reason})")
    if plan.compiled.forward_ir.hidden:
        names = ", ".join(h.ref.text() for h in plan.compiled.forward_ir.hidden)
        raise UnsupportedSyntax(f"the generated gradient of {inner._fn_name()} reads {names} from outside the "
                                "function on each call; a gradient of it is traced through it")
    from .backends import python as python_backend
    from .compiler.frontend import compile_function
    func = plan.compiled.compiled.plain
    params = plan.compiled.param_names
    name = f"{func.__name__}_0"
    source = f"def {name}({', '.join(params)}):\n    return {func.__name__}({', '.join(params)})[0]\n"
    namespace = {func.__name__: func}
    python_backend.register_and_exec(source, name, namespace)
    wrapper = namespace[name]
    try:
        compile_function(wrapper, {k: type_of_value(_plain(v)) for k, v in values.items()})
    except UnsupportedSyntax as e:
        why = ("it keeps a tape for a loop (a Python list)" if any(op.name == "tape_new" for op in walk(
            plan.compiled.ir.body)) else e.reason)
        raise UnsupportedSyntax(f"the generated gradient of {inner._fn_name()} cannot be compiled again "
                                f"({why}); a gradient of a gradient is traced through it") from None
    return wrapper
