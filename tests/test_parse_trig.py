"""Students' answers with sin and cos: read by the project's parser (never sympify), in every
notation a student types, and compared as other transcendental answers are: exactly, or
numerically within tolerance."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from solver.check import AnswerKey
from solver.compare import Judge
from solver.parse import ParseError, parse_answer

from .test_check_trust import check, key_of


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("sin(1)", sympy.sin(1)),
        ("cos(0)", 1),
        ("sin(pi/6)", Fraction(1, 2)),
        ("sin(-1)", -sympy.sin(1)),
        ("cos(-2)", sympy.cos(2)),
        (r"\sin(1) + \cos{2}", sympy.sin(1) + sympy.cos(2)),
        (r"\cos\left(\frac{1}{100}\right)", sympy.cos(sympy.Rational(1, 100))),
        ("2sin(1)cos(1)", 2 * sympy.sin(1) * sympy.cos(1)),
        ("sin 1", sympy.sin(1)),
        ("sin^2(1)", sympy.sin(1) ** 2),
        ("sin²(1) + cos²(1)", sympy.sin(1) ** 2 + sympy.cos(1) ** 2),
        (r"\sin^{2}(1)", sympy.sin(1) ** 2),
        ("cos(0.01)", sympy.cos(sympy.Rational(1, 100))),
    ],
)
def test_sin_and_cos_are_read_exactly(text: str, value: object) -> None:
    got = parse_answer(text)
    assert sympy.simplify(sympy.sympify(got) - sympy.sympify(value)) == 0


@pytest.mark.parametrize("text", ["sin", "sin^-1(1)", "sin^{x}(1)", "sin(1, 2)", "sin([1, 2])"])
def test_malformed_trig_is_unreadable_with_a_reason(text: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_answer(text)
    assert "could not read" in str(err.value)


def test_a_hostile_argument_is_not_evaluated_by_sympify() -> None:
    with pytest.raises(ParseError):
        parse_answer("sin(__import__('os'))")


GRAPH = """
title: t
problems:
  - id: p
    kind: graph
    given:
      inputs: {x: [0, 1]}
      params: {w: 2}
      compute:
        - h = sin(w * x)
        - c = cos(x)
        - L = sum(h + c)
"""


@pytest.fixture(scope="module")
def key() -> AnswerKey:
    return key_of(GRAPH)


@pytest.mark.parametrize(
    "h",
    [
        [0, "sin(2)"],
        [0, 0.9093],
        ["sin(0)", "2 sin(1) cos(1)"],  # the double-angle form, equal but not identical
        ["0", r"\sin(2)"],
        [0, 0.91],
    ],
)
def test_equivalent_forms_of_a_sine_are_correct(
    key: AnswerKey, judge: Judge, tmp_path: Path, h: list
) -> None:
    r = check(key, {"p": {"h": h}}, judge, tmp_path)
    assert r["h"].verdict == "correct", r["h"].feedback


@pytest.mark.parametrize("c", [[1, "cos(1)"], ["cos(0)", 0.5403], [1, 0.54]])
def test_cos_zero_written_as_one_is_correct(
    key: AnswerKey, judge: Judge, tmp_path: Path, c: list
) -> None:
    r = check(key, {"p": {"c": c}}, judge, tmp_path)
    assert r["c"].verdict == "correct", r["c"].feedback


def test_a_wrong_trig_value_is_wrong(key: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    r = check(key, {"p": {"h": [0, "cos(2)"], "grad.x": [2, 3]}}, judge, tmp_path)
    assert r["h"].verdict != "correct"
    assert r["grad.x"].verdict != "correct"


def test_the_forgotten_minus_of_cos_is_named(key: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    # ∂L/∂x = 2cos(2x) − sin(x); forgetting the minus of cos′ gives 2cos(2x) + sin(x)
    wrong = [2 * math.cos(0) + math.sin(0), 2 * math.cos(2) + math.sin(1)]
    right = [2 * math.cos(0) - math.sin(0), 2 * math.cos(2) - math.sin(1)]
    r = check(key, {"p": {"grad.x": [round(v, 4) for v in wrong]}}, judge, tmp_path)
    assert r["grad.x"].misconception is not None and "minus" in r["grad.x"].misconception
    r = check(key, {"p": {"grad.x": [round(v, 4) for v in right]}}, judge, tmp_path)
    assert r["grad.x"].verdict == "correct", r["grad.x"].feedback
