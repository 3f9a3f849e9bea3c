"""Softmax with cross-entropy, exactly: the probabilities e^{z_i}/Σ e^{z_j}, the loss
−log p_y and its gradient p − y with respect to the logits.

With a temperature T the logits are divided by T first, p = softmax(z/T): the
distribution sharpens towards the argmax as T → 0 and flattens towards uniform
as T → ∞, its entropy rising with T, and the gradient of the loss with respect
to the unscaled logits picks up the chain rule's 1/T, (p − y)/T.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal

import sympy
from pydantic import model_validator

from .. import exact
from ..display import (
    Add,
    Frac,
    Mat,
    Raw,
    Sym,
    Text,
    eq,
    says,
)
from ..errors import DlsolveError, FieldError
from ..given import (
    GivenModel,
    Index,
    NonNegative,
    Positive,
    SymbolicTensor,
    Tensor,
    Vector,
)
from ..solution import Key, Solution
from . import Kind, kind
from .common import about, carry, draw_variant, is_symbolic, small_ints, tenths

# =========================================================================== softmax_ce


#: exponential terms in all the exact probabilities (examples × classes²): 100 classes take
#: about a second, 1,000 over a minute and 900 MB
MAX_EXACT_TERMS = 20_000


class SoftmaxCEGiven(GivenModel):
    logits: SymbolicTensor
    """the logits z: one list of class scores, or a matrix with one row per example"""
    label: Index | None = None
    """the true class of a single example (0-based, as in PyTorch)"""
    labels: list[Index] | None = None
    """the true class of each example of a batch (0-based)"""
    target: Tensor | None = None
    """class probabilities instead of labels (soft targets), shaped as the logits"""
    reduction: str = "mean"
    """mean (average over the batch, PyTorch's default) or sum"""
    temperature: Positive | None = None
    """the softmax temperature T (a rational > 0): p = softmax(z/T); given (1 included), the
    solution also finds the entropy of p and its limits as T → 0 and T → ∞"""

    @model_validator(mode="after")
    def _targets(self) -> SoftmaxCEGiven:
        shape = exact.shape(self.logits)
        if len(shape) not in (1, 2):
            raise FieldError(
                "must be a list of class scores or a matrix (examples × classes)", "logits"
            )
        given = [f for f in ("label", "labels", "target") if getattr(self, f) is not None]
        if len(given) != 1:
            raise FieldError(
                "give exactly one of label, labels (a batch) or target",
                given[1] if len(given) > 1 else "label",
            )
        C = shape[-1]
        N = shape[0] if len(shape) == 2 else 1
        if N * C * C > MAX_EXACT_TERMS:
            raise FieldError(
                f"has {N} × {C} logits: each exact probability sums the exponentials of all "
                f"{C} classes, {N}·{C}² = {N * C * C:,} terms, more than the {MAX_EXACT_TERMS:,} "
                "that stay within seconds (10,000 logits took minutes)",
                "logits",
            )
        if self.label is not None:
            if len(shape) != 1:
                raise FieldError(
                    "is for a single example: with a matrix of logits give labels", "label"
                )
            if self.label >= C:
                raise FieldError(f"must be a class index below {C} (0-based)", "label")
        if self.labels is not None:
            if len(self.labels) != N:
                raise FieldError(
                    f"has {len(self.labels)} entries but there are {N} examples", "labels"
                )
            for i, y in enumerate(self.labels):
                if y >= C:
                    raise FieldError(f"must be a class index below {C} (0-based)", "labels", (i,))
        if self.target is not None:
            if exact.shape(self.target) != shape:
                raise FieldError(
                    f"has shape {list(exact.shape(self.target))} but the logits "
                    f"have shape {list(shape)}",
                    "target",
                )
            rows = self.target if len(shape) == 2 else [self.target]
            for i, row in enumerate(rows):
                if any(t < 0 for t in row) or exact.total(row) != 1:
                    raise FieldError(
                        "each row must be probabilities (≥ 0, summing to 1)",
                        "target",
                        (i,) if len(shape) == 2 else (),
                    )
        if self.reduction not in ("mean", "sum"):
            raise FieldError("must be mean or sum", "reduction")
        if self.temperature is not None and not exact.is_rational(self.temperature):
            raise FieldError(
                "must be a rational number (an integer or a fraction such as 1/2), got "
                f"{exact.unicode(self.temperature)}",
                "temperature",
            )
        return self

    @property
    def T(self) -> Fraction:
        """The temperature, 1 when none is given."""
        return Fraction(1) if self.temperature is None else Fraction(self.temperature)

    def rows(self) -> tuple[list[list[Any]], list[list[Any]]]:
        """Logits and one-hot (or soft) targets, one row per example."""
        z = self.logits if len(exact.shape(self.logits)) == 2 else [self.logits]
        C = len(z[0])
        if self.target is not None:
            t = self.target if len(exact.shape(self.target)) == 2 else [self.target]
        else:
            ys = self.labels if self.labels is not None else [self.label]
            t = [[1 if j == y else 0 for j in range(C)] for y in ys]
        return [list(r) for r in z], [list(r) for r in t]


def _shift(zs: Sequence[sympy.Expr]) -> sympy.Expr | None:
    """The smallest logit, when the logits are numbers: subtracting it from every exponent
    writes softmax as textbooks do, e/(1 + e + e²) rather than (e⁻¹ + 1 + e)⁻¹."""
    return min(zs) if all(z.is_Rational for z in zs) else None


def softmax_row(z: Sequence[Any]) -> list[Any]:
    """p_j = e^{z_j − m}/Σ_k e^{z_k − m} with m the smallest logit (the common denominator
    written once, every exponent ≥ 0); with symbolic logits, 1/Σ_k exp(z_k − z_j)."""
    zs = [exact.to_sympy(v) for v in z]
    m = _shift(zs)
    if m is None:
        return [exact.from_sympy(1 / sympy.Add(*[sympy.exp(zk - zj) for zk in zs])) for zj in zs]
    denominator = sympy.Add(*[sympy.exp(zk - m) for zk in zs])
    return [exact.from_sympy(sympy.exp(zj - m) / denominator) for zj in zs]


def cross_entropy_row(z: Sequence[Any], t: Sequence[Any]) -> Any:
    """−Σ_j t_j log p_j = Σ_j t_j (log Σ_k e^{z_k − m} − (z_j − m)), m as in softmax_row."""
    zs = [exact.to_sympy(v) for v in z]
    m = _shift(zs)
    terms = [
        exact.to_sympy(tj)
        * (
            sympy.log(sympy.Add(*[sympy.exp(zk - zj) for zk in zs]))
            if m is None
            else sympy.log(sympy.Add(*[sympy.exp(zk - m) for zk in zs])) - (zj - m)
        )
        for tj, zj in zip(t, zs, strict=True)
        if tj != 0
    ]
    return exact.from_sympy(sympy.Add(*terms))


#: how the per-example losses become one: their mean or their sum
Reduction = Literal["mean", "sum"]


@kind("softmax_ce")
class SoftmaxCE(Kind):
    """Softmax probabilities (of z/T at a temperature T), the cross-entropy loss and its
    gradient p − y, exactly."""

    Given = SoftmaxCEGiven
    keys = (
        Key("probabilities", "tensor", "p = softmax(z) over the classes"),
        Key(
            "predicted",
            "tensor",
            "the most likely class (0-based) of each example",
            lenient_shape="squeeze",  # one example's class as [2], as torch.argmax(dim=-1) gives
        ),
        Key("loss", "real", "the cross-entropy loss (mean over the batch by default)"),
        Key("grad_logits", "tensor", "∂L/∂z = (p − y)/N with mean reduction, (p − y)/(NT) at T"),
        Key("entropy", "tensor", "H(p) = −Σ p_j log p_j of each example's p at temperature T"),
        Key(
            "cold_limit",
            "tensor",
            "lim p as T → 0: one-hot on the largest logit (uniform over tied largest logits)",
        ),
        Key("hot_limit", "tensor", "lim p as T → ∞: uniform, 1/C for each of the C classes"),
    )
    example = {"logits": [1, 2, 3], "label": 0}
    misconceptions = {
        "forgot to divide the logits by the temperature T": {"temperature_use": "ignore"},
        "multiplied the logits by the temperature T instead of dividing by it": {
            "temperature_use": "multiply"
        },
        "gradient p − y without the chain rule's 1/T for the temperature": {
            "grad_temperature": False
        },
        "took the logits for probabilities (no softmax)": {"softmax": False},
        "gradient y − p instead of p − y (the sign flipped)": {"grad_sign": -1},
        "summed the losses over the batch instead of averaging": {"reduction": "sum"},
        "forgot the 1/N of the mean in the gradient": {"grad_mean": False},
        "took the softmax over the batch (each class across examples) instead of over the "
        "classes": {"axis": 0},
    }

    nice = (
        "integer logits between −3 and 3, not all equal in any example",
        "soft targets, where given, are tenths",
    )

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        return draw_variant(self, given, rng, self._draw)

    def _draw(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        shape = list(exact.shape(self.Given.model_validate(raw).logits))
        raw["logits"] = small_ints(shape, rng)
        C = shape[-1]
        if raw.get("label") is not None:
            raw["label"] = rng.randrange(C)
        if raw.get("labels") is not None:
            raw["labels"] = [rng.randrange(C) for _ in raw["labels"]]
        if raw.get("target") is not None:
            rows = [tenths(C, rng) for _ in range(shape[0] if len(shape) == 2 else 1)]
            raw["target"] = rows if len(shape) == 2 else rows[0]
        return raw

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        z, t = g.rows()
        out = []
        if any(
            not exact.is_rational(v) or abs(v) > 3 or Fraction(v).denominator != 1
            for row in z
            for v in row
        ) or any(len(set(row)) == 1 for row in z):
            out.append(self.nice[0])
        if g.target is not None and any(
            Fraction(v).denominator not in (1, 2, 5, 10) for row in t for v in row
        ):
            out.append(self.nice[1])
        return out

    def solve(
        self,
        g: SoftmaxCEGiven,
        s: Solution,
        *,
        softmax: bool = True,
        grad_sign: int = 1,
        reduction: Reduction | None = None,
        grad_mean: bool = True,
        axis: int = 1,
        temperature_use: TemperatureUse = "divide",
        grad_temperature: bool = True,
    ) -> None:
        batched = len(exact.shape(g.logits)) == 2
        z, t = g.rows()
        N = len(z)
        heated = g.temperature is not None
        temperature_mistake(g.T, temperature_use != "divide" or not grad_temperature)

        def shape(rows: list[Any]) -> Any:
            return rows if batched else rows[0]

        # the logits the softmax sees: z/T at a temperature (z itself without one)
        u = [[scaled(v, g.T, temperature_use) for v in row] for row in z] if heated else z
        if heated:
            s.step(
                says(
                    f"At temperature ⟦T = {exact.unicode(g.T)}⟧ the softmax sees the logits "
                    "divided by T, ⟦p_j = exp(z_j/T)/Σ_k exp(z_k/T)⟧: T < 1 sharpens the "
                    "distribution, T > 1 flattens it, T = 1 is the plain softmax."
                ),
                *[
                    eq(
                        Raw(f"z_{{{i + 1}}}/T", f"z{i + 1}/T") if batched else Raw("z/T", "z/T"),
                        Mat(r),
                    )
                    for i, r in enumerate(u[:4])
                ],
            )
        if not softmax:
            p = [list(row) for row in u]
        elif axis == 0:
            p = exact.transpose([softmax_row(col) for col in exact.transpose(u)])
        else:
            p = [softmax_row(row) for row in u]
        s.step(
            says(
                "Softmax turns the logits into probabilities: ⟦p_j = exp(z_j)/Σ_k exp(z_k)⟧, "
                "positive and summing to 1 over the classes. Subtracting the same number m "
                "from every logit changes nothing, so with m the smallest logit each ⟦p_j⟧ is "
                "⟦e^{z_j − m}/Σ_k e^{z_k − m}⟧: one denominator, no negative exponents."
                + (" Here the logits are the scaled ones, z/T." if heated else "")
            ),
            *[
                eq(Sym("p", i + 1) if batched else Sym("p"), Mat(row))
                for i, row in enumerate(p[:4])
            ],
        )
        p_out = carry(s, "probabilities", shape(p), label=Sym("p"))
        p = p_out if batched else [p_out]
        if not any(is_symbolic(v) for row in z for v in row):
            pred = [
                max(range(len(row)), key=lambda j, row=row: exact.to_float(row[j])) for row in z
            ]
            tied = [
                [j for j in range(len(row)) if exact.is_zero(row[j] - row[k])]
                for row, k in zip(z, pred, strict=True)
            ]
            alternatives = [
                shape(list(choice))
                for choice in itertools.islice(itertools.product(*tied), 33)
                if list(choice) != pred
            ]
            why = ""
            if alternatives:
                why = "a tie: equal largest logits, and any of them is the most likely class"
                s.step(
                    "Tie: some example has two equal largest logits, so either class is the "
                    "most likely; the first is shown, and any of them is correct."
                )
            carry(
                s,
                "predicted",
                shape(pred),
                label=Text("predicted"),
                **({"alternatives": alternatives, "tie": why} if alternatives else {}),
            )
        if heated:
            self.temperature_answers(s, g, z, u, p, shape, temperature_use)
        losses = [
            cross_entropy_row(ur, tr) if softmax and axis == 1 else _nll(pr, tr)
            for ur, pr, tr in zip(u, p, t, strict=True)
        ]
        how = reduction or g.reduction
        s.step(
            says(
                "Cross-entropy: ⟦ℓ = −Σ_j y_j log p_j⟧, which for one true class y is "
                "⟦−log p_y = log Σ_k e^{z_k − m} − (z_y − m)⟧."
            ),
            *[
                eq(Sym("l", i + 1) if batched else Sym("l"), loss)
                for i, loss in enumerate(losses[:4])
            ],
        )
        if None in losses:
            loss = None
        else:
            loss = exact.total(losses)
            if how == "mean":
                loss = exact.from_sympy(exact.to_sympy(loss) / N) if N > 1 else loss
        if batched:
            s.step(
                f"The loss is the {how} over the {N} examples.",
                eq(
                    Sym("L"),
                    Frac(Add(*[Sym("l", i + 1) for i in range(N)]), N)
                    if how == "mean"
                    else Add(*[Sym("l", i + 1) for i in range(N)]),
                    loss,
                ),
            )
        carry(s, "loss", loss, label=Sym("L"))
        scale = Fraction(grad_sign, N) if how == "mean" and grad_mean else Fraction(grad_sign)
        if heated and grad_temperature:  # the chain rule through z/T (or z·T, or z)
            scale *= scaled(1, g.T, temperature_use)
        grad = [
            [(pj - tj) * scale for pj, tj in zip(pr, tr, strict=True)]
            for pr, tr in zip(p, t, strict=True)
        ]
        s.step(
            "The gradient of the loss with respect to the logits is p − y per example"
            + (
                f" (divided by N = {N} for the mean)"
                if how == "mean" and N > 1 and grad_mean
                else ""
            )
            + ": softmax and log cancel to leave this simple difference."
            + (
                f" The softmax saw z/T, so the chain rule multiplies by ∂(z/T)/∂z = 1/T: "
                f"(p − y)/T with T = {exact.unicode(g.T)}."
                if heated
                else ""
            ),
            eq(Raw(r"\frac{\partial L}{\partial z}", "∂L/∂z"), Mat(shape(grad))),
        )
        carry(s, "grad_logits", shape(grad), label=Raw(r"\partial L/\partial z", "∂L/∂z"))

    def temperature_answers(
        self,
        s: Solution,
        g: SoftmaxCEGiven,
        z: list[list[Any]],
        u: list[list[Any]],
        p: list[list[Any]],
        shape: Any,
        use: TemperatureUse,
    ) -> None:
        """The entropy of p at T, and where p goes as T → 0 and T → ∞."""
        own = "probabilities" in s.overrides  # a student's p: its entropy from p itself
        H = [
            entropy_row(pr) if own else softmax_entropy_row(ur) for ur, pr in zip(u, p, strict=True)
        ]
        s.step(
            says(
                "Entropy of each distribution, ⟦H(p) = −Σ_j p_j log p_j⟧. With ⟦log p_j = "
                "(z_j − m)/T − log Σ_k e^{(z_k − m)/T}⟧ it is ⟦H = log Σ_k e^{(z_k − m)/T} − "
                "Σ_j p_j (z_j − m)/T⟧: 0 for a one-hot p, log C for a uniform one."
            ),
            *[about(Sym("H", i + 1) if len(H) > 1 else Sym("H"), h) for i, h in enumerate(H[:4])],
        )
        carry(s, "entropy", shape(H), label=Sym("H"))
        C = len(z[0])
        uniform = [[Fraction(1, C)] * C for _ in z]
        if any(is_symbolic(v) for row in z for v in row):
            cold = None
        else:
            cold = [argmax_limit(row) for row in z]
        # multiplying by T instead of dividing swaps the two limits; leaving T out has none
        if use == "multiply":
            cold, hot = uniform, cold
        elif use == "ignore":
            cold, hot = p, p
        else:
            hot = uniform
        if cold is not None:
            s.step(
                says(
                    "As ⟦T → 0⟧ the differences ⟦(z_j − z_max)/T⟧ go to ⟦−∞⟧ except for the "
                    "largest logits: p becomes one-hot on the argmax (with tied largest logits, "
                    "uniform over them). This is greedy decoding's choice."
                ),
                eq(Raw(r"\lim_{T \to 0} p", "lim_{T→0} p"), Mat(shape(cold))),
            )
            carry(s, "cold_limit", shape(cold), label=Raw(r"\lim_{T \to 0} p", "lim_{T→0} p"))
        if hot is not None:
            s.step(
                says(
                    f"As ⟦T → ∞⟧ every ⟦z_j/T⟧ goes to 0 and every exponential to 1: p becomes "
                    f"uniform, ⟦1/C = 1/{C}⟧ for each class, and its entropy rises to "
                    f"⟦log {C}⟧."
                ),
                eq(Raw(r"\lim_{T \to \infty} p", "lim_{T→∞} p"), Mat(shape(hot))),
            )
            carry(s, "hot_limit", shape(hot), label=Raw(r"\lim_{T \to \infty} p", "lim_{T→∞} p"))


#: what is done with the temperature: the logits divided by it (right), it left out, or the
#: logits multiplied by it
TemperatureUse = Literal["divide", "ignore", "multiply"]


class NoTemperatureMistake(DlsolveError):
    """A temperature mistake asked of givens where it changes nothing (no temperature, or
    T = 1, where dividing by T, multiplying by it and leaving it out agree): the checker skips
    it instead of solving the problem again for the same answers."""


def temperature_mistake(T: Fraction | None, made: bool) -> None:
    """Refuse a temperature mistake (``made``) that T = 1 (or no T at all) cannot show."""
    if made and (T is None or T == 1):
        raise NoTemperatureMistake("at T = 1 a temperature mistake changes nothing")


def scaled(v: Any, T: Fraction, use: TemperatureUse = "divide") -> Any:
    """A logit as the softmax sees it at temperature T: v/T (or a mistake's v or v·T)."""
    factor = {"divide": 1 / T, "ignore": Fraction(1), "multiply": T}[use]
    if exact.is_rational(v):
        return exact.rational(Fraction(v) * factor)
    return exact.from_sympy(
        exact.to_sympy(v) * sympy.Rational(factor.numerator, factor.denominator)
    )


def softmax_entropy_row(u: Sequence[Any]) -> Any:
    """H(softmax(u)) = log Σ_k e^{u_k − m} − Σ_j p_j (u_j − m), m the smallest u (0 when the
    u are symbols): the log of the common denominator less the mean shifted logit."""
    us = [exact.to_sympy(v) for v in u]
    m = _shift(us)
    m = sympy.Integer(0) if m is None else m
    exps = [sympy.exp(v - m) for v in us]
    S = sympy.Add(*exps)
    mean = sympy.Add(*[x * (v - m) for x, v in zip(exps, us, strict=True)]) / S
    return exact.from_sympy(sympy.log(S) - mean)


def entropy_row(p: Sequence[Any]) -> Any:
    """−Σ p_j log p_j straight from p (0·log 0 = 0; undefined for a negative entry)."""
    terms = []
    for pj in p:
        x = exact.to_sympy(pj)
        if x == 0:
            continue
        try:
            if exact.sign(pj) < 0:
                return None
        except ValueError:
            pass
        terms.append(-x * sympy.log(x))
    return exact.from_sympy(sympy.Add(*terms))


def argmax_limit(z: Sequence[Any]) -> list[Any]:
    """lim_{T→0} softmax(z/T): 1/k on each of the k largest logits, 0 elsewhere."""
    best = z[0]
    for v in z[1:]:
        if exact.sign(v - best) > 0:
            best = v
    tied = [j for j, v in enumerate(z) if exact.is_zero(v - best)]
    return [Fraction(1, len(tied)) if j in tied else 0 for j in range(len(z))]


def _nll(p: Sequence[Any], t: Sequence[Any]) -> Any:
    """−Σ t_j log p_j straight from p (not defined where a p_j with t_j > 0 is not positive)."""
    terms = []
    for pj, tj in zip(p, t, strict=True):
        if tj == 0:
            continue
        try:
            if exact.sign(pj) <= 0:
                return None
        except ValueError:
            pass
        terms.append(-exact.to_sympy(tj) * sympy.log(exact.to_sympy(pj)))
    return exact.from_sympy(sympy.Add(*terms))


# =========================================================================== distillation


def log_sum_exp(u: Sequence[Any]) -> sympy.Expr:
    """log Σ_k e^{u_k}, written m + log Σ_k e^{u_k − m} with m the smallest u (as softmax_row
    writes its denominator), so that log p_j = (u_j − m) − log Σ_k e^{u_k − m}."""
    us = [exact.to_sympy(v) for v in u]
    m = _shift(us)
    m = sympy.Integer(0) if m is None else m
    return m + sympy.log(sympy.Add(*[sympy.exp(v - m) for v in us]))


def kl_logits(a: Sequence[Any], b: Sequence[Any]) -> sympy.Expr:
    """KL(softmax(a) ‖ softmax(b)) = Σ_j q_j (a_j − b_j) − LSE(a) + LSE(b), q = softmax(a):
    the logs of the two softmaxes differ by a_j − b_j and the two normalizers."""
    q = [exact.to_sympy(x) for x in softmax_row(a)]
    gap = sympy.Add(
        *[qj * (exact.to_sympy(x) - exact.to_sympy(y)) for qj, x, y in zip(q, a, b, strict=True)]
    )
    return gap - log_sum_exp(a) + log_sum_exp(b)


def kl_probabilities(q: Sequence[Any], p: Sequence[Any]) -> Any:
    """KL(q‖p) = Σ q_j log(q_j/p_j) straight from two distributions (a student's own); None
    where q puts mass on a class p gives no positive probability."""
    terms = []
    for qj, pj in zip(q, p, strict=True):
        x, y = exact.to_sympy(qj), exact.to_sympy(pj)
        if x == 0:
            continue
        try:
            if exact.sign(pj) <= 0 or exact.sign(qj) < 0:
                return None
        except ValueError:
            pass
        terms.append(x * sympy.log(x / y))
    return sympy.Add(*terms)


@kind("distillation")
class Distillation(Kind):
    """Knowledge distillation: the teacher's soft targets at temperature T, the student's soft
    loss T²·KL(q‖p) against them, and its gradient T(p − q).

    Hinton, Vinyals and Dean (2015) soften both models' logits by the same T. The soft loss
    here is the KL divergence from the teacher's q = softmax(z_t/T) to the student's
    p = softmax(z_s/T), as ``T*T * kl_div(log_softmax(z_s/T), softmax(z_t/T))`` in PyTorch;
    the paper's cross-entropy H(q, p) = H(q) + KL(q‖p) differs by the teacher's entropy, a
    constant, so it has the same gradient (p − q)/T. That gradient shrinks like 1/T² as T
    grows (p − q ≈ (z_s − z_t)/(CT) for zero-mean logits), so the soft loss is multiplied by
    T² to keep its share of the gradient when T changes. With a label and α the total loss is
    α·T²·KL(q‖p) + (1 − α)·CE(softmax(z_s), y), the hard loss at T = 1.
    """

    class Given(GivenModel):
        teacher: Vector
        """the teacher's logits z_t for one example"""
        student: Vector
        """the student's logits z_s for the same example, as many"""
        temperature: Positive
        """the distillation temperature T (a rational > 0), the same for both models"""
        label: Index | None = None
        """the true class (0-based), for the hard loss"""
        alpha: NonNegative | None = None
        """the weight of the soft loss, at most 1 (the hard loss gets 1 − α); needs a label"""

        @model_validator(mode="after")
        def _check(self) -> Distillation.Given:
            C = len(self.teacher)
            if len(self.student) != C:
                raise FieldError(
                    f"has {len(self.student)} logits but the teacher has {C}", "student"
                )
            if not exact.is_rational(self.temperature):
                raise FieldError(
                    "must be a rational number (an integer or a fraction such as 1/2), got "
                    f"{exact.unicode(self.temperature)}",
                    "temperature",
                )
            if self.label is not None and self.label >= C:
                raise FieldError(f"must be a class index below {C} (0-based)", "label")
            if self.alpha is not None:
                if self.label is None:
                    raise FieldError(
                        "weighs the soft loss against the hard one: give a label", "alpha"
                    )
                if exact.sign(self.alpha - 1) > 0:
                    raise FieldError(f"must be at most 1, got {exact.unicode(self.alpha)}", "alpha")
            return self

    keys = (
        Key("soft_targets", "vector", "q = softmax(z_t/T), the teacher's softened distribution"),
        Key("student_probabilities", "vector", "p = softmax(z_s/T), the student at the same T"),
        Key("kl", "real", "KL(q‖p) = Σ_j q_j log(q_j/p_j)"),
        Key("soft_loss", "real", "T²·KL(q‖p), the soft loss scaled as Hinton et al. do"),
        Key("grad_student", "vector", "∂(T²·KL(q‖p))/∂z_s = T(p − q)"),
        Key("hard_loss", "real", "with a label: the cross-entropy of softmax(z_s) at T = 1"),
        Key("loss", "real", "with a label and α: α·T²·KL(q‖p) + (1 − α)·hard loss"),
    )
    example = {"teacher": [3, 1, 0], "student": [1, 1, 0], "temperature": 2, "label": 0}
    labels = {"temperature": Sym("T"), "alpha": Sym("alpha")}
    misconceptions = {
        "forgot the T² that scales the soft loss": {"t_squared": False},
        "softened the teacher only: the student's softmax taken at T = 1": {"student_at_T": False},
        "KL's arguments swapped: KL(p‖q) with the student first": {"kl_swapped": True},
        "forgot to divide the logits by the temperature T": {"temperature_use": "ignore"},
        "multiplied the logits by the temperature T instead of dividing by it": {
            "temperature_use": "multiply"
        },
        "gradient without the chain rule's 1/T for the temperature": {"grad_temperature": False},
    }
    nice = ("integer logits between −3 and 3, the teacher's and the student's different",)

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        return draw_variant(self, given, rng, self._draw)

    def _draw(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        C = len(raw["teacher"])
        raw["teacher"] = small_ints([C], rng)
        raw["student"] = small_ints([C], rng)
        if raw.get("label") is not None:
            raw["label"] = rng.randrange(C)
        return raw

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        ints = all(
            exact.is_rational(v) and Fraction(v).denominator == 1 and abs(v) <= 3
            for v in [*g.teacher, *g.student]
        )
        return [] if ints and list(g.teacher) != list(g.student) else [self.nice[0]]

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        t_squared: bool = True,
        student_at_T: bool = True,
        kl_swapped: bool = False,
        temperature_use: TemperatureUse = "divide",
        grad_temperature: bool = True,
    ) -> None:
        T = Fraction(g.temperature)
        temperature_mistake(
            T,
            temperature_use != "divide" or not (t_squared and student_at_T and grad_temperature),
        )
        a = [scaled(v, T, temperature_use) for v in g.teacher]
        b = [scaled(v, T, temperature_use) if student_at_T else v for v in g.student]
        s.step(
            says(
                f"Soften both models by the same temperature ⟦T = {exact.unicode(T)}⟧: divide "
                "every logit by T before the softmax. A larger T lifts the small probabilities "
                "of the wrong classes, the teacher's 'dark knowledge' of which classes look "
                "alike, so the student can learn from them."
            ),
            eq(Raw(r"z_t/T", "z_t/T"), Mat(a)),
            eq(Raw(r"z_s/T", "z_s/T"), Mat(b)),
        )
        q = carry(s, "soft_targets", softmax_row(a), label=Sym("q"))
        s.step(
            says("The teacher's soft targets, ⟦q = softmax(z_t/T)⟧:"),
            eq(Sym("q"), Mat(q)),
        )
        p = carry(s, "student_probabilities", softmax_row(b), label=Sym("p"))
        s.step(
            says("The student's distribution at the same T, ⟦p = softmax(z_s/T)⟧:"),
            eq(Sym("p"), Mat(p)),
        )
        own = {"soft_targets", "student_probabilities"} & set(s.overrides)
        first, second, name = (p, q, "KL(p‖q)") if kl_swapped else (q, p, "KL(q‖p)")
        if own:
            kl = kl_probabilities(first, second)
        else:
            kl = kl_logits(b, a) if kl_swapped else kl_logits(a, b)
        kl = None if kl is None else exact.from_sympy(kl)
        s.step(
            says(
                "The soft loss compares them with ⟦KL(q‖p) = Σ_j q_j log(q_j/p_j)⟧. Each log "
                "of a softmax is the scaled logit less its log-normalizer, ⟦log q = z_t/T − "
                "log Σ e^{z_t/T}⟧ and ⟦log p = z_s/T − log Σ e^{z_s/T}⟧, so KL is the "
                "q-weighted gap of the scaled logits, ⟦Σ_j q_j (z_t − z_s)_j/T⟧, less the "
                "difference of the two log-normalizers. (The paper's cross-entropy ⟦H(q, p) = "
                "H(q) + KL(q‖p)⟧ adds the teacher's entropy, a constant for the student.)"
            ),
            about(Raw(r"\mathrm{KL}(p \| q)" if kl_swapped else r"\mathrm{KL}(q \| p)", name), kl),
        )
        kl = carry(s, "kl", kl, label=Raw(r"\mathrm{KL}", "KL"))
        factor = T * T if t_squared else Fraction(1)
        soft = None if kl is None else exact.from_sympy(exact.to_sympy(kl) * _sym(factor))
        s.step(
            says(
                "Its gradient with respect to the student's logits is ⟦(p − q)/T⟧, and for a "
                "large T, ⟦p − q ≈ (z_s − z_t)/(C T)⟧ (zero-mean logits): the soft gradient "
                "shrinks like ⟦1/T²⟧. Multiplying the soft loss by ⟦T²⟧ keeps its gradient the "
                "same size whatever T is, so the weight α between soft and hard losses means "
                "the same when T changes."
            ),
            about(Raw(r"T^2 \, \mathrm{KL}", "T²·KL"), soft),
        )
        soft = carry(s, "soft_loss", soft, label=Raw(r"T^2 \, \mathrm{KL}", "T²·KL"))
        chain = scaled(1, T, temperature_use) if student_at_T and grad_temperature else 1
        if kl_swapped:  # ∂KL(p‖q)/∂b_k = p_k (log p_k − log q_k − KL(p‖q))
            K = exact.to_sympy(kl) if kl is not None else sympy.nan
            ratio = [
                exact.to_sympy(pk) * (sympy.log(exact.to_sympy(pk) / exact.to_sympy(qk)) - K)
                for pk, qk in zip(p, q, strict=True)
            ]
        else:
            ratio = [exact.to_sympy(pk) - exact.to_sympy(qk) for pk, qk in zip(p, q, strict=True)]
        grad = [exact.from_sympy(r * _sym(factor * chain)) for r in ratio]
        s.step(
            says(
                f"So the scaled soft loss has the gradient ⟦T² · (p − q)/T = T(p − q)⟧ with "
                f"respect to the student's logits (T = {exact.unicode(T)}):"
            ),
            eq(Raw(r"\frac{\partial (T^2 \mathrm{KL})}{\partial z_s}", "∂(T²·KL)/∂z_s"), Mat(grad)),
        )
        carry(s, "grad_student", grad, label=Raw(r"\partial/\partial z_s", "∂/∂z_s"))
        if g.label is None:
            return
        y = [1 if j == g.label else 0 for j in range(len(g.student))]
        hard = cross_entropy_row(list(g.student), y)
        s.step(
            says(
                f"The hard loss is the ordinary cross-entropy with the true class y = {g.label}, "
                "at T = 1: ⟦−log softmax(z_s)_y⟧."
            ),
            about(Raw(r"\mathrm{CE}", "CE"), hard),
        )
        hard = carry(s, "hard_loss", hard, label=Raw(r"\mathrm{CE}", "CE"))
        if g.alpha is None:
            return
        alpha = Fraction(g.alpha)
        total = None
        if soft is not None and hard is not None:
            total = exact.from_sympy(
                _sym(alpha) * exact.to_sympy(soft) + _sym(1 - alpha) * exact.to_sympy(hard)
            )
        s.step(
            says(
                f"The student is trained on ⟦α·T²·KL(q‖p) + (1 − α)·CE⟧ with α = "
                f"{exact.unicode(alpha)}:"
            ),
            about(Sym("L"), total),
        )
        carry(s, "loss", total, label=Sym("L"))


def _sym(x: Fraction | int) -> sympy.Rational:
    x = Fraction(x)
    return sympy.Rational(x.numerator, x.denominator)
