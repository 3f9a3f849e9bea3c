"""Slips a TA names at a glance: a wrong value that is the answer with its sign flipped,
doubled, halved, inverted or transposed says so, unless a named mistake explains it; the
sentence states the answer's relation to the student's value, so a hidden key drops it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from solver import load_text
from solver.check import AnswerKey, read_answers
from solver.compare import Judge
from solver.reveal import Mode, Reveal, redact

PROBLEMS = """
title: t
problems:
  - id: p
    kind: graph
    given:
      inputs: {x: -2, y: 5, A: [[1, 2], [3, 4]], S: [[1, 2], [2, 1]]}
      compute: ["q = x + y", "B = A @ A", "C = S * 2"]
      output: none
  - id: c
    kind: graph
    given:
      inputs: {z: [1, 0], t: 0}
      compute: ["L = cross_entropy(z, t)"]
"""


@pytest.fixture(scope="module")
def key() -> AnswerKey:
    ps = load_text(textwrap.dedent(PROBLEMS), "slips.yaml")
    assert not ps.errors, [str(e) for e in ps.errors]
    return AnswerKey(ps)


def feedback(key: AnswerKey, judge: Judge, tmp_path: Path, pid: str, answers: dict) -> Any:
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"answers": {pid: answers}}), encoding="utf-8")
    report = key.check(read_answers(path), judge)
    return {r.key: r for r in report.results if r.problem == pid}, report


# q = x + y = 3 by hand; B = A @ A = [[7, 10], [15, 22]]; C = 2·S is symmetric.
@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        (-3, "sign flipped"),
        (6, "twice the answer"),
        ("3/2", "half the answer"),
        ("1/3", "reciprocal of the answer"),
    ],
)
def test_a_scalar_slip_is_named(
    key: AnswerKey, judge: Judge, tmp_path: Path, value: Any, sentence: str
) -> None:
    r = feedback(key, judge, tmp_path, "p", {"q": value})[0]["q"]
    assert r.verdict == "incorrect" and r.points == 0
    assert sentence in r.feedback


def test_a_wrong_value_that_is_no_slip_gets_no_slip_sentence(
    key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    r = feedback(key, judge, tmp_path, "p", {"q": 4})[0]["q"]
    assert "Your value is" not in r.feedback


def test_a_transposed_matrix_is_named_and_a_symmetric_one_cannot_be(
    key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    rs = feedback(key, judge, tmp_path, "p", {"B": [[7, 15], [10, 22]], "C": [[1, 2], [2, 1]]})[0]
    assert "transpose of the answer" in rs["B"].feedback
    assert "half the answer" in rs["C"].feedback  # C = 2·S: halved, and its transpose is C
    assert "transpose" not in rs["C"].feedback


def test_a_named_mistake_wins_over_the_slip_it_looks_like(
    key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    # ∂L/∂z = softmax(z) − onehot(t) = [−1/(1 + e), 1/(1 + e)]: its negation is the named
    # mistake y − p, which says more than "sign flipped".
    r = feedback(key, judge, tmp_path, "c", {"grad.z": ["1/(1+e)", "-1/(1+e)"]})[0]["grad.z"]
    assert r.misconception and "y − p" in r.misconception
    assert "Your value is" not in r.feedback


def test_a_hidden_key_drops_the_slip_sentence(key: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    report = feedback(key, judge, tmp_path, "p", {"q": -3})[1]
    hidden = {r.key: r for r in redact(report, Reveal(Mode.NEVER)).results if r.problem == "p"}
    assert "sign" not in hidden["q"].feedback and "3" not in hidden["q"].feedback
