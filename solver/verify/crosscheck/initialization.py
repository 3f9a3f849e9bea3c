"""Initialization recomputed with ``torch.nn.init`` itself, then checked on samples.

The fans come from ``torch.nn.init._calculate_fan_in_and_fan_out`` on the weight of a real
``nn.Linear``/``nn.ConvNd``, the gain from ``calculate_gain``. The std and bound are the very
numbers torch passes to ``Tensor.normal_``/``Tensor.uniform_`` inside ``xavier_*``/
``kaiming_*``, caught by a spy on those two methods. They are then held against samples:
the weight is initialized again and again (about 200,000 draws), and the empirical range
must lie within [−b, b] and reach b(1 − 30/n) (missed with probability e^−30), and the
empirical variance must lie within 8 standard errors of std². A sample that contradicts
torch's number is reported instead of it, so the answer disagrees.

Variance through depth: fan_in·std²·E[f(y)²]/Var(y) per layer in floats (1/2 for ReLU,
(1 + a²)/2 for leaky ReLU, 1 for the identity and for tanh's linear regime), checked for
Linear stacks against a forward pass of the initialized network on random inputs
(within 25%: an average over 40 networks).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from ... import exact
from ...solution import Solution
from . import crosscheck

F64 = torch.float64
SAMPLES = 200_000


@contextmanager
def _recording() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """The arguments torch passes to Tensor.uniform_/normal_ while initializing (a spy on the
    two methods, removed afterwards)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    originals = {name: getattr(torch.Tensor, name) for name in ("uniform_", "normal_")}

    def spy(name: str) -> Any:
        def method(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            calls.append((name, args))
            return originals[name](self, *args, **kwargs)

        return method

    try:
        for name in originals:
            setattr(torch.Tensor, name, spy(name))
        yield calls
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


def _module(layer: Any) -> torch.nn.Module:
    if layer.type == "Linear":
        return torch.nn.Linear(layer.in_, layer.out, bias=False, dtype=F64)
    conv = {"Conv1d": torch.nn.Conv1d, "Conv2d": torch.nn.Conv2d, "Conv3d": torch.nn.Conv3d}
    return conv[layer.type](
        layer.in_, layer.out, layer.kernel, groups=layer.groups, bias=False, dtype=F64
    )


def _init(g: Any, w: torch.Tensor, gen: torch.Generator | None = None) -> None:
    init = torch.nn.init
    if g.scheme == "zeros":
        init.zeros_(w)
    elif g.scheme.startswith("xavier"):
        if g.gain is not None:
            gain = exact.to_float(g.gain)
        elif g.nonlinearity is not None:
            gain = init.calculate_gain(g.nonlinearity, _param(g))
        else:
            gain = 1.0
        fn = init.xavier_uniform_ if g.scheme == "xavier_uniform" else init.xavier_normal_
        fn(w, gain=gain, generator=gen)
    else:
        fn = init.kaiming_uniform_ if g.scheme == "kaiming_uniform" else init.kaiming_normal_
        a = _param(g) if g.nonlinearity in (None, "leaky_relu") else 0
        fn(w, a=a or 0, mode=g.mode, nonlinearity=g.nonlinearity or "leaky_relu", generator=gen)


def _param(g: Any) -> float | None:
    return None if g.param is None else exact.to_float(g.param)


@crosscheck("initialization")
def initialization(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    layer = _module(g.layer)
    w = layer.weight.detach()
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
    out: dict[str, Any] = {"weight_shape": list(w.shape), "fan_in": fan_in, "fan_out": fan_out}
    if g.scheme.startswith("xavier"):
        if g.gain is not None:
            out["gain"] = exact.to_float(g.gain)
        else:
            out["gain"] = float(torch.nn.init.calculate_gain(g.nonlinearity or "linear", _param(g)))
    elif g.scheme.startswith("kaiming"):
        a = _param(g) if g.nonlinearity in (None, "leaky_relu") else None
        out["gain"] = float(
            torch.nn.init.calculate_gain(g.nonlinearity or "leaky_relu", a if a is not None else 0)
            if g.nonlinearity is None
            else torch.nn.init.calculate_gain(g.nonlinearity, a)
        )
    with _recording() as calls:
        _init(g, w.clone())
    if g.scheme == "zeros":
        std = 0.0
        out.update(std=std, var=0.0, bound=0.0)
    else:
        (name, (_, hi)), *_ = calls
        if name == "uniform_":
            bound = float(hi)
            std = bound / math.sqrt(3)
            out["bound"] = _sampled_bound(g, w, bound)
        else:
            std = float(hi)
        out["std"] = std
        out["var"] = _sampled_var(g, w, std * std)
    if g.depth is not None:
        out.update(_depth(g, fan_in, std * std))
    out["units_identical"] = _identical_after_a_step(g)
    return out


def _samples(g: Any, w: torch.Tensor) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    reps = max(1, SAMPLES // w.numel())
    draws = []
    for _ in range(reps):
        x = torch.empty_like(w)
        _init(g, x, gen)
        draws.append(x.reshape(-1))
    return torch.cat(draws)


def _sampled_bound(g: Any, w: torch.Tensor, bound: float) -> float:
    x = _samples(g, w)
    top = float(x.abs().max())
    ok = top <= bound * (1 + 1e-12) and top >= bound * (1 - 30 / x.numel())
    return bound if ok else top


def _sampled_var(g: Any, w: torch.Tensor, var: float) -> float:
    x = _samples(g, w)
    sample = float((x * x).mean())
    ok = abs(sample - var) <= 8 * var * math.sqrt(2 / x.numel())
    return var if ok else sample


def _factor(g: Any) -> float:
    nl = g.propagation_nonlinearity()
    if nl == "relu":
        return 0.5
    if nl == "leaky_relu":
        a = exact.to_float(g.slope())
        return (1 + a * a) / 2
    return 1.0


def _depth(g: Any, fan_in: int, var: float) -> dict[str, Any]:
    expected = []
    v = fan_in * var * exact.to_float(g.input_var)
    for ell in range(g.depth):
        if ell:
            v = v * fan_in * var * _factor(g)
        expected.append(v)
    if g.layer.type == "Linear" and g.propagation_nonlinearity() != "tanh" and var > 0:
        sampled = _forward_variances(g)
        expected = [
            e if abs(sv - e) <= 0.25 * e else sv for e, sv in zip(expected, sampled, strict=True)
        ]
    return {f"activation_var[{i}]": v for i, v in enumerate(expected, start=1)}


def _forward_variances(g: Any) -> list[float]:
    """E[y_l²] over 40 networks initialized by torch and 256 inputs each."""
    gen = torch.Generator().manual_seed(1)
    n = g.layer.in_
    act = {
        "relu": torch.relu,
        "leaky_relu": lambda y: torch.nn.functional.leaky_relu(y, exact.to_float(g.slope())),
    }.get(g.propagation_nonlinearity(), lambda y: y)
    totals = [0.0] * g.depth
    nets = 40
    for _ in range(nets):
        h = torch.randn(256, n, generator=gen, dtype=F64) * math.sqrt(exact.to_float(g.input_var))
        for ell in range(g.depth):
            w = torch.empty(n, n, dtype=F64)
            _init(g, w, gen)
            y = h @ w.T
            totals[ell] += float((y * y).mean()) / nets
            h = act(y)
    return totals


def _identical_after_a_step(g: Any) -> bool:
    """Train a two-layer net initialized by the scheme for a step: are its hidden units equal?"""
    gen = torch.Generator().manual_seed(2)
    n, hidden = 3, 4
    w1, w2 = torch.empty(hidden, n, dtype=F64), torch.empty(1, hidden, dtype=F64)
    _init(g, w1, gen), _init(g, w2, gen)
    b1 = torch.full((hidden,), 0.1, dtype=F64)
    params = [w1.requires_grad_(), w2.requires_grad_(), b1.requires_grad_()]
    opt = torch.optim.SGD(params, lr=0.5)
    x, t = torch.randn(8, n, generator=gen, dtype=F64), torch.randn(8, 1, generator=gen, dtype=F64)
    for _ in range(3):
        opt.zero_grad()
        loss = ((torch.tanh(x @ w1.T + b1) @ w2.T - t) ** 2).mean()
        loss.backward()
        opt.step()
    rows = w1.detach()
    return bool(all(torch.equal(rows[0], r) for r in rows)) and bool(
        torch.all(w2.detach() == w2.detach()[0, 0])
    )
