"""The design kind: hand-set weights, graded by running the student's network on the cases.

The right answers here are worked out by hand (a scaled layer, swapped hidden units, another
construction altogether) and each one is checked by the checker as a student's answers file;
the wrong ones name the failing cases with the values a hand computation gives.
"""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

import solver
from solver import kinds
from solver.check import AnswerKey, Settings, check_file, read_answers
from solver.display import m
from solver.kinds.design import Requirement, requirement
from solver.reveal import Reveal, redact

from ..conftest import PROBLEMS, solve_yaml

SHIPPED = PROBLEMS / "design.yaml"

XOR = """
title: t
problems:
  - id: xor
    kind: design
    given:
      inputs: [x]
      unknowns: {W1: [2, 2], b1: [2], W2: [2], b2: []}
      compute:
        - h = relu(W1 @ x + b1)
        - y = W2 @ h + b2
      cases:
        - {x: [0, 0], y: 0}
        - {x: [0, 1], y: 1}
        - {x: [1, 0], y: 1}
        - {x: [1, 1], y: 0}
      reference: {W1: [[7, 7], [7, 7]], b1: [0, -7], W2: ["1/7", "-2/7"], b2: 0}
"""


def _check(tmp_path: Path, answers: dict[str, Any], problems: str = XOR) -> Any:
    pfile = tmp_path / "p.yaml"
    pfile.write_text(problems, encoding="utf-8")
    afile = tmp_path / "a.yaml"
    afile.write_text(yaml.safe_dump({"student": "s", "answers": answers}), encoding="utf-8")
    key, report = check_file(pfile, afile)
    key.close()
    return report


def _by_key(report: Any) -> dict[str, Any]:
    return {r.key: r for r in report.results}


# --------------------------------------------------------------------------- solving


def test_the_shipped_problems_solve_with_the_reference_passing_every_case() -> None:
    ps = solver.load(SHIPPED)
    assert len(ps.problems) >= 4 and not ps.errors
    for problem in ps.problems:
        s = solver.solve(problem)
        assert set(s.answers) == set(problem.given.unknowns)
        assert "✗" not in str([st.math for st in s.steps])


def test_the_worked_solution_tabulates_the_forward_pass_by_hand() -> None:
    s = solve_yaml(XOR)["xor"]
    table = next(t for st in s.steps for t in st.tables if "✓" in t.columns)
    assert table.columns == ["case", "x", "h", "y", "required", "✓"]
    # by hand: h = relu(7 x1 + 7 x2 + [0, -7]), y = h1/7 - 2 h2/7
    hand = {(0, 0): ([0, 0], 0), (0, 1): ([7, 0], 1), (1, 0): ([7, 0], 1), (1, 1): ([14, 7], 0)}
    for row, (x, (h, y)) in zip(table.rows, hand.items(), strict=True):
        assert [c.latex() for c in row[1:4]] == [m(list(x)).latex(), m(h).latex(), m(y).latex()]
        assert row[5] == "✓"
    assert s["W2"] == [Fraction(1, 7), Fraction(-2, 7)]


