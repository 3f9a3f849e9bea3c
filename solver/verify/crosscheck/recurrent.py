"""The RNN gradient bound recomputed with torch, and tested against autograd's Jacobian.

γ is the largest |σ'| found by autograd on a fine grid, λ1(WᵀW) comes from
``torch.linalg.eigvalsh``, ‖W‖ from ``torch.linalg.matrix_norm(W, 2)``. Then
the bound is put to the test: ``torch.autograd.functional.jacobian`` of T
steps of h_t = W σ(h_{t−1}) at random h_0 gives ‖∂h_T/∂h_0‖, which must not
exceed (γ‖W‖)^T. The ``bound_T`` reported is the larger of the formula and
the largest Jacobian norm seen: it agrees with the exact bound exactly when
no Jacobian broke it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from ... import exact
from ...solution import Solution
from . import crosscheck

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
}


def derivative_bound(activation: str, device: Any = "cpu") -> float:
    """max |σ'(x)| over a grid of [−20, 20] that contains 0, by autograd."""
    x = torch.linspace(-20, 20, 400_001, dtype=torch.float64, device=device, requires_grad=True)
    ACTIVATIONS[activation](x).sum().backward()
    return float(x.grad.abs().max())


def unroll(W: torch.Tensor, activation: str, T: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """h_0 -> h_T for h_t = W σ(h_{t−1}) (the inputs and bias do not change ∂h_T/∂h_0)."""
    sigma = ACTIVATIONS[activation]

    def run(h: torch.Tensor) -> torch.Tensor:
        for _ in range(T):
            h = W @ sigma(h)
        return h

    return run


def jacobian_norms(
    W: torch.Tensor, activation: str, T: int, trials: int = 8, seed: int = 0
) -> list[float]:
    """‖∂h_T/∂h_0‖ (spectral norm) by autograd at ``trials`` random h_0 (and at 0)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    n = W.shape[0]
    starts = [torch.zeros(n, dtype=torch.float64)] + [
        torch.randn(n, generator=gen, dtype=torch.float64) for _ in range(trials)
    ]
    f = unroll(W, activation, T)
    norms = []
    for h0 in starts:
        J = torch.autograd.functional.jacobian(f, h0.to(W.device))
        norms.append(float(torch.linalg.matrix_norm(J, ord=2)))
    return norms


@crosscheck("rnn_gradient_bound")
def rnn_gradient_bound(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    W = torch.tensor(exact.to_float(g.W), dtype=torch.float64, device=device)
    gamma = (
        derivative_bound(g.activation, device) if g.activation else float(exact.to_float(g.gamma))
    )
    lam = float(torch.linalg.eigvalsh(W.T @ W).max())
    op = float(torch.linalg.matrix_norm(W, ord=2))
    bound = (gamma * op) ** g.T
    if g.activation:
        bound = max([bound, *jacobian_norms(W, g.activation, g.T)])
    if g.delta is None:
        vanishes = gamma * op < 1
    else:
        delta = float(exact.to_float(g.delta))
        vanishes = lam <= delta**2 / gamma**2 * (1 + 1e-12)
    return {
        "gamma": gamma,
        "lambda_max": lam,
        "op_norm": op,
        "step_bound": gamma * op,
        "bound_T": bound,
        "vanishes": vanishes,
    }
