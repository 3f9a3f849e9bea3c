"""The ``design`` kind's reference run through PyTorch in float64, case by case.

A design problem's answers are the instructor's chosen weights: there is nothing to recompute
about them, only whether they do what the cases ask. So each case's network is evaluated by
torch (the compute lines translated by the ``graph`` family's own torch evaluator, with the
reference and the fixed values as float64 tensors) and each requirement tested in floating
point. Every unknown's recomputation is then the reference itself when torch confirms every
case, and :class:`Refused` with the first failing case otherwise, which ``dlsolve verify``
reports as a disagreement with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ... import exact
from ...graph import lang
from ...solution import Solution
from . import Refused, crosscheck
from .graph import F64, TorchExpression

#: slack of a float64 equality or inequality against the exact requirement
SLACK = 1e-9


def _holds(op: str, y: torch.Tensor, value: Any, tol: Any) -> bool:
    if op == "argmax":
        k = int(value)
        others = torch.cat([y[:k], y[k + 1 :]])
        return bool((y[k] > others + SLACK).all()) if others.numel() else True
    v = torch.as_tensor(exact.to_float(value), dtype=F64)
    if op == "within":
        return bool(((y - v).abs() <= float(exact.to_float(tol)) + SLACK).all())
    if op == "=":
        return y.shape == v.shape and bool(((y - v).abs() <= SLACK * (1 + v.abs())).all())
    compare = {"<": torch.lt, ">": torch.gt, "≤": torch.le, "≥": torch.ge}[op]
    slack = SLACK if op in ("≤", "≥") else 0.0
    return bool(compare(y, v + (slack if op == "≤" else -slack)).all())


@crosscheck("design")
def design(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    out_name = g.output_name()
    fixed = {
        k: torch.tensor(exact.to_float(v), dtype=F64, device=device)
        for k, v in {**g.fixed, **g.reference}.items()
    }
    lines = [lang.parse_statement(line) for line in g.compute]
    for i, case in enumerate(g.parsed_cases()):
        env = dict(fixed)
        for k, v in case.inputs.items():
            env[k] = torch.tensor(exact.to_float(v), dtype=F64, device=device)
        ev = TorchExpression(env, device)
        for st in lines:
            env[st.target] = ev.eval(st.expr)
        y = env[out_name].detach().cpu()
        need = case.need
        if not _holds(need.op, y, need.value, need.tol):
            reason = (
                f"torch's network gives {out_name} = {y.tolist()} on case {i + 1} "
                f"({case.where() or 'no inputs'}); the case needs {need.text(out_name)}"
            )
            return {name: Refused(reason) for name in g.unknowns}
    return {name: fixed[name] for name in g.unknowns}
