"""Printing sums over e (a network's gradients): the fast Unicode printer writes exactly what
sympy's generic printer writes, sums over e come out in ascending powers of e, nothing is
evaluated to order the terms, and every format reads back to the same value."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import exact
from solver.exact import _FastUnicodePrinter, _UnicodePrinter
from solver.parse import parse_expression

E = sympy.E


def _rational(q: Fraction) -> sympy.Rational:
    return sympy.Rational(q.numerator, q.denominator)


coefficients = st.fractions(min_value=-12, max_value=12, max_denominator=6).filter(bool)
exponents = st.one_of(st.integers(-3, 40), st.sampled_from([Fraction(1, 2), Fraction(-3, 2)]))


@st.composite
def e_terms(draw: Any) -> sympy.Expr:
    """c, e^q or c·e^q."""
    q = draw(exponents)
    c = _rational(draw(coefficients))
    power = sympy.exp(_rational(Fraction(q))) if q != 1 else E
    shape = draw(st.sampled_from(["c", "e", "ce", "ce_unevaluated"]))
    if shape == "c":
        return c
    if shape == "e":
        return power
    if shape == "ce_unevaluated" and c != 1 and c.is_Integer:
        return sympy.Mul(c, power, evaluate=False)  # how the graph writes a numerator's term
    return c * power


@st.composite
def sums_over_e(draw: Any) -> sympy.Expr:
    terms = draw(st.lists(e_terms(), min_size=2, max_size=6))
    if draw(st.booleans()):
        return sympy.Add(*terms)
    return sympy.Add(*[t for t in terms if t != 0], evaluate=False)


@st.composite
def fractions_over_e(draw: Any) -> sympy.Expr:
    """c·N/D^k as sympy builds it, or as the graph builds it (unevaluated)."""
    num = draw(st.one_of(sums_over_e(), e_terms()))
    den = sympy.Add(1, *draw(st.lists(e_terms(), min_size=1, max_size=4)))
    if den == 0 or not den.is_Add:
        den = 1 + E
    k = draw(st.integers(1, 3))
    c = _rational(draw(coefficients))
    if draw(st.booleans()) or not num.is_Add:
        return c * num / den**k
    return sympy.Mul(c, num, sympy.Pow(den, -k, evaluate=False), evaluate=False)


@st.composite
def values_over_e(draw: Any) -> sympy.Expr:
    parts = draw(st.lists(st.one_of(fractions_over_e(), sums_over_e(), e_terms()), max_size=3))
    parts.append(draw(fractions_over_e()))
    if draw(st.booleans()):
        return sympy.Add(*parts)
    return sympy.Add(*[p for p in parts if p != 0], evaluate=False)


def same_value(x: Any, y: Any) -> bool:
    d = (exact.to_sympy(x) - exact.to_sympy(y)).evalf(60)
    scale = abs(exact.to_sympy(y).evalf(60)) + 1
    return abs(d) < sympy.Float(10) ** -45 * scale


@settings(max_examples=150, deadline=None)
@given(values_over_e())
def test_the_fast_printer_writes_what_the_generic_printer_writes(x: sympy.Expr) -> None:
    assert _FastUnicodePrinter().doprint(x) == _UnicodePrinter().doprint(x)


@settings(max_examples=60, deadline=None)
@given(values_over_e())
def test_every_format_reads_back_to_the_same_value(x: sympy.Expr) -> None:
    assert same_value(parse_expression(exact.unicode(x)), x)
    assert same_value(parse_expression(exact.fmt(x)), x)
    latex = exact.latex(x)  # the same order of terms as the other two formats
    assert latex.count(r"\frac") >= exact.unicode(x).count("/") - exact.unicode(x).count("/(")


def test_a_sum_over_e_is_written_in_ascending_powers_of_e() -> None:
    x = 1 - sympy.exp(9) + 3 * sympy.exp(6) + sympy.exp(15)
    assert exact.unicode(x) == "1 + 3e⁶ - e⁹ + e¹⁵"
    assert exact.fmt(x) == "1 + 3*exp(6) - exp(9) + exp(15)"
    assert exact.latex(x) == "1 + 3 e^{6} - e^{9} + e^{15}"
    over = sympy.Pow(1 + sympy.exp(6), -1, evaluate=False)
    fraction = sympy.Mul(sympy.Rational(1, 3), -4 * sympy.exp(6) - 2, over, evaluate=False)
    assert exact.unicode(fraction) == "(-2 - 4e⁶)/(3(1 + e⁶))"
    # the textbook forms are unchanged
    assert exact.unicode(E / (1 + E)) == "e/(1 + e)"
    assert exact.unicode((sympy.exp(2) - 1) / (sympy.exp(2) + 1)) == "(-1 + e²)/(1 + e²)"


def test_ordering_a_sum_over_e_evaluates_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """sympy's printers sorted each sum of numbers by evaluating every term (seconds for a
    network's gradients); a sum over e is ordered by its powers of e alone. (The str and LaTeX
    printers still order a product's factors by sympy's sort keys, which evaluate each
    distinct factor once.)"""
    den = sympy.Add(1, *(sympy.exp(k) for k in range(50, 800, 50)))
    num = sympy.Add(*(k * sympy.exp(k) for k in range(-7, 8) if k))
    x = sympy.Add(num / den, -sympy.Rational(83, 80), 3 * sympy.exp(700) / (2 * den))

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a term was evaluated to order a sum over e")

    monkeypatch.setattr(sympy.Expr, "__complex__", refuse)
    monkeypatch.setattr(sympy.Expr, "evalf", refuse)
    text = exact.unicode(x)
    assert text.index("e⁻⁷") < text.index("e⁷") < text.index("e⁵⁰") < text.index("e⁷⁵⁰")


def test_other_sums_of_numbers_keep_sympys_order() -> None:
    assert exact.unicode(sympy.log(2) / 3 - 3 + sympy.log(1 + sympy.exp(6)) / 3) == (
        "-3 + log(2)/3 + log(1 + e⁶)/3"
    )
    assert exact.unicode(1 - sympy.sqrt(2)) == "1 - √2"
    x = sympy.Symbol("x")
    assert exact.unicode(x**2 + 3 * x + 1) == "x² + 3x + 1"
