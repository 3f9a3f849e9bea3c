"""Grading a student can trust (issue 15): right answers are never marked wrong, and a wrong
one is diagnosed at its root. One test (or more) per case of the issue."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from solver import load_text, solve
from solver.check import AnswerKey, Report, read_answers
from solver.compare import Judge

from .conftest import problem_file


def write(tmp_path: Path, answers: dict[str, Any], name: str = "student.yaml", **top: Any) -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump({**top, "answers": answers}, allow_unicode=True), encoding="utf-8")
    return p


def key_of(text: str) -> AnswerKey:
    ps = load_text(textwrap.dedent(text), "test.yaml")
    assert not ps.errors, [str(e) for e in ps.errors]
    return AnswerKey(ps)


def results(report: Report) -> dict[str, Any]:
    return {r.key: r for r in report.results}


def check(key: AnswerKey, answers: dict[str, Any], judge: Judge, tmp_path: Path) -> dict[str, Any]:
    return results(key.check(read_answers(write(tmp_path, answers)), judge))


# --------------------------------------------------------------------------- ties

#: two equally likely best sequences: <BOS> A B A and <BOS> B A B (both 9/64)
TIED_CHAIN = {
    "tokens": ["<BOS>", "A", "B"],
    "P": [[0, "1/2", "1/2"], [0, "1/4", "3/4"], [0, "3/4", "1/4"]],
    "T": 3,
}


@pytest.fixture(scope="module")
def tied_viterbi() -> AnswerKey:
    return AnswerKey(load_text(problem_file("viterbi", TIED_CHAIN), "tie.yaml"))


def test_viterbi_tie_accepts_either_best_sequence(
    tied_viterbi: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    s = tied_viterbi.problems["p"].solution
    assert s["sequence"] == ["<BOS>", "A", "B", "A"]
    assert s.answers["sequence"].meta["alternatives"] == [["<BOS>", "B", "A", "B"]]
    assert any("tie" in step.text.lower() and "B A B" in step.text for step in s.steps)
    for seq in ("<BOS> A B A", "<BOS> B A B", "B A B"):
        r = check(tied_viterbi, {"p": {"sequence": seq}}, judge, tmp_path)
        assert r["sequence"].verdict == "correct", (seq, r["sequence"].feedback)
    r = check(tied_viterbi, {"p": {"sequence": "A A A"}}, judge, tmp_path)
    assert r["sequence"].verdict == "incorrect"


def test_viterbi_tie_in_a_backpointer_accepts_either_word(judge: Judge, tmp_path: Path) -> None:
    # δ_1 = [1/2, 1/2]; both reach A with 1/2·1/2: a_2(A) may be A or B
    given = {
        "tokens": ["<BOS>", "A", "B"],
        "P": [[0, "1/2", "1/2"], [0, "1/2", "1/2"], [0, "1/2", "1/2"]],
        "T": 2,
    }
    key = AnswerKey(load_text(problem_file("viterbi", given), "tie.yaml"))
    r = check(key, {"p": {"backpointers[2]": "B B", "sequence": "B B"}}, judge, tmp_path)
    assert r["backpointers[2]"].verdict == "correct", r["backpointers[2]"].feedback
    assert r["sequence"].verdict == "correct", r["sequence"].feedback


def test_numeric_viterbi_breaks_ties_as_the_exact_path(judge: Judge) -> None:
    """At an exact tie the float64 path takes the first word, as the exact path does, even
    when rounding over many steps makes the tied log-probabilities differ in the last bit."""

    def solved(method: str) -> Any:
        text = problem_file("viterbi", {**TIED_CHAIN, "T": 200, "method": method})
        return solve(load_text(text, f"{method}.yaml").problems[0])

    numeric, exact_path = solved("numeric"), solved("exact")
    assert numeric["sequence"] == exact_path["sequence"]
    assert numeric["sequence"][-1] == "A"  # the last word's tie goes to the first word
    assert (
        numeric.answers["sequence"].meta["alternatives"]
        == (exact_path.answers["sequence"].meta["alternatives"])
    )


LM_TIE = """
title: t
problems:
  - id: lm
    kind: lm_tree
    given:
      beam_width: 1
      tree:
        <BOS>:
          children:
            x: {logp: -1, children: {a: -1, b: -2}}
            y: {logp: -1, children: {a: -3, b: -1}}
