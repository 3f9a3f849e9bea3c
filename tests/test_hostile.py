"""Nothing a student submits can lose a class's grades (issue 16).

Every case of the red-team run, in the YAML a student would write: the hostile
answer costs that answer (unreadable or wrong, with a reason), never the file,
never another student's grade, and never more than its time limit.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.check import AnswerKey, Settings, read_answers
from solver.grade import grade

SOFTMAX = """\
title: t
problems:
  - id: sm
    kind: softmax_ce
    given:
      logits: [1, 2, 3]
      label: 2
  - id: ln
    kind: layernorm
    given:
      X: [[1, 2, 3], [2, 4, 6]]
"""
GOOD = """\
answers:
  sm:
    probabilities: ["e^-2/(1+e^-1+e^-2)", "e^-1/(1+e^-1+e^-2)", "1/(1+e^-1+e^-2)"]
    predicted: [2]
    loss: 0.4076
  ln:
    mean: [2, 4]
"""
WRONG = "answers:\n  sm:\n    predicted: [1]\n    loss: 0.5\n  ln:\n    mean: [2, 5]\n"

#: (name, the YAML lines of problem sm that the student wrote): the red-team run's cases
CASES = {
    "exp(exp(20)) in a real answer": 'loss: "exp(exp(20))"',
    "a YAML integer of 5,001 digits": "loss: " + "7" * 5001,
    "a base-60 integer of 3,000 parts": "loss: " + ":".join(["1"] + ["30"] * 2999),
    "1.0e+1000000": "loss: 1.0e+1000000",
    "1.0e+10000000": "loss: 1.0e+10000000",
    "exp(exp(20)) carried forward": (
        'probabilities: ["exp(exp(20))", 0, 0]\n    grad_logits: [0, 0, 0]'
    ),
    "exp(exp(exp(96))) carried forward": (
        'probabilities: ["exp(exp(exp(96)))", 0, 0]\n    grad_logits: [0, 0, 0]'
    ),
    "(eta+gamma)^1000": 'loss: "(eta+gamma)^1000"',
    "O((B+N+T)^999)": 'loss: "O((B+N+T)^999)"',
    "a 30k-entry list": "probabilities: [" + ",".join(["0"] * 30_000) + "]",
    "a duplicate key": "loss: 1\n    loss: 2",
    "an unquoted date": "loss: 2024-01-01",
    "!!binary": "loss: !!binary aGVsbG8=",
    "a custom tag": "loss: !mine 3",
    "a merge key": "<<: {loss: 1}",
    "a null key": "~: 1",
    "a float key": "1.5: 1",
    "a list key": "? [1]\n    : 1",
    "a quoted [[[…]]] 100 deep": 'loss: "' + "[" * 100 + "]" * 100 + '"',
    "a comment of 150 [": "loss: 1  # " + "[" * 150,
    "a block scalar indented 110": "loss: |\n" + " " * 110 + "x",
}
LIMIT = 1.0  # seconds per answer (the default --timeout)


def _write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(text)
    return p


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("hostile"), "sm.yaml", SOFTMAX)


@pytest.fixture(scope="module")
def key(problems: Path) -> AnswerKey:
    key = AnswerKey.load(problems, Settings(timeout=LIMIT))
    yield key
    key.close()


def _hostile(lines: str) -> str:
    """A student who got ln right and wrote ``lines`` under sm."""
    return "answers:\n  ln:\n    mean: [2, 4]\n  sm:\n    predicted: [2]\n    " + lines + "\n"


@pytest.mark.parametrize("name", list(CASES))
def test_one_hostile_answer_costs_only_itself(
    name: str, problems: Path, key: AnswerKey, tmp_path: Path
) -> None:
    evil = _write(tmp_path, "evil.yaml", _hostile(CASES[name]))
    start = time.monotonic()
    report = key.check(read_answers(evil))
    elapsed = time.monotonic() - start
    verdicts = {(r.problem, r.key): r for r in report.results}
    assert verdicts["ln", "mean"].verdict == "correct", name  # the rest is still checked
    assert verdicts["sm", "predicted"].verdict == "correct", name
    for k in ("probabilities", "loss", "grad_logits"):
        r = verdicts["sm", k]
        assert r.verdict in ("unreadable", "incorrect", "missing"), (name, r)
        if r.verdict == "unreadable":
            assert r.feedback.startswith("Could not read this answer (line "), r.feedback
    # each hostile answer has its limit (reading, then judging it for partial credit)
    assert elapsed < 4 * LIMIT + 3, f"{name}: {elapsed:.1f} s"


def test_lenient_entries_are_named_with_their_line(key: AnswerKey, tmp_path: Path) -> None:
    evil = _write(tmp_path, "evil.yaml", _hostile(CASES["a duplicate key"]))
    sheet = read_answers(evil)
    assert sheet.answers["sm"]["loss"] == 1
    assert sheet.warnings == [f"{evil}:7: duplicate key 'loss'; this entry is left out."]
    evil.write_text(_hostile(CASES["an unquoted date"]))
    sheet = read_answers(evil)
    assert "loss" not in sheet.answers["sm"]
    assert sheet.warnings == [
        f"{evil}:6: a date is not allowed here (quote it to mean text); this entry is left out."
    ]


def test_files_that_are_not_files(key: AnswerKey, tmp_path: Path) -> None:
    from solver.errors import DlsolveError

    with pytest.raises(DlsolveError, match="not a regular file"):
        read_answers("/dev/zero")
    big = _write(tmp_path, "big.yaml", _hostile("loss: [" + ",".join(["0"] * 990_000) + "]"))
    start = time.monotonic()
    with pytest.raises(DlsolveError, match="more than 100000 values, too many"):
        read_answers(big)  # refused before YAML reads it (that took 8 s and 627 MB)
    assert time.monotonic() - start < 2


def test_a_hostile_class_member_loses_no_one_else_s_grade(problems: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    _write(subs, "a-good.yaml", GOOD)
    _write(subs, "b-wrong.yaml", WRONG)
    for i, lines in enumerate(CASES.values()):
        _write(subs, f"evil{i:02d}.yaml", _hostile(lines))
    files = sorted(subs.iterdir())
    alone = grade(problems, files[:2], settings=Settings(timeout=0.5))
    assert [o.report.score for o in alone] == [4, Fraction(1, 2)]  # 1/2: carried forward
    outcomes = grade(problems, files, jobs=2, settings=Settings(timeout=0.5))
    assert len(outcomes) == len(files) and all(o.report is not None for o in outcomes)
    assert [o.report.score for o in outcomes[:2]] == [4, Fraction(1, 2)]


def test_grade_timeout_is_honoured(problems: Path, tmp_path: Path, cli_run) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    _write(subs, "slow.yaml", _hostile(CASES["exp(exp(exp(96))) carried forward"]))
    start = time.monotonic()
    code, _, err = cli_run(
        "grade", str(problems), str(subs), "-o", str(tmp_path / "g.csv"), "--timeout", "0.1"
    )
    assert code == 0, err
    assert time.monotonic() - start < 10, "the 0.1 s limit was not applied"
    assert "Could not read" not in (tmp_path / "g.csv").read_text()  # feedback is not in CSV


# --------------------------------------------------------------------------- property

HOSTILE_TEXT = st.one_of(
    st.sampled_from(list(CASES.values())),
    st.builds(
        lambda k, v: f"{k}: {v}",
        st.sampled_from(["loss", "probabilities", "grad_logits", "predicted", "~", "1.5"]),
        st.one_of(
            st.sampled_from(
                [
                    '"exp(exp(exp(99)))"',
                    "1e999999",
                    "-1.0e-1000001",
                    "0x" + "f" * 2000,
                    "[" * 120 + "]" * 120,
                    "!!python/object/apply:os.system ['true']",
                    '"9**9**9**9"',
                    '"factorial(10**8)"',
                    "&a [*a]",
                    "{a: 1, a: 2}",
                    "2001-12-14t21:59:43.10-05:00",
                    ".nan",
                    "-.inf",
                    "null",
                ]
            ),
            st.text(alphabet="0123456789eE+-.:[]{}()^*/,\"' xyzπ√", max_size=60).map(repr),
        ),
    ),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=HOSTILE_TEXT)
def test_property_a_random_hostile_answer_changes_no_good_score(
    lines: str, problems: Path, key: AnswerKey, tmp_path: Path
) -> None:
    """Append one random hostile answers file to a good class: every good student's score
    is what it was, and the hostile file still gets a report or a reason."""
    good = {"a-good.yaml": GOOD, "b-wrong.yaml": WRONG}
    before = {n: key.check(read_answers(_write(tmp_path, n, t))).score for n, t in good.items()}
    assert before == {"a-good.yaml": Fraction(4), "b-wrong.yaml": Fraction(1, 2)}
    evil = _write(tmp_path, "evil.yaml", _hostile(lines))
    from solver.errors import DlsolveError

    try:
        report = key.check(read_answers(evil))
        assert report.results  # every asked key has a verdict
    except DlsolveError:
        pass  # the file as a whole is unusable (not YAML): its row says why
    after = {n: key.check(read_answers(tmp_path / n)).score for n in good}
    assert after == before


# --------------------------------------------------------------------------- problem files


def _problem(kind: str, given: str) -> str:
    return f"title: t\nproblems:\n  - id: p\n    kind: {kind}\n    given:\n{given}"


VITERBI = "      tokens: [<BOS>, a, b]\n      P: [[0, 1/3, 2/3], [0, 1/4, 3/4], [0, 3/5, 2/5]]\n"
PROBLEM_CASES = {
    "an eps of 5,001 digits": (
        _problem("layernorm", "      X: [[1, 2, 3]]\n      eps: " + "7" * 5001 + "\n"),
        "field 'given.eps': could not read '7777",
    ),
    "an eps of 1.0e+1000000": (
        _problem("layernorm", "      X: [[1, 2, 3]]\n      eps: 1.0e+1000000\n"),
        "the decimal exponent is too large",
    ),
    "viterbi T: 100000": (
        _problem("viterbi", VITERBI + "      T: 100000\n"),
        "T·N = 300,000 values of δ, each an answer and a step; the limit is 100,000",
    ),
    "viterbi T: 1000000": (
        _problem("viterbi", VITERBI + "      T: 1000000\n"),
        "the limit is 100,000",
    ),
    "viterbi N^T too long to print": (
        _problem("viterbi", VITERBI + "      T: 9000\n"),
        "N^T = 3^9000 has about 4,295 digits, more than the 4,000 a count may show",
    ),
    "softmax_ce with 10⁴ logits": (
        _problem("softmax_ce", f"      logits: {list(range(10_000))}\n      label: 0\n"),
        "more than the 20,000 that stay within seconds",
    ),
    "layernorm 300×300": (
        _problem("layernorm", f"      X: {[[i + j for i in range(300)] for j in range(300)]}\n"),
        "holds more than 65,536 numbers, the most a given tensor may hold",
    ),
    "layernorm 1000×1000": (
        _problem("layernorm", f"      X: {[[i + j for i in range(1000)] for j in range(1000)]}\n"),
        "the file holds more than 500,000 values",
    ),
}


@pytest.mark.parametrize("name", list(PROBLEM_CASES))
def test_problem_sizes_are_bounded_up_front(name: str, tmp_path: Path, cli_run) -> None:
    text, message = PROBLEM_CASES[name]
    p = _write(tmp_path, "p.yaml", text)
    start = time.monotonic()
    code, _, err = cli_run("solve", str(p))
    assert code == 2 and message in err and "Traceback" not in err, err
    assert err.count("\n") == 1, err
    assert time.monotonic() - start < 30, name  # refused, not attempted


def test_verify_refuses_a_model_larger_than_its_share_of_memory(monkeypatch) -> None:
    from solver import load_text, solve
    from solver.verify import runner

    text = _problem(
        "mlp",
        "      input_shape: [n, 1000000000]\n"
        "      layers: [{type: Linear, in: 1000000000, out: 1000000000}]\n",
    )
    s = solve(load_text(text, "big.yaml").problems[0])
    monkeypatch.setattr(runner, "machine_memory", lambda: 23 * 2**30)
    refused = runner.too_large(s, "big.yaml")
    assert refused is not None
    assert str(refused) == (
        "big.yaml: problem 'p': not cross-checked: its 1,000,000,001,000,000,000 parameters "
        "need 14,901,161,208.7 GB in float64 with gradients, more than 1/4 of this machine's "
        "23.0 GB."
    )
    small = _problem(
        "mlp", "      input_shape: [n, 4]\n      layers: [{type: Linear, in: 4, out: 2}]\n"
    )
    assert runner.too_large(solve(load_text(small, "s.yaml").problems[0])) is None


def test_a_file_of_many_slow_answers_has_a_budget(tmp_path: Path) -> None:
    """After OVERRUNS overruns at the full limit, a file's steps get a tenth of it."""
    from solver.check import OVERRUNS

    problems = "title: t\nproblems:\n" + "".join(
        f"  - id: s{i}\n    kind: softmax_ce\n    given: {{logits: [1, 2, 3], label: 2}}\n"
        for i in range(4)
    )
    slow = '["exp(exp(exp(96)))", 0, 0]'
    answers = "answers:\n" + "".join(
        f"  s{i}:\n    probabilities: {slow}\n    grad_logits: {slow}\n" for i in range(4)
    )
    key = AnswerKey.load(_write(tmp_path, "p.yaml", problems), Settings(timeout=0.3))
    try:
        report = key.check(read_answers(_write(tmp_path, "a.yaml", answers)))
    finally:
        key.close()
    reasons = [r.feedback for r in report.results if r.verdict == "unreadable"]
    assert len(reasons) == 8
    assert sum("took longer than 0.3 s" in f for f in reasons) == OVERRUNS, reasons
    assert sum("took longer than 0.03 s" in f for f in reasons) == 8 - OVERRUNS, reasons
