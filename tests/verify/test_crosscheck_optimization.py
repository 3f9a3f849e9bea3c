"""PyTorch recomputes the optimizer steps and tests each derivation's result numerically."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from solver import exact, load, load_text, solve
from solver.kinds import derivations as D
from solver.verify.crosscheck import CHECKS, compare, load_all

load_all()
MY_KINDS = ("sgd_weight_decay", "adam_step", "derivation")
SHIPPED = [
    (path, p.id)
    for path in ("problems/lecture-normalization.yaml", "problems/ift6135-rnn-decoding.yaml")
    for p in load(path).problems
    if p.kind in MY_KINDS
]


def agreements(problem: object, solution: object | None = None) -> list:
    s = solution if solution is not None else solve(problem)
    return compare(s, CHECKS[problem.kind](problem.given, s, "cpu"))


@pytest.mark.parametrize(("path", "pid"), SHIPPED, ids=[pid for _, pid in SHIPPED])
def test_every_shipped_answer_agrees_with_torch(path: str, pid: str) -> None:
    problem = load(path).get(pid)
    found = agreements(problem)
    assert found, "something was recomputed"
    assert all(a.ok for a in found), [a for a in found if not a.ok]


def test_every_derivation_is_checked_numerically() -> None:
    from solver.verify.crosscheck.optimization import DERIVATION_CHECKS

    assert set(DERIVATION_CHECKS) == set(D.DERIVATIONS)


def _problem(kind: str, given: str) -> object:
    ps = load_text(
        f"title: t\nproblems:\n  - id: p\n    kind: {kind}\n    given:\n{given}", "f.yaml"
    )
    assert ps.errors == []
    return ps.problems[0]


def test_a_wrong_exact_step_is_flagged() -> None:
    problem = _problem(
        "sgd_weight_decay",
        "      theta: [1, 2]\n      grad: [1, -1]\n      lr: 0.1\n      weight_decay: 0.5\n",
    )
    s = solve(problem)
    s.answers["theta_next"].value = [1, 2]
    bad = {a.key: a.ok for a in agreements(problem, s)}
    assert bad == {"decayed": True, "theta_next": False, "l2_equivalent_gamma": True}


def test_the_add_form_is_recomputed_as_torch_sgd_with_negative_decay() -> None:
    problem = _problem(
        "sgd_weight_decay",
        "      theta: [[1, 2], [3, -4]]\n"
        "      grad: [[1, -1], [0, 2]]\n      lr: 0.1\n"
        "      weight_decay: -0.02\n      form: add\n",
    )
    assert all(a.ok for a in agreements(problem))


@pytest.mark.parametrize("form", ["shrink", "add"])
def test_a_symbolic_step_is_recomputed_at_a_point(form: str) -> None:
    from solver.parse import parse_expression

    problem = _problem(
        "sgd_weight_decay",
        "      theta: theta\n      grad: g\n      lr: eta\n"
        f"      weight_decay: lambda\n      form: {form}\n",
    )
    s = solve(problem)
    assert {a.key: a.verdict for a in agreements(problem, s)} == dict.fromkeys(
        ("decayed", "theta_next", "l2_equivalent_gamma"), "agree"
    )
    s.answers["theta_next"].value = parse_expression("theta - eta*g", {"theta", "eta", "g"})
    verdicts = {a.key: a.verdict for a in agreements(problem, s)}
    assert verdicts["theta_next"] == "disagree" and verdicts["decayed"] == "agree"


def test_adam_with_pytorchs_default_eps_and_three_steps() -> None:
    problem = _problem(
        "adam_step",
        "      theta: [1, -2]\n"
        "      grads: [[0.01, 3], [-0.02, 1], [0.5, -4]]\n"
        "      lr: 0.01\n      weight_decay: 0.05\n",
    )
    found = agreements(problem)
    assert {a.key for a in found} >= {"adamw.theta[3]", "adam_l2.v[3]", "relative_decay"}
    assert all(a.ok for a in found), [a for a in found if not a.ok]


@pytest.mark.parametrize(
    ("name", "key", "wrong"),
    [
        ("weightnorm_gradient", "s", "gamma/norm_u**2"),
        ("weight_decay_equivalence", "lambda", "2*eta*gamma"),
        ("adam_l2_change", "gradient", "g + gamma*theta"),
        ("bn_whitened", "sigma_y", "norm_u**2"),
        ("vanishing_gradient", "bound_T", "(delta/2)**T"),
    ],
)
def test_a_wrong_formula_is_flagged(name: str, key: str, wrong: str) -> None:
    from solver.parse import parse_expression

    problem = _problem("derivation", f"      name: {name}\n")
    s = solve(problem)
    s.answers[key].value = parse_expression(wrong)
    verdicts = {a.key: a.ok for a in agreements(problem, s)}
    assert verdicts[key] is False
    assert all(ok for k, ok in verdicts.items() if k != key)


def test_a_renamed_derivation_is_checked_in_its_own_letters() -> None:
    problem = _problem(
        "derivation",
        "      name: weight_decay_equivalence\n      symbols: {eta: alpha, gamma: mu}\n",
    )
    s = solve(problem)
    assert exact.to_sympy(s["lambda"]).free_symbols == {exact.symbol("alpha"), exact.symbol("mu")}
    assert all(a.ok for a in agreements(problem, s))
