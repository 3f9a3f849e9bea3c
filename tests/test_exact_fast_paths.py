"""The fast paths of printing a network's values (``solve --format json`` and ``export`` of a
big graph problem) against the slow ones they replace: the str and LaTeX printers that write
sums over e and their fractions directly write what sympy's generic printers write, and the
float beside an exact value is what sympy's ``evalf(30)`` gives. Values come both from
hand-built expressions over e and from solving random networks with softmax, σ and tanh."""

from __future__ import annotations

import math
from typing import Any

import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solver
from solver import exact, floats
from solver.exact import _FastLatexPrinter, _FastStrPrinter, _LatexPrinter, _StrPrinter

from .conftest import problem_file
from .test_exact_over_e import values_over_e

E = sympy.E


def assert_fast_equals_slow(x: sympy.Expr) -> None:
    """Each fast printer against its generic printer, and the float against evalf(30)."""
    assert _FastStrPrinter().doprint(x) == _StrPrinter().doprint(x)
    assert _FastLatexPrinter().doprint(x) == _LatexPrinter().doprint(x)
    assert exact.fmt(x) == _StrPrinter().doprint(x)  # the shared instances too
    assert floats.nearest(x) == floats._evalf(x)


@settings(max_examples=60, deadline=None)
@given(values_over_e())
def test_sums_over_e_print_and_evaluate_as_the_slow_paths_do(x: sympy.Expr) -> None:
    assert_fast_equals_slow(x)
    if exact.is_over_e(x):
        assert exact.latex(x) == _LatexPrinter().doprint(x)


ints = st.integers(-3, 3)


@st.composite
def small_networks(draw: Any) -> dict[str, Any]:
    """A 1-hidden-layer network with cross-entropy, as bench_graph's MLP in miniature."""
    n, d, k = draw(st.integers(1, 2)), draw(st.integers(2, 3)), draw(st.integers(2, 3))

    def matrix(r: int, c: int) -> Any:
        return draw(st.lists(st.lists(ints, min_size=c, max_size=c), min_size=r, max_size=r))

    def vector(m: int) -> Any:
        return draw(st.lists(ints, min_size=m, max_size=m))

    act = draw(st.sampled_from(["relu", "sigmoid", "tanh"]))
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    return {
        "inputs": {"X": matrix(n, d), "y": labels},
        "params": {"W1": matrix(d, d), "b1": vector(d), "W2": matrix(d, k), "b2": vector(k)},
        "compute": [f"h = {act}(X @ W1 + b1)", "z = h @ W2 + b2", "L = cross_entropy(z, y)"],
        "lr": "1/10",
    }


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_a_networks_values_print_and_evaluate_as_the_slow_paths_do(given_: dict) -> None:
    problem = solver.load_text(problem_file("graph", given_)).problems[0]
    s = solver.solve(problem)
    seen = 0
    for a in s.asked():
        for v in exact.flatten(a.value) if isinstance(a.value, list) else [a.value]:
            if isinstance(v, sympy.Basic):
                assert_fast_equals_slow(v)
                seen += 1
    assert seen  # a softmax always leaves values in e


def test_the_float_is_the_nearest_double_even_under_cancellation() -> None:
    """(1 + e⁴⁰)/(e⁴⁰) − 1 = e⁻⁴⁰: the terms cancel to 17 digits; the interval widens, the
    precision doubles, and the result is still the double nearest e⁻⁴⁰."""
    den = sympy.exp(40)
    x = sympy.Add(sympy.Mul(1 + den, sympy.Pow(den, -1, evaluate=False), evaluate=False), -1)
    assert floats.nearest(x) == math.exp(-40) == floats._evalf(x)


def test_values_without_a_float_have_none() -> None:
    eta = exact.symbol("eta")
    assert exact.to_float(eta * E) is None
    assert exact.to_float(sympy.log(-1 - E)) is None  # complex: sympy's evalf decides
    assert exact.to_float(sympy.exp(1000)) == float(sympy.exp(1000).evalf(30))  # inf, as before
    assert exact.to_float(1 - E + E) == 1.0  # sympy folds it; an exact 0 falls back to evalf
    zero = sympy.Add(E / (1 + E), -(E / (1 + E)), evaluate=False)
    assert exact.to_float(zero) == floats._evalf(zero)  # whatever evalf makes of it, as before


def test_shared_subexpressions_are_evaluated_once(monkeypatch: Any) -> None:
    """The denominator of a softmax row is evaluated once for every entry that holds it."""
    den = sympy.Add(1, *(sympy.exp(k) for k in (3, 70, 300)))
    entries = [sympy.exp(k) / den for k in (3, 70, 300)]
    calls = []
    evaluate = floats._evaluate

    def counting(x: sympy.Basic, prec: int) -> Any:
        calls.append(x)
        return evaluate(x, prec)

    floats._CACHE[floats.PRECISIONS[0]].clear()
    monkeypatch.setattr(floats, "_evaluate", counting)
    assert [floats.nearest(x) for x in entries] == [floats._evalf(x) for x in entries]
    assert calls.count(den) == 1