def test_a_reference_that_fails_a_case_is_a_sentence_naming_the_field(cli_run, tmp_path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(XOR.replace("b1: [0, -7]", "b1: [0, 7]"), encoding="utf-8")
    code, _, err = cli_run("solve", str(f))
    assert code == 2 and "Traceback" not in err
    assert "bad.yaml:17: problem 'xor', field 'given.reference'" in err
    assert "does not meet case 1: on x = [0, 0] the network gives y = -2" in err


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("W1: [2, 2], b1", "W1: [2, 0], b1"), "unknowns.W1"),
        (('W2: ["1/7", "-2/7"]', "W2: [1, 2, 3]"), "reference.W2"),
        (("- {x: [1, 1], y: 0}", "- {x: [1, 1]}"), "cases"),
        (("- {x: [1, 1], y: 0}", "- {x: [1, 1], y: {most: 1}}"), "cases"),
        (("- {x: [1, 1], y: 0}", "- {x: [1, 1], y: 0, z: 1}"), "cases"),
        (("y = W2 @ h + b2", "y = W2 @ h + c"), "compute"),
        (("- {x: [1, 1], y: 0}", "- {x: [1, 1, 1], y: 0}"), "cases[3]"),
    ],
)
def test_a_malformed_problem_names_its_field(cli_run, tmp_path, change, field) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(XOR.replace(*change), encoding="utf-8")
    code, _, err = cli_run("solve", str(f))
    assert code == 2 and f"field 'given.{field}" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("raw", "y", "holds"),
    [
        (0, 0, True),
        ("> 0", Fraction(1, 100), True),
        ("> 0", 0, False),
        ("<= -1/2", Fraction(-1, 2), True),
        ("≥ 2", 1, False),
        ({"argmax": 1}, [0, 3, 2], True),
        ({"argmax": 1}, [3, 3, 2], False),  # a tie is no decision
        ({"value": [1, 2], "within": "1/100"}, [Fraction(101, 100), 2], True),
        ({"value": [1, 2], "within": "1/100"}, [1, Fraction(203, 100)], False),
    ],
)
def test_requirements_read_from_the_file_and_decide_exactly(raw, y, holds) -> None:
    need = requirement(raw, "cases", (0,))
    assert isinstance(need, Requirement) and need.holds(y) is holds


# --------------------------------------------------------------------------- checking


RIGHT = {
    "the reference": {"W1": [[7, 7], [7, 7]], "b1": [0, -7], "W2": ["1/7", "-2/7"], "b2": 0},
    # a ReLU layer scaled by 1/7 and the next one by 7: the same function
    "rescaled": {"W1": [[1, 1], [1, 1]], "b1": [0, -1], "W2": [1, -2], "b2": 0},
    # the two hidden units swapped: rows of W1, entries of b1 and W2
    "units swapped": {"W1": [[1, 1], [1, 1]], "b1": [-1, 0], "W2": [-2, 1], "b2": 0},
    # another construction: |x1 - x2| = relu(x1 - x2) + relu(x2 - x1)
    "another network": {"W1": [[1, -1], [-1, 1]], "b1": [0, 0], "W2": [1, 1], "b2": 0},
    # decimals and strings, as students write them
    "written otherwise": {"W1": "[2 2; 2 2]", "b1": [0, -2], "W2": [0.5, -1.0], "b2": "0"},
}


def test_every_right_network_is_accepted_however_it_differs_from_the_reference(
    tmp_path,
) -> None:
    answers = {f"xor{i}": v for i, v in enumerate(RIGHT.values())}
    problems = yaml.safe_load(XOR)
    base = problems["problems"][0]
    problems["problems"] = [{**base, "id": pid} for pid in answers]
    report = _check(tmp_path, answers, yaml.safe_dump(problems))
    wrong = [(r.problem, r.key, r.feedback) for r in report.results if r.verdict != "correct"]
    assert not wrong and len(report.results) == 4 * len(RIGHT)
    assert all(r.feedback == "Your network passes all 4 cases." for r in report.results)


def test_a_wrong_network_names_its_failing_cases_and_earns_the_share_passed(tmp_path) -> None:
    # by hand: x = [1, 1] gives h = [2, 1], y = 2 - 1 = 1; the other three cases hold
    report = _check(
        tmp_path, {"xor": {"W1": [[1, 1], [1, 1]], "b1": [0, -1], "W2": [1, -1], "b2": 0}}
    )
    results = _by_key(report)
    assert {r.verdict for r in results.values()} == {"partial"}
    assert report.score == 3 and report.max_score == 4
    fb = results["W2"].feedback
    assert "Your network passes 3 of 4 cases (3/4 of the points)." in fb
    assert "On x = [1, 1] your network gives y = 1; the case needs y = 0." in fb
    assert "[0, 1] your network" not in fb  # passing cases are not named


def test_a_bias_with_its_sign_flipped_is_named(tmp_path) -> None:
    report = _check(
        tmp_path, {"xor": {"W1": [[1, 1], [1, 1]], "b1": [0, 1], "W2": [1, -2], "b2": 0}}
    )
    r = _by_key(report)["b1"]
    assert r.verdict == "incorrect" or r.verdict == "partial"
    assert r.misconception and "with −b1 in place of b1" in r.misconception


