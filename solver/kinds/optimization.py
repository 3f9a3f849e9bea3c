"""Optimizer steps with weight decay, exactly: SGD with decay, Adam with L2, and AdamW.

Weight decay and an L2 penalty are the same thing for SGD and different things
for Adam, and these kinds make both facts visible in numbers:

* ``sgd_weight_decay`` takes one SGD step with weight decay (numbers, matrices
  or symbols) and finds the L2 coefficient γ for which plain SGD on
  L + γ‖θ‖² takes the very same step, in the convention the problem writes
  (PyTorch's and the lecture's θ ← (1 − ηλ)θ − η∇L, or IFT6135's
  θ ← θ − η∇L + λθ, which adds +λθ);
* ``adam_step`` runs a few steps of Adam with the penalty in the gradient
  (``torch.optim.Adam(weight_decay=λ)``: g ← g + λθ) and of AdamW
  (``torch.optim.AdamW``: θ ← θ(1 − ηλ) before the Adam step) from the same
  given gradients, exactly (square roots stay surds), following PyTorch's
  update line for line: bias correction of both moments, then
  θ ← θ − η·m̂/(√v̂ + ε) with ε outside the root.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .. import exact
from ..display import Add, Frac, Mat, Mul, Neg, Pow, Raw, Sqrt, Sym, Text, eq, m, says
from ..errors import FieldError
from ..given import GivenModel, NonNegative, Positive, Symbolic, SymbolicValue, TypeDoc, Vector
from ..solution import Key, Solution
from . import Kind, kind

GRAD_L = Raw(r"\nabla L", "∇L")
THETA_NEXT = Raw(r"\theta'", "θ′")
MAX_ADAM_STEPS = 6  # beyond this, nested square roots make exact answers unreadable and slow


def scale(t: Any, c: Any) -> Any:
    """``c·t`` for a scalar or tensor ``t``."""
    return exact.tmap(lambda x: _tidy(c * x), t) if isinstance(t, list) else _tidy(c * t)


def combine(a: Any, b: Any, f: Any) -> Any:
    """``f(a, b)`` entrywise, for scalars or tensors of one shape."""
    return exact.tmap(lambda x, y: _tidy(f(x, y)), a, b) if isinstance(a, list) else _tidy(f(a, b))


def _tidy(x: Any) -> Any:
    """The cheapest exact form: an int for an integral Fraction, a Surd, else sympy's."""
    if exact.is_rational(x):
        return exact.rational(x)
    if isinstance(x, exact.Surd):
        return x
    return exact.from_sympy(exact.to_sympy(x))


def show(v: Any) -> Any:
    """A value as maths: a matrix for a list, the scalar otherwise."""
    return Mat(v) if isinstance(v, list) else v


# --------------------------------------------------------------------------- SGD with weight decay

Form = Annotated[
    Literal["shrink", "add"],
    TypeDoc(
        "shrink | add",
        "how the update is written: shrink θ ← (1 − ηλ)θ − η∇L, add θ ← θ − η∇L + λθ",
    ),
]


