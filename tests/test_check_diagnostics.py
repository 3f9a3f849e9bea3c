"""What the checker could not do is recorded with its reason, never swallowed silently."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from solver import kinds, load_text
from solver.check import AnswerKey, read_answers
from solver.compare import Judge
from solver.errors import FieldError
from solver.given import Count, GivenModel
from solver.kinds import Kind
from solver.solution import Key, Solution


class Fragile(Kind):
    """A test kind whose mistakes and re-solves fail on purpose."""

    class Given(GivenModel):
        width: Count
        """a width"""

    keys = (
        Key("width", "integer", "the width as given"),
        Key("double", "integer", "twice the width"),
    )
    example = {"width": 3}
    misconceptions = {
        "added instead of doubling": {"slip": "add"},
        "a mistake that needs a bias": {"slip": "bias"},
        "a mistake with a bug": {"slip": "bug"},
    }

    def solve(self, g: Any, s: Solution, *, slip: str = "") -> None:
        if slip == "bias":
            raise FieldError("this network has no bias", "width")
        if slip == "bug":
            raise ZeroDivisionError("division by zero in the mistake")
        w = s.answer("width", g.width)
        if w == 5:
            raise IndexError("list index out of range")
        s.answer("double", w + 2 if slip == "add" else 2 * w)


PROBLEMS = """
problems:
  - id: frag
    kind: fragile
    given: {width: 3}
"""


@pytest.fixture
def key(caplog: pytest.LogCaptureFixture) -> Iterator[AnswerKey]:
    kinds._load_all()
    kinds.kind("fragile")(Fragile)
    try:
        with caplog.at_level(logging.WARNING, logger="solver.check"):
            yield AnswerKey(load_text(PROBLEMS, "frag.yaml"))
    finally:
        kinds._REGISTRY.pop("fragile", None)


def answers(tmp_path: Path, values: dict[str, Any]) -> Any:
    p = tmp_path / "a.yaml"
    p.write_text(yaml.safe_dump({"student": "sam", "answers": {"frag": values}}), encoding="utf-8")
    return read_answers(p)


def test_a_mistake_that_does_not_apply_is_recorded_with_its_reason(key: AnswerKey) -> None:
    kp = key.problems["frag"]
    assert [name for name, _, _ in kp.buggy] == ["added instead of doubling"]
    skipped = {d.mistake: d for d in key.diagnostics}
    assert "skipped" in skipped["a mistake that needs a bias"].what
    reason = skipped["a mistake that needs a bias"].reason
    assert (
        reason.startswith("DlsolveError: ") and "'given.width': this network has no bias" in reason
    )


def test_a_mistake_that_fails_with_a_bug_is_logged(
    key: AnswerKey, caplog: pytest.LogCaptureFixture
) -> None:
    bug = next(d for d in key.diagnostics if d.mistake == "a mistake with a bug")
    assert bug.reason == "ZeroDivisionError: division by zero in the mistake"
    assert any(
        "a mistake with a bug" in r.getMessage() and "bug in kind 'fragile'" in r.getMessage()
        for r in caplog.get_records("setup")
    )


def test_a_failed_re_solve_is_a_warning_for_every_student_it_concerns(
    key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    for _ in range(2):  # the second student hits the cached failure: still warned
        report = key.check(answers(tmp_path, {"width": 5, "double": 10}), judge)
        assert [r.verdict for r in report.results] == ["incorrect", "incorrect"]
        warned = [w for w in report.warnings if "re-solving from the answers for width" in w]
        assert len(warned) == 1, report.warnings
        assert "IndexError: list index out of range" in warned[0]
        assert "carried forward" in warned[0]


def test_a_re_solve_that_works_warns_nothing(key: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    report = key.check(answers(tmp_path, {"width": 4, "double": 8}), judge)
    assert [r.verdict for r in report.results] == ["incorrect", "carried_forward"]
    assert report.warnings == []
