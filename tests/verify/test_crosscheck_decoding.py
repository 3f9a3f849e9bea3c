"""The torch recomputation of lm_tree and viterbi agrees with the exact answers, and would
notice if they were wrong."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import solver  # noqa: E402
from solver import kinds  # noqa: E402
from solver.verify.crosscheck import CHECKS, compare, load_all  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "ift6135-rnn-decoding.yaml"
BOS = "<BOS>"
load_all()


def check(kind_name: str, given: Any, s: solver.Solution) -> list[Any]:
    return compare(s, CHECKS[kind_name](given, s, "cpu"))


def solve_given(kind_name: str, raw: dict[str, Any]) -> tuple[Any, solver.Solution]:
    k = kinds.get(kind_name)
    g = k.Given.model_validate(raw)
    s = k.new_solution()
    k.solve(g, s)
    return g, s


def test_shipped_decoding_problems_agree() -> None:
    ps = solver.load(SHIPPED)
    for pid in ("sequence-count", "viterbi", "lm-tree"):
        p = ps.get(pid)
        s = solver.solve(p)
        results = check(p.kind, p.given, s)
        assert results and all(r.ok for r in results), [
            (r.key, r.exact, r.torch) for r in results if not r.ok
        ]
    keys = {
        r.key for r in check("lm_tree", ps.get("lm-tree").given, solver.solve(ps.get("lm-tree")))
    }
    assert {
        "best.sequence",
        "best.logp",
        "greedy.sequence",
        "beam.steps[2]",
        "beam.sequence",
        "beam.logps",
    } <= keys


def random_tree(rng: random.Random, depth: int = 3) -> dict[str, Any]:
    def children(level: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for token in "abc"[: rng.randint(1, 3)]:
            logp = str(Fraction(-rng.randint(12, 40), 10))
            out[token] = (
                {"logp": logp, "children": children(level + 1)}
                if level < depth and rng.random() < 0.6
                else logp
            )
        return out

    return {"tree": {BOS: {"children": children(1)}}, "beam_width": rng.randint(1, 3)}


def random_chain(rng: random.Random, n: int, T: int) -> dict[str, Any]:
    def row() -> list[str]:
        d = rng.randint(1, 6)
        cuts = sorted(rng.randint(0, d) for _ in range(n - 1))
        return ["0", *(str(Fraction(b - a, d)) for a, b in itertools.pairwise([0, *cuts, d]))]

    return {
        "tokens": [BOS, *(f"w{i}" for i in range(n))],
        "P": [row() for _ in range(n + 1)],
        "T": T,
    }


def test_random_trees_agree_ties_included() -> None:
    rng = random.Random(0)
    for _ in range(40):
        g, s = solve_given("lm_tree", random_tree(rng))
        bad = [(r.key, r.exact, r.torch) for r in check("lm_tree", g, s) if not r.ok]
        assert not bad


@pytest.mark.parametrize("method", ["exact", "numeric"])
def test_random_chains_agree(method: str) -> None:
    rng = random.Random(1)
    for _ in range(25):
        raw = random_chain(rng, rng.randint(1, 3), rng.randint(1, 4))
        g, s = solve_given("viterbi", {**raw, "method": method})
        bad = [(r.key, r.exact, r.torch) for r in check("viterbi", g, s) if not r.ok]
        assert not bad


def test_large_chain_by_the_torch_recurrence() -> None:
    # 40^5 sequences are too many to enumerate: torch runs the recurrence instead
    rng = random.Random(2)
    raw = {
        "tokens": [BOS, *(f"w{i}" for i in range(40))],
        "T": 5,
        "method": "numeric",
        "P": [["0", *(str(Fraction(rng.randint(1, 50), 1)) for _ in range(40))] for _ in range(41)],
    }
    raw["P"] = [
        ["0", *(str(Fraction(int(x), sum(int(y) for y in row[1:]))) for x in row[1:])]
        for row in raw["P"]
    ]
    g, s = solve_given("viterbi", raw)
    results = check("viterbi", g, s)
    assert {r.key for r in results} >= {"log_delta[5]", "backpointers[5]", "sequence"}
    assert all(r.ok for r in results), [(r.key, r.max_diff) for r in results if not r.ok]


def test_a_wrong_answer_is_noticed() -> None:
    ps = solver.load(SHIPPED)
    s = solver.solve(ps.get("lm-tree"))
    s.answers["best.logp"].value = Fraction(-91, 10)  # the greedy score, not the best
    s.answers["beam.sequence"].value = [BOS, "the", "red", "rectangle"]
    bad = {r.key for r in check("lm_tree", ps.get("lm-tree").given, s) if not r.ok}
    assert bad == {"best.logp", "beam.sequence"}
    s = solver.solve(ps.get("viterbi"))
    s.answers["backpointers[3]"].value = ["a", "a"]
    s.answers["delta[2]"].value = [Fraction(1, 12), Fraction(4, 15)]
    bad = {r.key for r in check("viterbi", ps.get("viterbi").given, s) if not r.ok}
    assert bad == {"backpointers[3]", "delta[2]"}


@pytest.mark.parametrize("T", ["1/3", 1, "5/2"])
def test_sampling_at_a_temperature_agrees_with_torch_softmax(T: Any) -> None:
    """torch.softmax(logp/T) at each prefix of random trees, for greedy's sequence and for a
    leaf named in the problem, ties included."""
    rng = random.Random(3)
    for _ in range(15):
        raw = {**random_tree(rng), "temperature": T}
        g, s = solve_given("lm_tree", raw)
        bad = [(r.key, r.exact, r.torch) for r in check("lm_tree", g, s) if not r.ok]
        assert not bad and "sample.probability" in {r.key for r in check("lm_tree", g, s)}
        leaf = rng.choice([n for n in _leaves(g.tree)])
        g, s = solve_given("lm_tree", {**raw, "sample": leaf})
        bad = [(r.key, r.exact, r.torch) for r in check("lm_tree", g, s) if not r.ok]
        assert not bad


def _leaves(node: Any) -> list[list[str]]:
    if not node.children:
        return [[]]
    return [[c.token, *rest] for c in node.children for rest in _leaves(c)]


@pytest.mark.parametrize("use", ["ignore", "multiply"])
def test_a_temperature_mistake_disagrees_with_torch(use: str) -> None:
    ps = solver.load(SHIPPED)
    raw = {**ps.get("lm-tree").raw_given, "temperature": "1/2"}
    k = kinds.get("lm_tree")
    g = k.Given.model_validate(raw)
    s = k.new_solution()
    k.solve(g, s, temperature_use=use)
    bad = {r.key for r in check("lm_tree", g, s) if not r.ok}
    assert "sample.probability" in bad and "sample.probabilities[1]" in bad
