"""Recurrent networks: how fast a gradient can vanish through time, worked exactly.

For h_t = W σ(h_{t−1}) + U x_t + b the Jacobian of one step is
∂h_t/∂h_{t−1} = W·diag(σ'(h_{t−1})), so with |σ'| ≤ γ and the operator norm
‖W‖ = √λ1(WᵀW),

    ‖∂h_T/∂h_0‖ ≤ (γ‖W‖)^T,

which vanishes as T grows once λ1(WᵀW) ≤ δ²/γ² for some δ < 1. The
eigenvalues of the small symmetric matrix WᵀW are found exactly by sympy
(square roots stay square roots, and √λ1 is denested where it can be), so a
student's "(1 + √17)/8" is checked against an exact value, not a rounding.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any, Literal

import sympy
from pydantic import model_validator

from .. import exact
from ..display import Frac, Mat, Mul, Norm, Num, Pow, Raw, Sqrt, Sym, eq, rel, says
from ..errors import FieldError
from ..given import Count, GivenModel, Matrix, NonNegative, Positive, TypeDoc
from ..solution import Key, Solution
from . import Kind, kind

#: γ = sup |σ'(x)| for each activation, and why
GAMMA: dict[str, tuple[Fraction, str]] = {
    "tanh": (Fraction(1), "tanh'(x) = 1 − tanh²(x) ≤ 1, with equality at x = 0"),
    "sigmoid": (
        Fraction(1, 4),
        "σ'(x) = σ(x)(1 − σ(x)) ≤ 1/4, with equality at x = 0 (where σ = 1/2)",
    ),
    "relu": (Fraction(1), "ReLU'(x) is 0 for x < 0 and 1 for x > 0"),
}
LAMBDA = exact.symbol("lambda")

Activation = Annotated[
    Literal["tanh", "sigmoid", "relu"], TypeDoc("choice", "tanh, sigmoid or relu")
]


def gram(W: list[list[Any]]) -> list[list[Any]]:
    """WᵀW, exactly."""
    cols = exact.transpose(W)
    return [[exact.total(a * b for a, b in zip(ci, cj, strict=True)) for cj in cols] for ci in cols]


def largest_eigenvalue(A: list[list[Any]]) -> tuple[Any, sympy.Expr]:
    """The largest eigenvalue of a symmetric matrix, exactly, and its characteristic
    polynomial in λ (a Surd for a 2×2 matrix of fractions, a sympy root otherwise)."""
    poly = sympy.Matrix(exact.to_sympy(A)).charpoly(LAMBDA)
    roots = sympy.real_roots(poly)  # ascending, exact: radicals or CRootOf
    return exact.from_sympy(sympy.radsimp(roots[-1])), poly.as_expr()


def exact_sqrt(x: Any) -> Any:
    """√x with nested roots undone where they can be: √((9 + √17)/32) = (1 + √17)/8."""
    if exact.is_rational(x):
        return exact.sqrt(x)
    root = sympy.sqrtdenest(sympy.sqrt(exact.to_sympy(x)))
    return exact.from_sympy(sympy.expand(sympy.radsimp(root)))


def spectral_radius(W: list[list[Any]]) -> Any:
    """max |eigenvalue of W| (what a student may take for ‖W‖)."""
    values = sympy.Matrix(exact.to_sympy(W)).eigenvals()
    moduli = [sympy.Abs(v) for v in values]
    return exact.from_sympy(sympy.simplify(max(moduli, key=lambda v: float(v.evalf()))))


def frobenius(W: list[list[Any]]) -> Any:
    """‖W‖_F = √(Σ w²) (a bound on the operator norm, not the operator norm)."""
    return exact.sqrt(exact.total(w * w for row in W for w in row))


def usable(*values: Any) -> bool:
    """Whether values (perhaps a student's, carried forward) are numbers to compute with."""
    return all(
        exact.is_scalar(v) and not (isinstance(v, sympy.Basic) and v.free_symbols) for v in values
    )


def approx(x: Any) -> Raw:
    """``≈ 0.6404`` beside an exact value that is not a plain fraction."""
    f = exact.to_float(x)
    return Raw(f"{f:.4g}", f"{f:.4g}")


#: the norm the bound uses: the spectral norm, or a known mistake's stand-in for it
NormName = Literal["spectral", "frobenius", "lambda", "spectral_radius"]


@kind("rnn_gradient_bound")
class RNNGradientBound(Kind):
    """How fast ‖∂h_T/∂h_0‖ can vanish in h_t = W σ(h_{t−1}) + U x_t + b: the bound (γ‖W‖)^T."""

    class Given(GivenModel):
        W: Matrix
        """the square recurrent weight matrix"""
        activation: Activation | None = None
        """σ: tanh, sigmoid or relu (or give gamma)"""
        gamma: Positive | None = None
        """a bound γ on |σ'| (omitted: the activation's own)"""
        delta: NonNegative | None = None
        """δ in [0, 1) of the condition λ1(WᵀW) ≤ δ²/γ² (omitted: the smallest, γ‖W‖)"""
        T: Count
        """the number of time steps"""

        @model_validator(mode="after")
        def _check(self) -> RNNGradientBound.Given:
            rows, cols = exact.shape(self.W)
            if rows != cols:
                raise FieldError(
                    f"must be square (h_t and h_{{t−1}} have the same size), got {rows}×{cols}", "W"
                )
            if self.activation is None and self.gamma is None:
                raise FieldError(
                    "give the activation (tanh, sigmoid, relu) or gamma, a bound on its derivative",
                    "activation",
                )
            if self.activation is not None and self.gamma is not None:
                own = GAMMA[self.activation][0]
                if exact.sign(self.gamma - own) != 0:
                    raise FieldError(
                        f"{self.activation} has γ = {exact.unicode(own)}, not "
                        f"{exact.unicode(self.gamma)}; give one or the other",
                        "gamma",
                    )
            if self.delta is not None and exact.sign(self.delta - 1) >= 0:
                raise FieldError(
                    f"must be less than 1 for the gradient to vanish, got "
                    f"{exact.unicode(self.delta)}",
                    "delta",
                )
            return self

    keys = (
        Key("gamma", "real", "γ: the largest |σ'(x)|"),
        Key("lambda_max", "real", "λ1(WᵀW): the largest eigenvalue of WᵀW"),
        Key("op_norm", "real", "‖W‖ = √λ1(WᵀW), the operator (spectral) norm"),
        Key("step_bound", "real", "γ‖W‖: the bound on ‖∂h_t/∂h_{t−1}‖ for one step"),
        Key("bound_T", "real", "(γ‖W‖)^T: the bound on ‖∂h_T/∂h_0‖"),
        Key("vanishes", "boolean", "whether λ1(WᵀW) ≤ δ²/γ² with δ < 1 (the gradient vanishes)"),
    )
    example = {"W": [["1/2", "1/4"], [0, "1/2"]], "activation": "tanh", "delta": "2/3", "T": 10}
    labels = {"gamma": Sym("gamma"), "delta": Sym("delta")}
    misconceptions = {
        "used σ' ≤ 1 for the sigmoid (its derivative is at most 1/4)": {"sigmoid_gamma": 1},
        "used λ1(WᵀW) for ‖W‖, forgetting the square root": {"norm": "lambda"},
        "used the largest |eigenvalue| of W (spectral radius) for the operator norm": {
            "norm": "spectral_radius"
        },
        "used the Frobenius norm for the operator norm": {"norm": "frobenius"},
        "multiplied the one-step bound by T instead of raising it to the power T": {"power": False},
    }
    nice = ("‖W‖ is a fraction or a + b√r (one square root)",)

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        sigmoid_gamma: Any = None,
        norm: NormName = "spectral",
        power: bool = True,
    ) -> None:
        s.step(
            says(
                "One step of ⟦h_t = W σ(h_{t−1}) + U x_t + b⟧ has the Jacobian "
                "⟦∂h_t/∂h_{t−1} = W·diag(σ'(h_{t−1}))⟧, so "
                "⟦‖∂h_t/∂h_{t−1}‖ ≤ ‖W‖·max|σ'| = γ‖W‖⟧, and by the chain rule over T steps "
                "⟦‖∂h_T/∂h_0‖ ≤ (γ‖W‖)^T⟧."
            )
        )
        gamma = s.answer("gamma", self.gamma(s, g, sigmoid_gamma), label=Sym("gamma"))
        lam = self.lambda_max(s, g.W)
        op = self.op_norm(s, g.W, lam, norm)
        step = s.answer(
            "step_bound",
            gamma * op if usable(gamma, op) else None,
            label=Mul(Sym("gamma"), Norm(Sym("W"))),
        )
        if usable(gamma, op, step):
            s.step(
                "The bound for one step:",
                eq(Mul(Sym("gamma"), Norm(Sym("W"))), Mul(gamma, op), step),
            )
        total = (exact.power(step, g.T) if power else step * g.T) if usable(step) else None
        if usable(total):
            s.step(
                f"After T = {g.T} steps:",
                rel(
                    Norm(Raw(r"\partial h_T / \partial h_0", "∂h_T/∂h₀")),
                    "<=",
                    Pow(Mul(Sym("gamma"), Norm(Sym("W"))), g.T),
                    "=",
                    total,
                    "~",
                    approx(total),
                ),
            )
        s.answer("bound_T", total, label=Pow(Mul(Sym("gamma"), Norm(Sym("W"))), "T"))
        if usable(gamma, lam, op):
            self.vanishing(s, g, gamma, lam, op)
        else:
            s.answer("vanishes", None)

    def gamma(self, s: Solution, g: Given, sigmoid_gamma: Any) -> Any:
        if g.activation is None:
            s.step(f"γ = {exact.unicode(g.gamma)} is given.")
            return g.gamma
        value, why = GAMMA[g.activation]
        if g.activation == "sigmoid" and sigmoid_gamma is not None:
            value = Fraction(sigmoid_gamma)
        s.step(f"γ for {g.activation}: {why}.", eq(Sym("gamma"), value))
        return value

    def lambda_max(self, s: Solution, W: list[list[Any]]) -> Any:
        A = gram(W)
        lam, poly = largest_eigenvalue(A)
        s.step(
            "WᵀW and its characteristic polynomial; λ1 is its largest root (WᵀW is "
            "symmetric and positive semi-definite, so every root is real and ≥ 0).",
            eq(Raw(r"W^\top W", "WᵀW"), Mat(A)),
            eq(Raw(r"\det(W^\top W - \lambda I)", "det(WᵀW − λI)"), Num(poly), 0),
            rel(Sym("lambda", 1), "=", lam, "~", approx(lam)),
        )
        return s.answer("lambda_max", lam, label=Sym("lambda", 1))

    def op_norm(self, s: Solution, W: list[list[Any]], lam: Any, norm: NormName) -> Any:
        if norm == "lambda":
            value = lam
        elif norm == "spectral_radius":
            value = spectral_radius(W)
        elif norm == "frobenius":
            value = frobenius(W)
        elif not usable(lam) or exact.sign(lam) < 0:  # a carried λ1 that has no root
            value = None
        else:
            value = exact_sqrt(lam)
        if value is None:
            return s.answer("op_norm", None, label=Norm(Sym("W")))
        s.step(
            "The operator norm is the square root of λ1 (the largest singular value of W).",
            rel(
                Norm(Sym("W")),
                "=",
                Sqrt(Sym("lambda", 1)),
                "=",
                Sqrt(lam),
                "=",
                value,
                "~",
                approx(value),
            ),
        )
        return s.answer("op_norm", value, label=Norm(Sym("W")))

    def vanishing(self, s: Solution, g: Given, gamma: Any, lam: Any, op: Any) -> None:
        if g.delta is None:
            holds = exact.sign(gamma * op - 1) < 0
            s.step(
                "With δ = γ‖W‖, the smallest δ for which λ1(WᵀW) ≤ δ²/γ², the gradient "
                f"vanishes exactly when γ‖W‖ < 1: here γ‖W‖ ≈ {exact.to_float(gamma * op):.4g}"
                f", so it {'does' if holds else 'does not'}."
            )
            s.answer("vanishes", holds)
            return
        limit = exact.power(g.delta, 2) / (gamma * gamma)
        holds = exact.sign(lam - limit) <= 0
        s.step(
            "The condition λ1(WᵀW) ≤ δ²/γ² (equivalently γ‖W‖ ≤ δ):",
            rel(
                Sym("lambda", 1),
                "~",
                approx(lam),
                "<=" if holds else ">",
                Frac(Pow(Sym("delta"), 2), Pow(Sym("gamma"), 2)),
                "=",
                limit,
            ),
        )
        if holds:
            s.step(
                says(
                    f"It holds with ⟦δ = {exact.unicode(g.delta)} < 1⟧, so "
                    "⟦‖∂h_T/∂h_0‖ ≤ δ^T⟧, which goes to 0 as T grows: the gradient vanishes."
                ),
                eq(Pow(Sym("delta"), g.T), exact.power(g.delta, g.T)),
            )
        else:
            s.step(
                "It fails: this δ does not bound γ‖W‖, so the argument does not show that "
                "the gradient vanishes."
            )
        s.answer("vanishes", holds)

    # -- variants
    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        """A new W (entries in quarters) with the same activation, δ and T, whose norm is
        simple and for which the vanishing condition holds or fails as it did before."""
        g = self.Given.model_validate(dict(given))
        n = len(g.W)
        want = self._vanishes(g)
        for _ in range(2000):
            W = [[Fraction(rng.randint(-4, 4), 4) for _ in range(n)] for _ in range(n)]
            if W == g.W or all(w == 0 for row in W for w in row):
                continue
            raw = {**dict(given), "W": [[exact.fmt(w) for w in row] for row in W]}
            if isinstance(given.get("T"), int):  # W's norms are few: the horizon varies too
                raw["T"] = rng.randint(5, 30)
            new = self.Given.model_validate(raw)
            if self._vanishes(new) == want and not self._nice_broken(new):
                return raw
        raise ValueError("no variant of this W with a simple norm was found")

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        return self._nice_broken(g)

    def _nice_broken(self, g: Any) -> list[str]:
        norm = exact_sqrt(largest_eigenvalue(gram(g.W))[0])
        simple = exact.is_rational(norm) or isinstance(norm, exact.Surd)
        return [] if simple else [self.nice[0]]

    def _vanishes(self, g: Any) -> bool:
        gamma = g.gamma if g.gamma is not None else GAMMA[g.activation][0]
        lam = largest_eigenvalue(gram(g.W))[0]
        if g.delta is None:
            return exact.sign(gamma * exact_sqrt(lam) - 1) < 0
        return exact.sign(lam - exact.power(g.delta, 2) / (gamma * gamma)) <= 0
