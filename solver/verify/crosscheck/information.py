"""Information measures recomputed with PyTorch in float64, independently of the kind.

* entropy, cross-entropy and KL: ``torch.distributions`` (``Categorical``, ``Normal``, a
  diagonal Gaussian as ``Independent(Normal, 1)``), ``Distribution.entropy`` and
  ``kl_divergence``; the cross-entropy of categoricals as −Σ p log q with ``xlogy``;
  bits are nats divided by ln 2.
* perplexity: exp of the mean negative log-likelihood of a float64 tensor.
* BLEU: a separate implementation here (n-gram counts with ``collections.Counter``,
  clipping by the largest count in one reference, the closest reference length, the
  brevity penalty and the weighted geometric mean in floats), written from Papineni et
  al. and not from the kind's code.
* GAN: D* = p_data/(p_data + p_model) and the value Σ p_data log D* + Σ p_model log(1 − D*)
  with torch tensors; the Jensen–Shannon divergence as two ``kl_divergence`` calls to the
  mixture.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.distributions import Categorical, Independent, Normal, kl_divergence

from ... import exact
from ...solution import Solution
from . import crosscheck

F64 = torch.float64


def _t(x: Any, device: Any) -> torch.Tensor:
    return torch.tensor(exact.to_float(x), dtype=F64, device=device)


def _dist(d: Any, device: Any) -> torch.distributions.Distribution:
    """A torch distribution for a categorical (a list) or a Gaussian ``{mu, sigma}``."""
    if isinstance(d, list):
        return Categorical(probs=_t(d, device))
    mu, sigma = _t(d.mu, device), _t(d.sigma, device)
    if mu.dim() == 0:
        return Normal(mu, sigma)
    return Independent(Normal(mu, sigma), 1)


def _kl(p: Any, q: Any, device: Any) -> torch.Tensor:
    return kl_divergence(_dist(p, device), _dist(q, device))


@crosscheck("information")
def information(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    scale = 1.0 if g.base == "e" else 1 / math.log(2)  # nats -> the problem's unit
    out: dict[str, Any] = {}
    if g.measure in ("entropy", "cross_entropy"):
        out["entropy"] = _dist(g.p, device).entropy() * scale
    if g.measure in ("cross_entropy", "kl"):
        out["kl"] = _kl(g.p, g.q, device) * scale
    if g.measure == "kl":
        out["kl_reverse"] = _kl(g.q, g.p, device) * scale
    if g.measure == "cross_entropy":
        if isinstance(g.p, list):
            p, q = _t(g.p, device), _t(g.q, device)
            out["cross_entropy"] = -torch.special.xlogy(p, q).sum() * scale
        else:
            out["cross_entropy"] = (_dist(g.p, device).entropy() + _kl(g.p, g.q, device)) * scale
    if g.measure == "perplexity":
        if g.probabilities is not None:
            nll = -torch.log(_t(g.probabilities, device)) * scale
        else:
            nll = -_t(g.log_probabilities, device)
        h = nll.mean()
        out["cross_entropy"] = h
        out["perplexity"] = torch.exp(h) if g.base == "e" else torch.pow(2.0, h)
    if g.measure == "bleu":
        out.update(bleu(g.candidate, g.references, g.max_n, exact.to_float(g.bleu_weights())))
    if g.measure == "gan":
        out.update(_gan(_t(g.p_data, device), _t(g.p_model, device), scale))
    return out


def bleu(
    candidate: Sequence[str], references: Sequence[Sequence[str]], max_n: int, weights: list[float]
) -> dict[str, Any]:
    """BLEU from Papineni et al. (2002), sentence level, in floats."""
    out: dict[str, Any] = {}
    logs = []
    for n in range(1, max_n + 1):
        grams = Counter(zip(*[candidate[i:] for i in range(n)], strict=False))
        best: Counter[tuple[str, ...]] = Counter()
        for ref in references:
            best |= Counter(zip(*[ref[i:] for i in range(n)], strict=False))  # max per n-gram
        clipped = sum((grams & best).values())  # min(count, max ref count)
        total = sum(grams.values())
        out[f"candidate_ngrams[{n}]"] = total
        out[f"matches[{n}]"] = clipped
        out[f"precision[{n}]"] = clipped / total if total else math.nan
        logs.append((weights[n - 1], clipped / total if total else 0.0))
    c = len(candidate)
    ref_lens = sorted(len(r) for r in references)
    r = min(ref_lens, key=lambda x: abs(x - c))  # sorted: the shorter wins a tie
    bp = 1.0 if c > r else math.exp(1 - r / c)
    out["brevity_penalty"] = bp
    if any(w > 0 and p == 0 for w, p in logs):
        out["bleu"] = 0.0
    else:
        out["bleu"] = bp * math.exp(sum(w * math.log(p) for w, p in logs if w > 0))
    return out


def _gan(data: torch.Tensor, model: torch.Tensor, scale: float) -> dict[str, Any]:
    d = data / (data + model)  # nan where both densities are 0
    out: dict[str, Any] = {"discriminator": d}
    if abs(float(data.sum()) - 1) < 1e-12 and abs(float(model.sum()) - 1) < 1e-12:
        ok = (data + model) > 0
        value = (
            torch.special.xlogy(data[ok], d[ok]).sum()
            + torch.special.xlogy(model[ok], 1 - d[ok]).sum()
        )
        out["value"] = value * scale
        mix = Categorical(probs=(data + model) / 2)
        to_mix = [kl_divergence(Categorical(probs=x), mix) for x in (data, model)]
        out["jsd"] = (to_mix[0] + to_mix[1]) / 2 * scale
    return out
