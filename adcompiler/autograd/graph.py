"""Backward-graph nodes: the objects a Tensor's `grad_fn` points at.

`PrimNode` records one application of a table primitive and evaluates the
primitive's VJP rules in backward — on ndarrays for a plain backward, on
Tensors when `create_graph=True`. `AccumulateGrad` sits at the leaves.
No derivative formula lives here; they are all in adcompiler.ops.

Each grad_fn name is its own class, as in torch (`type(y.grad_fn).__name__ ==
"AddBackward0"`): `node_class(name)` makes a subclass of PrimNode once per name.
The tape records plain PrimNodes and a node takes its named class when it is
first seen (`Tensor.grad_fn`, `next_functions`): one class on the hot paths
keeps Python's attribute caches monomorphic (a class per name there cost ~15%).
Hooks (`register_hook`, `register_prehook`) are in .hooks; this module is also
torch.autograd.graph's namespace (saved_tensors_hooks, save_on_cpu, ...).
"""
from __future__ import annotations

import re
import threading
import weakref

import numpy as np

from ..ops.core import Abstract
from .hooks import RemovableHandle, add_hook, hooks_of
from .saved_hooks import disable_saved_tensors_hooks, save_on_cpu, saved_tensors_hooks

__all__ = ["Node", "PrimNode", "AccumulateGrad", "accumulate_node", "edge_of", "node_class", "named", "saved_tensors_hooks",
           "save_on_cpu", "disable_saved_tensors_hooks", "RemovableHandle"]

# Accumulation into `.grad` is a read-modify-write (`grad is None ?`, then `+=`, which NumPy runs
# without the GIL on large arrays): several threads running backward into one leaf must take
# turns, or contributions are lost (torch's AccumulateGrad holds a mutex the same way).
GRAD_LOCK = threading.RLock()

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
    "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time "
    "or if you need to access saved tensors after calling backward.")


class Node:
    """A node of the backward graph. Subclasses set `_next`, the engine's edges: a tuple with one child node
    or None per input or, for a PrimNode whose only child is that of its first input, the child node itself
    (no tuple: one object fewer per recorded op for the GC; `_arity` then says how many inputs there are);
    and `_nrs` (None when every edge goes to output 0 of its child, else one output_nr per edge). `_edges` and
    `next_functions` show them as torch's (node, output_nr) pairs. Subclasses implement
    `apply(grad, create_graph) -> grads, one per input`."""

    __slots__ = ("_next", "_nrs", "_hooks", "__weakref__")
    n_outputs = 1
    hidden_edge = None  # the engine's edge that next_functions does not show (see PrimNode)
    out_id = None  # (PrimNode) id() of the tensor this node produced

    @property
    def _edges(self):
        """((node, output_nr), ...), one per input."""
        nrs = self._nrs
        nexts = children(self)
        if nrs is None:
            return tuple((c, 0) for c in nexts)
        return tuple(zip(nexts, nrs))

    def name(self):
        return type(self).__name__

    @property
    def next_functions(self):
        """((node, output_nr), ...) of the inputs this node sends gradient to; (None, 0) for inputs that
        need none."""
        return tuple((named(n), nr) if n is not None else (n, nr) for n, nr in self._edges)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    def release(self):
        """Free what was saved for backward (unless retain_graph)."""

    def register_retained(self, tensor):
        hooks = hooks_of(self)
        if hooks.retained is None:
            hooks.retained = []
        hooks.retained.append((tensor._output_nr, weakref.ref(tensor)))

    @property
    def metadata(self):
        """A dict of the user's own notes about this node (as torch's Node.metadata)."""
        hooks = hooks_of(self)
        if hooks.metadata is None:
            hooks.metadata = {}
        return hooks.metadata

    def register_prehook(self, fn):
        """`fn(grad_outputs) -> tuple or None` runs before this node; a tuple replaces grad_outputs."""
        return add_hook(hooks_of(self).dict_for("pre"), fn)

    def register_hook(self, fn):
        """`fn(grad_inputs, grad_outputs) -> tuple or None` runs after this node; a tuple replaces
        grad_inputs (the gradients it sends along next_functions)."""
        return add_hook(hooks_of(self).dict_for("post"), fn)


