"""Optimizer steps and derivation results recomputed with PyTorch in float64.

* ``sgd_weight_decay`` and ``adam_step`` run ``torch.optim.SGD``, ``Adam`` and
  ``AdamW`` on a float64 parameter whose ``.grad`` is set to the given
  gradients, and read the weights and moment buffers from the optimizer.
  A symbolic step (θ, η, λ as symbols) runs at a random point: positive
  fractions for η and λ, small integers for the rest, compared as :class:`At`.
* ``derivation``: each result is measured by torch at a point and compared with
  the formula at the same point (:class:`At`): the weight-norm scale s read off
  ∇_u L from autograd, the weights of BatchNorm on an exactly whitened sample
  fitted by least squares, λ read off an L2 SGD step, the RNN bound as the
  Jacobian norm of 30 steps, and so on. A numeric result (``W⊥u = 0``) is
  compared directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import sympy
import torch

from ... import exact
from ...solution import Solution
from . import At, at_point, crosscheck, random_point, symbols_of

F64 = torch.float64


def t(x: Any, device: Any = "cpu") -> torch.Tensor:
    """An exact value (scalar or nested list) as a float64 tensor."""
    return torch.tensor(exact.to_float(x), dtype=F64, device=device)


# --------------------------------------------------------------------------- SGD with decay


@crosscheck("sgd_weight_decay")
def sgd_weight_decay(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    point = _sgd_point(g)
    theta, grad = (t(at_point(v, point), device) for v in (g.theta, g.grad))
    eta, lam = (exact.to_float(at_point(v, point)) for v in (g.lr, g.weight_decay))
    # torch's SGD decays as grad + wd·θ, i.e. θ(1 − η·wd): the add form is wd = −λ/η.
    wd = lam if g.form == "shrink" else -lam / eta
    theta_next = _sgd_step(theta, grad, eta, wd)
    plain = _sgd_step(theta, grad, eta, 0.0)
    # The decay's displacement is −2ηγθ under SGD on L + γ‖θ‖²: read γ off the largest weight.
    flat = theta.reshape(-1)
    i = int(flat.abs().argmax())
    gamma = (
        ((plain - theta_next).reshape(-1)[i] / (2 * eta * flat[i]))
        if flat[i] != 0
        else torch.tensor(math.nan, dtype=F64)
    )
    out = {
        "decayed": theta_next + eta * grad,
        "theta_next": theta_next,
        "l2_equivalent_gamma": gamma,
    }
    return {k: At(v, point) for k, v in out.items()} if point else out


def _sgd_point(g: Any) -> dict[str, Any]:
    """Numbers for a symbolic step: η and λ positive fractions, θ and ∇L small integers."""
    rates = symbols_of(g.lr, g.weight_decay)
    point = random_point(symbols_of(g.theta, g.grad) - rates, seed=1)
    point.update(
        random_point(
            rates, seed=2, choices=(Fraction(1, 10), Fraction(1, 5), Fraction(1, 4), Fraction(1, 2))
        )
    )
    return point


def _sgd_step(theta: torch.Tensor, grad: torch.Tensor, lr: float, wd: float) -> torch.Tensor:
    """torch.optim.SGD with weight_decay = wd; torch refuses wd < 0, which the add form with a
    positive λ needs, so a negative wd is folded into the gradient as torch would add it."""
    p = torch.nn.Parameter(theta.clone())
    opt = torch.optim.SGD([p], lr=lr, weight_decay=max(wd, 0.0))
    p.grad = grad.clone() if wd >= 0 else grad + wd * theta
    opt.step()
    return p.detach().clone()


def sgd_on_l2(theta: torch.Tensor, grad: torch.Tensor, lr: float, gamma: float) -> torch.Tensor:
    """Plain SGD on ⟨grad, θ⟩ + γ‖θ‖², the gradient taken by autograd."""
    p = torch.nn.Parameter(theta.clone())
    loss = (grad * p).sum() + gamma * (p * p).sum()
    loss.backward()
    with torch.no_grad():
        return p - lr * p.grad


# --------------------------------------------------------------------------- Adam and AdamW


@crosscheck("adam_step")
def adam_step(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    lr, eps, wd = (exact.to_float(x) for x in (g.lr, g.eps, g.weight_decay))
    betas = tuple(exact.to_float(b) for b in g.betas)
    out: dict[str, Any] = {}
    rel = {}
    for method, cls in (("adam_l2", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        p = torch.nn.Parameter(t(g.theta, device))
        opt = cls([p], lr=lr, betas=betas, eps=eps, weight_decay=wd)
        history = []
        for k, grad in enumerate(g.grads, start=1):
            history.append(p.detach().clone())
            p.grad = t(grad, device)
            opt.step()
            state = opt.state[p]
            out[f"{method}.m[{k}]"] = state["exp_avg"].clone()
            out[f"{method}.v[{k}]"] = state["exp_avg_sq"].clone()
            out[f"{method}.theta[{k}]"] = p.detach().clone()
        v_hat = state["exp_avg_sq"] / (1 - betas[1] ** len(g.grads))
        rel[method] = _relative_decay(method, history, v_hat, lr, wd, eps, betas)
    out["relative_decay"] = torch.stack([rel["adam_l2"], rel["adamw"]])
    return out


def _relative_decay(
    method: str,
    history: list[torch.Tensor],
    v_hat: torch.Tensor,
    lr: float,
    wd: float,
    eps: float,
    betas: tuple[float, float],
) -> torch.Tensor:
    """The decay's pull on each weight in the last step, over the weight before that step."""
    prev = history[-1]
    if method == "adamw":  # θ(1 − ηλ): the pull is ηλθ
        return (lr * wd * prev) / prev
    b1 = betas[0]
    T = len(history)
    m_decay = sum((1 - b1) * b1 ** (T - k) * wd * th for k, th in enumerate(history, start=1))
    pull = lr * (m_decay / (1 - b1**T)) / (v_hat.sqrt() + eps)
    return pull / prev


