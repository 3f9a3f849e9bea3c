"""lm_tree, viterbi and beam_complexity against hand values and brute-force enumeration.

The references here are written independently of solver/kinds/decoding.py:
trees are walked as plain nested dicts, Markov chains are enumerated with
itertools.product, and exact sums and products are taken with Fractions.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solver
from solver import exact, kinds
from solver.render import FORMATS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "ift6135-rnn-decoding.yaml"
BOS = "<BOS>"
F = Fraction


def solve_given(kind_name: str, given: dict[str, Any], **options: Any) -> solver.Solution:
    k = kinds.get(kind_name)
    s = k.new_solution(options.pop("overrides", None))
    k.solve(k.Given.model_validate(given), s, **options)
    return s


def shipped(problem_id: str) -> solver.Solution:
    ps = solver.load(SHIPPED)
    return solver.solve(ps.get(problem_id))


def load_errors(text: str) -> list[str]:
    ps = solver.load_text(text, "course.yaml")
    errors = [str(e) for e in ps.errors]
    for p in ps.problems:
        try:
            solver.solve(p)
        except solver.DlsolveError as err:
            errors.append(str(err))
    return errors


# --------------------------------------------------------------------------- references


def tree_paths(
    children: dict[str, Any], prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], list[Fraction]]]:
    """Every complete sequence of a raw tree, top to bottom, with its log-probabilities."""
    out = []
    for token, body in children.items():
        logp = F(str(body["logp"] if isinstance(body, dict) else body))
        kids = body.get("children") if isinstance(body, dict) else None
        if kids:
            out += [((token, *p), [logp, *lps]) for p, lps in tree_paths(kids)]
        else:
            out.append(((token,), [logp]))
    return [((*prefix, *p), lps) for p, lps in out]


def reference_best(children: dict[str, Any]) -> tuple[list[str], Fraction]:
    paths = tree_paths(children)
    best = max(sum(lps) for _, lps in paths)
    seq = next(p for p, lps in paths if sum(lps) == best)  # first in the tree wins ties
    return [BOS, *seq], best


def reference_greedy(children: dict[str, Any]) -> tuple[list[str], Fraction]:
    seq, total = [BOS], F(0)
    while children:
        scored = [
            (F(str(b["logp"] if isinstance(b, dict) else b)), t, b) for t, b in children.items()
        ]
        top = max(s for s, _, _ in scored)
        logp, token, body = next(x for x in scored if x[0] == top)
        seq.append(token)
        total += logp
        children = body.get("children") if isinstance(body, dict) else None
    return seq, total


def reference_beam(
    children: dict[str, Any], width: int
) -> tuple[list[list[list[str]]], list[tuple[list[str], Fraction]]]:
    """HF beam search over prefixes (tuples), written with dicts: the kept hypotheses of each
    step and the finished ones, best first."""
    position: dict[tuple[str, ...], int] = {}  # prefixes in the order the tree is written
    logp: dict[tuple[str, ...], Fraction] = {}
    ends: set[tuple[str, ...]] = set()
    for p, lps in tree_paths(children):
        for k in range(1, len(p) + 1):
            position.setdefault(p[:k], len(position))
            logp[p[:k]] = lps[k - 1]
        ends.add(p)

    def kids(prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        return [q for q in position if len(q) == len(prefix) + 1 and q[:-1] == prefix]

    def rank(
        items: list[tuple[tuple[str, ...], Fraction]],
    ) -> list[tuple[tuple[str, ...], Fraction]]:
        return sorted(items, key=lambda x: (-x[1], position[x[0]]))

    beams = [((), F(0))]
    finished: list[tuple[tuple[str, ...], Fraction]] = []
    steps = []
    while beams:
        cands = rank([(q, score + logp[q]) for prefix, score in beams for q in kids(prefix)])
        kept, opened = [], []
        for r, (q, score) in enumerate(cands):
            if q in ends and r < width:
                kept.append((q, score))
                finished.append((q, score))
            elif q not in ends and len(opened) < width:
                kept.append((q, score))
                opened.append((q, score))
        steps.append([[BOS, *q] for q, _ in kept])
        finished = rank(finished)[:width]
        beams = opened
        if beams and len(finished) >= width and beams[0][1] <= finished[-1][1]:
            break
    return steps, [([BOS, *q], score) for q, score in finished]


def reference_markov(children: dict[str, Any]) -> bool:
    """Every (step, token) has the same continuations wherever it occurs."""
    seen: dict[tuple[int, str], Any] = {}
    stack = [(1, children)]
    while stack:
        depth, kids = stack.pop()
        for token, body in kids.items():
            nxt = body.get("children") if isinstance(body, dict) else None
            follow = {
                t: F(str(b["logp"] if isinstance(b, dict) else b)) for t, b in (nxt or {}).items()
            }
            if seen.setdefault((depth, token), follow) != follow:
                return False
            if nxt:
                stack.append((depth + 1, nxt))
    return True


# --------------------------------------------------------------------------- random models


@st.composite
def raw_trees(draw: Any, depth: int = 3) -> dict[str, Any]:
    """A tree of uneven depth with one-decimal log-probabilities (children sum below 1)."""
    vocab = ["a", "b", "c"]

    def children(level: int) -> dict[str, Any]:
        k = draw(st.integers(1, 3))
        out: dict[str, Any] = {}
        for token in vocab[:k]:
            logp = F(-draw(st.integers(12, 60)), 10)
            if level < depth and draw(st.booleans()):
                out[token] = {"logp": str(logp), "children": children(level + 1)}
            else:
                out[token] = str(logp)
        return out

    return children(1)


@st.composite
def chains(draw: Any, max_words: int = 3, max_T: int = 4) -> dict[str, Any]:
    """A Markov chain over a, b, c (and <BOS>, which is never generated) with small
    denominators, zeros allowed; T steps."""
    n = draw(st.integers(1, max_words))
    words = ["a", "b", "c"][:n]

    def row() -> list[str]:
        d = draw(st.integers(1, 6))
        cuts = sorted(draw(st.lists(st.integers(0, d), min_size=n - 1, max_size=n - 1)))
        parts = [b - a for a, b in itertools.pairwise([0, *cuts, d])]
        return ["0", *(str(F(p, d)) for p in parts)]

    return {
        "tokens": [BOS, *words],
        "P": [row() for _ in range(n + 1)],
        "T": draw(st.integers(1, max_T)),
    }


def brute_force_chain(given: dict[str, Any]) -> dict[str, Any]:
    """Every answer of viterbi by enumerating all sequences."""
    tokens = given["tokens"]
    P = [[F(x) for x in row] for row in given["P"]]
    words = list(range(1, len(tokens)))
    T = given["T"]

    def prob(seq: tuple[int, ...]) -> Fraction:
        p, prev = F(1), 0
        for w in seq:
            p, prev = p * P[prev][w], w
        return p

    out: dict[str, Any] = {"count": len(words) ** T}
    deltas = []
    for t in range(1, T + 1):
        best = {
            j: max(prob(q) for q in itertools.product(words, repeat=t) if q[-1] == j) for j in words
        }
        deltas.append(best)
        out[f"delta[{t}]"] = [best[j] for j in words]
        if t == 1:
            out["backpointers[1]"] = [BOS] * len(words)
        else:
            out[f"backpointers[{t}]"] = [
                tokens[next(i for i in words if deltas[-2][i] * P[i][j] == best[j])] for j in words
            ]
    top = max(prob(q) for q in itertools.product(words, repeat=T))
    # ties: the smallest last word, then the smallest word before it, ...
    optimal = sorted(
        (q for q in itertools.product(words, repeat=T) if prob(q) == top), key=lambda q: q[::-1]
    )
    out["sequence"] = [BOS, *(tokens[w] for w in optimal[0])]
    out["probability"] = top
    return out


# --------------------------------------------------------------------------- lm_tree


def test_shipped_tree_by_hand() -> None:
    s = shipped("lm-tree")
    # greedy: the (−1.5) > a (−1.8); red (−3.1) > green (−3.4); rectangle (−4.5) > circle
    assert s["greedy.sequence"] == [BOS, "the", "red", "rectangle"]
    assert s["greedy.logp"] == F(-15, 10) + F(-31, 10) + F(-45, 10)
    # beam, B = 2: step 2 keeps a blue (−4.3) and a red (−4.5) over the red (−4.6)
    assert s["beam.steps[1]"] == [[BOS, "the"], [BOS, "a"]]
    assert s["beam.steps[2]"] == [[BOS, "a", "blue"], [BOS, "a", "red"]]
    assert s["beam.steps[3]"] == [[BOS, "a", "blue", "square"], [BOS, "a", "red", "circle"]]
    assert s["beam.sequence"] == [BOS, "a", "blue", "square"]
    assert s["beam.logp"] == F(-93, 10)
    assert s["beam.logps"] == [F(-93, 10), F(-94, 10)]
    # exhaustive: the green rectangle, −1.5 − 3.4 − 3.3
    assert s["best.sequence"] == [BOS, "the", "green", "rectangle"]
    assert s["best.logp"] == F(-82, 10)
    assert s["viterbi_applicable"] is False
    assert "is not Markov" in " ".join(st.text for st in s.steps)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_trees(), st.integers(1, 3))
def test_tree_against_brute_force(children: dict[str, Any], width: int) -> None:
    s = solve_given("lm_tree", {"tree": {BOS: {"children": children}}, "beam_width": width})
    assert (s["best.sequence"], s["best.logp"]) == reference_best(children)
    assert (s["greedy.sequence"], s["greedy.logp"]) == reference_greedy(children)
    steps, finished = reference_beam(children, width)
    for t, kept in enumerate(steps, start=1):
        assert s[f"beam.steps[{t}]"] == kept
    assert f"beam.steps[{len(steps) + 1}]" not in s.answers
    assert s["beam.sequences"] == [q for q, _ in finished]
    assert s["beam.logps"] == [score for _, score in finished]
    assert s["beam.logp"] <= s["best.logp"]
    assert s["viterbi_applicable"] == reference_markov(children)


@settings(max_examples=60, deadline=None)
@given(raw_trees())
def test_width_one_is_greedy_and_a_wide_beam_is_exhaustive(children: dict[str, Any]) -> None:
    tree = {"tree": {BOS: {"children": children}}}
    narrow = solve_given("lm_tree", {**tree, "beam_width": 1})
    assert narrow["beam.sequence"] == narrow["greedy.sequence"]
    wide = solve_given("lm_tree", {**tree, "beam_width": 50})  # never prunes anything
    assert wide["beam.sequence"] == wide["best.sequence"]


def test_uneven_tree_finished_hypotheses_leave_the_beam() -> None:
    # <BOS> a ends at once (−0.5); b c ends at step 2; e f g is the longest
    tree = {
        BOS: {
            "children": {
                "a": "-0.5",
                "b": {"logp": "-1.2", "children": {"c": "-0.1", "d": "-3"}},
                "e": {
                    "logp": "-2.5",
                    "children": {"f": {"logp": "-0.2", "children": {"g": "-0.1"}}},
                },
            }
        }
    }
    s = solve_given("lm_tree", {"tree": tree, "beam_width": 2})
    # step 1: a finishes and does not take a slot, so b and e both stay open
    assert s["beam.steps[1]"] == [[BOS, "a"], [BOS, "b"], [BOS, "e"]]
    # step 2: b c finishes (rank 0), e f stays open, b d (rank 2, finished) is pruned
    assert s["beam.steps[2]"] == [[BOS, "b", "c"], [BOS, "e", "f"]]
    # two finished, and e f (−2.7) cannot beat b c (−1.3): HF stops
    assert "beam.steps[3]" not in s.answers
    assert s["beam.sequences"] == [[BOS, "a"], [BOS, "b", "c"]]
    assert any("Beam search stops" in st.text for st in s.steps)


def test_ties_go_to_the_hypothesis_written_first() -> None:
    tree = {
        BOS: {
            "children": {
                "x": {"logp": "-1", "children": {"p": "-1", "q": "-1"}},
                "y": {"logp": "-1", "children": {"r": "-1"}},
            }
        }
    }
    s = solve_given("lm_tree", {"tree": tree, "beam_width": 1})
    assert s["greedy.sequence"] == [BOS, "x", "p"]
    assert s["best.sequence"] == [BOS, "x", "p"]
    assert s["beam.sequence"] == [BOS, "x", "p"]


def test_a_students_beam_is_carried_forward() -> None:
    ps = solver.load(SHIPPED)
    wrong = [[BOS, "the", "red"], [BOS, "the", "green"]]  # kept the wrong two at step 2
    s = solver.solve(ps.get("lm-tree"), overrides={"beam.steps[2]": wrong})
    # step 3 extends the student's beam: the green rectangle (−8.2) and ellipse (−8.5)
    assert s["beam.steps[3]"] == [
        [BOS, "the", "green", "rectangle"],
        [BOS, "the", "green", "ellipse"],
    ]
    assert s["beam.logp"] == F(-82, 10)
    s = solver.solve(ps.get("lm-tree"), overrides={"greedy.sequence": [BOS, "a", "red", "circle"]})
    assert s["greedy.logp"] == F(-18, 10) + F(-27, 10) + F(-49, 10)


def test_tree_misconceptions_reproduce_the_mistakes() -> None:
    k = kinds.get("lm_tree")
    right = shipped("lm-tree")
    g = solver.load(SHIPPED).get("lm-tree").given

    def solved(**options: Any) -> solver.Solution:
        s = k.new_solution()
        k.solve(g, s, **options)
        return s

    for name, options in k.misconceptions.items():
        if "temperature_use" in options:
            continue  # no temperature in this problem: see the sampling tests below
        wrong = solved(**options)
        assert any(wrong.answers[key].value != right[key] for key in right.answers), name
    assert solved(beams=1)["beam.sequence"] == right["greedy.sequence"]
    # multiplying three negative log-probabilities: the least negative product wins
    product = solved(score="product")
    products = [math.prod(lps) for _, lps in tree_paths(TREE)]
    assert product["best.logp"] == max(products)
    # ranking by the last token only: the green rectangle's −3.3 is the best last token
    assert solved(score="last")["best.logp"] == F(-33, 10)
    # summing probabilities: e^(−1.5) + e^(−3.4) + e^(−3.3) for the green rectangle
    probability = solved(score="probability_sum")["best.logp"]
    assert math.isclose(
        float(exact.to_float(probability)),
        max(sum(math.exp(x) for x in lps) for _, lps in tree_paths(TREE)),
    )
    assert solved(assume_markov=True)["viterbi_applicable"] is True


TREE = {
    "the": {
        "logp": -1.5,
        "children": {
            "green": {"logp": -3.4, "children": {"ellipse": -3.6, "rectangle": -3.3}},
            "red": {"logp": -3.1, "children": {"circle": -4.8, "rectangle": -4.5}},
        },
    },
    "a": {
        "logp": -1.8,
        "children": {
            "blue": {"logp": -2.5, "children": {"ellipse": -5.4, "square": -5.0}},
            "red": {"logp": -2.7, "children": {"circle": -4.9, "square": -5.1}},
        },
    },
}


def test_tree_errors_name_the_field_and_line() -> None:
    head = "title: t\nproblems:\n  - id: tree\n    kind: lm_tree\n    given:\n      tree:\n"
    errors = load_errors(
        head + "        <BOS>:\n          children:\n            the: {logp: 0.5}\n"
    )
    assert errors == [
        "course.yaml:9: problem 'tree', field 'given.tree.<BOS>.children.the."
        "logp': a log-probability is at most 0 (a probability is at most 1), "
        "got 1/2."
    ]
    errors = load_errors(
        head + "        <BOS>:\n          children:\n            a: -0.1\n            b: -0.2\n"
    )
    assert len(errors) == 1 and "course.yaml:9:" in errors[0]
    assert "the probabilities of the tokens after '<BOS>' sum to 1.724 > 1" in errors[0]
    errors = load_errors(head + "        a: {children: {b: -1}}\n        c: {children: {d: -1}}\n")
    assert "exactly one key, the start token" in errors[0] and "field 'given.tree'" in errors[0]
    errors = load_errors(head + "        <BOS>:\n          children:\n            a: {lgp: -1}\n")
    assert "course.yaml:9:" in errors[0] and "unknown field 'lgp'" in errors[0]
    errors = load_errors(
        head + "        <BOS>:\n          children:\n            a: {children: {b: -1}}\n"
    )
    assert "needs 'logp'" in errors[0] and "field 'given.tree.<BOS>.children.a'" in errors[0]


# --------------------------------------------------------------------------- viterbi


def test_shipped_viterbi_by_hand() -> None:
    s = shipped("viterbi")
    assert s["count"] == 2**3
    assert s["delta[1]"] == [F(1, 3), F(2, 3)]
    # δ2(a) = max(1/3·1/4, 2/3·3/5) = 2/5 from b; δ2(b) = max(1/3·3/4, 2/3·2/5) = 4/15 from b
    assert s["delta[2]"] == [F(2, 5), F(4, 15)]
    assert s["backpointers[2]"] == ["b", "b"]
    # δ3(a) = max(2/5·1/4, 4/15·3/5) = 4/25 from b; δ3(b) = max(2/5·3/4, 4/15·2/5) = 3/10 from a
    assert s["delta[3]"] == [F(4, 25), F(3, 10)]
    assert s["backpointers[3]"] == ["b", "a"]
    assert s["sequence"] == [BOS, "b", "a", "b"]
    assert s["probability"] == F(2, 3) * F(3, 5) * F(3, 4)
    T, N = exact.symbol("T"), exact.symbol("N")
    assert sympy.simplify(s["time"] - T * N**2) == 0
    assert sympy.simplify(s["space"] - T * N) == 0
    assert s.answers["time"].type == "complexity"
    # IFT6135 2.1: "a vocabulary of N words, <BOS> included", so N = 3 and N^T = 27
    assert shipped("sequence-count").asked()[0].value == 3**3


def test_count_follows_the_problems_vocabulary_convention():
    chain = {"tokens": [BOS, "a", "b"], "P": [[0, "1/2", "1/2"]] * 3, "T": 4}
    assert solve_given("viterbi", chain)["count"] == 2**4
    with_bos = solve_given("viterbi", {**chain, "start_in_vocabulary": True})
    assert with_bos["count"] == 3**4
    assert any("2^4 = 16 of the 81" in st.text for st in with_bos.steps)
    # each convention names the other as the mistake
    assert solve_given("viterbi", chain, count="other_convention")["count"] == 3**4
    left_out = solve_given(
        "viterbi", {**chain, "start_in_vocabulary": True}, count="other_convention"
    )
    assert left_out["count"] == 2**4


def test_not_markov_rests_on_the_shape_of_the_tree_before_its_values():
    s = shipped("lm-tree")
    why = next(st.text for st in s.steps if st.text.startswith("Viterbi needs"))
    assert "'rectangle' can follow '<BOS> the red' but not '<BOS> a red'" in why
    assert "-4.8" not in why and "-4.9" not in why
    assert s["viterbi_applicable"] is False


@settings(max_examples=120, deadline=None)
@given(chains())
def test_viterbi_against_brute_force(given_: dict[str, Any]) -> None:
    s = solve_given("viterbi", given_)
    expected = brute_force_chain(given_)
    for key, value in expected.items():
        assert s[key] == value, key
    p = expected["probability"]
    assert s["log_probability"] == (
        sympy.log(sympy.Rational(p.numerator, p.denominator)) if p else -sympy.oo
    )


@settings(max_examples=60, deadline=None)
@given(chains())
def test_numeric_path_matches_exact_and_brute_force(given_: dict[str, Any]) -> None:
    exact_s = solve_given("viterbi", given_)
    numeric = solve_given("viterbi", {**given_, "method": "numeric"})
    assert "delta[1]" not in numeric.answers
    for t in range(1, given_["T"] + 1):
        for e, f in zip(exact_s[f"delta[{t}]"], numeric[f"log_delta[{t}]"], strict=True):
            assert math.isclose(float(e), math.exp(float(f)), rel_tol=1e-12, abs_tol=1e-300)
    # near-ties may be broken differently in floating point, but the numeric sequence must be
    # optimal: its exact probability is the brute-force maximum
    chain_p = brute_force_chain(given_)["probability"]
    P = [[F(x) for x in row] for row in given_["P"]]
    seq = [given_["tokens"].index(t) for t in numeric["sequence"]]
    assert math.prod(P[a][b] for a, b in itertools.pairwise(seq)) == chain_p
    assert math.isclose(float(numeric["probability"]), float(chain_p), rel_tol=1e-12)
    assert numeric.answers["log_probability"].type == "real"
    assert any("floating point" in step.text for step in numeric.steps)


def test_auto_switches_to_the_numeric_path_past_the_limit(monkeypatch: Any) -> None:
    from solver.kinds import decoding

    monkeypatch.setattr(decoding, "NUMERIC_ABOVE", 12)
    chain = {
        "tokens": [BOS, "a", "b"],
        "P": [[0, "1/3", "2/3"], [0, "1/4", "3/4"], [0, "3/5", "2/5"]],
    }
    assert "delta[3]" in solve_given("viterbi", {**chain, "T": 3}).answers  # T·N² = 12
    large = solve_given("viterbi", {**chain, "T": 4})  # T·N² = 16: numeric
    assert "log_delta[4]" in large.answers and "delta[1]" not in large.answers
    assert any("more than exact fractions should take" in st.text for st in large.steps)
    assert float(large["log_probability"]) == pytest.approx(
        max(float(v) for v in large["log_delta[4]"]), rel=1e-12
    )
    forced = solve_given("viterbi", {**chain, "T": 3, "method": "exact"})
    assert "delta[3]" in forced.answers


def test_viterbi_misconceptions_reproduce_the_mistakes() -> None:
    k = kinds.get("viterbi")
    # a chain where the best word of each δ_t is not on the best path (a variant's promise)
    chain = {
        "tokens": [BOS, "a", "b"],
        "P": [[0, "4/7", "3/7"], [0, "1/3", "2/3"], [0, "1/10", "9/10"]],
        "T": 3,
    }
    right = solve_given("viterbi", chain)
    for name, options in k.misconceptions.items():
        wrong = solve_given("viterbi", chain, **options)
        assert any(wrong.answers[key].value != right[key] for key in right.answers), name
    # forgetting the backpointers: argmax of δ1 = [4/7, 3/7] is a, but the best path starts b
    assert solve_given("viterbi", chain, backtrack=False)["sequence"][1] == "a"
    assert right["sequence"] == [BOS, "b", "b", "b"]
    # the forward algorithm sums: δ2(a) = 4/7·1/3 + 3/7·1/10
    assert solve_given("viterbi", chain, op="sum")["delta[2]"][0] == F(4, 21) + F(3, 70)
    assert solve_given("viterbi", chain, count="other_convention")["count"] == 3**3
    T, N = exact.symbol("T"), exact.symbol("N")
    assert solve_given("viterbi", chain, time="exhaustive")["time"] == N**T


def test_a_students_delta_is_carried_forward() -> None:
    ps = solver.load(SHIPPED)
    # δ2(a) taken as 1/3·1/4 = 1/12 (the wrong predecessor): then δ3(a) = max(1/12·1/4,
    # 4/15·3/5) = 4/25 from b, δ3(b) = max(1/12·3/4, 4/15·2/5) = 8/75 from b
    s = solver.solve(ps.get("viterbi"), overrides={"delta[2]": [F(1, 12), F(4, 15)]})
    assert s["delta[3]"] == [F(4, 25), F(8, 75)]
    assert s["sequence"] == [BOS, "b", "b", "a"]
    assert s["probability"] == F(2, 3) * F(2, 5) * F(3, 5)
    # an answer of the wrong length cannot be carried on from: the key's own values are used
    s = solver.solve(ps.get("viterbi"), overrides={"delta[2]": [F(1, 12)]})
    assert s["delta[3]"] == [F(4, 25), F(3, 10)]


def test_viterbi_errors_name_the_row() -> None:
    head = (
        "title: t\nproblems:\n  - id: chain\n    kind: viterbi\n    given:\n"
        "      tokens: [<BOS>, a, b]\n      T: 2\n      P:\n        - [0, 1/3, 2/3]\n"
    )
    errors = load_errors(head + "        - [0, 1/2, 3/4]\n        - [0, 1/2, 1/2]\n")
    assert errors == [
        "course.yaml:10: problem 'chain', field 'given.P[1]': the row of 'a' sums "
        "to 5/4, not 1: each row of P is the distribution of the next token (P "
        "must be row-stochastic)."
    ]
    errors = load_errors(head + "        - [0, -1/2, 3/2]\n        - [0, 1/2, 1/2]\n")
    assert errors[0].startswith(
        "course.yaml:10: problem 'chain', field 'given.P[1][1]': the "
        "row of 'a' has a negative entry -1/2"
    )
    errors = load_errors(head + "        - [0, 1/2, 1/2]\n")
    assert "is 2×3 but there are 3 tokens" in errors[0]
    errors = load_errors(
        head.replace("T: 2", "T: 2\n      start: <EOS>")
        + "        - [0, 1/2, 1/2]\n        - [0, 1/2, 1/2]\n"
    )
    assert "field 'given.start'" in errors[0] and "'<EOS>' is not one of the tokens" in errors[0]


def test_a_start_token_the_chain_returns_to_is_a_word() -> None:
    # s can follow a, so it is a word: N = 2, not 1
    s = solve_given(
        "viterbi",
        {"tokens": ["s", "a"], "start": "s", "P": [["1/2", "1/2"], ["1/4", "3/4"]], "T": 2},
    )
    assert s["count"] == 4
    assert s["delta[2]"] == [
        max(F(1, 2) * F(1, 2), F(1, 2) * F(1, 4)),
        max(F(1, 2) * F(1, 2), F(1, 2) * F(3, 4)),
    ]


# --------------------------------------------------------------------------- beam_complexity


def test_beam_complexity_is_symbolic() -> None:
    s = shipped("beam-complexity")
    T, B, N = (exact.symbol(x) for x in "TBN")
    assert sympy.simplify(s["time_sort"] - T * B * N * sympy.log(B * N)) == 0
    assert sympy.simplify(s["time_select"] - T * B * N) == 0
    assert sympy.simplify(s["space"] - B * (N + T)) == 0
    assert {a.type for a in s.answers.values()} == {"complexity"}
    L, K, V = (exact.symbol(x) for x in "LKV")
    renamed = solve_given("beam_complexity", {"T": "L", "B": "K", "N": "V"})
    assert sympy.simplify(renamed["time_select"] - L * K * V) == 0
    assert solve_given("beam_complexity", {}, sort_log=False)["time_sort"] == T * B * N
    assert solve_given("beam_complexity", {}, time="exhaustive")["time_select"] == N**T


# --------------------------------------------------------------------------- variants, output


@pytest.mark.parametrize("kind_name", ["lm_tree", "viterbi", "beam_complexity"])
def test_variants_keep_their_promises(kind_name: str) -> None:
    k = kinds.get(kind_name)
    source = k.Given.model_validate(k.example)
    for seed in range(12):
        raw = k.generate(k.example, random.Random(seed))
        g = k.Given.model_validate(raw)
        s = k.new_solution()
        k.solve(g, s)
        assert k.broken_promises(g, s) == [], (seed, raw)
        assert g != source
        assert g == k.Given.model_validate(raw)  # equality is structural, not identity
    if kind_name == "lm_tree":  # the shipped tree has a tie: the red circle = a red circle
        s = k.new_solution()
        k.solve(source, s)
        assert k.broken_promises(source, s) == [k.nice[0]]


def test_tree_variant_keeps_the_shape_and_differs_from_greedy() -> None:
    k = kinds.get("lm_tree")
    raw = k.generate(k.example, random.Random(3))
    s = solve_given("lm_tree", raw)
    assert s["beam.sequence"] != s["greedy.sequence"]
    assert [p for p, _ in tree_paths(raw["tree"][BOS]["children"])] == [
        p for p, _ in tree_paths(TREE)
    ]


def test_shipped_file_renders_in_every_format() -> None:
    solved = solver.solve_paths([SHIPPED])
    assert not solved[0].errors
    for name, render in FORMATS.items():
        out = render(solved)
        assert "lm-tree" in out and "viterbi" in out, name
    markdown = FORMATS["markdown"](solved)
    assert "&lt;BOS&gt; only starts a sequence" in markdown  # not an HTML tag on GitHub
    assert "| &lt;BOS&gt; a blue | $-1.8 - 2.5 = -4.3$ | kept |" in markdown  # a beam step
    text = FORMATS["text"](solved)
    assert "<BOS> a blue     -1.8 - 2.5 = -4.3  kept" in text
    import json

    doc = json.loads(FORMATS["json"](solved))
    tree = next(p for p in doc["problems"] if p["id"] == "lm-tree")["answers"]
    assert tree["best.logp"] == {"value": "-41/5", "float": -8.2, "latex": "-8.2", "type": "real"}
    assert tree["beam.steps[2]"]["value"] == [[BOS, "a", "blue"], [BOS, "a", "red"]]


def test_solving_does_not_import_numpy() -> None:
    code = "import sys, solver; solver.solve_paths([sys.argv[1]]); print('numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code, str(SHIPPED)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_benchmark_numeric_path_agrees_with_the_naive_loop() -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_viterbi", ROOT / "benchmarks" / "bench_viterbi.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from solver.kinds.decoding import viterbi_log_space

    logP, init = bench.random_chain(40, seed=2)
    log_delta, back = viterbi_log_space(logP, init, 6, block=16)  # blocks that do not divide N
    naive_delta, naive_back = bench.naive_viterbi(logP.tolist(), init.tolist(), 5)
    for row, naive_row in zip(log_delta.tolist(), naive_delta, strict=True):
        assert row == pytest.approx(naive_row, abs=1e-12)
    assert back[1:].tolist() == naive_back[1:]


# --------------------------------------------------------------------------- sampling with T

#: a small tree: after <BOS>, "a" (log 1/2) or "b" (log 1/4) or "c" (log 1/4); after "a",
#: "x" (−1) or "y" (−2); "b" and "c" end
SAMPLING_TREE = {
    BOS: {
        "children": {
            "a": {"logp": "log(1/2)", "children": {"x": -1, "y": -2}},
            "b": "log(1/4)",
            "c": "log(1/4)",
        }
    }
}


def sampled_by_hand(steps: list[tuple[list[float], int]], T: float) -> float:
    """Π_t P(w_t)^{1/T}/Σ_v P(v)^{1/T}, from each step's log-probabilities and the drawn one."""
    out = 1.0
    for logps, pick in steps:
        w = [math.exp(v / T) for v in logps]
        out *= w[pick] / sum(w)
    return out


