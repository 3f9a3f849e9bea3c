"""SGD with weight decay, Adam with L2 and AdamW: exact answers against numeric runs."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest
import sympy

from solver import exact, kinds, load_text
from solver.errors import FieldError
from solver.solution import Solution


def run(kind: str, given: dict, overrides: dict | None = None, **options: object) -> Solution:
    k = kinds.get(kind)
    s = k.new_solution(overrides)
    k.solve(k.Given.model_validate(given), s, **options)
    return s


def floats(x: object) -> np.ndarray:
    return np.array(exact.to_float(x), dtype=float)


LECTURE = {
    "theta": [[1, -2], [3, 0]],
    "grad": [["1/2", "1/2"], [-1, 2]],
    "lr": "1/10",
    "weight_decay": "1/2",
}


# --------------------------------------------------------------------------- sgd_weight_decay


def test_lecture_step_matches_numpy() -> None:
    s = run("sgd_weight_decay", LECTURE)
    W = np.array([[1, -2], [3, 0]], dtype=float)
    G = np.array([[0.5, 0.5], [-1, 2]])
    alpha, lam = 0.1, 0.5
    assert np.allclose(floats(s["decayed"]), (1 - alpha * lam) * W)
    assert np.allclose(floats(s["theta_next"]), (1 - alpha * lam) * W - alpha * G)
    assert all(exact.is_rational(x) for x in exact.flatten(s["theta_next"]))


def test_the_l2_gamma_gives_plain_sgd_the_same_step() -> None:
    """SGD on ⟨G, W⟩ + γ‖W‖² with the answer's γ, its gradient G + 2γW: the same weights."""
    s = run("sgd_weight_decay", LECTURE)
    gamma = s["l2_equivalent_gamma"]
    W = [[Fraction(1), Fraction(-2)], [Fraction(3), Fraction(0)]]
    G = [[Fraction(1, 2), Fraction(1, 2)], [Fraction(-1), Fraction(2)]]
    step = [
        [w - Fraction(1, 10) * (g + 2 * gamma * w) for w, g in zip(rw, rg, strict=True)]
        for rw, rg in zip(W, G, strict=True)
    ]
    assert step == s["theta_next"]


def test_add_form_is_the_ift6135_update_and_needs_a_negative_lambda() -> None:
    given = {"theta": [2, -1], "grad": [1, 1], "lr": "1/10", "weight_decay": "-1/50", "form": "add"}
    s = run("sgd_weight_decay", given)
    theta, grad = np.array([2.0, -1.0]), np.array([1.0, 1.0])
    assert np.allclose(floats(s["theta_next"]), theta - 0.1 * grad + (-0.02) * theta)
    gamma = s["l2_equivalent_gamma"]
    assert gamma == Fraction(1, 10)  # λ = −2ηγ  ⇔  γ = −λ/(2η) = 0.02/0.2
    assert np.allclose(floats(s["theta_next"]), theta - 0.1 * (grad + 2 * float(gamma) * theta))


def test_symbols_give_the_textbook_formulas() -> None:
    s = run(
        "sgd_weight_decay",
        {"theta": "theta", "grad": "g", "lr": "eta", "weight_decay": "lambda", "form": "add"},
    )
    th, g, eta, lam = (exact.symbol(n) for n in ("theta", "g", "eta", "lambda"))
    assert sympy.simplify(exact.to_sympy(s["theta_next"]) - ((1 + lam) * th - eta * g)) == 0
    assert sympy.simplify(exact.to_sympy(s["l2_equivalent_gamma"]) + lam / (2 * eta)) == 0
    shrink = run(
        "sgd_weight_decay", {"theta": "theta", "grad": "g", "lr": "eta", "weight_decay": "lambda"}
    )
    assert sympy.simplify(exact.to_sympy(shrink["decayed"]) - (1 - eta * lam) * th) == 0
    assert sympy.simplify(exact.to_sympy(shrink["l2_equivalent_gamma"]) - lam / 2) == 0