def test_weights_checked_without_the_relu_are_named(tmp_path) -> None:
    problems = """
title: t
problems:
  - id: diff
    kind: design
    given:
      inputs: [x]
      unknowns: {W: [2, 2], v: [2]}
      compute: ["h = relu(W @ x)", "y = v @ h"]
      cases:
        - {x: [2, 1], y: 1}
        - {x: [1, 3], y: -2}
      reference: {W: [[1, 0], [0, 1]], v: [1, -1]}
"""
    # relu([x1 - x2, 0]) is 0 on [1, 3]; without the ReLU, y = x1 - x2 on both cases
    report = _check(tmp_path, {"diff": {"W": [[1, -1], [0, 0]], "v": [1, 0]}}, problems)
    r = _by_key(report)["W"]
    assert r.verdict == "partial" and "ReLU left out" in (r.misconception or "")
    assert "On x = [1, 3] your network gives y = 0; the case needs y = -2." in r.feedback


def test_a_wrong_shape_is_a_shape_sentence_and_nothing_runs(tmp_path) -> None:
    report = _check(tmp_path, {"xor": {"W1": [1, 1], "b1": [0, -1], "W2": [[1], [-2]], "b2": [0]}})
    results = _by_key(report)
    assert results["W1"].feedback.startswith("W1 must have shape [2, 2]; yours has shape [2].")
    assert results["W2"].feedback.startswith("W2 must have shape [2]; yours has shape [2, 1].")
    assert results["b2"].feedback.startswith("b2 must be a single number; yours has shape [1].")
    assert "cannot be run without a usable value for W1, W2 and b2" in results["b1"].feedback
    assert report.score == 0


def test_a_missing_unknown_is_missing_and_the_rest_cannot_run(tmp_path) -> None:
    report = _check(tmp_path, {"xor": {"W1": [[1, 1], [1, 1]], "b1": [0, -1], "W2": [1, -2]}})
    results = _by_key(report)
    assert results["b2"].verdict == "missing"
    assert results["W1"].verdict == "incorrect"
    assert results["W1"].feedback == "Your network cannot be run without a usable value for b2."


def test_a_constraint_is_checked_on_the_students_values(tmp_path) -> None:
    problems = XOR.replace("reference:", "constraints: {W1: integer}\n      reference:")
    report = _check(
        tmp_path,
        {"xor": {"W1": [[2, 2], ["1/2", 2]], "b1": [0, -2], "W2": [0.5, -1], "b2": 0}},
        problems,
    )
    r = _by_key(report)["W1"]
    assert r.verdict == "incorrect"
    assert "W1 must have whole-number entries (row 2, column 1 is not one)." in r.feedback


def test_hostile_values_are_refused_by_shape_before_anything_runs(tmp_path, monkeypatch) -> None:
    from solver.kinds import design

    def never(*args: Any, **kw: Any) -> Any:
        raise AssertionError("a network ran with a hostile value")

    g = solver.load_text(XOR, "x.yaml").problems[0].given
    monkeypatch.setattr(design, "run_cases", never)
    huge = [[1] * 250 for _ in range(250)]
    start = time.perf_counter()
    matches = kinds.get("design").grade(g, {"W1": huge, "b1": [0, -1], "W2": [1, -2], "b2": None})
    assert time.perf_counter() - start < 1
    assert matches["W1"].feedback[0] == "W1 must have shape [2, 2]; yours has shape [250, 250]."
    assert set(matches) == {"W1", "b1", "W2"} and all(m.score == 0 for m in matches.values())


def test_hostile_answers_files_get_sentences_and_the_rest_is_checked(tmp_path) -> None:
    report = _check(
        tmp_path,
        {
            "xor": {
                "W1": "__import__('os').system('echo hi')",
                "b1": [[[[[[0]]]]]],
                "W2": ["10^10^10^10", 1],
                "b2": {"a": 1},
            }
        },
    )
    results = _by_key(report)
    assert results["W1"].verdict == "unreadable"
    assert results["b1"].feedback.startswith("b1 must have shape [2]")
    assert {r.verdict for r in results.values()} <= {"unreadable", "incorrect"}
    assert report.score == 0


