"""Derivations the problem sets ask for, written as worked proofs that sympy confirms.

Each named derivation is built from :mod:`solver.derive` Terms, so every line
of the worked solution is also a sympy statement: an identity (in general for
scalars, for n = 1..4 with symbolic entries for vectors and matrices), an
inequality with a certificate, a solved equation or a limit. The test suite
confirms every line; ``confirm: true`` in a problem confirms them while
solving (slower: an ordinary solve does no sympy work on the lines at all).

The result of each derivation is an answer key of type ``expression`` in the
problem's own symbols (``lambda`` = −2ηγ, ``s`` = γ/‖u‖ written ``gamma/norm_u``),
so that a student's formula can be checked against it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import sympy
from pydantic import model_validator

from .. import derive as d
from .. import exact
from ..derive import Notation, Product, power, subscript
from ..display import MUL, Add, Frac, M, Neg, Norm, Pow, Summation, Sym, eq, rel, says
from ..errors import FieldError
from ..given import GivenModel, TypeDoc
from ..parse import FUNCTIONS
from ..solution import Key, Solution
from . import Kind, kind

Names = Callable[[str], str]


def grad(wrt: M | None, body: M) -> Notation:
    """``∇_θ(body)`` (or ``∇body`` without a subscript)."""
    if wrt is None:
        return Notation(r"\nabla §0", "∇§0", body)
    return Notation(r"\nabla_{§0}\left(§1\right)", "∇_§0(§1)", wrt, body)


def partial(num: M, den: M) -> Notation:
    return Notation(r"\frac{\partial §0}{\partial §1}", "∂§0/∂§1", num, den, prec=MUL)


def expectation(body: M) -> Notation:
    return Notation(r"\mathbb{E}\left[§0\right]", "E[§0]", body)


def fn_label(name: str) -> tuple[str, str]:
    """The text and LaTeX of a function's name (``sigma`` -> ``σ``, ``\\sigma``)."""
    return exact.greek_unicode(name), exact.greek_latex(name)


def sq(x: M) -> Pow:
    return Pow(x, 2)


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Spec:
    """A derivation's builder, its renamable symbols and the problem it comes from."""

    build: Callable[[Names], d.Derivation]
    symbols: tuple[str, ...]
    summary: str


DERIVATIONS: dict[str, Spec] = {}


def derivation(
    name: str, symbols: tuple[str, ...], summary: str
) -> Callable[[Callable[[Names], d.Derivation]], Callable[[Names], d.Derivation]]:
    def register(fn: Callable[[Names], d.Derivation]) -> Callable[[Names], d.Derivation]:
        DERIVATIONS[name] = Spec(fn, symbols, summary)
        return fn

    return register


def build(name: str, symbols: Mapping[str, str] | None = None) -> d.Derivation:
    """The derivation ``name`` with its symbols renamed as ``symbols`` says."""
    mapping = dict(symbols or {})
    if "u" in mapping and "norm_u" not in mapping:  # ‖v‖ is norm_v when u is called v
        mapping["norm_u"] = f"norm_{mapping['u']}"
    return DERIVATIONS[name].build(lambda canonical: mapping.get(canonical, canonical))


# --------------------------------------------------------------------------- RNN equivalence


def _rnn_atoms(nm: Names) -> dict[str, Any]:
    sigma = sympy.Function(nm("sigma"))
    s_text, s_latex = fn_label(nm("sigma"))
    W = d.matrix(Sym(nm("W")), nm("W"))
    U = d.matrix(Sym(nm("U")), nm("U"))
    b = d.vector(Sym(nm("b")), nm("b"))
    return {"sigma": sigma, "s_text": s_text, "s_latex": s_latex, "W": W, "U": U, "b": b}


@derivation(
    "rnn_activation_equivalence",
    ("W", "U", "b", "h", "g", "x", "sigma"),
    "the RNN h_t = W σ(h_{t−1}) + U x_t + b and the conventional g_t = σ(W g_{t−1} "
    "+ U x_t + b) agree: g_t = σ(h_t) (induction)",
)
def rnn_activation_equivalence(nm: Names) -> d.Derivation:
    a = _rnn_atoms(nm)
    W, U, b = a["W"], a["U"], a["b"]

    def sig(t: d.Term) -> d.Term:
        return d.apply(a["sigma"], a["s_text"], a["s_latex"], t)

    h, g = nm("h"), nm("g")
    x_t = d.vector(Sym(nm("x"), "t"), nm("x") + "t")
    h_prev = d.vector(Sym(h, "t-1"), h + "p")
    h_0 = d.vector(Sym(h, 0), h + "0")
    g_prev = d.vector(Sym(g, "t-1"), g + "p", name="g_prev")
    h_t = d.define(Sym(h, "t"), W * sig(h_prev) + U * x_t + b, "h_t")
    g_t = d.define(Sym(g, "t"), sig(W * g_prev + U * x_t + b), "g_t")
    g_0 = d.define(Sym(g, 0), sig(h_0), "g_0")
    hypothesis = {"g_prev": sig(h_prev)}
    lines = [
        d.Line(
            g_0,
            "=",
            sig(h_0),
            "Base case ⟦t = 0⟧: the conventional RNN starts from ⟦g₀ = σ(h₀)⟧, so the claim holds.",
            d.identity(),
        ),
        d.Line(
            g_t,
            "=",
            sig(W * g_prev + U * x_t + b),
            "Induction step: assume ⟦g_{t−1} = σ(h_{t−1})⟧. The conventional RNN's update:",
            d.identity(),
        ),
        d.Line(
            sig(W * g_prev + U * x_t + b),
            "=",
            sig(W * sig(h_prev) + U * x_t + b),
            "Substitute the induction hypothesis ⟦g_{t−1} = σ(h_{t−1})⟧.",
            d.identity(assume=hypothesis),
        ),
        d.Line(
            sig(W * sig(h_prev) + U * x_t + b),
            "=",
            sig(h_t),
            "The argument of ⟦σ⟧ is exactly ⟦h_t = W σ(h_{t−1}) + U x_t + b⟧. So "
            "⟦g_t = σ(h_t)⟧ for every ⟦t ≥ 0⟧.",
            d.identity(),
        ),
    ]
    sigma_ht = a["sigma"](exact.symbol(f"{h}_t"))
    return d.Derivation(
        "rnn_activation_equivalence",
        "The two RNNs compute the same thing: with ⟦g₀ = σ(h₀)⟧, ⟦g_t = σ(h_t)⟧ for every t.",
        [
            (
                "The RNN of the problem and the conventional one (σ acts entrywise):",
                [
                    eq(h_t.show, (W * sig(h_prev) + U * x_t + b).show),
                    eq(g_t.show, (sig(W * g_prev + U * x_t + b)).show),
                ],
            )
        ],
        lines,
        [d.Result("g_t", sigma_ht, Sym(g, "t"), sig(h_t), {f"{h}_t": h_t})],
    )


