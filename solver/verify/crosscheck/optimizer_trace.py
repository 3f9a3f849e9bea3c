"""Optimizer traces rerun with ``torch.optim`` and ``torch.optim.lr_scheduler`` in float64.

The weights are one float64 parameter; at each step its ``.grad`` is the given gradient or
the objective's gradient by autograd (the objective is parsed by the graph language's
whitelist parser, a tree of the text with nothing evaluated, and the tree is evaluated with
torch operations by the graph cross-check's own translation, independent of the op table).
``optimizer.step()`` then ``scheduler.step()``, as a training loop does; the learning rate
of step t is ``param_groups[0]["lr"]`` before that step, and the state is
read from ``optimizer.state``: ``momentum_buffer``, ``sum``, ``square_avg``, ``grad_avg``,
``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ... import exact
from ...graph import lang
from ...solution import Solution
from . import crosscheck
from .graph import TorchExpression

F64 = torch.float64
STATE_KEYS = {
    "momentum_buffer": "momentum_buffer",
    "sum": "sum",
    "square_avg": "v",
    "grad_avg": "g_avg",
    "exp_avg": "m",
    "exp_avg_sq": "v",
    "max_exp_avg_sq": "v_max",
}


def _f(x: Any) -> float:
    return float(exact.to_float(x))


def make_optimizer(o: Any, params: list[torch.Tensor]) -> torch.optim.Optimizer:
    """torch.optim's optimizer with exactly the arguments the problem wrote (others default)."""
    given = {k: getattr(o, k) for k in o.model_fields_set - {"name"}}
    kwargs: dict[str, Any] = {}
    for k, v in given.items():
        if isinstance(v, bool):
            kwargs[k] = v
        elif isinstance(v, list):
            kwargs[k] = tuple(_f(x) for x in v)
        else:
            kwargs[k] = _f(v)
    cls = {
        "sgd": torch.optim.SGD,
        "adagrad": torch.optim.Adagrad,
        "rmsprop": torch.optim.RMSprop,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
    }[o.name]
    if o.name == "sgd" and "lr" not in kwargs:
        kwargs["lr"] = 1e-3  # SGD's default lr, spelled out for older torch versions
    return cls(params, foreach=False, **kwargs)


def make_scheduler(sc: Any, opt: torch.optim.Optimizer) -> Any:
    if sc is None:
        return None
    s = torch.optim.lr_scheduler
    if sc.name == "step":
        return s.StepLR(opt, step_size=sc.step_size, gamma=_f(sc.gamma))
    if sc.name == "multistep":
        return s.MultiStepLR(opt, milestones=list(sc.milestones), gamma=_f(sc.gamma))
    if sc.name == "exponential":
        return s.ExponentialLR(opt, gamma=_f(sc.gamma))
    if sc.name == "cosine":
        return s.CosineAnnealingLR(opt, T_max=sc.T_max, eta_min=_f(sc.eta_min))
    return s.LinearLR(
        opt,
        start_factor=_f(sc.start_factor),
        end_factor=_f(sc.end_factor),
        total_iters=sc.total_iters,
    )


def trace(g: Any, device: Any = "cpu") -> dict[str, Any]:
    """Every answer of the trace, as torch computes it."""
    p = torch.nn.Parameter(torch.tensor(exact.to_float(list(g.theta)), dtype=F64, device=device))
    opt = make_optimizer(g.optimizer, [p])
    sched = make_scheduler(g.schedule, opt)
    tree = lang.parse_expression(g.objective) if g.objective is not None else None
    out: dict[str, Any] = {}
    for t in range(1, g.T + 1):
        out[f"lr[{t}]"] = opt.param_groups[0]["lr"]
        opt.zero_grad()
        if tree is not None:
            loss = TorchExpression({"theta": p}, device).eval(tree)
            loss.reshape(()).backward()
        else:
            p.grad = torch.tensor(exact.to_float(list(g.grads[t - 1])), dtype=F64, device=device)
        out[f"grad[{t}]"] = p.grad.detach().clone()
        opt.step()
        if sched is not None:
            sched.step()
        for name, value in opt.state[p].items():
            if name in STATE_KEYS and isinstance(value, torch.Tensor) and value.dim() > 0:
                out[f"{STATE_KEYS[name]}[{t}]"] = value.detach().clone()
        out[f"theta[{t}]"] = p.detach().clone()
    return out


@crosscheck("optimizer_trace")
def optimizer_trace(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    return trace(g, device)