class AccumulateGrad(Node):
    """Leaf node: adds the incoming gradient into `variable.grad`."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable
        self._next = ()
        self._nrs = None
        self._hooks = None

    def accumulate(self, g, create_graph):
        with GRAD_LOCK:
            self._accumulate(g, create_graph)

    def _accumulate(self, g, create_graph):
        from ..tensor import Tensor
        var = self.variable
        if var.shape != tuple(np.shape(g._data if isinstance(g, Tensor) else g)):
            g = np.broadcast_to(g._data if isinstance(g, Tensor) else g, var.shape)
        if create_graph:
            gt = g if isinstance(g, Tensor) else Tensor._make(np.array(g, dtype=var._data.dtype))
            var.grad = gt if var.grad is None else var.grad + gt
            return
        g = g._data if isinstance(g, Tensor) else g
        if var.grad is None:
            var.grad = Tensor._make(np.array(g, dtype=var._data.dtype, copy=True))
        elif var.grad.requires_grad:
            var.grad = var.grad + Tensor._make(np.asarray(g, dtype=var._data.dtype))
        else:
            np.add(var.grad._data, g, out=var.grad._data, casting="unsafe")
            var.grad._bump()


def children(node):
    """`node`'s child per input (None where an input needs no gradient), as a tuple."""
    nexts = node._next
    if type(nexts) is tuple:
        return nexts
    return (nexts,) + (None,) * (node._arity - 1)


def accumulate_node(t):
    """The (cached) AccumulateGrad of leaf tensor `t`; the tensor holds it weakly."""
    ref = t._acc
    acc = ref() if ref is not None else None
    if acc is None:
        with GRAD_LOCK:  # one node per leaf, also when threads build graphs on it at the same time
            ref = t._acc
            acc = ref() if ref is not None else None
            if acc is None:
                acc = AccumulateGrad(t)
                t._acc = weakref.ref(acc)
    return acc


def edge_of(t):
    """(node, output_nr) through which gradient reaches tensor `t`."""
    if t._grad_fn is not None:
        return (t._grad_fn, t._output_nr)
    if t._requires_grad:
        return (accumulate_node(t), 0)
    return (None, 0)


_HIDDEN_EDGE = {"PowBackward0": 1, "PowBackward2": 0, "RsubBackward1": 0, "WhereBackward0": 0, "ZeroBackward0": 1,
                "FillBackward2": 1}

# The shapes and dtypes of arguments a node does not keep by value: the node's `args` holds a plain int
# key (its bit set in `_ak`) and the engine passes the rule this table's Abstract. An int is an atom for
# Python's garbage collector, so a node's argument tuple (ints, floats, ndarrays) is untracked by it.
_ABSTRACTS = []
_ABSTRACT_KEYS = {}
_NUMBERS = (float, int)
_NO_PARAMS = {}
_MAX_ABSTRACTS = 1 << 16


def _abstract_key(arr):
    key = (arr.shape, arr.dtype)
    k = _ABSTRACT_KEYS.get(key)
    if k is None:
        with _CLASS_LOCK:
            k = _ABSTRACT_KEYS.get(key)
            if k is None:
                if len(_ABSTRACTS) >= _MAX_ABSTRACTS:
                    return None  # (the caller keeps an Abstract object instead)
                k = len(_ABSTRACTS)
                _ABSTRACTS.append(Abstract(arr.shape, arr.dtype))
                _ABSTRACT_KEYS[key] = k
    return k


