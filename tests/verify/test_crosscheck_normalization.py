"""Every shipped normalization answer agrees with torch.nn.functional in float64."""

from __future__ import annotations

import pytest

import solver

from ..conftest import PROBLEMS, problem_file

torch = pytest.importorskip("torch")

from solver.verify.crosscheck import CHECKS, compare, load_all  # noqa: E402

load_all()
NORMALIZATION = {
    "layernorm",
    "batchnorm",
    "instancenorm",
    "groupnorm",
    "norm_stats",
    "bn_running_stats",
    "dropout",
}


def shipped():
    for path in sorted(PROBLEMS.glob("*.yaml")):
        for p in solver.load(path):
            if p.kind in NORMALIZATION:
                yield pytest.param(p, id=f"{path.stem}:{p.id}")


@pytest.mark.parametrize("problem", list(shipped()))
def test_shipped_problem_agrees_with_torch(problem):
    s = solver.solve(problem)
    agreements = compare(s, CHECKS[problem.kind](problem.given, s, "cpu"))
    assert agreements
    bad = [(a.key, a.exact, a.torch) for a in agreements if not a.ok]
    assert not bad


def test_a_wrong_answer_is_caught():
    """The comparison can fail: a solution with a wrong variance disagrees with torch."""
    p = solver.load_text(problem_file("layernorm", {"X": [[1, 2, 4]]})).problems[0]
    wrong = solver.solve(p, ddof=1)
    agreements = {a.key: a for a in compare(wrong, CHECKS["layernorm"](p.given, wrong, "cpu"))}
    assert not agreements["var"].ok and agreements["mean"].ok


def test_eval_mode_batchnorm_4d():
    p = solver.load_text(
        problem_file(
            "batchnorm",
            {
                "X": [[[[1, 2], [3, 4]], [[0, 1], [1, 0]]]],
                "training": False,
                "running_mean": [1, "1/2"],
                "running_var": [2, "1/4"],
                "eps": "1/1000",
                "gamma": [2, 3],
                "beta": [1, -1],
            },
        )
    ).problems[0]
    s = solver.solve(p)
    assert all(a.ok for a in compare(s, CHECKS["batchnorm"](p.given, s, "cpu")))
