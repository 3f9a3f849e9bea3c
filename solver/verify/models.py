"""The models of the training experiments, and BatchNorm written from scratch.

IST 597 asks students to build BatchNorm themselves and to compare where it
goes: after the pre-activation, g(BN(f(x))) (``bn-pre``), or after the
activation, BN(g(f(x))) (``bn-post``). So :class:`BatchNorm` is the
assignment's layer, forward and backward by hand, and a test holds it equal to
``torch.nn.BatchNorm1d``/``2d``; ``batchnorm: torch`` swaps torch's layer in
for comparison. The models are the small MLP and CNN of the course's starter
code, sized from the dataset's image shape (28x28 Fashion-MNIST, 8x8 digits).

Com S 573 adds dropout to the CNN, so a variant is a placement plus an
optional dropout: ``none``, ``bn-pre``, ``bn-post``, ``bn`` (= ``bn-pre``, the
usual conv-BN-ReLU), each optionally followed by ``+dropout``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

MODELS = ("mlp", "cnn")
BATCHNORMS = ("scratch", "torch")
PLACEMENTS = {
    "none": "none",
    "baseline": "none",
    "bn": "bn-pre",
    "bn-pre": "bn-pre",
    "bn-post": "bn-post",
}

# --------------------------------------------------------------------------- BatchNorm


class BatchNormFunction(torch.autograd.Function):
    """Training-mode batch normalization with its gradient written out by hand.

    Forward, with statistics over every axis but the feature/channel axis (n
    values per feature)::

        μ = Σx / n,  σ² = Σ(x − μ)² / n   (biased)
        x̂ = (x − μ) / √(σ² + ε),  y = γ x̂ + β

    and, as ``torch.batch_norm`` does inside its op, the running estimates are
    updated with the unbiased variance::

        running_mean ← (1 − m)·running_mean + m·μ
        running_var  ← (1 − m)·running_var  + m·σ²·n/(n − 1)

    Backward, for the upstream gradient dy::

        ∂L/∂β = Σ dy,  ∂L/∂γ = Σ dy·x̂
        ∂L/∂x = γ / √(σ² + ε) · (dy − (∂L/∂β + x̂·∂L/∂γ) / n)

    Each line is one or two tensor ops, written in place where that saves an
    allocation: the layer's speed is one of the figures in ``benchmarks/``.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        running_mean: torch.Tensor,
        running_var: torch.Tensor,
        momentum: float,
        eps: float,
    ) -> torch.Tensor:
        dims, shape = _axes(x)
        n = x.numel() // gamma.numel()
        mean = x.mean(dims, keepdim=True)
        x_centered = x - mean
        y = torch.mul(x_centered, x_centered)
        var = y.mean(dims, keepdim=True)
        inv_std = torch.add(var, eps).rsqrt_()
        scale = gamma.view(shape) * inv_std
        torch.addcmul(beta.view(shape), x_centered, scale, out=y)  # y = γ x̂ + β
        running_mean.lerp_(mean.view(-1), momentum)
        running_var.mul_(1 - momentum).add_(var.view(-1), alpha=momentum * n / (n - 1))
        ctx.save_for_backward(x_centered, scale, inv_std)
        ctx.dims = dims
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x_centered, scale, inv_std = ctx.saved_tensors
        n = x_centered.numel() // scale.numel()
        dbeta = dy.sum(ctx.dims, keepdim=True)
        dx = torch.mul(dy, x_centered)
        dgamma = dx.sum(ctx.dims, keepdim=True).mul_(inv_std)  # Σ dy·x̂
        torch.addcmul(dbeta, x_centered, dgamma * inv_std, out=dx)  # Σ dy + x̂ Σ dy·x̂
        torch.sub(dy, dx, alpha=1 / n, out=dx).mul_(scale)
        return dx, dgamma.view(-1), dbeta.view(-1), None, None, None, None


