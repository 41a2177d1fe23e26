"""Every construct the front end refuses: the reason, and the exact line and column."""
import inspect
import os

import pytest

from adcompiler.compiler import UnsupportedSyntax, compile_function, parse_type

from . import unsupported_cases as uc

A3 = "f64[3]"
CASES = [
    # function, argument types, reason (substring), column of the reported node
    ("try_except", [A3], "try/except is not supported", 4),
    ("with_statement", [A3], "with statements are not supported", 4),
    ("nested_def", [A3], "'inner' changes 'y' of its enclosing function in place", 4),
    ("lambda_expr", [A3], "calling '<lambda>' after the function that defined it has returned", 11),
    ("list_comprehension", [A3], "a comprehension's `if` on a run-time value is not supported", 32),
    ("recursion", [A3, "i64"], "recursive call to 'recursion' is not supported", 15),
    ("print_call", [A3], "print() is not supported", 4),
    ("dynamic_slice", [A3, "i64"], "slice bounds must be known at compile time", 14),
    ("boolean_mask", [A3], "indexing with a boolean mask computed at run time is not supported", 13),
    ("global_statement", [A3], "global statements are not supported", 4),
    ("raise_statement", [A3], "raise is not supported", 4),
    ("mutate_argument", [A3], "would modify an array the caller passed in", 4),
    ("mutate_alias", [A3], "'y' shares its data with 'z'", 4),
    ("mutate_global", [A3], "constant array defined outside the function", 4),
    ("shape_grows_in_loop", [A3], "'acc' changes type in the loop: f64[3] before it, f64[6] after", 4),
    ("unknown_numpy", [A3], "np.median() is not supported by the compiler", 11),
    ("dynamic_assert", ["f64"], "assert on a run-time value is not supported", 4),
    ("star_args", [A3], "*args/**kwargs parameters are not supported", 0),
    ("missing_return_path", ["f64"], "can reach its end without a return statement", 0),
    ("undefined_branch_var", ["f64"], "'y' is assigned on only one branch of the if at line", 11),
    ("while_true", ["f64"], "this while loop never ends", 4),
    ("array_truth", [A3], "the truth value of an array of type f64[3] is ambiguous", 7),
    ("attribute_assign", [A3], "assigning to an attribute is not supported", 4),
    ("del_statement", [A3], "del is not supported", 4),
    ("undefined_name", [A3], "name 'not_defined_anywhere' is not defined", 15),
    ("loop_var_after_loop", [A3], "'i' is set inside the loop at line", 15),
    ("dict_display", [A3], "dict displays are not supported", 8),
    ("shape_mismatch", [A3, "f64[4]"], "add: shape mismatch", 12),
    ("np_zeros_dynamic", [A3, "i64"], "np.zeros() needs arguments known at compile time", 11),
]


def marked_line(fn):
    lines, first = inspect.getsourcelines(fn)
    for k, line in enumerate(lines):
        if "# <-" in line:
            return first + k
    raise AssertionError(f"{fn.__name__} has no '# <-' marker")


@pytest.mark.parametrize("name,types,reason,col", CASES, ids=[c[0] for c in CASES])
def test_unsupported_names_reason_line_and_column(name, types, reason, col):
    fn = getattr(uc, name)
    with pytest.raises(UnsupportedSyntax) as info:
        compile_function(fn, [parse_type(t) for t in types])
    e = info.value
    assert reason in e.reason
    assert os.path.basename(e.file) == "unsupported_cases.py"
    assert (e.line, e.col) == (marked_line(fn), col)
    assert str(e) == f"{e.reason} (unsupported_cases.py:{e.line}:{e.col})"


def test_every_case_function_is_tested():
    tested = {c[0] for c in CASES} | {"type_changes_in_loop"}
    defined = {n for n, v in vars(uc).items() if inspect.isfunction(v)}
    assert defined == tested


def test_error_message_format():
    e = UnsupportedSyntax("try/except is not supported", "/a/b/model.py", 14, 4)
    assert str(e) == "try/except is not supported (model.py:14:4)"
    assert (e.reason, e.file, e.line, e.col) == ("try/except is not supported", "/a/b/model.py", 14, 4)