"""


def test_lm_tree_ties_are_alternatives(judge: Judge, tmp_path: Path) -> None:
    key = key_of(LM_TIE)
    s = key.problems["lm"].solution
    assert s["greedy.sequence"] == ["<BOS>", "x", "a"]
    assert s.answers["greedy.sequence"].meta["alternatives"] == [["<BOS>", "y", "b"]]
    assert any("tie" in step.text.lower() for step in s.steps)
    r = check(
        key,
        {"lm": {"greedy.sequence": "<BOS> y b", "best.sequence": "y b", "beam.sequence": "y b"}},
        judge,
        tmp_path,
    )
    for k in ("greedy.sequence", "best.sequence", "beam.sequence"):
        assert r[k].verdict == "correct", (k, r[k].feedback)


# --------------------------------------------------------------------------- rounding


ADAM = """
title: t
problems:
  - id: adam
    kind: adam_step
    given: {theta: [-2, 3], grads: [[-1, 1]], lr: 0.1, betas: [0.9, 0.999], eps: 0,
            weight_decay: 0.1}
"""


def test_rounding_never_overrides_a_named_mistake(judge: Judge, tmp_path: Path) -> None:
    key = key_of(ADAM)
    s = key.problems["adam"].solution
    assert s["adamw.theta[1]"][0] == -exact_fraction("47/25")  # -1.88
    assert s["adam_l2.theta[1]"][0] == -exact_fraction("19/10")  # -1.9: the swapped mistake
    r = check(key, {"adam": {"adamw.theta[1]": [-1.9, 2.87]}}, judge, tmp_path)
    res = r["adamw.theta[1]"]
    assert res.verdict == "partial" and res.misconception is not None
    assert "AdamW" in res.misconception
    assert "-1.9" in res.feedback and "rounding" in res.feedback
    r = check(key, {"adam": {"adamw.theta[1]": [-1.88, 2.87]}}, judge, tmp_path)
    assert r["adamw.theta[1]"].verdict == "correct"
    # closer to the mistake's value than to the right one: not a rounding either
    r = check(key, {"adam": {"adamw.theta[1]": [-1.89, 2.87]}}, judge, tmp_path)
    assert r["adamw.theta[1]"].verdict != "correct"


def exact_fraction(text: str) -> Any:
    from fractions import Fraction

    return Fraction(text)


# --------------------------------------------------------------------------- carry forward

CONV = """
title: t
problems:
  - id: net
    kind: conv
    given:
      input_shape: [1, 28, 28]
      layers:
        - {type: Conv2d, name: conv1, in: 1, out: 8, kernel: 3, stride: 1, padding: 1}
        - {type: MaxPool2d, name: pool1, kernel: 2, stride: 2}
        - {type: Conv2d, name: conv2, in: 8, out: 16, kernel: 3, stride: 1, padding: 1}
        - {type: MaxPool2d, name: pool2, kernel: 2, stride: 2}
        - {type: Conv2d, name: conv3, in: 16, out: 32, kernel: 3, stride: 1, padding: 1}
        - {type: Flatten, name: flat}
        - {type: Linear, name: fc, in: null, out: 10}
