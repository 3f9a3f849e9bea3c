"""The design kind's references through torch in float64: each case confirmed, and a
reference that fails a case is a disagreement with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import solver  # noqa: E402
from solver.verify.crosscheck import CHECKS, compare, load_all  # noqa: E402

from ..kinds.test_design import XOR  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
load_all()


@pytest.mark.parametrize(
    "problem", solver.load(ROOT / "problems" / "design.yaml").problems, ids=lambda p: p.id
)
def test_every_shipped_reference_passes_its_cases_in_torch(problem: solver.Problem) -> None:
    s = solver.solve(problem)
    results = compare(s, CHECKS["design"](problem.given, s, "cpu"))
    assert {r.key for r in results} == set(problem.given.unknowns)
    assert all(r.verdict == "agree" for r in results), [(r.key, r.torch) for r in results]


def test_a_reference_torch_does_not_confirm_is_a_disagreement_with_the_case() -> None:
    good = solver.load_text(XOR, "x.yaml").problems[0]
    s = solver.solve(good)
    # the given alone is read (solve would refuse this reference): b1's sign flipped
    bad = solver.load_text(XOR.replace("b1: [0, -7]", "b1: [0, 7]"), "x.yaml").problems[0]
    results = compare(s, CHECKS["design"](bad.given, s, "cpu"))
    assert results and all(r.verdict == "disagree" for r in results)
    assert "on case 1 (x = [0, 0]); the case needs y = 0" in str(results[0].torch)
