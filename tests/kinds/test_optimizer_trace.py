"""Optimizer traces: steps worked by hand, torch's conventions (first momentum buffer, ε outside
the root, decoupled decay), schedules (cosine's closed and chainable forms agree),
misconceptions named by the checker, objectives read safely, bad input."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
import yaml

from solver import exact, kinds, load_text, solve
from solver.check import AnswerKey, read_answers
from solver.compare import Judge
from solver.kinds.optimizer_trace import (
    ScheduleSpec,
    cosine_chainable,
    read_objective,
    scheduled_lr,
)
from solver.solution import Solution


def run(given: dict, **options: object) -> Solution:
    k = kinds.get("optimizer_trace")
    s = k.new_solution()
    k.solve(k.Given.model_validate(given), s, **options)
    return s


def floats(x: object) -> list[float]:
    return exact.to_float(x)


MOMENTUM = {
    "optimizer": {"name": "sgd", "lr": "1/10", "momentum": "9/10"},
    "theta": [1, -2],
    "objective": "theta[0]^2 + 3*theta[1]^2",
    "steps": 3,
}


def test_momentum_by_hand_with_torchs_first_buffer() -> None:
    """b₁ = g₁ (no dampening on the first step), then b ← 0.9b + g; θ ← θ − 0.1b."""
    s = run(MOMENTUM)
    theta = [Fraction(1), Fraction(-2)]
    buf = None
    for t in (1, 2, 3):
        g = [2 * theta[0], 6 * theta[1]]
        buf = g if buf is None else [Fraction(9, 10) * b + x for b, x in zip(buf, g, strict=True)]
        theta = [x - Fraction(1, 10) * b for x, b in zip(theta, buf, strict=True)]
        assert s[f"grad[{t}]"] == g and s[f"momentum_buffer[{t}]"] == buf
        assert s[f"theta[{t}]"] == theta


def test_dampening_is_skipped_on_the_first_step_only() -> None:
    s = run(
        {
            "optimizer": {"name": "sgd", "lr": 1, "momentum": "1/2", "dampening": "1/2"},
            "theta": [0],
            "grads": [[4], [4]],
        }
    )
    assert s["momentum_buffer[1]"] == [4]  # not (1 − τ)·4
    assert s["momentum_buffer[2]"] == [Fraction(1, 2) * 4 + Fraction(1, 2) * 4]


def test_nesterov_steps_along_g_plus_mu_b() -> None:
    s = run(
        {
            "optimizer": {"name": "sgd", "lr": "1/10", "momentum": "1/2", "nesterov": True},
            "theta": [1],
            "grads": [[2], [2]],
        }
    )
    assert s["theta[1]"] == [1 - Fraction(1, 10) * (2 + Fraction(1, 2) * 2)]
    b2 = Fraction(1, 2) * 2 + 2
    assert s["theta[2]"] == [s["theta[1]"][0] - Fraction(1, 10) * (2 + Fraction(1, 2) * b2)]


def test_rmsprop_keeps_eps_outside_the_root_and_surds_exact() -> None:
    s = run(
        {
            "optimizer": {"name": "rmsprop", "lr": "1/100", "alpha": "9/10", "eps": "1/10"},
            "theta": [1],
            "grads": [[2]],
        }
    )
    assert s["v[1]"] == [Fraction(2, 5)]
    expected = 1 - 0.01 * 2 / (math.sqrt(0.4) + 0.1)
    assert floats(s["theta[1]"])[0] == pytest.approx(expected, rel=1e-15)
    assert isinstance(s["theta[1]"][0], (exact.Surd, sympy.Basic))


def test_adam_first_step_is_a_whole_lr_step_with_eps_zero() -> None:
    s = run(
        {
            "optimizer": {"name": "adam", "lr": "1/10", "eps": 0},
            "theta": [1, -1],
            "grads": [[3, -1]],
        }
    )
    assert s["theta[1]"] == [Fraction(9, 10), Fraction(-9, 10)]
    assert s["m[1]"] == [Fraction(3, 10), Fraction(-1, 10)]


def test_adamw_decouples_its_default_decay_and_adam_couples_it() -> None:
    base = {"theta": [2], "grads": [[1]]}
    w = run({"optimizer": {"name": "adamw", "lr": "1/10", "eps": 0}, **base})  # λ = 1/100
    assert w["theta[1]"] == [2 * (1 - Fraction(1, 1000)) - Fraction(1, 10)]
    a = run(
        {"optimizer": {"name": "adam", "lr": "1/10", "eps": 0, "weight_decay": "1/100"}, **base}
    )
    assert a["m[1]"] == [Fraction(1, 10) * (1 + Fraction(2, 100))]


def test_amsgrad_keeps_the_largest_second_moment() -> None:
    s = run(
        {
            "optimizer": {"name": "adam", "lr": "1/10", "eps": 0, "amsgrad": True},
            "theta": [0],
            "grads": [[10], [0], [0]],
        }
    )
    assert s["v_max[3]"] == s["v_max[1]"] == s["v[1]"]
    assert s["v[3]"][0] < s["v_max[3]"][0]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"name": "step", "step_size": 2, "gamma": "1/2"}, [1, 1, "1/2", "1/2", "1/4"]),
        (
            {"name": "multistep", "milestones": [1, 3], "gamma": "1/10"},
            [1, "1/10", "1/10", "1/100", "1/100"],
        ),
        ({"name": "exponential", "gamma": "1/2"}, [1, "1/2", "1/4", "1/8", "1/16"]),
        ({"name": "cosine", "T_max": 4}, [1, "(2 + sqrt(2))/4", "1/2", "(2 - sqrt(2))/4", 0]),
        (
            {"name": "linear_warmup", "start_factor": "1/4", "total_iters": 3},
            [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), 1, 1],
        ),
    ],
)
def test_each_schedule_by_hand(schedule: dict, expected: list) -> None:
    from solver.parse import parse_value

    s = run(
        {
            "optimizer": {"name": "sgd", "lr": 1},
            "schedule": schedule,
            "theta": [0],
            "grads": [[0]] * 5,
        }
    )
    for t, want in enumerate(expected, start=1):
        assert exact.is_zero(exact.to_sympy(s[f"lr[{t}]"]) - exact.to_sympy(parse_value(want)))


@pytest.mark.parametrize("T_max", [3, 4, 5, 6])
def test_cosine_closed_form_agrees_with_torchs_chainable_form(T_max: int) -> None:
    spec = ScheduleSpec(name="cosine", T_max=T_max, eta_min=Fraction(1, 10))
    chain = cosine_chainable(spec, Fraction(1), 3 * T_max)
    for e, lr in enumerate(chain):
        closed = scheduled_lr(spec, Fraction(1), e)[0]
        assert abs(sympy.N(exact.to_sympy(closed) - lr, 40)) < 1e-30, e


def test_many_steps_become_a_table() -> None:
    s = run({**MOMENTUM, "steps": 8})
    assert any(st.tables for st in s.steps)
    assert "theta[8]" in s.answers


@pytest.mark.parametrize(
    ("given", "options", "key", "expected"),
    [
        (MOMENTUM, {"velocity": True}, "momentum_buffer[1]", [-0.2, 1.2]),
        (MOMENTUM, {"ema_momentum": True}, "momentum_buffer[1]", [0.2, -1.2]),
        (
            {"optimizer": {"name": "adam", "lr": "1/10", "eps": 0}, "theta": [1], "grads": [[2]]},
            {"bias_correction": False},
            "theta[1]",
            [1 - 0.1 * 0.2 / math.sqrt(0.004)],
        ),
        (
            {
                "optimizer": {"name": "rmsprop", "lr": 1, "eps": 1, "alpha": "1/2"},
                "theta": [1],
                "grads": [["1/2"]],
            },
            {"eps_inside": True},
            "theta[1]",
            [1 - 0.5 / math.sqrt(0.125 + 1)],
        ),
        (
            {
                "optimizer": {"name": "adamw", "lr": "1/10", "eps": 0, "weight_decay": "1/2"},
                "theta": [2],
                "grads": [[1]],
            },
            {"swap_decay": True},
            "m[1]",
            [0.1 * (1 + 1)],
        ),
        (
            {
                "optimizer": {"name": "sgd", "lr": 1},
                "schedule": {"name": "exponential", "gamma": "1/2"},
                "theta": [0],
                "grads": [[1]],
            },
            {"schedule_shift": 1},
            "lr[1]",
            0.5,
        ),
    ],
)
def test_misconceptions_reproduce_the_mistake(
    given: dict, options: dict, key: str, expected: object
) -> None:
    assert floats(run(given, **options)[key]) == pytest.approx(expected)
    assert floats(run(given)[key]) != pytest.approx(expected)


def test_every_misconception_is_named_by_the_checker(judge: Judge, tmp_path: Path) -> None:
    cases = {
        "velocity": (MOMENTUM, "momentum_buffer[2]"),
        "ema_momentum": (MOMENTUM, "momentum_buffer[2]"),
        "bias_correction": (
            {"optimizer": {"name": "adam", "lr": "1/10", "eps": 0}, "theta": [1], "grads": [[2]]},
            "theta[1]",
        ),
        "eps_inside": (
            {
                "optimizer": {"name": "rmsprop", "lr": 1, "eps": 1, "alpha": "1/2"},
                "theta": [1],
                "grads": [["1/2"]],
            },
            "theta[1]",
        ),
        "swap_decay": (
            {
                "optimizer": {"name": "adamw", "lr": "1/10", "eps": 0, "weight_decay": "1/2"},
                "theta": [2],
                "grads": [[1]],
            },
            "theta[1]",
        ),
        "schedule_shift": (
            {
                "optimizer": {"name": "sgd", "lr": 1},
                "schedule": {"name": "exponential", "gamma": "1/2"},
                "theta": [0],
                "grads": [[1]],
            },
            "lr[1]",
        ),
    }
    for name, options in kinds.get("optimizer_trace").misconceptions.items():
        (option,) = options
        given, key = cases[option]
        doc = {"problems": [{"id": "p", "kind": "optimizer_trace", "given": given}]}
        ps = load_text(yaml.safe_dump(doc), "x.yaml")
        value = solve(ps.problems[0], **options).answers[key].value
        wrong = [exact.fmt(x) for x in value] if isinstance(value, list) else exact.fmt(value)
        path = tmp_path / f"{option}.yaml"
        path.write_text(yaml.safe_dump({"student": "s", "answers": {"p": {key: wrong}}}))
        (r,) = [r for r in AnswerKey(ps).check(read_answers(path), judge).results if r.key == key]
        assert r.verdict in ("incorrect", "partial") and r.misconception == name, (
            name,
            r.feedback,
        )


def test_the_objective_is_read_by_the_safe_parser_only() -> None:
    obj = read_objective("(theta[0] - 3)^2 + 2*theta[1]^2", 2)
    assert obj.gradient([1, 1]) == [-4, 4]
    for hostile in (
        "__import__('os').system('x')",
        "theta[0]^2 + x",
        "exp(theta[0])",
        "theta[5]^2",
        "theta[0]^99",
    ):
        with pytest.raises(ValueError):
            read_objective(hostile, 2)


def _error(given: str) -> str:
    ps = load_text(
        f"title: t\nproblems:\n  - id: p\n    kind: optimizer_trace\n    given:\n{given}", "f.yaml"
    )
    assert not ps.problems
    return str(ps.errors[0])


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        (
            "      optimizer: {name: sgd, lr: 0.1, betas: [0.9, 0.99]}\n      theta: [1]\n"
            "      grads: [[1]]\n",
            "betas",
            "no argument",
        ),
        (
            "      optimizer: {name: sgd, lr: 0.1, nesterov: true}\n      theta: [1]\n"
            "      grads: [[1]]\n",
            "nesterov",
            "momentum",
        ),
        (
            "      optimizer: {name: adam}\n      theta: [1, 2]\n      grads: [[1]]\n",
            "grads",
            "theta has 2",
        ),
        ("      optimizer: {name: adam}\n      theta: [1]\n", "grads", "objective"),
        (
            "      optimizer: {name: sgd}\n      schedule: {name: step, gamma: 0.5}\n"
            "      theta: [1]\n      grads: [[1]]\n",
            "step_size",
            "needed",
        ),
        (
            "      optimizer: {name: adam}\n      theta: [1]\n      objective: theta^2\n"
            "      steps: 40\n",
            "steps",
            "limited",
        ),
        (
            "      optimizer: {name: sgd}\n      theta: [1]\n      objective: sin(theta)\n",
            "objective",
            "",
        ),
    ],
)
def test_bad_givens_are_one_sentence_naming_the_field(given: str, field: str, words: str) -> None:
    msg = _error(given)
    assert field in msg and words in msg, msg


def test_exact_traces_stop_where_nested_roots_would_explode() -> None:
    """θ-dependent gradients put each step's roots under the next one's: three Adam steps
    on an objective, eight from given gradients."""
    k = kinds.get("optimizer_trace")
    base = {"optimizer": {"name": "adam", "lr": "1/10"}, "theta": [1], "objective": "theta^2"}
    assert k.Given.model_validate({**base, "steps": 3}).T == 3
    with pytest.raises(ValueError, match="limited to 3 steps"):
        k.Given.model_validate({**base, "steps": 4})
    given = {"optimizer": {"name": "adam", "lr": "1/10"}, "theta": [1], "grads": [[1]] * 8}
    assert k.Given.model_validate(given).T == 8


def test_fast_floats_match_sympys_evaluation() -> None:
    from solver.kinds.optimizer_trace import fast_float

    s = run(
        {
            "optimizer": {"name": "adam", "lr": "1/10", "amsgrad": True},
            "schedule": {"name": "cosine", "T_max": 7},
            "theta": [1, -2],
            "objective": "(theta[0] - 3)^2 + 2*theta[1]^2",
            "steps": 3,
        }
    )
    for x in s["theta[3]"]:
        assert fast_float(x) == pytest.approx(exact.to_float(x), rel=1e-12)
