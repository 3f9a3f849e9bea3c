"""rnn_gradient_bound against hand values (exact surds) and numpy on random matrices."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import solver
from solver import exact, kinds

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "ift6135-rnn-decoding.yaml"
F = Fraction


def solve_given(given: dict[str, Any], **options: Any) -> solver.Solution:
    k = kinds.get("rnn_gradient_bound")
    s = k.new_solution()
    k.solve(k.Given.model_validate(given), s, **options)
    return s


def same(value: Any, expected: sympy.Expr) -> bool:
    return sympy.simplify(exact.to_sympy(value) - expected) == 0


def test_shipped_instance_by_hand() -> None:
    s = solver.solve(solver.load(SHIPPED).get("rnn-gradient-bound"))
    # WᵀW = [[1/4, 1/8], [1/8, 5/16]]: trace 9/16, determinant 1/16
    # λ = (9/16 ± √(81/256 − 64/256))/2 = (9 ± √17)/32
    r17 = sympy.sqrt(17)
    assert s["gamma"] == 1
    assert same(s["lambda_max"], (9 + r17) / 32)
    # √((9 + √17)/32) = (1 + √17)/8, since ((1 + √17)/8)² = (18 + 2√17)/64
    assert same(s["op_norm"], (1 + r17) / 8)
    assert isinstance(s["op_norm"], exact.Surd)  # denested, not a nested root
    assert same(s["step_bound"], (1 + r17) / 8)
    assert same(s["bound_T"], sympy.expand(((1 + r17) / 8) ** 10))
    # δ = 2/3: δ²/γ² = 4/9 ≈ 0.444 ≥ λ1 ≈ 0.410
    assert s["vanishes"] is True


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(-4, 4), min_size=n, max_size=n), min_size=n, max_size=n
        )
    ),
    st.sampled_from(["tanh", "sigmoid", "relu"]),
    st.integers(1, 6),
)
def test_random_matrices_against_numpy(rows: list[list[int]], activation: str, T: int) -> None:
    W = [[F(x, 4) for x in row] for row in rows]
    s = solve_given({"W": [[str(x) for x in row] for row in W], "activation": activation, "T": T})
    A = np.array([[float(x) for x in row] for row in W])
    lam = np.linalg.eigvalsh(A.T @ A).max()
    norm = np.linalg.norm(A, 2)
    gamma = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0}[activation]
    assert float(exact.to_float(s["gamma"])) == gamma
    assert float(exact.to_float(s["lambda_max"])) == pytest.approx(lam, abs=1e-12)
    assert float(exact.to_float(s["op_norm"])) == pytest.approx(norm, abs=1e-12)
    assert same(exact.to_sympy(s["op_norm"]) ** 2, exact.to_sympy(s["lambda_max"]))
    assert float(exact.to_float(s["bound_T"])) == pytest.approx(
        (gamma * norm) ** T, rel=1e-9, abs=1e-12
    )
    if abs(gamma * norm - 1) > 1e-9:
        assert s["vanishes"] == (gamma * norm < 1)


def test_the_condition_with_a_given_delta() -> None:
    W = [["1/2", "1/4"], [0, "1/2"]]
    # ‖W‖ = (1 + √17)/8 ≈ 0.6404: δ = 0.65 passes, δ = 0.64 does not
    assert solve_given({"W": W, "activation": "tanh", "delta": "0.65", "T": 3})["vanishes"]
    assert not solve_given({"W": W, "activation": "tanh", "delta": "0.64", "T": 3})["vanishes"]
    # a sigmoid's γ = 1/4 makes δ = 0.17 enough (γ‖W‖ ≈ 0.160)
    assert solve_given({"W": W, "activation": "sigmoid", "delta": "0.17", "T": 3})["vanishes"]
    # with gamma given instead of an activation
    s = solve_given({"W": W, "gamma": "1/2", "T": 2})
    assert same(s["bound_T"], ((1 + sympy.sqrt(17)) / 16) ** 2)


def test_a_students_lambda_is_carried_forward() -> None:
    p = solver.load(SHIPPED).get("rnn-gradient-bound")
    s = solver.solve(p, overrides={"lambda_max": F(9, 16)})
    assert s["op_norm"] == F(3, 4) and s["bound_T"] == F(3, 4) ** 10
    assert s["vanishes"] is False  # 9/16 > δ²/γ² = 4/9
    s = solver.solve(p, overrides={"lambda_max": F(-1)})  # no square root: nothing follows
    assert s["op_norm"] is None and s["bound_T"] is None and s["vanishes"] is None


def test_misconceptions_reproduce_the_mistakes() -> None:
    W = [["1/2", "1/4"], [0, "1/2"]]
    base = {"W": W, "activation": "sigmoid", "delta": "2/3", "T": 4}
    right = solve_given(base)
    k = kinds.get("rnn_gradient_bound")
    for name, options in k.misconceptions.items():
        wrong = solve_given(base, **options)
        assert any(wrong.answers[key].value != right[key] for key in right.answers), name
    assert solve_given(base, sigmoid_gamma=1)["gamma"] == 1
    assert same(solve_given(base, norm="lambda")["op_norm"], (9 + sympy.sqrt(17)) / 32)
    assert solve_given(base, norm="spectral_radius")["op_norm"] == F(1, 2)  # W is triangular
    assert solve_given(base, norm="frobenius")["op_norm"] == F(3, 4)  # √(1/4 + 1/16 + 1/4)
    assert same(solve_given(base, power=False)["bound_T"], 4 * (1 + sympy.sqrt(17)) / 32)


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ({"W": [[1, 2, 3], [4, 5, 6]], "activation": "tanh", "T": 2}, "given.W", "must be square"),
        ({"W": [[1]], "T": 2}, "given.activation", "give the activation"),
        (
            {"W": [[1]], "activation": "sigmoid", "gamma": 1, "T": 2},
            "given.gamma",
            "sigmoid has γ = 1/4, not 1",
        ),
        (
            {"W": [[1]], "activation": "tanh", "delta": 1, "T": 2},
            "given.delta",
            "must be less than 1",
        ),
        ({"W": [[1]], "activation": "softplus", "T": 2}, "given.activation", "tanh"),
    ],
)
def test_errors_name_the_field(given: dict[str, Any], field: str, words: str) -> None:
    import yaml

    text = yaml.safe_dump(
        {"title": "t", "problems": [{"id": "rnn", "kind": "rnn_gradient_bound", "given": given}]},
        sort_keys=False,
    )
    ps = solver.load_text(text, "hw.yaml")
    assert len(ps.errors) == 1
    message = str(ps.errors[0])
    assert message.startswith("hw.yaml:") and f"field '{field}'" in message and words in message


def test_variants_keep_their_promises() -> None:
    k = kinds.get("rnn_gradient_bound")
    source = k.Given.model_validate(k.example)
    for seed in range(8):
        raw = k.generate(k.example, random.Random(seed))
        g = k.Given.model_validate(raw)
        s = k.new_solution()
        k.solve(g, s)
        assert k.broken_promises(g, s) == []
        assert g.W != source.W
        assert s["vanishes"] is True  # as in the source: the condition holds with δ = 2/3
    cubic = k.Given.model_validate(
        {"W": [[1, 2, 0], [0, 1, 1], [1, 0, 1]], "activation": "tanh", "T": 2}
    )
    s = k.new_solution()
    k.solve(cubic, s)
    assert k.broken_promises(cubic, s) == [k.nice[0]]  # ‖W‖ is the root of a cubic
