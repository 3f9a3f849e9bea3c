"""softmax_ce at a temperature: p = softmax(z/T), the entropy of p, its limits as T → 0 and
T → ∞, the loss and its gradient (p − y)/T, each compared with values computed here by hand
(math.exp, Fractions); students' equivalent forms accepted and the temperature mistakes named.
The torch side is tests/verify/test_crosscheck_model_size.py."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import sympy
import yaml

import solver
from solver import exact, kinds
from solver.check import AnswerKey, read_answers
from solver.compare import Judge

from .test_model_size import load_error, solve_yaml


def problem(given: dict[str, Any], pid: str = "s") -> str:
    return yaml.safe_dump({"problems": [{"id": pid, "kind": "softmax_ce", "given": given}]})


def by_hand(z: list[float], T: float) -> list[float]:
    """softmax(z/T) with math.exp (shifted by the largest logit), nothing shared with the kind."""
    w = [math.exp((v - max(z)) / T) for v in z]
    return [x / sum(w) for x in w]


def floats(x: Any) -> Any:
    return exact.to_float(x)


@pytest.mark.parametrize("T", ["1/2", 1, 2, "3/2"])
def test_probabilities_entropy_loss_and_gradient_at_a_temperature_match_by_hand(T):
    z, y = [2, 0, 1, -1], 2
    s = solve_yaml(problem({"logits": z, "label": y, "temperature": T}))
    t = float(Fraction(T))
    p = by_hand(z, t)
    assert floats(s["probabilities"]) == pytest.approx(p, rel=1e-12)
    assert floats(s["entropy"]) == pytest.approx(-sum(q * math.log(q) for q in p), rel=1e-12)
    assert floats(s["loss"]) == pytest.approx(-math.log(p[y]), rel=1e-12)
    onehot = [1 if j == y else 0 for j in range(len(z))]
    want = [(q - o) / t for q, o in zip(p, onehot, strict=True)]
    assert floats(s["grad_logits"]) == pytest.approx(want, rel=1e-12)
    # the gradient is exactly (p − y)/T, in the kind's own exact values
    for g, q, o in zip(s["grad_logits"], s["probabilities"], onehot, strict=True):
        assert sympy.simplify(exact.to_sympy(g) - (exact.to_sympy(q) - o) / Fraction(T)) == 0


def test_the_gradient_is_the_derivative_of_the_loss_by_a_finite_difference():
    z, T, y = [1, 3, 0], Fraction(2, 3), 0

    def loss(v: list[float]) -> float:
        return -math.log(by_hand(v, float(T))[y])

    s = solve_yaml(problem({"logits": z, "label": y, "temperature": "2/3"}))
    h = 1e-6
    for j in range(3):
        up = [v + (h if i == j else 0) for i, v in enumerate(z)]
        down = [v - (h if i == j else 0) for i, v in enumerate(z)]
        numeric = (loss(up) - loss(down)) / (2 * h)
        assert floats(s["grad_logits"][j]) == pytest.approx(numeric, rel=1e-6)


def test_exact_values_are_written_with_e():
    s = solve_yaml(problem({"logits": [1, 0, 0], "label": 0, "temperature": "1/2"}))
    e = sympy.E
    p0 = exact.to_sympy(s["probabilities"][0])
    assert sympy.simplify(p0 - e**2 / (e**2 + 2)) == 0
    H = exact.to_sympy(s["entropy"])
    want = -(e**2 / (e**2 + 2)) * sympy.log(e**2 / (e**2 + 2)) - 2 * (1 / (e**2 + 2)) * sympy.log(
        1 / (e**2 + 2)
    )
    assert sympy.simplify(H - want) == 0


def test_the_entropy_rises_with_the_temperature_towards_log_c():
    z = [3, 1, 0, 0, -2]
    Hs = [
        floats(solve_yaml(problem({"logits": z, "label": 0, "temperature": T}))["entropy"])
        for T in ["1/4", "1/2", 1, 2, 8, 64]
    ]
    assert Hs == sorted(Hs) and Hs[0] > 0 and Hs[-1] < math.log(5)
    assert Hs[-1] == pytest.approx(math.log(5), rel=1e-3)


def test_the_limits_are_one_hot_on_the_argmax_and_uniform():
    s = solve_yaml(problem({"logits": [[0, 4, 1], [2, -1, 2]], "labels": [1, 0], "temperature": 1}))
    assert s["cold_limit"] == [[0, 1, 0], [Fraction(1, 2), 0, Fraction(1, 2)]]
    assert s["hot_limit"] == [[Fraction(1, 3)] * 3] * 2
    # and they are where softmax(z/T) goes, by hand at a very small and a very large T
    for row, cold in zip([[0, 4, 1], [2, -1, 2]], s["cold_limit"], strict=True):
        assert by_hand(row, 1e-3) == pytest.approx([float(c) for c in cold], abs=1e-12)
        assert by_hand(row, 1e6) == pytest.approx([1 / 3] * 3, abs=1e-5)


def test_without_a_temperature_nothing_changes():
    """The keys and steps of a problem that gives no temperature are those of T = 1 before
    temperatures existed; T = 1 written out gives the same shared answers, plus the new ones."""
    given = {"logits": [[1, 2, 3], [0, 0, 1]], "labels": [0, 2]}
    plain = solve_yaml(problem(given))
    assert list(plain.answers) == ["probabilities", "predicted", "loss", "grad_logits"]
    assert not any("temperature" in step.text.lower() for step in plain.steps)
    one = solve_yaml(problem({**given, "temperature": 1}))
    for key in plain.answers:
        assert exact.fmt(one[key]) == exact.fmt(plain[key])
    assert {"entropy", "cold_limit", "hot_limit"} <= set(one.answers)


def test_symbolic_logits_at_a_temperature_have_no_cold_limit():
    s = solve_yaml(problem({"logits": ["a", 0], "label": 0, "temperature": 2}))
    assert "cold_limit" not in s.answers and s["hot_limit"] == [Fraction(1, 2)] * 2
    a = exact.symbol("a")
    p0 = exact.to_sympy(s["probabilities"][0])
    assert sympy.simplify(p0 - 1 / (1 + sympy.exp(-a / 2))) == 0


@pytest.mark.parametrize(
    "value,words",
    [
        (0, "must be > 0"),
        (-1, "must be > 0"),
        ("sqrt(2)", "must be a rational number"),
        ("tau", "expected a number"),
    ],
)
def test_a_bad_temperature_names_its_field(value, words):
    message = load_error(problem({"logits": [1, 2], "label": 0, "temperature": value}))
    assert "field 'given.temperature'" in message and words in message


# --------------------------------------------------------------------------- checking


def check(text: str, answers: dict[str, Any], judge: Judge, tmp_path: Path) -> dict[str, Any]:
    ps = solver.load_text(text, "t.yaml")
    assert not ps.errors
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"answers": {"s": answers}}), encoding="utf-8")
    return {r.key: r for r in AnswerKey(ps).check(read_answers(path), judge).results}


HALF = problem({"logits": [2, 1, 0], "label": 1, "temperature": "1/2"})


def test_equivalent_forms_are_accepted(judge: Judge, tmp_path: Path):
    p = by_hand([2, 1, 0], 0.5)
    S = "(1 + e^2 + e^4)"
    r = check(
        HALF,
        {
            "probabilities": ["1/(1 + e^-2 + e^-4)", f"e^2/{S}", "exp(-4)/(1 + exp(-2) + exp(-4))"],
            "predicted": 0,
            "entropy": f"log{S} - (4e^4 + 2e^2)/{S}",
            "cold_limit": [1, 0, 0],
            "hot_limit": ["1/3", "1/3", "1/3"],
            "loss": f"log({S}) - 2",
            "grad_logits": [round(2 * p[0], 4), round(2 * (p[1] - 1), 4), round(2 * p[2], 4)],
        },
        judge,
        tmp_path,
    )
    assert all(x.verdict == "correct" for x in r.values()), {
        k: x.feedback for k, x in r.items() if x.verdict != "correct"
    }


def test_tied_largest_logits_have_one_right_cold_limit(judge: Judge, tmp_path: Path):
    text = problem({"logits": [3, 0, 3], "label": 0, "temperature": 2})
    r = check(text, {"cold_limit": ["1/2", 0, 0.5]}, judge, tmp_path)
    assert r["cold_limit"].verdict == "correct"
    r = check(text, {"cold_limit": [1, 0, 0]}, judge, tmp_path)
    assert r["cold_limit"].verdict != "correct"


@pytest.mark.parametrize(
    "options,keys,name",
    [
        ({"temperature_use": "ignore"}, ["probabilities", "entropy", "loss"], "forgot to divide"),
        ({"temperature_use": "multiply"}, ["cold_limit", "hot_limit"], "multiplied"),
        ({"grad_temperature": False}, ["grad_logits"], "without the chain rule's 1/T"),
    ],
)
def test_temperature_mistakes_are_named(options, keys, name, judge: Judge, tmp_path: Path):
    ps = solver.load_text(HALF, "t.yaml")
    wrong = solver.solve(ps.get("s"), **options)
    right = solver.solve(ps.get("s"))
    answers = {k: yaml.safe_load(yaml.safe_dump(_plain(wrong[k]))) for k in keys}
    for k in keys:
        assert exact.fmt(wrong[k]) != exact.fmt(right[k]), k
    r = check(HALF, answers, judge, tmp_path)
    # a later key may earn credit carried forward from the student's own p; the mistake is
    # named either way
    for k in keys:
        assert r[k].verdict in ("incorrect", "carried_forward"), (k, r[k])
        assert name in (r[k].misconception or ""), (k, r[k])
    assert r[keys[0]].verdict == "incorrect"


def _plain(value: Any) -> Any:
    """An answer as a student would type it: exact values as strings."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return exact.fmt(value) if not isinstance(value, int) else value


