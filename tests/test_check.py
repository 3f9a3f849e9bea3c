"""The checker: verdicts, points, misconceptions, errors carried forward, outputs, exit codes."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import cli
from solver import exact, kinds, load, load_text, solve
from solver.check import AnswerKey, Report, Settings, read_answers
from solver.compare import Judge
from solver.errors import DlsolveError
from solver.render import report as render

from .conftest import TOY_PROBLEMS

DISCUSSION = "tests/data/normalization-worksheet.yaml"  # fixed, unlike the shipped file
NORMALIZATION_KINDS = [
    "layernorm",
    "batchnorm",
    "instancenorm",
    "groupnorm",
    "norm_stats",
    "bn_running_stats",
    "dropout",
]


def write(
    tmp_path: Path, answers: dict[str, Any], name: str = "student.yaml", student: str | None = "sam"
) -> Path:
    doc: dict[str, Any] = {"answers": answers}
    if student:
        doc["student"] = student
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return p


def results(report: Report) -> dict[tuple[str, str], Any]:
    return {(r.problem, r.key): r for r in report.results}


@pytest.fixture(scope="module")
def discussion() -> AnswerKey:
    return AnswerKey.load(DISCUSSION)


# --------------------------------------------------------------------------- verdicts


def test_every_asked_key_gets_a_verdict(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    report = discussion.check(read_answers(write(tmp_path, {})), judge)
    asked = [
        (s.id, a.key)
        for s in [kp.solution for kp in discussion.problems.values()]
        for a in s.asked()
    ]
    assert [(r.problem, r.key) for r in report.results] == asked
    assert {r.verdict for r in report.results} == {"missing"}
    points = {
        (s.id, a.key): s.points.get(a.key, 1)
        for s in [kp.solution for kp in discussion.problems.values()]
        for a in s.asked()
    }
    assert report.score == 0 and report.max_score == sum(points.values())
    assert points[("layernorm", "output")] == 2  # the file's points: setting is honoured


def test_correct_answers_in_many_notations(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    answers = {
        "layernorm": {
            "mean": "[6 3 2]",
            "var": [4, 9, 3],
            "normalized": r"\begin{bmatrix} -1 & -1 & 1 & 1 \\ -1 & -\frac13 & -\frac13 & \frac53"
            r" \\ -0.577 & -0.577 & -0.577 & 1.732 \end{bmatrix}",
            "output": [
                [-1, -3, 4, 4],
                [-1, "-5/3", 0, "20/3"],
                ["-sqrt(3)/3", "-1-2*sqrt(3)/3", "1-sqrt(3)", "4*sqrt(3)"],
            ],
        },
        "batchnorm-batch1": {"var": [0, 0, 0, 0], "defined": "no", "output": [["undefined"] * 4]},
    }
    r = results(discussion.check(read_answers(write(tmp_path, answers)), judge))
    for key in ("mean", "var", "normalized", "output"):
        assert r["layernorm", key].verdict == "correct", r["layernorm", key].feedback
    assert r["layernorm", "output"].points == 2
    for key in ("var", "defined", "output"):
        assert r["batchnorm-batch1", key].verdict == "correct"


def test_partial_credit_by_entries(discussion: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    output = [
        [-1, -3, 4, 4],
        [-1, "5/3", 0, "20/3"],
        ["-sqrt(3)/3", "-1-2*sqrt(3)/3", "1-sqrt(3)", 7],
    ]
    r = results(
        discussion.check(read_answers(write(tmp_path, {"layernorm": {"output": output}})), judge)
    )["layernorm", "output"]
    assert r.verdict == "partial"
    assert r.points == Fraction(10, 12) * 2
    assert "row 2, column 2 is 5/3, should be -5/3" in r.feedback
    assert "row 3, column 4 is 7, should be 4√3" in r.feedback


def test_rounded_decimals_from_yaml(discussion: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(
        "answers:\n  layernorm:\n    normalized: [[-1, -1, 1, 1], [-1, -0.33, -0.33, "
        "1.67],"
        " [-0.58, -0.57, -0.6, 1.73]]\n"
    )
    r = results(discussion.check(read_answers(p), judge))["layernorm", "normalized"]
    # -0.58 rounds and -0.57 truncates -0.5774; -0.6 has one significant figure
    assert r.verdict == "partial" and r.points == Fraction(11, 12)
    assert "row 3, column 3 is -0.6" in r.feedback
    assert r.given[2] == ["-0.58", "-0.57", "-0.6", "1.73"]


def test_per_problem_tolerance(judge: Judge, tmp_path: Path) -> None:
    text = (
        Path(DISCUSSION)
        .read_text()
        .replace(
            "    points: {output: 2}\n",
            "    points: {output: 2}\n    tolerance: {rtol: 0, atol: 0, decimals: 3}\n",
            1,
        )
    )
    key = AnswerKey(load_text(text, "strict.yaml"), Settings(timeout=10))  # rounding, not time
    p = tmp_path / "t.yaml"
    p.write_text(
        "answers:\n  layernorm:\n    normalized: [[-1, -1, 1, 1], [-1, -0.333, -0.333,"
        " 1.667], [-0.577, -0.58, -0.577, 1.732]]\n"
    )
    r = results(key.check(read_answers(p), judge))["layernorm", "normalized"]
    assert r.points == Fraction(11, 12)  # -0.58 shows 2 places; 3 are required


def test_unreadable_keeps_the_position(discussion: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    p = tmp_path / "u.yaml"
    p.write_text(
        "answers:\n  layernorm:\n    mean: [6, 3, 2]\n    var: '[4, 9, 3'\n"
        "    output: __import__('os')\n"
    )
    r = results(discussion.check(read_answers(p), judge))
    assert r["layernorm", "mean"].verdict == "correct"
    var = r["layernorm", "var"]
    assert var.verdict == "unreadable" and var.points == 0
    assert "line 4" in var.feedback and "expected ']'" in var.feedback
    assert "position 9" in var.feedback
    assert r["layernorm", "output"].verdict == "unreadable"


def test_unknown_problems_and_keys_are_warnings(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    report = discussion.check(
        read_answers(
            write(
                tmp_path,
                {"layernrom": {"mean": [6, 3, 2]}, "layernorm": {"Mean": [6, 3, 2], "meen": 1}},
            )
        ),
        judge,
    )
    text = " ".join(report.warnings)
    assert "no problem 'layernrom'" in text and "did you mean 'layernorm'" in text
    assert "'meen' is not an answer key (did you mean 'mean'?)" in text
    assert results(report)["layernorm", "mean"].verdict == "correct"  # 'Mean' matched


def test_answers_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("answers:\n  layernorm: [1, 2\n")
    with pytest.raises(DlsolveError, match=r"bad\.yaml:3: this is not valid YAML"):
        read_answers(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(DlsolveError, match="a mapping with 'answers:'"):
        read_answers(bad)
    with pytest.raises(DlsolveError, match="no such file"):
        read_answers(tmp_path / "missing.yaml")


def test_student_defaults_to_the_file_name(tmp_path: Path) -> None:
    sheet = read_answers(write(tmp_path, {}, name="kim.yaml", student=None))
    assert sheet.student == "kim"


# --------------------------------------------------------------------------- misconceptions


def _distinguishing_key(correct: Any, buggy: dict[str, Any], name: str) -> str | None:
    """A key whose buggy value differs from the correct one and from every other mistake's."""
    mine = buggy[name]
    for a in correct.asked():
        if a.type == "boolean":
            continue
        value = exact.fmt(mine.answers[a.key].value) if a.key in mine.answers else None
        others = [
            exact.fmt(s.answers[a.key].value)
            for n, s in buggy.items()
            if n != name and a.key in s.answers
        ]
        if value is not None and value != exact.fmt(a.value) and value not in others:
            return a.key
    return None


