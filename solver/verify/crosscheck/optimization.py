"""Optimizer steps and derivation results recomputed with PyTorch in float64.

* ``sgd_weight_decay`` and ``adam_step`` run ``torch.optim.SGD``, ``Adam`` and
  ``AdamW`` on a float64 parameter whose ``.grad`` is set to the given
  gradients, and read the weights and moment buffers from the optimizer.
* ``derivation``: each result is tested numerically against its claim, with
  autograd, finite differences and simulation: the weight-norm gradient
  against central differences, BatchNorm on an exactly whitened sample, the
  RNN bound against the Jacobian of 30 steps, and so on. A result that is a
  formula (``s = γ/‖u‖``) has no float of its own, so for it the
  recomputation is ``None`` when the numbers agree with the formula at
  random points and the largest discrepancy otherwise (which ``compare``
  reports as a disagreement); a numeric result (``W⊥u = 0``) is compared
  directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import sympy
import torch

from ... import exact
from ...solution import Solution
from . import crosscheck

F64 = torch.float64
AGREE = 1e-7  # relative agreement for the numeric checks of a formula


def t(x: Any, device: Any = "cpu") -> torch.Tensor:
    """An exact value (scalar or nested list) as a float64 tensor."""
    return torch.tensor(exact.to_float(x), dtype=F64, device=device)


def numeric(x: Any) -> bool:
    """Whether an exact value (possibly nested) has no symbols."""
    return all(exact.to_float(v) is not None for v in exact.flatten(x)) \
        if isinstance(x, list) else exact.to_float(x) is not None


# --------------------------------------------------------------------------- SGD with decay


@crosscheck("sgd_weight_decay")
def sgd_weight_decay(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    if not all(numeric(v) for v in (g.theta, g.grad, g.lr, g.weight_decay)):
        return {}  # a symbolic step has no numbers to compare
    eta, lam = exact.to_float(g.lr), exact.to_float(g.weight_decay)
    theta, grad = t(g.theta, device), t(g.grad, device)
    # torch's SGD decays as grad + wd·θ, i.e. θ(1 − η·wd): the add form is wd = −λ/η.
    wd = lam if g.form == "shrink" else -lam / eta
    theta_next = _sgd_step(theta, grad, eta, wd)
    plain = _sgd_step(theta, grad, eta, 0.0)
    # The decay's displacement is −2ηγθ under SGD on L + γ‖θ‖²: read γ off the largest weight.
    flat = theta.reshape(-1)
    i = int(flat.abs().argmax())
    gamma = ((plain - theta_next).reshape(-1)[i] / (2 * eta * flat[i])) if flat[i] != 0 \
        else torch.tensor(math.nan, dtype=F64)
    return {"decayed": theta_next + eta * grad, "theta_next": theta_next,
            "l2_equivalent_gamma": gamma}


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


def _relative_decay(method: str, history: list[torch.Tensor], v_hat: torch.Tensor, lr: float,
                    wd: float, eps: float, betas: tuple[float, float]) -> torch.Tensor:
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


def formula(value: Any, names: Mapping[str, float]) -> float:
    """A result formula evaluated at numbers (its symbols looked up by name)."""
    e = exact.to_sympy(value)
    return float(e.subs({sym: names[sym.name] for sym in e.free_symbols}))


def verdict(discrepancy: float, scale: float = 1.0) -> float | None:
    """None when a formula agrees with the numbers, else the discrepancy (a disagreement)."""
    return None if discrepancy <= AGREE * max(1.0, scale) else float(discrepancy)


NumericCheck = Callable[[Solution, Callable[[str], str], torch.Generator, Any],
                        Mapping[str, Any]]
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
    return check(s, lambda c: g.symbols.get(c, c), gen, device)


def _rand(gen: torch.Generator, *shape: int, device: Any = "cpu") -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=F64).to(device)


@derivation_check("weightnorm_gradient")
def weightnorm(s: Solution, nm: Callable[[str], str], gen: torch.Generator, device: Any
               ) -> Mapping[str, Any]:
    n = 5
    u = _rand(gen, n, device=device)
    gamma = 1.7
    a = _rand(gen, n, device=device)

    def loss(w: torch.Tensor) -> torch.Tensor:
        return torch.sin(w).sum() + (a @ w) ** 2

    def w_of(u_: torch.Tensor) -> torch.Tensor:
        return gamma * u_ / u_.norm()

    w = w_of(u).detach().requires_grad_(True)
    grad_w = torch.autograd.grad(loss(w), w)[0]
    # central finite differences of L(w(u)) in each coordinate of u
    h = 1e-6
    fd = torch.stack([(loss(w_of(u + h * e)) - loss(w_of(u - h * e))) / (2 * h)
                      for e in torch.eye(n, dtype=F64, device=device)])
    s_value = formula(s["s"], {nm("gamma"): gamma, nm("norm_u"): float(u.norm())})
    W_perp = torch.eye(n, dtype=F64, device=device) - torch.outer(u, u) / (u @ u)
    claimed = s_value * W_perp @ grad_w
    return {"s": verdict(float((claimed - fd).abs().max()), float(fd.abs().max())),
            "W_perp_u": (W_perp @ u).abs().max()}  # the exact answer is the scalar 0


@derivation_check("bn_whitened")
def bn_whitened(s: Solution, nm: Callable[[str], str], gen: torch.Generator, device: Any
                ) -> Mapping[str, Any]:
    n = 4
    # ±√n·e_i, each with probability 1/(2n): mean exactly 0 and covariance exactly I
    X = torch.cat([torch.eye(n, dtype=F64), -torch.eye(n, dtype=F64)]).to(device) * math.sqrt(n)
    u = _rand(gen, n, device=device)
    gamma, beta = 0.7, -1.3
    y = X @ u
    weight = torch.tensor([gamma], dtype=F64, device=device)
    bias = torch.tensor([beta], dtype=F64, device=device)
    bn = torch.nn.functional.batch_norm(y[:, None], None, None, weight, bias, training=True,
                                       eps=1e-300)[:, 0]  # torch refuses eps = 0 in training
    names = {nm("gamma"): gamma, nm("norm_u"): float(u.norm())}
    e = exact.to_sympy(s["w"])
    coeff = float(sympy.diff(e, exact.symbol(nm("u"))).subs(
        {sym: names[sym.name] for sym in e.free_symbols if sym.name in names}))
    w = coeff * u
    sigma = formula(s["sigma_y"], names)
    return {"w": verdict(float((bn - (X @ w + beta)).abs().max())),
            "mu_y": y.mean(), "sigma_y": verdict(abs(sigma - float(y.var(unbiased=False).sqrt())))}


@derivation_check("weight_decay_equivalence")
def weight_decay_equivalence(s: Solution, nm: Callable[[str], str], gen: torch.Generator,
                             device: Any) -> Mapping[str, Any]:
    theta = _rand(gen, 6, device=device)
    grad = _rand(gen, 6, device=device)
    eta, gamma = 0.05, 0.3
    lam = formula(s["lambda"], {nm("eta"): eta, nm("gamma"): gamma})
    # the problem's update θ − η∇L + λθ is torch's SGD with weight_decay = −λ/η
    decayed = _sgd_step(theta, grad, eta, -lam / eta)
    l2 = sgd_on_l2(theta, grad, eta, gamma)
    return {"lambda": verdict(float((decayed - l2).abs().max()))}


@derivation_check("adam_l2_change")
def adam_l2_change(s: Solution, nm: Callable[[str], str], gen: torch.Generator, device: Any
                   ) -> Mapping[str, Any]:
    theta = _rand(gen, 5, device=device).requires_grad_(True)
    a = _rand(gen, 5, device=device)
    gamma = 0.4
    loss = torch.sin(theta * a).sum()
    g_loss = torch.autograd.grad(loss, theta, retain_graph=True)[0]
    g_total = torch.autograd.grad(loss + gamma * (theta * theta).sum(), theta)[0]
    e = exact.to_sympy(s["gradient"])
    claimed = torch.stack([torch.tensor(float(e.subs({
        exact.symbol(nm("g")): float(gi), exact.symbol(nm("theta")): float(ti),
        exact.symbol(nm("gamma")): gamma})), dtype=F64) for gi, ti in zip(g_loss, theta.detach(),
                                                                         strict=True)])
    return {"gradient": verdict(float((claimed.to(device) - g_total).abs().max()))}


@derivation_check("vanishing_gradient")
def vanishing_gradient(s: Solution, nm: Callable[[str], str], gen: torch.Generator, device: Any
                       ) -> Mapping[str, Any]:
    """The bounds hold for a random tanh RNN, and are attained by a linear one with W = δQ."""
    n, T, delta, gamma = 4, 30, 0.8, 1.0  # tanh and the identity: |σ′| ≤ 1 = γ
    names = {nm("delta"): delta, nm("gamma"): gamma, nm("T"): float(T)}
    bound, step = formula(s["bound_T"], names), formula(s["step_bound"], names)
    W = _rand(gen, n, n, device=device)
    W = W * (delta / gamma) / torch.linalg.matrix_norm(W, ord=2)  # λ₁(WᵀW) = δ²/γ²
    U, b = _rand(gen, n, n, device=device), _rand(gen, n, device=device)
    xs = _rand(gen, T, n, device=device)

    def run(h0: torch.Tensor, act: Callable[[torch.Tensor], torch.Tensor],
            weights: torch.Tensor) -> torch.Tensor:
        h = h0
        for x in xs:
            h = weights @ act(h) + U @ x + b
        return h

    h0 = _rand(gen, n, device=device)
    tanh_J = torch.autograd.functional.jacobian(lambda h: run(h, torch.tanh, W), h0)
    Q = torch.linalg.qr(_rand(gen, n, n, device=device))[0]
    linear_J = torch.autograd.functional.jacobian(lambda h: run(h, lambda z: z, delta * Q), h0)
    one = float(torch.linalg.matrix_norm(W @ torch.diag(1 - torch.tanh(h0) ** 2), ord=2))
    attained = float(torch.linalg.matrix_norm(linear_J, ord=2))
    holds = max(0.0, float(torch.linalg.matrix_norm(tanh_J, ord=2)) - bound)
    return {"bound_T": verdict(max(holds, abs(attained - bound)), attained),
            "step_bound": verdict(max(0.0, one - step) + abs(step - float(
                torch.linalg.matrix_norm(delta * Q, ord=2)))),
            "limit": torch.tensor(delta, dtype=F64) ** 400}


@derivation_check("rnn_activation_equivalence")
def rnn_activation_equivalence(s: Solution, nm: Callable[[str], str], gen: torch.Generator,
                               device: Any) -> Mapping[str, Any]:
    n, T = 3, 6
    W, U = _rand(gen, n, n, device=device), _rand(gen, n, n, device=device)
    b, xs = _rand(gen, n, device=device), _rand(gen, T, n, device=device)
    h = _rand(gen, n, device=device)
    g_ = torch.tanh(h)
    worst = 0.0
    sigma = exact.to_sympy(s["g_t"])
    for x in xs:
        h = W @ torch.tanh(h) + U @ x + b
        g_ = torch.tanh(W @ g_ + U @ x + b)
        # the answer σ(h_t), with σ = tanh, entry by entry
        claimed = torch.tensor([float(sigma.subs(exact.symbol(f"{nm('h')}_t"), float(hi))
                                      .replace(sympy.Function(nm("sigma")), sympy.tanh))
                                for hi in h], dtype=F64, device=device)
        worst = max(worst, float((claimed - g_).abs().max()))
    return {"g_t": verdict(worst)}