@pytest.mark.parametrize("T", ["1/3", 1, 2, "7/2"])
def test_sampling_at_a_temperature_matches_by_hand(T: Any) -> None:
    t = float(Fraction(T))
    s = solve_given("lm_tree", {"tree": SAMPLING_TREE, "temperature": T, "sample": "a y"})
    first = [math.log(1 / 2), math.log(1 / 4), math.log(1 / 4)]
    assert exact.to_float(s["sample.probability"]) == pytest.approx(
        sampled_by_hand([(first, 0), ([-1, -2], 1)], t), rel=1e-12
    )
    w = [math.exp(v / t) for v in first]
    assert exact.to_float(s["sample.probabilities[1]"]) == pytest.approx(
        [x / sum(w) for x in w], rel=1e-12
    )
    # exactly: P(a)^{1/T} ∝ 2^{-1/T}, so at T = 1 the tree's own probabilities come back
    if T == 1:
        assert s["sample.probabilities[1]"] == [F(1, 2), F(1, 4), F(1, 4)]


def test_the_default_sample_is_greedy_and_tends_to_certainty_as_t_falls() -> None:
    probs = []
    for T in ["1/20", "1/2", 1, 4, 100]:
        s = solve_given("lm_tree", {"tree": SAMPLING_TREE, "temperature": T})
        assert s["greedy.sequence"] == [BOS, "a", "x"]
        probs.append(float(exact.to_float(s["sample.probability"])))
    assert probs == sorted(probs, reverse=True)  # the argmax's share falls as T rises
    assert probs[0] == pytest.approx(1, abs=1e-5)
    assert probs[-1] == pytest.approx(1 / 3 * 1 / 2, rel=0.02)  # uniform: 1/3 then 1/2


