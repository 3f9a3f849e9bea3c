"""The experiments that back the theory: derivations of IFT6135, checked with real optimizers.

``weight-decay-vs-l2`` (IFT6135 B.3): SGD with ``weight_decay`` is SGD on the
loss plus (wd/2)·‖θ‖², which is also the update θ − η∇L + λθ with λ = −2ηγ,
γ = wd/2, to rounding, step after step. Adam is different: with an L2 term
(``torch.optim.Adam(weight_decay=…)``) the decay passes through Adam's
normalization, so weights whose gradients are small are pulled to zero
relatively harder; decoupled decay (AdamW) shrinks every weight at the same
relative rate. We measure both on groups of weights that receive the same
zero-mean noise at different gradient scales.

``rnn-vanishing`` (IFT6135 B.1.2): for h_t = W σ(h_{t−1}) + U x_t + b with
‖Dσ‖ ≤ γ and λ1(WᵀW) ≤ δ²/γ², the Jacobian ∂h_T/∂h_0 has norm at most δ^T.
We compute the Jacobian by autograd for T up to 100 and hold it against δ^T.

All in float64, seeded; the report machinery is the training experiments'.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import AfterValidator, Field

from .. import exact
from ..errors import FieldError
from ..given import Count, Matrix
from . import report, require_torch
from .experiments import Context, ExperimentSpec, PositiveReal, Runner, Strict, UnitReal, header
from .report import Claim, Report, sci, table

if TYPE_CHECKING:
    import torch

# --------------------------------------------------------------------------- weight decay


def _two_groups(scales: dict[str, float]) -> dict[str, float]:
    if len(scales) < 2:
        raise FieldError(
            "needs at least two groups of weights to compare, e.g. {small: 0.001, large: 10}"
        )
    return dict(sorted(scales.items(), key=lambda kv: kv[1]))


class SgdSettings(Strict):
    """Plain SGD, as in the derivation: θ ← θ − η(∇L + wd·θ)."""

    lr: PositiveReal = 0.1
    weight_decay: PositiveReal = 0.01
    steps: Count = 100


class AdamSettings(Strict):
    """Adam-L2 against AdamW on groups of weights with different gradient scales."""

    lr: PositiveReal = 0.01
    betas: tuple[UnitReal, UnitReal] = (0.9, 0.999)
    eps: PositiveReal = 1e-8
    weight_decay: PositiveReal = 0.1
    steps: Count = 500
    #: weights per group
    weights: Count = 1000
    #: group name -> the scale of its (zero-mean, unit-variance) stochastic gradients
    gradient_scales: Annotated[dict[str, PositiveReal], AfterValidator(_two_groups)] = Field(
        default_factory=lambda: {"small": 0.001, "large": 10.0}
    )


class WeightDecaySpec(ExperimentSpec):
    runner: Literal["weight-decay-vs-l2"]
    sgd: SgdSettings = SgdSettings()
    adam: AdamSettings = AdamSettings()
    #: the largest difference that still counts as "the same weights"
    tolerance: PositiveReal = 1e-12
    #: the smallest relative difference between groups that counts as "decays faster"
    separation: PositiveReal = 0.01


def max_abs_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).detach().abs().max()) for x, y in zip(a, b, strict=True))


def sgd_trajectories(s: SgdSettings, seed: int, device: torch.device) -> dict[str, list[float]]:
    """Four copies of one small tanh network on one regression problem, trained side by side:
    SGD(weight_decay=wd), SGD on L + (wd/2)‖θ‖², the update θ − η∇L + λθ written out with
    λ = −2ηγ (γ = wd/2), and SGD without decay. Per step, the largest weight difference
    of the first to each of the others."""
    torch = require_torch()
    torch.manual_seed(seed)
    f64 = {"dtype": torch.float64, "device": device}
    x, y = torch.randn(64, 8, **f64), torch.randn(64, 1, **f64)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).to(
        **f64
    )
    nets = {name: copy.deepcopy(net) for name in ("decay", "l2", "rule", "plain")}
    params = {name: list(n.parameters()) for name, n in nets.items()}
    opts = {
        "decay": torch.optim.SGD(params["decay"], lr=s.lr, weight_decay=s.weight_decay),
        "l2": torch.optim.SGD(params["l2"], lr=s.lr),
        "plain": torch.optim.SGD(params["plain"], lr=s.lr),
    }
    gamma = s.weight_decay / 2
    lam = -2 * s.lr * gamma
    curves: dict[str, list[float]] = {"l2": [], "rule": [], "plain": []}
    for _ in range(s.steps):
        for name, n in nets.items():
            loss = torch.nn.functional.mse_loss(n(x), y)
            if name == "l2":
                loss = loss + gamma * sum((p * p).sum() for p in params[name])
            for p in params[name]:
                p.grad = None
            loss.backward()
            if name == "rule":  # θ_{i+1} = θ_i − η ∂L/∂θ_i + λ θ_i
                with torch.no_grad():
                    for p in params[name]:
                        p.mul_(1 + lam).add_(p.grad, alpha=-s.lr)
            else:
                opts[name].step()
        for name in curves:
            curves[name].append(max_abs_diff(params["decay"], params[name]))
    return curves


def adam_trajectories(
    a: AdamSettings, seed: int, device: torch.device
) -> tuple[dict[str, dict[str, list[float]]], float]:
    """Adam-L2, AdamW and Adam without decay on the same stochastic linear loss
    L_t(θ) = Σ_g s_g Σ_i ξ_{t,i} θ_{g,i}, with ξ_t ~ N(0, I) shared by the groups, every
    weight starting at 1. Per optimizer and group, the mean θ_t/θ_0 after each step; and
    the largest difference between the Adam-L2 and the AdamW weights at the end."""
    torch = require_torch()
    f64 = {"dtype": torch.float64, "device": device}
    scales = torch.tensor(list(a.gradient_scales.values()), **f64)[:, None]
    noise = torch.Generator(device=device).manual_seed(seed)
    make = {
        "adam-l2": lambda p: torch.optim.Adam(
            p, lr=a.lr, betas=a.betas, eps=a.eps, weight_decay=a.weight_decay
        ),
        "adamw": lambda p: torch.optim.AdamW(
            p, lr=a.lr, betas=a.betas, eps=a.eps, weight_decay=a.weight_decay
        ),
        "adam": lambda p: torch.optim.Adam(p, lr=a.lr, betas=a.betas, eps=a.eps),
    }
    thetas = {
        k: torch.ones(len(a.gradient_scales), a.weights, **f64, requires_grad=True) for k in make
    }
    opts = {k: make[k]([thetas[k]]) for k in make}
    curves = {k: {g: [] for g in a.gradient_scales} for k in make}
    for _ in range(a.steps):
        xi = torch.randn(a.weights, generator=noise, **f64)
        for k, theta in thetas.items():
            opts[k].zero_grad()
            (scales * xi * theta).sum().backward()
            opts[k].step()
            means = theta.detach().mean(1).tolist()
            for g, m in zip(a.gradient_scales, means, strict=True):
                curves[k][g].append(m)
    return curves, float((thetas["adam-l2"] - thetas["adamw"]).detach().abs().max())


def run_weight_decay(spec: WeightDecaySpec, ctx: Context) -> Report:
    s, a = spec.sgd, spec.adam
    sgd = sgd_trajectories(s, spec.seed, ctx.device)
    adam, apart = adam_trajectories(a, spec.seed, ctx.device)
    gamma, lam = s.weight_decay / 2, -s.lr * s.weight_decay
    worst = {k: max(v) for k, v in sgd.items()}
    groups = list(a.gradient_scales)  # sorted by scale
    small, large = groups[0], groups[-1]
    relative = {
        k: {g: adam[k][g][-1] / adam["adam"][g][-1] for g in a.gradient_scales}
        for k in ("adam-l2", "adamw")
    }
    claims = [
        Claim(
            "SGD with weight_decay = wd and SGD on L + (wd/2)‖θ‖² give the same weights "
            "at every step",
            worst["l2"] <= spec.tolerance,
            f"max |Δθ| over {s.steps} steps = {sci(worst['l2'])} (tolerance "
            f"{spec.tolerance:g}); decay itself moved the weights by {sci(sgd['plain'][-1])}",
        ),
        Claim(
            "the update θ − η∇L + λθ with λ = −2ηγ is that same SGD",
            worst["rule"] <= spec.tolerance,
            f"γ = {gamma:g}, λ = {lam:g}: max |Δθ| = {sci(worst['rule'])}",
        ),
        Claim(
            "Adam with an L2 term and AdamW give different weights",
            apart > spec.separation,
            f"max |θ_Adam-L2 − θ_AdamW| after {a.steps} steps = {apart:.4f}",
        ),
        Claim(
            f"under Adam-L2 the '{small}' (small-gradient) weights decay relatively faster "
            f"than the '{large}' ones",
            relative["adam-l2"][small] < relative["adam-l2"][large] - spec.separation,
            f"θ_T relative to Adam without decay: {relative['adam-l2'][small]:.4f} vs "
            f"{relative['adam-l2'][large]:.4f}",
        ),
        Claim(
            "under AdamW every group decays at the same relative rate",
            abs(relative["adamw"][small] - relative["adamw"][large]) <= spec.separation,
            f"{relative['adamw'][small]:.4f} vs {relative['adamw'][large]:.4f} (pure decay "
            f"(1 − η·wd)^T = {(1 - a.lr * a.weight_decay) ** a.steps:.4f})",
        ),
    ]
    sgd_table = table(
        ("compared with SGD(weight_decay)", "max |Δθ| over all steps", "after the last step"),
        [
            ("SGD on L + (wd/2)‖θ‖²", sci(worst["l2"]), sci(sgd["l2"][-1])),
            ("θ − η∇L + λθ, λ = −2ηγ", sci(worst["rule"]), sci(sgd["rule"][-1])),
            ("SGD without decay (control)", sci(worst["plain"]), sci(sgd["plain"][-1])),
        ],
    )
    adam_table = table(
        (
            "group",
            "gradient scale",
            "Adam, no decay",
            "Adam-L2",
            "AdamW",
            "Adam-L2 ÷ no decay",
            "AdamW ÷ no decay",
        ),
        [
            (
                g,
                f"{scale:g}",
                *(f"{adam[k][g][-1]:.4f}" for k in ("adam", "adam-l2", "adamw")),
                f"{relative['adam-l2'][g]:.4f}",
                f"{relative['adamw'][g]:.4f}",
            )
            for g, scale in a.gradient_scales.items()
        ],
    )
    details = (
        f"SGD: a 8-16-1 tanh network on a seeded regression problem, lr η = {s.lr:g}, "
        f"weight decay wd = {s.weight_decay:g} (γ = wd/2 = {gamma:g}), {s.steps} steps. "
        f"Adam: {len(a.gradient_scales)} groups of {a.weights} weights starting at 1, "
        f"gradients s·ξ_t with ξ_t ~ N(0, I) shared by the groups, lr {a.lr:g}, betas "
        f"{a.betas[0]:g}/{a.betas[1]:g}, eps {a.eps:g}, weight decay {a.weight_decay:g}, "
        f"{a.steps} steps."
    )
    sections = [
        *header(spec, ctx, details),
        "## SGD: weight decay is L2 regularization",
        sgd_table,
        "## Adam: L2 is not weight decay",
        "Mean of θ_T/θ_0 per group after the last step.",
        adam_table,
    ]
    return Report(
        title=spec.title or spec.experiment,
        sections=sections,
        payload={
            "experiment": spec.model_dump(mode="json"),
            "command": ctx.command,
            "sgd_max_abs_diff": sgd,
            "adam_mean_theta": adam,
            "adam_relative_to_no_decay": relative,
            "adam_l2_vs_adamw_max_abs_diff": apart,
        },
        figures={"trajectories": _weight_decay_figure(sgd, adam)},
        claims=claims,
        summary=adam_table,
    )


def _weight_decay_figure(
    sgd: dict[str, list[float]], adam: dict[str, dict[str, list[float]]]
) -> Any:
    fig, (ax_adam, ax_sgd) = report.figure(2)
    styles = {"adam-l2": "-", "adamw": "--", "adam": ":"}
    for k, groups in adam.items():
        for colour, (g, values) in enumerate(groups.items()):
            ax_adam.plot(
                np.arange(1, len(values) + 1),
                values,
                styles[k],
                color=f"C{colour}",
                label=f"{k}, {g} gradients",
            )
    ax_adam.set(title="Adam: mean θ_t / θ_0", xlabel="step", ylabel="θ_t / θ_0")
    ax_adam.legend(fontsize="small")
    labels = {"l2": "SGD on L + (wd/2)‖θ‖²", "rule": "θ − η∇L + λθ", "plain": "no decay"}
    for k, values in sgd.items():
        ax_sgd.plot(np.arange(1, len(values) + 1), values, label=labels[k])
    ax_sgd.set_yscale("symlog", linthresh=1e-16)
    ax_sgd.set_yticks([0, 1e-16, 1e-12, 1e-8, 1e-4, 1])
    ax_sgd.set(
        title="SGD: max |θ − θ_SGD(weight_decay)|", xlabel="step", ylabel="difference (0 is exact)"
    )
    ax_sgd.legend(fontsize="small")
    for ax in (ax_adam, ax_sgd):
        ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------- vanishing gradient

#: sup |σ'| of each activation: γ in the bound
ACTIVATION_GAMMA = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0}


def _below_one(value: float) -> float:
    if not 0 < value < 1:
        raise FieldError(f"δ must be in (0, 1) for the gradient to vanish, got {value:g}")
    return value


def _square(matrix: Any) -> list[list[float]]:
    if len(matrix) != len(matrix[0]):
        raise FieldError(f"W must be square, got {len(matrix)}x{len(matrix[0])}")
    return exact.to_float(matrix)


class RnnSpec(ExperimentSpec):
    runner: Literal["rnn-vanishing"]
    activation: Literal["tanh", "sigmoid", "relu"] = "tanh"
    hidden: Count = 16
    inputs: Count = 4
    delta: Annotated[PositiveReal, AfterValidator(_below_one)] = 0.9
    T: Count = 100
    #: random matrices W, each scaled so that λ1(WᵀW) = δ²/γ²
    trials: Count = 5
    #: orthogonal: every singular value of W is δ/γ (the worst case the condition allows);
    #: gaussian: only the largest is
    matrix: Literal["orthogonal", "gaussian"] = "orthogonal"
    #: the scale of h_0, U x_t and b; small keeps σ near its steepest point, where the bound
    #: is nearly attained
    input_scale: PositiveReal = 1.0
    #: a concrete W to check as well (IFT6135 B.1.2: [[1/2, 1/4], [0, 1/2]])
    W: Annotated[Matrix, AfterValidator(_square)] | None = None

    overridable: ClassVar[frozenset[str]] = frozenset({"seed", "trials"})


def jacobian_norms(W: torch.Tensor, spec: RnnSpec, generator: torch.Generator) -> torch.Tensor:
    """‖∂h_t/∂h_0‖₂ for t = 1..T by autograd, for h_t = W σ(h_{t−1}) + U x_t + b with
    random U, b, x_t and h_0 drawn from ``generator``."""
    torch = require_torch()
    f64 = {"dtype": W.dtype, "device": W.device}
    H, T, scale = W.shape[0], spec.T, spec.input_scale
    U = torch.randn(H, spec.inputs, generator=generator, **f64) * (scale / spec.inputs**0.5)
    b = torch.randn(H, generator=generator, **f64) * scale
    xs = torch.randn(T, spec.inputs, generator=generator, **f64)
    h0 = torch.randn(H, generator=generator, **f64) * scale
    sigma = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[spec.activation]

    def unroll(h: torch.Tensor) -> torch.Tensor:
        hs = []
        for t in range(T):
            h = W @ sigma(h) + U @ xs[t] + b
            hs.append(h)
        return torch.stack(hs)

    jac = torch.autograd.functional.jacobian(unroll, h0, vectorize=True)  # [T, H, H]
    return torch.linalg.matrix_norm(jac, ord=2)


def run_rnn(spec: RnnSpec, ctx: Context) -> Report:
    torch = require_torch()
    gamma = ACTIVATION_GAMMA[spec.activation]
    gen = torch.Generator(device=ctx.device).manual_seed(spec.seed)
    f64 = {"dtype": torch.float64, "device": ctx.device}
    t = np.arange(1, spec.T + 1)
    norms = []
    for _ in range(spec.trials):
        W = torch.randn(spec.hidden, spec.hidden, generator=gen, **f64)
        if spec.matrix == "orthogonal":
            W = torch.linalg.qr(W).Q
        W *= (spec.delta / gamma) / torch.linalg.matrix_norm(W, ord=2)  # λ1(WᵀW) = δ²/γ²
        norms.append(jacobian_norms(W, spec, gen).cpu().numpy())
    norms_ = np.array(norms)
    bound = spec.delta**t
    ratio = float((norms_ / bound).max())
    claims = [
        Claim(
            f"‖∂h_t/∂h_0‖ ≤ δ^t for t = 1..{spec.T} and {spec.trials} random W with "
            f"λ1(WᵀW) = δ²/γ²",
            ratio <= 1 + 1e-9,
            f"largest ‖∂h_t/∂h_0‖ / δ^t = {ratio:.6f}; at T = {spec.T}: "
            f"{sci(float(norms_[:, -1].max()))} ≤ δ^T = {sci(float(bound[-1]))}",
        )
    ]
    concrete: dict[str, Any] = {}
    if spec.W is not None:
        W = torch.tensor(spec.W, **f64)
        delta_w = gamma * float(torch.linalg.matrix_norm(W, ord=2))  # γ·√λ1(WᵀW)
        norm_w = jacobian_norms(W, spec, gen).cpu().numpy()
        bound_w = delta_w**t
        ratio_w = float((norm_w / bound_w).max())
        concrete = {"W": spec.W, "delta": delta_w, "norms": norm_w.tolist(), "ratio": ratio_w}
        claims.append(
            Claim(
                f"the same for the given W, with δ = γ·√λ1(WᵀW) = {delta_w:.4f}",
                ratio_w <= 1 + 1e-9,
                f"largest ratio {ratio_w:.6f}; at T = {spec.T}: "
                f"{sci(float(norm_w[-1]))} ≤ {sci(float(bound_w[-1]))}",
            )
        )
    shown = [s for s in (1, 2, 5, 10, 20, 50, 100, spec.T) if s <= spec.T]
    headers = ["t", "δ^t", "min ‖∂h_t/∂h_0‖", "max ‖∂h_t/∂h_0‖", "max ratio to δ^t"]
    if concrete:
        headers += ["given W: δ_W^t", "given W: ‖∂h_t/∂h_0‖"]
    rows = []
    for s in dict.fromkeys(shown):
        row = [
            s,
            sci(bound[s - 1]),
            sci(norms_[:, s - 1].min()),
            sci(norms_[:, s - 1].max()),
            f"{(norms_[:, s - 1] / bound[s - 1]).max():.4f}",
        ]
        if concrete:
            row += [sci(concrete["delta"] ** s), sci(concrete["norms"][s - 1])]
        rows.append(row)
    results = table(headers, rows)
    details = (
        f"h_t = W σ(h_{{t−1}}) + U x_t + b with σ = {spec.activation} (γ = {gamma:g}), "
        f"{spec.hidden} hidden units, {spec.inputs} inputs, δ = {spec.delta:g}; W is a "
        f"random {spec.matrix} matrix scaled so that λ1(WᵀW) = δ²/γ²; U, b, x_t and h_0 "
        f"random at scale {spec.input_scale:g}. The Jacobian is computed by autograd, its "
        f"norm is its largest singular value."
    )
    return Report(
        title=spec.title or spec.experiment,
        sections=[*header(spec, ctx, details), "## Results", results],
        payload={
            "experiment": spec.model_dump(mode="json"),
            "command": ctx.command,
            "gamma": gamma,
            "bound": bound.tolist(),
            "norms": norms_.tolist(),
            "max_ratio": ratio,
            "given_W": concrete,
        },
        figures={"jacobian-norm": _rnn_figure(spec, norms_, bound, concrete)},
        claims=claims,
        summary=results,
    )


def _rnn_figure(
    spec: RnnSpec, norms: np.ndarray, bound: np.ndarray, concrete: dict[str, Any]
) -> Any:
    fig, (ax,) = report.figure(1, width=6.0, height=4.0)
    t = np.arange(1, spec.T + 1)
    for i, row in enumerate(norms):
        ax.semilogy(
            t, row, color="C0", alpha=0.6, label=f"random {spec.matrix} W" if i == 0 else None
        )
    ax.semilogy(t, bound, "k--", label=f"δ^t, δ = {spec.delta:g}")
    if concrete:
        ax.semilogy(t, concrete["norms"], color="C1", label="given W")
        ax.semilogy(
            t,
            concrete["delta"] ** t,
            ":",
            color="C1",
            label=f"δ_W^t, δ_W = {concrete['delta']:.3f}",
        )
    ax.set(
        title="‖∂h_t/∂h_0‖ by autograd against the bound",
        xlabel="t",
        ylabel="spectral norm (log scale)",
    )
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    return fig


RUNNERS = {
    "weight-decay-vs-l2": Runner(WeightDecaySpec, run_weight_decay),
    "rnn-vanishing": Runner(RnnSpec, run_rnn),
}