def test_reveal_never_keeps_the_case_feedback_and_states_no_reference(tmp_path) -> None:
    attempts = [
        {"W1": [[1, 1], [1, 1]], "b1": [0, -1], "W2": [1, -1], "b2": 0},  # fails one case
        {"W1": [[1, 1], [1, 1]], "b1": [0, 1], "W2": [1, -2], "b2": 0},  # a sign
        {"W1": [1, 1], "b1": [0, -1], "W2": [1, -2]},  # a shape, a missing
        {"W1": [[1, 1], [1, 1]], "b1": [0, -1], "W2": [1, -2], "b2": 0},  # right
    ]
    for attempt in attempts:
        report = redact(_check(tmp_path, {"xor": attempt}), Reveal.parse("never"))
        for r in report.results:
            assert r.expected is None
            # the reference is the only place a 7 could come from: the cases hold 0s and 1s
            assert "7" not in r.feedback, r.feedback
    failing = redact(_check(tmp_path, {"xor": attempts[0]}), Reveal.parse("never"))
    fb = failing.results[0].feedback
    assert fb.startswith("Your network passes 3 of 4 cases (3/4 of the points).")
    assert "On x = [1, 1] your network gives y = 1; the case needs y = 0." in fb
    shape = redact(_check(tmp_path, {"xor": attempts[2]}), Reveal.parse("never"))
    assert "W1 must have shape [2, 2]; yours has shape [2]." in shape.results[0].feedback


def test_check_runs_the_network_in_the_sandboxed_worker_under_its_time_limit(
    tmp_path, monkeypatch
) -> None:
    """A network that does not finish is cut off by the worker's clock: a sentence, and the
    rest of the file is checked."""
    pfile = tmp_path / "p.yaml"
    pfile.write_text(XOR, encoding="utf-8")
    afile = tmp_path / "a.yaml"
    answers = {"W1": [[1, 1], [1, 1]], "b1": [0, -1], "W2": [1, -2], "b2": 0}
    afile.write_text(yaml.safe_dump({"answers": {"xor": answers}}), encoding="utf-8")
    from solver.kinds import design

    def forever(self: Any, g: Any, values: Any) -> Any:
        while True:
            time.sleep(0.05)

    monkeypatch.setattr(design.Design, "grade", forever)
    key = AnswerKey.load(pfile, Settings(timeout=0.5))
    try:
        report = key.check(read_answers(afile))
    finally:
        key.close()
    assert {r.verdict for r in report.results} == {"unreadable"}
    assert "could not be graded together" in report.results[0].feedback


def test_the_json_and_gradescope_reports_grade_by_running(cli_run, tmp_path) -> None:
    pfile = tmp_path / "p.yaml"
    pfile.write_text(XOR, encoding="utf-8")
    afile = tmp_path / "a.yaml"
    answers = {"W1": [[1, 1], [1, 1]], "b1": [0, -1], "W2": [1, -1], "b2": 0}
    afile.write_text(yaml.safe_dump({"answers": {"xor": answers}}), encoding="utf-8")
    code, out, _ = cli_run("check", str(pfile), str(afile), "--format", "gradescope")

    data = json.loads(out)
    assert code == 1 and data["score"] == 3 and data["max_score"] == 4
    assert "your network gives y = 1" in data["tests"][0]["output"]
    code, out, _ = cli_run("check", str(pfile), str(afile), "--format", "json", "--reveal", "never")
    data = json.loads(out)
    assert all(r["expected"] is None for r in data["results"])
    assert not [t for t in ("1/7", "[7, 7]", "-7", "-2/7") if t in out]  # no reference


