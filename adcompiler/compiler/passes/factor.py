"""Factor a common cotangent out of an adjoint's sums of products (scalars only).

The reverse transform accumulates one contribution per use of a value, each the
incoming cotangent times a local partial: `dx + (-g)*b*x + (-g*x)*b + g*a*cos(x)`.
In a loop every one of those products sits on the chain from one iteration's
cotangent to the next, so the loop runs at the latency of mul-mul-add-add.
Rewriting the sum as `dx + g*(-(b*x) - x*b + a*cos(x))` leaves one multiply and
one add on that chain — what a hand-written adjoint does.

Only derivative-rule ops (never the user's own, whose rounding the forward
value must keep) on Python floats of one type are rewritten: the rewrite is
exact in real arithmetic and changes only the last bits, and every backend runs
the rewritten IR, so the tiers still agree with each other bit for bit.
"""
from __future__ import annotations

from ..ir import Op, use_counts, walk


def factor(fn):
    """Rewrite, in place, each sum with two or more terms sharing a factor. Returns fn."""
    uses = use_counts(fn.body)
    for block in _blocks(fn.body):
        defs = {id(r): op for op in block.ops for r in op.results}
        consumers = {}
        for op in block.ops:
            for v in op.operands:
                consumers.setdefault(id(v), []).append(op)
        new_ops = []
        for op in block.ops:
            if _is_sum_root(op, defs, uses, consumers):
                new_ops.extend(_factor_sum(op, defs, uses))
            new_ops.append(op)
        block.ops[:] = new_ops
    return fn


def _blocks(block):
    yield block
    for op in walk(block):
        yield from op.regions


def _float_scalar(v, t):
    return v.type == t and v.type.is_scalar and v.type.dtype.kind == "f"


def _rewritable(op, t):
    return op is not None and not op.user and op.results and _float_scalar(op.result, t)


def _is_sum_root(op, defs, uses, consumers):
    if op.name not in ("add", "sub") or not _rewritable(op, op.result.type):
        return False
    users = consumers.get(id(op.result), ())
    return not (uses.get(id(op.result)) == 1 and len(users) == 1 and users[0].name in ("add", "sub")
                and _rewritable(users[0], op.result.type))


def _terms(v, sign, t, defs, uses, out):
    """The signed terms of the sum tree under `v` (interior nodes used once, in this block)."""
    op = defs.get(id(v))
    if op is not None and op.name in ("add", "sub", "neg") and _rewritable(op, t) and \
            all(_float_scalar(x, t) for x in op.operands) and uses.get(id(v)) == 1:
        if op.name == "neg":
            _terms(op.operands[0], -sign, t, defs, uses, out)
        else:
            _terms(op.operands[0], sign, t, defs, uses, out)
            _terms(op.operands[1], sign if op.name == "add" else -sign, t, defs, uses, out)
    else:
        out.append((sign, v))


def _factors(v, t, defs):
    """(sign, [factors]) of the product tree under `v` (through mul and neg of this block)."""
    op = defs.get(id(v))
    if op is not None and op.name in ("mul", "neg") and _rewritable(op, t) and \
            all(_float_scalar(x, t) for x in op.operands):
        if op.name == "neg":
            s, fs = _factors(op.operands[0], t, defs)
            return -s, fs
        s0, f0 = _factors(op.operands[0], t, defs)
        s1, f1 = _factors(op.operands[1], t, defs)
        return s0 * s1, f0 + f1
    return 1, [v]


def _factor_sum(root, defs, uses):
    """Rewrite `root` (an add/sub) as others + f * (sum of cofactors); returns the new ops."""
    t = root.result.type
    if not all(_float_scalar(v, t) for v in root.operands):
        return []
    terms = []
    _terms(root.operands[0], 1, t, defs, uses, terms)
    _terms(root.operands[1], 1 if root.name == "add" else -1, t, defs, uses, terms)
    monomials = []     # (sign of the term in the sum, sign of its product, its factors, its value)
    for sign, v in terms:
        s, fs = _factors(v, t, defs)
        monomials.append((sign, s, fs, v))
    counts = {}
    for _, _, fs, _ in monomials:
        for f in {id(f): f for f in fs}.values():
            counts[id(f)] = counts.get(id(f), 0) + 1
    best = max(counts.items(), key=lambda kv: kv[1], default=(None, 0))
    if best[1] < 2:
        return []
    common = next(f for _, _, fs, _ in monomials for f in fs if id(f) == best[0])
    new_ops = []

    def emit(name, *operands):
        op = Op(name, operands, [t], loc=root.loc)
        new_ops.append(op)
        return op.result

    inner, others = None, []
    for term_sign, prod_sign, fs, v in monomials:
        if not any(f is common for f in fs):
            others.append((term_sign, v))       # v itself, its product's sign included
            continue
        sign = term_sign * prod_sign
        rest = list(fs)
        rest.remove(common)
        if rest:
            prod = rest[0]
            for f in rest[1:]:
                prod = emit("mul", prod, f)
        else:
            one = Op("const", (), [t], {"value": 1.0}, loc=root.loc)
            new_ops.append(one)
            prod = one.result
        if inner is None:
            inner = prod if sign > 0 else emit("neg", prod)
        else:
            inner = emit("add" if sign > 0 else "sub", inner, prod)
    scaled = emit("mul", common, inner)
    acc = None
    for sign, v in others:
        if acc is None:
            acc = v if sign > 0 else emit("neg", v)
        else:
            acc = emit("add" if sign > 0 else "sub", acc, v)
    if acc is None:
        root.name, root.operands = "mul", [common, inner]
        new_ops.pop()
    else:
        root.name, root.operands = "add", [acc, scaled]
    return new_ops