@kind("sgd_weight_decay")
class SGDWeightDecay(Kind):
    """One SGD step with weight decay, and the L2 penalty γ‖θ‖² that gives the same step."""

    class Given(GivenModel):
        theta: SymbolicValue
        """the weights θ: a number, a symbol, a vector or a matrix"""
        grad: SymbolicValue
        """the gradient of the loss at θ, ∇L(θ) (same shape as theta)"""
        lr: Symbolic
        """the learning rate η (a number or a symbol such as eta)"""
        weight_decay: Symbolic
        """the weight-decay coefficient λ (a number or a symbol such as lambda)"""
        form: Form = "shrink"
        """shrink: θ ← (1 − ηλ)θ − η∇L (PyTorch's SGD, the lecture); \
add: θ ← θ − η∇L + λθ (IFT6135)"""

        @model_validator(mode="after")
        def _check(self) -> SGDWeightDecay.Given:
            ts = exact.shape(self.theta) if isinstance(self.theta, list) else ()
            gs = exact.shape(self.grad) if isinstance(self.grad, list) else ()
            if ts != gs:
                raise FieldError(f"has shape {list(gs)} but theta has shape {list(ts)}", "grad")
            try:
                positive = exact.sign(self.lr) > 0
            except ValueError:
                positive = True  # a symbol: assumed positive
            if not positive:
                raise FieldError(f"must be > 0, got {exact.unicode(self.lr)}", "lr")
            return self

    keys = (
        Key(
            "decayed",
            "tensor",
            "the weights after the decay alone: (1 − ηλ)θ, or (1 + λ)θ in the add form",
        ),
        Key("theta_next", "tensor", "the weights after the whole step"),
        Key(
            "l2_equivalent_gamma",
            "expression",
            "γ such that plain SGD on L + γ‖θ‖² takes the "
            "same step (λ/2, or −λ/(2η) in the add form)",
        ),
    )
    example = {
        "theta": [[1, -2], [3, 0]],
        "grad": [["1/2", "1/2"], [-1, 2]],
        "lr": "1/10",
        "weight_decay": "1/2",
        "form": "shrink",
    }
    misconceptions = {
        "weight decay with the wrong sign (it pulls the weights towards 0)": {"sign": -1},
        "forgot the 2 of ∇(γ‖θ‖²) = 2γθ when matching the L2 penalty": {"factor": 1},
        "forgot the learning rate in the decay term": {"decay_lr": False},
        "applied the decay after the gradient step instead of to θ": {"decay_after": True},
    }
    nice = (
        "the decay factor and every entry of the new weights are simple fractions",
        "the step changes every weight",
    )

    def show_givens(self, g: GivenModel) -> list[tuple[Any, Any]]:
        return [
            (Sym("theta"), m(show(g.theta))),
            (GRAD_L, m(show(g.grad))),
            (Sym("eta"), m(g.lr)),
            (Sym("lambda"), m(g.weight_decay)),
            (Text("form"), Text(g.form)),
        ]

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        sign: int = 1,
        factor: int = 2,
        decay_lr: bool = True,
        decay_after: bool = False,
    ) -> None:
        eta, lam = g.lr, g.weight_decay
        theta, th = Sym("theta"), show(g.theta)
        lam_s = lam if sign == 1 else _tidy(-lam)
        if g.form == "shrink":
            rate = _tidy(eta * lam_s) if decay_lr else lam_s
            factor_value = _tidy(1 - rate)
            s.step(
                says(
                    "Weight decay shrinks the weights by the factor ⟦1 − ηλ⟧, then SGD takes "
                    "the gradient step: ⟦θ ← (1 − ηλ)θ − η∇L⟧."
                ),
                eq(Sub1(Mul(Sym("eta"), Sym("lambda"))), Sub1(Mul(eta, lam_s)), factor_value),
            )
        else:
            rate = lam_s
            factor_value = _tidy(1 + rate)
            s.step(
                says(
                    "The update of the problem adds ⟦λθ⟧ to plain SGD: "
                    "⟦θ ← θ − η∇L + λθ = (1 + λ)θ − η∇L⟧."
                ),
                eq(Add(1, Sym("lambda")), Add(1, lam_s), factor_value),
            )
        step_grad = scale(g.grad, eta)
        if decay_after:
            plain = combine(g.theta, step_grad, lambda a, b: a - b)
            s.step(
                "Gradient step first: θ − η∇L.",
                eq(Add(theta, Neg(Mul(Sym("eta"), GRAD_L))), show(plain)),
            )
            decayed = s.answer("decayed", scale(g.theta, factor_value), label=Sym("decayed"))
            nxt = scale(plain, factor_value)
            s.step(
                "Then the decay, applied to the updated weights.",
                eq(THETA_NEXT, Mul(factor_value, show(plain)), show(nxt)),
            )
        else:
            decayed = s.answer("decayed", scale(g.theta, factor_value), label=Sym("decayed"))
            s.step("The decayed weights.", eq(Mul(factor_value, th), show(decayed)))
            s.step(
                "The gradient step η∇L.",
                eq(Mul(Sym("eta"), GRAD_L), Mul(eta, show(g.grad)), show(step_grad)),
            )
            nxt = combine(decayed, step_grad, lambda a, b: a - b)
            s.step(
                "Subtract it from the decayed weights.",
                eq(THETA_NEXT, Add(show(decayed), Neg(show(step_grad))), show(nxt)),
            )
        s.answer("theta_next", nxt, label=THETA_NEXT)
        self._l2_equivalent(g, s, lam_s, factor, decay_lr)

    def _l2_equivalent(self, g: Given, s: Solution, lam: Any, factor: int, decay_lr: bool) -> None:
        """Match SGD on L + γ‖θ‖², θ − η(∇L + 2γθ) = (1 − 2ηγ)θ − η∇L, with the decay factor.

        ``factor`` is the 2 of ∇(γ‖θ‖²) = 2γθ (1 for the misconception); without
        ``decay_lr`` the learning rate is left out of the match (another one).
        """
        eta = exact.to_sympy(g.lr) if decay_lr else 1
        s.step(
            "Plain SGD on the regularized loss L + γ‖θ‖² has gradient ∇L + 2γθ, so it takes "
            "θ − η(∇L + 2γθ) = (1 − 2ηγ)θ − η∇L: the same step when the decay factors agree."
        )
        if g.form == "shrink":  # 1 − 2ηγ = 1 − ηλ
            gamma = _tidy(eta * exact.to_sympy(lam) / (factor * exact.to_sympy(g.lr)))
            s.step(
                "1 − 2ηγ = 1 − ηλ gives γ = λ/2 (with the penalty (λ/2)‖θ‖² the coefficient "
                "is λ itself).",
                eq(Sym("gamma"), Frac(Sym("lambda"), 2), gamma),
            )
        else:  # 1 − 2ηγ = 1 + λ
            gamma = _tidy(-exact.to_sympy(lam) / (factor * eta))
            s.step(
                "1 − 2ηγ = 1 + λ gives λ = −2ηγ, that is γ = −λ/(2η): a positive penalty "
                "needs a negative λ in this form.",
                eq(Sym("gamma"), Neg(Frac(Sym("lambda"), Mul(2, Sym("eta")))), gamma),
            )
        s.answer("l2_equivalent_gamma", gamma, label=Sym("gamma"))

    # -- variants
    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        """New weights and gradients of the same shape; η and λ whose product is a simple
        fraction. Symbolic givens keep their symbols and get new numbers where numbers were."""

        def number(x: Any) -> Any:
            if isinstance(x, list):
                return [number(v) for v in x]
            if isinstance(x, str) and not _is_number_text(x):
                return x
            return str(Fraction(rng.randint(-6, 6), rng.choice([1, 2, 4])))

        out = dict(given)
        out["theta"] = number(given["theta"])
        out["grad"] = number(given["grad"])
        if _is_number_text(given["lr"]):
            out["lr"] = rng.choice(["1/10", "1/5", "1/4", "1/2", "1/20"])
        if _is_number_text(given["weight_decay"]):
            out["weight_decay"] = (
                rng.choice(["1/2", "1/5", "1/10", "1", "2"])
                if given.get("form", "shrink") == "shrink"
                else rng.choice(["-1/10", "-1/50", "-1/20"])
            )
        return out

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        out = []
        for v in (
            exact.flatten(s["theta_next"])
            if isinstance(s["theta_next"], list)
            else [s["theta_next"]]
        ):
            if exact.is_rational(v) and Fraction(v).denominator > 400:
                out.append(f"{exact.fmt(v)} is not a simple fraction")
                break
        if s["theta_next"] == g.theta:
            out.append("the step leaves the weights unchanged")
        return out


