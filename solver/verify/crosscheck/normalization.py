"""Normalization answers recomputed with torch.nn.functional in float64.

Where torch's layers would hide or refuse what the exact answer says, the
family says it the way the maths does, using torch's own statistics:

* eps = 0 and a group whose variance torch finds to be 0: x̂ = 0/0 is undefined.
  Torch's kernels give nan there (layer_norm, group_norm), 0 (instance_norm) or
  refuse eps = 0 (batch_norm in training, run with eps = 1e-300, which changes
  no float64 result where σ² > 0); the family puts nan, which agrees with the
  exact answer's "undefined" and with nothing else. ``defined`` is whether
  torch's x̂ is finite everywhere.
* BatchNorm training on one value per channel: torch refuses ("Expected more
  than 1 value per channel"), yet x̂ = 0/√ε is defined when ε > 0. The same
  formulas are then written with torch operations, running estimates included
  (the unbiased variance of one value is 0/0: nan).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from ... import exact
from ...solution import Solution
from . import crosscheck

F64 = torch.float64


def t(x: Any, device: Any = "cpu") -> torch.Tensor:
    """An exact nested value as a float64 tensor."""
    return torch.tensor(exact.to_float(x), dtype=F64, device=device)


def _affine(g: Any, device: Any) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    w = t(g.gamma, device) if g.gamma is not None else None
    b = t(g.beta, device) if g.beta is not None else None
    return w, b


def _eps(g: Any) -> float:
    return float(exact.to_float(g.eps))


def _undefined_where_constant(
    y: torch.Tensor, var: torch.Tensor, eps: float, view: tuple[int, ...]
) -> torch.Tensor:
    """nan where eps = 0 and the variance of the entry's group is 0 (x̂ = 0/0); ``view`` is
    the shape that lines the variances up with y."""
    if eps != 0:
        return y
    return y.masked_fill((var == 0).reshape(view), math.nan)


def _normalized(
    X: torch.Tensor, norm: Any, var: torch.Tensor, eps: float, view: tuple[int, ...], w: Any, b: Any
) -> dict[str, Any]:
    """x̂ and γx̂ + β from a torch.nn.functional normalization, with ``defined``."""
    xhat = _undefined_where_constant(norm(X, None, None, eps), var, eps, view)
    out = _undefined_where_constant(norm(X, w, b, eps), var, eps, view)
    return {"normalized": xhat, "output": out, "defined": bool(torch.isfinite(xhat).all())}


def _ones_after(x: torch.Tensor, *lead: int) -> tuple[int, ...]:
    return (*lead, *[1] * (x.dim() - len(lead)))


@crosscheck("layernorm")
def layernorm(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    dims = tuple(range(1, X.dim()))
    var = X.var(dim=dims, unbiased=False)

    def norm(x: torch.Tensor, w: Any, b: Any, eps: float) -> torch.Tensor:
        return F.layer_norm(x, x.shape[1:], w, b, eps)

    return {
        "mean": X.mean(dim=dims),
        "var": var,
        **_normalized(X, norm, var, _eps(g), _ones_after(X, X.shape[0]), *_affine(g, device)),
    }


@crosscheck("instancenorm")
def instancenorm(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    dims = tuple(range(2, X.dim()))
    var = X.var(dim=dims, unbiased=False)

    def norm(x: torch.Tensor, w: Any, b: Any, eps: float) -> torch.Tensor:
        return F.instance_norm(x, weight=w, bias=b, eps=eps)

    return {
        "mean": X.mean(dim=dims),
        "var": var,
        **_normalized(X, norm, var, _eps(g), _ones_after(X, *X.shape[:2]), *_affine(g, device)),
    }


@crosscheck("groupnorm")
def groupnorm(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    N, C = X.shape[:2]
    grouped = X.reshape(N, g.groups, -1)
    var = grouped.var(dim=2, unbiased=False)

    def norm(x: torch.Tensor, w: Any, b: Any, eps: float) -> torch.Tensor:
        return F.group_norm(x, g.groups, w, b, eps)

    per_channel = var.repeat_interleave(C // g.groups, dim=1)
    return {
        "mean": grouped.mean(dim=2),
        "var": var,
        **_normalized(X, norm, per_channel, _eps(g), _ones_after(X, N, C), *_affine(g, device)),
    }


def _by_hand(
    X: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
    eps: float,
    view: tuple[int, ...],
    w: Any,
    b: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """x̂ = (x − μ)/√(σ² + ε) and γx̂ + β with torch operations, per channel."""
    xhat = (X - mean.reshape(view)) / torch.sqrt(var.reshape(view) + eps)
    out = xhat * (w.reshape(view) if w is not None else 1)
    return xhat, out + (b.reshape(view) if b is not None else 0)


def _running_by_hand(
    X: torch.Tensor, dims: tuple[int, ...], rm: torch.Tensor, rv: torch.Tensor, m: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's update with the unbiased batch variance (0/0 = nan for one value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "degrees of freedom is <= 0": that is the point
        unbiased = X.var(dim=dims, unbiased=True)
    return (1 - m) * rm + m * X.mean(dim=dims), (1 - m) * rv + m * unbiased


def _running(g: Any, C: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    rm = (
        t(g.running_mean, device)
        if g.running_mean is not None
        else torch.zeros(C, dtype=F64, device=device)
    )
    rv = (
        t(g.running_var, device)
        if g.running_var is not None
        else torch.ones(C, dtype=F64, device=device)
    )
    return rm, rv


@crosscheck("batchnorm")
def batchnorm(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    C = X.shape[1]
    dims = (0, *range(2, X.dim()))
    view = (1, C, *[1] * (X.dim() - 2))
    w, b = _affine(g, device)
    rm, rv = _running(g, C, device)
    eps, m = _eps(g), float(exact.to_float(g.momentum))
    if g.training:
        mean, var = X.mean(dim=dims), X.var(dim=dims, unbiased=False)
    else:
        mean, var = rm.clone(), rv.clone()
    if g.training and X.numel() // C == 1:  # torch refuses one value per channel
        xhat, output = _by_hand(X, mean, var, eps, view, w, b)
        rm, rv = _running_by_hand(X, dims, rm, rv, m)
    else:
        # torch refuses eps = 0 in training; 1e-300 changes no float64 result where σ² > 0
        torch_eps = (eps or 1e-300) if g.training else eps

        def norm(w_: Any, b_: Any, r_m: torch.Tensor, r_v: torch.Tensor) -> torch.Tensor:
            return F.batch_norm(X, r_m, r_v, w_, b_, training=g.training, momentum=m, eps=torch_eps)

        xhat = norm(None, None, rm.clone(), rv.clone())
        output = norm(w, b, rm, rv)  # updates rm, rv in place as the layer does
        if g.training:
            xhat = _undefined_where_constant(xhat, var, eps, view)
            output = _undefined_where_constant(output, var, eps, view)
    return {
        "mean": mean,
        "var": var,
        "normalized": xhat,
        "output": output,
        "running_mean": rm,
        "running_var": rv,
        "defined": bool(torch.isfinite(xhat).all()),
    }


@crosscheck("norm_stats")
def norm_stats(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    N, C = X.shape[:2]
    views = {
        "batch": X.transpose(0, 1).reshape(C, -1),
        "layer": X.reshape(N, -1),
        "instance": X.reshape(N, C, -1),
        "group": X.reshape(N, g.groups or 1, -1),
    }
    out: dict[str, Any] = {}
    for method in g.methods:
        v = views[method]
        out[f"{method}.mean"] = v.mean(dim=-1)
        out[f"{method}.var"] = v.var(dim=-1, unbiased=False)
    return out


@crosscheck("bn_running_stats")
def bn_running_stats(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    first = t(g.batches[0], device)
    C = first.shape[1]
    m = float(exact.to_float(g.momentum))
    bn = (torch.nn.BatchNorm1d if first.dim() <= 3 else torch.nn.BatchNorm2d)(
        C, eps=_eps(g) or 1e-300, momentum=m, affine=True, dtype=F64, device=device
    )
    rm, rv = _running(g, C, device)
    with torch.no_grad():
        bn.running_mean.copy_(rm)
        bn.running_var.copy_(rv)
        if g.gamma is not None:
            bn.weight.copy_(t(g.gamma, device))
        if g.beta is not None:
            bn.bias.copy_(t(g.beta, device))
    out: dict[str, Any] = {}
    bn.train()
    for i, batch in enumerate(g.batches, start=1):
        X = t(batch, device)
        dims = (0, *range(2, X.dim()))
        out[f"batch_mean[{i}]"] = X.mean(dim=dims)
        out[f"batch_var[{i}]"] = X.var(dim=dims, unbiased=False)
        with torch.no_grad():
            if X.numel() // C < 2:  # torch refuses: the same update with torch operations
                new = _running_by_hand(X, dims, bn.running_mean, bn.running_var, m)
                bn.running_mean.copy_(new[0])
                bn.running_var.copy_(new[1])
            else:
                bn(X)
        out[f"running_mean[{i}]"] = bn.running_mean.clone()
        out[f"running_var[{i}]"] = bn.running_var.clone()
    if g.eval_X is not None:
        bn.eval()
        bn.eps = _eps(g)  # eval mode takes eps = 0 (an undefined running variance gives nan)
        with torch.no_grad():
            out["eval_output"] = bn(t(g.eval_X, device))
    return out


@crosscheck("dropout")
def dropout(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    z = t(g.z, device)
    mask = t(g.mask, device)
    p = float(exact.to_float(g.p))
    # torch's dropout draws its own mask; with the given mask, inverted dropout is z·mask/(1 − p).
    # Check the scaling rule against torch: the surviving entries of F.dropout are z/(1 − p).
    torch.manual_seed(0)
    probe = F.dropout(torch.ones_like(z), p=p, training=True)
    scale = float(probe.max()) if g.inverted and bool((probe > 0).any()) else 1.0
    expected = z if g.inverted else z * (1 - p)
    return {"output": z * mask * scale, "expected_output": expected}
