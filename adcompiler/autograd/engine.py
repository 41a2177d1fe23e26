"""The backward engine: iterative topological traversal with dependency counts.

No recursion anywhere, so a chain of a million ops backpropagates. `backward`
accumulates into leaves' `.grad`; `grad` returns gradients for chosen inputs
and touches no `.grad`. Both run only the nodes that lead to what was asked.
"""
from __future__ import annotations

import numpy as np

from . import grad_mode
from .anomaly_mode import ANOMALY
from .graph import GRAD_LOCK, AccumulateGrad, children, edge_of
from .hooks import accumulate as hooks_accumulate, call_node, run_tensor_hooks

__all__ = ["backward", "grad", "run_backward"]


def _as_tensor_seq(x):
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _root_grad(t, g, create_graph, i):
    from ..tensor import Tensor
    if g is None:
        if t.numel() != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        data = np.ones(t.shape, dtype=t._data.dtype)
        return Tensor._make(data) if create_graph else data
    if not isinstance(g, Tensor):
        raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
    if tuple(g.shape) != tuple(t.shape):
        raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of adcompiler.Size({list(g.shape)}) "
                           f"and output[{i}] has a shape of adcompiler.Size({list(t.shape)}).")
    if g._data.dtype != t._data.dtype:
        g = g.to(t.dtype)  # as torch's engine: the gradient takes the output's dtype
    return g if create_graph else g._data


def _graph(roots):
    """Dependency counts of every node reachable from `roots` (iteratively)."""
    deps = {}
    seen = set()
    stack = [n for n in roots if n is not None]
    for n in stack:
        seen.add(n)
    while stack:
        node = stack.pop()
        nexts = node._next
        if type(nexts) is not tuple:  # a PrimNode's only child (see Node)
            deps[nexts] = deps.get(nexts, 0) + 1
            if nexts not in seen:
                seen.add(nexts)
                stack.append(nexts)
            continue
        for child in nexts:
            if child is None:
                continue
            deps[child] = deps.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return deps, seen


def _needed(nodes, targets):
    """Nodes from which some target node can be reached (post-order, iterative)."""
    needed = {}
    for start in nodes:
        if start in needed:
            continue
        stack = [(start, iter(children(start)))]
        needed[start] = start in targets
        while stack:
            node, it = stack[-1]
            advanced = False
            for child in it:
                if child is None:
                    continue
                if child not in needed:
                    needed[child] = child in targets
                    stack.append((child, iter(children(child))))
                    advanced = True
                    break
                if needed[child]:
                    needed[node] = True
            if not advanced:
                stack.pop()
                if stack and needed[node]:
                    needed[stack[-1][0]] = True
    return {n for n, v in needed.items() if v}


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None, accumulate=True,
                 allow_unused=False):
    """Backpropagate from `outputs`. With `inputs`, return their gradients (in order)."""
    from ..tensor import Tensor
    if retain_graph is None:
        retain_graph = create_graph
    roots = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        node, _ = edge_of(t)
        roots.append((node, _root_grad(t, g, create_graph, i)))

    captures = None
    if inputs is not None:
        captures = {}
        for k, x in enumerate(inputs):
            if not isinstance(x, Tensor):
                raise TypeError(f"inputs must be Tensors, but got {type(x).__name__}")
            if not x.requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            node, nr = edge_of(x)
            captures.setdefault(node, []).append((k, nr))
    root_nodes = [n for n, _ in roots]
    deps, seen = _graph(root_nodes)
    needed = _needed(root_nodes, captures) if captures is not None else None

    buffers = {}
    for (node, g), t in zip(roots, outputs):
        _add_to_buffer(buffers, node, edge_of(t)[1], g)
    results = [None] * (len(inputs) if inputs is not None else 0)
    ready = [n for n in dict.fromkeys(root_nodes) if deps.get(n, 0) == 0]

    anomaly = ANOMALY if ANOMALY.enabled else None
    with grad_mode.set_grad_enabled(create_graph):
        while ready:
            node = ready.pop()
            g = buffers.pop(node, None)
            hooks = node._hooks  # None unless something was registered on this node
            if g is not None:
                if hooks is not None:
                    g = run_tensor_hooks(node, hooks, g, create_graph)
                if captures is not None and node in captures:
                    for k, nr in captures[node]:
                        gk = g if node.n_outputs == 1 else g[nr]
                        if gk is not None:
                            results[k] = gk if results[k] is None else results[k] + gk
                    if not any(c in needed for c in children(node)):
                        continue  # leads to no other input (nothing to accumulate either): torch does not run it
            if type(node) is AccumulateGrad:
                if g is not None and accumulate and (captures is None or node in captures):
                    if hooks is None:
                        node.accumulate(g, create_graph)
                    else:
                        hooks_accumulate(node, hooks, g, create_graph)
                continue
            nexts = node._next
            if g is None:
                grads = None
            elif hooks is None and anomaly is None:
                grads = node.apply(g, create_graph)
            else:
                grads = call_node(node, hooks, g, create_graph, anomaly, retain_graph)
            if not retain_graph:
                node.release()
            if type(nexts) is not tuple:  # a PrimNode's only child, that of its input 0 (see Node)
                child = nexts
                if needed is not None and child not in needed:
                    continue
                gj = grads[0] if grads is not None else None
                if gj is not None:
                    if child.n_outputs == 1:
                        if child in buffers:
                            buffers[child] = buffers[child] + gj
                        else:
                            buffers[child] = gj
                    else:
                        _add_to_buffer(buffers, child, node._nrs[0] if node._nrs is not None else 0, gj)
                d = deps[child] - 1
                deps[child] = d
                if d == 0:
                    ready.append(child)
                continue
            j = -1
            for child in nexts:
                j += 1
                if child is None or (needed is not None and child not in needed):
                    continue
                gj = grads[j] if grads is not None else None
                if gj is not None:
                    if child.n_outputs == 1:
                        if child in buffers:
                            buffers[child] = buffers[child] + gj
                        else:
                            buffers[child] = gj
                    else:
                        _add_to_buffer(buffers, child, node._nrs[j] if node._nrs is not None else 0, gj)
                d = deps[child] - 1
                deps[child] = d
                if d == 0:
                    ready.append(child)

    if inputs is None:
        return None
    out = []
    for k, r in enumerate(results):
        if r is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {k} appears to not have been used in the "
                                   f"graph. Set allow_unused=True if this is the desired behavior.")
            out.append(None)
            continue
        x = inputs[k]
        if isinstance(r, Tensor):
            out.append(r)
        else:
            out.append(Tensor._make(np.array(np.broadcast_to(r, x.shape), dtype=x._data.dtype)))
    return tuple(out)