@pytest.mark.parametrize("kind_name", NORMALIZATION_KINDS)
def test_each_misconception_is_named(kind_name: str, judge: Judge, tmp_path: Path) -> None:
    k = kinds.get(kind_name)
    text = yaml.safe_dump({"problems": [{"id": "p", "kind": kind_name, "given": k.example}]})
    ps = load_text(text, "example.yaml")
    key = AnswerKey(ps)
    problem = ps.problems[0]
    correct = solve(problem)
    buggy = {name: solve(problem, **options) for name, options in k.misconceptions.items()}
    assert buggy, f"{kind_name} declares no misconceptions"
    for name, s in buggy.items():
        key_name = _distinguishing_key(correct, buggy, name)
        assert key_name is not None, f"{kind_name}: '{name}' changes no answer of the example"
        value = exact.fmt(s.answers[key_name].value)
        report = key.check(read_answers(write(tmp_path, {"p": {key_name: value}})), judge)
        r = results(report)["p", key_name]
        assert r.verdict in ("incorrect", "partial"), (name, r.feedback)
        assert r.misconception == name, (kind_name, key_name, r.feedback)
        assert name in r.feedback


def test_a_wrong_boolean_names_no_mistake(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    # LayerNorm's grouping makes a batch of one defined, but a wrong true/false says little
    r = results(
        discussion.check(
            read_answers(write(tmp_path, {"batchnorm-batch1": {"defined": True}})), judge
        )
    )["batchnorm-batch1", "defined"]
    assert r.verdict == "incorrect" and r.misconception is None


def test_misconception_on_a_shipped_problem(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    report = discussion.check(
        read_answers(
            write(
                tmp_path,
                {
                    "layernorm": {"var": ["16/3", 12, 4]},
                    "batchnorm": {"mean": [3, 4, 5, 4], "var": [3, 3, 21, 27]},
                },
            )
        ),
        judge,
    )
    r = results(report)
    assert r["layernorm", "var"].misconception.startswith("variance divided by N−1")
    assert r["batchnorm", "var"].misconception.startswith("variance divided by N−1")
    out = " ".join(render.text(report).split())
    assert "variance divided by N−1" in out


# --------------------------------------------------------------------------- carried forward


def test_error_carried_forward_through_normalization(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    problem = load(DISCUSSION).get("layernorm")
    wrong = solve(problem, overrides={"mean": [5, 2, 1]})  # every mean one too small
    answers = {k: exact.fmt(wrong[k]) for k in ("mean", "var", "normalized", "output")}
    r = results(discussion.check(read_answers(write(tmp_path, {"layernorm": answers})), judge))
    assert r["layernorm", "mean"].verdict == "incorrect"
    for k in ("var", "normalized"):
        assert r["layernorm", k].verdict == "carried_forward", r["layernorm", k].feedback
        assert r["layernorm", k].points == Fraction(1, 2)
    assert "follows correctly from your answer for mean" in r["layernorm", "var"].feedback
    # named at the root: the mean it all follows from, with the student's value
    assert "your answer for mean ([5, 2, 1])" in r["layernorm", "output"].feedback
    assert r["layernorm", "output"].points == 1  # half of 2


def test_partial_credit_wins_when_worth_more(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    problem = load(DISCUSSION).get("layernorm")
    wrong = solve(problem, overrides={"mean": [5, 3, 2]})  # a slip in row 1 only
    answers = {k: exact.fmt(wrong[k]) for k in ("mean", "var")}
    r = results(discussion.check(read_answers(write(tmp_path, {"layernorm": answers})), judge))
    var = r["layernorm", "var"]
    assert var.verdict == "partial" and var.points == Fraction(2, 3)
    assert "It does follow correctly from your answer for mean ([5, 3, 2])." in var.feedback


def test_carry_forward_share_from_settings_and_problem(judge: Judge, tmp_path: Path) -> None:
    problem = load(DISCUSSION).get("layernorm")
    wrong = solve(problem, overrides={"var": [16, 36, 12]})
    answers = {"layernorm": {"var": [16, 36, 12], "normalized": exact.fmt(wrong["normalized"])}}
    sheet = read_answers(write(tmp_path, answers))
    key = AnswerKey(load(DISCUSSION), Settings(carry_forward=Fraction(1, 4)))
    assert results(key.check(sheet, judge))["layernorm", "normalized"].points == Fraction(1, 4)
    text = (
        Path(DISCUSSION)
        .read_text()
        .replace("    points: {output: 2}\n", "    points: {output: 2}\n    carry_forward: 1\n", 1)
    )
    key = AnswerKey(load_text(text, "cf.yaml"), Settings(carry_forward=Fraction(1, 4)))
    assert results(key.check(sheet, judge))["layernorm", "normalized"].points == 1


def test_only_earlier_answers_feed_later_ones(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    # a wrong output cannot make an earlier normalized answer "carried forward"
    problem = load(DISCUSSION).get("layernorm")
    wrong = solve(problem, overrides={"output": [[0] * 4] * 3})
    answers = {"layernorm": {"normalized": [[0] * 4] * 3, "output": [[0] * 4] * 3}}
    assert wrong["normalized"] != [[0] * 4] * 3
    r = results(discussion.check(read_answers(write(tmp_path, answers)), judge))
    assert r["layernorm", "normalized"].verdict == "incorrect"


def test_wrong_shape_does_not_feed_the_kind(
    discussion: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    answers = {"layernorm": {"mean": [6, 3], "var": [4, 9, 3]}}
    r = results(discussion.check(read_answers(write(tmp_path, answers)), judge))
    assert r["layernorm", "mean"].feedback == "Expected shape [3], got [2]."
    assert r["layernorm", "var"].verdict == "correct"


def test_carried_forward_across_answer_types(toy_kind: Any, judge: Judge, tmp_path: Path) -> None:
    key = AnswerKey(load_text(TOY_PROBLEMS, "toy.yaml"))
    # z1 wrong (width 4 instead of 3): z2 = [n, 8], params = 4·8 + 8 = 40, ratio 40/7, big true
    answers = {
        "toy": {
            "z1": "n x 4",
            "z2": ["n", 8],
            "params": 40,
            "ratio": 5.71,
            "rate": r"-2\eta\gamma",
            "time": "O(N^2 T)",
            "path": "the green rectangle",
            "beams": ["the red circle", "a blue square"],
            "pick": "(b)",
            "big": True,
            "weights": [[1, "1/sqrt(3)"], ["7/12", "undefined"]],
            "note": "softmax",
        }
    }
    r = results(key.check(read_answers(write(tmp_path, answers)), judge))
    assert r["toy", "z1"].verdict == "incorrect"
    assert "Expected [n, 3], got [n, 4]" in r["toy", "z1"].feedback
    for k in ("z2", "params", "ratio"):
        assert r["toy", k].verdict == "carried_forward", (k, r["toy", k].feedback)
    assert r["toy", "params"].points == 1  # half of 2
    for k in ("rate", "time", "path", "beams", "pick", "big", "weights", "note"):
        assert r["toy", k].verdict == "correct", (k, r["toy", k].feedback)


def test_misconception_and_carried_forward_together(
    toy_kind: Any, judge: Judge, tmp_path: Path
) -> None:
    key = AnswerKey(load_text(TOY_PROBLEMS, "toy.yaml"))
    # params without the bias: 3·6 = 18 (the misconception), from the correct shapes
    r = results(key.check(read_answers(write(tmp_path, {"toy": {"params": 18}})), judge))
    assert r["toy", "params"].misconception == "forgot the bias"
    # without the bias and from a wrong z1 (width 4): 4·8 = 32
    r = results(
        key.check(read_answers(write(tmp_path, {"toy": {"z1": "[n, 4]", "params": 32}})), judge)
    )
    assert r["toy", "params"].verdict == "incorrect"
    assert r["toy", "params"].misconception == "forgot the bias"
    assert "applied to your earlier answers" in r["toy", "params"].feedback


def test_choice_feeds_the_kind_in_its_own_form(toy_kind: Any, judge: Judge, tmp_path: Path) -> None:
    key = AnswerKey(load_text(TOY_PROBLEMS, "toy.yaml"))
    r = results(key.check(read_answers(write(tmp_path, {"toy": {"pick": "theta = 1e6"}})), judge))
    assert r["toy", "pick"].verdict == "incorrect"
    assert "(c) theta = 1e6 is not the answer" in r["toy", "pick"].feedback


# --------------------------------------------------------------------------- outputs


def test_json_is_exactly_the_spec(discussion: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    report = discussion.check(
        read_answers(write(tmp_path, {"layernorm": {"mean": [6, 3, 2], "var": ["16/3", 12, 4]}})),
        judge,
    )
    doc = json.loads(render.json(report))
    assert set(doc) == {"student", "score", "max_score", "results"}
    assert doc["student"] == "sam" and doc["score"] == 1 and doc["max_score"] == 17
    first = doc["results"][0]
    assert set(first) == {
        "problem",
        "key",
        "verdict",
        "points",
        "max_points",
        "expected",
        "given",
        "feedback",
        "misconception",
    }
    assert first == {
        "problem": "layernorm",
        "key": "mean",
        "verdict": "correct",
        "points": 1,
        "max_points": 1,
        "expected": ["6", "3", "2"],
        "given": [6, 3, 2],
        "feedback": "",
        "misconception": None,
    }
    var = doc["results"][1]
    assert var["verdict"] == "incorrect" and var["given"] == ["16/3", 12, 4]
    assert var["misconception"].startswith("variance divided by N−1")
    assert {r["verdict"] for r in doc["results"]} <= {
        "correct",
        "incorrect",
        "partial",
        "carried_forward",
        "missing",
        "unreadable",
    }


def test_gradescope_format(discussion: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    report = discussion.check(
        read_answers(write(tmp_path, {"layernorm": {"mean": [6, 3, 2]}})), judge
    )
    doc = json.loads(render.gradescope(report))
    assert set(doc) == {"score", "max_score", "tests"}
    assert doc["score"] == 1 and doc["max_score"] == 17
    assert doc["tests"][0] == {
        "name": "layernorm: mean",
        "score": 1,
        "max_score": 1,
        "status": "passed",
        "output": "Correct.",
        "output_format": "text",
    }
    fields = {"name", "score", "max_score", "status", "output", "output_format"}
    assert all(set(t) == fields for t in doc["tests"])


def test_text_table_has_a_total(discussion: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    report = discussion.check(
        read_answers(write(tmp_path, {"layernorm": {"mean": [6, 3, 2]}})), judge
    )
    out = render.text(report)
    assert "✓ mean" in out and "– var" in out
    assert out.rstrip().endswith("Total: 1 / 17 points (6%): 1 correct, 14 missing.")


# --------------------------------------------------------------------------- the command


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    everything = {}
    for s in solve_all():
        everything[s.id] = {a.key: _yaml_value(a.value) for a in s.asked()}
    good = write(tmp_path, everything, "good.yaml")
    res = runner.invoke(cli.main, ["check", DISCUSSION, str(good)])
    assert res.exit_code == 0, res.output
    partial = write(tmp_path, {"layernorm": {"mean": [6, 3, 2]}}, "partial.yaml")
    res = runner.invoke(cli.main, ["check", DISCUSSION, str(partial), "--format", "json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["score"] == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("answers: [1,\n")
    res = runner.invoke(cli.main, ["check", DISCUSSION, str(broken)])
    assert res.exit_code == 2 and "broken.yaml" in res.stderr and "Traceback" not in res.output


def test_cli_reports_unknown_ids_but_checks_the_rest(tmp_path: Path) -> None:
    runner = CliRunner()
    p = write(tmp_path, {"nope": {"x": 1}, "layernorm": {"mean": [6, 3, 2]}})
    res = runner.invoke(cli.main, ["check", DISCUSSION, str(p), "--format", "gradescope"])
    assert res.exit_code == 1
    assert "warning:" in res.stderr and "'nope'" in res.stderr
    assert json.loads(res.stdout)["score"] == 1


def solve_all() -> list[Any]:
    from solver import solve_paths

    return solve_paths([DISCUSSION])[0].solutions


def _yaml_value(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return "undefined" if v is None else v
    if isinstance(v, list):
        return [_yaml_value(x) for x in v]
    return exact.fmt(v)


def test_template_grading_settings_load() -> None:
    from solver import describe

    text = (
        describe.template("dropout")
        .replace("    # tolerance:", "    tolerance:")
        .replace("    # carry_forward:", "    carry_forward:")
    )
    problem = load_text(text, "template.yaml").problems[0]
    assert problem.tolerance == {
        "rtol": Fraction(1, 100),
        "atol": Fraction(1, 10**8),
        "decimals": 2,
    }
    assert problem.carry_forward == Fraction(1, 2)
    bad = load_text(text.replace("carry_forward: 1/2", "carry_forward: 3"), "t.yaml")
    assert not bad.problems
    assert "carry_forward must be a share of the points between 0 and 1" in str(bad.errors[0])
    assert "t.yaml:" in str(bad.errors[0])


def test_a_function_the_key_applies_can_be_written_by_the_student(
    judge: Judge, tmp_path: Path
) -> None:
    """IFT6135 1.1's answer is g_t = σ(h_t): σ is a function of the key, so a student may
    apply it (as sigma or σ); other unknown functions stay unreadable."""
    key = AnswerKey.load("problems/ift6135-rnn-decoding.yaml")

    def verdict(text: str) -> str:
        report = key.check(read_answers(write(tmp_path, {"rnn-equivalence": {"g_t": text}})), judge)
        return next(r.verdict for r in report.results if r.key == "g_t")

    assert verdict("sigma(h_t)") == "correct"
    assert verdict("σ(h_t)") == "correct"
    assert verdict("sigma(h_t + 1)") == "incorrect"
    assert verdict("tanh(h_t)") == "unreadable"


@pytest.mark.parametrize("path", sorted(Path("problems").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_key_can_be_answered_with_its_own_json_value(
    path: Path, judge: Judge, tmp_path: Path
) -> None:
    """What `solve --format json` prints as a value, written back as a student's answer, is
    correct for every asked key of every shipped problem: no key is out of a student's reach."""
    from solver import solve_paths
    from solver.render import json as json_render

    doc = json.loads(json_render.render(solve_paths([path])))
    answers = {
        p["id"]: {
            key: (f"O({a['value']})" if a["type"] == "complexity" else a["value"])
            for key, a in p["answers"].items()
        }
        for p in doc["problems"]
    }
    report = AnswerKey.load(path).check(read_answers(write(tmp_path, answers)), judge)
    assert [(r.problem, r.key, r.feedback) for r in report.results if r.verdict != "correct"] == []
    assert report.score == report.max_score > 0