class Sub1(Add):
    """``1 − x``."""

    def __init__(self, x: Any) -> None:
        super().__init__(1, Neg(x))


def _is_number_text(x: Any) -> bool:
    if isinstance(x, (int, Fraction)) and not isinstance(x, bool):
        return True
    if isinstance(x, str):
        try:
            from ..parse import parse_expression

            return exact.is_rational(parse_expression(x))
        except ValueError:
            return False
    return False


# --------------------------------------------------------------------------- Adam and AdamW


class AdamOptions:
    """How a run deviates from PyTorch (the misconceptions); the defaults are PyTorch's."""

    def __init__(
        self,
        *,
        bias_correction: bool = True,
        eps_inside: bool = False,
        l2_factor: int = 1,
        decoupled_lr: bool = True,
        decay_after: bool = False,
    ) -> None:
        self.bias_correction, self.eps_inside = bias_correction, eps_inside
        self.l2_factor, self.decoupled_lr, self.decay_after = l2_factor, decoupled_lr, decay_after


METHODS = {
    "adam_l2": "Adam with L2 (torch.optim.Adam(weight_decay=λ): the gradient becomes g + λθ)",
    "adamw": "AdamW (torch.optim.AdamW: θ ← θ(1 − ηλ) first, then the Adam step on g)",
}


