"""torch.nn.init recomputes fans, gains, std and bounds; samples must agree with them."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import yaml  # noqa: E402

from solver import load_text, solve  # noqa: E402
from solver.verify.crosscheck import CHECKS, compare, load_all  # noqa: E402
from solver.verify.crosscheck import initialization as xc  # noqa: E402

load_all()

GIVENS = [
    {
        "layer": {"type": "Conv2d", "in": 16, "out": 32, "kernel": 3},
        "scheme": "kaiming_normal",
        "nonlinearity": "relu",
    },
    {"layer": {"type": "Linear", "in": 256, "out": 128}, "scheme": "xavier_uniform"},
    {
        "layer": {"type": "Linear", "in": 100, "out": 100},
        "scheme": "xavier_normal",
        "nonlinearity": "tanh",
        "depth": 4,
        "input_var": 2,
    },
    {"layer": {"type": "Linear", "in": 64, "out": 64}, "scheme": "kaiming_uniform", "depth": 3},
    {
        "layer": {"type": "Linear", "in": 32, "out": 32},
        "scheme": "xavier_uniform",
        "nonlinearity": "relu",
        "depth": 4,
    },
    {
        "layer": {"type": "Conv1d", "in": 8, "out": 4, "kernel": 5, "groups": 2},
        "scheme": "kaiming_uniform",
        "nonlinearity": "leaky_relu",
        "param": 0.2,
        "mode": "fan_out",
    },
    {
        "layer": {"type": "Conv2d", "in": 3, "out": 8, "kernel": [3, 5]},
        "scheme": "xavier_normal",
        "gain": "sqrt(2)",
    },
    {"layer": {"type": "Linear", "in": 4, "out": 4}, "scheme": "zeros", "depth": 2},
]


def problem(given: dict) -> object:
    doc = {"problems": [{"id": "p", "kind": "initialization", "given": given}]}
    ps = load_text(yaml.safe_dump(doc), "x.yaml")
    assert not ps.errors, ps.errors
    return ps.problems[0]


@pytest.mark.parametrize("given", GIVENS, ids=[g["scheme"] for g in GIVENS])
def test_every_answer_agrees_with_torch_nn_init(given: dict) -> None:
    p = problem(given)
    s = solve(p)
    found = compare(s, CHECKS["initialization"](p.given, s, "cpu"))
    assert found and all(a.verdict == "agree" for a in found), [a for a in found if not a.ok]


def test_a_wrong_bound_is_caught_by_the_samples() -> None:
    g = problem(GIVENS[1]).given
    w = torch.empty(128, 256, dtype=torch.float64)
    assert xc._sampled_bound(g, w, 0.125) == 0.125
    assert xc._sampled_bound(g, w, 0.13) != 0.13  # the sample never gets near 0.13
    assert xc._sampled_bound(g, w, 0.12) != 0.12  # the sample leaves [−0.12, 0.12]
    assert xc._sampled_var(g, w, 1 / 192 * 1.05) != 1 / 192 * 1.05


def test_a_wrong_depth_variance_is_caught_by_a_forward_pass() -> None:
    """Xavier with ReLU on 32 units: Var(W) = 2·2/64 = 1/16, so Var(y_l) = 32/16 = 2 at every
    layer. With the right Var(W) the formula stands; with a wrong one the forward pass of
    torch-initialized networks replaces it."""
    g = problem(GIVENS[4]).given
    assert xc._depth(g, 32, 1 / 16) == {f"activation_var[{i}]": 2.0 for i in range(1, 5)}
    wrong = xc._depth(g, 32, 1 / 32)  # the formula would say 1, 1/2, 1/4, 1/8
    assert all(abs(v - 2) < 0.5 for v in wrong.values())
