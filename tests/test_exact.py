"""Exact scalars: Surd arithmetic agrees with sympy, floats round correctly, strings parse back."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import exact
from solver.exact import Surd

fractions = st.fractions(min_value=-50, max_value=50, max_denominator=30)
radicands = st.sampled_from([2, 3, 5, 6, 7, 10, 14, 15, 21])


@st.composite
def surds(draw):
    b = draw(fractions.filter(lambda q: q != 0))
    return exact.surd(draw(fractions), b, draw(radicands))


def S(x):
    return exact.to_sympy(x)


def same(a, b) -> bool:
    """Equal as real numbers: sympy rationalizes the denominators and expands."""
    return sympy.expand(sympy.radsimp(a - b)) == 0


@settings(max_examples=100, deadline=None)
@given(x=surds(), y=st.one_of(surds(), fractions))
def test_surd_arithmetic_agrees_with_sympy(x, y):
    assert same(S(x + y), S(x) + S(y))
    assert same(S(x - y), S(x) - S(y))
    assert same(S(x * y), S(x) * S(y))
    if y != 0:
        assert same(S(x / y), S(x) / S(y))
    assert same(S(y / x), S(y) / S(x))


@settings(max_examples=200, deadline=None)
@given(x=surds())
def test_surd_sign_and_float_are_exact(x):
    mpmath.mp.dps = 60
    value = mpmath.mpf(x.a.numerator) / x.a.denominator + (
        mpmath.mpf(x.b.numerator) / x.b.denominator
    ) * mpmath.sqrt(x.r)
    assert float(x) == float(value)  # correctly rounded
    assert x.sign() == (1 if value > 0 else -1)


def test_float_survives_catastrophic_cancellation():
    x = Surd(Fraction(1732050807568877, 10**15), -1, 3)  # 1.732050807568877 − √3
    mpmath.mp.dps = 60
    assert float(x) == float(mpmath.mpf(1732050807568877) / 10**15 - mpmath.sqrt(3))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (Fraction(4), 2),
        (Fraction(1, 4), Fraction(1, 2)),
        (Fraction(3), Surd(0, 1, 3)),
        (Fraction(12), Surd(0, 2, 3)),
        (Fraction(2, 3), Surd(0, Fraction(1, 3), 6)),
        (Fraction(119, 100), Surd(0, Fraction(1, 10), 119)),
        (Fraction(0), 0),
    ],
)
def test_sqrt_extracts_squares(q, expected):
    assert exact.sqrt(q) == expected


def test_sqrt_of_large_rational_is_still_simplified():
    n = (2**61 - 1) ** 2 * 3  # a square of a large prime times 3
    assert exact.sqrt(Fraction(n)) == Surd(0, 2**61 - 1, 3)


@settings(max_examples=200, deadline=None)
@given(x=st.one_of(surds(), fractions))
def test_fmt_is_read_back_by_sympy(x):
    assert same(sympy.sympify(exact.fmt(x)), S(x))


def test_formats_of_the_worksheet_value():
    x = Surd(-1, Fraction(-2, 3), 3)
    assert exact.fmt(x) == "-1 - 2*sqrt(3)/3"
    assert exact.unicode(x) == "-1 - 2√3/3"
    assert exact.latex(x) == r"-1 - \frac{2 \sqrt{3}}{3}"
    assert exact.latex(Fraction(-5, 3)) == r"-\frac{5}{3}"
    assert exact.unicode(exact.symbol("eta") * exact.symbol("gamma")) == "η·γ"


def test_from_sympy_returns_the_cheapest_form():
    assert exact.from_sympy(sympy.Rational(6, 4)) == Fraction(3, 2)
    assert exact.from_sympy(1 + 2 * sympy.sqrt(12)) == Surd(1, 4, 3)
    x = exact.symbol("x")
    assert exact.from_sympy(x + 1) == x + 1


def test_mixed_radicands_fall_back_to_sympy():
    total = Surd(0, 1, 2) + Surd(0, 1, 3)
    assert isinstance(total, sympy.Expr)
    assert sympy.simplify(total - sympy.sqrt(2) - sympy.sqrt(3)) == 0


def test_shape_names_the_ragged_entry():
    with pytest.raises(exact.RaggedError) as err:
        exact.shape([[1, 2], [3, 4], [5]])
    assert err.value.path == (2,)
    assert exact.shape([[[1], [2]], [[3], [4]]]) == (2, 2, 1)


def test_symbols_are_one_object_per_name():
    assert exact.symbol("eta") is exact.symbol("eta")
    assert exact.symbol("eta").is_real


def test_to_sympy_never_parses_text():
    """Text must go through solver.parse: handing it to sympify would evaluate it."""
    with pytest.raises(TypeError):
        exact.to_sympy("__import__('os').getcwd()")
    assert exact.unicode(None) == "undefined" and exact.latex(None) == r"\text{undefined}"