def test_a_sample_may_be_written_with_or_without_the_start_token() -> None:
    a = solve_given("lm_tree", {"tree": SAMPLING_TREE, "temperature": 2, "sample": ["b"]})
    b = solve_given("lm_tree", {"tree": SAMPLING_TREE, "temperature": 2, "sample": "<BOS> b"})
    assert exact.fmt(a["sample.probability"]) == exact.fmt(b["sample.probability"])
    assert "sample.probabilities[2]" not in a.answers


def test_without_a_temperature_there_is_no_sampling() -> None:
    s = solve_given("lm_tree", {"tree": SAMPLING_TREE})
    assert not any(key.startswith("sample.") for key in s.answers)


@pytest.mark.parametrize(
    "extra,field,words",
    [
        ({"sample": "a x"}, "sample", "give temperature too"),
        ({"sample": "a z", "temperature": 1}, "sample", "is not"),
        ({"sample": 3, "temperature": 1}, "sample", "sequence of tokens"),
        ({"temperature": 0}, "temperature", "must be > 0"),
        ({"temperature": "sqrt(2)"}, "temperature", "rational"),
    ],
)
def test_bad_sampling_givens_name_their_field(extra: dict[str, Any], field: str, words: str):
    import yaml

    text = yaml.safe_dump(
        {"problems": [{"id": "s", "kind": "lm_tree", "given": {"tree": SAMPLING_TREE, **extra}}]}
    )
    errors = solver.load_text(text, "t.yaml").errors
    assert len(errors) == 1 and f"field 'given.{field}'" in str(errors[0]), errors
    assert words in str(errors[0])