def _add_to_buffer(buffers, node, nr, g):
    if node.n_outputs == 1:
        buffers[node] = buffers[node] + g if node in buffers else g
        return
    buf = buffers.get(node)
    if buf is None:
        buf = buffers[node] = [None] * node.n_outputs
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def retain(node, g, create_graph):
    """Set `.grad` of the tensors of `node`'s outputs that retain_grad()."""
    for nr, ref in node._hooks.retained:
        t = ref()
        gk = g if node.n_outputs == 1 else g[nr]
        if t is not None and gk is not None:
            _retain_one(t, gk, create_graph)


def _retain_one(t, g, create_graph):
    from ..tensor import Tensor
    if isinstance(g, Tensor):
        g = g if create_graph else g.detach()
    else:
        g = Tensor._make(np.array(g, dtype=t._data.dtype, copy=True))
    with GRAD_LOCK:
        t.grad = g if t._grad is None else t._grad + g


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into the leaves' `.grad` (torch.autograd.backward)."""
    tensors = _as_tensor_seq(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    else:
        grad_tensors = _as_tensor_seq(grad_tensors) if not isinstance(grad_tensors, (list, tuple)) else list(grad_tensors)
    if inputs is not None:
        inputs = _as_tensor_seq(inputs)
        grads = run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=inputs, accumulate=False,
                             allow_unused=True)
        for x, gx in zip(inputs, grads):
            if gx is not None:
                gx = gx if create_graph else gx.detach()
                acc = x._acc() if x._grad_fn is None and x._acc is not None else None
                if acc is not None and acc._hooks is not None:  # its node's and post-accumulate hooks run
                    hooks_accumulate(acc, acc._hooks, gx if create_graph else gx._data, create_graph)
                    continue
                with GRAD_LOCK:
                    x.grad = gx.clone() if x._grad is None else x._grad + gx
            if x._grad_fn is not None and not x._retains_grad:
                x.retain_grad()  # as torch: a non-leaf input retains its grad from now on
        return
    run_backward(tensors, grad_tensors, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False,
         materialize_grads=False):
    """Gradients of `outputs` w.r.t. `inputs`, returned as a tuple (torch.autograd.grad)."""
    from ..tensor import Tensor
    outputs = _as_tensor_seq(outputs)
    inputs = _as_tensor_seq(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    res = run_backward(outputs, list(grad_outputs), retain_graph, create_graph, inputs=inputs, accumulate=False,
                       allow_unused=allow_unused or materialize_grads)
    if materialize_grads:
        res = tuple(r if r is not None else Tensor._make(np.zeros_like(x._data)) for r, x in zip(res, inputs))
    if not create_graph:
        res = tuple(r.detach() if r is not None else None for r in res)
    return res
