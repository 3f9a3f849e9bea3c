"""The RNN bound recomputed with torch, and put to the test by autograd's Jacobian."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import solver  # noqa: E402
from solver import kinds  # noqa: E402
from solver.verify.crosscheck import CHECKS, compare, load_all  # noqa: E402
from solver.verify.crosscheck.recurrent import derivative_bound, jacobian_norms  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "ift6135-rnn-decoding.yaml"
load_all()


def test_shipped_bound_agrees_and_holds() -> None:
    p = solver.load(SHIPPED).get("rnn-gradient-bound")
    s = solver.solve(p)
    results = compare(s, CHECKS["rnn_gradient_bound"](p.given, s, "cpu"))
    assert {r.key for r in results} == {
        "gamma",
        "lambda_max",
        "op_norm",
        "step_bound",
        "bound_T",
        "vanishes",
    }
    assert all(r.ok for r in results), [(r.key, r.exact, r.torch) for r in results if not r.ok]


def test_derivative_bounds_by_autograd() -> None:
    assert derivative_bound("tanh") == pytest.approx(1, abs=1e-12)
    assert derivative_bound("sigmoid") == pytest.approx(0.25, abs=1e-12)
    assert derivative_bound("relu") == 1


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_jacobian_norms_never_exceed_the_exact_bound(activation: str) -> None:
    k = kinds.get("rnn_gradient_bound")
    rng = random.Random(activation)
    for _ in range(6):
        n = rng.randint(1, 3)
        W = [[str(Fraction(rng.randint(-6, 6), 4)) for _ in range(n)] for _ in range(n)]
        T = rng.randint(1, 8)
        g = k.Given.model_validate({"W": W, "activation": activation, "T": T})
        s = k.new_solution()
        k.solve(g, s)
        bound = float(solver.exact.to_float(s["bound_T"]))
        Wt = torch.tensor(solver.exact.to_float(g.W), dtype=torch.float64)
        norms = jacobian_norms(Wt, activation, T, trials=6, seed=1)
        assert max(norms) <= bound * (1 + 1e-9) + 1e-12
        results = compare(s, CHECKS["rnn_gradient_bound"](g, s, "cpu"))
        assert all(r.ok for r in results)


def test_the_bound_is_attained_for_tanh_at_zero() -> None:
    # at h0 = 0, σ' = 1 all along a linear-enough path for a diagonal W: ‖J‖ = ‖W‖^T
    W = torch.tensor([[0.5, 0.0], [0.0, 0.25]], dtype=torch.float64)
    assert jacobian_norms(W, "tanh", 3, trials=0)[0] == pytest.approx(0.125, rel=1e-12)


def test_a_wrong_bound_is_noticed() -> None:
    p = solver.load(SHIPPED).get("rnn-gradient-bound")
    s = solver.solve(p)
    s.answers["op_norm"].value = Fraction(1, 2)  # the spectral radius, not the norm
    s.answers["bound_T"].value = Fraction(1, 10**6)  # far below what autograd observes
    bad = {r.key for r in compare(s, CHECKS["rnn_gradient_bound"](p.given, s, "cpu")) if not r.ok}
    assert bad == {"op_norm", "bound_T"}