# --------------------------------------------------------------------------- vanishing gradient


@derivation(
    "vanishing_gradient",
    ("W", "U", "b", "h", "x", "sigma", "gamma", "delta", "T"),
    "‖Dσ‖ ≤ γ and λ₁(WᵀW) ≤ δ²/γ² with 0 ≤ δ < 1 give ‖∂h_T/∂h_0‖ ≤ δ^T → 0",
)
def vanishing_gradient(nm: Names) -> d.Derivation:
    a = _rnn_atoms(nm)
    W, U, b = a["W"], a["U"], a["b"]
    sigma, s_text, s_latex = a["sigma"], a["s_text"], a["s_latex"]
    h = nm("h")
    gamma = d.scalar(Sym(nm("gamma")), nm("gamma"))
    delta = d.scalar(Sym(nm("delta")), nm("delta"))
    T = d.scalar(Sym(nm("T")), nm("T"))

    def sig(t: d.Term) -> d.Term:
        return d.apply(sigma, s_text, s_latex, t)

    def dsig(t: d.Term) -> d.Term:
        return d.derivative_of(sigma, s_text + "′", s_latex + "'", t)

    h_prev = d.vector(Sym(h, "t-1"), h + "p")
    x_t = d.vector(Sym(nm("x"), "t"), nm("x") + "t")
    x_next = d.vector(Sym(nm("x"), "t+1"), nm("x") + "n")
    h_t = d.define(Sym(h, "t"), W * sig(h_prev) + U * x_t + b, "h_t")
    h_next = d.define(Sym(h, "t+1"), W * sig(h_t) + U * x_next + b, "h_next")
    D_prev = d.diag(
        dsig(h_prev), show=Notation(r"D_{§1}(§0)", "D§1(§0)", h_prev.show, Sym(nm("sigma")))
    )
    D_t = d.diag(dsig(h_t), show=Notation(r"D_{§1}(§0)", "D§1(§0)", h_t.show, Sym(nm("sigma"))))
    J_t = (W * D_prev).shown(Sym("J", "t"))
    J_next = (W * D_t).shown(Sym("J", "t+1"))
    y = d.vector(Sym("y"), "y")
    eye = d.identity_matrix()
    ratio = delta**2 / gamma**2

    # Lines 5 and 6 are about y_k = J_k ⋯ J_1 x (y_0 = x, y_T = (∂h_T/∂h_0) x): line 5 is
    # confirmed for T = n = 1..4 steps, with the squared norms ‖y_k‖² as symbols.
    def ysq(k: int) -> sympy.Symbol:
        return sympy.Symbol(f"ysq_{k}", nonnegative=True)

    dl = exact.symbol(nm("delta"))
    y_k = Notation("§0_{k}", "§0ₖ", Sym("y"))
    y_km1 = Notation("§0_{k-1}", "§0ₖ₋₁", Sym("y"))
    y_T = Notation("§0_{§1}", "§0_§1", Sym("y"), T.show)
    y_0 = Sym("y", 0)
    h_T = Notation("§0_{§1}", "§0_§1", Sym(h), T.show)
    dh = partial(h_T, Sym(h, 0))
    two_T = power(delta.show, f"2{T.show.text()}", f"2{T.show.latex()}")
    dT = d.Term(sq(Norm(y_T)), lambda ctx: ysq(ctx.n), sized=True)
    bound_sq = d.Term(
        Product(two_T, sq(Norm(y_0))), lambda ctx: dl ** (2 * ctx.n) * ysq(0), sized=True
    )
    telescope = d.Term(
        Summation(
            "k",
            1,
            T.show,
            Product(
                power(delta.show, f"2({T.show.text()}-k)", f"2({T.show.latex()}-k)"),
                Add(Product(Pow(delta.show, 2), sq(Norm(y_km1))), Neg(sq(Norm(y_k)))),
            ),
        ),
        lambda ctx: sum(
            dl ** (2 * (ctx.n - k)) * (dl**2 * ysq(k - 1) - ysq(k)) for k in range(1, ctx.n + 1)
        ),
        sized=True,
    )
    r0 = sympy.Symbol("r_0", positive=True)
    rT = sympy.Symbol("r_T", positive=True)
    d_nonneg = sympy.Symbol(nm("delta"), nonnegative=True)
    T_int = sympy.Symbol(nm("T"), positive=True, integer=True)
    assume_signs = {
        nm("delta"): d.Term(delta.show, lambda ctx: d_nonneg),
        nm("T"): d.Term(T.show, lambda ctx: T_int),
    }
    op_norm = d.Term(Norm(dh), lambda ctx: rT / r0)
    delta_T = (delta**T).shown(power(delta.show, T.show.text(), T.show.latex()))
    ratio_show = Frac(Norm(y_T), Norm(y_0))
    gap_cert = d.Term(
        Frac(
            Add(Product(two_T, sq(Norm(y_0))), Neg(sq(Norm(y_T)))),
            Product(Norm(y_0), Add(Product(delta_T.show, Norm(y_0)), Norm(y_T))),
        ),
        lambda ctx: (d_nonneg ** (2 * T_int) * r0**2 - rT**2) / (r0 * (d_nonneg**T_int * r0 + rT)),
    )
    a_pos = sympy.Symbol("a", positive=True)
    lines = [
        d.Line(
            d.jacobian(h_t, h_prev, partial(Sym(h, "t"), Sym(h, "t-1"))),
            "=",
            W * D_prev,
            "Chain rule for one step: ⟦σ⟧ acts entrywise, so its Jacobian is the diagonal "
            "matrix ⟦Dσ = diag(σ′(h_{t−1}))⟧, and ⟦J_t = W Dσ(h_{t−1})⟧.",
            d.identity(),
        ),
        d.Line(
            d.jacobian(h_next, h_prev, partial(Sym(h, "t+1"), Sym(h, "t-1"))),
            "=",
            J_next * J_t,
            "Chain rule across steps (shown for two; applied ⟦T − 1⟧ times "
            "it gives ⟦∂h_T/∂h₀ = J_T J_{T−1} ⋯ J₁⟧).",
            d.identity(),
        ),
        d.Line(
            d.dot(W * D_prev * y, W * D_prev * y, show=sq(Norm(Product(J_t.show, y.show)))),
            "<=",
            ratio * d.dot(D_prev * y, D_prev * y, show=sq(Norm(Product(D_prev.show, y.show)))),
            "For any vector y: ⟦λ₁(WᵀW) ≤ δ²/γ²⟧ means ⟦(δ²/γ²)I − WᵀW⟧ is positive "
            "semi-definite, so ⟦‖Wz‖² ≤ (δ²/γ²)‖z‖²⟧ with ⟦z = Dσ y⟧.",
            d.certificate(
                d.dot(D_prev * y, (ratio * eye - W.T * W) * (D_prev * y)),
                "a quadratic form of the positive semi-definite (δ²/γ²)I − WᵀW",
            ),
        ),
        d.Line(
            ratio * d.dot(D_prev * y, D_prev * y, show=sq(Norm(Product(D_prev.show, y.show)))),
            "<=",
            delta**2 * d.dot(y, y, show=sq(Norm(y.show))),
            "⟦‖Dσ‖ ≤ γ⟧ means every ⟦|σ′| ≤ γ⟧, so ⟦γ²I − Dσ²⟧ is positive semi-definite. "
            "With the line above, ⟦‖J_t y‖ ≤ δ‖y‖⟧: each step shrinks a vector by at least δ.",
            d.certificate(
                ratio * d.dot(y, (gamma**2 * eye - D_prev.T * D_prev) * y),
                "a quadratic form of the diagonal γ²I − Dσ² ≥ 0",
            ),
        ),
        d.Line(
            dT,
            "<=",
            bound_sq,
            "Take any x and follow it through the factors: ⟦y₀ = x⟧, ⟦y_k = J_k y_{k−1}⟧, so "
            "⟦y_T = (∂h_T/∂h₀)x⟧. The gap telescopes into a sum of nonnegative terms.",
            d.certificate(telescope, "each bracket is ≥ 0 by the line above"),
        ),
        d.Line(
            op_norm,
            "<=",
            delta_T,
            "The operator norm ⟦‖∂h_T/∂h₀‖⟧ is the largest ratio ⟦‖y_T‖/‖y₀‖⟧ over "
            "⟦x ≠ 0⟧, and each ratio is at most ⟦√(δ^{2T}) = δ^T⟧ (⟦δ ≥ 0⟧).",
            d.certificate(
                gap_cert,
                "the line above",
                assume=assume_signs,
                gap=Add(delta_T.show, Neg(ratio_show)),
            ),
        ),
        d.Line(
            delta_T,
            "->",
            d.Term(
                Notation(r"0 \quad (§0 \to \infty)", "0 as §0 → ∞", T.show),
                lambda ctx: sympy.Integer(0),
            ),
            "Since ⟦0 ≤ δ < 1⟧, ⟦δ^T → 0⟧: the gradient vanishes exponentially fast in T.",
            d.limit(T, assume={nm("delta"): d.Term(delta.show, lambda ctx: 1 / (1 + a_pos))}),
        ),
    ]
    gm, Tn = exact.symbol(nm("gamma")), exact.symbol(nm("T"))
    return d.Derivation(
        "vanishing_gradient",
        "If ⟦‖Dσ‖ ≤ γ⟧ and ⟦λ₁(WᵀW) ≤ δ²/γ²⟧ with ⟦0 ≤ δ < 1⟧, then ⟦‖∂h_T/∂h₀‖ ≤ δ^T → 0⟧.",
        [
            (
                "The RNN and the hypotheses (‖·‖ is the spectral norm, λ₁ the largest eigenvalue):",
                [
                    eq(h_t.show, (W * sig(h_prev) + U * x_t + b).show),
                    d.rel(Norm(Notation(r"D_{§0}", "D§0", Sym(nm("sigma")))), "<=", gamma.show),
                    d.rel(
                        Notation(r"\lambda_{1}(§0^{T} §0)", "λ₁(§0ᵀ§0)", W.show),
                        "<=",
                        Frac(Pow(delta.show, 2), Pow(gamma.show, 2)),
                    ),
                ],
            )
        ],
        lines,
        [
            d.Result("step_bound", dl, Norm(Sym("J", "t")), delta, relation="<="),
            d.Result("bound_T", dl**Tn, Norm(dh), delta_T, relation="<="),
            d.Result(
                "limit",
                0,
                Notation(r"\lim_{§0 \to \infty} §1", "lim §1 (§0 → ∞)", T.show, delta_T.show),
                d.lift(0),
            ),
        ],
        {
            "forgot_gamma": {"step_bound": dl / gm, "bound_T": (dl / gm) ** Tn},
            "squared_bound": {"bound_T": dl ** (2 * Tn)},
        },
    )


