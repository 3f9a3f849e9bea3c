"""torch.distributions and an independent BLEU recompute every information measure."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import load, load_text, solve
from solver.verify.crosscheck import CHECKS, compare, load_all

load_all()

GIVENS = [
    {"measure": "entropy", "p": ["1/2", "1/4", "1/4"]},
    {"measure": "entropy", "p": {"mu": [0, 1], "sigma": ["1/2", 3]}, "base": 2},
    {"measure": "cross_entropy", "p": ["1/2", "1/2", 0], "q": ["1/4", "1/2", "1/4"]},
    {"measure": "cross_entropy", "p": {"mu": 1, "sigma": 2}, "q": {"mu": -1, "sigma": 1}},
    {"measure": "kl", "p": {"mu": 0, "sigma": 1}, "q": {"mu": 1, "sigma": 2}},
    {
        "measure": "kl",
        "p": {"mu": [1, -1], "sigma": ["1/2", 1]},
        "q": {"mu": [0, 0], "sigma": [1, 1]},
    },
    {"measure": "kl", "p": ["1/3", "2/3"], "q": ["1/2", "1/2"], "base": 2},
    {"measure": "kl", "p": ["1/2", "1/2"], "q": [1, 0]},
    {"measure": "perplexity", "probabilities": ["1/2", "1/3", "1/8"]},
    {"measure": "perplexity", "log_probabilities": [-1.5, -0.25], "base": 2},
    {
        "measure": "bleu",
        "candidate": "the the the cat",
        "references": ["the cat is on the mat", "there is a cat on the mat"],
        "max_n": 4,
    },
    {
        "measure": "bleu",
        "candidate": "a cat sat on the mat today",
        "references": ["a cat sat on the mat"],
        "max_n": 2,
        "weights": ["1/4", "3/4"],
    },
    {"measure": "gan", "p_data": ["1/2", "1/2", 0], "p_model": ["1/4", "1/4", "1/2"]},
    {"measure": "gan", "p_data": [2, 0], "p_model": [1, 0]},
]


def agreements(given: dict) -> list:
    ps = load_text(
        yaml.safe_dump({"problems": [{"id": "p", "kind": "information", "given": given}]}), "x.yaml"
    )
    assert not ps.errors, ps.errors
    p = ps.problems[0]
    s = solve(p)
    return compare(s, CHECKS["information"](p.given, s, "cpu"))


@pytest.mark.parametrize("given", GIVENS, ids=[g["measure"] for g in GIVENS])
def test_every_measure_agrees_with_torch(given: dict) -> None:
    found = agreements(given)
    assert found and all(a.verdict == "agree" for a in found), [a for a in found if not a.ok]


@settings(max_examples=15, deadline=None)
@given(
    words=st.lists(st.sampled_from("a b c d".split()), min_size=1, max_size=7),
    refs=st.lists(
        st.lists(st.sampled_from("a b c d e".split()), min_size=1, max_size=7),
        min_size=1,
        max_size=3,
    ),
    max_n=st.integers(1, 3),
)
def test_bleu_agrees_with_the_independent_implementation(
    words: list, refs: list, max_n: int
) -> None:
    found = agreements({"measure": "bleu", "candidate": words, "references": refs, "max_n": max_n})
    assert all(a.verdict == "agree" for a in found), [a for a in found if not a.ok]


def test_a_wrong_kl_is_flagged() -> None:
    ps = load_text(
        yaml.safe_dump({"problems": [{"id": "p", "kind": "information", "given": GIVENS[4]}]}),
        "x.yaml",
    )
    p = ps.problems[0]
    s = solve(p, swap=True)  # the swapped KL must not pass as KL(p‖q)
    verdicts = {a.key: a.verdict for a in compare(s, CHECKS["information"](p.given, s, "cpu"))}
    assert verdicts["kl"] == "disagree"


SHIPPED = "problems/optimization-and-information.yaml"


@pytest.mark.parametrize("pid", [p.id for p in load(SHIPPED).problems])
def test_every_shipped_answer_agrees_with_torch(pid: str) -> None:
    p = load(SHIPPED).get(pid)
    s = solve(p)
    found = compare(s, CHECKS[p.kind](p.given, s, "cpu"))
    assert found and all(a.verdict == "agree" for a in found), [a for a in found if not a.ok]
