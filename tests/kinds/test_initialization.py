"""Initialization: fans, gains, std and bounds by hand and against torch.nn.init's formulas;
variance through depth; zero-init symmetry; misconceptions; bad input."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from solver import exact, kinds, load_text, solve
from solver.check import AnswerKey, read_answers
from solver.compare import Judge
from solver.solution import Solution


def run(given: dict, **options: object) -> Solution:
    k = kinds.get("initialization")
    s = k.new_solution()
    k.solve(k.Given.model_validate(given), s, **options)
    return s


def f(x: object) -> float:
    return exact.to_float(x)


def test_he_normal_for_a_conv_counts_the_receptive_field() -> None:
    s = run(
        {
            "layer": {"type": "Conv2d", "in": 16, "out": 32, "kernel": 3},
            "scheme": "kaiming_normal",
            "nonlinearity": "relu",
        }
    )
    assert s["weight_shape"] == [32, 16, 3, 3]
    assert (s["fan_in"], s["fan_out"]) == (16 * 9, 32 * 9)
    assert s["var"] == Fraction(2, 144) and s["std"] == exact.sqrt(Fraction(1, 72))
    assert "bound" not in s.answers


def test_xavier_uniform_bound_is_sqrt_six_over_fan_sum() -> None:
    s = run({"layer": {"type": "Linear", "in": 256, "out": 128}, "scheme": "xavier_uniform"})
    assert s["bound"] == exact.sqrt(Fraction(6, 256 + 128)) == Fraction(1, 8)
    assert s["var"] == Fraction(2, 384)


def test_kaiming_uniform_defaults_are_torchs_leaky_relu_with_a_zero() -> None:
    s = run({"layer": {"type": "Linear", "in": 50, "out": 10}, "scheme": "kaiming_uniform"})
    assert s["gain"] == exact.sqrt(2)
    assert f(s["bound"]) == pytest.approx(math.sqrt(3) * math.sqrt(2) / math.sqrt(50))


@pytest.mark.parametrize(
    ("nonlinearity", "param", "gain"),
    [
        ("linear", None, 1.0),
        ("conv2d", None, 1.0),
        ("conv_transpose3d", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", "0.2", math.sqrt(2 / (1 + 0.04))),
        ("selu", None, 0.75),
    ],
)
def test_every_gain_torch_knows(nonlinearity: str, param: str | None, gain: float) -> None:
    given = {"layer": {"type": "Linear", "in": 4, "out": 4}, "scheme": "xavier_normal"}
    given["nonlinearity"] = nonlinearity
    if param is not None:
        given["param"] = param
    assert f(run(given)["gain"]) == pytest.approx(gain, rel=1e-15)


def test_gains_and_fans_match_torch() -> None:
    torch = pytest.importorskip("torch")
    from torch.nn import init

    for name in ("linear", "conv1d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        s = run(
            {
                "layer": {"type": "Linear", "in": 4, "out": 4},
                "scheme": "xavier_normal",
                "nonlinearity": name,
            }
        )
        assert f(s["gain"]) == pytest.approx(init.calculate_gain(name), rel=1e-15)
    for layer, module in (
        (
            {"type": "Conv2d", "in": 6, "out": 4, "kernel": [3, 5], "groups": 2},
            torch.nn.Conv2d(6, 4, (3, 5), groups=2),
        ),
        ({"type": "Conv3d", "in": 2, "out": 3, "kernel": 2}, torch.nn.Conv3d(2, 3, 2)),
        ({"type": "Linear", "in": 7, "out": 3}, torch.nn.Linear(7, 3)),
    ):
        s = run({"layer": layer, "scheme": "xavier_uniform"})
        assert (s["fan_in"], s["fan_out"]) == init._calculate_fan_in_and_fan_out(module.weight)
        assert s["weight_shape"] == list(module.weight.shape)


def test_variance_through_depth_he_keeps_it_xavier_relu_halves_it() -> None:
    he = run(
        {
            "layer": {"type": "Linear", "in": 64, "out": 64},
            "scheme": "kaiming_normal",
            "nonlinearity": "relu",
            "depth": 3,
            "input_var": 3,
        }
    )
    assert [he[f"activation_var[{i}]"] for i in (1, 2, 3)] == [6, 6, 6]
    xr = run(
        {"layer": {"type": "Linear", "in": 64, "out": 64}, "scheme": "xavier_normal", "depth": 3}
    )  # a linear stack: 64·(2/128) = 1
    assert [xr[f"activation_var[{i}]"] for i in (1, 2, 3)] == [1, 1, 1]
    lecun_relu = run(
        {
            "layer": {"type": "Linear", "in": 10, "out": 10},
            "scheme": "kaiming_normal",
            "nonlinearity": "leaky_relu",
            "param": 1,
            "depth": 2,
        }
    )
    assert lecun_relu["gain"] == 1 and lecun_relu["activation_var[2]"] == 1


def test_zero_init_keeps_units_identical_and_says_why() -> None:
    s = run({"layer": {"type": "Linear", "in": 4, "out": 4}, "scheme": "zeros", "depth": 2})
    assert s["units_identical"] is True and s["std"] == 0 and s["activation_var[2]"] == 0
    assert any("same gradient" in st.text for st in s.steps)
    assert (
        run({"layer": {"type": "Linear", "in": 4, "out": 8}, "scheme": "xavier_normal"})[
            "units_identical"
        ]
        is False
    )


@pytest.mark.parametrize(
    ("options", "key", "expected"),
    [
        ({"swap_fans": True}, "std", math.sqrt(2 / 288)),
        ({"receptive": False}, "fan_in", 16),
        ({"sqrt3": False}, "bound", math.sqrt(2 / 144)),
        ({"std_is_var": True}, "std", 2 / 144),
    ],
)
def test_misconceptions_reproduce_the_mistake(options: dict, key: str, expected: float) -> None:
    given = {
        "layer": {"type": "Conv2d", "in": 16, "out": 32, "kernel": 3},
        "scheme": "kaiming_uniform",
        "nonlinearity": "relu",
    }
    assert f(run(given, **options)[key]) == pytest.approx(expected)


def test_every_misconception_is_named_by_the_checker(judge: Judge, tmp_path: Path) -> None:
    conv = {
        "layer": {"type": "Conv2d", "in": 16, "out": 32, "kernel": 3},
        "scheme": "kaiming_uniform",
        "nonlinearity": "relu",
    }
    cases = {
        "swap_fans": (conv, "std"),
        "receptive": (conv, "fan_in"),
        "sqrt3": (conv, "bound"),
        "std_is_var": (conv, "std"),
        "lecun": (
            {"layer": {"type": "Linear", "in": 30, "out": 10}, "scheme": "xavier_normal"},
            "var",
        ),
        "relu_half": (
            {
                "layer": {"type": "Linear", "in": 8, "out": 8},
                "scheme": "kaiming_normal",
                "nonlinearity": "relu",
                "depth": 2,
            },
            "activation_var[2]",
        ),
        "no_gain": (conv, "gain"),
    }
    for name, options in kinds.get("initialization").misconceptions.items():
        (option,) = options
        given, key = cases[option]
        doc = {"problems": [{"id": "p", "kind": "initialization", "given": given}]}
        ps = load_text(yaml.safe_dump(doc), "x.yaml")
        wrong = exact.fmt(solve(ps.problems[0], **options).answers[key].value)
        path = tmp_path / f"{option}.yaml"
        path.write_text(yaml.safe_dump({"student": "s", "answers": {"p": {key: str(wrong)}}}))
        (r,) = [r for r in AnswerKey(ps).check(read_answers(path), judge).results if r.key == key]
        assert r.verdict == "incorrect" and r.misconception == name, (name, r.feedback)


def _error(given: str) -> str:
    ps = load_text(
        f"title: t\nproblems:\n  - id: p\n    kind: initialization\n    given:\n{given}", "f.yaml"
    )
    assert not ps.problems
    return str(ps.errors[0])


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ("      layer: {type: Linear, in: 4, out: 4}\n      scheme: orthogonal\n", "scheme", ""),
        (
            "      layer: {type: Linear, in: 4, out: 4}\n      scheme: xavier_normal\n"
            "      nonlinearity: swish\n",
            "nonlinearity",
            "",
        ),
        (
            "      layer: {type: Linear, in: 4, out: 8}\n      scheme: xavier_normal\n"
            "      depth: 3\n",
            "depth",
            "must equal",
        ),
        (
            "      layer: {type: Linear, in: 4, out: 4}\n      scheme: xavier_normal\n"
            "      nonlinearity: sigmoid\n      depth: 3\n",
            "depth",
            "sigmoid",
        ),
        (
            "      layer: {type: Conv2d, in: 3, out: 4, kernel: 3, groups: 2}\n"
            "      scheme: zeros\n",
            "groups",
            "divisible",
        ),
        (
            "      layer: {type: Linear, in: 4, out: 4}\n      scheme: kaiming_normal\n"
            "      gain: 2\n",
            "gain",
            "xavier",
        ),
    ],
)
def test_bad_givens_are_one_sentence_naming_the_field(given: str, field: str, words: str) -> None:
    msg = _error(given)
    assert field in msg and words in msg, msg
