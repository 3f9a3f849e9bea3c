"""The named derivations: every line confirmed by sympy, every result checked independently."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import sympy

import solver
from solver import derive as d
from solver import exact, kinds, load_text
from solver.display import Sym, says
from solver.kinds import derivations as D
from solver.render import markdown
from solver.render.breaking import break_equation

LINES = [(name, i) for name in D.DERIVATIONS for i in range(len(D.build(name).lines))]
RESULTS = [(name, r.key) for name in D.DERIVATIONS for r in D.build(name).results]


def solved(name: str, **given: object) -> object:
    k = kinds.get("derivation")
    g = k.Given.model_validate({"name": name, **given})
    s = k.new_solution()
    k.solve(g, s)
    return s


def value_at(expr: object, **numbers: float) -> float:
    e = exact.to_sympy(expr)
    return float(e.subs({exact.symbol(k): v for k, v in numbers.items()}))


# --------------------------------------------------------------------------- sympy confirms


@pytest.mark.parametrize(("name", "index"), LINES, ids=[f"{n}-line{i + 1}" for n, i in LINES])
def test_every_line_is_confirmed_by_sympy(name: str, index: int) -> None:
    line = D.build(name).lines[index]
    assert d.confirm_line(line) is None


@pytest.mark.parametrize(("name", "key"), RESULTS, ids=[f"{n}-{k}" for n, k in RESULTS])
def test_every_result_is_what_its_derivation_arrives_at(name: str, key: str) -> None:
    result = next(r for r in D.build(name).results if r.key == key)
    assert d.confirm_result(result) is None


def test_vector_lines_are_checked_at_four_sizes_and_scalar_lines_once() -> None:
    der = D.build("weightnorm_gradient")
    assert all(line.sizes == (1, 2, 3, 4) for line in der.lines)
    wd = D.build("weight_decay_equivalence")
    assert wd.lines[-1].sizes == (1,)  # solving for λ is a scalar statement


def test_a_wrong_line_is_not_confirmed() -> None:
    line = D.build("weight_decay_equivalence").lines[2]  # decay − SGD-on-L2 = (λ + 2ηγ)θ
    eta = d.scalar(Sym("eta"), "eta")
    wrong = d.Line(line.lhs, "=", line.rhs + eta * line.rhs, line.reason, line.check)
    assert d.confirm_line(wrong) is not None


def test_a_wrong_certificate_is_not_confirmed() -> None:
    line = D.build("vanishing_gradient").lines[3]
    assert line.check.how == "certificate"
    cert = line.check.certificate
    assert cert is not None
    bad = d.Line(
        line.lhs,
        line.rel,
        line.rhs,
        line.reason,
        d.certificate(cert * 2, line.check.why_nonnegative),
    )
    assert "certificate" in (d.confirm_line(bad) or "")


def test_a_hypothesis_is_needed_where_a_line_cites_it() -> None:
    line = D.build("rnn_activation_equivalence").lines[2]  # uses g_{t−1} = σ(h_{t−1})
    bare = d.Line(line.lhs, line.rel, line.rhs, line.reason, d.identity())
    assert d.confirm_line(line) is None
    assert d.confirm_line(bare) is not None


def test_a_wrong_result_is_caught() -> None:
    r = next(r for r in D.build("weightnorm_gradient").results if r.key == "s")
    wrong = d.Result(
        r.key, exact.symbol("gamma") / exact.symbol("norm_u") ** 2, r.label, r.meaning, r.bindings
    )
    assert d.confirm_result(wrong) is not None


def test_solving_does_no_sympy_confirmation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(line: object) -> None:
        raise AssertionError("confirm_line called during an ordinary solve")

    monkeypatch.setattr(d, "confirm_line", refuse)
    for name in D.DERIVATIONS:
        solved(name)


def test_confirm_true_confirms_while_solving() -> None:
    s = solved("weight_decay_equivalence", confirm=True)
    marked = [st for st in s.steps if "✓" in st.text]
    assert len(marked) == len(D.build("weight_decay_equivalence").lines)


# --------------------------------------------------------------------------- results, independently


def test_weight_decay_lambda_matches_a_numeric_sgd_step() -> None:
    """θ − η∇L + λθ with the answer's λ equals SGD on L + γ‖θ‖² (L quadratic, by numpy)."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    A = A @ A.T
    b = rng.normal(size=4)
    theta = rng.normal(size=4)
    eta, gamma = 0.05, 0.3
    lam = value_at(solved("weight_decay_equivalence")["lambda"], eta=eta, gamma=gamma)
    grad_L = A @ theta + b
    decayed = theta - eta * grad_L + lam * theta
    l2 = theta - eta * (grad_L + 2 * gamma * theta)
    assert np.allclose(decayed, l2, rtol=0, atol=1e-12)
    assert lam == pytest.approx(-2 * eta * gamma)


