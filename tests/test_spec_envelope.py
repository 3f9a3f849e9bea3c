"""The problem envelope (id, kind, given, ask, points, ...): which error is reported, where."""

from __future__ import annotations

from fractions import Fraction

import pytest

import solver
from solver.spec import PROBLEM_FIELDS, Envelope

HEAD = "problems:\n  - id: d\n    kind: dropout\n    given: {z: [2, 4], mask: [1, 0], p: 1/2}\n"


def error_of(extra: str) -> str:
    ps = solver.load_text(HEAD + extra, "f.yaml")
    assert not ps.problems and len(ps.errors) == 1
    return str(ps.errors[0])


def test_the_envelope_declares_every_problem_field() -> None:
    assert tuple(Envelope.model_fields) == (
        "id",
        "kind",
        "given",
        "ask",
        "points",
        "tolerance",
        "title",
        "text",
        "carry_forward",
    )
    assert set(Envelope.model_fields) == set(PROBLEM_FIELDS)


def test_a_valid_envelope_keeps_its_settings() -> None:
    (p,) = solver.load_text(
        HEAD + "    ask: output\n    points: {output: 2}\n    tolerance: {rtol: 0.1}\n"
        "    title: T\n    text: 'z = {{z}}'\n    carry_forward: 1/3\n",
        "f.yaml",
    ).problems
    assert (
        p.ask == ["output"]
        and p.points == {"output": 2}
        and p.tolerance == {"rtol": Fraction(1, 10)}
    )
    assert p.title == "T" and p.carry_forward == Fraction(1, 3) and p.line == 2
    assert p.raw_given == {"z": [2, 4], "mask": [1, 0], "p": "1/2"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # an unknown field is reported before anything else, at its line
        (
            "    ask: [nope]\n    titel: x\n",
            "f.yaml:6: problem 'd', field 'titel': unknown field (did you mean 'title'?).",
        ),
        # the first wrong field in the envelope's order, whatever the file's order
        (
            "    carry_forward: 2\n    ask: [nope]\n",
            "f.yaml:6: problem 'd', field 'ask': dropout has no answer key 'nope'.",
        ),
        (
            "    text: 'see {{zz}}'\n    points: {output: -1}\n",
            "f.yaml:6: problem 'd', field 'points': points for 'output' must be a number ≥ 0.",
        ),
        (
            "    tolerance: {rtol: x}\n    title: 3\n",
            "f.yaml:5: problem 'd', field 'tolerance': rtol must be a number ≥ 0.",
        ),
        (
            "    title: [1]\n    text: 'see {{zz}}'\n",
            "f.yaml:5: problem 'd', field 'title': must be text.",
        ),
        (
            "    text: 'see {{zz}}'\n",
            "f.yaml:5: problem 'd', field 'text': the text quotes {{zz}}, which is not in the "
            "given.",
        ),
        (
            "    carry_forward: 3/2\n",
            "f.yaml:5: problem 'd', field 'carry_forward': carry_forward must be a share of the "
            "points between 0 and 1, such as 1/2.",
        ),
        (
            "    ask: [output, 3]\n",
            "f.yaml:5: problem 'd', field 'ask': 'ask' must be a list of answer keys.",
        ),
    ],
)
def test_the_first_wrong_field_is_reported(extra: str, expected: str) -> None:
    assert error_of(extra) == expected


def test_a_wrong_given_comes_before_the_fields_after_it() -> None:
    text = "problems:\n  - id: d\n    kind: dropout\n    ask: [nope]\n    given: {z: [2, 4]}\n"
    (err,) = solver.load_text(text, "f.yaml").errors
    assert str(err).startswith("f.yaml:5: problem 'd', field 'given.mask': dropout needs this")


def test_a_wrong_kind_comes_before_its_given_and_a_missing_id_before_both() -> None:
    text = "problems:\n  - kind: dropot\n    given: 3\n"
    (err,) = solver.load_text(text, "f.yaml").errors
    assert str(err).startswith("f.yaml:2: problem '#1', field 'id': the id must be lower-case")
    text = "problems:\n  - id: x\n    kind: dropot\n    given: 3\n"
    (err,) = solver.load_text(text, "f.yaml").errors
    assert str(err) == (
        "f.yaml:3: problem 'x', field 'kind': unknown kind 'dropot' (did you mean 'dropout'?); "
        "'dlsolve kinds' lists them."
    )
