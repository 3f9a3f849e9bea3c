"""Information measures: values worked by hand (with math.log), misconceptions, bad input."""

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
from solver.solution import Solution


def run(given: dict, **options: object) -> Solution:
    k = kinds.get("information")
    s = k.new_solution()
    k.solve(k.Given.model_validate(given), s, **options)
    return s


def f(x: object) -> float:
    return exact.to_float(x)


def test_entropy_of_a_categorical_is_kept_as_a_log() -> None:
    s = run({"measure": "entropy", "p": ["1/2", "1/4", "1/4"]})
    assert sympy.simplify(exact.to_sympy(s["entropy"]) - sympy.Rational(3, 2) * sympy.log(2)) == 0
    assert run({"measure": "entropy", "p": ["1/2", "1/4", "1/4"], "base": 2})["entropy"] == 1.5


def test_entropy_of_a_gaussian() -> None:
    s = run({"measure": "entropy", "p": {"mu": 3, "sigma": 2}})
    assert f(s["entropy"]) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 4))


def test_kl_of_two_gaussians_both_directions_by_hand() -> None:
    s = run({"measure": "kl", "p": {"mu": 0, "sigma": 1}, "q": {"mu": 1, "sigma": 2}})
    assert f(s["kl"]) == pytest.approx(math.log(2) + (1 + 1) / 8 - 0.5)
    assert f(s["kl_reverse"]) == pytest.approx(math.log(1 / 2) + (4 + 1) / 2 - 0.5)
    assert sympy.simplify(exact.to_sympy(s["kl"]) - (sympy.log(2) - sympy.Rational(1, 4))) == 0


def test_vae_kl_term_of_a_diagonal_gaussian() -> None:
    """KL(N(μ, σ²)‖N(0, 1)) = ½ Σ (σ² + μ² − 1 − log σ²), the VAE's closed form."""
    mu, sigma = [1, -2, "1/2"], ["1/2", 1, 2]
    s = run(
        {"measure": "kl", "p": {"mu": mu, "sigma": sigma}, "q": {"mu": [0] * 3, "sigma": [1] * 3}}
    )
    m = [1, -2, 0.5]
    sg = [0.5, 1, 2]
    vae = 0.5 * sum(v**2 + u**2 - 1 - math.log(v**2) for u, v in zip(m, sg, strict=True))
    assert f(s["kl"]) == pytest.approx(vae)


def test_kl_of_categoricals_in_bits() -> None:
    s = run({"measure": "kl", "p": ["1/2", "1/2"], "q": ["1/4", "3/4"], "base": 2})
    assert f(s["kl"]) == pytest.approx(0.5 * math.log2(2) + 0.5 * math.log2(2 / 3))
    assert f(s["kl_reverse"]) == pytest.approx(0.25 * math.log2(0.5) + 0.75 * math.log2(1.5))


def test_kl_is_infinite_where_q_misses_an_outcome() -> None:
    s = run({"measure": "kl", "p": ["1/2", "1/2"], "q": [1, 0]})
    assert s["kl"] is None and s["kl_reverse"] is not None


def test_cross_entropy_is_entropy_plus_kl() -> None:
    s = run({"measure": "cross_entropy", "p": ["1/2", "1/2", 0], "q": ["1/4", "1/2", "1/4"]})
    assert f(s["cross_entropy"]) == pytest.approx(-(0.5 * math.log(0.25) + 0.5 * math.log(0.5)))
    assert f(s["cross_entropy"]) == pytest.approx(f(s["entropy"]) + f(s["kl"]))


def test_perplexity_from_probabilities_and_from_log_probabilities() -> None:
    s = run({"measure": "perplexity", "probabilities": ["1/2", "1/3"]})
    assert s["perplexity"] == exact.sqrt(6)
    s = run({"measure": "perplexity", "log_probabilities": [-1.2, -0.4]})
    assert f(s["perplexity"]) == pytest.approx(math.exp(0.8))
    s = run({"measure": "perplexity", "log_probabilities": [-3, -1], "base": 2})
    assert s["cross_entropy"] == 2 and s["perplexity"] == 4