def test_adam_l2_gradient_is_the_gradient_of_the_penalized_loss() -> None:
    """Finite differences of L(θ) + γ‖θ‖² against the answer g + 2γθ, coordinate by coordinate."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=3)
    theta = rng.normal(size=3)
    gamma = 0.4

    def f(th: np.ndarray) -> float:
        return float(np.sin(a @ th) + gamma * th @ th)

    h = 1e-6
    fd = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(3)])
    g_loss = np.cos(a @ theta) * a
    answer = solved("adam_l2_change")["gradient"]
    claimed = [
        value_at(answer, g=gi, theta=ti, gamma=gamma) for gi, ti in zip(g_loss, theta, strict=True)
    ]
    assert np.allclose(claimed, fd, atol=1e-8)


def test_weightnorm_gradient_against_finite_differences() -> None:
    rng = np.random.default_rng(2)
    n = 5
    u, a = rng.normal(size=n), rng.normal(size=n)
    gamma = 1.3

    def L(w: np.ndarray) -> float:
        return float(np.sum(np.sin(w)) + (a @ w) ** 2)

    def w_of(v: np.ndarray) -> np.ndarray:
        return gamma * v / np.linalg.norm(v)

    h = 1e-6
    fd = np.array([(L(w_of(u + h * e)) - L(w_of(u - h * e))) / (2 * h) for e in np.eye(n)])
    w = w_of(u)
    grad_w = np.cos(w) + 2 * (a @ w) * a
    s_solved = solved("weightnorm_gradient")
    s_value = value_at(s_solved["s"], gamma=gamma, norm_u=float(np.linalg.norm(u)))
    W_perp = np.eye(n) - np.outer(u, u) / (u @ u)
    assert np.allclose(s_value * W_perp @ grad_w, fd, atol=1e-7)
    assert np.allclose(W_perp @ u, 0, atol=1e-12)
    assert s_solved["W_perp_u"] == 0


def test_bn_on_whitened_data_is_a_linear_layer_numerically() -> None:
    n = 3
    X = np.vstack([np.eye(n), -np.eye(n)]) * math.sqrt(n)  # mean exactly 0, covariance exactly I
    assert np.allclose(X.mean(0), 0) and np.allclose(X.T @ X / len(X), np.eye(n))
    u = np.array([2.0, -1.0, 0.5])
    gamma, beta = 0.7, 0.2
    y = X @ u
    bn = gamma * (y - y.mean()) / y.std() + beta
    s = solved("bn_whitened")
    norm_u = float(np.linalg.norm(u))
    coeff = value_at(
        sympy.diff(exact.to_sympy(s["w"]), exact.symbol("u")), gamma=gamma, norm_u=norm_u
    )
    assert np.allclose(bn, X @ (coeff * u) + beta)
    assert s["mu_y"] == 0 and value_at(s["sigma_y"], norm_u=norm_u) == pytest.approx(y.std())


def test_vanishing_gradient_bound_holds_for_a_simulated_tanh_rnn() -> None:
    rng = np.random.default_rng(3)
    n, T, delta = 4, 25, 0.9
    W = rng.normal(size=(n, n))
    W *= delta / np.linalg.norm(W, 2)  # λ₁(WᵀW) = δ² = δ²/γ² with γ = 1 for tanh
    U, b = rng.normal(size=(n, n)), rng.normal(size=n)
    h = rng.normal(size=n)
    J = np.eye(n)
    for _ in range(T):
        Jt = W @ np.diag(1 - np.tanh(h) ** 2)
        assert np.linalg.norm(Jt, 2) <= delta + 1e-12
        J = Jt @ J
        h = W @ np.tanh(h) + U @ rng.normal(size=n) + b
    s = solved("vanishing_gradient")
    assert np.linalg.norm(J, 2) <= value_at(s["bound_T"], delta=delta, T=T) + 1e-15
    assert value_at(s["step_bound"], delta=delta) == pytest.approx(delta)
    assert s["limit"] == 0


def test_rnn_equivalence_by_simulation() -> None:
    rng = np.random.default_rng(4)
    n = 3
    W, U, b = rng.normal(size=(n, n)), rng.normal(size=(n, n)), rng.normal(size=n)
    h = rng.normal(size=n)
    g = np.tanh(h)
    result = exact.to_sympy(solved("rnn_activation_equivalence")["g_t"])
    assert result == sympy.Function("sigma")(exact.symbol("h_t"))
    for _ in range(8):
        x = rng.normal(size=n)
        h = W @ np.tanh(h) + U @ x + b
        g = np.tanh(W @ g + U @ x + b)
        assert np.allclose(g, np.tanh(h))


# --------------------------------------------------------------------------- reading, errors


def test_each_line_renders_as_one_relation_with_its_reason_in_markdown() -> None:
    for name in D.DERIVATIONS:
        s = solved(name)
        der = D.build(name)
        md = "\n".join(markdown.render_solution(s))
        for line in der.lines:
            # the reason's marked formulas as maths, its words escaped
            assert markdown.prose(says(line.reason)) in md
            first = line.math()[0].latex()
            assert break_equation(first) in md  # a long line is broken to fit the page
            assert (
                first.count(" = ")
                + first.count(r" \le ")
                + first.count(r" \Rightarrow ")
                + first.count(r" \to ")
                >= 1
            )


def test_markdown_display_maths_stands_alone() -> None:
    md = "\n".join(markdown.render_solution(solved("vanishing_gradient")))
    lines = md.splitlines()
    for i, text in enumerate(lines):
        if text == "$$":
            assert lines[i - 1] == "" or lines[i - 2] == "$$" or lines[i + 1] == ""


def test_results_are_expressions_in_the_problems_symbols() -> None:
    s = solved("weight_decay_equivalence", symbols={"eta": "alpha"})
    assert s.answers["lambda"].type == "expression"
    assert s.answers["lambda"].symbols == {"alpha", "gamma"}
    assert exact.to_sympy(s["lambda"]) == -2 * exact.symbol("alpha") * exact.symbol("gamma")


def _load_error(given: str) -> str:
    ps = load_text(
        "title: t\nproblems:\n  - id: p\n    kind: derivation\n    given:\n" + given, "f.yaml"
    )
    assert not ps.problems
    return str(ps.errors[0])


def test_an_unknown_derivation_names_the_field_and_suggests() -> None:
    msg = _load_error("      name: weight_decay_equivalnce\n")
    assert "f.yaml:6" in msg and "given.name" in msg and "weight_decay_equivalence" in msg


def test_renaming_an_unknown_symbol_is_refused() -> None:
    msg = _load_error("      name: bn_whitened\n      symbols: {eta: alpha}\n")
    assert "given.symbols.eta" in msg and "bn_whitened has no symbol 'eta'" in msg


def test_renaming_two_symbols_to_one_name_is_refused() -> None:
    msg = _load_error("      name: weight_decay_equivalence\n      symbols: {eta: gamma}\n")
    assert "would name both" in msg


def test_a_notation_letter_is_not_a_usable_name() -> None:
    msg = _load_error("      name: vanishing_gradient\n      symbols: {T: t}\n")
    assert "not a usable symbol name" in msg


# --------------------------------------------------------------------------- misconceptions


def test_every_misconception_changes_an_answer_of_some_derivation() -> None:
    k = kinds.get("derivation")
    for text, options in k.misconceptions.items():
        changed = False
        for name in D.DERIVATIONS:
            right, wrong = solved(name), k.new_solution()
            k.solve(k.Given.model_validate({"name": name}), wrong, **options)
            changed |= any(
                exact.to_sympy(right[key]) != exact.to_sympy(wrong[key]) for key in right.answers
            )
        assert changed, text


def test_the_sign_misconception_gives_plus_two_eta_gamma() -> None:
    k = kinds.get("derivation")
    s = k.new_solution()
    k.solve(k.Given.model_validate({"name": "weight_decay_equivalence"}), s, mistake="lambda_sign")
    assert exact.to_sympy(s["lambda"]) == 2 * exact.symbol("eta") * exact.symbol("gamma")


# --------------------------------------------------------------------------- variants


@pytest.mark.parametrize("name", list(D.DERIVATIONS))
def test_variants_rename_symbols_and_keep_their_promises(name: str) -> None:
    k = kinds.get("derivation")
    for seed in range(6):
        raw = k.generate({"name": name}, random.Random(seed))
        g = k.Given.model_validate(raw)
        assert raw["symbols"], "a variant renames at least one symbol"
        s = k.new_solution()
        k.solve(g, s)
        assert k.broken_promises(g, s) == []


def test_a_renamed_derivation_still_confirms() -> None:
    der = D.build("weight_decay_equivalence", {"eta": "alpha", "gamma": "mu"})
    assert all(d.confirm_line(line) is None for line in der.lines)
    assert all(d.confirm_result(r) is None for r in der.results)


def test_broken_promises_notice_a_letter_left_behind() -> None:
    k = kinds.get("derivation")
    g = k.Given.model_validate({"name": "weight_decay_equivalence", "symbols": {"eta": "alpha"}})
    s = k.new_solution()
    k.solve(g, s)
    s.steps[0].text += " (η)"
    assert any("η" in p for p in k.broken_promises(g, s))


def test_the_shipped_derivations_solve_with_their_results() -> None:
    from solver import load, solve

    ps = load("problems/ift6135-rnn-decoding.yaml")
    assert ps.errors == []
    mine = {p.id: p for p in ps.problems if p.kind == "derivation"}
    assert {p.given.name for p in mine.values()} == set(D.DERIVATIONS)
    s = solve(mine["weight-decay-equivalence"])
    assert exact.to_sympy(s["lambda"]) == -2 * exact.symbol("eta") * exact.symbol("gamma")
    s = solve(mine["weightnorm-gradient"])
    assert exact.to_sympy(s["s"]) == exact.symbol("gamma") / exact.symbol("norm_u")
    s = solve(mine["vanishing-gradient"])
    assert exact.to_sympy(s["bound_T"]) == exact.symbol("delta") ** exact.symbol("T")


def test_renaming_u_renames_its_norm_too() -> None:
    s = solved("weightnorm_gradient", symbols={"u": "v"})
    assert exact.to_sympy(s["s"]) == exact.symbol("gamma") / exact.symbol("norm_v")
    assert (
        d.confirm_result(
            next(r for r in D.build("weightnorm_gradient", {"u": "v"}).results if r.key == "s")
        )
        is None
    )


def test_vanishing_gradient_states_its_results_as_the_bounds_they_are():
    ps = solver.load("problems/ift6135-rnn-decoding.yaml")
    s = solver.solve(ps.get("vanishing-gradient"))
    results = next(st for st in s.steps if st.text == "The results.")
    shown = [eq.text() for eq in results.equations]
    assert shown[0] == "‖Jₜ‖ ≤ δ"
    assert shown[1] == "‖∂h_T/∂h₀‖ ≤ δ^T"
    assert shown[2].endswith("= 0")