# --------------------------------------------------------------------------- weight decay


@derivation(
    "weight_decay_equivalence",
    ("theta", "eta", "gamma", "lambda", "L"),
    "θ_{i+1} = θ_i − η∇L̄ + λθ_i is SGD on L̄ + γ‖θ‖² exactly when λ = −2ηγ",
)
def weight_decay_equivalence(nm: Names) -> d.Derivation:
    th = nm("theta")
    theta = d.vector(Sym(th, "i"), th)
    eta = d.scalar(Sym(nm("eta")), nm("eta"))
    gamma = d.scalar(Sym(nm("gamma")), nm("gamma"))
    lam = d.scalar(Sym(nm("lambda")), nm("lambda"))
    L = sympy.Function(nm("L"))
    Ltext = exact.greek_unicode(nm("L"))
    Lbar = d.fn_of_vector(L, Notation(r"\bar{§0}(§1)", "§0̄(§1)", Sym(nm("L")), theta.show), theta)
    gradL = d.gradient(Lbar, theta, grad(None, Lbar.show))
    sqnorm = d.dot(theta, theta, show=sq(Norm(theta.show)))
    penalty = gamma * sqnorm
    sgd_l2 = d.define(
        Notation(
            r"\theta^{L2}_{i+1}".replace(r"\theta", exact.greek_latex(th)),
            f"{exact.greek_unicode(th)}ᵢ₊₁(L2)",
        ),
        theta - eta * gradL - 2 * eta * gamma * theta,
        "sgd_l2",
    )
    decay = d.define(
        Notation(
            r"\theta^{wd}_{i+1}".replace(r"\theta", exact.greek_latex(th)),
            f"{exact.greek_unicode(th)}ᵢ₊₁(wd)",
        ),
        theta - eta * gradL + lam * theta,
        "decay",
    )
    theta_s = d.scalar(Sym(th, "i"), th)
    lhs_solve = d.Term(
        Notation(
            r"§0 = 0 \text{ for every } §1",
            "§0 = 0 for every §1",
            ((lam + 2 * eta * gamma) * theta_s).show,
            theta_s.show,
        ),
        ((lam + 2 * eta * gamma) * theta_s).value,
    )
    answer = -(2 * eta * gamma)
    lines = [
        d.Line(
            d.gradient(penalty, theta, grad(theta.show, penalty.show)),
            "=",
            2 * gamma * theta,
            f"The gradient of the penalty: ⟦∂({exact.greek_unicode(th)}₁² + ⋯ + "
            f"{exact.greek_unicode(th)}ₙ²)/∂{exact.greek_unicode(th)}ⱼ = "
            f"2{exact.greek_unicode(th)}ⱼ⟧.",
            d.identity(),
        ),
        d.Line(
            theta
            - eta * d.gradient(Lbar + penalty, theta, grad(theta.show, (Lbar + penalty).show)),
            "=",
            sgd_l2.shown((theta - eta * gradL - 2 * eta * gamma * theta).show),
            f"One SGD step on the regularized loss ⟦{Ltext}̄ + γ‖θ‖²⟧, with that gradient.",
            d.identity(),
        ),
        d.Line(
            decay - sgd_l2,
            "=",
            (lam + 2 * eta * gamma) * theta,
            "Subtract the SGD-on-L2 step from the weight-decay step: the loss gradients "
            "cancel and only the decay terms remain.",
            d.identity(),
        ),
        d.Line(
            lhs_solve,
            "=>",
            d.Term(eq(lam.show, answer.show), answer.value),
            "The two updates agree for every ⟦θᵢ⟧ exactly when the coefficient vanishes.",
            d.solve_for(lam),
        ),
    ]
    e, g = exact.symbol(nm("eta")), exact.symbol(nm("gamma"))
    return d.Derivation(
        "weight_decay_equivalence",
        "The weight-decay update equals SGD on ⟦L̄ + γ‖θ‖²⟧ exactly when ⟦λ = −2ηγ⟧.",
        [
            (
                "The update of the problem (it adds +λθᵢ; L̄ is the mean loss (1/m)ΣL"
                " over the batch):",
                [eq(decay.show, (theta - eta * gradL + lam * theta).show)],
            ),
            (
                "SGD with learning rate η on the L2-regularized loss:",
                [
                    eq(
                        sgd_l2.show,
                        (
                            theta
                            - eta
                            * d.gradient(
                                Lbar + penalty, theta, grad(theta.show, (Lbar + penalty).show)
                            )
                        ).show,
                    )
                ],
            ),
        ],
        lines,
        [d.Result("lambda", -2 * e * g, Sym(nm("lambda")), answer)],
        {
            "lambda_sign": {"lambda": 2 * e * g},
            "lambda_factor2": {"lambda": -e * g},
            "lambda_no_lr": {"lambda": -2 * g},
        },
    )


