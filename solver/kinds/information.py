"""Information measures, exactly: entropy, cross-entropy, KL divergence, perplexity, BLEU and
the GAN's optimal discriminator.

Logs stay logs and roots stay roots: the entropy of (1/2, 1/4, 1/4) is (3/2)·log 2,
the KL divergence of two Gaussians keeps its log(σ₂/σ₁), and BLEU keeps its fourth
roots and its e^{1 − r/c}; a float is written beside each. Natural logs (nats)
unless the problem says ``base: 2`` (bits).

* ``entropy``: H(p) = −Σ p log p of a categorical; ½ log(2πeσ²) per dimension of a Gaussian.
* ``cross_entropy``: H(p, q) = −Σ p log q = H(p) + KL(p‖q).
* ``kl``: KL(p‖q) = Σ p log(p/q), and for Gaussians
  log(σ_q/σ_p) + (σ_p² + (μ_p − μ_q)²)/(2σ_q²) − ½ per dimension; both directions.
* ``perplexity``: exp of the average negative log-likelihood per token, (Π p_i)^{−1/N}.
* ``bleu``: Papineni et al.: clipped n-gram precisions p_n, the brevity penalty
  BP = min(1, e^{1 − r/c}) with r the reference length closest to c, and
  BLEU = BP·exp(Σ w_n log p_n), every count and clip shown.
* ``gan``: D*(x) = p_data(x)/(p_data(x) + p_model(x)), and for distributions over the
  listed points the value V(D*, G) = −log 4 + 2·JSD(p_data‖p_model).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Annotated, Any, Literal

import sympy
from pydantic import BeforeValidator, model_validator

from .. import exact
from ..display import Add, Call, Frac, Mat, Mul, Neg, Pow, Raw, Sym, Table, Text, eq, m, says
from ..errors import FieldError
from ..given import Count, GivenModel, TypeDoc, Vector, _tensor_validator
from ..solution import Key, Solution
from . import Kind, kind
from .common import about, draw_variant

Measure = Annotated[
    Literal["entropy", "cross_entropy", "kl", "perplexity", "bleu", "gan"],
    TypeDoc("choice", "entropy, cross_entropy, kl, perplexity, bleu or gan"),
]
Base = Annotated[Literal["e", 2], TypeDoc("e | 2", "natural logs (nats) or base 2 (bits)")]


class Gaussian(GivenModel):
    """A normal distribution N(μ, σ²): univariate (numbers) or diagonal (lists)."""

    mu: Any
    sigma: Any

    @property
    def dims(self) -> list[tuple[Any, Any]]:
        mus = self.mu if isinstance(self.mu, list) else [self.mu]
        sigmas = self.sigma if isinstance(self.sigma, list) else [self.sigma]
        return list(zip(mus, sigmas, strict=True))


def _distribution(value: Any) -> Any:
    """A categorical (a list of probabilities) or a Gaussian ``{mu, sigma}``."""
    if isinstance(value, Mapping):
        if set(value) != {"mu", "sigma"}:
            raise FieldError("a Gaussian is written {mu: ..., sigma: ...}")
        mu, sigma = (_numbers(value[k], k) for k in ("mu", "sigma"))
        if isinstance(mu, list) != isinstance(sigma, list) or (
            isinstance(mu, list) and len(mu) != len(sigma)
        ):
            raise FieldError("mu and sigma must both be numbers or lists of one length")
        for i, s in enumerate(sigma if isinstance(sigma, list) else [sigma]):
            if exact.sign(s) <= 0:
                raise FieldError(f"sigma must be > 0, got {exact.unicode(s)}", path=("sigma", i))
        return Gaussian(mu=mu, sigma=sigma)
    p = _tensor_validator(1, symbolic=False)(value)
    for i, x in enumerate(p):
        if exact.sign(x) < 0:
            raise FieldError(f"a probability must be ≥ 0, got {exact.unicode(x)}", path=(i,))
    if exact.total(p) != 1:
        raise FieldError(f"the probabilities must sum to 1, they sum to {exact.total(p)}")
    return p


def _numbers(value: Any, name: str) -> Any:
    if isinstance(value, list):
        return _tensor_validator(1, symbolic=False)(value)
    from ..given import _exact

    try:
        return _exact(value, symbolic=False)
    except FieldError as err:
        raise FieldError(f"{name}: {err.message}") from None


Distribution = Annotated[
    Any,
    BeforeValidator(_distribution),
    TypeDoc("distribution", "probabilities summing to 1, or a Gaussian {mu: 0, sigma: 1}"),
]


def _tokens(value: Any) -> list[str]:
    if isinstance(value, str):
        words = value.split()
    elif isinstance(value, list) and all(isinstance(w, (str, int)) for w in value):
        words = [str(w) for w in value]
    else:
        raise FieldError("expected a sentence (text) or a list of tokens")
    if not words:
        raise FieldError("must hold at least one word")
    return words


Tokens = Annotated[
    list[str], BeforeValidator(_tokens), TypeDoc("sentence", "text split at spaces, or tokens")
]


class InformationGiven(GivenModel):
    measure: Measure
    """which measure: entropy, cross_entropy, kl, perplexity, bleu or gan"""
    base: Base = "e"
    """e: natural logs (nats); 2: bits"""
    p: Distribution | None = None
    """a distribution: probabilities summing to 1, or a Gaussian {mu, sigma} (lists: diagonal)"""
    q: Distribution | None = None
    """the second distribution of cross_entropy and kl, of the same kind as p"""
    probabilities: Vector | None = None
    """perplexity: the probability the model gave each token"""
    log_probabilities: Vector | None = None
    """perplexity: the log-probability of each token (in the problem's base)"""
    candidate: Tokens | None = None
    """bleu: the candidate translation"""
    references: Annotated[
        list[Tokens] | None, TypeDoc("list of sentences", "texts, or lists of tokens")
    ] = None
    """bleu: the reference translations"""
    max_n: Count = 4
    """bleu: the longest n-gram counted"""
    weights: Vector | None = None
    """bleu: the weight of each n-gram order (default uniform, 1/max_n each)"""
    p_data: Vector | None = None
    """gan: the data density at each point"""
    p_model: Vector | None = None
    """gan: the model (generator) density at each point"""

    @model_validator(mode="after")
    def _check(self) -> InformationGiven:
        needs = {
            "entropy": ("p",),
            "cross_entropy": ("p", "q"),
            "kl": ("p", "q"),
            "bleu": ("candidate", "references"),
            "gan": ("p_data", "p_model"),
            "perplexity": (),
        }[self.measure]
        for name in needs:
            if getattr(self, name) is None:
                raise FieldError(f"is needed for the measure {self.measure}", name)
        check = {
            "cross_entropy": self._check_pair,
            "kl": self._check_pair,
            "perplexity": self._check_perplexity,
            "bleu": self._check_bleu,
            "gan": self._check_gan,
        }.get(self.measure)
        if check is not None:
            check()
        return self

    def _check_pair(self) -> None:
        if isinstance(self.p, Gaussian) != isinstance(self.q, Gaussian):
            raise FieldError("must be a Gaussian if p is, a categorical if p is", "q")
        size = len(self.p.dims) if isinstance(self.p, Gaussian) else len(self.p)
        other = len(self.q.dims) if isinstance(self.q, Gaussian) else len(self.q)
        if size != other:
            raise FieldError(f"has {other} entries but p has {size}", "q")

    def _check_perplexity(self) -> None:
        given = [f for f in ("probabilities", "log_probabilities") if getattr(self, f)]
        if len(given) != 1:
            raise FieldError(
                "give exactly one of probabilities or log_probabilities", "probabilities"
            )
        for i, x in enumerate(self.probabilities or []):
            if exact.sign(x) <= 0 or exact.sign(x - 1) > 0:
                raise FieldError(
                    f"must be a probability in (0, 1], got {exact.unicode(x)}",
                    "probabilities",
                    (i,),
                )
        for i, x in enumerate(self.log_probabilities or []):
            if exact.sign(x) > 0:
                raise FieldError(
                    f"a log-probability must be ≤ 0, got {exact.unicode(x)}",
                    "log_probabilities",
                    (i,),
                )

    def _check_bleu(self) -> None:
        if not self.references:
            raise FieldError("needs at least one reference", "references")
        if self.weights is not None:
            if len(self.weights) != self.max_n:
                raise FieldError(
                    f"has {len(self.weights)} entries but max_n is {self.max_n}", "weights"
                )
            for i, w in enumerate(self.weights):
                if exact.sign(w) < 0:
                    raise FieldError("a weight must be ≥ 0", "weights", (i,))

    def _check_gan(self) -> None:
        if len(self.p_data) != len(self.p_model):
            raise FieldError(
                f"has {len(self.p_model)} points but p_data has {len(self.p_data)}", "p_model"
            )
        for name in ("p_data", "p_model"):
            for i, x in enumerate(getattr(self, name)):
                if exact.sign(x) < 0:
                    raise FieldError("a density must be ≥ 0", name, (i,))

    def bleu_weights(self) -> list[Any]:
        return list(self.weights) if self.weights else [Fraction(1, self.max_n)] * self.max_n


# --------------------------------------------------------------------------- exact logs

H_P = Raw("H(p)", "H(p)")
H_PQ = Raw("H(p, q)", "H(p, q)")
NLL, PPL, BP, BLEU, JSD = (Raw(rf"\mathrm{{{n}}}", n) for n in ("NLL", "PPL", "BP", "BLEU", "JSD"))


def log(x: Any, base: Any = "e") -> sympy.Expr:
    """log x in the problem's base, as sympy keeps it (log 2, not 0.693...). A rational is
    split over its primes, log(12) = 2 log 2 + log 3, so that sums of logs collect."""
    if exact.is_rational(x) and x > 0:
        q = Fraction(x)
        e = sympy.Add(
            *[k * sympy.log(p) for p, k in sympy.factorint(q.numerator).items()],
            *[-k * sympy.log(p) for p, k in sympy.factorint(q.denominator).items()],
        )
    else:
        e = sympy.expand_log(sympy.log(exact.to_sympy(x)), force=True)
    return e if base == "e" else e / sympy.log(2)


def tidy(e: Any) -> Any:
    """An exact value in its simplest form: logs of products split (log 6 = log 2 + log 3)."""
    if exact.is_rational(e) or isinstance(e, exact.Surd):
        return e
    e = sympy.expand_log(sympy.sympify(e), force=True)
    return exact.from_sympy(sympy.nsimplify(e) if e.is_Rational else e)


def xlogy(x: Any, y: Any, base: Any) -> sympy.Expr:
    """x·log y with 0·log 0 = 0 (the convention every information measure uses)."""
    return sympy.Integer(0) if exact.is_zero(x) else exact.to_sympy(x) * log(y, base)


def unit(base: Any) -> str:
    return "nats" if base == "e" else "bits"


def log_name(base: Any) -> str:
    return "ln" if base == "e" else "log₂"


def ngrams(words: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def closest_reference_length(c: int, refs: Sequence[Sequence[str]]) -> int:
    """r: the reference length closest to the candidate's, the shorter on a tie (as in
    Papineni et al., NLTK and sacreBLEU)."""
    return min((len(r) for r in refs), key=lambda r: (abs(r - c), r))


# --------------------------------------------------------------------------- the kind


@kind("information")
class Information(Kind):
    """Entropy, cross-entropy, KL, perplexity, BLEU or a GAN's optimal discriminator, exactly.

    Logs and roots are kept (nats, or bits with ``base: 2``), floats written beside."""

    Given = InformationGiven
    keys = (
        Key("entropy", "real", "H(p) = −Σ p log p (a Gaussian: ½ log(2πeσ²) per dimension)"),
        Key(
            "cross_entropy",
            "real",
            "H(p, q) = −Σ p log q; for perplexity, the average negative log-likelihood per token",
        ),
        Key("kl", "real", "KL(p‖q) = Σ p log(p/q)"),
        Key("kl_reverse", "real", "KL(q‖p), the other direction"),
        Key("perplexity", "real", "exp of the average negative log-likelihood, (Π pᵢ)^(−1/N)"),
        Key("candidate_ngrams[n]", "integer", "how many n-grams the candidate has"),
        Key("matches[n]", "integer", "its n-grams found in a reference, each clipped"),
        Key("precision[n]", "real", "the clipped n-gram precision p_n = matches/candidate_ngrams"),
        Key("brevity_penalty", "real", "BP = 1 if c > r, else exp(1 − r/c)"),
        Key("bleu", "real", "BLEU = BP·exp(Σ w_n log p_n)"),
        Key("discriminator", "vector", "the optimal D*(x) = p_data/(p_data + p_model) per point"),
        Key("value", "real", "V(D*, G) = E_data log D* + E_model log(1 − D*)"),
        Key("jsd", "real", "the Jensen–Shannon divergence of p_data and p_model"),
    )
    example = {"measure": "kl", "p": {"mu": 0, "sigma": 1}, "q": {"mu": 1, "sigma": 2}}
    misconceptions = {
        "KL's arguments swapped (KL(q‖p) instead of KL(p‖q))": {"swap": True},
        "BLEU without clipping (a repeated word counted every time it appears)": {"clip": False},
        "BLEU without the brevity penalty": {"brevity": False},
        "bits for nats (logs in the other base)": {"other_base": True},
        "perplexity from the total instead of the average log-likelihood": {"average": False},
    }
    nice = ("the probabilities are simple fractions and the answers are finite",)

    def show_givens(self, g: GivenModel) -> list[tuple[Any, Any]]:
        plain = g.model_copy(update={"p": None, "q": None, "candidate": None, "references": None})
        out = list(super().show_givens(plain))
        for name in ("p", "q"):
            d = getattr(g, name)
            if isinstance(d, Gaussian):
                out.append((Sym(name), _gaussian(d)))
            elif d is not None:
                out.append((Sym(name), Mat(list(d))))
        if g.candidate is not None:
            out.append((Text("candidate"), Text(" ".join(g.candidate))))
            for i, r in enumerate(g.references or [], start=1):
                out.append((Text(f"reference {i}"), Text(" ".join(r))))
        return out

    def solve(
        self,
        g: InformationGiven,
        s: Solution,
        *,
        swap: bool = False,
        clip: bool = True,
        brevity: bool = True,
        other_base: bool = False,
        average: bool = True,
    ) -> None:
        base = g.base if not other_base else ("e" if g.base == 2 else 2)
        if g.base == 2 or other_base:
            s.step(
                f"Logs in base {2 if base == 2 else 'e'}: the answers are in {unit(base)}"
                + (" (log₂ x = ln x / ln 2)." if base == 2 else ".")
            )
        if g.measure == "entropy":
            self._entropy(g.p, s, base)
        elif g.measure == "cross_entropy":
            p, q = (g.q, g.p) if swap else (g.p, g.q)
            self._cross_entropy(p, q, s, base)
        elif g.measure == "kl":
            p, q = (g.q, g.p) if swap else (g.p, g.q)
            s.answer("kl", self._kl(p, q, s, base, "p", "q"), label=_kl_label("p", "q"))
            s.answer("kl_reverse", self._kl(q, p, s, base, "q", "p"), label=_kl_label("q", "p"))
            s.step(
                "KL is not symmetric: the two directions differ in general, and both are ≥ 0, "
                "0 only when the distributions are equal."
            )
        elif g.measure == "perplexity":
            self._perplexity(g, s, base, g.base, average)
        elif g.measure == "bleu":
            self._bleu(g, s, clip, brevity)
        else:
            d, m_ = (g.p_model, g.p_data) if swap else (g.p_data, g.p_model)
            self._gan(list(d), list(m_), s, base)

    # -- entropy, cross-entropy, KL

    def _entropy(self, p: Any, s: Solution, base: Any) -> Any:
        if isinstance(p, Gaussian):
            terms = [
                Fraction(1, 2) * log(2 * sympy.pi * sympy.E * exact.to_sympy(sg) ** 2, base)
                for _, sg in p.dims
            ]
            h = tidy(sympy.Add(*terms))
            s.step(
                "The differential entropy of a Gaussian depends only on σ: "
                "H = ½ log(2πeσ²) per dimension, summed over independent dimensions.",
                about(H_P, h),
            )
        else:
            h = tidy(-sympy.Add(*[xlogy(x, x, base) for x in p]))
            s.step(
                says(
                    f"Entropy ⟦H(p) = −Σ pᵢ {log_name(base)} pᵢ⟧ (a zero probability adds "
                    "⟦0·log 0 = 0⟧)."
                ),
                about(H_P, Neg(Add(*[_plogq(x, x, base) for x in p if not exact.is_zero(x)])), h),
            )
        return s.answer("entropy", h, label=H_P)

    def _cross_entropy(self, p: Any, q: Any, s: Solution, base: Any) -> None:
        if isinstance(p, Gaussian):
            h = self._entropy(p, s, base)
            kl = s.answer("kl", self._kl(p, q, s, base, "p", "q"), label=_kl_label("p", "q"))
            ce = tidy(exact.to_sympy(h) + exact.to_sympy(kl))
            s.step(
                says("Cross-entropy is entropy plus KL: ⟦H(p, q) = H(p) + KL(p‖q)⟧."),
                about(H_PQ, ce),
            )
            s.answer("cross_entropy", ce, label=H_PQ)
            return
        if any(not exact.is_zero(a) and exact.is_zero(b) for a, b in zip(p, q, strict=True)):
            ce = None
            s.step("q gives probability 0 to an outcome p can produce: H(p, q) is infinite.")
        else:
            ce = tidy(-sympy.Add(*[xlogy(a, b, base) for a, b in zip(p, q, strict=True)]))
            s.step(
                says(
                    f"Cross-entropy ⟦H(p, q) = −Σ pᵢ {log_name(base)} qᵢ⟧: the expected code "
                    "length when outcomes come from p but the code is built for q."
                ),
                about(
                    H_PQ,
                    Neg(
                        Add(
                            *[
                                _plogq(a, b, base)
                                for a, b in zip(p, q, strict=True)
                                if not exact.is_zero(a)
                            ]
                        )
                    ),
                    ce,
                ),
            )
        s.answer("cross_entropy", ce, label=H_PQ)
        h = self._entropy(p, s, base)
        kl = s.answer("kl", self._kl(p, q, s, base, "p", "q"), label=_kl_label("p", "q"))
        if ce is not None and kl is not None:
            s.step(
                "Check: H(p, q) = H(p) + KL(p‖q).",
                eq(Add(h, kl), tidy(exact.to_sympy(h) + exact.to_sympy(kl))),
            )

    def _kl(self, p: Any, q: Any, s: Solution, base: Any, a: str, b: str) -> Any:
        label = _kl_label(a, b)
        if isinstance(p, Gaussian):
            terms = []
            for (m1, s1), (m2, s2) in zip(p.dims, q.dims, strict=True):
                m1, s1, m2, s2 = (exact.to_sympy(v) for v in (m1, s1, m2, s2))
                terms.append(
                    log(s2 / s1, base)
                    + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) / (1 if base == "e" else sympy.log(2))
                    - sympy.Rational(1, 2) / (1 if base == "e" else sympy.log(2))
                )
            kl = tidy(sympy.Add(*terms))
            formula = (
                "log(σ_"
                + b
                + "/σ_"
                + a
                + ") + (σ_"
                + a
                + "² + (μ_"
                + a
                + " − μ_"
                + b
                + ")²)/(2σ_"
                + b
                + "²) − ½"
            )
            s.step(
                says(
                    f"⟦KL({a}‖{b})⟧ between Gaussians, per dimension: ⟦{formula}⟧"
                    + (", summed over the dimensions" if len(p.dims) > 1 else "")
                    + (" (divided by ⟦ln 2⟧ for bits)" if base == 2 else "")
                    + "."
                ),
                about(label, kl),
            )
            return kl
        if any(not exact.is_zero(x) and exact.is_zero(y) for x, y in zip(p, q, strict=True)):
            s.step(
                f"{b} gives probability 0 to an outcome {a} can produce: KL({a}‖{b}) is infinite."
            )
            return None
        kl = tidy(
            sympy.Add(
                *[
                    xlogy(x, Fraction(x) / Fraction(y) if not exact.is_zero(x) else 1, base)
                    for x, y in zip(p, q, strict=True)
                ]
            )
        )
        s.step(
            f"KL({a}‖{b}) = Σ {a}ᵢ {log_name(base)}({a}ᵢ/{b}ᵢ), weighted by {a}.",
            about(
                label,
                Add(
                    *[
                        _plogratio(x, y, base)
                        for x, y in zip(p, q, strict=True)
                        if not exact.is_zero(x)
                    ]
                ),
                kl,
            ),
        )
        return kl

    # -- perplexity

    def _perplexity(
        self, g: InformationGiven, s: Solution, base: Any, given_base: Any, average: bool
    ) -> None:
        if g.probabilities is not None:
            ps = list(g.probabilities)
            N = len(ps)
            total = -sympy.Add(*[log(x, base) for x in ps])
            s.step(
                f"The negative log-likelihood of the {N} tokens, −Σ {log_name(base)} pᵢ.",
                about(NLL, Neg(Add(*[Call(log_name(base), x) for x in ps])), tidy(total)),
            )
        else:
            lps = list(g.log_probabilities)
            N = len(lps)
            scale = 1 if base == given_base else (sympy.log(2) if base == "e" else 1 / sympy.log(2))
            total = -sympy.Add(*[exact.to_sympy(x) for x in lps]) * scale
            s.step(
                f"The negative log-likelihood of the {N} tokens is minus the sum of their "
                "log-probabilities.",
                about(NLL, tidy(total)),
            )
        ce = tidy(total / N) if average else tidy(total)
        s.step(
            f"Average over the N = {N} tokens: the cross-entropy per token, in {unit(base)}."
            if average
            else "(Not averaged over the tokens.)",
            about(Sym("H"), Frac(NLL, N) if average else NLL, ce),
        )
        s.answer("cross_entropy", ce, label=Sym("H"))
        b = sympy.E if given_base == "e" else sympy.Integer(2)
        ppl = tidy(sympy.powsimp(b ** exact.to_sympy(ce)))
        s.step(
            says(
                "Perplexity is the base raised to the cross-entropy: ⟦"
                + ("e^H" if given_base == "e" else "2^H")
                + " = (Π pᵢ)^(−1/N)⟧, the number of equally likely choices that would be as "
                "surprising."
            ),
            about(PPL, Pow(Sym("e") if given_base == "e" else 2, Sym("H")), ppl),
        )
        s.answer("perplexity", ppl, label=PPL)

    # -- BLEU

    def _bleu(self, g: InformationGiven, s: Solution, clip: bool, brevity: bool) -> None:
        cand, refs = list(g.candidate), [list(r) for r in g.references]
        weights = g.bleu_weights()
        precisions: list[Any] = []
        for n in range(1, g.max_n + 1):
            counts = ngrams(cand, n)
            ref_counts = [ngrams(r, n) for r in refs]
            rows = []
            matched = 0
            for gram, count in counts.items():
                most = max(rc[gram] for rc in ref_counts)
                kept = min(count, most) if clip else (count if most else 0)
                matched += kept
                rows.append([" ".join(gram), count, most, kept])
            total = sum(counts.values())
            s.step(
                f"{n}-grams of the candidate: each counted at most as often as it appears in "
                "any single reference (clipped)."
                if clip
                else f"{n}-grams of the candidate found in a reference (not clipped).",
                Table(["n-gram", "count", "max in a reference", "clipped"], rows)
                if rows
                else Text(f"the candidate has no {n}-grams"),
            )
            s.answer(f"candidate_ngrams[{n}]", total, label=Sym("N", n))
            s.answer(f"matches[{n}]", matched, label=Sym("M", n))
            p_n = exact.rational(Fraction(matched, total)) if total else None
            s.step(
                f"Clipped {n}-gram precision.",
                eq(Sym("p", n), Frac(matched, total), p_n) if total else Text("undefined: 0/0"),
            )
            precisions.append(s.answer(f"precision[{n}]", p_n, label=Sym("p", n)))
        c = len(cand)
        r = closest_reference_length(c, refs)
        bp = 1 if c > r or not brevity else exact.from_sympy(sympy.exp(1 - sympy.Rational(r, c)))
        s.step(
            f"Brevity penalty: the candidate has c = {c} words and the closest reference "
            f"length is r = {r}; "
            + (
                "BP is not applied (the misconception)."
                if not brevity
                else "c > r, so BP = 1."
                if c > r
                else "c ≤ r, so BP = exp(1 − r/c)."
            ),
            about(BP, Call("exp", Add(1, Neg(Frac(r, c)))), bp)
            if brevity and c <= r
            else about(BP, bp),
        )
        s.answer("brevity_penalty", bp, label=BP)
        used = [(w, p) for w, p in zip(weights, precisions, strict=True) if not exact.is_zero(w)]
        if any(p is None or exact.is_zero(p) for _, p in used):
            score: Any = 0
            s.step(
                says("A precision with a positive weight is 0, so ⟦log p_n = −∞⟧ and ⟦BLEU = 0⟧.")
            )
        else:
            score = tidy(
                exact.to_sympy(bp)
                * sympy.Mul(*[exact.to_sympy(p) ** exact.to_sympy(w) for w, p in used])
            )
            s.step(
                says("⟦BLEU = BP·exp(Σ w_n log p_n) = BP·Π p_n^{w_n}⟧."),
                about(BLEU, Mul(bp, *[Pow(p, w) for w, p in used]), score),
            )
        s.answer("bleu", score, label=BLEU)

    # -- GAN

    def _gan(self, data: list[Any], model: list[Any], s: Solution, base: Any) -> None:
        d = [
            None if exact.is_zero(a + b) else exact.rational(Fraction(a) / Fraction(a + b))
            for a, b in zip(data, model, strict=True)
        ]
        s.step(
            says(
                "For a fixed generator the discriminator maximizes "
                "⟦p_data(x) log D(x) + p_model(x) log(1 − D(x))⟧ at every x; "
                "⟦a log D + b log(1 − D)⟧ is largest at ⟦D = a/(a + b)⟧."
            ),
            eq(
                Raw("D^*(x)", "D*(x)"),
                Frac(
                    Raw(r"p_{\text{data}}", "p_data"),
                    Add(Raw(r"p_{\text{data}}", "p_data"), Raw(r"p_{\text{model}}", "p_model")),
                ),
            ),
            eq(Raw("D^*", "D*"), Mat(d)),
        )
        s.answer("discriminator", d, label=Raw("D^*", "D*"))
        if exact.total(data) != 1 or exact.total(model) != 1:
            s.step(
                "The densities do not sum to 1 over the listed points, so they are not "
                "distributions on these points: V(D*, G) needs the integral over all x "
                "and is not asked."
            )
            return
        value = tidy(
            sympy.Add(
                *[xlogy(a, x, base) for a, x in zip(data, d, strict=True) if x is not None],
                *[xlogy(b, 1 - x, base) for b, x in zip(model, d, strict=True) if x is not None],
            )
        )
        s.step(
            "The value at the optimal discriminator: "
            "V(D*, G) = Σ p_data log D* + Σ p_model log(1 − D*).",
            about(Sym("V"), value),
        )
        s.answer("value", value, label=Sym("V"))
        mix = [Fraction(a + b) / 2 for a, b in zip(data, model, strict=True)]
        jsd = tidy(
            sympy.Add(
                *[
                    Fraction(1, 2) * xlogy(a, Fraction(a) / mx if a else 1, base)
                    + Fraction(1, 2) * xlogy(b, Fraction(b) / mx if b else 1, base)
                    for a, b, mx in zip(data, model, mix, strict=True)
                ]
            )
        )
        s.answer("jsd", jsd, label=JSD)
        floor = tidy(-log(4, base))
        s.step(
            says(
                "With ⟦M = (p_data + p_model)/2⟧, ⟦V(D*, G) = −log 4 + 2·JSD(p_data‖p_model)⟧: "
                "it is ⟦−log 4⟧ exactly when the model matches the data, and larger otherwise."
            ),
            about(JSD, jsd),
            eq(Add(floor, Mul(2, JSD)), tidy(exact.to_sympy(floor) + 2 * exact.to_sympy(jsd))),
        )

    # -- variants

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        return draw_variant(self, given, rng, self._draw)

    def _draw(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        measure = raw["measure"]
        if measure in ("entropy", "cross_entropy", "kl"):
            for name in ("p", "q"):
                if raw.get(name) is None:
                    continue
                old = raw[name]
                if isinstance(old, Mapping):
                    dims = len(old["mu"]) if isinstance(old["mu"], list) else None
                    mus = [rng.randint(-2, 2) for _ in range(dims or 1)]
                    sigmas = [rng.choice(["1/2", 1, 1, 2, 3]) for _ in range(dims or 1)]
                    raw[name] = (
                        {"mu": mus, "sigma": sigmas} if dims else {"mu": mus[0], "sigma": sigmas[0]}
                    )
                else:
                    raw[name] = _positive_simple(len(old), rng)
        elif measure == "perplexity":
            if raw.get("probabilities") is not None:
                raw["probabilities"] = [
                    rng.choice(["1/2", "1/4", "1/8", "1/3", "1/6", "1/9"])
                    for _ in raw["probabilities"]
                ]
            else:
                raw["log_probabilities"] = [
                    str(-Fraction(rng.randint(1, 30), 10)) for _ in raw["log_probabilities"]
                ]
        elif measure == "bleu":
            refs = [str(r).split() if isinstance(r, str) else list(r) for r in raw["references"]]
            old_cand = raw["candidate"]
            c = len(old_cand.split() if isinstance(old_cand, str) else old_cand)
            r = closest_reference_length(c, refs)
            vocab = sorted({w for ref in refs for w in ref})
            first = rng.choice(refs)
            length = max(2, c + rng.randint(-1, 1))
            if (c < r) != (length < closest_reference_length(length, refs)):
                length = c  # keep the candidate short (or not) as the source has it
            start = rng.randint(0, max(0, len(first) - length))
            cand = list(first[start : start + length])
            while len(cand) < length:
                cand.append(rng.choice(vocab))
            if rng.random() < 0.5 and len(cand) > 2:  # a repeated word, so clipping matters
                cand[rng.randrange(1, len(cand))] = cand[0]
            raw["candidate"] = " ".join(cand)
        else:
            n = len(raw["p_data"])
            same = raw["p_data"] == raw["p_model"]  # the model matches the data: keep it so
            raw["p_data"] = _positive_simple(n, rng)
            raw["p_model"] = raw["p_data"] if same else _positive_simple(n, rng)
        return raw

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        finite = all(
            a.value is not None
            for a in s.answers.values()
            if a.type == "real" and a.key != "precision[4]"
        )
        if g.measure == "bleu":
            return [] if s["bleu"] != 0 else ["BLEU is 0 (an order has no match)"]
        return [] if finite else [self.nice[0]]


def _positive_simple(n: int, rng: random.Random) -> list[str]:
    """n positive probabilities with a small common denominator, summing to 1."""
    den = rng.choice([4, 5, 6, 8, 10]) if n > 1 else 1
    if den < n:
        den = n
    cuts = sorted(rng.sample(range(1, den), n - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, den], strict=True)]
    return [str(Fraction(p, den)) for p in parts]


def _gaussian(d: Gaussian) -> Raw:
    mu = m(list(d.mu) if isinstance(d.mu, list) else d.mu)
    sg = m(list(d.sigma) if isinstance(d.sigma, list) else d.sigma)
    return Raw(
        rf"\mathcal{{N}}(\mu = {mu.latex()},\ \sigma = {sg.latex()})",
        f"N(μ = {mu.text()}, σ = {sg.text()})",
    )


def _kl_label(a: str, b: str) -> Raw:
    return Raw(rf"\mathrm{{KL}}({a} \| {b})", f"KL({a}‖{b})")


def _plogq(a: Any, b: Any, base: Any) -> Any:
    return Mul(a, Call(log_name(base), b))


def _plogratio(x: Any, y: Any, base: Any) -> Any:
    return Mul(x, Call(log_name(base), Frac(x, y)))
