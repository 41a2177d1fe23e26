"""The IR text form: types, literals, parse errors, and specialisation caching."""
import numpy as np
import pytest

from adcompiler.compiler import (IRParseError, compile_for_args, compile_function, parse_function, parse_type,
                                 print_function, type_of_value)
from adcompiler.compiler.attrs import format_literal, parse_literal
from adcompiler.ops import Dyn


@pytest.mark.parametrize("text", ["f64", "i64", "bool", "f64[]", "f32[3,4]", "i64[0]", "(f64, f32[2])", "(f64,)",
                                  "()", "none", "opaque", "((f64, i64), bool[2])"])
def test_types_round_trip(text):
    assert str(parse_type(text)) == text


@pytest.mark.parametrize("bad", ["f64[:]", "float", "f64[3", "x64", "f64[a]"])
def test_bad_types_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_type(bad)


def test_types_of_values_distinguish_python_scalars_from_numpy():
    assert str(type_of_value(1.5)) == "f64" and str(type_of_value(np.float64(1.5))) == "f64[]"
    assert str(type_of_value(3)) == "i64" and str(type_of_value(True)) == "bool"
    assert str(type_of_value(np.zeros((2, 3), np.float32))) == "f32[2,3]"
    assert str(type_of_value((1.0, np.zeros(2)))) == "(f64, f64[2])"
    assert str(type_of_value(None)) == "none" and str(type_of_value(object())) == "opaque"


@pytest.mark.parametrize("value", [None, True, 3, -2.5, float("inf"), (1, slice(None, 3), Dyn(0), Ellipsis),
                                   [1, 2], np.dtype("float32"), "s", ()])
def test_literals_round_trip(value):
    back = parse_literal(format_literal(value))
    assert back == value and type(back) is type(value)


def test_array_literal_and_nan():
    a = np.array([[1, 2]], dtype=np.int32)
    back = parse_literal(format_literal(a))
    assert back.dtype == np.int32 and (back == a).all()
    assert np.isnan(parse_literal(format_literal(float("nan"))))


@pytest.mark.parametrize("text,message", [
    ("", "no function"),
    ("func @f(%x: f64) -> f64 {\n  return %y\n}\n", "line 2: unknown value %y"),
    ("func @f(%x: f64) -> f64 {\n  %a = sin %x : f64\n  %a = cos %x : f64\n  return %a\n}\n",
     "line 3: value %a is defined twice"),
    ("func @f(%x: f64) -> f64 {\n  %a = frobnicate %x : f64\n  return %a\n}\n", "line 2: unknown op 'frobnicate'"),
    ("func @f(%x: f64) -> f64 {\n  %a = sin %x : f64, f64\n  return %a\n}\n", "line 2: 1 results but 2 types"),
    ("func @f(%x: f64) -> f64 {\n  %a = sin %x : f64\n", "unclosed region"),
    ("func @f(%x: q64) -> f64 {\n}\n", "line 1: bad type"),
])
def test_parse_errors_name_the_line(text, message):
    with pytest.raises(IRParseError, match=message):
        parse_function(text)


def test_parsed_constants_take_their_types():
    fn = parse_function("func @f() -> f32[2] {\n  %a = const [1.5, 2.0] : f32[2]\n  return %a\n}\n")
    v = fn.body.ops[0].attrs["value"]
    assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.tolist() == [1.5, 2.0]


def _poly(x, n):
    return x * n


def test_specialisation_is_cached_per_signature():
    a = compile_function(_poly, [parse_type("f64[3]"), parse_type("i64")])
    b = compile_function(_poly, {"x": parse_type("f64[3]"), "n": parse_type("i64")})
    c = compile_function(_poly, [parse_type("f32[3]"), parse_type("i64")])
    assert compile_function(_poly, [parse_type("f64[3]"), parse_type("i64")]) is a
    assert print_function(a) == print_function(b) and "f32[3]" in print_function(c)
    d = compile_for_args(_poly, np.zeros(4), 2)
    assert str(d.params[0].type) == "f64[4]" and str(d.params[1].type) == "i64"
