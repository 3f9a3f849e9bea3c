"""The typed vocabularies: members behave as their words, and unknown words are refused."""

from __future__ import annotations

import json
import pickle
from fractions import Fraction

import pytest
import sympy
import yaml

from solver import exact
from solver.check import Result
from solver.compare import Judge, Tolerance
from solver.solution import TYPES, Answer, Key, Solution
from solver.vocab import NUMERIC_TYPES, AnswerType, Job, Verdict


@pytest.mark.parametrize("member", [*AnswerType, *Verdict, *Job])
def test_a_member_is_its_word(member: AnswerType | Verdict | Job) -> None:
    word = member.value
    assert member == word and hash(member) == hash(word)
    assert str(member) == word and f"{member}" == word and f"{member:>12}" == f"{word:>12}"
    assert json.dumps(member) == json.dumps(word)
    assert yaml.safe_dump({"v": [member]}) == yaml.safe_dump({"v": [word]})
    assert pickle.loads(pickle.dumps(member)) is member
    assert type(member)(word) is member


def test_a_key_written_with_a_word_holds_the_member() -> None:
    key = Key("mean", "real")
    assert key.type is AnswerType.REAL


def test_an_unknown_answer_type_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown answer type 'reel'"):
        Key("mean", "reel")


def test_every_answer_type_says_how_it_is_compared() -> None:
    assert set(TYPES) == set(AnswerType)
    assert all(TYPES[t] == t.doc and t.doc for t in AnswerType)
    assert AnswerType.MATRIX.is_tensor and AnswerType.MATRIX.is_numeric
    assert not AnswerType.CHOICE.is_numeric and not AnswerType.SHAPE.is_tensor
    assert AnswerType.SHAPE in NUMERIC_TYPES


def test_an_answer_is_typed_by_its_value() -> None:
    s = Solution([Key("y", "tensor"), Key("mu", "real")])
    s.answer("y", [[1, 2], [3, 4]])
    s.answer("mu", exact.symbol("n") / 2)
    assert s.answers["y"].type is AnswerType.MATRIX
    assert s.answers["mu"].type is AnswerType.EXPRESSION


def test_a_result_shows_its_verdict_as_the_word() -> None:
    r = Result("p", "mean", Verdict.CARRIED_FORWARD, 1, 1, "1", "1")
    assert r.to_json()["verdict"] == "carried_forward"
    assert json.loads(json.dumps(r.to_json()))["verdict"] == "carried_forward"


def test_fast_decides_cheap_pairs_and_names_the_job_for_the_others() -> None:
    judge = Judge.__new__(Judge)  # fast() never touches the sandbox
    tol = Tolerance()
    n = exact.symbol("n")
    assert judge.fast(Fraction(1, 2), Fraction(1, 2), False, tol) is True
    assert judge.fast(Fraction(1, 2), Fraction(1, 3), False, tol) is False
    assert judge.fast(n + n, 2 * n + 0 * n, False, tol) is True  # structurally equal
    assert judge.fast(n**2 - 1, (n - 1) * (n + 1), False, tol) is Job.EQUAL
    assert judge.fast(Fraction(1, 2), sympy.sin(sympy.Integer(1)), False, tol) is Job.NUMBER


def test_a_comparison_by_type_word_still_holds() -> None:
    """Code that compares with the plain words (other modules, older branches) keeps working."""
    a = Answer("x", 1, AnswerType.INTEGER)
    assert a.type == "integer" and a.type in ("integer", "real")
    assert {"integer": 1}[a.type] == 1
