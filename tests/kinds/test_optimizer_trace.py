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

from ..conftest import problem_file


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


def test_the_objective_is_read_and_differentiated_by_the_graph_language() -> None:
    obj = read_objective("(theta[0] - 3)^2 + 2*theta[1]^2", [1, 1])
    assert obj.gradient([1, 1]) == [-4, 4] and obj.value([1, 1]) == 6
    assert obj.transcendental is None
    # what the polynomial reader could not read: sums over θ, and the graph's functions
    assert read_objective("sum((theta - 1)^2)", [0, 0]).gradient([3, -1]) == [4, -4]
    assert read_objective("log(1 + exp(theta[0]))", [0]).transcendental == "log"
    assert read_objective("theta^2", [3]).gradient([3]) == [6]  # one weight: theta alone


@pytest.mark.parametrize(
    ("objective", "words"),
    [
        ("__import__('os').system('x')", 'unexpected character "\'" at position 12'),
        ("__import__(theta)", "'__import__' is not allowed at position 1"),
        (
            "theta[0]^2 + x",
            "'x' is not theta: the weights are theta[0], theta[1], ... at position 14",
        ),
        ("softplus(theta[0])", "unknown function 'softplus'"),
        (
            "theta[0]^99",
            "degree of 99 in theta, above the 8 an exact trace can print at position 9",
        ),
        ("(theta[0]^4)^4", "degree of 16"),
        ("theta[0]^99999999999", "degree of"),
        ("theta[5]^2", "index 5 is out of range"),
        ("theta^2", "is not a scalar"),
        ("log(theta[0] - 1)", "cannot be evaluated at θ₀"),
        ("theta[0] +", "ends too early at position 11"),
        ("3", "does not depend on theta"),
    ],
)
def test_a_hostile_objective_is_one_sentence_and_exit_2(
    cli_run, tmp_path: Path, objective: str, words: str
) -> None:
    f = tmp_path / "bad.yaml"
    given = {"optimizer": {"name": "sgd", "lr": "1/10"}, "theta": [1, 2], "objective": objective}
    f.write_text(problem_file("optimizer_trace", given))
    code, out, err = cli_run("solve", str(f))
    assert code == 2, out
    assert words in err, err
    assert len(err.strip().splitlines()) == 1
    assert f"{f}:" in err and "given.objective" in err


def test_a_non_polynomial_objective_takes_its_first_step_by_hand() -> None:
    """L = log(1 + e^w) + θ₁²: ∇L = (σ(w), 2θ₁), so from θ₀ = (1, −1) with η = 1/2 the first
    step is θ₁ = (1 − e/(2(1 + e)), 0), and the second gradient is σ of that, exactly."""
    s = run(
        {
            "optimizer": {"name": "sgd", "lr": "1/2"},
            "theta": [1, -1],
            "objective": "log(1 + exp(theta[0])) + theta[1]^2",
            "steps": 2,
        }
    )
    e = sympy.E
    sigma1 = e / (1 + e)
    w1 = 1 - sigma1 / 2
    assert sympy.simplify(exact.to_sympy(s["grad[1]"][0]) - sigma1) == 0
    assert s["grad[1]"][1] == -2
    assert sympy.simplify(exact.to_sympy(s["theta[1]"][0]) - w1) == 0
    assert s["theta[1]"][1] == 0
    sigma_w1 = 1 / (1 + sympy.exp(-w1))
    assert sympy.simplify(exact.to_sympy(s["grad[2]"][0]) - sigma_w1) == 0
    assert s["grad[2]"][1] == 0


SOFTPLUS = "log(1 + exp(theta[0]))"


@pytest.mark.parametrize(
    ("optimizer", "objective"),
    [
        (
            {"name": "sgd", "lr": "1/2", "momentum": 0.875, "nesterov": True},
            f"{SOFTPLUS} + sigmoid(theta[1]) * tanh(theta[0])",
        ),
        ({"name": "adam", "lr": "1/10", "amsgrad": True}, f"{SOFTPLUS} + theta[1]^2"),
        ({"name": "rmsprop", "lr": "1/10", "centered": True}, f"{SOFTPLUS} + theta[1]^2"),
    ],
)
def test_a_non_polynomial_objective_agrees_with_torch_optim(
    optimizer: dict, objective: str
) -> None:
    """Two steps on softplus (and σ·tanh), exactly, against torch.optim in float64 with the
    loss written out in torch by hand (not through the graph language)."""
    torch = pytest.importorskip("torch")
    s = run({"optimizer": optimizer, "theta": [1, -2], "objective": objective, "steps": 2})
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    kw = {k: float(Fraction(v)) if k == "lr" else v for k, v in optimizer.items() if k != "name"}
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}[
        optimizer["name"]
    ]([p], **kw)
    for t in (1, 2):
        opt.zero_grad()
        loss = torch.log(1 + torch.exp(p[0]))
        if "sigmoid" in objective:
            loss = loss + torch.sigmoid(p[1]) * torch.tanh(p[0])
        else:
            loss = loss + p[1] ** 2
        loss.backward()
        assert floats(s[f"grad[{t}]"]) == pytest.approx(p.grad.tolist(), rel=1e-12)
        opt.step()
        assert floats(s[f"theta[{t}]"]) == pytest.approx(p.detach().tolist(), rel=1e-12)


def test_transcendental_objectives_stop_before_their_exponentials_nest_too_deep() -> None:
    k = kinds.get("optimizer_trace")
    base = {"theta": [1], "objective": "log(1 + exp(theta))"}
    assert k.Given.model_validate({**base, "optimizer": "sgd", "steps": 4}).T == 4
    with pytest.raises(ValueError, match=r"limited to 4 steps of sgd.*log of θ"):
        k.Given.model_validate({**base, "optimizer": "sgd", "steps": 5})
    with pytest.raises(ValueError, match="limited to 2 steps of adam"):
        k.Given.model_validate({**base, "optimizer": "adam", "steps": 3})


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
            "      optimizer: {name: sgd}\n      theta: [1]\n      objective: sinh(theta)\n",
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