class PrimNode(Node):
    """One recorded application of a primitive (see `named` for its class).

    What it keeps is laid out for Python's garbage collector, which walks every object it tracks: per
    recorded op the node and its tuple of child nodes are the only tracked objects that stay. `args` holds
    per argument a Python scalar, an ndarray, an int key of an Abstract (bit set in `_ak`) or, for a saved
    tensor, its ndarray when the tensor is the output of its own grad_fn (bit set in `_nl`: the version
    check then reads that node's `out_vc`) and the Tensor itself otherwise (leaves, constants, custom
    Functions' outputs, traced arrays). No node refers to the tensor it produced (no reference cycles):
    it knows it by `out_id`, and the tensor hands it its version counter when it gets one
    (`Tensor._counter`)."""

    __slots__ = ("prim", "_name", "args", "params", "saved_versions", "out_data", "out_vc", "out_version", "out_id",
                 "freed", "has_saved", "_nl", "_ak", "_conv", "_arity")

    def __init__(self, prim, args, params, out_data, res, name, tensor_type):
        self.prim = prim
        self.params = params if params else _NO_PARAMS  # (one shared empty dict: the rules read, never write)
        self._name = name
        self._hooks = None
        self._nrs = None
        self.freed = False
        self.out_id = id(res)
        vc = res._vc
        if vc.__class__ is list:
            self.out_vc = vc
            self.out_version = vc[0]
        else:
            self.out_vc = None  # set by Tensor._counter when the result gets a counter
            self.out_version = 0
        if prim.saves_out:
            self.out_data = out_data
            saved = True
        else:
            self.out_data = None
            saved = False
        self.saved_versions = ()  # expected versions of the saved tensors, in argument order; () when all 0
        if len(args) == 1 and args[0].__class__ is tensor_type:
            # the usual unary op: its argument saved (as its array when its own grad_fn produced it) or not
            a = args[0]
            fn = a._grad_fn
            self._next = fn if fn is not None else accumulate_node(a)  # (the child itself: see Node)
            self._arity = 1
            if fn is not None and a._output_nr:
                self._nrs = (a._output_nr,)
            if 0 in prim.saves:
                vc = a._vc
                if fn is not None and fn.out_id == id(a) and (vc is fn.out_vc or (vc.__class__ is tuple
                                                                                  and fn.out_vc is None)):
                    self.args = (a._data,)
                    self._nl = 1
                else:
                    self.args = args
                    self._nl = 0
                if vc[0]:
                    self.saved_versions = (vc[0],)
                self._ak = 0
                self._conv = self.has_saved = True
                return
            k = _abstract_key(a._data)
            self._nl = 0
            self.has_saved = saved
            self._conv = True
            if k is None:
                self.args = (Abstract.of(a._data),)
                self._ak = 0
            else:
                self.args = (k,)
                self._ak = 1
            return
        saves = prim.saves
        if len(args) == 2 and args[0].__class__ is tensor_type and args[1].__class__ in _NUMBERS:
            # the usual binary op with a Python number (x * 2.0, x + 1): as the unary case
            a, c = args
            fn = a._grad_fn
            self._next = fn if fn is not None else accumulate_node(a)
            self._arity = 2
            if fn is not None and a._output_nr:
                self._nrs = (a._output_nr, 0)
            self._conv = True
            if 0 in saves:
                vc = a._vc
                if fn is not None and fn.out_id == id(a) and (vc is fn.out_vc or (vc.__class__ is tuple
                                                                                  and fn.out_vc is None)):
                    self.args = (a._data, c)
                    self._nl = 1
                else:
                    self.args = args
                    self._nl = 0
                if vc[0]:
                    self.saved_versions = (vc[0],)
                self._ak = 0
                self.has_saved = True
                return
            k = _abstract_key(a._data)
            self._nl = 0
            self.has_saved = saved
            if k is None:
                self.args = (Abstract.of(a._data), c)
                self._ak = 0
            else:
                self.args = (k, c)
                self._ak = 1
            return
        kept = None  # a list copy of args, made when an argument is replaced
        nexts = []
        versions = None
        nonzero = False
        nl = ak = 0
        i = 0
        for a in args:
            if isinstance(a, tensor_type):
                fn = a._grad_fn
                if fn is not None:
                    nexts.append(fn)
                    if a._output_nr:
                        self._set_nr(len(args), i, a._output_nr)
                elif a._requires_grad:
                    nexts.append(accumulate_node(a))
                else:
                    nexts.append(None)
                if i in saves:
                    if versions is None:
                        versions = []
                    vc = a._vc
                    if fn is not None and fn.out_id == id(a) and not a._sticky:
                        ovc = fn.out_vc
                        if vc is ovc or (ovc is None and vc.__class__ is tuple):
                            # a tensor its own grad_fn produced: keep the array, check the version on that node
                            if kept is None:
                                kept = list(args)
                            kept[i] = a._data
                            nl |= 1 << i
                    v = vc[0]
                    versions.append(v)
                    if v:
                        nonzero = True
                else:
                    k = _abstract_key(a._data)
                    if kept is None:
                        kept = list(args)
                    if k is None:
                        kept[i] = Abstract.of(a._data)
                    else:
                        kept[i] = k
                        ak |= 1 << i
            else:
                nexts.append(None)
                if a.__class__ is np.ndarray and i not in saves:
                    k = _abstract_key(a)
                    if kept is None:
                        kept = list(args)
                    if k is None:
                        kept[i] = Abstract.of(a)
                    else:
                        kept[i] = k
                        ak |= 1 << i
            i += 1
        self.args = args if kept is None else tuple(kept)  # ints, floats, ndarrays only: untracked by the GC
        self._next = tuple(nexts)
        self._arity = len(nexts)
        self._nl = nl
        self._ak = ak
        if nonzero:
            self.saved_versions = tuple(versions)
        self._conv = versions is not None or ak != 0
        self.has_saved = saved or versions is not None

    def _set_nr(self, n, i, nr):
        nrs = list(self._nrs) if self._nrs is not None else [0] * n
        nrs[i] = nr
        self._nrs = tuple(nrs)

    def name(self):
        return self._name

    @property
    def hidden_edge(self):
        # torch lists no edge for a Python-number exponent/base (`x ** 2`, `2 ** x`, `1 - x`) nor for
        # where's condition; the engine keeps one edge per argument (always (None, 0) for these)
        return _HIDDEN_EDGE.get(self._name)

    @property
    def next_functions(self):
        edges = Node.next_functions.fget(self)
        hide = self.hidden_edge
        if hide is None:
            return edges
        return edges[:hide] + edges[hide + 1:]

    def _saved_positions(self, tensor_type):
        """Positions of the saved tensors in `args` (the order of `saved_versions`)."""
        nl = self._nl
        return [i for i, a in enumerate(self.args) if (nl >> i) & 1 or isinstance(a, tensor_type)]

    def snapshot_saved(self, root, tensor_type):
        """`root`'s storage is about to be written in place by NumPy code the tracer runs: keep, for
        this node, copies of the values it saved from that storage (NumPy semantics: an op that
        already ran used the old values)."""
        if self.freed:
            return
        pos = self._saved_positions(tensor_type)
        args = list(self.args)
        versions = list(self.saved_versions) if self.saved_versions else [0] * len(pos)
        for vi, i in enumerate(pos):
            a = args[i]
            if isinstance(a, tensor_type) and (a._base if a._base is not None else a) is root:
                snap = tensor_type._make(a._data.copy(), a._grad_fn)
                snap._acc, snap._requires_grad, snap._output_nr = a._acc, a._requires_grad, a._output_nr
                args[i] = snap
                versions[vi] = snap._vc[0]
        self.args, self.saved_versions = tuple(args), tuple(versions)
        if self.out_data is not None and self.out_vc is root._vc:
            self.out_data, self.out_vc, self.out_version = self.out_data.copy(), [0], 0

    def release(self):
        if self.has_saved:
            self.freed = True
            self.args = None
            self.out_data = None

    def _unpack(self, create_graph):
        """The arguments for the rules: Abstracts for the keys, the saved values checked against their
        versions (ndarrays; Tensors when create_graph)."""
        Tensor = _tensor_type()
        nl, ak = self._nl, self._ak
        versions = self.saved_versions
        vi = 0
        out = []
        i = 0
        for a in self.args:
            if (ak >> i) & 1:
                a = _ABSTRACTS[a]
            elif (nl >> i) & 1:
                child = self._next
                if type(child) is tuple:
                    child = child[i]
                vc = child.out_vc
                cur = vc[0] if vc is not None else 0
                expected = versions[vi] if versions else 0
                vi += 1
                if cur != expected or child in MOVED:
                    name = MOVED.get(child, child.name())
                    if name is None:
                        raise RuntimeError(_DETACHED_MSG)
                    if cur != expected:
                        raise RuntimeError(_modified_msg(Tensor._make(a), cur, expected, op=name))
                if create_graph:
                    a = Tensor._make(a, child)
                    if vc is not None:
                        a._vc = vc
            elif isinstance(a, Tensor):
                expected = versions[vi] if versions else 0
                vi += 1
                if a._vc[0] != expected:
                    raise RuntimeError(_modified_msg(a, a._vc[0], expected))
                if not create_graph:
                    a = a._data
            out.append(a)
            i += 1
        return out

    def apply(self, g, create_graph, unpacked=None):
        if self.freed:
            raise RuntimeError(_FREED_MSG)
        if unpacked is None:
            args = self._unpack(create_graph) if self._conv else self.args
            out = self.out_data
            if out is not None and self.out_vc is not None and self.out_vc[0] != self.out_version:
                raise RuntimeError(_modified_msg(None, self.out_vc[0], self.out_version, self))
        else:
            args, out = unpacked
        if create_graph:
            Tensor = _tensor_type()
            out = Tensor._make(out, self) if out is not None else None
            if not isinstance(g, Tensor):
                g = Tensor._make(g)
        prim = self.prim
        params = self.params
        nexts = self._next
        if type(nexts) is not tuple:  # one child, that of input 0
            rule = prim.vjp_rule(0)
            g0 = None if rule is None else rule(g, *args, out, **params)
            return [g0] if self._arity == 1 else [g0, None]
        grads = []
        i = 0
        for child in nexts:
            if child is not None:
                rule = prim.vjp_rule(i)
                grads.append(None if rule is None else rule(g, *args, out, **params))
            else:
                grads.append(None)
            i += 1
        return grads

    def apply_saved(self, g, create_graph, slots):
        """apply(), the saved values coming from `slots` (packed by saved_tensors_hooks)."""
        if self.freed:
            raise RuntimeError(_FREED_MSG)
        ak = self._ak
        args = [_ABSTRACTS[a] if (ak >> i) & 1 else a for i, a in enumerate(self.args)]
        out = None
        for slot in slots:
            t = slot.unpack(self)
            if slot.index is None:
                out = t._data
            else:
                args[slot.index] = t if create_graph else t._data
        return self.apply(g, create_graph, (args, out))