# --------------------------------------------------------------------------- derivations
#
# Each check measures a result with torch at numbers of its own choosing and returns it as
# At(value, point): compare() puts the same numbers into the exact formula. Symbols are
# looked up through nm(), so a derivation with renamed letters is checked in its own letters.


NumericCheck = Callable[[Callable[[str], str], torch.Generator, Any], Mapping[str, Any]]
DERIVATION_CHECKS: dict[str, NumericCheck] = {}


def derivation_check(name: str) -> Callable[[NumericCheck], NumericCheck]:
    def register(fn: NumericCheck) -> NumericCheck:
        DERIVATION_CHECKS[name] = fn
        return fn

    return register


@crosscheck("derivation")
def derivation(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    check = DERIVATION_CHECKS.get(g.name)
    if check is None:
        return {}
    gen = torch.Generator().manual_seed(0)
    return check(lambda c: g.symbols.get(c, c), gen, device)


def _rand(gen: torch.Generator, *shape: int, device: Any = "cpu") -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=F64).to(device)


def _norm(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x))


@derivation_check("weightnorm_gradient")
def weightnorm(nm: Callable[[str], str], gen: torch.Generator, device: Any) -> Mapping[str, Any]:
    """s is the scale that maps W⊥∇_w L onto ∇_u L, both by autograd (least squares)."""
    n, gamma = 5, 1.7
    u = _rand(gen, n, device=device)
    a = _rand(gen, n, device=device)

    def loss(w: torch.Tensor) -> torch.Tensor:
        return torch.sin(w).sum() + (a @ w) ** 2

    u_ = u.clone().requires_grad_(True)
    grad_u = torch.autograd.grad(loss(gamma * u_ / torch.linalg.vector_norm(u_)), u_)[0]
    w = (gamma * u / torch.linalg.vector_norm(u)).requires_grad_(True)
    grad_w = torch.autograd.grad(loss(w), w)[0]
    W_perp = torch.eye(n, dtype=F64, device=device) - torch.outer(u, u) / (u @ u)
    v = W_perp @ grad_w
    s_value = (grad_u @ v) / (v @ v)
    return {
        "s": At(s_value, {nm("gamma"): gamma, nm("norm_u"): _norm(u)}),
        # the exact answer is the zero vector, written 0: compare its length
        "W_perp_u": torch.linalg.vector_norm(W_perp @ u),
    }


@derivation_check("bn_whitened")
def bn_whitened(nm: Callable[[str], str], gen: torch.Generator, device: Any) -> Mapping[str, Any]:
    """torch's BatchNorm of y = uᵀx on a whitened sample, and the w with BN(y) = wᵀx + β
    fitted by least squares; the formula for w is evaluated entry by entry of u."""
    n = 4
    # ±√n·e_i, each with probability 1/(2n): mean exactly 0 and covariance exactly I
    X = torch.cat([torch.eye(n, dtype=F64), -torch.eye(n, dtype=F64)]).to(device) * math.sqrt(n)
    u = _rand(gen, n, device=device)
    gamma, beta = 0.7, -1.3
    y = X @ u
    weight = torch.tensor([gamma], dtype=F64, device=device)
    bias = torch.tensor([beta], dtype=F64, device=device)
    bn = torch.nn.functional.batch_norm(
        y[:, None], None, None, weight, bias, training=True, eps=1e-300
    )[:, 0]  # torch refuses eps = 0 in training
    w = torch.linalg.lstsq(X, (bn - beta)[:, None]).solution[:, 0]
    point = {nm("gamma"): gamma, nm("norm_u"): _norm(u)}
    return {
        "w": At(w, {**point, nm("u"): u.tolist()}),
        "mu_y": y.mean(),
        "sigma_y": At(y.var(unbiased=False).sqrt(), point),
    }