def test_sgd_matches_torch_optim() -> None:
    torch = pytest.importorskip("torch")
    s = run("sgd_weight_decay", LECTURE)
    p = torch.nn.Parameter(torch.tensor([[1.0, -2.0], [3.0, 0.0]], dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.tensor([[0.5, 0.5], [-1.0, 2.0]], dtype=torch.float64)
    opt.step()
    assert np.allclose(p.detach().numpy(), floats(s["theta_next"]), rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    ("options", "decayed"), [({"sign": -1}, 21 / 20), ({"decay_lr": False}, 1 / 2), ({}, 19 / 20)]
)
def test_misconceptions_reproduce_the_mistake(options: dict, decayed: float) -> None:
    s = run("sgd_weight_decay", LECTURE, **options)
    assert floats(s["decayed"])[0, 0] == pytest.approx(decayed)


def test_every_sgd_misconception_changes_an_answer() -> None:
    right = run("sgd_weight_decay", LECTURE)
    for text, options in kinds.get("sgd_weight_decay").misconceptions.items():
        wrong = run("sgd_weight_decay", LECTURE, **options)
        assert any(wrong[k] != right[k] for k in right.answers), text


def test_factor_two_misconception_gives_gamma_equal_lambda() -> None:
    assert run("sgd_weight_decay", LECTURE, factor=1)["l2_equivalent_gamma"] == Fraction(1, 2)


def test_decay_after_the_step_misconception() -> None:
    s = run("sgd_weight_decay", LECTURE, decay_after=True)
    W = np.array([[1, -2], [3, 0]], dtype=float)
    G = np.array([[0.5, 0.5], [-1, 2]])
    assert np.allclose(floats(s["theta_next"]), 0.95 * (W - 0.1 * G))


def _error(kind: str, given: str) -> str:
    ps = load_text(
        f"title: t\nproblems:\n  - id: p\n    kind: {kind}\n    given:\n{given}", "f.yaml"
    )
    assert not ps.problems
    return str(ps.errors[0])


def test_a_gradient_of_another_shape_is_an_error_naming_grad() -> None:
    msg = _error(
        "sgd_weight_decay",
        "      theta: [1, 2]\n      grad: [1, 2, 3]\n      lr: 0.1\n      weight_decay: 0.1\n",
    )
    assert "given.grad" in msg and "[3]" in msg and "[2]" in msg


def test_a_nonpositive_learning_rate_is_an_error() -> None:
    msg = _error(
        "sgd_weight_decay", "      theta: 1\n      grad: 1\n      lr: 0\n      weight_decay: 0.1\n"
    )
    assert "given.lr" in msg and "> 0" in msg


def test_a_wrong_form_is_an_error() -> None:
    msg = _error(
        "sgd_weight_decay",
        "      theta: 1\n      grad: 1\n      lr: 0.1\n"
        "      weight_decay: 0.1\n      form: multiply\n",
    )
    assert "given.form" in msg and "shrink" in msg


# --------------------------------------------------------------------------- adam_step

ADAM = {
    "theta": [1, 1],
    "grads": [["1/100", 10], ["1/50", "1001/100"]],
    "lr": "1/10",
    "betas": ["9/10", "999/1000"],
    "eps": 0,
    "weight_decay": "1/10",
}


def numpy_adam(
    theta: list[float],
    grads: list[list[float]],
    lr: float,
    b1: float,
    b2: float,
    eps: float,
    wd: float,
    decoupled: bool,
    *,
    bias_correction: bool = True,
) -> list[np.ndarray]:
    """Adam / AdamW as the papers write them, in float64 (an independent implementation)."""
    th = np.array(theta, dtype=float)
    m = np.zeros_like(th)
    v = np.zeros_like(th)
    out = []
    for t, g in enumerate(grads, start=1):
        g = np.array(g, dtype=float)
        if not decoupled:
            g = g + wd * th
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh = m / (1 - b1**t) if bias_correction else m
        vh = v / (1 - b2**t) if bias_correction else v
        if decoupled:
            th = th * (1 - lr * wd)
        th = th - lr * mh / (np.sqrt(vh) + eps)
        out.append(th.copy())
    return out


def test_adam_and_adamw_match_a_numpy_run() -> None:
    s = run("adam_step", ADAM)
    grads = [[0.01, 10.0], [0.02, 10.01]]
    for method, decoupled in (("adam_l2", False), ("adamw", True)):
        ref = numpy_adam([1, 1], grads, 0.1, 0.9, 0.999, 0.0, 0.1, decoupled)
        for t, th in enumerate(ref, start=1):
            assert np.allclose(floats(s[f"{method}.theta[{t}]"]), th, rtol=1e-13, atol=0)


def test_adam_matches_torch_optim_with_default_eps() -> None:
    torch = pytest.importorskip("torch")
    given = {**ADAM, "eps": "1e-8", "grads": [["1/100", 10], ["-1/20", 3], [2, "1/2"]]}
    s = run("adam_step", given)
    for method, cls in (("adam_l2", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        p = torch.nn.Parameter(torch.tensor([1.0, 1.0], dtype=torch.float64))
        opt = cls([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
        for t, g in enumerate(given["grads"], start=1):
            p.grad = torch.tensor([float(Fraction(x)) for x in g], dtype=torch.float64)
            opt.step()
            assert np.allclose(
                p.detach().numpy(), floats(s[f"{method}.theta[{t}]"]), rtol=1e-12, atol=0
            )
            assert np.allclose(
                opt.state[p]["exp_avg_sq"].numpy(),
                floats(s[f"{method}.v[{t}]"]),
                rtol=1e-12,
                atol=0,
            )


def test_the_shipped_numbers_are_exact_and_rational_for_adam_l2() -> None:
    s = run("adam_step", ADAM)
    assert s["adam_l2.theta[1]"] == [Fraction(9, 10)] * 2
    assert s["adam_l2.theta[2]"] == [Fraction(4, 5)] * 2  # g + λθ is the same at both steps
    assert isinstance(s["adamw.theta[2]"][0], exact.Surd)  # AdamW's second step has √v̂


def test_relative_decay_adamw_is_eta_lambda_for_every_weight() -> None:
    s = run("adam_step", ADAM)
    assert s["relative_decay"][1] == [Fraction(1, 100)] * 2


def test_relative_decay_adam_l2_by_hand() -> None:
    """Last step: η·(bias-corrected average of λθ)/((√v̂ + ε)·θ), from the numbers by hand."""
    s = run("adam_step", ADAM)
    lam, eta, b1 = Fraction(1, 10), Fraction(1, 10), Fraction(9, 10)
    theta0, theta1 = Fraction(1), Fraction(9, 10)
    m_decay = ((1 - b1) * (b1 * lam * theta0 + lam * theta1)) / (1 - b1**2)
    for i, g_l2 in enumerate((Fraction(11, 100), Fraction(101, 10))):  # |g + λθ|, constant
        assert s["relative_decay"][0][i] == eta * m_decay / (g_l2 * theta1)
    small, large = s["relative_decay"][0]
    assert small > 10 * Fraction(1, 100) * Fraction(1, 2)  # the small-gradient weight: ~0.096
    assert large < Fraction(1, 100) < small


def test_first_step_relative_decay_is_eta_lambda_over_the_gradient() -> None:
    s = run("adam_step", {**ADAM, "grads": [["1/100", 10]]})
    assert s["relative_decay"][0] == [
        Fraction(1, 100) / Fraction(11, 100),
        Fraction(1, 100) / Fraction(101, 10),
    ]


def test_error_carried_forward_through_an_earlier_answer() -> None:
    s = run("adam_step", ADAM, overrides={"adam_l2.theta[1]": [Fraction(1, 2), Fraction(1, 2)]})
    assert s["adam_l2.theta[1]"] == [Fraction(1, 2)] * 2
    # step 2 from θ₁ = 1/2 (by hand): g' = g₂ + λθ₁ keeps its sign, so compare with numpy
    m1 = np.array([0.011, 1.01])
    v1 = np.array([0.11, 10.1]) ** 2 * 0.001
    g2 = np.array([0.02, 10.01]) + 0.1 * 0.5
    m2, v2 = 0.9 * m1 + 0.1 * g2, 0.999 * v1 + 0.001 * g2**2
    th2 = 0.5 - 0.1 * (m2 / (1 - 0.81)) / np.sqrt(v2 / (1 - 0.999**2))
    assert np.allclose(floats(s["adam_l2.theta[2]"]), th2, rtol=1e-13)


@pytest.mark.parametrize("options", [{"bias_correction": False}])
def test_no_bias_correction_matches_numpy_without_it(options: dict) -> None:
    s = run("adam_step", ADAM, **options)
    ref = numpy_adam(
        [1, 1],
        [[0.01, 10.0], [0.02, 10.01]],
        0.1,
        0.9,
        0.999,
        0.0,
        0.1,
        False,
        bias_correction=False,
    )
    assert np.allclose(floats(s["adam_l2.theta[2]"]), ref[1], rtol=1e-13)


def test_swap_misconception_exchanges_the_two_methods() -> None:
    right, swapped = run("adam_step", ADAM), run("adam_step", ADAM, swap=True)
    assert swapped["adam_l2.theta[2]"] == right["adamw.theta[2]"]
    assert swapped["adamw.theta[2]"] == right["adam_l2.theta[2]"]


def test_every_adam_misconception_changes_an_answer() -> None:
    given = {**ADAM, "eps": "1/1000"}  # with ε > 0 the ε misconception shows too
    right = run("adam_step", given)
    for text, options in kinds.get("adam_step").misconceptions.items():
        wrong = run("adam_step", given, **options)
        assert any(exact.to_float(wrong[k]) != exact.to_float(right[k]) for k in right.answers), (
            text
        )


def test_eps_zero_with_a_zero_gradient_is_an_error_naming_eps() -> None:
    with pytest.raises(FieldError) as err:
        run("adam_step", {**ADAM, "grads": [[0, 1]], "weight_decay": 0})
    assert err.value.field == "eps" and "0/0" in err.value.message


def test_adam_given_errors() -> None:
    msg = _error(
        "adam_step",
        "      theta: [1, 1]\n      grads: [[1, 2], [1, 2, 3]]\n      weight_decay: 0.1\n",
    )
    assert "given.grads[1]" in msg and "3 values but theta has 2" in msg
    msg = _error(
        "adam_step",
        "      theta: [1]\n      grads: [[1]]\n      betas: [0.9, 1]\n      weight_decay: 0.1\n",
    )
    assert "given.betas[1]" in msg and "[0, 1)" in msg


# --------------------------------------------------------------------------- variants


@pytest.mark.parametrize(
    ("kind", "given", "seeds"), [("sgd_weight_decay", LECTURE, 20), ("adam_step", ADAM, 12)]
)
def test_variants_keep_their_promises(kind: str, given: dict, seeds: int) -> None:
    k = kinds.get(kind)
    for seed in range(seeds):
        raw = k.generate(given, random.Random(seed))
        assert raw != given
        g = k.Given.model_validate(raw)
        s = k.new_solution()
        k.solve(g, s)
        assert k.broken_promises(g, s) == [], raw


# --------------------------------------------------------------------------- shipped problems


def _shipped(path: str, pid: str) -> Solution:
    from solver import load, solve

    ps = load(path)
    assert ps.errors == []
    problem = ps.get(pid)
    assert problem is not None
    return solve(problem)


def test_shipped_lecture_weight_decay() -> None:
    s = _shipped("problems/lecture-normalization.yaml", "weight-decay")
    W, G = np.array([[1.0, -2.0], [3.0, 0.0]]), np.array([[0.5, 0.5], [-1.0, 2.0]])
    assert np.allclose(floats(s["theta_next"]), 0.95 * W - 0.1 * G)
    assert s["l2_equivalent_gamma"] == Fraction(1, 4)


def test_shipped_adam_versus_adamw() -> None:
    s = _shipped("problems/ift6135-rnn-decoding.yaml", "adam-vs-adamw")
    ref = numpy_adam([1, 1], [[0.01, 10.0], [0.02, 10.01]], 0.1, 0.9, 0.999, 0.0, 0.1, True)
    assert np.allclose(floats(s["adamw.theta[2]"]), ref[1], rtol=1e-13)
    assert [a.key for a in s.asked()] == [
        "adam_l2.theta[1]",
        "adam_l2.theta[2]",
        "adamw.theta[1]",
        "adamw.theta[2]",
        "relative_decay",
    ]
    small, large = s["relative_decay"][0]
    assert small > s["relative_decay"][1][0] > large
