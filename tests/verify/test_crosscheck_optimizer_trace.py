"""Every optimizer under every schedule, on hypothesis-drawn settings, against torch.optim and
torch.optim.lr_scheduler in float64; the exact traces must agree to 1e-9."""

from __future__ import annotations

from fractions import Fraction

import pytest

pytest.importorskip("torch")

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import load_text, solve
from solver.verify.crosscheck import CHECKS, compare, load_all

load_all()

OPTIMIZERS = ["sgd", "adagrad", "rmsprop", "adam", "adamw"]
SCHEDULES = [None, "step", "multistep", "exponential", "cosine", "linear_warmup"]
small = st.sampled_from(["1/10", "1/5", "1/2", "1/20", "3/10"])
rate = st.sampled_from(["1/10", "1/5", "1/2", "1/100"])


def optimizer(name: str) -> st.SearchStrategy[dict]:
    if name == "sgd":
        return st.fixed_dictionaries(
            {"name": st.just("sgd"), "lr": rate},
            optional={
                "momentum": st.sampled_from(["9/10", "1/2", 0]),
                "dampening": st.sampled_from([0, "1/10"]),
                "weight_decay": st.sampled_from([0, "1/10"]),
            },
        ).map(_nesterov_or_not)
    if name == "adagrad":
        return st.fixed_dictionaries(
            {"name": st.just("adagrad"), "lr": rate},
            optional={
                "lr_decay": st.sampled_from([0, "1/10"]),
                "weight_decay": st.sampled_from([0, "1/10"]),
                "initial_accumulator_value": st.sampled_from([0, 1]),
                "eps": st.sampled_from(["1/10", "1/1000"]),
            },
        )
    if name == "rmsprop":
        return st.fixed_dictionaries(
            {"name": st.just("rmsprop"), "lr": rate, "eps": st.sampled_from(["1/10", "1/1000"])},
            optional={
                "alpha": st.sampled_from(["9/10", "1/2", "99/100"]),
                "centered": st.booleans(),
                "momentum": st.sampled_from([0, "1/2"]),
                "weight_decay": st.sampled_from([0, "1/10"]),
            },
        )
    return st.fixed_dictionaries(
        {"name": st.just(name), "lr": rate, "eps": st.sampled_from(["1/10", "1/1000"])},
        optional={
            "betas": st.sampled_from([["9/10", "999/1000"], ["1/2", "3/4"]]),
            "amsgrad": st.booleans(),
            "weight_decay": st.sampled_from([0, "1/10"]),
        },
    )


def _nesterov_or_not(o: dict) -> dict:
    if o.get("momentum") not in (None, 0) and o.get("dampening", 0) == 0:
        o["nesterov"] = Fraction(o["momentum"]) == Fraction(1, 2)
    return o


def schedule(name: str | None) -> st.SearchStrategy[dict | None]:
    if name is None:
        return st.none()
    return {
        "step": st.fixed_dictionaries(
            {"name": st.just("step"), "step_size": st.integers(1, 2), "gamma": small}
        ),
        "multistep": st.fixed_dictionaries(
            {
                "name": st.just("multistep"),
                "gamma": small,
                "milestones": st.sampled_from([[1], [1, 2], [2, 2]]),
            }
        ),
        "exponential": st.fixed_dictionaries({"name": st.just("exponential"), "gamma": small}),
        "cosine": st.fixed_dictionaries(
            {"name": st.just("cosine"), "T_max": st.integers(1, 4)},
            optional={"eta_min": st.sampled_from([0, "1/100"])},
        ),
        "linear_warmup": st.fixed_dictionaries(
            {"name": st.just("linear_warmup"), "total_iters": st.integers(1, 3)},
            optional={
                "start_factor": st.sampled_from(["1/2", "1/4"]),
                "end_factor": st.sampled_from([1, "1/2"]),
            },
        ),
    }[name]


def agree(given_: dict) -> None:
    doc = {"problems": [{"id": "p", "kind": "optimizer_trace", "given": given_}]}
    ps = load_text(yaml.safe_dump(doc), "x.yaml")
    assert not ps.errors, ps.errors
    p = ps.problems[0]
    s = solve(p)
    found = compare(s, CHECKS["optimizer_trace"](p.given, s, "cpu"))
    assert found and all(a.verdict == "agree" for a in found), [a for a in found if not a.ok]


entries = st.integers(-3, 3)


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("sched", SCHEDULES, ids=[str(x) for x in SCHEDULES])
def test_optimizer_under_schedule_agrees_with_torch(opt: str, sched: str | None) -> None:
    steps = 3 if opt == "sgd" else 2

    @settings(
        max_examples=3,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(
        o=optimizer(opt),
        sc=schedule(sched),
        theta=st.lists(entries, min_size=1, max_size=2),
        data=st.data(),
    )
    def check(o: dict, sc: dict | None, theta: list, data: st.DataObject) -> None:
        g = {"optimizer": o, "theta": theta}
        if sc is not None:
            g["schedule"] = sc
        if data.draw(st.booleans()):
            g["grads"] = [
                data.draw(st.lists(entries.filter(bool), min_size=len(theta), max_size=len(theta)))
                for _ in range(steps)
            ]
        else:
            g["objective"] = " + ".join(f"(theta[{i}] - {i + 1})^2" for i in range(len(theta)))
            g["steps"] = steps
        agree(g)

    check()


def test_a_longer_sgd_trace_with_a_table_agrees() -> None:
    agree(
        {
            "optimizer": {"name": "sgd", "lr": "1/10", "momentum": "9/10", "nesterov": True},
            "schedule": {"name": "cosine", "T_max": 5, "eta_min": "1/100"},
            "theta": [1, -2],
            "objective": "theta[0]^2 + 3*theta[1]^2 + theta[0]*theta[1]",
            "steps": 12,
        }
    )