# --------------------------------------------------------------------------- Adam with L2


@derivation(
    "adam_l2_change",
    ("theta", "g", "gamma", "eta", "beta1", "beta2", "eps", "m", "v", "L"),
    "Adam on L + γ‖θ‖² changes one line: g_t = ∇L(θ_{t−1}) + 2γθ_{t−1}",
)
def adam_l2_change(nm: Names) -> d.Derivation:
    th = nm("theta")
    theta = d.vector(Sym(th, "t-1"), th)
    gamma = d.scalar(Sym(nm("gamma")), nm("gamma"))
    L = sympy.Function(nm("L"))
    Lth = d.fn_of_vector(L, Notation("§0(§1)", "§0(§1)", Sym(nm("L")), theta.show), theta)
    gradL = d.gradient(Lth, theta, grad(None, Lth.show))
    penalty = gamma * d.dot(theta, theta, show=sq(Norm(theta.show)))
    # Adam works on each coordinate separately: the scalar lines are per weight.
    g = d.scalar(grad(None, Notation("§0(§1)", "§0(§1)", Sym(nm("L")), Sym(th, "t-1"))), nm("g"))
    th_s = d.scalar(Sym(th, "t-1"), th)
    b1 = d.scalar(Sym(nm("beta1")), nm("beta1"))
    b2 = d.scalar(Sym(nm("beta2")), nm("beta2"))
    eta = d.scalar(Sym(nm("eta")), nm("eta"))
    eps = d.scalar(Sym(nm("eps")), nm("eps"))
    t = d.scalar(Sym("t"), "t")
    m_prev = d.scalar(Sym(nm("m"), "t-1"), nm("m") + "p")
    v_prev = d.scalar(Sym(nm("v"), "t-1"), nm("v") + "p")
    vhat = d.Term(
        Sym(nm("v"), "t", hat=True), lambda ctx: sympy.Symbol(nm("v") + "hat", positive=True)
    )
    g_l2 = g + 2 * gamma * th_s
    m_t = d.define(Sym(nm("m"), "t"), b1 * m_prev + (1 - b1) * g_l2, "m_t")
    m_plain = b1 * m_prev + (1 - b1) * g
    denom = (1 - b1**t) * (
        d.combine(Notation(r"\sqrt{§0}", "√§0", vhat.show), lambda v: sympy.sqrt(v), vhat) + eps
    )
    step = d.define(
        Notation(
            r"§0 \hat{§1}_{t}/(\sqrt{\hat{§2}_{t}} + §3)",
            "§0 §1̂_t/(√§2̂_t + §3)",
            eta.show,
            Sym(nm("m")),
            Sym(nm("v")),
            eps.show,
        ),
        eta * m_t / denom,
        "step",
    )
    step_plain = eta * m_plain / denom
    lines = [
        d.Line(
            d.gradient(Lth + penalty, theta, grad(theta.show, (Lth + penalty).show)),
            "=",
            gradL + 2 * gamma * theta,
            "Adam's gradient line ⟦g_t = ∇f(θ_{t−1})⟧ for ⟦f = L + γ‖θ‖²⟧: the penalty adds "
            "⟦2γθ_{t−1}⟧. Nothing else in Adam changes.",
            d.identity(),
        ),
        d.Line(
            m_t,
            "=",
            b1 * m_prev + (1 - b1) * g + 2 * (1 - b1) * gamma * th_s,
            "The decay term enters the first moment (coordinate by coordinate: Adam treats "
            "each weight separately).",
            d.identity(),
        ),
        d.Line(
            b2 * v_prev + (1 - b2) * g_l2**2,
            "=",
            b2 * v_prev + (1 - b2) * (g**2 + 4 * gamma * g * th_s + 4 * gamma**2 * th_s**2),
            "It enters the second moment ⟦v_t = β₂v_{t−1} + (1 − β₂)g_t²⟧ too.",
            d.identity(),
        ),
        d.Line(
            step - step_plain,
            "=",
            2 * eta * (1 - b1) * gamma * th_s / denom,
            "The part of the step ⟦θ_t = θ_{t−1} − η m̂_t/(√v̂_t + ε)⟧ that this "
            "iteration's decay contributes is divided by ⟦√v̂_t + ε⟧: weights with large "
            "gradients (large ⟦v̂⟧) are decayed less, small-gradient weights more. Decoupled "
            "weight decay (AdamW) does not pass through ⟦m̂/√v̂⟧.",
            d.identity(),
        ),
    ]
    gs, ths, gm = exact.symbol(nm("g")), exact.symbol(th), exact.symbol(nm("gamma"))
    return d.Derivation(
        "adam_l2_change",
        "Adam with an L2 penalty ⟦γ‖θ‖²⟧ changes one line: ⟦g_t = ∇L(θ_{t−1}) + 2γθ_{t−1}⟧.",
        [
            (
                "Adam (bias-corrected, as in torch.optim.Adam), for the loss f:",
                [
                    eq(Sym(nm("g"), "t"), grad(None, Notation("f(§0)", "f(§0)", Sym(th, "t-1")))),
                    eq(
                        Sym(nm("m"), "t"),
                        Add(
                            Product(b1.show, Sym(nm("m"), "t-1")),
                            Product(Add(1, Neg(b1.show)), Sym(nm("g"), "t")),
                        ),
                    ),
                    eq(
                        Sym(nm("v"), "t"),
                        Add(
                            Product(b2.show, Sym(nm("v"), "t-1")),
                            Product(Add(1, Neg(b2.show)), sq(Sym(nm("g"), "t"))),
                        ),
                    ),
                    eq(Sym(th, "t"), Add(Sym(th, "t-1"), Neg(step.show))),
                ],
            )
        ],
        lines,
        [
            d.Result(
                "gradient",
                gs + 2 * gm * ths,
                Sym(nm("g"), "t"),
                gradL + 2 * gamma * theta,
                {nm("g"): gradL, th: theta},
            )
        ],
        {"l2_no_factor2": {"gradient": gs + gm * ths}, "adamw_for_l2": {"gradient": gs}},
    )