# node -> the name of the grad_fn its output tensor has now (None: detached in place), written when an
# in-place op or detach_() changes the grad_fn of a tensor a node produced: a node that saved the tensor
# (as its array) says it as torch does. (A name, not the node: the new node holds the old one.)
MOVED = weakref.WeakKeyDictionary()

_DETACHED_MSG = ("Trying to use a saved tensor that has been detached in-place, i.e. with .detach_().This is not "
                 "supported, please use out-of-place `.detach()` instead")


def moved(old_fn, tensor):
    """`tensor`, which `old_fn` produced, has a new grad_fn (or none)."""
    if old_fn is not None and old_fn.out_id == id(tensor):
        fn = tensor._grad_fn
        MOVED[old_fn] = fn.name() if fn is not None else None


NODE_CLASSES = {}
_CLASS_LOCK = threading.Lock()


def node_class(name):
    """The PrimNode subclass named `name` (made once per name)."""
    cls = NODE_CLASSES.get(name)
    if cls is None:
        with _CLASS_LOCK:
            cls = NODE_CLASSES.get(name)
            if cls is None:
                cls = NODE_CLASSES[name] = type(name, (PrimNode,), {"__slots__": (), "__module__": __name__})
    return cls


def named(node):
    """`node`, its class now the one named after it (what users see: `type(y.grad_fn).__name__`)."""
    if node.__class__ is PrimNode:
        node.__class__ = node_class(node._name)
    return node