def test_sampling_mistakes_are_named_and_ties_accepted(judge: Any, tmp_path: Path) -> None:
    import yaml

    from solver.check import AnswerKey, read_answers

    # "a" and "b" tie after <BOS>: greedy may take either, and sampling the other greedy
    # sequence "b x" at T = 3 has its own probability, 1/2 · 1/2
    tree = {
        BOS: {
            "children": {
                "a": {"logp": "log(1/2)", "children": {"x": -1, "y": -2}},
                "b": {"logp": "log(1/2)", "children": {"x": -1, "y": -1}},
            }
        }
    }
    doc = {
        "problems": [
            {"id": "s", "kind": "lm_tree", "given": {"tree": SAMPLING_TREE, "temperature": 2}},
            {"id": "tie", "kind": "lm_tree", "given": {"tree": tree, "temperature": 3}},
        ]
    }
    ps = solver.load_text(yaml.safe_dump(doc), "t.yaml")
    key = AnswerKey(ps)
    answers = {}
    for name, options in kinds.get("lm_tree").misconceptions.items():
        if "temperature_use" not in options:
            continue
        wrong = solver.solve(ps.get("s"), **options)["sample.probability"]
        answers[name] = exact.fmt(wrong)
    for name, value in answers.items():
        path = tmp_path / "a.yaml"
        path.write_text(yaml.safe_dump({"answers": {"s": {"sample.probability": value}}}))
        got = {x.key: x for x in key.check(read_answers(path), judge).results if x.problem == "s"}
        assert got["sample.probability"].misconception == name, got["sample.probability"]
    path = tmp_path / "b.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "answers": {
                    "tie": {"greedy.sequence": "b x", "sample.probability": "1/4"},
                    "s": {
                        "sample.probability": "2^(-1/2)/(2^(-1/2) + 2*4^(-1/2)) * 1/(1 + e^(-1/2))"
                    },
                }
            }
        )
    )
    got = {(x.problem, x.key): x for x in key.check(read_answers(path), judge).results}
    assert got[("tie", "greedy.sequence")].verdict == "correct"
    assert got[("tie", "sample.probability")].verdict == "correct"
    assert solver.solve(ps.get("tie"))["greedy.sequence"] == [BOS, "a", "x"]
    assert got[("s", "sample.probability")].verdict == "correct", got[("s", "sample.probability")]
