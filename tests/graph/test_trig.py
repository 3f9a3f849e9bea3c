"""sin and cos in the graph language: exact values (sin(1) stays sin(1), cos(0) is 1), their
derivatives cos and −sin, checked against math.sin/math.cos and central differences, the
forgotten minus of cos′ as a named mistake, and the worked steps written as maths."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import sympy

from solver import exact, kinds
from solver.graph import scalar as sc
from solver.graph.scalar import Tx, to_exact

from ..conftest import problem_file, solve_yaml


@pytest.mark.parametrize("x", [Fraction(1), Fraction(-2), Fraction(1, 100), Fraction(7, 3)])
def test_sin_and_cos_of_a_rational_stay_exact_with_the_right_float(x: Fraction) -> None:
    s, c = sc.sin(x), sc.cos(x)
    assert type(s) is Tx and type(c) is Tx
    assert exact.to_sympy(to_exact(s)) == sympy.sin(sympy.Rational(x.numerator, x.denominator))
    assert float(s) == pytest.approx(math.sin(x), abs=1e-15)
    assert float(c) == pytest.approx(math.cos(x), abs=1e-15)


def test_exact_values_where_they_exist_and_signs_taken_out() -> None:
    assert sc.sin(0) == 0 and sc.cos(0) == 1
    assert to_exact(sc.sin(-1)) == -sympy.sin(1)  # odd
    assert to_exact(sc.cos(-1)) == sympy.cos(1)  # even
    assert sc.sin(Tx.of(sympy.pi / 6)) == Fraction(1, 2)
    assert sc.cos(Tx.of(sympy.pi)) == -1
    # sin² + cos² is not folded (no trigonometric simplification), but its float is 1
    one = sc.sin(1) * sc.sin(1) + sc.cos(1) * sc.cos(1)
    assert float(one) == pytest.approx(1.0, abs=1e-15)


def _solve(lines: list[str], params: dict, **opts: object) -> dict:
    k = kinds.get("graph")
    g = k.Given.model_validate({"params": params, "compute": lines})
    s = k.new_solution(record_steps=False)
    k.solve(g, s, **opts)
    return {key: a.value for key, a in s.answers.items()}


def _f(v: object) -> float:
    return float(exact.to_float(v))


def test_backward_is_cos_and_minus_sin_as_central_differences_say() -> None:
    lines = ["L = sin(a * x) + cos(x) * a"]
    a, x = Fraction(3, 2), Fraction(-1, 3)
    got = _solve(lines, {"a": a, "x": x})

    def L(a: float, x: float) -> float:
        return math.sin(a * x) + math.cos(x) * a

    h = 1e-6
    da = (L(a + h, x) - L(a - h, x)) / (2 * h)
    dx = (L(a, x + h) - L(a, x - h)) / (2 * h)
    assert _f(got["L"]) == pytest.approx(L(a, x), abs=1e-14)
    assert _f(got["grad.a"]) == pytest.approx(da, abs=1e-8)
    assert _f(got["grad.x"]) == pytest.approx(dx, abs=1e-8)
    # by hand: ∂L/∂x = a·cos(ax) − a·sin(x), exactly
    ax = sympy.Rational(-1, 2)
    by_hand = sympy.Rational(3, 2) * sympy.cos(ax) - sympy.Rational(3, 2) * sympy.sin(
        sympy.Rational(-1, 3)
    )
    assert sympy.simplify(exact.to_sympy(got["grad.x"]) - by_hand) == 0


def test_forgotten_minus_of_cos_is_a_named_mistake_that_changes_the_gradient() -> None:
    name = next(n for n, o in kinds.get("graph").misconceptions.items() if "cos_sign" in o)
    assert "sin" in name and "minus" in name
    lines = ["L = cos(w * 2)"]
    right = _solve(lines, {"w": 1})
    wrong = _solve(lines, {"w": 1}, cos_sign=False)
    assert _f(right["grad.w"]) == pytest.approx(-2 * math.sin(2))
    assert _f(wrong["grad.w"]) == pytest.approx(2 * math.sin(2))


def test_a_graph_without_cos_cannot_show_the_forgotten_minus() -> None:
    from solver.kinds.graph import NotApplicable

    k = kinds.get("graph")
    g = k.Given.model_validate({"params": {"w": 1}, "compute": ["L = sin(w)"]})
    with pytest.raises(NotApplicable):
        k.solve(g, k.new_solution(record_steps=False), cos_sign=False)


def test_steps_write_the_rules_as_maths_and_say_radians() -> None:
    text = problem_file(
        "graph",
        {"inputs": {"x": 2}, "params": {"w": 1}, "compute": ["h = sin(w * x)", "L = cos(h)"]},
    )
    s = solve_yaml(text)["p"]
    steps = [st.text for st in s.steps]
    assert any("radians" in t for t in steps)
    lines = [eq.text() for st in s.steps for eq in st.equations]
    assert any("⊙ cos(" in line for line in lines)  # ∂L/∂(w ⊙ x) via h = ∂L/∂h ⊙ cos(w ⊙ x)
    assert any(line.lstrip().startswith("∂L/∂h via L = -∂L/∂L ⊙ sin(h)") for line in lines)
    latex = " ".join(eq.latex() for st in s.steps for eq in st.equations)
    assert r"\cos(" in latex and r"\sin(" in latex
    assert exact.to_sympy(s.answers["h"].value) == sympy.sin(2)
