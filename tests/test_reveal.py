"""--reveal never|after:N|always: feedback for students with no expected value until allowed."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from solver.check import Result
from solver.reveal import Mode, Reveal, hidden_feedback, redact_result

HOMEWORK = Path(__file__).parent / "web" / "homework.yaml"
ANSWERS = """\
student: eve
answers:
  layernorm:
    mean: [6, 3, 1]
    var: [16/3, 12, 4]
    output: [[-1, -3, 4, 4], [-1, -1.667, 0, 6.667], [-0.577, -2.155, -0.732, 7]]
  net:
    linear2.in: 31
    linear2.out: 10
    params.linear2: 300
    params.total: 1890
"""
SECRETS = ("4√3", "20/3", "should be", "Expected", "1900", "310")


def result(feedback: str, verdict: str = "incorrect", misconception: str | None = None) -> Result:
    return Result(
        "p", "k", verdict, Fraction(0), Fraction(1), "7/12", "1/2", feedback, misconception
    )


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("never", Reveal(Mode.NEVER)),
        ("always", Reveal(Mode.ALWAYS)),
        ("after:3", Reveal(Mode.AFTER, 3)),
        (" After:12 ", Reveal(Mode.AFTER, 12)),
    ],
)
def test_policies_parse(text: str, policy: Reveal) -> None:
    assert Reveal.parse(text) == policy
    assert Reveal.parse(str(policy)) == policy


@pytest.mark.parametrize("text", ["sometimes", "after:0", "after:", "after:x", "after:-1"])
def test_other_policies_are_refused_with_a_sentence(text: str) -> None:
    with pytest.raises(ValueError, match="never, always or after:N"):
        Reveal.parse(text)


def test_after_n_reveals_at_the_nth_attempt_or_a_correct_one() -> None:
    p = Reveal.parse("after:3")
    assert [p.allows(n, False) for n in (0, 1, 2, 3, 4)] == [False, False, False, True, True]
    assert p.allows(1, True)
    assert not Reveal.parse("never").allows(100, True)
    assert Reveal.parse("always").allows(0, False)


@pytest.mark.parametrize(
    ("feedback", "kept", "gone"),
    [
        ("Expected 7/12 ≈ 0.5833, got 1/2.", "not the expected answer", "7/12"),
        (
            "2 of 4 entries are wrong: row 1, column 2 is 3, should be 4; entry (1, 2, 3) is 0, "
            "should be √2 ≈ 1.414; and 3 more.",
            "2 of 4 entries are wrong: row 1, column 2; entry (1, 2, 3); and 3 more.",
            "√2",
        ),
        ("Expected shape [3, 4], got [4, 3].", "not the shape asked for", "[3, 4]"),
        (
            "Not the answer, but it follows correctly from your answer for mean (error carried "
            "forward): 1/2 of the points.",
            "follows correctly from your answer for mean",
            "Expected",
        ),
    ],
)
def test_hidden_feedback_keeps_what_states_no_expected_value(
    feedback: str, kept: str, gone: str
) -> None:
    shown = hidden_feedback(result(feedback))
    assert kept in shown and gone not in shown


def test_a_named_mistake_is_kept_and_expected_is_dropped() -> None:
    r = result(
        "This is what you get with a well-known mistake: forgot the bias. Expected 310, got 300.",
        misconception="forgot the bias",
    )
    shown = redact_result(r)
    assert shown.expected is None and shown.given == "1/2"
    assert shown.feedback == "This is what you get with a well-known mistake: forgot the bias."


def test_correct_answers_lose_the_exact_value_note() -> None:
    r = result("Accepted; the exact value is -√3/3 ≈ -0.5774.", verdict="correct")
    assert "√3" not in redact_result(r).feedback


def test_an_unknown_sentence_is_dropped_not_shown() -> None:
    assert "42" not in hidden_feedback(result("Some new wording that names 42."))


@pytest.mark.parametrize("fmt", ["text", "json", "gradescope"])
def test_check_with_reveal_never_states_no_expected_value(cli_run, tmp_path, fmt: str) -> None:
    answers = tmp_path / "eve.yaml"
    answers.write_text(ANSWERS, encoding="utf-8")
    code, out, _ = cli_run(
        "check", str(HOMEWORK), str(answers), "--format", fmt, "--reveal", "never"
    )
    assert code == 1
    assert not [s for s in SECRETS if s in out], out
    words = " ".join(out.split())  # the text table wraps its feedback
    assert "variance divided by N−1" in words and "error carried forward" in words
    code, shown, _ = cli_run("check", str(HOMEWORK), str(answers), "--format", fmt)
    assert [s for s in SECRETS if s in shown]  # the default shows them: the test can tell


def test_check_after_n_counts_the_attempt(cli_run, tmp_path) -> None:
    answers = tmp_path / "eve.yaml"
    answers.write_text(ANSWERS, encoding="utf-8")
    run = lambda n: cli_run(  # noqa: E731
        "check",
        str(HOMEWORK),
        str(answers),
        "--format",
        "json",
        "--reveal",
        "after:2",
        "--attempt",
        str(n),
    )[1]
    assert all(r["expected"] is None for r in json.loads(run(1))["results"])
    assert any(r["expected"] == "1900" for r in json.loads(run(2))["results"])


def test_grade_results_with_reveal_never(cli_run, tmp_path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "eve.yaml").write_text(ANSWERS, encoding="utf-8")
    out = tmp_path / "results"
    code, _, _ = cli_run(
        "grade",
        str(HOMEWORK),
        str(subs),
        "-o",
        str(tmp_path / "g.csv"),
        "--results-dir",
        str(out),
        "--reveal",
        "never",
    )
    assert code == 0
    text = (out / "eve" / "results.json").read_text(encoding="utf-8")
    assert not [s for s in SECRETS if s in text]
    assert json.loads(text)["max_score"] == 7
