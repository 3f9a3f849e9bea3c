"""Cross-checks: every answer with a numeric meaning, recomputed with PyTorch in float64.

One module per family of kinds (``normalization.py``, ``model_size.py``, ...)
registers a function per kind with ``@crosscheck("layernorm")``. The function
takes the validated given, the exact Solution and a torch device, and returns
``{answer key: value}`` computed independently with torch (tensors, numbers,
booleans, token lists; an :class:`At` for an answer with symbols, recomputed at a
point). :func:`compare` then sets each beside the exact answer's float. Those
modules import torch at their top; this one does not, and they are imported only
when ``dlsolve verify`` runs.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy

from ... import exact
from ...solution import Solution

Check = Callable[[Any, Solution, Any], Mapping[str, Any]]
CHECKS: dict[str, Check] = {}
RTOL = 1e-9
ATOL = 1e-9


def crosscheck(kind_name: str) -> Callable[[Check], Check]:
    """Register the torch recomputation of a kind's answers."""

    def register(fn: Check) -> Check:
        CHECKS[kind_name] = fn
        return fn

    return register


def load_all() -> None:
    """Import every family module (they import torch)."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


@dataclass(frozen=True)
class At:
    """A value torch computed at a point: numbers in place of the exact answer's symbols
    (a symbolic kernel w1, w2, ...; a batch size n). :func:`compare` puts the same numbers
    into the exact answer before comparing."""

    value: Any
    point: Mapping[str, Any]  # symbol name -> exact number (int or Fraction)


def at_point(value: Any, point: Mapping[str, Any]) -> Any:
    """An exact answer with the point's numbers substituted for its symbols."""
    if isinstance(value, list):
        return [at_point(v, point) for v in value]
    if not isinstance(value, sympy.Basic) or not value.free_symbols:
        return value
    subs = {exact.symbol(k): exact.to_sympy(v) for k, v in point.items()}
    return exact.from_sympy(value.subs(subs))


@dataclass
class Agreement:
    """One answer set beside its torch recomputation."""

    key: str
    exact: Any  # the exact answer as floats (or as itself when it is not a number)
    torch: Any  # torch's value as Python floats/lists
    max_diff: float  # largest absolute difference (0 for equal non-numbers, inf on mismatch)
    ok: bool


def _plain(x: Any) -> Any:
    """Torch tensors and numpy arrays as nested Python lists; numbers as floats."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().tolist()
    elif hasattr(x, "tolist") and not isinstance(x, (list, str)):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _diff(a: Any, b: Any) -> float:
    """Largest |a − b| over nested values; inf when the shapes or kinds differ."""
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return math.inf
        return max((_diff(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return 0.0 if a == b else math.inf
    if a is None or b is None:  # an undefined exact value: torch gives nan or inf
        other = b if a is None else a
        return 0.0 if other is None or not math.isfinite(float(other)) else math.inf
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if a == b:  # equal infinities too (log 0 = -inf on both sides), where a - b is nan
        return 0.0
    return abs(a - b)


def _tolerance(x: Any) -> float:
    if isinstance(x, list):
        return max((_tolerance(v) for v in x), default=0.0)
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return ATOL + RTOL * abs(x)
    return ATOL


def compare(solution: Solution, recomputed: Mapping[str, Any]) -> list[Agreement]:
    """Each recomputed key beside the exact answer (as floats), within rtol/atol 1e-9."""
    out = []
    for key, value in recomputed.items():
        answer = solution.answers[key]
        v = answer.value
        if isinstance(value, At):
            v, value = at_point(v, value.point), value.value
        mine = exact.to_float(v) if exact.is_numeric(v) else v
        theirs = _plain(value)
        d = _diff(mine, theirs)
        out.append(Agreement(key, mine, theirs, d, d <= _tolerance(mine)))
    return out