# --------------------------------------------------------------------------- BN on whitened data


@derivation(
    "bn_whitened",
    ("u", "x", "gamma", "beta", "w", "y", "norm_u"),
    "with E[x] = 0 and Var(x) = I, BN of y = uᵀx is wᵀx + β with w = γu/‖u‖",
)
def bn_whitened(nm: Names) -> d.Derivation:
    u = d.vector(Sym(nm("u")), nm("u"))
    x = d.vector(Sym(nm("x")), nm("x"))
    gamma = d.scalar(Sym(nm("gamma")), nm("gamma"))
    beta = d.scalar(Sym(nm("beta")), nm("beta"))
    # Expectations are confirmed on a random vector with three symbolic support points.
    p1, p2 = exact.symbol("p_1"), exact.symbol("p_2")
    weights = (p1, p2, 1 - p1 - p2)
    xname = nm("x")

    def point(k: int) -> d.Term:
        return d.Term(
            x.show, lambda ctx: sympy.Matrix(d.entries(f"{xname}_pt{k}", ctx.n)), sized=True
        )

    def E(body: d.Term, show: M | None = None) -> d.Term:
        def value(ctx: d.Ctx) -> Any:
            at = [d.Ctx(ctx.n, {**ctx.assume, x.name or xname: point(k)}) for k in (1, 2, 3)]
            terms = [p * body.value(c) for p, c in zip(weights, at, strict=True)]
            return terms[0] + terms[1] + terms[2]

        return d.Term(show if show is not None else expectation(body.show), value, sized=True)

    Ex = E(x).named("Ex")
    centred = x - Ex
    Var = E(centred * centred.T, Notation(r"\operatorname{Var}(§0)", "Var(§0)", x.show)).named(
        "Var"
    )
    y = d.define(Sym(nm("y")), d.dot(u, x), "y")
    uTx = d.dot(u, x)
    mu_y = d.define(subscript("mu", nm("y")), E(uTx), "mu_y")
    var_y = d.define(
        Pow(subscript("sigma", nm("y")), 2),
        E((uTx - E(uTx)) ** 2, Notation(r"\operatorname{Var}(§0)", "Var(§0)", uTx.show)),
        "var_y",
    )
    sigma_y = d.combine(subscript("sigma", nm("y")), sympy.sqrt, var_y).named("sigma_y")
    nu = d.norm(u)
    w = d.define(Sym(nm("w")), gamma * u / nu, "w")
    bn = gamma * (y - mu_y) / sigma_y + beta
    lines = [
        d.Line(E(uTx), "=", d.dot(u, Ex), "Linearity of expectation (u is fixed).", d.identity()),
        d.Line(d.dot(u, Ex), "=", 0, "⟦E[x] = 0⟧.", d.identity(assume={"Ex": d.zero_vector()})),
        d.Line(
            var_y.shown(Notation(r"\operatorname{Var}(§0)", "Var(§0)", uTx.show)),
            "=",
            d.dot(u, Var * u),
            "The variance of a linear function: "
            "⟦E[(uᵀ(x − E[x]))²] = uᵀ E[(x − E[x])(x − E[x])ᵀ] u⟧.",
            d.identity(),
        ),
        d.Line(
            d.dot(u, Var * u),
            "=",
            nu**2,
            "⟦Var(x) = I⟧, so ⟦uᵀIu = uᵀu = ‖u‖²⟧.",
            d.identity(assume={"Var": d.identity_matrix()}),
        ),
        d.Line(
            bn,
            "=",
            gamma * uTx / nu + beta,
            "Put ⟦μ_y = 0⟧ and ⟦σ_y = ‖u‖⟧ into BatchNorm's ⟦γ(y − μ_y)/σ_y + β⟧ (⟦ε = 0⟧).",
            d.identity(assume={"mu_y": d.lift(0), "sigma_y": nu}),
        ),
        d.Line(
            gamma * uTx / nu + beta,
            "=",
            d.dot(w, x) + beta,
            "This is a linear layer ⟦wᵀx + β⟧ with ⟦w = γu/‖u‖⟧: on whitened inputs BN "
            "only rescales u to length ⟦|γ|⟧.",
            d.identity(),
        ),
    ]
    us, g, n_u = exact.symbol(nm("u")), exact.symbol(nm("gamma")), exact.symbol(nm("norm_u"))
    return d.Derivation(
        "bn_whitened",
        "On whitened inputs (⟦E[x] = 0⟧, ⟦Var(x) = I⟧), BatchNorm of ⟦y = uᵀx⟧ is "
        "⟦wᵀx + β⟧ with ⟦w = γu/‖u‖⟧.",
        [
            (
                "The input is whitened and the unit is linear:",
                [eq(expectation(x.show), 0), eq(Var.show, Sym("I")), eq(y.show, uTx.show)],
            )
        ],
        lines,
        [
            d.Result("w", g * us / n_u, Sym(nm("w")), w, {nm("u"): u, nm("norm_u"): nu}),
            d.Result("mu_y", 0, mu_y.show, d.lift(0)),
            d.Result("sigma_y", n_u, sigma_y.show, nu, {nm("norm_u"): nu}),
        ],
        {"sigma_is_variance": {"sigma_y": n_u**2, "w": g * us / n_u**2}},
    )