def test_the_kind_declares_the_three_temperature_mistakes():
    names = " | ".join(kinds.get("softmax_ce").misconceptions)
    for words in ("divide the logits by the temperature", "multiplied the logits", "1/T"):
        assert words in names


# --------------------------------------------------------------------------- distillation


def distill(given: dict[str, Any]) -> str:
    return yaml.safe_dump({"problems": [{"id": "s", "kind": "distillation", "given": given}]})


def kl_by_hand(q: list[float], p: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(q, p, strict=True) if a > 0)


@pytest.mark.parametrize("T", [1, 2, "5/2", "1/2"])
def test_distillation_matches_by_hand(T):
    zt, zs, y, alpha = [4, 1, -1, 0], [2, 2, 0, -1], 0, Fraction(3, 10)
    s = solve_yaml(
        distill({"teacher": zt, "student": zs, "temperature": T, "label": y, "alpha": "3/10"})
    )
    t = float(Fraction(T))
    q, p = by_hand(zt, t), by_hand(zs, t)
    kl = kl_by_hand(q, p)
    assert floats(s["soft_targets"]) == pytest.approx(q, rel=1e-12)
    assert floats(s["student_probabilities"]) == pytest.approx(p, rel=1e-12)
    assert floats(s["kl"]) == pytest.approx(kl, rel=1e-10)
    assert floats(s["soft_loss"]) == pytest.approx(t * t * kl, rel=1e-10)
    want = [t * (a - b) for a, b in zip(p, q, strict=True)]
    assert floats(s["grad_student"]) == pytest.approx(want, rel=1e-10, abs=1e-14)
    hard = -math.log(by_hand(zs, 1)[y])
    assert floats(s["hard_loss"]) == pytest.approx(hard, rel=1e-12)
    a = float(alpha)
    assert floats(s["loss"]) == pytest.approx(a * t * t * kl + (1 - a) * hard, rel=1e-10)


