"""Reverse mode against values worked by hand and against central differences of the forward
pass (no torch needed: the torch comparison is in tests/verify/test_crosscheck_graph.py)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import sympy
from hypothesis import given, settings

from solver import exact
from solver.graph import GraphError, backward, build, differentiate, forward, leaf_tensor
from solver.graph.tensor import Tensor

from .strategies import LEAVES, graphs

E = sympy.E


def same(value: Any, expected: Any) -> bool:
    return sympy.simplify(exact.to_sympy(value) - expected) == 0


def test_staged_computation_by_hand() -> None:
    # f = (x + y) z at x = -2, y = 5, z = -4: q = 3, f = -12; ∂f/∂x = ∂f/∂y = z, ∂f/∂z = q
    f, grads = differentiate("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    assert f == -12
    assert grads == {"x": -4, "y": -4, "z": 3}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("x + foo(y)", "could not read 'x + foo(y)': unknown function 'foo'"),
        ("x + w", "could not read 'x + w': 'w' is not defined"),
        ("x + y $", "could not read 'x + y $': unexpected character '$' at position 7"),
    ],
)
def test_differentiate_points_into_the_expression_it_was_given(
    expression: str, message: str
) -> None:
    """An optimizer's objective is reported as its author wrote it, not as the line the
    graph builds from it."""
    with pytest.raises(GraphError) as err:
        differentiate(expression, {"x": 1, "y": 2})
    assert str(err.value).startswith(message), str(err.value)
    assert "objective_value" not in str(err.value)


def test_sigmoid_is_written_as_a_textbook_writes_it() -> None:
    s, grads = differentiate("sigmoid(x)", {"x": 1})
    assert s == E / (1 + E)  # σ(1) = e/(1 + e), structurally
    assert same(grads["x"], E / (1 + E) ** 2)
    s, _ = differentiate("sigmoid(x)", {"x": -1})
    assert s == 1 / (1 + E)


def test_softmax_entries_share_one_denominator() -> None:
    p, _ = differentiate("softmax(z)[0]", {"z": [1, 2, 3]})
    assert p == 1 / (1 + E + E**2)
    ce, grads = differentiate("cross_entropy(z, 2)", {"z": [1, 2, 3]})
    assert same(ce, sympy.log(1 + E + E**2) - 2)
    d = 1 + E + E**2
    assert all(same(g, w) for g, w in zip(grads["z"], [1 / d, E / d, -(1 + E) / d], strict=True))


def test_tanh_derivative() -> None:
    t, grads = differentiate("tanh(x)", {"x": 1})
    assert same(t, (E**2 - 1) / (E**2 + 1))
    assert same(grads["x"], 4 * E**2 / (1 + E**2) ** 2)


def test_a_fork_adds_up() -> None:
    # L = x·x + 3x: dL/dx = 2x + 3 = 7 at x = 2, from two uses of x in one product and one more
    _, grads = differentiate("x * x + 3 * x", {"x": 2})
    assert grads["x"] == 7


def test_max_pool_routes_to_the_first_maximum() -> None:
    X = [[1, 3], [3, 0]]
    _, grads = differentiate("sum(maxpool2d(X, 2))", {"X": X})
    assert grads["X"] == [[0, 1], [0, 0]]


def _values(names: dict[str, Any]) -> dict[str, Tensor]:
    return {k: leaf_tensor(v) for k, v in names.items()}


def _loss(lines: list[str], values: dict[str, Any]) -> Fraction:
    g = build(lines, dict.fromkeys(LEAVES, "param"))
    return Fraction(forward(g, _values(values)).value("L").item())


@settings(max_examples=25, deadline=None)
@given(graphs())
def test_rational_graphs_against_central_differences(
    case: tuple[dict[str, Any], list[str]],
) -> None:
    values, lines = case
    g = build(lines, dict.fromkeys(LEAVES, "param"))
    run = forward(g, _values(values))
    back = backward(run, "L")
    h = Fraction(1, 10**6)
    for name in LEAVES:
        grad = back.grads[g.names[name]].data
        t = leaf_tensor(values[name])
        for k in range(t.size):
            up = [list(t.data), list(t.data)]
            up[0][k] += h
            up[1][k] -= h

            def at(data: list[Any], name: str = name, t: Tensor = t) -> Fraction:
                vals = dict(values)
                vals[name] = Tensor(t.shape, data).nested()
                return _loss(lines, vals)

            fd = (at(up[0]) - at(up[1])) / (2 * h)
            # a kink (relu, abs, max) within h of the point makes the difference one-sided
            assert abs(float(fd) - float(grad[k])) < 1e-4 or _near_kink(lines)


def _near_kink(lines: list[str]) -> bool:
    return any(op in line for line in lines for op in ("relu", "abs", "max"))


def test_what_adds_up_to_a_rational_is_written_as_that_rational() -> None:
    # a softmax row sums to 1 exactly, so L = s² + s with s = Σ softmax(v) is 2 and ∂L/∂s = 3
    g = build(["s = sum(softmax(v))", "L = s * s + s"], {"v": "param"})
    run = forward(g, {"v": leaf_tensor([0, 1])})
    back = backward(run, "L")
    from solver.graph import to_exact

    assert to_exact(run.value("s").item()) == 1
    assert to_exact(back.grads[g.names["s"]].item()) == 3
    assert float(run.value("L").item()) == 2.0