# --------------------------------------------------------------------------- weight norm


@derivation(
    "weightnorm_gradient",
    ("u", "w", "gamma", "L", "s", "norm_u"),
    "w = γu/‖u‖ gives ∇_u L = s W⊥ ∇_w L with s = γ/‖u‖, W⊥ = I − uuᵀ/‖u‖², W⊥u = 0",
)
def weightnorm_gradient(nm: Names) -> d.Derivation:
    u = d.vector(Sym(nm("u")), nm("u"))
    gamma = d.scalar(Sym(nm("gamma")), nm("gamma"))
    nu = d.norm(u)
    eye = d.identity_matrix()
    w = d.define(Sym(nm("w")), gamma * u / nu, "w")
    w_free = d.vector(Sym(nm("w")), nm("w") + "v")
    L = sympy.Function(nm("L"))
    Lw = d.fn_of_vector(L, Sym(nm("L")), w_free)
    grad_w = d.substituted(
        d.gradient(Lw, w_free, Notation(r"\nabla_{§0} L", "∇_§0 L", Sym(nm("w")))),
        w_free,
        w,
        Notation(r"\nabla_{§0} §1", "∇_§0 §1", Sym(nm("w")), Sym(nm("L"))),
    )
    L_of_u = d.substituted(Lw, w_free, w, Sym(nm("L")))
    grad_u = d.gradient(
        L_of_u, u, Notation(r"\nabla_{§0} §1", "∇_§0 §1", Sym(nm("u")), Sym(nm("L")))
    )
    s = d.define(Sym(nm("s")), gamma / nu, "s")
    uuT = u * u.T
    W_perp = d.define(Notation(r"W_{\perp}", "W⊥"), eye - uuT / nu**2, "W_perp")
    J = d.jacobian(w, u, partial(Sym(nm("w")), Sym(nm("u"))))
    lines = [
        d.Line(
            J,
            "=",
            gamma * (eye / nu - uuT / nu**3),
            "Differentiate w = γu/‖u‖ (quotient rule, with ∂‖u‖/∂u = uᵀ/‖u‖).",
            d.identity(),
        ),
        d.Line(
            gamma * (eye / nu - uuT / nu**3),
            "=",
            s * W_perp,
            "Factor out s = γ/‖u‖: what remains is W⊥ = I − uuᵀ/‖u‖².",
            d.identity(),
        ),
        d.Line(
            grad_u, "=", J.T * grad_w, "Chain rule: L depends on u only through w.", d.identity()
        ),
        d.Line(
            J.T * grad_w,
            "=",
            s * W_perp * grad_w,
            "By the line above, since W⊥ is symmetric (W⊥ᵀ = W⊥).",
            d.identity(),
        ),
        d.Line(W_perp * u, "=", u - u * d.dot(u, u) / nu**2, "Apply W⊥ to u itself.", d.identity()),
        d.Line(
            u - u * d.dot(u, u) / nu**2,
            "=",
            d.zero_vector(),
            "This is 0, because uᵀu = ‖u‖²: W⊥ projects onto the directions orthogonal to u.",
            d.identity(),
        ),
        d.Line(
            d.dot(u, grad_u),
            "=",
            0,
            "Hence uᵀ∇_u L = s (W⊥u)ᵀ ∇_w L = 0: the gradient never changes ‖u‖ to first order.",
            d.identity(),
        ),
    ]
    g, n_u, us = exact.symbol(nm("gamma")), exact.symbol(nm("norm_u")), exact.symbol(nm("u"))
    return d.Derivation(
        "weightnorm_gradient",
        "With w = γu/‖u‖: ∇_u L = s W⊥ ∇_w L, s = γ/‖u‖, W⊥ = I − uuᵀ/‖u‖², and W⊥u = 0.",
        [
            (
                "Weight normalization writes the weights through a direction u and a scale γ:",
                [eq(w.show, (gamma * u / nu).show)],
            )
        ],
        lines,
        [
            d.Result("s", g / n_u, Sym(nm("s")), s, {nm("norm_u"): nu}),
            d.Result(
                "W_perp_u", 0, Notation(r"W_{\perp} §0", "W⊥§0", Sym(nm("u"))), d.zero_vector()
            ),
        ],
        {"s_squared_norm": {"s": g / n_u**2}, "norm_constant": {"W_perp_u": us}},
    )


