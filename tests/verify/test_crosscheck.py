"""The one convention of the cross-checks: values, At(value, point) and Refused(reason), and a
verdict for every answer (none is skipped silently). Tested on the toy kind, which has an
answer of every type, as a later kind would add its cross-check."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
import sympy

import solver
from solver import exact
from solver.verify.crosscheck import At, Refused, at_point, compare

from ..conftest import TOY_PROBLEMS

torch = pytest.importorskip("torch")
F64 = torch.float64


def toy_solution() -> tuple[Any, solver.Solution]:
    problem = solver.load_text(TOY_PROBLEMS, "toy.yaml").problems[0]
    return problem, solver.solve(problem)


def toy_check(g: Any, s: solver.Solution, device: Any) -> dict[str, Any]:
    """The toy kind recomputed with torch, the way a family module does it."""
    n = 5  # the batch size torch runs with, for the symbol n
    layer1, layer2 = torch.nn.Linear(7, g.width), torch.nn.Linear(g.width, 2 * g.width)
    z1 = layer1(torch.zeros(n, 7))
    z2 = layer2(z1)
    params = sum(p.numel() for p in layer2.parameters())
    eta, gamma = 0.1, 0.3
    return {
        "z1": At(list(z1.shape), {"n": n}),
        "z2": At(list(z2.shape), {"n": n}),
        "params": params,
        "ratio": torch.tensor(params, dtype=F64) / 7,
        "rate": At(torch.tensor(-2 * eta * gamma, dtype=F64), {"eta": eta, "gamma": gamma}),
        "path": ["<BOS>", "the", "green", "rectangle"],
        "beams": [["the", "red", "circle"], ["a", "blue", "square"]],
        "big": params > 10,
        "weights": torch.tensor([[1, 3**0.5 / 3], [7 / 12, math.nan]], dtype=F64),
        "not_an_answer": 1.0,  # keys the solution lacks are ignored
    }


def verdicts(s: solver.Solution, recomputed: dict[str, Any]) -> dict[str, str]:
    return {a.key: a.verdict for a in compare(s, recomputed)}


def test_every_answer_gets_one_verdict(toy_kind: Any) -> None:
    problem, s = toy_solution()
    found = verdicts(s, toy_check(problem.given, s, "cpu"))
    assert list(found) == list(s.answers)
    assert found == {
        **dict.fromkeys(s.answers, "agree"),
        "time": "no numeric meaning",
        "pick": "no numeric meaning",
        "note": "no numeric meaning",
    }


def test_left_out_answers_are_not_recomputed_unless_they_have_no_number(toy_kind: Any) -> None:
    _, s = toy_solution()
    found = verdicts(s, {"params": 24})
    assert found["params"] == "agree"
    assert found["time"] == found["pick"] == found["note"] == "no numeric meaning"
    assert found["z1"] == found["rate"] == found["weights"] == "not recomputed"


@pytest.mark.parametrize(
    ("key", "wrong"),
    [
        ("z1", At([5, 4], {"n": 5})),
        ("rate", At(torch.tensor(0.06, dtype=F64), {"eta": 0.1, "gamma": 0.3})),
        ("params", 25),
        ("ratio", torch.tensor(24 / 7 + 1e-6, dtype=F64)),
        ("path", ["<BOS>", "the", "red", "rectangle"]),
        ("big", False),
        ("weights", torch.tensor([[1, 3**0.5 / 3], [7 / 12, 0.0]], dtype=F64)),  # undefined ≠ 0
    ],
)
def test_a_wrong_recomputation_disagrees(toy_kind: Any, key: str, wrong: Any) -> None:
    problem, s = toy_solution()
    found = verdicts(s, {**toy_check(problem.given, s, "cpu"), key: wrong})
    assert [k for k, v in found.items() if v == "disagree"] == [key]


def test_refused_agrees_only_with_an_undefined_answer(toy_kind: Any) -> None:
    _, s = toy_solution()
    s.answers["ratio"].value = None
    found = {a.key: a for a in compare(s, {"ratio": Refused("no"), "params": Refused("why")})}
    assert found["ratio"].verdict == "agree"
    assert found["params"].verdict == "disagree" and found["params"].torch == "refused: why"


def test_float32_is_not_float64(toy_kind: Any) -> None:
    _, s = toy_solution()
    found = {a.key: a for a in compare(s, {"ratio": torch.tensor(24 / 7, dtype=torch.float32)})}
    assert found["ratio"].verdict == "disagree"
    assert found["ratio"].note == "torch computed this in torch.float32, not float64"


def test_a_point_that_leaves_a_symbol_disagrees(toy_kind: Any) -> None:
    _, s = toy_solution()
    found = {a.key: a for a in compare(s, {"rate": At(-0.06, {"eta": 0.1})})}
    assert found["rate"].verdict == "disagree"
    assert found["rate"].note == "the point leaves gamma in the exact answer"


def test_at_point_puts_in_numbers_lists_and_functions() -> None:
    n, h, u = (exact.symbol(x) for x in ("n", "h", "u"))
    sigma = sympy.Function("sigma")
    assert at_point([3 * n, 4], {"n": 5}) == [15, 4]
    assert at_point(2 * u, {"u": [1, Fraction(1, 2), 0.25]}) == [2, 1, Fraction(1, 2)]
    got = at_point(sigma(h), {"h": [0.5, -1], "sigma": sympy.tanh})
    assert [float(x) for x in got] == pytest.approx([math.tanh(0.5), math.tanh(-1)], 1e-15)
    assert at_point(h, {"h": 0.1}) == Fraction(0.1)  # a float is the binary fraction it is
