"""The graph's numbers, r + Σ c·atom with Fraction coefficients, against sympy: the fused dot
product of a matrix product and the written form of a value (an answer) are the values that
sympy computes from the same atoms."""

from __future__ import annotations

from fractions import Fraction
from functools import reduce
from typing import Any

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import exact
from solver.graph.scalar import Tx, _atom_float, _one_term, _ratio_float, dot, softmax_row, to_exact

E = sympy.E
ROWS = [[0, 1, 3], [2, 0, 5, 1], [0, 2]]  # softmax rows: each entry an atom e^k/D
ATOMS = [a for row in ROWS for v in softmax_row(row) if type(v) is Tx for a in v.terms]
ATOMS += [1 / (1 + E), 1 / (1 + sympy.exp(3))]  # σ's atoms

rationals = st.fractions(min_value=-5, max_value=5, max_denominator=8)


@st.composite
def values(draw: Any) -> Any:
    """A rational, or r + Σ c·atom."""
    if draw(st.integers(0, 3)) == 0:
        q = draw(rationals)
        return q.numerator if q.denominator == 1 else q
    atoms = draw(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=6, unique=True))
    terms = {a: draw(rationals.filter(bool)) for a in atoms}
    return Tx.make(draw(rationals), terms)


def as_sympy(v: Any) -> sympy.Expr:
    """The value from its parts, by sympy alone."""
    if isinstance(v, Tx):
        return exact.to_sympy(v.r) + sympy.Add(*(exact.to_sympy(c) * a for a, c in v.terms.items()))
    return exact.to_sympy(v)


def same_value(x: Any, y: Any) -> bool:
    d = (exact.to_sympy(x) - exact.to_sympy(y)).evalf(60)
    return abs(d) < sympy.Float(10) ** -45 * (abs(exact.to_sympy(y).evalf(60)) + 1)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(values(), values()), min_size=1, max_size=6))
def test_dot_is_the_sum_of_the_products(pairs: list[tuple[Any, Any]]) -> None:
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    pairwise = reduce(lambda acc, xy: acc + xy[0] * xy[1], pairs, 0)
    fused = dot(xs, ys)
    assert fused == pairwise  # exactly the same r and coefficients
    assert type(fused) is type(pairwise) or (exact.is_rational(fused) and fused == pairwise)
    expected = sum((as_sympy(x) * as_sympy(y) for x, y in pairs), sympy.Integer(0))
    assert same_value(as_sympy(fused), expected)


@settings(max_examples=80, deadline=None)
@given(values())
def test_the_written_value_is_the_value(v: Any) -> None:
    written = to_exact(v)
    assert same_value(written, as_sympy(v))
    assert to_exact(v) is written or exact.is_rational(written)  # a value is written once


def test_a_softmax_row_and_its_gradient_are_written_over_one_denominator() -> None:
    p = softmax_row([0, 1, 3])  # 1/D, e/D, e³/D with D = 1 + e + e³
    d = 1 + E + sympy.exp(3)
    assert to_exact(p[1]) == E / d
    assert to_exact(dot(p, [1, 1, 1])) == 1  # a row adds up to 1, exactly
    # ∂L/∂z for the class 2 over a batch of 8: (p − onehot)/8, one fraction
    g = dot(p, [Fraction(1, 8), Fraction(-7, 8), Fraction(1, 8)])
    assert exact.unicode(to_exact(g)) == "(1 - 7e + e³)/(8(1 + e + e³))"
    assert same_value(to_exact(g), (1 - 7 * E + sympy.exp(3)) / (8 * d))


@settings(max_examples=60, deadline=None)
@given(
    rationals.filter(bool),
    st.sampled_from([sympy.S.One, E, sympy.exp(3), sympy.exp(sympy.Rational(1, 2))]),
    st.sampled_from([1 + E, 1 + E + sympy.exp(3), 2 + sympy.exp(5)]),
)
def test_a_single_term_is_built_as_sympy_builds_it(q: Fraction, b: Any, den: Any) -> None:
    """c·b/D from the factors of b/D: the very expression (same arguments, same order) that
    sympy's evaluating product gives, so that it equals any c·b/D a student's answer makes."""
    c = sympy.Rational(q.numerator, q.denominator)
    built = _one_term(c, b, den)
    expected = c * b / den
    assert built == expected
    assert built.args == expected.args


def test_the_float_of_a_probability_is_sympys() -> None:
    for atom in [1 / (1 + E), E / (1 + E), sympy.exp(40) / (1 + 2 * sympy.exp(3) + sympy.exp(40))]:
        assert abs(_atom_float(atom) - float(atom.evalf(30))) <= 4e-16 * float(atom.evalf(30))
    assert _ratio_float(sympy.log(2) / (1 + E)) is None  # not a ratio over e: evalf