def test_bleu_counts_clips_and_penalizes_by_hand() -> None:
    s = run(
        {
            "measure": "bleu",
            "candidate": "the the the cat",
            "references": ["the cat is on the mat", "there is a cat on the mat"],
            "max_n": 2,
        }
    )
    # unigrams: the ×3 (clipped to 2, the count in reference 1), cat ×1 → 3/4
    assert [s["candidate_ngrams[1]"], s["matches[1]"], s["precision[1]"]] == [4, 3, 0.75]
    # bigrams: "the the" ×2 (in no reference), "the cat" ×1 → 1/3
    assert [s["candidate_ngrams[2]"], s["matches[2]"], f(s["precision[2]"])] == [3, 1, 1 / 3]
    bp = math.exp(1 - 6 / 4)  # c = 4, closest reference length 6
    assert f(s["brevity_penalty"]) == pytest.approx(bp)
    assert f(s["bleu"]) == pytest.approx(bp * math.sqrt(0.75 * (1 / 3)))


def test_bleu_ties_between_reference_lengths_take_the_shorter() -> None:
    s = run(
        {
            "measure": "bleu",
            "candidate": "a b c d",
            "references": ["a b c", "a b c d e"],
            "max_n": 1,
        }
    )
    assert s["brevity_penalty"] == 1  # r = 3 < c = 4


def test_bleu_is_zero_when_an_order_has_no_match() -> None:
    s = run({"measure": "bleu", "candidate": "a b", "references": ["b a"], "max_n": 2})
    assert s["precision[2]"] == 0 and s["bleu"] == 0


def test_gan_optimal_discriminator_and_value() -> None:
    s = run({"measure": "gan", "p_data": ["1/2", "1/2", 0], "p_model": ["1/4", "1/4", "1/2"]})
    assert s["discriminator"] == [Fraction(2, 3), Fraction(2, 3), 0]
    value = 0.5 * math.log(2 / 3) * 2 + 0.25 * math.log(1 / 3) * 2 + 0.5 * math.log(1)
    assert f(s["value"]) == pytest.approx(value)
    assert f(s["value"]) == pytest.approx(-math.log(4) + 2 * f(s["jsd"]))
    equal = run({"measure": "gan", "p_data": ["1/3", "2/3"], "p_model": ["1/3", "2/3"]})
    assert sympy.simplify(exact.to_sympy(equal["value"]) + sympy.log(4)) == 0
    assert equal["jsd"] == 0
    bits = run({"measure": "gan", "p_data": ["1/3", "2/3"], "p_model": ["1/3", "2/3"], "base": 2})
    assert bits["value"] == -2


def test_gan_with_densities_gives_the_discriminator_only() -> None:
    s = run({"measure": "gan", "p_data": [2, 1], "p_model": [1, 3]})
    assert s["discriminator"] == [Fraction(2, 3), Fraction(1, 4)]
    assert "value" not in s.answers


@pytest.mark.parametrize(
    ("given", "options", "key", "expected"),
    [
        (
            {"measure": "kl", "p": {"mu": 0, "sigma": 1}, "q": {"mu": 1, "sigma": 2}},
            {"swap": True},
            "kl",
            2 - math.log(2),
        ),
        (
            {"measure": "bleu", "candidate": "the the the", "references": ["the cat"], "max_n": 1},
            {"clip": False},
            "precision[1]",
            1.0,
        ),
        (
            {"measure": "bleu", "candidate": "the cat", "references": ["the cat sat"], "max_n": 1},
            {"brevity": False},
            "bleu",
            1.0,
        ),
        ({"measure": "entropy", "p": ["1/2", "1/2"]}, {"other_base": True}, "entropy", 1.0),
        (
            {"measure": "perplexity", "probabilities": ["1/2", "1/2"]},
            {"average": False},
            "perplexity",
            4.0,
        ),
    ],
)
def test_misconceptions_reproduce_the_mistake(
    given: dict, options: dict, key: str, expected: float
) -> None:
    assert f(run(given, **options)[key]) == pytest.approx(expected)
    assert f(run(given)[key]) != pytest.approx(expected)


