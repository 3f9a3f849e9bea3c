"""The safe parser: every notation students write, exact values, and faults with positions."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from solver import exact
from solver.parse import (
    ParseError,
    WrittenDecimal,
    choice_index,
    parse_answer,
    parse_expression,
    parse_value,
    read_bigo,
    read_boolean,
    read_choice,
    read_tokens,
    tokenize,
)

x, y = exact.symbol("x"), exact.symbol("y")
eta, gamma = exact.symbol("eta"), exact.symbol("gamma")
T, B, N = exact.symbol("T"), exact.symbol("B"), exact.symbol("N")
SQRT3 = exact.sqrt(3)


# --------------------------------------------------------------------------- plain expressions


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1/3", Fraction(1, 3)),
        ("0.1", Fraction(1, 10)),
        ("-1-2*sqrt(3)/3", -1 - SQRT3 * Fraction(2, 3)),
        ("2sqrt(3)", SQRT3 * 2),
        ("sqrt(12)", SQRT3 * 2),
        ("2^10", 1024),
        ("2**-2", Fraction(1, 4)),
        ("3²", 9),
        ("√3·2", SQRT3 * 2),
        ("4 − 1", 3),
        ("(1+2)(3+4)", 21),
        ("1e-3", Fraction(1, 1000)),
        ("sqrt(1/3)", SQRT3 / 3),
    ],
)
def test_plain_expressions_are_exact(text: str, value: object) -> None:
    assert parse_answer(text) == value


def test_symbols_juxtaposition_and_functions() -> None:
    assert parse_answer("-2 eta gamma", {"eta", "gamma"}) == -2 * eta * gamma
    assert parse_answer("2x^2 + 3x", {"x"}) == 2 * x**2 + 3 * x
    assert parse_answer("exp(-x) + log(y, 2)", {"x", "y"}) == sympy.exp(-x) + sympy.log(y, 2)
    assert parse_answer("N log N", {"N"}) == N * sympy.log(N)


def test_long_chains_do_not_recurse() -> None:
    assert parse_answer("+".join(["1"] * 4000)) == 4000
    assert parse_answer("*".join(["2"] * 900)) == 2**900


# --------------------------------------------------------------------------- LaTeX


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r"\frac{2}{3}", Fraction(2, 3)),
        (r"\dfrac{1}{4}", Fraction(1, 4)),
        (r"\frac12", Fraction(1, 2)),
        (r"-1 - \frac{2\sqrt{3}}{3}", -1 - SQRT3 * Fraction(2, 3)),
        (r"\sqrt{12}", SQRT3 * 2),
        (r"\sqrt[3]{8}", 2),
        (r"3 \cdot 4", 12),
        (r"3 \times 4", 12),
        (r"\left(\frac{1}{2}\right)^{2}", Fraction(1, 4)),
        (r"$\frac{1}{2}$", Fraction(1, 2)),
        (r"2^{10}", 1024),
        (r"4\sqrt3", SQRT3 * 4),
        (r"\frac{1}{2}\,\cdot\,4", 2),
    ],
)
def test_latex_numbers(text: str, value: object) -> None:
    assert parse_answer(text) == value


def test_latex_symbols_greek_and_subscripts() -> None:
    assert parse_answer(r"-2\eta\gamma", {"eta", "gamma"}) == -2 * eta * gamma
    assert parse_answer(r"\frac{\gamma}{\eta}", {"eta", "gamma"}) == gamma / eta
    assert parse_answer(r"\pi") == sympy.pi
    assert parse_answer(r"\epsilon", {"eps"}) == exact.symbol("eps")
    assert parse_answer("ε", {"eps"}) == exact.symbol("eps")
    assert parse_answer(r"w_{1} + w_2", {"w1", "w2"}) == exact.symbol("w1") + exact.symbol("w2")
    assert parse_answer(r"\log N + \ln(N)", {"N"}) == 2 * sympy.log(N)
    assert parse_answer(r"e^{-x}", {"x"}) == sympy.exp(-x)
    assert parse_answer(r"\text{undefined}") is None


def test_latex_matrices() -> None:
    m = r"\begin{bmatrix} 1 & 2 \\ 3 & \frac{1}{2} \end{bmatrix}"
    assert parse_answer(m) == [[1, 2], [3, Fraction(1, 2)]]
    p = r"\left[\begin{pmatrix} -1 & \sqrt{3} \\ 0 & 4 \\ \end{pmatrix}\right]"
    assert parse_answer(p.replace(r"\left[", "").replace(r"\right]", "")) == [[-1, SQRT3], [0, 4]]
    assert parse_answer(r"\begin{array}{cc} 1 & 2 \end{array}") == [[1, 2]]


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        (r"\input{/etc/passwd}", r"\input is not allowed", 1),
        (r"\frac{1}", "ends too early", 9),
        (r"\begin{vmatrix} 1 \end{vmatrix}", "vmatrix", 1),
        (r"\begin{bmatrix} 1 & 2 \end{pmatrix}", "closed by", 23),
        (r"\begin{bmatrix} 1 & 2", "never closed", 1),
    ],
)
def test_latex_faults_name_their_position(text: str, reason: str, position: int) -> None:
    with pytest.raises(ParseError) as err:
        parse_answer(text)
    assert reason in err.value.reason
    assert err.value.position == position - 1


# --------------------------------------------------------------------------- matrices as one string


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("[[1, 2], [3, 4]]", [[1, 2], [3, 4]]),
        ("[1 2; 3 4]", [[1, 2], [3, 4]]),
        ("[1, 2; 3, 4]", [[1, 2], [3, 4]]),
        ("[1 -2 3]", [1, -2, 3]),
        ("[1 - 2]", [-1]),
        ("[1-2 3]", [-1, 3]),
        ("[sqrt(3) 1/2]", [SQRT3, Fraction(1, 2)]),
        ("[[1 2] [3 4]]", [[1, 2], [3, 4]]),
        ("[1; 2; 3]", [[1], [2], [3]]),
        ("[]", []),
    ],
)
def test_python_and_matlab_matrices(text: str, value: object) -> None:
    assert parse_answer(text) == value


def test_a_space_is_not_an_operator_between_numbers() -> None:
    with pytest.raises(ParseError) as err:
        parse_answer("[1, 2 3]")
    assert err.value.position == 6
    assert "operator" in err.value.reason


# --------------------------------------------------------------------------- written decimals


@pytest.mark.parametrize(
    ("text", "places", "sig"),
    [
        ("0.58", 2, 2),
        ("0.580", 3, 3),
        ("-0.0580", 4, 3),
        ("1.5", 1, 2),
        ("2.", 0, 1),
        (".5", 1, 1),
        ("5.8e-2", 3, 2),
        ("1.20e3", -1, 3),
    ],
)
def test_written_decimals_keep_places_and_figures(text: str, places: int, sig: int) -> None:
    v = parse_answer(text)
    assert isinstance(v, WrittenDecimal)
    assert (v.places, v.sig) == (places, sig)
    assert v == Fraction(text)


def test_scientific_notation_is_a_written_decimal() -> None:
    v = parse_answer(r"5.8 \times 10^{-2}")
    assert isinstance(v, WrittenDecimal) and v == Fraction(58, 1000)
    assert (v.places, v.sig) == (3, 2)
    assert parse_answer("5.8 * 10^-2") == v


def test_problem_files_get_plain_fractions() -> None:
    v = parse_expression("0.58")
    assert v == Fraction(29, 50) and not isinstance(v, WrittenDecimal)
    assert parse_value([1, "1/2", 0.25]) == [1, Fraction(1, 2), Fraction(1, 4)]


def test_undefined_entries() -> None:
    assert parse_answer("undefined") is None
    assert parse_answer("Not defined") is None
    assert parse_answer("0/0") is None
    assert parse_answer("[NaN, 1]") == [None, 1]
    with pytest.raises(ParseError, match="arithmetic"):
        parse_answer("undefined + 1")


# --------------------------------------------------------------------------- names


def test_names_are_limited_to_the_problems_symbols() -> None:
    with pytest.raises(ParseError) as err:
        parse_answer("eta + zeta", {"eta"})
    assert "unknown name 'zeta'" in err.value.reason and "eta" in err.value.reason
    assert err.value.position == 6


def test_names_in_other_spellings() -> None:
    assert parse_answer("t n^2", {"T", "N"}) == T * N**2
    assert parse_answer("TBN", {"T", "B", "N"}) == T * B * N
    assert parse_answer("TN^2", {"T", "N"}) == T * N**2  # the power binds to N alone
    assert parse_answer("TBNlog(BN)", {"T", "B", "N"}) == T * B * N * sympy.log(B * N)
    assert parse_answer("epsilon", {"eps"}) == exact.symbol("eps")
    assert parse_answer("w_1", {"w1"}) == exact.symbol("w1")


def test_case_folding_is_refused_when_ambiguous() -> None:
    assert parse_answer("n", {"n", "N"}) == exact.symbol("n")
    assert parse_answer("k", {"K"}) == exact.symbol("K")
    with pytest.raises(ParseError, match="unknown name 'k'"):
        parse_answer("k", {"K1", "K2"})
    with pytest.raises(ParseError, match="unknown name 'm'"):
        parse_answer("m", {"M1", "m1"})


# --------------------------------------------------------------------------- faults and limits


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("1 + ", "ends too early", 5),
        ("(1 + 2", "expected ')'", 7),
        ("2 ** ** 3", "unexpected '^'", 6),
        ("1 # 2", "unexpected character '#'", 3),
        ("sqrt(-4)", "not real", 1),
        ("1/0", "division by zero", 2),
        ("log(0)", "not a finite number", 1),
        ("2^1001", "larger than 1000", 2),
        ("foo(2)", "unknown function 'foo'", 1),
        ("sqrt", "needs an argument", 5),
        ("", "empty", 1),
    ],
)
def test_faults_have_a_reason_and_a_position(text: str, reason: str, position: int) -> None:
    with pytest.raises(ParseError) as err:
        parse_answer(text)
    assert reason in err.value.reason
    assert err.value.position == position - 1
    assert f"at position {position}" in str(err.value)


def test_limits_are_checked_before_work() -> None:
    with pytest.raises(ParseError, match="longer than"):
        parse_answer("1" * 20_000)
    with pytest.raises(ParseError, match="nested more than"):
        parse_answer("(" * 100 + "1" + ")" * 100)
    with pytest.raises(ParseError, match="decimal exponent"):
        parse_answer("1e999")
    with pytest.raises(ParseError, match="more than 64 bits"):
        parse_answer("sqrt(123456789012345678901234567891)")
    assert parse_answer("sqrt(10^40)") == 10**20  # a perfect square of any size is fine


def test_tokenize_marks_spaces() -> None:
    toks = tokenize("1 -2")
    assert [(t.text, t.space) for t in toks[:3]] == [("1", False), ("-", True), ("2", False)]


# --------------------------------------------------------------------------- other answer types


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (True, True),
        ("yes", True),
        ("True.", True),
        (" Y ", True),
        (1, True),
        (False, False),
        ("no", False),
        ("FALSE", False),
        (0, False),
        ("not defined", False),
    ],
)
def test_booleans(value: object, truth: bool) -> None:
    assert read_boolean(value) is truth


def test_boolean_nonsense_is_unreadable() -> None:
    with pytest.raises(ParseError):
        read_boolean("maybe")


def test_token_sequences() -> None:
    assert read_tokens("<BOS> the  green rectangle") == ["<BOS>", "the", "green", "rectangle"]
    assert read_tokens("[the, green, rectangle]") == ["the", "green", "rectangle"]
    assert read_tokens(["the", "green rectangle"]) == ["the", "green", "rectangle"]
    assert read_tokens("the red circle; a blue square", nested=True) == [
        ["the", "red", "circle"],
        ["a", "blue", "square"],
    ]
    assert read_tokens([["a", "b"], "c d"], nested=True) == [["a", "b"], ["c", "d"]]
    assert read_tokens("[[a, b], [c, d]]", nested=True) == [["a", "b"], ["c", "d"]]


OPTIONS = [("a", "theta = 0"), ("b", "theta = 1"), ("c", "theta = 1e6"), ("d", "theta*")]


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("a", 0),
        ("(b)", 1),
        ("B)", 1),
        ("c.", 2),
        ("option d", 3),
        ("Theta = 0", 0),
        ("theta=1e6", 2),
        ("(a) theta = 0", 0),
        ("e", None),
        ("(a) theta = 1", None),
    ],
)
def test_choice_by_letter_or_text(text: str, index: int | None) -> None:
    assert choice_index(text, OPTIONS) == index


def test_choices_many_and_unknown() -> None:
    assert read_choice("a, c", OPTIONS) == {0, 2}
    assert read_choice(["b", "d"], OPTIONS) == {1, 3}
    assert read_choice("z", OPTIONS) == {"z"}
    assert read_choice("Softmax ", []) == {"softmax"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("O(T N^2)", T * N**2),
        (r"\mathcal{O}(TN^2)", T * N**2),
        (r"O\left(T N^{2}\right)", T * N**2),
        ("O(TBN log(BN))", T * B * N * sympy.log(B * N)),
        ("T*N**2", T * N**2),
        ("Θ(TN)", T * N),
        ("O(1)", sympy.Integer(1)),
    ],
)
def test_big_o(text: str, value: object) -> None:
    assert read_bigo(text, {"T", "B", "N"}) == value


def test_big_o_fault_is_located_in_the_whole_text() -> None:
    with pytest.raises(ParseError) as err:
        read_bigo("O(T N^)", {"T", "N"})
    assert err.value.text == "O(T N^)" and err.value.position == 6