def test_the_soft_gradient_is_the_derivative_of_the_soft_loss():
    zt, zs, T = [1, -2, 3], [0, 1, 1], 3
    s = solve_yaml(distill({"teacher": zt, "student": zs, "temperature": T}))

    def soft(v: list[float]) -> float:
        return T * T * kl_by_hand(by_hand(zt, T), by_hand(v, T))

    h = 1e-6
    for j in range(3):
        up = [v + (h if i == j else 0) for i, v in enumerate(zs)]
        down = [v - (h if i == j else 0) for i, v in enumerate(zs)]
        numeric = (soft(up) - soft(down)) / (2 * h)
        assert floats(s["grad_student"][j]) == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_t_squared_keeps_the_soft_gradient_the_same_size_at_a_high_temperature():
    """Why Hinton et al. scale by T²: for large T, T²·∂KL/∂z_s = T(p − q) tends to
    (d − mean d)/C with d = z_s − z_t, a limit independent of T; unscaled, (p − q)/T, it
    vanishes like 1/T²."""
    zt, zs = [3, 0, -1, 2], [1, 1, 0, -2]
    d = [b - a for a, b in zip(zt, zs, strict=True)]
    limit = [(x - sum(d) / 4) / 4 for x in d]
    for T in (100, 1000):
        s = solve_yaml(distill({"teacher": zt, "student": zs, "temperature": T}))
        grad = floats(s["grad_student"])
        assert grad == pytest.approx(limit, rel=10 / T, abs=10 / T)
        unscaled = [g / (T * T) for g in grad]  # (p − q)/T
        assert max(abs(g) for g in unscaled) < 1 / T**2


def test_kl_is_the_cross_entropy_less_the_teachers_entropy():
    zt, zs = [2, 0, 1], [0, 0, 3]
    s = solve_yaml(distill({"teacher": zt, "student": zs, "temperature": "3/2"}))
    q = [exact.to_sympy(v) for v in s["soft_targets"]]
    p = [exact.to_sympy(v) for v in s["student_probabilities"]]
    ce = -sum(a * sympy.log(b) for a, b in zip(q, p, strict=True))
    H = -sum(a * sympy.log(a) for a in q)
    assert float(ce - H - exact.to_sympy(s["kl"])) == pytest.approx(0, abs=1e-13)


