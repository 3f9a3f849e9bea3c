"""Normalization answers recomputed with torch.nn.functional in float64."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from ... import exact
from ...solution import Solution
from . import crosscheck


def t(x: Any, device: Any = "cpu") -> torch.Tensor:
    """An exact nested value as a float64 tensor."""
    return torch.tensor(exact.to_float(x), dtype=torch.float64, device=device)


def _affine(g: Any, shape: tuple[int, ...], device: Any) -> tuple[Any, Any]:
    w = t(g.gamma, device) if g.gamma is not None else None
    b = t(g.beta, device) if g.beta is not None else None
    return w, b


@crosscheck("layernorm")
def layernorm(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    dims = tuple(range(1, X.dim()))
    w, b = _affine(g, X.shape[1:], device)
    eps = float(exact.to_float(g.eps))
    return {
        "mean": X.mean(dim=dims),
        "var": X.var(dim=dims, unbiased=False),
        "output": F.layer_norm(X, X.shape[1:], w, b, eps),
        "normalized": F.layer_norm(X, X.shape[1:], None, None, eps),
    }


@crosscheck("batchnorm")
def batchnorm(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    C = X.shape[1]
    dims = (0, *range(2, X.dim()))
    w, b = _affine(g, (C,), device)
    rm = t(g.running_mean, device) if g.running_mean is not None else torch.zeros(
        C, dtype=torch.float64, device=device)
    rv = t(g.running_var, device) if g.running_var is not None else torch.ones(
        C, dtype=torch.float64, device=device)
    # torch refuses eps = 0 in training; 1e-300 changes no float64 result where σ² > 0.
    eps = float(exact.to_float(g.eps)) or 1e-300
    m = float(exact.to_float(g.momentum))
    out: dict[str, Any] = {}
    if g.training:
        out["mean"] = X.mean(dim=dims)
        out["var"] = X.var(dim=dims, unbiased=False)
    else:
        out["mean"], out["var"] = rm.clone(), rv.clone()
    if g.training and X.numel() // C == 1:
        return out  # torch refuses to train on one value per channel; the solution says why
    before_m, before_v = rm.clone(), rv.clone()
    out["output"] = F.batch_norm(X, rm, rv, w, b, training=g.training, momentum=m, eps=eps)
    out["normalized"] = F.batch_norm(X, before_m, before_v, None, None,
                                     training=g.training, momentum=m, eps=eps)
    out["running_mean"], out["running_var"] = rm, rv
    if s["defined"] is False:  # 0/0 where torch's tiny eps gives 0: nothing to compare
        del out["output"], out["normalized"]
    return out


@crosscheck("instancenorm")
def instancenorm(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    dims = tuple(range(2, X.dim()))
    w, b = _affine(g, (X.shape[1],), device)
    eps = float(exact.to_float(g.eps))
    return {
        "mean": X.mean(dim=dims),
        "var": X.var(dim=dims, unbiased=False),
        "normalized": F.instance_norm(X, eps=eps),
        "output": F.instance_norm(X, weight=w, bias=b, eps=eps),
    }


@crosscheck("groupnorm")
def groupnorm(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    X = t(g.X, device)
    N, C = X.shape[:2]
    grouped = X.reshape(N, g.groups, -1)
    w, b = _affine(g, (C,), device)
    eps = float(exact.to_float(g.eps))
    return {
        "mean": grouped.mean(dim=2),
        "var": grouped.var(dim=2, unbiased=False),
        "normalized": F.group_norm(X, g.groups, eps=eps),
        "output": F.group_norm(X, g.groups, w, b, eps),
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
    bn = (torch.nn.BatchNorm1d if first.dim() <= 3 else torch.nn.BatchNorm2d)(
        C, eps=float(exact.to_float(g.eps)) or 1e-300, momentum=float(exact.to_float(g.momentum)),
        affine=True, dtype=torch.float64, device=device)
    with torch.no_grad():
        if g.running_mean is not None:
            bn.running_mean.copy_(t(g.running_mean, device))
        if g.running_var is not None:
            bn.running_var.copy_(t(g.running_var, device))
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
        if X.numel() // C < 2:  # torch refuses; the exact answer says undefined
            break
        with torch.no_grad():
            bn(X)
        out[f"running_mean[{i}]"] = bn.running_mean.clone()
        out[f"running_var[{i}]"] = bn.running_var.clone()
    else:
        if g.eval_X is not None:
            bn.eval()
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
