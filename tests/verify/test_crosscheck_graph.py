"""Every value and gradient of the graph kind against torch autograd in float64: the shipped
problems, and random op sequences over small integer tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

torch = pytest.importorskip("torch")

import solver  # noqa: E402
from solver import kinds  # noqa: E402
from solver.verify.crosscheck import CHECKS, compare, load_all  # noqa: E402

from ..graph.strategies import LEAVES, graphs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "backprop.yaml"
load_all()


@pytest.mark.parametrize("problem", solver.load(SHIPPED).problems, ids=lambda p: p.id)
def test_shipped_problem_agrees_with_autograd(problem: solver.Problem) -> None:
    s = solver.solve(problem)
    results = compare(s, CHECKS["graph"](problem.given, s, "cpu"))
    assert results and all(r.verdict == "agree" for r in results), [
        (r.key, r.verdict, r.exact, r.torch) for r in results if r.verdict != "agree"
    ]


def _solve(values: dict[str, Any], lines: list[str], lr: Any = None) -> tuple[Any, Any]:
    k = kinds.get("graph")
    given = {"params": values, "compute": lines, "wrt": list(values)}
    if lr is not None:
        given["lr"] = lr
    g = k.Given.model_validate(given)
    s = k.new_solution(record_steps=False)
    k.solve(g, s)
    return g, s


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(transcendental=True))
def test_random_graphs_agree_with_autograd(case: tuple[dict[str, Any], list[str]]) -> None:
    values, lines = case
    g, s = _solve(values, lines, lr="1/10")
    results = compare(s, CHECKS["graph"](g, s, "cpu"))
    keys = {r.key for r in results}
    assert {f"grad.{n}" for n in LEAVES} <= keys and "L" in keys
    bad = [(r.key, r.exact, r.torch) for r in results if r.verdict != "agree"]
    assert not bad, (lines, bad)


def test_a_wrong_gradient_is_caught() -> None:
    values = {
        "A": [[1, 2, 0], [0, 1, 1]],
        "B": [[1, 0], [2, 1], [0, 1]],
        "u": [1, 1, 1],
        "v": [1, 2],
        "c": 1,
    }
    g, s = _solve(values, ["n0 = A @ B", "L = sum(n0 * n0)"])
    s.answers["grad.A"].value = [[0, 0, 0], [0, 0, 0]]
    results = {r.key: r for r in compare(s, CHECKS["graph"](g, s, "cpu"))}
    assert results["grad.A"].verdict == "disagree"
    assert results["grad.B"].verdict == "agree"