def test_every_misconception_is_named_by_the_checker(judge: Judge, tmp_path: Path) -> None:
    cases = {
        "swap": ({"measure": "kl", "p": {"mu": 0, "sigma": 1}, "q": {"mu": 1, "sigma": 2}}, "kl"),
        "clip": (
            {
                "measure": "bleu",
                "candidate": "the the cat",
                "references": ["the cat sat"],
                "max_n": 1,
            },
            "precision[1]",
        ),
        "brevity": (
            {"measure": "bleu", "candidate": "the cat", "references": ["the cat sat"], "max_n": 1},
            "bleu",
        ),
        "other_base": ({"measure": "entropy", "p": ["1/2", "1/4", "1/4"]}, "entropy"),
        "average": ({"measure": "perplexity", "probabilities": ["1/2", "1/3"]}, "perplexity"),
    }
    k = kinds.get("information")
    for name, options in k.misconceptions.items():
        (option,) = options
        given, key = cases[option]
        ps = load_text(
            yaml.safe_dump({"problems": [{"id": "p", "kind": "information", "given": given}]}),
            "x.yaml",
        )
        wrong = exact.fmt(solve(ps.problems[0], **options).answers[key].value)
        path = tmp_path / f"{option}.yaml"
        path.write_text(yaml.safe_dump({"student": "s", "answers": {"p": {key: str(wrong)}}}))
        (r,) = [r for r in AnswerKey(ps).check(read_answers(path), judge).results if r.key == key]
        assert r.verdict == "incorrect" and r.misconception == name, (name, r.feedback)


def test_a_student_may_write_the_log_their_own_way(judge: Judge, tmp_path: Path) -> None:
    ps = load_text(
        yaml.safe_dump(
            {
                "problems": [
                    {
                        "id": "p",
                        "kind": "information",
                        "given": {"measure": "entropy", "p": ["1/2", "1/4", "1/4"]},
                    }
                ]
            }
        ),
        "x.yaml",
    )
    for written in ("3/2*ln(2)", "ln(8)/2", "1.04"):
        path = tmp_path / "a.yaml"
        path.write_text(yaml.safe_dump({"student": "s", "answers": {"p": {"entropy": written}}}))
        (r,) = AnswerKey(ps).check(read_answers(path), judge).results
        assert r.verdict == "correct", (written, r.feedback)


def _error(given: str) -> str:
    ps = load_text(
        f"title: t\nproblems:\n  - id: p\n    kind: information\n    given:\n{given}", "f.yaml"
    )
    assert not ps.problems
    return str(ps.errors[0])


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ("      measure: entropy\n      p: [0.5, 0.4]\n", "given.p", "sum to 1"),
        ("      measure: kl\n      p: [0.5, 0.5]\n", "given.q", "needed"),
        (
            "      measure: kl\n      p: [0.5, 0.5]\n      q: {mu: 0, sigma: 1}\n",
            "given.q",
            "Gaussian",
        ),
        (
            "      measure: kl\n      p: {mu: 0, sigma: 0}\n      q: {mu: 0, sigma: 1}\n",
            "given.p",
            "> 0",
        ),
        (
            "      measure: perplexity\n      probabilities: [0.5, 1.5]\n",
            "given.probabilities",
            "(0, 1]",
        ),
        (
            "      measure: bleu\n      candidate: a b\n      references: [a]\n      max_n: 2\n"
            "      weights: [1]\n",
            "given.weights",
            "max_n",
        ),
        (
            "      measure: gan\n      p_data: [1]\n      p_model: [1, 0]\n",
            "given.p_model",
            "points",
        ),
    ],
)
def test_bad_givens_are_one_sentence_naming_the_field(given: str, field: str, words: str) -> None:
    msg = _error(given)
    assert field in msg and words in msg, msg
