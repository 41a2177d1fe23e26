"""Each pass on small IR texts: what it removes, merges, folds or marks."""
import textwrap

from adcompiler.compiler import activity, constant_fold, cse, dce, optimize, parse_function, print_function, verify


def ir(text):
    return parse_function(textwrap.dedent(text))


def body(fn):
    """The op lines of a function's text, without locations and the header."""
    return [line.split("#")[0].rstrip() for line in print_function(fn).splitlines()[1:-1]]


def test_dce_removes_unused_ops_and_keeps_the_input():
    f = ir("""
    func @f(%x: f64[3]) -> f64[3] {
      %a = sin %x : f64[3]
      %b = cos %x : f64[3]
      %c = mul %a, %a : f64[3]
      return %a
    }
    """)
    before = print_function(f)
    g = dce(f)
    assert body(g) == ["  %a = sin %x : f64[3]", "  return %a"]
    assert print_function(f) == before


def test_dce_prunes_unused_if_results_and_loop_carried_values():
    f = ir("""
    func @f(%x: f64, %n: i64) -> f64 {
      %c = gt %x, %x : bool
      %u, %v = if %c : f64, f64 {
        %s = sin %x : f64
        yield %s, %x
      } else {
        yield %x, %x
      }
      %0 = const 0 : i64
      %1 = const 1 : i64
      %acc, %junk = for %i = %0 to %n step %1 iter(%acc.1 = %x, %junk.1 = %x) : f64, f64 {
        %acc.2 = mul %acc.1, %v : f64
        %junk.2 = sin %junk.1 : f64
        yield %acc.2, %junk.2
      }
      return %acc
    }
    """)
    g = dce(f)
    verify(g)
    text = print_function(g)
    assert "%u" not in text and "sin %x" not in text      # the dead if result and its computation
    assert "junk" not in text                              # carried value feeding only itself
    assert "iter(%acc.1 = %x) : f64" in text


def test_dce_keeps_carried_values_the_live_ones_need():
    f = ir("""
    func @f(%x: f64) -> f64 {
      %0 = const 0 : i64
      %1 = const 3 : i64
      %2 = const 1 : i64
      %a, %b = for %i = %0 to %1 step %2 iter(%a.1 = %x, %b.1 = %x) : f64, f64 {
        %a.2 = mul %a.1, %b.1 : f64
        %b.2 = sin %b.1 : f64
        yield %a.2, %b.2
      }
      return %a
    }
    """)
    assert "%b.2 = sin %b.1" in print_function(dce(f))


def test_dce_drops_a_whole_dead_loop():
    f = ir("""
    func @f(%x: f64) -> f64 {
      %0 = const 0 : i64
      %1 = const 3 : i64
      %2 = const 1 : i64
      %a = for %i = %0 to %1 step %2 iter(%a.1 = %x) : f64 {
        %a.2 = sin %a.1 : f64
        yield %a.2
      }
      return %x
    }
    """)
    assert body(dce(f)) == ["  return %x"]


def test_cse_merges_equal_ops_and_constants_but_not_different_types():
    f = ir("""
    func @f(%x: f64[3]) -> f64[3] {
      %0 = const 2.0 : f64
      %1 = const 2.0 : f64
      %2 = const 2 : i64
      %a = mul %x, %0 : f64[3]
      %b = mul %x, %1 : f64[3]
      %c = mul %x, %2 : f64[3]
      %d = add %a, %b : f64[3]
      %e = add %d, %c : f64[3]
      return %e
    }
    """)
    g = dce(cse(f))
    assert body(g) == ["  %0 = const 2.0 : f64", "  %1 = const 2 : i64", "  %a = mul %x, %0 : f64[3]",
                       "  %c = mul %x, %1 : f64[3]", "  %d = add %a, %a : f64[3]", "  %e = add %d, %c : f64[3]",
                       "  return %e"]


def test_cse_uses_outer_values_inside_regions_but_not_the_reverse():
    f = ir("""
    func @f(%x: f64, %c: bool) -> f64 {
      %a = sin %x : f64
      %r = if %c : f64 {
        %b = sin %x : f64
        %t = cos %x : f64
        yield %b
      } else {
        %t2 = cos %x : f64
        yield %t2
      }
      %t3 = cos %x : f64
      %s = add %r, %t3 : f64
      %s2 = add %s, %a : f64
      return %s2
    }
    """)
    g = cse(f)
    verify(g)
    text = print_function(g)
    assert "%b = sin" not in text and "yield %a" in text       # inner sin -> outer one
    assert text.count("= cos %x") == 3                        # a region's value is not visible outside


