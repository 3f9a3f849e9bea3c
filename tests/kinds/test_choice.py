"""Multiple choice: answers by letter or text, several right options, shuffled variants."""

from __future__ import annotations

import random

import pytest

from solver import kinds, load_text, solve
from solver.kinds.choice import letter_of, reletter
from solver.render import markdown, text

GIVEN = {
    "options": ["θ = 0", "θ = 1", "θ = 10⁶", "θ = θ*"],
    "answer": "a",
    "explanation": "The penalty dominates, so (a); (d) ignores it.",
    "why_not": {"d": "θ* ignores the penalty; compare (a)."},
}
MULTI = {
    "options": ["one", "two", "three", "four", "five"],
    "answer": ["e", "b"],
    "explanation": "(b) and (e) hold.",
}


def run(given: dict) -> object:
    k = kinds.get("choice")
    s = k.new_solution()
    k.solve(k.Given.model_validate(given), s)
    return s


def test_the_answer_is_the_letter_with_the_options_in_meta() -> None:
    a = run(GIVEN).answers["answer"]
    assert a.value == "a" and a.type == "choice"
    assert a.meta["options"] == {"a": "θ = 0", "b": "θ = 1", "c": "θ = 10⁶", "d": "θ = θ*"}
    assert a.meta["multiple"] is False
    assert a.meta["why_not"] == {"d": "θ* ignores the penalty; compare (a)."}


def test_the_answer_may_be_given_as_the_option_text_or_a_parenthesised_letter() -> None:
    assert run({**GIVEN, "answer": "θ = 10⁶"})["answer"] == "c"
    assert run({**GIVEN, "answer": "(B)"})["answer"] == "b"
    assert letter_of("  θ   =  θ* ", GIVEN["options"]) == "d"
    assert letter_of("e", GIVEN["options"]) is None


def test_several_right_options_give_a_sorted_list() -> None:
    s = run(MULTI)
    assert s["answer"] == ["b", "e"]
    assert s.answers["answer"].meta["multiple"] is True


def test_the_options_follow_the_question_and_the_explanation_is_a_step() -> None:
    ps = load_text(
        "title: t\nproblems:\n  - id: q\n    kind: choice\n    text: Which?\n"
        '    given:\n      options: ["yes", "no"]\n      answer: a\n'
        "      explanation: Because.\n",
        "f.yaml",
    )
    s = solve(ps.problems[0])
    assert s.text == "Which?\n\n(a) yes\n\n(b) no"
    steps = [st.text for st in s.steps]
    assert steps[0] == "The right option: (a) yes." and "Because." in steps
    out = text.render_solution(s)
    assert "  (b) no" in out
    md = "\n".join(markdown.render_solution(s))
    assert "(a) yes\n\n(b) no" in md


def _error(given: str) -> str:
    ps = load_text(
        "title: t\nproblems:\n  - id: p\n    kind: choice\n    given:\n" + given, "f.yaml"
    )
    assert not ps.problems
    return str(ps.errors[0])


@pytest.mark.parametrize(
    ("given", "expect"),
    [
        ("      options: [a, b]\n      answer: c\n", "'c' is not one of the options"),
        ("      options: [only]\n      answer: a\n", "at least two options"),
        ("      options: [x, X]\n      answer: a\n", "repeats option (a)"),
        ("      options: [x, y]\n      answer: [a, z]\n", "given.answer[1]"),
        (
            "      options: [x, y]\n      answer: a\n      why_not: {a: wrong}\n",
            "is a right answer",
        ),
        ("      options: [x, y]\n      answer: a\n      why_not: {q: wrong}\n", "given.why_not.q"),
        ("      options: [yes, no]\n      answer: a\n", "put it in quotes"),
        ("      options: [x, 0.5]\n      answer: a\n", "given.options[1]"),
    ],
)
def test_bad_choices_are_one_sentence_naming_the_field(given: str, expect: str) -> None:
    msg = _error(given)
    assert expect in msg and "f.yaml:" in msg and "problem 'p'" in msg


def test_reletter_moves_references_only() -> None:
    assert (
        reletter("(a) beats (b), as in (x) and (1)", {"a": "c", "b": "a"})
        == "(c) beats (a), as in (x) and (1)"
    )


@pytest.mark.parametrize("given", [GIVEN, MULTI])
def test_variants_shuffle_and_keep_the_right_statements(given: dict) -> None:
    k = kinds.get("choice")
    right = {
        given["options"][ord(x) - ord("a")]
        for x in ([given["answer"]] if isinstance(given["answer"], str) else given["answer"])
    }
    for seed in range(15):
        raw = k.generate(given, random.Random(seed))
        assert raw["options"] != given["options"]
        assert sorted(raw["options"]) == sorted(given["options"])
        g = k.Given.model_validate(raw)
        s = k.new_solution()
        k.solve(g, s)
        assert k.broken_promises(g, s) == []
        answers = [s["answer"]] if isinstance(s["answer"], str) else s["answer"]
        assert {s.answers["answer"].meta["options"][x] for x in answers} == right
        # the explanation's "(a)" still names the statement it named before
        for ref in ("(a)", "(b)", "(d)", "(e)"):
            if ref in given.get("explanation", ""):
                old = given["options"][ord(ref[1]) - ord("a")]
                new = "(" + "abcdefghij"[raw["options"].index(old)] + ")"
                assert new in raw["explanation"]


SHIPPED = {
    "problems/discussion-normalization.yaml": {
        "l2-large-lambda": "a",
        "l2-tiny-lambda": "d",
        "l2-moderate-lambda": ["a", "c", "e"],
    },
    "problems/coms573-cnn.yaml": {
        "batchnorm-train-test": "b",
        "batchnorm-batch-size": ["a", "b", "d"],
    },
    "problems/ift6135-rnn-decoding.yaml": {"exploding-condition": "b", "decoupled-decay": "a"},
}


@pytest.mark.parametrize("path", list(SHIPPED))
def test_the_shipped_choices_solve(path: str) -> None:
    from solver import load

    ps = load(path)
    assert ps.errors == []
    for pid, answer in SHIPPED[path].items():
        problem = ps.get(pid)
        assert problem is not None and problem.kind == "choice"
        s = solve(problem)
        assert s["answer"] == answer
        assert [st.text for st in s.steps if st.text.startswith("Not (")]  # why_not shown