"""


@pytest.fixture(scope="module")
def conv_key() -> AnswerKey:
    return key_of(CONV)


def test_carried_forward_names_the_root_and_no_second_mistake(
    conv_key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    from solver.check import expected_json
    from solver.parse import parse_value

    kp = conv_key.problems["net"]
    wrong = kp.problem and solve(
        kp.problem, overrides={"conv1.output_shape": parse_value([8, 27, 27])}
    )
    answers = {a.key: expected_json(a) for a in wrong.asked()}
    r = check(conv_key, {"net": answers}, judge, tmp_path)
    root = r["conv1.output_shape"]
    assert root.verdict == "incorrect" and "+ 1" in root.misconception
    carried = [res for res in r.values() if res.verdict == "carried_forward"]
    assert len(carried) >= 15
    for res in carried:
        assert "your answer for conv1.output_shape" in res.feedback, res.feedback
        assert "answers for" not in res.feedback, res.feedback
        assert res.misconception in (None, root.misconception), (res.key, res.misconception)
        assert "padded one side" not in res.feedback and "both mistakes" not in res.feedback


def test_credit_from_any_earlier_answer_it_depends_on(
    conv_key: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    r = check(conv_key, {"net": {"conv3.output_size": [6, 6], "fc.in": 1152}}, judge, tmp_path)
    assert r["fc.in"].verdict == "carried_forward", r["fc.in"].feedback
    assert "conv3.output_size" in r["fc.in"].feedback
    # an earlier wrong answer that fc.in does not depend on is not named
    r = check(
        conv_key,
        {"net": {"conv1.params": 99, "conv3.output_shape": [32, 6, 6], "fc.in": 1152}},
        judge,
        tmp_path,
    )
    assert r["fc.in"].verdict == "carried_forward"
    assert "conv3.output_shape" in r["fc.in"].feedback
    assert "conv1.params" not in r["fc.in"].feedback


# --------------------------------------------------------------------------- reading


def test_notations_the_tool_itself_prints(
    conv_key: AnswerKey, tied_viterbi: AnswerKey, judge: Judge, tmp_path: Path
) -> None:
    r = check(
        conv_key,
        {
            "net": {
                "conv1.output_shape": r"8 \times 28 \times 28",
                "pool1.output_shape": "8 × 14 × 14",
                "conv2.params": "1{,}168",
                "conv2.macs": "225,792",
                "conv3.params": r"4\,640",
                "conv3.output_shape": "(32, 7, 7)",
                "flat.output_shape": "1568",
            }
        },
        judge,
        tmp_path,
    )
    for k in (
        "conv1.output_shape",
        "pool1.output_shape",
        "conv2.params",
        "conv2.macs",
        "conv3.params",
        "conv3.output_shape",
        "flat.output_shape",
    ):
        assert r[k].verdict == "correct", (k, r[k].feedback)
    r = check(tied_viterbi, {"p": {"sequence": "<BOS> -> A -> B -> A"}}, judge, tmp_path)
    assert r["sequence"].verdict == "correct", r["sequence"].feedback
    r = check(tied_viterbi, {"p": {"sequence": "A → B → A"}}, judge, tmp_path)
    assert r["sequence"].verdict == "correct", r["sequence"].feedback


def test_scalar_shapes_text_booleans_and_expression_thousands(judge: Judge, tmp_path: Path) -> None:
    key = key_of(
        """
        title: t
        problems:
          - id: m
            kind: mlp
            given:
              input_shape: [n, 784]
              layers:
                - {type: Linear, name: fc1, in: 784, out: 10}
                - {type: CrossEntropyLoss, name: loss}
              num_classes: 10
          - id: bn
            kind: batchnorm
            given: {X: [[2, 2, 1, 1]], gamma: [1, 2, 3, 4], beta: [0, -1, 1, 0], eps: 0}
            ask: [defined]
        """
    )
    kp = key.problems["m"]
    typed = {a.key: a.type for a in kp.asked}
    scalar_shape = next(
        k for k, a in ((a.key, a) for a in kp.asked) if a.type == "shape" and a.value == []
    )
    expression = next(a for a in kp.asked if a.type == "expression" and a.symbols)
    assert typed
    for written in ("scalar", "()", "[]"):
        r = check(key, {"m": {scalar_shape: written}}, judge, tmp_path)
        assert r[scalar_shape].verdict == "correct", (written, r[scalar_shape].feedback)
    text = f"{expression.value}".replace("*", " ")
    r = check(key, {"m": {expression.key: text}}, judge, tmp_path)
    assert r[expression.key].verdict == "correct", r[expression.key].feedback
    r = check(key, {"bn": {"defined": r"\text{false}"}}, judge, tmp_path)
    assert r["defined"].verdict == "correct", r["defined"].feedback


def test_expression_with_thousands_separators(judge: Judge, tmp_path: Path) -> None:
    key = key_of(
        """
        title: t
        problems:
          - id: m
            kind: mlp
            given:
              input_shape: [n, 784]
              layers:
                - {type: Linear, name: fc1, in: 784, out: 236}
                - {type: ReLU, name: relu}
                - {type: Linear, name: fc2, in: 236, out: 10}
              num_classes: 10
        """
    )
    kp = key.problems["m"]
    total = next(a for a in kp.asked if a.key == "params.total")
    assert total.value == 187630
    r = check(key, {"m": {"params.total": "187,630"}}, judge, tmp_path)
    assert r["params.total"].verdict == "correct", r["params.total"].feedback
    mem = next(a for a in kp.asked if a.key == "memory.params_bytes")
    assert mem.value == 750520
    r = check(key, {"m": {"memory.params_bytes": "750,520"}}, judge, tmp_path)
    assert r["memory.params_bytes"].verdict == "correct", r["memory.params_bytes"].feedback


# --------------------------------------------------------------------------- feedback


def test_why_not_reaches_the_student(judge: Judge, tmp_path: Path) -> None:
    key = AnswerKey.load("problems/discussion-normalization.yaml")
    report = key.check(read_answers(write(tmp_path, {"l2-large-lambda": {"answer": "c"}})), judge)
    [r] = [r for r in report.results if r.problem == "l2-large-lambda"]
    assert r.verdict == "incorrect"
    assert "regularization shrinks weights" in r.feedback


def test_terse_feedback_gets_the_reason(judge: Judge, tmp_path: Path) -> None:
    key = AnswerKey.load("tests/data/normalization-worksheet.yaml")
    r = results(
        key.check(read_answers(write(tmp_path, {"batchnorm-batch1": {"defined": True}})), judge)
    )
    fb = r["defined"].feedback
    assert fb.startswith("Expected false.") and len(fb) > len("Expected false.") + 20
    assert "variance" in fb


# --------------------------------------------------------------------------- shapes


def test_shapes_are_not_silently_squeezed(judge: Judge, tmp_path: Path) -> None:
    key = AnswerKey.load("tests/data/normalization-worksheet.yaml")

    def verdict(pid: str, k: str, value: Any) -> Any:
        report = key.check(read_answers(write(tmp_path, {pid: {k: value}})), judge)
        return next(r for r in report.results if (r.problem, r.key) == (pid, k))

    # var of layernorm is the vector [4, 9, 3]; the kind declares a column acceptable
    column = verdict("layernorm", "var", [[4], [9], [3]])
    assert column.verdict == "correct" and "column" in column.feedback
    for odd in ([[4, 9, 3]], [[[4, 9, 3]]]):
        res = verdict("layernorm", "var", odd)
        assert res.verdict == "incorrect" and "shape" in res.feedback, res.feedback
    tensor = verdict(
        "layernorm",
        "normalized",
        [
            [
                [
                    [-1, -1, 1, 1],
                    [-1, "-1/3", "-1/3", "5/3"],
                    ["-sqrt(3)/3", "-sqrt(3)/3", "-sqrt(3)/3", "sqrt(3)"],
                ]
            ]
        ],
    )
    assert tensor.verdict == "incorrect" and "shape" in tensor.feedback


def test_a_list_is_not_an_integer(conv_key: AnswerKey, judge: Judge, tmp_path: Path) -> None:
    r = check(conv_key, {"net": {"fc.in": [1568]}}, judge, tmp_path)
    assert r["fc.in"].verdict == "incorrect"


# --------------------------------------------------------------------------- variants


def test_no_variant_graded_against_variants_is_a_status(tmp_path: Path) -> None:
    from solver import grade

    src = Path("tests/data/normalization-worksheet.yaml")
    variants = tmp_path / "variants"
    variants.mkdir()
    (variants / f"{src.stem}-1.yaml").write_text(src.read_text())
    subs = tmp_path / "subs"
    subs.mkdir()
    write(subs, {"layernorm": {"mean": [6, 3, 2]}}, "ann.yaml")
    write(subs, {"layernorm": {"mean": [6, 3, 2]}}, "ben.yaml", variant=1)
    outcomes = grade.grade(src, grade.submissions(subs), variants_dir=variants)
    out = tmp_path / "grades.csv"
    grade.write_csv(outcomes, AnswerKey.load(src), out)
    rows = {r["file"]: r for r in csv.DictReader(out.open())}
    ann = rows[str(subs / "ann.yaml")]
    assert ann["status"] != "ok" and "variant" in ann["status"]
    assert rows[str(subs / "ben.yaml")]["status"] == "ok"


def test_check_takes_a_variant_file_directly(cli_run: Any, tmp_path: Path) -> None:
    from solver import variants

    variants.write("problems/lecture-normalization.yaml", 2, 7, tmp_path / "v")
    problems = tmp_path / "v" / "lecture-normalization-2.yaml"
    answers = tmp_path / "v" / "lecture-normalization-2-answers.yaml"
    code, _, err = cli_run("check", str(problems), str(answers))
    assert code == 1, err  # blank answers: missing, but checked against this very file
    assert "variants folder" not in err


def test_argmax_ties_are_alternatives(judge: Judge, tmp_path: Path) -> None:
    given = {"logits": [[1, 2, 2], [0, 0, 1]], "labels": [0, 2]}
    key = AnswerKey(load_text(problem_file("softmax_ce", given), "t.yaml"))
    s = key.problems["p"].solution
    assert s["predicted"] == [1, 2]
    assert any("tie" in step.text.lower() for step in s.steps)
    for pred in ([1, 2], [2, 2]):
        r = check(key, {"p": {"predicted": pred}}, judge, tmp_path)
        assert r["predicted"].verdict == "correct", (pred, r["predicted"].feedback)
    r = check(key, {"p": {"predicted": [0, 2]}}, judge, tmp_path)
    assert r["predicted"].verdict == "partial"


def test_numeric_viterbi_agrees_where_float_sums_of_a_tie_differ() -> None:
    """A chain whose tied best sequences sum the same logs in different orders: in float64
    their log-scores differ in the last bits (the numeric path used to take the other token
    at T = 160, and `verify` disagreed); within the tie width they tie, and the first wins."""
    P = [[0, "1/2", "1/4", "1/4"], [0, "1/3", "1/3", "1/3"], [0, "3/10", "3/10", "2/5"]]
    P.append([0, "1/2", "1/4", "1/4"])
    given = {"tokens": ["<BOS>", "A", "B", "C"], "P": P, "T": 160}

    def solved(method: str) -> Any:
        text = problem_file("viterbi", {**given, "method": method})
        return solve(load_text(text, f"{method}.yaml").problems[0])

    assert solved("numeric")["sequence"] == solved("exact")["sequence"]