def _axes(x: torch.Tensor) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axes BatchNorm reduces over, and the shape that broadcasts a per-feature vector."""
    return ((0,), (1, -1)) if x.dim() == 2 else ((0, 2, 3), (1, -1, 1, 1))


class BatchNorm(nn.Module):
    """BatchNorm for ``[N, F]`` (per feature) and ``[N, C, H, W]`` (per channel over N·H·W).

    Training mode normalizes with the batch statistics and updates the running
    estimates (:class:`BatchNormFunction`); eval mode normalizes with the
    running estimates. Parameter and buffer names are torch's, so state dicts
    move between this layer and ``nn.BatchNorm1d``/``nn.BatchNorm2d``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}) takes [N, {self.num_features}] or "
                f"[N, {self.num_features}, H, W], got {list(x.shape)}"
            )
        if not self.training:
            _, shape = _axes(x)
            scale = self.weight * torch.rsqrt(self.running_var + self.eps)
            shift = self.bias - self.running_mean * scale
            return torch.addcmul(shift.view(shape), x, scale.view(shape))
        if x.numel() // self.num_features < 2:
            raise ValueError("BatchNorm needs more than one value per feature in training mode")
        self.num_batches_tracked.add_(1)
        return BatchNormFunction.apply(
            x, self.weight, self.bias, self.running_mean, self.running_var, self.momentum, self.eps
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


def batchnorm_factory(kind: str) -> Callable[[int, int], nn.Module]:
    """``(features, ndim) -> layer``: our BatchNorm (``scratch``) or torch's (``torch``)."""
    if kind == "scratch":
        return lambda features, ndim: BatchNorm(features)
    if kind == "torch":
        return lambda features, ndim: (nn.BatchNorm1d if ndim == 2 else nn.BatchNorm2d)(features)
    raise ValueError(f"batchnorm must be one of {', '.join(BATCHNORMS)}, got {kind!r}")


# --------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """Where BatchNorm goes (``none``, ``bn-pre``, ``bn-post``) and whether dropout is used."""

    placement: str
    dropout: bool = False

    @classmethod
    def parse(cls, name: str) -> Variant:
        """``none``/``baseline``, ``bn``/``bn-pre``, ``bn-post``, each optionally ``+dropout``."""
        base, plus, extra = name.strip().lower().partition("+")
        if base not in PLACEMENTS or (plus and extra != "dropout"):
            raise ValueError(
                f"unknown variant {name!r}: use one of {', '.join(PLACEMENTS)}, "
                "optionally followed by '+dropout'"
            )
        return cls(PLACEMENTS[base], bool(plus))


def block(
    f: nn.Module,
    features: int,
    ndim: int,
    variant: Variant,
    make_bn: Callable[[int, int], nn.Module],
) -> list[nn.Module]:
    """f, then the activation g = ReLU, with BN before g (``bn-pre``) or after it (``bn-post``)."""
    layers = [f]
    if variant.placement == "bn-pre":
        layers.append(make_bn(features, ndim))
    layers.append(nn.ReLU())
    if variant.placement == "bn-post":
        layers.append(make_bn(features, ndim))
    return layers


def mlp(
    image_shape: tuple[int, int, int],
    classes: int,
    variant: Variant,
    batchnorm: str = "scratch",
    hidden: tuple[int, int] = (256, 128),
    dropout: float = 0.5,
) -> nn.Sequential:
    """Flatten, two hidden layers (each Linear → BN/ReLU as placed → dropout), then logits."""
    make_bn = batchnorm_factory(batchnorm)
    c, h, w = image_shape
    layers: list[nn.Module] = [nn.Flatten()]
    width = c * h * w
    for size in hidden:
        layers += block(nn.Linear(width, size), size, 2, variant, make_bn)
        if variant.dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def cnn(
    image_shape: tuple[int, int, int],
    classes: int,
    variant: Variant,
    batchnorm: str = "scratch",
    channels: tuple[int, int] = (16, 32),
    hidden: int = 128,
    dropout: float = 0.5,
) -> nn.Sequential:
    """Two conv blocks (3x3 conv → BN/ReLU as placed → 2x2 max-pool), a hidden Linear, logits.

    Dropout, when the variant has it, goes before each fully connected layer.
    """
    make_bn = batchnorm_factory(batchnorm)
    c, h, w = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"the CNN halves the image twice, so {h}x{w} must be divisible by 4")
    layers: list[nn.Module] = []
    for size in channels:
        layers += block(nn.Conv2d(c, size, 3, padding=1), size, 4, variant, make_bn)
        layers.append(nn.MaxPool2d(2))
        c = size
    layers.append(nn.Flatten())
    flat = c * (h // 4) * (w // 4)
    if variant.dropout:
        layers.append(nn.Dropout(dropout))
    layers += block(nn.Linear(flat, hidden), hidden, 2, variant, make_bn)
    if variant.dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, classes))
    return nn.Sequential(*layers)


def build(
    name: str,
    image_shape: tuple[int, int, int],
    classes: int,
    variant: Variant,
    batchnorm: str = "scratch",
    dropout: float = 0.5,
) -> nn.Sequential:
    """A model by name (``mlp`` or ``cnn``)."""
    if name == "mlp":
        return mlp(image_shape, classes, variant, batchnorm, dropout=dropout)
    if name == "cnn":
        return cnn(image_shape, classes, variant, batchnorm, dropout=dropout)
    raise ValueError(f"unknown model {name!r}: use one of {', '.join(MODELS)}")