# --------------------------------------------------------------------------- the kind

_RESERVED = set(FUNCTIONS) | {"pi", "e"}
#: letters the derivations use for their own notation (indices, Jacobians, helpers)
_NOTATION = {"t", "k", "i", "j", "n", "I", "J", "y", "D", "E", "f", "z"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def rename_prose(text: str, mapping: Mapping[str, str]) -> str:
    """A reason or claim with renamed symbols: ``η`` -> ``α`` wherever it stands, a Latin
    letter only as a whole token (``u`` in ``γu/‖u‖`` but not in ``update``)."""
    pairs = {
        exact.greek_unicode(old): exact.greek_unicode(new)
        for old, new in mapping.items()
        if old != new
    }
    if not pairs:
        return text

    def token(k: str) -> str:
        if k[0].isascii():
            return rf"(?<![A-Za-z]){re.escape(k)}(?![A-Za-z0-9])"
        return re.escape(k)

    pattern = re.compile("|".join(token(k) for k in sorted(pairs, key=len, reverse=True)))
    return pattern.sub(lambda mt: pairs[mt.group(0)], text)


MISTAKES = {
    "lambda_sign": "λ with the wrong sign: the update adds +λθ, so λ = −2ηγ, not 2ηγ",
    "lambda_factor2": "forgot the 2 of ∇‖θ‖² = 2θ (λ = −ηγ instead of −2ηγ)",
    "lambda_no_lr": "forgot the learning rate: the L2 gradient is scaled by η too "
    "(λ = −2ηγ, not −2γ)",
    "l2_no_factor2": "the L2 gradient of γ‖θ‖² is 2γθ, not γθ",
    "adamw_for_l2": "Adam with L2 confused with AdamW: with L2 the decay is in the gradient "
    "g_t, not applied to the weights separately",
    "sigma_is_variance": "used the variance ‖u‖² where BatchNorm divides by the standard "
    "deviation ‖u‖",
    "s_squared_norm": "s = γ/‖u‖², one factor of ‖u‖ too many (w = γu/‖u‖ has ‖w‖ = |γ|)",
    "norm_constant": "treated ‖u‖ as a constant when differentiating w = γu/‖u‖ "
    "(the projection W⊥ disappears)",
    "forgot_gamma": "dropped the bound ‖Dσ‖ ≤ γ: each step is bounded by ‖W‖‖Dσ‖ ≤ (δ/γ)·γ = δ",
    "squared_bound": "bounded the squared norm: ‖∂h_T/∂h₀‖ ≤ δ^T, ‖·‖² ≤ δ^{2T}",
}


@kind("derivation")
class DerivationKind(Kind):
    """A named derivation as a worked proof, every line confirmed by sympy, ending in a formula."""

    class Given(GivenModel):
        name: str
        """one of rnn_activation_equivalence, vanishing_gradient, weight_decay_equivalence, \
adam_l2_change, bn_whitened, weightnorm_gradient"""
        symbols: Annotated[dict[str, str], TypeDoc("mapping", "symbol -> new name")] = {}
        """rename the derivation's symbols to the problem's own letters, e.g. {eta: alpha}"""
        confirm: bool = False
        """confirm every line with sympy while solving (slow; the test suite always does)"""

        @model_validator(mode="after")
        def _check(self) -> DerivationKind.Given:
            if self.name not in DERIVATIONS:
                close = difflib.get_close_matches(self.name, list(DERIVATIONS), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise FieldError(
                    f"{self.name!r} is not a derivation dlsolve knows{hint}; "
                    f"known: {', '.join(DERIVATIONS)}",
                    "name",
                )
            allowed = DERIVATIONS[self.name].symbols
            used: dict[str, str] = {}
            for canonical, new in self.symbols.items():
                if canonical not in allowed:
                    raise FieldError(
                        f"{self.name} has no symbol {canonical!r}; its symbols are "
                        f"{', '.join(allowed)}",
                        f"symbols.{canonical}",
                    )
                if (
                    not isinstance(new, str)
                    or not _NAME.fullmatch(new)
                    or new in _RESERVED
                    or (new in _NOTATION and new not in allowed)
                ):
                    raise FieldError(
                        f"{new!r} is not a usable symbol name (letters and digits, "
                        "starting with a letter, not a function name)",
                        f"symbols.{canonical}",
                    )
                used[canonical] = new
            final = {c: used.get(c, c) for c in allowed}
            seen: dict[str, str] = {}
            for c, new in final.items():
                if new in seen:
                    raise FieldError(
                        f"{new!r} would name both {seen[new]!r} and {c!r}", f"symbols.{c}"
                    )
                seen[new] = c
            return self

    keys = (
        Key(
            "lambda",
            "expression",
            "weight_decay_equivalence: the decay coefficient λ in terms of η and γ",
        ),
        Key("gradient", "expression", "adam_l2_change: Adam's gradient line with the L2 term"),
        Key("w", "expression", "bn_whitened: the weights of the equivalent linear layer"),
        Key("mu_y", "expression", "bn_whitened: the mean of y = uᵀx"),
        Key("sigma_y", "expression", "bn_whitened: the standard deviation of y = uᵀx"),
        Key("s", "expression", "weightnorm_gradient: the scale s in ∇_u L = s W⊥ ∇_w L"),
        Key("W_perp_u", "expression", "weightnorm_gradient: W⊥ applied to u"),
        Key(
            "g_t",
            "expression",
            "rnn_activation_equivalence: the conventional state g_t in terms of h_t",
        ),
        Key("step_bound", "expression", "vanishing_gradient: the bound on one step's Jacobian"),
        Key("bound_T", "expression", "vanishing_gradient: the bound on ‖∂h_T/∂h₀‖"),
        Key("limit", "expression", "vanishing_gradient: the limit of the bound as T → ∞"),
    )
    example = {"name": "weight_decay_equivalence"}
    misconceptions = {text: {"mistake": mid} for mid, text in MISTAKES.items()}
    nice = ("the same derivation with its symbols renamed; every line still confirms",)

    def show_givens(self, g: GivenModel) -> list[tuple[M, M]]:
        return []

    def solve(self, g: Given, s: Solution, *, mistake: str | None = None) -> None:
        der = build(g.name, g.symbols)
        s.step(says(rename_prose(der.claim, g.symbols)))
        for text, math in der.given:
            s.step(says(rename_prose(text, g.symbols)), *math)
        for i, line in enumerate(der.lines, start=1):
            text = rename_prose(line.reason, g.symbols)
            if g.confirm:
                problem = d.confirm_line(line)
                if problem:
                    raise FieldError(
                        f"line {i} of {g.name} is not confirmed by sympy ({problem})", "confirm"
                    )
                text += f" [{line.confirmed_how()} ✓]"
            s.step(says(text), *line.math())
        wrong = der.mistakes.get(mistake or "", {})
        shown = []
        for r in der.results:
            value = s.answer(r.key, wrong.get(r.key, r.value), label=r.label)
            shown.append(rel(r.label, r.relation, value))
        s.step("The result." if len(shown) == 1 else "The results.", *shown)
        if not g.confirm:
            s.step(
                "Every line above is confirmed by sympy in dlsolve's test suite (set "
                "confirm: true to confirm while solving)."
            )

    def generate(self, given: Mapping[str, Any], rng: Any) -> dict[str, Any]:
        """The same derivation with its Greek letters renamed (the maths does not change)."""
        name = given["name"]
        if name not in DERIVATIONS:
            raise ValueError(f"unknown derivation {name!r}")
        allowed = DERIVATIONS[name].symbols
        mapping = dict(given.get("symbols") or {})
        current = {c: mapping.get(c, c) for c in allowed}
        greek = [c for c in allowed if exact.greek_unicode(c) != c]
        pool = [c for c in _GREEK_POOL if c not in current.values() and c not in allowed]
        rng.shuffle(pool)
        rng.shuffle(greek)
        for c in greek[:3]:
            mapping[c] = pool.pop()
        out = {k: v for k, v in given.items() if k != "symbols"}
        out["symbols"] = mapping
        return out

    def restate(self, text: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
        """The statement with the renamed letters renamed too: σ and its name sigma alike."""
        was = dict(before.get("symbols") or {})
        for c, new in dict(after.get("symbols") or {}).items():
            old = was.get(c, c)
            if old == new:
                continue
            text = text.replace(exact.greek_unicode(old), exact.greek_unicode(new))
            text = re.sub(rf"\b{re.escape(old)}\b", new, text)
        return text

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        """A renamed letter left behind anywhere in the solution (its statement included), or
        a result that drifted."""
        out = []
        for r in build(g.name, g.symbols).results:
            if d.confirm_result(r, sizes=(2,)):
                out.append(f"{r.key} no longer matches its derivation")
        for old, new in g.symbols.items():
            char = exact.greek_unicode(old)
            if char == old or old == new:
                continue
            command = re.compile(re.escape(exact.greek_latex(old)) + r"(?![A-Za-z])")
            if s.text and char in s.text:
                out.append(f"the statement still writes {char} for {exact.greek_unicode(new)}")
            for i, st in enumerate(s.steps, start=1):
                texts = [st.text, *(x.text() for x in st.math)]
                if any(char in t for t in texts) or any(command.search(x.latex()) for x in st.math):
                    out.append(f"step {i} still writes {char} for {exact.greek_unicode(new)}")
                    break
        return out


#: Greek letters a variant may use (none of them is a derivation's own notation)
_GREEK_POOL = [
    "alpha",
    "nu",
    "kappa",
    "rho",
    "tau",
    "omega",
    "xi",
    "zeta",
    "phi",
    "psi",
    "chi",
    "iota",
]
