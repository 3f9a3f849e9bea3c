"""Normalization layers, worked exactly: LayerNorm, BatchNorm, InstanceNorm, GroupNorm, dropout.

All four normalizations are one computation with a different *grouping*: the
entries of X that share a mean and a variance. LayerNorm groups each example's
features, BatchNorm each feature (or channel) across the batch, InstanceNorm
each channel of each example, GroupNorm each group of channels of each
example. So each kind below chooses a :class:`Grouping` and the shared steps
write the worked solution: the mean of each group, its (biased) variance, the
normalized values, then the affine step y = γ x̂ + β.

Arithmetic stays in Fractions; the square root of each group's variance is
formed once (a Surd such as 2√3/3) and every entry of the group is scaled by
it, which keeps a 128×128 problem fast and every answer exact.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from pydantic import model_validator

from .. import exact
from ..display import Add, Frac, Mat, Mul, Pow, Raw, Sqrt, Sym, eq, says, sub
from ..errors import FieldError
from ..given import Count, GivenModel, NonNegative, Probability, Tensor, Vector
from ..parse import parse_value
from ..solution import Key, Solution
from . import Kind, kind

Index = tuple[int, ...]
# A course's worked example is small (IFT6135's X is [4, 2, 3]: 8 instance groups, sums of 12
# terms) and a student checks it term by term, so those are written out in full; only
# larger tensors are abbreviated.
SHOWN_GROUPS = 8  # groups worked in full in the steps; the rest are "likewise"
SHOWN_TERMS = 16  # terms of a long sum written out before an ellipsis
SHOWN_ENTRIES = 64  # a tensor larger than this is shown in the answers only, not in a step


# --------------------------------------------------------------------------- groupings


# The solve options that reproduce the normalization kinds' mistakes (``misconceptions``).
#: which values are normalized together; a kind's own is its default
GroupingName = Literal["layer", "batch", "instance", "group"]
#: what the centred values are divided by: √(σ² + ε), or σ² + ε (forgot the square root)
DivideBy = Literal["std", "var"]
#: the factor of inverted dropout: 1/(1 − p), none, 1/p, or (1 − p)
DropoutScale = Literal["inverse", "none", "p", "times"]


@dataclass(frozen=True)
class Grouping:
    """Which entries of X share one mean and variance, and how to talk about them."""

    name: str  # "layer", "batch", "instance", "group"
    stat_shape: tuple[int, ...]  # shape of the mean and var answers
    group_of: Callable[[Index], Index]  # entry index -> index into the statistics
    describe: Callable[[Index], str]  # statistics index -> "row 1", "channel 2"
    over: str  # "its 4 features", "the 3 examples of the batch"

    def groups(self) -> list[Index]:
        return list(itertools.product(*(range(n) for n in self.stat_shape)))


def _one_based(g: Index) -> tuple[int, ...] | int:
    return g[0] + 1 if len(g) == 1 else tuple(i + 1 for i in g)


def layer_grouping(shape: Sequence[int]) -> Grouping:
    """Per example, over all its features (and channels and positions)."""
    per = _prod(shape[1:])
    what = "features" if len(shape) == 2 else "values"
    return Grouping(
        "layer",
        (shape[0],),
        lambda i: (i[0],),
        lambda g: f"example {g[0] + 1}" if len(shape) > 2 else f"row {g[0] + 1}",
        f"its {per} {what}",
    )


def batch_grouping(shape: Sequence[int]) -> Grouping:
    """Per feature (2-D) or channel (3-D, 4-D), over the batch and all positions."""
    per = shape[0] * _prod(shape[2:])
    unit = "feature" if len(shape) == 2 else "channel"
    over = (
        f"the {shape[0]} examples of the batch"
        if len(shape) == 2
        else f"the batch and all positions ({per} values)"
    )
    return Grouping("batch", (shape[1],), lambda i: (i[1],), lambda g: f"{unit} {g[0] + 1}", over)


def instance_grouping(shape: Sequence[int]) -> Grouping:
    """Per example and channel, over the positions."""
    per = _prod(shape[2:])
    return Grouping(
        "instance",
        (shape[0], shape[1]),
        lambda i: (i[0], i[1]),
        lambda g: f"example {g[0] + 1}, channel {g[1] + 1}",
        f"its {per} positions",
    )


def group_grouping(shape: Sequence[int], groups: int) -> Grouping:
    """Per example and group of C/G consecutive channels, over those channels' positions."""
    size = shape[1] // groups
    per = size * _prod(shape[2:])
    return Grouping(
        "group",
        (shape[0], groups),
        lambda i: (i[0], i[1] // size),
        lambda g: (
            f"example {g[0] + 1}, group {g[1] + 1} (channels {g[1] * size + 1}–{(g[1] + 1) * size})"
        ),
        f"the {per} values of its {size} channels",
    )


def _prod(xs: Sequence[int]) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


# --------------------------------------------------------------------------- tensor access


def entries(t: Any) -> list[tuple[Index, Any]]:
    """Every ``(index, value)`` of a (rectangular) nested list, in row-major order."""
    shape = exact.shape(t)
    return list(zip(itertools.product(*map(range, shape)), exact.flatten(t), strict=True))


def at(t: Any, idx: Index) -> Any:
    for i in idx:
        t = t[i]
    return t


def filled(shape: Sequence[int], f: Callable[[Index], Any], prefix: Index = ()) -> Any:
    """A nested list of ``shape`` whose entry at ``idx`` is ``f(idx)``."""
    if not shape:
        return f(prefix)
    return [filled(shape[1:], f, (*prefix, i)) for i in range(shape[0])]


def _map_indexed(f: Callable[[Any, Index], Any], t: Any, prefix: Index = ()) -> Any:
    """``f(value, index)`` for every entry of a nested list, keeping its shape."""
    if isinstance(t, list):
        return [_map_indexed(f, v, (*prefix, i)) for i, v in enumerate(t)]
    return f(t, prefix)


def members(X: Any, grouping: Grouping) -> dict[Index, list[tuple[Index, Any]]]:
    """The entries of X in each group, in row-major order."""
    out: dict[Index, list[tuple[Index, Any]]] = {g: [] for g in grouping.groups()}
    for idx, v in entries(X):
        out[grouping.group_of(idx)].append((idx, v))
    return out


# --------------------------------------------------------------------------- display helpers


def _terms(values: Sequence[Any]) -> list[Any]:
    """A long sum's terms, with an ellipsis standing for the middle."""
    if len(values) <= SHOWN_TERMS:
        return list(values)
    return [*values[: SHOWN_TERMS - 2], Raw(r"\cdots", "⋯"), values[-1]]


def _sum_over(values: Sequence[Any], n: int) -> Frac:
    return Frac(Add(*_terms(values)), n)


def _stat_sym(letter: str, g: Index, *, sq: bool = False) -> Sym:
    return Sym(letter, _one_based(g), 2 if sq else None)


def _shown(groups: Sequence[Index]) -> list[Index]:
    return list(groups[:SHOWN_GROUPS])


def _likewise(s: Solution, groups: Sequence[Index], what: str) -> None:
    rest = len(groups) - SHOWN_GROUPS
    if rest > 0:
        s.step(f"The other {rest} {what} are computed the same way; all values are in the answers.")


# --------------------------------------------------------------------------- the shared steps


def statistics(
    s: Solution,
    X: Any,
    grouping: Grouping,
    *,
    ddof: int = 0,
    keys: tuple[str, str] = ("mean", "var"),
) -> tuple[Any, Any]:
    """Mean and variance of each group, as steps and as the ``mean``/``var`` answers.

    ``ddof=1`` divides by n − 1: not what a normalization layer does, but what
    students (and ``torch.var``'s default) do; it is a misconception option.
    """
    groups = grouping.groups()
    by_group = members(X, grouping)
    n = len(next(iter(by_group.values())))
    means = {g: exact.mean([v for _, v in by_group[g]]) for g in groups}
    s.step(
        f"Mean of each {_unit(grouping, groups[0])}, over {grouping.over}.",
        *[
            eq(_stat_sym("mu", g), _sum_over([v for _, v in by_group[g]], n), means[g])
            for g in _shown(groups)
        ],
    )
    _likewise(s, groups, "means")
    mean_t = s.answer(keys[0], filled(grouping.stat_shape, lambda g: means[g]), label=Sym("mu"))

    divisor = n - ddof
    if divisor <= 0:
        raise FieldError(
            f"a variance divided by n - {ddof} needs more than {ddof} values per group", "X"
        )
    variances = {}
    lines = []
    for g in groups:
        mu = at(mean_t, g)
        values = [v for _, v in by_group[g]]
        c = centered(values, mu)
        if c is not None:
            d, L = c
            variances[g] = exact.rational(Fraction(sum(x * x for x in d), L * L * divisor))
        else:
            variances[g] = _div(exact.total(exact.power(v - mu, 2) for v in values), divisor)
        if len(lines) < SHOWN_GROUPS:
            squares = [exact.power(v - mu, 2) for v in values]
            diffs = [Pow(sub(v, mu), 2) for v in values]
            lines.append(
                eq(
                    _stat_sym("sigma", g, sq=True),
                    Frac(Add(*_terms(diffs)), divisor),
                    _sum_over(squares, divisor),
                    variances[g],
                )
            )
    how = (
        "the biased variance, dividing by n = " + str(n)
        if ddof == 0
        else f"dividing by n − {ddof} = {divisor}"
    )
    s.step(f"Variance of each {_unit(grouping, groups[0])} ({how}).", *lines)
    _likewise(s, groups, "variances")
    var_t = s.answer(
        keys[1], filled(grouping.stat_shape, lambda g: variances[g]), label=Sym("sigma", sup=2)
    )
    return mean_t, var_t


def centered(values: Sequence[Any], mu: Any) -> tuple[list[int], int] | None:
    """Every x − μ as an integer over one common denominator L, or None if not all rational.

    The hot path of every normalization: one integer per entry instead of a
    Fraction (and its gcd) per operation.
    """
    if not (exact.is_rational(mu) and all(exact.is_rational(v) for v in values)):
        return None
    L = math.lcm(mu.denominator, *(v.denominator for v in values))
    m = mu.numerator * (L // mu.denominator)
    return [v.numerator * (L // v.denominator) - m for v in values], L


def _scaled(
    members_g: Sequence[tuple[Index, Any]], mu: Any, scale: Any
) -> tuple[list[Index], list[Any]]:
    """The indices of a group and (x − μ)·scale for each, exactly (None when scale is None)."""
    idxs = [idx for idx, _ in members_g]
    values = [v for _, v in members_g]
    if scale is None:
        return idxs, [None] * len(values)
    c = centered(values, mu)
    if c is not None and (
        exact.is_rational(scale) or (isinstance(scale, exact.Surd) and scale.a == 0)
    ):
        d, L = c
        k = Fraction(scale if exact.is_rational(scale) else scale.b)
        p, q = k.numerator, k.denominator * L
        made: dict[int, Any] = {}  # equal inputs share one exact value (and its caches)
        out = []
        for x in d:
            v = made.get(x)
            if v is None:
                v = made[x] = (
                    exact.rational(Fraction(x * p, q))
                    if exact.is_rational(scale)
                    else exact.surd(0, Fraction(x * p, q), scale.r)
                )
            out.append(v)
        return idxs, out
    return idxs, [(v - mu) * scale for v in values]


def _unit(grouping: Grouping, g: Index) -> str:
    """What one group is: "row", "channel", "example and channel" (from "example 1, channel 2")."""
    parts = grouping.describe(g).split(" (")[0].split(", ")
    return " and ".join(part.split(" ")[0] for part in parts)


def _div(x: Any, n: int) -> Any:
    return exact.rational(Fraction(x) / n) if exact.is_rational(x) else x / n


def normalize(
    s: Solution,
    X: Any,
    grouping: Grouping,
    mean_t: Any,
    var_t: Any,
    eps: Any,
    *,
    divide_by: DivideBy = "std",
    key: str = "normalized",
) -> tuple[Any, bool]:
    """x̂ = (x − μ)/√(σ² + ε) for every entry; None where σ² + ε = 0 (then not defined).

    ``divide_by="var"`` is the misconception of dividing by the variance itself.
    """
    groups = grouping.groups()
    by_group = members(X, grouping)
    scale: dict[Index, Any] = {}  # 1/√(σ² + ε) per group, formed once
    undefined = []
    lines = []
    for g in groups:
        denom2 = at(var_t, g) + eps
        if exact.is_zero(denom2):
            scale[g] = None
            undefined.append(g)
        else:
            d = exact.sqrt(denom2) if divide_by == "std" else denom2
            scale[g] = 1 / d if not exact.is_rational(d) else Fraction(1) / d
        if len(lines) < SHOWN_GROUPS:
            values = [v for _, v in by_group[g]]
            den = Sqrt(Add(at(var_t, g), eps) if eps != 0 else at(var_t, g))
            lines.append(
                eq(
                    Sym("x", _one_based(g), hat=True),
                    Frac(sub(Mat(values), at(mean_t, g)), den),
                    Mat(_scaled(by_group[g], at(mean_t, g), scale[g])[1]),
                )
            )
    by = "√(σ² + ε)" if eps != 0 else "its standard deviation σ = √σ²"
    s.step(
        f"Normalize each {_unit(grouping, groups[0])}: subtract its mean and divide by {by}.",
        *lines,
    )
    _likewise(s, groups, "groups")
    if undefined:
        names = ", ".join(grouping.describe(g) for g in undefined[:4])
        s.step(
            f"{names[0].upper() + names[1:]} {'has' if len(undefined) == 1 else 'have'} "
            "variance 0 and ε = 0, so x̂ = 0/0 there: the normalization is not defined "
            "(a batch of one example has this problem; any ε > 0 makes x̂ = 0 and y = β)."
        )
    xhat: dict[Index, Any] = {}
    for g in groups:
        for idx, v in zip(*_scaled(by_group[g], at(mean_t, g), scale[g]), strict=True):
            xhat[idx] = v
    xhat_t = filled(exact.shape(X), xhat.__getitem__)
    if key in (k.pattern for k in s.keys):
        xhat_t = s.answer(key, xhat_t, label=Sym("X", hat=True))
    if len(exact.flatten(xhat_t)) <= SHOWN_ENTRIES:
        s.step("The normalized values.", eq(Sym("X", hat=True), Mat(xhat_t)))
    return xhat_t, not undefined


def defined_why(ok: bool) -> str:
    """Why a normalization is, or is not, defined: the reason feedback on ``defined`` gives."""
    if ok:
        return "every variance is positive or ε > 0, so x̂ = (x − μ)/√(σ² + ε) is defined everywhere"
    return (
        "a variance is 0 and ε = 0, so x̂ = 0/0 there: the normalization is not "
        "defined (a batch of one example has this problem; any ε > 0 makes x̂ = 0 and y = β)"
    )


def affine(
    s: Solution,
    xhat_t: Any,
    gamma: Any,
    beta: Any,
    param_of: Callable[[Index], Index],
    rows_named: str,
    key: str = "output",
) -> Any:
    """y = γ ⊙ x̂ + β with γ, β indexed by feature or channel; None stays undefined."""
    if gamma is None and beta is None:
        s.step("There are no affine parameters (γ = 1, β = 0), so y = x̂.")
        return s.answer(key, xhat_t, label=Sym("Y"))

    made: dict[tuple[int, Index], Any] = {}  # equal x̂ in a feature share their output

    def y(x: Any, idx: Index) -> Any:
        if x is None:
            return None
        p = param_of(idx)
        key = (id(x), p)
        if key not in made:
            made[key] = (x * at(gamma, p) if gamma is not None else x) + (
                at(beta, p) if beta is not None else 0
            )
        return made[key]

    shape = exact.shape(xhat_t)
    out = _map_indexed(y, xhat_t)
    lines = []
    if len(shape) == 2 and rows_named == "row" and None not in exact.flatten(out):
        for i in range(min(shape[0], SHOWN_GROUPS)):
            lines.append(
                eq(Sym("y", i + 1), Add(Mul(Sym("gamma"), Mat(xhat_t[i])), Sym("beta")), out[i])
            )
    elif len(shape) == 2 and None not in exact.flatten(out):  # one feature per column
        for j in range(min(shape[1], SHOWN_GROUPS)):
            gj = gamma[j] if gamma is not None else 1
            bj = beta[j] if beta is not None else 0
            lines.append(
                eq(
                    Sym("y", (":", j + 1)),
                    Add(Mul(gj, Mat([r[j] for r in xhat_t])), bj),
                    [r[j] for r in out],
                )
            )
    param = "feature" if rows_named == "row" else rows_named
    s.step(f"Scale by γ and shift by β (y = γ x̂ + β, with γ and β indexed by {param}).", *lines)
    out = s.answer(key, out, label=Sym("Y"))
    if len(exact.flatten(out)) <= SHOWN_ENTRIES:
        s.step("The output.", eq(Sym("Y"), Mat(out)))
    return out


# --------------------------------------------------------------------------- Given models


def _check_affine(X: Any, gamma: Any, beta: Any, param_shape: tuple[int, ...], what: str) -> None:
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p is None:
            continue
        got = exact.shape(p)
        if got != param_shape:
            want = param_shape[0] if len(param_shape) == 1 else list(param_shape)
            size = got[0] if len(got) == 1 else list(got)
            raise FieldError(
                f"has {size} values but X has {want} {what} (X has shape {list(exact.shape(X))})",
                name,
            )


class NormGiven(GivenModel):
    X: Tensor
    """the input, batch first: [N, F], [N, C, L] or [N, C, H, W]"""
    gamma: Tensor | None = None
    """the scale γ, one per feature or channel (omitted: 1)"""
    beta: Tensor | None = None
    """the shift β, one per feature or channel (omitted: 0)"""
    eps: NonNegative = Fraction(0)
    """ε added to the variance under the square root"""


def _need_rank(X: Any, ranks: Sequence[int], kind_name: str, layout: str) -> tuple[int, ...]:
    shape = exact.shape(X)
    if len(shape) not in ranks:
        raise FieldError(f"{kind_name} takes X of shape {layout}, got shape {list(shape)}", "X")
    return shape


# --------------------------------------------------------------------------- the kinds

_NORM_KEYS = (
    Key("mean", "tensor", "the mean of each group", lenient_shape="column"),
    Key("var", "tensor", "the biased variance of each group", lenient_shape="column"),
    Key("normalized", "tensor", "x̂ = (x − μ)/√(σ² + ε)"),
    Key("output", "tensor", "y = γ x̂ + β"),
    Key("defined", "boolean", "whether every group has σ² + ε > 0"),
)
_NORM_MISCONCEPTIONS = {
    "variance divided by N−1 (the unbiased estimate) instead of N": {"ddof": 1},
    "divided by the variance instead of the standard deviation √(σ² + ε)": {"divide_by": "var"},
}


# --------------------------------------------------------------------------- variants


#: The square-free part of nQ − S² that a group of n integers can reach: 1 (a rational
#: standard deviation) for every size but 3, where a² + ab + b² = k² (with a = x₁ − x₂,
#: b = x₂ − x₃) is the best there is: 2(a² + ab + b²) is never a square (2 is inert in ℤ[ω]).
def best_radicand(size: int) -> int:
    return 2 if size == 3 else 1


def square_variance_group(rng: random.Random, size: int, lo: int = -9, hi: int = 9) -> list[int]:
    """``size`` integers whose (biased) variance is a nonzero perfect square.

    With sum S and sum of squares Q the variance is (nQ − S²)/n², a square exactly
    when nQ − S² = Σᵢ<ⱼ (xᵢ − xⱼ)² is; then every normalized value is rational.
    Three integers never manage that, so for them nQ − S² = 2k² (one √2). A group
    of one has variance 0 whatever its value.
    """
    if size == 3:
        return _eisenstein_group(rng)
    c = best_radicand(size)
    for attempt in range(20_000 if size > 1 else 0):
        v = [rng.randint(lo, hi) for _ in range(size)]
        if size == 3 and attempt < 10_000 and len(set(v)) < 3:
            continue  # prefer three different values (differences 3 and 5, say) to a, a, b
        d = size * sum(x * x for x in v) - sum(v) ** 2
        if d > 0 and d % c == 0 and math.isqrt(d // c) ** 2 == d // c:
            return v
    return [rng.randint(lo, hi) for _ in range(size)]


def _eisenstein_group(rng: random.Random) -> list[int]:
    """Three different integers with 3Q − S² = 2k²: their gaps a, b, a + b must satisfy
    a² + ab + b² = k², whose solutions are a = m² − n², b = 2mn + n² (k = m² + mn + n²).
    Drawing (m, n), a scale and an offset (rather than three integers in [-9, 9], which
    nearly always found gaps 3 and 5 and so the variance 98/9) gives many variances."""
    m, n = rng.choice([(2, 1), (3, 1), (3, 2), (4, 1), (4, 3), (5, 2)])
    a, b = m * m - n * n, 2 * m * n + n * n
    scale = rng.choice((1, 1, 2)) if a + b <= 13 else 1
    a, b = a * scale, b * scale
    if rng.random() < 0.5:
        a, b = b, a
    low = rng.randint(-9 - (a + b) // 2, 9 - (a + b) // 2)
    v = [low, low + a, low + a + b]
    rng.shuffle(v)
    return v


def _small_ints(rng: random.Random, like: Any, lo: int, hi: int, *, nonzero: bool = False) -> Any:
    """Integers in [lo, hi] in the shape of ``like`` (a nested list or None)."""
    if like is None:
        return None
    if isinstance(like, list):
        return [_small_ints(rng, v, lo, hi, nonzero=nonzero) for v in like]
    x = rng.randint(lo, hi)
    while nonzero and x == 0:
        x = rng.randint(lo, hi)
    return x


def _given_x(given: Mapping[str, Any]) -> Any:
    """The X of a raw given as exact values (it may hold strings such as "1/3")."""
    return parse_value(given["X"])


class NormKind(Kind):
    """A normalization over groups of X, with the variant generator they share."""

    nice = (
        "every group whose values vary has a perfect-square variance, so with eps = 0 "
        "every normalized value and output is rational; in a group of 3 values, which can "
        "never have a rational standard deviation, the only surd is √2",
        "a group that is constant in the problem (a batch of one) stays constant, so the "
        "question it asks (undefined with eps = 0) survives",
    )

    def grouping(self, shape: tuple[int, ...], given: Mapping[str, Any]) -> Grouping:
        raise NotImplementedError

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        X = _given_x(given)
        shape = exact.shape(X)
        grp = self.grouping(shape, given)
        new: dict[Index, int] = {}
        for members_g in members(X, grp).values():
            values = [v for _, v in members_g]
            if len(set(values)) == 1:  # constant in the source: keep it constant
                drawn = [rng.randint(-9, 9)] * len(values)
            else:
                drawn = square_variance_group(rng, len(values))
            for (idx, _), v in zip(members_g, drawn, strict=True):
                new[idx] = v
        out = dict(given)
        out["X"] = filled(shape, new.__getitem__)
        out["gamma"] = _small_ints(rng, given.get("gamma"), 1, 4)
        out["beta"] = _small_ints(rng, given.get("beta"), -3, 3)
        for name, lo, hi in (("running_mean", -3, 3), ("running_var", 1, 4)):
            if given.get(name) is not None:
                out[name] = _small_ints(rng, given[name], lo, hi)
        return {k: v for k, v in out.items() if v is not None or given.get(k) is not None}

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        if g.eps != 0 or "normalized" not in s.answers:
            return []
        grp = self.grouping(exact.shape(g.X), g.model_dump())
        for members_g in members(s["normalized"], grp).values():
            c = best_radicand(len(members_g))
            odd = [
                x
                for _, x in members_g
                if x is not None
                and not exact.is_rational(x)
                and not (isinstance(x, exact.Surd) and x.r == c)
            ]
            if odd:
                return [
                    f"a normalized value is {exact.fmt(odd[0])}, not rational"
                    + (f" or a multiple of √{c}" if c > 1 else "")
                ]
        return []


@kind("layernorm")
class LayerNorm(NormKind):
    """Layer normalization: each example normalized over its own features (biased variance)."""

    class Given(NormGiven):
        @model_validator(mode="after")
        def _shapes(self) -> LayerNorm.Given:
            shape = _need_rank(self.X, (2, 3, 4), "layernorm", "[N, F], [N, C, L] or [N, C, H, W]")
            _check_affine(
                self.X,
                self.gamma,
                self.beta,
                shape[1:],
                "features per example" if len(shape) == 2 else "values per example",
            )
            return self

    keys = _NORM_KEYS
    example = {
        "X": [[4, 4, 8, 8], [0, 2, 2, 8], [1, 1, 1, 5]],
        "gamma": [1, 2, 3, 4],
        "beta": [0, -1, 1, 0],
        "eps": 0,
    }
    misconceptions = {
        **_NORM_MISCONCEPTIONS,
        "normalized each column over the batch (BatchNorm) instead of each example": {
            "grouping": "batch"
        },
        "forgot the affine step (γ and β)": {"affine_step": False},
    }

    def grouping(self, shape: tuple[int, ...], given: Mapping[str, Any]) -> Grouping:
        return layer_grouping(shape)

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        ddof: int = 0,
        divide_by: DivideBy = "std",
        grouping: GroupingName = "layer",
        affine_step: bool = True,
    ) -> None:
        shape = exact.shape(g.X)
        grp = batch_grouping(shape) if grouping == "batch" else layer_grouping(shape)
        s.step(
            "LayerNorm normalizes each example over its own features, with the biased "
            "variance (divide by the number of features), so it works for any batch size, "
            "even 1."
        )
        mean_t, var_t = statistics(s, g.X, grp, ddof=ddof)
        xhat, ok = normalize(s, g.X, grp, mean_t, var_t, g.eps, divide_by=divide_by)
        s.answer("defined", ok, why=defined_why(ok))
        affine(
            s,
            xhat,
            g.gamma if affine_step else None,
            g.beta if affine_step else None,
            lambda idx: idx[1:],
            "row" if len(shape) == 2 else "position",
        )


@kind("instancenorm")
class InstanceNorm(NormKind):
    """Instance normalization: each channel of each example normalized over its positions."""

    class Given(NormGiven):
        @model_validator(mode="after")
        def _shapes(self) -> InstanceNorm.Given:
            shape = _need_rank(self.X, (3, 4), "instancenorm", "[N, C, L] or [N, C, H, W]")
            _check_affine(self.X, self.gamma, self.beta, (shape[1],), "channels")
            return self

    keys = _NORM_KEYS
    example = {"X": [[[1, 3, 2], [1, 2, 3]], [[3, 3, 2], [2, 4, 4]]], "eps": 0}
    misconceptions = {
        **_NORM_MISCONCEPTIONS,
        "normalized each example over all its channels (LayerNorm) instead of each channel": {
            "grouping": "layer"
        },
    }

    def grouping(self, shape: tuple[int, ...], given: Mapping[str, Any]) -> Grouping:
        return instance_grouping(shape)

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        ddof: int = 0,
        divide_by: DivideBy = "std",
        grouping: GroupingName = "instance",
    ) -> None:
        shape = exact.shape(g.X)
        grp = layer_grouping(shape) if grouping == "layer" else instance_grouping(shape)
        s.step(
            "InstanceNorm normalizes each channel of each example over its positions "
            "(biased variance); γ and β, when given, are per channel."
        )
        mean_t, var_t = statistics(s, g.X, grp, ddof=ddof)
        xhat, ok = normalize(s, g.X, grp, mean_t, var_t, g.eps, divide_by=divide_by)
        s.answer("defined", ok, why=defined_why(ok))
        affine(s, xhat, g.gamma, g.beta, lambda idx: (idx[1],), "channel")


@kind("groupnorm")
class GroupNorm(NormKind):
    """Group normalization: each group of C/G channels of each example, over those channels."""

    class Given(NormGiven):
        groups: Count
        """G, the number of channel groups (it must divide C)"""

        @model_validator(mode="after")
        def _shapes(self) -> GroupNorm.Given:
            shape = _need_rank(self.X, (3, 4), "groupnorm", "[N, C, L] or [N, C, H, W]")
            if shape[1] % self.groups:
                raise FieldError(f"must divide the {shape[1]} channels of X", "groups")
            _check_affine(self.X, self.gamma, self.beta, (shape[1],), "channels")
            return self

    keys = _NORM_KEYS
    example = {"X": [[[1, 3], [1, 2], [3, 3], [2, 4]]], "groups": 2, "eps": 0}
    misconceptions = {
        **_NORM_MISCONCEPTIONS,
        "normalized each channel on its own (InstanceNorm) instead of each group": {
            "grouping": "instance"
        },
    }

    def grouping(self, shape: tuple[int, ...], given: Mapping[str, Any]) -> Grouping:
        return group_grouping(shape, int(given["groups"]))

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        ddof: int = 0,
        divide_by: DivideBy = "std",
        grouping: GroupingName = "group",
    ) -> None:
        shape = exact.shape(g.X)
        grp = (
            instance_grouping(shape) if grouping == "instance" else group_grouping(shape, g.groups)
        )
        s.step(
            f"GroupNorm splits the {shape[1]} channels into {g.groups} groups of "
            f"{shape[1] // g.groups} and normalizes each group of each example (biased "
            "variance); γ and β are per channel."
        )
        mean_t, var_t = statistics(s, g.X, grp, ddof=ddof)
        xhat, ok = normalize(s, g.X, grp, mean_t, var_t, g.eps, divide_by=divide_by)
        s.answer("defined", ok, why=defined_why(ok))
        affine(s, xhat, g.gamma, g.beta, lambda idx: (idx[1],), "channel")


class BatchNormGiven(NormGiven):
    training: bool = True
    """training mode (batch statistics, running estimates updated) or eval mode"""
    running_mean: Vector | None = None
    """running mean before this batch (omitted: 0, as PyTorch initialises it)"""
    running_var: Vector | None = None
    """running variance before this batch (omitted: 1)"""
    momentum: Probability = Fraction(1, 10)
    """PyTorch's momentum: the weight of the new batch statistic"""

    @model_validator(mode="after")
    def _shapes(self) -> BatchNormGiven:
        shape = _need_rank(self.X, (2, 3, 4), "batchnorm", "[N, F], [N, C, L] or [N, C, H, W]")
        what = "features" if len(shape) == 2 else "channels"
        _check_affine(self.X, self.gamma, self.beta, (shape[1],), what)
        _check_running(self.running_mean, self.running_var, shape[1], what)
        return self


def _check_running(rm: Any, rv: Any, C: int, what: str) -> None:
    for name, v in (("running_mean", rm), ("running_var", rv)):
        if v is not None and len(v) != C:
            raise FieldError(f"has {len(v)} values but X has {C} {what}", name)
    if rv is not None:
        for j, v in enumerate(rv):
            if exact.sign(v) < 0:
                raise FieldError("a variance cannot be negative", "running_var", (j,))


_RUNNING_MISCONCEPTIONS = {
    "updated the running variance with the biased batch variance (PyTorch uses the unbiased one)": {
        "running_ddof": 0
    },
    "used momentum as the weight of the old estimate (the Keras convention) instead of the new "
    "batch statistic": {"keras_momentum": True},
}


@kind("batchnorm")
class BatchNorm(NormKind):
    """Batch normalization: each feature (channel) over the batch; running estimates as PyTorch."""

    Given = BatchNormGiven
    keys = (
        Key(
            "mean",
            "vector",
            "the mean of each feature/channel used to normalize",
            lenient_shape="squeeze",  # keepdim gives [1, C] or [1, C, 1, 1]
        ),
        Key(
            "var",
            "vector",
            "the biased variance of each feature/channel used to normalize",
            lenient_shape="squeeze",  # keepdim gives [1, C] or [1, C, 1, 1]
        ),
        Key("normalized", "tensor", "x̂ = (x − μ)/√(σ² + ε)"),
        Key("output", "tensor", "y = γ x̂ + β"),
        Key("running_mean", "vector", "(1 − momentum)·running_mean + momentum·μ"),
        Key("running_var", "vector", "(1 − momentum)·running_var + momentum·(unbiased σ²)"),
        Key("defined", "boolean", "whether every feature has σ² + ε > 0"),
    )
    example = {
        "X": [[2, 2, 1, 1], [2, 5, 4, 1], [5, 5, 10, 10]],
        "gamma": [1, 2, 3, 4],
        "beta": [0, -1, 1, 0],
        "eps": 0,
    }
    labels = {"momentum": Sym("m")}
    misconceptions = {
        **_NORM_MISCONCEPTIONS,
        "normalized each example over its features (LayerNorm) instead of each feature over "
        "the batch": {"grouping": "layer"},
        **_RUNNING_MISCONCEPTIONS,
    }

    def grouping(self, shape: tuple[int, ...], given: Mapping[str, Any]) -> Grouping:
        return batch_grouping(shape)

    def solve(
        self,
        g: BatchNormGiven,
        s: Solution,
        *,
        ddof: int = 0,
        divide_by: DivideBy = "std",
        grouping: GroupingName = "batch",
        running_ddof: int = 1,
        keras_momentum: bool = False,
    ) -> None:
        shape = exact.shape(g.X)
        grp = layer_grouping(shape) if grouping == "layer" else batch_grouping(shape)
        rm = g.running_mean if g.running_mean is not None else [Fraction(0)] * shape[1]
        rv = g.running_var if g.running_var is not None else [Fraction(1)] * shape[1]
        unit = "feature" if len(shape) == 2 else "channel"
        if g.training:
            s.step(
                f"In training mode BatchNorm normalizes each {unit} with the statistics of "
                f"the batch: the mean and the biased variance over {grp.over}."
            )
            mean_t, var_t = statistics(s, g.X, grp, ddof=ddof)
        else:
            s.step(
                f"In eval mode BatchNorm normalizes each {unit} with its running estimates, "
                "not with the batch: μ = running_mean, σ² = running_var."
            )
            mean_t = s.answer("mean", list(rm), label=Sym("mu"))
            var_t = s.answer("var", list(rv), label=Sym("sigma", sup=2))
        xhat, ok = normalize(s, g.X, grp, mean_t, var_t, g.eps, divide_by=divide_by)
        s.answer("defined", ok, why=defined_why(ok))
        affine(s, xhat, g.gamma, g.beta, lambda idx: (idx[1],), unit)
        if g.training and grouping == "batch":
            per_unit = shape[0] * _prod(shape[2:])
            rm, rv = running_update(
                s,
                rm,
                rv,
                mean_t,
                var_t,
                g.momentum,
                per_unit,
                unit,
                running_ddof=running_ddof,
                keras=keras_momentum,
            )
        else:
            s.step("Eval mode leaves the running estimates unchanged.")
        s.answer("running_mean", list(rm), label=Sym("running_mean"))
        s.answer("running_var", list(rv), label=Sym("running_var"))


def running_update(
    s: Solution,
    rm: Sequence[Any],
    rv: Sequence[Any],
    mean_t: Sequence[Any],
    var_t: Sequence[Any],
    momentum: Any,
    n: int,
    unit: str,
    *,
    running_ddof: int = 1,
    keras: bool = False,
    t: int | None = None,
) -> tuple[list[Any], list[Any]]:
    """PyTorch's update r ← (1 − m)·r + m·stat, with the *unbiased* variance n/(n − 1)·σ².

    Returns the new running mean and variance (None where the unbiased variance
    of a single value is 0/0). ``keras=True`` swaps the weights (a misconception).
    """
    m = momentum
    keep, take = (m, 1 - m) if keras else (1 - m, m)
    if n - running_ddof <= 0:
        unbiased: list[Any] = [None] * len(var_t)
        s.step(
            f"With one value per {unit}, the unbiased variance n/(n − 1)·σ² is 0/0: "
            "PyTorch refuses to train BatchNorm on it ('Expected more than 1 value per "
            "channel when training'), so the running variance is not defined."
        )
    else:
        factor = Fraction(n, n - running_ddof)
        unbiased = [v * factor for v in var_t]
        if running_ddof:
            s.step(
                f"The running variance is updated with the unbiased batch variance "
                f"n/(n − 1)·σ² (n = {n} values per {unit}), as PyTorch does; the biased one "
                "above is what normalizes the batch.",
                *[
                    eq(Sym("s", _one_based((j,)), 2), Mul(Frac(n, n - 1), v), u)
                    for j, (v, u) in enumerate(zip(var_t, unbiased, strict=True))
                    if j < SHOWN_GROUPS
                ],
            )
    new_mean = [r * keep + mu * take for r, mu in zip(rm, mean_t, strict=True)]
    new_var = [
        None if u is None or r is None else r * keep + u * take
        for r, u in zip(rv, unbiased, strict=True)
    ]  # undefined stays undefined
    s.step(
        says(
            f"Update the running estimates with momentum ⟦m = {exact.unicode(m)}⟧: "
            "⟦running ← (1 − m)·running + m·(batch statistic)⟧."
        ),
        eq(
            Sym("running_mean", t),
            Add(Mul(keep, Mat(list(rm))), Mul(take, Mat(list(mean_t)))),
            Mat(new_mean),
        ),
        eq(
            Sym("running_var", t),
            Add(Mul(keep, Mat(list(rv))), Mul(take, Mat(unbiased))),
            Mat(new_var),
        ),
    )
    return new_mean, new_var


# --------------------------------------------------------------------------- norm_stats

_GROUPINGS = {"batch": batch_grouping, "layer": layer_grouping, "instance": instance_grouping}


@kind("norm_stats")
class NormStats(Kind):
    """The means and variances that batch, layer, instance and group norm take of one X."""

    class Given(GivenModel):
        X: Tensor
        """the input [N, C, L] or [N, C, H, W]"""
        methods: list[str] = ["batch", "layer", "instance"]
        """which statistics: any of batch, layer, instance, group"""
        groups: Count | None = None
        """number of channel groups (needed for group)"""

        @model_validator(mode="after")
        def _check(self) -> NormStats.Given:
            _need_rank(self.X, (3, 4), "norm_stats", "[N, C, L] or [N, C, H, W]")
            for i, name in enumerate(self.methods):
                if name not in (*_GROUPINGS, "group"):
                    raise FieldError(
                        f"{name!r} is not one of batch, layer, instance, group", "methods", (i,)
                    )
            if "group" in self.methods:
                C = exact.shape(self.X)[1]
                if self.groups is None:
                    raise FieldError("is needed when methods include group", "groups")
                if C % self.groups:
                    raise FieldError(f"must divide the {C} channels of X", "groups")
            return self

    keys = tuple(
        Key(f"{method}.{stat}", "tensor", f"the {method}-norm {what}")
        for method in ("batch", "layer", "instance", "group")
        for stat, what in (("mean", "means"), ("var", "biased variances"))
    )
    example = {
        "X": [
            [[1, 3, 2], [1, 2, 3]],
            [[3, 3, 2], [2, 4, 4]],
            [[4, 2, 2], [1, 2, 4]],
            [[3, 3, 2], [3, 3, 2]],
        ],
        "methods": ["batch", "layer", "instance"],
    }
    misconceptions = {"variance divided by N−1 (the unbiased estimate) instead of N": {"ddof": 1}}

    nice = ("small whole numbers with no constant group, so every variance is nonzero",)

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        return {**given, "X": _small_ints(rng, _given_x(given), 0, 6)}

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        zero = [
            key
            for key, a in s.answers.items()
            if key.endswith(".var") and 0 in exact.flatten(a.value)
        ]
        return [f"{zero[0]} has a zero variance"] if zero else []

    def solve(self, g: Given, s: Solution, *, ddof: int = 0) -> None:
        shape = exact.shape(g.X)
        s.step(
            f"X has shape {list(shape)}: N = {shape[0]} examples, C = {shape[1]} channels, "
            f"{_prod(shape[2:])} positions per channel. Each method takes the mean and the "
            "biased variance over a different set of entries."
        )
        for method in g.methods:
            grp = (
                group_grouping(shape, g.groups or 1)
                if method == "group"
                else _GROUPINGS[method](shape)
            )
            s.step(
                f"{method.capitalize()} norm: one mean and variance per "
                f"{_unit(grp, grp.groups()[0])}, over {grp.over}; shape {list(grp.stat_shape)}."
            )
            statistics(s, g.X, grp, ddof=ddof, keys=(f"{method}.mean", f"{method}.var"))


# --------------------------------------------------------------------------- bn_running_stats


@kind("bn_running_stats")
class BNRunningStats(Kind):
    """BatchNorm's running mean and variance over several training batches, then eval mode."""

    class Given(GivenModel):
        batches: list[Tensor]
        """the training batches in order, each [N, F] or [N, C, H, W]"""
        momentum: Probability = Fraction(1, 10)
        """PyTorch's momentum: the weight of the new batch statistic"""
        running_mean: Vector | None = None
        """initial running mean (omitted: 0)"""
        running_var: Vector | None = None
        """initial running variance (omitted: 1)"""
        eval_X: Tensor | None = None
        """an input to normalize in eval mode after the batches"""
        gamma: Vector | None = None
        """the scale γ for the eval output (omitted: 1)"""
        beta: Vector | None = None
        """the shift β for the eval output (omitted: 0)"""
        eps: NonNegative = Fraction(0)
        """ε added to the running variance in eval mode"""

        @model_validator(mode="after")
        def _check(self) -> BNRunningStats.Given:
            if not self.batches:
                raise FieldError("needs at least one batch", "batches")
            first = exact.shape(self.batches[0])
            if len(first) not in (2, 3, 4):
                raise FieldError(
                    f"a batch must be [N, F] or [N, C, H, W], got shape {list(first)}",
                    "batches",
                    (0,),
                )
            C = first[1]
            for i, b in enumerate(self.batches):
                if exact.shape(b)[1:] != first[1:] or len(exact.shape(b)) != len(first):
                    raise FieldError(
                        f"has shape {list(exact.shape(b))}, which does not match "
                        f"batch 1's features {list(first[1:])}",
                        "batches",
                        (i,),
                    )
            if self.eval_X is not None and exact.shape(self.eval_X)[1:] != first[1:]:
                raise FieldError(
                    f"has shape {list(exact.shape(self.eval_X))} but the batches have {C} features",
                    "eval_X",
                )
            _check_running(self.running_mean, self.running_var, C, "features")
            _check_affine(self.batches[0], self.gamma, self.beta, (C,), "features")
            return self

    keys = (
        Key("batch_mean[t]", "vector", "the mean of batch t"),
        Key("batch_var[t]", "vector", "the biased variance of batch t"),
        Key("running_mean[t]", "vector", "the running mean after batch t"),
        Key("running_var[t]", "vector", "the running variance after batch t"),
        Key("eval_output", "tensor", "eval mode: γ (x − running_mean)/√(running_var + ε) + β"),
    )
    example = {
        "batches": [[[1, 2], [3, 6]], [[5, 2], [7, 4]]],
        "momentum": "1/10",
        "running_mean": [0, 0],
        "running_var": [1, 1],
        "eval_X": [[4, 4]],
    }
    labels = {"momentum": Sym("m")}
    misconceptions = dict(_RUNNING_MISCONCEPTIONS)

    nice = (
        "every feature of every batch varies, so every running variance is defined",
        "the initial running variance is a whole number ≥ 1",
    )

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        out = dict(given)
        out["batches"] = [_small_ints(rng, parse_value(b), -4, 8) for b in given["batches"]]
        for name, lo, hi in (("running_mean", -2, 2), ("running_var", 1, 3)):
            if given.get(name) is not None:
                out[name] = _small_ints(rng, given[name], lo, hi)
        for name, lo, hi in (("eval_X", -4, 8), ("gamma", 1, 3), ("beta", -2, 2)):
            if given.get(name) is not None:
                out[name] = _small_ints(rng, parse_value(given[name]), lo, hi)
        return out

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        out = []
        for t in range(1, len(g.batches) + 1):
            if 0 in s[f"batch_var[{t}]"]:
                out.append(f"a feature of batch {t} is constant")
        return out

    def solve(
        self, g: Given, s: Solution, *, running_ddof: int = 1, keras_momentum: bool = False
    ) -> None:
        first = exact.shape(g.batches[0])
        C = first[1]
        unit = "feature" if len(first) == 2 else "channel"
        rm = list(g.running_mean) if g.running_mean is not None else [Fraction(0)] * C
        rv = list(g.running_var) if g.running_var is not None else [Fraction(1)] * C
        s.step(
            f"Start from running_mean = {exact.unicode(rm)} and running_var = "
            f"{exact.unicode(rv)}; each training batch updates them with momentum "
            f"m = {exact.unicode(g.momentum)}.".replace("'", "")
        )
        for t, X in enumerate(g.batches, start=1):
            shape = exact.shape(X)
            s.step(f"Batch {t}: its mean and biased variance per {unit}.")
            mean_t, var_t = statistics(
                s, X, batch_grouping(shape), keys=(f"batch_mean[{t}]", f"batch_var[{t}]")
            )
            rm, rv = running_update(
                s,
                rm,
                rv,
                mean_t,
                var_t,
                g.momentum,
                shape[0] * _prod(shape[2:]),
                unit,
                running_ddof=running_ddof,
                keras=keras_momentum,
                t=t,
            )
            rm = s.answer(f"running_mean[{t}]", rm, label=Sym("running_mean", t))
            rv = s.answer(f"running_var[{t}]", rv, label=Sym("running_var", t))
        if g.eval_X is None:
            return
        s.step("Eval mode: normalize with the final running estimates, not with the batch.")
        if any(v is None for v in rv):
            s.step("The running variance is not defined, so neither is the eval output.")
            s.answer("eval_output", filled(exact.shape(g.eval_X), lambda idx: None))
            return
        xhat, _ = normalize(
            s, g.eval_X, batch_grouping(exact.shape(g.eval_X)), rm, rv, g.eps, key=""
        )
        affine(s, xhat, g.gamma, g.beta, lambda idx: (idx[1],), unit, key="eval_output")


# --------------------------------------------------------------------------- dropout


@kind("dropout")
class Dropout(Kind):
    """Dropout with a given keep mask: what the layer outputs, and what it outputs on average."""

    class Given(GivenModel):
        z: Tensor
        """the activations entering the dropout layer"""
        mask: Tensor
        """1 where a unit is kept, 0 where it is dropped (same shape as z)"""
        p: Probability
        """the probability of dropping a unit"""
        inverted: bool = True
        """inverted dropout: divide the kept units by 1 − p during training"""

        @model_validator(mode="after")
        def _check(self) -> Dropout.Given:
            if exact.shape(self.mask) != exact.shape(self.z):
                raise FieldError(
                    f"has shape {list(exact.shape(self.mask))} but z has shape "
                    f"{list(exact.shape(self.z))}",
                    "mask",
                )
            for idx, v in entries(self.mask):
                if v not in (0, 1):
                    raise FieldError(
                        f"must hold 1 (keep) or 0 (drop), got {exact.unicode(v)}", "mask", idx
                    )
            return self

    keys = (
        Key("output", "tensor", "the dropout layer's output for this mask (training mode)"),
        Key("expected_output", "tensor", "the output averaged over random masks"),
    )
    example = {"z": [2, 4, 6, 8], "mask": [1, 0, 1, 1], "p": "1/4", "inverted": True}
    misconceptions = {
        "forgot the inverted-dropout scaling 1/(1 − p)": {"scale": "none"},
        "scaled by 1/p instead of 1/(1 − p) (p is the drop probability)": {"scale": "p"},
        "scaled by (1 − p) at training time instead of dividing by it": {"scale": "times"},
    }

    nice = (
        "at least one unit is dropped and one kept",
        "the activations are different "
        "whole numbers, so each entry of the output can be traced back",
    )

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        z = parse_value(given["z"])
        cells = [idx for idx, _ in entries(z)]
        values = rng.sample(range(1, 3 * len(cells) + 10), len(cells))
        new_z = filled(exact.shape(z), dict(zip(cells, values, strict=True)).__getitem__)
        dropped = set(
            rng.sample(
                cells,
                max(
                    1,
                    min(
                        len(cells) - 1, round(len(cells) * float(Fraction(parse_value(given["p"]))))
                    ),
                ),
            )
        )
        mask = filled(exact.shape(z), lambda idx: 0 if idx in dropped else 1)
        return {**given, "z": new_z, "mask": mask}

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        kept = exact.flatten(g.mask)
        out = [] if 0 in kept and 1 in kept else ["the mask keeps or drops every unit"]
        z = exact.flatten(g.z)
        if len(set(z)) < len(z):
            out.append("two activations are equal")
        return out

    def solve(self, g: Given, s: Solution, *, scale: DropoutScale = "inverse") -> None:
        p, keep = g.p, 1 - g.p
        kept = exact.tmap(lambda z, k: z * k, g.z, g.mask)
        s.step(
            f"Each unit is dropped with probability p = {exact.unicode(p)} and kept with "
            f"probability 1 − p = {exact.unicode(keep)}; the mask zeroes the dropped ones.",
            eq(Raw(r"z \odot \mathrm{mask}", "z ⊙ mask"), Mat(kept)),
        )
        if g.inverted:
            factor = {
                "inverse": 1 / Fraction(keep),
                "none": Fraction(1),
                "p": 1 / Fraction(p) if p else Fraction(1),
                "times": Fraction(keep),
            }[scale]
            out = exact.tmap(lambda x: x * factor, kept)
            s.step(
                "Inverted dropout divides the kept units by 1 − p during training, so that "
                "nothing needs rescaling at test time.",
                eq(
                    Sym("y"),
                    Frac(Raw(r"z \odot \mathrm{mask}", "z ⊙ mask"), 1 - p),
                    Mul(factor, Mat(kept)),
                    Mat(out),
                ),
            )
            s.answer("output", out, label=Sym("y"))
            s.step(
                "On average over masks each unit is kept with probability 1 − p and scaled "
                "by 1/(1 − p), so E[y] = z: the layer is unbiased.",
                eq(Raw(r"\mathbb{E}[y]", "E[y]"), Mat(g.z)),
            )
            s.answer("expected_output", g.z)
        else:
            s.step("Without inverted scaling the training output is z ⊙ mask as it is.")
            s.answer("output", kept, label=Sym("y"))
            expected = exact.tmap(lambda z: z * keep, g.z)
            s.step(
                "On average each unit is kept with probability 1 − p, so E[y] = (1 − p) z; "
                "this is why classic dropout multiplies by 1 − p at test time.",
                eq(Raw(r"\mathbb{E}[y]", "E[y]"), Mul(keep, Mat(g.z)), Mat(expected)),
            )
            s.answer("expected_output", expected)