@kind("adam_step")
class AdamStep(Kind):
    """A few steps of Adam with L2 and of AdamW from the same gradients, exactly as PyTorch."""

    options_from = AdamOptions  # solve's **options are AdamOptions'

    class Given(GivenModel):
        theta: Vector
        """the initial weights θ₀"""
        grads: list[Vector]
        """the gradient of the loss (without any penalty) at each step, one vector per step"""
        lr: Positive = Fraction(1, 1000)
        """the learning rate η (PyTorch's default 1e-3)"""
        betas: Vector = Field(default=["9/10", "999/1000"], validate_default=True)
        """(β₁, β₂): the decay rates of the two moments (PyTorch's default [0.9, 0.999])"""
        eps: NonNegative = Fraction(1, 10**8)
        """ε, added to √v̂ outside the root (PyTorch's default 1e-8; 0 keeps answers simple)"""
        weight_decay: NonNegative
        """λ: Adam adds λθ to the gradient, AdamW multiplies θ by 1 − ηλ"""

        @model_validator(mode="after")
        def _check(self) -> AdamStep.Given:
            n = len(self.theta)
            if not self.grads:
                raise FieldError("needs the gradient of at least one step", "grads")
            if len(self.grads) > MAX_ADAM_STEPS:
                raise FieldError(
                    f"has {len(self.grads)} steps; exact answers are limited to "
                    f"{MAX_ADAM_STEPS} (nested square roots grow quickly)",
                    "grads",
                )
            for i, gr in enumerate(self.grads):
                if len(gr) != n:
                    raise FieldError(f"has {len(gr)} values but theta has {n}", "grads", (i,))
            if len(self.betas) != 2:
                raise FieldError(f"needs two values [β₁, β₂], got {len(self.betas)}", "betas")
            for i, b in enumerate(self.betas):
                if not (0 <= b < 1):
                    raise FieldError(f"must be in [0, 1), got {exact.unicode(b)}", "betas", (i,))
            return self

    keys = (
        *(
            Key(
                f"{method}.{name}[t]",
                "vector",
                f"{label}'s {what} after step t",
                lenient_shape="column",  # θ as a column vector, as maths writes it
            )
            for method, label in (("adam_l2", "Adam-L2"), ("adamw", "AdamW"))
            for name, what in (("m", "first moment"), ("v", "second moment"), ("theta", "weights"))
        ),
        Key(
            "relative_decay",
            "matrix",
            "the decay's pull on each weight in the last step, as a "
            "fraction of the weight: row 1 Adam-L2, row 2 AdamW",
        ),
    )
    example = {
        "theta": [1, 1],
        "grads": [["1/100", 10], ["1/50", "1001/100"]],
        "lr": "1/10",
        "betas": ["9/10", "999/1000"],
        "eps": 0,
        "weight_decay": "1/10",
    }
    labels = {
        "theta": Sym("theta", 0),
        "lr": Sym("eta"),
        "eps": Sym("eps"),
        "weight_decay": Sym("lambda"),
    }
    misconceptions = {
        "Adam with L2 confused with AdamW (decay in the gradient versus decay of the weights)": {
            "swap": True
        },
        "forgot the bias correction m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)": {"bias_correction": False},
        "put ε inside the square root (√(v̂ + ε) instead of √v̂ + ε)": {"eps_inside": True},
        "added 2λθ to the gradient (PyTorch's weight_decay=λ adds λθ)": {"l2_factor": 2},
        "AdamW's decay without the learning rate (θ(1 − λ) instead of θ(1 − ηλ))": {
            "decoupled_lr": False
        },
        "AdamW's decay applied after the Adam step instead of before": {"decay_after": True},
    }
    nice = (
        "the first step is a whole-η step for every weight (m̂₁/√v̂₁ = ±1 with ε = 0)",
        "one weight's gradient is small and another's large, so Adam-L2 pulls the "
        "small-gradient weight relatively harder than AdamW does",
    )

    def show_givens(self, g: GivenModel) -> list[tuple[Any, Any]]:
        out: list[tuple[Any, Any]] = [(Sym("theta", 0), Mat(list(g.theta)))]
        out += [(Sym("g", t), Mat(list(gr))) for t, gr in enumerate(g.grads, start=1)]
        out += [
            (Sym("eta"), m(g.lr)),
            (Sym("beta", 1), m(g.betas[0])),
            (Sym("beta", 2), m(g.betas[1])),
            (Sym("eps"), m(g.eps)),
            (Sym("lambda"), m(g.weight_decay)),
        ]
        return out

    def solve(self, g: Given, s: Solution, *, swap: bool = False, **options: Any) -> None:
        opts = AdamOptions(**options)
        s.step(
            says(
                "PyTorch's Adam, per weight: ⟦m ← β₁m + (1 − β₁)g⟧, ⟦v ← β₂v + (1 − β₂)g²⟧, "
                "⟦m̂ = m/(1 − β₁ᵗ)⟧, ⟦v̂ = v/(1 − β₂ᵗ)⟧, ⟦θ ← θ − η·m̂/(√v̂ + ε)⟧, from "
                "⟦m₀ = v₀ = 0⟧. The two methods differ only in where the decay λ enters."
            )
        )
        rates = {}
        for method in METHODS:
            rule = ("adamw" if method == "adam_l2" else "adam_l2") if swap else method
            rates[method] = self._run(g, s, method, rule, opts)
        table = [rates["adam_l2"], rates["adamw"]]
        self._compare(g, s, table)

    def _run(self, g: Given, s: Solution, method: str, rule: str, opts: AdamOptions) -> list[Any]:
        """One method's steps; returns the decay's relative pull on each weight in the last step."""
        b1, b2 = g.betas
        eta, lam, eps = g.lr, g.weight_decay, g.eps
        n = len(g.theta)
        theta = list(g.theta)
        m: list[Any] = [0] * n
        v: list[Any] = [0] * n
        decay_m: list[Any] = [0] * n  # the part of m that the L2 term contributed (Adam-L2)
        s.step(f"{METHODS[method]}.")
        rel: list[Any] = []
        for t, grad in enumerate(g.grads, start=1):
            prev = list(theta)
            if rule == "adam_l2":
                l2 = [_tidy(opts.l2_factor * lam * x) for x in theta]
                gt = [_tidy(a + b) for a, b in zip(grad, l2, strict=True)]
                s.step(
                    f"Step {t}: the gradient with the L2 term, g + λθ.",
                    eq(
                        Sym("g", t),
                        Add(Mat(list(grad)), Mul(opts.l2_factor * lam, Mat(theta))),
                        Mat(gt),
                    ),
                )
            else:
                gt = list(grad)
                s.step(f"Step {t}: the gradient is used as it is.", eq(Sym("g", t), Mat(gt)))
            decay_m = [
                _tidy(b1 * dm + (1 - b1) * x)
                for dm, x in zip(decay_m, l2 if rule == "adam_l2" else [0] * n, strict=True)
            ]
            m = [_tidy(b1 * a + (1 - b1) * x) for a, x in zip(m, gt, strict=True)]
            v = [_tidy(b2 * a + (1 - b2) * exact.power(x, 2)) for a, x in zip(v, gt, strict=True)]
            m = s.answer(f"{method}.m[{t}]", m, label=Sym("m", t))
            v = s.answer(f"{method}.v[{t}]", v, label=Sym("v", t))
            c1 = 1 - b1**t if opts.bias_correction else 1
            c2 = 1 - b2**t if opts.bias_correction else 1
            mhat = [_tidy(Fraction(1) / c1 * x) for x in m]
            vhat = [_tidy(Fraction(1) / c2 * x) for x in v]
            s.step(
                "The moments and their bias corrections.",
                eq(
                    Sym("m", t),
                    Add(Mul(b1, Mat(_prev(s, method, "m", t, n))), Mul(1 - b1, Mat(gt))),
                    Mat(m),
                ),
                eq(
                    Sym("v", t),
                    Add(Mul(b2, Mat(_prev(s, method, "v", t, n))), Mul(1 - b2, Pow(Mat(gt), 2))),
                    Mat(v),
                ),
                eq(Sym("m", t, hat=True), Frac(Sym("m", t), c1), Mat(mhat)),
                eq(Sym("v", t, hat=True), Frac(Sym("v", t), c2), Mat(vhat)),
            )
            denom = [
                _denominator(x, eps, opts.eps_inside, t, i, method) for i, x in enumerate(vhat)
            ]
            update = [_tidy(eta * a * _inverse(dn)) for a, dn in zip(mhat, denom, strict=True)]
            if rule == "adamw":
                keep = 1 - (eta * lam if opts.decoupled_lr else lam)
                if opts.decay_after:
                    after = [_tidy(x - u) for x, u in zip(theta, update, strict=True)]
                    theta = [_tidy(keep * x) for x in after]
                    s.step(
                        says("The Adam step, then the decay ⟦θ ← θ(1 − ηλ)⟧."),
                        eq(
                            Sym("theta", t), Mul(keep, Add(Mat(prev), Neg(Mat(update)))), Mat(theta)
                        ),
                    )
                else:
                    decayed = [_tidy(keep * x) for x in theta]
                    theta = [_tidy(x - u) for x, u in zip(decayed, update, strict=True)]
                    s.step(
                        says(
                            "Decoupled decay first, ⟦θ(1 − ηλ)⟧, then the Adam step ⟦η·m̂/(√v̂ + ε)⟧."
                        ),
                        eq(
                            Mul(Sym("theta", t - 1), Add(1, Neg(Mul(Sym("eta"), Sym("lambda"))))),
                            Mul(keep, Mat(prev)),
                            Mat(decayed),
                        ),
                        eq(Sym("theta", t), Add(Mat(decayed), Neg(Mat(update))), Mat(theta)),
                    )
                rel = [_tidy(1 - keep) for _ in theta]
            else:
                theta = [_tidy(x - u) for x, u in zip(theta, update, strict=True)]
                s.step(
                    says("The Adam step ⟦η·m̂/(√v̂ + ε)⟧."),
                    eq(
                        Sym("theta", t),
                        Add(
                            Mat(prev),
                            Neg(
                                Frac(
                                    Mul(Sym("eta"), Sym("m", t, hat=True)),
                                    Add(Sqrt(Sym("v", t, hat=True)), Sym("eps")),
                                )
                            ),
                        ),
                        Mat(theta),
                    ),
                )
                rel = [
                    None
                    if exact.is_zero(p)
                    else _tidy(eta * dm * _inverse(c1) * _inverse(dn) * _inverse(p))
                    for dm, dn, p in zip(decay_m, denom, prev, strict=True)
                ]
            theta = s.answer(f"{method}.theta[{t}]", theta, label=Sym("theta", t))
        return rel

    def _compare(self, g: Given, s: Solution, table: list[list[Any]]) -> None:
        T = len(g.grads)
        s.step(
            says(
                f"The decay's pull on each weight in step {T}, as a fraction of the weight. "
                "AdamW multiplies every weight by ⟦1 − ηλ⟧, so every weight loses the same "
                "fraction ⟦ηλ⟧. In Adam-L2 the decay term ⟦λθ⟧ is averaged into ⟦m̂⟧ and "
                "divided by ⟦√v̂ + ε⟧ like the gradient: its share of the step is η times the "
                "averaged, bias-corrected ⟦λθ⟧ over ⟦(√v̂ + ε)·θ⟧, large where the gradient "
                "(so ⟦v̂⟧) is small. (Loshchilov and Hutter, and assignments after them, write "
                "the decoupled step as ⟦θ ← θ − λ′θ − η·m̂/(√v̂ + ε)⟧, with a decay ⟦λ′⟧ not "
                "multiplied by η; PyTorch multiplies it by the learning rate. The two are the "
                "same update with ⟦λ′ = ηλ⟧, the fraction every weight loses per step.)"
            ),
            eq(Text("Adam-L2"), Mat(table[0])),
            eq(Text("AdamW"), Mat(table[1])),
        )
        s.answer("relative_decay", table, label=Sym("relative_decay"))
        small, large = _extremes(g)
        if small is not None and None not in (table[0][small], table[0][large]):
            a, b = table[0][small], table[0][large]
            try:
                harder = exact.sign(a - b) > 0
            except ValueError:
                return
            if harder:
                s.step(
                    f"Weight {small + 1} has the smallest gradients and weight {large + 1} "
                    f"the largest: Adam-L2 pulls weight {small + 1} harder "
                    f"({exact.unicode(a)} against {exact.unicode(b)} of the weight), while "
                    "AdamW pulls both by the same fraction. That is why decoupled weight "
                    "decay suits adaptive optimizers."
                )

    # -- variants
    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        """Same number of weights and steps; one weight with small gradients, one with large.

        The gradients after the first are chosen so that Adam-L2's gradient g + λθ stays
        the same at every step: with ε = 0 its steps are then ±η and all its numbers (and
        the relative decays) rational, while AdamW's weights show the surds.
        """
        n = len(given["theta"])
        steps = len(given["grads"])
        lr = Fraction(rng.choice([1, 1, 2])) / rng.choice([10, 20])
        lam = Fraction(1, rng.choice([5, 10, 20]))
        theta = [Fraction(rng.choice([1, 2, -1, -2, 3])) / rng.choice([1, 2]) for _ in range(n)]
        small_i, large_i = rng.sample(range(n), 2) if n >= 2 else (0, 0)
        first: list[Fraction] = []
        for i in range(n):
            if i == small_i:
                first.append(Fraction(rng.choice([1, -1, 2, 3]), 100))
            elif i == large_i:
                first.append(Fraction(rng.choice([10, -10, 5, 20, -5])))
            else:
                first.append(Fraction(rng.choice([1, -1, 2, -2])) / 2)
        g_l2 = [gi + lam * ti for gi, ti in zip(first, theta, strict=True)]
        grads = [first]
        for t in range(1, steps):  # θ_t of Adam-L2 is θ₀ − t·η·sign(g + λθ₀)
            theta_t = [ti - t * lr * _sign(gl) for ti, gl in zip(theta, g_l2, strict=True)]
            grads.append([gl - lam * tt for gl, tt in zip(g_l2, theta_t, strict=True)])
        out = dict(given)
        out.update(
            theta=[str(x) for x in theta],
            grads=[[str(x) for x in row] for row in grads],
            lr=str(lr),
            weight_decay=str(lam),
            eps=0,
        )
        return out

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        out = []
        keep = 1 - g.lr * g.weight_decay
        for x0, x1 in zip(g.theta, s["adamw.theta[1]"], strict=True):
            if g.eps == 0 and not exact.is_zero(abs(_tidy(keep * x0 - x1)) - g.lr):
                out.append("AdamW's first step is not a whole-η step")
                break
        adam_l2 = [s[f"adam_l2.theta[{t}]"] for t in range(1, len(g.grads) + 1)]
        if not all(exact.is_rational(x) for row in adam_l2 for x in row):
            out.append("Adam-L2's weights are not rational")
        small, large = _extremes(g)
        rel = s["relative_decay"]
        if small is None:
            out.append("no weight has smaller gradients than another")
        elif (
            rel[0][small] is None
            or rel[0][large] is None
            or exact.sign(rel[0][small] - rel[0][large]) <= 0
        ):
            out.append("Adam-L2 does not pull the small-gradient weight harder")
        return out


