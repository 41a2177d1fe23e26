"""What the front end's expressions evaluate to, before they become IR values.

- `Value` (ir.py): a run-time value in the IR.
- `Static`: a Python object known at compile time (literals, shapes, modules,
  functions, constant arrays). Operations on statics run in Python at compile
  time; a static becomes an IR constant only when a run-time op needs it.
- `PyTuple`: a tuple or list display whose items are any of these (so
  `a, b = b, a` or returning a tuple from an inlined helper costs no op).
- `BoundMethod`: `x.sum` before it is called.
- `ListBuffer`: a list a loop appended to, as the rows of one array (lists.py).
- `GrowList`: a list a loop of unknown trip count appends to, as a tape (lists.py).
- `Undefined`: a variable that has no value on some path; using it raises
  UnsupportedSyntax with the stored reason.
"""
from __future__ import annotations


class Static:
    """A compile-time value. One read from outside the function has a `ref` (external.py):
    reading `.value` then means the compiled code depends on it (a guard), while `raw` does
    not (the front end may still make it a hidden input)."""
    __slots__ = ("raw", "fresh", "ref", "read")

    def __init__(self, value, fresh=False, ref=None):
        self.raw = value
        self.fresh = fresh       # a new array made in this function (may be assigned into)
        self.ref = ref
        self.read = False

    @property
    def value(self):
        self.read = True
        return self.raw

    def __repr__(self):
        return f"Static({self.raw!r})"


class PyTuple:
    __slots__ = ("items", "is_list")

    def __init__(self, items, is_list=False):
        self.items = list(items)
        self.is_list = is_list


class BoundMethod:
    __slots__ = ("obj", "name")

    def __init__(self, obj, name):
        self.obj, self.name = obj, name


class Undefined:
    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason


def static_equal(a, b):
    """Whether two statics are the same compile-time value (scalars by value, objects by identity)."""
    x, y = a.value, b.value   # both are compiled in (their refs get guards)
    if x is y:
        return True
    if type(x) in (int, float, bool) and type(y) is type(x):
        return x == y
    return False


class ListBuffer:
    """A Python list whose items are the rows of the IR array `array` (`length` of them): what a
    loop that appends to a list leaves (see lists.py)."""
    __slots__ = ("array", "length")

    def __init__(self, array, length):
        self.array, self.length = array, length


class GrowList:
    """A Python list of unknown length: the items are pushed onto the IR tape `tape` (one value of
    type `elem` each, None before the first), and NumPy sees them through one `tape_stack` of
    it, made on first use (`stacked`); see lists.py."""
    __slots__ = ("name", "tape", "elem", "stacked", "read_line", "block")

    def __init__(self, name, tape, elem, block):
        self.name, self.tape, self.elem, self.block = name, tape, elem, block
        self.stacked = self.read_line = None
