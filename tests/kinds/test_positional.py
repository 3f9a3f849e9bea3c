"""pos_encoding: the sinusoidal table, the dot product of two encodings and one attention
score, against values computed here by hand with math.sin and math.cos (and by torch's
standard table where torch is installed); its named mistakes; equivalent forms accepted."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import sympy

import solver
from solver import exact, kinds
from solver.compare import Judge

from ..conftest import problem_file, solve_yaml
from ..test_check_trust import check, key_of

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "positional-encodings.yaml"


def pe_by_hand(pos: int, d: int, base: float = 10000.0) -> list[float]:
    """PE(pos, 2i) = sin(pos/base^(2i/d)), PE(pos, 2i+1) = cos(pos/base^(2i/d))."""
    out = []
    for j in range(d):
        angle = pos / base ** (2 * (j // 2) / d)
        out.append(math.sin(angle) if j % 2 == 0 else math.cos(angle))
    return out


def floats(v: Any) -> Any:
    return exact.to_float(v)


def solved(given: dict, **extra: Any) -> solver.Solution:
    return solve_yaml(problem_file("pos_encoding", given, **extra))["p"]


GIVEN = {
    "d_model": 4,
    "positions": [0, 1, 2, 5],
    "pair": [5, 2],
    "embeddings": [[1, 0, -1, 0], [0, 2, 0, -1], [1, -1, 1, 0], [0, 0, 2, 1]],
    "W_Q": [[1, 0], [0, 1], [1, 0], [0, -1]],
    "W_K": [[0, 1], [1, 0], [0, 1], [1, 1]],
}


def test_table_and_frequencies_match_the_formula_by_hand() -> None:
    s = solved(GIVEN)
    assert s.answers["frequencies"].value == [1, sympy.Rational(1, 100)]
    for row, pos in zip(floats(s.answers["PE"].value), GIVEN["positions"], strict=True):
        assert row == pytest.approx(pe_by_hand(pos, 4), abs=1e-15)
    pe = s.answers["PE"].value
    assert pe[0] == [0, 1, 0, 1]  # position 0: sin 0 = 0, cos 0 = 1, exactly
    assert exact.to_sympy(pe[1][0]) == sympy.sin(1)  # stays sin(1)
    assert exact.to_sympy(pe[1][3]) == sympy.cos(sympy.Rational(1, 100))


def test_d8_frequencies_are_powers_of_a_tenth() -> None:
    s = solved({"d_model": 8, "positions": [3]})
    assert s.answers["frequencies"].value == [
        1,
        sympy.Rational(1, 10),
        sympy.Rational(1, 100),
        sympy.Rational(1, 1000),
    ]
    assert floats(s.answers["PE"].value)[0] == pytest.approx(pe_by_hand(3, 8), abs=1e-15)


def test_dot_is_a_sum_of_cosines_of_the_offset() -> None:
    s = solved(GIVEN)
    dot = s.answers["dot"].value
    assert exact.to_sympy(dot) == sympy.cos(3) + sympy.cos(sympy.Rational(3, 100))
    by_hand = sum(a * b for a, b in zip(pe_by_hand(5, 4), pe_by_hand(2, 4), strict=True))
    assert floats(dot) == pytest.approx(by_hand, abs=1e-14)
    # the same offset elsewhere gives the same value
    other = solved({"d_model": 4, "positions": [7, 10]}).answers["dot"].value
    assert exact.to_sympy(other) == exact.to_sympy(dot)


def test_inputs_and_score_match_a_computation_by_hand() -> None:
    s = solved(GIVEN)
    X = [
        [e + p for e, p in zip(er, pe_by_hand(pos, 4), strict=True)]
        for er, pos in zip(GIVEN["embeddings"], GIVEN["positions"], strict=True)
    ]
    assert floats(s.answers["X"].value) == [pytest.approx(r, abs=1e-14) for r in X]
    x5, x2 = X[3], X[2]
    q = [sum(x5[i] * GIVEN["W_Q"][i][j] for i in range(4)) for j in range(2)]
    k = [sum(x2[i] * GIVEN["W_K"][i][j] for i in range(4)) for j in range(2)]
    score = (q[0] * k[0] + q[1] * k[1]) / math.sqrt(2)
    assert floats(s.answers["score"].value) == pytest.approx(score, abs=1e-14)


def test_without_projections_the_score_is_the_scaled_dot_of_the_inputs() -> None:
    g = {k: GIVEN[k] for k in ("d_model", "positions", "pair", "embeddings")}
    s = solved(g)
    X = floats(s.answers["X"].value)
    score = sum(a * b for a, b in zip(X[3], X[2], strict=True)) / 2  # √4
    assert floats(s.answers["score"].value) == pytest.approx(score, abs=1e-14)


MISTAKES = {
    "swapped": lambda pos, j, d: (math.cos if j % 2 == 0 else math.sin)(
        pos / 10000 ** (2 * (j // 2) / d)
    ),
    "i/d": lambda pos, j, d: (math.sin if j % 2 == 0 else math.cos)(pos / 10000 ** ((j // 2) / d)),
    "j/d": lambda pos, j, d: (math.sin if j % 2 == 0 else math.cos)(pos / 10000 ** (j / d)),
    "degrees": lambda pos, j, d: (math.sin if j % 2 == 0 else math.cos)(
        math.radians(pos / 10000 ** (2 * (j // 2) / d))
    ),
}
OPTIONS = {
    "swapped": {"swapped": True},
    "i/d": {"exponent": "i/d"},
    "j/d": {"exponent": "j/d"},
    "degrees": {"degrees": True},
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_gives_the_table_a_student_would_write(mistake: str) -> None:
    k = kinds.get("pos_encoding")
    g = k.Given.model_validate({"d_model": 8, "positions": [1, 3]})
    s = k.new_solution(record_steps=False)
    k.solve(g, s, **OPTIONS[mistake])
    wrong = [[MISTAKES[mistake](pos, j, 8) for j in range(8)] for pos in (1, 3)]
    assert floats(s.answers["PE"].value) == [pytest.approx(r, abs=1e-14) for r in wrong]
    assert OPTIONS[mistake] in k.misconceptions.values()


def _answers_of(s: solver.Solution, keys: list[str]) -> dict[str, Any]:
    return {k: exact.fmt(s.answers[k].value) for k in keys}


def test_checker_names_the_swapped_table_and_the_unscaled_score(
    judge: Judge, tmp_path: Path
) -> None:
    key = key_of(problem_file("pos_encoding", GIVEN))
    k = kinds.get("pos_encoding")
    g = k.Given.model_validate(GIVEN)
    wrong = k.new_solution(record_steps=False)
    k.solve(g, wrong, swapped=True, scaled=False)
    r = check(key, {"p": _answers_of(wrong, ["PE", "score"])}, judge, tmp_path)
    assert r["PE"].verdict == "incorrect" and "swapped" in (r["PE"].misconception or "")
    # the score follows from the swapped table: carried forward, or the √d_k named
    assert r["score"].verdict != "correct"


@pytest.mark.parametrize(("mistake", "word"), [("i/d", "i/d"), ("degrees", "degrees")])
def test_checker_names_the_exponent_and_degree_mistakes(
    judge: Judge, tmp_path: Path, mistake: str, word: str
) -> None:
    key = key_of(problem_file("pos_encoding", {"d_model": 4, "positions": [1, 2]}))
    wrong = [[float(f"{MISTAKES[mistake](pos, j, 4):.4g}") for j in range(4)] for pos in (1, 2)]
    r = check(key, {"p": {"PE": wrong}}, judge, tmp_path)
    assert r["PE"].verdict != "correct"
    assert word in (r["PE"].misconception or ""), r["PE"].feedback


def test_checker_accepts_equivalent_forms(judge: Judge, tmp_path: Path) -> None:
    key = key_of(problem_file("pos_encoding", {"d_model": 4, "positions": [0, 1], "pair": [0, 1]}))
    answers = {
        "frequencies": [1, "1/100"],
        "PE": [
            ["sin(0)", "cos(0)", 0, 1],
            [0.8415, "cos(1)", r"\sin(0.01)", 1],  # cos(1/100) ≈ 0.99995 written as 1
        ],
        "dot": "cos(1) + cos(1/100)",
    }
    r = check(key, {"p": answers}, judge, tmp_path)
    assert all(v.verdict == "correct" for v in r.values()), {k: v.feedback for k, v in r.items()}
    r = check(
        key,
        {"p": {"dot": "sin(0)sin(1) + cos(0)cos(1) + sin(0)sin(0.01) + cos(0)cos(0.01)"}},
        judge,
        tmp_path,
    )
    assert r["dot"].verdict == "correct"
    r = check(key, {"p": {"dot": 1.5403}}, judge, tmp_path)
    assert r["dot"].verdict == "correct"


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"d_model": 5, "positions": [0]}, "d_model"),
        ({"d_model": 4, "positions": [0, 1], "pair": [0, 3]}, "pair"),
        ({"d_model": 4, "positions": [0, 1], "embeddings": [[1, 2, 3, 4]]}, "embeddings"),
        ({"d_model": 4, "positions": [0, 1], "W_Q": [[1], [0], [0], [0]]}, "W_Q"),
        ({"d_model": 4, "positions": [-1]}, "positions"),
    ],
)
def test_bad_givens_are_one_sentence_naming_the_field(
    cli_run: Any, tmp_path: Path, given: dict, field: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(problem_file("pos_encoding", given))
    code, _out, err = cli_run("solve", str(path))
    assert code == 2
    assert field in err and "problem 'p'" in err and "Traceback" not in err


def test_shipped_problems_solve_and_their_steps_read_as_a_worked_solution() -> None:
    problems = solver.load(SHIPPED).problems
    ids = [p.id for p in problems if p.kind == "pos_encoding"]
    assert len(ids) >= 3
    s = solver.solve(solver.load(SHIPPED).get("pe-relative"))
    text = " ".join(st.text for st in s.steps)
    assert "cos(a − b)" in text and "offset" in text


torch = pytest.importorskip("torch")


def test_torch_standard_table_agrees_with_every_answer() -> None:
    from solver.verify.crosscheck import CHECKS, compare, load_all

    load_all()
    for p in [
        *solver.load(SHIPPED).problems,
        solver.load_text(problem_file("pos_encoding", GIVEN), "t.yaml").problems[0],
    ]:
        if p.kind != "pos_encoding":
            continue
        s = solver.solve(p)
        results = compare(s, CHECKS["pos_encoding"](p.given, s, "cpu"))
        assert results and all(r.verdict == "agree" for r in results), [
            (r.key, r.verdict) for r in results if r.verdict != "agree"
        ]