def test_exact_irrational_values_run_exactly_and_long_outputs_keep_to_decimals(tmp_path) -> None:
    afile = tmp_path / "a.yaml"
    answers = {
        # log 2 + π − e > 0 and each of log 2 − e, π − e < 0 (by hand: 0.69, 3.14, 2.72)
        "and-perceptron": {"w": ["log(2)", "pi"], "b": "-e"},
        # √2·x and −√3·x through ReLUs, scaled back: |x| exactly
        "abs-two-relus": {
            "w1": ["sqrt(2)", "-sqrt(3)"],
            "b1": [0, 0],
            "w2": ["1/sqrt(2)", "1/sqrt(3)"],
            "b2": 0,
        },
        "attention-average": {"q": ["exp(exp(2))", "-exp(exp(2))"]},
    }
    afile.write_text(yaml.safe_dump({"answers": answers}), encoding="utf-8")
    key, report = check_file(SHIPPED, afile)
    key.close()
    got = {(r.problem, r.key): r for r in report.results}
    # by hand: −e < 0, π − e ≈ 0.42 > 0 (fails), log 2 − e < 0, log 2 + π − e ≈ 1.1 > 0
    fb = got["and-perceptron", "w"].feedback
    assert fb.startswith("Your network passes 3 of 4 cases (3/4 of the points).")
    assert "On x = [0, 1] your network gives y = " in fb and "≈ 0.423" in fb
    assert got["abs-two-relus", "w1"].verdict == "correct"
    fb = got["attention-average", "q"].feedback
    # α puts all its weight on k1: o ≈ v1 = [2, 0]; e^(e²) is too long to write out
    assert "Your network gives o ≈ [2, 0]; the case needs o within 1/100 of [1, 2]." in fb


def test_argmax_and_tolerance_cases_accept_other_answers_and_refuse_ties(tmp_path) -> None:
    afile = tmp_path / "a.yaml"
    answers = {
        # by hand: z = [2, 3x1 + 3x2]: [2, 0], [2, 3], [2, 3], [2, 6]: OR by argmax
        "or-two-classes": {"W": [[0, 0], [3, 3]], "b": [2, 0]},
        # q = [10, 10]: weights e^10 : e^10 : e^-20, o within 10⁻⁸ of [1, 2]
        "attention-average": {"q": [10, 10]},
        # by hand: z = [1, x1 + x2] ties at [0, 1] and [1, 0]: no decision there
        "and-perceptron": {"w": [1, 1], "b": "-3/2"},
        "xor-first-layer": {"W1": [[1, 1], [1, 1]], "b1": [0, "-1/2"]},
    }
    afile.write_text(yaml.safe_dump({"answers": answers}), encoding="utf-8")
    key, report = check_file(SHIPPED, afile)
    key.close()
    got = {(r.problem, r.key): r for r in report.results}
    assert got["or-two-classes", "W"].verdict == "correct"
    assert got["attention-average", "q"].verdict == "correct"
    assert got["and-perceptron", "b"].verdict == "correct"  # the reference's b, as a fraction
    fb = got["xor-first-layer", "b1"].feedback
    assert "b1 must have whole-number entries (entry 2 is not one)." in fb


def test_a_tie_fails_an_argmax_case(tmp_path) -> None:
    afile = tmp_path / "a.yaml"
    afile.write_text(
        yaml.safe_dump({"answers": {"or-two-classes": {"W": [[0, 0], [1, 1]], "b": [1, 0]}}}),
        encoding="utf-8",
    )
    key, report = check_file(SHIPPED, afile)
    key.close()
    r = next(r for r in report.results if r.problem == "or-two-classes")
    # by hand: z = [1, x1 + x2] is [1, 1] at [0, 1] and [1, 0]
    assert r.verdict == "partial" and "Your network passes 2 of 4 cases" in r.feedback
    assert "On x = [0, 1] your network gives z = [1, 1]; the case needs argmax z = 1." in r.feedback


def test_an_unknown_the_problem_does_not_ask_is_the_references(tmp_path) -> None:
    problems = XOR.replace("    kind: design\n", "    kind: design\n    ask: [W2, b2]\n")
    report = _check(tmp_path, {"xor": {"W2": ["1/7", "-2/7"], "b2": 0}}, problems)
    assert [r.verdict for r in report.results] == ["correct", "correct"]