@derivation_check("weight_decay_equivalence")
def weight_decay_equivalence(
    nm: Callable[[str], str], gen: torch.Generator, device: Any
) -> Mapping[str, Any]:
    """λ read off the step of SGD on L + γ‖θ‖² (autograd): θ − η∇L + λθ, so
    λθ = (L2 step) − (plain torch.optim.SGD step), fitted by least squares."""
    theta = _rand(gen, 6, device=device)
    grad = _rand(gen, 6, device=device)
    eta, gamma = 0.05, 0.3
    decay = sgd_on_l2(theta, grad, eta, gamma) - _sgd_step(theta, grad, eta, 0.0)
    lam = (decay @ theta) / (theta @ theta)
    return {"lambda": At(lam, {nm("eta"): eta, nm("gamma"): gamma})}


@derivation_check("adam_l2_change")
def adam_l2_change(
    nm: Callable[[str], str], gen: torch.Generator, device: Any
) -> Mapping[str, Any]:
    """The gradient Adam sees on L + γ‖θ‖², by autograd, against the formula in g = ∇L and
    θ, entry by entry."""
    theta = _rand(gen, 5, device=device).requires_grad_(True)
    a = _rand(gen, 5, device=device)
    gamma = 0.4
    loss = torch.sin(theta * a).sum()
    g_loss = torch.autograd.grad(loss, theta, retain_graph=True)[0]
    g_total = torch.autograd.grad(loss + gamma * (theta * theta).sum(), theta)[0]
    return {
        "gradient": At(
            g_total,
            {nm("g"): g_loss.tolist(), nm("theta"): theta.detach().tolist(), nm("gamma"): gamma},
        )
    }


@derivation_check("vanishing_gradient")
def vanishing_gradient(
    nm: Callable[[str], str], gen: torch.Generator, device: Any
) -> Mapping[str, Any]:
    """The bounds as torch's Jacobian norms see them: the largest of a linear RNN with
    W = δQ (which attains the bound) and a random tanh RNN with λ₁(WᵀW) = δ²/γ² (which must
    not exceed it). Both agree with the formula exactly when it is a tight bound."""
    n, T, delta, gamma = 4, 30, 0.8, 1.0  # tanh and the identity: |σ′| ≤ 1 = γ
    W = _rand(gen, n, n, device=device)
    W = W * (delta / gamma) / torch.linalg.matrix_norm(W, ord=2)  # λ₁(WᵀW) = δ²/γ²
    U, b = _rand(gen, n, n, device=device), _rand(gen, n, device=device)
    xs = _rand(gen, T, n, device=device)

    def run(
        h0: torch.Tensor, act: Callable[[torch.Tensor], torch.Tensor], weights: torch.Tensor
    ) -> torch.Tensor:
        h = h0
        for x in xs:
            h = weights @ act(h) + U @ x + b
        return h

    h0 = _rand(gen, n, device=device)
    Q = torch.linalg.qr(_rand(gen, n, n, device=device))[0]
    tanh_J = torch.autograd.functional.jacobian(lambda h: run(h, torch.tanh, W), h0)
    linear_J = torch.autograd.functional.jacobian(lambda h: run(h, lambda z: z, delta * Q), h0)
    step_tanh = torch.linalg.matrix_norm(W @ torch.diag(1 - torch.tanh(h0) ** 2), ord=2)
    point = {nm("delta"): delta, nm("gamma"): gamma, nm("T"): T}
    return {
        "bound_T": At(
            torch.maximum(
                torch.linalg.matrix_norm(linear_J, ord=2), torch.linalg.matrix_norm(tanh_J, ord=2)
            ),
            point,
        ),
        "step_bound": At(
            torch.maximum(torch.linalg.matrix_norm(delta * Q, ord=2), step_tanh), point
        ),
        "limit": torch.tensor(delta, dtype=F64) ** 400,
    }


@derivation_check("rnn_activation_equivalence")
def rnn_activation_equivalence(
    nm: Callable[[str], str], gen: torch.Generator, device: Any
) -> Mapping[str, Any]:
    """Both recurrences run side by side for 6 steps with σ = tanh; g_6 against the formula
    σ(h_t) at h_6, entry by entry."""
    n, T = 3, 6
    W, U = _rand(gen, n, n, device=device), _rand(gen, n, n, device=device)
    b, xs = _rand(gen, n, device=device), _rand(gen, T, n, device=device)
    h = _rand(gen, n, device=device)
    g_ = torch.tanh(h)
    for x in xs:
        h = W @ torch.tanh(h) + U @ x + b
        g_ = torch.tanh(W @ g_ + U @ x + b)
    return {"g_t": At(g_, {f"{nm('h')}_t": h.tolist(), nm("sigma"): sympy.tanh})}