_TENSOR = []


def _tensor_type():
    if not _TENSOR:
        from ..tensor import Tensor
        _TENSOR.append(Tensor)
    return _TENSOR[0]


def _describe(t):
    from ..tensor import type_name
    return f"[{type_name(t)} [{', '.join(map(str, t.shape))}]]"


def _op_name(node):
    """How torch names the op in the modified-by-inplace message: `Exp` for ExpBackward0."""
    return re.sub(r"Backward\d+$", "", node.name())


def _modified_msg(t, version, expected, node=None, op=None):
    head = "one of the variables needed for gradient computation has been modified by an inplace operation: "
    if op is not None:  # a saved array: `op` names the grad_fn its tensor has now
        head += f"{_describe(t)}, which is output 0 of {re.sub(r'Backward[0-9]*$', '', op)},"
    elif t is None:  # a node's own saved output
        head += f"{_describe(_tensor_type()._make(node.out_data))}, which is output 0 of {_op_name(node)},"
    elif t._grad_fn is not None:
        head += f"{_describe(t)}, which is output {t._output_nr} of {_op_name(t._grad_fn)},"
    else:
        head += _describe(t)
    return (f"{head} is at version {version}; expected version {expected} instead. Hint: the backtrace further "
            "above shows the operation that failed to compute its gradient. The variable in question was changed "
            "in there or anywhere later. Good luck!")
