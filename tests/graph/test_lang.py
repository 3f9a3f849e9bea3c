"""The graph language's parser and builder: what it reads, and the one sentence it gives for
what it refuses (never eval)."""

from __future__ import annotations

import pytest

from solver.graph import GraphError, build
from solver.graph.lang import parse_statement
from solver.parse import ParseError


def test_precedence_follows_python() -> None:
    st = parse_statement("y = -x^2 + W @ h.T * 2")
    assert st.target == "y"
    add = st.expr
    assert add.tag == "bin" and add.value == "+"
    neg, mul = add.args
    assert neg.tag == "neg" and neg.args[0].value == "^"
    assert mul.value == "*" and mul.args[0].value == "@"
    assert mul.args[0].args[1].tag == "T"


def test_keyword_arguments_and_indices() -> None:
    st = parse_statement("y = conv1d(x, w, stride=2)[0, -1]")
    assert st.expr.tag == "index" and st.expr.value == [0, -1]
    call = st.expr.args[0]
    assert call.value == "conv1d" and list(call.kwargs) == ["stride"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("y = foo(x)", "unknown function 'foo'"),
        ("y = __import__('os')", "unexpected character"),
        ("y = __import__(x)", "not allowed"),
        ("y = x.__class__", "unexpected"),
        ("y = " + "(" * 100 + "x" + ")" * 100, "nested more than"),
        ("y = x^1000000000", "larger than"),
        ("y = z + 1", "'z' is not defined before this line"),
        ("x = 1", "already defined"),
        ("y = relu(x", "expected ')'"),
        ("y = x; import os", "unexpected character"),
        ("y = sum(x, axis=q)", "must be a number"),
        ("y = maxpool2d(x)", "needs the argument 'k'"),
        ("y = relu(x, bogus=1)", "has no argument 'bogus'"),
    ],
)
def test_hostile_and_broken_lines_are_refused_with_a_position(line: str, words: str) -> None:
    with pytest.raises(GraphError) as err:
        build([line], {"x": "input"})
    assert words in err.value.message
    assert err.value.line == 0


def test_names_must_be_defined_before_use() -> None:
    with pytest.raises(GraphError) as err:
        build(["a = b + x", "b = x"], {"x": "input"})
    assert "'b' is not defined before this line" in err.value.message


def test_parse_error_is_the_projects_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_statement("y = 1 +")