def _sign(x: Fraction) -> int:
    return (x > 0) - (x < 0)


def _prev(s: Solution, method: str, name: str, t: int, n: int) -> list[Any]:
    return list(s[f"{method}.{name}[{t - 1}]"]) if t > 1 else [0] * n


def _denominator(vhat: Any, eps: Any, inside: bool, t: int, i: int, method: str) -> Any:
    """√v̂ + ε (PyTorch), or √(v̂ + ε) for the misconception; 0/0 is an error with its place."""
    d = exact.sqrt(_tidy(vhat + eps)) if inside else _tidy(exact.sqrt(vhat) + eps)
    if exact.is_zero(d):
        raise FieldError(
            f"with eps = 0, weight {i + 1} has v̂ = 0 at step {t} of {method} "
            "(its gradients are all 0 so far), so m̂/(√v̂ + ε) is 0/0; give eps > 0",
            "eps",
        )
    return d


def _inverse(x: Any) -> Any:
    if exact.is_rational(x):
        return Fraction(1) / x
    return 1 / x


def _extremes(g: Any) -> tuple[int | None, int]:
    """The weights with the smallest and the largest gradients (by Σ|g|), if they differ."""
    sizes = [sum(abs(exact.to_float(gr[i])) for gr in g.grads) for i in range(len(g.theta))]
    small = min(range(len(sizes)), key=sizes.__getitem__)
    large = max(range(len(sizes)), key=sizes.__getitem__)
    return (small if sizes[small] < sizes[large] else None), large