def test_constant_fold_evaluates_primitives_with_the_table():
    f = ir("""
    func @f(%x: f64[2]) -> f64[2] {
      %0 = const 2.0 : f64
      %1 = const 3.0 : f64
      %2 = mul %0, %1 : f64
      %3 = const [1.0, 4.0] : f64[2]
      %4 = sqrt %3 : f64[2]
      %5 = mul %4, %2 : f64[2]
      %6 = add %x, %5 : f64[2]
      return %6
    }
    """)
    g = dce(constant_fold(f))
    assert body(g) == ["  %0 = const [6.0, 12.0] : f64[2]", "  %1 = add %x, %0 : f64[2]", "  return %1"]


def test_constant_fold_takes_the_branch_of_a_constant_condition():
    f = ir("""
    func @f(%x: f64) -> f64 {
      %0 = const 1 : i64
      %1 = const 2 : i64
      %c = lt %0, %1 : bool
      %r = if %c : f64 {
        %s = sin %x : f64
        yield %s
      } else {
        yield %x
      }
      return %r
    }
    """)
    g = dce(constant_fold(f))
    assert body(g) == ["  %s = sin %x : f64", "  return %s"]


def test_constant_fold_zero_trip_loop_and_untuple_of_tuple():
    f = ir("""
    func @f(%x: f64, %y: f64) -> f64 {
      %t = tuple %x, %y : (f64, f64)
      %a, %b = untuple %t : f64, f64
      %0 = const 5 : i64
      %1 = const 1 : i64
      %r = for %i = %0 to %0 step %1 iter(%r.1 = %b) : f64 {
        %r.2 = sin %r.1 : f64
        yield %r.2
      }
      return %r
    }
    """)
    assert body(dce(constant_fold(f))) == ["  return %y"]


def test_constant_fold_leaves_errors_to_run_time():
    f = ir("""
    func @f(%x: f64[3]) -> f64[] {
      %0 = const 7 : i64
      %1 = getitem %x {idx=0} : f64[]
      return %1
    }
    """)
    assert body(constant_fold(f)) == body(f)


def test_activity_needs_dependence_on_wrt_and_reaching_the_output():
    f = ir("""
    func @f(%x: f64[3], %y: f64[3]) -> f64[] {
      %a = sin %x : f64[3]
      %b = cos %x : f64[3]
      %c = mul %a, %y : f64[3]
      %d = exp %y : f64[3]
      %e = add %c, %d : f64[3]
      %k = argmax %b {axis=None, keepdims=False} : i64[]
      %s = sum %e {axis=None, keepdims=False} : f64[]
      return %s
    }
    """)
    g = activity(f, "x")
    act = {v.hint for v in [*g.params] if v.active}
    assert act == {"x"}
    marked = {line.split(" = ")[0].strip() for line in print_function(g).splitlines() if "active:" in line
              and " = " in line}
    assert marked == {"%a", "%c", "%e", "%s"}            # not %b (no path to the output), not %d (no x)
    both = activity(f, ["x", "y"])
    assert "active: %d" in print_function(both)


def test_activity_through_loops_and_branches_but_not_conditions():
    f = ir("""
    func @f(%x: f64, %n: i64) -> f64 {
      %0 = const 0 : i64
      %1 = const 1 : i64
      %2 = const 1.0 : f64
      %acc = for %i = %0 to %n step %1 iter(%acc.1 = %2) : f64 {
        %acc.2 = mul %acc.1, %x : f64
        yield %acc.2
      }
      %c = gt %x, %2 : bool
      %r = if %c : f64 {
        yield %acc
      } else {
        yield %2
      }
      return %r
    }
    """)
    g = activity(f, 0)
    text = print_function(g)
    assert "active: %acc, %acc.1" in text
    assert "%acc.2 = mul %acc.1, %x : f64" in text and "active: %acc.2" in text
    assert "active: %r" in text
    assert "active: %c" not in text and "active: %2" not in text
    assert activity(f, "n").params[1].active is False       # integers carry no derivative


def test_optimize_runs_the_pipeline_in_order():
    f = ir("""
    func @f(%x: f64) -> f64 {
      %0 = const 2.0 : f64
      %1 = const 2.0 : f64
      %2 = add %0, %1 : f64
      %a = mul %x, %2 : f64
      %b = mul %x, %2 : f64
      %c = add %a, %b : f64
      return %c
    }
    """)
    assert body(optimize(f)) == ["  %0 = const 4.0 : f64", "  %a = mul %x, %0 : f64", "  %c = add %a, %a : f64",
                                 "  return %c"]
    folded = body(optimize(f, until="fold"))
    assert "  %2 = const 4.0 : f64" in folded and "  %0 = const 2.0 : f64" in folded   # not yet cleaned by dce