@pytest.mark.parametrize(
    "options,key,name",
    [
        ({"t_squared": False}, "soft_loss", "forgot the T²"),
        ({"student_at_T": False}, "student_probabilities", "softened the teacher only"),
        ({"kl_swapped": True}, "kl", "KL's arguments swapped"),
        ({"temperature_use": "ignore"}, "soft_targets", "forgot to divide"),
        ({"grad_temperature": False}, "grad_student", "without the chain rule's 1/T"),
    ],
)
def test_distillation_mistakes_are_named(options, key, name, judge: Judge, tmp_path: Path):
    text = distill({"teacher": [3, 0, 1], "student": [1, 2, 0], "temperature": 2, "label": 0})
    ps = solver.load_text(text, "t.yaml")
    wrong = solver.solve(ps.get("s"), **options)
    assert exact.fmt(wrong[key]) != exact.fmt(solver.solve(ps.get("s"))[key])
    r = check(text, {key: yaml.safe_load(yaml.safe_dump(_plain(wrong[key])))}, judge, tmp_path)
    assert r[key].verdict == "incorrect" and name in (r[key].misconception or ""), r[key]


def test_the_swapped_kl_mistake_has_its_own_true_gradient():
    """The mistake is reproduced faithfully: KL(p‖q) and its derivative, not a relabelling."""
    zt, zs, T = [3, 0, 1], [1, 2, 0], 2
    text = distill({"teacher": zt, "student": zs, "temperature": T})
    wrong = solver.solve(solver.load_text(text, "t.yaml").get("s"), kl_swapped=True)

    def swapped(v: list[float]) -> float:
        return T * T * kl_by_hand(by_hand(v, T), by_hand(zt, T))

    assert T * T * floats(wrong["kl"]) == pytest.approx(swapped(zs), rel=1e-12)
    h = 1e-6
    for j in range(3):
        up = [v + (h if i == j else 0) for i, v in enumerate(zs)]
        down = [v - (h if i == j else 0) for i, v in enumerate(zs)]
        numeric = (swapped(up) - swapped(down)) / (2 * h)
        assert floats(wrong["grad_student"][j]) == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_a_distillation_answer_in_another_form_is_right(judge: Judge, tmp_path: Path):
    text = distill({"teacher": [2, 0], "student": [0, 0], "temperature": 2})
    # q = (e/(1 + e), 1/(1 + e)), p = (1/2, 1/2): KL = log 2 − H(q), T(p − q) = 2(p − q)
    H = "-(e/(1+e))*log(e/(1+e)) - (1/(1+e))*log(1/(1+e))"
    r = check(
        text,
        {
            "soft_targets": ["1/(1 + exp(-1))", "1/(1 + e)"],
            "kl": f"log(2) - ({H})",
            "soft_loss": f"4*(log 2 - ({H}))",
            "grad_student": ["1 - 2e/(1+e)", "(e - 1)/(e + 1)"],
            "student_probabilities": [0.5, "1/2"],
        },
        judge,
        tmp_path,
    )
    assert all(x.verdict == "correct" for x in r.values()), {
        k: x.feedback for k, x in r.items() if x.verdict != "correct"
    }


@pytest.mark.parametrize(
    "given,field,words",
    [
        ({"student": [1, 2, 3]}, "student", "has 3 logits but the teacher has 2"),
        ({"alpha": "1/2"}, "alpha", "give a label"),
        ({"alpha": 2, "label": 0}, "alpha", "at most 1"),
        ({"label": 2}, "label", "below 2"),
        ({"temperature": 0}, "temperature", "must be > 0"),
    ],
)
def test_bad_distillation_givens_name_their_field(given, field, words):
    base = {"teacher": [1, 0], "student": [0, 1], "temperature": 2}
    message = load_error(distill({**base, **given}))
    assert f"field 'given.{field}'" in message and words in message, message


@pytest.mark.parametrize("T", [None, 1])
def test_temperature_mistakes_are_skipped_where_they_change_nothing(T):
    """At T = 1 (or with no temperature) the checker is told the temperature mistakes do not
    apply, instead of re-solving for the same answers; the other mistakes still run."""
    given = {"logits": [1, 0, 2], "label": 0, **({"temperature": T} if T else {})}
    key = AnswerKey(solver.load_text(problem(given), "t.yaml"))
    skipped = {d.mistake for d in key.diagnostics}
    temperature = {
        n for n, o in kinds.get("softmax_ce").misconceptions.items() if "temperature" in str(o)
    }
    assert skipped == temperature and len(temperature) == 3
    given = {"teacher": [1, 0], "student": [0, 1], "temperature": 1}
    key = AnswerKey(solver.load_text(distill(given), "t.yaml"))
    skipped = {d.mistake for d in key.diagnostics}
    assert len(skipped) == 5 and not any("swapped" in n for n in skipped)
