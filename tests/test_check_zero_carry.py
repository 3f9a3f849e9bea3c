"""A zero carried forward earns nothing: answering 0 early must not make later products
'follow correctly' for free (the abuse course staff report with follow-through marking)."""

from __future__ import annotations

import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from solver import load_text
from solver.check import AnswerKey, read_answers
from solver.compare import Judge
from solver.reveal import Mode, Reveal, redact

# q = x + y = 3, f = q·z = -12, g = q + z = -1; ∂f/∂z = q = 3.
PROBLEMS = """
title: t
problems:
  - id: s
    kind: graph
    given:
      inputs: {x: -2, y: 5, z: -4}
      compute: ["q = x + y", "f = q * z", "g = q + z"]
      output: f
"""


@pytest.fixture(scope="module")
def key() -> AnswerKey:
    ps = load_text(textwrap.dedent(PROBLEMS), "zero.yaml")
    assert not ps.errors, [str(e) for e in ps.errors]
    return AnswerKey(ps)


def check(key: AnswerKey, judge: Judge, tmp_path: Path, answers: dict):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"answers": {"s": answers}}), encoding="utf-8")
    report = key.check(read_answers(path), judge)
    return {r.key: r for r in report.results}, report


def test_a_zero_that_makes_the_later_part_zero_carries_nothing(
    key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    rs = check(key, judge, tmp_path, {"q": 0, "f": 0, "grad.z": 0})[0]
    for k in ("f", "grad.z"):
        assert rs[k].verdict == "incorrect" and rs[k].points == 0, rs[k]
        assert "q (0)" in rs[k].feedback and "no credit is carried forward" in rs[k].feedback


def test_a_zero_whose_later_part_still_takes_work_is_carried_forward(
    key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    # g = q + z with q = 0 is -4: not trivial, so the usual share is carried forward.
    r = check(key, judge, tmp_path, {"q": 0, "g": -4})[0]["g"]
    assert r.verdict == "carried_forward" and r.points == Fraction(1, 2)


def test_a_nonzero_wrong_answer_still_carries_forward(
    key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    r = check(key, judge, tmp_path, {"q": 2, "f": -8})[0]["f"]
    assert r.verdict == "carried_forward" and r.points == Fraction(1, 2)


def test_the_reason_is_kept_under_a_hidden_key(
    key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    report = check(key, judge, tmp_path, {"q": 0, "f": 0})[1]
    hidden = {r.key: r for r in redact(report, Reveal(Mode.NEVER)).results}
    assert "no credit is carried forward" in hidden["f"].feedback
    assert "-12" not in hidden["f"].feedback and "3" not in hidden["q"].feedback
