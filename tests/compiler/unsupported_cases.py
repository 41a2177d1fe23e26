"""Functions the front end must refuse; the line it must name is marked `# <-`."""
import numpy as np

TABLE = np.ones(3)


def try_except(x):
    try:  # <-
        return x
    except ValueError:
        return x


def with_statement(x):
    with open("f") as f:  # <-
        return x


def nested_def(x):
    y = x * 2.0

    def inner(v):
        y[0] = v
    inner(x[1])  # <-
    return y


def lambda_expr(x):
    def make(s):
        return lambda v: v * s
    return make(x)(x)  # <-


def list_comprehension(x):
    return sum([v for v in x if v > 0])  # <-


def recursion(x, n):
    if n > 0:
        return recursion(x, n - 1) * 2.0  # <-
    return x


def print_call(x):
    print(x)  # <-
    return x


def dynamic_slice(x, n):
    return x[:n].sum()  # <-


def boolean_mask(x):
    return x[x > 0].sum()  # <-


def global_statement(x):
    global TABLE  # <-
    return x


def raise_statement(x):
    raise ValueError("no")  # <-


def mutate_argument(x):
    x[0] = 1.0  # <-
    return x.sum()


def mutate_alias(x):
    y = x.copy()
    z = y
    y[0] = 1.0  # <-
    return z.sum()


def mutate_global(x):
    t = TABLE
    t[0] = 2.0  # <-
    return x


def type_changes_in_loop(x):
    acc = 0.0
    for i in range(3):  # <-
        acc = np.concatenate([np.zeros(1), x])
        acc = acc[:i + 1] if False else acc
        acc = acc + acc.sum() * 0 + (acc if i == 0 else acc)
    return acc


def shape_grows_in_loop(x):
    acc = x
    for i in range(3):  # <-
        acc = np.concatenate([acc, x])
    return acc.sum()


def unknown_numpy(x):
    return np.median(x).sum()  # <-


def dynamic_assert(x):
    assert x > 0  # <-
    return x


def star_args(*xs):  # <-
    return xs


def missing_return_path(x):  # <-
    if x > 0:
        return x


def undefined_branch_var(x):
    if x > 0:
        y = x
    return y  # <-


def while_true(x):
    while True:  # <-
        x = x * 2.0
    return x


def array_truth(x):
    if x:  # <-
        return x.sum()
    return 0.0


def attribute_assign(x):
    x.shape = (3,)  # <-
    return x


def del_statement(x):
    y = x
    del y  # <-
    return x


def undefined_name(x):
    return x + not_defined_anywhere  # <-


def loop_var_after_loop(x):
    for i in range(3):
        x = x + 1.0
    return x * i  # <-


def dict_display(x):
    d = {"a": x}  # <-
    return d


def shape_mismatch(x, y):
    return (x + y).sum()  # <-


def np_zeros_dynamic(x, n):
    return np.zeros(n) + x  # <-
