"""Reading and comparing by answer type, on small answers built here (no kind needed)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import sympy

from solver import exact
from solver.compare import (
    Judge,
    Tolerance,
    Unreadable,
    choice_options,
    compare,
    read,
    rounded_to_places,
    shape_text,
)
from solver.parse import WrittenDecimal
from solver.solution import TYPES, Answer

TOL = Tolerance()
SQRT3 = exact.sqrt(3)
n, eta, gamma = exact.symbol("n"), exact.symbol("eta"), exact.symbol("gamma")
T, B, N = exact.symbol("T"), exact.symbol("B"), exact.symbol("N")
SYMBOLS = frozenset({"n", "eta", "gamma", "T", "B", "N", "w1", "w2"})


def check(answer: Answer, raw: Any, judge: Judge, tol: Tolerance = TOL) -> tuple[Fraction, str]:
    m = compare(answer, read(answer, raw, SYMBOLS), judge, tol)
    return m.score, " ".join(m.feedback)


def real(value: Any) -> Answer:
    return Answer("x", value, "real")


# --------------------------------------------------------------------------- reals and rounding


@pytest.mark.parametrize(
    ("value", "raw", "ok"),
    [
        (Fraction(7, 12), "7/12", True),
        (Fraction(7, 12), 0.58, True),  # rounded, within 1 %
        (Fraction(2, 3), 0.66, True),  # truncated
        (Fraction(2, 3), 0.67, True),
        (Fraction(2, 3), 0.6, False),  # one significant figure
        (Fraction(14, 9), 1.55, True),
        (Fraction(14, 9), "1.5", True),  # truncated to 1 place, 2 significant figures
        (Fraction(14, 9), "1.6", True),  # rounded
        (Fraction(14, 9), "1.4", False),
        (SQRT3 / 3, -0.577, False),
        (SQRT3 / 3, "0.577", True),
        (SQRT3 / 3, "sqrt(3)/3", True),
        (SQRT3 / 3, "1/sqrt(3)", True),
        (SQRT3 / 3, r"\frac{\sqrt{3}}{3}", True),
        (-1 - SQRT3 * Fraction(2, 3), "-2.15", True),
        (sympy.exp(-Fraction(3, 2)), 0.223, True),
        (sympy.exp(-Fraction(3, 2)), "exp(-1.5)", True),
        (sympy.exp(-Fraction(3, 2)), "exp(-3/2)", True),
        (sympy.exp(-Fraction(3, 2)), "exp(-1)", False),
        (0.2231301601484298, "exp(-3/2)", True),  # a float from a numeric path
        (0.2231301601484298, 0.2231, True),
        (Fraction(0), "1e-9", True),  # within atol
        (Fraction(0), "1e-7", False),
    ],
)
def test_real_rules(value: Any, raw: Any, ok: bool, judge: Judge) -> None:
    raw = WrittenDecimal.from_text(repr(raw)) if isinstance(raw, float) else raw
    score, feedback = check(real(value), raw, judge)
    assert (score == 1) is ok, feedback


def test_rounding_rule_without_tolerance(judge: Judge) -> None:
    exact_only = Tolerance(rtol=Fraction(0), atol=Fraction(0))
    for raw, ok in [
        ("0.58", True),
        ("0.583", True),
        ("0.5833", True),
        ("0.584", False),
        ("0.585", False),
        ("0.59", False),
        ("0.5", False),
    ]:
        score, _ = check(real(Fraction(7, 12)), raw, judge, exact_only)
        assert (score == 1) is ok, raw


def test_decimals_setting_requires_places(judge: Judge) -> None:
    three = Tolerance(rtol=Fraction(0), atol=Fraction(0), decimals=3)
    assert check(real(Fraction(2, 3)), "0.667", judge, three)[0] == 1
    assert check(real(Fraction(2, 3)), "0.67", judge, three)[0] == 0


def test_rounding_ties_accept_either_neighbour() -> None:
    from decimal import Decimal

    tol = Tolerance(rtol=Fraction(0), atol=Fraction(0))
    assert rounded_to_places(Decimal("0.125"), WrittenDecimal.from_text("0.12"), tol)
    assert rounded_to_places(Decimal("0.125"), WrittenDecimal.from_text("0.13"), tol)
    assert not rounded_to_places(Decimal("0.125"), WrittenDecimal.from_text("0.11"), tol)


def test_wrong_real_feedback_shows_the_exact_answer(judge: Judge) -> None:
    score, feedback = check(real(Fraction(2, 3)), "0.6", judge)
    assert score == 0
    assert "Expected 2/3 ≈ 0.6667, got 0.6" in feedback


def test_accepted_decimal_mentions_the_exact_value(judge: Judge) -> None:
    score, feedback = check(real(Fraction(7, 12)), "0.58", judge)
    assert score == 1 and "7/12" in feedback


# --------------------------------------------------------------------------- integers and shapes


def test_integers_are_exact(judge: Judge) -> None:
    a = Answer("count", 12345, "integer")
    assert check(a, 12345, judge)[0] == 1
    assert check(a, "12,345", judge)[0] == 1
    assert check(a, "12345.0", judge)[0] == 1
    assert check(a, 12346, judge)[0] == 0  # within 1 % but a count is exact


def test_symbolic_integer(judge: Judge) -> None:
    a = Answer("count", N**T, "integer")
    assert check(a, "N^T", judge)[0] == 1
    assert check(a, "N**T", judge)[0] == 1
    assert check(a, "T^N", judge)[0] == 0


@pytest.mark.parametrize("raw", [[4, 128], "[4, 128]", "(4, 128)", "4 x 128", "4×128", "4, 128"])
def test_shape_forms(raw: Any, judge: Judge) -> None:
    assert check(Answer("z1", [4, 128], "shape"), raw, judge)[0] == 1


def test_shape_with_symbolic_batch(judge: Judge) -> None:
    a = Answer("z1", [n, 128], "shape")
    assert check(a, ["n", 128], judge)[0] == 1
    assert check(a, "n x 128", judge)[0] == 1
    score, feedback = check(a, ["n", 256], judge)
    assert score == 0 and "Expected [n, 128], got [n, 256]" in feedback
    score, feedback = check(a, [4, 128, 1], judge)
    assert score == 0 and "3 sizes instead of 2" in feedback


def test_shape_text() -> None:
    assert shape_text("torch.Size([4, 128])") == "[4, 128]"
    assert shape_text("4x128") == "[4, 128]"
    assert shape_text("n × 128") == "[n, 128]"


# --------------------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("-2*eta*gamma", True),
        ("-2 η γ", True),
        (r"-2\eta\gamma", True),
        ("-(eta + eta) gamma", True),
        ("gamma*(-2)*eta", True),
        ("-2*eta*gamma + eta - eta", True),
        ("2*eta*gamma", False),
        ("-2*eta", False),
        ("-2", False),
    ],
)
def test_expressions_by_equivalence(raw: str, ok: bool, judge: Judge) -> None:
    score, feedback = check(Answer("lambda", -2 * eta * gamma, "expression"), raw, judge)
    assert (score == 1) is ok, feedback


def test_expression_equivalence_needs_the_sandbox(judge: Judge) -> None:
    a = Answer("s", (1 - eta) ** 2 / (1 + eta), "expression")
    assert check(a, "(1 - 2eta + eta^2)/(1 + eta)", judge)[0] == 1
    assert check(a, "(1 - 2eta + eta^2)/(1 - eta)", judge)[0] == 0
    b = Answer("s", sympy.exp(eta) * sympy.exp(gamma), "expression")
    assert check(b, "exp(eta + gamma)", judge)[0] == 1  # decided at random points
    c = Answer("s", sympy.log(eta * gamma), "expression")
    assert check(c, "log(eta) + log(gamma)", judge)[0] == 1  # symbols are positive quantities
    assert check(Answer("s", eta, "expression"), "sqrt(eta^2)", judge)[0] == 1
    assert check(c, "log(eta) - log(gamma)", judge)[0] == 0


def test_symbols_are_compared_by_name(judge: Judge) -> None:
    # a student's eta is the problem's eta even though it was made by another parse
    a = Answer("s", exact.symbol("eta") / 2, "expression")
    assert check(a, "eta/2", judge)[0] == 1
    assert check(a, "0.5 eta", judge)[0] == 1


# --------------------------------------------------------------------------- tensors


ROWS = [
    [-1, -3, 4, 4],
    [-1, Fraction(-5, 3), 0, Fraction(20, 3)],
    [-SQRT3 / 3, -1 - 2 * SQRT3 / 3, 1 - SQRT3, 4 * SQRT3],
]


def test_matrix_forms(judge: Judge) -> None:
    a = Answer("output", ROWS, "matrix")
    python = (
        "[[-1, -3, 4, 4], [-1, -5/3, 0, 20/3], [-sqrt(3)/3, -1-2*sqrt(3)/3, 1-sqrt(3), 4*sqrt(3)]]"
    )
    matlab = "[-1 -3 4 4; -1 -5/3 0 20/3; -0.577 -2.15 -0.732 6.93]"
    latex = (
        r"\begin{bmatrix} -1 & -3 & 4 & 4 \\ -1 & -\frac{5}{3} & 0 & \frac{20}{3} \\ "
        r"-\frac{\sqrt3}{3} & -1-\frac{2\sqrt{3}}{3} & 1-\sqrt{3} & 4\sqrt{3} \end{bmatrix}"
    )
    for raw in (python, matlab, latex):
        score, feedback = check(a, raw, judge)
        assert score == 1, (raw, feedback)


def test_matrix_partial_credit_names_entries(judge: Judge) -> None:
    a = Answer("output", ROWS, "matrix")
    raw = [[-1, -3, 4, 4], [-1, "5/3", 0, "20/3"], ["-sqrt(3)/3", -2.15, 1, "4 sqrt(3)"]]
    raw[2][1] = WrittenDecimal.from_text("-2.15")
    score, feedback = check(a, raw, judge)
    assert score == Fraction(10, 12)
    assert "2 of 12 entries are wrong" in feedback
    assert "row 2, column 2 is 5/3, should be -5/3" in feedback
    assert "row 3, column 3 is 1, should be 1 - √3 ≈ -0.7321" in feedback


def test_matrix_shape_first(judge: Judge) -> None:
    a = Answer("m", [[1, 2, 3, 4]] * 3, "matrix")
    score, feedback = check(a, [[1, 1, 1]] * 4, judge)
    assert score == 0 and feedback.startswith("Expected shape [3, 4], got [4, 3].")
    assert "transpose" not in feedback
    b = Answer("m", [[1, 2], [3, 4], [5, 6]], "matrix")
    score, feedback = check(b, [[1, 3, 5], [2, 4, 6]], judge)
    assert score == 0 and "Expected shape [3, 2], got [2, 3]" in feedback
    assert "transpose" in feedback


def test_vector_as_row_or_column(judge: Judge) -> None:
    """A row or a column stands for a vector only where the kind declares it may (issue 15);
    the feedback then says how the answer was read."""
    a = Answer("v", [6, 3, 2], "vector", meta={"lenient_shape": True})
    assert check(a, "[6; 3; 2]", judge)[0] == 1
    assert check(a, [[6, 3, 2]], judge)[0] == 1
    assert check(a, r"\begin{pmatrix} 6 \\ 3 \\ 2 \end{pmatrix}", judge)[0] == 1
    score, feedback = check(a, [[6], [3], [2]], judge)
    assert score == 1 and "[3, 1] column was read as a vector of shape [3]" in feedback
    assert check(a, ["6 3 2"], judge)[0] == 1  # YAML's reading of [6 3 2]
    column = Answer("v", [6, 3, 2], "vector", meta={"lenient_shape": "column"})
    assert check(column, [[6], [3], [2]], judge)[0] == 1
    assert check(column, [[6, 3, 2]], judge)[0] == 0
    strict = Answer("v", [6, 3, 2], "vector")
    assert check(strict, ["6 3 2"], judge)[0] == 1
    for odd in ([[6, 3, 2]], [[6], [3], [2]], [[[6, 3, 2]]], "[6; 3; 2]"):
        score, feedback = check(strict, odd, judge)
        assert score == 0 and "Expected shape [3]" in feedback, odd
    assert check(Answer("n", 2, "integer"), [2], judge)[0] == 0
    assert check(Answer("m", [[1, 2], [3, 4]], "matrix"), [[[[1, 2], [3, 4]]]], judge)[0] == 0
    assert check(Answer("m", [[1, 2], [3, 4]], "matrix"), ["1 2; 3 4"], judge)[0] == 1


def test_tensor_and_undefined_entries(judge: Judge) -> None:
    a = Answer("t", [[[1, None], [None, 2]]], "tensor")
    assert check(a, [[[1, "undefined"], ["nan", 2]]], judge)[0] == 1
    assert check(a, [[[1, None], [None, 2]]], judge)[0] == 1
    score, feedback = check(a, [[[1, 0], [None, 2]]], judge)
    assert score == Fraction(3, 4) and "entry (1, 1, 2) is 0, should be undefined" in feedback
    assert check(Answer("x", None, "real"), "not defined", judge)[0] == 1
    assert check(Answer("x", None, "real"), "0", judge)[0] == 0


def test_ragged_list_is_unreadable(judge: Judge) -> None:
    with pytest.raises(Unreadable, match="ragged"):
        read(Answer("m", [[1, 2], [3, 4]], "matrix"), [[1, 2], [3]], SYMBOLS)


def test_unreadable_entry_names_where(judge: Judge) -> None:
    with pytest.raises(Unreadable) as err:
        read(Answer("m", [[1, 2], [3, 4]], "matrix"), [[1, 2], [3, "4 +"]], SYMBOLS)
    assert "row 2, column 2" in str(err.value) and "position 4" in str(err.value)


def test_symbolic_matrix(judge: Judge) -> None:
    w1, w2 = exact.symbol("w1"), exact.symbol("w2")
    a = Answer("A", [[w1, w2, 0], [0, w1, w2]], "matrix")
    assert check(a, "[w1 w2 0; 0 w1 w2]", judge)[0] == 1
    assert check(a, [["w_1", "w_2", 0], [0, "w1", "w2"]], judge)[0] == 1
    assert check(a, "[w1 w2 0; 0 w2 w1]", judge)[0] == Fraction(4, 6)


# --------------------------------------------------------------------------- words


def test_sequences(judge: Judge) -> None:
    a = Answer("seq", ["<BOS>", "the", "green", "rectangle"], "sequence")
    for raw in (
        "the green rectangle",
        "<bos> The Green  Rectangle",
        ["the", "green", "rectangle"],
        "[<BOS>, the, green, rectangle]",
    ):
        assert check(a, raw, judge)[0] == 1, raw
    score, feedback = check(a, "the red circle", judge)
    assert score == 0 and "Expected “<BOS> the green rectangle”" in feedback


def test_list_of_sequences(judge: Judge) -> None:
    a = Answer("beams", [["the", "red", "circle"], ["a", "blue", "square"]], "sequence")
    assert check(a, ["the red circle", "a blue square"], judge)[0] == 1
    assert check(a, "the red circle; a blue square", judge)[0] == 1
    score, feedback = check(a, ["a blue square", "the red circle"], judge)
    assert score == 0 and "wrong order" in feedback
    score, feedback = check(a, ["the red circle", "a red square"], judge)
    assert score == Fraction(1, 2) and "Sequence 2 should be" in feedback


def test_choices(judge: Judge) -> None:
    a = Answer("pick", "b", "choice", meta={"options": ["theta = 0", "theta = 1", "theta = 1e6"]})
    for raw in ("b", "(B)", "b)", "theta = 1", "Theta=1", "(b) theta = 1"):
        assert check(a, raw, judge)[0] == 1, raw
    score, feedback = check(a, "a", judge)
    assert score == 0 and "(a) theta = 0 is not the answer" in feedback
    score, feedback = check(a, "e", judge)
    assert score == 0 and "not one of the options (a, b, c)" in feedback


def test_choice_value_forms() -> None:
    assert choice_options({"options": {"x": "first", "y": "second"}}) == [
        ("x", "first"),
        ("y", "second"),
    ]
    assert choice_options({"options": ["(a) zero", "(b) one"]}) == [("a", "zero"), ("b", "one")]


def test_choice_by_text_index_and_many(judge: Judge) -> None:
    options = {"options": ["0", "1", "1e6", "theta*"]}
    assert check(Answer("p", "theta*", "choice", meta=options), "d", judge)[0] == 1
    assert check(Answer("p", 2, "choice", meta=options), "c", judge)[0] == 1
    many = Answer("p", ["a", "c"], "choice", meta=options)
    assert check(many, "a, c", judge)[0] == 1
    assert check(many, ["c", "a"], judge)[0] == 1
    assert check(many, "a", judge)[0] == 0
    assert check(Answer("p", "softmax", "choice"), " SoftMax ", judge)[0] == 1  # no options


def test_booleans(judge: Judge) -> None:
    a = Answer("ok", False, "boolean")
    assert check(a, "no", judge)[0] == 1
    assert check(a, False, judge)[0] == 1
    assert check(a, "yes", judge)[0] == 0
    with pytest.raises(Unreadable):
        read(a, "perhaps", SYMBOLS)


@pytest.mark.parametrize(
    ("value", "raw", "ok"),
    [
        (T * N**2, "O(T N^2)", True),
        (T * N**2, "O(N^2 T)", True),
        (T * N**2, "O(3 T N^2 + T N + 7)", True),
        (T * N**2, r"\mathcal{O}(TN^2)", True),
        (T * N**2, "O(T N)", False),
        (T * N**2, "O(T^2 N^2)", False),
        (T * B * N * sympy.log(B * N), "O(TBN log(BN))", True),
        (T * B * N * sympy.log(B * N), "O(TBN (log B + log N))", True),
        (T * B * N * sympy.log(B * N), "O(TBN log_2(BN))" if False else "O(TBN log(BN, 2))", True),
        (T * B * N * sympy.log(B * N), "O(TBN)", False),
        (T * N + N**2, "O(N^2 + TN)", True),
        (T * N + N**2, "O(N^2)", False),
        (sympy.Integer(1), "O(1)", True),
        (2**T, "O(2^T)", True),
        (2**T, "O(3^T)", False),
    ],
)
def test_complexity_by_class(value: Any, raw: str, ok: bool, judge: Judge) -> None:
    score, feedback = check(Answer("time", value, "complexity"), raw, judge)
    assert (score == 1) is ok, feedback


def test_text(judge: Judge) -> None:
    a = Answer("note", "Softmax", "text")
    assert check(a, "  softmax ", judge)[0] == 1
    assert check(a, "sigmoid", judge)[0] == 0


def test_every_type_has_a_comparison(judge: Judge) -> None:
    samples = {
        "integer": 3,
        "real": Fraction(1, 2),
        "expression": eta,
        "vector": [1, 2],
        "matrix": [[1]],
        "tensor": [[[1]]],
        "shape": [n, 2],
        "sequence": ["a", "b"],
        "choice": "a",
        "boolean": True,
        "complexity": N,
        "text": "x",
    }
    assert set(samples) == set(TYPES)
    raws = {
        "integer": "3",
        "real": "0.5",
        "expression": "eta",
        "vector": "[1 2]",
        "matrix": "[[1]]",
        "tensor": [[[1]]],
        "shape": "n x 2",
        "sequence": "a b",
        "choice": "a",
        "boolean": "true",
        "complexity": "O(N)",
        "text": "X",
    }
    for typ, value in samples.items():
        assert check(Answer("k", value, typ), raws[typ], judge)[0] == 1, typ
